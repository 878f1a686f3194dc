"""The FAQ section in a real browser against the running system: suggestions, results, sections,
articles, feedback, and article markup that never executes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import NewContext
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot
from tests.browser.widget import api, open_help, section
from tests.support.helpdesk_system import HelpdeskSystem, running_system
from tests.support.wait import eventually


async def test_suggestions_appear_while_typing_and_results_show_the_servers_highlights(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="uk")
    faq = page.get_by_role("tabpanel", name="Питання й відповіді")
    await expect(faq.get_by_role("heading", name="Розділи")).to_be_visible()
    search = faq.get_by_label("Пошук у базі знань")
    await search.press_sequentially("скасувати брон", delay=30)
    suggestion = faq.get_by_role("button", name="Скасування бронювання", exact=False).first
    await expect(suggestion).to_be_visible()
    assert await suggestion.locator("mark").count() >= 1
    await screenshot(page, "faq-suggestions-uk")
    await search.press("Enter")
    await expect(faq.get_by_role("heading", name="Результати пошуку")).to_be_visible()
    await expect(faq.get_by_role("status").filter(has_text="Знайдено")).to_be_visible()
    assert await faq.locator(".snippet mark").count() >= 1
    await screenshot(page, "faq-results-uk")
    await faq.locator(".hit-title").first.click()
    await expect(faq.get_by_role("link", name="Повна стаття у вікі OtelMS")).to_be_visible()
    await faq.get_by_role("button", name="Так, допомогла").click()
    await expect(faq.get_by_text("Дякуємо за відгук!")).to_be_visible()
    assert_no_serious_a11y(await axe(page, "otelms-help"))
    await screenshot(page, "faq-article-uk")


async def test_an_older_suggestion_answer_never_replaces_a_newer_one(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="en")
    delayed = {"first": True}

    async def slow_first(route, request):  # type: ignore[no-untyped-def]
        if "/api/v1/kb/suggest" in request.url and delayed["first"]:
            delayed["first"] = False
            await page.wait_for_timeout(1500)  # the answer to the older query arrives last
        await route.continue_()

    await page.route("**/api/v1/kb/suggest*", slow_first)
    search = page.get_by_label("Search the knowledge base")
    await search.fill("night audit")
    await page.wait_for_timeout(400)
    await search.fill("channel manager")
    suggestions = page.locator(".suggestions")
    await expect(suggestions).to_contain_text("annel", timeout=5000)
    await page.wait_for_timeout(2000)  # the slow, older answer has now arrived
    text = (await suggestions.inner_text()).lower()
    assert "channel" in text
    assert "night audit" not in text


async def test_browsing_a_section_shows_its_articles_with_counts(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="en")
    faq = page.get_by_role("tabpanel", name="FAQ")
    bookings = faq.get_by_role("button", name="Bookings")
    await expect(bookings).to_contain_text("article")
    await bookings.click()
    await expect(faq.get_by_role("heading", name="Bookings")).to_be_visible()
    await expect(faq.locator(".hit-title").first).to_be_visible()
    await faq.locator(".hit-title").first.click()
    await expect(faq.get_by_role("group", name="Was this article helpful?")).to_be_visible()
    await faq.get_by_role("button", name="← Bookings").click()
    await expect(faq.get_by_role("heading", name="Bookings")).to_be_visible()
    await faq.get_by_role("button", name="Back to sections").click()
    await expect(faq.get_by_role("heading", name="Sections")).to_be_visible()


async def test_markup_in_an_article_is_shown_as_text_and_never_runs(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    marker = f"xss{uuid.uuid4().hex[:6]}"
    hostile = f'<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> {marker}'
    editor = helpdesk_system.token(role="editor", sub="editor-xss")
    with api(helpdesk_system, editor) as http:
        answer = http.post(
            "/api/v1/kb/articles",
            json={
                "id": f"https://wiki.otelms.com/en/test/{marker}",
                "lang": "en",
                "section": "settings",
                "title": f"Printer {marker} <b>bold</b>",
                "body": f"Setting up the printer {marker}.\n\n{hostile}",
            },
        )
        assert answer.status_code in (200, 201), answer.text
    page, _ = await open_help(new_context, helpdesk_system, lang="en")
    search = page.get_by_label("Search the knowledge base")
    await search.fill(marker)
    await search.press("Enter")
    hit = page.locator(".hit-title").filter(has_text=marker)
    await expect(hit).to_be_visible()
    await expect(hit).to_contain_text("<b>bold</b>")
    await hit.click()
    article = page.locator("otelms-help article")
    await expect(article).to_contain_text("onerror")
    assert await article.locator("img, script, b").count() == 0
    assert await page.evaluate("() => window.__xss") is None
    await screenshot(page, "faq-hostile-article-as-text")


async def test_the_faq_is_in_every_language_and_follows_the_host_page(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="pl")
    await expect(page.get_by_role("tab", name="Historia zgłoszeń")).to_be_visible()
    await page.evaluate("() => { document.documentElement.lang = 'ru'; }")
    await expect(page.get_by_role("tab", name="История обращений")).to_be_visible()
    await expect(page.get_by_role("button", name="Помощь", exact=True)).to_be_visible()
    await page.get_by_label("Язык").select_option("uk")
    await expect(page.get_by_role("tab", name="Історія звернень")).to_be_visible()
    faq = await section(page, "Питання й відповіді")
    await expect(faq.get_by_role("heading", name="Розділи")).to_be_visible()


async def _dense_signal_ready(system: HelpdeskSystem, timeout: float = 300) -> None:
    """Until kb-search says every article has its vector (`/readyz` details); a fresh system embeds
    its articles in the background after it is ready (~2 minutes on two busy cores). A poll that
    meets a closing keep-alive connection (the server's loop busy embedding) just polls again."""
    last: list[object] = [None]
    async with httpx.AsyncClient(timeout=5) as client:

        async def dense_ready() -> bool:
            try:
                last[0] = (await client.get(f"{system.service_url('kb-search')}/readyz")).json()
            except httpx.TransportError as exc:
                last[0] = repr(exc)
                return False
            ready = last[0]
            return isinstance(ready, dict) and ready.get("details", {}).get("dense") == "ready"

        await eventually(
            dense_ready, timeout=timeout, interval=0.5, what=lambda: f"dense signal not ready: {last[0]}"
        )


@pytest.fixture(scope="module")
def system_saying_nothing_found(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskSystem]:
    """A system of its own with the FAQ's "nothing found" rule on (off by default) and only the demo
    articles: the session's system gains articles from other tests, and one may be near any query."""
    settings = {"HELPDESK_KB_SEARCH_ANSWER_LEAD": "0.047"}
    with running_system(tmp_path_factory.mktemp("nothing-found"), settings=settings) as system:
        yield system


async def test_a_search_nothing_answers_says_so_and_offers_a_request_with_the_words_typed(
    new_context: NewContext, system_saying_nothing_found: HelpdeskSystem
) -> None:
    # The rule needs the model's vectors (a search before them is lexical); "xyzzy plugh" is a query
    # no demo article is near: gibberish made of letter runs is still near some, by e5's cosines.
    system = system_saying_nothing_found
    await _dense_signal_ready(system)
    page, _ = await open_help(new_context, system, lang="en")
    search = page.get_by_label("Search the knowledge base")
    await search.fill("xyzzy plugh")
    await search.press("Enter")
    await expect(page.get_by_text("Nothing found. Try other words, or create a request.")).to_be_visible()
    assert await page.locator("otelms-help .hit-title").count() == 0
    await screenshot(page, "faq-nothing-found-en")
    await page.get_by_role("button", name="Create a request").click()
    await expect(page.get_by_label("Short description")).to_have_value("xyzzy plugh")
