"""Keeps this process's directory entries alive, spread over time instead of in bursts.

Every entry of the bucket expires unless its process rewrites it (a crashed process's do). Rewriting
thousands of sessions' entries at once every `refresh_every` made a burst of writes, each echoed to
and decoded by every chat process: a burst every few seconds is what a p99 is made of. Here, every
`tick` a slice of the entries is rewritten, those whose last rewrite is oldest: as many as make the
whole population once per `refresh_every`, and at least every one that is due (last rewritten
`refresh_every` ago or more), so that a slice that fell behind (a slow directory, a loop held up)
catches up at once rather than let entries expire. An entry whose rewrite failed keeps its place at
the head and is tried again next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from chat.application.context import Clock
from shared.logging import get_logger

log = get_logger(__name__)

# Entries rewritten at the same time: some at a time, not one after the other (a slice that caught
# up may hold thousands, whose round trips in a row would take longer than the TTL).
REFRESH_AT_ONCE = 32


@dataclass(frozen=True, slots=True)
class RefreshSource:
    """One kind of entry: the keys this process holds now, and how to rewrite one of them (a key
    gone meanwhile is no error: nothing to rewrite)."""

    keys: Callable[[], Collection[str]]
    rewrite: Callable[[str], Awaitable[None]]


class Refresher:
    def __init__(
        self,
        *,
        clock: Clock,
        every: float,
        tick: float,
        sources: Sequence[RefreshSource],
        at_once: int = REFRESH_AT_ONCE,
    ) -> None:
        self._clock = clock
        self._every = every
        self._tick = tick
        self._sources = tuple(sources)
        self._at_once = at_once
        # (source, key) -> when it was last rewritten (or first seen), oldest first: a rewritten or
        # new key goes to the end with the time of its pass, which never goes back.
        self._last: dict[tuple[int, str], float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chat-refresher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def last_refreshed(self) -> dict[tuple[int, str], float]:
        """When each key held now was last rewritten (or first seen), oldest first."""
        views = [source.keys() for source in self._sources]
        return {item: at for item, at in self._last.items() if item[1] in views[item[0]]}

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.refresh_slice()
            except asyncio.CancelledError:
                raise
            except Exception:  # the entries keep their age: the next tick takes them first
                log.exception("chat_refresh_failed")
            # A slice that took longer than a tick is followed at once by the next one.
            await asyncio.sleep(max(0.0, self._tick - (loop.time() - started)))

    async def refresh_slice(self) -> int:
        """Rewrite this tick's slice; how many were rewritten."""
        now = self._clock()
        chosen = self._choose(now)
        done = 0
        failed: list[BaseException] = []
        for at in range(0, len(chosen), self._at_once):
            batch = chosen[at : at + self._at_once]
            results = await asyncio.gather(
                *(self._sources[i].rewrite(key) for i, key in batch), return_exceptions=True
            )
            for item, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    failed.append(result)
                    continue
                # To the end, as of the pass's start: the write itself came later, the entry is younger.
                self._last.pop(item, None)
                self._last[item] = now
                done += 1
        if failed:
            error = failed[0]
            log.warning(
                "chat_refresh_incomplete",
                failed=len(failed),
                refreshed=done,
                exc_info=(type(error), error, error.__traceback__),
            )
        return done

    def _choose(self, now: float) -> list[tuple[int, str]]:
        """The oldest keys: a share of the population sized to make it once per `every`, and every
        key due, however many."""
        last = self._last
        views = [source.keys() for source in self._sources]
        population = 0
        for i, view in enumerate(views):
            population += len(view)
            for key in view:
                if (i, key) not in last:
                    last[(i, key)] = now  # written when it was created, moments ago
        share = math.ceil(population * self._tick / self._every)
        due_by = now - self._every
        chosen: list[tuple[int, str]] = []
        gone: list[tuple[int, str]] = []
        for item, at in last.items():
            if len(chosen) >= share and at > due_by:
                break
            if item[1] in views[item[0]]:
                chosen.append(item)
            else:
                gone.append(item)
        for item in gone:
            del last[item]
        return chosen
