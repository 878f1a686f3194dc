"""One handler per command: load through the unit of work, call the aggregate, return the result.

Handlers run on the store thread (they block). They only change aggregates through the unit of work;
saving is the caller's job, so that many commands can share one transaction (`batching`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from shared.idempotency import fingerprint as request_fingerprint
from tickets.application.app import TicketsApplication
from tickets.application.commands import (
    AddAttachment,
    AddInternalNote,
    Assign,
    Caller,
    ChangePriority,
    ChangeStatus,
    ChangeTopic,
    Command,
    CommandResult,
    CreateTicket,
    MarkFirstResponseOverdue,
    Reply,
    TicketCommand,
)
from tickets.application.numbers import NumberAllocator
from tickets.domain.errors import NotAllowed, TicketNotFound, UnknownTopic
from tickets.domain.numbers import NumberBlock
from tickets.domain.ticket import Ticket, idempotent_ticket_id


class UnitOfWork:
    """The aggregates one or more commands changed, to be saved together."""

    def __init__(self, app: TicketsApplication, numbers: NumberAllocator) -> None:
        self.app = app
        self.numbers = numbers
        self.tickets: dict[UUID, Ticket] = {}
        self.number_blocks: list[NumberBlock] = []

    def next_number(self) -> str:
        return self.numbers.take_into(self.number_blocks)

    def get(self, ticket_id: UUID, caller: Caller) -> Ticket:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            ticket = self.app.get_ticket(ticket_id)
            self.tickets[ticket_id] = ticket
        if not caller.can_see(ticket.account_id):
            raise TicketNotFound(ticket_id)
        return ticket

    def get_for(self, command: TicketCommand) -> Ticket:
        """The command's ticket, if its caller may see it and it is at the version they expect."""
        ticket = self.get(command.ticket_id, command.caller)
        ticket.check_version(command.expected_version)
        return ticket

    def pending_events(self) -> list[Any]:
        """The events recorded so far and not saved yet (number blocks' and tickets')."""
        return [e for a in (*self.number_blocks, *self.tickets.values()) for e in a.pending_events]

    def pending_count(self) -> int:
        return sum(len(t.pending_events) for t in self.tickets.values())

    def aggregates(self) -> list[Aggregate]:
        """Everything to save: new number blocks first, then the changed tickets."""
        return [*self.number_blocks, *(t for t in self.tickets.values() if t.pending_events)]

    def rollback(self) -> None:
        """The transaction failed: give back the number blocks it would have reserved."""
        self.numbers.rollback(self.number_blocks)
        self.number_blocks = []


def fingerprint(cmd: CreateTicket) -> str:
    """What makes two creates with one idempotency key "the same request" (the file aside)."""
    return request_fingerprint(
        cmd.account_id,
        cmd.topic.strip(),
        cmd.importance.value,
        cmd.comment.strip(),
        cmd.message.strip(),
    )


def _result(ticket: Ticket, **extra: Any) -> CommandResult:
    return CommandResult(
        ticket_id=ticket.id,
        account_id=ticket.account_id,
        number=ticket.number,
        version=ticket.version,
        status=ticket.status,
        **extra,
    )


# Support's promise for a new request: (topic, importance, filed at) → first-response due time.
Promise = Callable[[str, str, datetime], datetime | None]


class Handlers:
    """Maps each command type onto its handler. `topics` are the topics a request may be filed under
    (a live collection: the support directory's); `promise` gives a new request its first-response
    due time, `clock` the filing time."""

    def __init__(
        self,
        *,
        topics: Collection[str],
        promise: Promise | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.topics = topics
        self.promise = promise
        self.clock = clock
        self._table: dict[type[Any], Callable[[UnitOfWork, Any], CommandResult]] = {
            CreateTicket: self.create,
            Reply: self.reply,
            AddInternalNote: self.add_internal_note,
            ChangeStatus: self.change_status,
            ChangeTopic: self.change_topic,
            ChangePriority: self.change_priority,
            Assign: self.assign,
            AddAttachment: self.add_attachment,
            MarkFirstResponseOverdue: self.mark_first_response_overdue,
        }

    def handle(self, uow: UnitOfWork, command: Command) -> CommandResult:
        return self._table[type(command)](uow, command)

    def _check_topic(self, topic: str) -> str:
        clean = topic.strip()
        if clean not in self.topics:
            raise UnknownTopic(clean)
        return clean

    def create(self, uow: UnitOfWork, cmd: CreateTicket) -> CommandResult:
        caller = cmd.caller
        if not caller.can_see(cmd.account_id):
            raise NotAllowed("a user creates requests for their own account only")
        topic = self._check_topic(cmd.topic)
        if cmd.idempotency_key is not None:
            ticket_id = idempotent_ticket_id(
                account_id=cmd.account_id, user_id=caller.actor.id, key=cmd.idempotency_key
            )
            if ticket_id in uow.tickets or uow.app.exists(ticket_id):
                existing = uow.get(ticket_id, caller)
                existing.check_same_request(fingerprint(cmd))
                return _result(
                    existing, created=False, message_id=None, first_response_due=existing.first_response_due
                )
        else:
            ticket_id = uuid4()
        message_id = uuid4()
        due = self.promise(topic, cmd.importance.value, self.clock()) if self.promise is not None else None
        ticket = Ticket.open(
            ticket_id=ticket_id,
            account_id=cmd.account_id,
            number=uow.next_number(),
            actor=caller.actor,
            topic=topic,
            importance=cmd.importance,
            comment=cmd.comment,
            message=cmd.message,
            message_id=message_id,
            correlation_id=caller.correlation_id,
            fingerprint=fingerprint(cmd) if cmd.idempotency_key is not None else None,
            first_response_due=due,
        )
        if cmd.file is not None:
            ticket.add_attachment(
                actor=caller.actor, attachment=cmd.file.ref(message_id), correlation_id=caller.correlation_id
            )
        uow.tickets[ticket.id] = ticket
        return _result(
            ticket,
            first_response_due=due,
            message_id=message_id,
            attachment_id=cmd.file.attachment_id if cmd.file is not None else None,
        )

    def reply(self, uow: UnitOfWork, cmd: Reply) -> CommandResult:
        ticket = uow.get_for(cmd)
        message_id = uuid4()
        if cmd.file is not None:
            # Check the file before anything is recorded: a failed command must leave no event.
            ticket.check_can_attach(cmd.file.ref(None))
        ticket.reply(
            actor=cmd.caller.actor,
            text=cmd.text,
            message_id=message_id,
            has_file=cmd.file is not None,
            correlation_id=cmd.caller.correlation_id,
        )
        if cmd.file is not None:
            ticket.add_attachment(
                actor=cmd.caller.actor,
                attachment=cmd.file.ref(message_id),
                correlation_id=cmd.caller.correlation_id,
            )
        return _result(
            ticket,
            message_id=message_id,
            attachment_id=cmd.file.attachment_id if cmd.file is not None else None,
        )

    def add_internal_note(self, uow: UnitOfWork, cmd: AddInternalNote) -> CommandResult:
        ticket = uow.get_for(cmd)
        note_id = uuid4()
        ticket.add_internal_note(
            actor=cmd.caller.actor, text=cmd.text, note_id=note_id, correlation_id=cmd.caller.correlation_id
        )
        return _result(ticket, note_id=note_id)

    def change_status(self, uow: UnitOfWork, cmd: ChangeStatus) -> CommandResult:
        ticket = uow.get_for(cmd)
        ticket.change_status(
            actor=cmd.caller.actor,
            status=cmd.status,
            reason=cmd.reason,
            correlation_id=cmd.caller.correlation_id,
        )
        return _result(ticket)

    def change_topic(self, uow: UnitOfWork, cmd: ChangeTopic) -> CommandResult:
        ticket = uow.get_for(cmd)
        changed = ticket.change_topic(
            actor=cmd.caller.actor,
            topic=self._check_topic(cmd.topic),
            correlation_id=cmd.caller.correlation_id,
        )
        return _result(ticket, changed=changed)

    def change_priority(self, uow: UnitOfWork, cmd: ChangePriority) -> CommandResult:
        ticket = uow.get_for(cmd)
        changed = ticket.change_priority(
            actor=cmd.caller.actor, priority=cmd.priority, correlation_id=cmd.caller.correlation_id
        )
        return _result(ticket, changed=changed)

    def assign(self, uow: UnitOfWork, cmd: Assign) -> CommandResult:
        ticket = uow.get_for(cmd)
        changed = ticket.assign(
            actor=cmd.caller.actor,
            assignee_id=cmd.assignee_id,
            assignee_name=cmd.assignee_name,
            correlation_id=cmd.caller.correlation_id,
        )
        return _result(ticket, changed=changed)

    def add_attachment(self, uow: UnitOfWork, cmd: AddAttachment) -> CommandResult:
        ticket = uow.get_for(cmd)
        ticket.add_attachment(
            actor=cmd.caller.actor, attachment=cmd.file.ref(None), correlation_id=cmd.caller.correlation_id
        )
        return _result(ticket, attachment_id=cmd.file.attachment_id)

    def mark_first_response_overdue(self, uow: UnitOfWork, cmd: MarkFirstResponseOverdue) -> CommandResult:
        ticket = uow.get_for(cmd)
        changed = ticket.mark_first_response_overdue(now=cmd.now, correlation_id=cmd.caller.correlation_id)
        return _result(ticket, changed=changed)
