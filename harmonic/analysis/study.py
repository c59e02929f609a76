"""The Harmonic-MLP study (issue #5): one tidy table of recorded runs and its summary.

Each variant of the study is a parameter file of ``notebooks/mnist_harmonic_mlp.ipynb``
(``notebooks/params/study/variants/<variant>.yaml``) run by :mod:`harmonic.pipeline` over a
grid of datasets; each run records its variant (its ``plan``, :mod:`harmonic.plan`), and runs
recorded before that are found in the plan (:func:`study_runs`). :func:`study_table` turns the recorded runs
(:func:`harmonic.results.load_runs`) into one row per run; :func:`summary` aggregates the
seeds of each (dataset, variant) and compares it with the 98.5 % MNIST target and with the
best ReLU baseline of the same dataset and width. Nothing here types in a number of its own.

The rest of the study lives beside it and is reachable from here too (``study.<name>``, as the
chapters call it): :mod:`~harmonic.analysis.study_findings` (sentences computed from the summary),
:mod:`~harmonic.analysis.study_coverage` (how much of the plan is recorded),
:mod:`~harmonic.analysis.study_views` (the tables for reading), :mod:`harmonic.figures.mlp` (the
plots) and :func:`harmonic.mlp.frequencies.shared_periods` (the model's periods).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from harmonic.analysis.report import last_epoch, mean_std
from harmonic.mlp.frequencies import shared_periods
from harmonic.results import atomic_write_text, load_runs

#: Names of the study defined beside this module, by module. They import this one (the naming and
#: the constants), so they are imported when first asked for (:func:`__getattr__`), not here.
_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "harmonic.analysis.study_findings": ("findings", "same_settings_note"),
    "harmonic.analysis.study_coverage": ("coverage", "coverage_note", "planned_study"),
    "harmonic.analysis.study_views": ("VARIANT_LABELS", "findings_text", "same_settings_text", "split_constant",
                                      "summary_view", "twins_view", "variant_label"),
    "harmonic.figures.mlp": ("family_curves", "frequency_accuracy", "variant_accuracy"),
}

__all__ = [
    "FAMILIES",
    "HARMONIC_OPTIONS",
    "REFERENCE_VARIANTS",
    "SAME_SETTINGS_COLUMNS",
    "SETTINGS_KEYS",
    "SUMMARY_COLUMNS",
    "TABLE_COLUMNS",
    "TARGETS",
    "VARIANT_LABELS",
    "coverage",
    "coverage_note",
    "family_curves",
    "family_of",
    "findings",
    "findings_text",
    "frequency_accuracy",
    "planned_study",
    "same_settings",
    "same_settings_note",
    "same_settings_text",
    "shared_periods",
    "split_constant",
    "study_runs",
    "study_table",
    "summary",
    "summary_view",
    "twins_view",
    "variant_accuracy",
    "variant_label",
    "write_study_table",
]


def __getattr__(name: str) -> Any:
    """``study.<name>`` for the names of ``_ELSEWHERE``: the object of the module that defines it."""
    for module, names in _ELSEWHERE.items():
        if name in names:
            return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _planned_variants(profile: str, group: str) -> dict[Path, str]:
    """Run folder → variant of every run ``profile``'s plan puts in ``group`` (:func:`harmonic.plan.planned_runs`)."""
    from harmonic.plan import planned_runs

    return {Path(run["folder"]).resolve(): run["variant"] for run in planned_runs(profile, group)}


def study_runs(
    results_dirs: str | os.PathLike | Iterable[str | os.PathLike],
    profile: str | None = None,
    group: str = "mlp-study",
) -> pd.DataFrame:
    """Per-epoch metrics of every run below ``results_dirs`` (:func:`~harmonic.results.load_runs`)
    with the columns ``dataset``, ``model``, ``variant`` and ``family`` added.

    A run's variant is what its plan recorded (``plan_variant``); runs recorded before runs carried
    it are found in the plan of ``profile`` (their folders in ``group``, :func:`harmonic.plan.planned_runs`).
    Raises ValueError naming the runs whose variant neither says. Empty frame when there is no run.
    """
    runs = load_runs(results_dirs)
    if runs.empty:
        return runs
    runs = runs.copy()
    runs["dataset"] = runs["param_dataset"]
    runs["model"] = runs["param_model"]
    variant = runs["plan_variant"]
    unknown = variant.isna()
    if unknown.any() and profile is not None:
        planned = _planned_variants(profile, group)
        folders = [(Path(d) / r).resolve() for d, r in zip(runs.loc[unknown, "results_dir"], runs.loc[unknown, "run"])]
        variant = variant.copy()
        variant[unknown] = [planned.get(folder) for folder in folders]
    missing = sorted(runs.loc[variant.isna(), "run"].unique())
    if missing:
        raise ValueError(f"runs {missing[:5]}{' …' if len(missing) > 5 else ''} say no variant and are not in the plan "
                         f"of profile {profile!r} (group {group!r}): pass the profile whose plan recorded them")
    runs["variant"] = variant
    runs["family"] = runs["variant"].map(family_of)
    return runs


def study_table(
    results_dirs: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    epoch: int | None = None,
    profile: str | None = None,
    group: str = "mlp-study",
) -> pd.DataFrame:
    """One row per recorded run: the tidy table of the study (columns :data:`TABLE_COLUMNS`).

    ``profile``/``group``: where the runs' variants are found when a run does not record its own
    (:func:`study_runs`).
    ``test_acc`` (%) is the run's last epoch, or epoch ``epoch`` (runs that did not reach it
    are left out); ``best_test_acc`` is the best epoch up to that one (selected on the test set:
    shown for reference, not a result); ``seconds_per_epoch`` is the mean training time of an
    epoch (evaluation excluded). ``freq_scale_factor`` is the one the run used: None for plain
    Adam and for ReLU runs (run_mlp never wraps their optimizer). ``max_freqs`` and the
    HarmonicMLP options (:data:`HARMONIC_OPTIONS`: the run's ``model_options`` over the class
    defaults) are None for ReLU runs, which do not use them. ``hidden_sizes`` and ``max_freqs``
    read like ``"512x256"`` and ``"5.0x3.0"``.
    """
    runs = study_runs(results_dirs, profile, group)
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

    Columns (:data:`SUMMARY_COLUMNS`): ``test_acc`` (``"mean ± std"`` text), ``mean``/``std``
    (numbers) and ``seeds``, all from :func:`harmonic.analysis.report.mean_std`, ``epochs``,
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
                     by=["dataset", "variant", "epoch", "subset"], with_std=True).drop(columns="epoch")
    extra = table.groupby(by, dropna=False).agg(
        family=("family", "first"), model=("model", "first"), hidden_sizes=("hidden_sizes", "first"),
        n_parameters=("n_parameters", "first"), seconds_per_epoch=("seconds_per_epoch", "mean"),
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
