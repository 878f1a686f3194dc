"""After a restore to an earlier point, an event store numbers on from its stream's position
(`shared.storenumbering`), against a real nats-server and real PostgreSQL and SQLite stores.

A restore is simulated as the database would come back: the events after the restore point deleted
from the store's table and its numbering reset to that point (PostgreSQL: the sequence; SQLite: the
rowid follows the rows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Notification
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from shared.contracts.envelope import HEADER_MSG_ID
from shared.eventstore import persistence_env
from shared.outbox import OutboxRelay, OutgoingMessage, RecorderSource
from shared.storenumbering import (
    NumberedSource,
    StoreBehindStream,
    advance_before_writes,
    ensure_numbering_after,
    store_name,
)
from tests.support.restore import restore_to

pytestmark = pytest.mark.integration

POSITION = "Test-Store-Position"


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


class Notes(Application[UUID]):
    name = "notes"


def write(app: Notes, count: int) -> None:
    for n in range(count):
        app.save(Note(f"note {n}"))


@pytest.fixture
def postgres_notes(postgres_dsn: str, postgres_schema: str) -> Notes:
    return Notes(env=persistence_env(postgres_dsn, schema=postgres_schema, create_table=True))


async def make_stream(js: JetStreamContext, prefix: str) -> str:
    name = f"{prefix.upper()}_NOTES"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{prefix}.notes.>"]))
    return name


def relay_of(js: JetStreamContext, stream: str, app: Notes, prefix: str) -> OutboxRelay[Notification]:
    """A relay as a service builds one: a new process, its position read back from the stream."""

    def to_message(notification: Notification) -> OutgoingMessage:
        msg_id = f"{notification.originator_id}/{notification.originator_version}"
        return OutgoingMessage(f"{prefix}.notes.written", b"{}", {HEADER_MSG_ID: msg_id})

    source = NumberedSource(RecorderSource(app.recorder), recorder=app.recorder, stream=stream)
    return OutboxRelay(js=js, stream=stream, source=source, to_message=to_message, position_header=POSITION)


async def published(js: JetStreamContext, stream: str) -> list[tuple[int, str]]:
    """Each message's store position and id, in stream order."""
    info = await js.stream_info(stream)
    messages = [await js.get_msg(stream, seq=s) for s in range(1, info.state.last_seq + 1)]
    return [(int((m.headers or {})[POSITION]), (m.headers or {})[HEADER_MSG_ID]) for m in messages]


def stored_ids(app: Notes) -> list[tuple[int, str]]:
    notifications = app.recorder.select_notifications(None, 1000)
    return [(n.id, f"{n.originator_id}/{n.originator_version}") for n in notifications]


def advanced_count(app: Notes) -> float:
    found = REGISTRY.get_sample_value(
        "helpdesk_store_numbering_advanced_total", {"store": store_name(app.recorder)}
    )
    return found or 0.0


@dataclass(frozen=True)
class Restored:
    js: JetStreamContext
    stream: str
    before: list[tuple[int, str]]  # what the stream held before the restore


async def published_then_restored(nc: NATS, prefix: str, app: Notes) -> Restored:
    """Six events published to a stream of their own, then the store restored to the point after
    the third."""
    js = nc.jetstream()
    stream = await make_stream(js, prefix)
    write(app, 6)
    assert await relay_of(js, stream, app, prefix).publish_pending() == 6
    before = await published(js, stream)
    restore_to(app.recorder, 3)
    assert [n for n, _ in stored_ids(app)] == [1, 2, 3]
    return Restored(js, stream, before)


@pytest.mark.postgres
async def test_a_relay_started_on_a_restored_postgres_store_publishes_every_new_event_once_after_the_stream(
    nc: NATS, nats_prefix: str, postgres_notes: Notes
) -> None:
    restored = await published_then_restored(nc, nats_prefix, postgres_notes)
    js, stream, before = restored.js, restored.stream, restored.before
    relay = relay_of(js, stream, postgres_notes, nats_prefix)
    counted = advanced_count(postgres_notes)
    with capture_logs() as logs:
        assert await relay.publish_pending() == 0  # nothing new yet: the store is advanced
    write(postgres_notes, 2)
    assert await relay.publish_pending() == 2

    after = await published(js, stream)
    new = stored_ids(postgres_notes)[3:]
    assert after == before + new
    assert [n for n, _ in new] == [7, 8]  # numbered after the stream's position, 6
    assert advanced_count(postgres_notes) == counted + 1
    warnings = [e for e in logs if e["event"] == "store_numbering_advanced"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert (warnings[0]["store_position"], warnings[0]["stream_position"]) == (3, 6)
    assert warnings[0]["stream"] == stream


@pytest.mark.postgres
async def test_a_service_starting_on_a_restored_postgres_store_numbers_its_writes_after_the_stream(
    nc: NATS, nats_prefix: str, postgres_notes: Notes
) -> None:
    restored = await published_then_restored(nc, nats_prefix, postgres_notes)
    js, stream, before = restored.js, restored.stream, restored.before
    # The writers start before any relay: their start-up advances the store.
    await advance_before_writes(js, postgres_notes.recorder, stream=stream, position_header=POSITION)
    write(postgres_notes, 3)
    assert await relay_of(js, stream, postgres_notes, nats_prefix).publish_pending() == 3

    new = stored_ids(postgres_notes)[3:]
    assert [n for n, _ in new] == [7, 8, 9]
    assert await published(js, stream) == before + new


@pytest.mark.postgres
async def test_a_postgres_store_not_behind_its_stream_is_left_untouched_and_never_renumbered_lower(
    nc: NATS, nats_prefix: str, postgres_notes: Notes
) -> None:
    js = nc.jetstream()
    stream = await make_stream(js, nats_prefix)
    write(postgres_notes, 4)
    assert await relay_of(js, stream, postgres_notes, nats_prefix).publish_pending() == 4
    counted = advanced_count(postgres_notes)
    with capture_logs() as logs:
        await advance_before_writes(js, postgres_notes.recorder, stream=stream, position_header=POSITION)
        ensure_numbering_after(postgres_notes.recorder, 2, stream=stream)  # behind the store: kept
        ensure_numbering_after(postgres_notes.recorder, 0, stream=stream)
    write(postgres_notes, 1)
    assert [n for n, _ in stored_ids(postgres_notes)] == [1, 2, 3, 4, 5]
    assert advanced_count(postgres_notes) == counted
    assert [e for e in logs if e["event"] == "store_numbering_advanced"] == []


async def test_a_relay_and_a_service_refuse_a_restored_sqlite_store_behind_its_stream(
    nc: NATS, nats_prefix: str, tmp_path: Path
) -> None:
    app = Notes(env=persistence_env(tmp_path / "notes.sqlite", create_table=True))
    restored = await published_then_restored(nc, nats_prefix, app)
    js, stream, before = restored.js, restored.stream, restored.before

    with pytest.raises(StoreBehindStream) as refused:
        await relay_of(js, stream, app, nats_prefix).publish_pending()
    assert (refused.value.store_position, refused.value.stream_position) == (3, 6)
    message = str(refused.value)
    assert "notes.sqlite" in message
    assert stream in message
    assert "up to 3" in message and "up to 6" in message
    assert "restore the store's file" in message
    with pytest.raises(StoreBehindStream):
        await advance_before_writes(js, app.recorder, stream=stream, position_header=POSITION)
    assert await published(js, stream) == before


async def test_a_sqlite_store_level_with_its_stream_is_published_as_ever(
    nc: NATS, nats_prefix: str, tmp_path: Path
) -> None:
    js = nc.jetstream()
    stream = await make_stream(js, nats_prefix)
    app = Notes(env=persistence_env(tmp_path / "notes.sqlite", create_table=True))
    write(app, 3)
    assert await relay_of(js, stream, app, nats_prefix).publish_pending() == 3
    await advance_before_writes(js, app.recorder, stream=stream, position_header=POSITION)
    relay = relay_of(js, stream, app, nats_prefix)
    write(app, 2)
    assert await relay.publish_pending() == 2
    assert await published(js, stream) == stored_ids(app)
