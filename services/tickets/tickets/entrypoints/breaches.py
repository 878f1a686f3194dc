"""The first-response breach checker: follows the TICKETS stream into a `PromiseBook` and, every
`breach_check_seconds`, records `FirstResponseOverdue` on each request whose promise has passed.

The aggregate records a breach at most once (a second checker, or a replay, changes nothing), so any
number of replicas may run it; each breach recorded here is counted in a metric and published, like
every ticket event, by the relay.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from shared.contracts.envelope import UnknownEventType
from shared.contracts.subjects import ROOT, TICKETS_STREAM, with_prefix
from shared.contracts.tickets import parse_ticket_event
from shared.logging import get_logger
from shared.nats import follow
from shared.stopping import sleep_or_stop
from tickets.application.commands import Caller, MarkFirstResponseOverdue
from tickets.application.service import TicketService
from tickets.domain.errors import TicketError
from tickets.domain.values import SYSTEM
from tickets.projections.promises import PromiseBook

log = get_logger(__name__)

BREACHES = Counter(
    "helpdesk_tickets_first_response_breaches_total", "Requests whose first answer came later than promised"
)
OPEN_PROMISES = Gauge(
    "helpdesk_tickets_open_promises", "Requests awaiting their first answer, with a due time"
)
RETRY_SECONDS = 2.0


class BreachChecker:
    def __init__(
        self,
        *,
        js: JetStreamContext,
        service: TicketService,
        prefix: str,
        every: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._js = js
        self._service = service
        self._prefix = prefix
        self._every = every
        self._clock = clock
        self.book = PromiseBook()
        self._subscription: object | None = None

    async def run(self, stop: asyncio.Event) -> None:
        await self._follow(stop)
        try:
            while not stop.is_set():
                await self.check()
                await sleep_or_stop(stop, self._every)
        finally:
            if self._subscription is not None:
                with contextlib.suppress(Exception):
                    await self._subscription.unsubscribe()  # type: ignore[attr-defined]

    async def check(self) -> int:
        """Record every passed promise; how many breaches this call recorded."""
        now = self._clock()
        caller = Caller(actor=SYSTEM, account_id=None)
        recorded = 0
        for ticket_id in self.book.past_due(now):
            try:
                result = await self._service.execute(
                    MarkFirstResponseOverdue(caller=caller, ticket_id=ticket_id, now=now)
                )
            except TicketError as exc:
                log.warning("breach_not_recorded", ticket_id=str(ticket_id), error=type(exc).__name__)
                self.book.forget(ticket_id)
                continue
            self.book.forget(ticket_id)
            if result.changed:
                recorded += 1
                BREACHES.inc()
                log.info("first_response_breached", ticket_id=str(ticket_id), ticket_number=result.number)
        OPEN_PROMISES.set(len(self.book))
        return recorded

    async def _follow(self, stop: asyncio.Event) -> None:
        stream = TICKETS_STREAM.stream_name(self._prefix)
        subject = with_prefix(self._prefix, f"{ROOT}.{TICKETS_STREAM.domain}.v1.>")
        while not stop.is_set():
            try:
                self._subscription = await follow(
                    self._js, stream=stream, subject=subject, cb=self._on_message, deliver=DeliverPolicy.ALL
                )
                return
            except (NotFoundError, NatsError, TimeoutError) as exc:
                log.warning("breach_checker_subscribe_failed", error=repr(exc))
                await sleep_or_stop(stop, RETRY_SECONDS)

    async def _on_message(self, msg: Msg) -> None:
        try:
            self.book.apply(parse_ticket_event(msg.data))
        except (ValidationError, UnknownEventType, ValueError) as exc:
            # Not this checker's to dead-letter (the history projection does): skip it.
            log.warning("breach_checker_event_skipped", error=type(exc).__name__)
