"""The shared state every chat process sees: who waits (queue entries), who serves (agents), and
the seats that cap how many chats one user and one account may have open at once.

All live in a memory-storage KV bucket and change only by compare-and-set on a key's revision, so
the rules below hold across processes: a user is assigned to at most one specialist (the queue
entry's CAS), a specialist never holds more chats than their capacity (the agent entry's CAS), and a
user or an account never holds more chats than its cap (a seat is created only where none exists).
No record carries a name, a phone number or any text: only ids (digests for users and accounts),
states and times.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

from chat.domain.errors import CapacityExceeded, TooManyChats


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
    # The support team the chat's topic is answered by (offered to them first); None: anyone.
    team: str | None = None

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
    # The support teams the specialist answers for (declared in the console): their topics' chats
    # are offered to them first.
    teams: tuple[str, ...] = ()

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
        data["teams"] = list(self.teams)
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
        data["teams"] = tuple(data.get("teams", ()))
        return cls(**data)


class CapScope(StrEnum):
    USER = "user"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class SessionCaps:
    """How many chats one user, and one hotel account, may have open at once (waiting or talking)."""

    per_user: int = 2
    per_account: int = 5


@dataclass(frozen=True, slots=True)
class SeatOwner:
    """Whose seats a new chat needs one of: `key` is KV-safe and names no one (a digest)."""

    scope: CapScope
    key: str
    limit: int

    def refusal(self) -> TooManyChats:
        return TooManyChats("user" if self.scope is CapScope.USER else "account", self.limit)


def seat_owners(caps: SessionCaps, *, account_id: str, user: str) -> tuple[SeatOwner, ...]:
    """The seats one chat takes: one of its user's, then one of its account's."""
    return (
        SeatOwner(CapScope.USER, "u" + _digest(f"{account_id}\n{user}"), caps.per_user),
        SeatOwner(CapScope.ACCOUNT, "a" + _digest(account_id), caps.per_account),
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Seat:
    """One of the chats an owner may have open (key `s.<owner>.<n>`, n below the owner's cap): the
    session holding it and its process, so a crashed process's seats are gone with its heartbeat."""

    sid: str
    proc: str

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Seat:
        return cls(**_known(cls, json.loads(raw)))


def _known(cls: type[QueueEntry] | type[AgentPresence] | type[Seat], data: dict[str, Any]) -> dict[str, Any]:
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
