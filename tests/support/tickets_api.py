"""Fixtures of the tickets API tests (a plugin of tests/conftest.py): the app in-process over the
real store and nats-server. The service is imported when a fixture runs, not when the plugin loads.

`tickets_backend` is parametrised: every test using `api` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from shared.settings import CommonSettings
from tests.conftest import auth

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tickets.settings import TicketsSettings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" + b"x" * 2000
TOPIC = "reports"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tickets_backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Store settings: SQLite in the test's data dir, or a fresh PostgreSQL schema."""
    if request.param == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        schema = request.getfixturevalue("postgres_schema")
        return {"postgres_dsn": dsn, "postgres_schema": schema}
    return {}


@pytest.fixture
def tickets_settings(
    common_settings: CommonSettings, nats_prefix: str, tickets_backend: dict[str, Any]
) -> TicketsSettings:
    from tickets.settings import TicketsSettings

    common = common_settings.model_copy(update={"nats_prefix": nats_prefix})
    return TicketsSettings(
        common=common,
        max_file_bytes=64 * 1024,
        max_form_overhead_bytes=64 * 1024,
        run_relay=False,
        run_projection=False,
        **tickets_backend,
    )


@dataclass
class Api:
    client: httpx.AsyncClient
    settings: TicketsSettings
    make_token: Callable[..., str]

    def user(self, account: str = "hotel-a", sub: str = "u1") -> dict[str, str]:
        return auth(self.make_token(role="user", account=account, sub=sub, name=f"User {sub}"))

    def agent(self, sub: str = "agent-1") -> dict[str, str]:
        return auth(self.make_token(role="agent", account=None, sub=sub, name=f"Agent {sub}"))

    async def create(
        self,
        headers: dict[str, str] | None = None,
        *,
        files: list[tuple[str, tuple[str, Any, str]]] | None = None,
        **fields: str,
    ) -> httpx.Response:
        data = {"topic": TOPIC, "comment": "Report broken", "message": "The report shows no totals."}
        data.update(fields)
        return await self.client.post(
            "/api/v1/tickets",
            data=data,
            files=files or None,
            headers=self.user() if headers is None else headers,
        )

    async def create_ok(self, headers: dict[str, str] | None = None, **fields: str) -> dict[str, Any]:
        response = await self.create(headers, files=None, **fields)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def file_part(name: str, content: bytes, content_type: str = "application/octet-stream") -> Any:
    return ("file", (name, io.BytesIO(content), content_type))


@contextlib.asynccontextmanager
async def in_process(settings: TicketsSettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The tickets app on `settings`, migrated and started, and a client to it over ASGI (no port)."""
    from tickets.bootstrap import create_app, migrate

    await migrate(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://tickets.test", timeout=20
        ) as client:
            yield app, client


@pytest.fixture
async def api(
    tickets_settings: TicketsSettings, make_token: Callable[..., str], tmp_path: Path
) -> AsyncIterator[Api]:
    async with in_process(tickets_settings) as (_, client):
        yield Api(client=client, settings=tickets_settings, make_token=make_token)


@pytest.fixture
async def full_client(
    common_settings: CommonSettings, nats_prefix: str, tickets_backend: dict[str, Any]
) -> AsyncIterator[tuple[httpx.AsyncClient, TicketsSettings]]:
    """The whole app, relay and history projection included, in this process."""
    from tickets.settings import TicketsSettings

    settings = TicketsSettings(
        common=common_settings.model_copy(update={"nats_prefix": nats_prefix}), **tickets_backend
    )
    async with in_process(settings) as (_, client):
        yield client, settings
