"""What the users' and the specialists' desks share inside one chat process."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from chat.adapters.directory import Directory
from chat.adapters.relay import Relay
from chat.adapters.stats import StatsPublisher
from chat.adapters.support_hours import SupportHours
from chat.domain.model import SessionCaps
from chat.domain.server_frames import ServerFrame

Send = Callable[[ServerFrame], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class HubConfig:
    presence_ttl_seconds: float = 30.0
    agent_grace_seconds: float = 15.0
    max_wait_seconds: float = 120.0
    ticket_topic: str = "chat"
    transcript_max_lines: int = 200
    default_capacity: int = 3
    max_capacity: int = 20
    tick_seconds: float = 0.5
    request_timeout_seconds: float = 5.0
    queue_update_seconds: float = 0.5
    caps: SessionCaps = field(default_factory=SessionCaps)
    # A topic's chat goes to anyone free when none of its team's specialists can take it now.
    any_team_fallback: bool = True

    @property
    def refresh_every(self) -> float:
        return self.presence_ttl_seconds / 3


@dataclass(eq=False)
class HubContext:
    """One per process: the directory mirror, the relay, statistics, the clock and a wake-up flag."""

    directory: Directory
    relay: Relay
    stats: StatsPublisher
    config: HubConfig
    clock: Clock
    proc: str
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    recovered_at: float = float("-inf")
    # Support's topics, teams and hours, followed from the directory's stream (none: route as before).
    hours: SupportHours = field(default_factory=lambda: SupportHours(None))

    def absence_means_gone(self) -> bool:
        """A missing entry means its process is gone, except for one TTL after this process rebuilt a
        lost bucket: the other processes have not written theirs back yet."""
        return self.clock() - self.recovered_at >= self.config.presence_ttl_seconds


def agent_key(sub: str) -> str:
    """A KV- and subject-safe key for a specialist (token subjects may hold any character)."""
    return hashlib.sha256(sub.encode()).hexdigest()[:24]
