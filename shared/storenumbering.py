"""A store numbers its events after its stream's position: the outbox relay's guard against a restore.

A relay (`shared.outbox`) publishes only the notifications after its stream's position P. A store
restored to an earlier point R numbers its next events on from about R: on PostgreSQL the events
table's `bigserial` sequence comes back with the data. The events it stored with ids in (R, P] would
never be published. So, before anything writes to a store or publishes from it, the store's numbering
is checked against its stream:

- PostgreSQL: a store behind its stream has its notification_id sequence set to P (never lowered,
  under a transaction-scoped advisory lock: replicas starting together), a warning logged with both
  figures and `helpdesk_store_numbering_advanced_total` counted; its next event is numbered P + 1.
- SQLite (and the in-memory store): an id follows the rowid, there is no sequence to advance, so a
  store behind its stream refuses to be published from (`StoreBehindStream`, which says what to do).

A store that is not behind is left untouched: one read of its numbering, after the stream position
the relay reads anyway. Both passes call `ensure_numbering_after`: a service's start-up, before it
accepts writes (`advance_before_writes`), and each relay, whenever it is to read after a position its
store has not been seen to number (`NumberedSource`: its start and every re-read of the stream).
Exact under the restore runbook's precondition that the writers are stopped during a restore.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import Counter
from psycopg import Cursor
from psycopg.rows import DictRow

from shared.logging import get_logger
from shared.outbox import NotificationSource, Stored, read_stream_position

__all__ = [
    "STORE_ADVANCED",
    "NumberedSource",
    "StoreBehindStream",
    "advance_before_writes",
    "ensure_numbering_after",
    "numbered",
    "store_name",
]

log = get_logger(__name__)

STORE_ADVANCED = Counter(
    "helpdesk_store_numbering_advanced_total",
    "Times an event store's numbering was found behind its stream (a restore) and advanced past it",
    ["store"],
)

N = TypeVar("N", bound=Stored)


class StoreBehindStream(RuntimeError):
    """Raised when a store that cannot be renumbered (SQLite) numbers below its stream's position:
    the events it stores now would never be published."""

    def __init__(self, *, store: str, stream: str, store_position: int, stream_position: int) -> None:
        super().__init__(
            f"event store {store} numbers its events up to {store_position} but stream {stream} has "
            f"published up to {stream_position}: events stored now would never be published. The "
            f"store was restored to an earlier point (or replaced); SQLite cannot renumber. Stop the "
            f"writers and restore the store's file from a copy holding notification {stream_position}, "
            f"or, if the store was reset on purpose, purge the stream {stream} before starting again "
            f"(its subscribers then read from the start)"
        )
        self.store = store
        self.stream = stream
        self.store_position = store_position
        self.stream_position = stream_position


def store_name(recorder: ApplicationRecorder) -> str:
    """The store as an operator finds it: `schema.table` on PostgreSQL, the file and table on SQLite."""
    if isinstance(recorder, PostgresApplicationRecorder):
        return f"{recorder.datastore.schema}.{recorder.events_table_name}"
    if isinstance(recorder, SQLiteApplicationRecorder):
        return f"{recorder.datastore.pool.db_name}:{recorder.events_table_name}"
    return type(recorder).__name__


# The sequence behind `notification_id`, found from the table (its name is PostgreSQL's choice).
_SEQUENCE = "pg_get_serial_sequence(format('%%I.%%I', %(schema)s::text, %(table)s::text), 'notification_id')"
# The last id the sequence handed out (NULL before the first): what the next event is numbered after.
_READ = f"SELECT COALESCE(pg_sequence_last_value({_SEQUENCE}::regclass), 0) AS numbered"
# One lock per store (a key pair: this purpose, the table), held until the advancing transaction ends.
_LOCK = (
    "SELECT pg_advisory_xact_lock("
    "hashtext('helpdesk.store_numbering'), hashtext(%(schema)s || '.' || %(table)s))"
)
_ADVANCE = f"SELECT setval({_SEQUENCE}, %(position)s, true)"


def numbered(recorder: ApplicationRecorder) -> int:
    """The last notification id `recorder`'s store handed out (0 for none): on PostgreSQL its
    sequence's, which a rolled-back insert moves on too; elsewhere the highest stored."""
    if isinstance(recorder, PostgresApplicationRecorder):
        params = {"schema": recorder.datastore.schema, "table": recorder.events_table_name}
        with recorder.datastore.transaction(commit=False) as curs:
            return _read_numbered(curs, params)
    return recorder.max_notification_id() or 0


def _read_numbered(curs: Cursor[DictRow], params: dict[str, Any]) -> int:
    curs.execute(_READ, params)
    row = curs.fetchone()
    return int(row["numbered"]) if row is not None else 0


def _advance_postgres(recorder: PostgresApplicationRecorder, position: int, *, stream: str) -> None:
    if numbered(recorder) >= position:
        return
    params = {"schema": recorder.datastore.schema, "table": recorder.events_table_name, "position": position}
    with recorder.datastore.transaction(commit=True) as curs:
        curs.execute(_LOCK, params)
        found = _read_numbered(curs, params)  # again, under the lock: another replica may have advanced it
        if found >= position:
            return
        curs.execute(_ADVANCE, params)
    store = store_name(recorder)
    STORE_ADVANCED.labels(store).inc()
    log.warning(
        "store_numbering_advanced",
        store=store,
        stream=stream,
        store_position=found,
        stream_position=position,
    )


def ensure_numbering_after(recorder: ApplicationRecorder, position: int, *, stream: str) -> None:
    """Blocking: make `recorder` number its next event after `position` (its stream's), or refuse
    (`StoreBehindStream`) where it cannot be renumbered."""
    if position <= 0:
        return
    if isinstance(recorder, PostgresApplicationRecorder):
        _advance_postgres(recorder, position, stream=stream)
        return
    found = numbered(recorder)
    if found < position:
        raise StoreBehindStream(
            store=store_name(recorder), stream=stream, store_position=found, stream_position=position
        )


async def advance_before_writes(
    js: JetStreamContext, recorder: ApplicationRecorder, *, stream: str, position_header: str
) -> None:
    """At a service's start-up, before it accepts writes: `ensure_numbering_after` the position of
    `stream` (none yet while the stream does not exist: the migration step creates it)."""
    try:
        position = await read_stream_position(js, stream, position_header=position_header)
    except NotFoundError:
        return
    await asyncio.to_thread(ensure_numbering_after, recorder, position.notification_id, stream=stream)


class NumberedSource(Generic[N]):
    """`source` (the store of `recorder`) as a relay reads it: before its first read after a position
    the store has not been seen to number (the relay's start, a re-read of the stream after a restore),
    `ensure_numbering_after` that position. Reads after a position the store numbered cost nothing more."""

    def __init__(self, source: NotificationSource[N], *, recorder: ApplicationRecorder, stream: str) -> None:
        self._source = source
        self._recorder = recorder
        self._stream = stream
        self._numbered = 0  # the store is known to number its next event after this

    def notifications_after(self, position: int, *, limit: int) -> Sequence[N]:
        if position > self._numbered:
            ensure_numbering_after(self._recorder, position, stream=self._stream)
            self._numbered = position
        found = self._source.notifications_after(position, limit=limit)
        if found:
            self._numbered = max(self._numbered, found[-1].id)
        return found
