"""Commands the tickets application accepts, and what a command returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from tickets.domain.values import Actor, AttachmentRef, Importance, Priority, Status


@dataclass(frozen=True)
class Caller:
    """Who sends a command: the actor recorded on events, and the account a user token is scoped to."""

    actor: Actor
    account_id: str | None  # the user's account; None for support (sees every account)
    correlation_id: str | None = None
    # The W3C `traceparent` of the request that sent the command, stored with the events it records.
    trace_parent: str | None = None

    def can_see(self, account_id: str) -> bool:
        return self.actor.is_staff or self.account_id == account_id


@dataclass(frozen=True)
class FileUpload:
    """A file already streamed into the attachment store, to be recorded on the ticket."""

    attachment_id: UUID
    object_name: str
    filename: str
    content_type: str
    size: int
    sha256: str

    def ref(self, message_id: UUID | None) -> AttachmentRef:
        return AttachmentRef(
            attachment_id=str(self.attachment_id),
            message_id=str(message_id) if message_id is not None else None,
            object_name=self.object_name,
            filename=self.filename,
            content_type=self.content_type,
            size=self.size,
            sha256=self.sha256,
        )


@dataclass(frozen=True)
class CreateTicket:
    caller: Caller
    account_id: str
    topic: str
    importance: Importance
    comment: str
    message: str
    file: FileUpload | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class TicketCommand:
    """A command on an existing ticket, optionally based on a version the caller saw (`If-Match`)."""

    caller: Caller
    ticket_id: UUID
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class Reply(TicketCommand):
    text: str
    file: FileUpload | None = None


@dataclass(frozen=True, kw_only=True)
class AddInternalNote(TicketCommand):
    text: str


@dataclass(frozen=True, kw_only=True)
class ChangeStatus(TicketCommand):
    status: Status
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChangeTopic(TicketCommand):
    topic: str


@dataclass(frozen=True, kw_only=True)
class ChangePriority(TicketCommand):
    priority: Priority | None


@dataclass(frozen=True, kw_only=True)
class Assign(TicketCommand):
    assignee_id: str | None
    assignee_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class AddAttachment(TicketCommand):
    file: FileUpload


@dataclass(frozen=True, kw_only=True)
class MarkFirstResponseOverdue(TicketCommand):
    """The system's: record that the first answer is late, if it is (`now` is the checker's clock)."""

    now: datetime


Command = (
    CreateTicket
    | Reply
    | AddInternalNote
    | ChangeStatus
    | ChangeTopic
    | ChangePriority
    | Assign
    | AddAttachment
    | MarkFirstResponseOverdue
)


@dataclass(frozen=True)
class CommandResult:
    """What a client needs for read-your-writes: the ticket, its version and the store position."""

    ticket_id: UUID
    account_id: str
    number: str
    version: int
    status: Status
    position: int | None = None  # highest notification id this command's transaction wrote
    created: bool = True  # False when an idempotent repeat returned the first create's ticket
    message_id: UUID | None = None
    note_id: UUID | None = None
    attachment_id: UUID | None = None
    changed: bool = True  # False when the command asked for what already was (nothing recorded)
    first_response_due: datetime | None = None  # support's promise, on a create
