"""Composition root of the notifications service: settings, connections and the app, once per process."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from starlette.middleware import Middleware

from notifications.adapters.consumer import (
    Handler,
    TicketEventsConsumer,
    consumer_config,
    consumer_name,
    filter_subject,
)
from notifications.adapters.fanout import Hub
from notifications.adapters.relay import HEADER_STORE_POSITION, popup_relay
from notifications.adapters.stream_tokens import StreamTokens, signing_key
from notifications.application.public import check_public_forms
from notifications.application.service import SYSTEM_CAUSE, NewMessage, PopupService
from notifications.application.store import PopupStore, open_store
from notifications.components import Components
from notifications.domain.clock import Clock, SystemClock
from notifications.domain.ids import popup_id_for_message
from notifications.entrypoints import history, messages, popups, stream
from notifications.entrypoints.background import follow, supervised
from notifications.entrypoints.cli import add_cli_commands
from notifications.entrypoints.errors import POPUP_ERRORS
from notifications.entrypoints.ticket_events import create_broker, ticket_events_router
from notifications.projections.active import ActivePopups
from notifications.projections.follower import FollowedView
from notifications.projections.history import PopupHistory
from notifications.settings import NotificationsSettings
from shared.collector import settled_gc
from shared.consumerlag import ConsumerLagSampler, DurableConsumer
from shared.contracts.subjects import POPUPS_STREAM, TICKETS_STREAM, StreamSpec
from shared.errors import install_error_mapping
from shared.health import Readiness
from shared.http import create_app as create_http_app
from shared.lease import open_lease_bucket, run_single
from shared.logging import get_logger
from shared.nats import connect, ensure_dead_letter_stream, ensure_stream, stream_config
from shared.pglisten import PgListener, channel_of
from shared.ratelimit import RateLimiter
from shared.service import define_service
from shared.sql import Database
from shared.storenumbering import advance_before_writes

log = get_logger(__name__)


def load_settings(**overrides: Any) -> NotificationsSettings:
    return NotificationsSettings(**overrides)


def stream_name(settings: NotificationsSettings, spec: StreamSpec) -> str:
    return spec.stream_name(settings.common.nats_prefix)


def build_service(store: PopupStore, settings: NotificationsSettings, clock: Clock) -> PopupService:
    return PopupService(
        store,
        clock=clock,
        default_snooze=timedelta(minutes=settings.default_snooze_minutes),
        longest_snooze=timedelta(days=settings.longest_snooze_days),
        max_text=settings.max_message_length,
    )


def open_view_db(settings: NotificationsSettings) -> Database:
    """The database of the store, for the views this service persists beside it."""
    if settings.postgres_dsn is None:
        return Database.sqlite(settings.sqlite_path)
    return Database.postgres(settings.postgres_dsn.get_secret_value(), schema=settings.postgres_schema)


# Every read model this service keeps beside its store: created by `migrate`, rebuilt together.
VIEWS: tuple[type[FollowedView], ...] = (ActivePopups, PopupHistory)


def create_view_tables(db: Database) -> None:
    """Idempotent (the migration step): the tables, indexes and position rows of every view."""
    for view in VIEWS:
        view.create_tables(db)


async def rebuild_views(settings: NotificationsSettings) -> dict[str, int]:
    """Empty every view and replay the store into it, one view per transaction; returns the store
    position each reached. Replicas keep serving meanwhile: they wait for a view's lock, then read
    its rebuilt rows."""
    store = await asyncio.to_thread(open_store, settings.store_env(create_tables=False))
    positions: dict[str, int] = {}
    try:
        for kind in VIEWS:
            view = kind(store, open_view_db(settings))
            try:
                await asyncio.to_thread(kind.create_tables, view.db)
                await asyncio.to_thread(view.rebuild)
                positions[kind.NAME] = view.position
            finally:
                view.close()
    finally:
        store.close()
    return positions


def open_active_view(store: PopupStore, settings: NotificationsSettings) -> ActivePopups:
    return ActivePopups(store, open_view_db(settings))


def open_history_view(store: PopupStore, settings: NotificationsSettings) -> PopupHistory:
    return PopupHistory(store, open_view_db(settings))


def build_stream_tokens(settings: NotificationsSettings) -> StreamTokens:
    secret = settings.stream_token_secret.get_secret_value() if settings.stream_token_secret else None
    return StreamTokens(
        key=signing_key(settings.common, secret),
        issuer=settings.common.jwt_issuer,
        audience=settings.common.jwt_audience,
        ttl=timedelta(seconds=settings.stream_token_seconds),
    )


def build_consumer(
    settings: NotificationsSettings,
    *,
    handle: Handler,
    on_effect: Callable[[], None] | None = None,
    handle_strict: Handler | None = None,
) -> NatsBroker:
    """The faststream broker of the tickets-stream consumer, not started."""
    prefix = settings.common.nats_prefix
    consumer = TicketEventsConsumer(
        prefix=prefix,
        handle=handle,
        max_deliver=settings.consumer_max_deliver,
        backoff_seconds=settings.consumer_backoff_seconds,
        on_effect=on_effect,
        ack_delay_seconds=settings.chaos_ack_delay_seconds,
        handle_strict=handle_strict,
    )
    router = ticket_events_router(
        consumer,
        stream=stream_name(settings, TICKETS_STREAM),
        subject=filter_subject(prefix),
        config=consumer_settings(settings),
    )
    return create_broker(
        settings.common,
        router,
        name="notifications-consumer",
        graceful_timeout=settings.consumer_graceful_stop_seconds,
    )


def _listens(settings: NotificationsSettings) -> bool:
    return settings.postgres_dsn is not None and settings.postgres_listen


def create_app(settings: NotificationsSettings, *, clock: Clock | None = None) -> FastAPI:
    check_public_forms()  # a stored event without a public form refuses to start
    readiness = Readiness()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prefix = settings.common.nats_prefix
        store = await asyncio.to_thread(open_store, settings.store_env(create_tables=False))
        active = open_active_view(store, settings)
        await asyncio.to_thread(active.catch_up)  # from the position the view recorded
        # The history is not needed to serve popups: the follower (and its endpoint) catch it up.
        popup_history = open_history_view(store, settings)
        nc = await connect(settings.common, name="notifications")
        app.state.rate_limiter = await RateLimiter.open(nc, settings.common)
        js = nc.jetstream()
        # Before anything writes: a restored store numbers its events after its stream's position.
        popups_stream, header = stream_name(settings, POPUPS_STREAM), HEADER_STORE_POSITION
        await advance_before_writes(js, store.recorder, stream=popups_stream, position_header=header)
        hub = Hub(prefix=prefix, queue_size=settings.sse_queue_size)
        await hub.start(nc)
        relay = None
        if settings.run_relay:
            relay = popup_relay(
                store,
                js=js,
                stream=stream_name(settings, POPUPS_STREAM),
                prefix=prefix,
                path_template=settings.ticket_path_template,
                poll_seconds=(
                    settings.listen_fallback_poll_seconds
                    if _listens(settings)
                    else settings.relay_poll_seconds
                ),
            )
        parts = Components(
            settings=settings,
            clock=clock,
            store=store,
            service=build_service(store, settings, clock),
            active=active,
            history=popup_history,
            hub=hub,
            relay=relay,
            stream_tokens=build_stream_tokens(settings),
        )
        broker = build_consumer(
            settings,
            handle=parts.service.handle_ticket_event,
            handle_strict=functools.partial(parts.service.handle_ticket_event, account_fallback=False),
            on_effect=parts.changed,
        )
        app.state.components = parts

        async def store_ready() -> bool:
            await asyncio.to_thread(store.head)
            return True

        lag = ConsumerLagSampler(
            js,
            service="notifications",
            consumers=[DurableConsumer(stream_name(settings, TICKETS_STREAM), consumer_name(prefix))],
        )
        jobs: list[Awaitable[None]] = [follow(parts), lag.run()]
        if _listens(settings) and settings.postgres_dsn is not None:
            channel = channel_of(store.recorder) or "notifications_events"
            listener = PgListener(dsn=settings.postgres_dsn.get_secret_value(), channel=channel)
            listener.subscribe(parts.store_changed)  # wakes the relay and the view follower
            jobs.append(listener.run())
        await broker.start()
        tasks = [asyncio.create_task(supervised(job)) for job in jobs]
        # Every replica may run the relay; the one holding the stream's lease publishes.
        relay_stop = asyncio.Event()
        relaying: list[asyncio.Task[None]] = []
        if relay is not None:
            relay_job = run_single(
                js,
                name=relay.stream,
                work=relay.run,
                stop=relay_stop,
                prefix=prefix,
                replicas=settings.common.nats_stream_replicas,
            )
            relaying.append(asyncio.create_task(supervised(relay_job)))
        tasks += relaying

        async def consumer_ready() -> bool:
            return await broker.ping(timeout=1.0)

        async def jobs_running() -> bool:
            return not any(task.done() for task in tasks)

        readiness.add_nats(nc)
        readiness.add("consumer", consumer_ready)
        readiness.add("store", store_ready)

        async def view_ready() -> bool:
            await asyncio.to_thread(active.recorded_position)
            return True

        readiness.add("active_view", view_ready)

        async def history_ready() -> bool:
            await asyncio.to_thread(popup_history.recorded_position)
            return True

        readiness.add("history_view", history_ready)
        readiness.add("background_jobs", jobs_running)
        try:
            with settled_gc():
                yield
        finally:
            readiness.shutting_down = True
            # Stop taking ticket events first: the one in flight finishes and is acked, then the
            # broker's connection drains; the relay and the open streams still run meanwhile.
            try:
                await broker.stop()
            except Exception:  # shutting down goes on regardless: unacked events are redelivered
                log.exception("consumer_stop_failed")
            relay_stop.set()  # the relay finishes its batch and gives its lease back
            if relaying:
                await asyncio.wait(relaying, timeout=settings.consumer_graceful_stop_seconds)
            for task in tasks:
                task.cancel()
            # A job that died already logged why (`supervised`); shutting down goes on regardless.
            await asyncio.gather(*tasks, return_exceptions=True)
            await hub.stop()
            await nc.drain()
            active.close()
            popup_history.close()
            store.close()
            log.info("notifications_stopped")

    app = create_http_app(
        service="notifications",
        title="OtelMS Helpdesk — notifications",
        description="Popups: support's replies and messages, live over Server-Sent Events.",
        settings=settings,
        readiness=readiness,
        lifespan=lifespan,
        public_routes=stream.PUBLIC_ROUTES,
    )
    install_error_mapping(app, POPUP_ERRORS)
    # Outermost: an open popup stream, once the whole app has checked it, is held outside its chain.
    app.user_middleware.insert(0, Middleware(stream.StreamBranch))
    # Before /{popup_id}, so "stream" and "history" are not taken for an id.
    app.include_router(stream.router)
    app.include_router(history.router)
    app.include_router(popups.router)
    app.include_router(messages.router)
    return app


async def migrate(settings: NotificationsSettings) -> None:
    """Create what this service needs if it is missing: tables, streams, the durable consumer."""
    if settings.postgres_dsn is None:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    store = await asyncio.to_thread(open_store, settings.store_env(create_tables=True))
    store.close()
    view_db = open_view_db(settings)
    try:
        await asyncio.to_thread(create_view_tables, view_db)
    finally:
        view_db.close()
    common = settings.common
    nc = await connect(common, name="notifications-migrate")
    try:
        js = nc.jetstream()
        for spec in (TICKETS_STREAM, POPUPS_STREAM):
            await ensure_stream(
                js, stream_config(spec, prefix=common.nats_prefix, replicas=common.nats_stream_replicas)
            )
        await ensure_dead_letter_stream(js, prefix=common.nats_prefix, replicas=common.nats_stream_replicas)
        await open_lease_bucket(js, prefix=common.nats_prefix, replicas=common.nats_stream_replicas)
        await _ensure_consumer(js, settings)
    finally:
        await nc.drain()


def consumer_settings(settings: NotificationsSettings) -> ConsumerConfig:
    """The durable tickets-stream consumer, as `migrate()` creates it and the subscriber binds it."""
    return consumer_config(
        prefix=settings.common.nats_prefix,
        max_deliver=settings.consumer_max_deliver,
        ack_wait_seconds=settings.consumer_ack_wait_seconds,
    )


async def _ensure_consumer(js: JetStreamContext, settings: NotificationsSettings) -> None:
    stream_ = stream_name(settings, TICKETS_STREAM)
    # The durable create request also updates an existing consumer's editable fields (ack wait,
    # max deliveries), so this is idempotent and follows changed settings.
    await js.add_consumer(stream_, consumer_settings(settings))
    log.info("consumer_ready", stream=stream_, consumer=consumer_name(settings.common.nats_prefix))


async def seed_demo(settings: NotificationsSettings) -> None:
    """A welcome popup for the demo hotel's user (`helpdesk up`); the fixed id makes it idempotent."""
    store = await asyncio.to_thread(open_store, settings.store_env(create_tables=False))
    try:
        message = NewMessage(
            popup_id=popup_id_for_message(sender="demo", idempotency_key="welcome"),
            account_id="demo-hotel",
            user_id="demo-user",
            title="Welcome to OtelMS Helpdesk",
            text="Support's answers to your requests appear here. Try 'Remind later' or 'View fully'.",
            ticket_id=None,
            ticket_number=None,
        )
        service = build_service(store, settings, SystemClock())
        await asyncio.to_thread(service.send_message, message, cause=SYSTEM_CAUSE)
    finally:
        store.close()


SERVICE = define_service(
    "notifications",
    settings=NotificationsSettings,
    port=8702,
    create_app=create_app,
    migrate=migrate,
    seed_demo=seed_demo,
    add_cli_commands=functools.partial(add_cli_commands, rebuild_views=rebuild_views),
)
