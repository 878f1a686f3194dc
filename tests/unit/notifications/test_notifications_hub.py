"""The process's one fan-out hub: every change reaches each open stream of its recipients exactly
once (every user of the account, or the one user whose own change it is), and a closed stream leaves
the hub at once."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

from notifications.adapters.fanout import HEARTBEAT_SLICE, Change, Connection, Hub

pytestmark = pytest.mark.unit


def change(position: int, *, account_id: str, addressed_to: str | None) -> Change:
    envelope = SimpleNamespace(account_id=account_id, data=SimpleNamespace(addressed_to=addressed_to))
    return Change(position, cast(Any, envelope))


def drain(connection: Connection) -> list[Change | bytes | None]:
    out = []
    while not connection.queue.empty():
        out.append(connection.queue.get_nowait())
    return out


def test_an_account_wide_popup_reaches_every_tab_of_every_user_of_the_account_once() -> None:
    hub = Hub(prefix="", queue_size=8)
    tabs = {
        (user, n): hub.connect(account_id="hotel-a", user_id=user) for user in ("u1", "u2") for n in (1, 2)
    }
    elsewhere = hub.connect(account_id="hotel-b", user_id="u1")

    raised = change(1, account_id="hotel-a", addressed_to=None)
    hub.publish_locally(raised)

    assert all(drain(tab) == [raised] for tab in tabs.values())
    assert drain(elsewhere) == []


def test_a_users_own_change_of_an_account_wide_popup_goes_to_that_users_tabs_only() -> None:
    hub = Hub(prefix="", queue_size=8)
    mine = [hub.connect(account_id="hotel-a", user_id="u1") for _ in range(2)]
    theirs = hub.connect(account_id="hotel-a", user_id="u2")

    snoozed = change(2, account_id="hotel-a", addressed_to="u1")
    hub.publish_locally(snoozed)

    assert [drain(tab) for tab in mine] == [[snoozed], [snoozed]]
    assert drain(theirs) == []


def test_a_closed_stream_gets_its_end_marker_and_nothing_after_it() -> None:
    hub = Hub(prefix="", queue_size=8)
    closed = hub.connect(account_id="hotel-a", user_id="u1")
    open_ = hub.connect(account_id="hotel-a", user_id="u1")

    hub.close(closed)
    later = change(3, account_id="hotel-a", addressed_to="u1")
    hub.publish_locally(later)

    assert drain(closed) == [None]
    assert drain(open_) == [later]
    hub.disconnect(open_)
    hub.publish_locally(change(4, account_id="hotel-a", addressed_to=None))
    assert drain(open_) == []


def test_a_stream_too_slow_for_its_queue_is_ended_without_holding_up_the_others() -> None:
    hub = Hub(prefix="", queue_size=2)
    slow = hub.connect(account_id="hotel-a", user_id="u1")
    fast = hub.connect(account_id="hotel-a", user_id="u2")
    for position in range(1, 4):
        hub.publish_locally(change(position, account_id="hotel-a", addressed_to=None))
        drain(fast)

    assert drain(slow) == [None]


async def test_close_all_ends_every_open_stream() -> None:
    hub = Hub(prefix="", queue_size=8)
    tabs = [hub.connect(account_id=f"hotel-{n % 3}", user_id=f"u{n}") for n in range(10)]

    hub.close_all()

    assert [await asyncio.wait_for(tab.queue.get(), 1) for tab in tabs] == [None] * 10


class Tab:
    """A stream's direct write as the HTTP server offers it: takes frames until its buffer is full."""

    def __init__(self, *, room: int = 100) -> None:
        self.written: list[bytes] = []
        self.room = room

    def write(self, frame: bytes) -> bool:
        if len(self.written) >= self.room:
            return False
        self.written.append(frame)
        return True


async def parked(connection: Connection) -> asyncio.Task[Change | bytes | None]:
    """The stream's sender waiting for its next item, as it does when it has nothing to send."""
    reader = asyncio.create_task(connection.queue.get())
    await asyncio.sleep(0)
    assert connection.queue.parked()
    return reader


def frame_of(change: Change) -> bytes:
    vars(change)["frame"] = f"id: {change.position}\n\n".encode()  # the encoded frame, as cached
    return change.frame


async def test_an_idle_stream_is_written_to_directly_in_order_and_its_sender_is_not_woken() -> None:
    hub = Hub(prefix="", queue_size=8)
    tab, connection = Tab(), hub.connect(account_id="hotel-a", user_id="u1")
    connection.write, connection.sent = tab.write, 1
    reader = await parked(connection)

    changes = [change(n, account_id="hotel-a", addressed_to=None) for n in (1, 2, 3)]
    frames = [frame_of(c) for c in changes]
    for c in changes:
        hub.publish_locally(c)  # 1 was sent already (in the replay, say): not again
    await hub.heartbeat(b": ping\n\n")

    assert tab.written == [frames[1], frames[2], b": ping\n\n"]
    assert connection.sent == 3
    assert not reader.done() and connection.queue.parked()
    reader.cancel()


async def test_a_stream_whose_buffer_is_full_gets_its_changes_queued_and_is_closed_when_they_overflow() -> (
    None
):
    hub = Hub(prefix="", queue_size=2)
    full, ok = Tab(room=1), Tab()
    slow, fast = (hub.connect(account_id="hotel-a", user_id=u) for u in ("u1", "u2"))
    slow.write, fast.write = full.write, ok.write
    slow_reader, fast_reader = await parked(slow), await parked(fast)

    changes = [change(n, account_id="hotel-a", addressed_to=None) for n in range(1, 6)]
    for c in changes:
        frame_of(c)
        hub.publish_locally(c)

    assert full.written == [changes[0].frame]  # then its buffer was full: queued, for its sender,
    assert await slow_reader is None  # until the queue overflowed: ended, it reconnects and resumes
    assert slow not in hub.streams() and slow.write is None
    assert ok.written == [c.frame for c in changes]  # the other tab had every change, at once
    assert fast in hub.streams() and not fast_reader.done()
    fast_reader.cancel()


async def test_a_stream_busy_sending_gets_the_next_change_queued_behind_what_it_sends() -> None:
    hub = Hub(prefix="", queue_size=8)
    tab, connection = Tab(), hub.connect(account_id="hotel-a", user_id="u1")
    connection.write = tab.write
    first, second = (change(n, account_id="hotel-a", addressed_to="u1") for n in (1, 2))
    frame_of(first)
    frame_of(second)

    hub.publish_locally(first)  # no sender waiting yet (still sending its first events): queued
    hub.publish_locally(second)  # something is queued: behind it, not around it

    assert tab.written == []
    assert drain(connection) == [first, second]


async def test_the_heartbeat_reaches_every_idle_stream_in_slices_letting_the_loop_run_between() -> None:
    hub = Hub(prefix="", queue_size=8)
    tabs = [hub.connect(account_id="hotel-a", user_id=f"u{n}") for n in range(HEARTBEAT_SLICE * 2 + 1)]
    busy = tabs[0]
    busy.queue.put_nowait(b"queued")
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counting = asyncio.create_task(count_turns())
    await asyncio.sleep(0)
    before = turns
    await hub.heartbeat(b": ping\n\n")
    counting.cancel()

    assert drain(busy) == [b"queued"]  # it has something to send: no heartbeat needed
    assert all(drain(tab) == [b": ping\n\n"] for tab in tabs[1:])
    assert turns - before >= 2  # the loop ran between the slices
