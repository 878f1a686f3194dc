"""The queue and presence directory: a memory-storage JetStream KV bucket, mirrored in every process.

Each process watches the whole bucket and keeps a local mirror (`queue`, `agents`) with each key's
revision, so matching and queue positions are computed without a round trip; every change is then a
compare-and-set on that revision (`update(..., last=revision)`), which is what keeps a user from being
given to two specialists and a specialist from going over capacity when processes race.

Seats (`s.<owner>.<n>`, see `chat.domain.model.Seat`) cap the chats one user and one account have
open: a chat takes a seat by creating a key that does not exist yet, which the server grants to one
writer only, so the cap holds however many processes open chats at the same moment.

Liveness is one heartbeat key per process (`p.<proc>`, see `chat.adapters.liveness`; writing,
hearing and sweeping in `chat.adapters.heartbeats`), rewritten every TTL/3 and expiring with the
bucket's `ttl`; the bucket places a marker when it expires
(`limit_marker_ttl`, nats-server 2.11+), so every mirror learns of a crashed process. The entries
carry their process (`proc`) and are written never to expire (`Nats-TTL: never`): nothing rewrites
them on a timer. An entry of a gone process is dropped from every mirror exactly as an expired entry
was, and `reclaim` deletes it from the bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from nats.aio.client import Client as NATS
from nats.js.api import Header, KeyValueConfig, StorageType
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from chat.adapters.heartbeats import Heartbeats
from chat.adapters.liveness import PROC, beating
from chat.domain.model import AgentPresence, QueueEntry, Seat
from shared.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T", covariant=True)  # Versioned is frozen: a Versioned[Seat] is a Versioned[Record]
Record = QueueEntry | AgentPresence | Seat
QUEUE = "q."
AGENT = "a."
SEAT = "s."
R = TypeVar("R", QueueEntry, AgentPresence)
M = TypeVar("M", QueueEntry, AgentPresence, Seat)
_DELETES = frozenset({"DEL", "PURGE"})
# JetStream's "wrong last sequence" answers to a compare-and-set.
_WRONG_LAST = (10071, 10164)


@dataclass(frozen=True, slots=True)
class Versioned(Generic[T]):
    value: T
    revision: int


@dataclass(frozen=True, slots=True)
class Change:
    """One key changed: `old`/`new` are None when the key was absent/deleted."""

    key: str
    old: Record | None
    new: Record | None


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
        self.seats: dict[str, Versioned[Seat]] = {}  # by `<owner>.<n>`
        self._revisions: dict[str, int] = {}
        self._listeners: list[Callable[[Change], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._watcher: KeyValue.KeyWatcher | None = None
        self._created: object = None  # the bucket's creation time: another value means a new bucket
        self._beats = Heartbeats(self._bury)

    def keep_alive(self, proc: str, *, every: float) -> None:
        """Write `proc`'s heartbeat on `start` and whenever it is `every` seconds old (`beat_if_due`)."""
        self._beats.keep_alive(proc, every=every)

    def subscribe(self, listener: Callable[[Change], None]) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        """Load the current state, then follow changes in the background."""
        status = await self._kv.status()
        self._created = status.stream_info.created
        self._beats.bucket_ttl(status.ttl)
        if self._beats.keeping:
            await self.beat()  # before any entry of ours, in every mirror's order
        self._watcher = watcher = await self._kv.watchall()
        while True:
            entry = await watcher.updates(timeout=10.0)  # type: ignore[no-untyped-call]
            if entry is None:  # the end of the initial state
                break
            self._apply_entry(entry)
        self._beats.loaded()
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
        self.seats.clear()
        self._revisions.clear()
        self._beats.reset()
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
        if entry.key.startswith(PROC):
            self._beats.heard(
                entry.key, revision, alive=entry.operation not in _DELETES and bool(entry.value)
            )
            return
        if revision <= self._revisions.get(entry.key, 0):
            return  # the echo of our own write (or older than what we know): not even decoded
        if entry.operation in _DELETES or not entry.value:
            self._apply(entry.key, None, revision)
        elif entry.key.startswith(QUEUE):
            self._apply(entry.key, QueueEntry.decode(entry.value), revision)
        elif entry.key.startswith(AGENT):
            self._apply(entry.key, AgentPresence.decode(entry.value), revision)
        elif entry.key.startswith(SEAT):
            self._apply(entry.key, Seat.decode(entry.value), revision)

    def _apply(self, key: str, value: Record | None, revision: int) -> None:
        if revision <= self._revisions.get(key, 0):
            return  # already applied (our own write) or older than what we know
        if value is not None and self._beats.gone(value, revision):
            self.stale[key] = revision
            value = None
        old: Versioned[Record] | None
        ident = key[2:]
        if key.startswith(QUEUE):
            old = self.queue.pop(ident, None)
            if isinstance(value, QueueEntry):
                self.queue[ident] = Versioned(value, revision)
        elif key.startswith(AGENT):
            old = self.agents.pop(ident, None)
            if isinstance(value, AgentPresence):
                self.agents[ident] = Versioned(value, revision)
        elif key.startswith(SEAT):
            old = self.seats.pop(ident, None)
            if isinstance(value, Seat):
                self.seats[ident] = Versioned(value, revision)
        else:
            return  # a key a newer version writes: not ours to follow
        self._revisions[key] = revision
        live = len(self.queue) + len(self.agents) + len(self.seats)
        if value is None and len(self._revisions) > 1000 + 4 * live:
            self._forget_old_deletions()
        if old is not None and old.value == value:
            return  # rewritten as it was (a TTL refresh): nothing changed for the listeners
        self._notify(Change(key=key, old=old.value if old else None, new=value))

    def _notify(self, change: Change) -> None:
        for listener in self._listeners:
            listener(change)

    # -- liveness: one heartbeat key per process (see `chat.adapters.heartbeats`) -------------------

    @property
    def procs(self) -> dict[str, int]:
        """The processes whose heartbeat is live."""
        return self._beats.live.procs

    @property
    def stale(self) -> dict[str, int]:
        """Keys of entries to delete from the bucket (gone processes', our leftovers), by revision."""
        return self._beats.stale

    def sweep(self) -> None:
        """Once the leniency after a rebuilt bucket has passed, drop the entries that came in meanwhile
        from processes without a heartbeat. Otherwise nothing: every entry is judged as it arrives,
        and the mirror is walked only when a heartbeat expires."""
        self._beats.sweep()

    def _bury(self) -> None:
        """Drop from the mirror every entry whose process is gone, as if it had expired."""
        self._bury_in(QUEUE, self.queue)
        self._bury_in(AGENT, self.agents)
        self._bury_in(SEAT, self.seats)

    def _bury_in(self, prefix: str, mirror: dict[str, Versioned[M]]) -> None:
        for ident, held in self._beats.bury_in(prefix, mirror):
            self._notify(Change(key=prefix + ident, old=held.value, new=None))

    async def beat(self) -> None:
        """Rewrite this process's heartbeat (it expires with the bucket's TTL)."""
        await self._beats.beat(self._kv)

    async def beat_if_due(self) -> None:
        """Beat when the last one is `every` seconds old; also before any write after a pause, so
        that every mirror sees the heartbeat before the entries written after it."""
        await self._beats.beat_if_due(self._kv)

    async def reclaim(self) -> None:
        """Delete the entries of gone processes (`stale`) from the bucket."""
        await self._beats.reclaim(self._kv)

    def _forget_old_deletions(self) -> None:
        """Revisions of deleted keys are kept only to ignore late echoes; do not keep them forever."""
        live = {QUEUE + k for k in self.queue} | {AGENT + k for k in self.agents}
        live |= {SEAT + k for k in self.seats}
        self._revisions = {k: r for k, r in self._revisions.items() if k in live}

    async def _cas(self, key: str, value: Record, revision: int) -> int | None:
        """Write `value` if the key is still at `revision` (0: absent); its new revision, or None."""
        await self.beat_if_due()
        try:
            new_revision = await self._write(key, value, revision)
        except KeyWrongLastSequenceError:
            return None
        except KeyNotFoundError:
            # Creating over a delete marker reads the marker's revision first; a marker that expired
            # in between is a changed key like any other: the caller reads the mirror and tries again.
            return None
        if new_revision is None:
            return None
        self._apply(key, value, new_revision)
        return new_revision

    async def _write(self, key: str, value: Record, revision: int) -> int | None:
        data = value.encode()
        if not beating(value.proc):  # its process rewrites it before the bucket's TTL
            if revision:
                return await self._kv.update(key, data, last=revision)
            return await self._kv.create(key, data)
        new_revision = await self._publish(key, data, revision)
        if new_revision is None and not revision:
            # Over a delete marker, a create is an update on the marker's revision (as `create` does).
            try:
                await self._kv.get(key)
            except KeyNotFoundError as err:
                if err.entry is not None and err.entry.revision:
                    return await self._publish(key, data, err.entry.revision)
        return new_revision

    async def _publish(self, key: str, data: bytes, last: int) -> int | None:
        """A compare-and-set that never expires (`Nats-TTL: never`; `KeyValue.update` sets no TTL):
        the entry lives as long as its process's heartbeat. None when the key is not at `last`."""
        headers = {Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value: str(last), Header.MSG_TTL.value: "never"}
        try:
            ack = await self._kv._js.publish(self._kv._pre + key, data, headers=headers)
        except APIError as err:
            if err.err_code in _WRONG_LAST:
                return None
            raise
        return int(ack.seq)

    async def put_queue(self, entry: QueueEntry, *, revision: int) -> int | None:
        return await self._cas(QUEUE + entry.sid, entry, revision)

    async def put_agent(self, presence: AgentPresence, *, revision: int) -> int | None:
        return await self._cas(AGENT + presence.akey, presence, revision)

    async def delete_queue(self, sid: str) -> None:
        await self._kv.delete(QUEUE + sid)

    def seats_held(self, owner: str) -> int:
        """How many seats of `owner` the mirror knows to be taken (by any process)."""
        prefix = owner + "."
        return sum(1 for key in self.seats if key.startswith(prefix))

    async def claim_seat(self, owner: str, *, limit: int, seat: Seat) -> str | None:
        """Take one of `owner`'s `limit` seats for `seat.sid`: its key, or None when all are taken.
        Seats the mirror shows taken are not tried; of the others, the server grants each to one
        creator only, so two processes racing for the last seat cannot both get it."""
        for n in range(limit):
            ident = f"{owner}.{n}"
            if ident in self.seats:
                continue
            if await self.put_seat(ident, seat):
                return ident
        return None

    async def put_seat(self, ident: str, seat: Seat) -> bool:
        """Take seat `ident` for `seat.sid` if it is free (also how a session writes its seats back
        into a bucket that was lost): False when another chat holds it."""
        if await self._cas(SEAT + ident, seat, 0) is not None:
            return True
        # A seat that expired with its process leaves a marker for a while (`limit_marker_ttl`):
        # free, yet not creatable. Replace the marker, only it, by its revision.
        # A seat of a gone process not yet reclaimed is free as well.
        found = await self._fetch(SEAT + ident)
        if found is None or not found.revision:
            return False
        if found.value and not self._beats.gone(Seat.decode(found.value), found.revision):
            return False
        return await self._cas(SEAT + ident, seat, found.revision) is not None

    async def release_seat(self, ident: str) -> None:
        await self._kv.delete(SEAT + ident)

    async def delete_agent(self, akey: str) -> None:
        await self._kv.delete(AGENT + akey)

    async def fetch_agent(self, akey: str) -> Versioned[AgentPresence] | None:
        """The agent's entry as the server has it now (not the mirror), or None."""
        return await self._fetch_record(AGENT + akey, AgentPresence.decode)

    async def fetch_queue(self, sid: str) -> Versioned[QueueEntry] | None:
        """The session's queue entry as the server has it now (not the mirror), or None."""
        return await self._fetch_record(QUEUE + sid, QueueEntry.decode)

    async def _fetch_record(self, key: str, decode: Callable[[bytes], R]) -> Versioned[R] | None:
        """A key's record as the server has it now, also applied to the mirror; None when absent."""
        entry = await self._fetch(key)
        if entry is None or entry.value is None or entry.revision is None:
            return None
        record = decode(entry.value)
        self._apply(entry.key, record, entry.revision)
        if self._beats.gone(record, entry.revision):
            return None  # its process is gone (not reclaimed yet): as if it had expired
        return Versioned(record, entry.revision)

    async def _fetch(self, key: str) -> KeyValue.Entry | None:
        try:
            return await self._kv.get(key)
        except NotFoundError:  # KeyNotFoundError and KeyDeletedError both mean "absent"
            return None
