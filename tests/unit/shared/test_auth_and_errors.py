"""Every way a bearer token can be wrong answers 401 in the shared error shape; roles answer 403."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import BaseModel, Field

from shared.auth import AgentUser, CurrentUser, Role, issue_dev_token
from shared.edge import RouteRule
from shared.errors import Conflict, NotFound
from shared.health import Readiness
from shared.http import create_app
from shared.settings import CommonSettings, Environment, ServiceSettings

pytestmark = [pytest.mark.unit, pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]

SECRET = "unit-test-secret-0123456789-0123456789"


class Body(BaseModel):
    topic: str = Field(min_length=1, max_length=10)


def build_app(common: CommonSettings) -> FastAPI:
    app = create_app(
        service="test",
        title="test",
        settings=ServiceSettings(common=common),
        readiness=Readiness(),
        # Routes about the error shape, not the token: public at the edge (`/me` is not, nor any other).
        public_routes=[RouteRule("*", path) for path in ("/things", "/missing", "/conflict", "/boom")],
    )

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"sub": user.sub, "role": user.role, "account_id": user.account_id}

    @app.get("/agents-only")
    async def agents_only(user: AgentUser) -> dict[str, str]:
        return {"ok": user.sub}

    @app.post("/things")
    async def things(body: Body) -> dict[str, str]:
        return {"topic": body.topic}

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("no such request")

    @app.get("/conflict")
    async def conflict() -> None:
        raise Conflict("closed requests are final")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail that must not leak")

    return app


@pytest.fixture
def settings() -> CommonSettings:
    return CommonSettings(environment=Environment.TEST, jwt_secret=SECRET)  # type: ignore[arg-type]


@pytest.fixture
async def client(settings: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(settings), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def claims(settings: CommonSettings, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "u1",
        "role": "user",
        "account_id": "hotel-a",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def assert_error_shape(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["x-request-id"]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_tokens(settings: CommonSettings) -> dict[str, str]:
    good = claims(settings)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    valid = jwt.encode(good, SECRET, algorithm="HS256")
    head, payload, signature = valid.split(".")
    forged_payload = _b64({**good, "role": "agent"})
    return {
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(good)}.",
        "wrong_algorithm_hs512": jwt.encode(good, SECRET, algorithm="HS512"),
        "wrong_algorithm_rs256": jwt.encode(good, pem, algorithm="RS256"),
        "expired": jwt.encode(claims(settings, exp=int(time.time()) - 3600), SECRET, algorithm="HS256"),
        "no_exp": jwt.encode(claims(settings, exp=None), SECRET, algorithm="HS256"),
        "wrong_audience": jwt.encode(claims(settings, aud="someone-else"), SECRET, algorithm="HS256"),
        "wrong_issuer": jwt.encode(claims(settings, iss="evil"), SECRET, algorithm="HS256"),
        "tampered_signature": f"{head}.{payload}.{signature[:-4]}AAAA",
        "tampered_payload": f"{head}.{forged_payload}.{signature}",
        "other_secret": jwt.encode(good, "another-secret-0123456789-0123456789", algorithm="HS256"),
        "user_without_account": jwt.encode(claims(settings, account_id=None), SECRET, algorithm="HS256"),
        "unknown_role": jwt.encode(claims(settings, role="root"), SECRET, algorithm="HS256"),
        "garbage": "not-a-jwt",
    }


async def test_a_valid_token_is_accepted(client: httpx.AsyncClient, settings: CommonSettings) -> None:
    token = issue_dev_token(settings, role=Role.USER, sub="u1", account_id="hotel-a")
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"sub": "u1", "role": "user", "account_id": "hotel-a"}


async def test_a_missing_token_is_refused_with_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")
    assert_error_shape(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_non_bearer_scheme_is_refused_with_401(client: httpx.AsyncClient) -> None:
    assert_error_shape(await client.get("/me", headers={"Authorization": "Basic dTpw"}), 401, "unauthorized")


@pytest.mark.parametrize(
    "variant",
    [
        "alg_none",
        "wrong_algorithm_hs512",
        "wrong_algorithm_rs256",
        "expired",
        "no_exp",
        "wrong_audience",
        "wrong_issuer",
        "tampered_signature",
        "tampered_payload",
        "other_secret",
        "user_without_account",
        "unknown_role",
        "garbage",
    ],
)
async def test_every_bad_token_is_refused_with_401_and_the_error_shape(
    client: httpx.AsyncClient, settings: CommonSettings, variant: str
) -> None:
    token = bad_tokens(settings)[variant]
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert_error_shape(response, 401, "unauthorized")


async def test_a_user_token_on_an_agent_route_gets_403(
    client: httpx.AsyncClient, settings: CommonSettings
) -> None:
    token = issue_dev_token(settings, role=Role.USER, sub="u1", account_id="hotel-a")
    response = await client.get("/agents-only", headers={"Authorization": f"Bearer {token}"})
    assert_error_shape(response, 403, "forbidden")


async def test_an_agent_token_on_an_agent_route_passes(
    client: httpx.AsyncClient, settings: CommonSettings
) -> None:
    token = issue_dev_token(settings, role=Role.AGENT, sub="a1")
    response = await client.get("/agents-only", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_rs256_tokens_verify_against_a_configured_public_key() -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings = CommonSettings(
        environment=Environment.PRODUCTION,
        jwt_algorithm="RS256",
        jwt_public_key_pem=public_pem.decode(),  # type: ignore[arg-type]
    )
    transport = httpx.ASGITransport(app=build_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        good = jwt.encode(claims(settings, role="agent", account_id=None), private_pem, algorithm="RS256")
        assert (await c.get("/me", headers={"Authorization": f"Bearer {good}"})).status_code == 200
        # The classic confusion: an HS256 token whose HMAC key is the public key itself.
        signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims(settings))}"
        mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        confused = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
        response = await c.get("/me", headers={"Authorization": f"Bearer {confused}"})
        assert_error_shape(response, 401, "unauthorized")


async def test_invalid_body_gets_422_with_field_details(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", json={"topic": "x" * 50})
    assert_error_shape(response, 422, "validation_error")
    assert response.json()["error"]["details"][0]["loc"] == ["body", "topic"]


async def test_malformed_json_gets_422_not_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/things", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error_shape(response, 422, "validation_error")


async def test_domain_errors_map_to_their_status(client: httpx.AsyncClient) -> None:
    assert_error_shape(await client.get("/missing"), 404, "not_found")
    assert_error_shape(await client.get("/conflict"), 409, "conflict")


async def test_unknown_routes_and_methods_use_the_error_shape(
    client: httpx.AsyncClient, settings: CommonSettings
) -> None:
    token = issue_dev_token(settings, role=Role.USER, sub="u1", account_id="hotel-a")
    response = await client.get("/no-such-route", headers={"Authorization": f"Bearer {token}"})
    assert_error_shape(response, 404, "not_found")
    assert_error_shape(await client.delete("/things"), 405, "method_not_allowed")


async def test_an_unexpected_exception_is_a_500_without_internals(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom")
    assert_error_shape(response, 500, "internal_error")
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text
