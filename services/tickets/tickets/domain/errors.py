"""Errors the tickets domain raises; the HTTP entry point maps each onto the shared error shape."""

from __future__ import annotations

from uuid import UUID

from shared.idempotency import HEADER, KEY_REUSED


class TicketError(Exception):
    """Raised when a ticket command breaks a rule of the domain (base of every error here)."""


class TicketNotFound(TicketError):
    """Raised when a ticket does not exist, or belongs to an account the caller cannot see."""

    def __init__(self, ticket_id: UUID | str) -> None:
        super().__init__(f"ticket {ticket_id} not found")
        self.ticket_id = ticket_id


class AttachmentNotFound(TicketError):
    """Raised when a ticket has no attachment with the given id."""

    def __init__(self, attachment_id: UUID | str) -> None:
        super().__init__(f"attachment {attachment_id} not found")
        self.attachment_id = attachment_id


class InvalidInput(TicketError):
    """Raised when a command's text, topic or file breaks a limit (too long, empty, unknown topic)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownTopic(InvalidInput):
    """Raised when a topic is not on the configured list."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"unknown topic {topic!r}", field="topic")
        self.topic = topic


class OneFilePerMessage(InvalidInput):
    """Raised when a second file is attached to the same message."""

    def __init__(self) -> None:
        super().__init__("at most one file per message", field="file")


class IdempotencyKeyReused(InvalidInput):
    """Raised when an `Idempotency-Key` comes back with a different request than the first time."""

    def __init__(self) -> None:
        super().__init__(KEY_REUSED, field=HEADER)


class NotAllowed(TicketError):
    """Raised when the actor's kind may not do this (e.g. a hotel user adding an internal note)."""


class TicketConflict(TicketError):
    """Raised when a command contradicts the ticket's current state."""


class IllegalTransition(TicketConflict):
    """Raised when a status change is not allowed from the current status."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(f"cannot change status from {old} to {new}")
        self.old = old
        self.new = new


class TicketClosed(TicketConflict):
    """Raised when a closed ticket is asked to change (closed is final)."""

    def __init__(self, number: str) -> None:
        super().__init__(f"ticket {number} is closed")
        self.number = number


class ConcurrentChange(TicketConflict):
    """Raised when another writer changed the ticket between read and write, and retrying gave up."""


class VersionMismatch(TicketError):
    """Raised when the caller's expected version (`If-Match`) is not the ticket's current version."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, the ticket is at version {actual}")
        self.expected = expected
        self.actual = actual
