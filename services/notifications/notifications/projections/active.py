"""The active popups of every recipient: a table next to the store, following its notification log.

Only popups that can still be shown are kept (not opened, not deleted): what the list endpoint and
the due-snooze scan read. Each batch of store events is applied in one transaction that also records
the log position it reached, so a restarted process resumes where the view stands instead of
replaying the log, a crash mid-batch leaves neither rows nor position behind, and replicas following
the same store take turns (the position row is locked) rather than applying an event twice. Derived
and rebuildable: `rebuild()` empties it and replays the log from the start.
"""

# ruff: noqa: S608 -- table names come from code and the validated schema setting; values are parameters
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification

from notifications.adapters.sqldb import SqlDatabase, Transaction
from notifications.application.store import PopupStore
from notifications.domain.model import Popup, status_at
from shared.contracts.popups import PopupKind, PopupStatus

NAME = "active_popups"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_COLUMNS = (
    "popup_id, account_id, user_id, kind, status, title, body, ticket_id, ticket_number, "
    "raised_at, snoozed_until, version"
)

# The literal status lets both planners use the partial index `active_popups_snoozed`.
DUE_SCAN = (
    "SELECT popup_id FROM {active} WHERE status = 'snoozed' AND snoozed_until <= :now"
    " ORDER BY snoozed_until LIMIT :limit"
)


def micros(at: datetime) -> int:
    """A time as whole microseconds since the epoch: compares and indexes alike on both backends."""
    return (at - _EPOCH) // _MICROSECOND


def _time(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + value * _MICROSECOND


@dataclass(frozen=True)
class ActivePopup:
    """One row of the view: what the recipient's list shows of a popup."""

    id: UUID
    account_id: str
    user_id: str | None
    kind: PopupKind
    status: PopupStatus
    title: str
    text: str
    ticket_id: UUID | None
    ticket_number: str | None
    raised_at: datetime
    snoozed_until: datetime | None
    version: int

    def status_at(self, now: datetime) -> PopupStatus:
        return status_at(self.status, snoozed_until=self.snoozed_until, now=now)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ActivePopup:
        popup_id, account, user, kind, status, title, body, ticket, number, raised, until, version = row
        raised_at = _time(int(raised))
        assert raised_at is not None
        return cls(
            id=UUID(str(popup_id)),
            account_id=str(account),
            user_id=user,
            kind=PopupKind(kind),
            status=PopupStatus(status),
            title=str(title),
            text=str(body),
            ticket_id=UUID(str(ticket)) if ticket else None,
            ticket_number=number,
            raised_at=raised_at,
            snoozed_until=_time(until),
            version=int(version),
        )


def create_tables(db: SqlDatabase) -> None:
    """Idempotent (the migration step): the view, its indexes and its position row."""
    active, positions = db.table(NAME), db.table("projection_positions")
    with db.transaction() as tx:
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {active} ("
            " popup_id text PRIMARY KEY, account_id text NOT NULL, user_id text,"
            " raised_position bigint NOT NULL, kind text NOT NULL, status text NOT NULL,"
            " title text NOT NULL, body text NOT NULL, ticket_id text, ticket_number text,"
            " raised_at bigint NOT NULL, snoozed_until bigint, version bigint NOT NULL)"
        )
        # The list endpoint: one account's popups in the order they were raised.
        tx.execute(f"CREATE INDEX IF NOT EXISTS {NAME}_by_account ON {active} (account_id, raised_position)")
        # The due scan (DUE_SCAN) reads only snoozed rows whose time has come.
        tx.execute(
            f"CREATE INDEX IF NOT EXISTS {NAME}_snoozed ON {active} (snoozed_until) WHERE status = 'snoozed'"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {positions} (projection text PRIMARY KEY, position bigint NOT NULL)"
        )
        tx.execute(
            f"INSERT INTO {positions} (projection, position) VALUES (:name, 0) ON CONFLICT DO NOTHING",
            {"name": NAME},
        )


class ActivePopups:
    def __init__(self, store: PopupStore, db: SqlDatabase, *, batch: int = 500) -> None:
        self._store = store
        self.db = db
        self._batch = batch
        self._active = db.table(NAME)
        self._positions = db.table("projection_positions")
        self.position = 0  # as far as this process last saw it

    def close(self) -> None:
        self.db.close()

    def recorded_position(self) -> int:
        rows = self.db.query(
            f"SELECT position FROM {self._positions} WHERE projection = :name", {"name": NAME}
        )
        if not rows:
            raise RuntimeError(f"the {NAME} view has no position row: run the migration")
        self.position = int(rows[0][0])
        return self.position

    def catch_up(self) -> int:
        """Apply every stored event after the recorded position; returns how many were read."""
        if self._store.head() <= self.recorded_position():
            return 0
        read = 0
        while True:
            with self.db.transaction() as tx:
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
        with self.db.transaction() as tx:
            self._lock_position(tx)
            tx.execute(f"DELETE FROM {self._active}")
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
            {"name": NAME},
        )
        if not rows:
            raise RuntimeError(f"the {NAME} view has no position row: run the migration")
        return int(rows[0][0])

    def _set_position(self, tx: Transaction, position: int) -> None:
        tx.execute(
            f"UPDATE {self._positions} SET position = :position WHERE projection = :name",
            {"position": position, "name": NAME},
        )
        self.position = position

    def _apply_batch(self, tx: Transaction, position: int) -> int:
        """Apply up to one batch after `position` and record the position reached, in `tx`."""
        notifications = self._store.notifications_after(position, limit=self._batch)
        for notification in notifications:
            self._apply(tx, notification)
        if notifications:
            self._set_position(tx, notifications[-1].id)
        return len(notifications)

    def _apply(self, tx: Transaction, notification: Notification) -> None:
        event = self._store.decode(notification)
        if not isinstance(event, Popup.Event):
            return  # ticket requesters are not shown
        key = {"id": str(self._store.originator(notification)), "version": notification.originator_version}
        where = "WHERE popup_id = :id"
        if isinstance(event, Aggregate.Created):
            popup = event.mutate(None)
            assert isinstance(popup, Popup)
            tx.execute(
                f"INSERT INTO {self._active} ({_COLUMNS}, raised_position) VALUES (:id, :account, :user,"
                " :kind, :status, :title, :body, :ticket, :number, :raised, NULL, :version, :position)"
                " ON CONFLICT (popup_id) DO NOTHING",
                {
                    **key,
                    "account": popup.account_id,
                    "user": popup.user_id,
                    "kind": popup.kind.value,
                    "status": popup.status.value,
                    "title": popup.title,
                    "body": popup.text,
                    "ticket": str(popup.ticket_id) if popup.ticket_id else None,
                    "number": popup.ticket_number,
                    "raised": micros(popup.raised_at),
                    "position": notification.id,
                },
            )
        elif isinstance(event, Popup.Snoozed):  # type: ignore[attr-defined]
            tx.execute(
                f"UPDATE {self._active} SET status = 'snoozed', snoozed_until = :until, version = :version "
                + where,
                {**key, "until": micros(event.until)},
            )
        elif isinstance(event, Popup.Delivered | Popup.DueAgain):  # type: ignore[attr-defined]
            status = "delivered" if isinstance(event, Popup.Delivered) else "due"  # type: ignore[attr-defined]
            tx.execute(
                f"UPDATE {self._active} SET status = :status, snoozed_until = NULL, version = :version "
                + where,
                {**key, "status": status},
            )
        else:  # opened or deleted: no longer shown
            tx.execute(f"DELETE FROM {self._active} " + where, key)

    # --- reads ---------------------------------------------------------------------------------

    def for_recipient(self, *, account_id: str, user_id: str, now: datetime) -> list[ActivePopup]:
        """The popups this user sees at `now`, in the order they were raised."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM {self._active} WHERE account_id = :account"
            " AND (user_id IS NULL OR user_id = :user)"
            " AND (status <> 'snoozed' OR snoozed_until <= :now) ORDER BY raised_position",
            {"account": account_id, "user": user_id, "now": micros(now)},
        )
        return [ActivePopup.from_row(row) for row in rows]

    def snoozes_due(self, now: datetime, *, limit: int = 500) -> list[UUID]:
        """Snoozed popups whose time has come but whose "due again" is not recorded yet (indexed)."""
        rows = self.db.query(DUE_SCAN.format(active=self._active), {"now": micros(now), "limit": limit})
        return [UUID(str(row[0])) for row in rows]

    def rows(self) -> list[tuple[Any, ...]]:
        """Every row as stored, in a stable order (to compare a rebuilt view with a followed one)."""
        return self.db.query(f"SELECT {_COLUMNS}, raised_position FROM {self._active} ORDER BY popup_id")
