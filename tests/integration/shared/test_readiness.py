"""`/readyz` follows the NATS connection: 503 while NATS is away, 200 again once it is back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from shared.health import Readiness
from shared.http import create_app
from shared.nats import connect
from shared.natsserver import NatsServer
from shared.settings import CommonSettings, Environment, ServiceSettings
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


def build_app(common: CommonSettings) -> FastAPI:
    readiness = Readiness(timeout=1.0)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nc = await connect(common, name="readiness-test")

        async def nats_ready() -> bool:
            return bool(nc.is_connected)

        readiness.add("nats", nats_ready)
        yield
        readiness.shutting_down = True
        await nc.close()

    return create_app(
        service="t",
        title="t",
        settings=ServiceSettings(common=common),
        readiness=readiness,
        lifespan=lifespan,
    )


async def test_readyz_turns_503_when_nats_goes_away_and_200_when_it_returns(
    own_nats_server: NatsServer,
) -> None:
    common = CommonSettings(environment=Environment.TEST, nats_url=own_nats_server.url)
    app = build_app(common)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def status_is(code: int) -> bool:
                return (await client.get("/readyz")).status_code == code

            assert await status_is(200)
            assert (await client.get("/healthz")).status_code == 200

            own_nats_server.kill()
            await eventually(lambda: status_is(503), timeout=10)
            body = (await client.get("/readyz")).json()
            assert body["checks"] == {"nats": False}
            # Liveness does not depend on NATS: the process is fine, only not ready.
            assert (await client.get("/healthz")).status_code == 200

            own_nats_server.start()  # same port, same data
            await eventually(lambda: status_is(200), timeout=20)


async def test_readyz_is_503_while_shutting_down(own_nats_server: NatsServer) -> None:
    common = CommonSettings(environment=Environment.TEST, nats_url=own_nats_server.url)
    app = build_app(common)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            assert (await client.get("/readyz")).status_code == 200
            app.state.readiness.shutting_down = True
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["shutting_down"] is True


async def test_metrics_are_exposed_in_prometheus_format(own_nats_server: NatsServer) -> None:
    common = CommonSettings(environment=Environment.TEST, nats_url=own_nats_server.url)
    app = build_app(common)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            await client.get("/healthz")
            response = await client.get("/metrics")
            assert response.status_code == 200
            assert "helpdesk_http_requests_total" in response.text
