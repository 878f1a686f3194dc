"""The refresher keeps a process's directory entries alive a slice at a time: each once per interval,
none older than the interval, slices sized to the population, a slice that fell behind caught up."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import defaultdict

import pytest

from chat.application.context import HubConfig
from chat.application.refresher import Refresher, RefreshSource

pytestmark = pytest.mark.unit

EVERY = 10.0
TICK = 0.5


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Entries:
    """One kind of entry: the keys held, and when each was rewritten."""

    def __init__(self, clock: FakeClock, keys: range | list[str]) -> None:
        self.clock = clock
        self.held: dict[str, None] = dict.fromkeys(str(k) for k in keys)
        self.written: dict[str, list[float]] = defaultdict(list)
        self.failing: set[str] = set()

    def source(self) -> RefreshSource:
        return RefreshSource(keys=self.held.keys, rewrite=self.rewrite)

    async def rewrite(self, key: str) -> None:
        if key in self.failing:
            raise ConnectionError("directory away")
        self.written[key].append(self.clock.now)


def make(clock: FakeClock, *kinds: Entries) -> Refresher:
    return Refresher(clock=clock, every=EVERY, tick=TICK, sources=[k.source() for k in kinds])


async def run_for(refresher: Refresher, clock: FakeClock, seconds: float) -> list[int]:
    """A pass every tick for `seconds`: how many each rewrote; after each, none is older than EVERY."""
    sizes = []
    for _ in range(round(seconds / TICK)):
        sizes.append(await refresher.refresh_slice())
        assert all(clock.now - at <= EVERY for at in refresher.last_refreshed().values())
        clock.now += TICK
    return sizes


async def test_each_entry_is_rewritten_once_an_interval_in_even_slices() -> None:
    clock = FakeClock()
    sessions = Entries(clock, range(990))
    agents = Entries(clock, [f"agent-{n}" for n in range(10)])
    refresher = make(clock, sessions, agents)

    sizes = await run_for(refresher, clock, 4 * EVERY)

    share = math.ceil(1000 * TICK / EVERY)
    assert sizes == [share] * len(sizes)  # no burst: the same slice every tick
    for entries in (sessions, agents):
        for key in entries.held:
            times = entries.written[key]
            assert len(times) in (3, 4)  # once an interval, over four of them
            assert all(b - a == EVERY for a, b in itertools.pairwise(times))
            assert times[0] - 1000.0 < EVERY  # a new entry's first rewrite within its first interval


async def test_slices_follow_the_population_and_skip_entries_gone() -> None:
    clock = FakeClock()
    sessions = Entries(clock, range(200))
    refresher = make(clock, sessions)
    sizes = await run_for(refresher, clock, EVERY)
    assert set(sizes) == {10}

    for n in range(200, 600):
        sessions.held[str(n)] = None
    for n in range(0, 100):
        del sessions.held[str(n)]
    sessions.written.clear()
    sizes = await run_for(refresher, clock, 2 * EVERY)

    assert set(sizes[len(sizes) // 2 :]) == {25}  # 500 entries: 25 a tick once settled
    assert not any(str(n) in sessions.written for n in range(100))  # gone: never rewritten again
    assert all(len(sessions.written[k]) >= 1 for k in sessions.held)


async def test_a_slice_that_fell_behind_catches_up_at_once() -> None:
    clock = FakeClock()
    sessions = Entries(clock, range(1000))
    refresher = make(clock, sessions)
    await run_for(refresher, clock, 2 * EVERY)

    clock.now += 4.0  # the loop was held up: eight ticks missed
    caught_up = await refresher.refresh_slice()

    assert caught_up == 50 + 8 * 50  # every entry due, not just a tick's share
    assert all(clock.now - at < EVERY for at in refresher.last_refreshed().values())
    clock.now += TICK
    assert await run_for(refresher, clock, 2 * EVERY)  # and on, none older than the interval


async def test_an_entry_whose_rewrite_failed_is_tried_again_next_tick() -> None:
    clock = FakeClock()
    sessions = Entries(clock, range(100))
    refresher = make(clock, sessions)
    await run_for(refresher, clock, EVERY)

    sessions.failing = {"0", "1", "2"}  # the oldest, due this tick
    assert await refresher.refresh_slice() == 2
    clock.now += TICK
    sessions.failing = set()
    before = clock.now
    assert await refresher.refresh_slice() == 5 + 3  # this tick's share, and the three again
    assert all(sessions.written[k][-1] == before for k in ("0", "1", "2"))
    assert max(clock.now - at for at in refresher.last_refreshed().values()) <= EVERY


async def test_the_task_runs_every_tick_survives_an_error_and_stops_cleanly() -> None:
    written: list[str] = []
    broken = [True]

    def keys() -> list[str]:
        if broken[0]:
            broken[0] = False
            raise RuntimeError("boom")  # the loop logs it and goes on
        return ["a", "b"]

    async def rewrite(key: str) -> None:
        written.append(key)

    refresher = Refresher(
        clock=time.monotonic, every=0.05, tick=0.01, sources=[RefreshSource(keys=keys, rewrite=rewrite)]
    )
    refresher.start()
    for _ in range(200):
        if written.count("a") >= 3 and written.count("b") >= 3:
            break
        await asyncio.sleep(0.01)
    await refresher.stop()
    count = len(written)
    await asyncio.sleep(0.05)
    assert written.count("a") >= 3 and written.count("b") >= 3
    assert len(written) == count  # stopped


def test_the_tick_is_a_small_part_of_the_interval() -> None:
    config = HubConfig()
    assert config.refresh_every == 10.0 and config.refresh_tick == 0.5
    short = HubConfig(presence_ttl_seconds=3.0)
    assert short.refresh_tick == pytest.approx(0.1)
