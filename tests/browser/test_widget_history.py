"""Request history in a real browser against the running system: the table and its filters (dates in
the user's own time zone), one request's timeline with support's reply and a status change, the
user's reply with a file, another hotel's request never shown, and support's messages kept after
the user deleted their popup."""

from __future__ import annotations

import asyncio
import re
import struct
import uuid
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import NewContext
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot
from tests.browser.widget import HotelUser, new_hotel_user, open_help, open_page, panel, section
from tests.support.helpdesk_system import HelpdeskSystem

KYIV = ZoneInfo("Europe/Kyiv")


def client(system: HelpdeskSystem, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=system.url, headers={"Authorization": f"Bearer {token}"}, timeout=15)


def agent_token(system: HelpdeskSystem) -> str:
    return system.token(role="agent", sub="agent-x", name="Iryna Support")


async def file_request(
    system: HelpdeskSystem, user: HotelUser, *, topic: str, message: str
) -> dict[str, Any]:
    async with client(system, user.token) as http:
        answer = await http.post(
            "/api/v1/tickets",
            data={"topic": topic, "comment": "Front desk", "message": message, "importance": "normal"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def read_request(
    system: HelpdeskSystem, user: HotelUser, ticket_id: str, version: int
) -> dict[str, Any]:
    """The user's view of the request once it has caught up with `version`."""
    async with client(system, user.token) as http:
        answer = await http.get(f"/api/v1/tickets/{ticket_id}", params={"min_version": version})
    assert answer.status_code == 200, answer.text
    detail: dict[str, Any] = answer.json()
    assert detail["version"] >= version
    return detail


async def delete_popups(system: HelpdeskSystem, user: HotelUser, *, expected: int) -> None:
    """Wait for support's popups to reach the user, then delete them (they would cover the panel)."""
    async with client(system, user.token) as http:
        for _ in range(60):
            items = (await http.get("/api/v1/popups")).json()["items"]
            if len(items) >= expected:
                break
            await asyncio.sleep(0.25)
        assert len(items) >= expected, items
        for item in items:
            assert (await http.post(f"/api/v1/popups/{item['popup_id']}/delete")).status_code == 200


def png_bytes() -> bytes:
    """A real 1×1 PNG (the server sniffs the type from the bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def rows(page: Page) -> Locator:
    return page.get_by_role("table", name="Your requests").locator("tbody tr")


def short_time(iso: str) -> str:
    """The `h:mm` an English widget shows for `iso` in Kyiv."""
    local = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(KYIV)
    return f"{local.hour % 12 or 12}:{local.minute:02d}"


async def test_the_table_filters_and_a_request_with_its_timeline_reply_and_files(
    new_context: NewContext, helpdesk_system: HelpdeskSystem, tmp_path: Path
) -> None:
    user = new_hotel_user(helpdesk_system)
    booking = await file_request(helpdesk_system, user, topic="bookings", message="The calendar is empty")
    payment = await file_request(helpdesk_system, user, topic="payments", message="Invoice is wrong")
    async with client(helpdesk_system, agent_token(helpdesk_system)) as support:
        replied = await support.post(
            f"/api/v1/tickets/{booking['id']}/replies", data={"text": "Please reload the calendar."}
        )
        assert replied.status_code == 201, replied.text
        moved = await support.post(f"/api/v1/tickets/{booking['id']}/status", json={"status": "in_progress"})
        assert moved.status_code == 200, moved.text
    booked = await read_request(helpdesk_system, user, booking["id"], moved.json()["version"])
    await read_request(helpdesk_system, user, payment["id"], payment["version"])
    await delete_popups(helpdesk_system, user, expected=1)
    async with client(helpdesk_system, user.token) as http:
        policy = (await http.get("/api/v1/request-form")).json()
    assert ".png" in policy["allowed_extensions"] and ".pdf" in policy["allowed_extensions"]

    page, _ = await open_help(new_context, helpdesk_system, user=user, lang="en")
    history = await section(page, "Request history")
    table = history.get_by_role("table", name="Your requests")
    await expect(rows(page)).to_have_count(2)
    headers = ["#", "Number", "Topic", "Status", "Last update", "Actions"]
    await expect(table.get_by_role("columnheader")).to_have_text(headers)
    await expect(history.get_by_role("status").filter(has_text="Showing")).to_have_text("Showing 2 requests")
    row = rows(page).filter(has_text=booking["number"])
    cells = row.get_by_role("cell")
    await expect(row.get_by_role("rowheader")).to_have_text(booking["number"])
    await expect(cells.nth(1)).to_have_text("Bookings and reservations")
    await expect(cells.nth(2)).to_have_text("In progress")
    await expect(cells.nth(3)).to_contain_text(re.compile(rf"\b{short_time(booked['updated_at'])}\b"))
    assert re.fullmatch(r"[12]", (await cells.nth(0).inner_text()).strip())
    assert_no_serious_a11y(await axe(page, "otelms-help"))
    await screenshot(page, "history-table")

    filters = history.get_by_role("form", name="Request filters")
    await filters.get_by_label("Status").select_option(label="In progress")
    await expect(rows(page)).to_have_count(1)
    await expect(rows(page)).to_contain_text(booking["number"])
    await filters.get_by_role("button", name="Clear filters").click()
    await expect(rows(page)).to_have_count(2)
    # The topic's name is the support directory's.
    await filters.get_by_label("Topic").select_option(label="Payment, debts, contracts and acts")
    await expect(rows(page)).to_have_count(1)
    await expect(rows(page)).to_contain_text(payment["number"])
    await expect(history.get_by_role("status").filter(has_text="Showing")).to_have_text("Showing 1 request")
    await filters.get_by_label("Status").select_option(label="In progress")
    await expect(history.get_by_text("No requests match these filters.")).to_be_visible()
    await filters.get_by_role("button", name="Clear filters").click()
    await expect(rows(page)).to_have_count(2)

    await history.get_by_role("button", name=f"View {booking['number']}").click()
    await expect(
        history.get_by_role("heading", name=f"Request {booking['number']}", exact=True)
    ).to_be_visible()
    timeline = history.get_by_role("list", name="Timeline")
    await expect(timeline.get_by_text("Request created")).to_be_visible()
    await expect(timeline.get_by_text("The calendar is empty")).to_be_visible()
    support_item = timeline.get_by_role("listitem").filter(has_text="Reply from support")
    await expect(support_item).to_contain_text("Please reload the calendar.")
    await expect(support_item).to_contain_text("Iryna Support")
    await expect(timeline.get_by_text(re.compile(r"^Status changed: .*In progress"))).to_be_visible()
    assert_no_serious_a11y(await axe(page, "otelms-help"))

    reply = history.get_by_role("form", name="Write a reply")
    big = tmp_path / "scan.pdf"
    with big.open("wb") as sparse:
        sparse.truncate(policy["max_file_bytes"] + 1)
    await reply.get_by_label("File (optional)").set_input_files(big)
    refusal = reply.get_by_role("alert")
    await expect(refusal).to_contain_text("“scan.pdf” is")
    await expect(refusal).to_contain_text("the largest file allowed is")
    sizes = re.search(r"is (.+); the largest file allowed is (.+?)\. ", await refusal.inner_text())
    assert sizes and sizes[1] != sizes[2], sizes  # never "20 MB; the largest … is 20 MB"
    await refusal.scroll_into_view_if_needed()  # the panel scrolls inside itself
    await screenshot(page, "history-file-too-large")

    await reply.get_by_label("Your message").fill("Reloaded, a screenshot is attached.")
    await reply.get_by_label("File (optional)").set_input_files(
        {"name": "calendar.png", "mimeType": "image/png", "buffer": png_bytes()}
    )
    await expect(refusal).to_have_count(0)
    await expect(reply.get_by_text("Selected: calendar.png")).to_be_visible()
    await reply.get_by_role("button", name="Send reply").click()
    await expect(reply.get_by_role("status")).to_have_text("Your reply has been sent.")
    mine = timeline.get_by_role("listitem").filter(has_text="Reloaded, a screenshot is attached.")
    await expect(mine).to_be_visible()
    await expect(mine.get_by_role("button", name="Download calendar.png")).to_be_visible()
    await expect(mine).to_contain_text(f"{len(png_bytes())} bytes")
    async with page.expect_download() as download:
        await mine.get_by_role("button", name="Download calendar.png").click()
    assert (await download.value).suggested_filename == "calendar.png"
    assert_no_serious_a11y(await axe(page, "otelms-help"))
    await screenshot(page, "history-detail-replied")
    await history.get_by_role("button", name="Back to the list").click()
    await expect(rows(page)).to_have_count(2)
    assert not page.errors  # type: ignore[attr-defined]


async def test_the_date_filter_counts_days_in_the_users_time_zone(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    created = await file_request(helpdesk_system, user, topic="reports", message="Night audit report")
    await read_request(helpdesk_system, user, created["id"], created["version"])
    page, _ = await open_help(new_context, helpdesk_system, user=user, lang="en", timezone_id="Europe/Kyiv")
    history = await section(page, "Request history")
    await expect(rows(page)).to_have_count(1)
    dates = history.get_by_role("group", name="Request date")
    today = datetime.now(KYIV).date().isoformat()
    async with page.expect_request(lambda r: "/api/v1/tickets?" in r.url and "date_to" in r.url) as asked:
        await dates.get_by_label("From", exact=True).fill(today)
        await dates.get_by_label("To", exact=True).fill(today)
    assert re.search(r"tz=Europe%2FKi(y)?ev\b", (await asked.value).url)  # ICU may say the old name
    await expect(rows(page)).to_have_count(1)
    await expect(rows(page)).to_contain_text(created["number"])
    await screenshot(page, "history-date-filter-today")
    await dates.get_by_label("From", exact=True).fill("2020-01-01")
    await dates.get_by_label("To", exact=True).fill("2020-01-31")
    await expect(history.get_by_text("No requests match these filters.")).to_be_visible()
    await expect(rows(page)).to_have_count(0)
    await dates.get_by_label("From", exact=True).fill("2020-02-01")
    await expect(dates.get_by_role("alert")).to_have_text("The start date is after the end date.")


async def test_another_hotels_request_is_not_found_in_the_widget(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    stranger = new_hotel_user(helpdesk_system, name="Other Hotel")
    secret = f"Safe code {uuid.uuid4().hex[:6]}"
    theirs = await file_request(helpdesk_system, stranger, topic="payments", message=secret)
    await read_request(helpdesk_system, stranger, theirs["id"], theirs["version"])
    page, _ = await open_help(new_context, helpdesk_system, lang="en")
    await page.evaluate(
        "(id) => document.querySelector('otelms-help').open({section: 'history', ticketId: id})", theirs["id"]
    )
    help_panel = panel(page)
    await expect(help_panel.get_by_role("alert")).to_contain_text("Not found.")
    await expect(help_panel.get_by_role("heading", name="Request", exact=True)).to_be_visible()
    await expect(help_panel.get_by_text(secret)).to_have_count(0)
    await expect(help_panel.get_by_text(theirs["number"])).to_have_count(0)
    await screenshot(page, "history-other-hotel-not-found")


async def test_a_deleted_message_from_support_stays_readable_in_the_history(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    context = await new_context()
    page = await open_page(context, helpdesk_system, user, lang="en")
    text = f"Tonight's maintenance starts at 23:00 ({uuid.uuid4().hex[:4]})."
    async with client(helpdesk_system, agent_token(helpdesk_system)) as support:
        sent = await support.post(
            "/api/v1/messages",
            json={
                "account_id": user.account,
                "user_id": user.sub,
                "title": "Planned maintenance",
                "text": text,
            },
        )
    assert sent.status_code == 201, sent.text
    popup = page.get_by_role("dialog", name="Message from support")
    await expect(popup).to_contain_text(text, timeout=15_000)
    await popup.get_by_role("button", name="Delete").click()
    await expect(popup).to_have_count(0)

    await page.get_by_role("button", name="Help", exact=True).click()
    await section(page, "Request history")
    await page.get_by_role("tab", name="Messages from support").click()
    messages = page.get_by_role("list", name="Messages from support")
    item = messages.get_by_role("listitem").filter(has_text=text)
    await expect(item).to_be_visible()
    await expect(item.get_by_role("heading", name="Planned maintenance")).to_be_visible()
    await expect(item.locator(".hist-state")).to_have_text("Deleted")
    await (
        page.get_by_role("form", name="Message filters").get_by_label("State").select_option(label="Deleted")
    )
    await expect(messages.get_by_role("listitem")).to_have_count(1)
    await expect(item).to_contain_text(text)
    assert_no_serious_a11y(await axe(page, "otelms-help"))
    await screenshot(page, "history-messages-deleted")
