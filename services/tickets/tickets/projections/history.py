"""The history views' rules: one public ticket event → the row changes it makes. Pure, no I/O.

Everything a row holds is taken from the events (never the wall clock of the projector), so a
rebuild from the start of the stream gives identical rows. Times are stored as integer microseconds
since the epoch (UTC): the same type, order and value on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.contracts.envelope import EventEnvelope
from shared.contracts.tickets import (
    AssigneeChanged,
    FirstResponseOverdue,
    InternalNoteAdded,
    PriorityChanged,
    StatusChanged,
    TicketCreated,
    TicketEventData,
    TopicChanged,
)
from shared.days import from_micros, to_micros


@dataclass(frozen=True)
class TicketRow:
    """A new line in the request list (from `ticket.created`)."""

    ticket_id: str
    account_id: str
    number: str
    topic: str
    status: str
    importance: str
    comment: str
    created_us: int
    version: int
    first_response_due_us: int | None = None  # support's promise (None: none was made)


@dataclass(frozen=True)
class TicketChange:
    """Changes to an existing line, applied only if `version` is newer than the row's."""

    ticket_id: str
    version: int
    updated_us: int | None  # None: the change is not a visible update (an internal note)
    columns: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a ticket's timeline; `internal` lines are shown to agents only."""

    ticket_id: str
    version: int
    event_id: str
    account_id: str
    type: str
    occurred_us: int
    actor_kind: str
    actor_id: str
    actor_name: str
    internal: bool
    data: str  # the event's public data, as JSON


@dataclass(frozen=True)
class Projected:
    ticket: TicketRow | TicketChange
    timeline: TimelineEntry


def _columns(data: TicketEventData) -> dict[str, str | None]:
    if isinstance(data, StatusChanged):
        return {"status": data.new.value}
    if isinstance(data, TopicChanged):
        return {"topic": data.new}
    if isinstance(data, PriorityChanged):
        return {"priority": data.new.value if data.new else None}
    if isinstance(data, AssigneeChanged):
        return {"assignee_id": data.new, "assignee_name": data.new_name if data.new else None}
    return {}


def project(envelope: EventEnvelope[TicketEventData]) -> Projected:
    """The changes one event makes to the request list and to the ticket's timeline."""
    data = envelope.data
    ticket_id = str(envelope.aggregate_id)
    occurred = to_micros(envelope.occurred_at)
    # Support's own bookkeeping: not shown to the hotel, and not an update of the request.
    internal = isinstance(data, InternalNoteAdded | FirstResponseOverdue)
    ticket: TicketRow | TicketChange
    if isinstance(data, TicketCreated):
        ticket = TicketRow(
            ticket_id=ticket_id,
            account_id=envelope.account_id,
            number=data.number,
            topic=data.topic,
            status=data.status.value,
            importance=data.importance.value,
            comment=data.comment,
            created_us=occurred,
            version=envelope.aggregate_version,
            first_response_due_us=to_micros(data.first_response_due) if data.first_response_due else None,
        )
    else:
        ticket = TicketChange(
            ticket_id=ticket_id,
            version=envelope.aggregate_version,
            updated_us=None if internal else occurred,
            columns=_columns(data),
        )
    timeline = TimelineEntry(
        ticket_id=ticket_id,
        version=envelope.aggregate_version,
        event_id=str(envelope.event_id),
        account_id=envelope.account_id,
        type=envelope.type,
        occurred_us=occurred,
        actor_kind=envelope.actor.kind.value,
        actor_id=envelope.actor.id,
        actor_name=envelope.actor.name,
        internal=internal,
        data=data.model_dump_json(),
    )
    return Projected(ticket=ticket, timeline=timeline)


def timeline_item(row: dict[str, Any]) -> dict[str, Any]:
    """A stored timeline line as the API shows it."""
    return {
        "event_id": row["event_id"],
        "version": row["version"],
        "type": row["type"],
        "occurred_at": from_micros(row["occurred_us"]),
        "actor": {"kind": row["actor_kind"], "id": row["actor_id"], "name": row["actor_name"]},
        "internal": bool(row["internal"]),
        "data": json.loads(row["data"]),
    }
