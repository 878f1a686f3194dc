"""The popup history through the HTTP API, on SQLite and PostgreSQL, against a real nats-server:
every popup a user received stays listed, in its current state, whatever they did with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest
from nats.aio.client import Client as NATS

from notifications.settings import NotificationsSettings
from tests.conftest import TokenFactory
from tests.support.notifications import FakeClock, created, publish_once, replied, running
from tests.support.wait import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
HISTORY = "/api/v1/popups/history"


async def message(agent: httpx.AsyncClient, text: str, **to: Any) -> str:
    body = {"account_id": "hotel-a", "user_id": "u1", "title": f"About {text}", "text": text, **to}
    sent = await agent.post("/api/v1/messages", json=body)
    assert sent.status_code == 201, sent.text
    popup_id: str = sent.json()["popup_id"]
    return popup_id


async def history(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(HISTORY, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_every_popup_stays_in_the_history_with_its_text_and_its_current_state(
    settings: NotificationsSettings, make_token: TokenFactory, nc: NATS
) -> None:
    clock = FakeClock()
    agent, user = make_token(role="agent", account=None, sub="agent-7"), make_token(sub="u1")
    async with running(settings, clock=clock) as svc, svc.client(agent) as ag, svc.client(user) as me:
        ticket = uuid4()
        js, prefix = nc.jetstream(), settings.common.nats_prefix
        await publish_once(js, prefix, created(ticket, user="u1", number="HD-000007"))
        await publish_once(js, prefix, replied(ticket, number="HD-000007", text="We fixed the invoice."))
        reply = (await eventually(lambda: history(me)))[0]
        clock.advance(minutes=1)
        kept = await message(ag, "kept")
        clock.advance(minutes=1)
        snoozed = await message(ag, "snoozed")
        clock.advance(minutes=1)
        opened = await message(ag, "opened", ticket_number="HD-000007")
        clock.advance(minutes=1)
        deleted = await message(ag, "deleted in the end")

        clock.advance(minutes=1)
        assert (await me.post(f"/api/v1/popups/{kept}/delivered")).status_code == 200
        assert (await me.post(f"/api/v1/popups/{snoozed}/snooze", json={"minutes": 30})).status_code == 200
        assert (await me.post(f"/api/v1/popups/{opened}/open")).status_code == 200
        clock.advance(minutes=1)
        acted_at = clock.now()
        assert (await me.post(f"/api/v1/popups/{deleted}/delivered")).status_code == 200
        assert (await me.post(f"/api/v1/popups/{deleted}/delete")).status_code == 200
        assert {p["popup_id"] for p in (await me.get("/api/v1/popups")).json()["items"]} == {
            reply["popup_id"],
            kept,
        }

        listed = await history(me)
        assert [p["popup_id"] for p in listed] == [deleted, opened, snoozed, kept, reply["popup_id"]]
        by_id = {p["popup_id"]: p for p in listed}
        gone = by_id[deleted]
        assert (gone["status"], gone["title"], gone["text"]) == (
            "deleted",
            "About deleted in the end",
            gone["text"],
        )
        assert gone["text"] == "deleted in the end"  # still readable
        assert datetime.fromisoformat(gone["changed_at"]) == acted_at
        assert datetime.fromisoformat(gone["raised_at"]) < acted_at
        assert by_id[opened]["status"] == "opened"
        assert by_id[opened]["navigate_to"]["ticket_number"] == "HD-000007"
        assert by_id[snoozed]["status"] == "snoozed" and by_id[snoozed]["snoozed_until"] is not None
        assert by_id[kept]["status"] == "delivered" and by_id[kept]["kind"] == "message"
        first = by_id[reply["popup_id"]]
        assert (first["kind"], first["status"], first["ticket_number"]) == (
            "ticket_reply",
            "raised",
            "HD-000007",
        )
        assert first["text"] == "We fixed the invoice." and first["ticket_id"] == str(ticket)
        assert first["changed_at"] == first["raised_at"]

        # The snooze runs out: the history says due, before and after "due again" is recorded.
        clock.advance(minutes=31)
        assert [p["popup_id"] for p in await history(me, status="due")] == [snoozed]
        assert await history(me, status="snoozed") == []
        await eventually(lambda: svc.app.state.components.active.snoozes_due(clock.now()) == [])
        assert (await history(me, status="due"))[0]["snoozed_until"] is None

        filtered = await history(me, status=["opened", "deleted"])
        assert [p["popup_id"] for p in filtered] == [deleted, opened]
        assert [p["popup_id"] for p in await history(me, kind="ticket_reply")] == [reply["popup_id"]]
        assert len(await history(me, kind="message")) == 4


async def test_the_history_pages_newest_first_with_a_cursor(
    settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    clock = FakeClock()
    agent, user = make_token(role="agent", account=None, sub="agent-7"), make_token(sub="u1")
    async with running(settings, clock=clock) as svc, svc.client(agent) as ag, svc.client(user) as me:
        sent = []
        for n in range(5):
            sent.append(await message(ag, f"number {n}"))
            if n != 2:  # two raised in the same microsecond: the id breaks the tie
                clock.advance(seconds=1)
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await me.get(HISTORY, params=params)).json()
            assert len(page["items"]) <= 2
            seen += [p["popup_id"] for p in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [sent[4], *sorted(sent[2:4], reverse=True), sent[1], sent[0]]
        bad = await me.get(HISTORY, params={"cursor": "bm90LWEtY3Vyc29y"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"


async def test_the_day_filters_take_days_in_the_users_time_zone(
    settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    # 22:30 UTC on 1 March is 00:30 on 2 March in Kyiv.
    clock = FakeClock(datetime(2026, 3, 1, 22, 30, tzinfo=UTC))
    agent, user = make_token(role="agent", account=None, sub="agent-7"), make_token(sub="u1")
    async with running(settings, clock=clock) as svc, svc.client(agent) as ag, svc.client(user) as me:
        popup_id = await message(ag, "after midnight in Kyiv")
        kyiv = {"tz": "Europe/Kyiv"}
        on_2nd = await history(me, date_from="2026-03-02", date_to="2026-03-02", **kyiv)
        assert [p["popup_id"] for p in on_2nd] == [popup_id]
        assert await history(me, date_from="2026-03-01", date_to="2026-03-01", **kyiv) == []
        assert await history(me, date_to="2026-03-01", **kyiv) == []
        assert len(await history(me, date_from="2026-03-02", **kyiv)) == 1
        # Without `tz` the days are UTC days.
        assert len(await history(me, date_from="2026-03-01", date_to="2026-03-01")) == 1
        assert await history(me, date_from="2026-03-02") == []
        for bad in (
            {"tz": "Mars/Olympus"},
            {"tz": "../../etc/passwd"},
            {"tz": ""},
            {"date_from": "2026-03-02", "date_to": "2026-03-01"},
            {"date_from": "yesterday"},
            {"status": "forgotten"},
            {"kind": "email"},
            {"limit": 0},
        ):
            response = await me.get(HISTORY, params=bad)
            assert response.status_code == 422, (bad, response.text)
            assert response.json()["error"]["code"] == "validation_error"
        invalid_tz = (await me.get(HISTORY, params={"tz": "Mars/Olympus"})).json()["error"]
        assert invalid_tz["details"][0]["loc"] == ["query", "tz"]


async def test_another_users_or_accounts_popups_never_appear_in_the_history(
    settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    agent = make_token(role="agent", account=None, sub="agent-7")
    async with running(settings) as svc, svc.client(agent) as ag:
        mine = await message(ag, "for u1")
        whole = await message(ag, "for all of hotel-a", user_id=None)
        other_hotel = await message(ag, "for hotel-b", account_id="hotel-b", user_id="u1")
        async with (
            svc.client(make_token(sub="u1")) as me,
            svc.client(make_token(sub="u2")) as colleague,
            svc.client(make_token(sub="u1", account="hotel-b")) as stranger,
        ):
            assert (await colleague.post(f"/api/v1/popups/{mine}/delete")).status_code == 404
            assert (await me.post(f"/api/v1/popups/{mine}/delete")).status_code == 200
            assert {p["popup_id"] for p in await history(me)} == {mine, whole}
            assert [p["popup_id"] for p in await history(colleague)] == [whole]
            assert [p["popup_id"] for p in await history(stranger)] == [other_hotel]
            assert (await colleague.get(f"/api/v1/popups/{mine}")).status_code == 404
        async with svc.client(agent) as support, svc.client() as anonymous:
            assert (await support.get(HISTORY)).status_code == 403  # a hotel user's own list
            assert (await anonymous.get(HISTORY)).status_code == 401


async def test_history_is_a_route_of_its_own_not_a_popup_id(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    agent = make_token(role="agent", account=None, sub="agent-7")
    async with running(sqlite_settings) as svc, svc.client(agent) as ag, svc.client(make_token()) as me:
        popup_id = await message(ag, "hello")
        assert (await me.get(HISTORY)).json()["items"][0]["popup_id"] == popup_id
        assert (await me.get(f"/api/v1/popups/{popup_id}")).json()["popup_id"] == popup_id
        spec = (await me.get("/openapi.json")).json()
        operation = spec["paths"][HISTORY]["get"]
        assert {p["name"] for p in operation["parameters"]} == {
            "date_from",
            "date_to",
            "tz",
            "status",
            "kind",
            "cursor",
            "limit",
        }
