"""The faststream subscriber of the tickets stream: the durable pull consumer `migrate()` creates,
bound as it stands (created the same way only if missing), never updated from here.

- Ack policy `NACK_ON_ERROR`, set explicitly (faststream 0.7's JetStream default rejects on error:
  never redelivered). The ack follows the handler's return, so after the effect; a `Retry` becomes
  a `nak` with its back-off delay; anything unforeseen is nacked and redelivered, up to the
  consumer's `max_deliver`.
- One message per fetch (`PullSub(batch_size=1)`): faststream runs the messages of a fetched batch
  concurrently, which would let a ticket's reply overtake its `Created` (the popup would go to the
  whole account instead of the requester). Order is kept within a process (replicas sharing the
  consumer do not order between them); the price is one pull request per message.
- The body is handed over undecoded, so a malformed one reaches the handler and is dead-lettered
  at once, instead of failing in faststream's JSON decoding and being redelivered `max_deliver` times.
- Each message is handled in a span continuing the publisher's trace (`TraceMiddleware`).
- The broker's own per-message lines are logged at DEBUG (ARCHITECTURE: INFO costs ~40% of its
  throughput) through a stdlib logger of this service, rendered by `shared.logging`.
- No AsyncAPI or `/asyncapi/try` routes: this broker is not a FastAPI router and mounts nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy
from faststream.exceptions import NackMessage
from faststream.middlewares import BaseMiddleware
from faststream.nats import JStream, NatsBroker, NatsRouter, PullSub
from faststream.nats.annotations import JsClient, NatsMessage
from faststream.nats.message import NatsMessage as NatsStreamMessage
from nats.js.api import ConsumerConfig

from notifications.adapters.consumer import CONSUMER, TicketEventsConsumer
from shared.contracts.envelope import (
    HEADER_CAUSATION_ID,
    HEADER_CORRELATION_ID,
    HEADER_EVENT_TYPE,
    HEADER_MSG_ID,
)
from shared.logging import bound_contextvars
from shared.nats import broker_options
from shared.settings import CommonSettings
from shared.tracing import consume_span

# A pull request waits this long for a message before the next one is sent (and `stop` is noticed).
FETCH_SECONDS = 1.0
# Not under "faststream": importing faststream gives that logger its own handler and `propagate=False`,
# so its lines would bypass the JSON formatting of `shared.logging`.
BROKER_LOGGER = "notifications.broker"


class MessageIdsMiddleware(BaseMiddleware):
    """Binds the ids the publisher put in the headers to every log line of this message, faststream's
    included; the handler binds the envelope's own copies once the body is parsed."""

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        headers = msg.headers or {}
        with bound_contextvars(
            subject=getattr(msg.raw_message, "subject", None),
            msg_id=headers.get(HEADER_MSG_ID),
            event_type=headers.get(HEADER_EVENT_TYPE),
            correlation_id=headers.get(HEADER_CORRELATION_ID),
            causation_id=headers.get(HEADER_CAUSATION_ID),
        ):
            return await call_next(msg)


class TraceMiddleware(BaseMiddleware):
    """Each message is handled in its own span, a child of the relay's publication of it (the
    `traceparent` header); nothing is recorded with tracing off. Not faststream's own telemetry
    middleware: in 0.7.8 it leaves the message's context attached when the handler raises (every
    retry does), and this keeps one span shape for every consumer of the product."""

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        with consume_span(
            consumer=CONSUMER, headers=msg.headers, subject=getattr(msg.raw_message, "subject", None)
        ):
            return await call_next(msg)


async def _undecoded(msg: NatsStreamMessage) -> bytes:
    return msg.body


def ticket_events_router(
    consumer: TicketEventsConsumer, *, stream: str, subject: str, config: ConsumerConfig
) -> NatsRouter:
    """`config` is the durable consumer `migrate()` creates: bound when present, created as such if not."""
    router = NatsRouter(middlewares=[MessageIdsMiddleware, TraceMiddleware])

    @router.subscriber(
        subject,
        stream=JStream(stream, declare=False),
        durable=config.durable_name,
        config=config,
        pull_sub=PullSub(batch_size=1, timeout=FETCH_SECONDS),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_undecoded,
        title="notifications:ticket_events",
    )
    async def on_ticket_event(body: bytes, msg: NatsMessage, js: JsClient) -> None:
        del body  # the raw message carries the same bytes with the JetStream metadata
        retry = await consumer.process(msg.raw_message, js=js)
        if retry is not None:
            raise NackMessage(delay=retry.delay)

    return router


def create_broker(
    common: CommonSettings, router: NatsRouter, *, name: str, graceful_timeout: float
) -> NatsBroker:
    """A broker on its own connection, so stopping it stops taking work while the SSE fan-out and
    the relay (on the service's nats-py connection) still finish."""
    broker = NatsBroker(
        **broker_options(common, name=name),
        graceful_timeout=graceful_timeout,
        logger=logging.getLogger(BROKER_LOGGER),
        log_level=logging.DEBUG,
    )
    broker.include_router(router)
    return broker
