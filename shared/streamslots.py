"""An open stream's place in its user's and account's count of open streams (`shared.ratelimit`:
`RateLimiter.open_stream` hands it out and takes it back)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol


class SlotHolder(Protocol):
    """Who handed a slot out and takes it back: a `shared.ratelimit.RateLimiter`."""

    def _release(self, slot: StreamSlot) -> None: ...


class StreamSlot:
    """One open stream's place in its user's and account's count; `release()` when the stream ends."""

    def __init__(self, limiter: SlotHolder | None, subject: str | None, owner: tuple[str, str]) -> None:
        self._limiter = limiter
        self.subject = subject
        self.owner = owner

    def release(self) -> None:
        if self._limiter is not None:
            limiter, self._limiter = self._limiter, None
            limiter._release(self)

    async def guard(self, events: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
        """`events`, releasing the slot however they end, and closing them when the reader stops
        (their own clean-up runs now, not whenever the collector finds them)."""
        try:
            async for event in events:
                yield event
        finally:
            self.release()
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
