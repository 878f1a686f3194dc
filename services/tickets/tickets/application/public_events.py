"""Stored events → the public contract (`shared.contracts.tickets`), one event at a time.

This is the seam with the relay: it calls `to_public(domain_event)` for each event it reads from the
notification log. Every stored `Ticket` event carries its account, number, actor and correlation id,
so no lookup is needed. Events map by class, and `TICKET_PUBLICATION.check()` at start-up
refuses a stored event that is neither mapped nor declared private.
`event_id` is stable (uuid5 of aggregate id and version): re-publishing the same
stored event always yields the same `Nats-Msg-Id`. Events with no public form (number blocks) → None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, CanMutateAggregate

from shared.contracts.envelope import Actor as PublicActor
from shared.contracts.envelope import ActorKind as PublicActorKind
from shared.contracts.envelope import EventEnvelope
from shared.contracts.tickets import (
    SCHEMA_VERSION,
    AssigneeChanged,
    AttachmentAdded,
    FirstResponseOverdue,
    Importance,
    InternalNoteAdded,
    Priority,
    Status,
    StatusChanged,
    TicketCreated,
    TicketEventData,
    TicketReplied,
    TopicChanged,
)
from shared.contracts.tickets import PriorityChanged as PriorityChangedData
from tickets.domain import ticket_events as events
from tickets.domain.numbers import NumberBlock
from tickets.domain.ticket import Ticket
from tickets.domain.values import Actor

EVENT_ID_NAMESPACE = UUID("5f1d7c3e-2a4b-5c6d-8e9f-0a1b2c3d4e5f")


def event_id(aggregate_id: UUID, version: int) -> UUID:
    """The public id of the stored event `version` of `aggregate_id` (also its `Nats-Msg-Id`)."""
    return uuid5(EVENT_ID_NAMESPACE, f"{aggregate_id}:{version}")


def _priority(value: str | None) -> Priority | None:
    return Priority(value) if value is not None else None


def _created(e: events.Created) -> TicketCreated:
    return TicketCreated(
        number=e.number,
        topic=e.topic,
        importance=Importance(e.importance),
        comment=e.comment,
        message=e.message,
        status=Status.NEW,
        message_id=e.message_id,
        first_response_due=getattr(e, "first_response_due", None),  # absent from older requests
    )


def _attachment(e: events.AttachmentAdded) -> AttachmentAdded:
    return AttachmentAdded(
        attachment_id=e.attachment_id,
        message_id=e.message_id,
        filename=e.filename,
        content_type=e.content_type,
        size=e.size,
        sha256=e.sha256,
    )


def _replied(e: events.Replied) -> TicketReplied:
    return TicketReplied(message_id=e.message_id, author_role=e.author_role, text=e.text)


def _note(e: events.InternalNoteAdded) -> InternalNoteAdded:
    return InternalNoteAdded(note_id=e.note_id, text=e.text)


def _status(e: events.StatusChanged) -> StatusChanged:
    return StatusChanged(old=Status(e.old), new=Status(e.new), reason=e.reason)


def _topic(e: events.TopicChanged) -> TopicChanged:
    return TopicChanged(old=e.old, new=e.new)


def _priority_changed(e: events.PriorityChanged) -> PriorityChangedData:
    return PriorityChangedData(old=_priority(e.old), new=_priority(e.new))


def _assignee(e: events.AssigneeChanged) -> AssigneeChanged:
    return AssigneeChanged(old=e.old, new=e.new, new_name=e.new_name)


def _overdue(e: events.FirstResponseOverdue) -> FirstResponseOverdue:
    return FirstResponseOverdue(due=e.due)


# Stored event class → (public type, data builder).
_MAPPINGS: dict[type[Any], tuple[str, Callable[[Any], TicketEventData]]] = {
    Ticket.Created: ("ticket.created", _created),
    Ticket.Replied: ("ticket.replied", _replied),
    Ticket.InternalNoteAdded: ("ticket.internal_note_added", _note),
    Ticket.StatusChanged: ("ticket.status_changed", _status),
    Ticket.TopicChanged: ("ticket.topic_changed", _topic),
    Ticket.PriorityChanged: ("ticket.priority_changed", _priority_changed),
    Ticket.AssigneeChanged: ("ticket.assignee_changed", _assignee),
    Ticket.AttachmentAdded: ("ticket.attachment_added", _attachment),
    Ticket.FirstResponseOverdue: ("ticket.first_response_overdue", _overdue),
}

PUBLIC_EVENT_TYPES = frozenset(t for t, _ in _MAPPINGS.values())


class UnpublishedEvent(RuntimeError):
    """Raised at start-up when an aggregate records an event that is neither published nor declared
    private: it would silently never reach the stream."""


@dataclass(frozen=True)
class Publication:
    """Which events `aggregates` record have a public form (`public`, by class) and which are
    private on purpose; `check()` at start-up refuses any other."""

    aggregates: tuple[type[Aggregate], ...]
    public: Mapping[type[Any], object]
    private: frozenset[type[Any]]

    def recorded_events(self) -> set[type[Any]]:
        """Every event class of the aggregates but their base `Event` (the library's default
        `Created` included, wherever an aggregate names its own: declare it private)."""
        return {
            value
            for aggregate in self.aggregates
            for name, value in vars(aggregate).items()
            if isinstance(value, type)
            and issubclass(value, CanMutateAggregate)
            and value.__qualname__ == f"{aggregate.__qualname__}.{name}"
            and name != "Event"
        }

    def check(self) -> None:
        unknown = self.recorded_events() - set(self.public) - self.private
        if unknown:
            names = ", ".join(sorted(cls.__qualname__ for cls in unknown))
            raise UnpublishedEvent(f"stored events with no public form and not declared private: {names}")


# Number blocks only hand out numbers: nothing about a request.
TICKET_PUBLICATION = Publication(
    aggregates=(Ticket, NumberBlock),
    public=_MAPPINGS,
    private=frozenset({NumberBlock.Reserved, NumberBlock.Created}),
)


def _public_actor(actor: Actor) -> PublicActor:
    return PublicActor(kind=PublicActorKind(actor.kind.value), id=actor.id, name=actor.name[:200])


def to_public(domain_event: Any) -> EventEnvelope[Any] | None:
    """The public envelope of one stored event, or None when it has no public form."""
    mapping = _MAPPINGS.get(type(domain_event))
    if mapping is None:
        return None
    event_type, build = mapping
    aggregate_id: UUID = domain_event.originator_id
    version: int = domain_event.originator_version
    causation_id = None
    if event_type == "ticket.status_changed" and domain_event.reason == "user_replied":
        # Recorded together with (right after) the user's reply that caused it.
        causation_id = str(event_id(aggregate_id, version - 1))
    # `EventEnvelope[Any]`: parametrised with the base data class, pydantic would serialise `data`
    # with the base's (empty) schema; with Any it serialises the concrete model.
    return EventEnvelope[Any](
        event_id=event_id(aggregate_id, version),
        type=event_type,
        schema_version=SCHEMA_VERSION,
        occurred_at=domain_event.timestamp,
        account_id=domain_event.account_id,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        ticket_number=domain_event.number,
        actor=_public_actor(domain_event.actor),
        correlation_id=domain_event.correlation_id,
        causation_id=causation_id,
        data=build(domain_event),
    )
