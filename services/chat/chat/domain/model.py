"""The shared state every chat process sees: who waits (queue entries) and who serves (agents).

Both live in a memory-storage KV bucket and change only by compare-and-set on a key's revision, so
the rules below hold across processes: a user is assigned to at most one specialist (the queue
entry's CAS), and a specialist never holds more chats than their capacity (the agent entry's CAS).
Neither record carries a name, a phone number or any text: only ids, states and times.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

from chat.domain.errors import CapacityExceeded


class QueueState(StrEnum):
    WAITING = "waiting"
    ASSIGNED = "assigned"


class AgentStatus(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"


# Lower rank is served first: users put back after their specialist vanished go to the head.
RANK_REQUEUED = 0
RANK_NEW = 1


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One user's chat session as the other processes see it (key `q.<sid>`)."""

    sid: str
    account_id: str
    since: float  # wall-clock seconds when the user first started waiting; kept on requeue
    proc: str  # the chat process holding the user's WebSocket
    state: QueueState = QueueState.WAITING
    rank: int = RANK_NEW
    agent: str | None = None
    assigned_at: float | None = None

    @property
    def order(self) -> tuple[int, float, str]:
        return (self.rank, self.since, self.sid)

    def assign(self, agent: str, *, now: float) -> QueueEntry:
        return replace(self, state=QueueState.ASSIGNED, agent=agent, assigned_at=now)

    def requeue(self) -> QueueEntry:
        """Back to the head of the queue, keeping the original waiting time."""
        return replace(self, state=QueueState.WAITING, rank=RANK_REQUEUED, agent=None, assigned_at=None)

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> QueueEntry:
        data = _known(cls, json.loads(raw))
        data["state"] = QueueState(data["state"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class AgentPresence:
    """One specialist's presence (key `a.<akey>`): status, capacity and the chats they hold."""

    akey: str
    name: str
    proc: str  # the chat process holding the specialist's WebSocket
    capacity: int
    status: AgentStatus = AgentStatus.AWAY
    sessions: tuple[str, ...] = ()
    connected: bool = True
    disconnected_at: float | None = None
    # False: available, but takes chats only by hand (`take`); the matching loop passes them by.
    auto: bool = True

    @property
    def free_slots(self) -> int:
        if self.status is not AgentStatus.AVAILABLE or not self.connected:
            return 0
        return max(0, self.capacity - len(self.sessions))

    @property
    def online(self) -> bool:
        return self.status is AgentStatus.AVAILABLE and self.connected

    def with_session(self, sid: str) -> AgentPresence:
        if sid in self.sessions:
            return self
        if self.free_slots < 1:
            raise CapacityExceeded(f"capacity {self.capacity} reached")
        return replace(self, sessions=(*self.sessions, sid))

    def without_session(self, sid: str) -> AgentPresence:
        return replace(self, sessions=tuple(s for s in self.sessions if s != sid))

    def encode(self) -> bytes:
        data: dict[str, Any] = asdict(self)
        data["sessions"] = list(self.sessions)
        return json.dumps(data, separators=(",", ":")).encode()

    @property
    def routable(self) -> bool:
        """The matching loop may give this specialist the next waiting user."""
        return self.auto and self.free_slots > 0

    @classmethod
    def decode(cls, raw: bytes) -> AgentPresence:
        data = _known(cls, json.loads(raw))
        data["status"] = AgentStatus(data["status"])
        data["sessions"] = tuple(data["sessions"])
        return cls(**data)


def _known(cls: type[QueueEntry] | type[AgentPresence], data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields this version knows: during a rolling update a newer process may write more."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def waiting_in_order(entries: Iterable[QueueEntry]) -> list[QueueEntry]:
    """Waiting users, the one to serve first at the head."""
    return sorted((e for e in entries if e.state is QueueState.WAITING), key=lambda e: e.order)


def positions(entries: Iterable[QueueEntry]) -> dict[str, int]:
    """Each waiting session's 1-based place in the queue."""
    return {e.sid: i for i, e in enumerate(waiting_in_order(entries), start=1)}


def specialists_online(agents: Mapping[str, AgentPresence]) -> int:
    return sum(1 for a in agents.values() if a.online)
