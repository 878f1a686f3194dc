"""The faststream subscriber of the tickets stream on a real nats-server: it binds the durable
consumer `migrate()` made, keeps the event order, binds the message's ids to the log context and
finishes the event in flight when the service stops."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from uuid import UUID, uuid4

import nats
import pytest
from nats.aio.client import Client as NATS
from structlog.contextvars import get_contextvars

from notifications.bootstrap import build_consumer, migrate
from notifications.entrypoints.ticket_events import BROKER_LOGGER
from notifications.settings import NotificationsSettings
from shared.contracts.envelope import HEADER_CAUSATION_ID, HEADER_CORRELATION_ID, HEADER_MSG_ID, EventEnvelope
from shared.contracts.subjects import event_subject, with_prefix
from shared.contracts.tickets import TicketEventData
from shared.natsserver import NatsServer
from shared.settings import CommonSettings
from tests.conftest import TokenFactory
from tests.support.notifications import (
    consumer_info,
    created,
    publish_once,
    replied,
    running,
    service_settings,
)
from tests.support.wait import WAIT, eventually

pytestmark = pytest.mark.integration


async def test_the_service_binds_the_consumer_migrate_created_and_never_redeclares_it(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory, nc: NATS
) -> None:
    await migrate(sqlite_settings)  # ack wait 2 s
    js, prefix = nc.jetstream(), sqlite_settings.common.nats_prefix
    before = await consumer_info(js, sqlite_settings)
    other = sqlite_settings.model_copy(update={"consumer_ack_wait_seconds": 9.0})
    ticket = uuid4()
    async with running(other, run_migrate=False) as svc, svc.client(make_token(sub="u1")) as me:
        await publish_once(js, prefix, created(ticket, user="u1"))
        await publish_once(js, prefix, replied(ticket))
        items = await eventually(lambda: _popups(me))
        assert items[0]["user_id"] == "u1"
    after = await consumer_info(js, sqlite_settings)
    assert after.created == before.created
    assert after.config.ack_wait == before.config.ack_wait == 2.0  # bound as it was, not updated
    assert after.config.max_deliver == 3


async def test_replies_published_right_after_their_tickets_reach_the_requester_in_order(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory, nc: NATS
) -> None:
    js, prefix = nc.jetstream(), sqlite_settings.common.nats_prefix
    tickets = [uuid4() for _ in range(10)]
    async with running(sqlite_settings) as svc, svc.client(make_token(sub="u1")) as me:
        for ticket in tickets:  # all queued before any is consumed: a concurrent batch would reorder
            await publish_once(js, prefix, created(ticket, user="u1"))
            await publish_once(js, prefix, replied(ticket))
        items = await eventually(lambda: _popups(me, at_least=len(tickets)))
        assert {p["user_id"] for p in items} == {"u1"}  # none fell back to the whole account


async def test_stopping_the_service_finishes_the_event_in_flight_and_acks_it(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory, nc: NATS
) -> None:
    settings = sqlite_settings.model_copy(update={"chaos_ack_delay_seconds": 1.0})
    js, prefix = nc.jetstream(), settings.common.nats_prefix
    svc_cm = running(settings)
    svc = await svc_cm.__aenter__()
    try:
        async with svc.client(make_token(sub="u1")) as me:
            await publish_once(js, prefix, replied(uuid4()))
            await eventually(lambda: _popups(me))  # the effect happened; the ack waits a second
        assert (await consumer_info(js, settings)).num_ack_pending == 1
        started = time.monotonic()
    finally:
        await svc_cm.__aexit__(None, None, None)
    assert time.monotonic() - started < WAIT
    info = await consumer_info(js, settings)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert info.num_redelivered == 0  # acked before the broker's connection closed


async def test_the_ids_of_each_message_are_bound_to_the_log_context_and_the_broker_logs_it_at_debug(
    sqlite_settings: NotificationsSettings, nc: NATS, caplog: pytest.LogCaptureFixture
) -> None:
    settings = sqlite_settings
    await migrate(settings)
    js, prefix = nc.jetstream(), settings.common.nats_prefix
    seen: list[dict[str, Any]] = []

    def handle(envelope: EventEnvelope[TicketEventData]) -> UUID | None:
        seen.append(get_contextvars())
        return None

    broker = build_consumer(settings, handle=handle)
    caplog.set_level(logging.DEBUG, logger=BROKER_LOGGER)
    await broker.start()
    try:
        event = replied(uuid4())
        event["causation_id"] = "cause-1"
        subject = with_prefix(prefix, event_subject("tickets", "ticket.replied", 1))
        headers = {
            HEADER_MSG_ID: event["event_id"],
            HEADER_CORRELATION_ID: "corr-1",
            HEADER_CAUSATION_ID: "cause-1",
        }
        await js.publish(subject, json.dumps(event).encode(), headers=headers)
        [bound] = await eventually(lambda: seen)
    finally:
        await broker.stop()
    assert bound["msg_id"] == bound["event_id"] == event["event_id"]
    assert bound["subject"] == subject
    assert bound["correlation_id"] == "corr-1"
    assert bound["causation_id"] == "cause-1"
    assert bound["event_type"] == "ticket.replied"
    per_message = [r for r in caplog.records if r.name == BROKER_LOGGER and "Processed" in r.getMessage()]
    assert per_message  # the broker does log each message, and only at DEBUG (ARCHITECTURE: INFO costs ~40%)
    assert {r.levelno for r in per_message} == {logging.DEBUG}


async def _popups(client: Any, *, at_least: int = 1) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await client.get("/api/v1/popups")).json()["items"]
    return items if len(items) >= at_least else []


@pytest.mark.slow
async def test_the_consumer_resumes_after_the_nats_server_restarts(
    common_settings: CommonSettings, nats_prefix: str, own_nats_server: NatsServer, make_token: TokenFactory
) -> None:
    common = common_settings.model_copy(update={"nats_url": own_nats_server.url})
    settings = service_settings(common, prefix=nats_prefix)
    ticket = uuid4()
    async with running(settings) as svc, svc.client(make_token(sub="u1")) as me:
        nc = await nats.connect(own_nats_server.url)
        try:
            await publish_once(nc.jetstream(), nats_prefix, created(ticket, user="u1"))
        finally:
            await nc.drain()
        own_nats_server.kill()
        own_nats_server.start()  # same port, same data: the stream and the durable consumer survive
        nc = await nats.connect(own_nats_server.url)
        try:
            await publish_once(nc.jetstream(), nats_prefix, replied(ticket, text="after the restart"))
            items = await eventually(lambda: _popups(me), timeout=30)
        finally:
            await nc.drain()
        assert [(p["user_id"], p["text"]) for p in items] == [("u1", "after the restart")]
