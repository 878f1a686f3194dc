"""The row changes the views share: a raised popup's row, and a later event's status on a row.

Each change is idempotent, so a view may apply an event twice (a replayed batch) with no effect: a
raised row is inserted only if missing, a status only moves a row to a newer version.
"""

# ruff: noqa: S608 -- table and column names come from code and the validated schema; values are parameters
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol

from notifications.domain.model import Popup
from shared.contracts.popups import PopupStatus
from shared.days import to_micros
from shared.sql import Transaction

__all__ = ["insert_raised", "raised_columns", "record_status", "time_of"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# The value each column of a view takes from a newly raised popup (`raised_columns` and the key).
_RAISED_VALUES = {
    "popup_id": ":id",
    "account_id": ":account",
    "user_id": ":user",
    "kind": ":kind",
    "status": ":status",
    "title": ":title",
    "body": ":body",
    "ticket_id": ":ticket",
    "ticket_number": ":number",
    "raised_at": ":raised",
    "snoozed_until": "NULL",
    "version": ":version",
    "changed_at": ":raised",
    "raised_position": ":position",
}


def time_of(value: int | None) -> datetime | None:
    """A time stored as microseconds since the epoch."""
    return None if value is None else _EPOCH + value * _MICROSECOND


def raised_columns(popup: Popup) -> dict[str, object]:
    """A newly raised popup's values, as the views store them."""
    return {
        "account": popup.account_id,
        "user": popup.user_id,
        "kind": popup.kind.value,
        "status": popup.status.value,
        "title": popup.title,
        "body": popup.text,
        "ticket": str(popup.ticket_id) if popup.ticket_id else None,
        "number": popup.ticket_number,
        "raised": to_micros(popup.raised_at),
    }


def insert_raised(
    tx: Transaction,
    *,
    table: str,
    columns: Sequence[str],
    event: Aggregate.Created,
    key: Mapping[str, object],
    position: int,
) -> None:
    """The row of the popup `event` raised (its `Created`), with `columns` (each of `_RAISED_VALUES`)."""
    popup = event.mutate(None)
    if not isinstance(popup, Popup):
        raise TypeError(f"{type(event).__qualname__} does not raise a popup")
    tx.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(_RAISED_VALUES[c] for c in columns)})"
        f" ON CONFLICT ({columns[0]}) DO NOTHING",
        {**key, **raised_columns(popup), "position": position},
    )


def record_status(
    tx: Transaction,
    *,
    table: str,
    id_column: str,
    status_after: Mapping[type[object], PopupStatus],
    event: DomainEventProtocol[UUID],
    key: Mapping[str, object],
    at: int,
) -> None:
    """The status `event` leaves its row in (from `status_after`; none, no change), with the snooze's
    end and the time it changed, if the row is older than the event."""
    status = status_after.get(type(event))
    if status is None:
        return
    until = getattr(event, "until", None) if status is PopupStatus.SNOOZED else None
    tx.execute(
        f"UPDATE {table} SET status = :status, snoozed_until = :until, changed_at = :at,"
        f" version = :version WHERE {id_column} = :id AND version < :version",
        {**key, "status": status.value, "until": to_micros(until) if until else None, "at": at},
    )
