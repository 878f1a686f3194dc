"""The chat process's engine: the two desks, the queue board, one loop that matches and updates, and
the process's heartbeat.

The loop wakes on any change of the directory (or every `tick_seconds`), so an assignment follows a
new user or a newly free specialist at once (changes within `STEP_GAP_SECONDS` make one round), and
waits and grace periods are checked even when nothing happens; it also deletes the entries of
processes whose heartbeat expired. The heartbeat (one key, every TTL/3) has a task of its own, so a
long round never delays it; the entries are not rewritten. The board runs on its own (it waits on
other processes' answers and is debounced), so it never holds up an assignment.
"""

from __future__ import annotations

import asyncio
import contextlib

from chat.adapters.directory import Change, Directory
from chat.adapters.errors import NATS_AWAY
from chat.adapters.liveness import new_proc_id
from chat.adapters.relay import Relay
from chat.adapters.stats import StatsPublisher
from chat.adapters.support_hours import SupportHours
from chat.adapters.tickets import TicketsClient
from chat.application.agents import AgentDesk
from chat.application.board import QueueBoard
from chat.application.context import Clock, HubConfig, HubContext
from chat.application.leftovers import Leftovers
from chat.application.users import UserDesk
from shared.contracts.chat import EndReason
from shared.logging import get_logger
from shared.stopping import wait_set

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
            proc=new_proc_id(),
            hours=hours or SupportHours(None),
        )
        self.users = UserDesk(self.ctx, tickets=tickets)
        self.agents = AgentDesk(self.ctx)
        self.board = QueueBoard(self.ctx, connections=lambda: list(self.agents.connections.values()))
        directory.keep_alive(self.ctx.proc, every=config.refresh_every)
        self._leftovers = Leftovers(directory, self.ctx.proc)
        self._task: asyncio.Task[None] | None = None
        self._beat_task: asyncio.Task[None] | None = None
        self._checked_at = 0.0

    async def start(self) -> None:
        self.ctx.directory.subscribe(self._on_change)
        self.ctx.directory.subscribe(self.board.on_change)
        await self.ctx.directory.start()
        self.ctx.hours.start()
        self.board.start()
        self._checked_at = self.ctx.clock()
        self._task = asyncio.create_task(self._run(), name="chat-hub")
        self._beat_task = asyncio.create_task(self._beat(), name="chat-heartbeat")

    async def stop(self) -> None:
        for task in (self._beat_task, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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
        failed = False
        while True:
            await wait_set(ctx.dirty, ctx.config.tick_seconds)
            # A round on the tick alone (nothing changed since the last one) skips what only a change
            # can make due; after a failed round, nothing is skipped.
            changed, failed = ctx.dirty.is_set() or failed, False
            ctx.dirty.clear()
            try:
                await self.step(changed=changed)
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop supervises every session of this process: it goes on
                failed = True
                log.exception("chat_loop_step_failed")
                await asyncio.sleep(ctx.config.tick_seconds)
                await self._recover_if_lost()
            # A round looks at every session here: while changes keep coming (thousands of chats
            # opening), those of the next few milliseconds make one round, not one round each.
            await asyncio.sleep(STEP_GAP_SECONDS)

    async def _beat(self) -> None:
        """Keep this process's heartbeat alive: while it is, its entries are (see `Directory`)."""
        directory = self.ctx.directory
        while True:
            await asyncio.sleep(min(1.0, self.ctx.config.refresh_every / 4))
            try:
                await directory.beat_if_due()
            except asyncio.CancelledError:
                raise
            except NATS_AWAY:  # the next beat tries again; a lost bucket is the loop's to recover
                log.warning("chat_heartbeat_not_written", exc_info=True)

    async def step(self, *, changed: bool = True) -> None:
        """One round: reconcile, take users back, match, tell positions, delete gone processes'
        entries; every TTL/3, see that the bucket is still there, drop entries without a heartbeat
        and note our own that nothing here holds (deleted one TTL later). `changed`: the directory
        (or anything that set `dirty`) changed since the last round; without it, the users' sessions
        are visited only when a wait or grace period runs out (`UserDesk.check`)."""
        await self.agents.reconcile()
        await self.users.check(changed=changed)
        await self.agents.check_grace()
        await self.agents.match()
        await self.users.update_positions()
        await self.ctx.directory.reclaim()
        now = self.ctx.clock()
        if now - self._checked_at >= self.ctx.config.refresh_every:
            self._checked_at = now
            if not await self._recover_if_lost():
                self.ctx.directory.sweep()
                self._leftovers.sweep(
                    sessions=self.users.sessions.keys(),
                    agents=self.agents.held(),
                    now=now,
                    after=self.ctx.config.presence_ttl_seconds,
                )

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
