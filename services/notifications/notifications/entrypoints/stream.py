"""`GET /api/v1/popups/stream`: the user's popup changes as Server-Sent Events.

Each event is a public popup event (`event:` its type, `data:` its envelope, `id:` its position in the
store). The first event is `ready` with the current position, so a browser always has a
`Last-Event-ID`; reconnecting with it replays what the tab missed from the store, or sends `reset`
(reload the list) when the gap is too long. Comment lines keep idle connections alive.

A browser's `EventSource` can send neither `Authorization` nor, on a fresh instance, `Last-Event-ID`:
it first `POST`s to `/stream-token` with its bearer token and opens
`/stream?access_token=…&last_event_id=…`. The headers, when present, take precedence.

An open stream is held by its own small response, not `EventSourceResponse`: that one runs a task
group of four tasks (sender, ping, disconnect and exit-signal listeners) per stream and serialises
each event per stream, ~58 KiB a stream in all. Here a stream is the request's own task sending from
its queue, and frames are encoded once per change (`Change.frame`). Per process, not per stream: one
timer queues the heartbeat for the idle streams, one watcher ends every stream on shutdown, and the
HTTP server reports a lost connection by callback (`shared.httpserver.ON_DISCONNECT`), so no task
waits on `receive()` per stream (one does where the server lacks it, e.g. in-process test clients).

Once checked and opened, the stream leaves FastAPI's request chain (`StreamBranch`, in front of the
app): the request's middleware, exit stacks and dependency values are freed, ~10 KB a stream. While
its sender is idle, the hub writes changes and heartbeats to the tab itself
(`shared.httpserver.WRITE_BODY`), with no task step per stream; a tab whose write buffer is full gets
them through its queue and its sender, which waits for it, and is ended when the queue overflows.
"""

from __future__ import annotations

import asyncio
import functools
import json
import weakref
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notifications.adapters.fanout import Change, Connection, Hub
from notifications.application.replay import changes_since
from notifications.entrypoints.deps import HotelUser, Parts, recipient_of
from shared.auth import Principal, Role, current_principal
from shared.edge import RouteRule
from shared.errors import Forbidden, Unauthorized
from shared.httpserver import ON_DISCONNECT, WRITE_BODY
from shared.logging import bind_context
from shared.parsing import event_id
from shared.ratelimit import limiter_of
from shared.streamslots import StreamSlot

router = APIRouter(prefix="/api/v1/popups", tags=["popups"])
# For the HTTP edge: the stream checks its own token (a bearer one, or the stream's `access_token`).
PUBLIC_ROUTES = (RouteRule("GET", f"{router.prefix}/stream"),)


class StreamTokenResponse(BaseModel):
    access_token: str = Field(description="For the stream URL (`?access_token=`), until `expires_at`.")
    token_type: str = "popup-stream"  # noqa: S105 -- a kind, not a secret
    expires_in: int = Field(description="Seconds it stays valid for opening the stream.")
    expires_at: AwareDatetime
    stream_path: str = Field(description="The stream URL with the token, ready for `new EventSource(…)`.")


@router.post("/stream-token", response_model=StreamTokenResponse)
async def stream_token(principal: HotelUser, parts: Parts, response: Response) -> StreamTokenResponse:
    """A short-lived token that opens this user's popup stream, and nothing else."""
    issued = parts.stream_tokens.issue(principal, now=parts.clock.now())
    response.headers["Cache-Control"] = "no-store"
    return StreamTokenResponse(
        access_token=issued.token,
        expires_in=parts.settings.stream_token_seconds,
        expires_at=issued.expires_at,
        stream_path=f"{router.prefix}/stream?access_token={issued.token}",
    )


async def stream_user(
    request: Request,
    parts: Parts,
    access_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> Principal:
    """The bearer token's hotel user, or else the stream token's (accepted on this endpoint only)."""
    if request.headers.get("authorization"):
        principal = await current_principal(request)
        if principal.role is not Role.USER:
            raise Forbidden("this needs the role user")
        return principal
    if not access_token:
        raise Unauthorized("a bearer token or a stream access_token is required")
    principal = parts.stream_tokens.verify(access_token, now=parts.clock.now())
    request.state.principal = principal
    bind_context(user=principal.sub, role=principal.role.value, account_id=principal.account_id)
    return principal


StreamUser = Annotated[Principal, Depends(stream_user)]


def _resume_position(position: int | None, head: int) -> int | None:
    return position if position is not None and position <= head else None


@router.get("/stream", response_class=EventSourceResponse)
async def stream(
    principal: StreamUser,
    parts: Parts,
    request: Request,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=32)] = None,
    last_event_id_query: Annotated[str | None, Query(alias="last_event_id", max_length=32)] = None,
) -> Response:
    recipient = recipient_of(principal)
    resume_from = (  # an id this stream cannot have sent is a 422, not a fresh start in disguise
        event_id(last_event_id, loc=["header", "Last-Event-ID"])
        if last_event_id is not None
        else event_id(last_event_id_query, loc=["query", "last_event_id"])
    )
    slot = await limiter_of(request.app).open_stream(principal)  # 429 when they hold too many
    # Listen before reading the position: nothing committed after it can be missed.
    connection = parts.hub.connect(account_id=recipient.account_id, user_id=recipient.user_id)
    try:
        head = await asyncio.to_thread(parts.store.head)
        resume = _resume_position(resume_from, head)
        replay = None
        if resume is not None and resume < head:
            replay = await asyncio.to_thread(
                changes_since,
                parts.store,
                resume,
                upto=head,
                recipient=recipient,
                path_template=parts.settings.ticket_path_template,
                limit=parts.settings.sse_resume_scan_limit,
            )
    except BaseException:
        parts.hub.disconnect(connection)
        slot.release()
        raise
    first: list[bytes] = []
    if replay is not None and not replay.complete:
        first.append(_control("reset", head))
    elif replay is not None:
        first.extend(Change(event.position, event.envelope).frame for event in replay.events)
    first.append(_control("ready", head))
    _watch_hub(parts.hub, heartbeat=parts.settings.sse_heartbeat_seconds)
    return PopupStream(connection=connection, hub=parts.hub, slot=slot, first=first, head=head)


def _control(event: str, position: int) -> bytes:
    return ServerSentEvent(data=json.dumps({"position": position}), event=event, id=str(position)).encode()


_SEND_TIMEOUT_SECONDS = 30.0  # a tab that takes no bytes for this long is ended, and reconnects
_PING = ServerSentEvent(comment="ping").encode()
_hub_watches: weakref.WeakKeyDictionary[Hub, asyncio.Task[None]] = weakref.WeakKeyDictionary()


def _watch_hub(hub: Hub, *, heartbeat: float) -> None:
    """One task per hub: the heartbeat of its idle streams every `heartbeat` seconds, and the end of
    every stream when the server is told to exit (as `EventSourceResponse` does per stream), so a
    graceful shutdown never waits on browsers."""
    watch = _hub_watches.get(hub)
    loop = asyncio.get_running_loop()
    if watch is not None and not watch.done() and watch.get_loop() is loop:
        return

    async def beat() -> None:
        while True:
            await asyncio.sleep(heartbeat)
            await hub.heartbeat(_PING)

    async def run() -> None:
        beating = loop.create_task(beat(), name="sse-heartbeat")
        try:
            await EventSourceResponse._listen_for_exit_signal()
        finally:
            beating.cancel()
        hub.close_all()

    _hub_watches[hub] = loop.create_task(run(), name="sse-hub-watch")


class PopupStream(Response):
    """The open stream: `first` (replay or reset, then ready), then the hub's changes and heartbeats.

    Sent by the route as any response, it sends its head and `first`, then, when `StreamBranch` is in
    front of the app, hands itself over and returns, so FastAPI's request chain (its exit stacks, the
    dependency values, the middleware frames) ends; the branch runs it from there (`run`)."""

    media_type = "text/event-stream"

    def __init__(
        self, *, connection: Connection, hub: Hub, slot: StreamSlot, first: list[bytes], head: int
    ) -> None:
        # No body: no Content-Length (as `StreamingResponse` does it).
        self.status_code, self.background = 200, None
        self.init_headers({"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self._connection, self._hub, self._slot = connection, hub, slot
        self._first = first
        connection.sent = head

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            for frame in self._first:
                await self._send(send, frame)
            self._first = []
        except TimeoutError:
            self._end()  # the tab took nothing in time: ended, it reconnects
            return
        except BaseException:
            self._end()
            raise
        handover: _Handover | None = scope.get(_HANDOVER)
        if handover is not None:
            handover.stream = self
            return
        await self.run(scope, receive, send)

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the hub's changes and heartbeats until the stream ends, then end it."""
        extensions = scope.get("extensions") or {}
        on_disconnect = extensions.get(ON_DISCONNECT)
        watcher = None
        if on_disconnect is not None:
            on_disconnect(functools.partial(self._hub.close, self._connection))
        else:
            watcher = asyncio.create_task(self._until_disconnected(receive))
        connection = self._connection
        # From now the hub writes to the tab itself while this sender is idle (`fanout.Hub._deliver`).
        connection.write = extensions.get(WRITE_BODY)
        try:
            queue = connection.queue
            while True:
                change = await queue.get()
                if change is None:
                    break  # too slow, gone or shutting down: the browser reconnects with Last-Event-ID
                if isinstance(change, bytes):
                    await self._send(send, change)  # the heartbeat
                    continue
                if change.position <= connection.sent:
                    continue  # already sent: in the replay, or older than what the list showed
                connection.sent = change.position
                await self._send(send, change.frame)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except TimeoutError:
            pass  # a send that did not finish in time: the tab is ended and reconnects
        finally:
            if watcher is not None:
                watcher.cancel()
            elif on_disconnect is not None:
                on_disconnect(None)
            self._end()

    def _end(self) -> None:
        self._connection.write = None
        self._hub.disconnect(self._connection)
        self._slot.release()

    @staticmethod
    async def _send(send: Send, body: bytes) -> None:
        async with asyncio.timeout(_SEND_TIMEOUT_SECONDS):
            await send({"type": "http.response.body", "body": body, "more_body": True})

    async def _until_disconnected(self, receive: Receive) -> None:
        message: Message = await receive()
        while message["type"] != "http.disconnect":
            message = await receive()
        self._hub.close(self._connection)


_HANDOVER = "helpdesk.popup_stream_handover"


class _Handover:
    __slots__ = ("stream",)

    def __init__(self) -> None:
        self.stream: PopupStream | None = None


class StreamBranch:
    """ASGI, in front of the app's middleware: the open popup stream held outside FastAPI.

    The request goes through the whole app as any other (request id, CORS, the edge, the stream's
    token, `Last-Event-ID`, the per-user stream limit, and every refusal in the one JSON error
    shape), on a copy of its scope. Once the stream has sent its head and first events it hands
    itself over here and the app's chain returns (its exit stacks closed, its frames and the copy
    of the scope freed; the request's metrics and span then record the opening, not the stream's
    life); this branch then runs the stream with the server's own `send`, ~10 KB a stream less."""

    def __init__(self, app: ASGIApp, *, path: str = f"{router.prefix}/stream") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        stream = await self._checked(scope, receive, send)
        if stream is not None:
            await stream.run(scope, receive, send)

    async def _checked(self, scope: Scope, receive: Receive, send: Send) -> PopupStream | None:
        """The app's answer to the request: sent, and None, unless it is an open stream handed over."""
        handover = _Handover()

        async def send_until_handed_over(message: Message) -> None:
            # After the handover the only message left is the request-context middleware ending the
            # body it saw start: the stream goes on here instead.
            if handover.stream is None:
                await send(message)

        copy = {**scope, "state": dict(scope.get("state") or {}), _HANDOVER: handover}
        await self.app(copy, receive, send_until_handed_over)
        return handover.stream
