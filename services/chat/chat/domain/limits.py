"""Per-session rate limiting: a token bucket with an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """`rate` frames a second on average, bursts of up to `burst`; `allow()` spends one token."""

    rate: float
    burst: float
    clock: Callable[[], float]
    _tokens: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst
        self._at = self.clock()

    def allow(self) -> bool:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass
class AbuseMeter:
    """Counts rejected frames in a sliding window; past `threshold` the connection is abusive."""

    threshold: int
    window_seconds: float
    clock: Callable[[], float]
    _times: list[float] = field(default_factory=list)

    def record(self) -> bool:
        """Record one rejection; True when the connection has crossed the line."""
        now = self.clock()
        cutoff = now - self.window_seconds
        self._times = [t for t in self._times if t > cutoff]
        self._times.append(now)
        return len(self._times) > self.threshold
