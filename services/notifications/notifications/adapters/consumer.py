"""What the durable pull consumer of the tickets stream does with one message: support's replies
become popups.

The faststream subscriber (`entrypoints/ticket_events.py`) fetches and acknowledges; this decides.
A message that cannot be parsed goes straight to the dead-letter subject (it would fail the same way
every time) and is then acked, so it never blocks the next one. A failure to apply a valid event (the
store is away) asks for a redelivery after a back-off until the delivery that `max_deliver` allows
last, which dead-letters it with the reason instead. Applying is idempotent (deterministic popup
ids), so a redelivery after a crash between the effect and the ack changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from notifications.domain.errors import RequesterNotSeenYet
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


def filter_subject(prefix: str) -> str:
    return with_prefix(prefix, f"{ROOT}.{DOMAIN}.v{SCHEMA_VERSION}.>")


def consumer_config(*, prefix: str, max_deliver: int, ack_wait_seconds: float) -> ConsumerConfig:
    """The durable consumer `migrate()` creates and every replica binds to.

    No server-side `backoff`: it would replace `ack_wait` as the redelivery delay after a crash;
    the back-off between failed attempts is the delay of each `nak` instead.
    """
    return ConsumerConfig(
        durable_name=consumer_name(prefix),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        filter_subject=filter_subject(prefix),
        max_deliver=max_deliver,
        ack_wait=ack_wait_seconds,
        max_ack_pending=1000,
    )


Handler = Callable[[EventEnvelope[TicketEventData]], UUID | None]


@dataclass(frozen=True)
class Retry:
    """Ask JetStream to deliver the message again after `delay` seconds (a `nak` with a delay)."""

    delay: float


class TicketEventsConsumer:
    def __init__(
        self,
        *,
        prefix: str,
        handle: Handler,
        max_deliver: int,
        backoff_seconds: Sequence[float],
        on_effect: Callable[[], None] | None = None,
        ack_delay_seconds: float = 0.0,
        handle_strict: Handler | None = None,
        requester_wait_seconds: float = 0.5,
    ) -> None:
        self._prefix = prefix
        self._handle = handle
        # On its first deliveries a reply whose requester is not recorded yet (another replica may be
        # recording the ticket's creation right now) waits briefly instead of going to the account.
        self._handle_strict = handle_strict
        self._strict_deliveries = min(2, max_deliver - 1)
        self._requester_wait = requester_wait_seconds
        self._max_deliver = max_deliver
        self._backoff = list(backoff_seconds) or [1.0]
        self._on_effect = on_effect
        self._ack_delay = ack_delay_seconds

    async def process(self, msg: Msg, *, js: JetStreamContext) -> Retry | None:
        """Apply one message. None: it is done (applied, or dead-lettered), ack it."""
        try:
            envelope = parse_ticket_event(msg.data)
        except (ValidationError, UnknownEventType, ValueError) as exc:
            await self._dead_letter(js, msg, f"malformed: {type(exc).__name__}: {str(exc)[:500]}")
            return None
        # The envelope is authoritative for the ids; the subscriber bound the headers' copies already.
        with bound_contextvars(
            event_id=str(envelope.event_id),
            event_type=envelope.type,
            account_id=envelope.account_id,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.causation_id,
        ):
            delivered = msg.metadata.num_delivered or 1
            strict = self._handle_strict is not None and delivered <= self._strict_deliveries
            handler = self._handle_strict if strict and self._handle_strict else self._handle
            try:
                popup_id = await asyncio.to_thread(handler, envelope)
            except RequesterNotSeenYet:
                log.info("ticket_reply_waits_for_requester", attempt=delivered)
                TICKET_EVENTS.labels("waiting_for_requester").inc()
                return Retry(self._requester_wait)
            except Exception as exc:  # noqa: BLE001 - any failure: retried with back-off, then dead-lettered
                return await self._retry_or_dead_letter(js, msg, exc)
            if popup_id is not None:
                log.info("popup_raised_for_ticket_event", popup_id=str(popup_id))
                if self._on_effect is not None:
                    self._on_effect()
                if self._ack_delay:
                    await asyncio.sleep(self._ack_delay)  # fault injection: the kill tests strike here
        TICKET_EVENTS.labels("popup" if popup_id is not None else "no_popup").inc()
        return None

    async def _retry_or_dead_letter(self, js: JetStreamContext, msg: Msg, exc: Exception) -> Retry | None:
        delivered = msg.metadata.num_delivered or 1
        if delivered >= self._max_deliver:
            reason = f"failed {delivered} times: {type(exc).__name__}: {str(exc)[:500]}"
            await self._dead_letter(js, msg, reason)
            return None
        delay = self._backoff[min(delivered, len(self._backoff)) - 1]
        log.warning("ticket_event_retry", attempt=delivered, delay=delay, error=repr(exc), exc_info=exc)
        TICKET_EVENTS.labels("retried").inc()
        return Retry(delay)

    async def _dead_letter(self, js: JetStreamContext, msg: Msg, reason: str) -> None:
        # Keyed by the stream sequence: dead-lettered again after a crash before the ack, it is parked once.
        msg_id = f"{CONSUMER}:{msg.metadata.stream}:{msg.metadata.sequence.stream}"
        await dead_letter_msg(js, msg, consumer=CONSUMER, reason=reason, prefix=self._prefix, msg_id=msg_id)
        TICKET_EVENTS.labels("dead_lettered").inc()
