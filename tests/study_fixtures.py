"""Recorded runs of a small synthetic Harmonic-MLP study, shared by the study's tests.

The synthetic result folders below are test fixtures for the aggregation logic (numbers chosen so
that the expected means, baselines and verdicts can be checked by hand), never results. Test
modules import ``study_dir`` from here (pytest puts ``tests/`` on the import path) to use it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from harmonic import results
from harmonic.experiments.mlp import MLPConfig

# (dataset, variant, model, extra MLPConfig fields, final test accuracy of seeds 0, 1, 2)
FIXTURE = [
    ("mnist", "seed-faithful", "harmonic", {}, (98.0, 98.2, 98.4)),
    ("mnist", "fao-off", "harmonic", {"freq_scale_factor": None}, (98.1, 98.3, 98.5)),
    ("mnist", "freq-linear", "harmonic", {"model_options": {"freq_scheme": "linear"}}, (98.6, 98.7, 98.8)),
    ("mnist", "relu", "relu", {}, (98.3, 98.4, 98.5)),
    ("mnist", "relu-lr-3e-3", "relu", {"lr": 0.003}, (98.5, 98.6, 98.7)),
    ("fashion-mnist", "seed-faithful", "harmonic", {}, (89.0, 89.2, 89.4)),
    ("fashion-mnist", "relu", "relu", {}, (88.0, 88.5, 89.0)),
]


def _params(dataset: str, model: str, seed: int, extra: dict) -> dict:
    config = MLPConfig(dataset=dataset, model=model, seed=seed, epochs=3, **extra)
    return asdict(config) | {"n_parameters": 1000 if model == "harmonic" else 900}


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    """Result folders named as the study profile names them, three epochs each."""
    root = tmp_path / "mlp-study"
    for dataset, variant, model, extra, finals in FIXTURE:
        for seed, final in enumerate(finals):
            metrics = [
                {"epoch": 1, "train_loss": 0.5, "test_acc": final - 2.0, "lr": 1e-3, "seconds": 1.0},
                {"epoch": 2, "train_loss": 0.3, "test_acc": final + 0.5, "lr": 1e-3, "seconds": 2.0},
                {"epoch": 3, "train_loss": 0.2, "test_acc": final, "lr": 1e-3, "seconds": 3.0},
            ]
            record = {"params": _params(dataset, model, seed, extra), "seed": seed, "device": "cpu",
                      "git": {"commit": "0" * 40, "dirty": False},
                      "plan": {"profile": "study", "group": "mlp-study", "variant": variant,
                               "point": {"dataset": dataset}}}
            results.save_run(root, f"{variant}-dataset{dataset}-{model}-s{seed}", metrics, record)
    return root
