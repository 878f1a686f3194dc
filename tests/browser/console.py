"""Driving the support console (`/console/`) as a specialist: signed in with a token of their own."""

from __future__ import annotations

import uuid

from playwright.async_api import Page, ViewportSize, expect

from tests.browser.conftest import NewContext
from tests.support.helpdesk_system import HelpdeskSystem


async def open_console(
    new_context: NewContext,
    system: HelpdeskSystem,
    *,
    name: str = "Iryna Support",
    sub: str | None = None,
    role: str = "agent",
    lang: str = "en",
    viewport: ViewportSize | None = None,
) -> Page:
    """A specialist's console, signed in by pasting a token (as one from the identity provider)."""
    context = await new_context(
        viewport=viewport, locale={"en": "en-GB", "uk": "uk-UA", "ru": "ru-RU"}.get(lang)
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(f"{system.url}/console/")
    await page.locator("select").first.select_option(lang)
    token = system.token(role=role, sub=sub or f"agent-{uuid.uuid4().hex[:6]}", name=name)
    await page.locator("#signin-token").fill(token)
    await page.locator("#signin-token").press("Tab")
    await page.locator("form button[type=submit]").click()
    await expect(page.locator("nav.nav")).to_be_visible()
    return page
