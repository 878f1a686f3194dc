"""Helpers the notifications suites share: a controllable clock, the service on a real port, its
popup stream (read with `tests.support.sse`), and ticket events published the way the tickets relay
publishes them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import uvicorn
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo

from notifications.adapters.consumer import consumer_name
from notifications.application.service import SYSTEM_CAUSE, NewMessage, PopupService
from notifications.bootstrap import create_app, migrate, stream_name
from notifications.settings import NotificationsSettings
from shared.contracts.envelope import HEADER_MSG_ID, Actor, ActorKind
from shared.contracts.subjects import TICKETS_STREAM, event_subject, with_prefix
from shared.httpserver import bounded_http_protocol
from shared.natsserver import free_port
from shared.settings import CommonSettings
from tests.support.sse import SseReader
from tests.support.sse import open_sse as open_stream
from tests.support.wait import WAIT

POPUP_STREAM = "/api/v1/popups/stream"


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def service_settings(common: CommonSettings, *, prefix: str, **overrides: Any) -> NotificationsSettings:
    """Settings with short intervals so the suites never wait long."""
    values: dict[str, Any] = {
        "common": common.model_copy(update={"nats_prefix": prefix}),
        "relay_poll_seconds": 0.05,
        "due_scan_seconds": 0.05,
        "consumer_ack_wait_seconds": 2.0,
        "consumer_backoff_seconds": [0.1, 0.2],
        "consumer_max_deliver": 3,
        "sse_heartbeat_seconds": 1.0,
    }
    values.update(overrides)
    return NotificationsSettings(**values)


@dataclass
class Running:
    app: FastAPI
    server: uvicorn.Server
    task: asyncio.Task[None]
    base_url: str
    clock: FakeClock

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=WAIT)

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, timeout=WAIT * 2)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:  # the test runner owns the signals
        yield


async def start_service(
    settings: NotificationsSettings, *, clock: FakeClock | None = None, run_migrate: bool = True
) -> Running:
    """The app under uvicorn on a free port, in this event loop (httpx's ASGI transport buffers SSE)."""
    clock = clock or FakeClock()
    if run_migrate:
        await migrate(settings)
    app = create_app(settings, clock=clock)
    port = free_port()
    config = uvicorn.Config(  # the HTTP protocol `shared.http.serve` runs the service with
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        http=bounded_http_protocol(),
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(WAIT * 2):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    return Running(app=app, server=server, task=task, base_url=f"http://127.0.0.1:{port}", clock=clock)


@contextlib.asynccontextmanager
async def running(
    settings: NotificationsSettings, *, clock: FakeClock | None = None, run_migrate: bool = True
) -> AsyncIterator[Running]:
    service = await start_service(settings, clock=clock, run_migrate=run_migrate)
    try:
        yield service
    finally:
        await service.stop()


async def open_sse(
    base_url: str,
    token: str | None,
    *,
    last_event_id: str | None = None,
    wait_ready: bool = True,
    params: dict[str, str] | None = None,
) -> SseReader:
    """A user's popup stream; `token=None` and `params={"access_token": …}`: as a browser's
    EventSource opens it."""
    return await open_stream(
        base_url, POPUP_STREAM, token=token, last_event_id=last_event_id, params=params, wait_ready=wait_ready
    )


def ticket_event(
    event_type: str,
    data: dict[str, Any],
    *,
    account_id: str = "hotel-a",
    ticket_id: UUID,
    number: str = "HD-000001",
    actor: Actor,
    version: int = 1,
    event_id: UUID | None = None,
) -> dict[str, Any]:
    """A public ticket event as the tickets relay publishes it (envelope of shared.contracts)."""
    return {
        "event_id": str(event_id or uuid4()),
        "type": event_type,
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "account_id": account_id,
        "aggregate_id": str(ticket_id),
        "aggregate_version": version,
        "ticket_number": number,
        "actor": actor.model_dump(mode="json"),
        "correlation_id": "corr-1",
        "causation_id": None,
        "data": data,
    }


def created(ticket_id: UUID, *, user: str = "u1", account_id: str = "hotel-a", **kw: Any) -> dict[str, Any]:
    return ticket_event(
        "ticket.created",
        {
            "number": kw.get("number", "HD-000001"),
            "topic": "billing",
            "importance": "normal",
            "comment": "Invoice is wrong",
            "message": "The invoice for room 12 shows two nights.",
            "status": "new",
            "message_id": str(uuid4()),
        },
        account_id=account_id,
        ticket_id=ticket_id,
        actor=Actor(kind=ActorKind.USER, id=user, name=user),
        **kw,
    )


def replied(
    ticket_id: UUID, *, text: str = "We fixed the invoice.", author_role: str = "agent", **kw: Any
) -> dict[str, Any]:
    kind = ActorKind.AGENT if author_role == "agent" else ActorKind.USER
    return ticket_event(
        "ticket.replied",
        {"message_id": str(uuid4()), "author_role": author_role, "text": text},
        ticket_id=ticket_id,
        actor=Actor(kind=kind, id="agent-7" if author_role == "agent" else "u1", name="Olena"),
        version=kw.pop("version", 2),
        **kw,
    )


async def publish_ticket_event(
    js: JetStreamContext, prefix: str, event: dict[str, Any] | bytes, *, event_type: str | None = None
) -> None:
    """Publish onto the TICKETS stream; without a Nats-Msg-Id so repeats are stored (redeliveries)."""
    if isinstance(event, bytes):
        body, type_ = event, event_type or "ticket.replied"
    else:
        body, type_ = json.dumps(event).encode(), event["type"]
    subject = with_prefix(prefix, event_subject("tickets", type_, 1))
    await js.publish(subject, body)


async def publish_once(js: JetStreamContext, prefix: str, event: dict[str, Any]) -> None:
    """Publish as the tickets relay does, with the event id as Nats-Msg-Id."""
    subject = with_prefix(prefix, event_subject("tickets", event["type"], 1))
    await js.publish(subject, json.dumps(event).encode(), headers={HEADER_MSG_ID: event["event_id"]})


async def stream_token(svc: Running, bearer: str) -> str:
    """A stream token for the bearer's user, from `POST /api/v1/popups/stream-token`."""
    async with svc.client(bearer) as client:
        response = await client.post("/api/v1/popups/stream-token")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["expires_in"] == 60 and body["stream_path"].endswith(body["access_token"])
    token: str = body["access_token"]
    return token


def send(service: PopupService, *, user_id: str | None = "u1", account_id: str = "hotel-a") -> UUID:
    """A message popup raised straight through the application layer; returns its id."""
    message = NewMessage(uuid4(), account_id, user_id, "t", "text", None, None)
    return service.send_message(message, cause=SYSTEM_CAUSE).id


async def consumer_info(js: JetStreamContext, settings: NotificationsSettings) -> ConsumerInfo:
    """The durable tickets-stream consumer of notifications, as the server sees it."""
    info: ConsumerInfo = await js.consumer_info(
        stream_name(settings, TICKETS_STREAM), consumer_name(settings.common.nats_prefix)
    )
    return info
