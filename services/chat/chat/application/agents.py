"""The specialists' side of one chat process: presence, capacity, assignment, relay, grace period.

Assignment is a compare-and-set on the user's queue entry (waiting → assigned to this specialist),
then on the specialist's entry (the session added, capacity checked against the revision read). The
first makes a user go to one specialist only; the second keeps a specialist within capacity even if
two processes briefly both hold their WebSocket. Undone if the second fails. The matching loop
assigns this way to available specialists with `auto` on; `take` does the same for one session a
specialist picked by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from chat.adapters.directory import Versioned
from chat.application.context import HubContext, Send, agent_key
from chat.domain import server_frames as out
from chat.domain.errors import (
    AlreadyTaken,
    CapacityExceeded,
    ChatError,
    NotAssigned,
    NotAvailable,
    NotWaiting,
)
from chat.domain.model import AgentPresence, AgentStatus, QueueEntry, QueueState, waiting_in_order
from chat.domain.routing import may_take
from shared.auth import Principal
from shared.logging import get_logger

log = get_logger(__name__)

Close = Callable[[int, str], Awaitable[None]]
CLOSE_REPLACED = 4409
CAS_ATTEMPTS = 5


@dataclass(eq=False)
class AgentConnection:
    akey: str
    principal: Principal
    send: Send
    close: Close
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscription: Subscription | None = field(default=None, repr=False)
    # Set once the queue was shown after `status`: from then on it gets every change of it.
    watching: bool = False


class AgentDesk:
    def __init__(self, ctx: HubContext) -> None:
        self._ctx = ctx
        self.connections: dict[str, AgentConnection] = {}
        self._disconnected: dict[str, float] = {}

    # -- commands from the specialist's WebSocket -------------------------------------------------

    async def connect(self, principal: Principal, *, send: Send, close: Close) -> AgentConnection:
        """Register the specialist here; a connection elsewhere (or an older one here) is replaced."""
        ctx = self._ctx
        akey = agent_key(principal.sub)
        older = self.connections.pop(akey, None)
        if older is not None:
            await self._detach(older)
            await older.close(CLOSE_REPLACED, "connected elsewhere")
        conn = AgentConnection(akey=akey, principal=principal, send=send, close=close)
        self._disconnected.pop(akey, None)
        conn.subscription = await ctx.relay.subscribe(
            ctx.relay.agent_subject(akey), partial(self._on_relay, conn)
        )

        def take_over(current: AgentPresence | None) -> AgentPresence:
            name = principal.name or principal.sub
            if current is None:
                return AgentPresence(
                    akey=akey, name=name, proc=ctx.proc, capacity=ctx.config.default_capacity
                )
            return replace(current, name=name, proc=ctx.proc, connected=True, disconnected_at=None)

        try:
            presence = await self._change(conn, take_over)
        except BaseException:
            await self._detach(conn)
            raise
        # Registered only once the entry names this process, or `reconcile` would see another
        # process's name on it and close the connection as replaced.
        self.connections[akey] = conn
        log.info("agent_connected", agent=akey, chats=len(presence.sessions))
        await self._send_status(conn, presence)
        for sid in presence.sessions:
            await self._introduce(conn, sid)
        ctx.dirty.set()
        return conn

    async def set_available(
        self,
        conn: AgentConnection,
        *,
        capacity: int | None,
        auto: bool = True,
        teams: tuple[str, ...] | None = None,
    ) -> None:
        """Take chats: given by the matching loop (`auto`), or only those taken by hand (`take`);
        `teams` (when given) are the support teams whose topics' chats come to this specialist first."""
        limit = self._ctx.config.max_capacity
        wanted = min(limit, max(1, capacity)) if capacity is not None else None

        def available(current: AgentPresence | None) -> AgentPresence:
            base = self._require(current)
            return replace(
                base,
                status=AgentStatus.AVAILABLE,
                capacity=wanted or base.capacity,
                auto=auto,
                teams=base.teams if teams is None else teams,
            )

        await self._send_status(conn, await self._change(conn, available))
        self._ctx.dirty.set()

    async def set_away(self, conn: AgentConnection) -> None:
        def away(current: AgentPresence | None) -> AgentPresence:
            return replace(self._require(current), status=AgentStatus.AWAY)

        await self._send_status(conn, await self._change(conn, away))

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
            if await self._claim(conn, waiting):
                break
            # The entry changed since our mirror read it: taken, gone, or just refreshed (TTL).
            waiting = await directory.fetch_queue(sid)
        else:
            raise AlreadyTaken("this chat kept changing; try again")
        if not await self._introduce(conn, sid):
            raise NotWaiting("the user has left")
        self._ctx.dirty.set()

    async def offer_request(self, conn: AgentConnection, sid: str) -> None:
        """Suggest to the user that the chat become a request; only the user's own `create_request`
        creates one. Confirmed to the specialist once the user's process has shown the offer."""
        self._check_holds(conn, sid)
        relay = self._ctx.relay
        reply = await relay.request(
            relay.user_subject(sid),
            {"t": "offer", "akey": conn.akey},
            within=self._ctx.config.request_timeout_seconds,
        )
        if reply is None or not reply.get("ok"):
            raise NotAssigned("the user has left this chat")
        await conn.send(out.OfferShown(session=sid))

    async def message(self, conn: AgentConnection, sid: str, text: str) -> None:
        self._check_holds(conn, sid)
        relay = self._ctx.relay
        await relay.publish(relay.user_subject(sid), {"t": "msg", "akey": conn.akey, "text": text})

    async def typing(self, conn: AgentConnection, sid: str) -> None:
        self._check_holds(conn, sid)
        relay = self._ctx.relay
        await relay.publish(relay.user_subject(sid), {"t": "typing", "akey": conn.akey})

    async def end(self, conn: AgentConnection, sid: str) -> None:
        self._check_holds(conn, sid)
        # Released before the user hears of it: their leaving the queue must not read as `user_left`.
        if not await self._release(conn, sid):
            raise NotAssigned("the user has left this chat")
        relay = self._ctx.relay
        await relay.publish(relay.user_subject(sid), {"t": "end", "akey": conn.akey})
        await conn.send(out.ChatEnded(session=sid, reason="specialist_ended"))

    async def disconnect(self, conn: AgentConnection) -> None:
        """The WebSocket closed: keep the chats for the grace period (a reload reconnects)."""
        if self.connections.get(conn.akey) is not conn:
            return  # replaced by a newer connection
        del self.connections[conn.akey]
        await self._detach(conn)
        now = self._ctx.clock()

        def disconnected(current: AgentPresence | None) -> AgentPresence | None:
            if current is None or current.proc != self._ctx.proc:
                return None
            return replace(current, connected=False, disconnected_at=now)

        try:
            if await self._change(conn, disconnected, allow_none=True) is not None:
                self._disconnected[conn.akey] = now
        except Exception as exc:  # NATS away: the entry expires with the TTL, which has the same effect
            log.warning("agent_disconnect_incomplete", agent=conn.akey, error=type(exc).__name__)
        log.info("agent_disconnected", agent=conn.akey)

    # -- what the process does on its own ---------------------------------------------------------

    async def match(self) -> None:
        """Give each local specialist with free slots (and `auto` on) the longest-waiting users."""
        directory = self._ctx.directory
        candidates: list[QueueEntry] | None = None
        for conn in list(self.connections.values()):
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
                if await self._assign(conn, current):
                    free -= 1

    async def reconcile(self) -> None:
        """Drop chats whose user left or was taken back; yield to a newer connection elsewhere."""
        directory = self._ctx.directory
        for conn in list(self.connections.values()):
            held = directory.agents.get(conn.akey)
            if held is None:
                continue
            if held.value.proc != self._ctx.proc:
                self.connections.pop(conn.akey, None)
                await self._detach(conn)
                await conn.close(CLOSE_REPLACED, "connected elsewhere")
                continue
            for sid in held.value.sessions:
                entry = directory.queue.get(sid)
                if entry is None and not self._ctx.absence_means_gone():
                    continue
                if entry is None or entry.value.agent != conn.akey:
                    await self._user_left(conn, sid)

    async def check_grace(self) -> None:
        """A specialist gone longer than the grace period is away and holds no chats any more."""
        now = self._ctx.clock()
        for akey, since in list(self._disconnected.items()):
            if now - since < self._ctx.config.agent_grace_seconds:
                continue
            del self._disconnected[akey]
            held = self._ctx.directory.agents.get(akey)
            if held is None or held.value.proc != self._ctx.proc or held.value.connected:
                continue
            gone = replace(held.value, status=AgentStatus.AWAY, sessions=())
            await self._ctx.directory.put_agent(gone, revision=held.revision)
            log.info("agent_marked_away", agent=akey, requeued=len(held.value.sessions))
            self._ctx.dirty.set()

    def own_presences(self) -> list[AgentPresence]:
        """The entries this process writes (connected here, or in their grace period here)."""
        directory = self._ctx.directory
        held = (directory.agents.get(akey) for akey in [*self.connections, *self._disconnected])
        return [h.value for h in held if h is not None and h.value.proc == self._ctx.proc]

    async def republish(self, presences: list[AgentPresence]) -> None:
        """Write our specialists' entries again into a bucket that was lost, as they stood."""
        for presence in presences:
            await self._ctx.directory.put_agent(presence, revision=0)

    async def refresh(self) -> None:
        directory = self._ctx.directory
        for akey in [*self.connections, *self._disconnected]:
            held = directory.agents.get(akey)
            if held is not None and held.value.proc == self._ctx.proc:
                await directory.put_agent(held.value, revision=held.revision)

    # -- internals --------------------------------------------------------------------------------

    async def _assign(self, conn: AgentConnection, waiting: Versioned[QueueEntry]) -> bool:
        """The matching loop's assignment: False when it did not happen, for whatever reason."""
        try:
            if not await self._claim(conn, waiting):
                return False
        except ChatError:
            return False
        await self._introduce(conn, waiting.value.sid)
        return True

    async def _claim(self, conn: AgentConnection, waiting: Versioned[QueueEntry]) -> bool:
        """Compare-and-set the user's entry to this specialist, then the specialist's entry (the
        second undoing the first if it fails). False when the user's entry is no longer at the
        revision read: another specialist got there first, or it was refreshed."""
        directory = self._ctx.directory
        sid = waiting.value.sid
        async with conn.lock:
            held = directory.agents.get(conn.akey)
            if held is None or self.connections.get(conn.akey) is not conn:
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
                    await self._give_back(sid, conn.akey)
                    raise
                held = await directory.fetch_agent(conn.akey)
                if held is None or held.value.proc != self._ctx.proc:
                    break
            else:
                held = None
            if held is None or held.value.proc != self._ctx.proc:
                await self._give_back(sid, conn.akey)
                raise NotAssigned("your presence changed meanwhile; try again")
        log.info("chat_assigned", session=sid, agent=conn.akey)
        return True

    async def _introduce(self, conn: AgentConnection, sid: str) -> bool:
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
            await self._release(conn, sid)
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

    async def _give_back(self, sid: str, akey: str) -> None:
        current = self._ctx.directory.queue.get(sid)
        if current is not None and current.value.agent == akey:
            back = replace(current.value, state=QueueState.WAITING, agent=None, assigned_at=None)
            await self._ctx.directory.put_queue(back, revision=current.revision)

    async def _release(self, conn: AgentConnection, sid: str) -> bool:
        """Drop the chat from the specialist's entry; False when it was not (or no longer) there."""

        def without(current: AgentPresence | None) -> AgentPresence | None:
            if current is None or sid not in current.sessions:
                return None
            return current.without_session(sid)

        released = await self._change(conn, without, allow_none=True) is not None
        self._ctx.dirty.set()
        return released

    async def _user_left(self, conn: AgentConnection, sid: str) -> None:
        """The one place a specialist hears `user_left`: the user's queue entry is gone (closed,
        disconnected, expired with a crashed process) or taken back. Said only by whoever released
        the chat, so a chat the specialist ended, or one already announced, is never announced again."""
        if await self._release(conn, sid):
            await conn.send(out.UserLeft(session=sid))

    async def _change(
        self,
        conn: AgentConnection,
        change: Callable[[AgentPresence | None], AgentPresence | None],
        *,
        allow_none: bool = False,
    ) -> Any:
        """Read-modify-CAS the specialist's entry, re-reading on a conflict; the entry written."""
        directory = self._ctx.directory
        async with conn.lock:
            held = directory.agents.get(conn.akey)
            for _ in range(CAS_ATTEMPTS):
                new = change(held.value if held else None)
                if new is None:
                    if allow_none:
                        return None
                    raise NotAssigned("no presence")
                if await directory.put_agent(new, revision=held.revision if held else 0):
                    return new
                held = await directory.fetch_agent(conn.akey)
        raise CapacityExceeded("the specialist's presence kept changing; try again")

    def _require(self, current: AgentPresence | None) -> AgentPresence:
        if current is None:
            raise NotAssigned("not connected")
        return current

    def _check_holds(self, conn: AgentConnection, sid: str) -> None:
        held = self._ctx.directory.agents.get(conn.akey)
        if held is None or sid not in held.value.sessions:
            raise NotAssigned("this chat is not yours (or has ended)")

    async def _on_relay(self, conn: AgentConnection, payload: dict[str, Any], msg: Msg) -> None:
        sid = payload.get("sid")
        held = self._ctx.directory.agents.get(conn.akey)
        if not isinstance(sid, str) or held is None or sid not in held.value.sessions:
            return
        kind = payload.get("t")
        if kind == "msg":
            await conn.send(out.UserSaid(session=sid, text=str(payload.get("text", ""))))
        elif kind == "typing":
            await conn.send(out.UserTyping(session=sid))
        elif kind == "request":
            number = str(payload.get("number", ""))[:64]
            await conn.send(out.RequestFiled(session=sid, number=number))

    async def _detach(self, conn: AgentConnection) -> None:
        if conn.subscription is not None:
            await conn.subscription.unsubscribe()
            conn.subscription = None

    async def _send_status(self, conn: AgentConnection, presence: AgentPresence) -> None:
        await conn.send(
            out.Status(
                status=presence.status.value,
                capacity=presence.capacity,
                auto=presence.auto,
                sessions=list(presence.sessions),
                teams=list(presence.teams),
            )
        )


def _text(value: object) -> str | None:
    """A field of the user's process's reply: text, or None where it said nothing usable."""
    return value if isinstance(value, str) else None
