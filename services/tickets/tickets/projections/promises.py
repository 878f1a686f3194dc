"""Support's open promises: which requests still await their first answer, and by when. Pure.

Built from the public ticket events (`ticket.created` carries `first_response_due`; a reply by support
keeps the promise; closing the request or a recorded `ticket.first_response_overdue` ends it), so
rebuilding it from the start of the stream gives the same book. The breach checker asks it which
promises are past due and records each breach once on its ticket.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from shared.contracts.envelope import EventEnvelope
from shared.contracts.tickets import (
    FirstResponseOverdue,
    Status,
    StatusChanged,
    TicketCreated,
    TicketEventData,
    TicketReplied,
)


class PromiseBook:
    """Requests with a first-response due time and no answer from support yet."""

    def __init__(self) -> None:
        self._due: dict[UUID, datetime] = {}
        self.kept = 0  # promises support answered in time, as the book saw them

    def __len__(self) -> int:
        return len(self._due)

    def apply(self, envelope: EventEnvelope[TicketEventData]) -> None:
        data, ticket = envelope.data, envelope.aggregate_id
        if isinstance(data, TicketCreated):
            if data.first_response_due is not None:
                self._due[ticket] = data.first_response_due
        elif isinstance(data, TicketReplied) and data.author_role == "agent":
            if self._due.pop(ticket, None) is not None:
                self.kept += 1
        elif (isinstance(data, StatusChanged) and data.new is Status.CLOSED) or isinstance(
            data, FirstResponseOverdue
        ):
            self._due.pop(ticket, None)

    def past_due(self, now: datetime, *, limit: int = 500) -> list[UUID]:
        """Requests whose promise has passed, earliest first."""
        late = sorted((due, ticket) for ticket, due in self._due.items() if due <= now)
        return [ticket for _, ticket in late[:limit]]

    def forget(self, ticket: UUID) -> None:
        """Checked and nothing to record (answered meanwhile, or already recorded elsewhere)."""
        self._due.pop(ticket, None)
