"""The kb-search HTTP API, in process, against a real nats-server."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import httpx
import pytest

from kb_search.bootstrap import seed_demo
from kb_search.settings import KbSearchSettings
from tests.conftest import TokenFactory, auth

pytestmark = pytest.mark.e2e

ARTICLE_ID = "https://wiki.otelms.com/en/reports/night-audit"
ARTICLE: dict[str, object] = {
    "id": ARTICLE_ID,
    "lang": "en",
    "section": "reports",
    "title": "Night audit",
    "body": "The **night audit** closes the business day.",
    "tags": ["audit"],
}


def path_of(article_id: str) -> str:
    return f"/api/v1/kb/articles/{quote(article_id, safe='')}"


async def test_a_user_token_cannot_publish_update_or_retire(
    client: httpx.AsyncClient, user: dict[str, str], editor: dict[str, str]
) -> None:
    assert (await client.post("/api/v1/kb/articles", json=ARTICLE, headers=user)).status_code == 403
    await client.post("/api/v1/kb/articles", json=ARTICLE, headers=editor)
    update = {k: v for k, v in ARTICLE.items() if k != "id"}
    response = await client.put(path_of(ARTICLE_ID), json=update, headers=user)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert (await client.delete(path_of(ARTICLE_ID), headers=user)).status_code == 403


async def test_no_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/kb/search", params={"q": "audit"})).status_code == 401


async def test_an_agent_publishes_and_everyone_finds_it_until_it_is_retired(
    client: httpx.AsyncClient, make_token: TokenFactory, user: dict[str, str]
) -> None:
    agent = auth(make_token(role="agent", account=None, sub="ag"))
    created = await client.post("/api/v1/kb/articles", json=ARTICLE, headers=agent)
    assert created.status_code == 201
    assert created.json() == {"id": ARTICLE_ID, "version": 1, "changed": True, "indexed": True}
    again = await client.post("/api/v1/kb/articles", json=ARTICLE, headers=agent)
    assert (again.status_code, again.json()["changed"]) == (200, False)

    found = (
        await client.get("/api/v1/kb/search", params={"q": "nigth audits", "lang": "uk"}, headers=user)
    ).json()
    hit = found["hits"][0]
    assert (hit["id"], hit["section"], hit["slug"]) == (ARTICLE_ID, "reports", "night-audit")
    assert "<mark>" in hit["snippet"]
    assert found["facets"] == {"reports": 1}
    assert found["corrections"] == {"nigth": "night"}

    article = (await client.get(path_of(ARTICLE_ID), headers=user)).json()
    assert (article["version"], article["body"]) == (1, ARTICLE["body"])
    by_key = await client.get(f"/api/v1/kb/articles/{article['key']}", headers=user)
    assert by_key.json()["id"] == ARTICLE_ID

    retired = await client.delete(path_of(ARTICLE_ID), headers=agent)
    assert retired.json()["version"] == 2
    assert (await client.get("/api/v1/kb/search", params={"q": "audit"}, headers=user)).json()["hits"] == []
    assert (await client.get(path_of(ARTICLE_ID), headers=user)).status_code == 404


async def test_an_update_with_a_stale_if_match_is_412(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    await client.post("/api/v1/kb/articles", json=ARTICLE, headers=editor)
    body = {k: v for k, v in ARTICLE.items() if k != "id"}
    ok = await client.put(
        path_of(ARTICLE_ID), json={**body, "title": "Audit"}, headers={**editor, "If-Match": "1"}
    )
    assert ok.json()["version"] == 2
    stale = await client.put(
        path_of(ARTICLE_ID), json={**body, "title": "X"}, headers={**editor, "If-Match": "1"}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"


async def test_a_publish_with_an_unknown_section_is_422_in_the_shared_shape(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/kb/articles", json={**ARTICLE, "section": "kitchen"}, headers=editor
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_feedback_is_recorded_and_counted(
    client: httpx.AsyncClient, editor: dict[str, str], user: dict[str, str]
) -> None:
    await client.post("/api/v1/kb/articles", json=ARTICLE, headers=editor)
    for helpful in (True, True, False):
        response = await client.post(
            f"{path_of(ARTICLE_ID)}/feedback", json={"helpful": helpful}, headers=user
        )
        assert response.status_code == 202
    missing = await client.post(f"{path_of('kb:none')}/feedback", json={"helpful": True}, headers=user)
    assert missing.status_code == 404
    for _ in range(100):
        counts = (await client.get(path_of(ARTICLE_ID), headers=user)).json()["feedback"]
        if counts["helpful"] + counts["not_helpful"] == 3:
            break
        await asyncio.sleep(0.05)
    assert counts == {"helpful": 2, "not_helpful": 1}


@pytest.mark.parametrize(
    "q",
    ["", '"', "*", "NEAR", "audit NEAR night", "' OR 1=1 --", "title:(audit)", "%", "x" * 4000, "ніч " * 900],
)
async def test_odd_queries_answer_200(
    client: httpx.AsyncClient, editor: dict[str, str], user: dict[str, str], q: str
) -> None:
    await client.post("/api/v1/kb/articles", json=ARTICLE, headers=editor)
    for endpoint in ("search", "suggest"):
        response = await client.get(f"/api/v1/kb/{endpoint}", params={"q": q}, headers=user)
        assert response.status_code == 200, response.text
    deflect = await client.post("/api/v1/kb/deflect", json={"topic": q[:200], "text": q}, headers=user)
    assert deflect.status_code == 200


async def test_a_missing_or_oversized_parameter_is_422_in_the_shared_shape(
    client: httpx.AsyncClient, user: dict[str, str]
) -> None:
    cases: list[dict[str, str | int]] = [
        {},
        {"q": "x" * 5000},
        {"q": "a", "limit": 0},
        {"q": "a", "lang": "de"},
    ]
    for params in cases:
        response = await client.get("/api/v1/kb/search", params=params, headers=user)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "validation_error"


async def test_demo_content_answers_search_suggest_deflect_and_sections(
    client: httpx.AsyncClient, settings: KbSearchSettings, user: dict[str, str]
) -> None:
    await seed_demo(settings)
    await seed_demo(settings)  # idempotent
    sections = (await client.get("/api/v1/kb/sections", headers=user)).json()["sections"]
    for _ in range(100):
        sections = (await client.get("/api/v1/kb/sections", headers=user)).json()["sections"]
        if sum(s["total"] for s in sections) >= 40:
            break
        await asyncio.sleep(0.05)
    assert len([s for s in sections if s["total"]]) >= 6
    found = (
        await client.get("/api/v1/kb/search", params={"q": "нічний аудит", "lang": "uk"}, headers=user)
    ).json()
    assert found["hits"]
    suggest = (
        await client.get("/api/v1/kb/suggest", params={"q": "брон", "lang": "uk"}, headers=user)
    ).json()
    assert suggest["suggestions"]
    assert any(c.startswith("брон") for c in suggest["completions"])
    deflect = await client.post(
        "/api/v1/kb/deflect",
        json={"topic": "bookings", "text": "не можу скасувати бронювання", "lang": "uk"},
        headers=user,
    )
    articles = deflect.json()["articles"]
    assert 1 <= len(articles) <= 3


async def test_readiness_reports_the_index(client: httpx.AsyncClient) -> None:
    body = (await client.get("/readyz")).json()
    assert body["checks"] == {"nats": True, "index": True}


async def test_browsing_a_section_lists_one_language_version_of_each_article_by_title(
    client: httpx.AsyncClient, settings: KbSearchSettings, user: dict[str, str]
) -> None:
    await seed_demo(settings)
    counts: dict[str, dict[str, int]] = {}
    for _ in range(100):
        sections = (await client.get("/api/v1/kb/sections", headers=user)).json()["sections"]
        counts = {s["section"]: s["by_language"] for s in sections}
        if sum(sum(c.values()) for c in counts.values()) >= 40:
            break
        await asyncio.sleep(0.05)
    section = max(counts, key=lambda s: counts[s].get("uk", 0))
    page = (
        await client.get("/api/v1/kb/articles", params={"section": section, "lang": "uk"}, headers=user)
    ).json()
    assert page["section"] == section
    assert page["total"] >= counts[section]["uk"]
    assert page["total"] < sum(counts[section].values())  # the other versions of uk articles are left out
    assert all(item["section"] == section for item in page["items"])
    assert sum(1 for item in page["items"] if item["lang"] == "uk") == counts[section]["uk"]
    titles = [item["title"].casefold() for item in page["items"]]
    assert titles == sorted(titles)
    first = page["items"][0]
    article = (await client.get(f"/api/v1/kb/articles/{quote(first['id'], safe='')}", headers=user)).json()
    assert article["title"] == first["title"]
    limited = (
        await client.get(
            "/api/v1/kb/articles", params={"section": section, "limit": 1, "offset": 1}, headers=user
        )
    ).json()
    assert len(limited["items"]) == 1
    bad = await client.get("/api/v1/kb/articles", params={"section": "nope"}, headers=user)
    assert bad.status_code == 422 and "error" in bad.json()
    assert (await client.get("/api/v1/kb/articles", params={"section": section})).status_code == 401


async def test_if_match_is_read_as_every_service_reads_it_a_star_for_any_version(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    await client.post("/api/v1/kb/articles", json=ARTICLE, headers=editor)
    raw_editor = [(k.encode(), v.encode()) for k, v in editor.items()]
    # Byte 0xB2 reads as "²": `str.isdigit()` said yes and `int()` raised (a 500).
    for bad in (b"\xb2", b'"\xb2"', b"abc", b'"1", "2"'):
        refused = await client.delete(path_of(ARTICLE_ID), headers=[*raw_editor, (b"If-Match", bad)])
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["error"]["details"][0]["loc"] == ["header", "If-Match"]
    retired = await client.delete(path_of(ARTICLE_ID), headers={**editor, "If-Match": "*"})
    assert retired.status_code == 200 and retired.json()["version"] == 2


async def test_control_characters_in_article_fields_feedback_and_queries_are_a_422_naming_the_field(
    client: httpx.AsyncClient, editor: dict[str, str], user: dict[str, str]
) -> None:
    for field, value in (("title", "Night\x00audit"), ("body", "Text\x07"), ("tags", ["a\x1b"])):
        refused = await client.post("/api/v1/kb/articles", json={**ARTICLE, field: value}, headers=editor)
        assert refused.status_code == 422, (field, refused.text)
        assert refused.json()["error"]["details"][0]["loc"][:2] == ["body", field]
    kept = await client.post(
        "/api/v1/kb/articles", json={**ARTICLE, "body": "Line one\r\n\tLine two"}, headers=editor
    )
    assert kept.status_code == 201, kept.text
    query = await client.get("/api/v1/kb/search", params={"q": "audit\x00"}, headers=user)
    assert query.status_code == 422 and query.json()["error"]["details"][0]["loc"] == ["query", "q"]
    feedback = await client.post(
        f"{path_of(ARTICLE_ID)}/feedback", json={"helpful": False, "comment": "\x00"}, headers=user
    )
    assert feedback.status_code == 422
    assert feedback.json()["error"]["details"][0]["loc"] == ["body", "comment"]
