"""Fixtures the notifications suites share (imported by their conftest files): settings on SQLite
or PostgreSQL, the migrated store, a NATS connection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NATS

from notifications.application.store import PopupStore, open_store
from notifications.bootstrap import migrate
from notifications.settings import NotificationsSettings
from shared.settings import CommonSettings
from tests.e2e.notifications.harness import service_settings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(
    common_settings: CommonSettings, nats_prefix: str, store_kind: str, request: pytest.FixtureRequest
) -> NotificationsSettings:
    extra: dict[str, object] = {}
    if store_kind == "postgres":
        extra["postgres_dsn"] = request.getfixturevalue("postgres_dsn")
        extra["postgres_schema"] = request.getfixturevalue("postgres_schema")
    return service_settings(common_settings, prefix=nats_prefix, **extra)


@pytest.fixture
def sqlite_settings(common_settings: CommonSettings, nats_prefix: str) -> NotificationsSettings:
    return service_settings(common_settings, prefix=nats_prefix)


@pytest.fixture
async def store(settings: NotificationsSettings) -> AsyncIterator[PopupStore]:
    """The store of `settings`, migrated."""
    await migrate(settings)
    opened = open_store(settings.store_env(create_tables=False))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    connection = await nats.connect(nats_url)
    try:
        yield connection
    finally:
        await connection.drain()
