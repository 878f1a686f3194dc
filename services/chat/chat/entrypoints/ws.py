"""`/api/v1/chat/user` and `/api/v1/chat/agent`: the WebSocket protocols of users and specialists.

User → server:   auth · start {name, phone, question} · message {text} · typing · create_request
                 {topic?, importance?} · ping
Server → user:   ready · queued {session, position, specialists_online} · position · no_specialist
                 {reason, draft} · assigned {specialist} · message · typing · specialist_left ·
                 request_offered · ended {reason, draft} · request_created {number} ·
                 error {code, message} · pong
Specialist → server: auth · available {capacity?, auto?} · away · take {session} · message {session,
                 text} · typing {session} · offer_request {session} · end {session} · ping
Server → specialist: ready · status {status, capacity, auto, sessions} · queue {entries} ·
                 chat_assigned {session, name, phone, question, account_id} · message · typing ·
                 request_offered {session} · request_created {session, number} · user_left ·
                 chat_ended · error · pong

The queue: every connected specialist gets `queue` after `status` on connect, and again whenever the
waiting users change (at most every `queue_update_seconds`): `entries` in serving order (longest
waiting first, users whose specialist vanished at the head), each `{session, waiting_since (ISO 8601,
UTC), account_id, name, question, position}`; `name`/`question` are null while the user's process
has not answered. No phone: that comes with `chat_assigned`.

Taking by hand: `available` with `"auto": false` keeps the specialist out of automatic routing (the
default, `true`, is routing as before); `take {session}` assigns that waiting user to them (any
specialist may take), answered by `chat_assigned` (and `assigned` to the user) or an error:
`already_taken` (someone, or they, holds it), `capacity_exceeded`, `not_available` (away),
`not_waiting` (the user left or no such chat).

A request only when the user asks: `offer_request {session}` shows the user `request_offered` (then
`request_offered {session}` confirms it to the specialist); the user's own `create_request` makes it,
and both sides get `request_created` (the specialist's with `session`), whoever suggested it.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket
from prometheus_client import Counter

from chat.adapters.tickets import TicketsUnavailable
from chat.application.agents import AgentConnection
from chat.application.hub import ChatHub
from chat.application.users import UserSession
from chat.domain.errors import ChatError, InvalidIntake, NotAssigned, TooManyChats
from chat.domain.intake import IntakeLimits, make_intake
from chat.domain.routing import clean_teams
from chat.entrypoints.connection import CLOSE_IDLE, IDLE, Authenticated, FrameConnection
from chat.entrypoints.limits import count_chat_start
from chat.settings import ChatSettings
from shared.auth import Role
from shared.contracts.chat import EndReason
from shared.logging import bind_context, clear_contextvars, get_logger

RELAYED = Counter(
    "helpdesk_chat_messages_total", "Chat messages relayed (a count; never the text)", ["sender"]
)
ALLOWED_IMPORTANCE = frozenset({"low", "normal", "high", "critical"})

CLOSE_INTERNAL = 1011
# Handles one frame of its endpoint's protocol; False when it does not know the frame's type.
FrameHandler = Callable[[dict[str, Any]], Awaitable[bool]]
log = get_logger(__name__)
router = APIRouter(tags=["chat"])


class BadFrame(ChatError):
    """Raised when a well-formed frame lacks a field or carries a wrong value."""

    code = "bad_frame"


async def _internal_error(conn: FrameConnection, exc: Exception) -> None:
    """A bug, not bad input: tell the peer and close (1011). Logged by type and place only: an
    exception's message may quote the frame (pydantic's does), and chat text never reaches a log."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    log.error("chat_frame_failed", error=type(exc).__name__, where=where)
    await conn.error("internal_error", "something went wrong on our side")
    await conn.close(CLOSE_INTERNAL, "internal error")


def _hub(ws: WebSocket) -> ChatHub:
    hub = ws.app.state.chat_hub
    assert isinstance(hub, ChatHub)
    return hub


def _text(frame: dict[str, Any], field: str, *, limit: int) -> str:
    value = frame.get(field)
    if not isinstance(value, str) or not value.strip():
        raise BadFrame(f'"{field}" must be a non-empty string')
    if len(value) > limit:
        raise BadFrame(f'"{field}" is longer than {limit} characters')
    return value


def _session_id(frame: dict[str, Any]) -> str:
    value = frame.get("session")
    if not isinstance(value, str) or not value.isalnum() or len(value) > 64:
        raise BadFrame('"session" must be a session id')
    return value


async def _accept(ws: WebSocket, role: Role) -> tuple[FrameConnection, Authenticated] | None:
    conn = FrameConnection(ws, ws.app.state.settings)
    await ws.accept()
    clear_contextvars()
    auth = await conn.authenticate(ws.app.state.token_verifier, role=role)
    return (conn, auth) if auth is not None else None


async def _serve(conn: FrameConnection, handle: FrameHandler) -> bool:
    """Feed each valid frame to `handle`, answering errors with error frames, until the connection
    closes (False) or stays idle too long (True)."""
    while True:
        frame = await conn.receive()
        if frame is None:
            return False
        if frame is IDLE:
            return True
        assert isinstance(frame, dict)
        try:
            if frame["type"] == "ping":
                await conn.send({"type": "pong"})
            elif not await handle(frame):
                raise BadFrame(f"unknown frame type {frame['type'][:40]!r}")
        except InvalidIntake as exc:
            await conn.send({"type": "error", "code": exc.code, "field": exc.field, "message": str(exc)})
        except TooManyChats as exc:
            frame = {"type": "error", "code": exc.code, "scope": exc.scope, "limit": exc.limit}
            await conn.send({**frame, "message": str(exc)})
        except ChatError as exc:
            await conn.error(exc.code, str(exc))
        except TicketsUnavailable:
            await conn.error("tickets_unavailable", "the request could not be created; try again later")
        except Exception as exc:
            await _internal_error(conn, exc)


@router.websocket("/api/v1/chat/user")
async def user_chat(ws: WebSocket) -> None:
    accepted = await _accept(ws, Role.USER)
    if accepted is None:
        return
    conn, auth = accepted
    settings: ChatSettings = ws.app.state.settings
    hub = _hub(ws)
    bind_context(user=auth.principal.sub, account_id=auth.principal.account_id)
    limits = IntakeLimits(
        max_name_chars=settings.max_name_chars,
        max_question_chars=settings.max_question_chars,
        default_region=settings.default_region,
    )
    session: UserSession | None = None

    async def handle(frame: dict[str, Any]) -> bool:
        nonlocal session
        kind = frame["type"]
        if kind == "start":
            if session is not None:
                raise BadFrame("this chat has already started")
            intake = make_intake(
                name=str(frame.get("name", "")),
                phone=str(frame.get("phone", "")),
                question=str(frame.get("question", "")),
                limits=limits,
            )
            await count_chat_start(ws, auth.principal)  # the per-user and per-account start limits
            topic = frame.get("topic")
            if topic is not None and (not isinstance(topic, str) or not 0 < len(topic) <= 50):
                raise BadFrame('"topic" must be a topic id')
            session = await hub.users.open(
                auth.principal, intake, token=auth.token, send=conn.send, topic=topic
            )
            if session is not None:  # None: outside the topic's hours, a request was offered
                bind_context(session=session.sid)
            return True
        if kind not in {"message", "typing", "create_request"}:
            return False
        if session is None:
            raise NotAssigned('start the chat first ({"type": "start", …})')
        if kind == "message":
            await hub.users.message(session, _text(frame, "text", limit=settings.max_message_chars))
            RELAYED.labels("user").inc()
        elif kind == "typing":
            await hub.users.typing(session)
        else:
            importance = frame.get("importance")
            if importance is not None and importance not in ALLOWED_IMPORTANCE:
                raise BadFrame('"importance" must be one of ' + ", ".join(sorted(ALLOWED_IMPORTANCE)))
            topic = _text(frame, "topic", limit=64) if frame.get("topic") is not None else None
            await hub.users.create_request(session, topic=topic, importance=importance)
        return True

    reason = EndReason.USER_LEFT
    try:
        if await _serve(conn, handle):
            reason = EndReason.IDLE_TIMEOUT
            await conn.send({"type": "ended", "reason": "idle_timeout"})
            await conn.close(CLOSE_IDLE, "idle")
    finally:
        if session is not None:
            await hub.users.close(session, reason=reason)


@router.websocket("/api/v1/chat/agent")
async def agent_chat(ws: WebSocket) -> None:
    accepted = await _accept(ws, Role.AGENT)
    if accepted is None:
        return
    conn, auth = accepted
    settings: ChatSettings = ws.app.state.settings
    hub = _hub(ws)
    bind_context(user=auth.principal.sub, role="agent")
    try:
        agent: AgentConnection = await hub.agents.connect(auth.principal, send=conn.send, close=conn.close)
    except Exception as exc:  # NATS away or the bucket lost: say so rather than drop the socket
        log.warning("agent_not_connected", error=type(exc).__name__)
        await conn.error("unavailable", "the chat is not available right now; try again shortly")
        await conn.close(CLOSE_INTERNAL, "unavailable")
        return
    await hub.board.show(agent)

    async def handle(frame: dict[str, Any]) -> bool:
        kind = frame["type"]
        if kind == "available":
            capacity = frame.get("capacity")
            if capacity is not None and (not isinstance(capacity, int) or isinstance(capacity, bool)):
                raise BadFrame('"capacity" must be an integer')
            auto = frame.get("auto", True)
            if not isinstance(auto, bool):
                raise BadFrame('"auto" must be true or false')
            try:
                teams = clean_teams(frame["teams"]) if frame.get("teams") is not None else None
            except ValueError as exc:
                raise BadFrame(str(exc)) from None
            await hub.agents.set_available(agent, capacity=capacity, auto=auto, teams=teams)
        elif kind == "away":
            await hub.agents.set_away(agent)
        elif kind == "take":
            await hub.agents.take(agent, _session_id(frame))
        elif kind == "offer_request":
            await hub.agents.offer_request(agent, _session_id(frame))
        elif kind == "message":
            text = _text(frame, "text", limit=settings.max_message_chars)
            await hub.agents.message(agent, _session_id(frame), text)
            RELAYED.labels("specialist").inc()
        elif kind == "typing":
            await hub.agents.typing(agent, _session_id(frame))
        elif kind == "end":
            await hub.agents.end(agent, _session_id(frame))
        else:
            return False
        return True

    try:
        if await _serve(conn, handle):
            await conn.close(CLOSE_IDLE, "idle")
    finally:
        await hub.agents.disconnect(agent)
