"""The FastAPI application shell shared by every service: error shape, request ids, security headers,
CORS, the HTTP edge (token, body size and pace: `shared/edge.py`), health, metrics, and the API docs.

A service's composition root calls `create_app(...)` with its own lifespan and routers, then
`serve(...)` to run it under uvicorn with a graceful SIGTERM.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import fastapi_offline
import uvicorn
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import Counter, Histogram, start_http_server
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import CachingTokenVerifier
from shared.cors import CorsMiddleware
from shared.edge import BodyLimit, EdgeMiddleware, EdgeRules, RouteRule
from shared.errors import install_error_handlers, json_error
from shared.health import Readiness, health_router
from shared.httpserver import WRITE_BODY, bounded_http_protocol
from shared.logging import bind_context, clear_contextvars, get_logger
from shared.settings import ServiceSettings
from shared.tracing import ServerSpan
from shared.tracing import enabled as tracing_enabled

REQUESTS = Counter("helpdesk_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram(
    "helpdesk_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REQUEST_ID_HEADER = "X-Request-Id"
CORRELATION_HEADER = "X-Correlation-Id"


class RequestContextMiddleware:
    """Binds request and correlation ids to the log context; records metrics by route template and,
    with tracing on, the request's server span (`shared/tracing.py`); adds
    `X-Content-Type-Options: nosniff` to every response and `Cache-Control: no-store` to JSON ones
    that set no caching of their own (they hold an account's data: no shared cache may keep them).

    Plain ASGI rather than Starlette's `BaseHTTPMiddleware`, which costs a task and a memory stream
    per request on the hot path and breaks streaming responses' back-pressure.
    """

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service
        # A random per-process prefix and a counter: uuid4() per request is a syscall that drops the GIL.
        self._id_prefix = uuid.uuid4().hex[:16]
        self._ids = itertools.count(1)
        # The metrics' children by label values: `labels()` takes a lock and builds its key each time.
        self._latency: dict[tuple[str, str], Any] = {}
        self._requests: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clear_contextvars()
        given_request_id, given_correlation_id = _ids_of(scope["headers"])
        request_id = (given_request_id or f"{self._id_prefix}{next(self._ids):016x}")[:128]
        correlation_id = (given_correlation_id or request_id)[:128]
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["correlation_id"] = correlation_id
        bind_context(request_id=request_id, correlation_id=correlation_id)
        # The request's span (None with tracing off): current for everything below, so the log lines
        # and the events this request records carry its trace.
        server_span = (
            ServerSpan.open(
                method=scope.get("method", ""), path=scope.get("path", ""), headers=Headers(scope=scope)
            )
            if tracing_enabled()
            else None
        )
        started = time.perf_counter()
        status = 500
        response_started = response_complete = False
        request_id_header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started, response_complete
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                message["headers"] = _with_edge_headers(message.get("headers") or (), request_id_header)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                response_complete = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
            if response_started and not response_complete:
                # A streaming response (SSE) that stops on shutdown may return without its last
                # chunk; end the body so the client sees a clean end of stream, not a cut connection.
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception as exc:  # noqa: BLE001 — the last boundary of a request: anything becomes a 500
            # Starlette re-raises unhandled errors past the app's handlers; answer here so even a 500
            # carries the shared shape and the request id, and is counted.
            get_logger(__name__).error("unhandled_error", path=scope.get("path", ""), exc_info=exc)
            if not response_started:
                response = json_error(
                    Request(scope),
                    status=500,
                    code="internal_error",
                    message="something went wrong on our side",
                )
                await response(scope, receive, send_with_id)
        finally:
            if response_complete:
                # The server's body writer is bound to this scope and kept in it: a reference cycle
                # that left every request's scope (FastAPI's three exit stacks in it) to the cyclic
                # collector. A complete response's writer writes nothing more: it goes, and the scope
                # is freed at once. (A popup stream handed over unfinished keeps it.)
                scope.get("extensions", {}).pop(WRITE_BODY, None)
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope.get("method", "")
            self._observe(method, template, status, time.perf_counter() - started)
            if server_span is not None:
                server_span.close(route=template, status=status)

    def _observe(self, method: str, template: str, status: int, seconds: float) -> None:
        latency = self._latency.get((method, template))
        if latency is None:
            latency = self._latency[(method, template)] = LATENCY.labels(self.service, method, template)
        latency.observe(seconds)
        requests = self._requests.get((method, template, status))
        if requests is None:
            requests = REQUESTS.labels(self.service, method, template, str(status))
            self._requests[(method, template, status)] = requests
        requests.inc()


def _ids_of(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str, str]:
    """The caller's `X-Request-Id` and `X-Correlation-Id` (the first of each; empty if not sent)."""
    request_id = correlation_id = None
    for key, value in headers:
        if key == b"x-request-id":
            request_id = request_id if request_id is not None else value
        elif key == b"x-correlation-id":
            correlation_id = correlation_id if correlation_id is not None else value
    return (
        request_id.decode("latin-1") if request_id else "",
        correlation_id.decode("latin-1") if correlation_id else "",
    )


def _with_edge_headers(
    headers: Iterable[tuple[bytes, bytes]], request_id: tuple[bytes, bytes]
) -> list[tuple[bytes, bytes]]:
    """A response's headers plus the request id, `nosniff` unless set, and `no-store` on JSON that
    sets no caching of its own (ASGI header names are lower-case)."""
    out = list(headers)
    sniff_set = cache_set = False
    content_type: bytes | None = None
    for key, value in out:
        if key == b"x-content-type-options":
            sniff_set = True
        elif key == b"cache-control":
            cache_set = True
        elif key == b"content-type" and content_type is None:
            content_type = value
    out.append(request_id)
    if not sniff_set:
        out.append((b"x-content-type-options", b"nosniff"))
    if not cache_set and content_type is not None and content_type.startswith(b"application/json"):
        out.append((b"cache-control", b"no-store"))
    return out


# Swagger UI and ReDoc as files on disk, from the `fastapi-offline` package (the smallest one on the
# registry that ships both bundles and nothing else we need): the docs work offline and behind a proxy.
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"


def install_docs(app: FastAPI, *, title: str) -> None:
    """Swagger UI at `/docs` (and `/docs/`), ReDoc at `/docs/redoc`, their assets at `/docs/assets/`.

    Every URL in the pages is relative, so the same page works on the service itself and behind the
    gateway, which maps `/docs/<service>/…` to the service's `/docs/…`. A page served at `/docs` (no
    slash) resolves relative URLs against `/`, one at `/docs/` against `/docs/`: each form gets URLs
    that land on the same files. The OpenAPI document is at `/openapi.json` and, for the pages, at
    `/docs/openapi.json`.
    """
    app.mount("/docs/assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    def swagger(base: str) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{base}openapi.json",
            title=f"{title} - API docs",
            swagger_js_url=f"{base}assets/swagger-ui-bundle.js",
            swagger_css_url=f"{base}assets/swagger-ui.css",
            swagger_favicon_url=f"{base}assets/favicon.png",
            oauth2_redirect_url=None,
            # No badge that asks validator.swagger.io about the document.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs", include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        return swagger("docs/")

    @app.get("/docs/", include_in_schema=False)
    async def docs_page_in_folder() -> HTMLResponse:
        return swagger("")

    @app.get("/docs/openapi.json", include_in_schema=False)
    async def docs_openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs/redoc", include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        # From `/docs/redoc`, relative URLs resolve against `/docs/` here and behind the gateway.
        return get_redoc_html(
            openapi_url="openapi.json",
            title=f"{title} - API reference",
            redoc_js_url="assets/redoc.standalone.js",
            redoc_favicon_url="assets/favicon.png",
            with_google_fonts=False,
        )


def create_app(
    *,
    service: str,
    title: str,
    settings: ServiceSettings,
    readiness: Readiness,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    version: str = "1.0.0",
    description: str = "",
    public_routes: Sequence[RouteRule] = (),
    body_limits: Sequence[BodyLimit] = (),
) -> FastAPI:
    """The service's app with the shared middleware, error handlers, health routes and docs.

    Every route needs a bearer token except health, readiness, metrics, docs and `public_routes`
    (e.g. `RouteRule("GET", "/api/v1/directory/{rest:path}")`: no token, or a route that checks its
    own kind of token). Bodies are capped at `settings.max_body_bytes` unless one of `body_limits`
    matches the route first (uploads).
    """
    docs = settings.docs_enabled
    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        docs_url=None,  # install_docs: local assets and relative URLs instead of FastAPI's CDN page
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.readiness = readiness
    app.state.token_verifier = CachingTokenVerifier(settings.common)
    install_error_handlers(app)
    edge = EdgeRules(
        public_routes=tuple(public_routes),
        body_limits=tuple(body_limits),
        default_max_body_bytes=settings.max_body_bytes,
        body_idle_timeout=settings.body_idle_timeout_seconds,
        body_total_timeout=settings.body_total_timeout_seconds,
    )
    origins = settings.common.cors_allow_origins
    # Outermost first. The edge reads no body byte before the caller's token has verified.
    app.user_middleware[:0] = [
        Middleware(RequestContextMiddleware, service=service),  # request ids and metrics for all below
        *([Middleware(CorsMiddleware, allow_origins=origins)] if origins else []),  # preflights: no token
        Middleware(EdgeMiddleware, rules=edge),
        # Rate limiting belongs here, right inside the edge: the caller is known by then (the
        # `Principal` in the request state under `shared.auth.EDGE_PRINCIPAL`) and no body is read yet.
    ]
    app.include_router(health_router(readiness, metrics=settings.http_metrics_port is None))
    if docs:
        install_docs(app, title=title)
    return app


class _GracefulServer(uvicorn.Server):
    """SIGTERM: mark not ready, wait `drain_delay` so load balancers notice, then stop as uvicorn does
    (stop accepting, finish in-flight requests, run the lifespan shutdown that drains NATS)."""

    def __init__(self, config: uvicorn.Config, *, readiness: Readiness, drain_delay: float) -> None:
        super().__init__(config)
        self._readiness = readiness
        self._drain_delay = drain_delay

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._readiness.shutting_down = True
        if self._drain_delay > 0 and not self.should_exit:
            asyncio.get_event_loop().call_later(self._drain_delay, super().handle_exit, sig, frame)
        else:
            super().handle_exit(sig, frame)


async def serve(app: FastAPI, settings: ServiceSettings, *, drain_delay: float = 0.0) -> None:
    """Run `app` until SIGTERM or SIGINT."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or None,
        lifespan="on",
        ws_max_size=256 * 1024,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_interval_seconds,
        ws_per_message_deflate=settings.ws_per_message_deflate,
        # httptools, with the request's head bounded in size and time (uvicorn bounds neither).
        http=bounded_http_protocol(head_timeout=settings.head_timeout_seconds),
    )
    if settings.http_metrics_port is not None:  # Prometheus scrapes here; the API's port serves none
        start_http_server(settings.http_metrics_port, addr=settings.host)
    server = _GracefulServer(config, readiness=app.state.readiness, drain_delay=drain_delay)
    get_logger(__name__).info("http_serving", host=settings.host, port=settings.port)
    await server.serve()
