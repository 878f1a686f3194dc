"""Opening the popup stream as a browser's EventSource does: no Authorization header, a short-lived
stream token in the URL, accepted there only."""

from __future__ import annotations

import httpx
import pytest

from notifications.settings import NotificationsSettings
from tests.conftest import TokenFactory
from tests.support.notifications import FakeClock, Running, open_sse, running, stream_token

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def refused(svc: Running, path: str, **params: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=svc.base_url, timeout=5) as client:
        response = await client.get(path, params=params)
    assert response.status_code == 401, response.text
    error: dict[str, object] = response.json()["error"]
    return error


async def test_a_stream_token_opens_that_users_stream_without_an_authorization_header(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    me, agent = make_token(sub="u1"), make_token(role="agent", account=None, sub="agent-7")
    async with running(sqlite_settings) as svc, svc.client(agent) as ag:
        tab = await open_sse(svc.base_url, None, params={"access_token": await stream_token(svc, me)})
        try:
            assert tab.status == 200
            body = {"account_id": "hotel-a", "text": "for u1"}
            await ag.post("/api/v1/messages", json={**body, "user_id": "u2", "text": "for u2"})
            mine = (await ag.post("/api/v1/messages", json={**body, "user_id": "u1"})).json()["popup_id"]
            raised = await tab.next("popup.raised")
            assert raised.data["data"]["popup"]["popup_id"] == mine  # u2's came first, and never here
        finally:
            await tab.close()


async def test_an_expired_stream_token_is_refused_with_401(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    clock = FakeClock()
    async with running(sqlite_settings, clock=clock) as svc:
        token = await stream_token(svc, make_token(sub="u1"))
        clock.advance(seconds=61)
        error = await refused(svc, "/api/v1/popups/stream", access_token=token)
        assert error["code"] == "unauthorized" and "expired" in str(error["message"])


async def test_a_stream_token_opens_nothing_but_the_stream_and_a_bearer_token_is_no_stream_token(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    me = make_token(sub="u1")
    async with running(sqlite_settings) as svc:
        token = await stream_token(svc, me)
        await refused(svc, "/api/v1/popups", access_token=token)  # other endpoints ignore it
        async with svc.client(token) as as_bearer:  # nor is it a bearer token anywhere
            assert (await as_bearer.get("/api/v1/popups")).status_code == 401
            assert (await as_bearer.post("/api/v1/popups/stream-token")).status_code == 401
        await refused(svc, "/api/v1/popups/stream", access_token=me)  # a bearer token in the URL
        await refused(svc, "/api/v1/popups/stream", access_token=token[:-4] + "AAAA")  # altered
        await refused(svc, "/api/v1/popups/stream")  # neither
        async with svc.client(make_token(role="agent", account=None)) as agent:
            assert (await agent.post("/api/v1/popups/stream-token")).status_code == 403
