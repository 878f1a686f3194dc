"""New request in a real browser: the form, its file rules, deflection, one request per form, and
the way to it in the history."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.browser.conftest import NewContext
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot
from tests.browser.widget import api, open_help, section
from tests.support.helpdesk_system import HelpdeskSystem

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
    b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


async def test_a_request_with_a_file_is_created_once_even_on_a_double_click_and_leads_to_the_history(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, user = await open_help(new_context, helpdesk_system, lang="en")
    form = await section(page, "New request")
    await form.get_by_label("Topic").select_option("bookings")
    await form.get_by_label("Short description").fill("Cannot cancel a booking")
    await form.get_by_label("Detailed message").fill("The cancel button in the booking window does nothing.")
    await expect(form.get_by_text("These articles may answer it:")).to_be_visible(timeout=5000)
    await expect(form.get_by_text("Up to 20 MB", exact=False)).to_be_visible()
    await form.get_by_label("Low").check()
    await form.locator("input[type=file]").set_input_files(
        {"name": "screen.png", "mimeType": "image/png", "buffer": PNG}
    )
    await expect(form.get_by_role("button", name="Remove the file screen.png")).to_be_visible()
    await screenshot(page, "request-form-filled-en")
    assert_no_serious_a11y(await axe(page, "otelms-help"))
    await form.get_by_role("button", name="Send the request").dblclick()
    created = form.get_by_role("status").filter(has_text="has been created")
    await expect(created).to_be_visible()
    number = (await created.inner_text()).split("Request ")[1].split(" ")[0]
    await screenshot(page, "request-created-en")
    with api(helpdesk_system, user.token) as http:
        for _ in range(50):
            items = http.get("/api/v1/tickets").json()["items"]
            if items:
                break
            await asyncio.sleep(0.1)
    assert [item["number"] for item in items] == [number]
    assert items[0]["importance"] == "low" and items[0]["topic"] == "bookings"
    await form.get_by_role("button", name=f"Open request {number}").click()
    history = page.get_by_role("tabpanel", name="Request history")
    await expect(history.get_by_role("heading", name=f"Request {number}", exact=True)).to_be_visible()
    await expect(history.get_by_role("button", name="Download screen.png")).to_be_visible()


async def test_missing_fields_too_large_or_refused_files_and_a_second_file_are_stopped_in_the_form(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, user = await open_help(new_context, helpdesk_system, lang="en")
    form = await section(page, "New request")
    await form.get_by_role("button", name="Send the request").click()
    await expect(form.get_by_label("Topic")).to_have_attribute("aria-invalid", "true")
    await expect(form.get_by_label("Topic")).to_be_focused()
    await expect(form.get_by_text("Please fill in this field.").first).to_be_visible()
    limits = api(helpdesk_system, user.token).get("/api/v1/request-form").json()
    file_input = form.locator("input[type=file]")
    await file_input.set_input_files(
        {
            "name": "huge.pdf",
            "mimeType": "application/pdf",
            "buffer": b"%PDF" + b"0" * limits["max_file_bytes"],
        }
    )
    await expect(form.get_by_role("alert").filter(has_text="is too large")).to_be_visible()
    await file_input.set_input_files(
        {"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ\x90\x00" * 10}
    )
    await expect(form.get_by_role("alert").filter(has_text="not accepted")).to_be_visible()
    # Two files dropped at once: the form takes neither.
    await form.locator(".dropzone").evaluate(
        """(zone) => {
            const data = new DataTransfer();
            data.items.add(new File(["a"], "a.txt", {type: "text/plain"}));
            data.items.add(new File(["b"], "b.txt", {type: "text/plain"}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }"""
    )
    await expect(form.get_by_role("alert").filter(has_text="Only one file")).to_be_visible()
    await expect(form.get_by_role("button", name="Remove the file", exact=False)).to_have_count(0)
    await screenshot(page, "request-form-errors-en")


async def test_a_request_sent_while_offline_is_kept_and_sent_once_back_online(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, user = await open_help(new_context, helpdesk_system, lang="uk")
    form = await section(page, "Нове звернення")
    await form.get_by_label("Тема").select_option("reports")
    await form.get_by_label("Коротко (суть звернення)").fill("Звіт по ночівлях порожній")
    await form.get_by_label("Детальний опис").fill("Звіт за вчора не показує жодного гостя.")
    await page.context.set_offline(True)
    await expect(page.get_by_role("status").filter(has_text="Немає з'єднання")).to_be_visible()
    await form.get_by_role("button", name="Надіслати звернення").click()
    await expect(form.get_by_role("alert").filter(has_text="ще не надіслано")).to_be_visible()
    await screenshot(page, "request-offline-uk")
    await page.context.set_offline(False)
    await expect(form.get_by_role("status").filter(has_text="створено")).to_be_visible(timeout=10_000)
    with api(helpdesk_system, user.token) as http:
        for _ in range(50):
            items = http.get("/api/v1/tickets").json()["items"]
            if items:
                break
            await asyncio.sleep(0.1)
    assert len(items) == 1 and items[0]["topic"] == "reports"


async def test_markup_in_a_requests_text_and_in_supports_reply_is_shown_as_text_in_the_history(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, user = await open_help(new_context, helpdesk_system, lang="en")
    hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>'
    with api(helpdesk_system, user.token) as http:
        created = http.post(
            "/api/v1/tickets",
            data={"topic": "other", "comment": f"Odd {hostile}", "message": f"Message {hostile}"},
        ).json()
    agent = helpdesk_system.token(role="agent", sub="agent-markup", name="Iryna Support")
    with api(helpdesk_system, agent) as http:
        reply = http.post(
            f"/api/v1/tickets/{created['ticket_id']}/replies", data={"text": f"Reply {hostile}"}
        )
        assert reply.status_code == 201, reply.text
    await page.evaluate(
        "(id) => document.querySelector('otelms-help').open({section: 'history', ticketId: id})",
        created["ticket_id"],
    )
    history = page.get_by_role("tabpanel", name="Request history")
    timeline = history.get_by_role("list", name="Timeline")
    await expect(timeline).to_contain_text("Reply <img src=x", timeout=10_000)
    await expect(timeline).to_contain_text("Message <img src=x")
    assert await page.locator("otelms-help").locator("img, script, b").count() == 0
    assert await page.evaluate("() => window.__xss") is None
    await screenshot(page, "history-markup-as-text")
