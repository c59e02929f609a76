"""Figures of the book (seaborn), each saved to a file and returned for display."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def save(fig: plt.Figure, path: str | os.PathLike | None) -> plt.Figure:
    """Save ``fig`` as PNG at ``path`` (folders created) when a path is given."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def training_curves(
    runs: pd.DataFrame,
    hue: str,
    metrics: tuple[str, ...] = ("train_loss", "test_acc"),
    style: str | None = None,
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Per-epoch curves, one panel per metric; lines are means over seeds with a 95 % band."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    labels = {"train_loss": "training loss", "test_acc": "test accuracy (%)", "train_acc": "training accuracy (%)",
              "test_loss": "test loss", "lr": "learning rate"}
    for ax, metric in zip(axes[0], metrics):
        sns.lineplot(data=runs, x="epoch", y=metric, hue=hue, style=style, marker="o", ax=ax, errorbar=("ci", 95))
        ax.set_ylabel(labels.get(metric, metric))
        if metric == "lr":
            ax.set_yscale("log")
    fig.tight_layout()
    return save(fig, path)


def accuracy_vs(
    final: pd.DataFrame,
    x: str,
    hue: str,
    style: str | None = None,
    log_x: bool = True,
    y: str = "test_acc",
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Final test accuracy against a swept parameter (e.g. the learning rate), one line per configuration."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    sns.lineplot(data=final, x=x, y=y, hue=hue, style=style, marker="o", ax=ax, errorbar=("ci", 95))
    if log_x:
        ax.set_xscale("log")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize="small")
    fig.tight_layout()
    return save(fig, path)
