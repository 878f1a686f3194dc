"""Read-your-writes: wait, briefly and boundedly, for the history view to reach a ticket's version.

A projector in this process (or its notices over NATS, `notices.py`) reports the versions each
committed batch reached, and the waiting reads are released at once, without reading the view again.
The wait is registered *before* the view is read, so a batch committed between that read and the wait
still releases it (no lost wake-up). Re-reading the view is only a safety net for a lost notice: the
interval starts at `poll_interval` and doubles up to `max_poll_interval`.

Why not a tight poll: at half load ~64 reads are waiting at any time; re-reading the view every 20 ms
each was thousands of queries a second, which filled the default thread pool that the relay and the
projector also needed — they queued behind the polls, the lag grew, more reads waited: create→visible
p50 went from ~5 ms unloaded to ~250 ms at half load.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping


class ViewWaiter:
    """Releases reads waiting for (ticket, version) when a projector reports having applied it."""

    def __init__(self, *, poll_interval: float = 0.1, max_poll_interval: float = 0.5) -> None:
        self._poll_interval = poll_interval
        self._max_poll_interval = max(poll_interval, max_poll_interval)
        self._waiting: dict[str, list[tuple[int, asyncio.Future[None]]]] = {}

    def waits_for_any(self, ticket_ids: Iterable[str]) -> bool:
        """Whether a read waits for one of `ticket_ids` (callable from any thread).

        A projector on another thread asks this after its batch committed, and hands the batch over
        to the requests' loop only when it is true (each hand-over wakes that loop): a read that
        registers after this answered false reads the view after the commit and finds its version.
        """
        waiting = self._waiting
        return any(ticket_id in waiting for ticket_id in ticket_ids)

    def applied(self, _position: int, versions: Mapping[str, int]) -> None:
        """A batch was committed (call on the event loop that serves the requests)."""
        for ticket_id, version in versions.items():
            waiting = self._waiting.get(ticket_id)
            if not waiting:
                continue
            still = []
            for wanted, future in waiting:
                if version >= wanted:
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((wanted, future))
            if still:
                self._waiting[ticket_id] = still
            else:
                del self._waiting[ticket_id]

    async def wait_for(
        self, ticket_id: str, min_version: int, check: Callable[[], Awaitable[bool]], *, within: float
    ) -> bool:
        """True as soon as the view holds `ticket_id` at `min_version` or later; False after `within` s.

        `check()` reads the view: once at the start, then only when no news came for a poll interval.
        """
        deadline = time.monotonic() + within
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (min_version, future)
        self._waiting.setdefault(ticket_id, []).append(entry)
        interval = self._poll_interval
        try:
            while True:
                if future.done() or await check():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(asyncio.shield(future), min(interval, remaining))
                    return True
                except TimeoutError:
                    interval = min(interval * 2, self._max_poll_interval)
        finally:
            waiting = self._waiting.get(ticket_id)
            if waiting and entry in waiting:
                waiting.remove(entry)
                if not waiting:
                    del self._waiting[ticket_id]
            with contextlib.suppress(asyncio.InvalidStateError):
                future.cancel()
