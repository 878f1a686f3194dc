"""The one pause of every background loop: it sleeps its time unless the stop event ends it first."""

from __future__ import annotations

import asyncio

import pytest

from shared.stopping import sleep_or_stop, wait_set

pytestmark = pytest.mark.unit


async def test_it_sleeps_the_whole_time_when_nobody_stops_it() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    stopped = await sleep_or_stop(stop, 0.05)
    assert stopped is False
    assert loop.time() - started >= 0.05


async def test_setting_the_event_ends_the_sleep_early_and_says_so() -> None:
    stop = asyncio.Event()
    sleeping = asyncio.create_task(sleep_or_stop(stop, 3600))
    await asyncio.sleep(0)  # let it start waiting
    assert not sleeping.done()
    stop.set()
    assert await asyncio.wait_for(sleeping, 10) is True


async def test_an_event_already_set_returns_at_once() -> None:
    stop = asyncio.Event()
    stop.set()
    assert await asyncio.wait_for(sleep_or_stop(stop, 3600), 10) is True


async def test_a_cancel_that_comes_as_the_event_is_set_ends_the_loop() -> None:
    """A loop waiting for its event is cancelled in the same turn as the event is set: the loop ends.
    (`asyncio.wait_for` on Python 3.11 dropped that cancellation and the loop went round for ever.)"""
    changed = asyncio.Event()
    rounds = 0

    async def loop() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            await wait_set(changed, 3600)
            changed.clear()

    task = asyncio.create_task(loop())
    for _ in range(3):
        await asyncio.sleep(0)  # let it start waiting
    assert rounds == 1 and not task.done()
    changed.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled(), f"the loop went on ({rounds} rounds)"
