"""Live delivery over Server-Sent Events: every tab of the user, nobody else, across processes."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest
from nats.aio.client import Client as NATS

from notifications.settings import NotificationsSettings
from tests.conftest import TokenFactory
from tests.support.notifications import (
    FakeClock,
    created,
    open_sse,
    publish_once,
    replied,
    running,
    stream_token,
)
from tests.support.wait import WAIT

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def test_two_tabs_of_one_user_see_every_change_and_a_third_user_sees_nothing(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    clock = FakeClock()
    agent, me = make_token(role="agent", account=None, sub="agent-7"), make_token(sub="u1")
    async with running(sqlite_settings, clock=clock) as svc, svc.client(agent) as ag, svc.client(me) as api:
        tab1, tab2 = await open_sse(svc.base_url, me), await open_sse(svc.base_url, me)
        colleague = await open_sse(svc.base_url, make_token(sub="u2"))
        stranger = await open_sse(svc.base_url, make_token(sub="u1", account="hotel-b"))
        try:
            sent = await ag.post(
                "/api/v1/messages", json={"account_id": "hotel-a", "user_id": "u1", "text": "Hello"}
            )
            popup_id = sent.json()["popup_id"]
            for tab in (tab1, tab2):
                raised = await tab.next("popup.raised")
                assert raised.data["data"]["popup"]["popup_id"] == popup_id
                assert raised.data["data"]["popup"]["text"] == "Hello"

            assert (await api.post(f"/api/v1/popups/{popup_id}/delete")).status_code == 200
            for tab in (tab1, tab2):
                deleted = await tab.next("popup.deleted")
                assert deleted.data["data"]["popup"]["popup_id"] == popup_id
                assert int(deleted.id) > int(raised.id)

            second = (
                await ag.post(
                    "/api/v1/messages", json={"account_id": "hotel-a", "user_id": "u1", "text": "Later"}
                )
            ).json()["popup_id"]
            await tab2.next("popup.raised")
            await api.post(f"/api/v1/popups/{second}/snooze", json={"minutes": 30})
            for tab in (tab1, tab2):
                assert (await tab.next("popup.snoozed")).data["data"]["popup"]["popup_id"] == second
            clock.advance(minutes=31)  # the snooze comes due: every tab shows it again, unprompted
            for tab in (tab1, tab2):
                due = await tab.next("popup.due_again")
                assert due.data["data"]["popup"]["status"] == "due"
                assert due.data["actor"]["kind"] == "system"

            assert await colleague.arrived_within(0.3, prefix="popup.") == []
            assert await stranger.arrived_within(0.0, prefix="popup.") == []
        finally:
            for reader in (tab1, tab2, colleague, stranger):
                await reader.close()


async def test_a_support_reply_on_the_tickets_stream_reaches_the_requesters_tabs_only(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory, nc: NATS
) -> None:
    js, prefix = nc.jetstream(), sqlite_settings.common.nats_prefix
    ticket = uuid4()
    async with running(sqlite_settings) as svc:
        mine = await open_sse(svc.base_url, make_token(sub="u1"))
        colleague = await open_sse(svc.base_url, make_token(sub="u2"))
        try:
            await publish_once(js, prefix, created(ticket, user="u1", number="HD-000007"))
            await publish_once(js, prefix, replied(ticket, number="HD-000007", text="Fixed it"))
            raised = await mine.next("popup.raised")
            popup = raised.data["data"]["popup"]
            assert (popup["user_id"], popup["ticket_number"], popup["text"]) == (
                "u1",
                "HD-000007",
                "Fixed it",
            )
            assert popup["navigate_to"]["ticket_id"] == str(ticket)
            assert raised.data["actor"] == {"kind": "agent", "id": "agent-7", "name": "Olena"}
            assert await colleague.arrived_within(0.3, prefix="popup.") == []
        finally:
            await mine.close()
            await colleague.close()


@pytest.mark.parametrize("via", ["header", "event_source_url"])
async def test_a_tab_reconnecting_with_last_event_id_gets_what_it_missed(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory, via: str
) -> None:
    me = make_token(sub="u1")
    async with running(sqlite_settings) as svc, svc.client(make_token(role="agent", account=None)) as ag:
        first = await open_sse(svc.base_url, me)
        body = {"account_id": "hotel-a", "user_id": "u1", "text": "one"}
        await ag.post("/api/v1/messages", json=body)
        seen = await first.next("popup.raised")
        await first.close()

        missed = [
            (await ag.post("/api/v1/messages", json={**body, "text": text})).json()["popup_id"]
            for text in ("two", "three")
        ]
        await ag.post("/api/v1/messages", json={**body, "user_id": "u2", "text": "not mine"})
        if via == "header":
            again = await open_sse(svc.base_url, me, last_event_id=seen.id, wait_ready=False)
        else:  # a fresh EventSource can send neither header: a stream token and the id go in its URL
            params = {"access_token": await stream_token(svc, me), "last_event_id": seen.id}
            again = await open_sse(svc.base_url, None, params=params, wait_ready=False)
        try:
            replayed = [await again.next("popup.raised"), await again.next("popup.raised")]
            assert [e.data["data"]["popup"]["popup_id"] for e in replayed] == missed
            ready = await again.next("ready")
            assert int(ready.id) > int(replayed[-1].id)
            assert [e.event for e in again.seen] == ["popup.raised", "popup.raised", "ready"]
        finally:
            await again.close()


async def test_a_change_made_through_one_process_reaches_tabs_on_another(
    settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    # Two processes on one store: only the first runs the relay; the second learns of changes through
    # core NATS, like any replica that did not make the change. On PostgreSQL the relay's fallback poll
    # is longer than every wait here: it is the store's NOTIFY that wakes it.
    settings = settings.model_copy(update={"listen_fallback_poll_seconds": 60.0})
    other = settings.model_copy(update={"run_relay": False})
    me = make_token(sub="u1")
    async with running(settings) as a, running(other, run_migrate=False) as b:
        on_a, on_b = await open_sse(a.base_url, me), await open_sse(b.base_url, me)
        try:
            async with b.client(make_token(role="agent", account=None)) as ag:
                sent = await ag.post(
                    "/api/v1/messages", json={"account_id": "hotel-a", "user_id": "u1", "text": "x"}
                )
            popup_id = sent.json()["popup_id"]
            for tab in (on_a, on_b):
                assert (await tab.next("popup.raised")).data["data"]["popup"]["popup_id"] == popup_id
            async with b.client(me) as api:
                await api.post(f"/api/v1/popups/{popup_id}/open")
            for tab in (on_a, on_b):
                assert (await tab.next("popup.opened")).data["data"]["popup"]["status"] == "opened"
        finally:
            await on_a.close()
            await on_b.close()


async def test_an_idle_stream_carries_heartbeats(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    async with running(sqlite_settings) as svc:
        headers = {"Authorization": f"Bearer {make_token(sub='u1')}"}
        timeout = httpx.Timeout(WAIT, read=WAIT)
        async with (
            httpx.AsyncClient(base_url=svc.base_url, timeout=timeout) as client,
            client.stream("GET", "/api/v1/popups/stream", headers=headers) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = []
            async for line in response.aiter_lines():
                lines.append(line)
                if line.startswith(":"):
                    break
            assert any(line.startswith("event: ready") for line in lines)
            assert lines[-1].startswith(": ping")
