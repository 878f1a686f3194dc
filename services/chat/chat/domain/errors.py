"""Errors of the chat domain; the WebSocket entry point turns each into an error frame."""

from __future__ import annotations

from typing import Literal


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


class TooManyChats(ChatError):
    """Raised when a user opens a chat while they (scope `user`), or their hotel account (scope
    `account`), already have as many chats open as allowed."""

    code = "too_many_chats"

    def __init__(self, scope: Literal["user", "account"], limit: int) -> None:
        self.scope: Literal["user", "account"] = scope
        self.limit = limit
        chats = "1 open chat" if limit == 1 else f"{limit} open chats"
        if scope == "user":
            message = f"you already have {chats}; close one to start another"
        else:
            message = f"your hotel account already has {chats}; try again when one ends"
        super().__init__(message)


class IllegalTransition(ChatError):
    """Raised when an event may not happen to a chat in its current phase (see `chat.domain.session`):
    the caller refuses or ignores it, and the chat stays as it was."""

    code = "illegal_transition"

    def __init__(self, phase: str, event: str) -> None:
        self.phase = phase
        self.event = event
        super().__init__(f"{event} may not happen to a chat that is {phase}")


class WrongSpecialist(IllegalTransition):
    """Raised when a specialist speaks in a chat that is not (or no longer) theirs."""
