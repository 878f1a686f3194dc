"""Concurrent increments of one rate-limit counter in this process, sent to NATS as one.

`shared.ratelimit` adds 1 to a counter subject for every limited request. Under load, many requests
of one account (and, from a busy user, of one user) reach the limiter in the same turn of the event
loop; each was a JetStream publish of its own, with its own reply inbox, acknowledgement and socket
write. `CoalescedIncrements.add(subject)` queues one increment and returns a future; when the turn
ends, each subject's `k` queued increments go out as one `Nats-Incr: k`, and the acknowledgement's
new total `T` gives the i-th of them (in the order they were queued, from 1) the count `T − k + i`.
That is the count it would have had if the `k` had been sent one after another with nothing in
between, so each request is admitted or refused by its own count exactly as with `k` separate
increments, whatever other replicas add at the same time: the server applies the `k` at once.

A failed publish (timeout, disconnection, missing stream) fails every queued increment with the
same exception, and each request fails open as it did alone. Give-backs (`step=-1`) are coalesced
the same way; their totals are not used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Send = Callable[[str, int], Awaitable[int]]


class CoalescedIncrements:
    """Queues increments by subject and sends each subject's as one publish at the end of the turn."""

    def __init__(self, send: Send, *, step: int = 1) -> None:
        self._send = send  # (subject, by) → the subject's new total
        self._step = step
        self._queued: dict[str, list[asyncio.Future[int]]] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def add(self, subject: str) -> asyncio.Future[int]:
        """One increment of `subject` by `step`; the future is its own count (or the send's error)."""
        loop = asyncio.get_running_loop()
        if not self._queued:
            loop.call_soon(self._flush)  # after every callback already due in this turn
        future: asyncio.Future[int] = loop.create_future()
        self._queued.setdefault(subject, []).append(future)
        return future

    def _flush(self) -> None:
        queued, self._queued = self._queued, {}
        for subject, futures in queued.items():
            task = asyncio.ensure_future(self._send_queued(subject, futures))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send_queued(self, subject: str, futures: list[asyncio.Future[int]]) -> None:
        by = self._step * len(futures)
        try:
            total = await self._send(subject, by)
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 — handed to every caller, who fails open (or ignores it)
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            return
        count = total - by
        for future in futures:
            count += self._step
            if not future.done():  # its request may have gone (client disconnected)
                future.set_result(count)
