"""One request, one trace: filing a request on the tickets API yields a single trace from the HTTP
request through the event store (the trace context is stored with the event), the outbox relay's
publication to JetStream (a `traceparent` header) to the history projection and the notifications
consumer, on a real nats-server. The services share this process and one in-memory span exporter;
apart, each would export its spans over OTLP and the parent chain would be the same."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from notifications.adapters.consumer import CONSUMER as NOTIFICATIONS_CONSUMER
from shared.settings import CommonSettings
from tests.conftest import auth
from tests.spans import recording_spans
from tests.support.notifications import running, service_settings
from tickets.bootstrap import create_app, migrate
from tickets.projections.projector import CONSUMER as HISTORY_CONSUMER
from tickets.settings import TicketsSettings

pytestmark = [pytest.mark.e2e]

WAIT = 20.0


async def spans_until(
    exporter: InMemorySpanExporter, done: Callable[[tuple[ReadableSpan, ...]], bool]
) -> tuple[ReadableSpan, ...]:
    """The finished spans once `done` holds for them (bounded by WAIT)."""
    async with asyncio.timeout(WAIT):
        while not done(spans := exporter.get_finished_spans()):
            await asyncio.sleep(0.05)
    return spans


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def destination(span: ReadableSpan) -> str:
    return str((span.attributes or {}).get("messaging.destination.name", ""))


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


async def test_a_new_request_is_one_trace_from_the_api_through_the_relay_to_every_consumer(
    common_settings: CommonSettings, nats_prefix: str, make_token: Callable[..., str]
) -> None:
    common = common_settings.model_copy(update={"nats_prefix": nats_prefix})
    tickets_settings = TicketsSettings(common=common, run_breach_checker=False)
    notifications_settings = service_settings(common, prefix=nats_prefix)
    await migrate(tickets_settings)
    with recording_spans() as exporter:
        tickets = create_app(tickets_settings)
        async with running(notifications_settings), tickets.router.lifespan_context(tickets):
            transport = httpx.ASGITransport(app=tickets)
            async with httpx.AsyncClient(transport=transport, base_url="http://tickets.test") as client:
                response = await client.post(
                    "/api/v1/tickets",
                    data={"topic": "reports", "comment": "Totals", "message": "The report shows none."},
                    headers=auth(make_token(role="user", account="hotel-a", sub="u1")),
                )
            assert response.status_code == 201, response.text

            def consumed(spans: tuple[ReadableSpan, ...]) -> bool:
                names = {s.name for s in spans}
                return {f"{HISTORY_CONSUMER} process", f"{NOTIFICATIONS_CONSUMER} process"} <= names

            spans = await spans_until(exporter, consumed)

    (request,) = [s for s in spans if s.name == "POST /api/v1/tickets"]
    assert request.kind is SpanKind.SERVER
    trace = [s for s in spans if trace_id(s) == trace_id(request)]
    publications = [s for s in trace if s.kind is SpanKind.PRODUCER]
    # The relay published the request's event (`ticket.created`) as a child of the request's span.
    (created,) = [s for s in publications if destination(s).endswith(".tickets.v1.created")]
    assert parent_of(created) == span_id(request)
    # Each consumer handled that message as a child of its publication: the same trace throughout.
    history = [s for s in trace if s.name == f"{HISTORY_CONSUMER} process"]
    notifications = [s for s in trace if s.name == f"{NOTIFICATIONS_CONSUMER} process"]
    assert [parent_of(s) for s in history] == [span_id(created)]
    assert [parent_of(s) for s in notifications] == [span_id(created)]
    assert all(s.kind is SpanKind.CONSUMER for s in history + notifications)
    # The message's handling started no trace of its own anywhere on the way.
    roots = [s for s in spans if s.parent is None]
    assert [s for s in roots if destination(s).endswith(".tickets.v1.created")] == []
