"""The tickets service's background work: the tickets' outbox relay and the history projection, and
`single_relay`, which the support directory's relay (`directory_workers`) runs under as well.

Both run inside the API process by default (`run_relay`, `run_projection` settings; the lifespan
starts them with `start_workers`, on a thread of their own: `worker_thread`; with `run_relay` it
also starts the directory's relay, a task on the API's loop) or alone: `python -m tickets.relay`
runs the two relays, the tickets' store to TICKETS and the directory's to SUPPORT_DIRECTORY, each
under its own lease (a key per stream in the `RELAY_LEASES` bucket, so the two may be held by
different processes), and `python -m tickets.projector` the projection. Kubernetes runs two relay
replicas: per stream, the one holding its lease publishes and the other stands by to take over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from eventsourcing.persistence import Notification
from nats.aio.client import Client as NATS

from shared.contracts.envelope import EventEnvelope
from shared.contracts.subjects import TICKETS_STREAM
from shared.lease import open_lease_bucket, run_single
from shared.logging import get_logger
from shared.nats import ensure_dead_letter_stream, ensure_stream, stream_config
from shared.outbox import OutboxRelay
from shared.pglisten import PgListener, channel_of
from shared.stopping import sleep_or_stop
from shared.tracing import stored_trace_parent
from tickets.adapters.relay import envelope_relay
from tickets.application.app import TicketsApplication
from tickets.application.public_events import to_public
from tickets.entrypoints.worker_thread import WorkerThread, on_loop
from tickets.projections.notices import follow_applied, publish_applied
from tickets.projections.projector import HistoryProjector
from tickets.projections.store import HistoryStore, open_postgres, open_sqlite
from tickets.projections.waiter import ViewWaiter
from tickets.settings import TicketsSettings

log = get_logger(__name__)

HISTORY_SQLITE_FILE = "tickets-history.sqlite"


class AppliedListener(Protocol):
    """Told which ticket versions each committed batch of the history reached (`ViewWaiter`)."""

    def applied(self, position: int, versions: Mapping[str, int], /) -> None: ...


def open_history_store(settings: TicketsSettings) -> HistoryStore:
    """The history views next to the event store: the same PostgreSQL schema, or their own SQLite file
    (one file per writer: the event store's file stays the application's alone)."""
    if settings.postgres_dsn is not None:
        dsn = settings.postgres_dsn.get_secret_value()
        return open_postgres(dsn, schema=settings.postgres_schema or "public")
    return open_sqlite(settings.common.data_dir / HISTORY_SQLITE_FILE)


async def migrate_publication(settings: TicketsSettings, js: Any) -> None:
    """Idempotent: the TICKETS stream, the dead-letter stream, the relays' lease bucket and the
    history tables."""
    common = settings.common
    config = stream_config(TICKETS_STREAM, prefix=common.nats_prefix, replicas=common.nats_stream_replicas)
    await ensure_stream(js, config)
    await ensure_dead_letter_stream(js, prefix=common.nats_prefix, replicas=common.nats_stream_replicas)
    await open_lease_bucket(js, prefix=common.nats_prefix, replicas=common.nats_stream_replicas)
    store = open_history_store(settings)
    try:
        await asyncio.to_thread(store.migrate)
    finally:
        store.close()


def public_form(app: TicketsApplication) -> Callable[[Notification], EventEnvelope[Any] | None]:
    def convert(notification: Notification) -> EventEnvelope[Any] | None:
        return to_public(app.mapper.to_domain_event(notification))

    return convert


def trace_parent_form(app: TicketsApplication) -> Callable[[Notification], str | None]:
    """The `traceparent` stored with a notification's event (`shared.tracing.stamp_events`)."""

    def trace_parent(notification: Notification) -> str | None:
        return stored_trace_parent(app.mapper.to_domain_event(notification))

    return trace_parent


def build_relay(
    settings: TicketsSettings, *, app: TicketsApplication, nc: NATS, store_on_loop: bool = False
) -> OutboxRelay[Notification]:
    """The relay over `app`'s store, woken by every save of this process (`store_on_loop`: read the
    store on the calling loop's thread, `shared.outbox.OutboxRelay`)."""
    relay = envelope_relay(
        js=nc.jetstream(),
        source=app.recorder,
        to_envelope=public_form(app),
        trace_parent_of=trace_parent_form(app),
        prefix=settings.common.nats_prefix,
        store_on_loop=store_on_loop,
    )
    app.add_save_listener(lambda _position: relay.wake())
    return relay


def single_relay(
    settings: TicketsSettings, *, relay: OutboxRelay[Notification], nc: NATS, recorder: object
) -> Callable[[asyncio.Event], Awaitable[None]]:
    """`relay` as the one active instance among the replicas (a lease per stream); on PostgreSQL it
    follows the store's NOTIFY and polls only as a safety net."""
    common = settings.common

    def wakeups() -> PgListener | None:
        channel = channel_of(recorder)
        if settings.postgres_dsn is None or channel is None:
            return None
        return PgListener(dsn=settings.postgres_dsn.get_secret_value(), channel=channel)

    async def work(stop: asyncio.Event) -> None:
        await run_single(
            nc.jetstream(),
            name=relay.stream,
            work=lambda held: relay.run(held, wakeups=wakeups()),
            stop=stop,
            prefix=common.nats_prefix,
            replicas=common.nats_stream_replicas,
        )

    return work


async def run_relay(
    settings: TicketsSettings,
    *,
    app: TicketsApplication,
    nc: NATS,
    stop: asyncio.Event,
    relay: OutboxRelay[Notification] | None = None,
) -> None:
    """Publish the store's events until `stop` (in the replica holding the relay's lease); woken by
    this process's saves and by NOTIFY."""
    relay = relay or build_relay(settings, app=app, nc=nc)
    work = single_relay(settings, relay=relay, nc=nc, recorder=app.recorder)
    await _supervised("tickets-relay", work, stop)


async def run_projector(
    settings: TicketsSettings,
    *,
    store: HistoryStore,
    nc: NATS,
    stop: asyncio.Event,
    waiter: AppliedListener | None = None,
    store_on_loop: bool = False,
) -> None:
    """Apply the TICKETS stream to the history views until `stop`; after each batch, release this
    process's waiting reads and tell the other processes (`notices`). `store_on_loop`: call the
    store on this loop's thread (`HistoryProjector`)."""
    prefix = settings.common.nats_prefix

    async def applied(position: int, versions: Mapping[str, int]) -> None:
        if waiter is not None:
            waiter.applied(position, versions)
        await publish_applied(nc, prefix, position, versions)

    projector = HistoryProjector(
        js=nc.jetstream(), store=store, prefix=prefix, on_applied=applied, store_on_loop=store_on_loop
    )
    await _supervised("tickets-history", projector.run, stop)


async def _supervised(
    name: str, work: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
) -> None:
    """Run `work` until `stop`, restarting it after an unexpected error (never a silent dead worker)."""
    backoff = 0.5
    while not stop.is_set():
        try:
            await work(stop)
        except Exception:
            log.exception("worker_failed", worker=name, retry_in=backoff)
            await sleep_or_stop(stop, backoff)
            backoff = min(backoff * 2, 10.0)


@dataclass
class Workers:
    """Background work of one process; `stop()` lets each finish its current batch."""

    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    thread: WorkerThread | None = None  # the embedded relay and projection

    async def stop(self, *, grace: float = 10.0) -> None:
        self.stop_event.set()
        if self.thread is not None:
            await self.thread.stop(grace=grace)
        if not self.tasks:
            return
        _, pending = await asyncio.wait(self.tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


@dataclass(frozen=True)
class _ReleasedOn:
    """`waiter.applied` run on the requests' loop, from the projector's thread, when a read there
    waits for one of the batch's tickets (`ViewWaiter.waits_for_any`): most batches wake nobody, and
    scheduling them anyway woke the requests' loop once more for every create."""

    waiter: ViewWaiter
    loop: asyncio.AbstractEventLoop

    def applied(self, position: int, versions: Mapping[str, int], /) -> None:
        if self.waiter.waits_for_any(versions):
            on_loop(self.loop, self.waiter.applied)(position, dict(versions))


async def start_workers(
    settings: TicketsSettings,
    *,
    app: TicketsApplication,
    nc: NATS,
    store: HistoryStore,
    waiter: ViewWaiter | None = None,
) -> Workers:
    """Start what `settings.run_relay` / `settings.run_projection` ask for (call in the lifespan);
    `await workers.stop()` before draining NATS and closing the stores. The relay and the projection
    run on their own thread, loop and NATS connection (`worker_thread`), `waiter` released on this
    loop; without the projection in this process, `waiter` follows the projector's notices instead."""
    workers = Workers()
    stop = workers.stop_event
    loop = asyncio.get_running_loop()
    released = _ReleasedOn(waiter, loop) if waiter is not None else None

    async def embedded(own: NATS, own_stop: asyncio.Event) -> None:
        work: list[Awaitable[None]] = []
        if settings.run_relay:
            relay = build_relay(settings, app=app, nc=own, store_on_loop=True)
            work.append(run_relay(settings, app=app, nc=own, stop=own_stop, relay=relay))
        if settings.run_projection:
            projection = run_projector(
                settings, store=store, nc=own, stop=own_stop, waiter=released, store_on_loop=True
            )
            work.append(projection)
        await asyncio.gather(*work)

    if settings.run_relay or settings.run_projection:
        workers.thread = WorkerThread(settings.common, embedded, name="tickets-workers")
        await workers.thread.start()
    if not settings.run_projection and waiter is not None:
        work = _follow_notices(nc, settings.common.nats_prefix, waiter, stop)
        workers.tasks.append(asyncio.create_task(work, name="tickets-history-notices"))
    return workers


async def _follow_notices(nc: NATS, prefix: str, waiter: ViewWaiter, stop: asyncio.Event) -> None:
    subscription = await follow_applied(nc, prefix, waiter)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
