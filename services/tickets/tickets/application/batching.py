"""Runs commands on one store thread, many per transaction.

eventsourcing's calls block, and the PostgreSQL recorder serialises every `save` with a table lock, so
the throughput lever is to commit the commands that arrive while the previous transaction runs in one
`save` (ARCHITECTURE.md). `CommandBatcher.submit` queues a command from the event loop; one worker takes
everything queued, runs it on a dedicated thread (`Executor.execute`) and resolves each caller's future.

A batch that cannot be saved as a whole — a version conflict with another process, an idempotency key
seen twice, a handler that failed half-way — is re-run one command per transaction, each retried on a
conflict, so one bad command never costs the others their write.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from eventsourcing.persistence import IntegrityError
from prometheus_client import Histogram

from shared.logging import get_logger
from shared.tracing import stamp_events
from tickets.application.app import TicketsApplication
from tickets.application.commands import Command, CommandResult
from tickets.application.handlers import Handlers, UnitOfWork
from tickets.application.numbers import NumberAllocator
from tickets.domain.errors import ConcurrentChange, TicketError

log = get_logger(__name__)

BATCH_SIZE = Histogram(
    "helpdesk_tickets_command_batch_size",
    "Commands committed per store transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)

Outcome = CommandResult | BaseException


class ServiceStopping(Exception):
    """Raised when a command arrives after the service began shutting down."""


class _HalfDone(Exception):
    """A handler raised after it had changed an aggregate: the batch cannot be trusted as a whole."""


def handle_traced(handlers: Handlers, uow: UnitOfWork, command: Command) -> CommandResult:
    """Run one command's handler; the events it records keep its caller's trace context, so the relay
    continues the request's trace when it publishes them."""
    trace_parent = command.caller.trace_parent
    if trace_parent is None:
        return handlers.handle(uow, command)
    before = {id(e) for e in uow.pending_events()}
    result = handlers.handle(uow, command)
    stamp_events((e for e in uow.pending_events() if id(e) not in before), trace_parent)
    return result


class Executor:
    """Runs commands against the store (blocking): a batch in one transaction, else one by one."""

    def __init__(
        self, *, app: TicketsApplication, handlers: Handlers, numbers: NumberAllocator, max_attempts: int = 8
    ) -> None:
        self.app = app
        self.handlers = handlers
        self.numbers = numbers
        self.max_attempts = max_attempts

    def execute(self, commands: list[Command]) -> list[Outcome]:
        if len(commands) == 1:
            return [self.execute_one(commands[0])]
        try:
            outcomes, position = self._execute_together(commands)
        except (IntegrityError, _HalfDone):
            log.info("command_batch_split", size=len(commands))
            return [self.execute_one(c) for c in commands]
        BATCH_SIZE.observe(len(commands))
        return [replace(o, position=position) if isinstance(o, CommandResult) else o for o in outcomes]

    def _execute_together(self, commands: list[Command]) -> tuple[list[Outcome], int | None]:
        uow = UnitOfWork(self.app, self.numbers)
        outcomes: list[Outcome] = []
        for command in commands:
            before = uow.pending_count()
            try:
                outcomes.append(handle_traced(self.handlers, uow, command))
            except TicketError as exc:
                if uow.pending_count() != before:
                    uow.rollback()
                    raise _HalfDone from exc
                outcomes.append(exc)
            except Exception as exc:
                uow.rollback()
                raise _HalfDone from exc
        try:
            return outcomes, self.app.save_all(uow.aggregates())
        except BaseException:
            uow.rollback()
            raise

    def execute_one(self, command: Command) -> Outcome:
        """One command in its own transaction; re-run on a fresh read after a version conflict."""
        for attempt in range(self.max_attempts):
            uow = UnitOfWork(self.app, self.numbers)
            try:
                result = handle_traced(self.handlers, uow, command)
                position = self.app.save_all(uow.aggregates())
            except IntegrityError:
                uow.rollback()
                # Two writers retrying in lockstep would keep colliding: back off by a random bit.
                time.sleep(random.uniform(0, 0.004) * (attempt + 1))  # noqa: S311 -- jitter, not secrets
                continue
            except Exception as exc:  # noqa: BLE001 - the command's own failure goes back to its caller
                uow.rollback()
                return exc
            BATCH_SIZE.observe(1)
            return replace(result, position=position)
        return ConcurrentChange("the ticket kept changing under this command; try again")


class CommandBatcher:
    """The asyncio side: queue commands, run what is queued as one batch on the store thread."""

    def __init__(self, executor: Executor, *, max_batch: int = 256) -> None:
        self._executor = executor
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Command, asyncio.Future[CommandResult]] | None] = asyncio.Queue()
        self._stopping = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tickets-store")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tickets-command-batcher")

    async def submit(self, command: Command) -> CommandResult:
        """Run `command`; raises its domain error, or returns its result once committed."""
        if self._task is None or self._stopping:
            raise ServiceStopping("the tickets service is not taking commands")
        future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((command, future))
        return await future

    async def run_blocking(self, func: Any, *args: Any) -> Any:
        """Run a blocking store read on the store thread (reads share it: no lock contention)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, func, *args)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        done = False
        while not done:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            done = None in batch  # the sentinel `stop` queues after the last command
            live = [item for item in batch if item is not None and not item[1].done()]
            if not live:
                continue
            try:
                outcomes = await loop.run_in_executor(
                    self._thread, self._executor.execute, [c for c, _ in live]
                )
            except Exception as exc:  # a bug in the executor: every caller hears of it
                log.exception("command_batch_failed", commands=len(live))
                outcomes = [exc] * len(live)
            for (_, future), outcome in zip(live, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    async def stop(self, *, grace_seconds: float = 10.0) -> None:
        """Refuse new commands, finish the queued ones, then stop the worker and the store thread."""
        self._stopping = True
        if self._task is not None:
            self._queue.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=grace_seconds)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        self._thread.shutdown(wait=True)
