"""A stream's inbox: the bounded, first-in-first-out queue of one reader the hub fills (what
`asyncio.Queue` did, without its deques and `Event` per stream)."""

from __future__ import annotations

import asyncio

import pytest

from notifications.adapters.fanout import Inbox

pytestmark = pytest.mark.unit


def test_items_come_out_in_order_and_a_full_inbox_refuses_more() -> None:
    inbox = Inbox(2)
    inbox.put_nowait(b": ping\n\n")
    inbox.put_nowait(None)
    with pytest.raises(asyncio.QueueFull):
        inbox.put_nowait(b"late")
    assert [inbox.get_nowait(), inbox.get_nowait()] == [b": ping\n\n", None]
    assert inbox.empty()
    with pytest.raises(asyncio.QueueEmpty):
        inbox.get_nowait()


async def test_a_waiting_reader_wakes_on_the_next_item_and_a_cancelled_one_leaves_no_waiter() -> None:
    inbox = Inbox(4)
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait(b"one")
    assert await asyncio.wait_for(reader, 1) == b"one"

    cancelled = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    inbox.put_nowait(b"two")  # no reader waits: it stays queued for the next one
    assert await asyncio.wait_for(inbox.get(), 1) == b"two"
