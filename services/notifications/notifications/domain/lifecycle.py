"""A popup's lifecycle, written once: raised → delivered → snoozed until T → due again → opened → deleted.

Both a `Popup` and one user's `RecipientState` of a popup sent to their whole account live by it: the
rules are the table `TRANSITIONS` and `check_snooze`, the changes the events declared on `Lifecycle`.
Each aggregate gets its own copy of those events from the library (`Popup.Snoozed` is stored under
`notifications.domain.model:Popup.Snoozed`, `RecipientState.Snoozed` under its own module and name).

Time is always passed in (`at`), never read here, so a snooze coming due is tested without waiting.
Nothing expires by itself: a snoozed popup whose time has come is *due* (shown again), and only the
recipient deletes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, TypedDict

from eventsourcing.domain import Aggregate

from notifications.domain.errors import IllegalTransition, InvalidSnooze
from shared.contracts.popups import PopupStatus

RAISED, DELIVERED, SNOOZED, DUE, OPENED, DELETED = (
    PopupStatus.RAISED,
    PopupStatus.DELIVERED,
    PopupStatus.SNOOZED,
    PopupStatus.DUE,
    PopupStatus.OPENED,
    PopupStatus.DELETED,
)

# The statuses in which a popup is on its recipient's screen.
SHOWN = (RAISED, DELIVERED, DUE)


class Cause(TypedDict):
    """Who or what caused a change, carried into the public envelope (a plain dict once stored)."""

    actor_kind: str
    actor_id: str
    actor_name: str
    correlation_id: str | None
    causation_id: str | None


class Action(StrEnum):
    """What a recipient does with a popup (the value names it in an `IllegalTransition`)."""

    DELIVER = "mark delivered"
    SNOOZE = "snooze"
    OPEN = "open"
    DELETE = "delete"


@dataclass(frozen=True)
class Transition:
    """The statuses `action` may start from, and the one it leaves behind."""

    start: frozenset[PopupStatus]
    to: PopupStatus
    # Doing it again once there records nothing new (a second tab, a second click).
    repeatable: bool = False


TRANSITIONS: dict[Action, Transition] = {
    Action.DELIVER: Transition(frozenset({RAISED, DUE}), DELIVERED, repeatable=True),
    # "Remind later" again moves the end of the snooze.
    Action.SNOOZE: Transition(frozenset({RAISED, DELIVERED, SNOOZED, DUE}), SNOOZED),
    Action.OPEN: Transition(frozenset({RAISED, DELIVERED, SNOOZED, DUE}), OPENED, repeatable=True),
    # Final: nothing follows a deletion, not even another one.
    Action.DELETE: Transition(frozenset({RAISED, DELIVERED, SNOOZED, DUE, OPENED}), DELETED),
}


def next_status(action: Action, status: PopupStatus) -> PopupStatus | None:
    """Where `action` takes a popup that is `status`; None when it is there already and the action
    records nothing new. `IllegalTransition` when the action is not allowed from `status`."""
    transition = TRANSITIONS[action]
    if transition.repeatable and status is transition.to:
        return None
    if status not in transition.start:
        raise IllegalTransition(action.value, status.value)
    return transition.to


def check_snooze(until: datetime, *, at: datetime, longest: timedelta) -> None:
    """`InvalidSnooze` unless a snooze asked for at `at` ends after it and within `longest`."""
    if until <= at:
        raise InvalidSnooze("the snooze must end in the future")
    if until - at > longest:
        raise InvalidSnooze(f"a popup can be snoozed for at most {_human(longest)}")


def status_at(status: PopupStatus, *, snoozed_until: datetime | None, now: datetime) -> PopupStatus:
    """The status as the recipient sees it at `now`: a snooze whose time has come is due, although
    "due again" is recorded only when the scanner (or the recipient's next action) gets to it."""
    if status is SNOOZED and snoozed_until is not None and snoozed_until <= now:
        return DUE
    return status


class Change(Aggregate.Event):
    """One step of the lifecycle; `leaves` is the status it leaves its aggregate in."""

    leaves: ClassVar[PopupStatus]
    at: datetime
    cause: Cause

    def apply(self, aggregate: Lifecycle) -> None:
        aggregate.enter(self.leaves, snoozed_until=None, cause=self.cause)


class Lifecycle(Aggregate):
    """Whatever lives by the popup lifecycle: each command checks the rules, then records one of the
    changes declared here (the library declares each again on the subclass, under its own name)."""

    class Delivered(Change):
        leaves = DELIVERED

        def apply(self, aggregate: Lifecycle) -> None:
            # Never snoozed when delivered: whatever it was, it stays.
            aggregate.enter(self.leaves, snoozed_until=aggregate.snoozed_until, cause=self.cause)

    class Snoozed(Change):
        leaves = SNOOZED
        until: datetime

        def apply(self, aggregate: Lifecycle) -> None:
            aggregate.enter(self.leaves, snoozed_until=self.until, cause=self.cause)

    class DueAgain(Change):
        leaves = DUE

    class Opened(Change):
        leaves = OPENED

    class Deleted(Change):
        leaves = DELETED

    def enter(self, status: PopupStatus, *, snoozed_until: datetime | None, cause: Cause) -> None:
        """Applied by the changes above (and by each aggregate's first event): the state they leave."""
        self.status = status
        self.snoozed_until = snoozed_until
        self.cause = cause

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
        self.end_snooze_if_due(at=at, cause=cause)
        if next_status(Action.DELIVER, self.status) is not None:
            self.trigger_event(self.Delivered, at=at, cause=cause)

    def snooze(self, *, until: datetime, at: datetime, longest: timedelta, cause: Cause) -> None:
        """ "Remind later": hide until `until` (again, if it is already snoozed)."""
        next_status(Action.SNOOZE, self.status)
        check_snooze(until, at=at, longest=longest)
        self.trigger_event(self.Snoozed, until=until, at=at, cause=cause)

    def end_snooze_if_due(self, *, at: datetime, cause: Cause) -> bool:
        """Record that the snooze came to its end; False when it has not (or was ended already)."""
        if self.status is SNOOZED and self.status_at(at) is DUE:
            self.trigger_event(self.DueAgain, at=at, cause=cause)
            return True
        return False

    def open(self, *, at: datetime, cause: Cause) -> None:
        """ "View fully": the user goes to the request; opening twice records nothing new."""
        if next_status(Action.OPEN, self.status) is not None:
            self.trigger_event(self.Opened, at=at, cause=cause)

    def delete(self, *, at: datetime, cause: Cause) -> None:
        """Final: the popup is gone from every screen of its recipient."""
        next_status(Action.DELETE, self.status)
        self.trigger_event(self.Deleted, at=at, cause=cause)


def _human(span: timedelta) -> str:
    """`30 days`, `12 hours`, `45 minutes`: the largest whole unit that states `span` exactly."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
