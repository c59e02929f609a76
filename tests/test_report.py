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


def _cells_with(html: str, declaration: str) -> list[str]:
    """The columns (numbers) of row 0 whose cell style holds ``declaration``."""
    return sorted({col for rule, body in re.findall(r"([^{}]+)\{([^}]*)\}", html) if declaration in body
                   for col in re.findall(r"_row0_col(\d+)", rule)})


def test_styled_keeps_numbers_and_short_text_on_one_line_and_lets_long_text_wrap():
    frame = pd.DataFrame({"quote": ["a sentence of the paper, long enough to wrap"], "short": ["not run here"],
                          "error": ["3.91 ± 0.12"], "runs": [5], "started": ["2026-11-24"]})
    html = report.styled(frame).to_html()
    assert _cells_with(html, "white-space: nowrap") == ["1", "2", "3", "4"]  # short text, numbers, a date
    assert _cells_with(html, "min-width: 9em") == ["0"]  # the long quote wraps at a readable width
    assert 'style="font-size' not in html  # it fits the column in the body font


def test_styled_sets_a_wide_table_smaller_in_proportion_down_to_a_floor():
    def font(columns: int) -> float:
        frame = pd.DataFrame({f"column {i}": ["12345.67"] for i in range(columns)})
        match = re.search(r'companion-dense" style="font-size: ([\d.]+)em"', report.styled(frame).to_html())
        return float(match.group(1)) if match else 1.0

    assert font(7) == 1.0 and report.SMALLEST_FONT < font(9) < 1.0 and font(40) == report.SMALLEST_FONT


def test_styled_moves_notes_columns_under_the_table_with_markers_in_the_first_column():
    frame = pd.DataFrame({"model": ["a", "b", "c"], "checkpoint": ["a.pth", None, "c.pth"], "error": [1.0, 2.0, 3.0]})
    html = report.styled(frame, notes=["checkpoint"])._repr_html_()
    assert "a\u00a0¹" in html and "c\u00a0²" in html and "checkpoint</th>" not in html
    assert '<ol class="companion-notes"><li>checkpoint: a.pth</li><li>checkpoint: c.pth</li></ol>' in html
