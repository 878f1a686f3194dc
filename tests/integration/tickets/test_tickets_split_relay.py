"""Split mode as Kubernetes runs it: the tickets API with `HELPDESK_TICKETS_RUN_RELAY=false` and
`python -m tickets.relay` beside it, on a real nats-server. The relay process publishes both stores:
a request to TICKETS and an admin's directory change to SUPPORT_DIRECTORY; it stops cleanly on SIGTERM.
On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from shared.contracts.subjects import DIRECTORY_STREAM, TICKETS_STREAM
from shared.service import env_prefix
from tests.conftest import TEST_JWT_SECRET, TokenFactory, auth
from tests.support.processes import ServiceProcess, clean_env
from tests.support.wait import eventually
from tickets.bootstrap import migrate
from tickets.settings import TicketsSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
DIRECTORY_URL = "/api/v1/support/directory"


@pytest.fixture
def split(split_settings: TicketsSettings, tmp_path: Path) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """The API (no relay of its own) and the relay process, not started."""
    settings = split_settings
    common = settings.common
    env = clean_env(
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'services' / 'tickets'}",
        HELPDESK_ENVIRONMENT="test",
        HELPDESK_NATS_URL=common.nats_url,
        HELPDESK_NATS_PREFIX=common.nats_prefix,
        HELPDESK_DATA_DIR=str(common.data_dir),
        HELPDESK_JWT_SECRET=TEST_JWT_SECRET,
        HELPDESK_LOG_LEVEL="INFO",
        HELPDESK_TICKETS_RUN_RELAY="false",
        HELPDESK_TICKETS_RUN_PROJECTION="false",
    )
    if settings.postgres_dsn is not None:
        env["HELPDESK_TICKETS_POSTGRES_DSN"] = settings.postgres_dsn.get_secret_value()
        env["HELPDESK_TICKETS_POSTGRES_SCHEMA"] = settings.postgres_schema
    log = tmp_path / "tickets.log"
    api = ServiceProcess("tickets", env, log, port=settings.port, env_prefix=env_prefix("tickets"), cwd=ROOT)
    relay = ServiceProcess("tickets.relay", env, tmp_path / "tickets.relay.log", cwd=ROOT)
    try:
        yield api, relay
    finally:
        relay.kill()
        api.kill()


async def test_the_relay_process_publishes_the_directory_and_the_tickets_and_stops_on_sigterm(
    split_settings: TicketsSettings, split: tuple[ServiceProcess, ServiceProcess], make_token: TokenFactory
) -> None:
    settings = split_settings
    api, relay = split
    await migrate(settings)  # the migration job: streams, lease bucket, the directory's first version
    await asyncio.to_thread(lambda: api.start().wait_ready(timeout=60))
    relay.start()

    admin = auth(make_token(role="admin", account=None, sub="boss", name="Support admin"))
    weekend = {
        "id": "services-hours",
        "time_zone": "Europe/Kyiv",
        "weekly": [{"day": "sat", "start": "10:00", "end": "14:00"}],
    }
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        changed = await http.put(
            f"{DIRECTORY_URL}/calendars/services-hours", json=weekend, headers={**admin, "If-Match": '"1"'}
        )
        assert changed.status_code == 200, changed.text
        form = {"topic": "reports", "comment": "Night audit", "message": "the report is empty"}
        created = await http.post("/api/v1/tickets", data=form, headers=auth(make_token(role="user")))
        assert created.status_code == 201, created.text

    prefix = settings.common.nats_prefix
    nc = await nats.connect(settings.common.nats_url)
    js = nc.jetstream()
    try:

        async def last_of(stream: str) -> dict[str, Any] | None:
            info = await js.stream_info(stream)
            if not info.state.messages:
                return None
            message = await js.get_msg(stream, seq=info.state.last_seq)
            body: dict[str, Any] = json.loads(message.data or b"null")
            return body

        async def directory_published() -> dict[str, Any] | None:
            body = await last_of(DIRECTORY_STREAM.stream_name(prefix))
            return body if body is not None and body["data"]["version"] == 2 else None

        what = lambda: f"the directory's change on its stream:\n{relay.log_tail()}"  # noqa: E731
        published = await eventually(directory_published, timeout=60.0, what=what)
        assert published["type"] == "directory.changed"
        weekly = next(c for c in published["data"]["directory"]["calendars"] if c["id"] == "services-hours")
        assert weekly["weekly"] == [{"day": "sat", "start": "10:00", "end": "14:00"}]

        async def ticket_published() -> dict[str, Any] | None:
            return await last_of(TICKETS_STREAM.stream_name(prefix))

        ticket = await eventually(ticket_published, timeout=60.0, what=lambda: relay.log_tail())
        assert ticket["aggregate_id"] == created.json()["ticket_id"]
    finally:
        await nc.close()

    assert await asyncio.to_thread(relay.terminate) == 0, relay.log_tail()
