"""The one pause of every background loop: it sleeps its time unless the stop event ends it first."""

from __future__ import annotations

import asyncio

import pytest

from shared.stopping import sleep_or_stop

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
