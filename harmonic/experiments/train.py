"""One training loop for every experiment of the companion.

Data are in-memory tensors (see :mod:`harmonic.datasets.mnist`), moved to the device once.
Each epoch starts by re-seeding torch from ``(seed, epoch)``: the shuffling order,
dropout masks and augmentation of epoch ``e`` depend only on the seed and ``e``.
That makes two runs with the same seed identical on the CPU, and a run resumed
from its epoch-``e`` checkpoint identical to one that never stopped.

A checkpoint (:mod:`harmonic.experiments.checkpoints`) records the run's configuration; it
resumes only a run of the same configuration (a larger ``epochs`` continues it), and it is read
with ``torch.load(weights_only=True)``, so a crafted file cannot run code.

Accuracies are in percent; losses are mean cross-entropy per example.

:func:`run_epoch` is the one pass over batches that everything trains and evaluates with:
:func:`fit` and :func:`evaluate` over in-memory tensors (:func:`tensor_batches`), and the
ImageNet script (:mod:`harmonic.experiments.imagenet`) over DataLoaders, with top-1/top-5 sums
(a :class:`Metric`), an all-reduce of the sums over processes and a step limit; both write and
resume checkpoints with :func:`~harmonic.experiments.checkpoints.training_state` and
:func:`~harmonic.experiments.checkpoints.resume_training`.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from harmonic.experiments.checkpoints import plain, resume_training, save_checkpoint, trained_epochs, training_state
from harmonic.experiments.checks import check_int, check_milestones, check_number

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = (None, "plateau", "multistep", "step", "cosine")


def select_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"`` → CUDA when available, else CPU; anything else as given."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of epoch ``epoch`` (1-based) of a run seeded with ``seed``."""
    return (int(seed) * 1_000_003 + int(epoch) * 7_919) % (2**63 - 1)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) and Python's ``random``; call before building a model."""
    import random

    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    torch.manual_seed(seed)


def make_optimizer(
    model: nn.Module,
    name: str = "adam",
    *,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    nesterov: bool = False,
    freq_scale_factor: float | None = None,
) -> torch.optim.Optimizer:
    """Adam or SGD over ``model``'s parameters, optionally wrapped in a
    :class:`~harmonic.mlp.FrequencyAwareOptimizer` (``freq_scale_factor`` not None)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {name!r}")
    check_number("lr", lr)
    if not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    params = model.parameters()
    if name == "adam":
        optimizer: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    if freq_scale_factor is not None:
        from harmonic.mlp import FrequencyAwareOptimizer

        optimizer = FrequencyAwareOptimizer(optimizer, model, freq_scale_factor=freq_scale_factor)
    return optimizer


def make_scheduler(
    optimizer: torch.optim.Optimizer,
    name: str | None = None,
    *,
    epochs: int | None = None,
    patience: int = 2,
    milestones: tuple[int, ...] = (),
    gamma: float = 0.1,
    step_size: int = 30,
):
    """Learning-rate schedule stepped once per epoch.

    ``"plateau"``: ReduceLROnPlateau(patience) on the training loss (the Harmonic MLP seed);
    ``"multistep"``: ×``gamma`` at ``milestones`` (WRN: 0.2 at 60/120/160);
    ``"step"``: ×``gamma`` every ``step_size`` epochs (ResNet: 0.1 every 30);
    ``"cosine"``: cosine annealing over ``epochs``.
    """
    if name not in SCHEDULERS:
        raise ValueError(f"scheduler must be one of {list(SCHEDULERS)}, got {name!r}")
    sched = torch.optim.lr_scheduler
    if name is None:
        return None
    if name == "plateau":
        return sched.ReduceLROnPlateau(optimizer, mode="min", patience=patience)
    if name in ("multistep", "step"):
        check_number("gamma", gamma)
    if name == "multistep":
        check_milestones(milestones, epochs)
        return sched.MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)
    if name == "step":
        check_int("step_size", step_size)
        return sched.StepLR(optimizer, step_size=step_size, gamma=gamma)
    check_int("epochs", epochs)
    return sched.CosineAnnealingLR(optimizer, T_max=int(epochs))


def batch_indices(n: int, batch_size: int, generator: torch.Generator | None) -> Iterator[torch.Tensor]:
    """Index batches over ``n`` examples: shuffled with ``generator``, in order without one."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    yield from order.split(batch_size)


def tensor_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int,
                   generator: torch.Generator | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, y)`` batches of in-memory tensors, in the order of :func:`batch_indices`."""
    for idx in batch_indices(len(y), batch_size, generator):
        idx = idx.to(x.device)
        yield x[idx], y[idx]


@dataclass(frozen=True)
class Metric:
    """What :func:`run_epoch` sums over the batches: ``of(logits, target, loss)`` gives ``size``
    numbers of ``dtype`` for one batch (``loss``: its mean cross-entropy, detached)."""

    of: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
    size: int
    dtype: torch.dtype = torch.float32


def _train_sums(logits: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    return torch.stack([loss * len(target), (logits.argmax(1) == target).sum().float()])


def _eval_sums(logits: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    summed = F.cross_entropy(logits, target, reduction="sum")
    return torch.stack([summed.double(), (logits.argmax(1) == target).sum().double()])


#: [loss × examples, correct] in float32, the sums :func:`fit` has always reported (so its numbers
#: stay those of the recorded runs; the counts are exact up to 2**24 examples per epoch).
TRAIN_SUMS = Metric(_train_sums, 2)
#: [summed cross-entropy, correct] in float64 (the sum of the per-batch float32 sums): :func:`evaluate`.
EVAL_SUMS = Metric(_eval_sums, 2, torch.float64)


@dataclass(frozen=True)
class EpochSums:
    """What :func:`run_epoch` summed (after ``reduce``), over how many steps, in how many seconds."""

    sums: torch.Tensor
    steps: int
    seconds: float


def run_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    device: torch.device,
    optimizer: torch.optim.Optimizer | None = None,
    metric: Metric = TRAIN_SUMS,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    max_steps: int | None = None,
    amp: bool = False,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
) -> EpochSums:
    """One pass of ``model`` over ``batches`` of ``(x, y)``: training with cross-entropy (one
    ``optimizer`` step per batch) when ``optimizer`` is given, else evaluation without gradients.

    Each batch is moved to ``device``, ``transform``-ed (e.g. augmented) and its ``metric``
    added to sums kept on the device (no synchronisation per step). ``max_steps``: stop after
    that many batches; ``amp``: bfloat16 autocast; ``on_step(step, loss)`` after each batch;
    ``reduce(sums)`` at the end, e.g. an all-reduce over processes (for DDP, pass the wrapped
    model and a sampler that was given the epoch).
    """
    training = optimizer is not None
    model.train(training)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if amp else nullcontext()
    sums = torch.zeros(metric.size, dtype=metric.dtype, device=device)
    steps = 0
    started = time.perf_counter()
    with torch.set_grad_enabled(training):
        for x, y in batches:
            if max_steps is not None and steps >= max_steps:
                break
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if transform is not None:
                x = transform(x)
            with autocast:
                logits = model(x)
                loss = F.cross_entropy(logits, y)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            sums += metric.of(logits.detach(), y, loss.detach())
            if on_step is not None:
                on_step(steps, loss)
            steps += 1
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    return EpochSums(reduce(sums) if reduce is not None else sums, steps, seconds)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (%) of ``model`` in eval mode on tensors already on its device."""
    loss_sum, correct = run_epoch(model, tensor_batches(x, y, batch_size, None), device=x.device,
                                  metric=EVAL_SUMS).sums.tolist()
    return loss_sum / len(y), 100.0 * correct / len(y)


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """Learning rate of the optimizer's first parameter group."""
    return float(optimizer.param_groups[0]["lr"])


def seed_epoch(seed: int, epoch: int, offset: int = 0, generator: torch.Generator | None = None) -> torch.Generator:
    """Seed torch and ``generator`` (a new one if None) with ``epoch_seed(seed, epoch) + offset``
    (e.g. the process rank) at the start of an epoch; return the generator."""
    value = epoch_seed(seed, epoch) + offset
    torch.manual_seed(value)
    return (generator if generator is not None else torch.Generator()).manual_seed(value)


def reset_momentum_buffers(optimizer: torch.optim.Optimizer) -> None:
    """Forget the optimizer's per-parameter state (SGD's momentum buffers), as a new optimizer would
    start: what the authors' CIFAR ``main.py`` does at every learning-rate drop."""
    optimizer.state.clear()


def step_scheduler(scheduler: Any, train_loss: float) -> None:
    """Step an epoch-wise schedule (ReduceLROnPlateau on the training loss); None: nothing."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(train_loss)
    elif scheduler is not None:
        scheduler.step()


def _progress(iterable, total: int, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False)


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_set: TensorDataset,
    test_set: TensorDataset,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    scheduler: Any = None,
    augment: Augment | None = None,
    device: str | torch.device | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    resume: bool = True,
    stop_after: int | None = None,
    progress: bool = True,
    eval_batch_size: int = 1000,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    config: Mapping[str, Any] | None = None,
    reset_momentum: bool = False,
) -> list[dict[str, Any]]:
    """Train ``model`` for ``epochs`` epochs; return one metrics dict per epoch.

    ``checkpoint_path``: after every epoch the model, optimizer, scheduler,
    metrics so far and the run's configuration (``config``, the run's parameters,
    with ``epochs``, ``batch_size`` and ``seed``) are saved there (atomically); with
    ``resume=True`` an existing checkpoint is loaded and training continues after
    its last epoch, if it is for the same configuration (see :func:`check_resume`:
    only a larger ``epochs`` continues a run).
    ``stop_after``: stop (with a checkpoint) after that many epochs in total, e.g.
    to split a long run across sessions. ``augment(x, generator)`` transforms a
    training batch on the device. ``reset_momentum``: whenever the scheduler lowers the learning rate,
    the optimizer's state is cleared (:func:`reset_momentum_buffers`), as the authors' CIFAR code
    does by creating a new SGD optimizer at every drop.
    """
    check_int("epochs", epochs)
    if not isinstance(reset_momentum, bool):
        raise ValueError(f"reset_momentum must be True or False, got {reset_momentum!r}")
    check_int("batch_size", batch_size)
    check_int("stop_after", stop_after, optional=True)
    dev = select_device(device)
    model.to(dev)
    x_train, y_train = (t.to(dev) for t in train_set.tensors)
    x_test, y_test = (t.to(dev) for t in test_set.tensors)

    run_config = plain({**(config or {}), "epochs": epochs, "batch_size": batch_size, "seed": seed})
    history: list[dict[str, Any]] = []
    if checkpoint_path is not None and resume and Path(checkpoint_path).exists():
        history = resume_training(checkpoint_path, model, optimizer, scheduler, run_config, map_location=dev,
                                  epochs_fixed=isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR))

    last_epoch = min(epochs, stop_after) if stop_after is not None else epochs
    n_batches = -(-len(y_train) // batch_size)
    for epoch in range(trained_epochs(history) + 1, last_epoch + 1):
        generator = seed_epoch(seed, epoch)
        batches = _progress(tensor_batches(x_train, y_train, batch_size, generator), n_batches, progress,
                            f"epoch {epoch}")
        transform = None if augment is None else (lambda xb, g=generator: augment(xb, g))
        train = run_epoch(model, batches, device=dev, optimizer=optimizer, transform=transform)
        loss_sum, correct = (v.item() for v in train.sums)
        train_loss = loss_sum / len(y_train)
        test_loss, test_acc = evaluate(model, x_test, y_test, eval_batch_size)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_acc": 100.0 * correct / len(y_train),
            "test_loss": test_loss,
            "test_acc": test_acc,
            "lr": current_lr(optimizer),
            "seconds": round(train.seconds, 3),
        }
        lr_before = current_lr(optimizer)
        step_scheduler(scheduler, train_loss)
        if reset_momentum and current_lr(optimizer) < lr_before:
            reset_momentum_buffers(optimizer)
        history.append(row)
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, training_state(model, optimizer, scheduler, history, seed=seed,
                                                            config=run_config))
        if on_epoch is not None:
            on_epoch(row)
    return history
