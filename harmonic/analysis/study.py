"""The Harmonic-MLP study (issue #5): one tidy table of recorded runs, its summary and figures.

Each variant of the study is a parameter file of ``notebooks/mnist_harmonic_mlp.ipynb``
(``notebooks/params/study/variants/<variant>.yaml``) run by :mod:`harmonic.pipeline` over a
grid of datasets, so a run folder is named ``<variant>-dataset<dataset>-<model>-s<seed>``
(:func:`variant_of` recovers the variant). :func:`study_table` turns the recorded runs
(:func:`harmonic.results.load_runs`) into one row per run; :func:`summary` aggregates the
seeds of each (dataset, variant) and compares it with the 98.5 % MNIST target and with the
best ReLU baseline of the same dataset and width; :func:`findings` states, computed from the
summary, which variant is best. Nothing here types in a number of its own.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from harmonic.figures import integer_epochs, save
from harmonic.pipeline import point_suffix
from harmonic.analysis.report import last_epoch, mean_std
from harmonic.results import atomic_write_text, load_runs

__all__ = [
    "FAMILIES",
    "HARMONIC_OPTIONS",
    "REFERENCE_VARIANTS",
    "SAME_SETTINGS_COLUMNS",
    "SETTINGS_KEYS",
    "SUMMARY_COLUMNS",
    "TABLE_COLUMNS",
    "TARGETS",
    "coverage",
    "coverage_note",
    "family_curves",
    "family_of",
    "findings",
    "frequency_accuracy",
    "planned_study",
    "same_settings",
    "same_settings_note",
    "study_runs",
    "study_table",
    "summary",
    "variant_accuracy",
    "variant_of",
    "write_study_table",
]

#: Test-accuracy targets (%) of issue #5, per dataset: the mean over seeds must reach it.
TARGETS: dict[str, float] = {"mnist": 98.5}

#: The variants every family is compared with: the seed's model and the ReLU MLP of the same shape.
REFERENCE_VARIANTS: tuple[str, ...] = ("seed-faithful", "relu")

#: Family of a variant: the first pattern (``re.search`` on the variant name) that matches.
#: Variants matching none (``seed-faithful``, ``relu``) are ``"reference"``.
FAMILIES: tuple[tuple[str, str], ...] = (
    ("combination (two changes)", r"^bn-.*cosine$"),
    ("frequency distribution", r"^freq-"),
    ("activation", r"^act-"),
    ("batch norm position", r"^bn-"),
    ("frequency-aware optimizer", r"^fao-"),
    ("width", r"(^width-|^relu-)\d+x\d+$"),
    ("batch size", r"(^|-)batch\d+$"),
    ("learning rate and schedule", r"(^|-)(lr-|cosine$)"),
)

#: HarmonicMLP keyword arguments a variant may change through ``model_options``; runs that do
#: not set one used the default of :class:`harmonic.mlp.HarmonicMLP` (read from its signature).
HARMONIC_OPTIONS: tuple[str, ...] = ("freq_scheme", "activation", "bn_position", "residual_scale", "omega0")

#: Columns of :func:`study_table`, in order.
TABLE_COLUMNS: tuple[str, ...] = (
    "dataset", "variant", "family", "model", "seed", "epochs", "test_acc", "best_test_acc",
    "seconds_per_epoch", "n_parameters", "hidden_sizes", "max_freqs", "batch_size", "optimizer", "lr",
    "weight_decay", "scheduler", "freq_scale_factor", *HARMONIC_OPTIONS, "subset", "device", "commit", "run",
)

#: Training settings two runs must share to be compared "under the same settings" (:func:`same_settings`).
SETTINGS_KEYS: tuple[str, ...] = (
    "dataset", "hidden_sizes", "batch_size", "optimizer", "lr", "weight_decay", "scheduler", "epochs", "subset",
)

#: Columns of :func:`same_settings`, in order.
SAME_SETTINGS_COLUMNS: tuple[str, ...] = (
    "dataset", "variant", "relu_variant", "hidden_sizes", "batch_size", "lr", "scheduler", "harmonic_acc",
    "relu_acc", "difference", "spread", "verdict",
)

#: Columns of :func:`summary`, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "dataset", "variant", "family", "model", "hidden_sizes", "n_parameters", "test_acc", "mean", "std",
    "seeds", "epochs", "subset", "seconds_per_epoch", "target", "meets_target", "relu_baseline",
    "relu_mean", "vs_relu", "beats_relu",
)


# --------------------------------------------------------------------------- naming
def variant_of(run_name: str, model: str, seed: int, grid: Mapping[str, Any] | None = None) -> str:
    """The variant (parameter-file stem) of a run folder named ``<variant><grid suffix>-<model>-s<seed>``.

    ``grid`` holds the run's values of the plan's grid keys, in the plan's order (the study's
    grid is ``{"dataset": ...}``); suffixes that are absent (e.g. a plan without a grid) are
    skipped. Raises ValueError when the name does not end in ``-<model>-s<seed>``.
    """
    name = Path(run_name).name
    tail = f"-{model}-s{seed}"
    if not name.endswith(tail) or len(name) == len(tail):
        raise ValueError(f"run_name must end in {tail!r} (run_mlp_grid's naming); got {run_name!r}")
    name = name[: -len(tail)]
    for key, value in reversed(list((grid or {}).items())):
        suffix = point_suffix({key: value})
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name


def family_of(variant: str) -> str:
    """The family of a variant name (see :data:`FAMILIES`); ``"reference"`` when none matches."""
    for family, pattern in FAMILIES:
        if re.search(pattern, variant):
            return family
    return "reference"


# --------------------------------------------------------------------------- table
def _harmonic_defaults() -> dict[str, Any]:
    from harmonic.mlp import HarmonicMLP

    parameters = inspect.signature(HarmonicMLP.__init__).parameters
    return {name: parameters[name].default for name in HARMONIC_OPTIONS}


def _model_options(cell: Any) -> dict[str, Any]:
    """``params["model_options"]`` of one run from its ``param_model_options`` cell (JSON text, as
    :func:`~harmonic.results.load_runs` stores dicts; missing for runs that did not set it)."""
    return dict(json.loads(cell)) if isinstance(cell, str) else {}


def study_runs(
    results_dirs: str | os.PathLike | Iterable[str | os.PathLike],
    grid_keys: Sequence[str] = ("dataset",),
) -> pd.DataFrame:
    """Per-epoch metrics of every run below ``results_dirs`` (:func:`~harmonic.results.load_runs`)
    with the columns ``dataset``, ``model``, ``variant`` and ``family`` added.

    ``grid_keys``: the grid keys of the plan that produced the runs, whose suffixes
    :func:`variant_of` strips from the run names. Returns an empty frame when there is no run.
    """
    runs = load_runs(results_dirs)
    if runs.empty:
        return runs
    runs = runs.copy()
    runs["dataset"] = runs["param_dataset"]
    runs["model"] = runs["param_model"]
    names = runs[["run", "param_model", "seed", *(f"param_{k}" for k in grid_keys)]].drop_duplicates()
    variants = {
        row["run"]: variant_of(row["run"], row["param_model"], int(row["seed"]),
                               {k: row[f"param_{k}"] for k in grid_keys})
        for _, row in names.iterrows()
    }
    runs["variant"] = runs["run"].map(variants)
    runs["family"] = runs["variant"].map(family_of)
    return runs


def study_table(
    results_dirs: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    epoch: int | None = None,
    grid_keys: Sequence[str] = ("dataset",),
) -> pd.DataFrame:
    """One row per recorded run: the tidy table of the study (columns :data:`TABLE_COLUMNS`).

    ``test_acc`` (%) is the run's last epoch, or epoch ``epoch`` (runs that did not reach it
    are left out); ``best_test_acc`` is the best epoch up to that one (selected on the test set:
    shown for reference, not a result); ``seconds_per_epoch`` is the mean training time of an
    epoch (evaluation excluded). ``freq_scale_factor`` is the one the run used: None for plain
    Adam and for ReLU runs (run_mlp never wraps their optimizer). ``max_freqs`` and the
    HarmonicMLP options (:data:`HARMONIC_OPTIONS`: the run's ``model_options`` over the class
    defaults) are None for ReLU runs, which do not use them. ``hidden_sizes`` and ``max_freqs``
    read like ``"512x256"`` and ``"5.0x3.0"``.
    """
    runs = study_runs(results_dirs, grid_keys)
    if runs.empty:
        return pd.DataFrame(columns=list(TABLE_COLUMNS))
    if epoch is not None:
        runs = runs[runs["epoch"] <= epoch]
    keys = ["results_dir", "run"]
    per_run = runs.groupby(keys).agg(best_test_acc=("test_acc", "max"), seconds_per_epoch=("seconds", "mean"))
    final = last_epoch(runs, epoch).merge(per_run.reset_index(), on=keys)

    defaults = _harmonic_defaults()
    cells = final["param_model_options"] if "param_model_options" in final else [None] * len(final)
    options = [
        {**defaults, **_model_options(c)} if m != "relu" else dict.fromkeys(HARMONIC_OPTIONS)
        for c, m in zip(cells, final["model"])
    ]
    final = final.assign(**{name: [o.get(name) for o in options] for name in HARMONIC_OPTIONS})
    is_harmonic = final["model"] != "relu"
    fao = final["param_freq_scale_factor"].astype(object).where(final["param_freq_scale_factor"].notna(), None)
    table = pd.DataFrame({
        "dataset": final["dataset"],
        "variant": final["variant"],
        "family": final["family"],
        "model": final["model"],
        "seed": final["seed"].astype(int),
        "epochs": final["epoch"].astype(int),
        "test_acc": final["test_acc"].astype(float),
        "best_test_acc": final["best_test_acc"].astype(float),
        "seconds_per_epoch": final["seconds_per_epoch"].astype(float).round(3),
        "n_parameters": final["param_n_parameters"].astype(int),
        "hidden_sizes": final["param_hidden_sizes"].astype(str).str.replace("-", "x"),
        "max_freqs": final["param_max_freqs"].astype(str).str.replace("-", "x").where(is_harmonic, None),
        "batch_size": final["param_batch_size"].astype(int),
        "optimizer": final["param_optimizer"],
        "lr": final["param_lr"].astype(float),
        "weight_decay": final["param_weight_decay"].astype(float),
        "scheduler": final["param_scheduler"],
        "freq_scale_factor": fao.where(is_harmonic, None),
        **{name: final[name] for name in HARMONIC_OPTIONS},
        "subset": final["param_subset"].astype("Int64"),
        "device": final["device"],
        "commit": final["commit"],
        "run": final["run"],
    })
    return table.sort_values(["dataset", "variant", "seed"]).reset_index(drop=True)[list(TABLE_COLUMNS)]


def write_study_table(
    results_dirs: str | os.PathLike | Iterable[str | os.PathLike],
    path: str | os.PathLike,
    **kwargs: Any,
) -> pd.DataFrame:
    """Write :func:`study_table` of ``results_dirs`` to the CSV file ``path`` atomically; return it.

    ``kwargs`` go to :func:`study_table`. Raises ValueError (and leaves ``path`` alone) when
    there is no run: an empty table never replaces a recorded one.
    """
    table = study_table(results_dirs, **kwargs)
    if table.empty:
        raise ValueError(f"results_dirs has no recorded run: {results_dirs!r}; {path} left unchanged")
    atomic_write_text(path, table.to_csv(index=False))
    return table


# --------------------------------------------------------------------------- summary
def _none_for_full_subset(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``subset`` as objects, None for runs on the full training set (a groupable key)."""
    return table.assign(subset=table["subset"].astype(object).where(table["subset"].notna(), None))


def summary(
    table: pd.DataFrame,
    epoch_budget: int | None = None,
    *,
    targets: Mapping[str, float] | None = None,
    baseline_keys: Sequence[str] = ("dataset", "hidden_sizes", "epochs", "subset"),
) -> pd.DataFrame:
    """One row per (dataset, variant) of a :func:`study_table`: mean ± std over seeds and the verdicts.

    Columns (:data:`SUMMARY_COLUMNS`): ``test_acc`` (``"mean ± std"`` text, from
    :func:`harmonic.analysis.report.mean_std`), ``mean``/``std`` (numbers), ``seeds``, ``epochs``,
    ``seconds_per_epoch`` (mean), ``target`` and ``meets_target`` (``mean >= target`` for
    datasets in ``targets``, default :data:`TARGETS`; None elsewhere), and for harmonic variants
    ``relu_baseline``/``relu_mean``/``vs_relu``/``beats_relu``: the best ReLU variant (highest
    mean) sharing ``baseline_keys`` (same dataset, width, epochs and training subset: the tuned
    baseline under the same budget), the difference of means and ``mean >= relu_mean``.

    ``epoch_budget``: only runs of at most that many epochs count. Runs of one variant that
    differ in epochs or subset are kept apart (one row each), never averaged together.
    Rows are sorted by dataset, then mean accuracy (best first).
    """
    targets = TARGETS if targets is None else targets
    if epoch_budget is not None:
        table = table[table["epochs"] <= epoch_budget]
    if table.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    by = ["dataset", "variant", "epochs", "subset"]
    table = _none_for_full_subset(table).assign(family=lambda t: t["variant"].map(family_of))
    # mean_std reads per-epoch runs: here every row is one run at its last epoch.
    stats = mean_std(table.rename(columns={"epochs": "epoch"}).assign(run=range(len(table))),
                     by=["dataset", "variant", "epoch", "subset"]).drop(columns="epoch")
    extra = table.groupby(by, dropna=False).agg(
        family=("family", "first"), model=("model", "first"), hidden_sizes=("hidden_sizes", "first"),
        n_parameters=("n_parameters", "first"), std=("test_acc", "std"),
        seconds_per_epoch=("seconds_per_epoch", "mean"),
    ).reset_index()
    rows = stats.merge(extra, on=by, how="left")
    rows["seconds_per_epoch"] = rows["seconds_per_epoch"].round(3)
    rows["target"] = rows["dataset"].map(lambda d: targets.get(d))
    rows["meets_target"] = [None if pd.isna(t) else bool(m >= t) for m, t in zip(rows["mean"], rows["target"])]

    relu = rows[rows["model"] == "relu"]
    baseline = relu.loc[relu.groupby(list(baseline_keys), dropna=False)["mean"].idxmax(),
                        [*baseline_keys, "variant", "mean"]] if not relu.empty else None
    if baseline is None:
        rows["relu_baseline"], rows["relu_mean"] = None, float("nan")
    else:
        rows = rows.merge(baseline.rename(columns={"variant": "relu_baseline", "mean": "relu_mean"}),
                          on=list(baseline_keys), how="left")
    is_relu = rows["model"] == "relu"
    rows.loc[is_relu, "relu_baseline"] = None
    rows.loc[is_relu, "relu_mean"] = float("nan")
    rows["vs_relu"] = (rows["mean"] - rows["relu_mean"]).round(3)
    rows["beats_relu"] = [None if pd.isna(r) else bool(m >= r) for m, r in zip(rows["mean"], rows["relu_mean"])]
    rows = rows.sort_values(["dataset", "mean"], ascending=[True, False]).reset_index(drop=True)
    return rows[list(SUMMARY_COLUMNS)]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _pm(row: pd.Series) -> str:
    return f"{row['test_acc']} % ({_plural(row['seeds'], 'seed')}, {_plural(row['epochs'], 'epoch')})"


def _target_verdict(best: pd.Series, rows: pd.DataFrame) -> str:
    """Whether ``best`` meets the target, which asks for both the accuracy and parity with the best
    ReLU variant of the same width and budget (mean at or above its mean), on more than one seed."""
    target = f"{best['target']:g} %"
    if best["seeds"] < 2:
        return (f"its mean {'is at or above' if best['meets_target'] else 'is below'} {target}, but from one seed: "
                "no verdict on the target")
    if not best["meets_target"]:
        return f"it misses the {target} target"
    relu = rows.set_index("variant")
    if not isinstance(best["relu_baseline"], str) or best["relu_baseline"] not in relu.index:
        return f"it reaches {target}, but no ReLU baseline of its width and budget is recorded: parity unknown"
    baseline = relu.loc[best["relu_baseline"]]
    if best["beats_relu"]:
        return (f"it meets the {target} target: accuracy and parity with the best ReLU variant "
                f"`{best['relu_baseline']}` ({baseline['test_acc']} %)")
    return (f"it reaches {target} but misses the target, which also asks for at least the best ReLU variant's "
            f"accuracy: `{best['relu_baseline']}` has {baseline['test_acc']} %")


def _spread_verdict(diff: float, spread: float) -> str:
    if pd.isna(spread):
        return "one seed only: no seed-to-seed spread to compare with"
    if abs(diff) <= spread:
        return f"within the seed-to-seed std ({spread:.2f})"
    return f"larger than the seed-to-seed std ({spread:.2f})"


def findings(
    summary_table: pd.DataFrame,
    comparisons: Sequence[tuple[str, str]] = (("fao-off", "seed-faithful"),),
    reference: str = "seed-faithful",
) -> str:
    """Markdown sentences, computed from a :func:`summary`, saying per dataset which variant is best.

    For each dataset: the best harmonic variant and the best ReLU variant (highest mean test
    accuracy), whether the best harmonic one meets the target and beats that baseline; for each
    family of :data:`FAMILIES` with harmonic runs, its best variant against ``reference`` (the
    seed's model); and for each pair ``(a, b)`` in ``comparisons`` (default: the
    frequency-aware optimizer off vs on) the difference of means. Differences are set next to
    the larger seed-to-seed std of the two.
    """
    if summary_table.empty:
        return "No recorded runs: nothing to summarise."
    lines: list[str] = []
    for dataset, rows in summary_table.groupby("dataset", sort=True):
        rows = rows.sort_values("mean", ascending=False)
        harmonic = rows[rows["model"] != "relu"]
        relu = rows[rows["model"] == "relu"]
        lines.append(f"**{dataset}**")
        if not harmonic.empty:
            best = harmonic.iloc[0]
            sentence = f"- Best harmonic variant: `{best['variant']}`, {_pm(best)}"
            if best["meets_target"] is not None:
                sentence += "; " + _target_verdict(best, rows)
            lines.append(sentence + ".")
        if not relu.empty:
            top = relu.iloc[0]
            lines.append(f"- Best ReLU variant: `{top['variant']}`, {_pm(top)}.")
        if not harmonic.empty and not relu.empty:
            beating = harmonic[harmonic["beats_relu"] == True]  # noqa: E712 (None = no baseline)
            baseline_seeds = rows.set_index("variant")["seeds"]
            single = [v for v, n, b in zip(harmonic["variant"], harmonic["seeds"], harmonic["relu_baseline"])
                      if n < 2 or (isinstance(b, str) and baseline_seeds.get(b, 0) < 2)]
            if single:
                lines.append(f"- {_plural(len(single), 'harmonic variant')} ran with one seed (or against a "
                             "one-seed baseline): no seed-to-seed spread, so no comparison with ReLU is drawn "
                             "for them.")
                beating = beating[~beating["variant"].isin(single)]
                if beating.empty and len(single) == len(harmonic):
                    beating = None
            if beating is None:
                pass
            elif beating.empty:
                lines.append("- No harmonic variant reaches the best ReLU baseline of its width and budget.")
            else:
                names = ", ".join(f"`{v}` ({d:+.2f})" for v, d in zip(beating["variant"], beating["vs_relu"]))
                lines.append(f"- Harmonic variants at or above the best ReLU baseline of their width and "
                             f"budget (difference of means, points): {names}.")
        by_variant = rows.drop_duplicates("variant").set_index("variant")
        if reference in by_variant.index:
            ref = by_variant.loc[reference]
            for family, _ in FAMILIES:
                members = harmonic[harmonic["family"] == family]
                if members.empty:
                    continue
                top = members.iloc[0]
                diff = top["mean"] - ref["mean"]
                spread = max(top["std"], ref["std"]) if min(top["seeds"], ref["seeds"]) > 1 else float("nan")
                lines.append(f"- {family.capitalize()}: best harmonic variant `{top['variant']}`, "
                             f"{diff:+.2f} points against `{reference}` ({_spread_verdict(diff, spread)}).")
        for a, b in comparisons:
            if a not in by_variant.index or b not in by_variant.index:
                continue
            ra, rb = by_variant.loc[a], by_variant.loc[b]
            diff = ra["mean"] - rb["mean"]
            spread = max(ra["std"], rb["std"]) if min(ra["seeds"], rb["seeds"]) > 1 else float("nan")
            lines.append(f"- `{a}` minus `{b}`: {diff:+.2f} points, {_spread_verdict(diff, spread)}.")
        lines.append("")
    return "\n".join(lines).strip() + "\n"


def same_settings(table: pd.DataFrame, epoch_budget: int | None = None) -> pd.DataFrame:
    """Each harmonic variant against the ReLU variant trained with exactly its settings.

    ``table`` is a :func:`study_table`. A harmonic and a ReLU variant are paired when they
    share every column of :data:`SETTINGS_KEYS` (dataset, width, batch, optimizer, learning rate,
    weight decay, schedule, epochs, subset): what remains different is the model. Columns
    (:data:`SAME_SETTINGS_COLUMNS`): both accuracies as mean ± std text (from :func:`summary`),
    ``difference`` (harmonic minus ReLU, points), ``spread`` (the larger std of the two) and
    ``verdict`` (``"above"``, ``"below"`` or ``"within std"``). Harmonic variants without such a
    ReLU variant are left out.
    """
    rows = summary(table, epoch_budget)
    if rows.empty:
        return pd.DataFrame(columns=list(SAME_SETTINGS_COLUMNS))
    by = ["dataset", "variant", "epochs", "subset"]
    settings = _none_for_full_subset(table)[[*by, *(k for k in SETTINGS_KEYS if k not in rows)]]
    rows = _none_for_full_subset(rows).merge(settings.drop_duplicates(by), on=by, how="left")
    keys = list(SETTINGS_KEYS)
    harmonic, relu = rows[rows["model"] != "relu"], rows[rows["model"] == "relu"]
    pairs = harmonic.merge(relu[[*keys, "variant", "test_acc", "mean", "std"]], on=keys, suffixes=("", "_relu"))
    if pairs.empty:
        return pd.DataFrame(columns=list(SAME_SETTINGS_COLUMNS))
    pairs["difference"] = (pairs["mean"] - pairs["mean_relu"]).round(2)
    pairs["spread"] = pairs[["std", "std_relu"]].max(axis=1).round(2)
    pairs["verdict"] = [
        "within std" if abs(d) <= sp else ("above" if d > 0 else "below")
        for d, sp in zip(pairs["difference"], pairs["spread"].fillna(0.0))
    ]
    pairs = pairs.rename(columns={"variant_relu": "relu_variant", "test_acc": "harmonic_acc",
                                  "test_acc_relu": "relu_acc"})
    pairs = pairs.sort_values(["dataset", "difference"], ascending=[True, False]).reset_index(drop=True)
    return pairs[list(SAME_SETTINGS_COLUMNS)]


def same_settings_note(pairs: pd.DataFrame) -> str:
    """One computed sentence per dataset summarising :func:`same_settings`."""
    if pairs.empty:
        return "No harmonic variant has a ReLU variant with identical training settings recorded."
    lines = []
    for dataset, rows in pairs.groupby("dataset", sort=True):
        counts = rows["verdict"].value_counts()
        best = rows.iloc[0]
        lines.append(
            f"- {dataset}: of {_plural(len(rows), 'harmonic variant')} with a ReLU twin, "
            f"{counts.get('above', 0)} above it, {counts.get('within std', 0)} within the seed-to-seed std "
            f"and {counts.get('below', 0)} below it; best against its twin: `{best['variant']}` vs "
            f"`{best['relu_variant']}` ({best['difference']:+.2f} points)."
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- coverage
def planned_study(profile: str = "study", group: str = "mlp-study") -> pd.DataFrame:
    """What a profile's plan asks of the study: one row per (dataset, variant) with the planned
    ``seeds`` (count) and ``epochs``, read from ``notebooks/params/<profile>/plan.yaml``."""
    from harmonic.pipeline import load_plan

    rows = []
    for job in load_plan(profile):
        p = job.parameters
        if Path(p["results_dir"]).name != group:
            continue
        model = p["models"][0]
        variant = variant_of(f"{p['run_name']}-{model}-s0", model, 0, {"dataset": p.get("dataset", "mnist")})
        rows.append({"dataset": p.get("dataset", "mnist"), "variant": variant, "family": family_of(variant),
                     "seeds": len(p["seeds"]), "epochs": int(p["epochs"])})
    return pd.DataFrame(rows, columns=["dataset", "variant", "family", "seeds", "epochs"])


def coverage(table: pd.DataFrame, planned: pd.DataFrame) -> pd.DataFrame:
    """Planned (dataset, variant) pairs next to what ``table`` (:func:`study_table`) records.

    Columns: ``dataset``, ``variant``, ``family``, ``planned_seeds``, ``planned_epochs``,
    ``recorded_seeds`` (runs that reached the planned epochs) and ``status``: ``"complete"``,
    ``"partial"`` (fewer seeds) or ``"not run"``. Sorted by status, dataset, variant.
    """
    out = planned.rename(columns={"seeds": "planned_seeds", "epochs": "planned_epochs"})
    runs = table[["dataset", "variant", "epochs"]].merge(out[["dataset", "variant", "planned_epochs"]],
                                                         on=["dataset", "variant"])
    reached = runs[runs["epochs"] >= runs["planned_epochs"]].groupby(["dataset", "variant"]).size()
    out = out.merge(reached.rename("recorded_seeds").reset_index(), on=["dataset", "variant"], how="left")
    out["recorded_seeds"] = out["recorded_seeds"].fillna(0).astype(int)
    out["status"] = ["complete" if r >= p else "partial" if r > 0 else "not run"
                     for r, p in zip(out["recorded_seeds"], out["planned_seeds"])]
    order = {"complete": 0, "partial": 1, "not run": 2}
    out = out.sort_values(["status", "dataset", "variant"], key=lambda c: c.map(order) if c.name == "status" else c)
    return out.reset_index(drop=True)


def coverage_note(cover: pd.DataFrame) -> str:
    """One Markdown sentence on a :func:`coverage` table: how much of the plan is recorded."""
    if cover.empty:
        return "The plan holds no study run."
    counts = cover["status"].value_counts()
    complete = int(counts.get("complete", 0))
    seeds, epochs = cover["planned_seeds"].max(), cover["planned_epochs"].max()
    text = (f"Recorded: {complete} of {len(cover)} planned (dataset, variant) pairs complete "
            f"({seeds} seeds × {epochs} epochs each)")
    rest = [f"{int(counts[s])} {s}" for s in ("partial", "not run") if counts.get(s, 0)]
    if not rest:
        return text + ": the whole plan."
    missing = cover[cover["status"] != "complete"]
    by_dataset = "; ".join(f"{d}: " + ", ".join(f"`{v}`" for v in g["variant"])
                           for d, g in missing.groupby("dataset", sort=True))
    return f"{text}, {' and '.join(rest)} — {by_dataset}. Conclusions below hold for the recorded pairs only."


# --------------------------------------------------------------------------- figures
def family_curves(
    runs: pd.DataFrame,
    metric: str = "test_acc",
    references: Sequence[str] = REFERENCE_VARIANTS,
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Test accuracy (``metric``) against epoch: one row of panels per family, one column per dataset.

    ``runs`` is :func:`study_runs`. Each panel shows the family's variants and the
    ``references`` (dashed); lines are means over seeds, bands ± one std (as the tables).
    """
    sns.set_theme(style="whitegrid", context="notebook")
    families = [f for f, _ in FAMILIES if (runs["family"] == f).any()] or ["reference"]
    datasets = sorted(runs["dataset"].unique())
    fig, axes = plt.subplots(len(families), len(datasets), figsize=(6.5 * len(datasets), 3.4 * len(families)),
                             squeeze=False)
    for row, family in enumerate(families):
        for col, dataset in enumerate(datasets):
            ax = axes[row][col]
            data = runs[(runs["dataset"] == dataset)
                        & ((runs["family"] == family) | runs["variant"].isin(references))]
            if data.empty:
                ax.set_visible(False)
                continue
            data = data.assign(variant=data["variant"].map(variant_label))
            order = sorted(data["variant"].unique(), key=lambda v: (v not in references, v))
            dashes = {v: (4, 2) if v in references else "" for v in order}
            sns.lineplot(data=data, x="epoch", y=metric, hue="variant", hue_order=order, style="variant",
                         style_order=order, dashes=dashes, errorbar="sd", ax=ax)
            ax.set_title(f"{dataset}: {family}", fontsize="medium")
            ax.set_ylabel("test accuracy (%)" if metric == "test_acc" else metric)
            integer_epochs(ax, data["epoch"])
            final = data[data["epoch"] == data["epoch"].max()].groupby("variant")[metric].mean()
            low, off = _readable_floor(final)
            if off:
                ax.set_ylim(bottom=low)
                ax.text(0.01, 0.02, "off scale: " + ", ".join(f"{v} ({m:.1f} %)" for v, m in off.items()),
                        transform=ax.transAxes, fontsize="x-small", va="bottom")
            ax.legend(fontsize="x-small", loc="lower right")
    fig.tight_layout()
    return save(fig, path)


def _readable_floor(means: pd.Series, window: float = 12.0) -> tuple[float | None, dict[str, float]]:
    """The lower axis limit that keeps variants within ``window`` points of the best readable, and
    the variants (name → mean) that fall below it and are marked as off scale instead."""
    if means.empty:
        return None, {}
    best = means.max()
    kept = means[means >= best - window]
    low = kept.min() - max(0.5, 0.1 * (best - kept.min()))
    off = {v: float(m) for v, m in means.items() if m < low}
    return (low if off else None), off


def _seeds_with_mean_std(ax: plt.Axes, data: pd.DataFrame, category: str, vertical: bool,
                         hue: str | None = None, hue_order: Sequence[str] | None = None) -> list[str]:
    """Seeds as points and mean ± std in black, one category per tick, best mean first; returns the order."""
    stats = data.groupby(category)["test_acc"].agg(["mean", "std"]).sort_values("mean", ascending=False)
    order = stats.index.tolist()
    axes = {"x": category, "y": "test_acc"} if vertical else {"x": "test_acc", "y": category}
    sns.stripplot(data=data, **axes, order=order, hue=hue, hue_order=hue_order, alpha=0.6, jitter=0.15,
                  color=None if hue else "C0", ax=ax)
    positions = range(len(order))
    error = stats["std"].fillna(0.0)
    if vertical:
        ax.errorbar(positions, stats["mean"], yerr=error, fmt="o", color="black", capsize=4, label="mean ± std")
    else:
        ax.errorbar(stats["mean"], positions, xerr=error, fmt="o", color="black", capsize=4, label="mean ± std")
    # errorbar rescales the categorical axis: one slot per category again (first on top when horizontal)
    if vertical:
        ax.set_xlim(-0.5, len(order) - 0.5)
    else:
        ax.set_ylim(len(order) - 0.5, -0.5)
    return order


def frequency_accuracy(
    table: pd.DataFrame,
    reference: str = "seed-faithful",
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Final test accuracy per frequency distribution (one panel per dataset; points are seeds,
    black mean ± std), best first. ``reference`` (the seed: capped frequencies) is shown as ``capped``."""
    sns.set_theme(style="whitegrid", context="notebook")
    data = table[(table["family"] == "frequency distribution") | (table["variant"] == reference)]
    datasets = sorted(data["dataset"].unique()) or ["(no runs)"]
    fig, axes = plt.subplots(len(datasets), 1, figsize=(7.0, 3.4 * len(datasets)), squeeze=False)
    for ax, dataset in zip(axes[:, 0], datasets):
        subset = data[data["dataset"] == dataset]
        if subset.empty:
            ax.set_visible(False)
            continue
        names = {"capped": "capped (seed)", "harmonic": "uncapped"}
        subset = subset.assign(freq_scheme=subset["freq_scheme"].map(lambda v: names.get(v, v)))
        _seeds_with_mean_std(ax, subset, "freq_scheme", vertical=True)
        ax.set_title(dataset)
        ax.set_xlabel("distribution of the values f_i")
        ax.set_ylabel("final test accuracy (%)")
    fig.tight_layout()
    return save(fig, path)


def variant_accuracy(
    table: pd.DataFrame,
    targets: Mapping[str, float] | None = None,
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Final test accuracy of every variant (points: seeds, coloured by model; black: mean ± std),
    best first, one panel per dataset; a dotted line marks the dataset's target (:data:`TARGETS`)
    and a dashed one the best ReLU variant's mean."""
    targets = TARGETS if targets is None else targets
    sns.set_theme(style="whitegrid", context="notebook")
    datasets = sorted(table["dataset"].unique()) or ["(no runs)"]
    models = sorted(table["model"].unique())
    n_variants = max(1, table["variant"].nunique())
    fig, axes = plt.subplots(len(datasets), 1, figsize=(7.5, (1.8 + 0.3 * n_variants) * len(datasets)),
                             squeeze=False)  # stacked: each panel is read at the text's width
    for ax, dataset in zip(axes[:, 0], datasets):
        subset = table[table["dataset"] == dataset]
        if subset.empty:
            ax.set_visible(False)
            continue
        subset = subset.assign(variant=subset["variant"].map(variant_label))
        order = _seeds_with_mean_std(ax, subset, "variant", vertical=False, hue="model", hue_order=models)
        means = subset.groupby("variant")["test_acc"].mean()
        low, off = _readable_floor(means)
        if off:  # a far worse variant would squeeze every other one into a corner of the axis
            ax.set_xlim(left=low)
            for variant, mean in off.items():
                ax.annotate(f"◀ off scale: {mean:.1f} %", (low, order.index(variant)), xytext=(4, 0),
                            textcoords="offset points", va="center", fontsize="x-small")
        relu = subset[subset["model"] == "relu"].groupby("variant")["test_acc"].mean()
        if not relu.empty:
            ax.axvline(relu.max(), linestyle="--", color="grey", linewidth=1, label=f"best ReLU ({relu.idxmax()})")
        if dataset in targets:
            ax.axvline(targets[dataset], linestyle=":", color="red", linewidth=1,
                       label=f"target {targets[dataset]:g} %")
        ax.set_xlim(right=min(100.0, float(subset["test_acc"].max()) + 0.5))
        ax.set_title(dataset)
        ax.set_xlabel("final test accuracy (%)")
        ax.set_ylabel("")
        ax.legend(fontsize="x-small", loc="lower right")
    fig.tight_layout()
    return save(fig, path)


# --------------------------------------------------------------------------- the model's periods
def shared_periods(hidden_sizes: Sequence[int], max_freqs: Sequence[float], base_freq: float = 1.0,
                   scheme: str = "capped") -> pd.DataFrame:
    """How many neurons of each hidden layer share one f under ``scheme`` (the seed: ``"capped"``).

    f_i is the period of the activation sin(2π z / f_i) (:func:`harmonic.mlp.frequencies.neuron_frequencies`):
    larger f oscillates more slowly. Columns: ``layer`` (1-based), ``neurons``, ``distinct f``,
    ``smallest f``, ``largest f``, ``neurons at the largest f`` (with the cap: the neurons whose f is
    the cap ``f_max``).
    """
    from harmonic.mlp.frequencies import neuron_frequencies

    rows = []
    for layer, (width, cap) in enumerate(zip(hidden_sizes, max_freqs), 1):
        f = neuron_frequencies(int(width), float(base_freq), float(cap), scheme)
        rows.append({"layer": layer, "neurons": int(width), "distinct f": int(f.unique().numel()),
                     "smallest f": float(f.min()), "largest f": float(f.max()),
                     "neurons at the largest f": int((f == f.max()).sum())})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- for reading
#: Names shown for variants whose file name would say more than the variant is.
VARIANT_LABELS: dict[str, str] = {
    # sin(30 z) with SIREN's omega_0 but the seed's initialisation, BatchNorm and residual: not SIREN
    "act-siren": "act-sin30z (not SIREN)",
}


def variant_label(variant: str) -> str:
    """The name a reader sees for ``variant`` (:data:`VARIANT_LABELS`, else the variant itself)."""
    return VARIANT_LABELS.get(variant, variant)


def _relabel(text: str) -> str:
    for variant, label in VARIANT_LABELS.items():
        text = text.replace(f"`{variant}`", f"`{label}`")
    return text


def summary_view(summary_table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`summary` for reading: readable headers with units, the training set in words, the
    difference with the best ReLU variant of the same width and budget (``ReLU baseline``), and a
    verdict that says "one seed: no verdict" where there is no seed-to-seed spread. No NaN: missing
    cells are None."""
    if summary_table.empty:
        return pd.DataFrame(columns=["dataset", "variant", "model", "parameters", "test accuracy (%)", "seeds",
                                     "epochs", "training images", "ReLU baseline", "vs ReLU (points)", "verdict"])
    rows = summary_table.copy()
    by_variant = rows.set_index(["dataset", "variant"])

    def verdict(row: pd.Series) -> str | None:
        if row["model"] == "relu" or not isinstance(row["relu_baseline"], str):
            return None
        baseline = by_variant.loc[(row["dataset"], row["relu_baseline"])]
        if isinstance(baseline, pd.DataFrame):
            baseline = baseline.iloc[0]
        if min(row["seeds"], baseline["seeds"]) < 2:
            return "one seed: no verdict"
        spread = max(row["std"], baseline["std"])
        if abs(row["vs_relu"]) <= spread:
            return "within the seeds' std"
        return "above" if row["vs_relu"] > 0 else "below"

    view = pd.DataFrame({
        "dataset": rows["dataset"],
        "variant": rows["variant"].map(variant_label),
        "model": rows["model"],
        "parameters": rows["n_parameters"].astype(int),
        "test accuracy (%)": rows["test_acc"],
        "seeds": rows["seeds"].astype(int),
        "epochs": rows["epochs"].astype(int),
        "training images": [f"{int(s):,}" if s is not None and pd.notna(s) else "all" for s in rows["subset"]],
        "ReLU baseline": [variant_label(b) if isinstance(b, str) else None for b in rows["relu_baseline"]],
        "vs ReLU (points)": rows["vs_relu"].astype(object).where(rows["vs_relu"].notna(), None),
        "verdict": [verdict(row) for _, row in rows.iterrows()],
    })
    return view.reset_index(drop=True)


def twins_view(pairs: pd.DataFrame) -> pd.DataFrame:
    """A :func:`same_settings` table for reading (readable headers, None where a spread is missing)."""
    view = pairs.rename(columns={
        "relu_variant": "ReLU twin", "hidden_sizes": "hidden", "batch_size": "batch", "harmonic_acc":
        "harmonic (%)", "relu_acc": "ReLU (%)", "difference": "difference (points)", "spread": "larger std",
    }).drop(columns=["lr", "scheduler"], errors="ignore")
    view["variant"] = view["variant"].map(variant_label)
    view["larger std"] = view["larger std"].astype(object).where(view["larger std"].notna(), None)
    one_seed = view["larger std"].isna()
    view.loc[one_seed, "verdict"] = "one seed: no verdict"
    return view.reset_index(drop=True)


def findings_text(summary_table: pd.DataFrame, **kwargs: Any) -> str:
    """:func:`findings` with the variants under the names a reader sees (:data:`VARIANT_LABELS`)."""
    return _relabel(findings(summary_table, **kwargs))


def same_settings_text(pairs: pd.DataFrame) -> str:
    """:func:`same_settings_note` with one-seed pairs said to be no evidence and readable variant names."""
    if pairs.empty:
        return same_settings_note(pairs)
    if pairs["spread"].isna().all():
        return ("Every pair here ran with one seed: the differences below are single runs, with no "
                "seed-to-seed spread to judge them by, and no verdict is drawn.\n")
    return _relabel(same_settings_note(pairs))


def split_constant(view: pd.DataFrame, columns: Sequence[str] = ("dataset", "seeds", "epochs", "training images")
                   ) -> tuple[pd.DataFrame, str]:
    """``view`` without those of ``columns`` that hold one value throughout, and those values in words
    (e.g. ``"seeds: 5, epochs: 20, training images: all"``) for the table's caption."""
    constant = [c for c in columns if c in view and view[c].nunique(dropna=False) == 1 and len(view)]
    words = []
    for column in constant:
        value = view[column].iloc[0]
        words.append(f"{column}: {value}")
    return view.drop(columns=constant), ", ".join(words)
