"""Support's first-response promise kept and broken, on a real nats-server and both stores: the
breach checker follows the published ticket events and records a passed promise once, as an event and
a metric; an answered request is never a breach."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client import REGISTRY

from tests.conftest import auth
from tests.support.wait import eventually
from tickets.bootstrap import create_app, migrate
from tickets.settings import TicketsSettings

pytestmark = pytest.mark.integration

KYIV = ZoneInfo("Europe/Kyiv")


def breaches() -> float:
    return REGISTRY.get_sample_value("helpdesk_tickets_first_response_breaches_total") or 0.0


async def test_a_passed_promise_is_recorded_once_and_an_answered_one_never(
    tickets_settings: TicketsSettings, make_token: Callable[..., str]
) -> None:
    settings = tickets_settings.model_copy(
        update={"run_relay": True, "run_projection": True, "breach_check_seconds": 3600}
    )
    await migrate(settings)
    app = create_app(settings)
    now = {"at": datetime(2026, 3, 27, 17, 30, tzinfo=KYIV)}
    app.state.clock = lambda: now["at"]
    user, agent = auth(make_token()), auth(make_token(role="agent", account=None, sub="agent-1"))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://tickets.test", timeout=20
        ) as client:

            async def create(comment: str) -> dict[str, Any]:
                data = {"topic": "services", "comment": comment, "message": "BSO", "importance": "critical"}
                response = await client.post("/api/v1/tickets", data=data, headers=user)
                assert response.status_code == 201, response.text
                body: dict[str, Any] = response.json()
                return body

            late, answered = await create("late"), await create("answered")
            assert datetime.fromisoformat(late["first_response_due"]) == datetime(
                2026, 3, 30, 9, 30, tzinfo=KYIV
            )
            reply = await client.post(
                f"/api/v1/tickets/{answered['ticket_id']}/replies", data={"text": "On it."}, headers=agent
            )
            assert reply.status_code == 201, reply.text
            checker = app.state.breaches
            # Both created, one answered: only the unanswered one stays on the book.
            await eventually(lambda: len(checker.book) == 1 and checker.book.kept == 1, timeout=10)

            now["at"] = datetime(2026, 3, 30, 9, 29, tzinfo=KYIV)
            assert await checker.check() == 0  # not due yet
            before = breaches()
            now["at"] = datetime(2026, 3, 30, 9, 31, tzinfo=KYIV)
            assert await checker.check() == 1
            assert await checker.check() == 0
            assert breaches() == before + 1

            async def timeline(ticket_id: str) -> list[str]:
                response = await client.get(f"/api/v1/tickets/{ticket_id}", headers=agent)
                assert response.status_code == 200, response.text
                return [e["type"] for e in response.json()["timeline"]]

            await wait_until_async(lambda: timeline(late["ticket_id"]), "ticket.first_response_overdue")
            assert "ticket.first_response_overdue" not in await timeline(answered["ticket_id"])
            created = await client.get(f"/api/v1/tickets/{late['ticket_id']}", headers=agent)
            first = created.json()["timeline"][0]
            assert first["data"]["first_response_due"].startswith("2026-03-30T06:30")


async def wait_until_async(read: Callable[[], Any], wanted: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while wanted not in await read():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{wanted} never appeared")
        await asyncio.sleep(0.05)


async def test_the_support_inbox_sorts_by_first_response_due_earliest_first_across_pages(
    tickets_settings: TicketsSettings, make_token: Callable[..., str]
) -> None:
    settings = tickets_settings.model_copy(update={"run_relay": True, "run_projection": True})
    await migrate(settings)
    app = create_app(settings)
    app.state.clock = lambda: datetime(2026, 3, 27, 17, 30, tzinfo=KYIV)
    user, agent = auth(make_token(account="hotel-due")), auth(make_token(role="agent", account=None))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://tickets.test", timeout=20
        ) as client:
            numbers = {}
            for name, topic, importance in (
                ("monday", "services", "critical"),  # Mon 09:30 (business hours only)
                ("friday", "payments", "critical"),  # Fri 18:30 (24/7)
                ("saturday", "payments", "low"),  # Sat 17:30 (24/7, one day)
            ):
                data = {"topic": topic, "comment": name, "message": name, "importance": importance}
                created = await client.post("/api/v1/tickets", data=data, headers=user)
                assert created.status_code == 201, created.text
                numbers[created.json()["number"]] = name

            async def page(cursor: str | None = None) -> dict[str, Any]:
                params: dict[str, Any] = {"sort": "due", "account_id": "hotel-due", "limit": 1}
                if cursor:
                    params["cursor"] = cursor
                response = await client.get("/api/v1/tickets", params=params, headers=agent)
                assert response.status_code == 200, response.text
                body: dict[str, Any] = response.json()
                return body

            deadline = time.monotonic() + 10
            while (
                await client.get("/api/v1/tickets/counts", params={"account_id": "hotel-due"}, headers=agent)
            ).json()["total"] < 3:
                assert time.monotonic() < deadline, "the history view did not catch up"
                await asyncio.sleep(0.05)
            seen, cursor = [], None
            for _ in range(3):
                body = await page(cursor)
                seen += [(numbers[i["number"]], i["ordinal"], i["first_response_due"]) for i in body["items"]]
                cursor = body["next_cursor"]
            assert [name for name, _, _ in seen] == ["friday", "saturday", "monday"]
            assert [ordinal for _, ordinal, _ in seen] == [1, 2, 3]
            assert datetime.fromisoformat(seen[0][2]) == datetime(2026, 3, 27, 18, 30, tzinfo=KYIV)
            assert cursor is None
