"""An agent's message under one `Idempotency-Key`: a repeat answers the first popup, a different body
is refused (422) and raises nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from notifications.settings import NotificationsSettings
from tests.conftest import TokenFactory
from tests.support.notifications import running

pytestmark = pytest.mark.integration


async def test_a_key_reused_with_another_body_is_refused_and_the_first_message_stands(
    settings: NotificationsSettings, make_token: TokenFactory
) -> None:
    agent = make_token(role="agent", account=None, sub="agent-7")
    key = {"Idempotency-Key": "msg-1"}
    first_body = {"account_id": "hotel-a", "text": "Pool closed today"}
    async with running(settings) as svc, svc.client(agent) as ag:
        first = await ag.post("/api/v1/messages", json=first_body, headers=key)
        assert first.status_code == 201, first.text
        repeat = await ag.post("/api/v1/messages", json=first_body, headers=key)
        assert repeat.status_code == 201 and repeat.json()["popup_id"] == first.json()["popup_id"]

        other = await ag.post(
            "/api/v1/messages", json={"account_id": "hotel-b", "text": "Your invoice is ready"}, headers=key
        )
        assert other.status_code == 422, other.text
        error = other.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"][0]["loc"] == ["header", "Idempotency-Key"]
        retitled = {**first_body, "title": "Another title"}
        assert (await ag.post("/api/v1/messages", json=retitled, headers=key)).status_code == 422

        async with svc.client(make_token(account="hotel-b", sub="u9")) as b:
            assert (await b.get("/api/v1/popups")).json()["items"] == []
        async with svc.client(make_token(account="hotel-a", sub="u1")) as a:
            texts = [p["text"] for p in (await a.get("/api/v1/popups")).json()["items"]]
            assert texts == ["Pool closed today"]
