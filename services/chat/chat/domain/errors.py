"""Errors of the chat domain; the WebSocket entry point turns each into an error frame."""

from __future__ import annotations


class ChatError(Exception):
    """Base of the chat's domain errors; `code` is the error frame's machine-readable code."""

    code = "chat_error"


class InvalidIntake(ChatError):
    """Raised when the name, phone or question a user opens a chat with breaks a rule."""

    code = "invalid_intake"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class CapacityExceeded(ChatError):
    """Raised when a specialist would be given more simultaneous chats than their capacity."""

    code = "capacity_exceeded"


class ChatUnavailable(ChatError):
    """Raised when a chat cannot be opened right now because the shared directory does not answer."""

    code = "unavailable"


class NotAssigned(ChatError):
    """Raised when a message or command names a chat that is not (or no longer) this party's."""

    code = "not_assigned"


class AlreadyTaken(ChatError):
    """Raised when a specialist takes a chat that another specialist (or they) already hold."""

    code = "already_taken"


class NotWaiting(ChatError):
    """Raised when a specialist takes a chat that is not in the queue: the user left, or no such chat."""

    code = "not_waiting"


class NotAvailable(ChatError):
    """Raised when a specialist who is away takes a chat: they set themselves available first."""

    code = "not_available"
