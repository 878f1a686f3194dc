"""The active popups of every recipient: a table next to the store, following its notification log.

Only popups that can still be shown are kept (not opened, not deleted): what the list endpoint and
the due-snooze scan read. Beside them, each user's own state of a popup sent to their whole account
(`recipients`): a user who opened or deleted one no longer sees it; their colleagues still do. How it
follows the log (batches with their position in one transaction, replicas taking turns, `rebuild()`)
is `follower.FollowedView` (which says why not eventsourcing's `ProjectionRunner`).
"""

# ruff: noqa: S608 -- table names come from code and the validated schema setting; values are parameters
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from notifications.domain.model import Popup, status_at
from notifications.projections import recipients
from notifications.projections.popup_view import COLUMNS, PopupView, popup_table_ddl
from notifications.projections.rows import time_of
from shared.contracts.popups import PopupKind, PopupStatus
from shared.days import to_micros
from shared.sql import Database, Transaction

__all__ = ["DUE_SCAN", "NAME", "OWN_DUE_SCAN", "ActivePopup", "ActivePopups", "create_tables"]

NAME = "active_popups"
RECIPIENTS = recipients.table_name(NAME)

# The literal status lets both planners use the partial index `active_popups_snoozed`.
DUE_SCAN = (
    "SELECT popup_id FROM {active} WHERE status = 'snoozed' AND snoozed_until <= :now"
    " ORDER BY snoozed_until LIMIT :limit"
)
# The same for users' own snoozes of popups sent to their whole account (`active_popups_own_snoozed`).
OWN_DUE_SCAN = (
    "SELECT popup_id, user_id FROM {recipients} WHERE status = 'snoozed' AND snoozed_until <= :now"
    " ORDER BY snoozed_until LIMIT :limit"
)
# What one user sees of each popup of their account, through their own state where they have one.
_SEEN = (
    "SELECT p.popup_id, p.account_id, p.user_id, p.kind, {status} AS status, p.title, p.body, p.ticket_id,"
    " p.ticket_number, p.raised_at, {snoozed_until} AS snoozed_until, {version} AS version,"
    " p.raised_position FROM {{active}} p {join}"
    " WHERE p.account_id = :account AND (p.user_id IS NULL OR p.user_id = :user)"
).format(join=recipients.JOIN, **recipients.SEEN)


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
        raised_at = time_of(int(raised))
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
            snoozed_until=time_of(until),
            version=int(version),
        )


class ActivePopups(PopupView):
    NAME = NAME
    COLUMNS = COLUMNS
    RECIPIENTS = RECIPIENTS
    EXTRA_TABLES = (RECIPIENTS,)
    DDL = (
        popup_table_ddl(),
        # The list endpoint: one account's popups in the order they were raised.
        f"CREATE INDEX IF NOT EXISTS {NAME}_by_account ON {{table}} (account_id, raised_position)",
        # The due scan (DUE_SCAN) reads only snoozed rows whose time has come.
        f"CREATE INDEX IF NOT EXISTS {NAME}_snoozed ON {{table}} (snoozed_until) WHERE status = 'snoozed'",
        *recipients.ddl(NAME),
        f"CREATE INDEX IF NOT EXISTS {NAME}_own_snoozed ON {{{RECIPIENTS}}} (snoozed_until)"
        " WHERE status = 'snoozed'",
    )

    def _apply_change(self, tx: Transaction, event: Popup.Event, key: dict[str, Any]) -> None:
        where = "WHERE popup_id = :id"
        if isinstance(event, Popup.Snoozed):
            tx.execute(
                f"UPDATE {self._table} SET status = 'snoozed', snoozed_until = :until, version = :version "
                + where,
                {**key, "until": to_micros(event.until)},
            )
        elif isinstance(event, Popup.Delivered | Popup.DueAgain):
            status = "delivered" if isinstance(event, Popup.Delivered) else "due"
            tx.execute(
                f"UPDATE {self._table} SET status = :status, snoozed_until = NULL, version = :version "
                + where,
                {**key, "status": status},
            )
        else:  # opened or deleted: no longer shown
            tx.execute(f"DELETE FROM {self._table} " + where, key)

    # --- reads ---------------------------------------------------------------------------------

    def for_recipient(self, *, account_id: str, user_id: str, now: datetime) -> list[ActivePopup]:
        """The popups this user sees at `now`, in the order they were raised."""
        seen = _SEEN.format(active=self._table, recipients=self._extra[RECIPIENTS])
        rows = self.db.query(
            f"SELECT {COLUMNS} FROM ({seen}) AS seen WHERE status NOT IN ('opened', 'deleted')"
            " AND (status <> 'snoozed' OR snoozed_until <= :now) ORDER BY raised_position",
            {"account": account_id, "user": user_id, "now": to_micros(now)},
        )
        return [ActivePopup.from_row(row) for row in rows]

    def snoozes_due(self, now: datetime, *, limit: int = 500) -> list[UUID]:
        """Snoozed popups whose time has come but whose "due again" is not recorded yet (indexed)."""
        rows = self.db.query(DUE_SCAN.format(active=self._table), {"now": to_micros(now), "limit": limit})
        return [UUID(str(row[0])) for row in rows]

    def own_snoozes_due(self, now: datetime, *, limit: int = 500) -> list[tuple[UUID, str]]:
        """(popup, user) of users' own snoozes whose time has come, "due again" not recorded yet."""
        statement = OWN_DUE_SCAN.format(recipients=self._extra[RECIPIENTS])
        rows = self.db.query(statement, {"now": to_micros(now), "limit": limit})
        return [(UUID(str(row[0])), str(row[1])) for row in rows]



def create_tables(db: Database) -> None:
    """Idempotent: this view's table, indexes and position row (`bootstrap.create_view_tables`
    creates every view's)."""
    ActivePopups.create_tables(db)
