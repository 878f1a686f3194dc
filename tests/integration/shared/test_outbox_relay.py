"""The one outbox relay (`shared.outbox`) and its lease (`shared.lease`) against a real nats-server:
an in-memory store, so what is proven is the relay's own guarantees, whatever store a service has."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import KeyDeletedError, KeyNotFoundError

from shared.contracts.envelope import HEADER_MSG_ID
from shared.lease import Lease, open_lease_bucket, run_single
from shared.natsserver import NatsServer
from shared.outbox import OutboxRelay, OutgoingMessage

pytestmark = pytest.mark.integration

POSITION = "Test-Store-Position"


@dataclass(frozen=True)
class Stored:
    id: int
    public: bool = True

    @property
    def event_id(self) -> str:
        return f"event-{self.id}"


class Store:
    """Notification ids with gaps (rolled-back ids never come back) and some events never published."""

    def __init__(self) -> None:
        self.items: list[Stored] = []
        self.read_on: set[int] = set()  # the threads that read it

    def write(self, count: int) -> None:
        last = self.items[-1].id if self.items else 0
        for n in range(count):
            next_id = last + 1 + (n % 4 == 3)  # every fourth id is a gap
            self.items.append(Stored(next_id, public=next_id % 5 != 0))
            last = next_id

    def notifications_after(self, position: int, *, limit: int) -> Sequence[Stored]:
        self.read_on.add(threading.get_ident())
        return [item for item in self.items if item.id > position][:limit]

    def published_ids(self) -> list[str]:
        return [item.event_id for item in self.items if item.public]


def message_of(prefix: str) -> Callable[[Stored], OutgoingMessage | None]:
    def to_message(item: Stored) -> OutgoingMessage | None:
        if not item.public:
            return None
        headers = {HEADER_MSG_ID: item.event_id}
        return OutgoingMessage(f"{prefix}.outbox.{item.id}", item.event_id.encode(), headers)

    return to_message


async def make_stream(js: JetStreamContext, prefix: str, *, window: float = 1.0) -> str:
    """A stream whose duplicate window is short: exactly once must not depend on it."""
    name = f"{prefix.upper()}_OUTBOX"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{prefix}.outbox.>"], duplicate_window=window))
    return name


def relay_of(
    js: JetStreamContext,
    stream: str,
    store: Store,
    prefix: str,
    *,
    batch_size: int = 500,
    idle_wait: float = 0.02,
    publish_timeout: float = 5.0,
    store_on_loop: bool = False,
) -> OutboxRelay[Stored]:
    return OutboxRelay(
        js=js,
        stream=stream,
        source=store,
        to_message=message_of(prefix),
        position_header=POSITION,
        batch_size=batch_size,
        idle_wait=idle_wait,
        publish_timeout=publish_timeout,
        store_on_loop=store_on_loop,
    )


async def stream_ids(js: JetStreamContext, stream: str) -> list[str]:
    info = await js.stream_info(stream)
    seqs = range(1, info.state.last_seq + 1)
    return [((await js.get_msg(stream, seq=s)).headers or {})[HEADER_MSG_ID] for s in seqs]


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("store_on_loop", [False, True], ids=["store-thread", "store-on-loop"])
async def test_two_relays_starting_on_an_empty_stream_publish_each_event_once(
    nc: NATS, nats_prefix: str, store_on_loop: bool
) -> None:
    js = nc.jetstream()
    stream = await make_stream(js, nats_prefix)
    store = Store()
    store.write(12)
    a, b = (
        relay_of(js, stream, store, nats_prefix, batch_size=5, store_on_loop=store_on_loop) for _ in range(2)
    )
    assert (await a.resync("start")).stream_seq == (await b.resync("start")).stream_seq == 0
    assert await a.publish_batch() == 6  # six notification ids looked at (a gap among them)
    await asyncio.sleep(1.2)  # past the duplicate window: only the empty stream's guard stands
    assert await b.publish_batch() is None  # refused, and its position re-read from the stream
    assert b.position == a.position
    # Then both race to the end, more events arriving meanwhile.
    store.write(20)
    await asyncio.gather(a.publish_pending(), b.publish_pending())
    assert await stream_ids(js, stream) == store.published_ids()
    # The store was read on the loop's own thread only when asked to (the embedded workers' thread).
    assert (store.read_on == {threading.get_ident()}) is store_on_loop


async def test_only_the_lease_holder_publishes_and_the_other_takes_over_when_it_stops(
    nc: NATS, nats_prefix: str
) -> None:
    js = nc.jetstream()
    stream = await make_stream(js, nats_prefix, window=120.0)
    store = Store()
    relays = [relay_of(js, stream, store, nats_prefix, idle_wait=0.02) for _ in range(2)]
    stops = [asyncio.Event(), asyncio.Event()]
    leases = [await Lease.open(js, stream, prefix=nats_prefix, ttl=2.0) for _ in range(2)]
    pairs = zip(leases, stops, relays, strict=True)
    tasks = [asyncio.create_task(lease.run(stop, relay.run)) for lease, stop, relay in pairs]
    try:
        await eventually(lambda: _any(lease.held for lease in leases))
        store.write(30)
        await eventually(lambda: _equal(stream_ids(js, stream), store.published_ids()))
        holder = next(i for i, lease in enumerate(leases) if lease.held)
        other = 1 - holder
        assert relays[holder].stored == len(store.published_ids()) and relays[other].stored == 0
        assert not leases[other].held

        stops[holder].set()  # a clean stop: its batch ends, its lease is given back
        await asyncio.wait_for(tasks[holder], 5)
        started = asyncio.get_running_loop().time()
        store.write(30)
        await eventually(lambda: _equal(stream_ids(js, stream), store.published_ids()))
        assert asyncio.get_running_loop().time() - started < leases[other].ttl
        assert leases[other].held and relays[other].stored > 0
    finally:
        for stop in stops:
            stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert await stream_ids(js, stream) == store.published_ids()
    kv = await open_lease_bucket(js, prefix=nats_prefix)
    with pytest.raises((KeyNotFoundError, KeyDeletedError)):
        await kv.get(stream)  # given back on the clean stop


async def test_a_holder_cut_off_from_nats_loses_the_lease_within_its_ttl_to_a_standby(
    own_nats_server: NatsServer, nats_prefix: str
) -> None:
    first = await nats.connect(own_nats_server.url, allow_reconnect=False)
    second = await nats.connect(own_nats_server.url)
    try:
        js = second.jetstream()
        stream = await make_stream(js, nats_prefix, window=120.0)
        store = Store()
        store.write(8)
        stop = asyncio.Event()
        crashed = relay_of(first.jetstream(), stream, store, nats_prefix, publish_timeout=0.5)
        work = asyncio.create_task(
            run_single(
                first.jetstream(), name=stream, work=crashed.run, stop=stop, prefix=nats_prefix, ttl=2.0
            )
        )
        await eventually(lambda: _equal(stream_ids(js, stream), store.published_ids()))
        await first.close()  # as good as dead for NATS: no renewal, no release

        standby = relay_of(js, stream, store, nats_prefix)
        before = len(store.published_ids())
        store.write(8)
        taken = asyncio.create_task(
            run_single(js, name=stream, work=standby.run, stop=stop, prefix=nats_prefix, ttl=2.0)
        )
        await eventually(lambda: _equal(stream_ids(js, stream), store.published_ids()), timeout=2.0 + 3.0)
        assert standby.stored == len(store.published_ids()) - before  # what the crashed one never did
        stop.set()
        await asyncio.wait_for(asyncio.gather(work, taken), 10)
    finally:
        with contextlib.suppress(Exception):
            await first.close()
        await second.close()


async def _any(values: Iterable[bool]) -> bool:
    return any(values)


async def _equal(got: Awaitable[list[str]], expected: list[str]) -> bool:
    found = await got
    assert len(found) <= len(expected), "more messages than events: something was doubled"
    return found == expected
