"""What every read model of this service shares: a table next to the store, following its
notification log, with its log position in `projection_positions`.

Each batch of store events is applied in one transaction that also records the log position it
reached, so a restarted process resumes where the view stands instead of replaying the log, a crash
mid-batch leaves neither rows nor position behind, and replicas following the same store take turns
(the position row is locked) rather than applying an event twice. Derived and rebuildable:
`rebuild()` empties the view and replays the log from the start. Each view has its own position row,
so a view added later starts at 0 and replays the whole log on its first catch-up.

Why not eventsourcing's `ProjectionRunner` with a `TrackingRecorder` view (9.5, tried for the
active-popups view first): the runner owns a thread and its own subscription per process, and
processes one event per transaction (`process_event(event, tracking)`), where these views apply up
to `batch` events and their position in one transaction (one commit per 500 events while catching
up). Its single-row tracking refuses a position that is not ahead (`IntegrityError`), which ends the
runner's thread: every replica runs the views, so a second replica applying the same events would
stop rather than wait its turn, as it does here on the locked position row. The HTTP reads call
`catch_up()` in the request so a caller sees their own commands; with the runner they would wait on
another thread's progress. A rebuild here is one transaction (readers keep the old rows until the new
ones commit); the runner has no rebuild. And a tracking recorder is written per backend
(`SQLiteTrackingRecorder`, `PostgresTrackingRecorder`, each with its own cursor and parameter
style), where the views here are written once over `shared.sql`.
"""

# ruff: noqa: S608 -- table names come from code and the validated schema setting; values are parameters
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification

from notifications.application.store import PopupStore
from shared.sql import Database, Transaction

POSITIONS = "projection_positions"
# Replicas migrating together take turns (PostgreSQL advisory lock).
MIGRATION_LOCK = "helpdesk.notifications.views"

__all__ = ["POSITIONS", "FollowedView"]


class FollowedView(ABC):
    """One read model: its rows, its position row, and the rules that turn events into rows."""

    NAME: ClassVar[str]
    # `CREATE … IF NOT EXISTS` statements; `{table}` is the view's (schema-qualified) table, and
    # `{<name>}` each of its `EXTRA_TABLES`.
    DDL: ClassVar[Sequence[str]]
    # Further tables of the view, emptied with it by `rebuild()`.
    EXTRA_TABLES: ClassVar[Sequence[str]] = ()

    def __init__(self, store: PopupStore, db: Database, *, batch: int = 500) -> None:
        self._store = store
        self.db = db
        self._batch = batch
        self._table = db.table(self.NAME)
        self._extra = {name: db.table(name) for name in self.EXTRA_TABLES}
        self._positions = db.table(POSITIONS)
        self.position = 0  # as far as this process last saw it

    @classmethod
    def create_tables(cls, db: Database) -> None:
        """Idempotent (the migration step): the view, its indexes and its position row."""
        positions = db.table(POSITIONS)
        with db.migration(lock=MIGRATION_LOCK) as tx:
            tables = {name: db.table(name) for name in cls.EXTRA_TABLES}
            for statement in cls.DDL:
                tx.execute(statement.format(table=db.table(cls.NAME), **tables))
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {positions}"
                " (projection text PRIMARY KEY, position bigint NOT NULL)"
            )
            tx.execute(
                f"INSERT INTO {positions} (projection, position) VALUES (:name, 0) ON CONFLICT DO NOTHING",
                {"name": cls.NAME},
            )

    def close(self) -> None:
        self.db.close()

    def recorded_position(self) -> int:
        rows = self.db.query(
            f"SELECT position FROM {self._positions} WHERE projection = :name", {"name": self.NAME}
        )
        if not rows:
            raise RuntimeError(f"the {self.NAME} view has no position row: run the migration")
        self.position = int(rows[0][0])
        return self.position

    def catch_up(self) -> int:
        """Apply every stored event after the recorded position; returns how many were read."""
        if self._store.head() <= self.recorded_position():
            return 0
        read = 0
        while True:
            with self.db.transaction(pipeline=True) as tx:
                # Another replica may have applied events while this one waited for the lock: start
                # after whatever it recorded.
                count = self._apply_batch(tx, self._lock_position(tx))
            read += count
            if count < self._batch:
                return read

    def rebuild(self) -> int:
        """Empty the view and replay the whole log, in one transaction: readers see the old rows until
        the rebuilt ones are committed. Returns how many stored events were read."""
        read = 0
        with self.db.transaction(pipeline=True) as tx:
            self._lock_position(tx)
            for table in (self._table, *self._extra.values()):
                tx.execute(f"DELETE FROM {table}")
            self._set_position(tx, 0)
            position = 0
            while count := self._apply_batch(tx, position):
                read += count
                position = self.position
                if count < self._batch:
                    break
        return read

    def _lock_position(self, tx: Transaction) -> int:
        rows = tx.fetch(
            f"SELECT position FROM {self._positions} WHERE projection = :name{self.db.for_update}",
            {"name": self.NAME},
        )
        if not rows:
            raise RuntimeError(f"the {self.NAME} view has no position row: run the migration")
        return int(rows[0][0])

    def _set_position(self, tx: Transaction, position: int) -> None:
        tx.execute(
            f"UPDATE {self._positions} SET position = :position WHERE projection = :name",
            {"position": position, "name": self.NAME},
        )
        self.position = position

    def _apply_batch(self, tx: Transaction, position: int) -> int:
        """Apply up to one batch after `position` and record the position reached, in `tx`."""
        notifications = self._store.notifications_after(position, limit=self._batch)
        for notification in notifications:
            self._apply(tx, notification, self._store.decode(notification))
        if notifications:
            self._set_position(tx, notifications[-1].id)
        return len(notifications)

    @abstractmethod
    def _apply(self, tx: Transaction, notification: Notification, event: DomainEventProtocol[UUID]) -> None:
        """The row changes one stored event makes, in `tx`."""
