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

Every frame the server sends is a typed model (`chat.domain.server_frames`, one union per endpoint);
every frame it receives is parsed strictly into its type (`chat.entrypoints.frames`): a field of the wrong
type, with control characters or too long is refused with `error {code: "bad_frame", field,
message}` and the connection goes on. A `start` beyond the open chats allowed to the user or their
hotel account (settings `max_chats_per_user`, `max_chats_per_account`, counted over every chat
process) gets `error {code: "too_many_chats", scope: "user" | "account", limit, message}`.

A request only when the user asks: `offer_request {session}` shows the user `request_offered` (then
`request_offered {session}` confirms it to the specialist); the user's own `create_request` makes it,
and both sides get `request_created` (the specialist's with `session`), whoever suggested it.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, WebSocket
from prometheus_client import Counter

from chat.adapters.errors import NATS_AWAY
from chat.adapters.tickets import TicketsUnavailable
from chat.application.agent_connection import AgentConnection
from chat.application.hub import ChatHub
from chat.application.user_session import UserSession
from chat.domain.errors import ChatError, InvalidIntake, NotAssigned, TooManyChats
from chat.domain.intake import IntakeLimits, make_intake
from chat.domain.server_frames import Ended, Pong
from chat.entrypoints.connection import CLOSE_IDLE, IDLE, Authenticated, FrameConnection
from chat.entrypoints.frames import (
    AgentFrame,
    AgentMessage,
    AgentTyping,
    Available,
    Away,
    CreateRequest,
    EndChat,
    FrameLimits,
    FrameRefused,
    OfferRequest,
    Ping,
    StartChat,
    Take,
    UserFrame,
    UserMessage,
    UserTyping,
    parse_agent_frame,
    parse_user_frame,
)
from chat.entrypoints.limits import count_chat_start
from chat.settings import ChatSettings
from shared.auth import Role
from shared.contracts.chat import EndReason
from shared.logging import bind_context, clear_contextvars, get_logger

RELAYED = Counter(
    "helpdesk_chat_messages_total", "Chat messages relayed (a count; never the text)", ["sender"]
)
CLOSE_INTERNAL = 1011
F = TypeVar("F")
log = get_logger(__name__)
# NATS away, or the specialist's entry kept changing (CapacityExceeded after every attempt).
_NOT_CONNECTED: tuple[type[Exception], ...] = (*NATS_AWAY, ChatError)
router = APIRouter(tags=["chat"])


class BadFrame(ChatError):
    """Raised when a valid frame comes at the wrong moment (a second `start`)."""

    code = "bad_frame"


async def _internal_error(conn: FrameConnection, exc: Exception) -> None:
    """A bug, not bad input: tell the peer and close (1011). Logged with its type and the whole
    traceback but not its message: an exception's message may quote the frame (pydantic's does), and
    chat text never reaches a log."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    stack = "".join(traceback.format_list(frames))
    log.error("chat_frame_failed", error=type(exc).__name__, where=where, traceback=stack)
    await conn.error("internal_error", "something went wrong on our side")
    await conn.close(CLOSE_INTERNAL, "internal error")


def _hub(ws: WebSocket) -> ChatHub:
    hub = ws.app.state.chat_hub
    assert isinstance(hub, ChatHub)
    return hub


@dataclass(frozen=True, slots=True)
class _Peer:
    conn: FrameConnection
    auth: Authenticated
    settings: ChatSettings
    hub: ChatHub


async def _accept(ws: WebSocket, role: Role, /, **context: str | None) -> _Peer | None:
    """The WebSocket accepted and authenticated for `role`, its ids bound to the log context; None
    when authentication failed (the peer was told and the socket closed)."""
    settings: ChatSettings = ws.app.state.settings
    conn = FrameConnection(ws, settings)
    await ws.accept()
    clear_contextvars()
    auth = await conn.authenticate(ws.app.state.token_verifier, role=role)
    if auth is None:
        return None
    bind_context(user=auth.principal.sub, **context)
    return _Peer(conn=conn, auth=auth, settings=settings, hub=_hub(ws))


def _limits(settings: ChatSettings) -> FrameLimits:
    return FrameLimits(max_message_chars=settings.max_message_chars)


async def _serve(
    conn: FrameConnection,
    parse: Callable[[dict[str, Any]], F],
    handle: Callable[[F], Awaitable[None]],
) -> bool:
    """Feed each frame, parsed into its type, to `handle`, answering errors with error frames
    (a refused frame's names the field), until the connection closes (False) or stays idle too
    long (True)."""
    while True:
        raw = await conn.receive()
        if raw is None:
            return False
        if raw is IDLE:
            return True
        assert isinstance(raw, dict)
        try:
            frame = parse(raw)
            if isinstance(frame, Ping):
                await conn.send(Pong())
            else:
                await handle(frame)
        except (FrameRefused, InvalidIntake) as exc:
            await conn.error(exc.code, str(exc), field=exc.field)
        except TooManyChats as exc:
            await conn.error(exc.code, str(exc), scope=exc.scope, limit=exc.limit)
        except ChatError as exc:
            await conn.error(exc.code, str(exc))
        except TicketsUnavailable:
            await conn.error("tickets_unavailable", "the request could not be created; try again later")
        except Exception as exc:  # noqa: BLE001 — one frame's bug closes its connection, not the process
            await _internal_error(conn, exc)


@router.websocket("/api/v1/chat/user")
async def user_chat(ws: WebSocket) -> None:
    peer = await _accept(ws, Role.USER)
    if peer is None:
        return
    conn, auth, settings, hub = peer.conn, peer.auth, peer.settings, peer.hub
    bind_context(account_id=auth.principal.account_id)
    limits = IntakeLimits(
        max_name_chars=settings.max_name_chars,
        max_question_chars=settings.max_question_chars,
        default_region=settings.default_region,
    )
    frame_limits = _limits(settings)
    session: UserSession | None = None

    def parse(raw: dict[str, Any]) -> UserFrame:
        return parse_user_frame(raw, frame_limits)

    async def start(frame: StartChat) -> UserSession | None:
        """The start path, one call a step: the intake checked, the start counted, the chat opened."""
        intake = make_intake(name=frame.name, phone=frame.phone, question=frame.question, limits=limits)
        await count_chat_start(ws, auth.principal)  # the per-user and per-account start limits
        return await hub.users.open(
            auth.principal, intake, token=auth.token, send=conn.send, topic=frame.topic
        )

    async def handle(frame: UserFrame) -> None:
        nonlocal session
        if isinstance(frame, StartChat):
            if session is not None:
                raise BadFrame("this chat has already started")
            session = await start(frame)
            if session is not None:
                bind_context(session=session.sid)
            return
        if session is None:
            raise NotAssigned('start the chat first ({"type": "start", …})')
        if isinstance(frame, UserMessage):
            await hub.users.message(session, frame.text)
            RELAYED.labels("user").inc()
        elif isinstance(frame, UserTyping):
            await hub.users.typing(session)
        elif isinstance(frame, CreateRequest):
            await hub.users.create_request(session, topic=frame.topic, importance=frame.importance)

    reason = EndReason.USER_LEFT
    try:
        if await _serve(conn, parse, handle):
            reason = EndReason.IDLE_TIMEOUT
            await conn.send(Ended(reason="idle_timeout"))
            await conn.close(CLOSE_IDLE, "idle")
    finally:
        if session is not None:
            await hub.users.close(session, reason=reason)


@router.websocket("/api/v1/chat/agent")
async def agent_chat(ws: WebSocket) -> None:
    peer = await _accept(ws, Role.AGENT, role="agent")
    if peer is None:
        return
    conn, auth, settings, hub = peer.conn, peer.auth, peer.settings, peer.hub
    try:
        agent: AgentConnection = await hub.agents.connect(auth.principal, send=conn.send, close=conn.close)
    except _NOT_CONNECTED:  # NATS away or the bucket lost: say so rather than drop the socket
        log.warning("agent_not_connected", exc_info=True)
        await conn.error("unavailable", "the chat is not available right now; try again shortly")
        await conn.close(CLOSE_INTERNAL, "unavailable")
        return
    await hub.board.show(agent)

    async def handle(frame: AgentFrame) -> None:
        if isinstance(frame, Available):
            teams = tuple(dict.fromkeys(frame.teams)) if frame.teams is not None else None
            await hub.agents.set_available(agent, capacity=frame.capacity, auto=frame.auto, teams=teams)
        elif isinstance(frame, Away):
            await hub.agents.set_away(agent)
        elif isinstance(frame, Take):
            await hub.agents.take(agent, frame.session)
        elif isinstance(frame, OfferRequest):
            await hub.agents.offer_request(agent, frame.session)
        elif isinstance(frame, AgentMessage):
            await hub.agents.message(agent, frame.session, frame.text)
            RELAYED.labels("specialist").inc()
        elif isinstance(frame, AgentTyping):
            await hub.agents.typing(agent, frame.session)
        elif isinstance(frame, EndChat):
            await hub.agents.end(agent, frame.session)

    frame_limits = _limits(settings)

    def parse(raw: dict[str, Any]) -> AgentFrame:
        return parse_agent_frame(raw, frame_limits)

    try:
        if await _serve(conn, parse, handle):
            await conn.close(CLOSE_IDLE, "idle")
    finally:
        await hub.agents.disconnect(agent)
