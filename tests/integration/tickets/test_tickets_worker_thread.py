"""The embedded relay and projection's thread (`tickets.entrypoints.worker_thread`)."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest
from nats.aio.client import Client as NATS

from shared.settings import CommonSettings
from tickets.entrypoints.worker_thread import SWITCH_INTERVAL, WorkerThread

pytestmark = pytest.mark.integration


async def test_the_gil_is_handed_over_sooner_while_a_worker_thread_runs_and_as_before_after_it(
    common_settings: CommonSettings,
) -> None:
    before = sys.getswitchinterval()
    assert before > SWITCH_INTERVAL  # CPython's default, 5 ms
    seen: list[tuple[float, bool]] = []

    async def work(nc: NATS, stop: asyncio.Event) -> None:
        seen.append((sys.getswitchinterval(), nc.is_connected))
        await stop.wait()

    worker = WorkerThread(common_settings, work, name="test-worker")
    await worker.start()
    try:
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
        await asyncio.sleep(0.05)
        assert len(seen) == 1
        assert seen[0][0] == pytest.approx(SWITCH_INTERVAL)  # as the worker's own thread sees it
        assert seen[0][1]  # on its own NATS connection
        assert any(t.name == "test-worker" for t in threading.enumerate())
    finally:
        await worker.stop(grace=5.0)
    assert sys.getswitchinterval() == pytest.approx(before)
    assert not any(t.name == "test-worker" for t in threading.enumerate())
