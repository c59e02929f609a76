"""Figures of Harmonic Networks (:mod:`harmonic.figures.networks`): what Figures 1 to 4 draw.

The tables below are small hand-made frames to check the drawing against, never results.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from harmonic.dct import dct_filters, dct_frequencies  # noqa: E402
from harmonic.figures.networks import (  # noqa: E402
    dct_filter_bank,
    error_vs_parameters,
    errors_by_recipe,
    frequency_weight_heatmap,
    frequency_weight_heatmaps,
    harmonic_block_diagram,
)


# --- Figure 2: the DCT filter bank -------------------------------------------------------------

def _legend_colours(fig: plt.Figure) -> dict[str, tuple]:
    (legend,) = fig.legends
    return {text.get_text(): to_rgba(handle.get_edgecolor())
            for text, handle in zip(legend.get_texts(), legend.legend_handles)}


def _frame(ax: plt.Axes) -> tuple | None:
    """The frame colour of a filter's cell, None when it has no visible frame (all four spines alike)."""
    spines = list(ax.spines.values())
    visible = {s.get_visible() for s in spines}
    assert len(visible) == 1
    if not visible.pop():
        return None
    colours = {to_rgba(s.get_edgecolor()) for s in spines}
    assert len(colours) == 1
    return colours.pop()


def test_dct_filter_bank_draws_each_orthonormal_filter_at_row_u_column_v():
    fig = dct_filter_bank(3)
    assert len(fig.axes) == 9
    grid = {(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start): ax for ax in fig.axes}
    bank = dct_filters(3, norm="ortho")
    limit = float(bank.abs().max())
    for (u, v), kernel in zip(dct_frequencies(3), bank):
        ax = grid[(u, v)]
        (image,) = ax.images
        np.testing.assert_allclose(np.asarray(image.get_array()), kernel.numpy(), rtol=0, atol=1e-12)
        assert image.get_clim() == pytest.approx((-limit, limit))  # one symmetric grey scale for every filter
        assert ax.get_title() == f"({u},{v})"
        assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    # the constant filter is flat, the others are not (they are not all drawn from one filter)
    assert np.ptp(np.asarray(grid[(0, 0)].images[0].get_array())) == pytest.approx(0, abs=1e-12)
    assert np.ptp(np.asarray(grid[(2, 2)].images[0].get_array())) > 0.5
    plt.close(fig)


def test_dct_filter_bank_frames_each_filter_with_the_smallest_level_keeping_it():
    fig = dct_filter_bank(3, levels=(1, 2, 3))
    legend = _legend_colours(fig)
    assert list(legend) == ["added at λ=1", "added at λ=2", "added at λ=3"]
    assert len(set(legend.values())) == 3  # three distinct colours
    for ax in fig.axes:
        u, v = map(int, re.fullmatch(r"\((\d),(\d)\)", ax.get_title()).groups())
        smallest = min(lam for lam in range(1, 6) if u + v < lam)
        if smallest <= 3:
            assert _frame(ax) == legend[f"added at λ={smallest}"], (u, v)
        else:  # (1,2), (2,1), (2,2): kept by no level drawn, so unframed
            assert _frame(ax) is None, (u, v)
    plt.close(fig)


def test_dct_filter_bank_with_every_level_frames_every_filter():
    fig = dct_filter_bank(3, levels=(5, 4, 3, 2, 1))
    legend = _legend_colours(fig)
    assert list(legend) == [f"added at λ={lam}" for lam in (1, 2, 3, 4, 5)]  # sorted, whatever the order given
    frames = {ax.get_title(): _frame(ax) for ax in fig.axes}
    assert frames["(2,2)"] == legend["added at λ=5"] and frames["(0,0)"] == legend["added at λ=1"]
    assert None not in frames.values()
    plt.close(fig)


def test_dct_filter_bank_frames_filters_between_listed_levels_with_the_next_listed_level():
    fig = dct_filter_bank(3, levels=(1, 3))
    legend = _legend_colours(fig)
    frames = {ax.get_title(): _frame(ax) for ax in fig.axes}
    plt.close(fig)
    assert frames["(0,1)"] == legend["added at λ=3"]


def test_dct_filter_bank_of_a_large_kernel_has_no_titles_and_saves(tmp_path):
    fig = dct_filter_bank(5, path=tmp_path / "fig" / "bank.png")
    assert len(fig.axes) == 25
    assert all(ax.get_title() == "" for ax in fig.axes)
    assert (tmp_path / "fig" / "bank.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    framed = sum(_frame(ax) is not None for ax in fig.axes)
    assert framed == 6  # u + v < 3: (0,0), (0,1), (1,0), (0,2), (1,1), (2,0)
    plt.close(fig)


# --- Figure 3: weight per frequency ------------------------------------------------------------

def _table() -> pd.DataFrame:
    """A hand-made frequency_weights-like table: three layers, two residual blocks, one NaN frequency."""
    return pd.DataFrame({
        "layer": ["block1.0.conv1", "block1.0.conv2", "block1.1.conv1"],
        "index": [0, 1, 2],
        "n_filters": [3, 3, 2],  # a non-frequency column: not drawn
        "(0,0)": [1.0, 2.0, 3.0],
        "(0,1)": [3.0, 2.0, 1.0],
        "(1,0)": [4.0, 4.0, np.nan],  # a frequency the last layer does not have
    })


def _cells(ax: plt.Axes) -> np.ma.MaskedArray:
    (mesh,) = ax.collections
    return np.ma.asarray(mesh.get_array()).reshape(3, 3)


def test_frequency_weight_heatmap_normalised_rows_sum_to_one_and_keep_the_tables_proportions():
    fig = frequency_weight_heatmap(_table(), normalise=True)
    ax = fig.axes[0]
    cells = _cells(ax)
    np.testing.assert_allclose(cells.sum(axis=1), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(cells[0].filled(np.nan), [1 / 8, 3 / 8, 4 / 8])
    np.testing.assert_allclose(cells[1].filled(np.nan), [2 / 8, 2 / 8, 4 / 8])
    np.testing.assert_allclose(cells[2, :2], [3 / 4, 1 / 4])
    assert cells.mask[2, 2] and not cells.mask[:, :2].any()  # the missing frequency is left blank
    assert [t.get_text() for t in ax.get_xticklabels()] == ["(0,0)", "(0,1)", "(1,0)"]
    assert all(t.get_rotation() == 90 for t in ax.get_xticklabels())  # side by side they run together
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "0: block1.0.conv1", "1: block1.0.conv2", "2: block1.1.conv1"]
    assert ax.get_xlabel() == "DCT frequency (u,v)" and ax.get_ylabel() == "harmonic layer"
    assert fig.axes[1].get_ylabel() == "share of mean |w| in the layer"  # the colour bar
    plt.close(fig)


def test_frequency_weight_heatmaps_share_one_colour_scale_with_a_single_colour_bar():
    flat = _table().assign(**{"(0,0)": 1.0, "(0,1)": 1.0, "(1,0)": 1.0})
    fig = frequency_weight_heatmaps({"at initialisation": flat, "after training": _table()})
    left, right, bar = fig.axes
    assert [left.get_title(), right.get_title()] == ["at initialisation", "after training"]
    np.testing.assert_allclose(_cells(left), 1 / 3)
    np.testing.assert_allclose(_cells(right)[0], [1 / 8, 3 / 8, 4 / 8])
    assert left.collections[0].get_clim() == right.collections[0].get_clim() == pytest.approx((1 / 8, 3 / 4))
    assert bar.get_ylabel() == "share of mean |w| in the layer"
    with pytest.raises(ValueError, match="at least one"):
        frequency_weight_heatmaps({})
    plt.close(fig)


def test_errors_by_recipe_draws_every_seed_at_its_error_in_its_recipes_colour():
    points = pd.DataFrame({"recipe": ["authors"] * 3 + ["kaiming"] * 3, "row": ["wrn-28-10"] * 6,
                           "method": ["WRN-28-10"] * 6, "seed": [0, 1, 2] * 2,
                           "error": [9.0, 9.2, 9.4, 10.0, 10.2, 10.4], "summary": [""] * 6})
    fig = errors_by_recipe(points)
    ax = fig.axes[0]
    dots = [c for c in ax.collections if len(c.get_offsets()) == 3]
    assert sorted(sorted(c.get_offsets()[:, 1].tolist()) for c in dots) == [[9.0, 9.2, 9.4], [10.0, 10.2, 10.4]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["authors", "kaiming"]
    plt.close(fig)
    one = errors_by_recipe(points[points["recipe"] == "kaiming"])  # a single recipe: no dodge to divide
    assert [t.get_text() for t in one.axes[0].get_legend().get_texts()] == ["kaiming"]
    plt.close(one)


def test_frequency_weight_heatmap_raw_shows_the_tables_values_and_separates_blocks():
    fig = frequency_weight_heatmap(_table(), normalise=False)
    ax = fig.axes[0]
    np.testing.assert_allclose(_cells(ax).filled(np.nan),
                               _table()[["(0,0)", "(0,1)", "(1,0)"]].to_numpy(), equal_nan=True)
    assert fig.axes[1].get_ylabel() == "mean |w|"
    separators = [line.get_ydata() for line in ax.lines]
    assert [list(y) for y in separators] == [[2, 2]]  # between block1.0 and block1.1 only
    plt.close(fig)


# --- Figure 4: error against parameters --------------------------------------------------------

def _points() -> pd.DataFrame:
    return pd.DataFrame({
        "dataset": ["CIFAR-10", "CIFAR-10", "CIFAR-10", "CIFAR-10", "CIFAR-100"],
        "family": ["WRN", "WRN", "Harm-WRN", "Harm-WRN", "WRN"],
        "model": ["w-wide", "w-narrow", "h-full", "h-run", "w-wide"],
        "params_M": [36.5, 8.9, 20.0, 12.0, 36.5],
        "error": [4.0, 5.0, 3.9, 4.4, 20.0],
        "source": ["reported", "reported", "reported", "run", "reported"],
    })


def _series(ax: plt.Axes) -> dict[str, object]:
    return {c.get_label(): c for c in ax.containers}


def test_error_vs_parameters_puts_each_point_at_its_parameters_and_error():
    fig = error_vs_parameters(_points())
    panels = {ax.get_title(): ax for ax in fig.axes}
    assert set(panels) == {"CIFAR-10 (solid lines)", "CIFAR-100 (dashed lines)"}
    cifar10 = panels["CIFAR-10 (solid lines)"]
    series = _series(cifar10)
    assert set(series) == {"WRN (reported)", "Harm-WRN (reported)", "Harm-WRN (run)"}
    wrn = series["WRN (reported)"].lines[0]
    assert list(wrn.get_xdata()) == [8.9, 36.5] and list(wrn.get_ydata()) == [5.0, 4.0]  # sorted by parameters
    assert wrn.get_linestyle() == "-" and wrn.get_marker() == "o"
    assert to_rgba(wrn.get_color()) == to_rgba("tab:blue")
    run = series["Harm-WRN (run)"].lines[0]
    assert list(run.get_xdata()) == [12.0] and list(run.get_ydata()) == [4.4]
    assert run.get_linestyle() == "None" and run.get_marker() == "X"  # not joined: a cross
    assert to_rgba(run.get_color()) == to_rgba("tab:red")
    assert not any(c.has_yerr for c in series.values())  # no error_low/error_high columns
    assert cifar10.get_xlabel() == "parameters (millions)" and cifar10.get_ylabel() == "test error (%)"
    assert {t.get_text() for t in cifar10.get_legend().get_texts()} == set(series)
    (other,) = _series(panels["CIFAR-100 (dashed lines)"]).values()
    assert list(other.lines[0].get_ydata()) == [20.0] and other.lines[0].get_linestyle() == "--"
    plt.close(fig)


def test_error_vs_parameters_draws_the_seeds_range_as_error_bars_and_honours_joined():
    points = _points()
    points["error_low"] = [3.5, 4.5, 3.7, 4.0, 19.0]
    points["error_high"] = [4.5, 5.2, 4.1, 4.6, 21.0]
    fig = error_vs_parameters(points[points["dataset"] == "CIFAR-10"], joined=("run",))
    (ax,) = fig.axes
    series = _series(ax)
    run = series["Harm-WRN (run)"]
    assert run.lines[0].get_linestyle() == "-" and run.lines[0].get_marker() == "o"  # now joined
    assert series["WRN (reported)"].lines[0].get_linestyle() == "None"
    assert run.has_yerr
    (bars,) = run.lines[2]
    (segment,) = bars.get_segments()
    np.testing.assert_allclose(segment, [[12.0, 4.0], [12.0, 4.6]])  # from error_low to error_high
    (bars,) = series["WRN (reported)"].lines[2]
    np.testing.assert_allclose([s[:, 1] for s in bars.get_segments()], [[4.5, 5.2], [3.5, 4.5]])
    plt.close(fig)


# --- Figure 1: the harmonic block --------------------------------------------------------------

def _correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """3x3 cross-correlation with zero padding 1, written out by hand."""
    padded = np.pad(image, 1)
    h, w = image.shape
    return np.array([[(padded[i:i + 3, j:j + 3] * kernel).sum() for j in range(w)] for i in range(h)])


def test_harmonic_block_diagram_draws_input_filters_maps_bn_and_the_combined_output(tmp_path):
    image = torch.rand(6, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    fig = harmonic_block_diagram(image, level=2, path=tmp_path / "block.png")
    assert (tmp_path / "block.png").read_bytes()[:4] == b"\x89PNG"
    pairs = dct_frequencies(3, 2)
    assert pairs == [(0, 0), (0, 1), (1, 0)]
    assert len(fig.axes) == 1 + 3 * len(pairs) + 1
    by_title = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    assert set(by_title) == {"input channel $x$", "DCT filter ψ\n(eq. 1)", "ψ ∗ x", "spectral BN\n(eq. 3, optional)",
                             "Σ w · (…): one output\nfeature (eq. 2, a 1×1 conv)"}
    np.testing.assert_allclose(np.asarray(by_title["input channel $x$"].images[0].get_array()), image.numpy())

    cells = {(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start): ax for ax in fig.axes
             if ax.get_subplotspec().rowspan.stop - ax.get_subplotspec().rowspan.start == 1}
    bank = dct_filters(3, 2, norm="l1", dtype=torch.float64).numpy()
    weights, bn_images = [], []
    for row, (u, v) in enumerate(pairs):
        filt, spectral, bn = (np.asarray(cells[(row, col)].images[0].get_array()) for col in (1, 2, 3))
        assert cells[(row, 1)].get_ylabel() == f"({u},{v})"
        np.testing.assert_allclose(filt, bank[row])
        assert np.abs(filt).sum() == pytest.approx(1.0)  # l1-normalised filters
        np.testing.assert_allclose(spectral, _correlate(image.numpy(), bank[row]), atol=1e-12)
        np.testing.assert_allclose(bn, (spectral - spectral.mean()) / spectral.std(ddof=1), atol=1e-12)
        (text,) = cells[(row, 3)].texts
        weights.append(float(text.get_text().removeprefix("× ")))
        bn_images.append(bn)
    output = np.asarray(by_title["Σ w · (…): one output\nfeature (eq. 2, a 1×1 conv)"].images[0].get_array())
    bound = 0.005 * sum(np.abs(b) for b in bn_images) + 1e-9  # the weights are shown to two decimals
    assert np.all(np.abs(output - sum(w * b for w, b in zip(weights, bn_images))) <= bound)
    assert all(list(ax.get_xticks()) == [] and list(ax.get_yticks()) == [] for ax in fig.axes)
    plt.close(fig)


def test_harmonic_block_diagram_without_level_shows_all_nine_filters():
    fig = harmonic_block_diagram(torch.rand(5, 5, generator=torch.Generator().manual_seed(2)))
    assert len(fig.axes) == 1 + 3 * 9 + 1
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == [f"({u},{v})" for u, v in dct_frequencies(3)]
    assert sum(len(ax.texts) for ax in fig.axes) == 9  # one weight per filter
    plt.close(fig)


def test_error_vs_parameters_labels_each_joined_point_with_its_row():
    from harmonic.figures.networks import error_vs_parameters

    points = pd.DataFrame({
        "dataset": ["D"] * 4, "family": ["Harm-WRN", "Harm-WRN", "WRN", "WRN"],
        "model": ["Harm-WRN-28-10", "Harm-WRN-28-10 (λ=3)", "WRN-28-10", "WRN-28-8"],
        "params_M": [36.5, 24.4, 36.5, 23.4], "error": [3.9, 3.8, 3.9, 4.0], "source": ["reported"] * 3 + ["run"],
    })
    fig = error_vs_parameters(points)  # the WRN-28-8 point is a cross (source "run"): not labelled
    (ax,) = fig.axes
    labels = {t.get_text(): t.xy for t in ax.texts}
    assert labels == {"full basis": (36.5, 3.9), "λ=3": (24.4, 3.8), "28-10": (36.5, 3.9)}
    plt.close(fig)
