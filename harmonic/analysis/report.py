"""Tables the book shows: run summaries (mean ± std over seeds) and the status page.

Everything here reads result files (:func:`harmonic.results.load_runs`) or
executed notebooks; nothing computes or types in a number of its own.
"""

from __future__ import annotations

import os
import re
from html import escape
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd
from pandas.io.formats.style import Styler

from harmonic.downloads import link, publish
from harmonic.results import METRICS_FILE, PROVENANCE_FILE, metrics_status, read_json, read_provenance


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an ``s`` unless ``n`` is 1: "1 seed", "3 seeds"."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def _run_keys(runs: pd.DataFrame) -> list[str]:
    """Columns that identify one run (``run``, and ``results_dir`` when runs come from several folders)."""
    return [c for c in ("results_dir", "run") if c in runs.columns]


def last_epoch(runs: pd.DataFrame, epoch: int | None = None) -> pd.DataFrame:
    """One row per run: its last recorded epoch, or epoch ``epoch`` where it has it."""
    if runs.empty:
        return runs
    if epoch is not None:
        return runs[runs["epoch"] == epoch].reset_index(drop=True)
    idx = runs.groupby(_run_keys(runs))["epoch"].idxmax()
    return runs.loc[idx].reset_index(drop=True)


def mean_std(
    runs: pd.DataFrame,
    by: Sequence[str],
    value: str = "test_acc",
    epoch: int | None = None,
    decimals: int = 2,
    *,
    with_std: bool = False,
) -> pd.DataFrame:
    """Mean ± std of ``value`` at the last (or given) epoch, grouped by ``by``, with the seed count.

    Columns: ``by``, ``value`` (the ``"mean ± std"`` text; the mean alone for one seed), ``seeds``,
    ``epochs`` (the last one), ``mean`` and, with ``with_std``, ``std`` (a number; NaN for one seed).
    Every mean ± std over seeds of the package is computed here.
    """
    columns = [*by, value, "seeds", "epochs", "mean", *(["std"] if with_std else [])]
    final = last_epoch(runs, epoch)
    if final.empty:
        return pd.DataFrame(columns=columns)
    grouped = final.groupby(list(by), dropna=False)
    table = grouped[value].agg(["mean", "std", "count"]).reset_index()
    table["epochs"] = grouped["epoch"].max().values
    std = table["std"].fillna(0.0)
    table[value] = [
        f"{m:.{decimals}f} ± {s:.{decimals}f}" if n > 1 else f"{m:.{decimals}f}"
        for m, s, n in zip(table["mean"], std, table["count"])
    ]
    return table.rename(columns={"count": "seeds"})[columns]


def epochs_to_reach(runs: pd.DataFrame, threshold: float, by: Sequence[str], value: str = "test_acc") -> pd.DataFrame:
    """Per group of ``by``: the epoch by which *every* run of the group had reached ``threshold``.

    That is the worst seed's first epoch with ``value >= threshold``; missing (NaN) when some run of
    the group never reached it. Groups come from the runs' own columns (e.g. ``model``), never
    from their names. Columns: ``by``, ``epochs_to_reach``, ``runs_reaching``, ``runs``.
    """
    rows = []
    for key, group in runs.groupby(list(by), dropna=False):
        firsts = [frame.loc[frame[value] >= threshold, "epoch"].min() for _, frame in group.groupby(_run_keys(group))]
        reached = [f for f in firsts if pd.notna(f)]
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), "epochs_to_reach": max(reached) if len(reached) == len(firsts) else float("nan"),
                     "runs_reaching": len(reached), "runs": len(firsts)})
    return pd.DataFrame(rows, columns=[*by, "epochs_to_reach", "runs_reaching", "runs"])


def executed_notebooks(folders: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Papermill's record of every executed notebook below ``folders``.

    Columns: notebook, profile, started (UTC), seconds, status, parameters.
    """
    rows = []
    for folder in map(Path, folders):
        if not folder.exists():
            continue
        for path in sorted(folder.rglob("*.ipynb")):
            meta = read_json(path).get("metadata", {}).get("papermill", {})
            if not meta:
                continue
            params = dict(meta.get("parameters") or {})
            profile = params.pop("profile", None)
            for key in ("results_dir", "book_dir"):
                params.pop(key, None)
            rows.append({
                "notebook": str(path.relative_to(folder)),
                "profile": profile,
                "started": (meta.get("start_time") or "")[:19],
                "seconds": round(float(meta["duration"]), 1) if meta.get("duration") is not None else None,
                "status": "failed" if meta.get("exception") else "ok",
                "parameters": ", ".join(f"{k}={v}" for k, v in params.items()),
            })
    return pd.DataFrame(rows)


def provenance_summary(folders: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per recorded run: its ``folder`` (the name of the results folder it is in), commit, versions,
    hardware, device, seed, duration, and ``metrics``: whether its metrics.csv is the one recorded
    (:func:`harmonic.results.metrics_status`)."""
    rows = []
    for folder in map(Path, folders):
        if not folder.exists():
            continue
        for path in sorted(folder.rglob(PROVENANCE_FILE)):
            record = read_provenance(path)
            versions = record.get("versions", {})
            hw = record.get("hardware", {})
            git = record.get("git") or {}
            commit = git.get("commit") or "unknown"
            rows.append({
                "folder": folder.name,
                "run": str(path.parent.relative_to(folder)),
                "started": (record.get("started") or "")[:19],
                "seconds": record.get("duration_s"),
                "seed": record.get("seed"),
                "device": record.get("device"),
                "hardware": hw.get("gpu") or f"{hw.get('machine')} CPU, {plural(hw.get('torch_threads'), 'thread')}",
                "torch": versions.get("torch"),
                "python": versions.get("python"),
                "commit": commit[:10] + ("+dirty" if git.get("dirty") else ""),
                "metrics": metrics_status(path.parent) if path.with_name(METRICS_FILE).exists() else "missing",
            })
    return pd.DataFrame(rows)


def provenance_overview(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`provenance_summary` grouped by result folder (the run's first path part), commit,
    device, hardware and versions: runs, total seconds and the first and last start time."""
    if summary.empty:
        return pd.DataFrame(columns=["folder", "commit", "device", "hardware", "torch", "python",
                                     "runs", "seconds", "first_started", "last_started"])
    data = summary.assign(folder=summary["run"].map(lambda r: Path(r).parts[0] if len(Path(r).parts) > 1 else "."))
    return data.groupby(["folder", "commit", "device", "hardware", "torch", "python"], dropna=False).agg(
        runs=("run", "count"), seconds=("seconds", "sum"), first_started=("started", "min"),
        last_started=("started", "max")).reset_index()


#: Text columns whose longest cell has more characters than this get a minimum width when they wrap (a quote
#: then reads as lines, not as one word per line).
WRAP_AFTER = 24

#: Text of at most this many characters ("not run here", "λ=3") stays on one line, as numbers do.
SHORT_TEXT = 12

#: Characters of the body font that fit the book's text column at a laptop's width (757 px at 1366 px, digits being wide): a table
#: whose columns need more is set smaller, in proportion, down to :data:`SMALLEST_FONT` (and tighter columns:
#: ``companion-dense`` in book/_static/companion.css); below that it scrolls.
COLUMN_CHARACTERS = 78
SMALLEST_FONT = 0.75

#: A number or date as the tables write it: 3.91, 96.89 ± 0.21, 12 %, 2.0e-03, 0.93 (3 runs), 2026-11-24T12:28:18,
#: or "—" for none.
NUMBER_TEXT = re.compile(r"[-+−]?[\d.,]+(e[-+]?\d+)?( ?± ?[\d.,]+)?( ?%)?( \(\d+ \w+\))?|\d{4}-\d\d-\d\d(T[\d:]+)?|—|")


def _unbroken(column: pd.Series, names: bool = False) -> bool:
    """Whether ``column`` stays on one line: every cell a number or date, a number written as text
    (:data:`NUMBER_TEXT`), a short text (:data:`SHORT_TEXT`) or, with ``names``, one word (``relu-lr-3e-4``,
    which would otherwise break at its hyphens) of at most :data:`WRAP_AFTER` characters."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return True
    return column.map(lambda v: v is None or isinstance(v, (int, float)) or len(str(v)) <= SHORT_TEXT
                      or NUMBER_TEXT.fullmatch(str(v)) is not None
                      or (names and len(str(v)) <= WRAP_AFTER and not any(c.isspace() for c in str(v)))).all()


def _characters(frame: pd.DataFrame, decimals: int, names: bool = False) -> int:
    """About how many characters wide ``frame`` is set: per column the longer of its widest unbroken cell (or its
    text up to :data:`WRAP_AFTER` characters, as text wraps) and the longest word of its header, plus padding."""
    total = 0
    for key in frame.columns:
        labels = key if isinstance(key, tuple) else (key,)
        header = max((len(word) for label in labels for word in str(label).split()), default=0)
        cells = [f"{v:.{decimals}f}" if isinstance(v, float) else str(v) for v in frame[key]]
        widest = max(map(len, cells), default=0)
        total += max(header, widest if _unbroken(frame[key], names) else min(widest, WRAP_AFTER)) + 2
    return total


def _notes(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` without ``columns``: each of their non-empty cells becomes a numbered note (superscript marker
    after the row's first cell), returned as the notes' texts."""
    frame = frame.copy()
    first = frame.columns[0]
    notes: list[str] = []
    for row in frame.index:
        for column in columns:
            value = frame.at[row, column]
            if value is None or (isinstance(value, float) and pd.isna(value)) or str(value) in ("", "—"):
                continue
            notes.append(f"{column}: {value}")
            frame.at[row, first] = f"{frame.at[row, first]}\u00a0{_superscript(len(notes))}"  # never alone on a line
    return frame.drop(columns=list(columns)), notes


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


class BookTable(Styler):
    """A table as the book shows it (:func:`styled`): a pandas ``Styler`` whose HTML ends with its notes and,
    when the page is built into the book, the link to the CSV of its data (:mod:`harmonic.downloads`)."""

    download: str | None = None
    notes: Sequence[str] = ()

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{escape(note)}</li>" for note in self.notes)
        return ((super()._repr_html_() or "") + (f'<ol class="companion-notes">{notes}</ol>' if notes else "")
                + link(self.download, "table"))


def styled(frame: pd.DataFrame, decimals: int = 2, missing: str = "—", caption: str | None = None,
           notes: Sequence[str] = ()) -> BookTable:
    """``frame`` as the book shows tables, set to fit the text column of a laptop and to scroll on a phone with
    its first column in view (book/_static/companion.css): no index column, floats with ``decimals`` digits,
    ``missing`` for empty cells; numbers, dates, short text, one-word names (where the table still fits) and a
    short first column never break, longer text wraps inside its column (long text, such as quotes, with a
    minimum width); a table too wide for the column (:data:`COLUMN_CHARACTERS`) is set smaller in proportion; the text of the ``notes`` columns leaves the table
    for numbered notes under it. In a book build the frame is also written as the page's next CSV file, linked
    under the table (:func:`harmonic.downloads.publish`).
    """
    shown, note_texts = _notes(frame, notes) if notes else (frame, [])
    styler = BookTable(shown).hide(axis="index").format(precision=decimals, na_rep=missing, thousands=",")
    # one-word names stay whole where the table still fits the column in the smallest font, else they break
    names = _characters(shown, decimals, names=True) * SMALLEST_FONT <= COLUMN_CHARACTERS
    scale = max(SMALLEST_FONT, min(1.0, COLUMN_CHARACTERS / max(1, _characters(shown, decimals, names))))
    attributes = 'class="companion-table"' if scale == 1.0 else \
        f'class="companion-table companion-dense" style="font-size: {scale:.2f}em"'
    styler = styler.set_table_attributes(attributes)
    unbroken = [column for column in shown.columns if _unbroken(shown[column], names)]
    name = shown.columns[0] if len(shown.columns) else None  # the row's name: on one line too, when short enough
    if name is not None and name not in unbroken and shown[name].map(lambda v: len(str(v)) <= WRAP_AFTER).all():
        unbroken.insert(0, name)
    if unbroken:
        styler = styler.set_properties(subset=unbroken, **{"white-space": "nowrap"})
    wrapping = [column for column in shown.columns if column not in unbroken
                and shown[column].map(lambda v: isinstance(v, str) and len(v) > WRAP_AFTER).any()]
    if wrapping:
        styler = styler.set_properties(subset=wrapping, **{"min-width": "9em"})
    styler.download, styler.notes = publish(frame), note_texts
    return styler.set_caption(caption) if caption else styler


def reported(name: str, as_printed: bool = False) -> pd.DataFrame:
    """A table of values *reported by a paper* (``data/paper/<name>``; ``#`` lines are its source notes).

    ``as_printed=True`` keeps every cell as the text in the file (the paper's digits: 24.60, 25.5),
    empty cells as ``""``.
    """
    from harmonic.paths import PAPER_DATA

    path = PAPER_DATA / name
    if not path.exists():
        available = sorted(p.name for p in PAPER_DATA.glob("*.csv"))
        raise ValueError(f"name must be one of {available}, got {name!r}")
    if as_printed:
        return pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    return pd.read_csv(path, comment="#")


def sweep_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Last epoch of each sweep run with a readable ``configuration`` label.

    Columns: configuration (hidden sizes and batch size), model, lr, test_acc, epochs,
    seconds_per_epoch (mean over the run's epochs).
    """
    if runs.empty:
        return pd.DataFrame(columns=["configuration", "model", "lr", "test_acc", "epochs", "seconds_per_epoch"])
    final = last_epoch(runs).copy()
    per_epoch = runs.groupby(_run_keys(runs))["seconds"].mean().rename("seconds_per_epoch").reset_index()
    final = final.drop(columns="seconds").merge(per_epoch, on=_run_keys(runs))
    final["configuration"] = ("hidden " + final["param_hidden_sizes"].astype(str).str.replace("-", "×")
                              + ", batch " + final["param_batch_size"].astype(str))
    final["model"] = final["param_model"]
    final["lr"] = final["param_lr"].astype(float)
    final["epochs"] = final["epoch"]
    return final[["configuration", "model", "lr", "test_acc", "epochs", "seconds_per_epoch"]].sort_values(
        ["configuration", "model", "lr"]).reset_index(drop=True)


# --------------------------------------------------------------------------- Harmonic-MLP chapters
def format_lr(lr: float) -> str:
    """A learning rate as people write it: ``0.0003`` → ``"3e-4"``, ``0.001`` → ``"1e-3"``, ``0.5`` → ``"0.5"``."""
    lr = float(lr)
    if lr == 0 or 1e-2 < abs(lr) < 1e3:
        return f"{lr:g}"
    mantissa, exponent = f"{lr:.6e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _mean_std_cells(runs: pd.DataFrame, by: str, value: str, epoch: int | None = None) -> dict[Any, str]:
    """:func:`mean_std` text per value of ``by``, "—" for groups without a value (at ``epoch``)."""
    stats = mean_std(runs, [by], value, epoch)
    return {key: text if seeds else "—" for key, text, seeds in zip(stats[by], stats[value], stats["seeds"])}


def claim_check(runs: pd.DataFrame, threshold: float, by: str = "model", value: str = "test_acc") -> pd.DataFrame:
    """The claim "``value`` reaches ``threshold`` within the first epochs", checked on every run.

    One row per group of ``by`` (e.g. harmonic and relu) with readable headers: the runs (seeds)
    and how many reached the threshold, the first epoch at which they did (best and worst seed:
    :func:`epochs_to_reach` is the worst), the accuracy after epoch 1 and at the last epoch
    (mean ± std over seeds, %) and the epochs trained.
    """
    rows = []
    after_first, at_last = _mean_std_cells(runs, by, value, epoch=1), _mean_std_cells(runs, by, value)
    for key, group in runs.groupby(by, sort=True):
        firsts = pd.Series([frame.loc[frame[value] >= threshold, "epoch"].min()
                            for _, frame in group.groupby(_run_keys(group))], dtype=float)
        final = last_epoch(group)
        rows.append({
            by: key,
            "seeds": len(firsts),
            f"seeds reaching {threshold:g} %": int(firsts.notna().sum()),
            f"first epoch ≥ {threshold:g} % (best seed)": firsts.min() if firsts.notna().any() else None,
            f"first epoch ≥ {threshold:g} % (worst seed)": firsts.max() if firsts.notna().all() else None,
            "test accuracy after epoch 1 (%)": after_first.get(key, "—"),
            "final test accuracy (%)": at_last[key],
            "epochs": int(final["epoch"].max()),
        })
    table = pd.DataFrame(rows)
    for column in table.columns:
        if column.startswith("first epoch"):
            table[column] = table[column].astype("Int64")
    return table


def claim_verdict(check: pd.DataFrame, threshold: float, claimed: str = "harmonic", baseline: str = "relu",
                  by: str = "model") -> str:
    """One sentence on a :func:`claim_check` table: does the claimed model reach ``threshold`` on every
    seed, by which epoch, and does the baseline of the same size do the same."""
    worst = f"first epoch ≥ {threshold:g} % (worst seed)"
    rows = check.set_index(by)

    def reach(model: str) -> str:
        row = rows.loc[model]
        if pd.isna(row[worst]):
            return (f"reaches {threshold:g} % on {row[f'seeds reaching {threshold:g} %']} of its "
                    f"{row['seeds']} seeds within {row['epochs']} epochs")
        return f"reaches {threshold:g} % by epoch {row[worst]} on every one of its {row['seeds']} seeds"

    if claimed not in rows.index:
        return f"No `{claimed}` run recorded: the claim is not checked here."
    holds = not pd.isna(rows.loc[claimed, worst])
    text = (f"**The claim {'holds' if holds else 'does not hold'} here:** the Harmonic MLP {reach(claimed)} "
            f"(test accuracy after epoch 1: {rows.loc[claimed, 'test accuracy after epoch 1 (%)']} %).")
    if baseline in rows.index:
        same = not pd.isna(rows.loc[baseline, worst])
        text += (f" The ReLU MLP of the same size, trained with the same loop, data order and budget, "
                 f"{reach(baseline)}{' too' if same else ''} "
                 f"(after epoch 1: {rows.loc[baseline, 'test accuracy after epoch 1 (%)']} %)"
                 + (": reaching the threshold this early is not specific to the harmonic activation." if same
                    else "."))
    return text


def thread_counts(summary: pd.DataFrame) -> list[str]:
    """The distinct ``hardware`` descriptions of a :func:`provenance_summary` (e.g. thread counts), sorted."""
    return sorted(summary["hardware"].dropna().unique()) if not summary.empty else []


def budget(runs: pd.DataFrame) -> str:
    """What a set of runs trained on, in words: epochs, seeds and training set (the full set or a subset)."""
    if runs.empty:
        return "no runs"
    final = last_epoch(runs)
    epochs = sorted(final["epoch"].astype(int).unique())
    seeds = sorted(final["seed"].astype(int).unique()) if "seed" in final else []
    subsets = final["param_subset"].dropna().astype(int).unique() if "param_subset" in final else []
    epoch_text = plural(epochs[0], "epoch") if len(epochs) == 1 else \
        f"{epochs[0]}–{epochs[-1]} epochs"
    seed_text = f"{plural(len(seeds), 'seed')} ({', '.join(map(str, seeds))})"
    data = (f"a fixed random subset of {int(subsets[0]):,} training images" if len(subsets) == 1
            and final["param_subset"].notna().all() else "the full training set")
    return f"{len(final)} runs, {epoch_text} each, {seed_text}, trained on {data}"


def sweep_best(final: pd.DataFrame) -> pd.DataFrame:
    """The best learning rate of each configuration and model of a :func:`sweep_table`, for reading:
    the lr written as 3e-4, accuracy (%), and the accuracy at the seed's lr 1e-3 beside it."""
    if final.empty:
        return pd.DataFrame(columns=["configuration", "model", "best lr", "test accuracy at best lr (%)",
                                     "test accuracy at lr 1e-3 (%)", "epochs", "seconds per epoch"])
    best = final.loc[final.groupby(["configuration", "model"])["test_acc"].idxmax()]
    at_seed = final[final["lr"].round(12) == 1e-3].set_index(["configuration", "model"])["test_acc"]
    rows = pd.DataFrame({
        "configuration": best["configuration"],
        "model": best["model"],
        "best lr": best["lr"].map(format_lr),
        "test accuracy at best lr (%)": best["test_acc"].astype(float),
        "test accuracy at lr 1e-3 (%)": [at_seed.get((c, m), float("nan"))
                                         for c, m in zip(best["configuration"], best["model"])],
        "epochs": best["epochs"].astype(int),
        "seconds per epoch": best["seconds_per_epoch"].astype(float),
    })
    return rows.reset_index(drop=True)


def sweep_finding(final: pd.DataFrame, model: str = "harmonic", seed_lr: float = 1e-3) -> str:
    """Markdown sentences computed from a :func:`sweep_table`: per configuration, the best lr of
    ``model`` and its accuracy against the accuracy at the seed's ``seed_lr``, and the best ReLU
    accuracy of the same configuration. The runs have one seed each: differences are single runs."""
    if final.empty:
        return "No sweep runs: nothing to report."
    best = sweep_best(final).set_index(["configuration", "model"])
    lines = []
    for configuration in dict.fromkeys(final["configuration"]):
        if (configuration, model) not in best.index:
            continue
        row = best.loc[(configuration, model)]
        text = (f"- {configuration}: the harmonic model is best at lr {row['best lr']} "
                f"({row['test accuracy at best lr (%)']:.2f} %)")
        if pd.notna(row["test accuracy at lr 1e-3 (%)"]):
            text += f", against {row['test accuracy at lr 1e-3 (%)']:.2f} % at the seed's lr {format_lr(seed_lr)}"
        if (configuration, "relu") in best.index:
            relu = best.loc[(configuration, "relu")]
            text += (f"; the ReLU MLP's best is {relu['test accuracy at best lr (%)']:.2f} % "
                     f"(lr {relu['best lr']})")
        lines.append(text + ".")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- status page
def status_overview(executed: pd.DataFrame, build_runs: pd.DataFrame) -> pd.DataFrame:
    """One row per part of a build: each book page, and each group of training runs (a result folder),
    with the notebooks papermill executed, the training runs they recorded and the wall time.

    ``executed``: :func:`executed_notebooks` of the pages and run copies with a ``kind`` column
    (``"book page"`` / ``"run"``); ``build_runs``: :func:`provenance_summary` of the build's results.
    """
    if executed.empty:
        return pd.DataFrame(columns=["part of the build", "kind", "notebooks executed", "training runs recorded",
                                     "wall time (s)"])
    parts = executed.assign(part=[Path(n).parts[0] if k == "run" and len(Path(n).parts) > 1 else Path(n).stem
                                  for n, k in zip(executed["notebook"], executed["kind"])])
    recorded = (build_runs.assign(part=build_runs["run"].map(lambda r: Path(r).parts[0]))
                .groupby("part").size() if not build_runs.empty else pd.Series(dtype=int))
    table = parts.groupby(["part", "kind"], sort=False).agg(
        notebooks=("notebook", "count"), seconds=("seconds", "sum")).reset_index()
    table["runs"] = [int(recorded.get(p, 0)) if k == "run" else None for p, k in zip(table["part"], table["kind"])]
    table = table.sort_values(["kind", "part"], ascending=[False, True])
    return table.rename(columns={"part": "part of the build", "notebooks": "notebooks executed",
                                 "runs": "training runs recorded", "seconds": "wall time (s)"})[
        ["part of the build", "kind", "notebooks executed", "training runs recorded", "wall time (s)"]
    ].reset_index(drop=True)


def where_recorded(summary: pd.DataFrame) -> str:
    """Where a :func:`provenance_summary`'s runs ran, in words: "on <hardware> (<device>); ... at commit <c>, ..."."""
    if summary.empty:
        return "nowhere yet (no runs)"
    hardware = "; ".join(f"{h} ({d})" for (h, d), _ in summary.groupby(["hardware", "device"]))
    commits = ", ".join(sorted(summary["commit"].unique()))
    return f"on {hardware} at commit {commits}"


def details(summary: str, body: object) -> "IPython.display.HTML":
    """``body`` (a table: DataFrame or Styler) collapsed under a ``<details>`` line reading ``summary``."""
    from IPython.display import HTML

    inner = body._repr_html_() if hasattr(body, "_repr_html_") else str(body)  # a BookTable keeps its link
    return HTML(f"<details class=\"companion-details\"><summary>{escape(summary)}</summary>\n{inner}\n</details>")


def glue(name: str, value: object, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the book's text (``{glue:text}`name``` and ``{glue:md}``):
    myst-nb's ``glue`` where myst-nb is installed (the book build); elsewhere (e.g. Colab, where only
    the package is installed) the value is shown when ``display`` is true and otherwise skipped."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)
