"""Starting a chat spends the user's and the account's chat-start budgets (`shared.ratelimit`), shared
by every chat replica; a refusal is an error frame (`rate_limited`) saying when to try again."""

from __future__ import annotations

from fastapi import WebSocket

from chat.domain.errors import ChatError
from shared.auth import Principal
from shared.errors import TooManyRequests
from shared.ratebudgets import Action
from shared.ratelimit import limiter_of


class StartLimited(ChatError):
    """Raised when a user starts chats faster than their or their account's limit allows."""

    code = "rate_limited"


async def count_chat_start(ws: WebSocket, principal: Principal) -> None:
    """Count one chat start; `StartLimited` (its message says in how many seconds) when spent."""
    try:
        await limiter_of(ws.app).hit(Action.CHAT_START, principal)
    except TooManyRequests as exc:
        raise StartLimited(exc.message) from None
