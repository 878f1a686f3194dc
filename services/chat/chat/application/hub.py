"""The chat process's engine: the two desks, the queue board, and one loop that matches, updates and
refreshes.

The loop wakes on any change of the directory (or every `tick_seconds`), so an assignment follows a
new user or a newly free specialist at once (changes within `STEP_GAP_SECONDS` make one round), and
waits, grace periods and TTL refreshes are checked even when nothing happens. The board runs on its
own (it waits on other processes' answers and is debounced), so it never holds up an assignment.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from chat.adapters.directory import Change, Directory
from chat.adapters.errors import NATS_AWAY
from chat.adapters.relay import Relay
from chat.adapters.stats import StatsPublisher
from chat.adapters.support_hours import SupportHours
from chat.adapters.tickets import TicketsClient
from chat.application.agents import AgentDesk
from chat.application.board import QueueBoard
from chat.application.context import Clock, HubConfig, HubContext
from chat.application.users import UserDesk
from shared.contracts.chat import EndReason
from shared.logging import get_logger

log = get_logger(__name__)

# The least time between two rounds of the loop.
STEP_GAP_SECONDS = 0.02
# The directory cannot reopen its bucket yet (NATS away), or at all (RuntimeError: nothing to reopen).
_NOT_RECOVERED: tuple[type[Exception], ...] = (*NATS_AWAY, RuntimeError)


class ChatHub:
    def __init__(
        self,
        *,
        directory: Directory,
        relay: Relay,
        stats: StatsPublisher,
        tickets: TicketsClient | None,
        config: HubConfig,
        clock: Clock,
        hours: SupportHours | None = None,
    ) -> None:
        self.ctx = HubContext(
            directory=directory,
            relay=relay,
            stats=stats,
            config=config,
            clock=clock,
            proc=uuid.uuid4().hex[:12],
            hours=hours or SupportHours(None),
        )
        self.users = UserDesk(self.ctx, tickets=tickets)
        self.agents = AgentDesk(self.ctx)
        self.board = QueueBoard(self.ctx, connections=lambda: list(self.agents.connections.values()))
        self._task: asyncio.Task[None] | None = None
        self._refreshed_at = 0.0

    async def start(self) -> None:
        self.ctx.directory.subscribe(self._on_change)
        self.ctx.directory.subscribe(self.board.on_change)
        await self.ctx.directory.start()
        self.ctx.hours.start()
        self.board.start()
        self._refreshed_at = self.ctx.clock()
        self._task = asyncio.create_task(self._run(), name="chat-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.board.stop()
        for session in list(self.users.sessions.values()):
            await self.users.close(session, reason=EndReason.SHUTDOWN)
        for conn in list(self.agents.connections.values()):
            await self.agents.disconnect(conn)
        await self.ctx.directory.stop()
        await self.ctx.hours.stop()
        await self.ctx.stats.drain()

    def _on_change(self, change: Change) -> None:
        self.ctx.dirty.set()

    async def _run(self) -> None:
        ctx = self.ctx
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.dirty.wait(), timeout=ctx.config.tick_seconds)
            ctx.dirty.clear()
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop supervises every session of this process: it goes on
                log.exception("chat_loop_step_failed")
                await asyncio.sleep(ctx.config.tick_seconds)
                await self._recover_if_lost()
            # A round looks at every session here: while changes keep coming (thousands of chats
            # opening), those of the next few milliseconds make one round, not one round each.
            await asyncio.sleep(STEP_GAP_SECONDS)

    async def step(self) -> None:
        """One round: reconcile, take users back, match, tell positions, refresh before the TTL."""
        await self.agents.reconcile()
        await self.users.check()
        await self.agents.check_grace()
        await self.agents.match()
        await self.users.update_positions()
        now = self.ctx.clock()
        if now - self._refreshed_at >= self.ctx.config.refresh_every:
            self._refreshed_at = now
            if await self._recover_if_lost():
                return
            await self.users.refresh()
            await self.agents.refresh()

    async def _recover_if_lost(self) -> bool:
        """The bucket is memory-only: if a lone nats-server restarted, it is gone. Create it again and
        write back this process's sessions and specialists; chats in progress never stopped (the relay
        is core NATS and each side keeps its own state)."""
        directory = self.ctx.directory
        try:
            if await directory.healthy():
                return False
            presences = self.agents.own_presences()
            await directory.reopen()
        except _NOT_RECOVERED:  # NATS still away (or no bucket to reopen): the next tick tries
            log.warning("chat_directory_not_recovered", exc_info=True)
            return False
        self.ctx.recovered_at = self.ctx.clock()
        await self.users.republish()
        await self.agents.republish(presences)
        log.warning("chat_directory_recovered", sessions=len(self.users.sessions), agents=len(presences))
        self.ctx.dirty.set()
        return True
