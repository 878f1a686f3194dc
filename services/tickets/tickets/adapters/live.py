"""Ticket events as they reach the TICKETS stream, for support's live inbox (`GET /api/v1/tickets/stream`).

Each open stream follows the public `v1` ticket subjects with its own ephemeral *ordered* consumer
(nats-py's: memory storage, no acks, flow control and idle heartbeats; a gap or a lost consumer is
recreated from the last stream sequence seen, so nothing is skipped or repeated). It starts either at
the next message, or right after the `Last-Event-ID` a reconnecting browser sends (the SSE id is the
stream sequence), as long as that point is still in the stream and at most `replay_max` messages back;
otherwise the follower starts at the next message and says `reset` (reload the list and the counts).

Why not the history projection's pull consumer or a process-wide fan-out: every connection has its own
resume point, and the ordered consumer is the stream client the NATS libraries provide for exactly
this (one reader, in order, starting anywhere, gone when the reader is). Why not a durable consumer:
nothing here is worth remembering once the browser is gone.

A follower whose reader falls `queue_size` events behind is ended (never buffered without bound); its
browser reconnects with `Last-Event-ID` and is replayed from the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from prometheus_client import Gauge
from pydantic import ValidationError

from shared.contracts.envelope import RawEnvelope
from shared.contracts.subjects import ROOT, with_prefix
from shared.contracts.tickets import DOMAIN, SCHEMA_VERSION
from shared.logging import get_logger
from tickets.adapters.relay import tickets_stream_name

log = get_logger(__name__)

OPEN_STREAMS = Gauge("helpdesk_tickets_live_streams", "Support's open live ticket streams in this process")


@dataclass(frozen=True)
class Start:
    """Where a follower starts: `sequence` is the first stream sequence it may deliver; `reset` when the
    resume point asked for cannot be replayed (too far back, aged out, or from a stream since reset)."""

    sequence: int
    reset: bool = False


def start_of(resume_after: int | None, *, first_seq: int, last_seq: int, replay_max: int) -> Start:
    """The start for a reader that last saw `resume_after` (None: a fresh reader), given the stream's
    current first and last sequence (both 0 when it has never held a message)."""
    fresh = Start(last_seq + 1)
    if resume_after is None:
        return fresh
    wanted = resume_after + 1
    aged_out = first_seq > wanted
    if resume_after > last_seq or aged_out or last_seq - resume_after > replay_max:
        return Start(last_seq + 1, reset=True)
    return Start(wanted)


@dataclass(frozen=True)
class LiveEvent:
    """One ticket event for a live reader: its stream sequence (the SSE id) and its envelope."""

    sequence: int
    envelope: RawEnvelope


class Follower:
    """One reader's view of the stream, from `start`; iterate it for events. It ends (the iteration
    stops) when closed: by the reader, by the process shutting down, or for falling behind."""

    def __init__(self, start: Start, *, js: JetStreamContext, stream: str, queue_size: int) -> None:
        self.start = start
        self._queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(maxsize=queue_size)
        self._next = start.sequence
        self._js = js
        self._stream = stream
        self._sub: Any = None
        self.closed = False

    async def subscribe(self, subject: str, *, heartbeat_seconds: float) -> None:
        self._sub = await self._js.subscribe(
            subject,
            stream=self._stream,
            cb=self._on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            config=ConsumerConfig(opt_start_seq=self.start.sequence),
            idle_heartbeat=heartbeat_seconds,
        )

    async def _on_message(self, msg: Msg) -> None:
        sequence = msg.metadata.sequence.stream
        if self.closed or sequence < self._next:
            return  # already delivered (an ordered consumer recreated at an older point)
        self._next = sequence + 1
        try:
            envelope = RawEnvelope.model_validate_json(msg.data)
        except ValidationError:
            # Not a ticket event: the history projection dead-letters it; a live reader skips it.
            log.warning("live_ticket_event_skipped", stream_seq=sequence)
            return
        try:
            self._queue.put_nowait(LiveEvent(sequence, envelope))
        except asyncio.QueueFull:
            log.info("live_ticket_reader_behind", stream_seq=sequence)
            self.end()

    def end(self) -> None:
        """Stop delivering; the reader gets what it was already given, then the end of the stream."""
        if self.closed:
            return
        self.closed = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    def __aiter__(self) -> Follower:
        return self

    async def __anext__(self) -> LiveEvent:
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event

    async def unsubscribe(self) -> None:
        if self._sub is None:
            return
        sub, self._sub = self._sub, None
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
            # Not left to expire: many reconnecting browsers would pile up idle consumers.
            await self._js.delete_consumer(self._stream, sub._consumer)


class TicketFeed:
    """The live ticket events of this process's NATS connection; `open()` a follower per reader."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        prefix: str = "",
        replay_max: int = 1000,
        queue_size: int = 256,
        heartbeat_seconds: float = 5.0,
    ) -> None:
        self._js = js
        self._stream = tickets_stream_name(prefix)
        self._subject = with_prefix(prefix, f"{ROOT}.{DOMAIN}.v{SCHEMA_VERSION}.>")
        self._replay_max = replay_max
        self._queue_size = queue_size
        self._heartbeat = heartbeat_seconds
        self._followers: set[Follower] = set()
        self._closed = False

    async def open(self, resume_after: int | None) -> Follower:
        """A follower from the next message, or right after `resume_after` (a `Last-Event-ID`)."""
        if self._closed:
            raise FeedClosed
        info = await self._js.stream_info(self._stream)
        start = start_of(
            resume_after,
            first_seq=int(info.state.first_seq),
            last_seq=int(info.state.last_seq),
            replay_max=self._replay_max,
        )
        follower = Follower(start, js=self._js, stream=self._stream, queue_size=self._queue_size)
        await follower.subscribe(self._subject, heartbeat_seconds=self._heartbeat)
        self._followers.add(follower)
        OPEN_STREAMS.set(len(self._followers))
        return follower

    async def close(self, follower: Follower) -> None:
        follower.end()
        self._followers.discard(follower)
        OPEN_STREAMS.set(len(self._followers))
        await follower.unsubscribe()

    def close_all(self) -> None:
        """Shutting down: end every follower (their browsers reconnect to another replica)."""
        self._closed = True
        for follower in list(self._followers):
            follower.end()


class FeedClosed(RuntimeError):
    """Raised when a follower is asked of a feed whose process is shutting down."""
