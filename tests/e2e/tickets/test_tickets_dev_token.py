"""Development sign-in for the widget's demo page: present in development only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import jwt
import pytest

from shared.settings import CommonSettings, Environment
from tests.conftest import TEST_JWT_SECRET
from tickets.bootstrap import create_app
from tickets.settings import TicketsSettings

pytestmark = pytest.mark.e2e


@asynccontextmanager
async def client_in(common: CommonSettings, environment: Environment) -> AsyncIterator[httpx.AsyncClient]:
    """The app as its composition root builds it in `environment`; these routes need no lifespan."""
    # The API document served in every environment (production's default is off), to show it leaves
    # the development route out.
    common = common.model_copy(update={"environment": environment})
    settings = TicketsSettings(common=common, enable_docs=True)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tickets.test") as http:
        yield http


USER = {"role": "user", "account_id": "demo-hotel", "sub": "demo-user", "name": "Demo Hotel"}


async def test_in_development_anyone_gets_a_ten_minute_token_the_api_accepts(
    common_settings: CommonSettings,
) -> None:
    async with client_in(common_settings, Environment.DEVELOPMENT) as client:
        before = datetime.now(UTC).replace(microsecond=0)
        response = await client.post("/api/v1/dev/token", json=USER)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 600
        claims = jwt.decode(
            body["access_token"], TEST_JWT_SECRET, algorithms=["HS256"], audience="otelms-helpdesk"
        )
        assert (claims["role"], claims["account_id"], claims["sub"], claims["name"]) == (
            "user",
            "demo-hotel",
            "demo-user",
            "Demo Hotel",
        )
        expires_at = datetime.fromisoformat(body["expires_at"])
        assert expires_at == datetime.fromtimestamp(claims["exp"], tz=UTC)
        assert 599 <= (expires_at - before).total_seconds() <= 602
        # The edge checks every token before routing: an unknown path is a 404 with this token, a 401
        # with a forged one.
        bearer = {"Authorization": f"Bearer {body['access_token']}"}
        assert (await client.get("/api/v1/no-such-route", headers=bearer)).status_code == 404
        forged = {"Authorization": f"Bearer {body['access_token'][:-4]}AAAA"}
        assert (await client.get("/api/v1/no-such-route", headers=forged)).status_code == 401

        agent = await client.post("/api/v1/dev/token", json={"role": "agent", "sub": "a1", "name": "Ann"})
        assert agent.status_code == 200, agent.text
        admin = await client.post("/api/v1/dev/token", json={"role": "admin", "sub": "s1", "name": "Sam"})
        assert admin.status_code == 200, admin.text
        spec = (await client.get("/openapi.json")).json()
        operation = spec["paths"]["/api/v1/dev/token"]["post"]
        assert operation["x-development-only"] is True
        assert operation["summary"].startswith("Development only")
        assert operation["tags"] == ["development only"]


@pytest.mark.parametrize(
    "body",
    [
        {**USER, "role": "superuser"},
        {**USER, "account_id": None},
        {"role": "user", "sub": "u1", "name": "x"},
        {**USER, "sub": ""},
        {**USER, "account_id": "not a valid account"},
        {**USER, "name": "n" * 201},
        {**USER, "extra": "field"},
    ],
)
async def test_a_bad_role_or_a_user_without_an_account_is_a_422_in_the_error_shape(
    common_settings: CommonSettings, body: dict[str, object]
) -> None:
    async with client_in(common_settings, Environment.DEVELOPMENT) as client:
        response = await client.post("/api/v1/dev/token", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert "access_token" not in response.text


@pytest.mark.parametrize("environment", [Environment.TEST, Environment.PRODUCTION])
async def test_outside_development_the_route_does_not_exist(
    common_settings: CommonSettings, environment: Environment
) -> None:
    async with client_in(common_settings, environment) as client:
        response = await client.post("/api/v1/dev/token", json=USER)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        spec = (await client.get("/openapi.json")).json()
        assert "/api/v1/dev/token" not in spec["paths"]


async def test_development_with_a_production_signing_key_has_no_route_either(
    common_settings: CommonSettings,
) -> None:
    rs256 = common_settings.model_copy(update={"jwt_algorithm": "RS256", "jwt_jwks_url": "https://x/jwks"})
    async with client_in(rs256, Environment.DEVELOPMENT) as client:
        assert (await client.post("/api/v1/dev/token", json=USER)).status_code == 404
