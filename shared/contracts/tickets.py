"""Public events of the tickets service (`helpdesk.tickets.v1.*`).

The tickets service's relay maps its stored events onto these; notifications and any other OtelMS
service consume them. Text fields are the public, user-visible text: internal notes are published for
support tooling but carry `visibility="internal"` and must never be shown to a hotel user.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.envelope import EventEnvelope, parse_event
from shared.ticket_values import Importance as Importance
from shared.ticket_values import Priority as Priority
from shared.ticket_values import Status as Status

DOMAIN = "tickets"
SCHEMA_VERSION = 1


class TicketEventData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TicketCreated(TicketEventData):
    number: str
    topic: str
    importance: Importance
    comment: str = Field(description="Short description shown in lists.")
    message: str = Field(description="The detailed message.")
    status: Status = Status.NEW
    message_id: UUID = Field(description="Id of the opening message in the timeline.")
    first_response_due: AwareDatetime | None = Field(
        default=None,
        description="When support promised a first answer (the topic's business hours and the "
        "importance's target); null when there is no promise.",
    )


class TicketReplied(TicketEventData):
    """A public message on the ticket, by the hotel user or by support."""

    message_id: UUID
    author_role: Literal["user", "agent"]
    text: str
    visibility: Literal["public"] = "public"


class InternalNoteAdded(TicketEventData):
    """Support-only note; never shown to the hotel user, never raises a popup."""

    note_id: UUID
    text: str
    visibility: Literal["internal"] = "internal"


class StatusChanged(TicketEventData):
    old: Status
    new: Status
    reason: str | None = None


class TopicChanged(TicketEventData):
    old: str
    new: str


class PriorityChanged(TicketEventData):
    old: Priority | None
    new: Priority | None


class AssigneeChanged(TicketEventData):
    old: str | None
    new: str | None
    new_name: str | None = None


class AttachmentAdded(TicketEventData):
    attachment_id: UUID
    message_id: UUID | None = Field(description="The message the file came with, if any.")
    filename: str
    content_type: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class FirstResponseOverdue(TicketEventData):
    """Support's first answer is later than promised (recorded once, by the system)."""

    due: AwareDatetime = Field(description="The first-response due time that passed.")


# Event type → data model. The subject is event_subject(DOMAIN, type, SCHEMA_VERSION).
EVENT_TYPES: dict[str, type[TicketEventData]] = {
    "ticket.created": TicketCreated,
    "ticket.replied": TicketReplied,
    "ticket.internal_note_added": InternalNoteAdded,
    "ticket.status_changed": StatusChanged,
    "ticket.topic_changed": TopicChanged,
    "ticket.priority_changed": PriorityChanged,
    "ticket.assignee_changed": AssigneeChanged,
    "ticket.attachment_added": AttachmentAdded,
    "ticket.first_response_overdue": FirstResponseOverdue,
}


def parse_ticket_event(raw: bytes | str) -> EventEnvelope[TicketEventData]:
    """Validate a published ticket event; see `shared.contracts.envelope.parse_event`."""
    return parse_event(raw, EVENT_TYPES)
