"""What every figure of the book shares: saving, whole-number epoch ticks, per-epoch curves and sweeps."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from harmonic.downloads import flat_columns, show_figure

__all__ = ["METRIC_LABELS", "accuracy_vs", "integer_epochs", "pixels", "plotted", "save", "training_curves"]

#: Axis labels of the recorded metrics (units in the label); a metric without one is labelled by its name.
METRIC_LABELS: dict[str, str] = {
    "train_loss": "training loss (cross-entropy)", "test_loss": "test loss (cross-entropy)",
    "test_acc": "test accuracy (%)", "train_acc": "training accuracy (%)", "lr": "learning rate",
    "train_top1_err": "training top-1 error (%)", "val_top1_err": "validation top-1 error (%)",
    "val_top5_err": "validation top-5 error (%)",
}


def save(fig: plt.Figure, path: str | os.PathLike | None, data: pd.DataFrame | None = None) -> plt.Figure:
    """Save ``fig`` as PNG at ``path`` (folders created) when a path is given, and ``data``, the tidy table
    it plots, as CSV beside it. In a book build the figure is shown with a link to that CSV under it
    (:func:`harmonic.downloads.show_figure`)."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        if data is not None:
            flat_columns(data).to_csv(path.with_suffix(".csv"), index=False)
    if data is not None:
        show_figure(fig, data, Path(path).stem if path is not None else None)
    return fig


def plotted(frame: pd.DataFrame, *columns: str | None) -> pd.DataFrame:
    """The columns of ``frame`` a figure draws (``None`` and absent ones skipped, each once), plus ``seed``
    when the frame has it (bands and means are over seeds): the tidy data saved beside the figure."""
    wanted = [c for c in dict.fromkeys(["seed", *columns]) if c is not None and c in frame.columns]
    return frame[wanted].reset_index(drop=True)


def pixels(images: dict[str, "np.ndarray | torch.Tensor"], key: str = "image") -> pd.DataFrame:
    """Images (2-D arrays, each under a label) as one tidy table: ``key``, ``row``, ``column``, ``value``."""
    import numpy as np

    parts = []
    for label, image in images.items():
        values = np.asarray(image, dtype=float)
        rows, columns = np.indices(values.shape)
        parts.append(pd.DataFrame({key: label, "row": rows.ravel(), "column": columns.ravel(),
                                   "value": values.ravel()}))
    return pd.concat(parts, ignore_index=True)


def training_curves(
    runs: pd.DataFrame,
    hue: str,
    metrics: tuple[str, ...] = ("train_loss", "test_acc"),
    style: str | None = None,
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Per-epoch curves, one panel per metric (two per row, so that they stay legible at page width);
    lines are means over seeds with a 95 % band."""
    sns.set_theme(style="whitegrid", context="notebook")
    columns = min(len(metrics), 2)
    rows = -(-len(metrics) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 3.8 * rows), squeeze=False)
    for ax in axes.flat[len(metrics):]:
        ax.remove()
    for ax, metric in zip(axes.flat, metrics):
        sns.lineplot(data=runs, x="epoch", y=metric, hue=hue, style=style, marker="o", ax=ax, errorbar=("ci", 95))
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        integer_epochs(ax, runs["epoch"])
        if metric == "lr":
            ax.set_yscale("log")
    fig.tight_layout()
    return save(fig, path, plotted(runs, hue, style, "epoch", *metrics))


def accuracy_vs(
    final: pd.DataFrame,
    x: str,
    hue: str,
    style: str | None = None,
    log_x: bool = True,
    y: str = "test_acc",
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Final ``y`` (default: test accuracy) against a swept parameter (e.g. the learning rate), one line per
    configuration."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    sns.lineplot(data=final, x=x, y=y, hue=hue, style=style, marker="o", ax=ax, errorbar=("ci", 95))
    if log_x:
        ax.set_xscale("log")
    ax.set_ylabel(METRIC_LABELS.get(y, y))
    ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize="small")
    fig.tight_layout()
    return save(fig, path, plotted(final, hue, style, x, y))



def integer_epochs(ax: plt.Axes, epochs: pd.Series) -> None:
    """Epoch ticks are whole numbers: each epoch when there are few, else integer steps."""
    values = sorted(pd.Series(epochs).dropna().astype(int).unique())
    if 0 < len(values) <= 16:
        ax.set_xticks(values)
        if len(values) == 1:
            ax.set_xlim(values[0] - 0.5, values[0] + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
