"""Wake-ups when a PostgreSQL event store commits, instead of fixed polling: one LISTEN loop.

eventsourcing's PostgreSQL recorder sends `NOTIFY <channel>` inside every transaction that stores
events, so PostgreSQL delivers it on commit, to every listening connection, whichever replica wrote.
`PgListener` listens on one async connection and calls each subscriber per notification; what woke up
then reads the log from its own position, so a lost or duplicated notification costs nothing but a
later or an extra read. After every (re)connection it wakes everyone once, for what was committed
while it was not listening. The channel is named after the events table (`recorder.channel_name`),
not the schema: stores in other schemas of the same database only cause spurious wake-ups. SQLite has
no such mechanism: whoever follows it keeps polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import psycopg
from psycopg import sql

from shared.logging import get_logger

log = get_logger(__name__)


def channel_of(recorder: object) -> str | None:
    """The NOTIFY channel of an eventsourcing recorder (None for one that sends none: SQLite)."""
    channel = getattr(recorder, "channel_name", None)
    return channel if isinstance(channel, str) else None


class PgListener:
    """LISTENs on `channel` of the database at `dsn`; `run()` until cancelled or `stop` is set."""

    def __init__(self, *, dsn: str, channel: str, retry_max: float = 5.0) -> None:
        self._dsn = dsn
        self._channel = channel
        self._retry_max = retry_max
        self._subscribers: list[Callable[[], None]] = []
        self.listening = False

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` (in the event loop's thread) on every notification from now on."""
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(callback)

    def _notify(self) -> None:
        for callback in list(self._subscribers):
            callback()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        if stop is None:
            await self._listen()
            return
        listening = asyncio.create_task(self._listen(), name=f"pglisten-{self._channel}")
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({listening, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (listening, stopping):
                task.cancel()
            await asyncio.gather(listening, stopping, return_exceptions=True)

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, connect_timeout=10
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    self.listening, failures = True, 0
                    log.info("store_listening", channel=self._channel)
                    self._notify()  # anything committed before LISTEN took effect
                    async for _ in conn.notifies():
                        self._notify()
            except (psycopg.Error, OSError) as exc:  # PostgreSQL away for a moment: polling covers it
                failures += 1
                log.warning("store_listen_failed", channel=self._channel, error=repr(exc), attempt=failures)
            finally:
                self.listening = False
            await asyncio.sleep(min(0.2 * 2**failures, self._retry_max))
