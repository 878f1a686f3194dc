"""The console's knowledge base in a real browser against the running system: an article published
there is found by the Help widget's search and leaves it when retired, a stale edit is refused with a
conflict to reload, language versions side by side, the server's 422 on the fields, markup as text."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import NewContext
from tests.browser.console import open_console
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot
from tests.browser.widget import api, open_help
from tests.support.helpdesk_system import HelpdeskSystem


def marker() -> str:
    return f"kbm{uuid.uuid4().hex[:8]}"


def publish(system: HelpdeskSystem, *, lang: str, title: str, body: str) -> str:
    article_id = f"https://wiki.otelms.com/{lang}/console/{uuid.uuid4().hex[:10]}"
    with api(system, system.token(role="editor", sub="editor-api")) as http:
        answer = http.post(
            "/api/v1/kb/articles",
            json={"id": article_id, "lang": lang, "section": "reports", "title": title, "body": body},
        )
    assert answer.status_code == 201, answer.text
    return article_id


async def knowledge_base(new_context: NewContext, system: HelpdeskSystem) -> Page:
    page = await open_console(new_context, system, name="Maria Editor", role="editor")
    await page.get_by_role("link", name="Knowledge base").click()
    await expect(page.get_by_role("heading", name="Knowledge base", level=1)).to_be_visible()
    return page


async def open_by_search(page: Page, word: str, title: str) -> None:
    await page.get_by_role("searchbox", name="Search articles").fill(word)
    await page.get_by_role("button", name="Search", exact=True).click()
    hit = page.get_by_role("button", name=title)
    await expect(hit).to_be_visible()
    assert await hit.locator("mark").count() >= 1
    await hit.click()
    await expect(page.get_by_role("heading", name=title, level=2)).to_be_visible()


async def widget_search(widget: Page, word: str) -> Locator:
    search = widget.get_by_label("Пошук у базі знань")
    await search.fill("звіт")  # another query first, so the same words are asked again
    await search.press("Enter")
    await search.fill(word)
    await search.press("Enter")
    return widget.get_by_role("tabpanel", name="Питання й відповіді")


async def test_an_article_published_in_the_console_is_found_by_the_widget_and_retiring_removes_it(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    word = marker()
    title = f"Нічний аудит {word}"
    page = await knowledge_base(new_context, helpdesk_system)
    bookings = page.get_by_role("button", name=re.compile(r"^Bookings\s*\d+ articles?$"))
    await bookings.click()
    await expect(page.get_by_role("heading", name="Bookings", level=2)).to_be_visible()
    await expect(page.locator(".kb-items li").first).to_be_visible()
    assert_no_serious_a11y(await axe(page))

    await page.get_by_role("button", name="New article").click()
    form = page.get_by_role("form", name="New article")
    await form.get_by_label("Article id (wiki address)").fill(f"https://wiki.otelms.com/uk/{word}")
    await form.get_by_label("Article language").select_option("uk")
    await form.get_by_label("Section", exact=True).select_option("reports")
    await form.get_by_label("Title", exact=True).fill("   ")
    await form.get_by_label("Tags").fill("аудит, звіт")
    hostile = '<img src=x onerror="window.__xss=1">'
    body = f"# Закриття дня\n\nЗапустіть **нічний аудит** {word}.\n\n- Звіт\n\n{hostile}"
    await form.get_by_label("Text (Markdown)").fill(body)
    preview = form.get_by_role("region", name="Preview")
    await expect(preview.locator("strong")).to_have_text("нічний аудит")
    await expect(preview).to_contain_text(hostile)
    assert await preview.locator("img").count() == 0

    refused = form.get_by_role("alert").filter(has_text="The article was not saved: check the marked fields.")
    await form.get_by_role("button", name="Publish").click()  # a blank title: refused before sending
    title_field = form.get_by_label("Title", exact=True)
    await expect(refused).to_be_visible()
    await expect(title_field).to_have_attribute("aria-invalid", "true")
    await expect(title_field).to_have_accessible_description("Fill this in.")
    await expect(form.locator(".kb-field-title .field-error")).to_have_text("Fill this in.")
    await expect(form.locator(".kb-field-title .field-error")).to_be_visible()
    await expect(title_field).to_be_focused()
    await screenshot(page, "console-kb-editor-required")

    await title_field.fill(title)
    link = form.get_by_label("Link to the full article (optional)")
    await link.fill(f"ftp://wiki.otelms.com/uk/{word}")  # the server's rule: its 422 on the field
    await form.get_by_role("button", name="Publish").click()
    url_error = form.locator(".kb-field-url .field-error")
    await expect(url_error).to_have_text("Give a full address starting with http:// or https://.")
    await expect(url_error).to_be_visible()
    await expect(link).to_have_attribute("aria-invalid", "true")
    await expect(link).to_have_accessible_description(
        "Give a full address starting with http:// or https://."
    )
    await expect(link).to_be_focused()
    await expect(refused).to_be_visible()
    await expect(title_field).not_to_have_attribute("aria-invalid", "true")
    assert_no_serious_a11y(await axe(page))
    await screenshot(page, "console-kb-editor")

    await link.fill(f"https://wiki.otelms.com/uk/{word}")
    await expect(url_error).to_have_count(0)
    await form.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("status").filter(has_text="Published")).to_be_visible()
    await expect(page.get_by_role("heading", name=title, level=2)).to_be_visible()
    assert await page.evaluate("() => window.__xss") is None

    widget, _ = await open_help(new_context, helpdesk_system, lang="uk")
    faq = await widget_search(widget, word)
    await faq.get_by_role("button", name=title).click()
    await expect(faq.get_by_role("heading", name=title)).to_be_visible()
    await expect(faq).to_contain_text("onerror")

    await page.get_by_role("button", name="Retire").click()
    await expect(page.get_by_text("Retire this article?")).to_be_focused()
    await page.get_by_role("button", name="Yes, retire it").click()
    await expect(page.get_by_role("status").filter(has_text="is retired")).to_be_visible()
    async with widget.expect_response(lambda r: "/api/v1/kb/search" in r.url and word in r.url) as answer:
        faq = await widget_search(widget, word)
    found = await (await answer.value).json()
    assert all(hit["title"] != title for hit in found["hits"])  # retired: gone from the search
    await expect(faq.get_by_role("heading", name="Результати пошуку")).to_be_visible()
    await expect(faq.get_by_role("button", name=title)).to_have_count(0)
    await expect(faq.get_by_role("button", name=title)).to_have_count(0)


async def test_saving_over_a_newer_version_shows_the_conflict_and_reloads_the_current_one(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    word = marker()
    title = f"Денний звіт {word}"
    article_id = publish(helpdesk_system, lang="uk", title=title, body=f"Звіт за день {word}.")
    page = await knowledge_base(new_context, helpdesk_system)
    await open_by_search(page, word, title)
    await page.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name=re.compile("Editing"))
    await form.get_by_label("Title", exact=True).fill(f"{title} (мої зміни)")

    newer = f"{title} (змінено іншим редактором)"
    with api(helpdesk_system, helpdesk_system.token(role="agent", sub="agent-other")) as http:
        answer = http.put(
            f"/api/v1/kb/articles/{article_id}",
            json={"lang": "uk", "section": "reports", "title": newer, "body": "Інший текст."},
            headers={"If-Match": "1"},
        )
    assert answer.status_code == 200, answer.text

    await form.get_by_role("button", name="Save changes").click()
    alert = page.get_by_role("alert").filter(has_text="Someone else changed this article")
    await expect(alert).to_be_visible()
    await alert.get_by_role("button", name="Reload the current version").click()
    await expect(page.get_by_label("Title", exact=True)).to_have_value(newer)


async def test_the_versions_view_shows_the_language_versions_side_by_side(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    word = marker()
    title_uk = f"Звіт про завантаженість {word}"
    uk_id = publish(helpdesk_system, lang="uk", title=title_uk, body=f"Відкрийте **Звіти** {word}.")
    page = await knowledge_base(new_context, helpdesk_system)
    await open_by_search(page, word, title_uk)

    await page.get_by_role("button", name="Add a translation").click()
    form = page.get_by_role("form", name=f"New translation of “{title_uk}”")
    await expect(form.get_by_label("Translation of")).to_have_value(uk_id)
    title_en = f"Occupancy report {word}"
    await form.get_by_label("Article id (wiki address)").fill(f"https://wiki.otelms.com/en/{word}")
    await form.get_by_label("Article language").select_option("en")
    await form.get_by_label("Title", exact=True).fill(title_en)
    await form.get_by_label("Text (Markdown)").fill(f"Open **Reports** {word}.")
    await form.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("heading", name=title_en, level=2)).to_be_visible()

    await page.get_by_role("button", name="Language versions").click()
    await expect(page.get_by_role("heading", name=f"Language versions: {title_en}")).to_be_visible()
    await expect(page.get_by_role("region", name="Українська")).to_contain_text(title_uk)
    await expect(page.get_by_role("region", name="English")).to_contain_text(title_en)
    await expect(page.get_by_role("region", name="Polski")).to_contain_text("No version in this language yet")
    assert_no_serious_a11y(await axe(page))
    await screenshot(page, "console-kb-versions")


async def test_a_knowledge_base_editor_sees_the_knowledge_base_only_and_no_chat_controls(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page = await open_console(new_context, helpdesk_system, name="Maria Editor", role="editor")
    nav = page.locator("nav.nav")
    await expect(nav.get_by_role("link")).to_have_count(1)
    await expect(nav.get_by_role("link", name="Knowledge base")).to_be_visible()
    await expect(page.locator(".presence")).to_have_count(0)
