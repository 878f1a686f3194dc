"""The popup lifecycle through the HTTP API, on SQLite and PostgreSQL, against a real nats-server."""

from __future__ import annotations

from uuid import uuid4

import pytest

from notifications.settings import NotificationsSettings
from tests.conftest import TokenFactory
from tests.support.notifications import FakeClock, running

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def test_a_popup_goes_through_its_whole_lifecycle_and_never_disappears_by_itself(
    settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    clock = FakeClock()
    agent = make_token(role="agent", account=None, sub="agent-7")
    user = make_token(sub="u1")
    async with running(settings, clock=clock) as svc, svc.client(agent) as ag, svc.client(user) as me:
        sent = await ag.post(
            "/api/v1/messages",
            json={
                "account_id": "hotel-a",
                "user_id": "u1",
                "text": "Your invoice is fixed",
                "ticket_number": "HD-000042",
            },
        )
        assert sent.status_code == 201, sent.text
        popup_id = sent.json()["popup_id"]
        assert sent.json()["status"] == "raised"

        listed = (await me.get("/api/v1/popups")).json()["items"]
        assert [p["popup_id"] for p in listed] == [popup_id]

        delivered = await me.post(f"/api/v1/popups/{popup_id}/delivered")
        assert delivered.json()["status"] == "delivered"
        again = await me.post(f"/api/v1/popups/{popup_id}/delivered")  # a second tab says the same
        assert again.status_code == 200 and again.json()["version"] == delivered.json()["version"]

        snoozed = await me.post(f"/api/v1/popups/{popup_id}/snooze")  # the default delay
        assert snoozed.json()["status"] == "snoozed"
        assert (await me.get("/api/v1/popups")).json()["items"] == []

        clock.advance(minutes=settings.default_snooze_minutes - 1)
        assert (await me.get("/api/v1/popups")).json()["items"] == []
        clock.advance(minutes=2)
        due = (await me.get("/api/v1/popups")).json()["items"]
        assert [(p["popup_id"], p["status"]) for p in due] == [(popup_id, "due")]

        chosen = clock.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
        too_soon = await me.post(f"/api/v1/popups/{popup_id}/snooze", json={"until": chosen})
        assert too_soon.status_code == 422
        later = await me.post(f"/api/v1/popups/{popup_id}/snooze", json={"minutes": 5})
        assert later.json()["status"] == "snoozed"
        clock.advance(minutes=6)

        clock.advance(days=400)  # nothing expires by itself
        assert [p["popup_id"] for p in (await me.get("/api/v1/popups")).json()["items"]] == [popup_id]

        opened = await me.post(f"/api/v1/popups/{popup_id}/open")
        assert opened.status_code == 200
        assert opened.json()["navigate_to"]["ticket_number"] == "HD-000042"
        assert opened.json()["navigate_to"]["path"] == "/help/requests/HD-000042"
        assert opened.json()["popup"]["status"] == "opened"
        assert (await me.get("/api/v1/popups")).json()["items"] == []

        deleted = await me.post(f"/api/v1/popups/{popup_id}/delete")
        assert deleted.json()["status"] == "deleted"
        # Deleted is final: every further action is a conflict, never a silent success.
        for action in ("snooze", "open", "delivered", "delete"):
            response = await me.post(f"/api/v1/popups/{popup_id}/{action}")
            assert response.status_code == 409, action
            assert response.json()["error"]["code"] == "conflict"
        assert (await me.get(f"/api/v1/popups/{popup_id}")).json()["status"] == "deleted"


async def test_another_users_or_accounts_popup_answers_404_on_every_path(
    settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    agent = make_token(role="agent", account=None, sub="agent-7")
    async with running(settings) as svc, svc.client(agent) as ag:
        mine = (
            await ag.post(
                "/api/v1/messages", json={"account_id": "hotel-a", "user_id": "u1", "text": "for u1"}
            )
        ).json()["popup_id"]
        whole = (
            await ag.post("/api/v1/messages", json={"account_id": "hotel-a", "text": "for all of hotel-a"})
        ).json()["popup_id"]
        colleague = make_token(sub="u2")  # same hotel, another user
        stranger = make_token(sub="u1", account="hotel-b")  # same user name, another hotel
        async with svc.client(colleague) as u2, svc.client(stranger) as other:
            assert [p["popup_id"] for p in (await u2.get("/api/v1/popups")).json()["items"]] == [whole]
            assert (await other.get("/api/v1/popups")).json()["items"] == []
            for client, popup_id in ((u2, mine), (other, mine), (other, whole)):
                assert (await client.get(f"/api/v1/popups/{popup_id}")).status_code == 404
                for action in ("snooze", "open", "delivered", "delete"):
                    response = await client.post(f"/api/v1/popups/{popup_id}/{action}")
                    assert response.status_code == 404, (action, response.text)
            assert (await u2.get(f"/api/v1/popups/{uuid4()}")).status_code == 404
        async with svc.client(make_token(sub="u1")) as me:
            assert (await me.get(f"/api/v1/popups/{mine}")).json()["status"] == "raised"


async def test_only_agents_send_messages_and_hotel_users_alone_hold_popups(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    async with running(sqlite_settings) as svc:
        async with svc.client(make_token(sub="u1")) as me:
            sent = await me.post("/api/v1/messages", json={"account_id": "hotel-a", "text": "hi"})
            assert sent.status_code == 403
        async with svc.client(make_token(role="agent", account=None, sub="a1")) as ag:
            assert (await ag.get("/api/v1/popups")).status_code == 403
            too_long = "x" * (sqlite_settings.max_message_length + 1)
            bad = await ag.post("/api/v1/messages", json={"account_id": "hotel-a", "text": too_long})
            assert bad.status_code == 422
            assert (await ag.post("/api/v1/messages", json={"text": "no account"})).status_code == 422
            key = {"Idempotency-Key": "k-1"}
            body = {"account_id": "hotel-a", "user_id": "u1", "text": "once"}
            first = await ag.post("/api/v1/messages", json=body, headers=key)
            second = await ag.post("/api/v1/messages", json=body, headers=key)
            assert first.json()["popup_id"] == second.json()["popup_id"]
        async with svc.client(make_token(sub="u1")) as me:
            assert len((await me.get("/api/v1/popups")).json()["items"]) == 1
            assert (await me.get("/api/v1/popups/not-a-uuid")).status_code == 422
        async with svc.client() as anonymous:
            assert (await anonymous.get("/api/v1/popups")).status_code == 401


async def test_bad_input_is_refused_in_the_shared_error_shape_never_with_a_500(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    agent = make_token(role="agent", account=None, sub="agent-7")
    async with running(sqlite_settings) as svc, svc.client(agent) as ag, svc.client(make_token()) as me:
        body = {"account_id": "hotel-a", "user_id": "u1", "text": "x"}
        popup_id = (await ag.post("/api/v1/messages", json=body)).json()["popup_id"]
        url = f"/api/v1/popups/{popup_id}/snooze"
        for bad in (
            {"minutes": 0},
            {"until": "2026-01-05T10:00:00"},  # no time zone
            {"until": "2026-01-05T10:00:00Z", "minutes": 5},
            {"until": "2099-01-01T00:00:00Z"},  # beyond the longest snooze
            {"later": True},
        ):
            response = await me.post(url, json=bad)
            assert response.status_code == 422, bad
            assert response.json()["error"]["code"] == "validation_error"
        broken = await me.post(url, content=b"{", headers={"Content-Type": "application/json"})
        assert broken.status_code == 422
        for bad_message in ({**body, "account_id": "../x"}, {**body, "text": ""}, {**body, "extra": 1}):
            assert (await ag.post("/api/v1/messages", json=bad_message)).status_code == 422
        stream = await me.get("/api/v1/popups/stream", headers={"Last-Event-ID": "x" * 100})
        assert stream.status_code == 422
        assert (await me.get(f"/api/v1/popups/{popup_id}")).json()["status"] == "raised"


async def test_a_last_event_id_that_is_not_ascii_digits_and_text_with_control_characters_are_a_422(
    sqlite_settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    async with running(sqlite_settings) as svc:
        async with svc.client(make_token(sub="u1")) as me:
            # Byte 0xB2 reads as "²": `str.isdigit()` said yes and `int()` raised (a 500).
            header = await me.get("/api/v1/popups/stream", headers=[(b"Last-Event-ID", b"\xb2")])
            assert header.status_code == 422, header.text
            assert header.json()["error"]["details"][0]["loc"] == ["header", "Last-Event-ID"]
            query = await me.get("/api/v1/popups/stream", params={"last_event_id": "²"})
            assert query.status_code == 422, query.text
            assert query.json()["error"]["details"][0]["loc"] == ["query", "last_event_id"]
        async with svc.client(make_token(role="agent", account=None, sub="a1")) as ag:
            for field, value in (("text", "Fixed\x00"), ("title", "Hello\x1b[2J"), ("user_id", "u1\x00")):
                body = {"account_id": "hotel-a", "text": "Fixed", field: value}
                refused = await ag.post("/api/v1/messages", json=body)
                assert refused.status_code == 422, (field, refused.text)
                assert refused.json()["error"]["details"][0]["loc"] == ["body", field]
            kept = await ag.post("/api/v1/messages", json={"account_id": "hotel-a", "text": "Line\r\n\tnext"})
            assert kept.status_code == 201 and kept.json()["text"] == "Line\r\n\tnext"
