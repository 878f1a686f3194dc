"""Seats (the caps on open chats) in the KV directory on a real nats-server: two mirrors racing for
the last seats, a seat given back, one left behind by a crashed process, and seats written back into
a bucket that was lost."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.js.kv import KeyValue

from chat.adapters.directory import Directory, bucket_name, ensure_bucket
from chat.domain.model import Seat
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


async def test_two_processes_racing_for_seats_get_no_more_than_the_cap_between_them(
    nats_url: str, nats_prefix: str
) -> None:
    first, second = await nats.connect(nats_url), await nats.connect(nats_url)
    try:
        name = bucket_name(nats_prefix, "CHAT")
        one = Directory(await ensure_bucket(first, name=name, ttl_seconds=30))
        two = Directory(await ensure_bucket(second, name=name, ttl_seconds=30))
        await one.start()
        await two.start()
        try:
            claims = [
                (one if i % 2 else two).claim_seat(
                    "uowner", limit=3, seat=Seat(sid=f"s{i}", proc=f"p{i % 2}")
                )
                for i in range(12)
            ]
            granted = [ident for ident in await asyncio.gather(*claims) if ident is not None]
            assert sorted(granted) == ["uowner.0", "uowner.1", "uowner.2"]
            await eventually(lambda: one.seats_held("uowner") == two.seats_held("uowner") == 3)
            assert await two.claim_seat("uowner", limit=3, seat=Seat(sid="late", proc="p0")) is None
            # Another owner's seats are counted apart.
            assert await one.claim_seat("aother", limit=1, seat=Seat(sid="s0", proc="p1")) == "aother.0"

            await one.release_seat("uowner.1")
            await eventually(lambda: two.seats_held("uowner") == 2)
            assert await two.claim_seat("uowner", limit=3, seat=Seat(sid="late", proc="p0")) == "uowner.1"
        finally:
            await one.stop()
            await two.stop()
    finally:
        await first.close()
        await second.close()


async def test_a_seat_not_refreshed_expires_and_can_be_taken_again(nats_url: str, nats_prefix: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        directory = Directory(await ensure_bucket(nc, name=bucket_name(nats_prefix, "CHAT"), ttl_seconds=1.0))
        await directory.start()
        try:
            mine = Seat(sid="s1", proc="crashed")
            assert await directory.claim_seat("uone", limit=1, seat=mine) == "uone.0"
            assert await directory.claim_seat("uone", limit=1, seat=Seat(sid="s2", proc="p")) is None
            assert not await directory.put_seat("uone.0", Seat(sid="s2", proc="p"))
            # Its process is gone: the seat expires, and its expiry marker does not block a new chat.
            await eventually(lambda: directory.seats_held("uone") == 0, timeout=6.0)
            assert await directory.claim_seat("uone", limit=1, seat=Seat(sid="s2", proc="p")) == "uone.0"
        finally:
            await directory.stop()
    finally:
        await nc.close()


async def test_seats_written_back_into_a_rebuilt_bucket_are_taken_again_unless_a_new_chat_took_one(
    nats_url: str, nats_prefix: str
) -> None:
    nc = await nats.connect(nats_url)
    name = bucket_name(nats_prefix, "CHAT")

    async def reopen() -> KeyValue:
        return await ensure_bucket(nc, name=name, ttl_seconds=30)

    try:
        directory = Directory(await reopen(), reopen=reopen)
        directory.keep_alive("hb-me", every=3600)
        await directory.start()
        try:
            mine = Seat(sid="s1", proc="hb-me")
            held = [await directory.claim_seat(owner, limit=1, seat=mine) for owner in ("uone", "aone")]
            assert held == ["uone.0", "aone.0"]

            await nc.jetstream().delete_key_value(name)  # a lone nats-server restarted: memory lost
            assert not await directory.healthy()
            await directory.reopen()
            assert directory.seats_held("uone") == directory.seats_held("aone") == 0
            theirs = Seat(sid="s2", proc="hb-me")
            assert await directory.claim_seat("uone", limit=1, seat=theirs) == "uone.0"  # meanwhile

            assert [await directory.put_seat(ident, mine) for ident in ("uone.0", "aone.0")] == [False, True]
            assert directory.seats["uone.0"].value == theirs
            assert directory.seats["aone.0"].value == mine
            assert await directory.claim_seat("aone", limit=1, seat=theirs) is None
        finally:
            await directory.stop()
    finally:
        await nc.close()
