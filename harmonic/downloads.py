"""The data behind every table and figure of a book page, as CSV files the book serves, one link under each.

During a book build the pipeline sets two environment variables for each page it executes
(:func:`page_environment`): :data:`FOLDER_ENV`, where that page's files go (``<book>/_extra/data/notebooks/<page>/``,
which Sphinx copies into the built book through ``html_extra_path``, so a link works offline and on a static
host), and :data:`URL_ENV`, the same folder as seen from the page (``../data/notebooks/<page>``). Every table the book
shows goes through :func:`harmonic.analysis.report.styled` and every figure through
:func:`harmonic.figures.common.save`; both call :func:`publish`. Outside a build (Colab, an interactive
session) neither variable is set and nothing is written or linked.
"""

from __future__ import annotations

import itertools
import os
import re
from collections import defaultdict
from html import escape
from pathlib import Path
from typing import Iterator

import pandas as pd

#: Folder of the page's data files (set by the pipeline for the page being executed).
FOLDER_ENV = "HARMONIC_DOWNLOADS_DIR"
#: That folder's URL relative to the page.
URL_ENV = "HARMONIC_DOWNLOADS_URL"
#: Class of the line under a table or figure that holds its data link (book/_static/companion.css styles it).
DOWNLOAD_CLASS = "companion-download"
#: Folder of the book's sources whose content Sphinx copies into the built HTML (``html_extra_path``).
EXTRA = "_extra"
#: Sub-folder of :data:`EXTRA` (and of the built book) holding every page's data files.
DATA = "data"

_numbers: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))


def page_environment(book_dir: Path, page: Path) -> dict[str, str]:
    """The environment that makes :func:`publish` write the data of ``page`` (an executed notebook under
    ``book_dir``) into the book: its folder and its URL relative to the page's HTML."""
    relative = Path(page).relative_to(book_dir).with_suffix("")
    up = "../" * (len(relative.parts) - 1)
    return {FOLDER_ENV: str(Path(book_dir) / EXTRA / DATA / relative), URL_ENV: f"{up}{DATA}/{relative.as_posix()}"}


def flat_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with one header row: the levels of a grouped (MultiIndex) header joined by spaces."""
    if not isinstance(frame.columns, pd.MultiIndex):
        return frame
    names = [" ".join(str(part) for part in column if str(part)) for column in frame.columns]
    return frame.set_axis(names, axis=1)


def _file_name(name: str | None, kind: str) -> str:
    """A safe file stem: ``name`` (letters, digits, ``.-_``) or ``<kind>-<n>`` numbered per page."""
    if name:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or kind
    return f"{kind}-{next(_numbers[kind])}"


def publish(frame: pd.DataFrame, name: str | None = None, kind: str = "table") -> str | None:
    """Write ``frame`` (its index dropped, a grouped header flattened) as the CSV of the page being built and
    return the link's URL; ``None`` outside a book build. ``name`` (e.g. a figure's file stem) names the
    file, else it is ``<kind>-<n>`` in the order of the page."""
    folder, url = os.environ.get(FOLDER_ENV), os.environ.get(URL_ENV)
    if not folder or url is None:
        return None
    file = f"{_file_name(name, kind)}.csv"
    Path(folder).mkdir(parents=True, exist_ok=True)
    flat_columns(frame).to_csv(Path(folder) / file, index=False)
    return f"{url}/{file}"


def link(url: str | None, what: str = "table") -> str:
    """The HTML line under a table or figure that downloads its data (empty when there is no URL)."""
    if not url:
        return ""
    name = url.rsplit("/", 1)[-1]
    return (f'<p class="{DOWNLOAD_CLASS}"><a href="{escape(url)}" download="{escape(name)}">'
            f"Data of this {what} (CSV)</a></p>")


def show_figure(fig: "matplotlib.figure.Figure", data: pd.DataFrame, name: str | None = None) -> bool:
    """In a book build: publish ``data`` (what ``fig`` plots), show ``fig`` and its link under it, and
    close it (so that the notebook does not show it a second time). Returns whether it did."""
    url = publish(data, name, kind="figure")
    if url is None:
        return False
    import matplotlib.pyplot as plt
    from IPython.display import HTML, display

    display(fig)
    display(HTML(link(url, "figure")))
    plt.close(fig)
    return True
