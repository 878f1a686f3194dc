"""Composition root of the notifications service: settings, connections and the app, once per process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from notifications.settings import NotificationsSettings
from shared.health import Readiness
from shared.http import create_app as create_http_app
from shared.nats import connect
from shared.service import ServiceDefinition


def load_settings(**overrides: Any) -> NotificationsSettings:
    return NotificationsSettings(**overrides)


def create_app(settings: NotificationsSettings) -> FastAPI:
    readiness = Readiness()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nc = await connect(settings.common, name="notifications")

        async def nats_ready() -> bool:
            return bool(nc.is_connected)

        readiness.add("nats", nats_ready)
        try:
            yield
        finally:
            readiness.shutting_down = True
            await nc.drain()

    return create_http_app(
        service="notifications",
        title="OtelMS Helpdesk — notifications",
        settings=settings,
        readiness=readiness,
        lifespan=lifespan,
    )


async def migrate(settings: NotificationsSettings) -> None:
    """Create what this service needs if it is missing (streams, buckets, tables)."""


SERVICE = ServiceDefinition(
    name="notifications",
    package="notifications",
    env_prefix="HELPDESK_NOTIFICATIONS_",
    default_port=8702,
    load_settings=load_settings,
    create_app=create_app,
    migrate=migrate,
)
