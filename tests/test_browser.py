"""The built book in a real headless browser (Debian's chromium) with the network off.

Every page must load without console errors, its math must be typeset by the local
MathJax, and every image must have loaded. Every page must also read as a companion, not a
notebook dump: no "NaN" in an output or table, no absolute path of the build machine anywhere
in its HTML, no ``parameters`` / ``injected-parameters`` cell, at most a handful of visible code
lines (code cells are collapsed), no table wider than the text column unless it scrolls inside
a wrapper, and no TeX left untypeset. At a laptop's width (1366 px) no table needs a sideways
scroll; on a phone (390 px) a table may scroll inside its wrapper, its first column staying in
view. Every table and figure of a page has a link under it to the CSV of its data, which the
built book serves. Playwright drives the system chromium: its own browser download cannot work
offline.

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


#: Widths a reader uses: a laptop (every table fits the text column) and a phone (tables scroll, first column stays).
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

#: Every table of the page measured at the current width: its width, the room it has (its scrolling wrapper, else
#: the text column), whether it fits, and for one that scrolls whether its first column is sticky and still in
#: view when the wrapper is scrolled to its right end. Tables collapsed in a <details> are measured opened.
TABLE_LAYOUT = r"""() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const column = article.getBoundingClientRect();
  const out = [];
  for (const details of article.querySelectorAll('details')) details.open = true;
  for (const table of article.querySelectorAll('table')) {
    let wrapper = null;
    for (let el = table.parentElement; el && el !== article; el = el.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(el).overflowX)) { wrapper = el; break; }
    }
    const rect = table.getBoundingClientRect();
    const width = Math.max(rect.width, table.scrollWidth);
    const room = wrapper ? wrapper.clientWidth : column.width;
    const caption = table.caption ? table.caption.innerText : '';
    const item = {label: (caption || table.innerText || '').slice(0, 60).replace(/\s+/g, ' '),
                  width: Math.round(width), room: Math.round(room), column: Math.round(column.width),
                  fits: width <= room + 1 && rect.right <= column.right + 1,
                  scrolls: !!wrapper && wrapper.scrollWidth > wrapper.clientWidth + 1};
    if (item.scrolls) {
      const firsts = Array.from(table.tBodies).flatMap(body => Array.from(body.rows)).map(row => row.cells[0])
        .filter(Boolean);
      item.sticky = firsts.length > 0 && firsts.every(cell => getComputedStyle(cell).position === 'sticky');
      wrapper.scrollLeft = wrapper.scrollWidth;
      const box = wrapper.getBoundingClientRect();
      item.firstInView = firsts.every(cell => {
        const r = cell.getBoundingClientRect(); return r.left >= box.left - 1 && r.right <= box.right + 1; });
      item.firstShare = Math.max(0, ...firsts.map(cell => cell.getBoundingClientRect().width)) / box.width;
      wrapper.scrollLeft = 0;
    }
    out.push(item);
  }
  return out;
}"""

#: Tables and figures (images) in the page's outputs, in order, each with the URL of the first data link
#: (a.companion-download or .companion-download a) that follows it before the next table or figure.
DATA_LINKS = r"""() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const items = [];
  const nodes = article.querySelectorAll('.cell_output table, .cell_output img, .cell_output .companion-download a');
  for (const node of nodes) {
    if (node.tagName === 'A') {
      const last = items[items.length - 1];
      if (last && last.href === null) last.href = node.href;
      continue;
    }
    const caption = node.tagName === 'TABLE' && node.caption ? node.caption.innerText : '';
    const label = node.tagName === 'IMG' ? (node.getAttribute('src') || '').split('/').pop()
                                         : (caption || node.innerText || '').slice(0, 60).replace(/\s+/g, ' ');
    items.push({kind: node.tagName === 'IMG' ? 'figure' : 'table', label, href: null});
  }
  return items;
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


def table_layout_problems(page, url: str, width: dict[str, int]) -> list[str]:
    """What a reader at ``width`` cannot read in the page at ``url``: at the laptop's width a table
    that needs a sideways scroll; narrower, a scrolling table whose first column is not sticky, leaves
    the view, or takes most of the wrapper (no room left to scroll the rest beside it). The page is
    loaded at that width (the theme lays out its sidebars on load, not on a later resize)."""
    page.set_viewport_size(width)
    page.goto(url, wait_until="load")
    problems = []
    for table in page.evaluate(TABLE_LAYOUT):
        where = f"{table['label']!r} ({table['width']} px, {table['room']} px of room)"
        if width["width"] >= LAPTOP["width"]:
            if not table["fits"] or table["scrolls"]:
                problems.append(f"at {width['width']} px needs a sideways scroll: {where}")
        elif table["scrolls"] and not (table["sticky"] and table["firstInView"]):
            problems.append(f"at {width['width']} px the first column scrolls out of view: {where}")
        elif table["scrolls"] and table["firstShare"] > 0.6:
            problems.append(f"at {width['width']} px the first column takes "
                            f"{table['firstShare']:.0%} of the room: {where}")
        elif not table["fits"] and not table["scrolls"]:
            problems.append(f"at {width['width']} px cut off: {where}")
    return problems


def test_tables_fit_a_laptop_and_scroll_on_a_phone(built_book, offline_browser):
    """1366 px: no table needs a sideways scroll; 390 px: a table may scroll, its first column stays in view."""
    page = offline_browser.new_page()
    problems: list[str] = []
    for path in _pages(built_book):
        if _redirect_target(path) is not None:
            continue
        for width in (LAPTOP, PHONE):
            problems += [f"{path.relative_to(built_book)}: {p}"
                         for p in table_layout_problems(page, path.as_uri(), width)]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def data_link_problems(html_root: Path, page_path: Path, items: list[dict]) -> list[str]:
    """Each table or figure of ``items`` (:data:`DATA_LINKS`) without a link, or whose link is not a file of
    the built book that parses as a CSV with columns and holds no machine path."""
    import pandas as pd
    from urllib.parse import unquote, urlparse

    problems = []
    for item in items:
        where = f"{item['kind']} {item['label']!r}"
        if not item["href"]:
            problems.append(f"{where}: no link to its data")
            continue
        target = Path(unquote(urlparse(item["href"]).path))
        if not target.is_file() or html_root.resolve() not in target.resolve().parents:
            problems.append(f"{where}: its data link {item['href']} is not a file of the book")
            continue
        try:
            columns = pd.read_csv(target).columns
        except Exception as error:  # noqa: BLE001 - any parse error is the finding
            problems.append(f"{where}: {target.name} does not parse as CSV ({error})")
            continue
        if len(columns) == 0:
            problems.append(f"{where}: {target.name} has no columns")
        problems += [f"{where}: machine path in {target.name}: {hit}"
                     for hit in _machine_paths(target.read_text(encoding="utf-8"))]
    return problems


def test_every_table_and_figure_links_its_data(built_book, offline_browser):
    page = offline_browser.new_page()
    problems: list[str] = []
    linked = 0
    for path in _pages(built_book):
        if _redirect_target(path) is not None:
            continue
        page.goto(path.as_uri(), wait_until="load")
        items = page.evaluate(DATA_LINKS)
        linked += len(items)
        problems += [f"{path.relative_to(built_book)}: {p}" for p in data_link_problems(built_book, path, items)]
    assert linked >= 10, f"only {linked} tables and figures found in the book"
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


LAYOUT_PAGE = """<!DOCTYPE html><html><head><style>
article { width: 600px; } td { white-space: nowrap; } .wrap { overflow-x: auto; }
.sticky td:first-child { position: sticky; left: 0; background: white; }
</style></head><body><main><article class="bd-article">
<div class="cell_output"><div class="wrap"><table class="sticky"><tbody><tr><td>row</td><td>%s</td></tr></tbody>
  </table></div><p class="companion-download"><a href="data/ok.csv">data</a></p></div>
<div class="cell_output"><div class="wrap"><table><tbody><tr><td>loose</td><td>%s</td></tr></tbody></table></div>
  <img src="figure.png"><p class="companion-download"><a href="data/missing.csv">data</a></p></div>
<div class="cell_output"><table><tbody><tr><td>small</td></tr></tbody></table></div>
</article></main></body></html>""" % ("wide " * 300, "wide " * 300)


def test_layout_and_link_checks_flag_each_problem(offline_browser, tmp_path):
    """The checks above fire on a page made to fail them: a table that scrolls at a laptop's width, one whose
    first column is not sticky, a table without a link, a link to a missing file, a file that is no CSV."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ok.csv").write_text("a,b\n1,2\n")
    path = tmp_path / "layout.html"
    path.write_text(LAYOUT_PAGE)
    page = offline_browser.new_page()
    laptop = table_layout_problems(page, path.as_uri(), LAPTOP)
    assert len(laptop) == 2 and all("sideways" in p for p in laptop)
    phone = table_layout_problems(page, path.as_uri(), PHONE)
    assert len(phone) == 1 and "'loose" in phone[0] and "out of view" in phone[0]
    items = page.evaluate(DATA_LINKS)
    assert [item["kind"] for item in items] == ["table", "table", "figure", "table"]
    found = data_link_problems(tmp_path, path, items)
    assert len(found) == 3, found
    assert "no link" in found[0] and "missing.csv" in found[1] and "no link" in found[2]
    (tmp_path / "data" / "ok.csv").write_bytes(b"\x00\xff\xfe")
    assert any("ok.csv" in p for p in data_link_problems(tmp_path, path, items))
