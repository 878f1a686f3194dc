"""Read-your-writes: wait, briefly and boundedly, for the history view to reach a ticket's version.

With the projector in this process, it reports the versions each committed batch reached and the
waiting requests are released at once, without reading the database again (a herd of requests each
polling after every batch would cost more than the writes). With the projector elsewhere, a waiting
request re-reads the view every `poll_interval`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping


class ViewWaiter:
    """Releases reads waiting for (ticket, version) when a projector in this process applies it."""

    def __init__(self, *, poll_interval: float = 0.02) -> None:
        self._poll_interval = poll_interval
        self._waiting: dict[str, list[tuple[int, asyncio.Future[None]]]] = {}

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

        `check()` reads the view: once at the start, then only after each `poll_interval` without
        news from an in-process projector.
        """
        deadline = time.monotonic() + within
        while True:
            if await check():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (min_version, future)
            self._waiting.setdefault(ticket_id, []).append(entry)
            try:
                await asyncio.wait_for(asyncio.shield(future), min(self._poll_interval, remaining))
                return True
            except TimeoutError:
                pass
            finally:
                waiting = self._waiting.get(ticket_id)
                if waiting and entry in waiting:
                    waiting.remove(entry)
                    if not waiting:
                        del self._waiting[ticket_id]
                with contextlib.suppress(asyncio.InvalidStateError):
                    future.cancel()
