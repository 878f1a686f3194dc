"""Kill the service between a popup's effect and the message's ack: the redelivery raises nothing new."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from nats.aio.client import Client as NATS

from notifications.adapters.consumer import consumer_name
from notifications.bootstrap import migrate, stream_name
from notifications.settings import NotificationsSettings
from shared.contracts.subjects import POPUPS_STREAM, TICKETS_STREAM, with_prefix
from shared.natsserver import free_port
from tests.conftest import TEST_JWT_SECRET, TokenFactory
from tests.support.notifications import created, publish_once, replied
from tests.support.wait import WAIT, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


@contextmanager
def service_process(
    settings: NotificationsSettings, *, port: int, ack_delay: float, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    common = settings.common
    env = {
        **os.environ,
        "HELPDESK_ENVIRONMENT": "test",
        "HELPDESK_NATS_URL": common.nats_url,
        "HELPDESK_NATS_PREFIX": common.nats_prefix,
        "HELPDESK_JWT_SECRET": TEST_JWT_SECRET,
        "HELPDESK_DATA_DIR": str(common.data_dir),
        "HELPDESK_LOG_LEVEL": "INFO" if log else "WARNING",
        "HELPDESK_LOG_JSON": "true",
        "HELPDESK_NOTIFICATIONS_PORT": str(port),
        "HELPDESK_NOTIFICATIONS_RELAY_POLL_SECONDS": "0.05",
        "HELPDESK_NOTIFICATIONS_CONSUMER_ACK_WAIT_SECONDS": str(settings.consumer_ack_wait_seconds),
        "HELPDESK_NOTIFICATIONS_CHAOS_ACK_DELAY_SECONDS": str(ack_delay),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "services" / "notifications")]),
    }
    with open(log or os.devnull, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "notifications"], env=env, cwd=ROOT, stderr=stderr)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=WAIT)


async def _ready(base_url: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=1.0) as client:
            return (await client.get("/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_killed_between_effect_and_ack_the_reply_still_raises_exactly_one_popup(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory, nc: NATS
) -> None:
    settings = sqlite_settings
    await migrate(settings)
    js, prefix = nc.jetstream(), settings.common.nats_prefix
    tickets, consumer = stream_name(settings, TICKETS_STREAM), consumer_name(prefix)
    me = {"Authorization": f"Bearer {make_token(sub='u1')}"}
    ticket = uuid4()

    async def popups(base_url: str) -> list[dict[str, object]]:
        async with httpx.AsyncClient(base_url=base_url, headers=me, timeout=WAIT) as client:
            items: list[dict[str, object]] = (await client.get("/api/v1/popups")).json()["items"]
            return items

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with service_process(settings, port=port, ack_delay=60) as first:
        await eventually(lambda: _ready(base_url), timeout=30)
        await publish_once(js, prefix, created(ticket, user="u1"))
        await publish_once(js, prefix, replied(ticket))
        effect = await eventually(lambda: popups(base_url))  # the popup exists…
        info = await js.consumer_info(tickets, consumer)
        assert info.num_ack_pending == 1  # …and the reply is not acked yet
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=WAIT) == -signal.SIGKILL

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with service_process(settings, port=port, ack_delay=0):
        await eventually(lambda: _ready(base_url), timeout=30)

        async def redelivered_and_acked() -> bool:
            info = await js.consumer_info(tickets, consumer)
            # Two events, three deliveries: the reply came again after the first process died.
            delivered = info.delivered.consumer_seq if info.delivered else 0
            return delivered >= 3 and info.num_ack_pending == 0 and info.num_pending == 0

        await eventually(redelivered_and_acked, timeout=20)
        after = await popups(base_url)
        assert [p["popup_id"] for p in after] == [effect[0]["popup_id"]]

        async def raised_once() -> bool:
            stream = await js.stream_info(
                stream_name(settings, POPUPS_STREAM),
                subjects_filter=with_prefix(prefix, "helpdesk.popups.v2.>"),
            )
            return stream.state.subjects == {with_prefix(prefix, "helpdesk.popups.v2.raised"): 1}

        await eventually(raised_once)


async def test_sigterm_ends_the_open_streams_and_the_process_exits_cleanly(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory, tmp_path: Path
) -> None:
    await migrate(sqlite_settings)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {make_token(sub='u1')}"}
    log = tmp_path / "service.log"
    with service_process(sqlite_settings, port=port, ack_delay=0, log=log) as proc:
        await eventually(lambda: _ready(base_url), timeout=30)
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(WAIT)) as client,
            client.stream("GET", "/api/v1/popups/stream", headers=headers) as response,
        ):
            lines = response.aiter_lines()
            async with asyncio.timeout(WAIT):
                while not (await anext(lines)).startswith("event: ready"):
                    pass
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(WAIT):
                async for _ in lines:  # the server ends the stream instead of leaving it hanging
                    pass
        # uvicorn re-raises the signal it caught once its shutdown is complete.
        assert proc.wait(timeout=WAIT) in (0, -signal.SIGTERM)
    events = [json.loads(line)["event"] for line in log.read_text().splitlines() if line.startswith("{")]
    assert "notifications_stopped" in events  # the lifespan shutdown ran to its end
