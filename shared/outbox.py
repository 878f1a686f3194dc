"""The outbox relay: an event store's notification log → one JetStream stream, exactly once in effect.

The store is the outbox (ARCHITECTURE.md, invariant 1): a request only commits events, a relay
publishes them afterwards, in notification order. Every service publishes through this one relay;
what it publishes comes from two small seams: a `NotificationSource` (the stored notifications after
a position) and a `ToMessage` callable (one stored notification → its subject, payload and headers,
`Nats-Msg-Id` among them, or None when it has no public form).

Exactly once, without the duplicate window
-------------------------------------------
The relay keeps no position of its own. On start, and after any failed publication, it reads the
stream's last message: its position header (`position_header`, the store position the message was
made from; each stream keeps the name it was first published with) says how far the store has been
published, its `Nats-Msg-Id` is the previous event's id. Each message then carries a server-checked
precondition on what is already in the stream:

- the first message after (re)reading the position: `Nats-Expected-Last-Sequence` (the exact stream
  sequence just read, `0` on an empty stream: persistent, it survives a nats-server restart whatever
  its duplicate window, and two relays starting on an empty stream cannot both publish);
- every following message of the pipelined batch: `Nats-Expected-Last-Msg-Id` = the previous one's id.

So a message is stored only directly after its predecessor; a crash at any point (before, during or
after a pipelined batch, an ack lost on the way back) is repaired by re-reading the stream; a second
relay that races this one fails its preconditions and re-reads the stream too (harmless, wasteful:
`shared.lease` keeps to one active relay per stream).

Store positions: PostgreSQL leaves permanent gaps after rollbacks; a source simply never returns them
(its table lock makes the commit order the id order, so a gap is never filled later). Notifications
without a public form are skipped and, if they end a batch, re-read after a restart (harmless).

A store restored to an earlier point numbers its next events on from that point, behind the stream's
position: the relay would skip them. The services' sources are `shared.storenumbering.NumberedSource`,
which advance a PostgreSQL store's numbering past the stream's position before the relay reads after
it (and refuse a SQLite store, which cannot be renumbered); the services' start-up does the same
before any write.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError
from prometheus_client import Counter, Gauge

from shared.contracts.envelope import HEADER_EXPECTED_LAST_MSG_ID, HEADER_MSG_ID
from shared.logging import get_logger
from shared.stopping import sleep_or_stop, wait_set
from shared.tracing import TRACEPARENT, SpanKind, end_span, inject, start_span

log = get_logger(__name__)

HEADER_EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"


class Stored(Protocol):
    """A stored notification: its position in the store's notification log."""

    @property
    def id(self) -> int: ...


N = TypeVar("N", bound=Stored)
N_co = TypeVar("N_co", bound=Stored, covariant=True)


class NotificationSource(Protocol[N_co]):
    """The notifications stored after `position`, in order, at most `limit` (a blocking call)."""

    def notifications_after(self, position: int, *, limit: int) -> Sequence[N_co]: ...


class _Recorder(Protocol[N_co]):
    def select_notifications(
        self, start: int | None, limit: int, *, inclusive_of_start: bool = True
    ) -> Sequence[N_co]: ...


@dataclass(frozen=True)
class RecorderSource(Generic[N]):
    """An eventsourcing `ApplicationRecorder` as a source."""

    recorder: _Recorder[N]

    def notifications_after(self, position: int, *, limit: int) -> Sequence[N]:
        return self.recorder.select_notifications(position, limit, inclusive_of_start=False)


@dataclass(frozen=True)
class OutgoingMessage:
    """One public event as a NATS message, without its precondition header."""

    subject: str
    payload: bytes
    headers: dict[str, str]  # `Nats-Msg-Id` (the stable event id) among them
    # The `traceparent` stored with the event: its publication continues that trace.
    trace_parent: str | None = None

    @property
    def msg_id(self) -> str:
        return self.headers[HEADER_MSG_ID]


ToMessage = Callable[[N], "OutgoingMessage | None"]


@dataclass(frozen=True)
class StreamPosition:
    """How far the store has been published, as the stream itself says."""

    notification_id: int
    stream_seq: int
    last_msg_id: str | None


@dataclass(frozen=True)
class RelayMetrics:
    """Where a relay reports: the last published store position, messages published, re-reads."""

    position: Gauge | None = None
    published: Counter | None = None
    resyncs: Counter | None = None  # labelled by `reason`


async def read_stream_position(js: JetStreamContext, stream: str, *, position_header: str) -> StreamPosition:
    """The position recorded in the stream's last message (zero for an empty stream)."""
    info = await js.stream_info(stream)
    last_seq = info.state.last_seq
    if not last_seq:
        return StreamPosition(notification_id=0, stream_seq=0, last_msg_id=None)
    try:
        msg = await js.get_msg(stream, seq=last_seq)
    except NotFoundError:
        # The last message was removed by hand: nothing to chain on but the sequence.
        return StreamPosition(notification_id=0, stream_seq=last_seq, last_msg_id=None)
    headers = msg.headers or {}
    return StreamPosition(
        notification_id=int(headers.get(position_header, "0") or 0),
        stream_seq=last_seq,
        last_msg_id=headers.get(HEADER_MSG_ID),
    )


# With LISTEN/NOTIFY, how long the relay waits between looks at the store when nothing woke it.
LISTEN_WAIT = 5.0


class WakeupSource(Protocol):
    """Calls its subscribers when the store may hold new events (`shared.pglisten.PgListener`)."""

    def subscribe(self, callback: Callable[[], None]) -> None: ...

    def unsubscribe(self, callback: Callable[[], None]) -> None: ...

    async def run(self, stop: asyncio.Event | None = None) -> None: ...


class Wakeup:
    """Wakes the relay when the store may hold new events: thread-safe, coalescing."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def set(self) -> None:
        """Callable from any thread (the application after a `save`, a LISTEN callback)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, seconds: float) -> None:
        await wait_set(self._event, seconds)


@dataclass
class _Loaded:
    last_seen: int  # the last store position looked at
    messages: list[OutgoingMessage] = field(default_factory=list)


class OutboxRelay(Generic[N]):
    """Publishes a store's notifications to `stream`, in order, exactly once in effect."""

    def __init__(
        self,
        *,
        js: JetStreamContext,
        stream: str,
        source: NotificationSource[N],
        to_message: ToMessage[N],
        position_header: str,
        batch_size: int = 500,
        idle_wait: float = 0.02,
        publish_timeout: float = 5.0,
        metrics: RelayMetrics | None = None,
        store_on_loop: bool = False,
    ) -> None:
        self._js = js
        self._stream = stream
        self._source = source
        self._to_message = to_message
        self._position_header = position_header
        self._batch_size = batch_size
        self._idle_wait = idle_wait
        self._publish_timeout = publish_timeout
        self._metrics = metrics or RelayMetrics()
        self._position: StreamPosition | None = None
        self._wakeup: Wakeup | None = None
        self.stored = 0  # messages this relay had stored in the stream (not the duplicates)
        # The store is read on a thread of its own, not the loop's default pool: an API's blocking
        # reads fill that one under load, and a relay queued behind them is publication lag. With
        # `store_on_loop` (a loop that is the relay's own, e.g. a worker thread's) it is read on the
        # loop's thread: no hand-over to another thread and back, each of which waits for the GIL
        # while the process is busy (a switch interval, 5 ms, at worst).
        self._executor = (
            None if store_on_loop else ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"relay-{stream}")
        )

    @property
    def stream(self) -> str:
        return self._stream

    @property
    def position(self) -> StreamPosition | None:
        return self._position

    def wake(self) -> None:
        """Ask for a look at the store now (thread-safe): call it after a `save` in this process."""
        if self._wakeup is not None:
            self._wakeup.set()

    async def resync(self, reason: str) -> StreamPosition:
        if self._metrics.resyncs is not None:
            self._metrics.resyncs.labels(reason).inc()
        self._position = await read_stream_position(
            self._js, self._stream, position_header=self._position_header
        )
        self._set_position_gauge(self._position.notification_id)
        return self._position

    def _set_position_gauge(self, notification_id: int) -> None:
        if self._metrics.position is not None:
            self._metrics.position.set(notification_id)

    def _load(self, after: int) -> _Loaded:
        """Blocking: the next notifications and their messages."""
        notifications = self._source.notifications_after(after, limit=self._batch_size)
        loaded = _Loaded(last_seen=notifications[-1].id if notifications else after)
        for notification in notifications:
            message = self._to_message(notification)
            if message is not None:
                headers = {**message.headers, self._position_header: str(notification.id)}
                loaded.messages.append(
                    OutgoingMessage(message.subject, message.payload, headers, message.trace_parent)
                )
        return loaded

    async def publish_pending(self) -> int:
        """Publish every stored event not in the stream yet; returns how many messages this relay
        stored (an event another relay stored first is not counted)."""
        before = self.stored
        while True:
            consumed = await self.publish_batch()
            if consumed is not None and consumed < self._batch_size:
                return self.stored - before

    async def publish_batch(self) -> int | None:
        """Publish the next batch of stored events; return how many notifications were consumed, or
        None when a precondition failed (another relay, a lost ack) and the position was re-read."""
        position = self._position or await self.resync("start")
        if self._executor is None:
            loaded = self._load(position.notification_id)
        else:
            loop = asyncio.get_running_loop()
            loaded = await loop.run_in_executor(self._executor, self._load, position.notification_id)
        messages = loaded.messages
        if not messages:
            consumed = loaded.last_seen - position.notification_id
            if consumed:
                # Only non-public events: nothing to publish, remember them as seen in this run.
                self._position = StreamPosition(loaded.last_seen, position.stream_seq, position.last_msg_id)
            return consumed
        acks = await asyncio.gather(
            *(self._publish(message, i, position, messages) for i, message in enumerate(messages)),
            return_exceptions=True,
        )
        failures = [a for a in acks if isinstance(a, BaseException)]
        duplicates = [a for a in acks if not isinstance(a, BaseException) and a.duplicate]
        self.stored += len(acks) - len(failures) - len(duplicates)
        if failures or duplicates:
            first = failures[0] if failures else None
            log.warning(
                "relay_batch_interrupted",
                stream=self._stream,
                published=len(acks) - len(failures),
                failed=len(failures),
                duplicates=len(duplicates),
                error=repr(first) if first else None,
            )
            await self.resync("wrong_last" if isinstance(first, APIError) else "failure")
            if first is not None and not isinstance(first, APIError):
                raise first
            return None
        last_ack = acks[-1]
        assert not isinstance(last_ack, BaseException)
        self._position = StreamPosition(loaded.last_seen, last_ack.seq, messages[-1].msg_id)
        if self._metrics.published is not None:
            self._metrics.published.inc(len(messages))
        self._set_position_gauge(loaded.last_seen)
        return loaded.last_seen - position.notification_id

    async def _publish(
        self, message: OutgoingMessage, index: int, position: StreamPosition, batch: list[OutgoingMessage]
    ) -> Any:
        headers = dict(message.headers)
        if index == 0:
            headers[HEADER_EXPECTED_LAST_SEQUENCE] = str(position.stream_seq)
        else:
            headers[HEADER_EXPECTED_LAST_MSG_ID] = batch[index - 1].msg_id
        # The publication's span continues the trace of the request that recorded the event (None
        # with tracing off); its `traceparent` goes with the message to every consumer.
        span = start_span(
            f"{self._stream} publish",
            kind=SpanKind.PRODUCER,
            parent={TRACEPARENT: message.trace_parent} if message.trace_parent else None,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": message.subject,
                "messaging.message.id": message.msg_id,
            },
        )
        if span is not None:
            inject(headers, within=span)
        # Gathered coroutines enqueue their PUB in order before their first suspension, so one
        # connection delivers the pipeline in order; a reordering would only fail a precondition.
        try:
            ack = await self._js.publish(
                message.subject,
                message.payload,
                timeout=self._publish_timeout,
                stream=self._stream,
                headers=headers,
            )
        except BaseException as exc:
            end_span(span, error=exc)
            raise
        end_span(span)
        return ack

    async def run(self, stop: asyncio.Event, *, wakeups: WakeupSource | None = None) -> None:
        """Publish until `stop` is set. With `wakeups` (PostgreSQL LISTEN/NOTIFY, `shared.pglisten`)
        the relay runs them for as long as it runs and waits `LISTEN_WAIT` between looks at the store
        as a safety net only; without, `idle_wait` is its polling interval."""
        self._wakeup = Wakeup()
        listening: asyncio.Task[None] | None = None
        idle_wait = self._idle_wait
        if wakeups is not None:
            wakeups.subscribe(self._wakeup.set)
            listening = asyncio.create_task(wakeups.run(stop), name=f"relay-listen-{self._stream}")
            idle_wait = max(idle_wait, LISTEN_WAIT)
        backoff = 0.1
        log.info("relay_started", stream=self._stream, listen=wakeups is not None)
        try:
            while not stop.is_set():
                self._wakeup.clear()
                try:
                    consumed = await self.publish_batch()
                    backoff = 0.1
                except (NatsError, TimeoutError, OSError, APIError) as exc:
                    log.warning(
                        "relay_publish_failed", stream=self._stream, error=repr(exc), retry_in=backoff
                    )
                    self._position = None
                    await sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                if consumed is not None and consumed < self._batch_size:
                    waiter = asyncio.ensure_future(self._wakeup.wait(idle_wait))
                    stopper = asyncio.ensure_future(stop.wait())
                    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    for task in (waiter, stopper):
                        task.cancel()
        finally:
            if listening is not None:
                listening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listening
                if wakeups is not None:
                    wakeups.unsubscribe(self._wakeup.set)
            self._wakeup = None
            position = self._position.notification_id if self._position else None
            log.info("relay_stopped", stream=self._stream, position=position)
