"""Follows the article stream from its first message with an ordered consumer and hands each event
to the projection, in stream order.

The ordered consumer is ephemeral and in memory: each replica replays everything itself and the
client recreates the consumer from the next sequence after a gap or a reconnect. The replica counts
as caught up once it has applied everything the stream held when it subscribed. A message that is
not a valid kb event, or whose article the domain refuses, is dead-lettered with the reason and
skipped: it never stops the index. Any other failure to apply an event is a bug on this side, not a
bad message: skipping it would drop the article from every replica, so it is logged with its
traceback and retried, with back-off, until it applies (the ordered consumer has no acknowledgements
to withhold: the callback holds its place in the stream instead).

An ordered consumer is not durable, so the server's consumer lag (`shared.consumerlag`) does not see
it: the follower samples its own lag, the stream's last sequence minus what its index has applied,
into `helpdesk_kb_index_lag_events` every `LAG_INTERVAL` seconds (a replica stuck on an event, or
falling behind, answers the FAQ without the latest articles while it still looks ready).
"""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError
from prometheus_client import Gauge
from pydantic import ValidationError

from kb_search.adapters.article_log import kb_stream_name
from kb_search.domain.errors import InvalidArticle
from kb_search.projections.search_index import SearchIndexProjection
from shared.collector import freeze_long_lived
from shared.contracts.envelope import EventEnvelope, UnknownEventType
from shared.contracts.kb import DOMAIN, KbEventData
from shared.contracts.kb_v2 import parse_kb_event
from shared.contracts.subjects import ROOT, with_prefix
from shared.logging import get_logger
from shared.nats import dead_letter_msg
from shared.stopping import every, wait_set
from shared.tracing import consume_span

log = get_logger(__name__)

CONSUMER = "kb-index"
YIELD_EVERY = 200
RETRY_SECONDS = 1.0
APPLY_RETRY_FIRST = 0.1  # seconds before the first retry of an event the index failed to apply
APPLY_RETRY_MAX = 5.0
LAG_INTERVAL = 10.0  # seconds between two looks at the stream's last sequence

INDEX_LAG = Gauge(
    "helpdesk_kb_index_lag_events",
    "Article-stream messages this replica's search index has not applied yet (sampled)",
)


class ArticleFollower:
    def __init__(
        self,
        js: JetStreamContext,
        projection: SearchIndexProjection,
        *,
        prefix: str,
        lag_interval: float = LAG_INTERVAL,
    ) -> None:
        self._js = js
        self._projection = projection
        self._prefix = prefix
        self._stream = kb_stream_name(prefix)
        self._subject = with_prefix(prefix, f"{ROOT}.{DOMAIN}.>")
        self._caught_up = asyncio.Event()
        self._target = 0
        self._task: asyncio.Task[None] | None = None
        self._subscription: object | None = None
        self._since_yield = 0
        self._lag_interval = lag_interval
        self._lag_unknown = False
        self.dead_lettered = 0
        self.apply_failures = 0
        self.retrying: int | None = None  # the stream sequence the index keeps failing on, if any

    @property
    def caught_up(self) -> bool:
        return self._caught_up.is_set()

    async def wait_caught_up(self, within: float) -> bool:
        return await wait_set(self._caught_up, within)

    def start(self) -> None:
        """Subscribe in the background, retrying until the stream exists (created by `migrate`), then
        sample the lag every `lag_interval` seconds."""
        self._task = asyncio.create_task(self._run(), name="kb-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        subscription = self._subscription
        if subscription is not None:
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()  # type: ignore[attr-defined]

    async def _run(self) -> None:
        await self._subscribe()
        await every(self._lag_interval, self.sample_lag)

    async def _subscribe(self) -> None:
        while True:
            try:
                info = await self._js.stream_info(self._stream)
                self._target = info.state.last_seq
                self._subscription = await self._js.subscribe(
                    self._subject,
                    stream=self._stream,
                    cb=self._on_message,
                    ordered_consumer=True,
                    deliver_policy=DeliverPolicy.ALL,
                )
            except NotFoundError:
                log.warning("kb_stream_missing", stream=self._stream)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            except (NatsError, TimeoutError) as exc:  # NATS not reachable yet: not ready, keep trying
                log.warning("kb_follower_subscribe_failed", stream=self._stream, error=repr(exc))
                await asyncio.sleep(RETRY_SECONDS)
                continue
            log.info("kb_follower_started", stream=self._stream, replay_to=self._target)
            self._check_caught_up()
            return

    async def sample_lag(self) -> int | None:
        """One look at the stream: its last sequence minus the index's position, into the gauge and
        returned; None (the gauge left as it was, logged once a failure streak) when NATS does not
        answer. Every message counts, section events and dead-lettered ones too: each moves the
        position once handled."""
        try:
            info = await self._js.stream_info(self._stream)
        except (NatsError, TimeoutError) as exc:
            if not self._lag_unknown:
                log.warning("kb_index_lag_unknown", stream=self._stream, error=repr(exc))
                self._lag_unknown = True
            return None
        self._lag_unknown = False
        lag = max(0, info.state.last_seq - self._projection.position)
        INDEX_LAG.set(lag)
        return lag

    def _check_caught_up(self) -> None:
        if not self._caught_up.is_set() and self._projection.position >= self._target:
            # Term lists built now, not by the first queries (~1 s for 10,000 articles). The index
            # is millions of long-lived objects: moving them out of the collector's reach keeps
            # full collections (hundreds of ms with a 10,000-article index) out of p99.
            self._projection.index.prepare()
            freeze_long_lived()
            self._caught_up.set()
            log.info(
                "kb_index_caught_up", position=self._projection.position, articles=len(self._projection.index)
            )

    async def _on_message(self, msg: Msg) -> None:
        with consume_span(consumer=CONSUMER, headers=msg.headers, subject=msg.subject):
            await self._apply(msg)

    async def _apply(self, msg: Msg) -> None:
        sequence = msg.metadata.sequence.stream
        try:
            envelope = parse_kb_event(msg.data)
        except (ValidationError, UnknownEventType, ValueError) as exc:
            await self._park(msg, sequence, reason=f"{type(exc).__name__}: {exc}")
        else:
            await self._index(msg, envelope, sequence)
        self._check_caught_up()
        self._since_yield += 1
        if self._since_yield >= YIELD_EVERY:
            # A replay of thousands of articles must not starve the HTTP server (/healthz).
            self._since_yield = 0
            await asyncio.sleep(0)

    async def _index(self, msg: Msg, envelope: EventEnvelope[KbEventData], sequence: int) -> None:
        """Apply one event: dead-letter it when the domain refuses its article, else retry until the
        index takes it (see the module docstring)."""
        delay = APPLY_RETRY_FIRST
        while True:
            try:
                self._projection.apply(envelope, sequence=sequence)
            except InvalidArticle as exc:  # valid as a contract, refused by the domain: a bad message
                await self._park(msg, sequence, reason=f"apply failed: {type(exc).__name__}: {exc}")
                return
            except Exception:  # a bug in the index: never skipped, retried after a pause
                self.apply_failures += 1
                self.retrying = sequence
                log.exception("kb_apply_failed", sequence=sequence, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, APPLY_RETRY_MAX)
            else:
                self.retrying = None
                return

    def apply_state(self) -> str:
        """For `/readyz` details: "ok", or the event the index keeps failing on (the replica still
        answers from what it has; every replica meets the same event, so it does not turn unready)."""
        return "ok" if self.retrying is None else f"retrying event {self.retrying}"

    async def _park(self, msg: Msg, sequence: int, *, reason: str) -> None:
        # Every replica meets the same poison message; the stream sequence as message id makes the
        # dead-letter stream keep one copy (within its duplicate window).
        try:
            await dead_letter_msg(
                self._js,
                msg,
                consumer=CONSUMER,
                reason=reason,
                prefix=self._prefix,
                msg_id=f"{CONSUMER}.{self._prefix}.{sequence}",
            )
        except (NatsError, TimeoutError):  # the index must go on even when the DLQ is unavailable
            log.exception("kb_dead_letter_failed", sequence=sequence)
        self.dead_lettered += 1
        self._projection.skip(sequence)
