"""Composition root of the chat service: settings, connections and the app, once per process."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js.kv import KeyValue

from chat.adapters.directory import Directory, bucket_name, ensure_bucket
from chat.adapters.relay import Relay
from chat.adapters.stats import StatsPublisher, ensure_stats_stream
from chat.adapters.support_hours import SupportHours
from chat.adapters.tickets import TicketsClient
from chat.application.context import HubConfig
from chat.application.hub import ChatHub
from chat.domain.model import SessionCaps
from chat.entrypoints import asyncapi
from chat.entrypoints.ws import router
from chat.settings import ChatSettings
from shared.collector import settled_gc
from shared.edge import RouteRule
from shared.health import Readiness
from shared.http import create_app as create_http_app
from shared.nats import connect
from shared.ratelimit import RateLimiter
from shared.service import define_service


def load_settings(**overrides: Any) -> ChatSettings:
    return ChatSettings(**overrides)


def hub_config(settings: ChatSettings) -> HubConfig:
    return HubConfig(
        presence_ttl_seconds=settings.presence_ttl_seconds,
        agent_grace_seconds=settings.agent_grace_seconds,
        max_wait_seconds=settings.max_wait_seconds,
        ticket_topic=settings.ticket_topic,
        transcript_max_lines=settings.transcript_max_lines,
        default_capacity=settings.default_capacity,
        max_capacity=settings.max_capacity,
        tick_seconds=settings.tick_seconds,
        queue_update_seconds=settings.queue_update_seconds,
        any_team_fallback=settings.route_to_any_team,
        caps=SessionCaps(per_user=settings.max_chats_per_user, per_account=settings.max_chats_per_account),
    )


def quiet_frame_logging() -> None:
    """At DEBUG the `websockets` protocol logs every frame's text (and the auth token) through
    uvicorn's `uvicorn.error` logger: chat text must never reach a log, whatever the level."""
    for name in ("websockets", "uvicorn.error", "uvicorn.protocols"):
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))


def create_app(settings: ChatSettings) -> FastAPI:
    quiet_frame_logging()
    readiness = Readiness()
    common = settings.common

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nc = await connect(common, name="chat")
        app.state.rate_limiter = await RateLimiter.open(nc, common)
        http = httpx.AsyncClient(timeout=settings.tickets_timeout_seconds)

        # The bucket is memory-only: if NATS restarted it is gone, so every process may (re)create it;
        # creating an identical bucket is idempotent on the server.
        async def open_bucket() -> KeyValue:
            return await ensure_bucket(
                nc,
                name=bucket_name(common.nats_prefix, settings.kv_bucket),
                ttl_seconds=settings.presence_ttl_seconds,
                replicas=common.nats_stream_replicas,
            )

        kv = await open_bucket()
        # Beat on the bucket's own TTL: it was created by the migration and may differ from ours.
        bucket_ttl = (await kv.status()).ttl or settings.presence_ttl_seconds
        config = replace(hub_config(settings), presence_ttl_seconds=bucket_ttl)
        hub = ChatHub(
            directory=Directory(kv, reopen=open_bucket),
            relay=Relay(nc, prefix=common.nats_prefix),
            stats=StatsPublisher(
                nc.jetstream() if settings.publish_stats else None, prefix=common.nats_prefix
            ),
            tickets=TicketsClient(http, base_url=settings.tickets_url),
            config=config,
            clock=time.time,
            hours=SupportHours(nc.jetstream(), prefix=common.nats_prefix),
        )
        await hub.start()
        app.state.chat_hub = hub

        async def directory_ready() -> bool:
            return await hub.ctx.directory.healthy()

        readiness.add_nats(nc)
        readiness.add("kv", directory_ready)
        try:
            with settled_gc():
                yield
        finally:
            readiness.shutting_down = True
            await hub.stop()
            await http.aclose()
            await nc.drain()

    app = create_http_app(
        service="chat",
        title="OtelMS Helpdesk — chat",
        settings=settings,
        readiness=readiness,
        lifespan=lifespan,
        description=asyncapi.OPENAPI_DESCRIPTION,
        public_routes=[RouteRule("GET", asyncapi.PATH)],
    )
    app.include_router(router)
    if settings.docs_enabled:
        app.include_router(asyncapi.router())
    return app


async def migrate(settings: ChatSettings) -> None:
    """Create the presence bucket (memory) and the statistics stream if they are missing."""
    common = settings.common
    nc = await connect(common, name="chat-migrate")
    try:
        await ensure_bucket(
            nc,
            name=bucket_name(common.nats_prefix, settings.kv_bucket),
            ttl_seconds=settings.presence_ttl_seconds,
            replicas=common.nats_stream_replicas,
        )
        await ensure_stats_stream(
            nc.jetstream(), prefix=common.nats_prefix, replicas=common.nats_stream_replicas
        )
    finally:
        await nc.drain()


SERVICE = define_service(
    "chat",
    settings=ChatSettings,
    port=8703,
    create_app=create_app,
    migrate=migrate,
)
