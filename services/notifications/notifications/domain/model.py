"""The `Popup` aggregate: raised → delivered → snoozed until T → due again → opened → deleted.

Time is always passed in (`at`), never read here, so the clock is injected by the application layer
and a snooze coming due is tested without waiting. Nothing expires by itself: a snoozed popup whose
time has come is *due* (shown again), and only the recipient deletes one.

A popup sent to every user of an account is acted on by each user for themselves: their actions are
recorded on their own `RecipientState` of it (`domain.recipient`), under the same rules (`Lifecycle`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from notifications.domain.errors import IdempotencyKeyReused, IllegalTransition, InvalidSnooze
from notifications.domain.ids import requester_id
from shared.contracts.popups import PopupKind, PopupStatus

# The statuses in which a popup is on its recipient's screen.
SHOWN = (PopupStatus.RAISED, PopupStatus.DELIVERED, PopupStatus.DUE)


def status_at(status: PopupStatus, *, snoozed_until: datetime | None, now: datetime) -> PopupStatus:
    """The status as the recipient sees it at `now`: a snooze whose time has come is due, although
    "due again" is recorded only when the scanner (or the recipient's next action) gets to it."""
    if status is PopupStatus.SNOOZED and snoozed_until is not None and snoozed_until <= now:
        return PopupStatus.DUE
    return status


class Cause(TypedDict):
    """Who or what caused a change, carried into the public envelope (a plain dict once stored)."""

    actor_kind: str
    actor_id: str
    actor_name: str
    correlation_id: str | None
    causation_id: str | None


class Lifecycle:
    """The rules of a popup's states, shared by a `Popup` and by one user's `RecipientState` of a popup
    sent to their whole account: each command checks them, then records one of the aggregate's own
    events (`_delivered`, `_snoozed`, `_due_again`, `_opened`, `_deleted`)."""

    status: PopupStatus
    snoozed_until: datetime | None

    # --- queries -------------------------------------------------------------------------------

    def status_at(self, now: datetime) -> PopupStatus:
        """The status as the recipient sees it at `now`: a snooze whose time has come is due."""
        return status_at(self.status, snoozed_until=self.snoozed_until, now=now)

    def is_active(self, now: datetime) -> bool:
        """Shown to its recipient at `now` (not hidden by a snooze, not opened, not deleted)."""
        return self.status_at(now) in SHOWN

    # --- commands ------------------------------------------------------------------------------

    def mark_delivered(self, *, at: datetime, cause: Cause) -> None:
        """Shown on a screen; a second tab reporting the same is not a new fact."""
        self._end_snooze_if_due(at=at, cause=cause)
        if self.status is PopupStatus.DELIVERED:
            return
        self._check_status("mark delivered", PopupStatus.RAISED, PopupStatus.DUE)
        self._delivered(at=at, cause=cause)

    def snooze(self, *, until: datetime, at: datetime, longest: timedelta, cause: Cause) -> None:
        """ "Remind later": hide until `until` (again, if it is already snoozed)."""
        self._check_status(
            "snooze", PopupStatus.RAISED, PopupStatus.DELIVERED, PopupStatus.SNOOZED, PopupStatus.DUE
        )
        if until <= at:
            raise InvalidSnooze("the snooze must end in the future")
        if until - at > longest:
            raise InvalidSnooze(f"a popup can be snoozed for at most {_human(longest)}")
        self._snoozed(until=until, at=at, cause=cause)

    def end_snooze_if_due(self, *, at: datetime, cause: Cause) -> bool:
        """Record that the snooze came to its end; False when it has not (or was ended already)."""
        return self._end_snooze_if_due(at=at, cause=cause)

    def open(self, *, at: datetime, cause: Cause) -> None:
        """ "View fully": the user goes to the request; opening twice records nothing new."""
        if self.status is PopupStatus.OPENED:
            return
        self._check_status(
            "open", PopupStatus.RAISED, PopupStatus.DELIVERED, PopupStatus.SNOOZED, PopupStatus.DUE
        )
        self._opened(at=at, cause=cause)

    def delete(self, *, at: datetime, cause: Cause) -> None:
        """Final: the popup is gone from every screen of its recipient."""
        self._check_status(
            "delete",
            PopupStatus.RAISED,
            PopupStatus.DELIVERED,
            PopupStatus.SNOOZED,
            PopupStatus.DUE,
            PopupStatus.OPENED,
        )
        self._deleted(at=at, cause=cause)

    # --- guards --------------------------------------------------------------------------------

    def _check_status(self, action: str, *allowed: PopupStatus) -> None:
        if self.status not in allowed:
            raise IllegalTransition(action, self.status.value)

    def _end_snooze_if_due(self, *, at: datetime, cause: Cause) -> bool:
        if self.status_at(at) is PopupStatus.DUE and self.status is PopupStatus.SNOOZED:
            self._due_again(at=at, cause=cause)
            return True
        return False

    # --- recorded by each aggregate's own events ----------------------------------------------

    def _delivered(self, *, at: datetime, cause: Cause) -> None:
        raise NotImplementedError

    def _snoozed(self, *, until: datetime, at: datetime, cause: Cause) -> None:
        raise NotImplementedError

    def _due_again(self, *, at: datetime, cause: Cause) -> None:
        raise NotImplementedError

    def _opened(self, *, at: datetime, cause: Cause) -> None:
        raise NotImplementedError

    def _deleted(self, *, at: datetime, cause: Cause) -> None:
        raise NotImplementedError


class Popup(Lifecycle, Aggregate):
    """One popup for one user, or for every user of an account (`user_id is None`)."""

    @event("Raised")
    def __init__(
        self,
        *,
        popup_id: UUID,
        account_id: str,
        user_id: str | None,
        kind: str,
        title: str,
        text: str,
        ticket_id: UUID | None,
        ticket_number: str | None,
        source_event_id: UUID | None,
        at: datetime,
        cause: Cause,
        fingerprint: str | None = None,
    ) -> None:
        self.account_id = account_id
        self.user_id = user_id
        self.kind = PopupKind(kind)
        self.title = title
        self.text = text
        self.ticket_id = ticket_id
        self.ticket_number = ticket_number
        self.source_event_id = source_event_id
        self.raised_at = at
        self.status = PopupStatus.RAISED
        self.snoozed_until: datetime | None = None
        self.cause = cause
        # What the request that raised it asked for (`shared.idempotency`); None for ticket replies
        # and for popups raised before requests were fingerprinted.
        self.fingerprint = fingerprint

    @staticmethod
    def create_id(popup_id: UUID, **_: object) -> UUID:
        return popup_id

    # --- queries -------------------------------------------------------------------------------

    def is_addressed_to(self, *, account_id: str | None, user_id: str) -> bool:
        return self.account_id == account_id and (self.user_id is None or self.user_id == user_id)

    def check_same_request(self, fingerprint: str | None) -> None:
        """`IdempotencyKeyReused` when a repeat of the request that raised it asked for something else."""
        if fingerprint is not None and self.fingerprint is not None and fingerprint != self.fingerprint:
            raise IdempotencyKeyReused()

    # --- events ----------------------------------------------------------------------------------

    @event("Delivered")
    def _delivered(self, *, at: datetime, cause: Cause) -> None:
        self.status = PopupStatus.DELIVERED
        self.cause = cause

    @event("Snoozed")
    def _snoozed(self, *, until: datetime, at: datetime, cause: Cause) -> None:
        self.status = PopupStatus.SNOOZED
        self.snoozed_until = until
        self.cause = cause

    @event("DueAgain")
    def _due_again(self, *, at: datetime, cause: Cause) -> None:
        self.status = PopupStatus.DUE
        self.snoozed_until = None
        self.cause = cause

    @event("Opened")
    def _opened(self, *, at: datetime, cause: Cause) -> None:
        self.status = PopupStatus.OPENED
        self.snoozed_until = None
        self.cause = cause

    @event("Deleted")
    def _deleted(self, *, at: datetime, cause: Cause) -> None:
        self.status = PopupStatus.DELETED
        self.snoozed_until = None
        self.cause = cause


class TicketRequester(Aggregate):
    """Remembers who opened a ticket, so support's replies go to that user's popups only."""

    @event("Remembered")
    def __init__(self, *, ticket_id: UUID, account_id: str, user_id: str | None) -> None:
        self.ticket_id = ticket_id
        self.account_id = account_id
        self.user_id = user_id

    @staticmethod
    def create_id(ticket_id: UUID, **_: object) -> UUID:
        return requester_id(ticket_id)


def _human(span: timedelta) -> str:
    """`30 days`, `12 hours`, `45 minutes`: the largest whole unit that states `span` exactly."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
