"""Tables 1 and 2: reported values, our parameter counts, and the lookup of reproduced runs."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from harmonic import results
from harmonic.analysis import report, tables


@pytest.mark.parametrize("text, expected", [(None, None), ("", None), ("none", None), ("3", 3), (2.0, 2),
                                            ("none-3-2", (None, 3, 2)), ("None-None-3-2", (None, None, 3, 2)),
                                            ([None, 3, 2], (None, 3, 2))])
def test_level_from_cell(text, expected):
    assert tables.level_from_cell(text) == expected


def test_paper_tables_have_every_printed_row():
    table1, table2 = tables.table1(), tables.table2()
    assert len(table1) == 11 and len(table2) == 9
    assert list(table2["type"].drop_duplicates()) == ["fully trained", "converted + finetuned", "benchmark"]
    # spot checks against the paper's text (../shared/seeds/001_...txt, Tables 1 and 2)
    row = table1[table1["method"] == "Harm1-WRN-28-10 (no BN)"].iloc[0]
    assert (row["cifar10 err reported"], row["cifar100 err reported"], row["dropout"]) == (4.10, 19.17, "no")
    row = table1[table1["compression"] == "progressive λ"].iloc[0]
    assert (row["params (M) reported"], row["cifar10 err reported"], row["cifar100 err reported"]) == (15.7, 3.93, 19.04)
    assert table2["top-1 err reported"].head(4).tolist() == [24.36, 23.34, 23.58, 23.71]
    assert table2.set_index("model").loc["ScatResNet-50 [23]", "top-5 err reported"] == 8.0


def test_our_parameter_counts_equal_the_reported_ones():
    for table in (tables.table1(), tables.table2()):
        ours = table.dropna(subset=["params (M) ours"])
        assert len(ours) >= 7
        assert (ours["params (M) reported"] == ours["params (M) ours"]).all()


def _fake_run(root, name, params, test_acc):
    """A recorded run in the result-file format (only to test the lookup; not a result)."""
    results.save_run(root, name, [{"epoch": 1, "test_acc": test_acc - 1.0}, {"epoch": 2, "test_acc": test_acc}],
                     {"params": params, "seed": 0})


def test_reproduced_cells_are_medians_of_matching_runs(tmp_path):
    base = {"dataset": "cifar10", "depth": 28, "widen_factor": 10, "harmonic": "all", "n_parameters": 1,
            "stem_spectral_bn": True}
    _fake_run(tmp_path, "a", base | {"level": [None, 3, 2], "dropout": 0.0}, 95.0)
    _fake_run(tmp_path, "b", base | {"level": [None, 3, 2], "dropout": 0.0}, 97.0)
    _fake_run(tmp_path, "b2", base | {"level": [None, 3, 2], "dropout": 0.0}, 90.0)
    _fake_run(tmp_path, "c", base | {"level": 2, "dropout": 0.3}, 90.0)
    _fake_run(tmp_path, "d", base | {"level": None, "dataset": "cifar100", "dropout": 0.3}, 80.0)
    _fake_run(tmp_path, "e", base | {"harmonic": "stem", "level": None, "stem_spectral_bn": False, "dropout": 0.0}, 96.0)
    table = tables.table1([tmp_path])
    progressive = table[table["compression"] == "progressive λ"].iloc[0]
    assert progressive["cifar10 err reproduced"] == pytest.approx(5.0) and progressive["cifar10 runs"] == 3  # median
    lam2 = table[table["compression"] == "λ=2"].iloc[0]
    assert lam2["cifar10 err reproduced"] == pytest.approx(10.0) and pd.isna(lam2["cifar100 err reproduced"])
    full = table[(table["method"] == "Harm-WRN-28-10") & table["compression"].isna()].iloc[0]
    assert full["cifar100 err reproduced"] == pytest.approx(20.0) and full["cifar10 runs"] == 0
    no_bn = table[table["method"] == "Harm1-WRN-28-10 (no BN)"].iloc[0]
    assert no_bn["cifar10 err reproduced"] == pytest.approx(4.0)
    harm1 = table[table["method"] == "Harm1-WRN-28-10"]
    assert (harm1["cifar10 runs"] == 0).all()  # the no-BN run is not a Harm1 run with BN
    points = tables.figure4_points(table)
    assert set(points[points["source"] == "reproduced"]["model"]) == {"Harm-WRN-28-10 (λ=2)", "Harm-WRN-28-10"}


def test_a_run_fills_the_reproduced_cell_of_its_row_and_of_no_other(tmp_path):
    _fake_run(tmp_path, "wrn", {"dataset": "cifar100", "depth": 28, "widen_factor": 10, "harmonic": None,
                                "level": None, "dropout": 0.3, "n_parameters": 1}, 81.0)
    table = tables.table1([tmp_path])
    filled = table[table["cifar100 runs"] > 0]
    assert filled[["method", "dropout", "cifar100 runs"]].values.tolist() == [["WRN-28-10", "yes", 1]]
    assert filled["cifar100 err reproduced"].item() == pytest.approx(19.0)
    assert table.drop(filled.index)["cifar100 err reproduced"].isna().all()
    assert (table["cifar10 runs"] == 0).all() and table["cifar10 err reproduced"].isna().all()
    view = tables.table1_view(table).set_index(("", "method"))
    here = view[("CIFAR-100 error (%)", "here")]
    assert here.loc["WRN-28-10"] == "19.00 (1 run)"
    # the benchmark is another method: no model of ours, no run of it
    assert view.loc["Gabor CNN 3-28 [20]", [("parameters (M)", "ours"), ("CIFAR-100 error (%)", "here")]].tolist() \
        == [tables.OTHER_METHOD, tables.OTHER_METHOD]
    assert (here.drop(["WRN-28-10", "Gabor CNN 3-28 [20]"]) == tables.NOT_RUN).all()


def _seed_block(start: str, end: str) -> list[str]:
    """Lines of the paper's text (../shared/seeds) from the line ``start`` to the caption starting ``end``."""
    seeds = sorted((Path(__file__).resolve().parents[2] / "shared" / "seeds").glob("001_*.txt"))
    if not seeds:
        pytest.skip("the paper's text (../shared/seeds/001_*.txt) is not beside this checkout")
    lines = [line.strip() for line in seeds[0].read_text().splitlines()]
    first = lines.index(start)
    last = next(i for i in range(first, len(lines)) if lines[i].startswith(end))
    return lines[first:last]


def _numbers(lines: list[str]) -> list[str]:
    return [line for line in lines if re.fullmatch(r"\d+(\.\d+)?M?", line)]


@pytest.mark.parametrize("name, start, end, columns", [
    ("table1_wrn_cifar.csv", "Method", "Table 1:", ["params_M", "cifar10_err", "cifar100_err"]),
    ("table2_resnet50_imagenet.csv", "Type", "Table 2:", ["params_M", "top1_err", "top5_err"]),
])
def test_paper_files_match_the_papers_text_to_the_printed_digit(name, start, end, columns):
    printed = report.reported(name, as_printed=True)
    expected = [f"{row[c]}M" if c == "params_M" else row[c] for _, row in printed.iterrows() for c in columns]
    assert _numbers(_seed_block(start, end)) == expected
    names = [re.sub(r" \[\d+\]$", "", m) for m in printed[printed.columns[0 if name.startswith("table1") else 1]]]
    text = " ".join(_seed_block(start, end))
    assert all(n.split(" (no BN)")[0] in text for n in names)


def test_table1_dropout_ticks_match_the_papers_text():
    block = _seed_block("Method", "Table 1:")
    ticks, row = [], -1
    for line in block[2:]:  # after the header lines
        if re.fullmatch(r"\d+(\.\d+)?M", line):
            row += 1
        if line == "X":
            ticks.append(row + 1)  # the tick precedes the row's parameter count
    printed = report.reported("table1_wrn_cifar.csv", as_printed=True)
    assert sorted(set(ticks)) == [i for i, d in enumerate(printed["dropout"]) if d == "yes"]


@pytest.mark.parametrize("cell, harmonic", [(None, None), (float("nan"), None), ("none", None), ("stem", "stem"),
                                            ("all", "all")])
def test_harmonic_from_cell(cell, harmonic):
    assert tables.harmonic_from_cell(cell) == harmonic


@pytest.mark.parametrize("cell, flag", [("yes", True), (" Yes ", True), ("no", False), ("", None), (None, None),
                                        (float("nan"), None)])
def test_yes_from_cell_leaves_a_blank_cell_undecided(cell, flag):
    assert tables.yes_from_cell(cell) is flag
