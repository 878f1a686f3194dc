"""One WebSocket, framed as JSON objects: first-message auth, limits, error frames, serialised sends.

Why the token comes in the first message and not in the URL: browsers cannot set an Authorization
header on a WebSocket, and a query string ends up in access logs, proxies and browser history. The
first frame must be `{"type": "auth", "token": "<JWT>"}` within `auth_timeout_seconds`.

Bad frames (not JSON, not an object, binary, too large, too many per second) get an error frame and
the connection stays open; only sustained abuse (`abuse_threshold` rejections in 10 s) closes it with
1008. Frames over uvicorn's `ws_max_size` (256 KiB) are a protocol violation and close it (1009).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import WebSocket
from prometheus_client import Counter
from starlette.websockets import WebSocketDisconnect, WebSocketState

from chat.domain.limits import AbuseMeter, TokenBucket
from chat.domain.server_frames import Error, Ready, ServerFrame
from chat.entrypoints.frames import FrameRefused, parse_auth_frame
from chat.settings import ChatSettings
from shared.auth import Principal, Role, TokenVerifier
from shared.errors import Unauthorized
from shared.logging import get_logger

log = get_logger(__name__)

REJECTED = Counter("helpdesk_chat_frames_rejected_total", "Chat frames answered with an error", ["reason"])

CLOSE_POLICY = 1008
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_IDLE = 4408
SEND_TIMEOUT_SECONDS = 5.0
# What sending on (or closing) a WebSocket the peer already left raises: uvicorn's `ClientDisconnected`
# is an OSError, Starlette raises `WebSocketDisconnect`, or a RuntimeError once a close was sent.
PEER_GONE = (OSError, RuntimeError, WebSocketDisconnect)


class Idle:
    """Returned by `receive()` when the peer sent nothing for `idle_timeout_seconds`."""


IDLE = Idle()


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    token: str


class FrameConnection:
    def __init__(self, ws: WebSocket, settings: ChatSettings) -> None:
        self._ws = ws
        self._settings = settings
        self._send_lock = asyncio.Lock()
        self._bucket = TokenBucket(
            rate=settings.rate_per_second, burst=settings.rate_burst, clock=time.monotonic
        )
        self._abuse = AbuseMeter(
            threshold=settings.abuse_threshold, window_seconds=10.0, clock=time.monotonic
        )
        self.closed = False

    async def send(self, frame: ServerFrame) -> None:
        if self.closed:
            return
        text = frame.wire_text()
        async with self._send_lock:
            try:
                # A peer that stops reading must not stall the relay or the hub's loop. (A timeout
                # scope, not `wait_for`: no task of its own for every frame sent.)
                async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                    await self._ws.send_text(text)
            except TimeoutError:
                log.warning("chat_peer_not_reading")
                self.closed = True
                with contextlib.suppress(*PEER_GONE, TimeoutError):
                    await asyncio.wait_for(self._ws.close(code=CLOSE_POLICY, reason="not reading"), 1.0)
            except PEER_GONE:  # the peer went away mid-send; the receive loop will see the close
                self.closed = True

    async def error(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        scope: Literal["user", "account"] | None = None,
        limit: int | None = None,
    ) -> None:
        REJECTED.labels(code).inc()
        await self.send(Error(code=code, message=message, field=field, scope=scope, limit=limit))

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        async with self._send_lock:
            if self._ws.application_state is WebSocketState.CONNECTED:
                try:
                    await self._ws.close(code=code, reason=reason)
                except PEER_GONE:  # already closed by the peer
                    log.debug("ws_close_failed")

    async def authenticate(self, verifier: TokenVerifier, *, role: Role) -> Authenticated | None:
        """The first frame's token, verified and of the right role; else an error frame and a close."""
        frame = await self.receive(within=self._settings.auth_timeout_seconds)
        if frame is None:
            return None
        if frame is IDLE or not isinstance(frame, dict) or frame.get("type") != "auth":
            await self.error("unauthorized", 'the first frame must be {"type": "auth", "token": …}')
            await self.close(CLOSE_UNAUTHORIZED, "unauthorized")
            return None
        try:
            try:
                token = parse_auth_frame(frame).token
            except FrameRefused:
                raise Unauthorized("a token is required") from None
            principal = await verifier.verify_async(token)  # a JWKS fetch must not block the loop
        except Unauthorized as exc:
            await self.error("unauthorized", exc.message)
            await self.close(CLOSE_UNAUTHORIZED, "unauthorized")
            return None
        if principal.role is not role:
            await self.error("forbidden", f"this endpoint is for the role {role.value}")
            await self.close(CLOSE_FORBIDDEN, "forbidden")
            return None
        await self.send(Ready(name=principal.name))
        return Authenticated(principal=principal, token=token)

    async def receive(self, *, within: float | None = None) -> dict[str, Any] | Idle | None:
        """The next valid frame; IDLE after the idle timeout; None once the connection is closed."""
        wait = within if within is not None else self._settings.idle_timeout_seconds
        while not self.closed:
            try:
                async with asyncio.timeout(wait):  # not `wait_for`: no task for every frame received
                    message = await self._ws.receive()
            except TimeoutError:
                return IDLE
            if message["type"] == "websocket.disconnect":
                self.closed = True
                return None
            frame = await self._check(dict(message))
            if frame is not None:
                return frame
        return None

    async def _check(self, message: dict[str, Any]) -> dict[str, Any] | None:
        text = message.get("text")
        reason: tuple[str, str] | None = None
        frame: Any = None
        if not self._bucket.allow():
            reason = ("rate_limited", "too many frames; slow down")
        elif text is None:
            reason = ("bad_frame", "frames are JSON text, not binary")
        elif (
            len(text) > self._settings.max_frame_bytes or len(text.encode()) > self._settings.max_frame_bytes
        ):
            reason = ("frame_too_large", f"a frame may be at most {self._settings.max_frame_bytes} bytes")
        else:
            try:
                frame = json.loads(text)
            except ValueError:
                reason = ("bad_frame", "the frame is not valid JSON")
            else:
                if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                    reason = ("bad_frame", 'a frame is a JSON object with a "type"')
        if reason is None:
            return frame if isinstance(frame, dict) else None
        await self.error(*reason)
        if self._abuse.record():
            log.warning("chat_connection_abusive", reason=reason[0])
            await self.close(CLOSE_POLICY, "too many bad frames")
        return None
