"""The KV directory on a real nats-server: memory storage, TTL, compare-and-set, and no relay stream."""

from __future__ import annotations

import asyncio
from functools import partial

import nats
import pytest
from nats.js.api import StorageType
from nats.js.errors import NotFoundError

from chat.adapters.directory import Directory, bucket_name, ensure_bucket
from chat.adapters.relay import Relay
from chat.bootstrap import migrate
from chat.domain.model import QueueEntry, QueueState
from chat.settings import ChatSettings
from shared.settings import CommonSettings
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


def holds(directory: Directory, sid: str, agent: str | None) -> bool:
    """The mirror has the session (assigned to `agent`, if given)."""
    seen = directory.queue.get(sid)
    if seen is None:
        return False
    return agent is None or (seen.value.state is QueueState.ASSIGNED and seen.value.agent == agent)


async def test_the_bucket_keeps_nothing_on_disk_and_expires_what_is_not_refreshed(
    nats_url: str, nats_prefix: str
) -> None:
    nc = await nats.connect(nats_url)
    try:
        name = bucket_name(nats_prefix, "CHAT")
        kv = await ensure_bucket(nc, name=name, ttl_seconds=1.0)
        again = await ensure_bucket(nc, name=name, ttl_seconds=1.0)
        status = await again.status()
        assert status.stream_info.config.storage == StorageType.MEMORY
        assert status.stream_info.config.max_age == pytest.approx(1.0)

        directory = Directory(kv)
        await directory.start()
        try:
            await directory.put_queue(QueueEntry(sid="s1", account_id="a", since=1.0, proc="p"), revision=0)
            assert "s1" in directory.queue
            # No refresh: the server expires it and its delete marker reaches the mirror.
            await eventually(lambda: "s1" not in directory.queue, timeout=6.0)
        finally:
            await directory.stop()
    finally:
        await nc.close()


async def test_two_processes_racing_to_assign_one_user_only_one_wins(nats_url: str, nats_prefix: str) -> None:
    first, second = await nats.connect(nats_url), await nats.connect(nats_url)
    try:
        name = bucket_name(nats_prefix, "CHAT")
        one = Directory(await ensure_bucket(first, name=name, ttl_seconds=30))
        two = Directory(await ensure_bucket(second, name=name, ttl_seconds=30))
        await one.start()
        await two.start()
        try:
            for i in range(10):
                sid = f"s{i}"
                await one.put_queue(
                    QueueEntry(sid=sid, account_id="a", since=float(i), proc="p1"), revision=0
                )
                await eventually(partial(holds, two, sid, None))
                seen_one, seen_two = one.queue[sid], two.queue[sid]
                results = await asyncio.gather(
                    one.put_queue(seen_one.value.assign("agent-1", now=1.0), revision=seen_one.revision),
                    two.put_queue(seen_two.value.assign("agent-2", now=1.0), revision=seen_two.revision),
                )
                assert sum(r is not None for r in results) == 1
                winner = "agent-1" if results[0] is not None else "agent-2"
                await eventually(partial(holds, one, sid, winner))
                await eventually(partial(holds, two, sid, winner))
                assert one.queue[sid].value.agent == winner
        finally:
            await one.stop()
            await two.stop()
    finally:
        await first.close()
        await second.close()


async def test_no_jetstream_stream_captures_the_live_relay_subjects(nats_url: str, nats_prefix: str) -> None:
    common = CommonSettings(nats_url=nats_url, nats_prefix=nats_prefix)
    await migrate(ChatSettings(common=common))
    nc = await nats.connect(nats_url)
    try:
        relay = Relay(nc, prefix=nats_prefix)
        js = nc.jetstream()
        stats = await js.find_stream_name_by_subject(f"{nats_prefix}.helpdesk.chat.v1.started")
        assert stats == f"{nats_prefix.upper()}_CHAT_STATS"
        for subject in (relay.user_subject("abc"), relay.agent_subject("def")):
            with pytest.raises(NotFoundError):
                await js.find_stream_name_by_subject(subject)
    finally:
        await nc.close()


async def test_a_refresh_that_changes_nothing_wakes_no_listener_and_a_change_does(
    nats_url: str, nats_prefix: str
) -> None:
    """Every process rewrites its entries every TTL/3: thousands of rewrites that must not each wake
    every other process's loop, while a real change (assigned) still does."""
    writer_nc, reader_nc = await nats.connect(nats_url), await nats.connect(nats_url)
    try:
        name = bucket_name(nats_prefix, "CHAT")
        writer = Directory(await ensure_bucket(writer_nc, name=name, ttl_seconds=30.0))
        reader = Directory(await ensure_bucket(reader_nc, name=name, ttl_seconds=30.0))
        changes: list[str] = []
        reader.subscribe(lambda change: changes.append(change.key))
        await writer.start()
        await reader.start()
        try:
            entry = QueueEntry(sid="s1", account_id="a", since=1.0, proc="p")
            first = await writer.put_queue(entry, revision=0)
            assert first is not None
            await eventually(lambda: "s1" in reader.queue)
            assert changes == ["q.s1"]
            refreshed = await writer.put_queue(entry, revision=first)
            assert refreshed is not None
            await eventually(lambda: reader.queue["s1"].revision == refreshed)
            assert changes == ["q.s1"]  # the same entry at a new revision: nobody woken
            await writer.put_queue(entry.assign("agent-1", now=2.0), revision=refreshed)
            await eventually(lambda: holds(reader, "s1", "agent-1"))
            assert changes == ["q.s1", "q.s1"]
        finally:
            await reader.stop()
            await writer.stop()
    finally:
        await writer_nc.close()
        await reader_nc.close()
