"""Driving the Help widget on the demo host page, as a hotel user would: by role and accessible name.

`open_help(new_context, system, ...)` opens the demo OtelMS screen signed in as a hotel user of its own
account (so tests never see each other's requests or popups) and returns the page and who it is.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from playwright.async_api import BrowserContext, Locator, Page, ViewportSize, expect

from tests.browser.conftest import NewContext
from tests.support.helpdesk_system import HelpdeskSystem

HELP = {"uk": "Допомога", "ru": "Помощь", "en": "Help", "pl": "Pomoc"}


@dataclass
class HotelUser:
    account: str
    sub: str
    name: str
    token: str


def new_hotel_user(system: HelpdeskSystem, *, name: str = "Olena Receptionist") -> HotelUser:
    account = f"hotel-{uuid.uuid4().hex[:8]}"
    sub = f"user-{uuid.uuid4().hex[:6]}"
    return HotelUser(account, sub, name, system.token(role="user", sub=sub, account=account, name=name))


def host_url(system: HelpdeskSystem, user: HotelUser, *, lang: str = "en") -> str:
    query = urlencode({"account": user.account, "user": user.sub, "name": user.name, "lang": lang})
    return f"{system.url}/?{query}"


async def open_page(
    context: BrowserContext, system: HelpdeskSystem, user: HotelUser, *, lang: str = "en"
) -> Page:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(host_url(system, user, lang=lang))
    await expect(page.locator("#signin-status")).to_contain_text(user.account)
    return page


async def open_help(
    new_context: NewContext,
    system: HelpdeskSystem,
    *,
    user: HotelUser | None = None,
    lang: str = "en",
    viewport: ViewportSize | None = None,
    **context_options: Any,
) -> tuple[Page, HotelUser]:
    user = user or new_hotel_user(system)
    context = await new_context(viewport=viewport, **context_options)
    page = await open_page(context, system, user, lang=lang)
    await help_button(page, lang).click()
    await expect(panel(page)).to_be_visible()
    return page, user


def help_button(page: Page, lang: str = "en") -> Locator:
    return page.get_by_role("button", name=HELP[lang], exact=True)


def panel(page: Page) -> Locator:
    return page.get_by_role("dialog", name=re.compile("OtelMS"))


async def section(page: Page, name: str) -> Locator:
    await page.get_by_role("tab", name=name).click()
    tabpanel = page.get_by_role("tabpanel", name=name)
    await expect(tabpanel).to_be_visible()
    return tabpanel


def api(system: HelpdeskSystem, token: str) -> httpx.Client:
    return httpx.Client(base_url=system.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
