"""Each user's own state of popups sent to their whole account, as the views keep it: a row per user
who acted on such a popup, beside the popup's own row. A reader joins the two and sees, per column,
the user's state where they have one and the popup's where they do not (`SEEN`).

Rows stay when a user opens or deletes the popup: they hide it from that user alone.
"""

# ruff: noqa: S608 -- table names come from code and the validated schema setting; values are parameters
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import Notification

from notifications.domain.lifecycle import Change
from notifications.domain.recipient import RecipientState
from notifications.projections.rows import record_status
from shared.contracts.popups import PopupStatus
from shared.days import to_micros
from shared.sql import Transaction

__all__ = ["JOIN", "SEEN", "apply", "ddl", "table_name"]


def table_name(view: str) -> str:
    """The table of users' own states a view keeps (one of its `EXTRA_TABLES`)."""
    return f"{view}_recipients"


def ddl(view: str) -> tuple[str, ...]:
    """The statements creating `view`'s table of them (`{<view>_recipients}` in the view's DDL)."""
    table = "{" + table_name(view) + "}"
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ("
        " state_id text PRIMARY KEY, popup_id text NOT NULL, user_id text NOT NULL, status text NOT NULL,"
        " snoozed_until bigint, base_version bigint NOT NULL, version bigint NOT NULL,"
        " changed_at bigint NOT NULL)",
        # The readers' join: one user's state of each popup they read.
        f"CREATE UNIQUE INDEX IF NOT EXISTS {view}_recipients_by_popup ON {table} (popup_id, user_id)",
    )


# What user `:user` sees, with the popup's row as `p` and theirs (LEFT JOINed) as `o`; the version
# is the one the public events carry (`SeenPopup.version`).
SEEN = {
    "status": "COALESCE(o.status, p.status)",
    "snoozed_until": "CASE WHEN o.state_id IS NULL THEN p.snoozed_until ELSE o.snoozed_until END",
    "version": "CASE WHEN o.state_id IS NULL THEN p.version ELSE o.base_version + o.version END",
    "changed_at": "CASE WHEN o.state_id IS NULL THEN p.changed_at ELSE o.changed_at END",
}
# `{recipients}`: the view's table of them.
JOIN = "LEFT JOIN {recipients} o ON o.popup_id = p.popup_id AND o.user_id = :user"

_STATUS_AFTER: dict[type[object], PopupStatus] = {
    RecipientState.Delivered: PopupStatus.DELIVERED,
    RecipientState.Snoozed: PopupStatus.SNOOZED,
    RecipientState.DueAgain: PopupStatus.DUE,
    RecipientState.Opened: PopupStatus.OPENED,
    RecipientState.Deleted: PopupStatus.DELETED,
}


def apply(tx: Transaction, table: str, notification: Notification, event: DomainEventProtocol[UUID]) -> None:
    """The row change one event of a `RecipientState` makes; applying it twice changes nothing."""
    if not isinstance(event, RecipientState.Started | Change):
        return  # a state records nothing else
    key = {"id": str(notification.originator_id), "version": notification.originator_version}
    at = to_micros(event.at)
    if isinstance(event, Aggregate.Created):
        state = event.mutate(None)
        assert isinstance(state, RecipientState)
        tx.execute(
            f"INSERT INTO {table} (state_id, popup_id, user_id, status, snoozed_until, base_version,"
            " version, changed_at) VALUES (:id, :popup, :user, :status, :until, :base, :version, :at)"
            " ON CONFLICT (state_id) DO NOTHING",
            {
                **key,
                "popup": str(state.popup_id),
                "user": state.user_id,
                "status": state.status.value,
                "until": to_micros(state.snoozed_until) if state.snoozed_until else None,
                "base": state.base_version,
                "at": at,
            },
        )
        return
    record_status(
        tx, table=table, id_column="state_id", status_after=_STATUS_AFTER, event=event, key=key, at=at
    )
