"""The tickets application as the entry points see it: async commands and the few reads they need."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from uuid import UUID

from tickets.application.app import TicketsApplication
from tickets.application.batching import CommandBatcher, Executor
from tickets.application.commands import Caller, Command, CommandResult
from tickets.application.handlers import Handlers, Promise
from tickets.application.numbers import NumberAllocator
from tickets.domain.errors import TicketNotFound
from tickets.domain.ticket import Ticket
from tickets.domain.values import AttachmentRef


def process_owner() -> str:
    """A name for this process in the number blocks it reserves (for an operator, not for logic)."""
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


class TicketService:
    """Commands go through the batcher (one store thread); reads run on a worker thread."""

    def __init__(
        self,
        app: TicketsApplication,
        *,
        topics: Collection[str],
        max_batch: int = 256,
        promise: Promise | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app = app
        self.topics = topics
        self.numbers = NumberAllocator(app, owner=process_owner())
        handlers = Handlers(topics=topics, promise=promise, clock=clock or (lambda: datetime.now(UTC)))
        self.executor = Executor(app=app, handlers=handlers, numbers=self.numbers)
        self.batcher = CommandBatcher(self.executor, max_batch=max_batch)

    def start(self) -> None:
        self.batcher.start()

    async def stop(self) -> None:
        await self.batcher.stop()

    async def execute(self, command: Command) -> CommandResult:
        """Commit `command` (batched with concurrent ones); raises its domain error."""
        return await self.batcher.submit(command)

    async def ticket(self, caller: Caller, ticket_id: UUID) -> Ticket:
        """The ticket as of now, if the caller may see it (else `TicketNotFound`)."""
        ticket = await asyncio.to_thread(self.app.get_ticket, ticket_id)
        if not caller.can_see(ticket.account_id):
            raise TicketNotFound(ticket_id)
        return ticket

    async def attachment(self, caller: Caller, ticket_id: UUID, attachment_id: UUID) -> AttachmentRef:
        ticket = await self.ticket(caller, ticket_id)
        return ticket.attachment(attachment_id)
