"""Direct messages from the console in a real browser against the running system: one to a user pops
up in that user's Help widget; one to a whole hotel account reaches every user of it and no one else."""

from __future__ import annotations

import uuid

from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import NewContext
from tests.browser.console import open_console
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot
from tests.browser.widget import HotelUser, new_hotel_user, open_page
from tests.support.helpdesk_system import HelpdeskSystem

ARRIVAL = 15_000  # ms: through the notifications service and its stream to the widget


def colleague(system: HelpdeskSystem, of: HotelUser, name: str) -> HotelUser:
    sub = f"user-{uuid.uuid4().hex[:6]}"
    token = system.token(role="user", sub=sub, account=of.account, name=name)
    return HotelUser(of.account, sub, name, token)


async def message_form(new_context: NewContext, system: HelpdeskSystem) -> tuple[Page, Locator]:
    page = await open_console(new_context, system, name="Iryna Support", role="agent")
    await page.get_by_role("link", name="Message a hotel").click()
    form = page.get_by_role("form", name="Message a hotel")
    await expect(form).to_be_visible()
    return page, form


def popup(widget: Page) -> Locator:
    return widget.get_by_role("dialog", name="Message from support")


async def test_a_message_to_one_user_pops_up_in_that_users_widget(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    widget = await open_page(await new_context(), helpdesk_system, user, lang="en")
    page, form = await message_form(new_context, helpdesk_system)
    await expect(form.get_by_role("radio", name="One user")).to_be_checked()

    await form.get_by_role("button", name="Send").click()
    account = form.get_by_label("Hotel account id")
    await expect(account).to_be_focused()
    await expect(account).to_have_accessible_description("Fill this in.")

    text = f"Tonight 02:00–02:30 OtelMS is updated. <b>Save</b> your work. {uuid.uuid4().hex[:6]}"
    await account.fill(user.account)
    await form.get_by_label("User id").fill(user.sub)
    await form.get_by_label("Title").fill("Planned maintenance")
    await form.get_by_label("Text").fill(text)
    preview = page.get_by_role("region", name="How the popup will read")
    await expect(preview).to_contain_text("Message from support")
    await expect(preview).to_contain_text(text)
    assert await preview.locator("b").count() == 0
    assert_no_serious_a11y(await axe(page))
    await screenshot(page, "console-message")

    await form.get_by_role("button", name="Send").click()
    sent = page.get_by_role("status").filter(has_text="Sent: it appears as a popup to")
    await expect(sent).to_have_text(
        f"Sent: it appears as a popup to user {user.sub} of hotel account {user.account}."
    )
    assert_no_serious_a11y(await axe(page))

    dialog = popup(widget)
    await expect(dialog).to_be_visible(timeout=ARRIVAL)
    await expect(dialog).to_contain_text("Planned maintenance")
    await expect(dialog).to_contain_text(text)
    assert not page.errors  # type: ignore[attr-defined]


async def test_a_message_to_a_whole_account_reaches_every_user_of_it_and_no_other_hotel(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    first = new_hotel_user(helpdesk_system)
    second = colleague(helpdesk_system, first, "Taras Night Auditor")
    other = new_hotel_user(helpdesk_system, name="Another Hotel")
    widgets = [
        await open_page(await new_context(), helpdesk_system, person, lang="en")
        for person in (first, second, other)
    ]
    page, form = await message_form(new_context, helpdesk_system)
    await form.get_by_role("radio", name="Every user of a hotel account").check()
    await expect(form.get_by_label("User id")).to_have_count(0)
    text = f"The channel manager is back to normal. {uuid.uuid4().hex[:6]}"
    await form.get_by_label("Hotel account id").fill(first.account)
    await form.get_by_label("Title").fill("Channel manager")
    await form.get_by_label("Text").fill(text)
    await form.get_by_label("Text").press("Tab")
    await page.keyboard.press("Enter")  # the Send button, from the keyboard
    await expect(page.get_by_role("status").filter(has_text="Sent")).to_have_text(
        f"Sent: it appears as a popup to every user of hotel account {first.account}."
    )

    for widget in widgets[:2]:
        dialog = popup(widget)
        await expect(dialog).to_be_visible(timeout=ARRIVAL)
        await expect(dialog).to_contain_text(text)
    await widgets[2].wait_for_timeout(1500)
    await expect(popup(widgets[2])).to_have_count(0)
