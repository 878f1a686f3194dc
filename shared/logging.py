"""structlog, configured once per process: contextvars first, JSON off a terminal, readable on one.

Bind ids at the start of each unit of work with `bind_context(...)`; log key-value events, never
f-strings: `log.info("ticket_created", ticket_number=n)`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from opentelemetry import trace
from structlog.contextvars import bind_contextvars, bound_contextvars, clear_contextvars

from shared.tracing import enabled as tracing_enabled

__all__ = ["bind_context", "bound_contextvars", "clear_contextvars", "configure_logging", "get_logger"]


def configure_logging(*, level: str = "INFO", json: bool | None = None, service: str | None = None) -> None:
    """Configure structlog and the stdlib root logger (uvicorn, faststream, nats) for this process."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if service:
        shared.append(_add_service(service))
    # Records from the stdlib (uvicorn, nats) carry exc_info too: render it, do not drop it.
    foreign = [*shared, structlog.processors.format_exc_info] if use_json else shared
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info
            if use_json
            else structlog.processors.ExceptionPrettyPrinter(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=foreign,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # Per-message INFO lines from the broker cost a large share of its throughput (ARCHITECTURE.md).
    for noisy in ("faststream", "faststream.access", "nats", "uvicorn.access", "websockets"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    if "faststream" in sys.modules:
        # faststream gives its loggers their own stderr handler and propagate=False when imported:
        # route them through ours so every line is JSON.
        for name in ("faststream", "faststream.access"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
    # At DEBUG the websockets protocol logs whole frames (chat text, auth tokens) via uvicorn.error.
    logging.getLogger("uvicorn.error").setLevel(max(numeric, logging.INFO))


def add_trace_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """`trace_id` and `span_id` of the current span (`shared/tracing.py`), when one is recording."""
    if not tracing_enabled():
        return event_dict
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", trace.format_trace_id(context.trace_id))
        event_dict.setdefault("span_id", trace.format_span_id(context.span_id))
    return event_dict


def _add_service(service: str) -> Any:
    def processor(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    return processor


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


def bind_context(**values: Any) -> None:
    """Bind ids (request_id, correlation_id, account_id, …) for the rest of this unit of work."""
    bind_contextvars(**{k: v for k, v in values.items() if v is not None})
