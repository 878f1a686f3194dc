"""The request list's day filters in the caller's time zone, through the HTTP API, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI

from shared.contracts.envelope import Actor, ActorKind, EventEnvelope
from shared.contracts.tickets import Importance, Status, TicketCreated, TicketEventData
from shared.health import Readiness
from shared.http import create_app
from shared.settings import CommonSettings, ServiceSettings
from tests.conftest import TokenFactory, auth
from tickets.entrypoints import http_history
from tickets.entrypoints.http_history import HistoryReads
from tickets.projections.history import project
from tickets.projections.store import HistoryStore

pytestmark = pytest.mark.integration

# 22:30 UTC on 1 March is 00:30 on 2 March in Kyiv (EET, UTC+2).
LATE_EVENING_UTC = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)


def created_at(at: datetime, *, number: str) -> EventEnvelope[TicketEventData]:
    return EventEnvelope[TicketEventData](
        event_id=uuid4(),
        type="ticket.created",
        schema_version=1,
        occurred_at=at,
        account_id="hotel-a",
        aggregate_id=uuid4(),
        aggregate_version=1,
        ticket_number=number,
        actor=Actor(kind=ActorKind.USER, id="u1", name="u1"),
        data=TicketCreated(
            number=number,
            topic="reports",
            importance=Importance.NORMAL,
            comment="Night audit",
            message="No totals",
            message_id=uuid4(),
            status=Status.NEW,
        ),
    )


@pytest.fixture
async def client(store_factory: Any, common_settings: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    store: HistoryStore = store_factory()
    envelope = created_at(LATE_EVENING_UTC, number="HD-000001")
    store.apply([project(envelope)], expected_seq=0, new_seq=1)
    app: FastAPI = create_app(
        service="tickets", title="t", settings=ServiceSettings(common=common_settings), readiness=Readiness()
    )
    app.state.history, app.state.history_reads = store, HistoryReads()
    app.include_router(http_history.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


async def listed(client: httpx.AsyncClient, token: str, **params: str) -> list[UUID]:
    response = await client.get("/api/v1/tickets", params=params, headers=auth(token))
    assert response.status_code == 200, response.text
    return [UUID(item["ticket_id"]) for item in response.json()["items"]]


async def test_a_request_made_after_midnight_in_kyiv_belongs_to_that_kyiv_day(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = make_token(role="user", account="hotel-a")
    kyiv = {"tz": "Europe/Kyiv"}
    assert len(await listed(client, token, date="2026-03-02", **kyiv)) == 1
    assert await listed(client, token, date="2026-03-01", **kyiv) == []
    assert len(await listed(client, token, date_from="2026-03-02", **kyiv)) == 1
    assert await listed(client, token, date_to="2026-03-01", **kyiv) == []
    # Without `tz` the days are UTC days, as before.
    assert len(await listed(client, token, date="2026-03-01")) == 1
    assert await listed(client, token, date="2026-03-02") == []
    # West of UTC the same moment is still 1 March.
    assert len(await listed(client, token, date="2026-03-01", tz="America/New_York")) == 1


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "", "Europe"])
async def test_a_time_zone_that_does_not_exist_is_a_validation_error_in_the_shared_shape(
    client: httpx.AsyncClient, make_token: TokenFactory, name: str
) -> None:
    token = make_token(role="user", account="hotel-a")
    response = await client.get(
        "/api/v1/tickets", params={"date": "2026-03-02", "tz": name}, headers=auth(token)
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["loc"] == ["query", "tz"]
