"""The whole path in one process: HTTP → store → relay → JetStream → history view, and the OpenAPI."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import auth
from tests.support.tickets_api import PNG, TOPIC, file_part
from tickets.bootstrap import seed_demo
from tickets.settings import TicketsSettings

pytestmark = pytest.mark.e2e


async def test_a_created_request_and_its_reply_show_in_the_users_list_right_away(
    full_client: tuple[httpx.AsyncClient, TicketsSettings], make_token: Callable[..., str]
) -> None:
    client, _ = full_client
    user = auth(make_token(role="user", account="hotel-a", sub="u1"))
    data = {"topic": TOPIC, "comment": "Reports are empty", "message": "Since Monday."}
    created = await client.post("/api/v1/tickets", data=data, files=[file_part("s.png", PNG)], headers=user)
    assert created.status_code == 201, created.text
    body = created.json()
    listing = await client.get(
        "/api/v1/tickets",
        params={"ticket_id": body["ticket_id"], "min_version": body["version"]},
        headers=user,
    )
    assert listing.status_code == 200, listing.text
    assert [item["number"] for item in listing.json()["items"]] == [body["number"]]
    agent = auth(make_token(role="agent", account=None, sub="a1"))
    reply = await client.post(
        f"/api/v1/tickets/{body['ticket_id']}/replies", data={"text": "On it"}, headers=agent
    )
    assert reply.status_code == 201
    detail = await client.get(
        f"/api/v1/tickets/{body['ticket_id']}", params={"min_version": reply.json()["version"]}, headers=user
    )
    assert detail.status_code == 200, detail.text
    kinds = [item.get("type") or item.get("kind") for item in detail.json()["timeline"]]
    assert len(kinds) >= 3  # created, attachment, reply
    stranger = auth(make_token(role="user", account="hotel-b", sub="u2"))
    other = await client.get(f"/api/v1/tickets/{body['ticket_id']}", headers=stranger)
    assert other.status_code == 404


async def test_the_demo_seed_is_idempotent(
    full_client: tuple[httpx.AsyncClient, TicketsSettings], make_token: Callable[..., str]
) -> None:
    client, settings = full_client
    await seed_demo(settings)
    await seed_demo(settings)
    agent = auth(make_token(role="agent", account=None, sub="a1"))
    created = await client.post(
        "/api/v1/tickets",
        data={"topic": TOPIC, "comment": "c", "message": "m", "account_id": "demo-hotel"},
        headers=agent,
    )
    assert created.status_code == 201
    listing = await client.get(
        "/api/v1/tickets",
        params={
            "account_id": "demo-hotel",
            "ticket_id": created.json()["ticket_id"],
            "min_version": 1,
            "limit": 100,
        },
        headers=agent,
    )
    assert listing.status_code == 200
    assert len(listing.json()["items"]) == 3  # two demo requests, seeded once, and this one


async def test_the_openapi_document_lists_the_command_endpoints(
    full_client: tuple[httpx.AsyncClient, TicketsSettings],
) -> None:
    client, _ = full_client
    schema = (await client.get("/openapi.json")).json()
    for path in (
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket_id}/replies",
        "/api/v1/tickets/{ticket_id}/notes",
        "/api/v1/tickets/{ticket_id}/status",
        "/api/v1/tickets/{ticket_id}/topic",
        "/api/v1/tickets/{ticket_id}/priority",
        "/api/v1/tickets/{ticket_id}/assignee",
        "/api/v1/tickets/{ticket_id}/attachments/{attachment_id}",
        "/api/v1/topics",
    ):
        assert path in schema["paths"], path
    create = schema["paths"]["/api/v1/tickets"]["post"]
    assert "multipart/form-data" in create["requestBody"]["content"]


async def test_the_inbox_endpoints_are_in_the_openapi_with_their_models(
    full_client: tuple[httpx.AsyncClient, TicketsSettings],
) -> None:
    client, _ = full_client
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    listing = {p["name"] for p in paths["/api/v1/tickets"]["get"]["parameters"]}
    assert {"status", "topic", "importance", "priority", "account_id", "assignee", "cursor"} <= listing
    counts = {p["name"] for p in paths["/api/v1/tickets/counts"]["get"]["parameters"]}
    assert "status" not in counts and {"topic", "importance", "priority"} <= counts
    assert list(paths).index("/api/v1/tickets/counts") < list(paths).index("/api/v1/tickets/{ticket_id}")
    assert "/api/v1/tickets/stream" in paths
    components = schema["components"]["schemas"]
    assert {"TicketCounts", "StatusCounts", "TicketStreamEvent"} <= set(components)
    assert "allowed_statuses" in components["TicketDetail"]["properties"]


async def test_the_etag_of_a_ticket_read_guards_the_next_change_and_a_stale_one_is_a_412(
    full_client: tuple[httpx.AsyncClient, TicketsSettings], make_token: Callable[..., str]
) -> None:
    client, _ = full_client
    user = auth(make_token(role="user", account="hotel-a", sub="u1"))
    agent = auth(make_token(role="agent", account=None, sub="a1"))
    data = {"topic": TOPIC, "comment": "Reports are empty", "message": "Since Monday."}
    created = (await client.post("/api/v1/tickets", data=data, headers=user)).json()
    path = f"/api/v1/tickets/{created['ticket_id']}"
    read = await client.get(path, params={"min_version": created["version"]}, headers=agent)
    assert read.status_code == 200 and read.json()["allowed_statuses"] == [
        "in_progress",
        "waiting_for_user",
        "resolved",
        "closed",
    ]
    etag = read.headers["etag"]
    first = await client.post(
        f"{path}/status", json={"status": "in_progress"}, headers={**agent, "If-Match": etag}
    )
    assert first.status_code == 200, first.text
    second = await client.post(
        f"{path}/priority", json={"priority": "p1"}, headers={**agent, "If-Match": etag}
    )
    assert second.status_code == 412
    assert second.json()["error"]["code"] == "precondition_failed"
    again = await client.get(path, params={"min_version": first.json()["version"]}, headers=agent)
    assert again.headers["etag"] == first.headers["etag"]
    assert again.json()["allowed_statuses"] == ["waiting_for_user", "resolved", "closed"]
