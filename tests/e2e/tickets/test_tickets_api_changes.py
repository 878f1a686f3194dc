"""Replies, notes, status, topic, priority and assignee over HTTP, with roles and concurrency."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.support.tickets_api import PDF, PNG, Api, file_part

pytestmark = pytest.mark.e2e


def url(ticket: dict[str, Any], action: str) -> str:
    return f"/api/v1/tickets/{ticket['ticket_id']}/{action}"


async def test_the_user_and_support_reply_and_the_version_grows(api: Api) -> None:
    ticket = await api.create_ok()
    agent = await api.client.post(url(ticket, "replies"), data={"text": "Looking"}, headers=api.agent())
    assert agent.status_code == 201, agent.text
    assert agent.json()["version"] == 2
    assert agent.headers["etag"] == '"2"'
    user = await api.client.post(url(ticket, "replies"), data={"text": "Thanks"}, headers=api.user())
    assert user.json()["version"] == 3
    assert user.json()["message_id"] is not None


async def test_a_reply_with_a_file_only_is_accepted_and_with_nothing_is_a_422(api: Api) -> None:
    ticket = await api.create_ok()
    with_file = await api.client.post(
        url(ticket, "replies"), files=[file_part("a.pdf", PDF)], headers=api.user()
    )
    assert with_file.status_code == 201, with_file.text
    assert with_file.json()["attachment_id"] is not None
    assert with_file.json()["version"] == 3  # replied + attachment added
    empty = await api.client.post(url(ticket, "replies"), data={"text": " "}, headers=api.user())
    assert empty.status_code == 422
    two = await api.client.post(
        url(ticket, "replies"), files=[file_part("a.pdf", PDF), file_part("b.png", PNG)], headers=api.user()
    )
    assert two.status_code == 422


async def test_a_user_reply_to_a_request_waiting_for_them_puts_it_back_in_progress(api: Api) -> None:
    ticket = await api.create_ok()
    waiting = await api.client.post(
        url(ticket, "status"), json={"status": "waiting_for_user"}, headers=api.agent()
    )
    assert waiting.status_code == 200
    assert waiting.json()["status"] == "waiting_for_user"
    reply = await api.client.post(url(ticket, "replies"), data={"text": "Here you go"}, headers=api.user())
    assert reply.json()["status"] == "in_progress"


async def test_a_closed_request_refuses_replies_and_reopening_with_409(api: Api) -> None:
    ticket = await api.create_ok()
    closed = await api.client.post(url(ticket, "status"), json={"status": "closed"}, headers=api.agent())
    assert closed.status_code == 200
    reply = await api.client.post(url(ticket, "replies"), data={"text": "Hello?"}, headers=api.user())
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "conflict"
    reopen = await api.client.post(url(ticket, "status"), json={"status": "in_progress"}, headers=api.agent())
    assert reopen.status_code == 409


async def test_only_support_adds_notes_and_changes_status_topic_priority_assignee(api: Api) -> None:
    ticket = await api.create_ok()
    for action, body in (
        ("notes", {"text": "x"}),
        ("status", {"status": "closed"}),
        ("topic", {"topic": "other"}),
        ("priority", {"priority": "p1"}),
        ("assignee", {"to_self": True}),
    ):
        response = await api.client.post(url(ticket, action), json=body, headers=api.user())
        assert response.status_code == 403, action
        assert response.json()["error"]["code"] == "forbidden"


async def test_support_notes_and_changes_topic_priority_and_assignee(api: Api) -> None:
    ticket = await api.create_ok()
    note = await api.client.post(url(ticket, "notes"), json={"text": "Called the hotel"}, headers=api.agent())
    assert note.status_code == 201 and note.json()["note_id"]
    topic = await api.client.post(url(ticket, "topic"), json={"topic": "other"}, headers=api.agent())
    assert topic.status_code == 200 and topic.json()["changed"] is True
    same = await api.client.post(url(ticket, "topic"), json={"topic": "other"}, headers=api.agent())
    assert same.json()["changed"] is False
    unknown = await api.client.post(url(ticket, "topic"), json={"topic": "Nope"}, headers=api.agent())
    assert unknown.status_code == 422
    priority = await api.client.post(url(ticket, "priority"), json={"priority": "p2"}, headers=api.agent())
    assert priority.status_code == 200
    bad = await api.client.post(url(ticket, "priority"), json={"priority": "p9"}, headers=api.agent())
    assert bad.status_code == 422
    mine = await api.client.post(url(ticket, "assignee"), json={"to_self": True}, headers=api.agent("a1"))
    assert mine.status_code == 200
    other = await api.client.post(
        url(ticket, "assignee"), json={"assignee_id": "a2", "assignee_name": "Iryna"}, headers=api.agent("a1")
    )
    assert other.status_code == 200
    assert other.json()["version"] == 6


async def test_an_unknown_ticket_is_a_404(api: Api) -> None:
    ghost = {"ticket_id": str(uuid.uuid4())}
    response = await api.client.post(url(ghost, "status"), json={"status": "closed"}, headers=api.agent())
    assert response.status_code == 404
    response = await api.client.post(url(ghost, "replies"), data={"text": "x"}, headers=api.user())
    assert response.status_code == 404


async def test_if_match_with_a_stale_version_is_a_412_and_with_the_current_one_succeeds(api: Api) -> None:
    ticket = await api.create_ok()
    stale = await api.client.post(
        url(ticket, "priority"), json={"priority": "p1"}, headers={**api.agent(), "If-Match": '"7"'}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
    fresh = await api.client.post(
        url(ticket, "priority"), json={"priority": "p1"}, headers={**api.agent(), "If-Match": '"1"'}
    )
    assert fresh.status_code == 200
    garbled = await api.client.post(
        url(ticket, "priority"), json={"priority": "p2"}, headers={**api.agent(), "If-Match": "abc"}
    )
    assert garbled.status_code == 422
    assert garbled.json()["error"]["details"][0]["loc"] == ["header", "If-Match"]
    # `str.isdigit()` takes a superscript two (byte 0xB2 read as Latin-1), `int()` does not: a 422.
    superscript = await api.client.post(
        url(ticket, "priority"),
        json={"priority": "p2"},
        headers=[*((k.encode(), v.encode()) for k, v in api.agent().items()), (b"If-Match", b"\xb2")],
    )
    assert superscript.status_code == 422
    anything = await api.client.post(
        url(ticket, "priority"), json={"priority": "p3"}, headers={**api.agent(), "If-Match": "*"}
    )
    assert anything.status_code == 200 and anything.json()["version"] == 3


CHANGES: dict[str, tuple[str, dict[str, Any]]] = {
    "reply": ("replies", {"data": {"text": "More details"}}),
    "note": ("notes", {"json": {"text": "Call them back"}}),
    "status": ("status", {"json": {"status": "waiting_for_user"}}),
    "topic": ("topic", {"json": {"topic": "other"}}),
    "priority": ("priority", {"json": {"priority": "p2"}}),
    "assignee": ("assignee", {"json": {"to_self": True}}),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_every_change_based_on_a_stale_version_is_a_412_in_the_error_shape_and_changes_nothing(
    api: Api, change: str
) -> None:
    ticket = await api.create_ok()
    moved = await api.client.post(url(ticket, "status"), json={"status": "in_progress"}, headers=api.agent())
    assert moved.json()["version"] == 2
    action, body = CHANGES[change]
    callers = [api.agent(), api.user()] if change == "reply" else [api.agent()]
    for caller in callers:
        stale = await api.client.post(url(ticket, action), **body, headers={**caller, "If-Match": '"1"'})
        assert stale.status_code == 412, stale.text
        error = stale.json()["error"]
        assert error["code"] == "precondition_failed" and error["message"]
    current = await api.client.post(url(ticket, action), **body, headers={**api.agent(), "If-Match": '"2"'})
    assert current.status_code in (200, 201), current.text
    assert current.json()["version"] == 3  # the stale attempts recorded nothing
    assert current.headers["etag"] == '"3"'


async def test_concurrent_conflicting_changes_one_wins_the_other_gets_409(api: Api) -> None:
    ticket = await api.create_ok()
    await api.client.post(url(ticket, "status"), json={"status": "in_progress"}, headers=api.agent())
    a, b = await asyncio.wait_for(
        asyncio.gather(
            api.client.post(url(ticket, "status"), json={"status": "closed"}, headers=api.agent("a1")),
            api.client.post(url(ticket, "status"), json={"status": "closed"}, headers=api.agent("a2")),
        ),
        timeout=30,
    )
    assert sorted([a.status_code, b.status_code]) == [200, 409]


async def test_concurrent_changes_based_on_the_same_version_one_wins_the_other_gets_412(api: Api) -> None:
    ticket = await api.create_ok()
    headers = {"If-Match": '"1"'}
    a, b = await asyncio.wait_for(
        asyncio.gather(
            api.client.post(
                url(ticket, "priority"), json={"priority": "p1"}, headers={**api.agent("a1"), **headers}
            ),
            api.client.post(
                url(ticket, "topic"), json={"topic": "other"}, headers={**api.agent("a2"), **headers}
            ),
        ),
        timeout=30,
    )
    assert sorted([a.status_code, b.status_code]) == [200, 412]
