"""What every figure shares (:mod:`harmonic.figures.common`): saving, epoch ticks, curves and sweeps.

The runs below are small hand-made frames to check the drawing against, never results.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from harmonic.figures.common import accuracy_vs, integer_epochs, save, training_curves  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _lines_by_hue(ax: plt.Axes) -> dict[str, tuple[list[float], list[float]]]:
    """Each drawn line's (x, y), keyed by the legend entry of the same colour (seaborn's legend proxies are empty)."""
    legend = ax.get_legend()
    colour_of = {text.get_text(): to_rgba(handle.get_color())
                 for text, handle in zip(legend.get_texts(), legend.legend_handles)}
    drawn = [line for line in ax.lines if len(line.get_xdata())]
    out = {}
    for label, colour in colour_of.items():
        (line,) = [line for line in drawn if to_rgba(line.get_color()) == colour]
        out[label] = (list(map(float, line.get_xdata())), list(map(float, line.get_ydata())))
    assert len(drawn) == len(out)  # no line left without a legend entry
    return out


def _runs() -> pd.DataFrame:
    """Two models, two seeds, three epochs."""
    rows = []
    for model, loss, acc in (("plain", [2.0, 1.0, 0.5], [40.0, 60.0, 70.0]),
                             ("harmonic", [1.8, 0.8, 0.4], [45.0, 65.0, 75.0])):
        for seed, shift in ((0, -0.1), (1, 0.1)):
            for epoch in (1, 2, 3):
                rows.append({"model": model, "seed": seed, "epoch": epoch, "train_loss": loss[epoch - 1] + shift,
                             "test_acc": acc[epoch - 1] + 10 * shift, "lr": 0.1 / 10 ** (epoch - 1)})
    return pd.DataFrame(rows)


# --- save --------------------------------------------------------------------------------------

def test_save_writes_a_png_at_the_path_creating_its_folders(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    target = tmp_path / "a" / "b" / "figure.png"
    assert save(fig, target) is fig
    assert target.read_bytes()[:8] == PNG
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["figure.png"]
    save(fig, str(tmp_path / "c" / "as-text.png"))  # a str path works too
    assert (tmp_path / "c" / "as-text.png").read_bytes()[:8] == PNG
    plt.close(fig)


def test_save_without_a_path_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig, _ = plt.subplots()
    assert save(fig, None) is fig
    assert list(tmp_path.iterdir()) == []
    plt.close(fig)


# --- training_curves ---------------------------------------------------------------------------

def test_training_curves_draw_one_line_per_model_at_the_seed_mean_of_each_metric(tmp_path):
    fig = training_curves(_runs(), hue="model", path=tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG
    loss, acc = fig.axes
    assert loss.get_ylabel() == "training loss (cross-entropy)" and acc.get_ylabel() == "test accuracy (%)"
    assert loss.get_xlabel() == "epoch"
    lines = _lines_by_hue(loss)
    assert set(lines) == {"plain", "harmonic"}
    assert lines["plain"][0] == [1, 2, 3]
    assert lines["plain"][1] == pytest.approx([2.0, 1.0, 0.5])  # mean of the two seeds (±0.1)
    assert lines["harmonic"][1] == pytest.approx([1.8, 0.8, 0.4])
    lines = _lines_by_hue(acc)
    assert lines["plain"][1] == pytest.approx([40.0, 60.0, 70.0])
    assert lines["harmonic"][1] == pytest.approx([45.0, 65.0, 75.0])
    assert list(loss.get_xticks()) == [1, 2, 3] and list(acc.get_xticks()) == [1, 2, 3]
    assert loss.get_yscale() == "linear"
    plt.close(fig)


def test_training_curves_put_the_learning_rate_on_a_log_scale_and_name_unknown_metrics_as_is():
    runs = _runs().assign(grad_norm=lambda f: f["epoch"] * 1.0, val_top1_err=lambda f: 100 - f["test_acc"])
    fig = training_curves(runs, hue="model", metrics=("lr", "grad_norm", "val_top1_err"))
    lr, grad, val = fig.axes
    assert lr.get_ylabel() == "learning rate" and lr.get_yscale() == "log"
    assert grad.get_ylabel() == "grad_norm" and grad.get_yscale() == "linear"
    assert val.get_ylabel() == "validation top-1 error (%)"
    assert _lines_by_hue(lr)["plain"][1] == pytest.approx([0.1, 0.01, 0.001])
    plt.close(fig)


def test_training_curves_draw_one_line_per_hue_and_style_pair():
    runs = pd.concat([_runs().assign(optimizer="sgd"),
                      _runs().assign(optimizer="adam", train_loss=lambda f: f["train_loss"] + 1)])
    fig = training_curves(runs, hue="model", style="optimizer", metrics=("train_loss",))
    (ax,) = fig.axes
    entries = {text.get_text(): handle for text, handle in zip(ax.get_legend().get_texts(),
                                                               ax.get_legend().legend_handles)}
    drawn = {(to_rgba(line.get_color()), line.get_linestyle()): list(line.get_ydata())
             for line in ax.lines if len(line.get_xdata())}
    assert len(drawn) == 4
    for model, base in (("plain", [2.0, 1.0, 0.5]), ("harmonic", [1.8, 0.8, 0.4])):
        for optimizer, shift in (("sgd", 0.0), ("adam", 1.0)):
            key = (to_rgba(entries[model].get_color()), entries[optimizer].get_linestyle())
            assert drawn[key] == pytest.approx([b + shift for b in base]), (model, optimizer)
    plt.close(fig)


# --- accuracy_vs -------------------------------------------------------------------------------

def _final() -> pd.DataFrame:
    return pd.DataFrame({
        "lr": [1e-3, 1e-2, 1e-1] * 4,
        "model": ["plain"] * 6 + ["harmonic"] * 6,
        "seed": ([0] * 3 + [1] * 3) * 2,
        "test_acc": [90.0, 92.0, 85.0, 92.0, 94.0, 87.0, 80.0, 85.0, 95.0, 82.0, 87.0, 97.0],
        "train_acc": [99.0] * 12,
    })


def test_accuracy_vs_draws_one_line_per_hue_at_the_seed_means_on_a_log_axis(tmp_path):
    fig = accuracy_vs(_final(), x="lr", hue="model", path=tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").read_bytes()[:8] == PNG
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "lr" and ax.get_ylabel() == "test accuracy (%)"
    lines = _lines_by_hue(ax)
    assert set(lines) == {"plain", "harmonic"}
    assert lines["plain"][0] == pytest.approx([1e-3, 1e-2, 1e-1])
    assert lines["plain"][1] == pytest.approx([91.0, 93.0, 86.0])
    assert lines["harmonic"][1] == pytest.approx([81.0, 86.0, 96.0])
    legend = ax.get_legend()
    assert legend._loc == 2  # "upper left", placed outside the axes on the right
    anchor = legend.get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert (anchor.x0, anchor.y0) == pytest.approx((1.02, 1.0))
    plt.close(fig)


def test_accuracy_vs_linear_axis_and_another_column():
    fig = accuracy_vs(_final(), x="lr", hue="model", log_x=False, y="train_acc")
    (ax,) = fig.axes
    assert ax.get_xscale() == "linear" and ax.get_ylabel() == "training accuracy (%)"  # the plotted column's label
    assert all(y == pytest.approx([99.0, 99.0, 99.0]) for _, y in _lines_by_hue(ax).values())
    plt.close(fig)


# --- integer_epochs ----------------------------------------------------------------------------

def test_integer_epochs_ticks_each_epoch_when_few_dropping_gaps_and_duplicates():
    fig, ax = plt.subplots()
    integer_epochs(ax, pd.Series([3.0, 1.0, 2.0, 2.0, np.nan, 5.0]))
    assert list(ax.get_xticks()) == [1, 2, 3, 5]
    plt.close(fig)


def test_integer_epochs_widens_the_axis_around_a_single_epoch():
    fig, ax = plt.subplots()
    integer_epochs(ax, pd.Series([4, 4, 4]))
    assert list(ax.get_xticks()) == [4]
    assert ax.get_xlim() == pytest.approx((3.5, 4.5))
    plt.close(fig)


def test_integer_epochs_uses_whole_number_steps_when_many():
    fig, ax = plt.subplots()
    ax.plot(range(1, 41), range(40))
    integer_epochs(ax, pd.Series(range(1, 41)))
    locator = ax.xaxis.get_major_locator()
    assert isinstance(locator, MaxNLocator)
    ax.set_xlim(0.3, 2.7)  # a zoom where a plain locator would tick at halves
    ticks = ax.get_xticks()
    assert len(ticks) >= 2 and np.all(ticks == np.round(ticks))
    plt.close(fig)


def test_integer_epochs_with_sixteen_epochs_still_ticks_each():
    fig, ax = plt.subplots()
    integer_epochs(ax, pd.Series(range(16)))
    assert list(ax.get_xticks()) == list(range(16))
    plt.close(fig)
