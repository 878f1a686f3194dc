"""The SSE fan-out ends every open stream once its NATS connection has reconnected: core NATS does not
replay what was published meanwhile, so browsers must resume from the store with Last-Event-ID."""

from __future__ import annotations

from typing import Any, cast

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from notifications.adapters.fanout import Hub

pytestmark = pytest.mark.unit


class FakeNats:
    def __init__(self) -> None:
        self.stats = {"reconnects": 0}

    async def subscribe(self, subject: str, cb: Any) -> object:
        return object()


def message() -> Msg:
    return Msg(cast(Any, None), subject="helpdesk.popups.v1.raised", data=b"{}", headers={})


async def test_open_streams_are_ended_after_a_reconnect_so_browsers_resume() -> None:
    nc = FakeNats()
    hub = Hub(prefix="", queue_size=8)
    await hub.start(cast(NATS, nc))
    tab = hub.connect(account_id="hotel-a", user_id="u1")

    await hub._on_message(message())  # no reconnect: the stream stays open
    assert tab.queue.empty()

    nc.stats["reconnects"] = 1
    await hub._on_message(message())
    assert tab.queue.get_nowait() is None  # the closing marker: the SSE response ends

    again = hub.connect(account_id="hotel-a", user_id="u1")
    await hub._on_message(message())  # the same reconnect is not acted on twice
    assert again.queue.empty()

