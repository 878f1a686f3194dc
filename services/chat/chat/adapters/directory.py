"""The queue and presence directory: a memory-storage JetStream KV bucket, mirrored in every process.

Each process watches the whole bucket and keeps a local mirror (`queue`, `agents`) with each key's
revision, so matching and queue positions are computed without a round trip; every change is then a
compare-and-set on that revision (`update(..., last=revision)`), which is what keeps a user from being
given to two specialists and a specialist from going over capacity when processes race.

Entries expire (bucket `ttl`) unless their process refreshes them; the bucket places a delete marker
when one expires (`limit_marker_ttl`, nats-server 2.11+), so every mirror learns of a crashed process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from chat.domain.model import AgentPresence, QueueEntry
from shared.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")
QUEUE = "q."
AGENT = "a."
_DELETES = frozenset({"DEL", "PURGE"})


@dataclass(frozen=True, slots=True)
class Versioned(Generic[T]):
    value: T
    revision: int


@dataclass(frozen=True, slots=True)
class Change:
    """One key changed: `old`/`new` are None when the key was absent/deleted."""

    key: str
    old: QueueEntry | AgentPresence | None
    new: QueueEntry | AgentPresence | None


def bucket_name(prefix: str, bucket: str) -> str:
    return f"{prefix.upper()}_{bucket}" if prefix else bucket


async def ensure_bucket(nc: NATS, *, name: str, ttl_seconds: float, replicas: int = 1) -> KeyValue:
    """Create the bucket if missing: MEMORY storage (nothing on disk), one revision per key, TTL."""
    js = nc.jetstream()
    with contextlib.suppress(BucketNotFoundError):
        return await js.key_value(name)
    return await js.create_key_value(
        KeyValueConfig(
            bucket=name,
            description="chat presence and queue (ids and states only; no content)",
            history=1,
            ttl=ttl_seconds,
            storage=StorageType.MEMORY,
            replicas=replicas,
            max_value_size=16 * 1024,
            limit_marker_ttl=max(1.0, ttl_seconds),
        )
    )


class Directory:
    """The local mirror of the bucket plus compare-and-set writes that keep it up to date."""

    def __init__(self, kv: KeyValue, *, reopen: Callable[[], Awaitable[KeyValue]] | None = None) -> None:
        self._kv = kv
        self._reopen = reopen
        self.queue: dict[str, Versioned[QueueEntry]] = {}
        self.agents: dict[str, Versioned[AgentPresence]] = {}
        self._revisions: dict[str, int] = {}
        self._listeners: list[Callable[[Change], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._watcher: KeyValue.KeyWatcher | None = None
        self._created: object = None  # the bucket's creation time: another value means a new bucket

    def subscribe(self, listener: Callable[[Change], None]) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        """Load the current state, then follow changes in the background."""
        self._created = (await self._kv.status()).stream_info.created
        self._watcher = watcher = await self._kv.watchall()
        while True:
            entry = await watcher.updates(timeout=10.0)  # type: ignore[no-untyped-call]
            if entry is None:  # the end of the initial state
                break
            self._apply_entry(entry)
        self._task = asyncio.create_task(self._follow(watcher), name="chat-directory")

    async def healthy(self) -> bool:
        """False when the bucket we follow is gone (memory storage: a lone nats-server restarted),
        including when another process has already created a new one in its place."""
        try:
            status = await self._kv.status()
        except NotFoundError:
            return False
        return status.stream_info.created == self._created

    async def reopen(self) -> None:
        """Create the lost bucket again and follow it from an empty state; each process then writes
        back its own entries (see `ChatHub.recover`)."""
        if self._reopen is None:
            raise RuntimeError("this directory cannot reopen its bucket")
        await self.stop()
        self._kv = await self._reopen()
        self.queue.clear()
        self.agents.clear()
        self._revisions.clear()
        await self.start()

    async def stop(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()  # type: ignore[no-untyped-call]
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is not None:
                self._apply_entry(entry)

    def _apply_entry(self, entry: KeyValue.Entry) -> None:
        revision = entry.revision or 0
        if entry.operation in _DELETES or not entry.value:
            self._apply(entry.key, None, revision)
        elif entry.key.startswith(QUEUE):
            self._apply(entry.key, QueueEntry.decode(entry.value), revision)
        elif entry.key.startswith(AGENT):
            self._apply(entry.key, AgentPresence.decode(entry.value), revision)

    def _apply(self, key: str, value: QueueEntry | AgentPresence | None, revision: int) -> None:
        if revision <= self._revisions.get(key, 0):
            return  # already applied (our own write) or older than what we know
        self._revisions[key] = revision
        old: Versioned[QueueEntry] | Versioned[AgentPresence] | None
        if key.startswith(QUEUE):
            ident = key[len(QUEUE) :]
            old = self.queue.pop(ident, None)
            if isinstance(value, QueueEntry):
                self.queue[ident] = Versioned(value, revision)
        else:
            ident = key[len(AGENT) :]
            old = self.agents.pop(ident, None)
            if isinstance(value, AgentPresence):
                self.agents[ident] = Versioned(value, revision)
        if value is None and len(self._revisions) > 1000 + 4 * (len(self.queue) + len(self.agents)):
            self._forget_old_deletions()
        change = Change(key=key, old=old.value if old else None, new=value)
        for listener in self._listeners:
            listener(change)

    def _forget_old_deletions(self) -> None:
        """Revisions of deleted keys are kept only to ignore late echoes; do not keep them forever."""
        live = {QUEUE + k for k in self.queue} | {AGENT + k for k in self.agents}
        self._revisions = {k: r for k, r in self._revisions.items() if k in live}

    async def _cas(self, key: str, value: QueueEntry | AgentPresence, revision: int) -> int | None:
        """Write `value` if the key is still at `revision` (0: absent); its new revision, or None."""
        try:
            if revision:
                new_revision = await self._kv.update(key, value.encode(), last=revision)
            else:
                new_revision = await self._kv.create(key, value.encode())
        except KeyWrongLastSequenceError:
            return None
        self._apply(key, value, new_revision)
        return new_revision

    async def put_queue(self, entry: QueueEntry, *, revision: int) -> int | None:
        return await self._cas(QUEUE + entry.sid, entry, revision)

    async def put_agent(self, presence: AgentPresence, *, revision: int) -> int | None:
        return await self._cas(AGENT + presence.akey, presence, revision)

    async def delete_queue(self, sid: str) -> None:
        await self._kv.delete(QUEUE + sid)

    async def delete_agent(self, akey: str) -> None:
        await self._kv.delete(AGENT + akey)

    async def fetch_agent(self, akey: str) -> Versioned[AgentPresence] | None:
        """The agent's entry as the server has it now (not the mirror), or None."""
        entry = await self._fetch(AGENT + akey)
        if entry is None or entry.value is None or entry.revision is None:
            return None
        presence = AgentPresence.decode(entry.value)
        self._apply(entry.key, presence, entry.revision)
        return Versioned(presence, entry.revision)

    async def fetch_queue(self, sid: str) -> Versioned[QueueEntry] | None:
        """The session's queue entry as the server has it now (not the mirror), or None."""
        entry = await self._fetch(QUEUE + sid)
        if entry is None or entry.value is None or entry.revision is None:
            return None
        queued = QueueEntry.decode(entry.value)
        self._apply(entry.key, queued, entry.revision)
        return Versioned(queued, entry.revision)

    async def _fetch(self, key: str) -> KeyValue.Entry | None:
        try:
            return await self._kv.get(key)
        except NotFoundError:  # KeyNotFoundError and KeyDeletedError both mean "absent"
            return None
