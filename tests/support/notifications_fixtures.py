"""Fixtures the notifications suites share (a plugin of tests/conftest.py): settings on SQLite or
PostgreSQL, the migrated store. The service is imported when a fixture runs, so
loading the plugin costs the other suites nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from shared.settings import CommonSettings

if TYPE_CHECKING:
    from notifications.application.store import PopupStore
    from notifications.settings import NotificationsSettings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(
    common_settings: CommonSettings, nats_prefix: str, store_kind: str, request: pytest.FixtureRequest
) -> NotificationsSettings:
    from tests.support.notifications import service_settings

    extra: dict[str, object] = {}
    if store_kind == "postgres":
        extra["postgres_dsn"] = request.getfixturevalue("postgres_dsn")
        extra["postgres_schema"] = request.getfixturevalue("postgres_schema")
    return service_settings(common_settings, prefix=nats_prefix, **extra)


@pytest.fixture
def sqlite_settings(common_settings: CommonSettings, nats_prefix: str) -> NotificationsSettings:
    from tests.support.notifications import service_settings

    return service_settings(common_settings, prefix=nats_prefix)


@pytest.fixture
async def store(settings: NotificationsSettings) -> AsyncIterator[PopupStore]:
    """The store of `settings`, migrated."""
    from notifications.application.store import open_store
    from notifications.bootstrap import migrate

    await migrate(settings)
    opened = open_store(settings.store_env(create_tables=False))
    try:
        yield opened
    finally:
        opened.close()
