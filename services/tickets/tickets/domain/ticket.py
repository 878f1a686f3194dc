"""The `Ticket` aggregate: a hotel's request to support, as a stream of events.

Public methods check the rules first (raising named errors from `domain.errors`), then record events
through the private `@event` methods, whose bodies only apply state (they also run on replay). Every
event carries `account_id`, `number`, `actor` and `correlation_id`, so each stored event can be mapped
onto its public form on its own (`application.public_events.to_public`).

Enums travel in events as their string values: the JSON transcoder writes `str` subclasses natively,
so a transcoding for them would never run and they would come back as plain strings anyway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from tickets.domain import ticket_events
from tickets.domain.errors import (
    AttachmentNotFound,
    IdempotencyKeyReused,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    OneFilePerMessage,
    TicketClosed,
    VersionMismatch,
)
from tickets.domain.values import (
    COMMENT_MAX,
    FILENAME_MAX,
    MESSAGE_MAX,
    REOPENED_BY_USER_REPLY,
    SYSTEM,
    Actor,
    ActorKind,
    AttachmentRef,
    Importance,
    Priority,
    Status,
    can_transition,
)


def check_text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    """The text stripped of surrounding blanks, or `InvalidInput` when empty (if required) or too long."""
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(text) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    return text


class Ticket(Aggregate):
    """One request: its account, number, topic, status, people, messages and attachments."""

    # The events, by class (`ticket_events`): the library re-declares each here, under this name.
    Created = ticket_events.Created
    Replied = ticket_events.Replied
    FirstResponseOverdue = ticket_events.FirstResponseOverdue
    InternalNoteAdded = ticket_events.InternalNoteAdded
    StatusChanged = ticket_events.StatusChanged
    TopicChanged = ticket_events.TopicChanged
    PriorityChanged = ticket_events.PriorityChanged
    AssigneeChanged = ticket_events.AssigneeChanged
    AttachmentAdded = ticket_events.AttachmentAdded

    @staticmethod
    def create_id(ticket_id: UUID) -> UUID:
        return ticket_id

    @classmethod
    def open(
        cls,
        *,
        ticket_id: UUID,
        account_id: str,
        number: str,
        actor: Actor,
        topic: str,
        importance: Importance,
        comment: str,
        message: str,
        message_id: UUID,
        correlation_id: str | None = None,
        fingerprint: str | None = None,
        first_response_due: datetime | None = None,
    ) -> Ticket:
        """A new request, recorded as `Created` (status `new`); `fingerprint` identifies the request
        an idempotency key was first used for; `first_response_due` is support's promise (from the
        topic's calendar and the importance's target), None when there is none."""
        return cls(
            ticket_id=ticket_id,
            account_id=account_id,
            number=number,
            actor=actor,
            topic=check_text(topic, field="topic", max_length=100),
            importance=Importance(importance).value,
            comment=check_text(comment, field="comment", max_length=COMMENT_MAX),
            message=check_text(message, field="message", max_length=MESSAGE_MAX),
            message_id=message_id,
            correlation_id=correlation_id,
            fingerprint=fingerprint,
            first_response_due=first_response_due,
        )

    @event(Created)
    def __init__(
        self,
        *,
        ticket_id: UUID,
        account_id: str,
        number: str,
        actor: Actor,
        topic: str,
        importance: str,
        comment: str,
        message: str,
        message_id: UUID,
        correlation_id: str | None,
        fingerprint: str | None,
        first_response_due: datetime | None = None,  # absent from requests filed before promises
    ) -> None:
        self.account_id = account_id
        self.first_response_due = first_response_due
        self.first_responded = False
        self.first_response_overdue = False
        self.fingerprint = fingerprint
        self.number = number
        self.created_by = actor
        self.topic = topic
        self.importance = Importance(importance)
        self.comment = comment
        self.status = Status.NEW
        self.priority: Priority | None = None
        self.assignee_id: str | None = None
        self.assignee_name: str | None = None
        self.message_ids: list[UUID] = [message_id]
        self.note_count = 0
        self.attachments: dict[UUID, AttachmentRef] = {}

    # --- guards -----------------------------------------------------------------------------------

    def check_version(self, expected: int | None) -> None:
        """`VersionMismatch` unless `expected` is None or the current version (`If-Match`)."""
        if expected is not None and expected != self.version:
            raise VersionMismatch(expected, self.version)

    def check_same_request(self, fingerprint: str | None) -> None:
        """`IdempotencyKeyReused` when a repeat's fingerprint differs from the first request's."""
        if fingerprint != self.fingerprint:
            raise IdempotencyKeyReused()

    def _check_open(self) -> None:
        if self.status is Status.CLOSED:
            raise TicketClosed(self.number)

    @staticmethod
    def _check_staff(actor: Actor, what: str) -> None:
        if not actor.is_staff:
            raise NotAllowed(f"only support may {what}")

    def _stamp(self, actor: Actor, correlation_id: str | None) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "number": self.number,
            "actor": actor,
            "correlation_id": correlation_id,
        }

    # --- commands ---------------------------------------------------------------------------------

    def reply(
        self, *, actor: Actor, text: str, message_id: UUID, has_file: bool, correlation_id: str | None = None
    ) -> None:
        """A public message; a user's reply to a waiting or resolved request puts it back in progress."""
        self._check_open()
        clean = check_text(text, field="text", max_length=MESSAGE_MAX, required=not has_file)
        role = "user" if actor.kind is ActorKind.USER else "agent"
        stamp = self._stamp(actor, correlation_id)
        self._replied(**stamp, message_id=message_id, author_role=role, text=clean)
        if actor.kind is ActorKind.USER and self.status in REOPENED_BY_USER_REPLY:
            self._status_changed(
                **stamp, old=self.status.value, new=Status.IN_PROGRESS.value, reason="user_replied"
            )

    def mark_first_response_overdue(self, *, now: datetime, correlation_id: str | None = None) -> bool:
        """Record that support's first answer is late (once): True when it was recorded now; False when
        there is no promise, support has answered, the request is closed or it is not due yet."""
        due = self.first_response_due
        if due is None or self.first_responded or self.first_response_overdue:
            return False
        if self.status is Status.CLOSED or now < due:
            return False
        self._first_response_overdue(**self._stamp(SYSTEM, correlation_id), due=due)
        return True

    def add_internal_note(
        self, *, actor: Actor, text: str, note_id: UUID, correlation_id: str | None = None
    ) -> None:
        """A support-only note; allowed on a closed ticket too (it changes nothing the user sees)."""
        self._check_staff(actor, "add internal notes")
        clean = check_text(text, field="text", max_length=MESSAGE_MAX)
        self._internal_note_added(**self._stamp(actor, correlation_id), note_id=note_id, text=clean)

    def change_status(
        self, *, actor: Actor, status: Status, reason: str | None = None, correlation_id: str | None = None
    ) -> None:
        """Move along the lifecycle; the same status or a move out of `closed` is illegal."""
        self._check_staff(actor, "change the status")
        new = Status(status)
        if not can_transition(self.status, new):
            raise IllegalTransition(self.status.value, new.value)
        self._status_changed(
            **self._stamp(actor, correlation_id), old=self.status.value, new=new.value, reason=reason
        )

    def change_topic(self, *, actor: Actor, topic: str, correlation_id: str | None = None) -> bool:
        """Re-assign the topic; False (nothing recorded) when it is already this topic."""
        self._check_staff(actor, "change the topic")
        self._check_open()
        if topic == self.topic:
            return False
        self._topic_changed(**self._stamp(actor, correlation_id), old=self.topic, new=topic)
        return True

    def change_priority(
        self, *, actor: Actor, priority: Priority | None, correlation_id: str | None = None
    ) -> bool:
        """Set or clear support's priority; False when unchanged."""
        self._check_staff(actor, "change the priority")
        self._check_open()
        new = Priority(priority) if priority is not None else None
        if new == self.priority:
            return False
        old = self.priority.value if self.priority is not None else None
        self._priority_changed(
            **self._stamp(actor, correlation_id), old=old, new=new.value if new is not None else None
        )
        return True

    def assign(
        self,
        *,
        actor: Actor,
        assignee_id: str | None,
        assignee_name: str | None = None,
        correlation_id: str | None = None,
    ) -> bool:
        """Assign to an agent (the actor or another), or unassign with None; False when unchanged."""
        self._check_staff(actor, "assign tickets")
        self._check_open()
        if assignee_id == self.assignee_id:
            return False
        self._assignee_changed(
            **self._stamp(actor, correlation_id),
            old=self.assignee_id,
            new=assignee_id,
            new_name=assignee_name if assignee_id is not None else None,
        )
        return True

    def check_can_attach(self, attachment: AttachmentRef) -> None:
        """The rules `add_attachment` enforces, without recording anything."""
        self._check_open()
        if attachment.message_id is not None:
            message_id = UUID(attachment.message_id)
            if message_id not in self.message_ids:
                raise InvalidInput("the file's message is not on this ticket", field="file")
            if any(a.message_id == attachment.message_id for a in self.attachments.values()):
                raise OneFilePerMessage()
        if attachment.size < 0 or not attachment.filename or len(attachment.filename) > FILENAME_MAX:
            raise InvalidInput("the file's name or size is not valid", field="file")

    def add_attachment(
        self,
        *,
        actor: Actor,
        attachment: AttachmentRef,
        correlation_id: str | None = None,
    ) -> None:
        """Record a stored file; at most one per message, and only on a message of this ticket."""
        self.check_can_attach(attachment)
        self._attachment_added(
            **self._stamp(actor, correlation_id),
            attachment_id=UUID(attachment.attachment_id),
            message_id=UUID(attachment.message_id) if attachment.message_id else None,
            object_name=attachment.object_name,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size,
            sha256=attachment.sha256,
        )

    def attachment(self, attachment_id: UUID) -> AttachmentRef:
        try:
            return self.attachments[attachment_id]
        except KeyError:
            raise AttachmentNotFound(attachment_id) from None

    # --- events (bodies apply state only; they run again on every replay) -------------------------

    @event(Replied)
    def _replied(
        self,
        *,
        account_id: str,
        number: str,
        actor: Actor,
        correlation_id: str | None,
        message_id: UUID,
        author_role: str,
        text: str,
    ) -> None:
        self.message_ids.append(message_id)
        if author_role == "agent":
            self.first_responded = True

    @event(FirstResponseOverdue)
    def _first_response_overdue(
        self, *, account_id: str, number: str, actor: Actor, correlation_id: str | None, due: datetime
    ) -> None:
        self.first_response_overdue = True

    @event(InternalNoteAdded)
    def _internal_note_added(
        self,
        *,
        account_id: str,
        number: str,
        actor: Actor,
        correlation_id: str | None,
        note_id: UUID,
        text: str,
    ) -> None:
        self.note_count += 1

    @event(StatusChanged)
    def _status_changed(
        self,
        *,
        account_id: str,
        number: str,
        actor: Actor,
        correlation_id: str | None,
        old: str,
        new: str,
        reason: str | None,
    ) -> None:
        self.status = Status(new)

    @event(TopicChanged)
    def _topic_changed(
        self, *, account_id: str, number: str, actor: Actor, correlation_id: str | None, old: str, new: str
    ) -> None:
        self.topic = new

    @event(PriorityChanged)
    def _priority_changed(
        self,
        *,
        account_id: str,
        number: str,
        actor: Actor,
        correlation_id: str | None,
        old: str | None,
        new: str | None,
    ) -> None:
        self.priority = Priority(new) if new is not None else None

    @event(AssigneeChanged)
    def _assignee_changed(
        self,
        *,
        account_id: str,
        number: str,
        actor: Actor,
        correlation_id: str | None,
        old: str | None,
        new: str | None,
        new_name: str | None,
    ) -> None:
        self.assignee_id = new
        self.assignee_name = new_name

    @event(AttachmentAdded)
    def _attachment_added(
        self,
        *,
        account_id: str,
        number: str,
        actor: Actor,
        correlation_id: str | None,
        attachment_id: UUID,
        message_id: UUID | None,
        object_name: str,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
    ) -> None:
        self.attachments[attachment_id] = AttachmentRef(
            attachment_id=str(attachment_id),
            message_id=str(message_id) if message_id is not None else None,
            object_name=object_name,
            filename=filename,
            content_type=content_type,
            size=size,
            sha256=sha256,
        )


IDEMPOTENCY_NAMESPACE = UUID("9d4f1c2a-6b3e-5f70-8a1d-2c4e6f8a0b13")


def idempotent_ticket_id(*, account_id: str, user_id: str, key: str) -> UUID:
    """The id a create with this `Idempotency-Key` gets: a repeat collides with the first (version 1)."""
    return uuid5(IDEMPOTENCY_NAMESPACE, f"{account_id}\x00{user_id}\x00{key}")
