"""`GET /api/v1/tickets/stream`: every ticket event, live, for support's inbox (Server-Sent Events).

One SSE event per ticket event: `event: ticket.<type>`, `id: <TICKETS stream sequence>`, `data:` the
event's identity only (`TicketStreamEvent`), never a message, comment or note text: the console reloads
what it shows through the API, which applies the usual access rules. The first event is `ready`, whose
id is the position the stream starts after, so a client always has a `Last-Event-ID` to resume from;
`"reset": true` in it means the events since the `Last-Event-ID` sent could not be replayed (reload the
list and the counts). Comment lines every `stream_heartbeat_seconds` keep idle connections open.

Support only, with the bearer token in `Authorization` (the console reads it with `fetch()`, so there
is no token in the URL); the request must ask for `text/event-stream` in `Accept`, so a stray plain
GET never holds a connection open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from shared.auth import AgentUser
from shared.contracts.envelope import ActorKind
from shared.errors import ApiError, ErrorBody, ServiceUnavailable
from shared.logging import get_logger
from shared.parsing import event_id
from tickets.adapters.live import FeedClosed, Follower, LiveEvent, TicketFeed
from tickets.entrypoints.http_deps import Settings

log = get_logger(__name__)

EVENT_STREAM = "text/event-stream"


class NotAcceptable(ApiError):
    """Raised when a request for the event stream does not accept `text/event-stream`."""

    status_code = 406
    code = "not_acceptable"


class TicketStreamEvent(BaseModel):
    """The `data` of one `ticket.<type>` event of the stream: which ticket changed, never its texts."""

    event_id: UUID = Field(description="The public event's id (stable; its `Nats-Msg-Id`).")
    type: str = Field(description="The event type, e.g. `ticket.replied` (also the SSE `event`).")
    ticket_id: UUID
    number: str | None = Field(description="The ticket number, e.g. HD-000123.")
    account_id: str
    version: int = Field(description="The ticket's version after this event (compare with its `ETag`).")
    occurred_at: datetime
    actor_kind: ActorKind = Field(description="Who caused it: user, agent or system.")


class StreamReady(BaseModel):
    """The `data` of the first event, `ready`."""

    last_seq: int = Field(description="The stream position the events start after (also its SSE id).")
    reset: bool = Field(description="The events since `Last-Event-ID` were not replayed: reload.")


async def feed_of(request: Request) -> TicketFeed:
    feed: TicketFeed = request.app.state.live
    return feed


def accepts_event_stream(request: Request) -> None:
    accept = request.headers.get("accept", "")
    if EVENT_STREAM not in accept.lower():
        raise NotAcceptable(f"this is an event stream: send `Accept: {EVENT_STREAM}`")


def resume_point(last_event_id: str | None) -> int | None:
    """The stream sequence to resume after; a value this stream cannot have sent is a 422."""
    return event_id(last_event_id, loc=["header", "Last-Event-ID"])


def stream_data(event: LiveEvent) -> str:
    envelope = event.envelope
    return TicketStreamEvent(
        event_id=envelope.event_id,
        type=envelope.type,
        ticket_id=envelope.aggregate_id,
        number=envelope.ticket_number,
        account_id=envelope.account_id,
        version=envelope.aggregate_version,
        occurred_at=envelope.occurred_at,
        actor_kind=envelope.actor.kind,
    ).model_dump_json()


async def _events(feed: TicketFeed, follower: Follower) -> AsyncIterator[ServerSentEvent]:
    try:
        start = follower.start
        ready = StreamReady(last_seq=start.sequence - 1, reset=start.reset)
        yield ServerSentEvent(data=ready.model_dump_json(), event="ready", id=str(ready.last_seq))
        async for event in follower:
            yield ServerSentEvent(data=stream_data(event), event=event.envelope.type, id=str(event.sequence))
    finally:
        await feed.close(follower)


STREAM_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "model": TicketStreamEvent,
        "description": "`text/event-stream`: first `event: ready` (data: "
        '`{"last_seq": n, "reset": false}`), then per ticket event `event: ticket.<type>`, '
        "`id: <stream sequence>`, data: `TicketStreamEvent` (as shown); "
        "`: ping` comment lines in between.",
    },
    **{code: {"model": ErrorBody} for code in (401, 403, 406, 422, 503)},
}


async def heartbeat_of(settings: Settings) -> float:
    return settings.stream_heartbeat_seconds


Feed = Annotated[TicketFeed, Depends(feed_of)]
Heartbeat = Annotated[float, Depends(heartbeat_of)]
router = APIRouter(prefix="/api/v1/tickets", tags=["history"])


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    summary="Support: every ticket event, live (Server-Sent Events, resumable with Last-Event-ID)",
    responses=STREAM_RESPONSES,
)
async def stream(
    request: Request,
    principal: AgentUser,
    feed: Feed,
    heartbeat_seconds: Heartbeat,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", max_length=20, description="Resume after this event's id."),
    ] = None,
) -> EventSourceResponse:
    accepts_event_stream(request)  # after the caller is known: 401 and 403 come first
    resume_after = resume_point(last_event_id)
    try:
        follower = await feed.open(resume_after)
    except FeedClosed:
        raise ServiceUnavailable("shutting down: reconnect") from None
    start = follower.start
    log.info("ticket_stream_opened", start=start.sequence, reset=start.reset, agent=principal.sub)
    return EventSourceResponse(
        _events(feed, follower),
        ping=heartbeat_seconds,
        send_timeout=30,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
