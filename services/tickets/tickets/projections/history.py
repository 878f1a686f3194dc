"""The history views' rules: one public ticket event → the row changes it makes. Pure, no I/O.

Everything a row holds is taken from the events (never the wall clock of the projector), so a
rebuild from the start of the stream gives identical rows. Times are stored as integer microseconds
since the epoch (UTC): the same type, order and value on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.contracts.envelope import EventEnvelope
from shared.contracts.tickets import (
    AssigneeChanged,
    InternalNoteAdded,
    PriorityChanged,
    StatusChanged,
    TicketCreated,
    TicketEventData,
    TopicChanged,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


_DAY_US = 86_400 * 1_000_000


def day_bounds(first: date, last: date, zone: tzinfo = UTC) -> tuple[int, int]:
    """[start of `first`, start of the day after `last`) in microseconds, days taken in `zone`.

    A day in a zone with daylight saving may be 23 or 25 hours long: the end is the next local
    midnight, not the start plus 24 hours (except after 9999-12-31, which has no next day).
    """
    start = to_micros(datetime.combine(first, time.min, tzinfo=zone))
    if last < date.max:
        end = to_micros(datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone))
    else:
        end = to_micros(datetime.combine(last, time.min, tzinfo=zone)) + _DAY_US
    return start, end


class UnknownTimeZone(ValueError):
    """Raised when a time zone name is not an IANA zone this system knows."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown time zone {name!r}: give an IANA name such as Europe/Kyiv")
        self.name = name


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (e.g. `Europe/Kyiv`); `UnknownTimeZone` when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: not a key at all (an absolute or `..` path); OSError: a directory, not a zone.
        raise UnknownTimeZone(name) from None


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
    internal = isinstance(data, InternalNoteAdded)
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
