"""Durable pull consumer of the tickets stream: support's replies become popups.

Explicit acks. A message that cannot be parsed goes straight to the dead-letter subject (it would fail
the same way every time) and is acked, so it never blocks the next one. A failure to apply a valid
event (the store is away) is retried with back-off through `nak(delay)` until `max_deliver`, then
dead-lettered with the reason. Applying is idempotent (deterministic popup ids), so a redelivery after
a crash between the effect and the ack changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from uuid import UUID

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from notifications.metrics import TICKET_EVENTS
from shared.contracts.envelope import EventEnvelope, UnknownEventType
from shared.contracts.subjects import ROOT, with_prefix
from shared.contracts.tickets import DOMAIN, SCHEMA_VERSION, TicketEventData, parse_ticket_event
from shared.logging import bound_contextvars, get_logger
from shared.nats import dead_letter_msg

log = get_logger(__name__)

CONSUMER = "notifications"


def consumer_name(prefix: str) -> str:
    return f"{prefix}-{CONSUMER}" if prefix else CONSUMER


def consumer_config(
    *, prefix: str, max_deliver: int, ack_wait_seconds: float, backoff_seconds: Sequence[float]
) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=consumer_name(prefix),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        filter_subject=with_prefix(prefix, f"{ROOT}.{DOMAIN}.v{SCHEMA_VERSION}.>"),
        max_deliver=max_deliver,
        ack_wait=ack_wait_seconds,
        max_ack_pending=1000,
    )


Handler = Callable[[EventEnvelope[TicketEventData]], UUID | None]


class TicketEventsConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        prefix: str,
        handle: Handler,
        max_deliver: int,
        backoff_seconds: Sequence[float],
        batch: int,
        on_effect: Callable[[], None] | None = None,
        ack_delay_seconds: float = 0.0,
    ) -> None:
        self._js = js
        self._stream = stream
        self._prefix = prefix
        self._handle = handle
        self._max_deliver = max_deliver
        self._backoff = list(backoff_seconds) or [1.0]
        self._batch = batch
        self._on_effect = on_effect
        self._ack_delay = ack_delay_seconds

    async def run(self) -> None:
        subscription = await self._js.pull_subscribe_bind(
            durable=consumer_name(self._prefix), stream=self._stream
        )
        try:
            while True:
                try:
                    messages = await subscription.fetch(self._batch, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):
                    continue
                except Exception as exc:  # NATS reconnecting: fetch again after a pause
                    log.warning("consumer_fetch_failed", error=repr(exc))
                    await asyncio.sleep(1.0)
                    continue
                for msg in messages:
                    await self.process(msg)
        finally:
            await subscription.unsubscribe()

    async def process(self, msg: Msg) -> None:
        try:
            envelope = parse_ticket_event(msg.data)
        except (ValidationError, UnknownEventType, ValueError) as exc:
            await self._dead_letter(msg, f"malformed: {type(exc).__name__}: {str(exc)[:500]}")
            return
        with bound_contextvars(
            event_id=str(envelope.event_id),
            event_type=envelope.type,
            account_id=envelope.account_id,
            correlation_id=envelope.correlation_id,
        ):
            try:
                popup_id = await asyncio.to_thread(self._handle, envelope)
            except Exception as exc:
                await self._retry_or_dead_letter(msg, exc)
                return
            if popup_id is not None:
                log.info("popup_raised_for_ticket_event", popup_id=str(popup_id))
                if self._on_effect is not None:
                    self._on_effect()
                if self._ack_delay:
                    await asyncio.sleep(self._ack_delay)  # fault injection: the kill tests strike here
            await msg.ack()
            TICKET_EVENTS.labels("popup" if popup_id is not None else "no_popup").inc()

    async def _retry_or_dead_letter(self, msg: Msg, exc: Exception) -> None:
        delivered = msg.metadata.num_delivered or 1
        if delivered >= self._max_deliver:
            await self._dead_letter(msg, f"failed {delivered} times: {type(exc).__name__}: {str(exc)[:500]}")
            return
        delay = self._backoff[min(delivered, len(self._backoff)) - 1]
        log.warning("ticket_event_retry", attempt=delivered, delay=delay, error=repr(exc))
        TICKET_EVENTS.labels("retried").inc()
        await msg.nak(delay=delay)

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        await dead_letter_msg(self._js, msg, consumer=CONSUMER, reason=reason, prefix=self._prefix)
        await msg.ack()
        TICKET_EVENTS.labels("dead_lettered").inc()
