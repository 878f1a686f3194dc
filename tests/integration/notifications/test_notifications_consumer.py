"""The tickets-stream consumer against a real nats-server: idempotent, retrying, dead-lettering."""

from __future__ import annotations

import itertools
import json
import time
from uuid import UUID, uuid4

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from notifications.bootstrap import build_consumer, migrate, stream_name
from notifications.settings import NotificationsSettings
from shared.contracts.envelope import HEADER_DLQ_REASON, Actor, ActorKind, EventEnvelope
from shared.contracts.subjects import DLQ_STREAM, dead_letter_subject, with_prefix
from shared.contracts.tickets import TicketEventData
from tests.conftest import TokenFactory
from tests.support.notifications import (
    consumer_info,
    created,
    publish_once,
    publish_ticket_event,
    replied,
    running,
    ticket_event,
)
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


async def _drained(js: JetStreamContext, settings: NotificationsSettings) -> bool:
    info = await consumer_info(js, settings)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def _dead_letters(
    js: JetStreamContext, settings: NotificationsSettings
) -> list[tuple[dict[str, str], bytes]]:
    prefix = settings.common.nats_prefix
    stream = stream_name(settings, DLQ_STREAM)
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        msg = await js.get_msg(stream, seq=seq)
        if msg.subject == with_prefix(prefix, dead_letter_subject("notifications")):
            found.append((dict(msg.headers or {}), msg.data or b""))
    return found


async def test_a_support_reply_delivered_three_times_raises_exactly_one_popup(
    settings: NotificationsSettings, make_token: TokenFactory, nc: NATS
) -> None:
    js, prefix = nc.jetstream(), settings.common.nats_prefix
    ticket = uuid4()
    reply = replied(ticket)
    async with running(settings) as svc, svc.client(make_token(sub="u1")) as me:
        await publish_once(js, prefix, created(ticket, user="u1"))
        for _ in range(3):  # three stream messages carrying the same event: a redelivery, a replay
            await publish_ticket_event(js, prefix, reply)
        await eventually(lambda: _drained(js, settings))
        items = (await me.get("/api/v1/popups")).json()["items"]
        assert len(items) == 1
        assert items[0]["user_id"] == "u1"
        assert items[0]["kind"] == "ticket_reply"
        async with svc.client(make_token(sub="u2")) as colleague:
            assert (await colleague.get("/api/v1/popups")).json()["items"] == []


async def test_notes_and_the_users_own_replies_raise_nothing_and_an_unknown_requester_means_the_account(
    settings: NotificationsSettings, make_token: TokenFactory, nc: NATS
) -> None:
    js, prefix = nc.jetstream(), settings.common.nats_prefix
    known, unknown = uuid4(), uuid4()
    async with running(settings) as svc, svc.client(make_token(sub="u2")) as colleague:
        await publish_once(js, prefix, created(known, user="u1"))
        note = ticket_event(
            "ticket.internal_note_added",
            {"note_id": str(uuid4()), "text": "internal: VIP guest", "visibility": "internal"},
            ticket_id=known,
            actor=Actor(kind=ActorKind.AGENT, id="agent-7"),
        )
        await publish_once(js, prefix, note)
        await publish_once(js, prefix, replied(known, author_role="user", text="thanks"))
        await publish_once(js, prefix, replied(unknown, number="HD-000099", text="for the desk"))
        await eventually(lambda: _drained(js, settings))
        items = (await colleague.get("/api/v1/popups")).json()["items"]
        assert [(p["ticket_number"], p["user_id"], p["text"]) for p in items] == [
            ("HD-000099", None, "for the desk")
        ]
        async with svc.client(make_token(sub="u1")) as requester:
            texts = [p["text"] for p in (await requester.get("/api/v1/popups")).json()["items"]]
            assert texts == ["for the desk"]


async def test_a_malformed_event_goes_to_the_dead_letter_subject_and_does_not_block_the_next(
    settings: NotificationsSettings, make_token: TokenFactory, nc: NATS
) -> None:
    js, prefix = nc.jetstream(), settings.common.nats_prefix
    ticket = uuid4()
    async with running(settings) as svc, svc.client(make_token(sub="u1")) as me:
        await publish_ticket_event(js, prefix, b"{not json", event_type="ticket.replied")
        wrong_shape = replied(ticket)
        wrong_shape["data"]["author_role"] = "robot"
        await publish_ticket_event(js, prefix, wrong_shape)
        await publish_once(js, prefix, replied(ticket, text="the next one"))
        await eventually(lambda: _drained(js, settings))
        items = (await me.get("/api/v1/popups")).json()["items"]
        assert [p["text"] for p in items] == ["the next one"]
        letters = await _dead_letters(js, settings)
        assert [data for _, data in letters] == [b"{not json", json.dumps(wrong_shape).encode()]
        assert all(h[HEADER_DLQ_REASON].startswith("malformed: ") for h, _ in letters)
        assert "author_role" in letters[1][0][HEADER_DLQ_REASON]


async def test_an_event_that_keeps_failing_is_retried_with_backoff_then_dead_lettered_with_the_reason(
    sqlite_settings: NotificationsSettings, nc: NATS
) -> None:
    settings = sqlite_settings.model_copy(update={"consumer_backoff_seconds": [0.3, 0.6]})
    await migrate(settings)
    js, prefix = nc.jetstream(), settings.common.nats_prefix
    attempts: list[UUID] = []
    attempted_at: list[float] = []

    def failing(envelope: EventEnvelope[TicketEventData]) -> UUID | None:
        attempts.append(envelope.event_id)
        attempted_at.append(time.monotonic())
        raise OSError("the store is away")

    broker = build_consumer(settings, handle=failing)
    await broker.start()
    try:
        event = replied(uuid4())
        await publish_once(js, prefix, event)
        await eventually(lambda: len(attempts) >= 3)
        await eventually(lambda: _drained(js, settings))
        assert len(attempts) == settings.consumer_max_deliver == 3
        gaps = [later - earlier for earlier, later in itertools.pairwise(attempted_at)]
        assert gaps[0] >= 0.25 and gaps[1] >= 0.55  # each nak carried its back-off delay
        letters = await eventually(lambda: _dead_letters(js, settings))
        assert len(letters) == 1
        headers, data = letters[0]
        assert json.loads(data)["event_id"] == event["event_id"]
        assert headers[HEADER_DLQ_REASON].startswith("failed 3 times: OSError: the store is away")
    finally:
        await broker.stop()


async def test_a_reply_seen_before_its_tickets_creation_still_reaches_the_requester_only(
    settings: NotificationsSettings, make_token: TokenFactory, nc: NATS
) -> None:
    # Replicas share the consumer: one may handle a reply while another still records the ticket's
    # creation. Here the reply even comes first on the stream; it must wait, not go to the account.
    js, prefix = nc.jetstream(), settings.common.nats_prefix
    ticket = uuid4()
    async with running(settings) as svc, svc.client(make_token(sub="u2")) as colleague:
        await publish_once(js, prefix, replied(ticket, text="your rates are fixed"))
        await publish_once(js, prefix, created(ticket, user="u1"))
        await eventually(lambda: _drained(js, settings))
        assert (await colleague.get("/api/v1/popups")).json()["items"] == []
        async with svc.client(make_token(sub="u1")) as requester:
            items = (await requester.get("/api/v1/popups")).json()["items"]
            assert [(p["user_id"], p["text"]) for p in items] == [("u1", "your rates are fixed")]
