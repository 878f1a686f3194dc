"""One user's own state of a popup sent to their whole account, and the popup as one recipient sees it.

A popup addressed to every user of an account (`Popup.user_id is None`) is one popup, but delivering,
snoozing, opening and deleting it is each user's own business: the first action of a user starts
their `RecipientState` from the popup's state at that moment (its version is `base_version`), and
from then on that user's actions change it alone. Users who never acted see the popup's own state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar, overload
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from notifications.domain.ids import recipient_state_id
from notifications.domain.lifecycle import Cause, Lifecycle, status_at
from notifications.domain.model import Popup
from shared.contracts.popups import PopupKind, PopupStatus

T = TypeVar("T")


class RecipientState(Lifecycle):
    """What one user did with a popup sent to their whole account (the same rules as a popup's).

    Its events: `Started`, then the lifecycle's (`RecipientState.Delivered` and so on).
    """

    class Started(Aggregate.Created):
        popup_id: UUID
        account_id: str
        user_id: str
        status: str
        snoozed_until: datetime | None
        base_version: int
        at: datetime
        cause: Cause

    @event(Started)
    def __init__(
        self,
        *,
        popup_id: UUID,
        account_id: str,
        user_id: str,
        status: str,
        snoozed_until: datetime | None,
        base_version: int,
        at: datetime,
        cause: Cause,
    ) -> None:
        self.popup_id = popup_id
        self.account_id = account_id
        self.user_id = user_id
        self.base_version = base_version
        self.started_at = at
        self.enter(PopupStatus(status), snoozed_until=snoozed_until, cause=cause)

    @staticmethod
    def create_id(popup_id: UUID, user_id: str, **_: object) -> UUID:
        return recipient_state_id(popup_id, user_id)

    @classmethod
    def start(cls, popup: Popup, *, user_id: str, at: datetime, cause: Cause) -> RecipientState:
        """`user_id`'s own state of `popup`, as the popup stands now (not saved yet)."""
        return cls(
            popup_id=popup.id,
            account_id=popup.account_id,
            user_id=user_id,
            status=popup.status.value,
            snoozed_until=popup.snoozed_until,
            base_version=popup.version,
            at=at,
            cause=cause,
        )

    @property
    def seen_version(self) -> int:
        """The popup's version as its user sees it: its base plus every change of their own."""
        return self.base_version + self.version


class _OfThePopup(Generic[T]):
    """A field of the popup itself: the same for every recipient, whatever they did with it."""

    def __set_name__(self, owner: type[SeenPopup], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, seen: None, owner: type[SeenPopup]) -> _OfThePopup[T]: ...
    @overload
    def __get__(self, seen: SeenPopup, owner: type[SeenPopup]) -> T: ...
    def __get__(self, seen: SeenPopup | None, owner: type[SeenPopup]) -> T | _OfThePopup[T]:
        if seen is None:
            return self
        found: T = getattr(seen.popup, self.name)
        return found


@dataclass(frozen=True)
class SeenPopup:
    """A popup as one recipient sees it: its own state, or that recipient's own state of it."""

    popup: Popup
    own: RecipientState | None = None

    id = _OfThePopup[UUID]()
    account_id = _OfThePopup[str]()
    user_id = _OfThePopup[str | None]()
    kind = _OfThePopup[PopupKind]()
    title = _OfThePopup[str]()
    text = _OfThePopup[str]()
    ticket_id = _OfThePopup[UUID | None]()
    ticket_number = _OfThePopup[str | None]()
    raised_at = _OfThePopup[datetime]()

    @property
    def status(self) -> PopupStatus:
        return self.own.status if self.own is not None else self.popup.status

    @property
    def snoozed_until(self) -> datetime | None:
        return self.own.snoozed_until if self.own is not None else self.popup.snoozed_until

    @property
    def version(self) -> int:
        """Grows with every change this recipient sees (a client keeps the newest by comparing it)."""
        return self.own.seen_version if self.own is not None else self.popup.version

    def status_at(self, now: datetime) -> PopupStatus:
        return status_at(self.status, snoozed_until=self.snoozed_until, now=now)
