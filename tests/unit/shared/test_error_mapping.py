"""A service's domain errors are translated once, on the app: the most specific mapped class of an
exception decides its shared error; an unmapped one stays a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from shared.edge import RouteRule
from shared.errors import (
    Conflict,
    ErrorMapping,
    NotFound,
    PreconditionFailed,
    api_error_for,
    install_error_mapping,
    with_message,
)
from shared.health import Readiness
from shared.http import create_app
from shared.settings import CommonSettings, ServiceSettings

pytestmark = pytest.mark.unit


class ThingError(Exception):
    """Raised by the test domain."""


class ThingMissing(ThingError):
    """Raised when there is no such thing."""


class ThingChanged(ThingError):
    """Raised when the thing changed meanwhile."""


class ThingVersionMismatch(ThingChanged):
    """Raised when the caller's version is not the thing's."""


class Unmapped(ThingError):
    """Raised for what the mapping does not name."""


MAPPING: ErrorMapping = {
    ThingMissing: lambda _: NotFound("no such thing"),
    ThingChanged: with_message(Conflict),
    ThingVersionMismatch: with_message(PreconditionFailed),
}


RAISED: dict[str, Exception] = {
    "missing": ThingMissing(),
    "changed": ThingChanged("it moved"),
    "version": ThingVersionMismatch("expected 2, it is 3"),
    "other": Unmapped("internal detail"),
}


def test_the_most_specific_mapped_class_decides() -> None:
    assert isinstance(api_error_for(ThingVersionMismatch("v2"), MAPPING), PreconditionFailed)
    error = api_error_for(ThingChanged("it moved"), MAPPING)
    assert isinstance(error, Conflict)
    assert error.message == "it moved"
    assert api_error_for(Unmapped(), MAPPING) is None


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        service="test",
        title="test",
        settings=ServiceSettings(common=CommonSettings()),
        readiness=Readiness(),
        public_routes=[RouteRule("*", f"/raise/{name}") for name in RAISED],
    )
    install_error_mapping(app, MAPPING)
    @app.get("/raise/{name}")
    async def raise_(name: str) -> None:
        raise RAISED[name]

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.mark.parametrize(
    ("name", "status", "code", "message"),
    [
        ("missing", 404, "not_found", "no such thing"),
        ("changed", 409, "conflict", "it moved"),
        ("version", 412, "precondition_failed", "expected 2, it is 3"),
        ("other", 500, "internal_error", "something went wrong on our side"),
    ],
)
async def test_a_raised_domain_error_answers_in_the_shared_shape(
    client: httpx.AsyncClient, name: str, status: int, code: str, message: str
) -> None:
    response = await client.get(f"/raise/{name}")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"] == message
