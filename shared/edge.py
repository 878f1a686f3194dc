"""The HTTP edge every service shares: the bearer token and the body's size and pace are checked
before the route, and before a byte of the body is read.

Without it a route read its body whole before its dependencies ran: a 200 MB chunked body with no
token grew a service by 500 MB before the 401, a huge declared `Content-Length` made it wait for the
body, and a body that never came held the connection open for good. `EdgeMiddleware`, plain ASGI:

1. **Authentication.** Every route needs a valid bearer token, except the health, readiness, metrics
   and docs routes and those a service declares public (`public_routes`: no token, or their own kind of
   token, such as the popup stream's). A missing or invalid token gets 401 in the shared shape at once;
   the caller's `Principal` is left in the request state, so the route's dependency does not verify
   the token again.
2. **Size.** Each body has a cap: the service's rule for the route (`body_limits`: uploads), else the
   default for JSON. A declared `Content-Length` over it gets 413 without reading; a chunked body is
   counted as it streams and cut off at the cap with 413.
3. **Pace.** Each wait for the next piece of a body is bounded (`idle`), and so is the whole body
   (`total`): 408 when either runs out.

Rejections close the connection (the body that is left is never read) and carry the request id.
WebSockets pass through untouched: a WebSocket frame is not an HTTP body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import EDGE_PRINCIPAL, TokenVerifier, bearer_token_of
from shared.errors import Unauthorized, error_body

KIB = 1024
DEFAULT_MAX_BODY_BYTES = 64 * KIB
# Served without a token in every service: probes, Prometheus and the API docs.
ALWAYS_PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
ALWAYS_PUBLIC_PREFIXES = ("/docs",)


@dataclass(frozen=True)
class RouteRule:
    """Requests with one of `methods` (space-separated, or `*` for any) whose path matches `path`, a
    route template: `{name}` is one path segment, `{name:path}` the rest of the path (a prefix)."""

    methods: str
    path: str
    _methods: frozenset[str] = field(init=False, repr=False, compare=False)
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_methods", frozenset(self.methods.upper().split()))
        object.__setattr__(self, "_regex", compile_path(self.path)[0])

    def matches(self, method: str, path: str) -> bool:
        return ("*" in self._methods or method in self._methods) and self._regex.match(path) is not None


@dataclass(frozen=True)
class BodyLimit:
    """The largest body, in bytes, the requests `route` matches may send."""

    route: RouteRule
    max_bytes: int


@dataclass(frozen=True)
class EdgeRules:
    """What a service declares next to its routes: public routes and body caps other than the default."""

    public_routes: Sequence[RouteRule] = ()
    body_limits: Sequence[BodyLimit] = ()
    default_max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_idle_timeout: float = 15.0
    body_total_timeout: float = 120.0

    def is_public(self, method: str, path: str) -> bool:
        if path in ALWAYS_PUBLIC_PATHS or path.startswith(ALWAYS_PUBLIC_PREFIXES):
            return True
        return any(rule.matches(method, path) for rule in self.public_routes)

    def max_body_bytes(self, method: str, path: str) -> int:
        for limit in self.body_limits:
            if limit.route.matches(method, path):
                return limit.max_bytes
        return self.default_max_body_bytes


class _Refused(Exception):
    """Raised inside `receive` to stop the route reading a body the edge refuses."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class EdgeMiddleware:
    """Authentication, body caps and body timeouts before the route (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, rules: EdgeRules) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        declared, has_body = _body_of(scope)
        if not self.rules.is_public(method, path):
            try:
                principal = await _verifier(scope).verify_async(
                    bearer_token_of(_header(scope, b"authorization"))
                )
            except Unauthorized as exc:
                await _answer(scope, send, status=401, code=exc.code, message=exc.message, close=has_body)
                return
            scope.setdefault("state", {})[EDGE_PRINCIPAL] = principal
        if not has_body:
            await self.app(scope, receive, send)
            return
        cap = self.rules.max_body_bytes(method, path)
        if declared is not None and declared > cap:
            await _answer(
                scope, send, status=413, code="payload_too_large", message=_too_large(cap), close=True
            )
            return
        await self._guarded(scope, receive, send, cap)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        idle, total = self.rules.body_idle_timeout, self.rules.body_total_timeout
        loop = asyncio.get_running_loop()
        received = 0
        deadline: float | None = None
        body_done = False
        refused: _Refused | None = None
        started = False

        async def edge_receive() -> Message:
            nonlocal received, deadline, body_done, refused
            if body_done:  # a streaming response waiting for the disconnect: no body timeout applies
                return await receive()
            if deadline is None:
                deadline = loop.time() + total
            wait = min(idle, deadline - loop.time())
            try:
                async with asyncio.timeout(max(wait, 0.0)):
                    message = await receive()
            except TimeoutError:
                refused = _Refused(408, "request_timeout", "the request body did not arrive in time")
                raise refused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    refused = _Refused(413, "payload_too_large", _too_large(cap))
                    raise refused
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def edge_send(message: Message) -> None:
            nonlocal started
            if refused is not None:  # whatever the route made of the cut-off body, the answer is the edge's
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_Refused):
            await self.app(scope, edge_receive, edge_send)
        if refused is not None and not started:
            await _answer(
                scope, send, status=refused.status, code=refused.code, message=refused.message, close=True
            )


def _verifier(scope: Scope) -> TokenVerifier:
    verifier = getattr(scope["app"].state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("app.state.token_verifier is not set by the composition root")
    return verifier


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def _body_of(scope: Scope) -> tuple[int | None, bool]:
    """The declared length (None if not declared or not a number) and whether a body may follow."""
    declared: int | None = None
    chunked = False
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None
                chunked = True  # the server refuses these; if one gets here, treat it as unknown
        elif key == b"transfer-encoding":
            chunked = True
    has_body = chunked or (declared is not None and declared > 0)
    return declared, has_body


def _too_large(cap: int) -> str:
    return f"the request body is larger than {cap} bytes"


async def _answer(scope: Scope, send: Send, *, status: int, code: str, message: str, close: bool) -> None:
    request_id = scope.get("state", {}).get("request_id")
    body = json.dumps(
        error_body(code=code, message=message, request_id=request_id if isinstance(request_id, str) else None)
    ).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if close:  # the rest of the body is never read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
