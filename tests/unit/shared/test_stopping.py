"""The one pause of every background loop: it sleeps its time unless the stop event ends it first."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from shared.stopping import raise_if_cancelled, sleep_or_stop, wait_set

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


async def test_a_cancel_an_await_dropped_is_raised_by_raise_if_cancelled() -> None:
    """As nats-py's requests on Python 3.11: the answer arrives with the cancel and the await
    returns normally. The loop honours the cancel at its next `raise_if_cancelled()`."""
    rounds = 0

    async def dropping_request() -> None:
        # What `asyncio.wait_for` does on 3.11 when the inner future is done as the cancel lands.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)

    async def loop() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            await dropping_request()
            raise_if_cancelled()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled() and rounds == 1


async def test_raise_if_cancelled_lets_an_uncancelled_task_and_an_expired_timeout_go_on() -> None:
    raise_if_cancelled()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.01):
            await asyncio.sleep(3600)
    raise_if_cancelled()  # the timeout took its own cancel back
    assert await wait_set(asyncio.Event(), 0.01) is False
    raise_if_cancelled()
