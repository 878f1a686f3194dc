"""The one bounded wait of the suites: poll a check until it holds, fail after a timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

WAIT = 10.0  # seconds, unless a suite says otherwise

What = str | Callable[[], str]


def _say(what: What, check: object) -> str:
    return (what() if callable(what) else what) or repr(check)


def wait_until(
    check: Callable[[], T | None], *, timeout: float = WAIT, interval: float = 0.05, what: What = ""
) -> T:
    """Call `check()` until it returns a truthy value, and return it; AssertionError after `timeout`,
    saying `what` (a callable is asked at that moment, e.g. for a log's tail). `check` may raise to
    give up at once (a process that exited)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout}s: {_say(what, check)}")
        time.sleep(interval)


async def eventually(
    check: Callable[[], Any], *, timeout: float = WAIT, interval: float = 0.05, what: What = ""
) -> Any:
    """Poll `check()` (sync or async) until it returns a truthy value, and return it; TimeoutError
    after `timeout`, saying `what`."""
    bound = asyncio.timeout(timeout)
    try:
        async with bound:
            while True:
                value = check()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(interval)
    except TimeoutError:
        if not bound.expired():
            raise
        raise TimeoutError(f"not within {timeout}s: {_say(what, check)}") from None
