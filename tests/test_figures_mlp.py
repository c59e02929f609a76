"""Figures of the Harmonic-MLP chapters (:mod:`harmonic.figures.mlp`): what the study's plots draw.

``study_dir`` (:mod:`study_fixtures`) is a synthetic study (seeds' final accuracies chosen by hand), never results.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from harmonic.analysis import study
from harmonic.figures.mlp import family_curves, frequency_accuracy, variant_accuracy

from study_fixtures import study_dir  # noqa: F401 (the fixture)


def _panels(fig: plt.Figure) -> dict[str, plt.Axes]:
    return {ax.get_title(): ax for ax in fig.axes if ax.get_visible() and ax.get_title()}


def _means(ax: plt.Axes, vertical: bool) -> list[float]:
    """The black mean ± std points of a panel, in the panel's category order."""
    (bars,) = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    line = bars.lines[0]
    return list(line.get_ydata() if vertical else line.get_xdata())


def test_variant_accuracy_draws_every_variant_best_first_with_target_and_relu_lines(study_dir, tmp_path):
    fig = variant_accuracy(study.study_table(study_dir), path=tmp_path / "variants.png")
    panels = _panels(fig)
    assert set(panels) == {"fashion-mnist", "mnist"} and (tmp_path / "variants.png").stat().st_size > 0
    mnist = panels["mnist"]
    assert [t.get_text() for t in mnist.get_yticklabels()] == [
        "freq-linear", "relu-lr-3e-3", "relu", "fao-off", "seed-faithful"]
    assert _means(mnist, vertical=False) == pytest.approx([98.7, 98.6, 98.4, 98.3, 98.2])
    vertical = {line.get_label(): line.get_xdata()[0] for line in mnist.get_lines() if len(line.get_xdata()) == 2
                and line.get_xdata()[0] == line.get_xdata()[1]}  # axvline: one x, drawn twice
    assert vertical == {"best ReLU (relu-lr-3e-3)": pytest.approx(98.6), "target 98.5 %": pytest.approx(98.5)}
    assert "target 98.5 %" not in {line.get_label() for line in panels["fashion-mnist"].get_lines()}
    plt.close(fig)


def test_frequency_accuracy_shows_each_distribution_with_the_seed_as_capped(study_dir):
    fig = frequency_accuracy(study.study_table(study_dir))
    panels = _panels(fig)
    assert [t.get_text() for t in panels["mnist"].get_xticklabels()] == ["linear", "capped (seed)"]
    assert _means(panels["mnist"], vertical=True) == pytest.approx([98.7, 98.2])
    assert [t.get_text() for t in panels["fashion-mnist"].get_xticklabels()] == ["capped (seed)"]
    plt.close(fig)


def test_family_curves_draw_one_panel_per_family_and_dataset_with_the_references(study_dir):
    fig = family_curves(study.study_runs(study_dir))
    panels = _panels(fig)
    families = ("frequency distribution", "frequency-aware optimizer", "learning rate and schedule")
    assert set(panels) == {f"{d}: {f}" for d in ("fashion-mnist", "mnist") for f in families}
    legend = panels["mnist: frequency distribution"].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["relu", "seed-faithful", "freq-linear"]
    plt.close(fig)
