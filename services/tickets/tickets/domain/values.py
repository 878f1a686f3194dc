"""Value types of the tickets domain: statuses and their transitions, importance, priority, actors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from shared.ticket_values import Importance as Importance
from shared.ticket_values import Priority as Priority
from shared.ticket_values import Status as Status

NUMBER_PREFIX: Final = "HD-"
NUMBER_DIGITS: Final = 6

COMMENT_MAX: Final = 200
MESSAGE_MAX: Final = 10_000
FILENAME_MAX: Final = 200


class ActorKind(StrEnum):
    USER = "user"
    AGENT = "agent"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who caused an event: a hotel user, a support agent or the system."""

    kind: ActorKind
    id: str
    name: str = ""

    @property
    def is_staff(self) -> bool:
        return self.kind is not ActorKind.USER


SYSTEM = Actor(kind=ActorKind.SYSTEM, id="system", name="OtelMS Helpdesk")

ALLOWED_TRANSITIONS: Final[dict[Status, frozenset[Status]]] = {
    Status.NEW: frozenset({Status.IN_PROGRESS, Status.WAITING_FOR_USER, Status.RESOLVED, Status.CLOSED}),
    Status.IN_PROGRESS: frozenset({Status.WAITING_FOR_USER, Status.RESOLVED, Status.CLOSED}),
    Status.WAITING_FOR_USER: frozenset({Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.IN_PROGRESS, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

# A reply by the hotel user to a request in one of these statuses moves it back to in progress.
REOPENED_BY_USER_REPLY: Final = frozenset({Status.WAITING_FOR_USER, Status.RESOLVED})


def can_transition(old: Status, new: Status) -> bool:
    return new in ALLOWED_TRANSITIONS[old]


def format_number(sequence: int) -> str:
    """`format_number(123)` → `HD-000123` (more digits once past 999999)."""
    return f"{NUMBER_PREFIX}{sequence:0{NUMBER_DIGITS}d}"


@dataclass(frozen=True)
class AttachmentRef:
    """A file attached to a ticket: where its bytes live and what they are."""

    attachment_id: str
    message_id: str | None
    object_name: str
    filename: str
    content_type: str
    size: int
    sha256: str
