"""harmonic.experiments.wrn: the WRN runner on tiny CIFAR files, and the Figure 3 table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from dataset_files import cifar_root  # noqa: F401 (the fixture)


def test_frequency_weights_table():
    from harmonic.models import wrn
    from harmonic.experiments.wrn import frequency_weights

    model = wrn(10, 1, harmonic="all", level=(None, 3, 2))
    stem = model.conv1
    with torch.no_grad():
        stem.weight.copy_(-torch.arange(9.0).expand_as(stem.weight))
    table = frequency_weights(model)
    assert list(table["layer"][:2]) == ["conv1", "layer1.0.conv1"] and table["index"].tolist() == list(range(7))
    assert table.loc[0, ["(0,0)", "(1,1)", "(2,2)"]].tolist() == [0.0, 4.0, 8.0]
    lam2 = table[table["layer"] == "layer3.0.conv1"].iloc[0]
    assert lam2["n_filters"] == 3 and lam2["level"] == 2
    assert lam2[["(0,0)", "(0,1)", "(1,0)"]].notna().all() and lam2[["(1,1)", "(0,2)"]].isna().all()
    expected = model.layer3[0].conv1.weight.abs().mean(dim=(0, 1))
    assert np.allclose(lam2[["(0,0)", "(0,1)", "(1,0)"]].astype(float), expected.detach().numpy())
    assert pd.isna(table.loc[0, "level"])
    assert frequency_weights(wrn(10, 1)).empty


def test_run_wrn_records_results_and_figure3(cifar_root, tmp_path):
    from harmonic.results import load_runs
    from harmonic.experiments.wrn import FREQUENCY_WEIGHTS_FILE, run_wrn

    root, _ = cifar_root
    params = dict(dataset="cifar10", depth=10, widen_factor=1, harmonic="all", level=[None, 3, 2], dropout=0.0,
                  epochs=2, batch_size=8, lr=0.01, milestones=[1], seed=0, device="cpu")
    run = run_wrn(results_dir=tmp_path, run_name="tiny", data_root=str(root), checkpoint=True, progress=False,
                  **params)
    folder = tmp_path / "tiny"
    metrics = pd.read_csv(folder / "metrics.csv")
    assert metrics["epoch"].tolist() == [1, 2] and metrics["lr"].tolist() == pytest.approx([0.01, 0.002])
    record = json.loads((folder / "provenance.json").read_text())
    from harmonic.utils import count_parameters

    assert record["params"]["n_parameters"] == count_parameters(run.model) > 0
    assert record["params"]["level"] == [None, 3, 2] and record["params"]["weight_decay"] == 5e-4
    # the recipe: the authors' by default (their initial weights, momentum reset at each lr drop)
    assert record["params"]["init"] == "authors" and record["params"]["reset_momentum"] is True
    table = pd.read_csv(folder / FREQUENCY_WEIGHTS_FILE)
    assert len(table) == 7 and "(2,2)" in table.columns
    pd.testing.assert_frame_equal(table, run.frequency_weights, check_dtype=False)
    assert len(load_runs(tmp_path)) == 2
    # a rerun resumes from the checkpoint and reproduces the same numbers without training
    again = run_wrn(results_dir=tmp_path, run_name="tiny", data_root=str(root), checkpoint=True, progress=False,
                    **params)
    pd.testing.assert_frame_equal(again.metrics, run.metrics)


def test_run_wrn_plain_and_errors(cifar_root):
    from harmonic.experiments.wrn import run_wrn

    root, _ = cifar_root
    run = run_wrn(data_root=str(root), progress=False, dataset="cifar100", depth=10, widen_factor=1, harmonic="none",
                  epochs=1, milestones=[], batch_size=4, augment=False, device="cpu")
    assert run.folder is None and run.frequency_weights is None and len(run.metrics) == 1
    with pytest.raises(ValueError, match="unknown parameter"):
        run_wrn(data_root=str(root), widen=2)
