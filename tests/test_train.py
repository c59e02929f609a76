"""The training loop: determinism, checkpoint/resume, schedules, and parameter errors."""

from __future__ import annotations

import pytest
import torch

from harmonic.mlp import HarmonicMLP, ReLUMLP
from harmonic.experiments.train import fit, make_optimizer, make_scheduler, seed_everything

METRICS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr"]


def _run(toy_data, epochs, checkpoint=None, stop_after=None, seed=3, model_seed=0):
    seed_everything(model_seed)
    model = HarmonicMLP(hidden_sizes=(32, 16), max_freqs=(5.0, 3.0))
    optimizer = make_optimizer(model, "adam", lr=1e-2, weight_decay=1e-5, freq_scale_factor=0.1)
    scheduler = make_scheduler(optimizer, "plateau")
    history = fit(model, optimizer, *toy_data, epochs=epochs, batch_size=64, seed=seed, scheduler=scheduler,
                  device="cpu", checkpoint_path=checkpoint, stop_after=stop_after, progress=False)
    return model, [{k: row[k] for k in METRICS} for row in history]


def test_same_seed_same_numbers(toy_data):
    model_a, a = _run(toy_data, 2)
    model_b, b = _run(toy_data, 2)
    assert a == b
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(pa, pb)


def test_different_seed_different_order(toy_data):
    _, a = _run(toy_data, 1, seed=3)
    _, b = _run(toy_data, 1, seed=4)
    assert a[0]["train_loss"] != b[0]["train_loss"]


def test_resume_equals_uninterrupted(toy_data, tmp_path):
    ckpt = tmp_path / "run" / "checkpoint.pt"
    _, first = _run(toy_data, 2, checkpoint=ckpt, stop_after=1)
    assert len(first) == 1 and ckpt.exists()
    # a new process would rebuild the model from scratch; fit() then loads the checkpoint
    model_resumed, resumed = _run(toy_data, 2, checkpoint=ckpt)
    model_straight, straight = _run(toy_data, 2)
    assert resumed == straight
    for pa, pb in zip(model_resumed.parameters(), model_straight.parameters()):
        assert torch.equal(pa, pb)


def test_learns_the_toy_problem(toy_data):
    seed_everything(0)
    model = ReLUMLP(hidden_sizes=(64,))
    optimizer = make_optimizer(model, "adam", lr=1e-2)
    history = fit(model, optimizer, *toy_data, epochs=5, batch_size=50, seed=0, device="cpu", progress=False)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["train_acc"] > 50.0


def test_multistep_schedule_changes_lr(toy_data):
    seed_everything(0)
    model = ReLUMLP(hidden_sizes=(16,))
    optimizer = make_optimizer(model, "sgd", lr=0.1, momentum=0.9, weight_decay=5e-4)
    scheduler = make_scheduler(optimizer, "multistep", milestones=(1, 2), gamma=0.2)
    history = fit(model, optimizer, *toy_data, epochs=3, batch_size=100, seed=0, scheduler=scheduler,
                  device="cpu", progress=False)
    assert [round(r["lr"], 6) for r in history] == [0.1, 0.02, 0.004]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"epochs": 0}, "epochs must be a positive integer"), ({"epochs": 1.5}, "epochs"),
     ({"batch_size": -8}, "batch_size must be a positive integer"), ({"stop_after": 0}, "stop_after")],
)
def test_fit_rejects_bad_parameters(toy_data, kwargs, match):
    model = ReLUMLP(hidden_sizes=(8,))
    optimizer = make_optimizer(model, lr=1e-3)
    params = {"epochs": 1, "batch_size": 32, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        fit(model, optimizer, *toy_data, progress=False, **params)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"name": "rmsprop"}, r"optimizer must be one of \['adam', 'sgd'\]"), ({"lr": 0}, "lr must be a positive"),
     ({"lr": -1e-3}, "lr"), ({"weight_decay": -1}, "weight_decay")],
)
def test_make_optimizer_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_optimizer(ReLUMLP(hidden_sizes=(8,)), **kwargs)


def test_unknown_scheduler_and_seed():
    optimizer = make_optimizer(ReLUMLP(hidden_sizes=(8,)))
    with pytest.raises(ValueError, match="scheduler must be one of"):
        make_scheduler(optimizer, "exponential")
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        seed_everything(-1)
