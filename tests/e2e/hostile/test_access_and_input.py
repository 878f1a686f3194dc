"""Hostile callers against the whole running system, through the one origin: tokens reading other
accounts' requests, probing which ticket ids exist, cursors and numbers made to overflow or to look like
digits, and control characters in every kind of text input.

One `helpdesk up` for the module (real processes, the gateway in front); each test uses its own
accounts and users.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.helpdesk_system import HelpdeskSystem, running_system

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TICKETS = "/api/v1/tickets"
CONSISTENT = "x-history-consistent"
SUPERSCRIPT_TWO = b"\xb2"  # read as Latin-1 it is "²": `str.isdigit()` says yes, `int()` raises


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskSystem]:
    with running_system(tmp_path_factory.mktemp("hostile-access")) as running:
        yield running


@pytest.fixture
def http(system: HelpdeskSystem) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url, timeout=30) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def raw(headers: dict[str, str], name: bytes, value: bytes) -> list[tuple[bytes, bytes]]:
    """Headers with one value sent as exactly these bytes."""
    return [*((k.encode(), v.encode()) for k, v in headers.items()), (name, value)]


def create_ticket(http: httpx.Client, token: str, comment: str = "Night audit totals") -> dict[str, Any]:
    form = {"topic": "reports", "comment": comment, "message": "The totals are empty"}
    response = http.post(TICKETS, data=form, headers=bearer(token))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def no_500(response: httpx.Response) -> httpx.Response:
    assert response.status_code < 500, response.text
    return response


def assert_422_on(response: httpx.Response, loc: list[str | int]) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["loc"][: len(loc)] == loc, error


def test_an_editor_token_lists_no_account_s_requests_and_a_user_only_their_own(
    system: HelpdeskSystem, http: httpx.Client
) -> None:
    user_a = system.token(role="user", sub="h1-a", account="hostile-a1")
    user_b = system.token(role="user", sub="h1-b", account="hostile-b1")
    mine, theirs = create_ticket(http, user_a), create_ticket(http, user_b)
    for account in (None, "hostile-a1"):
        editor = bearer(system.token(role="editor", sub="e1", account=account))
        for path in (TICKETS, f"{TICKETS}/counts", f"{TICKETS}/{mine['ticket_id']}"):
            response = http.get(path, headers=editor)
            assert response.status_code == 403, (account, path, response.text)
            assert response.json()["error"]["code"] == "forbidden"
    # Waiting for the user's own write makes the list complete for what follows.
    own = http.get(
        TICKETS,
        params={"ticket_id": mine["ticket_id"], "min_version": mine["version"], "limit": 100},
        headers=bearer(user_a),
    )
    assert own.headers[CONSISTENT] == "true"
    assert {item["account_id"] for item in own.json()["items"]} == {"hostile-a1"}
    assert http.get(TICKETS, params={"account_id": "hostile-b1"}, headers=bearer(user_a)).status_code == 403
    assert http.get(f"{TICKETS}/{theirs['ticket_id']}", headers=bearer(user_a)).status_code == 404
    agent = bearer(system.token(role="agent", sub="ag1"))
    both = http.get(
        TICKETS,
        params={"ticket_id": theirs["ticket_id"], "min_version": 1, "limit": 100},
        headers=agent,
    )
    assert {"hostile-a1", "hostile-b1"} <= {item["account_id"] for item in both.json()["items"]}


def test_another_account_s_ticket_id_is_indistinguishable_from_a_missing_one(
    system: HelpdeskSystem, http: httpx.Client
) -> None:
    user_a = system.token(role="user", sub="h2-a", account="hostile-a2")
    user_b = system.token(role="user", sub="h2-b", account="hostile-b2")
    create_ticket(http, user_a)
    theirs = create_ticket(http, user_b)
    agent = bearer(system.token(role="agent", sub="ag2"))
    # Their ticket is in the view before the probe: a wait can only end early by telling it exists.
    seen = http.get(
        f"{TICKETS}/{theirs['ticket_id']}", params={"min_version": theirs["version"]}, headers=agent
    )
    assert seen.status_code == 200 and seen.headers[CONSISTENT] == "true"

    def probe(path: str, params: dict[str, Any]) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = http.get(path, params=params, headers=bearer(user_a))
        return response, time.monotonic() - started

    for ticket_path in (False, True):
        answers = []
        for ticket_id in (theirs["ticket_id"], str(uuid.uuid4())):
            path = f"{TICKETS}/{ticket_id}" if ticket_path else TICKETS
            params = {"min_version": 1} if ticket_path else {"ticket_id": ticket_id, "min_version": 1}
            answers.append(probe(path, params))
        (foreign, foreign_s), (missing, missing_s) = answers
        assert foreign.status_code == missing.status_code == (404 if ticket_path else 200)
        assert foreign.headers.get(CONSISTENT) == missing.headers.get(CONSISTENT)
        ignored = {"date", "x-request-id", "content-length"}
        assert set(foreign.headers) - ignored == set(missing.headers) - ignored
        assert foreign.json() == missing.json() or ticket_path
        if not ticket_path:
            assert foreign.headers[CONSISTENT] == "false"
        # Both waited out the read-your-writes wait (2 s): a lower bound, so no slow machine fails it.
        assert foreign_s >= 1.5 and missing_s >= 1.5, (foreign_s, missing_s)


def cursor_of(raw_text: str) -> str:
    return base64.urlsafe_b64encode(raw_text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("moment", [str(2**63), str(2**64), "9" * 30])
def test_a_cursor_whose_time_overflows_64_bits_is_a_422_on_every_list(
    system: HelpdeskSystem, http: httpx.Client, moment: str
) -> None:
    user = bearer(system.token(role="user", sub="h3", account="hostile-a3"))
    cursor = cursor_of(f"{moment}:{uuid.uuid4()}")
    for path in (TICKETS, "/api/v1/popups/history"):
        assert_422_on(http.get(path, params={"cursor": cursor}, headers=user), ["query", "cursor"])


def test_numbers_that_only_look_like_digits_are_a_422_never_a_500(
    system: HelpdeskSystem, http: httpx.Client
) -> None:
    user_token = system.token(role="user", sub="h4", account="hostile-a4")
    ticket = create_ticket(http, user_token)
    agent = bearer(system.token(role="agent", sub="ag4"))
    editor = bearer(system.token(role="editor", sub="ed4"))
    user = bearer(user_token)
    priority = http.post(
        f"{TICKETS}/{ticket['ticket_id']}/priority",
        json={"priority": "p1"},
        headers=raw(agent, b"If-Match", SUPERSCRIPT_TWO),
    )
    assert_422_on(priority, ["header", "If-Match"])
    article = {
        "id": "https://wiki.example.com/hostile/if-match",
        "lang": "en",
        "section": "reports",
        "title": "Hostile If-Match",
        "body": "Text",
    }
    published = http.post("/api/v1/kb/articles", json=article, headers=editor)
    assert published.status_code in (200, 201), published.text
    path = f"/api/v1/kb/articles/{quote(published.json()['id'], safe='')}"
    retired = http.delete(path, headers=raw(editor, b"If-Match", SUPERSCRIPT_TWO))
    assert_422_on(no_500(retired), ["header", "If-Match"])
    # `*` means "any version" in both services.
    assert http.delete(path, headers={**editor, "If-Match": "*"}).status_code == 200
    anything = http.post(
        f"{TICKETS}/{ticket['ticket_id']}/priority",
        json={"priority": "p2"},
        headers={**agent, "If-Match": "*"},
    )
    assert anything.status_code == 200, anything.text
    stream = "/api/v1/popups/stream"
    sse = {**user, "Accept": "text/event-stream"}
    assert_422_on(
        http.get(stream, headers=raw(sse, b"Last-Event-ID", SUPERSCRIPT_TWO)), ["header", "Last-Event-ID"]
    )
    assert_422_on(http.get(stream, params={"last_event_id": "²"}, headers=sse), ["query", "last_event_id"])
    assert_422_on(
        http.get(
            f"{TICKETS}/stream",
            headers=raw({**agent, "Accept": "text/event-stream"}, b"Last-Event-ID", SUPERSCRIPT_TWO),
        ),
        ["header", "Last-Event-ID"],
    )
    assert_422_on(
        http.get(TICKETS, params={"ticket_id": ticket["ticket_id"], "min_version": "²"}, headers=user),
        ["query", "min_version"],
    )


def test_control_characters_in_any_text_input_are_a_422_naming_the_field(
    system: HelpdeskSystem, http: httpx.Client
) -> None:
    user_token = system.token(role="user", sub="h5", account="hostile-a5")
    user, agent = bearer(user_token), bearer(system.token(role="agent", sub="ag5"))
    editor = bearer(system.token(role="editor", sub="ed5"))
    form = {"topic": "reports", "comment": "Night audit", "message": "Totals"}
    for field in ("comment", "message"):
        for bad in ("\x00", "\x1b[2J", "a\rb"):
            response = http.post(TICKETS, data={**form, field: form[field] + bad}, headers=user)
            assert_422_on(response, ["body", field])
    ticket = create_ticket(http, user_token, comment="Line one\r\n\tLine two")
    ticket_url = f"{TICKETS}/{ticket['ticket_id']}"
    assert_422_on(
        http.post(f"{ticket_url}/replies", data={"text": "more\x00"}, headers=user), ["body", "text"]
    )
    assert_422_on(
        http.post(f"{ticket_url}/notes", json={"text": "note\x00"}, headers=agent), ["body", "text"]
    )
    assert_422_on(
        http.post(f"{ticket_url}/status", json={"status": "in_progress", "reason": "\x07"}, headers=agent),
        ["body", "reason"],
    )
    assert_422_on(http.get(TICKETS, params={"topic": "reports\x00"}, headers=user), ["query", "topic"])
    message = {"account_id": "hostile-a5", "title": "Hi\x00", "text": "Fixed"}
    assert_422_on(http.post("/api/v1/messages", json=message, headers=agent), ["body", "title"])
    message = {"account_id": "hostile-a5", "text": "Fixed\x00"}
    assert_422_on(http.post("/api/v1/messages", json=message, headers=agent), ["body", "text"])
    article = {
        "id": "https://wiki.example.com/hostile/nul",
        "lang": "en",
        "section": "reports",
        "title": "Nul\x00",
        "body": "Text",
    }
    assert_422_on(http.post("/api/v1/kb/articles", json=article, headers=editor), ["body", "title"])
    assert_422_on(http.get("/api/v1/kb/search", params={"q": "audit\x00"}, headers=user), ["query", "q"])
    # Tab, newline and CRLF are text: stored and read back as sent.
    shown = http.get(ticket_url, params={"min_version": ticket["version"]}, headers=user)
    assert shown.json()["comment"] == "Line one\r\n\tLine two"
