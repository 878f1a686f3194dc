"""Every popup each recipient ever received, in whatever state it is now: the popup history.

Unlike the active view nothing leaves it: an opened or deleted popup stays, with its full title and
text, its current status and the time of its last change. Follows the store's log like every view
here (`follower.FollowedView`); a row is updated only by a newer version of its popup, so applying
an event twice changes nothing. Read newest raised first with keyset pagination on
(raised_at, popup_id), through an index that starts with the account. A popup sent to a whole account
shows each user their own state of it (`recipients`): one user deleting it leaves it as it was for
the others.
"""

# ruff: noqa: S608 -- statements are assembled from the constants below only; values are parameters
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notifications.domain.model import Popup
from notifications.projections import recipients
from notifications.projections.active import ActivePopup
from notifications.projections.popup_view import COLUMNS, PopupView, popup_table_ddl
from notifications.projections.rows import record_status, time_of
from shared.contracts.popups import PopupKind, PopupStatus
from shared.days import to_micros
from shared.sql import Transaction, half_open

NAME = "popup_history"
RECIPIENTS = recipients.table_name(NAME)
_COLUMNS = f"{COLUMNS}, changed_at"
# The status each later event leaves behind (the first one, "raised", is the created row's).
_STATUS_AFTER: dict[type[object], PopupStatus] = {
    Popup.Delivered: PopupStatus.DELIVERED,
    Popup.Snoozed: PopupStatus.SNOOZED,
    Popup.DueAgain: PopupStatus.DUE,
    Popup.Opened: PopupStatus.OPENED,
    Popup.Deleted: PopupStatus.DELETED,
}


@dataclass(frozen=True)
class HistoryEntry(ActivePopup):
    """One popup as the history shows it: an active-view row plus when it last changed."""

    changed_at: datetime

    @classmethod
    def from_history_row(cls, row: Sequence[Any]) -> HistoryEntry:
        shown = ActivePopup.from_row(row[:-1])
        changed_at = time_of(int(row[-1]))
        assert changed_at is not None
        return cls(**{**vars(shown), "changed_at": changed_at})


@dataclass(frozen=True)
class HistoryQuery:
    """One page of one recipient's history; times in microseconds since the epoch."""

    account_id: str
    user_id: str
    now_us: int
    statuses: Sequence[PopupStatus] = ()
    kind: PopupKind | None = None
    raised_from_us: int | None = None  # inclusive
    raised_to_us: int | None = None  # exclusive
    after: tuple[int, str] | None = None  # (raised_at, popup_id) of the last row of the previous page
    limit: int = 25


def _status_condition(statuses: Sequence[PopupStatus], params: dict[str, object]) -> str:
    """Statuses as the recipient sees them now: a snooze whose time has come counts as due."""
    terms = []
    for n, status in enumerate(dict.fromkeys(statuses)):
        if status is PopupStatus.DUE:
            terms.append("(status = 'due' OR (status = 'snoozed' AND snoozed_until <= :now))")
        elif status is PopupStatus.SNOOZED:
            terms.append("(status = 'snoozed' AND snoozed_until > :now)")
        else:
            params[f"status{n}"] = status.value
            terms.append(f"status = :status{n}")
    return "(" + " OR ".join(terms) + ")"


# Every popup of one user's history as they see it, through their own state where they have one.
_SEEN = (
    "SELECT p.popup_id, p.account_id, p.user_id, p.kind, {status} AS status, p.title, p.body, p.ticket_id,"
    " p.ticket_number, p.raised_at, {snoozed_until} AS snoozed_until, {version} AS version,"
    " {changed_at} AS changed_at FROM {{history}} p {join}"
    " WHERE p.account_id = :account AND (p.user_id IS NULL OR p.user_id = :user)"
).format(join=recipients.JOIN, **recipients.SEEN)


def history_sql(table: str, query: HistoryQuery, *, own: str) -> tuple[str, dict[str, object]]:
    """The statement and parameters of one page (every value bound, never interpolated); `own` is
    the table of users' own states."""
    params: dict[str, object] = {
        "account": query.account_id,
        "user": query.user_id,
        "now": query.now_us,
        "limit": query.limit,
    }
    where: list[str] = []
    half_open(
        "raised_at", query.raised_from_us, query.raised_to_us, name="raised", where=where, params=params
    )
    if query.kind is not None:
        where.append("kind = :kind")
        params["kind"] = query.kind.value
    if query.statuses:
        where.append(_status_condition(query.statuses, params))
    if query.after is not None:
        where.append("(raised_at < :after_at OR (raised_at = :after_at AND popup_id < :after_id))")
        params["after_at"], params["after_id"] = query.after
    conditions = f" WHERE {' AND '.join(where)}" if where else ""
    statement = (
        f"SELECT {_COLUMNS} FROM ({_SEEN.format(history=table, recipients=own)}) AS seen{conditions}"
        " ORDER BY raised_at DESC, popup_id DESC LIMIT :limit"
    )
    return statement, params


class PopupHistory(PopupView):
    NAME = NAME
    COLUMNS = _COLUMNS
    RECIPIENTS = RECIPIENTS
    EXTRA_TABLES = (RECIPIENTS,)
    DDL = (
        popup_table_ddl("changed_at bigint NOT NULL"),
        # The history endpoint: one account's popups newest first, page after page.
        f"CREATE INDEX IF NOT EXISTS {NAME}_by_account ON {{table}} (account_id, raised_at, popup_id)",
        *recipients.ddl(NAME),
    )

    def _apply_change(self, tx: Transaction, event: Popup.Event, key: dict[str, Any]) -> None:
        # Every popup event carries the time it happened (`at`): the row never reads a clock.
        at = to_micros(getattr(event, "at", None) or event.timestamp)
        record_status(
            tx,
            table=self._table,
            id_column="popup_id",
            status_after=_STATUS_AFTER,
            event=event,
            key=key,
            at=at,
        )

    # --- reads ---------------------------------------------------------------------------------

    def page(self, query: HistoryQuery) -> list[HistoryEntry]:
        """Up to `query.limit` rows of the recipient's history, newest raised first."""
        statement, params = history_sql(self._table, query, own=self._extra[RECIPIENTS])
        return [HistoryEntry.from_history_row(row) for row in self.db.query(statement, params)]

