"""The specialists' side of one chat process: presence, capacity, relay, grace period.

Assignment (the matching loop and `take`) is `chat.application.assignment`; the connection and the
compare-and-set of a specialist's presence entry are `chat.application.agent_connection`.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from nats.aio.msg import Msg

from chat.adapters.errors import NATS_AWAY
from chat.application.agent_connection import CLOSE_REPLACED, AgentConnection, Close, Presences
from chat.application.assignment import Assigner
from chat.application.context import HubContext, Send, agent_key
from chat.domain import server_frames as out
from chat.domain.errors import NotAssigned
from chat.domain.model import AgentPresence, AgentStatus
from shared.auth import Principal
from shared.logging import get_logger

log = get_logger(__name__)


class AgentDesk:
    def __init__(self, ctx: HubContext) -> None:
        self._ctx = ctx
        self.connections: dict[str, AgentConnection] = {}
        self._disconnected: dict[str, float] = {}
        self._presences = Presences(ctx)
        self._assigner = Assigner(ctx, self._presences, self.connections)

    # -- commands from the specialist's WebSocket -------------------------------------------------

    async def connect(self, principal: Principal, *, send: Send, close: Close) -> AgentConnection:
        """Register the specialist here; a connection elsewhere (or an older one here) is replaced."""
        ctx = self._ctx
        akey = agent_key(principal.sub)
        older = self.connections.pop(akey, None)
        if older is not None:
            await self._presences.detach(older)
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
            presence = await self._presences.change(conn, take_over)
        except BaseException:
            await self._presences.detach(conn)
            raise
        # Registered only once the entry names this process, or `reconcile` would see another
        # process's name on it and close the connection as replaced.
        self.connections[akey] = conn
        log.info("agent_connected", agent=akey, chats=len(presence.sessions))
        await self._presences.send_status(conn, presence)
        for sid in presence.sessions:
            await self._assigner.introduce(conn, sid)
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
            base = self._presences.require(current)
            return replace(
                base,
                status=AgentStatus.AVAILABLE,
                capacity=wanted or base.capacity,
                auto=auto,
                teams=base.teams if teams is None else teams,
            )

        await self._presences.send_status(conn, await self._presences.change(conn, available))
        self._ctx.dirty.set()

    async def set_away(self, conn: AgentConnection) -> None:
        def away(current: AgentPresence | None) -> AgentPresence:
            return replace(self._presences.require(current), status=AgentStatus.AWAY)

        await self._presences.send_status(conn, await self._presences.change(conn, away))

    async def take(self, conn: AgentConnection, sid: str) -> None:
        """Assign this waiting user to the specialist who picked them (see `Assigner.take`)."""
        await self._assigner.take(conn, sid)

    async def offer_request(self, conn: AgentConnection, sid: str) -> None:
        """Suggest to the user that the chat become a request; only the user's own `create_request`
        creates one. Confirmed to the specialist once the user's process has shown the offer."""
        self._presences.check_holds(conn, sid)
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
        self._presences.check_holds(conn, sid)
        relay = self._ctx.relay
        await relay.publish(relay.user_subject(sid), {"t": "msg", "akey": conn.akey, "text": text})

    async def typing(self, conn: AgentConnection, sid: str) -> None:
        self._presences.check_holds(conn, sid)
        relay = self._ctx.relay
        await relay.publish(relay.user_subject(sid), {"t": "typing", "akey": conn.akey})

    async def end(self, conn: AgentConnection, sid: str) -> None:
        self._presences.check_holds(conn, sid)
        # Released before the user hears of it: their leaving the queue must not read as `user_left`.
        if not await self._presences.release(conn, sid):
            raise NotAssigned("the user has left this chat")
        relay = self._ctx.relay
        await relay.publish(relay.user_subject(sid), {"t": "end", "akey": conn.akey})
        await conn.send(out.ChatEnded(session=sid, reason="specialist_ended"))

    async def disconnect(self, conn: AgentConnection) -> None:
        """The WebSocket closed: keep the chats for the grace period (a reload reconnects)."""
        if self.connections.get(conn.akey) is not conn:
            return  # replaced by a newer connection
        del self.connections[conn.akey]
        await self._presences.detach(conn)
        now = self._ctx.clock()

        def disconnected(current: AgentPresence | None) -> AgentPresence | None:
            if current is None or current.proc != self._ctx.proc:
                return None
            return replace(current, connected=False, disconnected_at=now)

        try:
            if await self._presences.change(conn, disconnected, allow_none=True) is not None:
                self._disconnected[conn.akey] = now
        except NATS_AWAY:  # the hub deletes the entry one TTL later (`Leftovers`): the same effect
            log.warning("agent_disconnect_incomplete", agent=conn.akey, exc_info=True)
        log.info("agent_disconnected", agent=conn.akey)

    # -- what the process does on its own ---------------------------------------------------------

    async def match(self) -> None:
        await self._assigner.match()

    async def reconcile(self) -> None:
        """Drop chats whose user left or was taken back; yield to a newer connection elsewhere."""
        directory = self._ctx.directory
        for conn in list(self.connections.values()):
            held = directory.agents.get(conn.akey)
            if held is None:
                continue
            if held.value.proc != self._ctx.proc:
                self.connections.pop(conn.akey, None)
                await self._presences.detach(conn)
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

    def held(self) -> set[str]:
        """The specialists whose entries this process writes (connected, or in their grace period)."""
        return {*self.connections, *self._disconnected}

    def own_presences(self) -> list[AgentPresence]:
        """The entries this process writes (connected here, or in their grace period here)."""
        directory = self._ctx.directory
        held = (directory.agents.get(akey) for akey in self.held())
        return [h.value for h in held if h is not None and h.value.proc == self._ctx.proc]

    async def republish(self, presences: list[AgentPresence]) -> None:
        """Write our specialists' entries again into a bucket that was lost, as they stood."""
        for presence in presences:
            await self._ctx.directory.put_agent(presence, revision=0)

    # -- internals --------------------------------------------------------------------------------

    async def _user_left(self, conn: AgentConnection, sid: str) -> None:
        """The one place a specialist hears `user_left`: the user's queue entry is gone (closed,
        disconnected, expired with a crashed process) or taken back. Said only by whoever released
        the chat, so a chat the specialist ended, or one already announced, is never announced again."""
        if await self._presences.release(conn, sid):
            await conn.send(out.UserLeft(session=sid))

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
