"""One active instance among replicas: a lease held as a key of a JetStream KV bucket.

Any number of replicas may run a job that must run once (an outbox relay); each asks for the lease
named after what it would do (the stream it publishes to) and only the holder does it. Taking the
lease is creating its key, which the server grants to one writer only (`Nats-Expected-Last-Subject-
Sequence: 0`, as `chat.adapters.directory` takes a seat). Every write carries a per-message TTL
(`Nats-TTL`, nats-server 2.11+; the bucket allows it), so a holder that dies leaves a key that expires
by itself; the holder renews it every third of the TTL with a compare-and-set on the revision it
wrote. The others stand by and try again every second: one takes over at most a TTL (and a second)
after a crash, within a second of a clean stop, which deletes the key. A holder that cannot renew for a
whole TTL (NATS away, or another replica's key in place) stops its job and stands by again.

The lease keeps the work to one replica; it is not what makes the work correct: for the relay, the
stream's publish preconditions already make a second one harmless (two holders for a moment, after a
pause longer than the TTL, cost a refused publication, not a doubled event).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import (
    APIError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

from shared.logging import get_logger
from shared.stopping import sleep_or_stop

log = get_logger(__name__)

LEASE_BUCKET = "RELAY_LEASES"
LEASE_SECONDS = 5.0
_EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
_TRANSIENT = (NatsError, APIError, TimeoutError, OSError)
_STREAM_NAME_IN_USE = 10058  # JSStreamNameExistErr: a stream of that name with another configuration

Work = Callable[[asyncio.Event], Awaitable[None]]


def lease_bucket_name(prefix: str = "") -> str:
    """The bucket under a test prefix (`T1A2_RELAY_LEASES`), or its plain name."""
    return f"{prefix.upper().replace('.', '_')}_{LEASE_BUCKET}" if prefix else LEASE_BUCKET


def holder_id() -> str:
    """Who holds a lease: this process, recognisable in the bucket (`nats kv get`)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


async def open_lease_bucket(js: JetStreamContext, *, prefix: str = "", replicas: int = 1) -> KeyValue:
    """The lease bucket, created if missing: file storage (a holder survives a server restart), one
    revision per key, no bucket-wide age (each key carries its own TTL). Idempotent: the migration
    step creates it, and a relay that finds it missing too."""
    config = KeyValueConfig(
        bucket=lease_bucket_name(prefix),
        description="single-active-instance leases (who runs each outbox relay)",
        history=1,
        storage=StorageType.FILE,
        replicas=replicas,
        max_value_size=1024,
    )
    try:
        return await js.create_key_value(config)  # the same configuration again: a no-op
    except APIError as exc:
        if exc.err_code != _STREAM_NAME_IN_USE:
            raise
        # Created with another configuration (other replicas): the bucket is there, use it as it is.
        return await js.key_value(config.bucket)


class Lease:
    """The lease `name` in `kv`, held by `holder` for `ttl` seconds at a time."""

    def __init__(
        self,
        *,
        js: JetStreamContext,
        bucket: str,
        kv: KeyValue,
        name: str,
        ttl: float = LEASE_SECONDS,
        holder: str | None = None,
    ) -> None:
        if ttl < 1:
            raise ValueError("a lease lasts at least one second (Nats-TTL counts whole seconds)")
        self._kv = kv
        # The KV API has no TTL on a compare-and-set update: renewals are published to the key's subject.
        self._js = js
        self._subject = f"$KV.{bucket}.{name}"
        self.name = name
        self.ttl = ttl
        self.holder = holder or holder_id()
        self.held = False

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        name: str,
        *,
        prefix: str = "",
        replicas: int = 1,
        ttl: float = LEASE_SECONDS,
        holder: str | None = None,
    ) -> Lease:
        """The lease `name` in the (prefixed) lease bucket, created if missing."""
        kv = await open_lease_bucket(js, prefix=prefix, replicas=replicas)
        bucket = lease_bucket_name(prefix)
        return cls(js=js, bucket=bucket, kv=kv, name=name, ttl=ttl, holder=holder)

    async def run(self, stop: asyncio.Event, work: Work) -> None:
        """Until `stop`: stand by for the lease, run `work` while it is held (its event is set when
        `stop` is, or the lease is lost), and give the lease back when the work ends."""
        while not stop.is_set():
            revision = await self._acquire(stop)
            if revision is None:
                return
            released = asyncio.Event()
            keeper = asyncio.create_task(self._keep(revision, stop, released), name=f"lease-{self.name}")
            try:
                await work(released)
            finally:
                released.set()
                revision = await keeper
                await self._release(revision)

    async def _acquire(self, stop: asyncio.Event) -> int | None:
        """The revision of the key this holder created, or None once `stop` is set."""
        standing_by = False
        while not stop.is_set():
            try:
                revision = await self._kv.create(self.name, self.holder.encode(), msg_ttl=self.ttl)
            except KeyWrongLastSequenceError:
                if not standing_by:
                    log.info("lease_standby", lease=self.name, holder=self.holder)
                    standing_by = True
            except _TRANSIENT as exc:
                log.warning("lease_acquire_failed", lease=self.name, error=repr(exc))
            else:
                self.held = True
                log.info("lease_acquired", lease=self.name, holder=self.holder, revision=revision)
                return revision
            await sleep_or_stop(stop, min(1.0, self.ttl / 3))
        return None

    async def _keep(self, revision: int, stop: asyncio.Event, released: asyncio.Event) -> int | None:
        """Renew every third of the TTL until `released`; set it when `stop` is set or the lease is
        lost. Returns the revision still held (None if lost)."""
        renewed_at = time.monotonic()
        while not released.is_set():
            if stop.is_set():
                released.set()
                break
            waits = [asyncio.ensure_future(e.wait()) for e in (released, stop)]
            await asyncio.wait(waits, timeout=self.ttl / 3, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            if released.is_set() or stop.is_set():
                continue
            sent_at = time.monotonic()  # the key's TTL runs from its write, not from our ack
            try:
                revision = await self._renew(revision)
                renewed_at = sent_at
            except KeyWrongLastSequenceError:
                log.warning("lease_lost", lease=self.name, holder=self.holder, reason="taken")
                self.held = False
                released.set()
                return None
            except _TRANSIENT as exc:
                if time.monotonic() - renewed_at < self.ttl:
                    log.warning("lease_renew_failed", lease=self.name, error=repr(exc))
                    continue
                log.warning("lease_lost", lease=self.name, holder=self.holder, reason="expired")
                self.held = False
                released.set()
                return None
        return revision

    async def _renew(self, revision: int) -> int:
        headers = {_EXPECTED_LAST_SUBJECT_SEQUENCE: str(revision)}
        try:
            value = self.holder.encode()
            ack = await self._js.publish(self._subject, value, headers=headers, msg_ttl=self.ttl)
        except APIError as exc:
            if exc.err_code not in (10071, 10164):  # JSStreamWrongLastSequence(Constant)Err
                raise
            # An earlier renewal may have been stored though its ack was lost: still ours?
            return await self._still_ours(exc)
        return int(ack.seq)

    async def _still_ours(self, refused: APIError) -> int:
        try:
            entry = await self._kv.get(self.name)
        except (KeyNotFoundError, KeyDeletedError):
            raise KeyWrongLastSequenceError(description=refused.description) from None
        if entry.value != self.holder.encode() or entry.revision is None:
            raise KeyWrongLastSequenceError(description=refused.description)
        return await self._renew(entry.revision)

    async def _release(self, revision: int | None) -> None:
        if revision is None:
            return
        self.held = False
        try:
            await self._kv.delete(self.name, last=revision)
        except _TRANSIENT as exc:  # someone else's by now, or it expires by itself within its TTL
            log.warning("lease_release_failed", lease=self.name, error=repr(exc))
        else:
            log.info("lease_released", lease=self.name, holder=self.holder)


async def run_single(
    js: JetStreamContext,
    *,
    name: str,
    work: Work,
    stop: asyncio.Event,
    prefix: str = "",
    replicas: int = 1,
    ttl: float = LEASE_SECONDS,
) -> None:
    """Run `work` in the one replica that holds the lease `name`, until `stop`. An unexpected error
    in the work gives the lease back (another replica may do better) and, after a pause, this one
    stands by for it again."""
    backoff = 0.5
    while not stop.is_set():
        try:
            lease = await Lease.open(js, name, prefix=prefix, replicas=replicas, ttl=ttl)
            await lease.run(stop, work)
        except Exception:  # a supervisor: the work must outlive whatever broke it once
            log.exception("single_instance_failed", lease=name, retry_in=backoff)
            await sleep_or_stop(stop, backoff)
            backoff = min(backoff * 2, 10.0)
