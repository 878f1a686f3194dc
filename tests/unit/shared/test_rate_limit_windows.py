"""The rate limiter's pure parts: who spends which budget, fixed windows, local memory of spent
budgets, and a refusal's 429 in the shared error shape with `Retry-After`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from shared.auth import CachingTokenVerifier, Principal, Role, issue_dev_token
from shared.errors import install_error_handlers
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
from shared.ratelimit import RateLimiter, limited
from shared.settings import CommonSettings, Environment, RateLimitSettings
from shared.streamslots import StreamSlot

pytestmark = pytest.mark.unit

USER = Principal(sub="u1", role=Role.USER, account_id="hotel-a")
AGENT = Principal(sub="agent-1", role=Role.AGENT)
EDITOR = Principal(sub="ed-1", role=Role.EDITOR)


def test_a_hotel_user_spends_their_own_and_their_accounts_budget() -> None:
    limits = RateLimitSettings(create_per_user=3, create_per_account=30)
    assert budgets_for(Action.CREATE, USER, limits) == (
        Budget("user", "create.u.hotel-a.u1", 3),
        Budget("account", "create.a.hotel-a", 30),
    )
    # A user cannot point their spending at another account.
    assert budgets_for(Action.CREATE, USER, limits, account="hotel-b") == budgets_for(
        Action.CREATE, USER, limits
    )


def test_zero_turns_one_limit_off_and_disabled_turns_off_all() -> None:
    assert budgets_for(Action.FAQ, USER, RateLimitSettings(faq_per_user=0, faq_per_account=5)) == (
        Budget("account", "faq.a.hotel-a", 5),
    )
    assert budgets_for(Action.FAQ, USER, RateLimitSettings(enabled=False)) == ()


def test_support_spends_only_its_own_budget_except_a_message_to_an_account() -> None:
    limits = RateLimitSettings(staff_per_user=100, message_per_account=7)
    assert budgets_for(Action.CREATE, AGENT, limits, account="hotel-a") == (
        Budget("staff", "create.s.agent-1", 100),
    )
    assert budgets_for(Action.FAQ, EDITOR, limits) == (Budget("staff", "faq.s.ed-1", 100),)
    assert budgets_for(Action.MESSAGE, AGENT, limits, account="hotel-a") == (
        Budget("staff", "message.s.agent-1", 100),
        Budget("account", "message.a.hotel-a", 7),
    )
    assert budgets_for(Action.CREATE, AGENT, RateLimitSettings(staff_per_user=0)) == ()


def test_ids_that_are_not_plain_subject_tokens_are_digested_apart() -> None:
    assert subject_token("hotel-a_1") == "hotel-a_1"
    dotted, starred = subject_token("a.b"), subject_token("a*b")
    assert dotted.startswith("~") and "." not in dotted and dotted != starred
    assert subject_token("x" * 65) != subject_token("x" * 66)
    principal = Principal(sub="user@example.com", role=Role.USER, account_id="hotel-a")
    (user, _account) = budgets_for(Action.REPLY, principal, RateLimitSettings())
    assert len(user.key.split(".")) == 4


def test_a_window_is_numbered_from_the_epoch_and_says_how_long_is_left() -> None:
    window = Window.at(1000.2, 60)
    assert window == Window(index=16, ends_at=1020.0)
    assert window.retry_after(1000.2) == 20
    assert window.retry_after(1019.9) == 1
    assert Window.at(1020.0, 60).index == 17


def test_the_first_budget_past_its_limit_refuses() -> None:
    user, account = Budget("user", "k.u", 2), Budget("account", "k.a", 5)
    assert first_over((user, account), [2, 5]) is None
    assert first_over((user, account), [3, 6]) == user
    assert first_over((user, account), [1, 6]) == account


def test_a_spent_budget_is_remembered_until_its_window_ends_and_memory_stays_bounded() -> None:
    spent = SpentBudgets(max_entries=3)
    now, later = Window.at(100, 60), Window.at(200, 60)
    spent.mark("a", now)
    assert spent.spent("a", now) and not spent.spent("b", now)
    assert not spent.spent("a", later)
    for key in ("b", "c", "d", "e"):
        spent.mark(key, later)
    assert not spent.spent("a", now)  # the old window's entry went first
    assert sum(spent.spent(k, later) for k in "bcde") == 3


async def test_a_refusal_answers_429_with_retry_after_in_the_shared_shape() -> None:
    common = CommonSettings(environment=Environment.TEST, jwt_secret=SecretStr("s" * 40))
    app = FastAPI()
    install_error_handlers(app)
    app.state.token_verifier = CachingTokenVerifier(common)

    class Refusing:
        async def hit(self, action: Action, principal: Principal, *, account: str | None = None) -> None:
            budget = Budget("user", f"{action}.u.x", 1)
            raise refusal(action, budget, window_seconds=60, retry_after=17)

        async def open_stream(self, principal: Principal) -> StreamSlot:
            return StreamSlot(None, None, ("", ""))

    @app.post("/limited", dependencies=[limited(Action.CREATE)])
    async def limited_route() -> dict[str, bool]:
        return {"ok": True}

    token = issue_dev_token(common, role=Role.USER, sub="u1", account_id="hotel-a")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.post("/limited", headers=headers)).status_code == 200  # no limiter: open
        assert (await client.post("/limited")).status_code == 401  # who it is comes first
        app.state.rate_limiter = Refusing()
        answer = await client.post("/limited", headers=headers)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "17"
    error = answer.json()["error"]
    assert error["code"] == "rate_limited"
    assert "17 s" in error["message"]
    assert error["details"] == [
        {"loc": ["rate_limit", "create", "user"], "msg": "1 per 60 s", "type": "rate_limited"}
    ]


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_RATE_LIMIT_CREATE_PER_USER", "5")
    monkeypatch.setenv("HELPDESK_RATE_LIMIT_ENABLED", "false")
    limits = CommonSettings().rate_limits
    assert limits.create_per_user == 5 and not limits.enabled
    assert limits.reply_per_user == RateLimitSettings.model_fields["reply_per_user"].default


async def test_a_guarded_stream_gives_back_its_slot_once_and_closes_its_events_when_reading_stops() -> None:
    released: list[StreamSlot] = []
    closed: list[bool] = []

    class Holder:
        def _release(self, slot: StreamSlot) -> None:
            released.append(slot)

    async def events() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    slot = StreamSlot(cast(RateLimiter, Holder()), "subject", ("hotel-a", "u1"))
    guarded = slot.guard(events())
    assert await anext(guarded) == 1
    await guarded.aclose()  # the browser went away
    assert closed == [True]
    assert released == [slot]
    slot.release()
    assert released == [slot]
