"""The one Server-Sent Events reader of the suites: a stream read in the background into a queue, as
a browser tab would hold it open, with a bounded wait for the next event of a kind."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from tests.support.wait import WAIT


@dataclass
class SseEvent:
    event: str
    id: str
    data: dict[str, Any]
    raw: str = ""  # the data as sent, to look for what must never be in it


@dataclass
class SseReader:
    """Reads one SSE connection in the background; `next()` waits (bounded) for a matching event."""

    events: asyncio.Queue[SseEvent] = field(default_factory=asyncio.Queue)
    seen: list[SseEvent] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    status: int | None = None  # the answer's status code, once it came

    async def next(self, event: str | None = None, *, timeout: float = WAIT) -> SseEvent:
        async with asyncio.timeout(timeout):
            while True:
                found = await self.events.get()
                if event is None or found.event == event:
                    return found

    async def arrived_within(self, seconds: float, *, prefix: str = "") -> list[SseEvent]:
        """The events (named `prefix…`) that arrived by the end of `seconds` and were not read yet:
        `[]` is the proof that nothing of the kind came."""
        await asyncio.sleep(seconds)
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return [e for e in out if e.event.startswith(prefix)]

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


async def open_sse(
    base_url: str,
    path: str,
    *,
    token: str | None = None,
    last_event_id: str | None = None,
    params: dict[str, str] | None = None,
    wait_ready: bool = True,
) -> SseReader:
    """A stream opened with a bearer `token`, or as a browser's EventSource opens it (`token=None`,
    the credentials in `params`); `wait_ready` waits for the service's first event, `ready`."""
    reader = SseReader()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id

    async def read() -> None:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(WAIT, read=None)) as client,
            aconnect_sse(client, "GET", path, headers=headers, params=params) as source,
        ):
            reader.status = source.response.status_code
            source.response.raise_for_status()
            async for sse in source.aiter_sse():
                event = SseEvent(sse.event, sse.id, json.loads(sse.data) if sse.data else {}, sse.data)
                reader.seen.append(event)
                await reader.events.put(event)

    reader.task = asyncio.create_task(read())
    if wait_ready:
        await reader.next("ready")
    return reader
