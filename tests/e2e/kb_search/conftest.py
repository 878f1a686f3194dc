"""The kb-search HTTP API in process against a real nats-server, and tokens for its callers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from kb_search.bootstrap import create_app, load_settings, migrate
from kb_search.settings import KbSearchSettings
from shared.settings import CommonSettings
from tests.conftest import TokenFactory, auth


@pytest.fixture
def settings(common_settings: CommonSettings, nats_prefix: str) -> KbSearchSettings:
    return load_settings(common=common_settings.model_copy(update={"nats_prefix": nats_prefix}))


@pytest.fixture
async def client(settings: KbSearchSettings) -> AsyncIterator[httpx.AsyncClient]:
    await migrate(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kb") as http:
            for _ in range(200):
                if (await http.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("kb-search never became ready")
            yield http


@pytest.fixture
def editor(make_token: TokenFactory) -> dict[str, str]:
    return auth(make_token(role="editor", account=None, sub="ed"))


@pytest.fixture
def user(make_token: TokenFactory) -> dict[str, str]:
    return auth(make_token(role="user", account="hotel-a", sub="u1"))
