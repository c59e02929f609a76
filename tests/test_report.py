"""Run summaries of harmonic.analysis.report: what the book's tables compute from result files."""

import re

import pandas as pd

from harmonic.analysis import report


def _runs(rows):
    return pd.DataFrame(rows, columns=["run", "model", "epoch", "test_acc"])


def test_epochs_to_reach_groups_by_the_model_column_not_by_run_names():
    # run names that contain the notebook's name ("mnist_harmonic_mlp"), as run_mlp_grid writes them
    runs = _runs([
        ("mnist_harmonic_mlp-harmonic-s0", "harmonic", 1, 94.0), ("mnist_harmonic_mlp-harmonic-s0", "harmonic", 2, 95.5),
        ("mnist_harmonic_mlp-harmonic-s1", "harmonic", 1, 95.2), ("mnist_harmonic_mlp-harmonic-s1", "harmonic", 2, 96.0),
        ("mnist_harmonic_mlp-relu-s0", "relu", 1, 96.1), ("mnist_harmonic_mlp-relu-s0", "relu", 2, 97.0),
        ("mnist_harmonic_mlp-relu-s1", "relu", 1, 95.9), ("mnist_harmonic_mlp-relu-s1", "relu", 2, 96.8),
    ])
    table = report.epochs_to_reach(runs, 95.0, by=["model"]).set_index("model")
    assert table.loc["harmonic", "epochs_to_reach"] == 2  # the worst seed reaches 95 % in epoch 2
    assert table.loc["relu", "epochs_to_reach"] == 1
    assert (table["runs"] == 2).all() and (table["runs_reaching"] == 2).all()


def test_epochs_to_reach_is_missing_when_a_seed_never_reaches():
    runs = _runs([("a", "harmonic", 1, 96.0), ("b", "harmonic", 1, 90.0), ("b", "harmonic", 2, 94.9)])
    row = report.epochs_to_reach(runs, 95.0, by=["model"]).iloc[0]
    assert pd.isna(row["epochs_to_reach"]) and row["runs_reaching"] == 1 and row["runs"] == 2


def test_mean_std_is_the_seeds_mean_and_sample_std_at_the_last_epoch():
    runs = _runs([("a", "harmonic", 1, 90.0), ("a", "harmonic", 2, 96.0), ("b", "harmonic", 2, 98.0),
                  ("c", "relu", 1, 80.0), ("c", "relu", 3, 97.125)])
    table = report.mean_std(runs, by=["model"], with_std=True).set_index("model")
    assert list(table.columns) == ["test_acc", "seeds", "epochs", "mean", "std"]
    assert table.loc["harmonic", ["mean", "std", "seeds", "epochs"]].tolist() == [97.0, 2 ** 0.5, 2, 2]
    assert table.loc["harmonic", "test_acc"] == "97.00 ± 1.41"
    assert table.loc["relu", "test_acc"] == "97.12" and pd.isna(table.loc["relu", "std"])  # one seed: no std
    assert "std" not in report.mean_std(runs, by=["model"]).columns


def test_mean_std_of_no_runs_has_the_same_columns():
    for with_std in (False, True):
        empty = report.mean_std(_runs([]), by=["model"], with_std=with_std)
        full = report.mean_std(_runs([("a", "harmonic", 1, 90.0)]), by=["model"], with_std=with_std)
        assert empty.empty and list(empty.columns) == list(full.columns)


def test_claim_check_reads_its_mean_std_cells_from_mean_std():
    runs = _runs([("a", "harmonic", 1, 95.0), ("a", "harmonic", 2, 97.0), ("b", "harmonic", 1, 96.0),
                  ("b", "harmonic", 2, 98.0), ("c", "relu", 2, 97.5)])  # relu: no epoch 1 recorded
    check = report.claim_check(runs, 96.5).set_index("model")
    assert check.loc["harmonic", "test accuracy after epoch 1 (%)"] == "95.50 ± 0.71"
    assert check.loc["harmonic", "final test accuracy (%)"] == report.mean_std(runs, ["model"])["test_acc"][0]
    assert check.loc["relu", ["test accuracy after epoch 1 (%)", "final test accuracy (%)"]].tolist() == ["—", "97.50"]


def test_plural_adds_an_s_unless_one():
    assert [report.plural(n, "seed") for n in (0, 1, 3)] == ["0 seeds", "1 seed", "3 seeds"]


def test_styled_wraps_long_text_columns_only():
    frame = pd.DataFrame({"quote": ["a sentence of the paper, long enough to wrap"], "short": ["ok"], "error": [1.5]})
    html = report.styled(frame).to_html()
    wrapped = re.findall(r"#(T_\w+_row0_col(\d)) \{[^}]*white-space: normal", html)
    assert [col for _, col in wrapped] == ["0"]  # the quote; not the short text, not the number
