"""The outbox relay against a real nats-server and real SQLite / PostgreSQL event stores."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from shared.contracts.envelope import HEADER_MSG_ID
from shared.contracts.subjects import TICKETS_STREAM
from shared.nats import ensure_stream, stream_config
from shared.natsserver import NatsServer
from shared.outbox import OutboxRelay
from shared.pglisten import PgListener
from tests.integration.tickets.tickets_streams_helpers import (
    FakeTicket,
    FakeTickets,
    fake_to_envelope,
    postgres_env,
    sqlite_env,
    write_tickets,
)
from tests.support.wait import eventually
from tickets.adapters.relay import HEADER_NOTIFICATION_ID, envelope_relay, read_position, to_message

pytestmark = pytest.mark.integration


async def stream_messages(js: JetStreamContext, stream: str) -> list[Any]:
    info = await js.stream_info(stream)
    return [await js.get_msg(stream, seq=s) for s in range(1, info.state.last_seq + 1)]


def public_event_ids(app: FakeTickets) -> list[str]:
    convert = fake_to_envelope(app)
    envelopes = (convert(n) for n in app.recorder.select_notifications(1, 100_000))
    return [str(e.event_id) for e in envelopes if e is not None]


@contextlib.asynccontextmanager
async def running(
    relay: OutboxRelay[Any], *, listen: PgListener | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop, wakeups=listen))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def make_stream(js: JetStreamContext, prefix: str, *, window: float = 120.0) -> str:
    config = stream_config(TICKETS_STREAM, prefix=prefix, duplicate_window_seconds=window)
    await ensure_stream(js, config)
    assert config.name
    return config.name


async def assert_published_exactly_once(js: JetStreamContext, stream: str, app: FakeTickets) -> None:
    msgs = await stream_messages(js, stream)
    ids = [m.headers[HEADER_MSG_ID] for m in msgs]
    assert ids == public_event_ids(app)
    notification_ids = [int(m.headers[HEADER_NOTIFICATION_ID]) for m in msgs]
    assert notification_ids == sorted(set(notification_ids))
    assert [json.loads(m.data)["event_id"] for m in msgs] == ids


async def test_the_relay_publishes_every_public_event_once_in_store_order(
    js: JetStreamContext, nats_prefix: str, tmp_path: Path
) -> None:
    stream = await make_stream(js, nats_prefix)
    app = FakeTickets(env=sqlite_env(tmp_path / "store.sqlite"))
    write_tickets(app, 20)
    relay = envelope_relay(js=js, source=app.recorder, to_envelope=fake_to_envelope(app), prefix=nats_prefix)
    async with running(relay):
        await eventually(lambda: _count(js, stream, 60), timeout=20.0)
        write_tickets(app, 5, start=20)
        relay.wake()
        await eventually(lambda: _count(js, stream, 75), timeout=20.0)
    await assert_published_exactly_once(js, stream, app)
    first = (await stream_messages(js, stream))[0]
    assert first.subject == f"{nats_prefix}.helpdesk.tickets.v1.created"


async def _count(js: JetStreamContext, stream: str, expected: int) -> bool:
    info = await js.stream_info(stream)
    assert info.state.messages <= expected, "more messages than events: something was doubled"
    return bool(info.state.messages == expected)


async def test_a_relay_restarted_after_a_crash_mid_batch_resumes_from_the_stream_without_duplicates(
    js: JetStreamContext, nats_prefix: str, tmp_path: Path
) -> None:
    # A duplicate window of one second: resumption must not depend on de-duplication.
    stream = await make_stream(js, nats_prefix, window=1.0)
    app = FakeTickets(env=sqlite_env(tmp_path / "store.sqlite"))
    write_tickets(app, 10)
    convert = fake_to_envelope(app)
    # The crashed relay got 8 messages into the stream before it died (the rest of its pipeline lost).
    for notification in app.recorder.select_notifications(1, 9)[:9]:
        envelope = convert(notification)
        if envelope is None:
            continue
        message = to_message(envelope, notification_id=notification.id, prefix=nats_prefix)
        await js.publish(message.subject, message.payload, headers=message.headers)
    position = await read_position(js, stream)
    assert position.stream_seq == 8
    await asyncio.sleep(1.2)
    relay = envelope_relay(js=js, source=app.recorder, to_envelope=convert, prefix=nats_prefix, batch_size=4)
    async with running(relay):
        await eventually(lambda: _count(js, stream, 30), timeout=20.0)
    await assert_published_exactly_once(js, stream, app)


async def test_two_relays_racing_on_one_store_publish_each_event_once(
    js: JetStreamContext, nats_prefix: str, tmp_path: Path
) -> None:
    stream = await make_stream(js, nats_prefix)
    app = FakeTickets(env=sqlite_env(tmp_path / "store.sqlite"))
    relays = [
        envelope_relay(
            js=js,
            source=app.recorder,
            to_envelope=fake_to_envelope(app),
            prefix=nats_prefix,
            batch_size=7,
            idle_wait=0.01,
        )
        for _ in range(2)
    ]
    async with running(relays[0]), running(relays[1]):
        for start in range(0, 40, 8):
            await asyncio.to_thread(write_tickets, app, 8, start=start)
        await eventually(lambda: _count(js, stream, 120), timeout=20.0)
    await assert_published_exactly_once(js, stream, app)


@pytest.mark.postgres
async def test_on_postgresql_the_relay_follows_notify_and_skips_notification_id_gaps(
    js: JetStreamContext, nats_prefix: str, postgres_dsn: str, postgres_schema: str
) -> None:
    stream = await make_stream(js, nats_prefix)
    app = FakeTickets(env=postgres_env(postgres_dsn, postgres_schema) | {"CREATE_TABLE": "true"})
    try:
        write_tickets(app, 3)
        # A rolled-back insert (a version conflict) burns notification ids that never fill.
        ticket: FakeTicket = app.repository.get(write_tickets(app, 1, start=3)[0])
        stale: FakeTicket = app.repository.get(ticket.id)
        ticket.reply(text="wins")
        stale.reply(text="loses")
        app.save(ticket)
        with pytest.raises(Exception, match=r"(?i)integrity|duplicate|unique"):
            app.save(stale)
        write_tickets(app, 2, start=4)
        relay = envelope_relay(
            js=js, source=app.recorder, to_envelope=fake_to_envelope(app), prefix=nats_prefix, idle_wait=30.0
        )
        channel = app.recorder.channel_name  # type: ignore[attr-defined]
        async with running(relay, listen=PgListener(dsn=postgres_dsn, channel=channel)):
            await eventually(lambda: _count(js, stream, 19), timeout=20.0)
            # Polling waits 5 s on PostgreSQL: a quick arrival proves NOTIFY woke the relay.
            await asyncio.sleep(0.2)
            write_tickets(app, 1, start=6)
            await eventually(lambda: _count(js, stream, 22), timeout=0.8, interval=0.01)
        await assert_published_exactly_once(js, stream, app)
    finally:
        app.close()


async def test_a_nats_server_restart_while_the_relay_runs_loses_and_doubles_nothing(
    own_nats_server: NatsServer, nats_prefix: str, tmp_path: Path
) -> None:
    nc: NATS = await nats.connect(own_nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream(timeout=2)
    try:
        stream = await make_stream(js, nats_prefix, window=1.0)
        app = FakeTickets(env=sqlite_env(tmp_path / "store.sqlite"))
        relay = envelope_relay(
            js=js,
            source=app.recorder,
            to_envelope=fake_to_envelope(app),
            prefix=nats_prefix,
            publish_timeout=1.0,
            idle_wait=0.01,
        )
        async with running(relay):
            writer = asyncio.create_task(_write_slowly(app, 40))
            await asyncio.sleep(0.3)
            port = own_nats_server.port
            own_nats_server.stop()
            await asyncio.sleep(1.5)  # longer than the duplicate window
            own_nats_server.port = port
            own_nats_server.start()
            await writer
            await eventually(lambda: _count(js, stream, 120), timeout=30)
        await assert_published_exactly_once(js, stream, app)
    finally:
        await nc.close()


async def _write_slowly(app: FakeTickets, count: int) -> None:
    for i in range(count):
        await asyncio.to_thread(write_tickets, app, 1, start=i)
        await asyncio.sleep(0.05)
