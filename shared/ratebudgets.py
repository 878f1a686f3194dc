"""What a limited request spends (`shared.ratelimit`): the actions, the budgets one action by one
principal spends (per user, per account, per specialist), fixed windows, this process's memory of
budgets already spent in their window, and the 429 a refusal answers with."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from prometheus_client import Counter

from shared.auth import Principal
from shared.errors import ErrorDetail, TooManyRequests
from shared.settings import RateLimitSettings

LIMITED = Counter("helpdesk_rate_limited_total", "Requests refused by a rate limit", ["action", "scope"])

Scope = Literal["user", "account", "staff"]
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Action(StrEnum):
    CREATE = "create"
    REPLY = "reply"
    UPLOAD = "upload"
    FAQ = "faq"
    CHAT_START = "chat_start"
    MESSAGE = "message"
    STREAMS = "streams"


def subject_token(value: str) -> str:
    """`value` as one subject token: as is when it is plainly safe, else a digest (`~…`)."""
    if _SAFE_TOKEN.match(value):
        return value
    return "~" + hashlib.sha256(value.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Budget:
    """One counter a request spends: its subject tokens (without the window) and its limit."""

    scope: Scope
    key: str
    limit: int


def budgets_for(
    action: Action, principal: Principal, limits: RateLimitSettings, *, account: str | None = None
) -> tuple[Budget, ...]:
    """The budgets one `action` by `principal` spends; `account` names the account support acts on
    (only a message to it is counted there). Empty when nothing limits it."""
    if not limits.enabled:
        return ()
    out: list[Budget] = []
    if principal.is_staff:
        if limits.staff_per_user:
            out.append(Budget("staff", f"{action}.s.{subject_token(principal.sub)}", limits.staff_per_user))
        if action is Action.MESSAGE and account and limits.message_per_account:
            out.append(Budget("account", f"{action}.a.{subject_token(account)}", limits.message_per_account))
        return tuple(out)
    own = subject_token(principal.account_id or "")
    per_user = int(getattr(limits, f"{action}_per_user", 0))
    per_account = int(getattr(limits, f"{action}_per_account", 0))
    if per_user:
        out.append(Budget("user", f"{action}.u.{own}.{subject_token(principal.sub)}", per_user))
    if per_account:
        out.append(Budget("account", f"{action}.a.{own}", per_account))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Window:
    """One fixed window: its number since the epoch and when it ends."""

    index: int
    ends_at: float

    @classmethod
    def at(cls, now: float, seconds: int) -> Window:
        index = int(now // seconds)
        return cls(index=index, ends_at=float((index + 1) * seconds))

    def retry_after(self, now: float) -> int:
        """Whole seconds until the window ends (at least 1): the `Retry-After` of a refusal."""
        return max(1, math.ceil(self.ends_at - now))


def first_over(budgets: tuple[Budget, ...], totals: list[int]) -> Budget | None:
    """The first budget whose new total passed its limit, or None."""
    for budget, total in zip(budgets, totals, strict=True):
        if total > budget.limit:
            return budget
    return None


class SpentBudgets:
    """Budgets this process saw spent in their current window: refused again without a round trip."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._spent: dict[str, int] = {}
        self._max = max_entries

    def spent(self, key: str, window: Window) -> bool:
        return self._spent.get(key) == window.index

    def mark(self, key: str, window: Window) -> None:
        if len(self._spent) >= self._max:
            self._spent = {k: i for k, i in self._spent.items() if i >= window.index}
            if len(self._spent) >= self._max:
                self._spent.pop(next(iter(self._spent)))
        self._spent[key] = window.index


def refusal(action: Action, budget: Budget, *, window_seconds: int, retry_after: int) -> TooManyRequests:
    LIMITED.labels(action.value, budget.scope).inc()
    per = "open at once" if action is Action.STREAMS else f"per {window_seconds} s"
    who = {"user": "this user", "account": "this account", "staff": "this specialist"}[budget.scope]
    detail = ErrorDetail(
        loc=["rate_limit", action.value, budget.scope], msg=f"{budget.limit} {per}", type="rate_limited"
    )
    return TooManyRequests(
        f"too many {action.value.replace('_', ' ')} requests for {who}; try again in {retry_after} s",
        retry_after=retry_after,
        details=[detail],
    )
