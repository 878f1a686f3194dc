"""One user's own state of a popup sent to their whole account, and the popup as one recipient sees it.

A popup addressed to every user of an account (`Popup.user_id is None`) is one popup, but delivering,
snoozing, opening and deleting it is each user's own business: the first action of a user starts
their `RecipientState` from the popup's state at that moment (its version is `base_version`), and
from then on that user's actions change it alone. Users who never acted see the popup's own state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from notifications.domain.ids import recipient_state_id
from notifications.domain.model import Cause, Lifecycle, Popup, status_at
from shared.contracts.popups import PopupKind, PopupStatus


class RecipientState(Lifecycle, Aggregate):
    """What one user did with a popup sent to their whole account (the same rules as a popup's)."""

    @event("Started")
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
        self.status = PopupStatus(status)
        self.snoozed_until = snoozed_until
        self.base_version = base_version
        self.started_at = at
        self.cause = cause

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

    # --- events (the same as a popup's, for this user alone) -----------------------------------

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


@dataclass(frozen=True)
class SeenPopup:
    """A popup as one recipient sees it: its own state, or that recipient's own state of it."""

    popup: Popup
    own: RecipientState | None = None

    @property
    def id(self) -> UUID:
        return self.popup.id

    @property
    def account_id(self) -> str:
        return self.popup.account_id

    @property
    def user_id(self) -> str | None:
        return self.popup.user_id

    @property
    def kind(self) -> PopupKind:
        return self.popup.kind

    @property
    def title(self) -> str:
        return self.popup.title

    @property
    def text(self) -> str:
        return self.popup.text

    @property
    def ticket_id(self) -> UUID | None:
        return self.popup.ticket_id

    @property
    def ticket_number(self) -> str | None:
        return self.popup.ticket_number

    @property
    def raised_at(self) -> datetime:
        return self.popup.raised_at

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
