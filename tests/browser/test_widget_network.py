"""The widget on a bad network: the popup stream comes back by itself and resumes where it broke
(`last_event_id`), so a reply that arrived meanwhile still pops up; the panel says it is offline."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import NewContext
from tests.browser.test_widget_popups import file_request, popup, support_replies
from tests.browser.widget import help_button, new_hotel_user, open_page, panel
from tests.support.helpdesk_system import HelpdeskSystem


async def test_a_broken_popup_stream_reconnects_and_resumes_so_a_reply_sent_meanwhile_still_pops_up(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    page = await open_page(await new_context(), helpdesk_system, user, lang="en")
    await page.wait_for_function(
        "() => document.querySelector('otelms-help').context.popups.connection.value === 'live'"
    )
    created = await file_request(helpdesk_system, user)
    await support_replies(helpdesk_system, created["ticket_id"], "First answer")
    await expect(popup(page)).to_contain_text("First answer", timeout=15_000)
    await popup(page).get_by_role("button", name="Delete").click()
    await expect(popup(page)).to_be_hidden()
    # The connection breaks (as a dropped network would break it): the widget opens a new stream
    # that resumes after the last event it saw, and support answers meanwhile.
    async with page.expect_request(
        lambda request: "/popups/stream?" in request.url and "last_event_id=" in request.url, timeout=15_000
    ):
        await page.evaluate(
            """() => {
                const center = document.querySelector('otelms-help').context.popups;
                center.source.close();
                center.source.onerror(new Event('error'));
            }"""
        )
    await support_replies(
        helpdesk_system, created["ticket_id"], "Second answer, sent while the stream was down"
    )
    await expect(popup(page)).to_contain_text("Second answer", timeout=15_000)


async def test_going_offline_shows_a_banner_and_coming_back_removes_it(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    context = await new_context()
    page = await open_page(context, helpdesk_system, user, lang="en")
    await help_button(page).click()
    await expect(panel(page)).to_be_visible()
    await context.set_offline(True)
    banner = panel(page).get_by_role("status").filter(has_text="No connection")
    await expect(banner).to_be_visible()
    await context.set_offline(False)
    await expect(banner).to_be_hidden(timeout=10_000)
