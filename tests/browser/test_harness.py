"""The browser harness on its own: Chromium starts, axe-core sees inside open shadow roots under a
strict Content-Security-Policy, and screenshots are written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from tests.browser.conftest import NewContext
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot, serve_directory

STRICT_CSP = "default-src 'self'; script-src 'self'"

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Harness check</title>
<script src="/widgets.js"></script></head>
<body>
<main>
  <h1>Harness check</h1>
  <unnamed-button-widget></unnamed-button-widget>
  <named-button-widget></named-button-widget>
</main>
</body>
</html>
"""

# Only external script is allowed by the policy; the page records whether eval is refused too.
WIDGETS_JS = """
try { eval("1"); document.documentElement.dataset.eval = "allowed"; }
catch (e) { document.documentElement.dataset.eval = "refused"; }

class UnnamedButtonWidget extends HTMLElement {
  connectedCallback() {
    const root = this.attachShadow({ mode: "open" });
    const button = document.createElement("button");
    button.className = "launcher";
    button.append(document.createElementNS("http://www.w3.org/2000/svg", "svg"));
    root.append(button);
  }
}

class NamedButtonWidget extends HTMLElement {
  connectedCallback() {
    const root = this.attachShadow({ mode: "open" });
    const button = document.createElement("button");
    button.textContent = "Help";
    root.append(button);
  }
}

customElements.define("unnamed-button-widget", UnnamedButtonWidget);
customElements.define("named-button-widget", NamedButtonWidget);
"""


@pytest.fixture
def strict_csp_site(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "widgets.js").write_text(WIDGETS_JS, encoding="utf-8")
    with serve_directory(tmp_path, headers={"Content-Security-Policy": STRICT_CSP}) as url:
        yield url


@pytest.fixture
async def page(new_context: NewContext, strict_csp_site: str) -> Page:
    context = await new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{strict_csp_site}/index.html")
    await page.wait_for_function("() => customElements.get('named-button-widget') !== undefined")
    return page


async def test_the_page_runs_under_a_strict_csp_that_refuses_inline_script_and_eval(page: Page) -> None:
    assert await page.locator("html").get_attribute("data-eval") == "refused"
    with pytest.raises(PlaywrightError, match="Content Security Policy"):
        await page.add_script_tag(content="window.inlineRan = true")
    assert await page.evaluate("() => window.inlineRan === undefined")


async def test_axe_finds_an_unnamed_button_inside_an_open_shadow_root(page: Page) -> None:
    violations = await axe(page, "unnamed-button-widget")

    button_name = [v for v in violations if v["id"] == "button-name"]
    assert len(button_name) == 1
    assert button_name[0]["impact"] == "critical"
    assert [node["target"] for node in button_name[0]["nodes"]] == [[["unnamed-button-widget", ".launcher"]]]
    with pytest.raises(pytest.fail.Exception, match=r"button-name \(critical\).*unnamed-button-widget"):
        assert_no_serious_a11y(violations)


async def test_axe_on_the_whole_page_goes_into_shadow_roots_too(page: Page) -> None:
    ids = {v["id"] for v in await axe(page)}
    assert "button-name" in ids


async def test_a_named_button_in_a_shadow_root_passes(page: Page) -> None:
    assert await page.get_by_role("button", name="Help").is_visible()
    violations = await axe(page, "named-button-widget")
    assert_no_serious_a11y(violations)
    assert "button-name" not in {v["id"] for v in violations}


async def test_a_screenshot_is_written_as_a_png(page: Page) -> None:
    path = await screenshot(page, "harness check")
    assert path.name == "harness-check.png"
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
