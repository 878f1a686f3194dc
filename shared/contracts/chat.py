"""Public events of the chat service (`helpdesk.chat.v1.*`): statistics only, never content.

No name, phone number, question or message text is ever part of these events: a chat leaves nothing
behind (ARCHITECTURE.md, invariant 5). The envelope's `aggregate_id` is the chat session id and its
`aggregate_version` counts the session's events (1 started, 2 assigned, 3 ended; ended may be 2).

Only `helpdesk.chat.v1.>` is captured by the statistics stream: the live relay uses
`helpdesk.chat.rt.>` on core NATS, which no stream may capture.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.envelope import EventEnvelope, parse_event
from shared.contracts.subjects import CHAT_STATS_STREAM

DOMAIN = "chat"
SCHEMA_VERSION = 1
RELAY_SUBJECT_ROOT = "helpdesk.chat.rt"
# What the statistics stream captures: only the versioned events, never the live relay.
STATS_SUBJECTS = CHAT_STATS_STREAM.subjects


class EndReason(StrEnum):
    USER_LEFT = "user_left"
    SPECIALIST_ENDED = "specialist_ended"
    IDLE_TIMEOUT = "idle_timeout"
    SHUTDOWN = "shutdown"


class ChatEventData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChatStarted(ChatEventData):
    """A user opened a chat and joined the queue."""

    specialists_online: int = Field(ge=0, description="Specialists available when the chat opened.")
    queue_position: int = Field(ge=1)


class ChatAssigned(ChatEventData):
    """A specialist took the chat."""

    specialist_id: str = Field(min_length=1, max_length=128)
    wait_seconds: float = Field(ge=0, description="From joining the queue to this assignment.")
    requeued: bool = Field(default=False, description="The user had been put back after a specialist left.")


class ChatEnded(ChatEventData):
    """The chat ended; its content is gone."""

    reason: EndReason
    wait_seconds: float = Field(ge=0, description="Time spent waiting in the queue, in total.")
    duration_seconds: float = Field(ge=0, description="From opening the chat to its end.")
    messages: int = Field(ge=0, description="Messages exchanged (a count, never the text).")
    converted_to_request: bool = False


# Event type → data model. The subject is event_subject(DOMAIN, type, SCHEMA_VERSION).
EVENT_TYPES: dict[str, type[ChatEventData]] = {
    "chat.started": ChatStarted,
    "chat.assigned": ChatAssigned,
    "chat.ended": ChatEnded,
}


def parse_chat_event(raw: bytes | str) -> EventEnvelope[ChatEventData]:
    """Validate a published chat event; see `shared.contracts.envelope.parse_event`."""
    return parse_event(raw, EVENT_TYPES)
