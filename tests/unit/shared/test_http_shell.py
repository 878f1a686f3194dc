"""What every service's app says about itself at the edge: security headers, CORS for listed origins
only, the API docs off in production unless asked for, `/metrics` on its own port when asked for."""

from __future__ import annotations

import functools
import gc
import weakref
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import Request, Response
from pydantic import SecretStr

from shared.auth import CurrentUser, Role, issue_dev_token
from shared.health import Readiness
from shared.http import create_app
from shared.httpserver import WRITE_BODY
from shared.settings import CommonSettings, Environment, ServiceSettings

pytestmark = pytest.mark.unit

SECRET = "unit-test-secret-that-is-long-enough-0123456789"
WIDGET = "https://pms.example.com"


def common(environment: Environment = Environment.TEST, **values: object) -> CommonSettings:
    return CommonSettings(environment=environment, jwt_secret=SecretStr(SECRET), **values)  # type: ignore[arg-type]


async def serve(settings: ServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service="test", title="test", settings=settings, readiness=Readiness())

    @app.get("/api/v1/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    @app.get("/api/v1/ids")
    async def ids(user: CurrentUser, request: Request, response: Response) -> dict[str, str]:
        response.headers["Cache-Control"] = "private, max-age=5"
        return {"request_id": request.state.request_id, "correlation_id": request.state.correlation_id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async for c in serve(ServiceSettings(common=common(cors_allow_origins=(WIDGET,)))):
        yield c


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_dev_token(common(), role=Role.USER, sub='u1', account_id='h')}"}


async def test_json_answers_are_not_sniffed_nor_stored(client: httpx.AsyncClient) -> None:
    for response in (await client.get("/api/v1/me", headers=bearer()), await client.get("/api/v1/me")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


async def test_request_ids_are_taken_from_the_caller_or_made_and_echoed(client: httpx.AsyncClient) -> None:
    given = await client.get(
        "/api/v1/ids", headers={**bearer(), "X-Request-Id": "req-1", "X-Correlation-Id": "c-9"}
    )
    assert given.json() == {"request_id": "req-1", "correlation_id": "c-9"}
    assert given.headers.get_list("x-request-id") == ["req-1"]
    assert given.headers.get_list("cache-control") == ["private, max-age=5"]  # the route's own, kept
    assert given.headers.get_list("x-content-type-options") == ["nosniff"]
    made = [await client.get("/api/v1/ids", headers=bearer()) for _ in range(2)]
    first, second = (r.json() for r in made)
    assert first["request_id"] != second["request_id"]
    assert first["correlation_id"] == first["request_id"] == made[0].headers["x-request-id"]
    too_long = await client.get("/api/v1/ids", headers={**bearer(), "X-Request-Id": "r" * 300})
    assert too_long.json()["request_id"] == "r" * 128


async def test_a_listed_origin_may_call_with_credentials(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/v1/me",
        headers={
            "Origin": WIDGET,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == WIDGET
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    response = await client.get("/api/v1/me", headers={**bearer(), "Origin": WIDGET})
    assert response.headers["access-control-allow-origin"] == WIDGET
    assert "Origin" in response.headers["vary"]


async def test_an_unlisted_origin_gets_no_cors_and_its_preflight_is_refused(
    client: httpx.AsyncClient,
) -> None:
    evil = "https://evil.example"
    preflight = await client.options(
        "/api/v1/me", headers={"Origin": evil, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 403
    assert preflight.json()["error"]["code"] == "forbidden"
    assert "access-control-allow-origin" not in preflight.headers
    response = await client.get("/api/v1/me", headers={**bearer(), "Origin": evil})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_no_origin_is_allowed_by_default() -> None:
    async for client in serve(ServiceSettings(common=common())):
        response = await client.get("/api/v1/me", headers={**bearer(), "Origin": WIDGET})
        assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "origin", ["*", "https://pms.example.com/", "pms.example.com", "https://*.example.com"]
)
def test_cors_origins_are_exact_origins(origin: str) -> None:
    with pytest.raises(ValueError, match="an origin is"):
        common(cors_allow_origins=(origin,))


@pytest.mark.parametrize(
    ("environment", "enable", "served"),
    [
        (Environment.PRODUCTION, None, False),
        (Environment.PRODUCTION, True, True),
        (Environment.DEVELOPMENT, None, True),
        (Environment.TEST, False, False),
    ],
)
async def test_the_api_docs_are_off_in_production_unless_enabled(
    environment: Environment, enable: bool | None, served: bool
) -> None:
    async for client in serve(ServiceSettings(common=common(environment), enable_docs=enable)):
        statuses = {(await client.get(path)).status_code for path in ("/docs", "/openapi.json")}
        assert statuses == ({200} if served else {404})


async def test_metrics_leave_the_api_port_when_they_have_their_own() -> None:
    async for client in serve(ServiceSettings(common=common())):
        assert (await client.get("/metrics")).status_code == 200
    async for client in serve(ServiceSettings(common=common(), http_metrics_port=9464)):
        assert (await client.get("/metrics")).status_code == 404


async def test_a_finished_request_leaves_nothing_for_the_cyclic_collector() -> None:
    """The server's body writer is bound to the request's scope and kept in it (`shared.httpserver`):
    once the request is answered the scope, and what it holds, is freed by reference counting alone
    (garbage cycles every request would keep the young collections busy on the hot path)."""
    app = create_app(
        service="test", title="test", settings=ServiceSettings(common=common()), readiness=Readiness()
    )

    @app.get("/api/v1/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    class Held:
        """Something the scope holds, to see when the scope is freed."""

    held = Held()
    freed = weakref.ref(held)
    auth = bearer()["Authorization"].encode()
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": "/api/v1/me",
        "raw_path": b"/api/v1/me",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("svc", 80),
        "client": ("127.0.0.1", 1),
        "headers": [(b"host", b"svc"), (b"authorization", auth)],
        "extensions": {},
        "held": held,
    }
    scope["extensions"][WRITE_BODY] = functools.partial(lambda scope, body: False, scope)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    gc.collect()
    gc.disable()
    try:
        await app(scope, receive, send)
        del scope, held
        assert sent[0]["status"] == 200
        assert freed() is None
    finally:
        gc.enable()
