"""Figures of the Harmonic-MLP chapters: accuracy per epoch, the learning-rate sweep and the study's
plots (:mod:`harmonic.analysis.study`: families, frequency distributions, every variant)."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from harmonic.analysis.report import format_lr, mean_std
from harmonic.analysis.study import FAMILIES, REFERENCE_VARIANTS, TARGETS
from harmonic.analysis.study_views import variant_label
from harmonic.figures.common import METRIC_LABELS, integer_epochs, plotted, save

__all__ = ["epoch_curve", "family_curves", "frequency_accuracy", "lr_sweep", "variant_accuracy"]




def epoch_curve(
    runs: pd.DataFrame,
    hue: str,
    metric: str = "test_acc",
    threshold: float | None = None,
    labels: dict[str, str] | None = None,
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """One metric against the epoch, one line per ``hue`` value: the mean over seeds, the band
    ± one standard deviation over seeds (labelled in the legend; no band for a single seed).

    Sized to be read at the width of the book's text column; epochs are integer ticks.
    ``threshold`` draws a dotted horizontal line (e.g. a claimed accuracy); ``labels`` renames
    the ``hue`` values in the legend.
    """
    sns.set_theme(style="whitegrid", context="notebook")
    data = runs.assign(**{hue: runs[hue].map(lambda v: (labels or {}).get(v, v))})
    seeds = data.groupby(hue)["seed"].nunique() if "seed" in data else pd.Series(dtype=int)
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    sns.lineplot(data=data, x="epoch", y=metric, hue=hue, marker="o", errorbar="sd", ax=ax)
    if threshold is not None:
        ax.axhline(threshold, linestyle=":", color="black", linewidth=1.2, label=f"{threshold:g} %")
    integer_epochs(ax, data["epoch"])
    ax.set_xlabel("epoch")
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    band = "band: ± 1 std over seeds" if (seeds > 1).any() else "one seed: no band"
    ax.legend(title=band, fontsize="small", title_fontsize="small")
    fig.tight_layout()
    return save(fig, path, plotted(data, hue, "epoch", metric))


def lr_sweep(
    final: pd.DataFrame,
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Final test accuracy against the learning rate (log axis, ticks at the swept values written
    as 1e-4, 3e-4, ...): one panel per configuration (stacked, so each is read at the text's width),
    harmonic and ReLU lines in each."""
    sns.set_theme(style="whitegrid", context="notebook")
    configurations = list(dict.fromkeys(final["configuration"]))
    fig, axes = plt.subplots(len(configurations), 1, figsize=(7.0, 2.3 * len(configurations) + 0.5),
                             sharex=True, squeeze=False)
    lrs = sorted(final["lr"].unique())
    for ax, configuration in zip(axes[:, 0], configurations):
        part = final[final["configuration"] == configuration]
        sns.lineplot(data=part, x="lr", y="test_acc", hue="model", hue_order=sorted(final["model"].unique()),
                     marker="o", errorbar=None, ax=ax, legend=ax is axes[0][0])
        ax.set_xscale("log")
        if len(lrs) == 1:  # one swept value: a range around it (a log axis needs one)
            ax.set_xlim(lrs[0] / 2, lrs[0] * 2)
        ax.set_xticks(lrs, [format_lr(v) for v in lrs])
        ax.minorticks_off()
        ax.set_title(configuration, fontsize="medium")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("test acc. (%)")
    if axes[0][0].get_legend() is not None:
        axes[0][0].legend(fontsize="small", loc="lower left")
    fig.tight_layout()
    return save(fig, path, plotted(final, "configuration", "model", "lr", "test_acc"))


# --------------------------------------------------------------------------- the study
def family_curves(
    runs: pd.DataFrame,
    metric: str = "test_acc",
    references: Sequence[str] = REFERENCE_VARIANTS,
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Test accuracy (``metric``) against epoch: one row of panels per family, one column per dataset.

    ``runs`` is :func:`~harmonic.analysis.study.study_runs`. Each panel shows the family's variants and
    the ``references`` (dashed); lines are means over seeds, bands ± one std (as the tables).
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
    return save(fig, path, plotted(runs, "dataset", "family", "variant", "epoch", metric))


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
    # mean_std reads per-epoch runs: here (a study table) every row is one run at its last epoch.
    runs = data.rename(columns={"epochs": "epoch"}).assign(run=range(len(data)))
    stats = mean_std(runs, [category], with_std=True).set_index(category).sort_values("mean", ascending=False)
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
    return save(fig, path, plotted(data, "dataset", "family", "variant", "freq_scheme", "test_acc"))


def variant_accuracy(
    table: pd.DataFrame,
    targets: Mapping[str, float] | None = None,
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Final test accuracy of every variant (points: seeds, coloured by model; black: mean ± std),
    best first, one panel per dataset; a dotted line marks the dataset's target
    (:data:`~harmonic.analysis.study.TARGETS`) and a dashed one the best ReLU variant's mean."""
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
    return save(fig, path, plotted(table, "dataset", "variant", "model", "test_acc"))
