"""The outbox relay: the event store's notification log → the TICKETS JetStream stream.

The store is the outbox (ARCHITECTURE.md, invariant 1): the HTTP request only commits events, this
relay publishes them afterwards, in notification order, in the public envelope.

Exactly once, without the duplicate window
-------------------------------------------
The relay keeps no position of its own. On start, and after any failed publication, it reads the
stream's last message: its `Helpdesk-Notification-Id` header says how far the store has been
published, its `Nats-Msg-Id` is the previous event's id. Each message then carries `Nats-Msg-Id` (the
stable event id) and a server-checked precondition on what is already in the stream:

- the first message after (re)reading the position: `Nats-Expected-Last-Sequence` (the exact stream
  sequence just read: persistent, it survives a nats-server restart whatever its duplicate window);
- every following message of the pipeline: `Nats-Expected-Last-Msg-Id` = the previous event's id.

So a message is stored only directly after its predecessor; a crash at any point (before, during or
after a pipelined batch, an ack lost on the way back) is repaired by re-reading the stream; a second
relay that races this one fails its preconditions and re-reads the stream too (harmless, wasteful).

Notification ids: PostgreSQL leaves permanent gaps after rollbacks; `select_notifications(start,
limit, inclusive_of_start=False)` simply never returns them. Its table lock makes the commit order the
id order, so a gap is never filled later. Events that have no public form (`to_envelope` returns
None, e.g. an index aggregate) are skipped and, if they end a batch, re-read after a restart (harmless).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol

from eventsourcing.persistence import ApplicationRecorder, Notification
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError
from prometheus_client import Counter, Gauge

from shared.contracts.envelope import (
    HEADER_EXPECTED_LAST_MSG_ID,
    HEADER_MSG_ID,
    EventEnvelope,
    envelope_headers,
)
from shared.contracts.subjects import TICKETS_STREAM, StreamSpec, event_subject, with_prefix
from shared.contracts.tickets import DOMAIN
from shared.logging import get_logger
from shared.tracing import TRACEPARENT, SpanKind, enabled, end_span, inject, start_span

log = get_logger(__name__)

# The notification id of the stored event a message was made from: the relay's position.
HEADER_NOTIFICATION_ID = "Helpdesk-Notification-Id"
HEADER_EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"

PUBLISHED = Counter("helpdesk_tickets_relay_published_total", "Events the relay published to JetStream")
RELAY_POSITION = Gauge(
    "helpdesk_tickets_relay_notification_id", "Last notification id published to JetStream"
)
RELAY_RESYNCS = Counter(
    "helpdesk_tickets_relay_resyncs_total", "Times the relay re-read its position from the stream", ["reason"]
)

ToEnvelope = Callable[[Notification], "EventEnvelope[Any] | None"]
TraceParentOf = Callable[[Notification], "str | None"]


class NotificationSource(Protocol):
    """The part of an eventsourcing `ApplicationRecorder` the relay reads (blocking calls)."""

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]: ...


@dataclass(frozen=True)
class StreamPosition:
    """How far the store has been published, as the stream itself says."""

    notification_id: int
    stream_seq: int
    last_msg_id: str | None


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: int
    event_id: str
    subject: str
    payload: bytes
    headers: dict[str, str]
    # The `traceparent` stored with the event: its publication continues that trace.
    trace_parent: str | None = None


def tickets_stream_name(prefix: str) -> str:
    return TICKETS_STREAM.stream_name(prefix)


def to_message(
    envelope: EventEnvelope[Any], *, notification_id: int, prefix: str, domain: str = DOMAIN
) -> OutgoingMessage:
    """The NATS message of one public event (without its precondition header)."""
    event_id = str(envelope.event_id)
    headers = envelope_headers(envelope)
    headers[HEADER_NOTIFICATION_ID] = str(notification_id)
    subject = with_prefix(prefix, event_subject(domain, envelope.type, envelope.schema_version))
    return OutgoingMessage(
        notification_id=notification_id,
        event_id=event_id,
        subject=subject,
        payload=envelope.model_dump_json().encode(),
        headers=headers,
    )


async def read_stream_position(js: JetStreamContext, stream: str) -> StreamPosition:
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
        notification_id=int(headers.get(HEADER_NOTIFICATION_ID, "0") or 0),
        stream_seq=last_seq,
        last_msg_id=headers.get(HEADER_MSG_ID),
    )


class Wakeup:
    """Wakes the relay when the store may hold new events: thread-safe, coalescing."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def set(self) -> None:
        """Callable from any thread (a LISTEN thread, the application after a `save`)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)


class PostgresListener:
    """LISTENs on the recorder's channel in a thread (the recorder NOTIFYs on every insert)."""

    def __init__(self, recorder: ApplicationRecorder, on_notify: Callable[[], None]) -> None:
        self._recorder: Any = recorder
        self._on_notify = on_notify
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relay-listen", daemon=True)

    @staticmethod
    def supports(recorder: object) -> bool:
        return hasattr(recorder, "channel_name") and hasattr(recorder, "datastore")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from psycopg.sql import SQL, Identifier

        while not self._stopped.is_set():
            try:
                with self._recorder.datastore.get_connection() as conn:
                    conn.execute(SQL("LISTEN {0}").format(Identifier(self._recorder.channel_name)))
                    self._on_notify()  # anything committed before LISTEN took effect
                    while not self._stopped.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self._on_notify()
            except Exception as exc:  # the database restarts: listen again, polling covers the gap
                log.warning("relay_listen_failed", error=str(exc))
                self._stopped.wait(1.0)


class OutboxRelay:
    """Publishes the store's notifications to the TICKETS stream (or another `stream` of its own
    `domain`, e.g. the support directory's), in order, exactly once in effect."""

    def __init__(
        self,
        *,
        js: JetStreamContext,
        source: NotificationSource,
        to_envelope: ToEnvelope,
        prefix: str = "",
        batch_size: int = 500,
        idle_wait: float = 0.02,
        publish_timeout: float = 5.0,
        stream: StreamSpec = TICKETS_STREAM,
        domain: str = DOMAIN,
        position_gauge: Gauge = RELAY_POSITION,
        trace_parent_of: TraceParentOf | None = None,
    ) -> None:
        self._js = js
        self._trace_parent_of = trace_parent_of
        self._domain = domain
        self._position_gauge = position_gauge
        self._source = source
        self._to_envelope = to_envelope
        self._prefix = prefix
        self._stream = stream.stream_name(prefix)
        self._batch_size = batch_size
        self._idle_wait = idle_wait
        self._publish_timeout = publish_timeout
        self._position: StreamPosition | None = None
        self._wakeup: Wakeup | None = None
        # Its own thread, not the loop's default pool: the API's blocking reads fill that one under
        # load, and a relay queued behind them is publication lag (create→visible latency).
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tickets-relay")

    @property
    def position(self) -> StreamPosition | None:
        return self._position

    def wake(self) -> None:
        """Ask for a look at the store now (thread-safe): call it after a `save` in this process."""
        if self._wakeup is not None:
            self._wakeup.set()

    async def resync(self, reason: str) -> StreamPosition:
        RELAY_RESYNCS.labels(reason).inc()
        self._position = await read_stream_position(self._js, self._stream)
        self._position_gauge.set(self._position.notification_id)
        return self._position

    def _load(self, after: int) -> tuple[int, list[OutgoingMessage]]:
        """Blocking: the next notifications and their messages; returns the last id looked at."""
        notifications = self._source.select_notifications(after, self._batch_size, inclusive_of_start=False)
        messages = []
        trace_parent_of = self._trace_parent_of if enabled() else None
        for notification in notifications:
            envelope = self._to_envelope(notification)
            if envelope is not None:
                message = to_message(
                    envelope, notification_id=notification.id, prefix=self._prefix, domain=self._domain
                )
                if trace_parent_of is not None:
                    message = replace(message, trace_parent=trace_parent_of(notification))
                messages.append(message)
        return (notifications[-1].id if notifications else after), messages

    async def publish_batch(self) -> int | None:
        """Publish the next batch of stored events; return how many notifications were consumed, or
        None when a precondition failed (another relay, a lost ack) and the position was re-read."""
        position = self._position or await self.resync("start")
        loop = asyncio.get_running_loop()
        last_seen, messages = await loop.run_in_executor(self._executor, self._load, position.notification_id)
        if not messages:
            consumed = last_seen - position.notification_id
            if consumed:
                # Only non-public events: nothing to publish, remember them as seen in this run.
                self._position = StreamPosition(last_seen, position.stream_seq, position.last_msg_id)
            return consumed
        acks = await asyncio.gather(
            *(self._publish(message, i, position, messages) for i, message in enumerate(messages)),
            return_exceptions=True,
        )
        failures = [a for a in acks if isinstance(a, BaseException)]
        duplicates = [a for a in acks if not isinstance(a, BaseException) and a.duplicate]
        if failures or duplicates:
            first = failures[0] if failures else None
            log.warning(
                "relay_batch_interrupted",
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
        self._position = StreamPosition(last_seen, last_ack.seq, messages[-1].event_id)
        PUBLISHED.inc(len(messages))
        self._position_gauge.set(last_seen)
        return last_seen - position.notification_id

    async def _publish(
        self, message: OutgoingMessage, index: int, position: StreamPosition, batch: list[OutgoingMessage]
    ) -> Any:
        headers = dict(message.headers)
        if index == 0:
            headers[HEADER_EXPECTED_LAST_SEQUENCE] = str(position.stream_seq)
        else:
            headers[HEADER_EXPECTED_LAST_MSG_ID] = batch[index - 1].event_id
        # The publication's span continues the trace of the request that recorded the event (None
        # with tracing off); its `traceparent` goes with the message to every consumer.
        span = start_span(
            f"{self._stream} publish",
            kind=SpanKind.PRODUCER,
            parent={TRACEPARENT: message.trace_parent} if message.trace_parent else None,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": message.subject,
                "messaging.message.id": message.event_id,
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

    async def run(self, stop: asyncio.Event, *, listener_source: object | None = None) -> None:
        """Publish until `stop` is set: follow PostgreSQL with LISTEN/NOTIFY, poll anything else."""
        self._wakeup = Wakeup()
        listener: PostgresListener | None = None
        if listener_source is not None and PostgresListener.supports(listener_source):
            listener = PostgresListener(listener_source, self._wakeup.set)  # type: ignore[arg-type]
            listener.start()
        # With LISTEN/NOTIFY the wait is a safety net only; without it, it is the polling interval.
        idle_wait = 5.0 if listener is not None else self._idle_wait
        backoff = 0.1
        log.info("relay_started", stream=self._stream, listen=listener is not None)
        try:
            while not stop.is_set():
                self._wakeup.clear()
                try:
                    consumed = await self.publish_batch()
                    backoff = 0.1
                except (NatsError, TimeoutError, OSError, APIError) as exc:
                    log.warning("relay_publish_failed", error=repr(exc), retry_in=backoff)
                    self._position = None
                    await _sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                if consumed is not None and consumed < self._batch_size:
                    waiter = asyncio.ensure_future(self._wakeup.wait(idle_wait))
                    stopper = asyncio.ensure_future(stop.wait())
                    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    for task in (waiter, stopper):
                        task.cancel()
        finally:
            if listener is not None:
                await asyncio.to_thread(listener.stop)
            self._wakeup = None
            log.info("relay_stopped", position=self._position.notification_id if self._position else None)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
