"""Composition root of the tickets service: settings, connections and the app, once per process."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from shared.collector import settled_gc
from shared.contracts.subjects import DIRECTORY_STREAM
from shared.errors import install_error_mapping
from shared.health import Readiness
from shared.http import create_app as create_http_app
from shared.logging import get_logger
from shared.nats import connect
from shared.ratelimit import RateLimiter
from shared.service import define_service
from shared.settings import Environment
from tickets.adapters.attachments import AttachmentStore, bucket_name, ensure_bucket
from tickets.adapters.live import TicketFeed
from tickets.adapters.relay import number_after_stream
from tickets.adapters.store import create_tables, open_application, open_directory
from tickets.application.batching import Executor
from tickets.application.commands import Caller, CreateTicket, Reply
from tickets.application.directory import DirectoryService, DirectoryTopicNames, DirectoryTopics, promise_of
from tickets.application.directory_events import DIRECTORY_PUBLICATION
from tickets.application.handlers import Handlers
from tickets.application.numbers import NumberAllocator
from tickets.application.public_events import TICKET_PUBLICATION
from tickets.application.service import TicketService, process_owner
from tickets.domain.values import Actor, ActorKind, Importance
from tickets.entrypoints import dev_token, http, http_directory, http_history, http_stream
from tickets.entrypoints.breaches import BreachChecker
from tickets.entrypoints.cli import add_cli_commands
from tickets.entrypoints.dev_token import dev_tokens_enabled
from tickets.entrypoints.directory_workers import migrate_directory_stream, start_directory_relay
from tickets.entrypoints.http_errors import TICKET_ERRORS
from tickets.entrypoints.http_history import HistoryReads
from tickets.entrypoints.http_limits import PUBLIC_ROUTES, body_limits
from tickets.entrypoints.workers import _supervised as supervised
from tickets.entrypoints.workers import migrate_publication, open_history_store, start_workers
from tickets.projections.waiter import ViewWaiter
from tickets.settings import TicketsSettings

log = get_logger(__name__)


def load_settings(**overrides: Any) -> TicketsSettings:
    return TicketsSettings(**overrides)


def check_publication() -> None:
    """Refuse to start while a stored event has neither a public form nor a private declaration."""
    TICKET_PUBLICATION.check()
    DIRECTORY_PUBLICATION.check()


def create_app(settings: TicketsSettings) -> FastAPI:
    check_publication()
    readiness = Readiness()
    waiter = ViewWaiter()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nc = await connect(settings.common, name="tickets")
        app.state.rate_limiter = await RateLimiter.open(nc, settings.common)
        store = await asyncio.to_thread(open_application, settings)
        history = open_history_store(settings)
        directory = DirectoryService(await asyncio.to_thread(open_directory, settings))
        # Before anything writes: a restored store numbers its events after its stream's position.
        js, prefix = nc.jetstream(), settings.common.nats_prefix
        await number_after_stream(js, store.recorder, prefix=prefix)
        await number_after_stream(js, directory.app.recorder, prefix=prefix, stream=DIRECTORY_STREAM)
        app.state.directory = directory
        service = TicketService(
            store,
            topics=DirectoryTopics(directory),
            promise=promise_of(directory),
            clock=lambda: app.state.clock(),
            max_batch=settings.max_batch,
        )
        attachments = AttachmentStore(
            nc.jetstream(),
            bucket=bucket_name(settings.attachments_bucket, settings.common.nats_prefix),
            max_bytes=settings.max_file_bytes,
        )
        app.state.tickets = service
        app.state.attachments = attachments
        app.state.history = history
        live = TicketFeed(
            nc.jetstream(),
            prefix=settings.common.nats_prefix,
            replay_max=settings.stream_replay_max,
            queue_size=settings.stream_queue_size,
        )
        app.state.live = live
        service.start()
        workers = await start_workers(settings, app=store, nc=nc, store=history, waiter=waiter)
        if settings.run_relay:
            relay, task = start_directory_relay(settings, app=directory.app, nc=nc, stop=workers.stop_event)
            app.state.directory_relay = relay
            workers.tasks.append(task)
        if settings.run_breach_checker:
            checker = BreachChecker(
                js=nc.jetstream(),
                service=service,
                prefix=settings.common.nats_prefix,
                every=settings.breach_check_seconds,
                clock=lambda: app.state.clock(),
            )
            app.state.breaches = checker
            work = supervised("breach-checker", checker.run, workers.stop_event)
            workers.tasks.append(asyncio.create_task(work, name="breach-checker"))

        async def store_ready() -> bool:
            await asyncio.to_thread(store.recorder.max_notification_id)
            return True

        readiness.add_nats(nc)
        readiness.add("event_store", store_ready)
        readiness.add("attachments", attachments.ready)
        # Everything built so far lives as long as the process: out of the collector's full passes,
        # which stall the loop (54 ms measured under load, 25 ms with the freeze alone).
        try:
            with settled_gc():
                yield
        finally:
            readiness.shutting_down = True
            live.close_all()  # support's live streams end cleanly; their consoles reconnect elsewhere
            await service.stop()
            await workers.stop(grace=settings.shutdown_grace_seconds)
            await nc.drain()
            history.close()
            store.close()
            directory.app.close()

    app = create_http_app(
        service="tickets",
        title="OtelMS Helpdesk — tickets",
        description="Requests (tickets): create, reply, attach, status, topic, priority, assignee, history.",
        settings=settings,
        readiness=readiness,
        lifespan=lifespan,
        public_routes=PUBLIC_ROUTES,
        body_limits=body_limits(settings),
    )
    install_error_mapping(app, TICKET_ERRORS)
    app.state.clock = lambda: datetime.now(UTC)  # tests put a fixed clock here
    app.state.history_reads = HistoryReads(
        waiter=waiter,
        secure_cookies=settings.common.environment is Environment.PRODUCTION,
        topic_names=DirectoryTopicNames(lambda: app.state.directory),
    )
    app.include_router(http.router)
    app.include_router(http_directory.router)
    # Before the history router: `/stream` is not a `/{ticket_id}`.
    app.include_router(http_stream.router)
    app.include_router(http_history.router)
    if dev_tokens_enabled(settings.common):  # development only: absent (404) in test and production
        app.include_router(dev_token.router)
    return app


async def migrate(settings: TicketsSettings) -> None:
    """Create what this service needs if it is missing: store tables, the attachments bucket, the
    TICKETS and dead-letter streams and the history tables. Idempotent; run once, before replicas."""
    await asyncio.to_thread(create_tables, settings)
    nc = await connect(settings.common, name="tickets-migrate")
    try:
        js = nc.jetstream()
        common = settings.common
        await ensure_bucket(
            js,
            bucket=bucket_name(settings.attachments_bucket, common.nats_prefix),
            replicas=common.nats_stream_replicas,
        )
        await migrate_publication(settings, js)
        await migrate_directory_stream(settings, js)
        directory = DirectoryService(await asyncio.to_thread(open_directory, settings))
        try:
            recorder = directory.app.recorder  # numbered after its stream before the first write
            await number_after_stream(js, recorder, prefix=common.nats_prefix, stream=DIRECTORY_STREAM)
            await asyncio.to_thread(directory.ensure_started)  # the product's contacts and hours, once
        finally:
            directory.app.close()
    finally:
        await nc.drain()
    log.info("tickets_migrated")


DEMO_ACCOUNT = "demo-hotel"
DEMO_REQUESTS = (
    ("demo-1", "channel-manager", Importance.HIGH, "Rates not syncing", "Rates for May do not reach OTAs."),
    ("demo-2", "reports", Importance.NORMAL, "Night audit report", "The night audit report shows no totals."),
)


def _seed(settings: TicketsSettings) -> int:
    app = open_application(settings)
    directory = DirectoryService(open_directory(settings))
    topics = DirectoryTopics(directory)
    try:
        executor = Executor(
            app=app,
            handlers=Handlers(topics=topics, promise=promise_of(directory)),
            numbers=NumberAllocator(app, owner=process_owner()),
        )
        user = Caller(
            actor=Actor(kind=ActorKind.USER, id="demo-user", name="Demo Hotel"), account_id=DEMO_ACCOUNT
        )
        agent = Caller(actor=Actor(kind=ActorKind.AGENT, id="demo-agent", name="Support"), account_id=None)
        created = 0
        for key, topic, importance, comment, message in DEMO_REQUESTS:
            command = CreateTicket(
                caller=user,
                account_id=DEMO_ACCOUNT,
                topic=topic if topic in topics else next(iter(topics)),
                importance=importance,
                comment=comment,
                message=message,
                idempotency_key=key,
            )
            result = executor.execute_one(command)
            if isinstance(result, BaseException):
                raise result
            if result.created:
                created += 1
                text = "Thank you, we are looking into it."
                reply = executor.execute_one(Reply(caller=agent, ticket_id=result.ticket_id, text=text))
                if isinstance(reply, BaseException):
                    raise reply
        return created
    finally:
        app.close()
        directory.app.close()


async def seed_demo(settings: TicketsSettings) -> None:
    """A couple of demo requests for the account `demo-hotel` (idempotent: keyed by Idempotency-Key)."""
    created = await asyncio.to_thread(_seed, settings)
    log.info("tickets_demo_seeded", created=created)


SERVICE = define_service(
    "tickets",
    settings=TicketsSettings,
    port=8701,
    create_app=create_app,
    migrate=migrate,
    seed_demo=seed_demo,
    add_cli_commands=functools.partial(add_cli_commands, load_settings=load_settings),
)
