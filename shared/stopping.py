"""Waiting inside a loop for an event, at most some seconds: the one way every background loop pauses.

Not `asyncio.wait_for(event.wait(), seconds)`: on Python 3.11 it returns normally when its task is
cancelled just as the event is set (the inner wait has finished, so the cancellation is dropped;
CPython gh-86296, fixed in 3.12), and a loop that goes round again after that never ends — its
`task.cancel(); await task` waits for ever. `asyncio.timeout` tells its own expiry from a
cancellation, so a cancel always ends the wait.

Third-party code may still await `asyncio.wait_for` (nats-py's requests do), and drop a cancel that
lands as its answer arrives: a loop that makes such a call calls `raise_if_cancelled()` after it,
as `every` does for a step it repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


async def wait_set(event: asyncio.Event, seconds: float | None) -> bool:
    """Wait until `event` is set, at most `seconds` (None: no limit); whether it is set (at once if
    it already was)."""
    if event.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds`, or less if `stop` is set meanwhile; whether `stop` is set (the loop should
    end) — at once, without sleeping, if it already was."""
    return await wait_set(stop, seconds)


def raise_if_cancelled() -> None:
    """Raise `CancelledError` if this task was cancelled and an await dropped it (Python 3.11's
    `asyncio.wait_for`, gh-86296): the task stays marked as cancelling, so the cancel is honoured
    here instead of the loop going round for ever. Nothing when it was not cancelled, or when only an
    `asyncio.timeout` expired (which takes its own cancel back)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def every(seconds: float, step: Callable[[], Awaitable[object]]) -> None:
    """Run `step` every `seconds` until cancelled (a sampling loop), honouring a cancel that one of
    its awaits dropped."""
    while True:
        await step()
        raise_if_cancelled()
        await asyncio.sleep(seconds)
