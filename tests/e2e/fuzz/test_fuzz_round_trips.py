"""Generated text that is valid but hostile (control characters, NUL, right-to-left marks, emoji,
odd ids) through the main write paths: never a 5xx, every 4xx in the error shape, and whatever was
accepted can be read back — bad input never costs data. Control characters other than tab, newline and
CRLF are refused (422), so most generated text is; the explicit examples are hostile text that is
accepted."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.e2e.fuzz.fuzz_harness import WAIT, Running, assert_contract

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Headers = dict[str, dict[str, str]]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,
)
# Any text that can travel as UTF-8 (no lone surrogates), weighted towards the nasty bits.
NASTY = st.sampled_from(
    ["\x00", "\u202e", "\ufeff", "\r\n", "%00", "../", "🏨", "\u0301", "'; drop table x;--", "\t"]
)
TEXT = st.lists(
    st.one_of(NASTY, st.text(st.characters(exclude_categories=["Cs"]), max_size=40)), max_size=8
).map("".join)


def check(response: httpx.Response, what: str) -> None:
    assert_contract(response.status_code, response.content, response.headers.get("content-type", ""), what)


async def in_thread(test: object) -> None:
    assert callable(test)
    await asyncio.wait_for(asyncio.to_thread(test), timeout=90)


async def test_tickets_created_from_hostile_form_text_are_refused_cleanly_or_readable_afterwards(
    tickets: Running, role_headers: Headers
) -> None:
    outcomes: list[int] = []

    @FUZZ
    @given(
        topic=st.one_of(st.sampled_from(["reports", "bug", "other"]), TEXT),
        comment=TEXT,
        message=TEXT,
        importance=st.one_of(st.sampled_from(["normal", "urgent", "low"]), TEXT),
        caller=st.sampled_from(["user", "agent"]),
        account=st.one_of(st.just("hotel-a"), TEXT),
    )
    @example(
        topic="reports",
        comment="\u202eNight audit 🏨",
        message="'; drop table x;--\r\n\tline\ufeff",
        importance="normal",
        caller="user",
        account="hotel-a",
    )
    def create(topic: str, comment: str, message: str, importance: str, caller: str, account: str) -> None:
        form = {"topic": topic, "comment": comment, "message": message, "importance": importance}
        if caller == "agent":
            form["account_id"] = account
        with httpx.Client(base_url=tickets.url, timeout=WAIT) as client:
            response = client.post("/api/v1/tickets", data=form, headers=role_headers[caller])
            check(response, f"{caller} {form!r}")
            outcomes.append(response.status_code)
            if response.status_code == 201:
                ticket_id = response.json()["ticket_id"]
                read = client.get(
                    f"/api/v1/tickets/{ticket_id}", params={"min_version": 1}, headers=role_headers["agent"]
                )
                assert read.status_code == 200, read.text

    await in_thread(create)
    assert 201 in outcomes and any(400 <= status < 500 for status in outcomes), outcomes


async def test_kb_articles_with_hostile_ids_and_text_are_refused_cleanly_or_readable_afterwards(
    kb_search: Running, role_headers: Headers
) -> None:
    outcomes: list[int] = []

    @FUZZ
    @given(
        article_id=st.one_of(TEXT, st.just("https://wiki.otelms.com/en/a?b=c#d")),
        title=TEXT,
        body=TEXT,
        section=st.one_of(st.just("reports"), TEXT),
        tags=st.lists(TEXT, max_size=3),
    )
    # Found by this test: an id with a line break was published (201) but no route could reach it again.
    @example(article_id="night\r\naudit", title="t", body="", section="reports", tags=[])
    @example(
        article_id="https://wiki.otelms.com/en/a?b=c#d",
        title="\u202eNight audit 🏨",
        body="'; drop table x;--\r\n\tline",
        section="reports",
        tags=["a\u0301udit"],
    )
    def publish(article_id: str, title: str, body: str, section: str, tags: list[str]) -> None:
        article = {
            "id": article_id,
            "lang": "en",
            "section": section,
            "title": title,
            "body": body,
            "tags": tags,
        }
        with httpx.Client(base_url=kb_search.url, timeout=WAIT) as client:
            response = client.post("/api/v1/kb/articles", json=article, headers=role_headers["editor"])
            check(response, f"publish {article!r}")
            outcomes.append(response.status_code)
            # The id as stored (the service trims it) is the one to read back.
            stored = response.json()["id"] if response.status_code == 201 else article_id
            path = f"/api/v1/kb/articles/{quote(stored, safe='')}"
            read = client.get(path, headers=role_headers["user"])
            check(read, f"read {path}")
            if response.status_code == 201:
                assert read.status_code == 200, (path, read.text)
                update = {k: v for k, v in article.items() if k != "id"}
                changed = client.put(path, json=update, headers={**role_headers["editor"], "If-Match": "x"})
                check(changed, f"update {path}")
                feedback = client.post(
                    f"{path}/feedback", json={"helpful": True, "comment": body}, headers=role_headers["user"]
                )
                check(feedback, f"feedback {path}")

    await in_thread(publish)
    assert any(status < 300 for status in outcomes) and any(400 <= s < 500 for s in outcomes), outcomes


async def test_agent_messages_with_hostile_text_are_refused_cleanly_or_reach_the_user(
    notifications: Running, role_headers: Headers
) -> None:
    outcomes: list[int] = []

    @FUZZ
    @given(
        text=TEXT,
        account=st.one_of(st.just("hotel-a"), TEXT),
        user=st.one_of(st.just("u1"), st.none(), TEXT),
        ticket_number=st.one_of(st.none(), st.just("HD-000042"), TEXT),
    )
    def send(text: str, account: str, user: str | None, ticket_number: str | None) -> None:
        payload = {"account_id": account, "user_id": user, "text": text, "ticket_number": ticket_number}
        with httpx.Client(base_url=notifications.url, timeout=WAIT) as client:
            response = client.post(
                "/api/v1/messages",
                json={k: v for k, v in payload.items() if v is not None},
                headers=role_headers["agent"],
            )
            check(response, f"message {payload!r}")
            outcomes.append(response.status_code)
            if response.status_code == 201 and account == "hotel-a" and user in ("u1", None):
                popup_id = response.json()["popup_id"]
                read = client.get(f"/api/v1/popups/{popup_id}", headers=role_headers["user"])
                assert read.status_code == 200, read.text

    await in_thread(send)
    assert 201 in outcomes and any(400 <= status < 500 for status in outcomes), outcomes
