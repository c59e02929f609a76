"""The built book in a real headless browser (Debian's chromium) with the network off.

Every page must load without console errors, its math must be typeset by the local
MathJax, and every image must have loaded. Playwright drives the system chromium: its
own browser download cannot work offline.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

CHECK_IMAGES = """() => Array.from(document.images).map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0}))"""


REDIRECT = re.compile(r'<meta http-equiv="Refresh" content="0; url=([^"]+)"', re.IGNORECASE)


def _redirect_target(path: Path) -> str | None:
    """The target of a redirect-only page (jupyter-book's root index.html), else None."""
    match = REDIRECT.search(path.read_text(encoding="utf-8", errors="replace")[:2000])
    return match.group(1) if match else None


def _pages(html_root: Path) -> list[Path]:
    skip = {"genindex.html", "search.html"}
    return sorted(p for p in html_root.rglob("*.html") if p.name not in skip and "_static" not in p.parts)


@pytest.fixture(scope="module")
def offline_browser():
    """A chromium context with the network off: file: URLs load, anything else is aborted and recorded."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        context = browser.new_context(offline=True)
        context.blocked = []  # type: ignore[attr-defined]

        def only_local(route):
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                context.blocked.append(route.request.url)  # type: ignore[attr-defined]
                route.abort()

        context.route("**/*", only_local)
        yield context
        browser.close()


def test_every_page_renders_offline(smoke_book, offline_browser):
    pages = _pages(smoke_book)
    assert len(pages) >= 6
    problems: list[str] = []
    page = offline_browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: console.append(str(error)))
    for path in pages:
        name = str(path.relative_to(smoke_book))
        target = _redirect_target(path)
        if target is not None:  # it navigates away at once (a race with evaluate): check the target instead
            if not (path.parent / target).is_file():
                problems.append(f"{name}: redirects to missing {target}")
            continue
        console.clear()
        page.goto(path.as_uri(), wait_until="load")
        if page.locator(".math").count():
            page.wait_for_selector("mjx-container", timeout=15_000)
            if page.locator("mjx-merror").count():
                problems.append(f"{name}: MathJax error")
        images = page.evaluate(CHECK_IMAGES)
        problems += [f"{name}: image not loaded {img['src']}" for img in images if not img["ok"]]
        problems += [f"{name}: console error {text}" for text in console]
    blocked = offline_browser.blocked
    assert not blocked, f"pages tried to reach the network: {sorted(set(blocked))[:5]}"
    assert not problems, "\n".join(problems)


def test_math_and_figures_are_present(smoke_book, offline_browser):
    page = offline_browser.new_page()
    page.goto((smoke_book / "notebooks" / "mnist_harmonic_mlp.html").as_uri(), wait_until="load")
    page.wait_for_selector("mjx-container svg", timeout=15_000)
    assert page.locator("mjx-container").count() >= 3
    figures = page.evaluate(CHECK_IMAGES)
    assert len([f for f in figures if f["src"].endswith(".png")]) >= 2 and all(f["ok"] for f in figures)
