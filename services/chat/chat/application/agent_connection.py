"""A specialist's connection in this process, and their presence entry changed by compare-and-set.

The presence (`chat.domain.model.AgentPresence`, key `a.<akey>`) is read from the mirror and written
only with the revision read; a conflict re-reads it from the server and tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.subscription import Subscription

from chat.application.context import HubContext, Send
from chat.domain import server_frames as out
from chat.domain.errors import CapacityExceeded, NotAssigned
from chat.domain.model import AgentPresence
from shared.auth import Principal

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


class Presences:
    """The specialists' entries as this process changes them."""

    def __init__(self, ctx: HubContext) -> None:
        self._ctx = ctx

    async def change(
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

    async def release(self, conn: AgentConnection, sid: str) -> bool:
        """Drop the chat from the specialist's entry; False when it was not (or no longer) there."""

        def without(current: AgentPresence | None) -> AgentPresence | None:
            if current is None or sid not in current.sessions:
                return None
            return current.without_session(sid)

        released = await self.change(conn, without, allow_none=True) is not None
        self._ctx.dirty.set()
        return released

    @staticmethod
    def require(current: AgentPresence | None) -> AgentPresence:
        if current is None:
            raise NotAssigned("not connected")
        return current

    def check_holds(self, conn: AgentConnection, sid: str) -> None:
        held = self._ctx.directory.agents.get(conn.akey)
        if held is None or sid not in held.value.sessions:
            raise NotAssigned("this chat is not yours (or has ended)")

    @staticmethod
    async def detach(conn: AgentConnection) -> None:
        if conn.subscription is not None:
            await conn.subscription.unsubscribe()
            conn.subscription = None

    @staticmethod
    async def send_status(conn: AgentConnection, presence: AgentPresence) -> None:
        await conn.send(
            out.Status(
                status=presence.status.value,
                capacity=presence.capacity,
                auto=presence.auto,
                sessions=list(presence.sessions),
                teams=list(presence.teams),
            )
        )
