"""Assignment: a waiting user given to one specialist, by the matching loop or taken by hand.

A compare-and-set on the user's queue entry (waiting → assigned to this specialist), then on the
specialist's entry (the session added, capacity checked against the revision read). The first makes
a user go to one specialist only; the second keeps a specialist within capacity even if two processes
briefly both hold their WebSocket. Undone if the second fails. The matching loop assigns this way to
available specialists with `auto` on; `take` does the same for one session a specialist picked.
Then the user's process is asked for the intake, which the specialist is shown (`chat_assigned`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from chat.adapters.directory import Versioned
from chat.application.agent_connection import CAS_ATTEMPTS, AgentConnection, Presences
from chat.application.context import HubContext
from chat.domain import server_frames as out
from chat.domain.errors import (
    AlreadyTaken,
    CapacityExceeded,
    ChatError,
    NotAssigned,
    NotAvailable,
    NotWaiting,
)
from chat.domain.model import QueueEntry, QueueState, waiting_in_order
from chat.domain.routing import may_take
from shared.logging import get_logger

log = get_logger(__name__)


class Assigner:
    def __init__(
        self, ctx: HubContext, presences: Presences, connections: Mapping[str, AgentConnection]
    ) -> None:
        self._ctx = ctx
        self._presences = presences
        self._connections = connections

    async def take(self, conn: AgentConnection, sid: str) -> None:
        """Assign this waiting user to the specialist who picked them, with the matching loop's
        guarantees: one user, one specialist (`AlreadyTaken` for the slower); never over capacity."""
        directory = self._ctx.directory
        # The mirror may not have a user who joined on another process a moment ago: ask the server.
        waiting = directory.queue.get(sid) or await directory.fetch_queue(sid)
        for _ in range(CAS_ATTEMPTS):
            if waiting is None:
                raise NotWaiting("this chat is not waiting any more (or never was)")
            if waiting.value.state is not QueueState.WAITING:
                mine = waiting.value.agent == conn.akey
                raise AlreadyTaken("you hold this chat already" if mine else "another specialist took it")
            if await self.claim(conn, waiting):
                break
            # The entry changed since our mirror read it: taken, gone, or just refreshed (TTL).
            waiting = await directory.fetch_queue(sid)
        else:
            raise AlreadyTaken("this chat kept changing; try again")
        if not await self.introduce(conn, sid):
            raise NotWaiting("the user has left")
        self._ctx.dirty.set()

    async def match(self) -> None:
        """Give each local specialist with free slots (and `auto` on) the longest-waiting users."""
        directory = self._ctx.directory
        candidates: list[QueueEntry] | None = None
        for conn in list(self._connections.values()):
            held = directory.agents.get(conn.akey)
            if held is None or held.value.proc != self._ctx.proc or not held.value.routable:
                continue
            if candidates is None:
                candidates = waiting_in_order(v.value for v in directory.queue.values())
            free = held.value.free_slots
            everyone = [a.value for a in directory.agents.values()]
            fallback = self._ctx.config.any_team_fallback
            mine = [e for e in candidates if may_take(e, held.value, everyone, any_team_fallback=fallback)]
            while free > 0 and mine:
                entry = mine.pop(0)
                candidates.remove(entry)
                current = directory.queue.get(entry.sid)
                if current is None or current.value.state is not QueueState.WAITING:
                    continue
                if await self.assign(conn, current):
                    free -= 1

    async def assign(self, conn: AgentConnection, waiting: Versioned[QueueEntry]) -> bool:
        """The matching loop's assignment: False when it did not happen, for whatever reason."""
        try:
            if not await self.claim(conn, waiting):
                return False
        except ChatError:
            return False
        await self.introduce(conn, waiting.value.sid)
        return True

    async def claim(self, conn: AgentConnection, waiting: Versioned[QueueEntry]) -> bool:
        """Compare-and-set the user's entry to this specialist, then the specialist's entry (the
        second undoing the first if it fails). False when the user's entry is no longer at the
        revision read: another specialist got there first, or it was refreshed."""
        directory = self._ctx.directory
        sid = waiting.value.sid
        async with conn.lock:
            held = directory.agents.get(conn.akey)
            if held is None or self._connections.get(conn.akey) is not conn:
                raise NotAssigned("not connected")
            if not held.value.online:
                raise NotAvailable('set yourself available first ({"type": "available", …})')
            if held.value.free_slots < 1:
                raise CapacityExceeded(f"capacity {held.value.capacity} reached")
            taken = waiting.value.assign(conn.akey, now=self._ctx.clock())
            if await directory.put_queue(taken, revision=waiting.revision) is None:
                return False
            for _ in range(CAS_ATTEMPTS):
                try:
                    if await directory.put_agent(held.value.with_session(sid), revision=held.revision):
                        break
                except CapacityExceeded:
                    await self.give_back(sid, conn.akey)
                    raise
                held = await directory.fetch_agent(conn.akey)
                if held is None or held.value.proc != self._ctx.proc:
                    break
            else:
                held = None
            if held is None or held.value.proc != self._ctx.proc:
                await self.give_back(sid, conn.akey)
                raise NotAssigned("your presence changed meanwhile; try again")
        log.info("chat_assigned", session=sid, agent=conn.akey)
        return True

    async def introduce(self, conn: AgentConnection, sid: str) -> bool:
        """Ask the user's process for the intake and show it to the specialist; drop a vanished user
        (False)."""
        relay = self._ctx.relay
        name = conn.principal.name or conn.principal.sub
        reply = await relay.request(
            relay.user_subject(sid),
            {"t": "assign", "akey": conn.akey, "name": name, "sub": conn.principal.sub},
            within=self._ctx.config.request_timeout_seconds,
        )
        if reply is None or not reply.get("ok"):
            await self._presences.release(conn, sid)
            current = self._ctx.directory.queue.get(sid)
            if current is not None and current.value.agent == conn.akey:
                await self._ctx.directory.delete_queue(sid)
            return False
        await conn.send(
            out.ChatAssigned(
                session=sid,
                name=_text(reply.get("name")),
                phone=_text(reply.get("phone")),
                question=_text(reply.get("question")),
                account_id=_text(reply.get("account_id")),
            )
        )
        return True

    async def give_back(self, sid: str, akey: str) -> None:
        current = self._ctx.directory.queue.get(sid)
        if current is not None and current.value.agent == akey:
            back = replace(current.value, state=QueueState.WAITING, agent=None, assigned_at=None)
            await self._ctx.directory.put_queue(back, revision=current.revision)


def _text(value: object) -> str | None:
    """A field of the user's process's reply: text, or None where it said nothing usable."""
    return value if isinstance(value, str) else None
