"""Background work on its own thread, with its own event loop and its own NATS connection.

Why (the embedded relay and projection, docs/capacity.md "Tickets"): on the API's event loop each of
their turns (a relay batch, a projector fetch, the "applied" notice) waited behind every request
handler ready at that moment, and under load that queue was the create→visible tail. Their own NATS
connection keeps their messages out of the API's connection and its reader task.

On their own loop they still share the GIL with the request handlers and the command batcher's
thread: each time the worker's thread wants it back (a socket woke it, a SQLite call returned) while
one of those runs Python, it waits until the holder is asked to let go — after the switch interval.
CPython's default, 5 ms, was paid several times on every event's way (woken after the save, the
store read, the acks, the fetch, each SQLite statement of the view's transaction, the notice): most
of the create→visible tail at half load. While a worker thread runs, the interval is
`SWITCH_INTERVAL` (0.5 ms), restored after; only threads that compete for the GIL switch more often.
The relay and the projector also call their stores on this thread (`store_on_loop`), not on a pool
thread and back.

Nothing else changes: the same relay (a lease, preconditions), the same projector (position committed
with the rows); `stop()` lets the current batch finish within the grace, then cancels, then drains
the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

import uvloop
from nats.aio.client import Client as NATS

from shared.logging import get_logger
from shared.nats import connect
from shared.processwide import ProcessWide, Undo
from shared.settings import CommonSettings

log = get_logger(__name__)

Work = Callable[[NATS, asyncio.Event], Awaitable[None]]

# How long a thread waiting for the GIL lets the running one keep it (CPython's default: 5 ms).
SWITCH_INTERVAL = 0.0005


def _switch_sooner() -> Undo:
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(SWITCH_INTERVAL, before))
    return lambda: sys.setswitchinterval(before)


# Held while any worker thread runs (several may, ending in any order), as it was after the last.
SWITCHING_SOONER = ProcessWide(_switch_sooner)


class WorkerThread:
    """Runs `work(nc, stop)` on a thread of its own until `stop()`."""

    def __init__(self, common: CommonSettings, work: Work, *, name: str) -> None:
        self._common = common
        self._work = work
        self._name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._switching = False  # holds SWITCHING_SOONER, from `start()` to `stop()`

    async def start(self) -> None:
        """Start the thread; return once its NATS connection is up (raise if it could not connect)."""
        SWITCHING_SOONER.acquire()
        self._switching = True
        ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name=self._name, daemon=True)
        self._thread.start()
        try:
            await asyncio.wrap_future(ready)
        except BaseException:
            self._restore_switch_interval()
            raise

    def _restore_switch_interval(self) -> None:
        if self._switching:
            self._switching = False
            SWITCHING_SOONER.release()

    def _run(self, ready: Future[None]) -> None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self._main(ready))

    async def _main(self, ready: Future[None]) -> None:
        try:
            nc = await connect(self._common, name=self._name)
        except BaseException as exc:
            ready.set_exception(exc)
            raise
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(_as_coroutine(self._work(nc, self._stop)), name=self._name)
        ready.set_result(None)
        try:
            await self._task
        except asyncio.CancelledError:
            log.warning("worker_thread_cancelled", worker=self._name)
        finally:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(nc.drain(), 5.0)

    async def stop(self, *, grace: float = 10.0) -> None:
        """Let the work finish its current batch (at most `grace` s, then cancel it) and join."""
        try:
            await self._end(grace)
        finally:
            self._restore_switch_interval()

    async def _end(self, grace: float) -> None:
        thread, loop, stop, task = self._thread, self._loop, self._stop, self._task
        if thread is None or loop is None or stop is None or task is None:
            return
        with contextlib.suppress(RuntimeError):  # its loop already ended
            loop.call_soon_threadsafe(stop.set)
        await asyncio.to_thread(thread.join, grace)
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
            await asyncio.to_thread(thread.join, 10.0)


async def _as_coroutine(awaitable: Awaitable[None]) -> None:
    await awaitable


def on_loop(loop: asyncio.AbstractEventLoop, call: Callable[..., Any]) -> Callable[..., None]:
    """`call(*args)` scheduled on `loop` (thread-safe; dropped once that loop is closed)."""

    def scheduled(*args: Any) -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(call, *args)

    return scheduled
