"""The chat's pure rules: intake, queue order, capacity, limits, the draft request, the contracts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from chat.domain.conversation import Speaker, Transcript
from chat.domain.errors import CapacityExceeded, InvalidIntake
from chat.domain.intake import IntakeLimits, make_intake, normalise_phone
from chat.domain.limits import AbuseMeter, TokenBucket
from chat.domain.model import (
    RANK_REQUEUED,
    AgentPresence,
    AgentStatus,
    QueueEntry,
    positions,
    specialists_online,
    waiting_in_order,
)
from chat.domain.routing import may_take
from shared.contracts.chat import (
    EVENT_TYPES,
    RELAY_SUBJECT_ROOT,
    STATS_SUBJECTS,
    ChatEnded,
    EndReason,
)

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("044 123 45 67", "+380441234567"),
        ("+380 (67) 555-12-34", "+380675551234"),
        ("0675551234", "+380675551234"),
        ("+1 650 253 0000", "+16502530000"),
    ],
)
def test_a_phone_number_is_normalised_to_e164_with_ukraine_as_the_default_region(
    typed: str, expected: str
) -> None:
    assert normalise_phone(typed, default_region="UA") == expected


@pytest.mark.parametrize("typed", ["", "12", "not a number", "+380 44", "1" * 40])
def test_an_invalid_phone_number_is_refused_without_echoing_it(typed: str) -> None:
    with pytest.raises(InvalidIntake) as raised:
        normalise_phone(typed, default_region="UA")
    assert raised.value.field == "phone"
    if typed:
        assert typed not in str(raised.value)


def test_the_default_region_decides_how_a_national_number_is_read() -> None:
    assert normalise_phone("030 123456", default_region="DE") == "+4930123456"


def test_an_intake_is_trimmed_bounded_and_hides_the_phone_from_its_repr() -> None:
    limits = IntakeLimits(max_name_chars=10, max_question_chars=20)
    intake = make_intake(
        name="  Ivan   P ", phone="044 123 45 67", question=" Printer\n broken ", limits=limits
    )
    assert (intake.name, intake.phone, intake.question) == ("Ivan P", "+380441234567", "Printer broken")
    assert "+380" not in repr(intake)
    with pytest.raises(InvalidIntake) as raised:
        make_intake(name="Ivan", phone="044 123 45 67", question="q" * 21, limits=limits)
    assert raised.value.field == "question"
    with pytest.raises(InvalidIntake):
        make_intake(name="   ", phone="044 123 45 67", question="q", limits=limits)


def entry(sid: str, since: float, **kw: object) -> QueueEntry:
    return QueueEntry(sid=sid, account_id="hotel-a", since=since, proc="p", **kw)  # type: ignore[arg-type]


def test_the_longest_waiting_user_is_first_and_users_put_back_go_to_the_head() -> None:
    a, b, c = entry("a", 1.0), entry("b", 2.0), entry("c", 3.0)
    assigned = entry("x", 0.5).assign("agent", now=4.0)
    assert [e.sid for e in waiting_in_order([c, assigned, b, a])] == ["a", "b", "c"]
    back = entry("z", 9.0).assign("agent", now=9.5).requeue()
    assert back.rank == RANK_REQUEUED and back.since == 9.0 and back.agent is None
    assert positions([a, b, c, back, assigned]) == {"z": 1, "a": 2, "b": 3, "c": 4}


def test_a_specialist_never_holds_more_chats_than_their_capacity() -> None:
    agent = AgentPresence(akey="k", name="Olena", proc="p", capacity=2, status=AgentStatus.AVAILABLE)
    full = agent.with_session("s1").with_session("s2")
    assert full.free_slots == 0
    assert full.with_session("s2") is full, "adding a held chat again changes nothing"
    with pytest.raises(CapacityExceeded):
        full.with_session("s3")
    assert full.without_session("s1").free_slots == 1


def test_an_away_or_disconnected_specialist_takes_no_new_chats_and_is_not_online() -> None:
    away = AgentPresence(akey="k", name="n", proc="p", capacity=3)
    gone = AgentPresence(
        akey="j", name="n", proc="p", capacity=3, status=AgentStatus.AVAILABLE, connected=False
    )
    assert away.free_slots == 0 and gone.free_slots == 0
    with pytest.raises(CapacityExceeded):
        away.with_session("s")
    assert specialists_online({"k": away, "j": gone}) == 0


def test_directory_records_survive_encoding_and_carry_no_personal_data() -> None:
    agent = AgentPresence(akey="k", name="Olena", proc="p", capacity=2, sessions=("s1",), teams=("billing",))
    assert AgentPresence.decode(agent.encode()) == agent
    queued = entry("s1", 5.0).assign("k", now=6.0)
    assert QueueEntry.decode(queued.encode()) == queued
    assert set(QueueEntry.__dataclass_fields__) == {
        "sid",
        "account_id",
        "since",
        "proc",
        "state",
        "rank",
        "agent",
        "assigned_at",
        "team",  # the support team of the chat's topic: a team id, nothing about the user
    }


def test_a_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5
    assert bucket.allow() is True
    assert bucket.allow() is False


def test_the_abuse_meter_trips_only_on_many_rejections_within_its_window() -> None:
    clock = FakeClock()
    meter = AbuseMeter(threshold=3, window_seconds=10, clock=clock)
    assert [meter.record() for _ in range(3)] == [False, False, False]
    clock.now += 11
    assert meter.record() is False
    assert [meter.record() for _ in range(3)] == [False, False, True]


def test_the_draft_request_holds_the_question_and_the_conversation_but_not_the_phone() -> None:
    intake = make_intake(name="Ivan", phone="044 123 45 67", question="Printer broken", limits=IntakeLimits())
    transcript = Transcript(max_lines=2)
    for text in ("first", "second", "third"):
        transcript.add(Speaker.USER, text)
    transcript.add(Speaker.SPECIALIST, "fixed")
    draft = transcript.draft(intake, topic="chat", max_message_chars=1000)
    assert draft.comment == "Printer broken"
    assert draft.message.splitlines() == ["Question: Printer broken", "Me: third", "Support: fixed"]
    assert "+380441234567" not in draft.message
    assert draft.as_form() == {
        "topic": "chat",
        "comment": "Printer broken",
        "message": draft.message,
        "importance": "normal",
    }


def test_chat_events_carry_no_content_and_their_stream_does_not_capture_the_relay() -> None:
    assert set(EVENT_TYPES) == {"chat.started", "chat.assigned", "chat.ended"}
    with pytest.raises(ValidationError):
        ChatEnded.model_validate(
            {
                "reason": EndReason.USER_LEFT,
                "wait_seconds": 1,
                "duration_seconds": 2,
                "messages": 3,
                "text": "hi",
            }
        )
    for model in EVENT_TYPES.values():
        assert not {"text", "phone", "name", "question", "message"} & set(model.model_fields)
    for subject in STATS_SUBJECTS:
        assert not (RELAY_SUBJECT_ROOT + ".u.x").startswith(subject.rstrip(">"))


def test_a_topics_chat_goes_to_its_team_while_one_of_them_is_free() -> None:
    billing = AgentPresence(
        akey="b", name="B", proc="p", capacity=1, status=AgentStatus.AVAILABLE, teams=("billing",)
    )
    general = AgentPresence(
        akey="g", name="G", proc="p", capacity=1, status=AgentStatus.AVAILABLE, teams=("general",)
    )
    chat = replace(entry("s1", 1.0), team="billing")
    assert may_take(chat, billing, [billing, general], any_team_fallback=True)
    assert not may_take(chat, general, [billing, general], any_team_fallback=True)
    busy = billing.with_session("s0")
    assert may_take(chat, general, [busy, general], any_team_fallback=True)
    assert not may_take(chat, general, [busy, general], any_team_fallback=False)
    assert may_take(replace(chat, team=None), general, [billing, general], any_team_fallback=False)
