"""The queue specialists see, and who the matching loop may route to: pure rules, no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chat.application.board import Card, queue_entries
from chat.domain.model import AgentPresence, AgentStatus, QueueEntry, waiting_in_order

pytestmark = pytest.mark.unit


def entry(sid: str, since: float, account: str = "hotel-a") -> QueueEntry:
    return QueueEntry(sid=sid, account_id=account, since=since, proc="p")


def test_the_queue_frame_lists_the_waiting_users_in_serving_order_with_their_question() -> None:
    early, late = entry("early", 1_700_000_000.25), entry("late", 1_700_000_060.0, account="hotel-b")
    taken = entry("taken", 1_699_999_000.0).assign("k", now=1_700_000_001.0)
    back = entry("back", 1_700_000_100.0).assign("k", now=1_700_000_101.0).requeue()
    cards = {"early": Card(name="Ivan", question="Night audit fails"), "late": None}
    entries = [row.wire() for row in queue_entries(waiting_in_order([late, taken, early, back]), cards)]
    assert [e["session"] for e in entries] == ["back", "early", "late"]
    assert [e["position"] for e in entries] == [1, 2, 3]
    assert entries[1] == {
        "session": "early",
        "waiting_since": "2023-11-14T22:13:20.250+00:00",
        "account_id": "hotel-a",
        "name": "Ivan",
        "question": "Night audit fails",
        "position": 2,
    }
    assert datetime.fromisoformat(entries[1]["waiting_since"]) == datetime.fromtimestamp(
        1_700_000_000.25, tz=UTC
    )
    # Not (yet) told by the user's process: still in the queue, in its place, without the text.
    assert (entries[0]["name"], entries[0]["question"]) == (None, None)
    assert (entries[2]["account_id"], entries[2]["question"]) == ("hotel-b", None)
    json.dumps(entries)


def test_a_card_keeps_the_name_and_the_question_out_of_its_repr() -> None:
    card = Card(name="Ivan Petrenko", question="Night audit fails")
    assert "Ivan" not in repr(card) and "audit" not in repr(card)


def test_a_manual_specialist_is_online_with_free_slots_but_not_routed_to() -> None:
    manual = AgentPresence(akey="m", name="n", proc="p", capacity=2, status=AgentStatus.AVAILABLE, auto=False)
    automatic = AgentPresence(akey="a", name="n", proc="p", capacity=2, status=AgentStatus.AVAILABLE)
    assert manual.online and manual.free_slots == 2 and not manual.routable
    assert automatic.routable
    assert not automatic.with_session("s1").with_session("s2").routable


def test_a_presence_written_before_or_after_this_version_still_decodes() -> None:
    older = json.dumps(
        {"akey": "k", "name": "n", "proc": "p", "capacity": 3, "status": "available", "sessions": []}
    ).encode()
    assert AgentPresence.decode(older).auto is True
    manual = AgentPresence(akey="k", name="n", proc="p", capacity=3, auto=False)
    assert AgentPresence.decode(manual.encode()) == manual
    newer = json.loads(manual.encode())
    newer["something_new"] = 1
    assert AgentPresence.decode(json.dumps(newer).encode()) == manual
