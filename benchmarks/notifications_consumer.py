"""Benchmark of the tickets-stream consumer of notifications: events per second, drained from a backlog.

Runs its own nats-server (bundled binary). For each variant, N support replies are queued on the
TICKETS stream first, then the consumer starts and the clock stops when the durable consumer has
nothing pending or unacked. Variants:

- `faststream`: the service's subscriber (`entrypoints/ticket_events.py`: one message per pull,
  NACK_ON_ERROR, per-message lines at DEBUG);
- `faststream-info-log`: the same with the broker's per-message lines at INFO, to a discarded handler;
- `raw-nats-batch20`: a plain nats-py loop fetching 20 at a time, processing them in order, with
  the same decision code (`TicketEventsConsumer.process`) — the cost of faststream and of
  one-message pulls, by difference.

Each with a no-op effect (the consumer's own cost) and with the real popup store on SQLite.
Each variant runs `--rounds` times on a fresh consumer (the median is printed: the machine is shared).
Bounded: about ten thousand messages in all, a minute or so.
    .venv/bin/python -m benchmarks.notifications_consumer [--events 1000] [--store-events 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from notifications.adapters.consumer import TicketEventsConsumer, consumer_name
from notifications.application.store import open_store
from notifications.bootstrap import build_consumer, build_service, migrate, stream_name
from notifications.domain.clock import SystemClock
from notifications.entrypoints.ticket_events import BROKER_LOGGER
from notifications.settings import NotificationsSettings
from shared.contracts.subjects import TICKETS_STREAM, event_subject, with_prefix
from shared.logging import configure_logging
from shared.natsserver import NatsServer
from shared.settings import CommonSettings, Environment

Handle = Callable[[Any], uuid.UUID | None]


def reply(n: int) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "type": "ticket.replied",
            "schema_version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
            "account_id": "hotel-bench",
            "aggregate_id": str(uuid.uuid4()),
            "aggregate_version": 2,
            "ticket_number": f"HD-{n:06d}",
            "actor": {"kind": "agent", "id": "agent-1", "name": "A"},
            "correlation_id": f"corr-{n}",
            "data": {"message_id": str(uuid.uuid4()), "author_role": "agent", "text": f"reply {n}"},
        }
    ).encode()


async def backlog(js: JetStreamContext, prefix: str, count: int) -> None:
    subject = with_prefix(prefix, event_subject("tickets", "ticket.replied", 1))
    acks = [await js.publish_async(subject, reply(n)) for n in range(count)]
    await asyncio.gather(*acks)


async def drained(js: JetStreamContext, settings: NotificationsSettings, *, timeout: float = 120) -> None:
    stream, durable = stream_name(settings, TICKETS_STREAM), consumer_name(settings.common.nats_prefix)
    async with asyncio.timeout(timeout):
        while True:
            info = await js.consumer_info(stream, durable)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return
            await asyncio.sleep(0.01)


async def run_faststream(settings: NotificationsSettings, handle: Handle, *, info: bool) -> Any:
    broker = build_consumer(settings, handle=handle)
    if info:
        broker.config.logger.log_level = logging.INFO
    await broker.start()
    return broker.stop


async def run_raw(settings: NotificationsSettings, consumer: TicketEventsConsumer) -> Any:
    nc = await nats.connect(settings.common.nats_url)
    js = nc.jetstream()
    sub = await js.pull_subscribe_bind(
        durable=consumer_name(settings.common.nats_prefix), stream=stream_name(settings, TICKETS_STREAM)
    )

    async def loop() -> None:
        while True:
            try:
                messages = await sub.fetch(20, timeout=1.0)
            except NatsTimeoutError:
                continue
            for msg in messages:
                retry = await consumer.process(msg, js=js)
                await (msg.nak(delay=retry.delay) if retry else msg.ack())

    task = asyncio.create_task(loop())

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await nc.drain()

    return stop


async def measure(
    common: CommonSettings, data_dir: Path, *, variant: str, handle_kind: str, count: int
) -> float:
    prefix = f"b{uuid.uuid4().hex[:8]}"
    settings = NotificationsSettings(
        common=common.model_copy(update={"nats_prefix": prefix, "data_dir": data_dir / prefix})
    )
    await migrate(settings)
    store = open_store(settings.store_env(create_tables=False))
    handle: Handle = (
        (lambda envelope: None)
        if handle_kind == "no-op"
        else build_service(store, settings, SystemClock()).handle_ticket_event
    )
    consumer = TicketEventsConsumer(
        prefix=prefix, handle=handle, max_deliver=5, backoff_seconds=settings.consumer_backoff_seconds
    )
    nc = await nats.connect(common.nats_url)
    js = nc.jetstream()
    try:
        await backlog(js, prefix, count)
        started = time.perf_counter()
        stop: Callable[[], Awaitable[None]]
        if variant == "raw-nats-batch20":
            stop = await run_raw(settings, consumer)
        else:
            stop = await run_faststream(settings, handle, info=variant == "faststream-info-log")
        await drained(js, settings)
        elapsed = time.perf_counter() - started
        await stop()
    finally:
        await nc.drain()
        store.close()
    return count / elapsed


async def main(events: int, store_events: int, rounds: int) -> None:
    configure_logging(level="WARNING", json=True)
    # The INFO variant must pay for formatting and writing its lines, as a service would.
    broker_log = logging.getLogger(BROKER_LOGGER)
    broker_log.propagate = False
    broker_log.setLevel(logging.INFO)
    broker_log.addHandler(logging.StreamHandler(open("/dev/null", "w")))  # noqa: SIM115
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "nats") as server:
        common = CommonSettings(environment=Environment.TEST, nats_url=server.url, data_dir=Path(tmp))
        for handle_kind, count in (("no-op", events), ("sqlite store", store_events)):
            for variant in ("faststream", "faststream-info-log", "raw-nats-batch20"):
                rates = [
                    await measure(common, Path(tmp), variant=variant, handle_kind=handle_kind, count=count)
                    for _ in range(rounds)
                ]
                print(
                    f"{handle_kind:>12} effect, {variant:<20} {count:>5} events: "
                    f"median {statistics.median(rates):6.0f} events/s (of {rounds}: "
                    + ", ".join(f"{r:.0f}" for r in rates)
                    + ")"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--store-events", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.store_events, args.rounds))
