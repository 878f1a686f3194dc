"""The one bounded wait of the suites: poll a check until it holds, fail after a timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

WAIT = 10.0  # seconds, unless a suite says otherwise


def wait_until(check: Callable[[], T], *, timeout: float = WAIT, interval: float = 0.05, what: str = "") -> T:
    """Call `check()` until it returns a truthy value, and return it; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout}s: {what or check}")
        time.sleep(interval)


async def eventually(check: Callable[[], Any], *, timeout: float = WAIT, interval: float = 0.05) -> Any:
    """Poll `check()` (sync or async) until it returns a truthy value; TimeoutError after `timeout`."""
    async with asyncio.timeout(timeout):
        while True:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(interval)
