"""Figures of Harmonic Networks (Ulicny et al.): the DCT filter bank, the harmonic block, the weight per
frequency and the error against the parameter count (Figures 1 to 4)."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from harmonic.figures.common import pixels, plotted, save

__all__ = ["dct_filter_bank", "error_vs_parameters", "errors_by_recipe", "frequency_weight_heatmap",
           "frequency_weight_heatmaps", "harmonic_block_diagram"]


def dct_filter_bank(
    kernel_size: int = 3,
    levels: tuple[int, ...] = (1, 2, 3),
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Figure 2: the k×k DCT-II bank (eq. 1), filter (u, v) at row u, column v.

    Each filter is framed by the colour of the smallest compression level λ that keeps it
    (u + v < λ, i.e. λ = u + v + 1); filters outside every level in ``levels`` have no frame.
    """
    from matplotlib.patches import Patch

    from harmonic.dct import dct_filters, dct_frequencies

    bank = dct_filters(kernel_size, norm="ortho")
    pairs = dct_frequencies(kernel_size)
    palette = dict(zip(sorted(levels), sns.color_palette("deep", len(levels))))
    size = 1.2 if kernel_size <= 4 else 0.75
    fig, axes = plt.subplots(kernel_size, kernel_size, figsize=(size * kernel_size + 1.8, size * kernel_size),
                             squeeze=False)
    limit = float(bank.abs().max())
    for (u, v), kernel in zip(pairs, bank):
        ax = axes[u][v]
        ax.imshow(kernel.numpy(), cmap="gray", vmin=-limit, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])
        keeping = [level for level in palette if u + v < level]  # the listed levels that keep (u, v)
        colour = palette[min(keeping)] if keeping else None
        for spine in ax.spines.values():
            spine.set_visible(colour is not None)
            if colour is not None:
                spine.set_edgecolor(colour)
                spine.set_linewidth(3)
        if kernel_size <= 4:
            ax.set_title(f"({u},{v})", fontsize=8)
    handles = [Patch(edgecolor=c, facecolor="none", linewidth=3, label=f"added at λ={lvl}") for lvl, c in palette.items()]
    fig.legend(handles=handles, loc="center right", fontsize="small", frameon=False)
    fig.subplots_adjust(right=0.78, wspace=0.15, hspace=0.3 if kernel_size <= 4 else 0.1)
    return save(fig, path, pixels({f"({u},{v})": kernel for (u, v), kernel in zip(pairs, bank)}, "filter (u,v)"))


def _frequency_axes(ax: plt.Axes, table: pd.DataFrame, values: pd.DataFrame, colorbar: bool, label: str,
                    vmin: float | None = None, vmax: float | None = None) -> None:
    """One Figure 3 panel on ``ax``: ``values`` (layers x frequencies) with block separators."""
    sns.heatmap(values.set_axis(_layer_labels(table)), cmap="viridis", ax=ax, vmin=vmin, vmax=vmax, cbar=colorbar,
                cbar_kws={"label": label} if colorbar else None)
    blocks = [name.rsplit(".", 1)[0] if "." in name else name for name in table["layer"]]
    for row in range(1, len(blocks)):
        if blocks[row] != blocks[row - 1]:
            ax.axhline(row, color="white", linewidth=1.5)
    ax.set_xlabel("DCT frequency (u,v)")
    ax.tick_params(axis="x", labelrotation=90)  # "(0,0)(0,1)…" side by side run together


def _frequency_values(table: pd.DataFrame, normalise: bool) -> pd.DataFrame:
    values = table[[c for c in table.columns if c.startswith("(")]].astype(float)
    return values.div(values.sum(axis=1), axis=0) if normalise else values


def _layer_labels(table: pd.DataFrame) -> list[str]:
    """A Figure 3 table's row labels: ``"<index>: <module name>"``."""
    return [f"{i}: {name}" for i, name in zip(table["index"], table["layer"])]


def _frequency_data(table: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """What a Figure 3 panel plots, tidy: one row per layer and frequency (the data saved beside the figure)."""
    layers = values.set_axis(_layer_labels(table))
    return layers.rename_axis("layer").reset_index().melt("layer", var_name="frequency (u,v)")


def frequency_weight_heatmap(
    table: pd.DataFrame,
    normalise: bool = True,
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Figure 3: mean |weight| per DCT frequency (columns) per harmonic layer (rows, input to output).

    ``table`` is :func:`harmonic.experiments.wrn.frequency_weights`. With ``normalise`` each row is
    divided by its sum, so layers of different widths compare. Lines separate residual blocks
    (layers whose module names differ before their last component).
    """
    values = _frequency_values(table, normalise)
    sns.set_theme(style="white", context="notebook")
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * values.shape[1], 0.9 + 0.32 * len(table)))
    _frequency_axes(ax, table, values, True, "share of mean |w| in the layer" if normalise else "mean |w|")
    ax.set_ylabel("harmonic layer")
    fig.tight_layout()
    return save(fig, path, _frequency_data(table, values))


def frequency_weight_heatmaps(
    tables: dict[str, pd.DataFrame],
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Figure 3 panels side by side on one colour scale (e.g. the same runs at initialisation and after
    training): ``tables`` maps a panel title to a :func:`~harmonic.experiments.wrn.frequency_weights`
    table of the same layers; each layer is normalised to sum to one."""
    if not tables:
        raise ValueError("tables must hold at least one Figure 3 table")
    values = {title: _frequency_values(table, True) for title, table in tables.items()}
    low = min(float(v.min().min()) for v in values.values())
    high = max(float(v.max().max()) for v in values.values())
    first = next(iter(tables.values()))
    sns.set_theme(style="white", context="notebook")
    n_frequencies = next(iter(values.values())).shape[1]
    fig, axes = plt.subplots(1, len(tables), figsize=(3.2 + (0.42 * n_frequencies + 0.3) * len(tables),
                                                      0.9 + 0.3 * len(first)), squeeze=False, sharey=True)
    for n, (ax, (title, table)) in enumerate(zip(axes[0], tables.items())):
        last = n == len(tables) - 1
        _frequency_axes(ax, table, values[title], last, "share of mean |w| in the layer", low, high)
        ax.set_title(title, fontsize="medium")
        ax.set_ylabel("harmonic layer" if n == 0 else "")
    fig.tight_layout()
    data = [_frequency_data(table, values[title]).assign(panel=title) for title, table in tables.items()]
    return save(fig, path, pd.concat(data, ignore_index=True))


def errors_by_recipe(points: pd.DataFrame, path: str | os.PathLike | None = None) -> plt.Figure:
    """Every seed's test error per Table 1 row (x) under each training recipe (colour), with each
    row's median as a bar: :func:`harmonic.analysis.recipe_sensitivity.errors_by_recipe`."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    order = list(dict.fromkeys(points["method"]))
    recipes = list(dict.fromkeys(points["recipe"]))
    several = len(recipes) > 1
    sns.stripplot(points, x="method", y="error", hue="recipe", order=order, hue_order=recipes, dodge=several, size=7,
                  jitter=0.08, ax=ax)
    sns.pointplot(points, x="method", y="error", hue="recipe", order=order, hue_order=recipes,
                  dodge=0.4 if several else False, estimator="median", errorbar=None, markers="_", markersize=18,
                  linestyles="none", ax=ax, legend=False)
    ax.set_xlabel("Table 1 row (each trained here as a WRN-10-1)")
    ax.set_ylabel("test error (%)")
    ax.legend(title="recipe (dots: seeds; bars: medians)", fontsize="small", title_fontsize="small")
    fig.tight_layout()
    return save(fig, path, plotted(points, "method", "recipe", "error"))


def _point_label(model: str, family: str) -> str:
    """A Figure 4 point's label: the compression in the model's name ("λ=3"), "full basis" for the
    uncompressed harmonic row, the depth-width of a baseline ("28-8")."""
    if "(" in model:
        return model[model.index("(") + 1:model.rindex(")")]
    return "full basis" if family == "Harm-WRN" else model.rsplit("WRN-", 1)[-1]


def error_vs_parameters(
    points: pd.DataFrame,
    path: str | os.PathLike | None = None,
    joined: tuple[str, ...] = ("reported",),
) -> plt.Figure:
    """Figure 4 as the paper draws it: test error against parameters, one line per family.

    ``points`` (:func:`harmonic.analysis.tables.figure4_points`, :func:`harmonic.analysis.wrn_study.figure4_points`)
    columns: ``dataset``, ``family`` (``"Harm-WRN"``: harmonic WRNs by compression; ``"WRN"``:
    baselines by width), ``model``, ``params_M``, ``error``, ``source``, and optionally
    ``error_low`` / ``error_high`` (the seeds' range, drawn as error bars). Points of the sources in
    ``joined`` are joined by lines, CIFAR-10 solid and anything else dashed as in the paper; each
    dataset has its own panel because error levels differ between them. Other sources are overlaid
    as crosses. Joined points are labelled with their row (:func:`_point_label`).
    """
    sns.set_theme(style="whitegrid", context="notebook")
    datasets = list(dict.fromkeys(points["dataset"]))
    styles = {"CIFAR-10": "-"}
    colours = {"Harm-WRN": "tab:red", "WRN": "tab:blue"}
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 4.0), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        subset = points[points["dataset"] == dataset]
        for family, group in subset.groupby("family", sort=False):
            for source, part in group.groupby("source", sort=False):
                part = part.sort_values("params_M")
                line = source in joined
                bars = None
                if "error_low" in part and part["error_low"].notna().all():
                    bars = [part["error"] - part["error_low"], part["error_high"] - part["error"]]
                ax.errorbar(part["params_M"], part["error"], yerr=bars, capsize=3 if bars is not None else 0,
                            marker="o" if line else "X", markersize=8 if line else 10,
                            linestyle=styles.get(dataset, "--") if line else "none",
                            color=colours.get(family), label=f"{family} ({source})")
                if line:  # which row each joined point is: its compression, or the baseline's size
                    for x, y, model in zip(part["params_M"], part["error"], part["model"]):
                        ax.annotate(_point_label(model, family), (x, y), textcoords="offset points", xytext=(5, 5),
                                    fontsize="x-small", color=colours.get(family))
        style = styles.get(dataset, "--")
        ax.set_title(f"{dataset} ({'solid' if style == '-' else 'dashed'} lines)")
        ax.set_xlabel("parameters (millions)")
        ax.set_ylabel("test error (%)")
        ax.legend(fontsize="small")
    fig.tight_layout()
    return save(fig, path, points)


def harmonic_block_diagram(image: "torch.Tensor", path: str | os.PathLike | None = None,
                           level: int | None = None) -> plt.Figure:
    """Figure 1 of the paper, drawn from a real computation: an input channel, the 3x3 DCT filters
    (eq. 1), the spectral maps they produce (computed here), the optional spectral BN (eq. 3) and the
    learned 1x1 combination (eq. 2) that forms one output feature.

    ``image``: one ``(H, W)`` grey image. The combination weights shown are random (an untrained
    block): the figure illustrates the data flow, not learned values.
    """
    import torch
    import torch.nn.functional as F

    from harmonic.dct import dct_filters, dct_frequencies

    bank = dct_filters(3, level, norm="l1").to(image.dtype)
    maps = F.conv2d(image[None, None], bank[:, None], padding=1)[0]
    normalised = (maps - maps.mean(dim=(1, 2), keepdim=True)) / maps.std(dim=(1, 2), keepdim=True)
    weights = torch.randn(len(bank), generator=torch.Generator().manual_seed(0))
    output = (weights[:, None, None] * normalised).sum(0)
    n = len(bank)
    sns.set_theme(style="white", context="notebook")
    fig = plt.figure(figsize=(11, 0.9 * n + 0.6))
    grid = fig.add_gridspec(n, 5, width_ratios=[1.6, 0.6, 1, 1, 1.6], wspace=0.35, hspace=0.25)
    ax = fig.add_subplot(grid[n // 2 - 1:n // 2 + 2, 0])
    ax.imshow(image.numpy(), cmap="gray")
    ax.set_title("input channel $x$", fontsize=11)
    for i, (u, v) in enumerate(dct_frequencies(3, level)):
        for column, data, cmap in ((1, bank[i], "RdBu_r"), (2, maps[i], "magma"), (3, normalised[i], "magma")):
            cell = fig.add_subplot(grid[i, column])
            limit = float(bank.abs().max()) if column == 1 else None  # one symmetric scale for the filters
            cell.imshow(data.numpy(), cmap=cmap, vmin=-limit if limit else None, vmax=limit)
            cell.set_xticks([]), cell.set_yticks([])
            if column == 1:
                cell.set_ylabel(f"({u},{v})", rotation=0, labelpad=18, fontsize=9)
            if column == 3:
                cell.text(1.08, 0.5, f"× {weights[i]:+.2f}", transform=cell.transAxes, va="center", fontsize=9)
            if i == 0:
                cell.set_title({1: "DCT filter ψ\n(eq. 1)", 2: "ψ ∗ x", 3: "spectral BN\n(eq. 3, optional)"}[column],
                               fontsize=10)
    ax = fig.add_subplot(grid[n // 2 - 1:n // 2 + 2, 4])
    ax.imshow(output.numpy(), cmap="magma")
    ax.set_title("Σ w · (…): one output\nfeature (eq. 2, a 1×1 conv)", fontsize=11)
    for axis in fig.axes:
        axis.set_xticks([]), axis.set_yticks([])
    panels = {"input": image}
    for i, (u, v) in enumerate(dct_frequencies(3, level)):
        panels |= {f"filter ({u},{v})": bank[i], f"response ({u},{v})": maps[i],
                   f"spectral BN ({u},{v})": normalised[i], f"weight ({u},{v})": weights[i, None, None]}
    return save(fig, path, pixels(panels | {"output": output}, "panel"))
