"""The request list through the HTTP API, on both databases: who reads which account's requests, the
read-your-writes wait telling nothing about other accounts, the `#` of each row across pages, labels in
the caller's language, days in the caller's time zone, and cursors that are not this list's."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
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
from tickets.projections.waiter import ViewWaiter

pytestmark = pytest.mark.integration

LIST = "/api/v1/tickets"
CONSISTENT = "x-history-consistent"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TOPICS = ["reports", "payments", "bookings"]


def created(at: datetime, *, number: int, account: str, topic: str) -> EventEnvelope[TicketEventData]:
    ticket_number = f"HD-{number:06d}"
    return EventEnvelope[TicketEventData](
        event_id=uuid4(),
        type="ticket.created",
        schema_version=1,
        occurred_at=at,
        account_id=account,
        aggregate_id=uuid4(),
        aggregate_version=1,
        ticket_number=ticket_number,
        actor=Actor(kind=ActorKind.USER, id="u1", name="u1"),
        data=TicketCreated(
            number=ticket_number,
            topic=topic,
            importance=Importance.NORMAL,
            comment=f"Request {number}",
            message="Details",
            message_id=uuid4(),
            status=Status.NEW,
        ),
    )


class Listing:
    def __init__(self, http: httpx.AsyncClient, tickets: dict[str, list[UUID]]) -> None:
        self.http = http
        self.tickets = tickets  # per account, oldest first


@pytest.fixture
async def listing(store_factory: Any, common_settings: CommonSettings) -> AsyncIterator[Listing]:
    store: HistoryStore = store_factory()
    tickets: dict[str, list[UUID]] = {"hotel-a": [], "hotel-b": []}
    envelopes = []
    for n in range(9):
        account = "hotel-a" if n < 7 else "hotel-b"
        envelope = created(START + timedelta(hours=n), number=n + 1, account=account, topic=TOPICS[n % 3])
        tickets[account].append(envelope.aggregate_id)
        envelopes.append(envelope)
    # Kyiv's clocks went back on 25 October 2026: that day is 25 hours long (00:00 EEST to 00:00 EET).
    for n, at in enumerate(
        (datetime(2026, 10, 24, 21, 30, tzinfo=UTC), datetime(2026, 10, 25, 21, 30, tzinfo=UTC)), start=9
    ):
        envelope = created(at, number=n + 1, account="hotel-b", topic="reports")
        tickets["hotel-b"].append(envelope.aggregate_id)
        envelopes.append(envelope)
    store.apply([project(e) for e in envelopes], expected_seq=0, new_seq=len(envelopes))
    app: FastAPI = create_app(
        service="tickets", title="t", settings=ServiceSettings(common=common_settings), readiness=Readiness()
    )
    # A short wait keeps the tests quick: what matters is which answer comes, not how long it takes.
    app.state.history, app.state.history_reads = store, HistoryReads(waiter=ViewWaiter(), wait_timeout=0.3)
    app.include_router(http_history.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield Listing(http, tickets)


async def test_an_editor_token_reads_no_account_s_requests(
    listing: Listing, make_token: TokenFactory
) -> None:
    for account in (None, "hotel-a"):
        editor = auth(make_token(role="editor", account=account, sub="e1"))
        for path in (LIST, f"{LIST}/counts", f"{LIST}/{listing.tickets['hotel-a'][0]}"):
            response = await listing.http.get(path, headers=editor)
            assert response.status_code == 403, (account, path, response.text)
            assert response.json()["error"]["code"] == "forbidden"


async def test_a_user_reads_their_own_account_and_support_every_one(
    listing: Listing, make_token: TokenFactory
) -> None:
    user = auth(make_token(role="user", account="hotel-a"))
    mine = (await listing.http.get(LIST, params={"limit": 100}, headers=user)).json()["items"]
    assert {item["account_id"] for item in mine} == {"hotel-a"} and len(mine) == 7
    other = await listing.http.get(LIST, params={"account_id": "hotel-b"}, headers=user)
    assert other.status_code == 403
    stranger = await listing.http.get(f"{LIST}/{listing.tickets['hotel-b'][0]}", headers=user)
    assert stranger.status_code == 404
    agent = auth(make_token(role="agent", account=None, sub="a1"))
    every = (await listing.http.get(LIST, params={"limit": 100}, headers=agent)).json()["items"]
    assert {item["account_id"] for item in every} == {"hotel-a", "hotel-b"}
    one = (await listing.http.get(LIST, params={"account_id": "hotel-b"}, headers=agent)).json()["items"]
    assert {item["account_id"] for item in one} == {"hotel-b"}


@pytest.mark.parametrize("path", ["list", "ticket"])
async def test_another_account_s_ticket_id_waits_and_answers_like_a_missing_one(
    listing: Listing, make_token: TokenFactory, path: str
) -> None:
    user = auth(make_token(role="user", account="hotel-a"))

    async def ask(ticket_id: UUID) -> httpx.Response:
        if path == "list":
            params = {"ticket_id": str(ticket_id), "min_version": "1"}
            return await listing.http.get(LIST, params=params, headers=user)
        return await listing.http.get(f"{LIST}/{ticket_id}", params={"min_version": "1"}, headers=user)

    own, foreign, missing = (
        await ask(listing.tickets["hotel-a"][0]),
        await ask(listing.tickets["hotel-b"][0]),
        await ask(uuid4()),
    )
    assert own.status_code == 200 and own.headers.get(CONSISTENT) in ("true", None)
    assert foreign.status_code == missing.status_code
    assert foreign.headers.get(CONSISTENT) == missing.headers.get(CONSISTENT)
    assert set(foreign.headers) == set(missing.headers)
    if path == "list":
        assert own.headers[CONSISTENT] == "true" and foreign.headers[CONSISTENT] == "false"
        assert foreign.json() == missing.json()
    else:
        assert foreign.status_code == 404
        assert foreign.json()["error"]["message"] == missing.json()["error"]["message"]


async def test_each_row_carries_its_place_in_the_filtered_list_continuing_across_pages(
    listing: Listing, make_token: TokenFactory
) -> None:
    user = auth(make_token(role="user", account="hotel-a"))
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = httpx.QueryParams([("limit", "2"), ("topic", "reports"), ("topic", "payments")])
        params = params.add("cursor", cursor) if cursor else params
        page = (await listing.http.get(LIST, params=params, headers=user)).json()
        rows += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [row["ordinal"] for row in rows] == list(range(1, 6))
    assert [row["number"] for row in rows] == [f"HD-00000{n}" for n in (7, 5, 4, 2, 1)]


async def test_labels_come_in_the_language_asked_for_by_query_or_accept_language(
    listing: Listing, make_token: TokenFactory
) -> None:
    user = auth(make_token(role="user", account="hotel-a"))
    agent = auth(make_token(role="agent", account=None, sub="a1"))

    async def first(headers: dict[str, str], **params: str) -> tuple[dict[str, Any], str]:
        response = await listing.http.get(LIST, params={"limit": "1", **params}, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()["items"][0], response.headers["content-language"]

    assert await first(user, lang="uk") == ({**(await first(user))[0], "status_label": "Нове"}, "uk")
    row, lang = await first({**user, "Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"})
    assert (row["status_label"], lang) == ("Nowe", "pl")
    row, lang = await first({**user, "Accept-Language": "de-DE, ru;q=0.3"})
    assert (row["status_label"], lang) == ("Новая", "ru")
    row, lang = await first({**user, "Accept-Language": "ru"}, lang="en")
    assert (row["status_label"], row["topic_label"], lang) == ("New", "Reports", "en")
    ticket = await listing.http.get(f"{LIST}/{row['ticket_id']}", params={"lang": "uk"}, headers=agent)
    assert ticket.json()["status_label"] == "Нове" and ticket.json()["topic_label"] == "Reports"
    unknown = await listing.http.get(LIST, params={"lang": "de"}, headers=user)
    assert unknown.status_code == 422 and unknown.json()["error"]["details"][0]["loc"] == ["query", "lang"]


async def test_a_day_in_the_caller_s_zone_spans_its_local_midnights_even_when_the_clocks_change(
    listing: Listing, make_token: TokenFactory
) -> None:
    user = auth(make_token(role="user", account="hotel-b"))

    async def numbers(**params: str) -> list[str]:
        response = await listing.http.get(LIST, params=params, headers=user)
        assert response.status_code == 200, response.text
        return [item["number"] for item in response.json()["items"]]

    assert await numbers(date="2026-10-25", tz="Europe/Kyiv") == ["HD-000011", "HD-000010"]
    assert await numbers(date="2026-10-25") == ["HD-000011"]  # UTC: the first was still 24 October
    assert await numbers(date_from="2026-10-25", date_to="2026-10-25", tz="Europe/Kyiv") == [
        "HD-000011",
        "HD-000010",
    ]
    counts = await listing.http.get(
        f"{LIST}/counts", params={"date": "2026-10-25", "tz": "Europe/Kyiv"}, headers=user
    )
    assert counts.json()["total"] == 2
    for bad in ("Mars/Olympus", "Europe", "x" * 65):
        response = await listing.http.get(LIST, params={"date": "2026-10-25", "tz": bad}, headers=user)
        assert response.status_code == 422, bad
        assert response.json()["error"]["details"][0]["loc"] == ["query", "tz"]


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("time", [str(2**63), str(2**64 + 5), "²"])
async def test_a_cursor_whose_time_no_column_can_hold_is_a_422_on_the_cursor(
    listing: Listing, make_token: TokenFactory, time: str
) -> None:
    user = auth(make_token(role="user", account="hotel-a"))
    response = await listing.http.get(LIST, params={"cursor": _cursor(f"{time}:{uuid4()}")}, headers=user)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"] == ["query", "cursor"]


async def test_a_control_character_in_a_filter_is_a_422_naming_it(
    listing: Listing, make_token: TokenFactory
) -> None:
    user = auth(make_token(role="user", account="hotel-a"))
    response = await listing.http.get(LIST, params={"topic": "reports\x00"}, headers=user)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["query", "topic", 0]
