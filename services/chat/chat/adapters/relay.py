"""The live relay over core NATS (never JetStream): one subject per user session, one per specialist.

    <prefix>.helpdesk.chat.rt.u.<session id>     to the process holding that user's WebSocket
    <prefix>.helpdesk.chat.rt.a.<agent key>      to the process holding that specialist's WebSocket

Core NATS keeps nothing: a message published with no subscriber is simply gone.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError, TimeoutError

from shared.contracts.chat import RELAY_SUBJECT_ROOT
from shared.contracts.subjects import with_prefix
from shared.logging import get_logger

log = get_logger(__name__)

Payload = dict[str, Any]
Handler = Callable[[Payload, Msg], Awaitable[None]]


class Relay:
    def __init__(self, nc: NATS, *, prefix: str) -> None:
        self._nc = nc
        self._root = with_prefix(prefix, RELAY_SUBJECT_ROOT)

    def user_subject(self, sid: str) -> str:
        return f"{self._root}.u.{sid}"

    def agent_subject(self, akey: str) -> str:
        return f"{self._root}.a.{akey}"

    async def subscribe(self, subject: str, handler: Handler) -> Subscription:
        async def on_message(msg: Msg) -> None:
            try:
                payload = json.loads(msg.data)
            except ValueError:
                log.warning("relay_bad_payload", size=len(msg.data))
                return
            if isinstance(payload, dict):
                await handler(payload, msg)

        return await self._nc.subscribe(subject, cb=on_message)

    async def publish(self, subject: str, payload: Payload) -> None:
        await self._nc.publish(subject, _encode(payload))

    async def request(self, subject: str, payload: Payload, *, within: float) -> Payload | None:
        """The reply, or None when nobody holds that subject any more (or it did not answer)."""
        try:
            msg = await self._nc.request(subject, _encode(payload), timeout=within)
        except (NoRespondersError, TimeoutError):
            return None
        reply = json.loads(msg.data)
        return reply if isinstance(reply, dict) else None

    @staticmethod
    async def reply(msg: Msg, payload: Payload) -> None:
        if msg.reply:
            await msg.respond(_encode(payload))


def _encode(payload: Payload) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
