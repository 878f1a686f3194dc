"""Support's inbox reads on both databases: filters that combine, counts per status scoped to the
caller, and a ticket's allowed next statuses with its ETag."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.health import Readiness
from shared.http import create_app
from shared.settings import CommonSettings, ServiceSettings
from tests.conftest import TokenFactory, auth
from tickets.domain.values import ALLOWED_TRANSITIONS, Status
from tickets.entrypoints import http_history
from tickets.entrypoints.http_history import HistoryReads
from tickets.projections.history import TicketChange
from tickets.projections.store import _INSERT_TICKET, HistoryStore, _change_sql

pytestmark = pytest.mark.integration

ACCOUNTS = ["hotel-a", "hotel-b", "hotel-c"]
TOPICS = ["reports", "billing", "bookings"]
IMPORTANCES = ["low", "normal", "high", "critical"]
PRIORITIES = [None, "p1", "p2"]
STATUSES = [s.value for s in Status]


def fill(store: HistoryStore) -> list[dict[str, Any]]:
    """One ticket for every combination of account, topic, importance, priority and status (540)."""
    rows = []
    combinations = itertools.product(ACCOUNTS, TOPICS, IMPORTANCES, PRIORITIES, STATUSES)
    with store._transaction() as cur:
        for n, (account, topic, importance, priority, status) in enumerate(combinations):
            ticket_id = str(uuid.UUID(int=n + 1))
            row: dict[str, Any] = {
                "ticket_id": ticket_id,
                "account_id": account,
                "number": f"HD-{n:06d}",
                "topic": topic,
                "status": "new",
                "importance": importance,
                "comment": "c",
                "created_us": 1_000 + n,
                "version": 1,
                "first_response_due_us": None,
            }
            store._execute(cur, _INSERT_TICKET, row)
            assignee = "agent-1" if n % 4 == 0 else None
            columns: dict[str, str | None] = {
                "status": status,
                "priority": priority,
                "assignee_id": assignee,
                "assignee_name": None,
            }
            updated = 10_000 + (n * 7) % 541  # distinct (541 is prime), not in creation order
            store._execute(cur, *_change_sql(TicketChange(ticket_id, 2, updated, columns)))
            rows.append({**row, **columns, "version": 2, "updated_us": updated})
    return rows


Inbox = tuple[httpx.AsyncClient, list[dict[str, Any]]]
Params = list[tuple[str, Any]]


@pytest.fixture
async def inbox(
    store_factory: Any, common_settings: CommonSettings
) -> AsyncIterator[tuple[httpx.AsyncClient, list[dict[str, Any]]]]:
    store = store_factory()
    rows = fill(store)
    app = create_app(
        service="tickets", title="t", settings=ServiceSettings(common=common_settings), readiness=Readiness()
    )
    app.state.history, app.state.history_reads = store, HistoryReads()
    app.include_router(http_history.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client, rows


async def every_page(
    client: httpx.AsyncClient, params: Params, headers: dict[str, str]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page_params = [*params, ("limit", "37"), *([("cursor", cursor)] if cursor else [])]
        response = await client.get("/api/v1/tickets", params=page_params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


FILTER_CASES = [
    [("status", "new"), ("status", "in_progress"), ("importance", "critical"), ("importance", "high")],
    [("topic", "billing"), ("priority", "p1"), ("status", "waiting_for_user")],
    [("account_id", "hotel-b"), ("topic", "reports"), ("topic", "bookings"), ("importance", "low")],
    [("priority", "p1"), ("priority", "p2"), ("importance", "normal"), ("assignee", "agent-1")],
    [("status", "resolved"), ("unassigned", "true"), ("topic", "billing"), ("importance", "critical")],
]
COLUMN = {
    "status": "status",
    "topic": "topic",
    "importance": "importance",
    "priority": "priority",
    "account_id": "account_id",
    "assignee": "assignee_id",
    "unassigned": "assignee_id",
}


def as_filters(params: Params) -> dict[str, list[Any]]:
    filters: dict[str, list[Any]] = {}
    for name, value in params:
        filters.setdefault(COLUMN[name], []).append(None if name == "unassigned" else value)
    return filters


@pytest.mark.parametrize("params", FILTER_CASES, ids=lambda p: "+".join(sorted({n for n, _ in p})))
async def test_support_filters_combine_and_page_newest_update_first(
    inbox: Inbox,
    make_token: TokenFactory,
    params: Params,
) -> None:
    client, rows = inbox
    agent = auth(make_token(role="agent", account=None))
    items = await every_page(client, params, agent)
    chosen = [r for r in rows if all(r[c] in v for c, v in as_filters(params).items())]
    chosen.sort(key=lambda r: (r["updated_us"], r["ticket_id"]), reverse=True)
    assert chosen, "every case selects something"
    assert [i["ticket_id"] for i in items] == [r["ticket_id"] for r in chosen]


async def test_a_hotel_user_filters_by_importance_and_topic_in_their_own_account_only(
    inbox: Inbox, make_token: TokenFactory
) -> None:
    client, rows = inbox
    user = auth(make_token(role="user", account="hotel-c"))
    params = [("importance", "high"), ("topic", "billing"), ("status", "closed"), ("status", "new")]
    items = await every_page(client, params, user)
    want = {
        r["ticket_id"]
        for r in rows
        if r["account_id"] == "hotel-c"
        and r["importance"] == "high"
        and r["topic"] == "billing"
        and r["status"] in {"closed", "new"}
    }
    assert {i["ticket_id"] for i in items} == want and len(want) == 6
    for staff_only in ({"priority": "p1"}, {"account_id": "hotel-a"}, {"assignee": "agent-1"}):
        for path in ("/api/v1/tickets", "/api/v1/tickets/counts"):
            refused = await client.get(path, params=staff_only, headers=user)
            assert refused.status_code == 403, (path, staff_only)
            assert refused.json()["error"]["code"] == "forbidden"
    bad = await client.get("/api/v1/tickets", params={"importance": "urgent"}, headers=user)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"


async def test_counts_per_status_follow_the_filters_but_status_and_stay_in_the_users_account(
    inbox: Inbox, make_token: TokenFactory
) -> None:
    client, rows = inbox
    agent = auth(make_token(role="agent", account=None))

    async def counts(params: Params, headers: dict[str, str]) -> dict[str, Any]:
        response = await client.get("/api/v1/tickets/counts", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    everything = await counts([], agent)
    assert everything == {"by_status": {s: 108 for s in STATUSES}, "total": 540}
    params = [("topic", "billing"), ("importance", "critical"), ("importance", "low"), ("priority", "p1")]
    narrowed = await counts([*params, ("status", "closed")], agent)  # status is not a filter of counts
    want = Counter(r["status"] for r in rows if all(r[c] in v for c, v in as_filters(params).items()))
    assert narrowed["by_status"] == {s: want[s] for s in STATUSES}
    assert narrowed["total"] == sum(want.values()) == 30
    one = await counts([("account_id", "hotel-b"), ("unassigned", "true")], agent)
    assert one["total"] == sum(1 for r in rows if r["account_id"] == "hotel-b" and r["assignee_id"] is None)

    mine = await counts([("topic", "reports")], auth(make_token(role="user", account="hotel-a")))
    assert mine == {"by_status": {s: 12 for s in STATUSES}, "total": 60}
    stranger = await counts([], auth(make_token(role="user", account="hotel-z")))
    assert stranger == {"by_status": {s: 0 for s in STATUSES}, "total": 0}
    assert (await client.get("/api/v1/tickets/counts")).status_code == 401


async def test_a_ticket_shows_the_statuses_its_lifecycle_allows_next_and_its_version_as_etag(
    inbox: Inbox, make_token: TokenFactory
) -> None:
    client, rows = inbox
    agent = auth(make_token(role="agent", account=None))
    order = list(Status)
    for status in Status:
        row = next(r for r in rows if r["status"] == status.value and r["account_id"] == "hotel-a")
        for headers in (agent, auth(make_token(role="user", account="hotel-a"))):
            response = await client.get(f"/api/v1/tickets/{row['ticket_id']}", headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["allowed_statuses"] == [s.value for s in order if s in ALLOWED_TRANSITIONS[status]]
            assert response.headers["ETag"] == f'"{body["version"]}"' == '"2"'
    closed = next(r for r in rows if r["status"] == "closed")
    body = (await client.get(f"/api/v1/tickets/{closed['ticket_id']}", headers=agent)).json()
    assert body["allowed_statuses"] == []
    other = next(r for r in rows if r["account_id"] == "hotel-b")
    hidden = await client.get(
        f"/api/v1/tickets/{other['ticket_id']}", headers=auth(make_token(role="user", account="hotel-a"))
    )
    assert hidden.status_code == 404 and "etag" not in hidden.headers
