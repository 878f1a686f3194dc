"""Rate limits shared by every replica: counters and open-stream slots kept in NATS JetStream.

Why JetStream counters (ADR-49, nats-server 2.12+) rather than KV compare-and-set: a publish with
`Nats-Incr: 1` to a counter stream adds to the subject's value on the server and the acknowledgement
carries the new total, so an increment is one round trip and never conflicts, however many replicas
count at once; a KV `update(last=revision)` needs a read first and retries on every collision, which
is exactly when a burst arrives. Counted limits are fixed windows: the subject is
`helpdesk.ratelimit.<action>.<u|a|s>.<account>[.<user>].<window index>` on the memory stream
`RATE_LIMITS` (prefixed like every other stream, so tests with `nats_prefix` stay apart). The stream
keeps one message per subject (the running total) and drops it `window_seconds` after its last
increment (`max_age`): a window's keys expire by themselves. A fixed window lets a client spend up to
twice its budget across one window boundary; the budgets here are abuse guards, not billing, and a
sliding window would cost a second read per request.

Per request: at most one round trip, the user's and the account's increments pipelined together on
the one connection; the increments of one subject queued in the same turn of the event loop go out
as one publish (`shared.ratecounters`; each request still gets its own count, as if sent alone). A
budget this process has already seen spent is refused locally, without NATS, until its window ends,
so a hostile burst costs NATS one message per replica and window. When one budget refuses, the
other's increment is given back (`Nats-Incr: -1`, coalesced the same way), so a user who hammers
does not spend their colleagues' account budget.

Open SSE streams are counted, not rated: each open stream holds a message on its own subject
`helpdesk.ratelease.streams.<account>.<user>.<stream id>` of the memory stream `RATE_LEASES`, with a
per-message TTL (`Nats-TTL`, `stream_lease_seconds`) that one background task per process refreshes
every third of it. Closing a stream purges its subject; a crashed process's slots expire with their
TTL. Opening one publishes the slot, then reads the account's subjects (`stream_info` with a subject
filter: one round trip; only the user's when there is no per-account cap, as the reply lists every
subject it matches) and gives the slot back if the user or the account holds too many. Two opens
racing for the last slot may both be refused, never both admitted.

Fail open: if NATS does not answer within `timeout_seconds`, is disconnected, or the stream is
missing (memory storage lost in a restart; it is created again in the background), the request goes
through, with a `rate_limit_fail_open` warning (at most one every 10 s per process) and the metric
`helpdesk_rate_limit_fail_open_total`. An outage of the limiter never becomes an outage of the API.

Who is limited, and how (settings: `shared.settings.RateLimitSettings`): a hotel user spends a per-user
and a per-account budget; support (agent, editor) never spends a hotel's budget, only their own
`staff_per_user` per action; a message support sends spends the receiving account's
`message_per_account`. Routes declare it with `dependencies=[limited(Action.CREATE)]` or call
`limiter_of(app).hit(...)`; each service sets `app.state.rate_limiter` in its lifespan.

The budgets, windows and refusals are `shared.ratebudgets`; an open stream's slot is
`shared.streamslots`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import nats.errors
from fastapi import Depends, FastAPI, Request
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NoStreamResponseError, NotFoundError
from prometheus_client import Counter

from shared.auth import CurrentUser, Principal
from shared.contracts.subjects import StreamSpec
from shared.logging import get_logger
from shared.nats import ensure_stream
from shared.ratebudgets import (
    Action,
    Budget,
    SpentBudgets,
    Window,
    budgets_for,
    first_over,
    refusal,
    subject_token,
)
from shared.ratecounters import CoalescedIncrements
from shared.settings import CommonSettings
from shared.stopping import wait_set
from shared.streamslots import StreamSlot

log = get_logger(__name__)

COUNTERS_STREAM = StreamSpec(name="RATE_LIMITS", domain="ratelimit")
LEASES_STREAM = StreamSpec(name="RATE_LEASES", domain="ratelease")
LEASE_MAX_AGE_SECONDS = 24 * 3600.0  # a backstop only: every slot carries its own TTL

FAIL_OPEN = Counter(
    "helpdesk_rate_limit_fail_open_total",
    "Limited requests let through because NATS did not answer",
    ["reason"],
)

_NATS_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError)


def _subject(prefix: str, spec: StreamSpec, rest: str) -> str:
    base = spec.subjects[0][:-2]  # "helpdesk.<domain>"
    return f"{prefix}.{base}.{rest}" if prefix else f"{base}.{rest}"


def stream_configs(common: CommonSettings) -> tuple[StreamConfig, StreamConfig]:
    """The counters' and the stream slots' streams: memory (nothing to keep across a NATS restart)."""
    prefix, replicas = common.nats_prefix, common.nats_stream_replicas

    def subjects(spec: StreamSpec) -> list[str]:
        return [f"{prefix}.{s}" if prefix else s for s in spec.subjects]

    def memory(spec: StreamSpec, max_age: float) -> StreamConfig:
        return StreamConfig(
            name=spec.stream_name(prefix),
            subjects=subjects(spec),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.MEMORY,
            num_replicas=replicas,
            max_msgs_per_subject=1,
            max_age=max_age,
            discard=DiscardPolicy.OLD,
        )

    window = float(common.rate_limits.window_seconds)
    counters = replace(memory(COUNTERS_STREAM, window), allow_msg_counter=True)
    leases = replace(memory(LEASES_STREAM, LEASE_MAX_AGE_SECONDS), allow_msg_ttl=True)
    return counters, leases


async def ensure_rate_limit_streams(js: JetStreamContext, common: CommonSettings) -> None:
    """Create both streams if missing, or bring the counters' window (`max_age`) up to date."""
    for config in stream_configs(common):
        await ensure_stream(js, config, outdated=lambda current, wanted: current.max_age != wanted.max_age)


class RateLimiter:
    """Checks and counts limited requests against the shared budgets in NATS (see the module)."""

    def __init__(self, nc: NATS, common: CommonSettings, *, clock: Callable[[], float] = time.time) -> None:
        self._nc = nc
        self._common = common
        self.limits = common.rate_limits
        self._js = nc.jetstream(timeout=self.limits.timeout_seconds)
        self._clock = clock
        self._spent = SpentBudgets()
        self._increments = CoalescedIncrements(self._increment)
        self._give_backs = CoalescedIncrements(self._increment, step=-1)
        self._counters_stream, self._leases_stream = (c.name or "" for c in stream_configs(common))
        self._slots: dict[str, StreamSlot] = {}
        self._open_here: dict[tuple[str, str], int] = {}
        self._refresher: asyncio.Task[None] | None = None
        self._no_slots = asyncio.Event()
        self._repaired_at = -math.inf
        self._background: set[asyncio.Task[Any]] = set()
        self._warned_at = -math.inf

    @classmethod
    async def open(
        cls, nc: NATS, common: CommonSettings, *, clock: Callable[[], float] = time.time
    ) -> RateLimiter:
        """A limiter on `nc`, its streams created if missing (a failure here only fails open later)."""
        limiter = cls(nc, common, clock=clock)
        if limiter.limits.enabled:
            try:
                await ensure_rate_limit_streams(nc.jetstream(), common)
            except _NATS_ERRORS as exc:
                limiter._fail_open("streams_not_created", exc)
        return limiter

    # Counted limits -------------------------------------------------------------------------------

    async def hit(self, action: Action, principal: Principal, *, account: str | None = None) -> None:
        """Count one `action`; raise `TooManyRequests` (with `Retry-After`) when a budget is spent."""
        budgets = budgets_for(action, principal, self.limits, account=account)
        if not budgets:
            return
        now = self._clock()
        window = Window.at(now, self.limits.window_seconds)
        for budget in budgets:
            if self._spent.spent(budget.key, window):
                raise refusal(
                    action,
                    budget,
                    window_seconds=self.limits.window_seconds,
                    retry_after=window.retry_after(now),
                )
        if not self._nc.is_connected:
            self._fail_open("disconnected")
            return
        subjects = [self._counter_subject(b.key, window) for b in budgets]
        acks = await asyncio.gather(*(self._increments.add(s) for s in subjects), return_exceptions=True)
        totals: list[int] = []
        for ack in acks:
            if isinstance(ack, BaseException):
                self._fail_open_on(ack)
                return
            totals.append(ack)
        over = first_over(budgets, totals)
        if over is None:
            return
        for budget, subject, total in zip(budgets, subjects, totals, strict=True):
            if total > budget.limit:
                self._spent.mark(budget.key, window)
            else:
                await self._give_back(subject)
        raise refusal(
            action, over, window_seconds=self.limits.window_seconds, retry_after=window.retry_after(now)
        )

    def _counter_subject(self, key: str, window: Window) -> str:
        return _subject(self._common.nats_prefix, COUNTERS_STREAM, f"{key}.{window.index}")

    async def _increment(self, subject: str, by: int) -> int:
        ack = await self._js.publish(subject, b"", headers={"Nats-Incr": str(by)})
        if ack.val is None:
            raise NoStreamResponseError  # not a counter stream: treat as missing
        return int(ack.val)

    async def _give_back(self, subject: str) -> None:
        """Undo one increment, acknowledged: the next request counts without it. Only on a refusal,
        and a refused budget is then refused locally for the rest of its window."""
        with contextlib.suppress(*_NATS_ERRORS):
            await self._give_backs.add(subject)

    # Open streams ---------------------------------------------------------------------------------

    async def open_stream(self, principal: Principal) -> StreamSlot:
        """A slot for one more open stream of `principal`; `TooManyRequests` when they hold too many.
        Support's streams are not counted."""
        limits = self.limits
        per_user, per_account = limits.streams_per_user, limits.streams_per_account
        if not limits.enabled or principal.is_staff or not (per_user or per_account):
            return StreamSlot(None, None, ("", ""))
        account, user = subject_token(principal.account_id or ""), subject_token(principal.sub)
        owner = (account, user)
        retry_after = max(1, limits.stream_lease_seconds // 3)
        user_budget = Budget("user", "", per_user)
        if per_user and self._open_here.get(owner, 0) >= per_user:
            raise refusal(Action.STREAMS, user_budget, window_seconds=0, retry_after=retry_after)
        if not self._nc.is_connected:
            self._fail_open("disconnected")
            return self._track(StreamSlot(self, None, owner))
        base = _subject(self._common.nats_prefix, LEASES_STREAM, f"{Action.STREAMS}.{account}")
        subject = f"{base}.{user}.{uuid.uuid4().hex}"
        try:
            await self._js.publish(subject, b"", headers={"Nats-TTL": f"{limits.stream_lease_seconds}s"})
            # The narrowest filter the limits need: the reply lists every subject it matches.
            held_by = f"{base}.>" if per_account else f"{base}.{user}.>"
            info = await self._js.stream_info(self._leases_stream, subjects_filter=held_by)
        except _NATS_ERRORS as exc:
            self._fail_open_on(exc)
            return self._track(StreamSlot(self, None, owner))
        held = info.state.subjects or {}
        for budget, count in (
            (user_budget, sum(1 for s in held if s.startswith(f"{base}.{user}."))),
            (Budget("account", "", per_account), len(held)),
        ):
            if budget.limit and count > budget.limit:
                with contextlib.suppress(*_NATS_ERRORS):
                    await self._purge(subject)  # before answering: the next open counts without it
                raise refusal(Action.STREAMS, budget, window_seconds=0, retry_after=retry_after)
        return self._track(StreamSlot(self, subject, owner))

    def _track(self, slot: StreamSlot) -> StreamSlot:
        self._open_here[slot.owner] = self._open_here.get(slot.owner, 0) + 1
        if slot.subject is not None:
            self._slots[slot.subject] = slot
            self._no_slots.clear()
            if self._refresher is None or self._refresher.done():
                self._refresher = asyncio.create_task(self._refresh(), name="rate-limit-slots")
        return slot

    def _release(self, slot: StreamSlot) -> None:
        left = self._open_here.get(slot.owner, 0) - 1
        if left > 0:
            self._open_here[slot.owner] = left
        else:
            self._open_here.pop(slot.owner, None)
        if slot.subject is not None and self._slots.pop(slot.subject, None) is not None:
            self._spawn(self._purge(slot.subject))
            if not self._slots:
                self._no_slots.set()  # the refresher ends now, not a third of a lease later

    async def _purge(self, subject: str) -> None:
        if not self._nc.is_connected:
            return  # the slot's TTL frees it
        await self._js.purge_stream(self._leases_stream, subject=subject)

    async def _refresh(self) -> None:
        """Re-publish every open slot of this process each third of the lease, while there are any."""
        ttl = self.limits.stream_lease_seconds
        while self._slots and not self._nc.is_closed:
            await wait_set(self._no_slots, ttl / 3)
            if not self._nc.is_connected:
                continue
            for subject in list(self._slots):
                with contextlib.suppress(*_NATS_ERRORS):
                    await self._nc.publish(subject, b"", headers={"Nats-TTL": f"{ttl}s"})

    # Failing open -------------------------------------------------------------------------------

    def _fail_open_on(self, exc: BaseException) -> None:
        if isinstance(exc, NoStreamResponseError | NotFoundError):
            self._fail_open("stream_missing", exc)
            if time.monotonic() - self._repaired_at >= 5.0:  # one attempt every few seconds at most
                self._repaired_at = time.monotonic()
                self._spawn(self._recreate_streams())
        elif isinstance(exc, _NATS_ERRORS):
            self._fail_open("nats_error", exc)
        else:
            raise exc

    async def _recreate_streams(self) -> None:
        try:
            await ensure_rate_limit_streams(self._nc.jetstream(), self._common)
        except _NATS_ERRORS as exc:
            log.warning("rate_limit_streams_not_created", error=type(exc).__name__)

    def _fail_open(self, reason: str, exc: BaseException | None = None) -> None:
        FAIL_OPEN.labels(reason).inc()
        now = time.monotonic()
        if now - self._warned_at >= 10.0:
            self._warned_at = now
            log.warning("rate_limit_fail_open", reason=reason, error=type(exc).__name__ if exc else None)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("rate_limit_background_failed", error=type(task.exception()).__name__)


class Limits(Protocol):
    """What routes check: a `RateLimiter`, or `Unlimited`."""

    async def hit(self, action: Action, principal: Principal, *, account: str | None = None) -> None: ...

    async def open_stream(self, principal: Principal) -> StreamSlot: ...


class Unlimited:
    """What an app without a limiter (one built without its lifespan) checks against: nothing."""

    async def hit(self, action: Action, principal: Principal, *, account: str | None = None) -> None:
        return None

    async def open_stream(self, principal: Principal) -> StreamSlot:
        return StreamSlot(None, None, ("", ""))


def limiter_of(app: FastAPI) -> Limits:
    limiter: Limits | None = getattr(app.state, "rate_limiter", None)
    return limiter if limiter is not None else Unlimited()


def limited(action: Action) -> Any:
    """A route dependency counting one `action` by the caller: `dependencies=[limited(Action.FAQ)]`."""

    async def count(request: Request, principal: CurrentUser) -> None:
        await limiter_of(request.app).hit(action, principal)

    return Depends(count)
