"""The envelope every public event travels in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny

DataT = TypeVar("DataT", bound=BaseModel)


class ActorKind(StrEnum):
    USER = "user"
    AGENT = "agent"
    SYSTEM = "system"


class Actor(BaseModel):
    """Who caused the event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActorKind
    id: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=200)


SYSTEM_ACTOR = Actor(kind=ActorKind.SYSTEM, id="system", name="OtelMS Helpdesk")


class EnvelopeFields(BaseModel):
    """The envelope's fields, without the data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    type: str = Field(description="Event type, e.g. 'ticket.replied'.", pattern=r"^[a-z_]+\.[a-z_]+$")
    schema_version: int = Field(ge=1)
    occurred_at: datetime
    account_id: str = Field(min_length=1, max_length=64)
    aggregate_id: UUID
    aggregate_version: int = Field(ge=1)
    ticket_number: str | None = Field(default=None, max_length=32)
    actor: Actor
    correlation_id: str | None = Field(
        default=None,
        max_length=128,
        description=(
            "The unit of work this event belongs to, the same on every event (of any service) that "
            "follows from it: the `X-Correlation-Id` header of the HTTP request that started it (its "
            "`X-Request-Id`, or a generated id, when absent); for a chat, the chat session id."
        ),
    )
    causation_id: str | None = Field(
        default=None,
        max_length=128,
        description=(
            "The `event_id` of the event that directly caused this one (a popup raised by a reply "
            "carries the reply's id); null when a person's command caused it."
        ),
    )


class EventEnvelope(EnvelopeFields, Generic[DataT]):
    """Public form of one event. `event_id` is stable: it is also the `Nats-Msg-Id`.

    `data` is serialised by its runtime class: an envelope typed by a base class
    (`EventEnvelope[ChatEventData]`) still publishes every field of the concrete event.
    """

    data: SerializeAsAny[DataT]


class RawEnvelope(EnvelopeFields):
    """An envelope whose data has not been checked against its type's model yet."""

    data: dict[str, Any]


def parse_event(raw: bytes | str, models: Mapping[str, type[DataT]]) -> EventEnvelope[DataT]:
    """Validate the envelope, then its data against the model registered for its type.

    Raises `pydantic.ValidationError` for a malformed body and `UnknownEventType` for a type that is
    not in `models` (a consumer dead-letters both).
    """
    envelope = RawEnvelope.model_validate_json(raw)
    model = models.get(envelope.type)
    if model is None:
        raise UnknownEventType(envelope.type)
    fields = envelope.model_dump(exclude={"data"})
    return EventEnvelope[model].model_validate({**fields, "data": model.model_validate(envelope.data)})  # type: ignore[valid-type]


class UnknownEventType(ValueError):
    """Raised when an event's type has no registered data model."""


# NATS headers that carry the same ids, so a consumer can route or de-duplicate without parsing.
HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
HEADER_EVENT_TYPE = "Helpdesk-Event-Type"
HEADER_SCHEMA_VERSION = "Helpdesk-Schema-Version"
HEADER_ACCOUNT_ID = "Helpdesk-Account-Id"
HEADER_CORRELATION_ID = "Helpdesk-Correlation-Id"
HEADER_CAUSATION_ID = "Helpdesk-Causation-Id"
HEADER_DLQ_REASON = "Helpdesk-Dead-Letter-Reason"
HEADER_DLQ_SUBJECT = "Helpdesk-Dead-Letter-Subject"


def envelope_headers(envelope: EnvelopeFields) -> dict[str, str]:
    """The NATS headers that carry an envelope's ids, so consumers can route or de-duplicate without
    parsing the body. `Nats-Msg-Id` is always the event id: de-duplicating on either gives one key."""
    headers = {
        HEADER_MSG_ID: str(envelope.event_id),
        HEADER_EVENT_TYPE: envelope.type,
        HEADER_SCHEMA_VERSION: str(envelope.schema_version),
        HEADER_ACCOUNT_ID: envelope.account_id,
    }
    if envelope.correlation_id:
        headers[HEADER_CORRELATION_ID] = envelope.correlation_id
    if envelope.causation_id:
        headers[HEADER_CAUSATION_ID] = envelope.causation_id
    return headers
