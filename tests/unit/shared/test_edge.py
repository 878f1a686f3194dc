"""The HTTP edge every service shares: no body byte is read before the token verifies and the size is
known to fit; a body that stalls gets 408; WebSockets pass untouched."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from shared.auth import EDGE_PRINCIPAL, CachingTokenVerifier, Principal, Role, issue_dev_token
from shared.edge import BodyLimit, EdgeMiddleware, EdgeRules, RouteRule
from shared.settings import CommonSettings, Environment

pytestmark = pytest.mark.unit

SECRET = "unit-test-secret-that-is-long-enough-0123456789"
COMMON = CommonSettings(environment=Environment.TEST, jwt_secret=SECRET)  # type: ignore[arg-type]
UPLOAD = RouteRule("POST", "/api/v1/tickets/{ticket_id}/replies")
RULES = EdgeRules(
    public_routes=(RouteRule("GET", "/api/v1/popups/stream"), RouteRule("POST", "/api/v1/dev/token")),
    body_limits=(BodyLimit(UPLOAD, 10_000),),
    default_max_body_bytes=1000,
    body_idle_timeout=0.05,
    body_total_timeout=5.0,
)


def token() -> str:
    return issue_dev_token(COMMON, role=Role.USER, sub="u1", account_id="hotel-a")


class Route:
    """The app behind the edge: reads the whole body (as FastAPI does), then answers 200."""

    def __init__(self) -> None:
        self.called = False
        self.body = b""
        self.principal: Principal | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        self.principal = scope.get("state", {}).get(EDGE_PRINCIPAL)
        more = True
        while more:
            try:
                message = await receive()
            except Exception:  # noqa: BLE001 - as FastAPI does, which turns any failed body read into a 400
                # The edge must still answer with its own status.
                await send({"type": "http.response.start", "status": 400, "headers": []})
                await send({"type": "http.response.body", "body": b"bad body"})
                return
            self.body += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class Client:
    """Feeds one request through the edge and records what it read and answered."""

    def __init__(self, chunks: list[bytes], *, stall_after: int | None = None) -> None:
        self.chunks = chunks
        self.stall_after = stall_after
        self.reads = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.stall_after is not None and self.reads >= self.stall_after:
            await asyncio.Event().wait()  # the client sends nothing more
        index = self.reads
        self.reads += 1
        if index >= len(self.chunks):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": self.chunks[index], "more_body": index < len(self.chunks) - 1}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    @property
    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = json.loads(self.sent[1]["body"])["error"]
        return error


async def call(
    client: Client,
    *,
    method: str = "POST",
    path: str = "/api/v1/messages",
    headers: dict[str, str] | None = None,
    scope_type: str = "http",
) -> Route:
    route = Route()
    app = SimpleNamespace(state=SimpleNamespace(token_verifier=CachingTokenVerifier(COMMON)))
    scope = {
        "type": scope_type,
        "method": method,
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "app": app,
        "state": {"request_id": "req-1"},
    }
    await asyncio.wait_for(EdgeMiddleware(route, rules=RULES)(scope, client.receive, client.send), timeout=10)
    return route


def with_token(**headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token()}", **headers}


async def test_a_chunked_body_without_a_token_gets_401_before_a_byte_is_read() -> None:
    client = Client([b"x" * 1000] * 100)
    route = await call(client, headers={"Transfer-Encoding": "chunked"})
    assert (client.status, client.reads, route.called) == (401, 0, False)
    assert client.error == {
        "code": "unauthorized",
        "message": "a bearer token is required",
        "details": [],
        "request_id": "req-1",
    }
    assert client.headers[b"www-authenticate"] == b"Bearer"
    assert client.headers[b"connection"] == b"close"  # the unread body cannot precede another request


@pytest.mark.parametrize("authorization", ["Bearer not-a-jwt", "Basic dTpw", f"Bearer {token()}x"])
async def test_an_invalid_token_gets_401_before_a_byte_is_read(authorization: str) -> None:
    client = Client([b"{}"])
    route = await call(client, headers={"Authorization": authorization, "Content-Length": "2"})
    assert (client.status, client.reads, route.called) == (401, 0, False)


async def test_a_valid_token_reaches_the_route_with_its_principal_and_body() -> None:
    client = Client([b'{"a":', b"1}"])
    route = await call(client, headers=with_token(**{"Transfer-Encoding": "chunked"}))
    assert client.status == 200
    assert route.body == b'{"a":1}'
    assert route.principal is not None and route.principal.sub == "u1"


async def test_a_declared_length_over_the_cap_gets_413_without_reading() -> None:
    client = Client([b"x" * 1001])
    route = await call(client, headers=with_token(**{"Content-Length": "1001"}))
    assert (client.status, client.reads, route.called) == (413, 0, False)
    assert client.error["code"] == "payload_too_large"
    assert client.headers[b"connection"] == b"close"


async def test_a_chunked_body_is_cut_off_at_the_cap_with_413_whatever_the_route_answers() -> None:
    client = Client([b"x" * 300] * 1000)
    route = await call(client, headers=with_token(**{"Transfer-Encoding": "chunked"}))
    assert client.status == 413
    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]
    assert client.reads == 4  # 1200 bytes: the first chunk past 1000, and not one more
    assert route.called


async def test_an_upload_route_has_its_own_cap() -> None:
    path = "/api/v1/tickets/4b1d/replies"
    big = [b"x" * 5000]
    client = Client(big)
    await call(client, path=path, headers=with_token(**{"Content-Length": "5000"}))
    assert client.status == 200
    client = Client(big * 3)
    await call(client, path=path, headers=with_token(**{"Content-Length": "15000"}))
    assert (client.status, client.reads) == (413, 0)
    client = Client(big)  # the same path with another method is a JSON route: the default cap
    await call(client, method="PUT", path=path, headers=with_token(**{"Content-Length": "5000"}))
    assert client.status == 413


async def test_a_body_that_stalls_gets_408() -> None:
    client = Client([b"x" * 8, b"x" * 8], stall_after=1)
    await call(client, headers=with_token(**{"Content-Length": "100"}))
    assert client.status == 408
    assert client.error["code"] == "request_timeout"
    assert client.headers[b"connection"] == b"close"


async def test_waiting_for_the_disconnect_after_the_body_is_not_timed() -> None:
    """A streaming response listens for the client going away long after its (empty) body."""
    answered: list[Message] = []

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the body
        answered.append(await receive())  # blocks until the client leaves: past the idle timeout

    client = Client([])
    gone = asyncio.Event()

    async def receive() -> Message:
        if client.reads:
            await asyncio.wait_for(gone.wait(), timeout=5)
            return {"type": "http.disconnect"}
        client.reads += 1
        return {"type": "http.request", "body": b"{}", "more_body": False}

    app = SimpleNamespace(state=SimpleNamespace(token_verifier=CachingTokenVerifier(COMMON)))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/x",
        "headers": [(b"authorization", f"Bearer {token()}".encode()), (b"content-length", b"2")],
        "app": app,
        "state": {},
    }
    task = asyncio.create_task(EdgeMiddleware(streaming, rules=RULES)(scope, receive, client.send))
    await asyncio.sleep(RULES.body_idle_timeout * 4)
    gone.set()
    await asyncio.wait_for(task, timeout=5)
    assert answered == [{"type": "http.disconnect"}]
    assert client.sent == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/docs"),
        ("GET", "/docs/assets/swagger-ui.css"),
        ("GET", "/openapi.json"),
        ("GET", "/api/v1/popups/stream"),
        ("POST", "/api/v1/dev/token"),
    ],
)
async def test_health_docs_and_declared_public_routes_need_no_token(method: str, path: str) -> None:
    client = Client([b""])
    route = await call(client, method=method, path=path)
    assert (client.status, route.called, route.principal) == (200, True, None)


async def test_a_public_path_with_another_method_needs_a_token() -> None:
    client = Client([b""])
    await call(client, method="DELETE", path="/api/v1/popups/stream")
    assert client.status == 401


async def test_a_public_route_still_has_a_body_cap() -> None:
    client = Client([b"x"])
    await call(client, path="/api/v1/dev/token", headers={"Content-Length": "999999"})
    assert (client.status, client.reads) == (413, 0)


async def test_a_websocket_passes_untouched() -> None:
    client = Client([])
    route = await call(client, path="/api/v1/chat/user", scope_type="websocket")
    assert route.called


def test_route_rules_match_templates_and_prefixes() -> None:
    rule = RouteRule("POST PUT", "/api/v1/kb/articles{rest:path}")
    assert rule.matches("POST", "/api/v1/kb/articles")
    assert rule.matches("PUT", "/api/v1/kb/articles/kb:wifi/feedback")
    assert not rule.matches("DELETE", "/api/v1/kb/articles/kb:wifi")
    one = RouteRule("*", "/api/v1/tickets/{ticket_id}/replies")
    assert one.matches("PATCH", "/api/v1/tickets/abc/replies")
    assert not one.matches("POST", "/api/v1/tickets/abc/def/replies")
    assert not one.matches("POST", "/api/v1/tickets/abc/replies/x")
