"""Support's popups in a real browser against the running system: a reply pops up in the middle of
the window with the Help panel closed, every tab of the user shows the same state, only the user
removes a popup, the dialog works from the keyboard, and support's markup never runs."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import NewContext
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot
from tests.browser.widget import HotelUser, host_url, new_hotel_user, open_page, panel
from tests.support.helpdesk_system import HelpdeskSystem

ARRIVAL = 15_000  # ms: the reply's event goes through the notifications service and the stream
# axe's context for the popup alone (the dialog lives in the widget's shadow root).
POPUP_ONLY = {"fromShadowDom": ["otelms-help", ".popup-backdrop"]}
HINT = "If an answer seems to be missing, check Request history in the Help menu."


def client(system: HelpdeskSystem, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=system.url, headers={"Authorization": f"Bearer {token}"}, timeout=15)


async def file_request(system: HelpdeskSystem, user: HotelUser) -> dict[str, Any]:
    async with client(system, user.token) as http:
        answer = await http.post(
            "/api/v1/tickets",
            data={"topic": "bookings", "comment": "Front desk", "message": "Rates do not sync"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def support_replies(system: HelpdeskSystem, ticket_id: str, text: str) -> None:
    agent = system.token(role="agent", sub="agent-x", name="Iryna Support")
    async with client(system, agent) as http:
        answer = await http.post(f"/api/v1/tickets/{ticket_id}/replies", data={"text": text})
    assert answer.status_code == 201, answer.text


def popup(page: Page, name: str = "Reply from support") -> Locator:
    return page.get_by_role("dialog", name=name)


async def focused(page: Page) -> dict[str, Any]:
    """The element that has focus (through shadow roots): its text and whether the popup holds it."""
    found: dict[str, Any] = await page.evaluate(
        """() => {
            let el = document.activeElement;
            while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
            const inDialog = !!(el && el.closest('.popup-dialog'));
            return {text: (el && el.textContent || '').trim(), inDialog};
        }"""
    )
    return found


async def test_a_reply_pops_up_in_the_middle_with_the_panel_closed_and_view_fully_opens_it(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    ticket = await file_request(helpdesk_system, user)
    page = await open_page(await new_context(), helpdesk_system, user, lang="en")
    await expect(panel(page)).to_have_count(0)
    text = "We fixed the channel mapping; rates sync again."
    await support_replies(helpdesk_system, ticket["id"], text)

    dialog = popup(page)
    await expect(dialog).to_be_visible(timeout=ARRIVAL)
    await expect(dialog).to_contain_text(f"Request {ticket['number']}")
    await expect(dialog).to_contain_text(text)
    await expect(dialog).to_contain_text(HINT)
    await expect(panel(page)).to_have_count(0)
    box = await dialog.bounding_box()
    assert box is not None
    assert abs(box["x"] + box["width"] / 2 - 640) < 20
    assert abs(box["y"] + box["height"] / 2 - 400) < 80
    badge = page.get_by_role("button", name="Help (1 new message from support)", exact=True)
    await expect(badge).to_have_count(1)
    await expect(badge.locator(".badge")).to_have_text("1")
    await screenshot(page, "popup-reply-1280", full_page=False)

    narrow = await open_page(
        await new_context(viewport={"width": 375, "height": 740}), helpdesk_system, user, lang="en"
    )
    await expect(popup(narrow)).to_contain_text(text, timeout=ARRIVAL)
    narrow_box = await popup(narrow).bounding_box()
    assert narrow_box is not None and narrow_box["x"] >= 0 and narrow_box["x"] + narrow_box["width"] <= 375
    await screenshot(narrow, "popup-reply-375", full_page=False)

    await dialog.get_by_role("button", name="View fully").click()
    await expect(dialog).to_have_count(0)
    help_panel = panel(page)
    await expect(help_panel).to_be_visible()
    detail = help_panel.get_by_role("heading", name=f"Request {ticket['number']}", exact=True)
    await expect(detail).to_be_visible()
    await expect(help_panel.get_by_role("list", name="Timeline")).to_contain_text(text)
    await expect(page.get_by_role("button", name="Help", exact=True)).to_be_visible()
    await expect(popup(narrow)).to_have_count(0, timeout=3000)  # opened: gone from every tab
    await screenshot(page, "popup-view-fully-detail")
    assert not page.errors  # type: ignore[attr-defined]


async def test_every_tab_shows_the_same_popups_and_only_the_user_removes_them(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    ticket = await file_request(helpdesk_system, user)
    context = await new_context()
    tab_a = await open_page(context, helpdesk_system, user, lang="en")
    tab_b = await open_page(context, helpdesk_system, user, lang="en")

    await support_replies(helpdesk_system, ticket["id"], "First answer")
    for tab in (tab_a, tab_b):
        await expect(popup(tab)).to_contain_text("First answer", timeout=ARRIVAL)
    await popup(tab_a).get_by_role("button", name="Remind later").click()
    choices = popup(tab_a).get_by_role("group", name="When should we remind you?")
    await expect(choices.get_by_role("button", name=re.compile(r"^Tomorrow at "))).to_be_visible()
    await expect(choices.get_by_label("Another time")).to_be_visible()
    await expect(choices.get_by_role("button", name="Remind me then")).to_be_visible()
    await screenshot(tab_a, "popup-remind-later", full_page=False)
    await choices.get_by_role("button", name="In 15 minutes").click()
    await expect(popup(tab_a)).to_have_count(0)
    await expect(popup(tab_b)).to_have_count(0, timeout=3000)

    await support_replies(helpdesk_system, ticket["id"], "Second answer")
    for tab in (tab_a, tab_b):
        await expect(popup(tab)).to_contain_text("Second answer", timeout=ARRIVAL)
    await tab_a.wait_for_timeout(3500)  # nothing but the user takes a popup away
    for tab in (tab_a, tab_b):
        await expect(popup(tab)).to_contain_text("Second answer", timeout=1)
    await popup(tab_b).get_by_role("button", name="Delete").click()
    await expect(popup(tab_b)).to_have_count(0)
    await expect(popup(tab_a)).to_have_count(0, timeout=3000)

    await tab_a.goto("about:blank")  # tab A closed while support answers again
    await support_replies(helpdesk_system, ticket["id"], "Third answer")
    await expect(popup(tab_b)).to_contain_text("Third answer", timeout=ARRIVAL)
    await tab_a.goto(host_url(helpdesk_system, user, lang="en"))
    await expect(popup(tab_a)).to_contain_text("Third answer", timeout=ARRIVAL)
    await expect(popup(tab_a)).not_to_contain_text("Second answer")
    await expect(popup(tab_a)).not_to_contain_text("First answer")  # snoozed for 15 minutes


async def test_the_popup_works_from_the_keyboard_and_supports_markup_never_runs(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    ticket = await file_request(helpdesk_system, user)
    page = await open_page(await new_context(), helpdesk_system, user, lang="en")
    hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> Check the rates.'
    await support_replies(helpdesk_system, ticket["id"], hostile)
    dialog = popup(page)
    await expect(dialog).to_contain_text(hostile, timeout=ARRIVAL)
    assert await dialog.locator("img, script").count() == 0
    assert await page.evaluate("() => window.__xss") is None

    assert (await focused(page))["inDialog"]
    reached = []
    for _ in range(7):
        await page.keyboard.press("Tab")
        now = await focused(page)
        assert now["inDialog"], f"focus left the popup: {now}"
        reached.append(now["text"])
    assert {"Remind later", "View fully", "Delete"} <= set(reached)
    assert reached[:3] == reached[3:6], reached  # round and round inside the dialog
    for _ in range(4):
        await page.keyboard.press("Shift+Tab")
        assert (await focused(page))["inDialog"]

    await page.keyboard.press("Escape")
    await expect(dialog).to_be_visible()
    while (await focused(page))["text"] != "Remind later":
        await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    choices = dialog.get_by_role("group", name="When should we remind you?")
    await expect(choices).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(choices).to_have_count(0)
    assert (await focused(page))["text"] == "Remind later"
    await page.keyboard.press("Escape")
    await page.wait_for_timeout(500)
    await expect(dialog).to_be_visible()
    async with client(helpdesk_system, user.token) as http:
        active = (await http.get("/api/v1/popups")).json()["items"]
    assert [item["text"] for item in active] == [hostile]  # Escape deleted nothing
    assert_no_serious_a11y(await axe(page, POPUP_ONLY))  # type: ignore[arg-type]
    assert_no_serious_a11y(await axe(page, "otelms-help"))  # the launcher with its unread count too
    await screenshot(page, "popup-keyboard-hostile-text", full_page=False)
    assert await page.evaluate("() => window.__xss") is None
