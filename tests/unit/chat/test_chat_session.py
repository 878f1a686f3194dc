"""The chat session's state machine: every legal transition, every other one refused, and what stays
true whatever happens (a property test over random event sequences)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.domain import server_frames as out
from chat.domain import session as sm
from chat.domain.conversation import Speaker
from chat.domain.errors import ChatError, IllegalTransition, NotAssigned, WrongSpecialist
from shared.contracts.chat import ChatAssigned, ChatEnded, ChatStarted, EndReason

pytestmark = pytest.mark.unit

W, A, E = sm.Phase.WAITING, sm.Phase.ASSIGNED, sm.Phase.ENDED
AGENT = "a1"


def waiting(now: float = 100.0) -> sm.SessionState:
    return sm.SessionState.opened(now=now)


def assigned(agent: str = AGENT) -> sm.SessionState:
    state, _ = sm.transition(waiting(), sm.SpecialistJoined(agent, "Olena", "sub-1", 130.0))
    return state


def ended() -> sm.SessionState:
    state, _ = sm.transition(waiting(), sm.UserLeft(EndReason.USER_LEFT, 150.0))
    return state


STATES: dict[sm.Phase, Callable[[], sm.SessionState]] = {W: waiting, A: assigned, E: ended}

# One example of each event, from the assigned specialist where it names one.
EXAMPLES: dict[type[sm.Event], sm.Event] = {
    sm.UserSaid: sm.UserSaid("hello"),
    sm.UserTyped: sm.UserTyped(),
    sm.UserFiledRequest: sm.UserFiledRequest("R-1"),
    sm.UserLeft: sm.UserLeft(EndReason.USER_LEFT, 200.0),
    sm.QueueJoined: sm.QueueJoined("s1", 2, 1),
    sm.WaitChecked: sm.WaitChecked(300.0, 120.0),
    sm.PositionChanged: sm.PositionChanged(3),
    sm.CardAsked: sm.CardAsked(),
    sm.SpecialistJoined: sm.SpecialistJoined("a2", "Taras", "sub-2", 200.0),
    sm.SpecialistSaid: sm.SpecialistSaid(AGENT, "hi"),
    sm.SpecialistTyped: sm.SpecialistTyped(AGENT),
    sm.SpecialistOffered: sm.SpecialistOffered(AGENT),
    sm.SpecialistEnded: sm.SpecialistEnded(AGENT, 200.0),
    sm.SpecialistGone: sm.SpecialistGone(200.0),
}

LEGAL = sorted(sm.TABLE, key=lambda key: (key[0].value, key[1].__name__))
ILLEGAL = sorted(
    ((phase, kind) for phase in sm.Phase for kind in EXAMPLES if (phase, kind) not in sm.TABLE),
    key=lambda key: (key[0].value, key[1].__name__),
)


def test_every_event_type_has_an_example_and_the_table_names_only_known_ones() -> None:
    assert set(EXAMPLES) == set(sm.Event.__args__)
    assert {kind for _, kind in sm.TABLE} <= set(EXAMPLES)


@pytest.mark.parametrize(("phase", "kind"), LEGAL, ids=lambda v: getattr(v, "__name__", str(v)))
def test_a_legal_transition_is_taken(phase: sm.Phase, kind: type[sm.Event]) -> None:
    state, effects = sm.transition(STATES[phase](), EXAMPLES[kind])
    assert isinstance(state, sm.SessionState)
    assert all(isinstance(effect, sm.Effect.__args__) for effect in effects)


@pytest.mark.parametrize(("phase", "kind"), ILLEGAL, ids=lambda v: getattr(v, "__name__", str(v)))
def test_an_illegal_transition_is_refused_with_a_named_error(phase: sm.Phase, kind: type[sm.Event]) -> None:
    with pytest.raises(ChatError) as refused:
        sm.transition(STATES[phase](), EXAMPLES[kind])
    expected = NotAssigned if kind is sm.UserSaid else IllegalTransition
    assert isinstance(refused.value, expected)


def test_the_phases_move_as_drawn() -> None:
    moves = {
        (W, sm.SpecialistJoined): A,
        (A, sm.SpecialistJoined): A,
        (A, sm.SpecialistGone): W,
        (A, sm.SpecialistEnded): E,
        (W, sm.UserLeft): E,
        (A, sm.UserLeft): E,
        (E, sm.UserLeft): E,
    }
    for (phase, kind), after in moves.items():
        assert sm.transition(STATES[phase](), EXAMPLES[kind])[0].phase is after
    staying = [key for key in sm.TABLE if key not in moves]
    for phase, kind in staying:
        assert sm.transition(STATES[phase](), EXAMPLES[kind])[0].phase is phase


def test_joining_the_queue_tells_the_place_and_offers_a_request_when_nobody_is_online() -> None:
    state, effects = sm.transition(waiting(), sm.QueueJoined("s1", 4, 0))
    assert state.position == 4 and state.offered
    assert effects == (
        sm.Emit(ChatStarted(specialists_online=0, queue_position=4)),
        sm.ToUser(out.Queued(session="s1", position=4, specialists_online=0)),
        sm.OfferRequest("no_specialist_online"),
    )
    _, effects = sm.transition(waiting(), sm.QueueJoined("s1", 1, 2))
    assert not any(isinstance(effect, sm.OfferRequest) for effect in effects)


def test_a_user_may_talk_only_to_the_specialist_who_joined() -> None:
    with pytest.raises(NotAssigned, match="no specialist has joined"):
        sm.transition(waiting(), sm.UserSaid("hello"))
    state, effects = sm.transition(assigned(), sm.UserSaid("hello"))
    assert state.messages == 1
    assert effects == (sm.ToSpecialist(AGENT, "msg", "hello"), sm.Record(Speaker.USER, "hello"))


def test_typing_before_anyone_joined_is_heard_by_nobody() -> None:
    assert sm.transition(waiting(), sm.UserTyped()) == (waiting(), ())
    assert sm.transition(assigned(), sm.UserTyped())[1] == (sm.ToSpecialist(AGENT, "typing"),)


def test_another_specialist_is_not_heard_in_a_chat_that_is_not_theirs() -> None:
    for event in (
        sm.SpecialistSaid("a2", "hi"),
        sm.SpecialistTyped("a2"),
        sm.SpecialistOffered("a2"),
        sm.SpecialistEnded("a2", 200.0),
    ):
        with pytest.raises(WrongSpecialist):
            sm.transition(assigned(), event)


def test_the_assigned_specialist_asked_again_gets_the_intake_without_a_second_announcement() -> None:
    state = assigned()
    again, effects = sm.transition(state, sm.SpecialistJoined(AGENT, "Olena", "sub-1", 190.0))
    assert again == state
    assert effects == (sm.Reply("intake"),)


def test_an_assignment_counts_the_wait_and_announces_the_specialist() -> None:
    state, effects = sm.transition(waiting(100.0), sm.SpecialistJoined(AGENT, "Olena", "sub-1", 130.0))
    assert (state.agent, state.agent_name, state.waited, state.waiting_since) == (AGENT, "Olena", 30.0, None)
    assert effects == (
        sm.Reply("intake"),
        sm.ToUser(out.Assigned(specialist=out.Specialist(name="Olena"))),
        sm.Emit(ChatAssigned(specialist_id="sub-1", wait_seconds=30.0, requeued=False)),
    )


def test_a_vanished_specialist_puts_the_user_back_in_the_queue_as_requeued() -> None:
    state, effects = sm.transition(assigned(), sm.SpecialistGone(170.0))
    assert (state.phase, state.agent, state.waiting_since, state.requeued) == (W, None, 170.0, True)
    assert effects == (sm.ToUser(out.SpecialistLeft(requeued=True)),)
    again, effects = sm.transition(state, sm.SpecialistJoined("a2", "Taras", "sub-2", 180.0))
    assert again.waited == 40.0
    assert sm.Emit(ChatAssigned(specialist_id="sub-2", wait_seconds=10.0, requeued=True)) in effects


def test_the_specialist_ending_the_chat_leaves_the_queue_and_tells_the_user_with_a_draft() -> None:
    state, effects = sm.transition(assigned(), sm.SpecialistEnded(AGENT, 200.0))
    assert state.phase is E
    assert effects == (
        sm.LeaveQueue(),
        sm.Emit(
            ChatEnded(
                reason=EndReason.SPECIALIST_ENDED,
                wait_seconds=30.0,
                duration_seconds=100.0,
                messages=0,
                converted_to_request=False,
            )
        ),
        sm.TellEnded("specialist_ended"),
    )


def test_leaving_while_waiting_counts_the_wait_and_leaving_twice_does_nothing() -> None:
    state, effects = sm.transition(waiting(100.0), sm.UserLeft(EndReason.IDLE_TIMEOUT, 160.0))
    assert state.waited == 60.0
    assert effects[0] == sm.LeaveQueue()
    assert sm.transition(state, sm.UserLeft(EndReason.USER_LEFT, 170.0)) == (state, ())


def test_a_request_is_offered_once_when_the_wait_is_too_long() -> None:
    state = waiting(100.0)
    assert sm.transition(state, sm.WaitChecked(219.0, 120.0)) == (state, ())
    offered, effects = sm.transition(state, sm.WaitChecked(220.0, 120.0))
    assert offered.offered and effects == (sm.OfferRequest("wait_exceeded"),)
    assert sm.transition(offered, sm.WaitChecked(500.0, 120.0)) == (offered, ())
    assert sm.transition(assigned(), sm.WaitChecked(10_000.0, 120.0))[1] == ()


def test_a_request_may_be_filed_in_any_phase_and_the_specialist_hears_of_it_while_assigned() -> None:
    for make in STATES.values():
        state, effects = sm.transition(make(), sm.UserFiledRequest("R-7"))
        assert state.converted and effects[0] == sm.ToUser(out.RequestCreated(number="R-7"))
    assert sm.transition(assigned(), sm.UserFiledRequest("R-7"))[1][1] == sm.ToSpecialist(
        AGENT, "request", "R-7"
    )


def test_the_position_is_told_only_when_it_changes() -> None:
    state, effects = sm.transition(waiting(), sm.PositionChanged(2))
    assert effects == (sm.ToUser(out.Position(position=2)),)
    assert sm.transition(state, sm.PositionChanged(2)) == (state, ())


def test_an_illegal_event_leaves_the_state_as_it_was() -> None:
    state = replace(ended(), messages=3)
    with pytest.raises(IllegalTransition) as refused:
        sm.transition(state, sm.SpecialistJoined(AGENT, "Olena", "sub-1", 300.0))
    assert (refused.value.phase, refused.value.event) == ("ended", "SpecialistJoined")
    assert state.messages == 3


def test_no_event_or_effect_shows_chat_text_in_its_repr() -> None:
    secret = "my password is hunter2"
    for value in (
        sm.UserSaid(secret),
        sm.SpecialistSaid(AGENT, secret),
        sm.ToSpecialist(AGENT, "msg", secret),
        sm.Record(Speaker.USER, secret),
    ):
        assert secret not in repr(value)


# -- whatever happens ----------------------------------------------------------------------------

agents = st.sampled_from(["a1", "a2"])
times = st.floats(min_value=0, max_value=50, allow_nan=False)
events = st.one_of(
    st.builds(sm.UserSaid, st.just("x")),
    st.just(sm.UserTyped()),
    st.builds(sm.UserFiledRequest, st.just("R-1")),
    st.builds(sm.UserLeft, st.sampled_from(list(EndReason)), times),
    st.builds(sm.QueueJoined, st.just("s1"), st.integers(1, 5), st.integers(0, 3)),
    st.builds(sm.WaitChecked, times, st.floats(min_value=1, max_value=30)),
    st.builds(sm.PositionChanged, st.integers(1, 5)),
    st.just(sm.CardAsked()),
    st.builds(sm.SpecialistJoined, agents, st.just("n"), st.just("sub"), times),
    st.builds(sm.SpecialistSaid, agents, st.just("y")),
    st.builds(sm.SpecialistTyped, agents),
    st.builds(sm.SpecialistOffered, agents),
    st.builds(sm.SpecialistEnded, agents, times),
    st.builds(sm.SpecialistGone, times),
)


def _at(event: sm.Event, clock: float) -> sm.Event:
    """The event as it happens at `clock` (times only ever go forward)."""
    if hasattr(event, "now"):
        return cast(sm.Event, replace(cast(Any, event), now=clock))
    return event


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(events, st.floats(min_value=0, max_value=10)), max_size=40))
def test_whatever_happens_the_session_keeps_its_invariants(steps: list[tuple[sm.Event, float]]) -> None:
    state = waiting(0.0)
    clock = 0.0
    left = ended_stats = 0
    for event, pause in steps:
        clock += pause
        before = state
        try:
            state, effects = sm.transition(state, _at(event, clock))
        except ChatError:
            assert state == before  # refused: nothing changed
            continue
        left += sum(isinstance(e, sm.LeaveQueue) for e in effects)
        ended_stats += sum(isinstance(e, sm.Emit) and isinstance(e.data, ChatEnded) for e in effects)
        if before.phase is E:
            assert state.phase is E  # ended is final
        if state.phase is A:
            assert state.agent is not None and state.waiting_since is None
        if state.phase is W:
            assert state.agent is None and state.waiting_since is not None
        assert state.messages >= before.messages and state.waited >= before.waited >= 0
        assert state.offered >= before.offered and state.converted >= before.converted
        for effect in effects:
            if isinstance(effect, sm.ToSpecialist):
                assert effect.agent == before.agent  # only the specialist holding the chat hears it
    assert left == ended_stats == (1 if state.phase is E else 0)
