"""The heartbeat side of the directory: this process's heartbeat written, every process's heard, and
what a gone process left behind swept away.

This process rewrites its key (`p.<proc>`) every `every` seconds (`beat`, `beat_if_due`). Every
heartbeat key the mirror sees, written or expired, is `heard`; when `Liveness` says an expiry is news,
or once the whole bucket is `loaded`, or when the leniency after a rebuilt bucket ends (`sweep`), the
mirror is asked to `bury` what gone processes wrote (`Directory._bury`, which walks it with
`bury_in`). Keys of buried entries, and of this process's leftovers, wait in `stale` until `reclaim`
deletes them from the bucket, each only at the revision seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from nats.js.errors import APIError
from nats.js.kv import KeyValue

from chat.adapters.liveness import PROC, Liveness

# Stale entries deleted at the same time (see `Heartbeats.reclaim`).
RECLAIM_AT_ONCE = 32
# How many of the bucket's TTLs an expiry is remembered (see `chat.adapters.liveness`).
REMEMBER_TTLS = 5


class _Owned(Protocol):
    @property
    def proc(self) -> str: ...


class _Held(Protocol):
    @property
    def value(self) -> _Owned: ...

    @property
    def revision(self) -> int: ...


H = TypeVar("H", bound=_Held)


class Heartbeats:
    def __init__(self, bury: Callable[[], None]) -> None:
        self.live = Liveness()
        self.stale: dict[str, int] = {}  # keys of gone processes' entries, with their revision
        self._bury = bury
        self._proc: str | None = None
        self._every = 10.0
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    def keep_alive(self, proc: str, *, every: float) -> None:
        self._proc = proc
        self._every = every

    def bucket_ttl(self, ttl: float | None) -> None:
        """The bucket's TTL, which sets how long an expiry is remembered."""
        if ttl:
            self.live.remember_for = REMEMBER_TTLS * ttl

    @property
    def keeping(self) -> bool:
        """Whether this process writes a heartbeat of its own."""
        return self._proc is not None

    def reset(self) -> None:
        """A new bucket: nothing heard, nothing stale, our heartbeat due at once."""
        self.live.reset(lenient_for=3 * self._every)
        self.stale.clear()
        self._at = float("-inf")

    def gone(self, record: _Owned, revision: int) -> bool:
        return self.live.gone(record.proc, revision)

    def heard(self, key: str, revision: int, *, alive: bool) -> None:
        if self.live.heard(key[len(PROC) :], revision, alive=alive):
            self._bury()  # even when a newer heartbeat is known: what it wrote before is gone

    def loaded(self) -> None:
        """The whole bucket is known: entries of processes without a heartbeat (crashed before we
        started) are gone."""
        self.live.loaded = True
        self._bury()

    def sweep(self) -> None:
        if self.live.leniency_ended():
            self._bury()

    def bury_in(self, prefix: str, mirror: dict[str, H]) -> list[tuple[str, H]]:
        """Drop from `mirror` every entry whose process is gone, noting its key as stale: the dropped."""
        dropped = [(ident, held) for ident, held in mirror.items() if self.gone(held.value, held.revision)]
        for ident, held in dropped:
            del mirror[ident]
            self.stale[prefix + ident] = held.revision
        return dropped

    async def beat(self, kv: KeyValue) -> None:
        if self._proc is None:
            return
        async with self._lock:
            key = PROC + self._proc
            revision = await kv.put(key, self._proc.encode())
            self._at = time.monotonic()
            self.heard(key, revision, alive=True)

    async def beat_if_due(self, kv: KeyValue) -> None:
        if self._proc is not None and time.monotonic() - self._at >= self._every:
            await self.beat(kv)

    async def reclaim(self, kv: KeyValue) -> None:
        """Delete the stale entries, each only at the revision seen (one written since is left alone);
        every process may do it, the first delete wins."""
        while self.stale:
            batch = [self.stale.popitem() for _ in range(min(RECLAIM_AT_ONCE, len(self.stale)))]
            results = await asyncio.gather(
                *(kv.delete(key, last=revision) for key, revision in batch), return_exceptions=True
            )
            failed = [
                (key, revision, result)
                for (key, revision), result in zip(batch, results, strict=True)
                # APIError: written since, or deleted already by another process
                if isinstance(result, BaseException) and not isinstance(result, APIError)
            ]
            if failed:  # NATS away: the next round tries again
                self.stale.update((key, revision) for key, revision, _ in failed)
                raise failed[0][2]
