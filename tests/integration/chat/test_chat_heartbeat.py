"""One heartbeat key per chat process on a real nats-server: its entries live as long as it does, are
gone for every mirror when it expires, are not rewritten on a timer, and a heartbeat that comes
back after a pause brings none of the old entries back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
import pytest
from nats.aio.client import Client as NATS

from chat.adapters.directory import Change, Directory, bucket_name, ensure_bucket
from chat.adapters.relay import Relay
from chat.adapters.stats import StatsPublisher
from chat.application.context import HubConfig
from chat.application.hub import ChatHub
from chat.domain.intake import IntakeLimits, make_intake
from chat.domain.model import AgentPresence, AgentStatus, QueueEntry, Seat, specialists_online
from chat.domain.server_frames import ServerFrame
from shared.auth import Principal, Role
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

TTL = 1.0


@asynccontextmanager
async def two_directories(nats_url: str, prefix: str) -> AsyncIterator[tuple[Directory, Directory]]:
    """`one` beats only when a test says so (a process that may crash or pause); `two` watches."""
    first, second = await nats.connect(nats_url), await nats.connect(nats_url)
    name = bucket_name(prefix, "CHAT")
    one = Directory(await ensure_bucket(first, name=name, ttl_seconds=TTL))
    two = Directory(await ensure_bucket(second, name=name, ttl_seconds=TTL))
    one.keep_alive("hb-one", every=3600)  # no timer: the test beats by hand
    two.keep_alive("hb-two", every=3600)
    await one.start()
    await two.start()
    try:
        yield one, two
    finally:
        await one.stop()
        await two.stop()
        await first.close()
        await second.close()


async def write_entries(one: Directory) -> None:
    """A user waiting, a specialist available and a seat, all of process `hb-one`."""
    assert await one.put_queue(QueueEntry(sid="s1", account_id="a", since=1.0, proc="hb-one"), revision=0)
    assert await one.put_agent(available(), revision=0)
    assert await one.claim_seat("uone", limit=1, seat=Seat(sid="s1", proc="hb-one")) == "uone.0"


async def stop_beating(one: Directory, two: Directory) -> None:
    """`one` writes its entries, `two` sees them, then `one` stops beating until `two` sees it gone."""
    await write_entries(one)
    await eventually(lambda: holds_all(two))
    assert specialists_online({k: v.value for k, v in two.agents.items()}) == 1
    await eventually(lambda: "hb-one" not in two.procs, timeout=TTL * 4)


def available() -> AgentPresence:
    return AgentPresence(akey="k1", name="Iryna", proc="hb-one", capacity=2, status=AgentStatus.AVAILABLE)


def holds_all(directory: Directory) -> bool:
    return "s1" in directory.queue and "k1" in directory.agents and "uone.0" in directory.seats


async def test_while_the_heartbeat_lives_the_entries_outlive_the_ttl_and_after_it_they_are_gone(
    nats_url: str, nats_prefix: str
) -> None:
    async with two_directories(nats_url, nats_prefix) as (one, two):
        gone: list[Change] = []
        two.subscribe(lambda change: gone.append(change) if change.new is None and change.old else None)
        await write_entries(one)
        await eventually(lambda: holds_all(two))
        for _ in range(3):  # three TTLs, the heartbeat alone rewritten
            await one.beat()
            await asyncio.sleep(TTL / 2)
            await one.beat()
            await asyncio.sleep(TTL / 2)
        assert holds_all(two) and "hb-one" in two.procs
        assert await two.fetch_queue("s1") is not None

        # The process stops beating (crashed): within one TTL every mirror treats its entries as
        # expired ones, and the listeners hear of each.
        await eventually(lambda: not any([*two.queue, *two.agents, *two.seats]), timeout=TTL * 4)
        assert "hb-one" not in two.procs
        assert {c.key for c in gone} == {"q.s1", "a.k1", "s.uone.0"}
        assert specialists_online({k: v.value for k, v in two.agents.items()}) == 0
        assert await two.fetch_queue("s1") is None  # not even read back from the server

        # Its seat is free for another process at once, and the entries are deleted from the bucket.
        assert await two.claim_seat("uone", limit=1, seat=Seat(sid="s2", proc="hb-two")) == "uone.0"
        await two.reclaim()
        assert await two.fetch_agent("k1") is None
        assert not two.stale


async def test_entries_of_a_process_without_a_heartbeat_are_gone_for_a_mirror_that_starts_later(
    nats_url: str, nats_prefix: str
) -> None:
    async with two_directories(nats_url, nats_prefix) as (one, two):
        await stop_beating(one, two)
        # Its heartbeat's marker is gone too (`limit_marker_ttl`): only the entries are left.
        await asyncio.sleep(TTL * 1.5)
        late_nc = await nats.connect(nats_url)
        late = Directory(await ensure_bucket(late_nc, name=bucket_name(nats_prefix, "CHAT"), ttl_seconds=TTL))
        await late.start()
        assert not late.queue and not late.agents and not late.seats
        assert set(late.stale) == {"q.s1", "a.k1", "s.uone.0"}
        await late.stop()
        await late_nc.close()


async def test_a_heartbeat_back_after_a_pause_brings_none_of_the_old_entries_back(
    nats_url: str, nats_prefix: str
) -> None:
    async with two_directories(nats_url, nats_prefix) as (one, two):
        await stop_beating(one, two)  # paused past the TTL
        assert "k1" not in two.agents

        # The process resumes: its heartbeat is written again, before anything else it writes.
        await one.beat()
        await eventually(lambda: "hb-one" in two.procs)
        assert not holds_all(two)
        assert await two.fetch_agent("k1") is None  # the old entry is not read back as live
        assert list(two.procs).count("hb-one") == 1

        # It registers its specialist again: counted once, and the old entry stays gone.
        await two.reclaim()
        presence = AgentPresence(
            akey="k1", name="Iryna", proc="hb-one", capacity=2, status=AgentStatus.AVAILABLE
        )
        await eventually(lambda: one.put_agent(presence, revision=0))
        await eventually(lambda: "k1" in two.agents)
        assert specialists_online({k: v.value for k, v in two.agents.items()}) == 1
        assert "s1" not in two.queue


class Sink:
    async def send(self, frame: ServerFrame) -> None:
        return None


async def test_a_live_process_does_not_rewrite_its_entries_on_a_timer(
    nats_url: str, nats_prefix: str
) -> None:
    """Five chats waiting (a queue entry and two seats each) over six TTL/3 periods: the bucket gets
    the heartbeats and nothing else, and the entries keep their revisions."""
    nc: NATS = await nats.connect(nats_url)
    kv = await ensure_bucket(nc, name=bucket_name(nats_prefix, "CHAT"), ttl_seconds=1.5)
    config = HubConfig(presence_ttl_seconds=1.5, tick_seconds=0.05, max_wait_seconds=3600)
    hub = ChatHub(
        directory=Directory(kv),
        relay=Relay(nc, prefix=nats_prefix),
        stats=StatsPublisher(None, prefix=nats_prefix),
        tickets=None,
        config=config,
        clock=time.time,
    )
    await hub.start()
    try:
        intake = make_intake(name="Olena", phone="+380441234567", question="BSO forms", limits=IntakeLimits())
        for n in range(5):
            principal = Principal(sub=f"u{n}", role=Role.USER, account_id=f"hotel-{n}", name="U")
            await hub.users.open(principal, intake, token="t", send=Sink().send)
        directory = hub.ctx.directory
        revisions = {sid: held.revision for sid, held in directory.queue.items()}
        seats = {ident: held.revision for ident, held in directory.seats.items()}
        assert len(revisions) == 5 and len(seats) == 10
        before = (await kv.status()).stream_info.state.last_seq
        periods = 6
        await asyncio.sleep(config.refresh_every * periods)
        writes = (await kv.status()).stream_info.state.last_seq - before
        assert writes <= periods + 1  # the heartbeats (rewriting the entries would be 15 a period)
        assert {sid: (await directory.fetch_queue(sid)) is not None for sid in revisions} == dict.fromkeys(
            revisions, True
        )
        assert {sid: held.revision for sid, held in directory.queue.items()} == revisions
        assert {ident: held.revision for ident, held in directory.seats.items()} == seats
    finally:
        await hub.stop()
        await nc.close()
