"""The notifications relay (the shared outbox relay over the popup store) as the service runs it: one
active instance behind its lease, ended by its stop event."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import KeyDeletedError, KeyNotFoundError

from notifications.adapters.relay import popup_relay
from notifications.application.service import SYSTEM_CAUSE, NewMessage
from notifications.application.store import PopupStore
from notifications.bootstrap import build_service, stream_name
from notifications.domain.clock import SystemClock
from notifications.settings import NotificationsSettings
from shared.contracts.subjects import POPUPS_STREAM
from shared.lease import open_lease_bucket, run_single
from shared.nats import ensure_stream, stream_config

pytestmark = pytest.mark.integration


async def test_the_relay_publishes_then_stops_cleanly_on_its_stop_event_and_gives_its_lease_back(
    store: PopupStore, settings: NotificationsSettings, nc: NATS
) -> None:
    js, prefix = nc.jetstream(), settings.common.nats_prefix
    await ensure_stream(js, stream_config(POPUPS_STREAM, prefix=prefix))
    stream = stream_name(settings, POPUPS_STREAM)
    relay = popup_relay(
        store, js=js, stream=stream, prefix=prefix, path_template="/{ticket_number}", poll_seconds=30.0
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_single(js, name=stream, work=relay.run, stop=stop, prefix=prefix))
    service = build_service(store, settings, SystemClock())
    message = NewMessage(uuid4(), "hotel-a", "u1", "t", "text", None, None)
    await asyncio.to_thread(service.send_message, message, cause=SYSTEM_CAUSE)

    async with asyncio.timeout(10):
        while (await js.stream_info(stream)).state.messages < 1:
            relay.wake()  # a local commit wakes it, as the service does after each command
            await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)  # ends by itself, without being cancelled (it polls every 30 s)
    assert task.exception() is None
    assert (await js.stream_info(stream)).state.messages == 1
    kv = await open_lease_bucket(js, prefix=prefix)
    with pytest.raises((KeyNotFoundError, KeyDeletedError)):
        await kv.get(stream)  # given back: another replica takes over at once
