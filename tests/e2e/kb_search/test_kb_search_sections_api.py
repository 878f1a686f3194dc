"""Sections as data through the HTTP API (create, rename, order, retire with If-Match), articles that
must name a live section, article URLs, and article bodies served as sanitised HTML."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from tests.e2e.kb_search.test_kb_search_api import ARTICLE, ARTICLE_ID, path_of

pytestmark = pytest.mark.e2e

SECTIONS = "/api/v1/kb/sections"
NAMES = {"uk": "Ресторан", "ru": "Ресторан", "en": "Restaurant", "pl": "Restauracja"}


async def listed(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    body = (await client.get(SECTIONS, params=params, headers=headers)).json()
    return {s["id"]: s for s in body["sections"]}


async def test_the_ten_default_sections_are_listed_in_order_with_names_in_four_languages(
    client: httpx.AsyncClient, user: dict[str, str]
) -> None:
    body = (await client.get(SECTIONS, headers=user)).json()["sections"]
    assert [s["id"] for s in body][:3] == ["bookings", "rooms-and-rates", "guests"]
    assert len(body) == 10
    first = body[0]
    assert first["section"] == first["id"] == "bookings"  # `section` kept for the first clients
    assert first["names"] == {"uk": "Бронювання", "ru": "Бронирования", "en": "Bookings", "pl": "Rezerwacje"}
    assert (first["version"], first["retired"], first["total"], first["by_language"]) == (1, False, 0, {})


async def test_an_editor_creates_renames_moves_and_retires_a_section_with_if_match(
    client: httpx.AsyncClient, editor: dict[str, str], user: dict[str, str]
) -> None:
    created = await client.post(SECTIONS, json={"id": "restaurant", "names": NAMES}, headers=editor)
    assert (created.status_code, created.json()) == (201, {"id": "restaurant", "version": 1, "changed": True})
    again = await client.post(SECTIONS, json={"id": "restaurant", "names": NAMES}, headers=editor)
    assert (again.status_code, again.json()["changed"]) == (200, False)
    other = await client.post(
        SECTIONS, json={"id": "restaurant", "names": {**NAMES, "en": "Bar"}}, headers=editor
    )
    assert other.status_code == 409
    section = (await listed(client, user))["restaurant"]
    assert section["order"] == 110  # after the ten defaults
    assert section["names"]["pl"] == "Restauracja"

    renamed = await client.put(
        f"{SECTIONS}/restaurant",
        json={"names": {**NAMES, "en": "Restaurant and bar"}},
        headers={**editor, "If-Match": "1"},
    )
    assert renamed.json() == {"id": "restaurant", "version": 2, "changed": True}
    stale = await client.put(
        f"{SECTIONS}/restaurant", json={"order": 5}, headers={**editor, "If-Match": '"1"'}
    )
    assert (stale.status_code, stale.json()["error"]["code"]) == (412, "precondition_failed")
    moved = await client.put(f"{SECTIONS}/restaurant", json={"order": 5}, headers={**editor, "If-Match": "2"})
    assert moved.json()["version"] == 3
    now = (await client.get(SECTIONS, headers=user)).json()["sections"]
    assert now[0]["id"] == "restaurant"
    assert now[0]["names"]["en"] == "Restaurant and bar"  # the rename kept when only the order changed

    stale_retire = await client.delete(f"{SECTIONS}/restaurant", headers={**editor, "If-Match": "2"})
    assert stale_retire.status_code == 412
    retired = await client.delete(f"{SECTIONS}/restaurant", headers={**editor, "If-Match": "3"})
    assert retired.json() == {"id": "restaurant", "version": 4, "changed": True}
    assert "restaurant" not in await listed(client, user)
    shown = (await listed(client, editor, include_retired="true"))["restaurant"]
    assert (shown["retired"], shown["names"]["en"]) == (True, "Restaurant and bar")
    gone = await client.put(f"{SECTIONS}/restaurant", json={"order": 1}, headers=editor)
    assert gone.status_code == 404
    assert (await client.delete(f"{SECTIONS}/restaurant", headers=editor)).status_code == 404
    back = await client.post(SECTIONS, json={"id": "restaurant", "names": NAMES, "order": 7}, headers=editor)
    assert (back.status_code, back.json()["version"]) == (201, 5)


async def test_section_writes_need_an_editor_and_valid_fields(
    client: httpx.AsyncClient, editor: dict[str, str], user: dict[str, str]
) -> None:
    body = {"id": "spa", "names": NAMES}
    assert (await client.post(SECTIONS, json=body, headers=user)).status_code == 403
    assert (await client.put(f"{SECTIONS}/reports", json={"order": 1}, headers=user)).status_code == 403
    assert (await client.delete(f"{SECTIONS}/reports", headers=user)).status_code == 403
    for bad in (
        {"id": "Spa & Wellness", "names": NAMES},
        {"id": "spa", "names": {k: v for k, v in NAMES.items() if k != "pl"}},
        {"id": "spa", "names": {**NAMES, "en": ""}},
        {"id": "spa", "names": NAMES, "order": -1},
    ):
        response = await client.post(SECTIONS, json=bad, headers=editor)
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "validation_error"


async def test_publishing_into_an_unknown_or_retired_section_is_422_naming_the_field(
    client: httpx.AsyncClient, editor: dict[str, str], user: dict[str, str]
) -> None:
    unknown = await client.post("/api/v1/kb/articles", json={**ARTICLE, "section": "kitchen"}, headers=editor)
    assert unknown.status_code == 422
    error = unknown.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["loc"] == ["body", "section"]
    assert "kitchen" in error["details"][0]["msg"]

    assert (
        await client.post(SECTIONS, json={"id": "kitchen", "names": NAMES}, headers=editor)
    ).status_code == 201
    published = await client.post(
        "/api/v1/kb/articles", json={**ARTICLE, "section": "kitchen"}, headers=editor
    )
    assert published.status_code == 201
    assert (await listed(client, user))["kitchen"]["total"] == 1

    await client.delete(f"{SECTIONS}/kitchen", headers=editor)
    body = {k: v for k, v in ARTICLE.items() if k != "id"}
    stays = await client.put(
        path_of(ARTICLE_ID), json={**body, "section": "kitchen", "title": "X"}, headers=editor
    )
    assert stays.status_code == 422  # no change goes into a retired section …
    assert (await client.get(path_of(ARTICLE_ID), headers=user)).json()["section"] == "kitchen"
    page = (await client.get("/api/v1/kb/articles", params={"section": "kitchen"}, headers=editor)).json()
    assert [item["id"] for item in page["items"]] == [ARTICLE_ID]  # … but its articles are listed until moved
    moved = await client.put(path_of(ARTICLE_ID), json={**body, "section": "reports"}, headers=editor)
    assert moved.status_code == 200
    found = (await client.get("/api/v1/kb/search", params={"q": "night audit"}, headers=user)).json()
    assert found["hits"][0]["section"] == "reports"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.otelms.com/manual.pdf",
        "file:///etc/passwd",
        "//evil.example/x",
        "/relative/path",
        "https://",
        "https://wiki.otelms.com/a b",
    ],
)
async def test_an_article_url_that_is_not_http_or_https_is_422_naming_the_field(
    client: httpx.AsyncClient, editor: dict[str, str], url: str
) -> None:
    response = await client.post("/api/v1/kb/articles", json={**ARTICLE, "url": url}, headers=editor)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"] == ["body", "url"]
    body = {k: v for k, v in ARTICLE.items() if k != "id"}
    await client.post("/api/v1/kb/articles", json=ARTICLE, headers=editor)
    update = await client.put(path_of(ARTICLE_ID), json={**body, "url": url}, headers=editor)
    assert update.status_code == 422


@pytest.mark.parametrize(
    "url", ["https://wiki.otelms.com/en/reports/night-audit", "HTTP://wiki.otelms.com/a?b=c#d"]
)
async def test_http_and_https_article_urls_are_accepted(
    client: httpx.AsyncClient, editor: dict[str, str], user: dict[str, str], url: str
) -> None:
    response = await client.post("/api/v1/kb/articles", json={**ARTICLE, "url": url}, headers=editor)
    assert response.status_code == 201
    assert (await client.get(path_of(ARTICLE_ID), headers=user)).json()["url"] == url


HOSTILE_BODY = """# Night audit

<script>alert('body')</script>
<img src=x onerror="alert('img')">
<a href="javascript:alert('html link')">raw link</a>

[a markdown link](javascript:alert('md'))  [data](data:text/html,<b>x</b>)  [vb](vbscript:msgbox)
![pixel](javascript:alert('img'))  ![inline](data:image/svg+xml;base64,PHN2Zz4=)

**Closes** the day: see [the manual](https://wiki.otelms.com/manual) or [write to us](mailto:help@otelms.com).
"""


async def test_an_article_body_is_served_as_sanitised_html_too(
    client: httpx.AsyncClient, editor: dict[str, str], user: dict[str, str]
) -> None:
    await client.post("/api/v1/kb/articles", json={**ARTICLE, "body": HOSTILE_BODY}, headers=editor)
    for _ in range(50):
        article = (await client.get(path_of(ARTICLE_ID), headers=user)).json()
        if "body_html" in article:
            break
        await asyncio.sleep(0.05)
    assert article["body"] == HOSTILE_BODY.strip()  # the Markdown as written, for the editor
    html = article["body_html"]
    assert "<h1>Night audit</h1>" in html
    assert "<strong>Closes</strong>" in html
    assert (
        '<a href="https://wiki.otelms.com/manual" rel="noopener noreferrer" target="_blank">the manual</a>'
        in html
    )
    assert '<a href="mailto:help@otelms.com" rel="noopener noreferrer"' in html
    tags = re.findall(r"<([a-z0-9]+)([^>]*)>", html)
    assert {name for name, _ in tags} <= {"h1", "p", "strong", "a", "br"}
    attributes = " ".join(attrs for _, attrs in tags).lower()
    for forbidden in ("javascript:", "data:", "vbscript:", "onerror", "src="):
        assert forbidden not in attributes, forbidden
    assert "&lt;script&gt;" in html  # typed HTML shows as text
    assert html.count("<a ") == 2
