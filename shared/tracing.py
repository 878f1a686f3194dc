"""OpenTelemetry traces, off by default: one trace from the HTTP request through the event store, the
outbox relay and NATS to every consumer.

- `setup_tracing(common, service=...)` once per process: with `HELPDESK_OTEL_EXPORTER_OTLP_ENDPOINT`
  (or the standard `OTEL_EXPORTER_OTLP_ENDPOINT`) set, spans go over OTLP/HTTP in batches; unset,
  nothing is installed and every helper here returns at its first line (no span, no exporter).
- The context crosses processes as a W3C `traceparent`: in HTTP headers, in NATS message headers, and
  stored with each event in the outbox (`stamp_events` / `stored_trace_parent`), so the relay's span
  continues the request's trace however late it publishes.
- `consume_span(...)` is every consumer's span: a child of the message's `traceparent`, current while
  the message is handled, so log lines carry its `trace_id` and `span_id` (`shared.logging`).

Tests install a provider with an in-memory exporter through `install(provider)` and `uninstall()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from shared.settings import CommonSettings

__all__ = [
    "TRACEPARENT",
    "ServerSpan",
    "SpanKind",
    "consume_span",
    "current_trace_parent",
    "enabled",
    "end_span",
    "inject",
    "install",
    "setup_tracing",
    "span",
    "stamp_events",
    "start_span",
    "stored_trace_parent",
    "uninstall",
]

TRACEPARENT = "traceparent"
# The key under which a stored event keeps the `traceparent` of the command that recorded it. Extra
# keys in a stored event's state are ignored when an aggregate is rebuilt (eventsourcing passes an
# `@event` method only the attributes its signature names).
EVENT_TRACE_KEY = "traceparent"
INSTRUMENTATION = "otelms-helpdesk"

_PROPAGATOR = TraceContextTextMapPropagator()


class _State:
    tracer: Tracer | None = None
    provider: TracerProvider | None = None


_state = _State()


def enabled() -> bool:
    """Whether this process records spans (an exporter was configured, or a test installed one)."""
    return _state.tracer is not None


def setup_tracing(common: CommonSettings, *, service: str) -> bool:
    """Install the OTLP/HTTP exporter if an endpoint is configured; return whether tracing is on."""
    endpoint = common.otel_exporter_otlp_endpoint
    if not endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.namespace": "otelms-helpdesk"}),
        sampler=ParentBased(TraceIdRatioBased(common.otel_traces_sampler_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))
    install(provider)
    if not _has_global_provider():  # for libraries that trace through the global provider
        trace.set_tracer_provider(provider)
    return True


def traces_url(endpoint: str) -> str:
    """The traces URL of an OTLP/HTTP endpoint given as a base (`http://collector:4318`), as the
    standard variable is; a URL that already names `/v1/traces` is kept."""
    clean = endpoint.rstrip("/")
    return clean if clean.endswith("/v1/traces") else f"{clean}/v1/traces"


def install(provider: TracerProvider) -> None:
    """Record this product's spans through `provider` from now on."""
    _state.provider = provider
    _state.tracer = provider.get_tracer(INSTRUMENTATION)


def uninstall() -> None:
    """Stop recording spans (flushes what was recorded); the no-op default again."""
    provider = _state.provider
    _state.tracer = None
    _state.provider = None
    if provider is not None:
        provider.force_flush()


def _has_global_provider() -> bool:
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@contextlib.contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Mapping[str, str] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span | None]:
    """A span current for the block: a child of `parent` (headers with a `traceparent`) when given,
    else of the current span; None, and nothing recorded, with tracing off."""
    tracer = _state.tracer
    if tracer is None:
        yield None
        return
    ctx = _PROPAGATOR.extract(parent) if parent is not None else None
    with tracer.start_as_current_span(name, context=ctx, kind=kind, attributes=attributes) as current:
        yield current


def consume_span(
    *,
    consumer: str,
    headers: Mapping[str, str] | None,
    subject: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> contextlib.AbstractContextManager[Span | None]:
    """The span of one message handled by `consumer`: a child of the publisher's `traceparent`."""
    if _state.tracer is None:
        return contextlib.nullcontext()
    attrs: dict[str, Any] = {"messaging.system": "nats", "messaging.consumer.group.name": consumer}
    if subject is not None:
        attrs["messaging.destination.name"] = subject
    if attributes:
        attrs.update(attributes)
    return span(f"{consumer} process", kind=SpanKind.CONSUMER, parent=headers or {}, attributes=attrs)


def start_span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Mapping[str, str] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Span | None:
    """A span the caller ends itself (not made current): e.g. one per message of a batch, ended when
    the batch is committed. None with tracing off."""
    tracer = _state.tracer
    if tracer is None:
        return None
    ctx = _PROPAGATOR.extract(parent) if parent is not None else None
    return tracer.start_span(name, context=ctx, kind=kind, attributes=attributes)


def end_span(current: Span | None, *, error: BaseException | None = None) -> None:
    if current is None:
        return
    if error is not None:
        current.record_exception(error)
        current.set_status(Status(StatusCode.ERROR, type(error).__name__))
    current.end()


def inject(headers: MutableMapping[str, str], *, within: Span | None = None) -> None:
    """Add the `traceparent` of `within` (else of the current span) to outgoing `headers`."""
    if _state.tracer is None:
        return
    ctx = trace.set_span_in_context(within) if within is not None else None
    _PROPAGATOR.inject(headers, context=ctx)


def current_trace_parent() -> str | None:
    """The current span's `traceparent`, to store with what this unit of work records."""
    if _state.tracer is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def stamp_events(events: Iterable[object], trace_parent: str | None) -> None:
    """Store `trace_parent` with each of `events` (pending domain events, not yet saved): the relay
    that publishes them later continues this trace (`stored_trace_parent`)."""
    if trace_parent is None:
        return
    for event in events:
        # Domain events are frozen dataclasses; the mapper stores every attribute in `vars(event)`.
        vars(event)[EVENT_TRACE_KEY] = trace_parent


def stored_trace_parent(domain_event: object) -> str | None:
    """The `traceparent` stored with an event by `stamp_events`, if any."""
    value = vars(domain_event).get(EVENT_TRACE_KEY)
    return value if isinstance(value, str) else None


class ServerSpan:
    """The span of one HTTP request, current from `open` to `close` (the ASGI middleware's hook)."""

    __slots__ = ("_method", "_span", "_token")

    def __init__(self, method: str, current: Span, token: object) -> None:
        self._method = method
        self._span = current
        self._token = token

    @classmethod
    def open(cls, *, method: str, path: str, headers: Mapping[str, str]) -> ServerSpan | None:
        """None with tracing off. A caller's `traceparent` header makes this span its child."""
        tracer = _state.tracer
        if tracer is None:
            return None
        traceparent = headers.get(TRACEPARENT)
        parent = _PROPAGATOR.extract({TRACEPARENT: traceparent}) if traceparent else None
        current = tracer.start_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        )
        return cls(method, current, otel_context.attach(trace.set_span_in_context(current)))

    def close(self, *, route: str, status: int) -> None:
        """Name the span by its route template (known once routed) and end it with the status."""
        self._span.update_name(f"{self._method} {route}")
        self._span.set_attribute("http.route", route)
        self._span.set_attribute("http.response.status_code", status)
        if status >= 500:
            self._span.set_status(Status(StatusCode.ERROR))
        otel_context.detach(self._token)  # type: ignore[arg-type]
        self._span.end()
