"""The events a `Ticket` records, declared explicitly so that code maps them by class.

`Ticket` names each of these in its body; the library re-declares it there under the same name, so
it is stored under the topic `tickets.domain.ticket:Ticket.<name>`. Stored events are read back by
that topic: never rename one of these classes, nor remove or rename a field (add a new event, or a
field with a default, instead).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

from tickets.domain.values import Actor


class Created(Aggregate.Created):
    ticket_id: UUID
    account_id: str
    number: str
    actor: Actor
    topic: str
    importance: str
    comment: str
    message: str
    message_id: UUID
    correlation_id: str | None
    fingerprint: str | None
    first_response_due: datetime | None  # absent from requests filed before promises


class Stamped(Aggregate.Event):
    """What every event after `Created` carries, so each maps onto its public form on its own."""

    account_id: str
    number: str
    actor: Actor
    correlation_id: str | None


class Replied(Stamped):
    message_id: UUID
    author_role: Literal["user", "agent"]
    text: str


class FirstResponseOverdue(Stamped):
    due: datetime


class InternalNoteAdded(Stamped):
    note_id: UUID
    text: str


class StatusChanged(Stamped):
    old: str
    new: str
    reason: str | None


class TopicChanged(Stamped):
    old: str
    new: str


class PriorityChanged(Stamped):
    old: str | None
    new: str | None


class AssigneeChanged(Stamped):
    old: str | None
    new: str | None
    new_name: str | None


class AttachmentAdded(Stamped):
    attachment_id: UUID
    message_id: UUID | None
    object_name: str
    filename: str
    content_type: str
    size: int
    sha256: str
