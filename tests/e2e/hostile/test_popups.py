"""Popups against the whole running system, through the gateway: a popup sent to a whole hotel is
each colleague's own (one deleting it leaves it for the others, in their list and their tabs), and an
`Idempotency-Key` reused with another message is refused instead of answered with the first."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.helpdesk_system import HelpdeskSystem, running_system
from tests.support.notifications import open_sse
from tests.support.sse import SseEvent, SseReader

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskSystem]:
    with running_system(tmp_path_factory.mktemp("hostile-popups")) as running:
        yield running


@pytest.fixture
async def gateway(system: HelpdeskSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def next_popup_event(reader: SseReader) -> SseEvent:
    """The next popup change on the stream (keep-alive and `ready` events aside)."""
    while True:
        event = await reader.next()
        if event.event.startswith("popup."):
            return event


async def test_one_colleague_deleting_a_popup_sent_to_the_hotel_leaves_it_for_the_others(
    system: HelpdeskSystem, gateway: httpx.AsyncClient
) -> None:
    hotel = f"hotel-{uuid.uuid4().hex[:8]}"
    agent = bearer(system.token(role="agent", sub="agent-1"))
    anna = system.token(role="user", sub="anna", account=hotel)
    bohdan = system.token(role="user", sub="bohdan", account=hotel)
    anna_tabs = [await open_sse(system.url, anna) for _ in range(2)]
    bohdan_tab = await open_sse(system.url, bohdan)
    try:
        sent = await gateway.post(
            "/api/v1/messages", json={"account_id": hotel, "text": "Water off 10:00-12:00"}, headers=agent
        )
        assert sent.status_code == 201, sent.text
        popup_id = sent.json()["popup_id"]
        for tab in (*anna_tabs, bohdan_tab):
            raised = await next_popup_event(tab)
            assert (raised.event, raised.data["data"]["popup"]["popup_id"]) == ("popup.raised", popup_id)

        deleted = await gateway.post(f"/api/v1/popups/{popup_id}/delete", headers=bearer(anna))
        assert deleted.status_code == 200 and deleted.json()["status"] == "deleted", deleted.text
        for tab in anna_tabs:  # the tab that deleted it and her other one
            change = await next_popup_event(tab)
            assert (change.event, change.data["data"]["popup"]["popup_id"]) == ("popup.deleted", popup_id)
        assert (await gateway.get("/api/v1/popups", headers=bearer(anna))).json()["items"] == []

        listed = (await gateway.get("/api/v1/popups", headers=bearer(bohdan))).json()["items"]
        assert [(p["popup_id"], p["status"]) for p in listed] == [(popup_id, "raised")]
        shown = await gateway.post(f"/api/v1/popups/{popup_id}/delivered", headers=bearer(bohdan))
        assert shown.status_code == 200 and shown.json()["status"] == "delivered", shown.text
        # His stream's next change is his own: Anna's delete never reached his tab.
        his = await next_popup_event(bohdan_tab)
        assert (his.event, his.data["data"]["popup"]["status"]) == ("popup.delivered", "delivered")
    finally:
        for tab in (*anna_tabs, bohdan_tab):
            await tab.close()


async def test_an_idempotency_key_reused_with_another_message_is_refused(
    system: HelpdeskSystem, gateway: httpx.AsyncClient
) -> None:
    first_hotel, second_hotel = (f"hotel-{uuid.uuid4().hex[:8]}" for _ in range(2))
    agent = {**bearer(system.token(role="agent", sub="agent-2")), "Idempotency-Key": uuid.uuid4().hex}
    first = await gateway.post(
        "/api/v1/messages", json={"account_id": first_hotel, "text": "Invoice sent"}, headers=agent
    )
    assert first.status_code == 201, first.text
    again = await gateway.post(
        "/api/v1/messages", json={"account_id": first_hotel, "text": "Invoice sent"}, headers=agent
    )
    assert again.status_code == 201 and again.json()["popup_id"] == first.json()["popup_id"]

    other = await gateway.post(
        "/api/v1/messages", json={"account_id": second_hotel, "text": "Your room is ready"}, headers=agent
    )
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "validation_error"
    reader = bearer(system.token(role="user", sub="u1", account=second_hotel))
    assert (await gateway.get("/api/v1/popups", headers=reader)).json()["items"] == []
