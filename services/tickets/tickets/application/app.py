"""The eventsourcing `Application` of the tickets service and the transcodings its events need."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, Recording, Transcoding

from tickets.domain.errors import TicketNotFound
from tickets.domain.ticket import Ticket
from tickets.domain.values import Actor, ActorKind

SaveListener = Callable[[int], None]


class ActorAsDict(Transcoding):
    type = Actor
    name = "actor"

    def encode(self, obj: Actor) -> dict[str, str]:
        return {"kind": obj.kind.value, "id": obj.id, "name": obj.name}

    def decode(self, data: dict[str, str]) -> Actor:
        return Actor(kind=ActorKind(data["kind"]), id=data["id"], name=data.get("name", ""))


class TicketsApplication(Application[UUID]):
    """The event store of tickets and number blocks. Its calls block: run them off the event loop."""

    name = "tickets"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self._save_listeners: list[SaveListener] = []

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ActorAsDict())

    def add_save_listener(self, listener: SaveListener) -> None:
        """`listener(max_notification_id)` runs after each successful save, on the saving thread."""
        self._save_listeners.append(listener)

    def save_all(self, aggregates: Iterable[Any]) -> int | None:
        """Save in one transaction; the highest notification id written (None if nothing was)."""
        recordings: Sequence[Recording[UUID]] = self.save(*aggregates)
        if not recordings:
            return None
        position = max(r.notification.id for r in recordings)
        for listener in self._save_listeners:
            listener(position)
        return position

    def exists(self, aggregate_id: UUID) -> bool:
        """Whether any event of this aggregate is stored (one indexed row read, no replay)."""
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def get_ticket(self, ticket_id: UUID) -> Ticket:
        try:
            ticket: Any = self.repository.get(ticket_id)
        except AggregateNotFoundError:
            raise TicketNotFound(ticket_id) from None
        if not isinstance(ticket, Ticket):
            raise TicketNotFound(ticket_id)
        return ticket
