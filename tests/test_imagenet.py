"""The ImageNet training script on a tiny generated ImageFolder: one process, and two through torchrun (gloo).

ResNet-50 at 48×48 with a batch of 2 per process and one step per epoch: only the
mechanics (distributed sampler, metrics, checkpoints, resume) are tested; the
numbers mean nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harmonic.experiments.imagenet import main, run_name_for, topk_correct

METRIC_COLUMNS = ["epoch", "train_loss", "train_top1_err", "train_top5_err", "val_loss", "val_top1_err",
                  "val_top5_err", "lr", "seconds"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """2 classes × 4 training and × 2 validation JPEGs of 48×48."""
    from PIL import Image

    root = tmp_path_factory.mktemp("imagenet")
    rng = np.random.default_rng(0)
    for split, count in (("train", 4), ("val", 2)):
        for label in ("n01440764", "n01443537"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(folder / f"{label}_{i}.JPEG")
    return root


def _args(tree: Path, results: Path, epochs: int, *extra: str) -> list[str]:
    return ["--data", str(tree), "--results-dir", str(results), "--epochs", str(epochs), "--batch-size", "4",
            "--lr", "0.01", "--image-size", "48", "--val-resize", "48", "--max-steps-per-epoch", "1",
            "--workers", "0", "--device", "cpu", *extra]


def _torchrun(args: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
               "-m", "harmonic.experiments.imagenet", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def test_run_name():
    assert run_name_for("resnet50", "all", (None, None, 3, 2), False) == "resnet50-all-none-none-3-2"
    assert run_name_for("resnet50", "none", None, True) == "resnet50-plain-maxpool"


def test_topk_correct():
    import torch

    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]])
    top1, top5 = topk_correct(logits, torch.tensor([1, 2, 0]))
    assert (top1.item(), top5.item()) == (1, 3)  # top-5 of 3 classes: every label


@pytest.fixture(scope="module")
def single_run(tree, tmp_path_factory) -> tuple[Path, list[dict]]:
    """One epoch of Harm-ResNet-50 (progressive lambda) in this process; its results folder and history."""
    results = tmp_path_factory.mktemp("single") / "results"
    history = main(_args(tree, results, 1, "--harmonic", "all", "--level", "none", "none", "3", "2"))
    return results / "resnet50-all-none-none-3-2", history


def test_single_process_writes_results(single_run):
    folder, history = single_run
    metrics = pd.read_csv(folder / "metrics.csv")
    assert list(metrics.columns[:8]) == METRIC_COLUMNS[:8] and "seconds" in metrics
    assert metrics["epoch"].tolist() == [1] and len(history) == 1
    assert metrics["images"].tolist() == [4] and np.isfinite(metrics[METRIC_COLUMNS].to_numpy(float)).all()
    assert metrics["lr"].tolist() == [0.01]
    record = json.loads((folder / "provenance.json").read_text())
    assert record["params"]["world_size"] == 1 and record["params"]["num_classes"] == 2
    assert record["params"]["level"] == [None, None, 3, 2] and record["params"]["n_parameters"] > 0
    # the recipe: the authors' Harm2d init, momentum kept across lr drops (their imagenet/main.py)
    assert record["params"]["init"] == "authors" and record["params"]["reset_momentum"] is False
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.pt", "metrics.csv", "provenance.json"]


def test_rerun_resumes_and_refuses_another_network(single_run, tree, capsys):
    folder, history = single_run
    args = _args(tree, folder.parent, 1, "--harmonic", "all", "--level", "none", "none", "3", "2")
    assert main(args) == history  # finished: nothing left to train
    assert "resumed from" in capsys.readouterr().out
    with pytest.raises(ValueError, match="checkpoint .* is for model"):
        main(_args(tree, folder.parent, 2, "--harmonic", "stem", "--run-name", folder.name))


def test_bad_options(tree, tmp_path):
    with pytest.raises(SystemExit):
        main(_args(tree, tmp_path, 1, "--level", "3", "2"))
    with pytest.raises(SystemExit):
        main(_args(tree, tmp_path, 1, "--model-kwargs", "[2]"))
    with pytest.raises(ValueError, match="epochs must be a positive"):
        main(_args(tree, tmp_path, 0))
    with pytest.raises(ValueError, match="model_kwargs must not repeat"):
        main(_args(tree, tmp_path, 1, "--model-kwargs", '{"maxpool": true}'))


def test_torchrun_two_processes_resume_a_run(single_run, tree, tmp_path):
    """torchrun (2 CPU processes, gloo) continues the one-process run for a second epoch.

    The global batch (4) stays the same, so the run may change its number of processes.
    """
    source, _ = single_run
    folder = tmp_path / "results" / source.name
    shutil.copytree(source, folder)
    epoch1 = pd.read_csv(folder / "metrics.csv")
    args = _args(tree, folder.parent, 2, "--harmonic", "all", "--level", "none", "none", "3", "2",
                 "--model-kwargs", '{"num_classes": 2}')
    done = _torchrun(args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resumed from" in done.stdout and "after epoch 1" in done.stdout
    assert done.stdout.count("epoch 2/2:") == 1  # only rank 0 logs
    runs = [p.parent for p in folder.parent.rglob("metrics.csv")]
    assert runs == [folder]  # one run folder, written by rank 0 only
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.pt", "metrics.csv", "provenance.json"]
    metrics = pd.read_csv(folder / "metrics.csv")
    assert metrics["epoch"].tolist() == [1, 2]
    pd.testing.assert_frame_equal(metrics.iloc[:1], epoch1)  # epoch 1 comes from the checkpoint, not rerun
    assert metrics["images"].tolist() == [4, 4]  # one step of 4, then of 2 images on each of the 2 processes
    record = json.loads((folder / "provenance.json").read_text())
    assert record["params"]["world_size"] == 2 and record["params"]["batch_size_per_process"] == 2
    assert record["resumed_after_epoch"] == 1


@pytest.fixture(scope="module")
def plain_run(tree, tmp_path_factory) -> Path:
    """One epoch of the plain no-maxpool ResNet-50: the network Table 2's converted rows start from."""
    results = tmp_path_factory.mktemp("plain") / "results"
    main(_args(tree, results, 1))
    return results / "resnet50-plain"


def test_convert_from_a_trained_plain_network_then_finetune(plain_run, tree, tmp_path):
    plain = pd.read_csv(plain_run / "metrics.csv").iloc[-1]
    checkpoint = str(plain_run / "checkpoint.pt")
    # full basis: the converted network validates exactly as the plain one before fine-tuning
    history = main(_args(tree, tmp_path, 1, "--convert-from", checkpoint, "--harmonic", "all", "--run-name", "full"))
    assert [row["epoch"] for row in history] == [0, 1]
    assert history[0]["val_top1_err"] == plain["val_top1_err"] and history[0]["val_loss"] == pytest.approx(
        plain["val_loss"], rel=1e-4)
    record = json.loads((tmp_path / "full" / "provenance.json").read_text())
    assert record["params"]["convert_from"] == checkpoint and record["params"]["n_parameters"] == 25_557_032 - 1000 * 2048 - 1000 + 2 * 2048 + 2
    # progressive lambda: fewer parameters, one fine-tuning epoch after epoch 0, resumable like a run
    main(_args(tree, tmp_path, 1, "--convert-from", checkpoint, "--harmonic", "all", "--level", "none", "none", "3",
               "2", "--run-name", "progressive"))
    metrics = pd.read_csv(tmp_path / "progressive" / "metrics.csv")
    assert metrics["epoch"].tolist() == [0, 1] and np.isfinite(metrics["val_top1_err"]).all()
    again = main(_args(tree, tmp_path, 1, "--convert-from", checkpoint, "--harmonic", "all", "--level", "none",
                       "none", "3", "2", "--run-name", "progressive"))
    assert [row["epoch"] for row in again] == [0, 1]  # finished: resumed, nothing converted or trained again
    with pytest.raises(ValueError, match="convert_from converts into the paper's no-maxpool harmonic network"):
        main(_args(tree, tmp_path, 1, "--convert-from", checkpoint, "--harmonic", "stem"))


def test_evaluate_a_checkpoint_records_one_row(plain_run, tree, tmp_path):
    plain = pd.read_csv(plain_run / "metrics.csv").iloc[-1]
    rows = main(_args(tree, tmp_path, 1, "--evaluate", "--checkpoint", str(plain_run / "checkpoint.pt")))
    assert len(rows) == 1 and rows[0]["val_top1_err"] == plain["val_top1_err"]
    metrics = pd.read_csv(tmp_path / "evaluate-checkpoint" / "metrics.csv")
    assert metrics["epoch"].tolist() == [0] and metrics["val_images"].tolist() == [4]
    with pytest.raises(ValueError, match="evaluate and checkpoint go together"):
        main(_args(tree, tmp_path, 1, "--evaluate"))
    with pytest.raises(ValueError, match="checkpoint: no file at"):
        main(_args(tree, tmp_path, 1, "--evaluate", "--checkpoint", str(tmp_path / "missing.pth")))
