"""Support's contacts and hours in a real browser: the Help menu's "Contacts and hours" view, the chat's
notice outside a topic's hours (no queue, a pre-filled request instead) and the answer time promised
on New request. The hours are set through the directory's admin API, as support's admins would."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import NewContext
from tests.browser.console import open_console
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot
from tests.browser.widget import new_hotel_user, open_help, section
from tests.support.helpdesk_system import HelpdeskSystem

DIRECTORY = "/api/v1/support/directory"
TIME = r"\d{2}:\d{2}(?: [AP]M)?"  # a time alone, as Intl writes it ("18:00", "06:00 PM")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def admin(system: HelpdeskSystem) -> httpx.Client:
    token = system.token(role="admin", sub="support-admin", name="Support admin")
    return httpx.Client(base_url=system.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


async def chat_follows(system: HelpdeskSystem, version: int) -> None:
    """Until chat routes by directory `version` (its metric), at most 10 s."""
    pattern = re.compile(r"^helpdesk_chat_support_directory_version (\d+)", re.M)
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(200):
            metrics = (await client.get(f"{system.service_url('chat')}/metrics")).text
            found = pattern.search(metrics)
            if found and float(found.group(1)) >= version:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"chat did not follow directory version {version}")


@contextlib.contextmanager
def services_closed_today(system: HelpdeskSystem) -> Iterator[dict[str, Any]]:
    """Additional services open only two days from now (in their schedule's zone): closed whatever the
    time of the run; their usual hours back afterwards."""
    with admin(system) as http:
        current = http.get(DIRECTORY)
        original = next(c for c in current.json()["directory"]["calendars"] if c["id"] == "services-hours")
        day = WEEKDAYS[(datetime.now(ZoneInfo(original["time_zone"])).weekday() + 2) % 7]
        closed = {**original, "weekly": [{"day": day, "start": "09:00", "end": "18:00"}]}
        changed = http.put(f"{DIRECTORY}/calendars/services-hours", json=closed)
        assert changed.status_code == 200, changed.text
        try:
            yield changed.json()
        finally:
            http.put(f"{DIRECTORY}/calendars/services-hours", json=original)


def services_moment(system: HelpdeskSystem) -> datetime:
    """When Additional services next close (open now) or open, from the directory as the widget reads it."""
    topics = httpx.get(f"{system.url}{DIRECTORY}", timeout=10).json()["topics"]
    services = next(t for t in topics if t["id"] == "services")
    moment = services["closes_at"] if services["open_now"] else services["opens_at"]
    return datetime.fromisoformat(moment["utc"])


def said_once(system: HelpdeskSystem, time_zone: str) -> str:
    """The pattern of the user's time of that moment: the time alone when it is today in `time_zone`
    (the user's), else with its day; never a day more than once."""
    zone = ZoneInfo(time_zone)
    today = services_moment(system).astimezone(zone).date() == datetime.now(zone).date()
    return rf"{TIME}" if today else rf"[^()\d]*\d+[^()\d]*, {TIME}"


async def zone_name(page: Page, lang: str, time_zone: str) -> str:
    """The zone's name as this browser's `Intl` gives it in `lang` (what the view should show)."""
    script = """([lang, timeZone]) => new Intl.DateTimeFormat(lang, { timeZone, timeZoneName: "longGeneric" })
        .formatToParts(new Date()).find((p) => p.type === "timeZoneName").value"""
    name: str = await page.evaluate(script, [lang, time_zone])
    return name


async def test_the_contacts_view_shows_phones_e_mails_and_each_topics_hours(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="uk", timezone_id="Europe/Warsaw")
    view = await section(page, "Контакти й години")
    await expect(view.get_by_role("link", name="Подзвонити +38 (044) 390-0014")).to_be_visible()
    await expect(view.get_by_role("link", name="Подзвонити +48 (22) 390-6200")).to_be_visible()
    for email in ("info@otelms.com", "billing@otelms.com", "services@otelms.com"):
        await expect(view.get_by_role("link", name=f"Написати на {email}")).to_be_visible()
    await expect(
        view.get_by_text("Оплата, заборгованість за користування системою, договори та акти")
    ).to_be_visible()
    billing = view.locator(".hours-topic").filter(has_text="Оплата, заборгованість, договори та акти")
    await expect(billing).to_contain_text("Зараз працюємо")
    await expect(billing).to_contain_text("Цілодобово, без вихідних")
    services = view.locator(".hours-topic").filter(has_text="Додаткові послуги")
    await expect(services).to_have_count(1)
    # Warsaw's clock is an hour behind the schedule's (Kyiv): both times, the second named by its zone.
    await expect(services).to_contain_text("(ваш час), ")
    await expect(services).to_contain_text(f"({await zone_name(page, 'uk', 'Europe/Kyiv')})")
    # A day is said once at most: the schedule's time (the same day there) is a time alone.
    local = said_once(helpdesk_system, "Europe/Warsaw")
    await expect(services.locator(".hint")).to_have_text(
        re.compile(rf"^(Працюємо до|Відкриється) {local} \(ваш час\), {TIME} \([^()]+\)$")
    )
    await expect(services).not_to_contain_text("Москв")
    await services.scroll_into_view_if_needed()  # the panel scrolls: show the hours in the picture
    await screenshot(page, "contacts-and-hours-uk")
    assert_no_serious_a11y(await axe(page, "otelms-help"))


async def test_a_user_in_the_schedules_own_zone_is_given_one_time_only(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="en", timezone_id="Europe/Kyiv")
    view = await section(page, "Contacts and hours")
    services = view.locator(".hours-topic").filter(has_text="Additional services")
    # The same wall time in both zones: the second one is left out.
    local = said_once(helpdesk_system, "Europe/Kyiv")
    one_time = re.compile(rf"^(Opens|Open until) {local} \(your time\)$")
    await expect(services.locator(".hint")).to_have_text(one_time)
    await services.scroll_into_view_if_needed()
    await screenshot(page, "contacts-and-hours-kyiv-en")


async def test_a_chat_outside_its_topics_hours_offers_a_request_with_the_promised_answer_time(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    with services_closed_today(helpdesk_system) as changed:
        await chat_follows(helpdesk_system, changed["version"])
        page, _ = await open_help(new_context, helpdesk_system, lang="en", timezone_id="Europe/Warsaw")
        chat = await section(page, "Chat")
        await chat.get_by_role("combobox", name="Topic of your question").select_option("services")
        await chat.get_by_role("textbox", name="Contact phone").fill("+380 44 123 45 67")
        await chat.get_by_role("textbox", name="Your question, briefly").fill("We need new BSO forms")
        await chat.get_by_role("button", name="Start chat").click()
        notice = chat.get_by_role("status").filter(
            has_text="Support for this topic is not working right now."
        )
        await expect(notice).to_be_visible()
        await expect(notice).to_contain_text("(your time), ")
        await expect(notice).to_contain_text(f"({await zone_name(page, 'en', 'Europe/Kyiv')}).")
        await expect(notice).not_to_contain_text("Moscow")
        await expect(notice).to_contain_text("Leave a request and we will answer by")
        await expect(chat.get_by_text("Your place in the queue", exact=False)).to_have_count(0)
        await screenshot(page, "chat-outside-hours-en")
        assert_no_serious_a11y(await axe(page, "otelms-help"))

        await notice.get_by_role("button", name="Create a request").click()
        form = page.get_by_role("tabpanel", name="New request")
        await expect(form.get_by_label("Topic")).to_have_value("services")
        await expect(form.get_by_label("Short description")).to_have_value("We need new BSO forms")
        expected = form.get_by_role("status").filter(has_text="Expected answer: by")
        await expect(expected).to_be_visible()
        await screenshot(page, "request-expected-answer-en")


async def test_new_request_shows_the_expected_answer_before_and_after_sending(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="pl", timezone_id="Europe/Warsaw")
    form = await section(page, "Nowe zgłoszenie")
    await form.get_by_label("Temat").select_option("payments")
    await expect(form.get_by_role("status").filter(has_text="Oczekiwana odpowiedź: do")).to_be_visible()
    await form.get_by_label("Krytyczna").check()
    await form.get_by_label("Krótki opis").fill("Faktura za marzec")
    await form.get_by_label("Szczegółowy opis").fill("Prosimy o fakturę za marzec.")
    await form.get_by_role("button", name="Wyślij zgłoszenie").click()
    created = form.get_by_role("status").filter(has_text="Odpowiemy do")
    await expect(created).to_be_visible()
    await screenshot(page, "request-created-with-due-pl")


async def test_the_console_shows_a_requests_first_answer_due_and_specialists_declare_their_teams(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    async with httpx.AsyncClient(
        base_url=helpdesk_system.url, headers={"Authorization": f"Bearer {user.token}"}, timeout=15
    ) as http:
        data = {
            "topic": "payments",
            "comment": "Invoice for March",
            "message": "Please send it.",
            "importance": "high",
        }
        answer = await http.post("/api/v1/tickets", data=data)
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    assert ticket["first_response_due"]
    page = await open_console(new_context, helpdesk_system)
    await page.get_by_role("form", name="Request filters").get_by_label("Hotel account").fill(user.account)
    await page.get_by_role("form", name="Request filters").get_by_label("Order").select_option("due")
    table = page.get_by_role("table", name="Requests from every hotel, most recently updated first")
    await table.get_by_role("link", name=ticket["number"], exact=True).click()
    view = page.get_by_role("region", name=f"Request {ticket['number']}")
    await expect(view.get_by_text("First answer due")).to_be_visible()
    await expect(view.get_by_text("(not answered yet)")).to_be_visible()
    await screenshot(page, "console-request-first-answer-due-en")

    await page.get_by_role("link", name=re.compile("^Chats")).first.click()
    teams = page.get_by_role("group", name="My teams")
    await teams.get_by_label("Payment and documents").check()
    await expect(teams.get_by_label("Payment and documents")).to_be_checked()
    await screenshot(page, "console-presence-teams-en")


async def test_the_public_support_page_shows_contacts_and_hours_in_four_languages_without_signing_in(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    context = await new_context(locale="ru-RU", timezone_id="Europe/Warsaw")
    page = await context.new_page()
    await page.goto(f"{helpdesk_system.url}/support/")
    await expect(page.get_by_role("heading", name="Контакты и часы работы", level=1)).to_be_visible()
    await expect(page.get_by_role("link", name="Позвонить +48 (22) 390-6200")).to_be_visible()
    await expect(page.get_by_text("Общие вопросы")).to_be_visible()
    for lang, heading in (
        ("pl", "Kontakt i godziny pracy"),
        ("en", "Contacts and working hours"),
        ("uk", "Контакти та години роботи"),
    ):
        await page.get_by_role("combobox").select_option(lang)
        await expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "uk")
    await expect(page.get_by_text("Загальні питання")).to_be_visible()
    await expect(page.get_by_text("Оплата, заборгованість, договори та акти")).to_be_visible()
    services = page.locator(".hours-topic").filter(has_text="Додаткові послуги")
    await expect(services).to_contain_text(f"({await zone_name(page, 'uk', 'Europe/Kyiv')})")
    # A day is said once at most: the schedule's time (the same day there) is a time alone.
    local = said_once(helpdesk_system, "Europe/Warsaw")
    await expect(services.locator(".hint")).to_have_text(
        re.compile(rf"^(Працюємо до|Відкриється) {local} \(ваш час\), {TIME} \([^()]+\)$")
    )
    await expect(page.locator("main")).not_to_contain_text("Москв")
    await screenshot(page, "support-page-uk")
    assert_no_serious_a11y(await axe(page))
