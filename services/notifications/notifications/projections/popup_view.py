"""What the active view and the popup history share: one row per popup, beside each user's own state
of a popup sent to their whole account (`recipients`), following the store's log (`FollowedView`).

A view says which columns it keeps beyond the common ones and what a popup's later change does to
its row (`_apply_change`); a raised popup's row, the users' own states and the whole-view reads are
the same for both.
"""

# ruff: noqa: S608 -- table and column names come from code and the validated schema; values are parameters
from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import Notification

from notifications.domain.model import Popup
from notifications.domain.recipient import RecipientState
from notifications.projections import recipients
from notifications.projections.follower import FollowedView
from notifications.projections.rows import insert_raised
from shared.sql import Transaction

COLUMNS = (
    "popup_id, account_id, user_id, kind, status, title, body, ticket_id, ticket_number, "
    "raised_at, snoozed_until, version"
)


def popup_table_ddl(*extra_columns: str) -> str:
    """`CREATE TABLE` of a popup view: the common columns, then the view's own."""
    return (
        "CREATE TABLE IF NOT EXISTS {table} ("
        " popup_id text PRIMARY KEY, account_id text NOT NULL, user_id text,"
        " raised_position bigint NOT NULL, kind text NOT NULL, status text NOT NULL,"
        " title text NOT NULL, body text NOT NULL, ticket_id text, ticket_number text,"
        " raised_at bigint NOT NULL, snoozed_until bigint, version bigint NOT NULL"
        + "".join(f", {column}" for column in extra_columns)
        + ")"
    )


class PopupView(FollowedView):
    # The columns a row is read with (the common ones, then the view's own).
    COLUMNS: ClassVar[str]
    # The table of users' own states: `recipients.table_name(NAME)`, also in EXTRA_TABLES.
    RECIPIENTS: ClassVar[str]

    def _apply(self, tx: Transaction, notification: Notification, event: DomainEventProtocol[UUID]) -> None:
        if isinstance(event, RecipientState.Event):
            recipients.apply(tx, self._extra[self.RECIPIENTS], notification, event)
            return
        if not isinstance(event, Popup.Event):
            return  # ticket requesters are not popups
        key = {"id": str(self._store.originator(notification)), "version": notification.originator_version}
        if isinstance(event, Aggregate.Created):
            columns = (*self.COLUMNS.split(", "), "raised_position")
            position = notification.id
            insert_raised(tx, table=self._table, columns=columns, event=event, key=key, position=position)
            return
        self._apply_change(tx, event, key)

    @abstractmethod
    def _apply_change(self, tx: Transaction, event: Popup.Event, key: dict[str, Any]) -> None:
        """A raised popup's later event (`key`: its id and the event's version) on its row."""

    def rows(self) -> list[tuple[Any, ...]]:
        """Every row as stored, in a stable order (to compare a rebuilt view with a followed one)."""
        return self.db.query(f"SELECT {self.COLUMNS}, raised_position FROM {self._table} ORDER BY popup_id")

    def recipient_rows(self) -> list[tuple[Any, ...]]:
        """Every user's own state as stored, in a stable order (as `rows()`)."""
        return self.db.query(f"SELECT * FROM {self._extra[self.RECIPIENTS]} ORDER BY state_id")
