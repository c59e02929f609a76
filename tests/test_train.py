"""The training loop: determinism, checkpoint/resume, schedules, and parameter errors."""

from __future__ import annotations

import pytest
import torch

from harmonic.mlp import HarmonicMLP, ReLUMLP
from harmonic.experiments.train import (EVAL_SUMS, Metric, evaluate, fit, make_optimizer, make_scheduler, run_epoch,
                                        seed_everything, tensor_batches)

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


@pytest.mark.parametrize("reset", [True, False])
def test_momentum_is_reset_at_every_lr_drop_only_when_asked(toy_data, reset):
    """The authors' cifar/main.py creates a new SGD optimizer at each drop: no momentum buffer survives it."""
    seed_everything(0)
    model = ReLUMLP(hidden_sizes=(16,))
    optimizer = make_optimizer(model, "sgd", lr=0.1, momentum=0.9)
    scheduler = make_scheduler(optimizer, "multistep", milestones=(1, 3), gamma=0.2)
    buffers = []  # after each epoch (the scheduler stepped): parameters holding a momentum buffer
    fit(model, optimizer, *toy_data, epochs=4, batch_size=100, seed=0, scheduler=scheduler, device="cpu",
        progress=False, reset_momentum=reset,
        on_epoch=lambda row: buffers.append(sum("momentum_buffer" in s for s in optimizer.state.values())))
    n_params = len(list(model.parameters()))
    # drops after epochs 1 and 3: emptied right then with the reset; a later epoch fills them again
    assert buffers == ([0, n_params, 0, n_params] if reset else [n_params] * 4)


def test_reset_momentum_resumes_like_an_uninterrupted_run(toy_data, tmp_path):
    def run(stop_after, ckpt):
        seed_everything(0)
        model = ReLUMLP(hidden_sizes=(16,))
        optimizer = make_optimizer(model, "sgd", lr=0.1, momentum=0.9)
        scheduler = make_scheduler(optimizer, "multistep", milestones=(1,), gamma=0.2)
        return fit(model, optimizer, *toy_data, epochs=3, batch_size=100, seed=0, scheduler=scheduler, device="cpu",
                   progress=False, reset_momentum=True, checkpoint_path=ckpt, stop_after=stop_after)

    straight = run(None, None)
    run(1, tmp_path / "c.pt")
    resumed = run(None, tmp_path / "c.pt")
    assert [r["test_loss"] for r in resumed] == [r["test_loss"] for r in straight]


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


# ---------------------------------------------------------------- run_epoch, the one pass over batches
def _batches(n_batches=5, size=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, 6, generator=g), torch.randint(0, 3, (size,), generator=g)) for _ in range(n_batches)]


def test_run_epoch_reduce_gets_the_sums_and_its_result_is_returned():
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 3)
    batches = _batches()
    expected_loss = sum(torch.nn.functional.cross_entropy(model(x), y).item() * len(y) for x, y in batches)
    expected_correct = sum((model(x).argmax(1) == y).sum().item() for x, y in batches)
    seen = []

    def reduce(sums):
        seen.append(sums.clone())
        return sums * 2  # e.g. the all-reduce of two processes holding the same shard

    done = run_epoch(model, batches, device=torch.device("cpu"), metric=EVAL_SUMS, reduce=reduce)
    assert len(seen) == 1 and seen[0].dtype == torch.float64
    assert seen[0][0].item() == pytest.approx(expected_loss, rel=1e-6) and seen[0][1].item() == expected_correct
    assert torch.equal(done.sums, seen[0] * 2) and done.steps == 5
    assert not model.training  # no optimizer: evaluation


def test_run_epoch_max_steps_stops_early_and_trains_only_those_steps():
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    batches = _batches()
    count = Metric(lambda logits, target, loss: torch.tensor([float(len(target))]), 1, torch.float64)
    steps = []
    done = run_epoch(model, iter(batches), device=torch.device("cpu"), optimizer=optimizer, metric=count,
                     max_steps=2, on_step=lambda step, loss: steps.append(step))
    assert done.steps == 2 and done.sums.tolist() == [8.0] and steps == [0, 1] and model.training
    # the same two steps by hand give the same weights
    torch.manual_seed(0)
    reference = torch.nn.Linear(6, 3)
    by_hand = torch.optim.SGD(reference.parameters(), lr=0.5)
    for x, y in batches[:2]:
        by_hand.zero_grad()
        torch.nn.functional.cross_entropy(reference(x), y).backward()
        by_hand.step()
    assert torch.equal(model.weight, reference.weight) and torch.equal(model.bias, reference.bias)


def test_run_epoch_transforms_the_inputs_and_evaluation_leaves_the_model():
    model = torch.nn.Linear(6, 3)
    before = [p.clone() for p in model.parameters()]
    seen = []
    done = run_epoch(model, _batches(2), device=torch.device("cpu"),
                     transform=lambda x: seen.append(x.clone()) or torch.zeros_like(x))
    assert len(seen) == 2 and done.steps == 2
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    # zeroed inputs: every example gets the bias's argmax
    assert done.sums[1].item() == sum((y == model.bias.argmax()).sum().item() for _, y in _batches(2))


def test_evaluate_is_run_epoch_over_tensor_batches():
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 3)
    x, y = torch.randn(10, 6), torch.randint(0, 3, (10,))
    loss, acc = evaluate(model, x, y, batch_size=4)
    with torch.no_grad():
        expected = sum(torch.nn.functional.cross_entropy(model(x[i:i + 4]), y[i:i + 4], reduction="sum").item()
                       for i in range(0, 10, 4))
        correct = (model(x).argmax(1) == y).sum().item()
    assert loss == expected / 10 and acc == 100.0 * correct / 10
    assert [len(b) for b, _ in tensor_batches(x, y, 4, None)] == [4, 4, 2]
