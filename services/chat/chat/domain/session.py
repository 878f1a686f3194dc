"""The life of one user's chat, as a pure state machine: `transition(state, event) -> (state, effects)`.

    WAITING ──SpecialistJoined──▶ ASSIGNED ──SpecialistEnded──▶ ENDED
       ▲                            │
       └──────SpecialistGone────────┘          (WAITING | ASSIGNED) ──UserLeft──▶ ENDED

WAITING is the queue (the user may be offered a request once: nobody online, or the wait too long);
ASSIGNED is the conversation with one specialist (another joining takes it over); ENDED is final. A
chat opened outside its topic's hours never starts (`chat.domain.routing.route` answers
`OutsideHours`), so it has no state here.

Who may do what: the user talks only while ASSIGNED (`NotAssigned` otherwise), may type at any time
(heard only while ASSIGNED) and may file the chat as a request in any phase. Only the specialist the
chat is assigned to is heard (`WrongSpecialist`); a queue card is given only while WAITING. Anything
else the table does not hold is refused with `IllegalTransition`, which the caller answers or
ignores, the state unchanged.

The events and the effects are `chat.domain.session_events`. The effects say what the caller must
do, in order; the state is the caller's to keep (`transition` changes nothing but the value it
returns). No I/O, no clock: times come in the events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from chat.domain import server_frames as out
from chat.domain.conversation import Speaker
from chat.domain.errors import IllegalTransition, NotAssigned, WrongSpecialist
from chat.domain.session_events import (
    CardAsked,
    Effect,
    Emit,
    Event,
    FromSpecialist,
    LeaveQueue,
    OfferRequest,
    PositionChanged,
    QueueJoined,
    Record,
    Reply,
    SpecialistEnded,
    SpecialistGone,
    SpecialistJoined,
    SpecialistOffered,
    SpecialistSaid,
    SpecialistTyped,
    TellEnded,
    ToSpecialist,
    ToUser,
    UserFiledRequest,
    UserLeft,
    UserSaid,
    UserTyped,
    WaitChecked,
)
from shared.contracts.chat import ChatAssigned, ChatEnded, ChatStarted, EndReason

__all__ = [
    "TABLE",
    "CardAsked",
    "Effect",
    "Emit",
    "Event",
    "FromSpecialist",
    "LeaveQueue",
    "OfferRequest",
    "Outcome",
    "Phase",
    "PositionChanged",
    "QueueJoined",
    "Record",
    "Reply",
    "SessionState",
    "SpecialistEnded",
    "SpecialistGone",
    "SpecialistJoined",
    "SpecialistOffered",
    "SpecialistSaid",
    "SpecialistTyped",
    "TellEnded",
    "ToSpecialist",
    "ToUser",
    "UserFiledRequest",
    "UserLeft",
    "UserSaid",
    "UserTyped",
    "WaitChecked",
    "transition",
]


class Phase(StrEnum):
    WAITING = "waiting"
    ASSIGNED = "assigned"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class SessionState:
    """Where one chat stands, and the counts its statistics need; never a word of its text."""

    phase: Phase
    opened_at: float
    waiting_since: float | None  # None while a specialist holds it
    agent: str | None = None  # the key of the specialist holding it
    agent_name: str = ""
    waited: float = 0.0  # seconds in the queue so far, over every wait
    position: int | None = None  # the place in the queue the user was last told
    offered: bool = False  # a request was offered while waiting
    requeued: bool = False  # taken back to the queue after a specialist vanished
    messages: int = 0
    converted: bool = False

    @classmethod
    def opened(cls, *, now: float, position: int | None = None) -> SessionState:
        return cls(phase=Phase.WAITING, opened_at=now, waiting_since=now, position=position)


Outcome = tuple[SessionState, tuple[Effect, ...]]


# -- the table ---------------------------------------------------------------------------------


def _user_said(s: SessionState, e: UserSaid) -> Outcome:
    assert s.agent is not None
    return replace(s, messages=s.messages + 1), (
        ToSpecialist(s.agent, "msg", e.text),
        Record(Speaker.USER, e.text),
    )


def _user_typed(s: SessionState, e: UserTyped) -> Outcome:
    return s, (ToSpecialist(s.agent, "typing"),) if s.phase is Phase.ASSIGNED and s.agent else ()


def _user_filed(s: SessionState, e: UserFiledRequest) -> Outcome:
    effects: tuple[Effect, ...] = (ToUser(out.RequestCreated(number=e.number)),)
    if s.phase is Phase.ASSIGNED and s.agent is not None:
        effects += (ToSpecialist(s.agent, "request", e.number),)
    return replace(s, converted=True), effects


def _end(s: SessionState, reason: EndReason, now: float) -> Outcome:
    waited = s.waited
    if s.phase is Phase.WAITING and s.waiting_since is not None:
        waited += now - s.waiting_since
    ended = replace(s, phase=Phase.ENDED, waited=waited)
    data = ChatEnded(
        reason=reason,
        wait_seconds=waited,
        duration_seconds=now - s.opened_at,
        messages=s.messages,
        converted_to_request=s.converted,
    )
    return ended, (LeaveQueue(), Emit(data))


def _user_left(s: SessionState, e: UserLeft) -> Outcome:
    return _end(s, e.reason, e.now)


def _offer(s: SessionState, reason: out.OfferReason) -> Outcome:
    if s.offered:
        return s, ()
    return replace(s, offered=True), (OfferRequest(reason),)


def _queue_joined(s: SessionState, e: QueueJoined) -> Outcome:
    started = ChatStarted(specialists_online=e.specialists_online, queue_position=e.position)
    queued = out.Queued(session=e.sid, position=e.position, specialists_online=e.specialists_online)
    told = replace(s, position=e.position)
    effects: tuple[Effect, ...] = (Emit(started), ToUser(queued))
    if e.specialists_online == 0:
        told, offer = _offer(told, "no_specialist_online")
        effects += offer
    return told, effects


def _wait_checked(s: SessionState, e: WaitChecked) -> Outcome:
    since = s.waiting_since if s.waiting_since is not None else e.now
    if s.phase is not Phase.WAITING or e.now - since < e.max_wait:
        return s, ()
    return _offer(s, "wait_exceeded")


def _position(s: SessionState, e: PositionChanged) -> Outcome:
    if e.position == s.position:
        return s, ()
    return replace(s, position=e.position), (ToUser(out.Position(position=e.position)),)


def _joined(s: SessionState, e: SpecialistJoined) -> Outcome:
    if s.phase is Phase.ASSIGNED and s.agent == e.agent:
        return s, (Reply("intake"),)  # asked again (the specialist reconnected): the intake only
    wait = e.now - (s.waiting_since if s.waiting_since is not None else e.now)
    assigned = replace(
        s,
        phase=Phase.ASSIGNED,
        agent=e.agent,
        agent_name=e.name,
        waiting_since=None,
        waited=s.waited + wait,
        position=None,
    )
    data = ChatAssigned(specialist_id=e.specialist_id, wait_seconds=wait, requeued=s.requeued)
    return assigned, (
        Reply("intake"),
        ToUser(out.Assigned(specialist=out.Specialist(name=e.name))),
        Emit(data),
    )


def _specialist_said(s: SessionState, e: SpecialistSaid) -> Outcome:
    return replace(s, messages=s.messages + 1), (
        Record(Speaker.SPECIALIST, e.text),
        ToUser(out.SpecialistSaid(text=e.text)),
    )


def _specialist_ended(s: SessionState, e: SpecialistEnded) -> Outcome:
    ended, effects = _end(s, EndReason.SPECIALIST_ENDED, e.now)
    return ended, (*effects, TellEnded("specialist_ended"))


def _specialist_gone(s: SessionState, e: SpecialistGone) -> Outcome:
    back = replace(
        s, phase=Phase.WAITING, agent=None, agent_name="", waiting_since=e.now, requeued=True, position=None
    )
    return back, (ToUser(out.SpecialistLeft(requeued=True)),)


# Each handler takes the one event type its rows name.
Handler = Callable[[SessionState, Any], Outcome]


def _only(*effects: Effect) -> Handler:
    """The state stays as it is; `effects` are asked for."""

    def handler(s: SessionState, e: Event) -> Outcome:
        return s, effects

    return handler


W, A, E = Phase.WAITING, Phase.ASSIGNED, Phase.ENDED

# (phase, event type) → what happens. A pair not here is refused.
TABLE: dict[tuple[Phase, type[Event]], Handler] = {
    **{(p, UserTyped): _user_typed for p in (W, A, E)},
    **{(p, UserFiledRequest): _user_filed for p in (W, A, E)},
    **{(p, WaitChecked): _wait_checked for p in (W, A, E)},
    (A, UserSaid): _user_said,
    (W, UserLeft): _user_left,
    (A, UserLeft): _user_left,
    (E, UserLeft): _only(),
    (W, QueueJoined): _queue_joined,
    (W, PositionChanged): _position,
    (A, PositionChanged): _only(),  # a stale queue snapshot: the user is no longer in the queue
    (W, CardAsked): _only(Reply("card")),
    (W, SpecialistJoined): _joined,
    (A, SpecialistJoined): _joined,
    (A, SpecialistSaid): _specialist_said,
    (A, SpecialistTyped): _only(ToUser(out.SpecialistTyping())),
    (A, SpecialistOffered): _only(ToUser(out.RequestOffered()), Reply()),
    (A, SpecialistEnded): _specialist_ended,
    (A, SpecialistGone): _specialist_gone,
}


def transition(state: SessionState, event: Event) -> Outcome:
    """The state after `event` and what to do about it; a named `ChatError` when `event` may not
    happen in `state.phase` (the state is then unchanged)."""
    handler = TABLE.get((state.phase, type(event)))
    if handler is not None and not _heard(state, event):
        raise WrongSpecialist(state.phase, type(event).__name__)
    if handler is None:
        if isinstance(event, UserSaid):
            raise NotAssigned("no specialist has joined this chat yet")
        raise IllegalTransition(state.phase, type(event).__name__)
    return handler(state, event)


def _heard(state: SessionState, event: Event) -> bool:
    """Only the specialist holding the chat is heard in it (any may join it)."""
    if isinstance(event, SpecialistJoined) or not isinstance(event, FromSpecialist):
        return True
    return event.agent == state.agent
