"""Read-your-writes without `min_version`: the commands' short-lived cookie makes the next read wait."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import auth
from tests.support.tickets_api import Api
from tickets.entrypoints.http_history import CONSISTENT_HEADER
from tickets.entrypoints.last_write import COOKIE
from tickets.settings import TicketsSettings

pytestmark = pytest.mark.e2e


async def test_a_command_answers_with_a_short_lived_cookie_naming_its_ticket_and_version(api: Api) -> None:
    response = await api.create()
    assert response.status_code == 201
    body = response.json()
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={body['ticket_id']}.{body['version']};")
    for attribute in ("HttpOnly", "Max-Age=10", "Path=/api/v1/tickets", "SameSite=strict"):
        assert attribute in cookie
    assert "Secure" not in cookie  # only in production (behind TLS)


async def test_with_the_projection_stopped_a_read_carrying_the_cookie_waits_and_says_so(api: Api) -> None:
    # Neither relay nor projection runs here: the view never catches up.
    await api.create_ok()
    started = time.monotonic()
    waited = await api.client.get("/api/v1/tickets", headers=api.user())
    assert waited.status_code == 200
    assert waited.headers[CONSISTENT_HEADER] == "false"
    assert time.monotonic() - started >= 1.5  # it waited (bounded: 2 s)
    api.client.cookies.clear()
    plain = await api.client.get("/api/v1/tickets", headers=api.user())
    assert plain.headers[CONSISTENT_HEADER] == "true"


async def test_a_malformed_cookie_is_ignored(api: Api) -> None:
    api.client.cookies.set(COOKIE, "not-a-ticket.x", domain="tickets.test", path="/api/v1/tickets")
    response = await api.client.get("/api/v1/tickets", headers=api.user())
    assert response.status_code == 200
    assert response.headers[CONSISTENT_HEADER] == "true"


async def test_the_users_next_list_shows_their_new_request_without_min_version(
    full_client: tuple[httpx.AsyncClient, TicketsSettings], make_token: Callable[..., str]
) -> None:
    client, _ = full_client
    user = auth(make_token(role="user", account="hotel-a", sub="u1"))
    for i in range(3):
        data = {"topic": "reports", "comment": f"Request {i}", "message": "Totals are wrong."}
        created = await client.post("/api/v1/tickets", data=data, headers=user)
        assert created.status_code == 201, created.text
        listing = await client.get("/api/v1/tickets", headers=user)  # no ticket_id, no min_version
        assert listing.status_code == 200
        assert listing.headers[CONSISTENT_HEADER] == "true"
        assert listing.json()["items"][0]["number"] == created.json()["number"]
        # The view caught up: the cookie is dropped, later reads do not check again.
        assert (
            f'{COOKIE}="";' in listing.headers["set-cookie"] or "Max-Age=0" in listing.headers["set-cookie"]
        )
        assert COOKIE not in client.cookies


async def test_a_reply_is_in_the_timeline_the_user_opens_next(
    full_client: tuple[httpx.AsyncClient, TicketsSettings], make_token: Callable[..., str]
) -> None:
    client, _ = full_client
    user = auth(make_token(role="user", account="hotel-a", sub="u1"))
    data = {"topic": "reports", "comment": "Totals", "message": "Totals are wrong."}
    ticket_id = (await client.post("/api/v1/tickets", data=data, headers=user)).json()["ticket_id"]
    reply = await client.post(f"/api/v1/tickets/{ticket_id}/replies", data={"text": "More"}, headers=user)
    assert reply.status_code == 201
    detail = await client.get(f"/api/v1/tickets/{ticket_id}", headers=user)
    assert detail.headers[CONSISTENT_HEADER] == "true"
    assert detail.json()["version"] >= reply.json()["version"]
