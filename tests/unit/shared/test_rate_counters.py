"""Concurrent increments of one counter subject, sent as one: each still gets its own count."""

from __future__ import annotations

import asyncio

import pytest

from shared.ratecounters import CoalescedIncrements

pytestmark = pytest.mark.unit


class Counters:
    """A counter server: `send` adds `by` to a subject and answers the new total."""

    def __init__(self, *, fail: Exception | None = None) -> None:
        self.totals: dict[str, int] = {}
        self.sent: list[tuple[str, int]] = []
        self.fail = fail

    async def send(self, subject: str, by: int) -> int:
        self.sent.append((subject, by))
        await asyncio.sleep(0)  # the acknowledgement comes back later
        if self.fail is not None:
            raise self.fail
        self.totals[subject] = self.totals.get(subject, 0) + by
        return self.totals[subject]


async def test_increments_queued_in_one_turn_go_out_as_one_per_subject_each_with_its_own_count() -> None:
    server = Counters()
    server.totals["user"] = 10  # what other replicas already counted
    increments = CoalescedIncrements(server.send)
    counts = await asyncio.gather(*(increments.add(s) for s in ("user", "user", "account", "user")))
    assert counts == [11, 12, 1, 13]  # in the order they were queued
    assert sorted(server.sent) == [("account", 1), ("user", 3)]
    assert await increments.add("user") == 14  # a later turn is a new publish
    assert len(server.sent) == 3


async def test_give_backs_are_coalesced_too() -> None:
    server = Counters()
    server.totals["account"] = 7
    give_backs = CoalescedIncrements(server.send, step=-1)
    assert list(await asyncio.gather(give_backs.add("account"), give_backs.add("account"))) == [6, 5]
    assert server.sent == [("account", -2)]


async def test_a_failed_send_fails_every_increment_it_carried_and_a_gone_caller_is_skipped() -> None:
    lost = ConnectionError("gone")
    increments = CoalescedIncrements(Counters(fail=lost).send)
    first, second = increments.add("user"), increments.add("user")
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert list(results) == [lost, lost]

    server = Counters()
    increments = CoalescedIncrements(server.send)
    gone, kept = increments.add("user"), increments.add("user")
    gone.cancel()  # its request went away before the acknowledgement
    assert await kept == 2  # the increment was still sent and counted
    assert server.sent == [("user", 2)]
