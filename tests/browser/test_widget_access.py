"""The widget for keyboard users, screen readers and small screens: focus, ARIA, axe-core in every
section, full screen below 480 px, nothing broken at 320 px, and a host page's CSS kept out."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import NewContext
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot
from tests.browser.widget import help_button, new_hotel_user, open_help, open_page, panel, section
from tests.support.helpdesk_system import HelpdeskSystem

SECTIONS = ("FAQ", "Chat", "New request", "Request history", "Contacts and hours")


async def _active_label(page: Page) -> str:
    """The accessible name (or text) of the focused element, through the widget's shadow root."""
    label: str = await page.evaluate(
        """() => {
            let el = document.activeElement;
            while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
            return el ? (el.getAttribute('aria-label') || el.textContent || el.tagName).trim() : '';
        }"""
    )
    return label


async def test_every_section_passes_axe_with_no_serious_or_critical_violation(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="en")
    for name in SECTIONS:
        tabpanel = await section(page, name)
        await page.wait_for_timeout(600)  # each section's first answer is on screen
        assert_no_serious_a11y(await axe(page, "otelms-help"))
        assert await tabpanel.is_visible()
        await screenshot(page, f"section-{name.lower().replace(' ', '-')}-en")
    assert_no_serious_a11y(await axe(page))


async def test_the_whole_panel_works_from_the_keyboard_and_escape_returns_focus_to_help(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    user = new_hotel_user(helpdesk_system)
    page = await open_page(await new_context(), helpdesk_system, user, lang="en")
    button = help_button(page)
    await button.focus()
    await page.keyboard.press("Enter")
    await expect(panel(page)).to_be_visible()
    await expect(page.get_by_role("tab", name="FAQ")).to_be_focused()
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("tab", name="Chat")).to_be_focused()
    await expect(page.get_by_role("tab", name="Chat")).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("End")
    await expect(page.get_by_role("tab", name="Contacts and hours")).to_be_focused()
    await page.keyboard.press("ArrowLeft")
    await expect(page.get_by_role("tab", name="Request history")).to_be_focused()
    await page.keyboard.press("Home")
    await expect(page.get_by_role("tab", name="FAQ")).to_be_focused()
    # Tab never leaves the open panel, whichever way it goes.
    seen = set()
    for _ in range(40):
        await page.keyboard.press("Tab")
        inside: bool = await page.evaluate(
            "() => document.activeElement === document.querySelector('otelms-help')"
            " && !!document.querySelector('otelms-help').shadowRoot.activeElement?.closest('.panel')"
        )
        assert inside, f"focus left the panel at {await _active_label(page)!r}"
        seen.add(await _active_label(page))
    assert {"Close help", "Search"} <= seen
    for _ in range(5):
        await page.keyboard.press("Shift+Tab")
        assert await page.evaluate(
            "() => !!document.querySelector('otelms-help').shadowRoot.activeElement?.closest('.panel')"
        )
    # The search works by keyboard alone.
    await page.get_by_label("Search the knowledge base").focus()
    await page.keyboard.type("night audit")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Search results")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(panel(page)).to_be_hidden()
    await expect(button).to_be_focused()
    await expect(button).to_have_attribute("aria-expanded", "false")


async def test_below_480_px_the_panel_is_full_screen_and_at_320_px_nothing_overflows(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="uk", viewport={"width": 375, "height": 740})
    box = await panel(page).bounding_box()
    assert box is not None
    assert box["x"] == 0 and box["y"] == 0 and box["width"] == 375 and box["height"] == 740
    await screenshot(page, "panel-375-faq-uk", full_page=False)
    await page.set_viewport_size({"width": 320, "height": 640})
    for index, name in enumerate(("Питання й відповіді", "Чат", "Нове звернення", "Історія звернень")):
        await section(page, name)
        await page.wait_for_timeout(400)
        overflow: int = await page.evaluate(
            """() => {
                const panel = document.querySelector('otelms-help').shadowRoot.querySelector('.panel');
                let worst = 0;
                for (const el of panel.querySelectorAll('*')) {
                    const r = el.getBoundingClientRect();
                    if (r.width && el.offsetParent !== null) worst = Math.max(worst, r.right - 320);
                }
                return Math.max(worst, panel.scrollWidth - panel.clientWidth);
            }"""
        )
        assert overflow <= 1, f"{name}: something sticks out by {overflow}px at 320 px"
        await screenshot(page, f"panel-320-{SECTIONS[index]}", full_page=False)


TAB_LABELS_JS = """() => {
    const root = document.querySelector('otelms-help').shadowRoot;
    const list = root.querySelector('[role=tablist]');
    const tabs = [...root.querySelectorAll('[role=tab]')].map((tab) => {
        const text = tab.firstChild;
        const lineTops = new Set();
        const broken = [];
        const outside = [];
        const box = tab.getBoundingClientRect();
        for (const match of text.data.matchAll(/\\S+/g)) {
            const range = document.createRange();
            range.setStart(text, match.index);
            range.setEnd(text, match.index + match[0].length);
            const rects = [...range.getClientRects()].filter((r) => r.width > 0);
            rects.forEach((r) => lineTops.add(Math.round(r.top)));
            if (new Set(rects.map((r) => Math.round(r.top))).size > 1) broken.push(match[0]);
            const out = rects.some((r) => r.left < box.left - 0.5 || r.right > box.right + 0.5);
            if (out) outside.push(match[0]);
        }
        return {label: text.data, lines: lineTops.size, broken, outside};
    });
    return {tabs, overflow: list.scrollWidth - list.clientWidth};
}"""


async def test_section_tabs_never_break_a_word_and_fit_on_two_lines_in_every_language(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    """A tab's label wraps only between words ("zgłoszeni-e" or "обращени-е" read as typos), stays
    inside its tab, on at most two lines, and the five tabs fit the row without scrolling, from the
    432 px panel down to 320 px; choosing a tab does not move the others."""
    for lang in ("uk", "ru", "en", "pl"):
        page, _ = await open_help(new_context, helpdesk_system, lang=lang)
        for width in (1280, 375, 320):
            await page.set_viewport_size({"width": width, "height": 700})
            await page.wait_for_timeout(100)
            before = await page.evaluate(TAB_LABELS_JS)
            for tab in before["tabs"]:
                where = f"{lang} at {width} px: {tab['label']!r}"
                assert not tab["broken"], f"{where} breaks inside {tab['broken']}"
                assert not tab["outside"], f"{where} runs out of its tab: {tab['outside']}"
                assert tab["lines"] <= 2, f"{where} takes {tab['lines']} lines"
            overflow = before["overflow"]
            assert overflow <= 1, f"{lang} at {width} px: the tabs scroll by {overflow} px"
            tabs = page.get_by_role("tab")
            boxes = [await tabs.nth(i).bounding_box() for i in range(await tabs.count())]
            await tabs.nth(2).click()
            after = [await tabs.nth(i).bounding_box() for i in range(await tabs.count())]
            assert after == boxes, f"{lang} at {width} px: choosing a tab moved the tabs"
            await tabs.nth(0).click()
        await screenshot(page, f"tabs-320-{lang}", full_page=False)


async def test_the_host_pages_css_does_not_reach_inside_the_widget(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="en")
    before = await page.get_by_role("button", name="Search").evaluate(
        "(b) => getComputedStyle(b).backgroundColor"
    )
    await page.evaluate(
        """() => {
            const style = new CSSStyleSheet();
            style.replaceSync(
                'button { background: rgb(255, 0, 0) !important; } * { font-size: 40px !important; }'
            );
            document.adoptedStyleSheets = [...document.adoptedStyleSheets, style];
        }"""
    )
    after = await page.get_by_role("button", name="Search").evaluate(
        "(b) => getComputedStyle(b).backgroundColor"
    )
    assert before == after != "rgb(255, 0, 0)"
    host_button = await page.get_by_role("button", name="Увійти знову як демо-користувач").evaluate(
        "(b) => getComputedStyle(b).backgroundColor"
    )
    assert host_button == "rgb(255, 0, 0)"  # the page's own rule works on the page


async def test_the_token_lives_in_memory_only_and_is_asked_for_again_before_it_expires(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="en")
    await section(page, "Request history")
    storage: str = await page.evaluate("() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    assert "eyJ" not in storage  # no JWT was written to web storage
    calls: int = await page.evaluate(
        """async () => {
            const help = document.querySelector('otelms-help');
            let calls = 0;
            const real = help.context.tokens;
            // A token that expires in 30 s is refreshed at once (the widget refreshes a minute early).
            const header = btoa(JSON.stringify({alg: 'none'}));
            const body = btoa(JSON.stringify({exp: Math.floor(Date.now() / 1000) + 30}));
            real.setProvider(() => { calls += 1; return calls === 1 ? `${header}.${body}.x` : 'second'; });
            await real.get();
            await real.get();
            return calls;
        }"""
    )
    assert calls == 2
