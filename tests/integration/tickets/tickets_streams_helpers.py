"""Helpers of the publication and history tests: a small event-sourced store whose events map onto
the public ticket envelopes, so the relay and the projection can be proven without the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Notification

from shared.contracts.envelope import Actor, ActorKind, EventEnvelope
from shared.contracts.tickets import (
    SCHEMA_VERSION,
    InternalNoteAdded,
    StatusChanged,
    TicketCreated,
    TicketEventData,
    TicketReplied,
)
from shared.eventstore import persistence_env


class FakeTicket(Aggregate):
    @event("Created")
    def __init__(self, account_id: str, number: str, topic: str) -> None:
        self.account_id = account_id
        self.number = number
        self.topic = topic
        self.status = "new"

    @event("Replied")
    def reply(self, text: str) -> None:
        pass

    @event("Noted")
    def note(self, text: str) -> None:
        pass

    @event("StatusChanged")
    def change_status(self, old: str, new: str) -> None:
        self.status = new


class NotPublic(Aggregate):
    """Stands for aggregates with no public form (number blocks, idempotency indexes)."""

    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name


class FakeTickets(Application[UUID]):
    name = "tickets"


def sqlite_env(path: Path) -> dict[str, str]:
    return persistence_env(path, create_table=True)


def postgres_env(dsn: str, schema: str) -> dict[str, str]:
    return persistence_env(dsn, schema=schema, create_table=True)


_DATA: dict[str, tuple[str, Callable[[Any], TicketEventData]]] = {
    "Created": (
        "ticket.created",
        lambda e: TicketCreated(
            number=e.number,
            topic=e.topic,
            importance="normal",  # type: ignore[arg-type]
            comment=f"comment {e.number}",
            message="hello",
            message_id=uuid5(e.originator_id, "m"),
        ),
    ),
    "Replied": (
        "ticket.replied",
        lambda e: TicketReplied(
            message_id=uuid5(e.originator_id, str(e.originator_version)), author_role="user", text=e.text
        ),
    ),
    "Noted": (
        "ticket.internal_note_added",
        lambda e: InternalNoteAdded(note_id=uuid5(e.originator_id, str(e.originator_version)), text=e.text),
    ),
    "StatusChanged": (
        "ticket.status_changed",
        lambda e: StatusChanged(old=e.old, new=e.new),
    ),
}


def fake_to_envelope(app: Application[UUID]) -> Callable[[Notification], EventEnvelope[Any] | None]:
    accounts: dict[UUID, tuple[str, str]] = {}

    def convert(notification: Notification) -> EventEnvelope[Any] | None:
        domain_event: Any = app.mapper.to_domain_event(notification)
        if not notification.topic.split(":")[-1].startswith("FakeTicket."):
            return None
        kind = type(domain_event).__name__
        if kind == "Created":
            accounts[domain_event.originator_id] = (domain_event.account_id, domain_event.number)
        account, number = accounts.get(domain_event.originator_id) or _lookup(app, domain_event.originator_id)
        event_type, data = _DATA[kind]
        return EventEnvelope[Any](
            event_id=uuid5(domain_event.originator_id, str(domain_event.originator_version)),
            type=event_type,
            schema_version=SCHEMA_VERSION,
            occurred_at=domain_event.timestamp,
            account_id=account,
            aggregate_id=domain_event.originator_id,
            aggregate_version=domain_event.originator_version,
            ticket_number=number,
            actor=Actor(kind=ActorKind.USER, id="u1", name="User One"),
            data=data(domain_event),
        )

    return convert


def _lookup(app: Application[UUID], ticket_id: UUID) -> tuple[str, str]:
    ticket: Any = app.repository.get(ticket_id, version=1)
    return ticket.account_id, ticket.number


def write_tickets(app: FakeTickets, count: int, *, start: int = 0, account: str = "hotel-a") -> list[UUID]:
    """`count` tickets of 3 events each, one `save` per ticket, plus a non-public aggregate."""
    ids = []
    for i in range(start, start + count):
        ticket = FakeTicket(account_id=account, number=f"HD-{i:06d}", topic="billing")
        ticket.reply(text=f"reply {i}")
        ticket.change_status(old="new", new="in_progress")
        app.save(ticket, NotPublic(name=str(uuid4())) if i % 5 == 0 else None)
        ids.append(ticket.id)
    return ids
