"""The rate limiter on a real nats-server: two limiters on two connections stand for two replicas."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from shared.auth import Principal, Role
from shared.errors import TooManyRequests
from shared.natsserver import NatsServer
from shared.ratebudgets import Action, Window
from shared.ratelimit import FAIL_OPEN, RateLimiter, stream_configs
from shared.settings import CommonSettings, RateLimitSettings

pytestmark = pytest.mark.integration

HOTEL_A_U1 = Principal(sub="u1", role=Role.USER, account_id="hotel-a")
HOTEL_A_U2 = Principal(sub="u2", role=Role.USER, account_id="hotel-a")
HOTEL_B_U1 = Principal(sub="u1", role=Role.USER, account_id="hotel-b")
AGENT = Principal(sub="agent-1", role=Role.AGENT)


def common(nats_url: str, prefix: str, **limits: Any) -> CommonSettings:
    return CommonSettings(nats_url=nats_url, nats_prefix=prefix, rate_limits=RateLimitSettings(**limits))


@pytest.fixture
async def connections(nats_url: str) -> AsyncIterator[Callable[[], Awaitable[NATS]]]:
    opened: list[NATS] = []

    async def connect() -> NATS:
        nc = await nats.connect(nats_url)
        opened.append(nc)
        return nc

    yield connect
    for nc in opened:
        if not nc.is_closed:
            await nc.close()


def mid_window() -> float:
    """A clock stopped in the middle of a 600 s window: no window ends during a test."""
    return 1_000_000_200.0


async def replicas(
    connect: Callable[[], Awaitable[NATS]],
    settings: CommonSettings,
    *,
    clock: Callable[[], float] = mid_window,
) -> tuple[RateLimiter, RateLimiter]:
    return (
        await RateLimiter.open(await connect(), settings, clock=clock),
        await RateLimiter.open(await connect(), settings, clock=clock),
    )


async def refused(call: Awaitable[Any]) -> TooManyRequests:
    with pytest.raises(TooManyRequests) as caught:
        await call
    return caught.value


async def until(check: Callable[[], Awaitable[bool]], *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_two_replicas_spend_one_budget_per_user(
    nats_url: str, nats_prefix: str, connections: Callable[[], Awaitable[NATS]]
) -> None:
    a, b = await replicas(connections, common(nats_url, nats_prefix, create_per_user=4, window_seconds=600))
    for limiter in (a, b, a, b):
        await limiter.hit(Action.CREATE, HOTEL_A_U1)
    on_b = await refused(b.hit(Action.CREATE, HOTEL_A_U1))
    on_a = await refused(a.hit(Action.CREATE, HOTEL_A_U1))
    for refusal in (on_a, on_b):
        assert refusal.status_code == 429
        assert 1 <= refusal.retry_after <= 600
        assert refusal.headers == {"Retry-After": str(refusal.retry_after)}
    # The same sub in another account is another user; other actions have their own budgets.
    await a.hit(Action.CREATE, HOTEL_B_U1)
    await b.hit(Action.REPLY, HOTEL_A_U1)


async def test_the_account_budget_is_shared_by_its_users_and_a_refused_user_gives_theirs_back(
    nats_url: str, nats_prefix: str, connections: Callable[[], Awaitable[NATS]]
) -> None:
    settings = common(nats_url, nats_prefix, faq_per_user=2, faq_per_account=3, window_seconds=600)
    a, b = await replicas(connections, settings)
    await a.hit(Action.FAQ, HOTEL_A_U1)
    await a.hit(Action.FAQ, HOTEL_A_U1)
    await refused(a.hit(Action.FAQ, HOTEL_A_U1))  # user over; the account's increment is given back
    await b.hit(Action.FAQ, HOTEL_A_U2)  # the account's third
    refusal = await refused(b.hit(Action.FAQ, HOTEL_A_U2))
    assert refusal.details[0].loc == ["rate_limit", "faq", "account"]
    await b.hit(Action.FAQ, HOTEL_B_U1)  # another account is untouched


async def test_support_has_its_own_budget_and_a_message_spends_the_receiving_accounts(
    nats_url: str, nats_prefix: str, connections: Callable[[], Awaitable[NATS]]
) -> None:
    settings = common(
        nats_url,
        nats_prefix,
        create_per_account=1,
        staff_per_user=3,
        message_per_account=2,
        window_seconds=600,
    )
    a, b = await replicas(connections, settings)
    await a.hit(Action.CREATE, HOTEL_A_U1)
    await refused(b.hit(Action.CREATE, HOTEL_A_U2))
    await a.hit(Action.CREATE, AGENT, account="hotel-a")  # support files for the hotel regardless
    await a.hit(Action.MESSAGE, AGENT, account="hotel-a")
    await b.hit(Action.MESSAGE, AGENT, account="hotel-a")
    await refused(a.hit(Action.MESSAGE, AGENT, account="hotel-a"))
    await b.hit(Action.MESSAGE, AGENT, account="hotel-b")
    await refused(a.hit(Action.MESSAGE, AGENT, account="hotel-c"))  # the specialist's own 3 are spent


async def test_window_keys_expire_and_the_next_window_has_a_fresh_budget(
    nats_url: str, nats_prefix: str, connections: Callable[[], Awaitable[NATS]]
) -> None:
    settings = common(nats_url, nats_prefix, reply_per_user=1, reply_per_account=0, window_seconds=1)
    a, b = await replicas(connections, settings, clock=time.time)
    await a.hit(Action.REPLY, HOTEL_A_U1)
    counters = stream_configs(settings)[0].name
    assert counters is not None
    js = (await connections()).jetstream()

    async def keys() -> dict[str, int]:
        info = await js.stream_info(counters, subjects_filter=">")
        return info.state.subjects or {}

    assert len(await keys()) == 1

    async def allowed_again() -> bool:
        try:
            await b.hit(Action.REPLY, HOTEL_A_U1)
        except TooManyRequests:
            return False
        return True

    assert await until(allowed_again, timeout=10)

    async def gone() -> bool:
        return not await keys()

    assert await until(gone, timeout=10)


async def test_open_streams_are_counted_across_replicas_and_a_closed_one_frees_its_slot(
    nats_url: str, nats_prefix: str, connections: Callable[[], Awaitable[NATS]]
) -> None:
    settings = common(nats_url, nats_prefix, streams_per_user=2, streams_per_account=3)
    a, b = await replicas(connections, settings)
    first = await a.open_stream(HOTEL_A_U1)
    await b.open_stream(HOTEL_A_U1)
    refusal = await refused(b.open_stream(HOTEL_A_U1))
    assert refusal.details[0].loc == ["rate_limit", "streams", "user"]
    await a.open_stream(HOTEL_A_U2)
    assert (await refused(a.open_stream(HOTEL_A_U2))).details[0].loc[-1] == "account"
    await b.open_stream(HOTEL_B_U1)
    await b.open_stream(AGENT)  # support's streams are not counted
    first.release()

    async def opened() -> bool:
        try:
            await b.open_stream(HOTEL_A_U1)
        except TooManyRequests:
            return False
        return True

    assert await until(opened, timeout=10)


async def test_without_an_account_cap_each_user_is_still_counted_across_replicas(
    nats_url: str, nats_prefix: str, connections: Callable[[], Awaitable[NATS]]
) -> None:
    settings = common(nats_url, nats_prefix, streams_per_user=2, streams_per_account=0)
    a, b = await replicas(connections, settings)
    await a.open_stream(HOTEL_A_U2)  # a colleague's streams count for nobody else
    await b.open_stream(HOTEL_A_U2)
    await a.open_stream(HOTEL_A_U1)
    await b.open_stream(HOTEL_A_U1)
    refusal = await refused(b.open_stream(HOTEL_A_U1))  # counted in NATS: b holds only one of them
    assert refusal.details[0].loc == ["rate_limit", "streams", "user"]


async def test_a_crashed_holders_slot_frees_after_its_ttl_while_a_live_holder_keeps_its_own(
    nats_url: str, nats_prefix: str, connections: Callable[[], Awaitable[NATS]]
) -> None:
    settings = common(nats_url, nats_prefix, streams_per_user=1, stream_lease_seconds=2)
    live, crashing = await replicas(connections, settings)
    other = await RateLimiter.open(await connections(), settings)
    await live.open_stream(HOTEL_B_U1)
    live_since = time.monotonic()
    await crashing.open_stream(HOTEL_A_U1)
    await crashing._nc.close()  # no release, no more refreshes: as if the process died
    await refused(other.open_stream(HOTEL_A_U1))

    async def freed() -> bool:
        try:
            await other.open_stream(HOTEL_A_U1)
        except TooManyRequests:
            return False
        return True

    assert await until(freed, timeout=15)
    # Once the live holder's slot is older than its TTL, its refreshes are what keep it held.
    await asyncio.sleep(max(0.0, 3.0 - (time.monotonic() - live_since)))
    await refused(other.open_stream(HOTEL_B_U1))


async def test_it_fails_open_when_nats_is_gone_and_recreates_a_lost_stream(
    own_nats_server: NatsServer, nats_prefix: str
) -> None:
    settings = common(own_nats_server.url, nats_prefix, create_per_user=1, window_seconds=600)
    nc = await nats.connect(own_nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        limiter = await RateLimiter.open(nc, settings, clock=mid_window)
        counters = stream_configs(settings)[0].name
        assert counters is not None
        await nc.jetstream().delete_stream(counters)
        before = FAIL_OPEN.labels("stream_missing")._value.get()
        await limiter.hit(Action.CREATE, HOTEL_A_U1)  # let through
        await limiter.hit(Action.CREATE, HOTEL_A_U1)
        assert FAIL_OPEN.labels("stream_missing")._value.get() > before

        async def limiting_again() -> bool:
            try:
                await limiter.hit(Action.CREATE, HOTEL_A_U2)
            except TooManyRequests:
                return True
            return False

        assert await until(limiting_again, timeout=15)  # the stream is back and counts
        own_nats_server.kill()
        disconnected = FAIL_OPEN.labels("disconnected")._value.get()

        async def down() -> bool:
            return not nc.is_connected

        assert await until(down, timeout=10)
        await limiter.hit(Action.CREATE, HOTEL_B_U1)
        await limiter.hit(Action.CREATE, HOTEL_B_U1)  # over its limit, but NATS is gone: let through
        assert FAIL_OPEN.labels("disconnected")._value.get() >= disconnected + 2
    finally:
        await nc.close()


async def test_concurrent_hits_are_one_publish_per_subject_and_admitted_exactly_up_to_the_budget(
    nats_url: str, nats_prefix: str, connections: Callable[[], Awaitable[NATS]]
) -> None:
    settings = common(nats_url, nats_prefix, create_per_user=5, create_per_account=7, window_seconds=600)
    a, b = await replicas(connections, settings)
    for _ in range(2):
        await b.hit(Action.CREATE, HOTEL_A_U1)  # another replica spent 2 of the user's 5 already
    sent_before = a._nc.stats["out_msgs"]
    results = await asyncio.gather(
        *(a.hit(Action.CREATE, HOTEL_A_U1) for _ in range(5)), return_exceptions=True
    )
    # The first three queued fit in the user's budget; the last two are refused, as if one by one.
    assert results[:3] == [None, None, None]
    assert all(isinstance(r, TooManyRequests) for r in results[3:])
    # One publish for the user's 5, one for the account's 5, one giving the account 2 back.
    assert a._nc.stats["out_msgs"] - sent_before == 3
    js = (await connections()).jetstream()
    counters = stream_configs(settings)[0].name
    assert counters is not None

    async def total(key: str) -> int:
        msg = await js.get_last_msg(counters, a._counter_subject(key, Window.at(mid_window(), 600)))
        return int(json.loads(msg.data or b"{}")["val"])

    assert await total("create.u.hotel-a.u1") == 7  # refused increments stay on the spent budget
    assert await total("create.a.hotel-a") == 5  # and are given back on the other
    # A colleague's concurrent creates meet the account's edge the same way: 2 of 3 fit.
    colleague = await asyncio.gather(
        *(b.hit(Action.CREATE, HOTEL_A_U2) for _ in range(3)), return_exceptions=True
    )
    assert colleague[:2] == [None, None] and isinstance(colleague[2], TooManyRequests)
    assert colleague[2].details[0].loc == ["rate_limit", "create", "account"]
