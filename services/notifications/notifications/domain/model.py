"""The `Popup` aggregate, and who opened each ticket (`TicketRequester`).

A popup lives by the popup lifecycle (`domain.lifecycle`). One sent to every user of an account is
acted on by each user for themselves: their actions are recorded on their own `RecipientState` of it
(`domain.recipient`), under the same rules.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from notifications.domain.errors import IdempotencyKeyReused
from notifications.domain.ids import requester_id
from notifications.domain.lifecycle import RAISED, Cause, Lifecycle, status_at
from shared.contracts.popups import PopupKind

# `Cause` and `status_at` are part of this module's vocabulary for its importers.
__all__ = ["Cause", "Popup", "TicketRequester", "status_at"]


class Popup(Lifecycle):
    """One popup for one user, or for every user of an account (`user_id is None`).

    Its events: `Raised`, then the lifecycle's `Delivered`, `Snoozed`, `DueAgain`, `Opened`, `Deleted`
    (`Popup.Delivered` and so on, each a subclass of the lifecycle's own).
    """

    class Raised(Aggregate.Created):
        popup_id: UUID
        account_id: str
        user_id: str | None
        kind: str
        title: str
        text: str
        ticket_id: UUID | None
        ticket_number: str | None
        source_event_id: UUID | None
        at: datetime
        cause: Cause
        # Absent from popups raised before requests were fingerprinted.
        fingerprint: str | None = None

    @event(Raised)
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
        self.enter(RAISED, snoozed_until=None, cause=cause)
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


class TicketRequester(Aggregate):
    """Remembers who opened a ticket, so support's replies go to that user's popups only."""

    class Remembered(Aggregate.Created):
        ticket_id: UUID
        account_id: str
        user_id: str | None

    @event(Remembered)
    def __init__(self, *, ticket_id: UUID, account_id: str, user_id: str | None) -> None:
        self.ticket_id = ticket_id
        self.account_id = account_id
        self.user_id = user_id

    @staticmethod
    def create_id(ticket_id: UUID, **_: object) -> UUID:
        return requester_id(ticket_id)
