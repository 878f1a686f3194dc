"""Which specialist a waiting chat may go to, and whether a chat opens at all: support's topics, their
teams and their hours, as the support directory says (`shared.directory`). Pure: no I/O, no clock.

A chat filed under a topic is offered first to the free specialists of the topic's team; only when
none of them can take it now does it go to anyone free (`any_team_fallback`, a setting). Outside the
topic's hours the user is not queued: they are offered a request instead, with the answer promised.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from chat.domain.errors import InvalidIntake
from chat.domain.model import AgentPresence, QueueEntry
from shared.directory import DirectoryView


def may_take(
    entry: QueueEntry, agent: AgentPresence, everyone: Iterable[AgentPresence], *, any_team_fallback: bool
) -> bool:
    """Whether the matching loop may give `entry` to `agent` (given every specialist's presence)."""
    if entry.team is None or entry.team in agent.teams:
        return True
    if not any_team_fallback:
        return False
    return not any(other.routable and entry.team in other.teams for other in everyone)


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a new chat goes: its topic and team (None: no directory, or no topic given)."""

    topic: str | None
    team: str | None


@dataclass(frozen=True, slots=True)
class OutsideHours:
    """The topic is not answered now: when it opens, and the first answer a request filed now gets."""

    topic: str
    opens_at: datetime | None
    first_response_due: datetime | None


def route(
    view: DirectoryView | None, topic: str | None, *, now: float, importance: str = "normal"
) -> Routing | OutsideHours:
    """The routing of a chat about `topic` opened at `now` (epoch seconds); `InvalidIntake` on `topic`
    for a topic the directory does not have. A chat with no topic (a client that does not ask for one)
    goes to anyone, whenever someone is there, as before topics."""
    if view is None or topic is None:
        return Routing(topic=topic, team=None)
    spec = view.topics.get(topic)
    if spec is None:
        raise InvalidIntake("topic", "there is no such topic")
    moment = datetime.fromtimestamp(now, tz=UTC)
    status = view.status(topic, moment)
    if status is not None and not status.open_now:
        due = view.first_response_due(topic, importance, moment)
        return OutsideHours(topic=topic, opens_at=status.opens_at, first_response_due=due)
    return Routing(topic=topic, team=spec.team)
