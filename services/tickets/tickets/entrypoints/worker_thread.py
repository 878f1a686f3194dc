"""Background work on its own thread, with its own event loop and its own NATS connection.

Why (the embedded relay and projection, docs/capacity.md "Tickets"): on the API's event loop each of
their turns (a relay batch, a projector fetch, the "applied" notice) waited behind every request
handler ready at that moment, and under load that queue was the create→visible tail. On their own
loop they still share the GIL with the handlers, but the interpreter hands it over at every switch
interval (5 ms), so a worker with something to do waits milliseconds, not a loop's full turn. Their
own NATS connection keeps their messages out of the API's connection and its reader task.

Nothing else changes: the same relay (a lease, preconditions), the same projector (position committed
with the rows); `stop()` lets the current batch finish within the grace, then cancels, then drains
the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

import uvloop
from nats.aio.client import Client as NATS

from shared.logging import get_logger
from shared.nats import connect
from shared.settings import CommonSettings

log = get_logger(__name__)

Work = Callable[[NATS, asyncio.Event], Awaitable[None]]


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

    async def start(self) -> None:
        """Start the thread; return once its NATS connection is up (raise if it could not connect)."""
        ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name=self._name, daemon=True)
        self._thread.start()
        await asyncio.wrap_future(ready)

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
