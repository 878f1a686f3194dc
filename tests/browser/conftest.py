"""Browser tests: Debian's Chromium driven by Playwright for Python (async API).

Chromium is the system one (`chromium` on PATH or `/usr/bin/chromium`, which `dev.py test` installs
with apt when it can); Playwright's own browser download is never used. Without Chromium the browser
tests are skipped, unless `HELPDESK_TEST_REQUIRE_BROWSER=1` (as in CI), where they fail.

Every test under `tests/browser/` is marked `browser` and `e2e`.

Fixtures:
- `browser` (session): one headless Chromium.
- `new_context(viewport=..., locale=..., timezone_id=..., **options)`: a fresh, isolated browser
  context (one per person in a test); all are closed at the test's end.

Tests and fixtures are `async` and run on pytest-asyncio's session event loop like every other suite.
Playwright's sync API is not used: between its calls it marks its own loop as running in the main
thread, which breaks every pytest-asyncio test that runs after it in the same session.

    async def test_help_opens(new_context: NewContext) -> None:
        page = await (await new_context(locale="pl-PL")).new_page()
        await page.goto(url)
        await page.get_by_role("button", name="Pomoc").click()
        assert_no_serious_a11y(await axe(page, "otelms-help"))
        await screenshot(page, "help-open-pl")
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Playwright, ViewportSize, async_playwright

BROWSER_DIR = Path(__file__).resolve().parent

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DEFAULT_VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
DEFAULT_LOCALE = "uk-UA"
DEFAULT_TIMEZONE = "Europe/Kyiv"


NewContext = Callable[..., Awaitable[BrowserContext]]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if BROWSER_DIR in item.path.parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.e2e)


def _browser_required() -> bool:
    return os.environ.get("HELPDESK_TEST_REQUIRE_BROWSER", "") in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    if _browser_required():
        pytest.fail(f"HELPDESK_TEST_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason=reason)


def find_chromium() -> str | None:
    """Debian's Chromium: `chromium` on PATH, else `/usr/bin/chromium`."""
    found = shutil.which("chromium")
    if found:
        return found
    fallback = Path("/usr/bin/chromium")
    return str(fallback) if fallback.exists() else None


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = find_chromium()
    if path is None:
        _unavailable(
            "Chromium is not installed (`apt-get install chromium`; `python3 dev.py test` does it as root)"
        )
    assert path is not None
    return path


@pytest.fixture(scope="session")
async def playwright_driver() -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
async def browser(playwright_driver: Playwright, chromium_executable: str) -> AsyncIterator[Browser]:
    try:
        launched = await playwright_driver.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS, timeout=60_000
        )
    except Exception as exc:
        _unavailable(f"Chromium at {chromium_executable} did not start: {exc}")
        raise
    try:
        yield launched
    finally:
        await launched.close()


@pytest.fixture
async def new_context(browser: Browser) -> AsyncIterator[NewContext]:
    """`await new_context(viewport=..., locale=..., timezone_id=..., **options)` → a fresh context."""
    contexts: list[BrowserContext] = []

    async def factory(
        *,
        viewport: ViewportSize | None = None,
        locale: str = DEFAULT_LOCALE,
        timezone_id: str = DEFAULT_TIMEZONE,
        **options: Any,
    ) -> BrowserContext:
        context = await browser.new_context(
            viewport=viewport or DEFAULT_VIEWPORT, locale=locale, timezone_id=timezone_id, **options
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield factory
    for context in contexts:
        await context.close()
