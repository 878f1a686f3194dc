"""Kill tests: the relay and the projection are SIGKILLed while requests are created through the real
API; afterwards the stream holds each stored event exactly once, in order, and the history views equal
both the store and a from-scratch rebuild. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from shared.contracts.envelope import HEADER_MSG_ID
from shared.natsserver import wait_for_port
from tests.conftest import TEST_JWT_SECRET, TokenFactory, auth
from tests.support.wait import eventually
from tickets.adapters.relay import tickets_stream_name
from tickets.adapters.store import open_application
from tickets.bootstrap import migrate
from tickets.entrypoints.workers import open_history_store, public_form
from tickets.projections.projector import rebuild
from tickets.projections.store import TICKET_COLUMNS, open_sqlite
from tickets.settings import TicketsSettings

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


class Processes:
    """Subprocesses of one test, each a `python -m <module>` with the test's environment."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, module: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{module}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.running[module] = proc
        return proc

    def kill(self, module: str) -> None:
        proc = self.running.pop(module)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for module in list(self.running):
            proc = self.running.pop(module)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def settings(split_settings: TicketsSettings) -> TicketsSettings:
    return split_settings


def environment(settings: TicketsSettings) -> dict[str, str]:
    common = settings.common
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'services' / 'tickets'}",
        "HELPDESK_ENVIRONMENT": "test",
        "HELPDESK_NATS_URL": common.nats_url,
        "HELPDESK_NATS_PREFIX": common.nats_prefix,
        "HELPDESK_DATA_DIR": str(common.data_dir),
        "HELPDESK_JWT_SECRET": TEST_JWT_SECRET,
        "HELPDESK_LOG_LEVEL": "WARNING",
        "HELPDESK_TICKETS_PORT": str(settings.port),
        "HELPDESK_TICKETS_RUN_RELAY": "false",
        "HELPDESK_TICKETS_RUN_PROJECTION": "false",
        # One user files requests far faster than a person would, on purpose.
        "HELPDESK_RATE_LIMIT_CREATE_PER_USER": "100000",
        "HELPDESK_RATE_LIMIT_CREATE_PER_ACCOUNT": "100000",
        "HELPDESK_RATE_LIMIT_REPLY_PER_USER": "100000",
        "HELPDESK_RATE_LIMIT_REPLY_PER_ACCOUNT": "100000",
    }
    if settings.postgres_dsn is not None:
        env["HELPDESK_TICKETS_POSTGRES_DSN"] = settings.postgres_dsn.get_secret_value()
        env["HELPDESK_TICKETS_POSTGRES_SCHEMA"] = settings.postgres_schema
    return env


@pytest.fixture
def processes(settings: TicketsSettings, tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(environment(settings), tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


async def create_requests(
    base: str, token: str, *, minimum: int, clients: int, until: asyncio.Event
) -> tuple[list[dict[str, Any]], int]:
    """Create requests (every third with a reply) until `until` is set and at least `minimum` exist.

    Returns the created requests and the number of replies.
    """
    results: list[dict[str, Any]] = []
    replies = 0
    counter = iter(range(1_000_000))

    async def client() -> None:
        nonlocal replies
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            while not until.is_set() or len(results) < minimum:
                i = next(counter)
                form = {"topic": "reports", "comment": f"request {i}", "message": "the report is empty"}
                r = await http.post("/api/v1/tickets", data=form, headers=auth(token))
                assert r.status_code == 201, r.text
                created = r.json()
                if i % 3 == 0:
                    r = await http.post(
                        f"/api/v1/tickets/{created['ticket_id']}/replies",
                        data={"text": "more"},
                        headers=auth(token),
                    )
                    assert r.status_code in (200, 201), r.text
                    replies += 1
                results.append(created)

    await asyncio.gather(*(client() for _ in range(clients)))
    return results, replies


async def keep_killing(procs: Processes, module: str, *, kills: int) -> int:
    """SIGKILL and restart `module` `kills` times at random moments while traffic flows; the first
    kill waits for the process to be at work (about 1.5 s of start-up)."""
    await asyncio.sleep(1.5)
    for _ in range(kills):
        await asyncio.sleep(random.uniform(0.2, 0.9))
        procs.kill(module)
        procs.start(module)
    return kills


def stored_public_events(settings: TicketsSettings) -> list[Any]:
    """The public form of every stored event, in notification order: what the stream must hold."""
    app = open_application(settings)
    try:
        convert = public_form(app)
        envelopes = (convert(n) for n in app.recorder.select_notifications(0, 1_000_000))
        return [e for e in envelopes if e is not None]
    finally:
        app.close()


async def published_ids(js: Any, stream: str) -> list[str]:
    info = await js.stream_info(stream)
    return [
        (await js.get_msg(stream, seq=s)).headers[HEADER_MSG_ID] for s in range(1, info.state.last_seq + 1)
    ]


async def test_killing_the_relay_and_the_projection_repeatedly_loses_and_doubles_nothing(
    settings: TicketsSettings, processes: Processes, make_token: TokenFactory, tmp_path: Path
) -> None:
    await migrate(settings)
    processes.start("tickets")
    await asyncio.to_thread(wait_for_port, "127.0.0.1", settings.port, timeout=30)
    processes.start("tickets.relay")
    token = make_token(role="user", account="hotel-a")

    # The relay and the projection are killed again and again while requests are being created.
    processes.start("tickets.projector")
    # Traffic goes on until every kill has happened (creates are fast: a fixed count could finish first).
    killers = asyncio.gather(
        keep_killing(processes, "tickets.relay", kills=5),
        keep_killing(processes, "tickets.projector", kills=4),
    )
    killed = asyncio.Event()
    killers.add_done_callback(lambda _: killed.set())
    created, replies = await create_requests(
        f"http://127.0.0.1:{settings.port}", token, minimum=300, clients=4, until=killed
    )
    assert list(await killers) == [5, 4]
    assert len({c["number"] for c in created}) == len(created) >= 300

    nc = await nats.connect(settings.common.nats_url)
    js = nc.jetstream()
    stream = tickets_stream_name(settings.common.nats_prefix)
    try:
        stored = await asyncio.to_thread(stored_public_events, settings)
        expected = [str(e.event_id) for e in stored]
        assert len(expected) == len(created) + replies

        async def relayed() -> bool:
            info = await js.stream_info(stream)
            assert info.state.messages <= len(expected), "an event was published twice"
            return bool(info.state.messages == len(expected))

        await eventually(relayed, timeout=60.0)
        assert await published_ids(js, stream) == expected

        history = open_history_store(settings)
        try:

            async def projected() -> bool:
                return await asyncio.to_thread(history.position) == len(expected)

            await eventually(projected, timeout=60.0)
            view = await asyncio.to_thread(history.dump)
        finally:
            history.close()

        fresh = open_sqlite(tmp_path / "rebuilt.sqlite")
        try:
            await asyncio.to_thread(fresh.migrate)
            await rebuild(js=js, store=fresh, prefix=settings.common.nats_prefix)
            assert view == await asyncio.to_thread(fresh.dump)
        finally:
            fresh.close()
        tickets, timeline = view
        assert len(tickets) == len(created)
        assert len(timeline) == len(expected)
        assert {row[0] for row in tickets} == {c["ticket_id"] for c in created}
        # The history equals the store: each ticket at the version of its last stored event.
        versions = {str(e.aggregate_id): e.aggregate_version for e in stored}
        version = [c.strip() for c in TICKET_COLUMNS.split(",")].index("version")
        assert {row[0]: row[version] for row in tickets} == versions
    finally:
        await nc.close()
