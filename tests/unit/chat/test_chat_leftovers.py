"""This process's entries that nothing here holds are handed for deletion one TTL after they were
left over (as they expired when entries were rewritten on a timer), never earlier, never another's."""

from __future__ import annotations

from typing import cast

from nats.js.kv import KeyValue

from chat.adapters.directory import Directory, Versioned
from chat.application.leftovers import Leftovers
from chat.domain.model import AgentPresence, QueueEntry, Seat

ME = "hb-me"
TTL = 30.0


def mirror() -> Directory:
    directory = Directory(cast(KeyValue, object()))  # never started: the mirror is filled by hand
    for sid, proc in (("held", ME), ("closed", ME), ("theirs", "hb-other")):
        directory.queue[sid] = Versioned(QueueEntry(sid=sid, account_id="a", since=1.0, proc=proc), 3)
        directory.seats[f"u{sid}.0"] = Versioned(Seat(sid=sid, proc=proc), 4)
    for akey in ("connected", "past-grace"):
        directory.agents[akey] = Versioned(AgentPresence(akey=akey, name="S", proc=ME, capacity=2), 5)
    return directory


def sweep(leftovers: Leftovers, now: float) -> None:
    leftovers.sweep(sessions={"held"}, agents={"connected"}, now=now, after=TTL)


def test_left_over_entries_are_handed_for_deletion_one_ttl_after_first_seen_and_only_ours() -> None:
    directory = mirror()
    leftovers = Leftovers(directory, ME)
    sweep(leftovers, 0.0)
    sweep(leftovers, TTL - 1)
    assert directory.stale == {}
    sweep(leftovers, TTL)
    assert directory.stale == {"q.closed": 3, "s.uclosed.0": 4, "a.past-grace": 5}


def test_an_entry_written_again_meanwhile_waits_a_whole_ttl_from_its_new_revision() -> None:
    directory = mirror()
    leftovers = Leftovers(directory, ME)
    sweep(leftovers, 0.0)
    closed = directory.queue["closed"]
    directory.queue["closed"] = Versioned(closed.value, 9)
    sweep(leftovers, TTL)
    assert "q.closed" not in directory.stale
    sweep(leftovers, 2 * TTL)
    assert directory.stale["q.closed"] == 9


def test_an_entry_held_again_before_the_ttl_is_not_deleted() -> None:
    directory = mirror()
    leftovers = Leftovers(directory, ME)
    sweep(leftovers, 0.0)
    leftovers.sweep(sessions={"held", "closed"}, agents={"connected", "past-grace"}, now=TTL / 2, after=TTL)
    sweep(leftovers, TTL)
    assert directory.stale == {}
