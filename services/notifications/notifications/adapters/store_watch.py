"""Wakes the relay and the view follower when the PostgreSQL store commits, instead of fixed polling.

eventsourcing's PostgreSQL recorder sends `NOTIFY <channel>` inside every transaction that stores
events, so PostgreSQL delivers it on commit, to every listening connection, whichever replica wrote.
This listens on one async connection and calls `on_change` per notification; what woke up then reads
the log from its own position, so a lost or duplicated notification costs nothing but a later or an
extra read. After every (re)connection it wakes once, for what was committed while it was not
listening. The channel is named after the events table, not the schema: stores in other schemas of the
same database only cause spurious wake-ups. SQLite has no such mechanism: it keeps polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
from psycopg import sql

from shared.logging import get_logger

log = get_logger(__name__)


class StoreWatcher:
    def __init__(self, *, dsn: str, channel: str, on_change: Callable[[], None]) -> None:
        self._dsn = dsn
        self._channel = channel
        self._on_change = on_change
        self.listening = False

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, connect_timeout=10
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    self.listening, failures = True, 0
                    log.info("store_listening", channel=self._channel)
                    self._on_change()
                    async for _ in conn.notifies():
                        self._on_change()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL away for a moment: polling covers it meanwhile
                failures += 1
                log.warning("store_listen_failed", error=repr(exc), attempt=failures)
            finally:
                self.listening = False
            await asyncio.sleep(min(0.2 * 2**failures, 5.0))
