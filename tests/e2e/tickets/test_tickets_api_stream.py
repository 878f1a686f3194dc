"""Support's live stream (`GET /api/v1/tickets/stream`) over a real port: events of new requests and
replies within seconds, resumption with Last-Event-ID, access, no texts, a clean end on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from shared.natsserver import free_port
from shared.settings import CommonSettings
from tests.conftest import TEST_JWT_SECRET, auth
from tests.support.processes import ServiceProcess
from tests.support.sse import SseReader, open_sse
from tests.support.tickets_api import TOPIC
from tickets.bootstrap import create_app, migrate
from tickets.settings import TicketsSettings

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

WAIT = 10.0
ROOT = Path(__file__).resolve().parents[3]
STREAM = "/api/v1/tickets/stream"
SSE = {"Accept": "text/event-stream"}
DATA_KEYS = {"event_id", "type", "ticket_id", "number", "account_id", "version", "occurred_at", "actor_kind"}
SECRET_TEXTS = ("Invoices-are-doubled", "Room-12-shows-two-nights", "We-are-on-it", "internal-only-note")


async def open_stream(base_url: str, token: str, *, last_event_id: str | None = None) -> SseReader:
    return await open_sse(base_url, STREAM, token=token, last_event_id=last_event_id)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:  # the test runner owns the signals
        yield


@dataclass
class Service:
    base_url: str
    client: httpx.AsyncClient
    make_token: Callable[..., str]

    def agent_token(self) -> str:
        return self.make_token(role="agent", account=None, sub="agent-1", name="Agent One")

    def user_headers(self, account: str = "hotel-a") -> dict[str, str]:
        return auth(self.make_token(role="user", account=account, sub="u1"))

    async def create(self, account: str = "hotel-a") -> dict[str, Any]:
        data = {"topic": TOPIC, "comment": SECRET_TEXTS[0], "message": SECRET_TEXTS[1]}
        response = await self.client.post("/api/v1/tickets", data=data, headers=self.user_headers(account))
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def agent_reply(self, ticket_id: str, text: str = SECRET_TEXTS[2]) -> dict[str, Any]:
        response = await self.client.post(
            f"/api/v1/tickets/{ticket_id}/replies", data={"text": text}, headers=auth(self.agent_token())
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def stream_settings(
    common: CommonSettings, prefix: str, backend: dict[str, Any], **overrides: Any
) -> TicketsSettings:
    return TicketsSettings(
        common=common.model_copy(update={"nats_prefix": prefix}),
        stream_heartbeat_seconds=1.0,
        **backend,
        **overrides,
    )


@contextlib.asynccontextmanager
async def serving(settings: TicketsSettings, make_token: Callable[..., str]) -> AsyncIterator[Service]:
    """The app (relay and projection on) under uvicorn on a free port: httpx's ASGI transport buffers
    a whole response, so an endless stream needs a real server."""
    await migrate(settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, lifespan="on", log_config=None, access_log=False
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(WAIT * 2):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=WAIT) as client:
            yield Service(base_url, client, make_token)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, WAIT * 2)


@pytest.fixture
async def service(
    common_settings: CommonSettings,
    nats_prefix: str,
    tickets_backend: dict[str, Any],
    make_token: Callable[..., str],
) -> AsyncIterator[Service]:
    async with serving(stream_settings(common_settings, nats_prefix, tickets_backend), make_token) as svc:
        yield svc


async def test_an_agent_sees_a_new_request_and_its_reply_within_seconds_and_none_of_their_texts(
    service: Service,
) -> None:
    reader = await open_stream(service.base_url, service.agent_token())
    try:
        ready = reader.seen[0]
        assert ready.data["reset"] is False and int(ready.id) == ready.data["last_seq"]
        created = await service.create()
        first = await reader.next("ticket.created", timeout=5)
        assert first.data["ticket_id"] == created["ticket_id"]
        assert first.data["number"] == created["number"]
        assert first.data["account_id"] == "hotel-a"
        assert first.data["version"] == 1 and first.data["actor_kind"] == "user"
        assert first.data["type"] == "ticket.created" and set(first.data) == DATA_KEYS
        assert int(first.id) > int(ready.id)

        reply = await service.agent_reply(created["ticket_id"])
        replied = await reader.next("ticket.replied", timeout=5)
        assert replied.data["ticket_id"] == created["ticket_id"]
        assert replied.data["version"] == reply["version"] and replied.data["actor_kind"] == "agent"
        assert int(replied.id) > int(first.id)
        note = await service.client.post(
            f"/api/v1/tickets/{created['ticket_id']}/notes",
            json={"text": SECRET_TEXTS[3]},
            headers=auth(service.agent_token()),
        )
        assert note.status_code == 201
        await reader.next("ticket.internal_note_added", timeout=5)
        for event in reader.seen:
            assert not any(text in event.raw for text in SECRET_TEXTS), event.raw
    finally:
        await reader.close()


async def test_a_reconnect_with_last_event_id_resumes_after_it_without_duplicates(service: Service) -> None:
    first = await open_stream(service.base_url, service.agent_token())
    try:
        created = await service.create()
        seen = await first.next("ticket.created")
    finally:
        await first.close()
    # Missed while disconnected: a reply and a status change.
    await service.agent_reply(created["ticket_id"])
    status = await service.client.post(
        f"/api/v1/tickets/{created['ticket_id']}/status",
        json={"status": "resolved"},
        headers=auth(service.agent_token()),
    )
    assert status.status_code == 200, status.text
    second = await open_stream(service.base_url, service.agent_token(), last_event_id=seen.id)
    try:
        assert second.seen[0].id == seen.id and second.seen[0].data["reset"] is False
        replayed = [await second.next(), await second.next()]
        assert [e.event for e in replayed] == ["ticket.replied", "ticket.status_changed"]
        assert [e.data["version"] for e in replayed] == [2, 3]
        assert int(replayed[0].id) == int(seen.id) + 1 and int(replayed[1].id) == int(seen.id) + 2
        await service.agent_reply(created["ticket_id"], "Anything else?")
        live = await second.next()
        assert live.event == "ticket.replied" and live.data["version"] == 4
        assert await second.arrived_within(0.3) == []
        ids = [e.id for e in second.seen[1:]]
        assert len(ids) == len(set(ids)) == 3
    finally:
        await second.close()


async def test_only_support_may_open_the_stream_and_only_as_an_event_stream(service: Service) -> None:
    client = service.client
    agent = auth(service.agent_token())
    user = await client.get(STREAM, headers={**service.user_headers(), **SSE})
    assert user.status_code == 403
    assert user.json()["error"]["code"] == "forbidden"
    anonymous = await client.get(STREAM, headers=SSE)
    assert anonymous.status_code == 401
    # Who may read it is checked before how: the same answers without the Accept header.
    assert (await client.get(STREAM, headers=service.user_headers())).status_code == 403
    assert (await client.get(STREAM)).status_code == 401
    plain = await client.get(STREAM, headers=agent)
    assert plain.status_code == 406
    assert plain.json()["error"]["code"] == "not_acceptable"
    garbage = await client.get(STREAM, headers={**agent, **SSE, "Last-Event-ID": "abc"})
    assert garbage.status_code == 422
    assert garbage.json()["error"]["code"] == "validation_error"
    # No query token: the console sends the header with fetch().
    by_query = await client.get(STREAM, params={"access_token": service.agent_token()}, headers=SSE)
    assert by_query.status_code == 401


async def test_a_resume_point_too_far_back_or_unknown_is_told_to_reload(
    common_settings: CommonSettings,
    nats_prefix: str,
    tickets_backend: dict[str, Any],
    make_token: Callable[..., str],
) -> None:
    settings = stream_settings(common_settings, nats_prefix, tickets_backend, stream_replay_max=2)
    async with serving(settings, make_token) as svc:
        watcher = await open_stream(svc.base_url, svc.agent_token())
        try:
            created = await svc.create()
            start = await watcher.next("ticket.created")
            for _ in range(3):
                await svc.agent_reply(created["ticket_id"])
                last = await watcher.next("ticket.replied")
        finally:
            await watcher.close()
        for resume in (start.id, str(int(last.id) + 100)):
            reader = await open_stream(svc.base_url, svc.agent_token(), last_event_id=resume)
            try:
                ready = reader.seen[0]
                assert ready.data == {"last_seq": int(last.id), "reset": True}
                assert await reader.arrived_within(0.3) == []
            finally:
                await reader.close()
        # Two back is within the bound: replayed.
        near = await open_stream(svc.base_url, svc.agent_token(), last_event_id=str(int(last.id) - 2))
        try:
            assert near.seen[0].data["reset"] is False
            assert [(await near.next()).id, (await near.next()).id] == [str(int(last.id) - 1), last.id]
        finally:
            await near.close()


async def test_sigterm_ends_an_open_stream_and_the_process_exits(
    common_settings: CommonSettings, nats_prefix: str, make_token: Callable[..., str], tmp_path: Path
) -> None:
    settings = stream_settings(common_settings, nats_prefix, {})
    await migrate(settings)
    port = free_port()
    env = {
        **os.environ,
        "HELPDESK_ENVIRONMENT": "test",
        "HELPDESK_NATS_URL": common_settings.nats_url,
        "HELPDESK_NATS_PREFIX": nats_prefix,
        "HELPDESK_JWT_SECRET": TEST_JWT_SECRET,
        "HELPDESK_DATA_DIR": str(common_settings.data_dir),
        "HELPDESK_TICKETS_PORT": str(port),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "services" / "tickets")]),
    }
    service = ServiceProcess("tickets", env, tmp_path / "tickets.log", port=port, cwd=ROOT).start()
    proc = service.process
    assert proc is not None
    try:
        base_url = service.url
        await asyncio.to_thread(service.wait_ready)
        token = make_token(role="agent", account=None, sub="agent-1")
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(WAIT)) as client,
            client.stream("GET", STREAM, headers={**auth(token), **SSE}) as response,
        ):
            assert response.status_code == 200
            assert response.headers["x-accel-buffering"] == "no"
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            async with asyncio.timeout(WAIT):
                while not (await anext(lines)).startswith("event: ready"):
                    pass
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(WAIT):
                async for _ in lines:  # the server ends the stream rather than leaving it open
                    pass
        # uvicorn re-raises the signal it caught once its shutdown is complete.
        assert await asyncio.to_thread(proc.wait, WAIT) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
