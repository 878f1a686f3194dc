"""`GET /api/v1/popups/stream`: the user's popup changes as Server-Sent Events.

Each event is a public popup event (`event:` its type, `data:` its envelope, `id:` its position in the
store). The first event is `ready` with the current position, so a browser always has a
`Last-Event-ID`; reconnecting with it replays what the tab missed from the store, or sends `reset`
(reload the list) when the gap is too long. Comment lines keep idle connections alive.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from notifications.adapters.fanout import Change, Connection
from notifications.application.replay import Replay, changes_since
from notifications.components import Components, components
from notifications.entrypoints.popups import HotelUser, recipient_of

router = APIRouter(prefix="/api/v1/popups", tags=["popups"])
Parts = Annotated[Components, Depends(components)]


def _event(change: Change) -> ServerSentEvent:
    return ServerSentEvent(
        data=change.envelope.model_dump_json(serialize_as_any=True),
        event=change.envelope.type,
        id=str(change.position),
    )


def _resume_position(last_event_id: str | None, head: int) -> int | None:
    if last_event_id is None or not last_event_id.strip().isdigit():
        return None
    position = int(last_event_id.strip())
    return position if position <= head else None


@router.get("/stream", response_class=EventSourceResponse)
async def stream(
    principal: HotelUser,
    parts: Parts,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=32)] = None,
) -> EventSourceResponse:
    recipient = recipient_of(principal)
    # Listen before reading the position: nothing committed after it can be missed.
    connection = parts.hub.connect(account_id=recipient.account_id, user_id=recipient.user_id)
    try:
        head = await asyncio.to_thread(parts.store.head)
        resume = _resume_position(last_event_id, head)
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
        raise
    return EventSourceResponse(
        _events(parts, connection, head=head, replay=replay),
        ping=parts.settings.sse_heartbeat_seconds,
        send_timeout=30,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    parts: Components, connection: Connection, *, head: int, replay: Replay | None
) -> AsyncIterator[ServerSentEvent]:
    try:
        if replay is not None and not replay.complete:
            yield ServerSentEvent(data=json.dumps({"position": head}), event="reset", id=str(head))
        elif replay is not None:
            for event in replay.events:
                yield _event(Change(event.position, event.envelope))
        yield ServerSentEvent(data=json.dumps({"position": head}), event="ready", id=str(head))
        sent = head
        while True:
            change = await connection.queue.get()
            if change is None:
                return  # too slow or shutting down: the browser reconnects with Last-Event-ID
            if change.position <= sent:
                continue  # already in the replay, or older than what the list showed
            sent = change.position
            yield _event(change)
    finally:
        parts.hub.disconnect(connection)
