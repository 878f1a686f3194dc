"""Feeds the history views from the TICKETS stream, in the public envelope form.

The consumer is an ephemeral pull consumer (memory, `AckPolicy.NONE`) created at the recorded
sequence + 1, recreated from the database's position after any doubt (a gap in its delivery
sequence, a reconnect, a position moved by a rebuild). Why not a durable consumer: the position must
be committed with the rows (exactly once in effect), so the database already holds it; a durable
consumer's acks would be a second, disagreeing position, and a rebuild would have to reset it too.
One projector is active at a time in practice; a second one is safe (compare-and-set on the position)
but wasteful.

Poison messages (a body that is not a valid ticket event) go to `helpdesk.dlq.tickets-history` with
the reason and the position moves past them: the view never gets stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from shared.contracts.envelope import UnknownEventType
from shared.contracts.subjects import TICKETS_STREAM, with_prefix
from shared.contracts.tickets import parse_ticket_event
from shared.logging import get_logger
from shared.nats import dead_letter
from shared.stopping import sleep_or_stop
from shared.tracing import SpanKind, end_span, start_span
from tickets.adapters.relay import tickets_stream_name
from tickets.projections.history import Projected, project
from tickets.projections.store import HistoryStore, PositionMoved

log = get_logger(__name__)

CONSUMER = "tickets-history"

T = TypeVar("T")

LAG_EVENTS = Gauge(
    "helpdesk_tickets_history_lag_events", "Ticket events in the stream not yet in the history"
)
LAG_SECONDS = Gauge(
    "helpdesk_tickets_history_lag_seconds", "Age of the last event applied to the history when it was applied"
)
APPLIED = Counter("helpdesk_tickets_history_events_total", "Ticket events applied to the history views")
POSITION = Gauge("helpdesk_tickets_history_stream_seq", "Last TICKETS stream sequence in the history views")


class _Restart(Exception):
    """Raised inside the loop when the consumer must be recreated from the database's position."""


class HistoryProjector:
    """Applies the TICKETS stream to a `HistoryStore`, one transaction per fetched batch."""

    def __init__(
        self,
        *,
        js: JetStreamContext,
        store: HistoryStore,
        prefix: str = "",
        batch_size: int = 500,
        idle_timeout: float = 0.5,
        on_applied: Callable[[int, Mapping[str, int]], Awaitable[None] | None] | None = None,
        store_on_loop: bool = False,
    ) -> None:
        self._js = js
        self._store = store
        self._prefix = prefix
        self._stream = tickets_stream_name(prefix)
        self._subject = with_prefix(prefix, TICKETS_STREAM.subjects[0])
        self._batch_size = batch_size
        self._idle_timeout = idle_timeout
        self._on_applied = on_applied
        self.position = 0
        # The store is called on a thread of its own, not the loop's default pool, which the API's
        # blocking reads share; or, with `store_on_loop` (a loop of the projector's own, e.g. a
        # worker thread's), on the loop's thread: no hand-over to another thread and back, each of
        # which waits for the GIL while the process is busy.
        self._executor = (
            None if store_on_loop else ThreadPoolExecutor(max_workers=1, thread_name_prefix="tickets-history")
        )

    async def _in_store(self, call: Callable[[], T]) -> T:
        if self._executor is None:
            return call()
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def _subscribe(self) -> Any:
        self.position = await self._in_store(self._store.position)
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.position + 1,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=10.0,
            mem_storage=True,
            num_replicas=1,
        )
        return await self._js.pull_subscribe(self._subject, stream=self._stream, config=config)

    async def _fetch(self, sub: Any) -> list[Msg]:
        """The next messages: wait for one, then take what is already pending, up to a batch."""
        msgs: list[Msg] = await sub.fetch(1, timeout=self._idle_timeout)
        pending = msgs[-1].metadata.num_pending if msgs else 0
        if pending:
            # Only what is pending: the client's fetch would otherwise wait for a full batch.
            msgs += await sub.fetch(min(pending, self._batch_size - 1), timeout=5.0)
        return msgs

    async def step(self, sub: Any, expected_consumer_seq: int) -> tuple[int | None, int]:
        """Fetch and apply one batch; return (events applied or None when idle, next consumer seq)."""
        try:
            msgs = await self._fetch(sub)
        except TimeoutError:
            return None, expected_consumer_seq
        batch: list[Projected] = []
        last: Msg | None = None
        cut = False
        spans = []
        for msg in msgs:
            seq = msg.metadata.sequence
            if seq.consumer != expected_consumer_seq or seq.stream <= self.position:
                log.warning("history_delivery_gap", expected=expected_consumer_seq, got=seq.consumer)
                cut = True
                break
            expected_consumer_seq += 1
            spans.append(_message_span(msg))
            projected = await self._parse(msg)
            if projected is not None:
                batch.append(projected)
            last = msg
        if last is not None:
            new_seq = last.metadata.sequence.stream
            apply = functools.partial(self._store.apply, batch, expected_seq=self.position, new_seq=new_seq)
            try:
                await self._in_store(apply)
            except BaseException as exc:
                for span in spans:
                    end_span(span, error=exc)
                raise
            for span in spans:
                end_span(span)  # each message's span ends when its rows are committed
            self.position = new_seq
            self._observe(last, batch)
            if self._on_applied is not None:
                versions = {p.timeline.ticket_id: p.timeline.version for p in batch}
                result = self._on_applied(self.position, versions)
                if inspect.isawaitable(result):
                    await result
        if cut:
            raise _Restart  # the rest comes again from a consumer created at the new position
        return len(batch), expected_consumer_seq

    async def _parse(self, msg: Msg) -> Projected | None:
        try:
            return project(parse_ticket_event(msg.data))
        except (ValidationError, UnknownEventType, ValueError) as exc:
            await dead_letter(
                self._js,
                consumer=CONSUMER,
                subject=msg.subject,
                data=msg.data,
                headers=msg.headers,
                reason=f"{type(exc).__name__}: {exc}",
                prefix=self._prefix,
            )
            return None

    def _observe(self, last: Msg, batch: list[Projected]) -> None:
        APPLIED.inc(len(batch))
        POSITION.set(self.position)
        LAG_EVENTS.set(last.metadata.num_pending)
        stored_at = last.metadata.timestamp
        LAG_SECONDS.set(max(0.0, time.time() - stored_at.timestamp()) if stored_at else 0.0)

    async def run(self, stop: asyncio.Event, *, until_seq: int | None = None) -> None:
        """Apply the stream until `stop` is set (or, for a rebuild, until `until_seq` is reached)."""
        backoff = 0.1
        log.info("history_projector_started", stream=self._stream)
        while not stop.is_set() and (until_seq is None or self.position < until_seq):
            sub = None
            try:
                sub = await self._subscribe()
                expected, idle = 1, 0
                while not stop.is_set() and (until_seq is None or self.position < until_seq):
                    applied, expected = await self.step(sub, expected)
                    backoff = 0.1
                    idle = 0 if applied is not None else idle + 1
                    if idle >= 10:
                        # An idle pull on a consumer lost with a nats-server restart just times
                        # out: check now and then that it still exists.
                        await sub.consumer_info()
                        idle = 0
            except _Restart:
                continue
            except PositionMoved as exc:
                log.info("history_position_moved", position=exc.actual)
            except (NatsError, APIError, TimeoutError, OSError) as exc:
                log.warning("history_projector_retry", error=repr(exc), retry_in=backoff)
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
                        # Not left to expire: a restart loop would pile up idle consumers.
                        await self._js.delete_consumer(self._stream, sub._consumer)
        log.info("history_projector_stopped", position=self.position)


def _message_span(msg: Msg) -> Any:
    """One message's span (None with tracing off): a child of the relay's publication of it."""
    return start_span(
        f"{CONSUMER} process",
        kind=SpanKind.CONSUMER,
        parent=msg.headers or {},
        attributes={
            "messaging.system": "nats",
            "messaging.consumer.group.name": CONSUMER,
            "messaging.destination.name": msg.subject,
            "messaging.message.id": (msg.headers or {}).get("Nats-Msg-Id", ""),
        },
    )


async def rebuild(
    *,
    js: JetStreamContext,
    store: HistoryStore,
    prefix: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Empty the views and replay the stream from its start up to its current end; return that end.

    A projector running meanwhile is harmless: the position moved under it, it re-reads it and both
    apply each batch at most once (compare-and-set on the position).
    """
    info = await js.stream_info(tickets_stream_name(prefix))
    target = int(info.state.last_seq)
    await asyncio.to_thread(store.reset)
    projector = HistoryProjector(
        js=js,
        store=store,
        prefix=prefix,
        on_applied=(lambda position, _: progress(position, target)) if progress else None,
    )
    await projector.run(asyncio.Event(), until_seq=target)
    return target
