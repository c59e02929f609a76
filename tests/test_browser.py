"""The built book in a real headless browser (Debian's chromium) with the network off.

Every page must load without console errors, its math must be typeset by the local
MathJax, and every image must have loaded. Every page must also read as a companion, not a
notebook dump: no "NaN" in an output or table, no absolute path of the build machine anywhere
in its HTML, no ``parameters`` / ``injected-parameters`` cell, at most a handful of visible code
lines (code cells are collapsed), no table wider than the text column unless it scrolls inside
a wrapper, and no TeX left untypeset. Playwright drives the system chromium: its own browser
download cannot work offline.

``HARMONIC_BOOK_HTML=<book>/_build/html`` checks a book already built (e.g. by
``python -m harmonic.pipeline --profile quick --book /tmp/quick/book``) instead of building the
smoke profile.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

CHECK_IMAGES = """() => Array.from(document.images).map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0}))"""


#: Visible code lines a page may show (code cells are collapsed behind a toggle; a page may keep a few open).
MAX_VISIBLE_CODE_LINES = 8

#: An absolute path of a build machine: /work/, /tmp/, /root/, /home/, /Users/, /var/ or a Windows drive
#: at the start of a word (a URL's path, e.g. https://host/home/..., follows a host name and does not match).
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])(?:/(?:work|tmp|root|home|Users|var|private)/|[A-Z]:\\)")

#: What the reader sees, measured in the page: every check that needs layout or visibility.
READER_VIEW = r"""() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const visible = el => el.checkVisibility ? el.checkVisibility() : el.offsetParent !== null;
  const out = {nan: [], codeLines: 0, paramCells: [], wideTables: [], rawTex: [], mathUntyped: 0, mathErrors: 0};
  // "NaN" in an output or a table
  for (const el of article.querySelectorAll('.cell_output, table')) {
    const text = el.innerText || '';
    if (/\bNaN\b/.test(text)) out.nan.push(text.split('\n').find(l => /\bNaN\b/.test(l)).slice(0, 120));
  }
  // parameters cells: removed from the page, not merely collapsed
  for (const el of article.querySelectorAll('.cell.tag_parameters, .cell.tag_injected-parameters')) {
    out.paramCells.push(el.className);
  }
  // visible lines of code-cell source
  for (const pre of article.querySelectorAll('.cell_input pre')) {
    if (visible(pre)) out.codeLines += (pre.innerText || '').replace(/\n+$/, '').split('\n').length;
  }
  // tables wider than the text column, unless a wrapper inside the column scrolls them
  const column = article.getBoundingClientRect();
  for (const table of article.querySelectorAll('table')) {
    if (!visible(table)) continue;
    const rect = table.getBoundingClientRect();
    if (rect.width <= column.width + 1 && rect.right <= column.right + 1) continue;
    let scrolls = false;
    for (let el = table.parentElement; el && el !== article.parentElement; el = el.parentElement) {
      const style = getComputedStyle(el);
      if (['auto', 'scroll'].includes(style.overflowX) && el.getBoundingClientRect().right <= column.right + 1) {
        scrolls = true; break;
      }
    }
    if (!scrolls) out.wideTables.push(`${Math.round(rect.width)} px in a ${Math.round(column.width)} px column: `
                                     + (table.innerText || '').slice(0, 60).replace(/\s+/g, ' '));
  }
  // math: every math node typeset, no MathJax error, no TeX left in the visible text
  for (const el of article.querySelectorAll('.math')) {
    if (!el.querySelector('mjx-container') && !el.closest('mjx-container')) out.mathUntyped += 1;
  }
  out.mathErrors = article.querySelectorAll('mjx-merror').length;
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {acceptNode: node =>
    node.parentElement.closest('pre, code, script, style, mjx-container, .math, .cell_input')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    if (/\$\$|\\\(|\\\[|\$[^$\n]*\\[a-zA-Z]+[^$\n]*\$/.test(text)) out.rawTex.push(text.trim().slice(0, 80));
  }
  return out;
}"""


def _machine_paths(html: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Absolute paths of a build machine in ``html`` (the regex, and the given folders verbatim)."""
    found = [html[max(0, m.start() - 30):m.start() + 50] for m in ABSOLUTE_PATH.finditer(html)]
    found += [folder for folder in extra if folder and folder in html]
    return found


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


@pytest.fixture(scope="module")
def built_book(request) -> Path:
    """The HTML of the book under test: ``$HARMONIC_BOOK_HTML`` when set, else the smoke build."""
    given = os.environ.get("HARMONIC_BOOK_HTML")
    if given:
        root = Path(given)
        assert (root / "index.html").is_file(), f"HARMONIC_BOOK_HTML={given} holds no built book"
        return root
    return request.getfixturevalue("smoke_book")


def test_every_page_renders_offline(built_book, offline_browser):
    smoke_book = built_book
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


def test_math_and_figures_are_present(built_book, offline_browser):
    smoke_book = built_book
    page = offline_browser.new_page()
    page.goto((smoke_book / "notebooks" / "mnist_harmonic_mlp.html").as_uri(), wait_until="load")
    page.wait_for_selector("mjx-container svg", timeout=15_000)
    assert page.locator("mjx-container").count() >= 3
    figures = page.evaluate(CHECK_IMAGES)
    assert len([f for f in figures if f["src"].endswith(".png")]) >= 2 and all(f["ok"] for f in figures)


def test_every_page_reads_as_a_companion(built_book, offline_browser):
    """What a reader sees on every page: no NaN, no machine path, no parameters cell, no code wall,
    no table cut off on the right, no untypeset TeX (each problem named with its page)."""
    machine = (str(Path(__file__).resolve().parents[1]), str(built_book.resolve().parents[1]), str(Path.home()))
    page = offline_browser.new_page()
    problems: list[str] = []
    for path in _pages(built_book):
        name = str(path.relative_to(built_book))
        if _redirect_target(path) is not None:
            continue
        problems += [f"{name}: machine path in the HTML: ...{hit}..." for hit in
                     _machine_paths(path.read_text(encoding="utf-8", errors="replace"), machine)]
        page.goto(path.as_uri(), wait_until="load")
        if page.locator(".math").count():
            page.wait_for_selector("mjx-container", timeout=15_000)
        view = page.evaluate(READER_VIEW)
        problems += [f"{name}: NaN shown: {line}" for line in view["nan"]]
        problems += [f"{name}: parameters cell on the page ({cls})" for cls in view["paramCells"]]
        if view["codeLines"] > MAX_VISIBLE_CODE_LINES:
            problems.append(f"{name}: {view['codeLines']} visible code lines (at most {MAX_VISIBLE_CODE_LINES})")
        problems += [f"{name}: table wider than the column: {t}" for t in view["wideTables"]]
        if view["mathUntyped"] or view["mathErrors"]:
            problems.append(f"{name}: math not typeset ({view['mathUntyped']} nodes, {view['mathErrors']} errors)")
        problems += [f"{name}: TeX left in the text: {t}" for t in view["rawTex"]]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


@pytest.mark.parametrize("html, hits", [
    ('<td>/work/main/build/results</td>', 1),
    ("<pre>results_dir = '/tmp/pytest-1/book'</pre>", 1),
    ('<a href="https://github.com/home/x">/home/</a>', 1),   # the link text, not the URL
    ('<a href="https://example.org/tmp/x">x</a>', 0),
    ('<p>notebooks/params/quick/plan.yaml</p>', 0),
])
def test_machine_path_pattern(html, hits):
    assert len(_machine_paths(html)) == hits


BAD_PAGE = """<!DOCTYPE html><html><head><style>article { width: 600px; }</style></head><body><main>
<article class="bd-article">
<div class="cell tag_parameters"><div class="cell_input"><pre>x = 1</pre></div></div>
<div class="cell"><div class="cell_input"><pre>%s</pre></div>
  <div class="cell_output"><table><tr><td>NaN</td></tr></table></div></div>
<table style="width: 1500px"><tr><td>too wide</td></tr></table>
<div style="overflow-x: auto"><table style="width: 1500px"><tr><td>scrolls</td></tr></table></div>
<p>Left as TeX: $\\alpha + \\beta$ and $$x$$.</p>
</article></main></body></html>""" % "\n".join(f"line {i}" for i in range(12))


def test_reader_view_flags_each_kind_of_problem(offline_browser, tmp_path):
    """Each check of test_every_page_reads_as_a_companion fires on a page made to fail it."""
    path = tmp_path / "bad.html"
    path.write_text(BAD_PAGE)
    page = offline_browser.new_page()
    page.goto(path.as_uri(), wait_until="load")
    view = page.evaluate(READER_VIEW)
    assert view["nan"] and len(view["paramCells"]) == 1 and view["codeLines"] == 13
    assert len(view["wideTables"]) == 1 and "too wide" in view["wideTables"][0]
    assert len(view["rawTex"]) == 1
