"""Errors of the popup domain; the entry points map them onto the shared HTTP error shape."""

from __future__ import annotations

from uuid import UUID

from shared.idempotency import KEY_REUSED


class PopupError(Exception):
    """Base of every popup rule violation."""


class PopupNotFound(PopupError):
    """Raised when a popup does not exist or is addressed to someone else (never revealed)."""

    def __init__(self, popup_id: UUID) -> None:
        super().__init__(f"popup {popup_id} not found")
        self.popup_id = popup_id


class IllegalTransition(PopupError):
    """Raised when an action is not allowed in the popup's current status (e.g. snoozing a deleted one)."""

    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"cannot {action} a popup that is {status}")
        self.action = action
        self.status = status


class InvalidSnooze(PopupError):
    """Raised when "remind later" asks for a time in the past or beyond the longest allowed snooze."""


class IdempotencyKeyReused(PopupError):
    """Raised when an agent's `Idempotency-Key` comes back with a different message than the first time."""

    def __init__(self) -> None:
        super().__init__(KEY_REUSED)


class RequesterNotSeenYet(PopupError):
    """Raised when a reply arrives before this service has recorded who opened the ticket.

    Replicas share the tickets consumer, so another replica may still be recording the ticket's
    `ticket.created`; the consumer retries shortly before addressing the popup to the whole account.
    """

    def __init__(self, ticket_id: UUID) -> None:
        super().__init__(f"the requester of ticket {ticket_id} is not known yet")
        self.ticket_id = ticket_id
