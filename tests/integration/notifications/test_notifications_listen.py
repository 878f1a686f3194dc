"""PostgreSQL: the relay follows the store through LISTEN/NOTIFY, not its (here very slow) polling."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from uuid import uuid4

import pytest
from nats.aio.client import Client as NATS

from notifications.adapters.relay import popup_relay
from notifications.application.service import SYSTEM_CAUSE, NewMessage
from notifications.application.store import open_store
from notifications.bootstrap import build_service, migrate, stream_name
from notifications.settings import NotificationsSettings
from shared.contracts.subjects import POPUPS_STREAM
from shared.pglisten import PgListener
from tests.support.notifications import FakeClock
from tests.support.wait import eventually

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def store_kind() -> str:
    return "postgres"


async def test_a_commit_by_another_process_reaches_the_stream_at_once_though_the_relay_polls_rarely(
    settings: NotificationsSettings, nc: NATS
) -> None:
    await migrate(settings)
    assert settings.postgres_dsn is not None
    js = nc.jetstream()
    ours, theirs = (open_store(settings.store_env(create_tables=False)) for _ in range(2))
    relay = popup_relay(
        ours,
        js=js,
        stream=stream_name(settings, POPUPS_STREAM),
        prefix=settings.common.nats_prefix,
        path_template=settings.ticket_path_template,
        poll_seconds=60.0,  # were it polling, the test would time out
    )
    watcher = PgListener(
        dsn=settings.postgres_dsn.get_secret_value(),
        channel=ours.recorder.channel_name,  # type: ignore[attr-defined]
    )
    watcher.subscribe(relay.wake)
    tasks = [asyncio.create_task(relay.run(asyncio.Event())), asyncio.create_task(watcher.run())]
    try:
        await eventually(lambda: watcher.listening)
        stream = stream_name(settings, POPUPS_STREAM)

        async def published_at_least(n: int) -> bool:
            return (await js.stream_info(stream)).state.messages >= n

        await asyncio.sleep(0.2)  # the relay's first round (nothing to publish) is over
        service = build_service(theirs, settings, FakeClock())  # another replica: no local wake-up
        started = time.monotonic()
        for n in (1, 2):
            message = NewMessage(uuid4(), "hotel-a", "u1", "t", f"text {n}", None, None)
            await asyncio.to_thread(service.send_message, message, cause=SYSTEM_CAUSE)
            await eventually(functools.partial(published_at_least, n), timeout=5)
        assert time.monotonic() - started < 5
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        ours.close()
        theirs.close()
