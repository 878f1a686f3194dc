"""The console's Requests section in a real browser against the running system: the inbox updates
live, a reply from the console pops up in the hotel's widget, internal notes never reach the hotel,
a stale change is a conflict to reload (never an overwrite), and the status offers only what the
lifecycle allows. Every test files requests for hotel accounts of its own and filters the inbox (which
shows every account) by that account."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import NewContext
from tests.browser.console import open_console
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot
from tests.browser.widget import HotelUser, new_hotel_user, open_help, section
from tests.support.helpdesk_system import HelpdeskSystem

LIVE = 15_000  # ms: an event goes through the relay, the stream and a debounced reload
CONFLICT = "Someone else changed this request meanwhile. Reload it to see their change, then try again."


def client(system: HelpdeskSystem, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=system.url, headers={"Authorization": f"Bearer {token}"}, timeout=15)


def agent_token(system: HelpdeskSystem) -> str:
    return system.token(role="agent", sub="agent-api", name="Taras Support")


async def file_request(
    system: HelpdeskSystem, user: HotelUser, comment: str, *, importance: str = "normal"
) -> dict[str, Any]:
    async with client(system, user.token) as http:
        answer = await http.post(
            "/api/v1/tickets",
            data={"topic": "bookings", "comment": comment, "message": "Details", "importance": importance},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def inbox(page: Page) -> Locator:
    return page.get_by_role("table", name="Requests from every hotel, most recently updated first")


async def only_account(page: Page, account: str) -> None:
    await page.get_by_role("form", name="Request filters").get_by_label("Hotel account").fill(account)


async def open_request(page: Page, ticket: dict[str, Any]) -> Locator:
    await inbox(page).get_by_role("link", name=ticket["number"], exact=True).click()
    view = page.get_by_role("region", name=f"Request {ticket['number']}")
    await expect(view.get_by_role("heading", name=f"Request {ticket['number']}")).to_be_focused()
    return view


async def test_a_new_request_appears_live_and_the_consoles_reply_pops_up_in_the_widget(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    console = await open_console(new_context, helpdesk_system, name="Iryna Support")
    widget, user = await open_help(new_context, helpdesk_system, lang="en")
    await only_account(console, user.account)
    await expect(console.get_by_text("No request matches these filters.")).to_be_visible()

    form = await section(widget, "New request")
    await form.get_by_label("Topic").select_option("payments")
    await form.get_by_label("Short description").fill("Invoice shows the wrong VAT")
    await form.get_by_label("Detailed message").fill("The VAT on invoice 42 is 20% instead of 8%.")
    await form.get_by_role("button", name="Send the request").click()
    await expect(form.get_by_role("status").filter(has_text="has been created")).to_be_visible()

    row = inbox(console).locator("tbody tr").filter(has_text="Invoice shows the wrong VAT")
    await expect(row).to_be_visible(timeout=LIVE)  # no reload: the live stream brought it
    await expect(row).to_contain_text("updated")  # highlighted as new
    await expect(row).to_contain_text(user.account)
    number = (await row.get_by_role("link").inner_text()).strip()
    await row.get_by_role("link").click()
    view = console.get_by_role("region", name=f"Request {number}")
    await expect(view.get_by_text("The VAT on invoice 42 is 20% instead of 8%.")).to_be_visible()
    await view.get_by_label("Your reply").fill("Fixed: the invoice now shows 8% VAT.")
    await view.get_by_role("button", name="Send the reply").click()
    await expect(view.get_by_role("status").filter(has_text="The reply has been sent.")).to_be_visible()
    timeline = view.get_by_role("list", name="What happened")
    await expect(timeline.get_by_role("listitem").filter(has_text="Reply from support")).to_contain_text(
        "Fixed: the invoice now shows 8% VAT."
    )
    popup = widget.get_by_role("dialog", name="Reply from support")
    await expect(popup).to_contain_text("Fixed: the invoice now shows 8% VAT.", timeout=LIVE)
    assert not console.errors  # type: ignore[attr-defined]


async def test_an_internal_note_is_never_shown_to_the_hotel(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    ticket = await file_request(helpdesk_system, user, "Night audit stuck")
    console = await open_console(new_context, helpdesk_system)
    await only_account(console, user.account)
    view = await open_request(console, ticket)
    note = f"Checked the audit log {uuid.uuid4().hex[:6]}: a known bug, do not promise a date."
    await view.get_by_label("Note", exact=True).fill(note)
    await view.get_by_role("button", name="Add the note").click()
    item = view.get_by_role("list", name="What happened").get_by_role("listitem").filter(has_text=note)
    await expect(item).to_contain_text("Internal note — not shown to the hotel")

    async with client(helpdesk_system, user.token) as http:
        seen = (await http.get(f"/api/v1/tickets/{ticket['id']}")).json()
    assert seen["number"] == ticket["number"]
    assert note not in str(seen) and not any(i["internal"] for i in seen["timeline"])
    async with client(helpdesk_system, agent_token(helpdesk_system)) as http:
        staff = (await http.get(f"/api/v1/tickets/{ticket['id']}")).json()
    assert [i["data"]["text"] for i in staff["timeline"] if i["internal"]] == [note]

    widget, _ = await open_help(new_context, helpdesk_system, user=user, lang="en")
    history = await section(widget, "Request history")
    await history.get_by_role("button", name=f"View {ticket['number']}").click()
    await expect(
        history.get_by_role("heading", name=f"Request {ticket['number']}", exact=True)
    ).to_be_visible()
    await expect(history.get_by_text("Night audit stuck").first).to_be_visible()
    await expect(history.get_by_text(note)).to_have_count(0)
    await expect(history.get_by_text("Internal note")).to_have_count(0)


async def test_a_change_from_a_stale_version_is_a_conflict_until_reloaded(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    ticket = await file_request(helpdesk_system, user, "Channel manager rates differ")
    pages = []
    for name in ("Anna Support", "Bohdan Support"):
        page = await open_console(new_context, helpdesk_system, name=name)
        await only_account(page, user.account)
        pages.append((page, await open_request(page, ticket)))
    (a, view_a), (b, view_b) = pages

    await view_a.get_by_label("New status").select_option(label="In progress")
    await view_a.get_by_role("button", name="Change the status").click()
    await expect(view_a.get_by_role("list", name="What happened")).to_contain_text(
        "Status: New → In progress"
    )

    await view_b.get_by_label("Priority", exact=True).select_option("p2")
    await view_b.get_by_role("button", name="Set the priority").click()
    alert = view_b.get_by_role("alert").filter(has_text=CONFLICT)
    await expect(alert).to_be_visible()
    await screenshot(b, "console-conflict")
    await alert.get_by_role("button", name="Reload").click()
    await expect(alert).to_have_count(0)
    await expect(view_b.get_by_role("list", name="What happened")).to_contain_text(
        "Status: New → In progress"
    )
    await expect(view_b.get_by_label("Priority", exact=True)).to_have_value("p2")  # the choice is kept
    await view_b.get_by_role("button", name="Set the priority").click()
    await expect(view_b.get_by_role("list", name="What happened")).to_contain_text("Priority: — → P2")
    await expect(view_b.get_by_role("alert")).to_have_count(0)
    async with client(helpdesk_system, agent_token(helpdesk_system)) as http:
        final = (await http.get(f"/api/v1/tickets/{ticket['id']}")).json()
    assert (final["status"], final["priority"]) == ("in_progress", "p2")
    await expect(view_a.get_by_role("status").filter(has_text="This request has new changes.")).to_be_visible(
        timeout=LIVE
    )
    assert not a.errors and not b.errors  # type: ignore[attr-defined]


async def test_filters_counts_and_only_the_allowed_status_changes_are_offered(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    low = await file_request(helpdesk_system, user, "Report export is slow", importance="low")
    critical = await file_request(helpdesk_system, user, "Cannot check guests in", importance="critical")
    async with client(helpdesk_system, agent_token(helpdesk_system)) as http:
        closed = await http.post(f"/api/v1/tickets/{low['id']}/status", json={"status": "closed"})
        assert closed.status_code == 200, closed.text
        wait = {"account_id": user.account, "ticket_id": low["id"], "min_version": closed.json()["version"]}
        assert (await http.get("/api/v1/tickets", params=wait)).headers["X-History-Consistent"] == "true"
        counts = (await http.get("/api/v1/tickets/counts", params={"account_id": user.account})).json()
        allowed = (await http.get(f"/api/v1/tickets/{critical['id']}")).json()["allowed_statuses"]
    assert counts["by_status"]["new"] == 1 and counts["by_status"]["closed"] == 1

    page = await open_console(new_context, helpdesk_system)
    await only_account(page, user.account)
    rows = inbox(page).locator("tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text(low["number"])  # the last update first
    tabs = page.get_by_role("group", name="Status")
    for status, label in (("new", "New"), ("closed", "Closed"), ("in_progress", "In progress")):
        await expect(tabs.get_by_role("button", name=label, exact=False).first).to_have_text(
            f"{label} {counts['by_status'][status]}"
        )
    await expect(tabs.get_by_role("button", name="All")).to_have_text(f"All {counts['total']}")
    await tabs.get_by_role("button", name="Closed").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(low["number"])
    await tabs.get_by_role("button", name="All").click()
    await (
        page.get_by_role("form", name="Request filters").get_by_label("Importance").select_option("critical")
    )
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(critical["number"])
    await expect(rows.first).to_contain_text("Critical")
    await screenshot(page, "console-inbox")
    assert_no_serious_a11y(await axe(page))

    view = await open_request(page, critical)
    options = view.get_by_label("New status").locator("option")
    labels = {
        "in_progress": "In progress",
        "waiting_for_user": "Waiting for the hotel",
        "resolved": "Resolved",
    }
    expected = ["Choose a status", *(labels.get(s, s.capitalize()) for s in allowed)]
    await expect(options).to_have_text(expected)
    await screenshot(page, "console-request")
    assert_no_serious_a11y(await axe(page))

    await page.get_by_role("form", name="Request filters").get_by_label("Importance").select_option("")
    await open_request(page, low)
    closed_view = page.get_by_role("region", name=f"Request {low['number']}")
    await expect(
        closed_view.get_by_text("The request is closed: its status can no longer change.")
    ).to_be_visible()
    await expect(closed_view.get_by_role("button", name="Change the status")).to_have_count(0)
    assert not page.errors  # type: ignore[attr-defined]
