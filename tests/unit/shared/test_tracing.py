"""Tracing (`shared/tracing.py`): off by default with nothing installed; on, the HTTP request's span
continues a caller's trace, a message's span continues its publisher's, events keep the trace they
were recorded in, and log lines carry the current trace and span ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared import tracing
from shared.http import RequestContextMiddleware
from shared.logging import configure_logging, get_logger
from shared.settings import CommonSettings
from tests.spans import by_name, recording_spans

pytestmark = pytest.mark.unit

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_PARENT = f"00-{CALLER_TRACE}-b7ad6b7169203331-01"


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """The captured stderr; the test configures JSON log lines there, undone after it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield capsys
    finally:
        structlog.reset_defaults()
        root.handlers[:] = handlers
        root.setLevel(level)


def common(**values: object) -> CommonSettings:
    return CommonSettings(jwt_secret=SecretStr("x" * 40), **values)  # type: ignore[arg-type]


def app() -> RequestContextMiddleware:
    async def item(request: Request) -> JSONResponse:
        get_logger("test").info("item_read", item=request.path_params["item_id"])
        return JSONResponse({"traceparent": tracing.current_trace_parent()})

    async def broken(request: Request) -> JSONResponse:
        raise RuntimeError("boom")

    routes = [Route("/items/{item_id}", item), Route("/broken", broken)]
    return RequestContextMiddleware(Starlette(routes=routes), service="test")


async def get(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.get(path, headers=headers or {})


def test_tracing_is_off_unless_an_endpoint_is_configured() -> None:
    assert tracing.setup_tracing(common(), service="test") is False
    assert not tracing.enabled()
    with tracing.span("anything") as current:
        assert current is None
    assert tracing.ServerSpan.open(method="GET", path="/", headers={"traceparent": CALLER_PARENT}) is None
    assert tracing.current_trace_parent() is None
    headers: dict[str, str] = {}
    tracing.inject(headers)
    assert headers == {}
    assert tracing.start_span("x") is None


def test_the_endpoint_comes_from_either_variable_and_names_the_traces_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert common().otel_exporter_otlp_endpoint == "http://collector:4318"
    monkeypatch.setenv("HELPDESK_OTEL_EXPORTER_OTLP_ENDPOINT", "http://ours:4318/")
    assert common().otel_exporter_otlp_endpoint == "http://ours:4318/"
    assert tracing.traces_url("http://ours:4318/") == "http://ours:4318/v1/traces"
    assert tracing.traces_url("http://ours:4318/v1/traces") == "http://ours:4318/v1/traces"


async def test_with_tracing_off_a_request_records_nothing_and_stores_no_context() -> None:
    response = await get("/items/7")
    assert response.status_code == 200
    assert response.json() == {"traceparent": None}


async def test_a_request_span_continues_the_callers_trace_and_is_named_by_its_route() -> None:
    with recording_spans() as exporter:
        response = await get("/items/7", headers={"traceparent": CALLER_PARENT})
        (server,) = exporter.get_finished_spans()
    assert server.name == "GET /items/{item_id}"
    assert server.kind is SpanKind.SERVER
    assert server.context is not None and server.parent is not None
    assert trace.format_trace_id(server.context.trace_id) == CALLER_TRACE
    assert server.parent.span_id == int("b7ad6b7169203331", 16)
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/items/{item_id}"
    assert server.attributes["http.response.status_code"] == 200
    # What the route stores with its events is this span's context.
    assert response.json()["traceparent"] == f"00-{CALLER_TRACE}-{server.context.span_id:016x}-01"


async def test_a_failed_request_span_is_marked_as_an_error() -> None:
    with recording_spans() as exporter:
        response = await get("/broken")
        (server,) = exporter.get_finished_spans()
    assert response.status_code == 500
    assert server.status.status_code is trace.StatusCode.ERROR
    assert server.parent is None  # no caller's trace: a new one


async def test_a_log_line_inside_a_traced_request_carries_its_trace_and_span_ids(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    configure_logging(level="INFO", json=True, service="test")
    with recording_spans() as exporter:
        await get("/items/7", headers={"traceparent": CALLER_PARENT})
        (server,) = exporter.get_finished_spans()
    lines = [json.loads(line) for line in json_logs.readouterr().err.splitlines() if "item_read" in line]
    assert len(lines) == 1
    assert server.context is not None
    assert lines[0]["trace_id"] == CALLER_TRACE
    assert lines[0]["span_id"] == f"{server.context.span_id:016x}"


def test_a_log_line_outside_any_span_has_no_trace_ids(json_logs: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json=True, service="test")
    with recording_spans():
        get_logger("test").info("idle")
    line = json.loads(json_logs.readouterr().err.strip().splitlines()[-1])
    assert "trace_id" not in line and "span_id" not in line


def test_a_message_span_is_a_child_of_the_publishers_span() -> None:
    with recording_spans() as exporter:
        with tracing.span("relay publish", kind=SpanKind.PRODUCER) as producer:
            headers: dict[str, str] = {}
            tracing.inject(headers)
        with tracing.consume_span(consumer="history", headers=headers, subject="helpdesk.x") as consumer:
            assert consumer is not None
        with tracing.consume_span(consumer="history", headers={}, subject="helpdesk.x"):
            pass
        spans = exporter.get_finished_spans()
    assert producer is not None
    published, untraced = by_name(spans, "history process")
    assert published.kind is SpanKind.CONSUMER
    assert published.parent is not None
    assert published.parent.span_id == producer.get_span_context().span_id
    assert published.context is not None
    assert published.context.trace_id == producer.get_span_context().trace_id
    assert untraced.parent is None  # a message without a traceparent starts its own trace


@dataclass(frozen=True)
class Recorded:
    text: str


def test_events_keep_the_trace_they_were_recorded_in() -> None:
    events = [Recorded("a"), Recorded("b")]
    tracing.stamp_events(events, CALLER_PARENT)
    assert [tracing.stored_trace_parent(e) for e in events] == [CALLER_PARENT, CALLER_PARENT]
    unstamped = Recorded("c")
    tracing.stamp_events([unstamped], None)
    assert tracing.stored_trace_parent(unstamped) is None
    assert vars(unstamped) == {"text": "c"}  # nothing added to what is stored
