"""Helpers for browser tests: screenshots, axe-core accessibility checks, a static file server.

- `await screenshot(page, name)` saves `tests/browser/screenshots/<name>.png` for people to look at and
  returns its path.
- `await axe(page, root_selector=None)` runs axe-core (the copy `npm ci` put in `web/node_modules`) on the
  page, or on the element `root_selector` selects, open shadow roots included, and returns the
  violations; `assert_no_serious_a11y(violations)` fails on any serious or critical one.
- `serve_directory(folder, headers=...)` serves a folder on a free 127.0.0.1 port in a thread.

axe is put on the page with `page.evaluate(<axe.min.js>)`: that goes through the DevTools protocol,
so it works under a strict Content-Security-Policy (no 'unsafe-inline', no 'unsafe-eval') where the
inline `<script>` that `page.add_script_tag(path=...)` adds is refused (tests/browser/test_harness.py).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
AXE_JS = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"

SERIOUS_IMPACTS = frozenset({"serious", "critical"})

Violation = dict[str, Any]


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of `page` as `tests/browser/screenshots/<name>.png` and return its path."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "screenshot"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{safe}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


@functools.cache
def _axe_source() -> str:
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS.relative_to(ROOT)} is missing: run `python3 dev.py setup` (npm ci in web/)")
    # Ending in `undefined` keeps evaluate from trying to serialise whatever the script returns.
    return AXE_JS.read_text(encoding="utf-8") + "\n;undefined;"


async def _inject_axe(page: Page) -> None:
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(_axe_source())


async def axe(
    page: Page, root_selector: str | None = None, *, options: Mapping[str, Any] | None = None
) -> list[Violation]:
    """axe-core's violations on `page` (or inside `root_selector`), open shadow roots included.

    Each violation is axe's JSON: `id`, `impact`, `help`, `helpUrl`, `nodes` (each with `target`,
    a list of selectors that goes through shadow roots, and `html`).
    """
    await _inject_axe(page)
    run_options = {"resultTypes": ["violations"], **(options or {})}
    results: dict[str, Any] = await page.evaluate(
        """async ([selector, options]) => {
            const context = selector === null ? document : selector;
            return await window.axe.run(context, options);
        }""",
        [root_selector, run_options],
    )
    violations: list[Violation] = results["violations"]
    return violations


def _target(target: list[Any]) -> str:
    # axe writes an element inside shadow roots as a list of selectors: host, ..., element.
    return ", ".join(" >> ".join(part) if isinstance(part, list) else str(part) for part in target)


def describe_violations(violations: list[Violation]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(_target(node.get("target", [])) for node in v.get("nodes", []))
        lines.append(f"- {v['id']} ({v.get('impact')}): {v.get('help')} at {targets}")
    return "\n".join(lines)


def assert_no_serious_a11y(violations: list[Violation]) -> None:
    """Fail listing every violation whose impact is serious or critical."""
    serious = [v for v in violations if v.get("impact") in SERIOUS_IMPACTS]
    if serious:
        pytest.fail(
            f"{len(serious)} serious or critical accessibility violation(s):\n"
            + describe_violations(serious),
            pytrace=False,
        )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extra_headers: Mapping[str, str] = {}

    def end_headers(self) -> None:
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_directory(folder: Path, headers: Mapping[str, str] | None = None) -> Iterator[str]:
    """Serve `folder` on a free 127.0.0.1 port with `headers` on every answer; yields the base URL."""
    handler = type("Handler", (_QuietHandler,), {"extra_headers": dict(headers or {})})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, name="static-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
