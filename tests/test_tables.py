"""Tables 1 and 2: reported values, our parameter counts, and the lookup of reproduced runs."""

from __future__ import annotations

import pandas as pd
import pytest
import torchvision

from harmonic import results, tables
from harmonic.conversion import conversion_report


@pytest.mark.parametrize("text, expected", [(None, None), ("", None), ("none", None), ("3", 3), (2.0, 2),
                                            ("none-3-2", (None, 3, 2)), ("None-None-3-2", (None, None, 3, 2)),
                                            ([None, 3, 2], (None, 3, 2))])
def test_parse_level(text, expected):
    assert tables.parse_level(text) == expected


def test_table1_parameters_equal_reported():
    table = tables.table1()
    assert len(table) == 9
    reported = table.dropna(subset=["params (M) reported"])
    assert (reported["params (M) reported"] == reported["params (M) ours"]).all()
    assert table["cifar10 err reproduced"].isna().all()  # nothing is filled without a run


def test_table2_parameters_equal_reported():
    table = tables.table2()
    reported = table.dropna(subset=["params (M) reported"])
    assert len(reported) >= 5
    assert (reported["params (M) reported"] == reported["params (M) ours"]).all()


def _fake_run(root, name, params, test_acc):
    """A recorded run in the result-file format (only to test the lookup; not a result)."""
    results.save_run(root, name, [{"epoch": 1, "test_acc": test_acc - 1.0}, {"epoch": 2, "test_acc": test_acc}],
                     {"params": params, "seed": 0})


def test_reproduced_cells_come_from_matching_runs(tmp_path):
    base = {"dataset": "cifar10", "depth": 28, "widen_factor": 10, "harmonic": "all", "n_parameters": 1}
    _fake_run(tmp_path, "a", base | {"level": [None, 3, 2]}, 95.0)
    _fake_run(tmp_path, "b", base | {"level": [None, 3, 2]}, 97.0)
    _fake_run(tmp_path, "c", base | {"level": 2}, 90.0)
    _fake_run(tmp_path, "d", base | {"level": None, "dataset": "cifar100"}, 80.0)
    table = tables.table1([tmp_path]).set_index(["method", "compression", "dropout"], drop=False)
    progressive = table[table["compression"] == "progressive lambda"].iloc[0]
    assert progressive["cifar10 err reproduced"] == pytest.approx(4.0) and progressive["cifar10 runs"] == 2
    lam2 = table[table["compression"] == "lambda=2"].iloc[0]
    assert lam2["cifar10 err reproduced"] == pytest.approx(10.0) and pd.isna(lam2["cifar100 err reproduced"])
    full = table[(table["method"] == "Harm-WRN-28-10") & table["compression"].isna()].iloc[0]
    assert full["cifar100 err reproduced"] == pytest.approx(20.0) and full["cifar10 runs"] == 0
    points = tables.figure4_points(tables.table1([tmp_path]))
    assert (points["source"] == "reproduced").sum() == 3


def test_conversion_is_exact_for_the_full_basis_only():
    model = torchvision.models.resnet18(num_classes=10)
    import torch

    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    report = conversion_report(model, x, variants={"full": None, "lambda 2": {"layer3": 2, "layer4": 2}})
    full, truncated = report.set_index("variant").loc["full"], report.set_index("variant").loc["lambda 2"]
    assert full["relative error"] < 1e-5
    assert truncated["relative error"] > 1e-3
    assert truncated["parameters"] < report.set_index("variant").loc["original (nn.Conv2d)", "parameters"]
