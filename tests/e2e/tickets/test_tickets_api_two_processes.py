"""Two `python -m tickets` processes writing the same store at once: numbers stay unique."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.service import env_prefix
from shared.settings import CommonSettings
from tests.conftest import TEST_JWT_SECRET, auth
from tests.support.processes import ServiceProcess
from tests.support.tickets_api import TOPIC
from tickets.bootstrap import migrate
from tickets.settings import TicketsSettings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def two_processes(
    common_settings: CommonSettings, nats_prefix: str, tickets_backend: dict[str, Any], tmp_path: Path
) -> AsyncIterator[list[str]]:
    settings = TicketsSettings(
        common=common_settings.model_copy(update={"nats_prefix": nats_prefix}), **tickets_backend
    )
    await migrate(settings)
    env = {
        **os.environ,
        "HELPDESK_ENVIRONMENT": "test",
        "HELPDESK_NATS_URL": common_settings.nats_url,
        "HELPDESK_NATS_PREFIX": nats_prefix,
        "HELPDESK_JWT_SECRET": TEST_JWT_SECRET,
        "HELPDESK_DATA_DIR": str(common_settings.data_dir),
        "HELPDESK_LOG_LEVEL": "WARNING",
        "HELPDESK_TICKETS_RUN_RELAY": "false",
        # 200 creates at once from one user: a load test, not a person (limits: shared.ratelimit).
        "HELPDESK_RATE_LIMIT_CREATE_PER_USER": "1000",
        "HELPDESK_TICKETS_RUN_PROJECTION": "false",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "services" / "tickets")]),
    }
    if "postgres_dsn" in tickets_backend:
        env["HELPDESK_TICKETS_POSTGRES_DSN"] = tickets_backend["postgres_dsn"]
        env["HELPDESK_TICKETS_POSTGRES_SCHEMA"] = tickets_backend["postgres_schema"]
    procs = [
        ServiceProcess("tickets", env, tmp_path / f"t{n}.log", env_prefix=env_prefix("tickets"), cwd=ROOT)
        for n in range(2)
    ]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            await asyncio.to_thread(proc.wait_ready, 30)
        yield [proc.url for proc in procs]
    finally:
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.terminate(timeout=15)


async def test_two_processes_creating_at_once_never_hand_out_the_same_number(
    two_processes: list[str], make_token: Callable[..., str]
) -> None:
    headers = auth(make_token(role="user", account="hotel-a", sub="u1"))
    data = {"topic": TOPIC, "comment": "c", "message": "m"}

    async def hammer(client: httpx.AsyncClient, url: str, count: int) -> list[str]:
        numbers = []
        for _ in range(count):
            response = await client.post(f"{url}/api/v1/tickets", data=data, headers=headers)
            assert response.status_code == 201, response.text
            numbers.append(response.json()["number"])
        return numbers

    async with httpx.AsyncClient(timeout=30) as client:
        results = await asyncio.wait_for(
            asyncio.gather(*(hammer(client, url, 25) for url in two_processes for _ in range(4))), timeout=120
        )
    numbers = [n for batch in results for n in batch]
    assert len(numbers) == 200
    assert len(set(numbers)) == 200
