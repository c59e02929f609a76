"""One training loop for every experiment of the companion.

Data are in-memory tensors (see :mod:`harmonic.datasets.mnist`), moved to the device once.
Each epoch starts by re-seeding torch from ``(seed, epoch)``: the shuffling order,
dropout masks and augmentation of epoch ``e`` depend only on the seed and ``e``.
That makes two runs with the same seed identical on the CPU, and a run resumed
from its epoch-``e`` checkpoint identical to one that never stopped.

A checkpoint records the run's configuration; it resumes only a run of the same
configuration (a larger ``epochs`` continues it), and it is read with
``torch.load(weights_only=True)``, so a crafted file cannot run code.

Accuracies are in percent; losses are mean cross-entropy per example.
"""

from __future__ import annotations

import io
import os
import pickle
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from harmonic.experiments.checks import check_int, check_milestones, check_number
from harmonic.results import atomic_write_bytes

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = (None, "plateau", "multistep", "step", "cosine")
#: Configuration keys a resumed run may change: where it runs, not what it computes.
RESUME_IGNORED = ("device",)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this run; the message names it and the way out."""


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


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (%) of ``model`` in eval mode on tensors already on its device."""
    model.eval()
    total_loss, correct = 0.0, 0
    for idx in batch_indices(len(y), batch_size, None):
        logits = model(x[idx])
        total_loss += F.cross_entropy(logits, y[idx], reduction="sum").item()
        correct += (logits.argmax(1) == y[idx]).sum().item()
    return total_loss / len(y), 100.0 * correct / len(y)


def _current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> None:
    """``torch.save`` to ``path`` atomically (the previous checkpoint survives a crash).

    ``state`` should hold only what :func:`load_checkpoint` reads back: tensors, dicts,
    lists, tuples, numbers, strings, booleans and None.
    """
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, map_location: Any = None) -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint`, read with ``torch.load(weights_only=True)``.

    Nothing but tensors and plain data is unpickled (a crafted file cannot run code).
    A damaged, truncated or foreign file raises :class:`CheckpointError` naming ``path``
    and the way out: delete it to start the run over.
    """
    way_out = f"delete {path} to start the run over"
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if "weights_only" in str(error) or "Weights only load failed" in str(error):
            raise CheckpointError(
                f"checkpoint {path} holds objects other than tensors and plain data, which are not loaded "
                f"(they could run code): {way_out}") from None
        raise CheckpointError(f"checkpoint {path} is damaged (UnpicklingError: {error}): {way_out}") from None
    except Exception as error:  # a damaged file fails in many ways: EOFError, RuntimeError, KeyError, ...
        first_line = next(iter(str(error).splitlines()), "")
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(error).__name__}: {first_line}); "
                              f"it is truncated or damaged: {way_out}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} is not a checkpoint (a dict), got {type(state).__name__}: {way_out}")
    return state


def plain(value: Any) -> Any:
    """``value`` as JSON-like data (tuples → lists, mappings → dicts with str keys, paths → str):
    how configurations are stored in checkpoints and compared."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def check_resume(
    path: str | os.PathLike,
    state: Mapping[str, Any],
    config: Mapping[str, Any],
    epochs_done: int,
    *,
    epochs_fixed: bool = False,
    ignored: tuple[str, ...] = RESUME_IGNORED,
) -> None:
    """Refuse to resume from checkpoint ``state`` (read from ``path``) a run whose ``config`` differs.

    Only ``epochs`` may change (not with ``epochs_fixed``, e.g. a cosine schedule spanning the
    run), and not below the ``epochs_done`` already trained; keys in ``ignored`` are not
    compared. Raises :class:`CheckpointError` naming the differing keys and how to start over.
    A checkpoint without a recorded configuration (older versions) resumes with a warning.
    """
    way_out = (f"delete {path} to start over, or use another run name (resume=False / checkpoint=False / "
               "--no-resume ignores the checkpoint)")
    epochs = config.get("epochs")
    if epochs is not None and epochs_done > epochs:
        raise CheckpointError(f"checkpoint {path} has {epochs_done} epochs trained, more than the epochs={epochs} "
                              f"asked for: ask for epochs >= {epochs_done}, or {way_out}")
    if state.get("config") is None:
        warnings.warn(f"checkpoint {path} was written before checkpoints recorded their configuration: "
                      f"its parameters cannot be checked (seed {state.get('seed')!r}); resuming", stacklevel=3)
        if "seed" in state and "seed" in config and state["seed"] != config["seed"]:
            raise CheckpointError(f"checkpoint {path} is for seed {state['seed']}, not {config['seed']}: {way_out}")
        return
    saved, wanted = plain(state["config"]), plain(config)
    skip = set(ignored) | (set() if epochs_fixed else {"epochs"})
    differing = sorted(k for k in set(saved) | set(wanted) if k not in skip and saved.get(k) != wanted.get(k))
    if differing:
        details = "; ".join(f"{k}: {saved.get(k)!r} in the checkpoint, {wanted.get(k)!r} now" for k in differing)
        allowed = "nothing may differ (the cosine schedule spans the epochs)" if epochs_fixed else \
            "only a larger epochs may differ"
        raise CheckpointError(f"checkpoint {path} is for a run with other parameters ({details}); {allowed} "
                              f"to continue it: {way_out}")


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
    training batch on the device.
    """
    check_int("epochs", epochs)
    check_int("batch_size", batch_size)
    check_int("stop_after", stop_after, optional=True)
    dev = select_device(device)
    model.to(dev)
    x_train, y_train = (t.to(dev) for t in train_set.tensors)
    x_test, y_test = (t.to(dev) for t in test_set.tensors)

    run_config = plain({**(config or {}), "epochs": epochs, "batch_size": batch_size, "seed": seed})
    history: list[dict[str, Any]] = []
    start_epoch = 1
    if checkpoint_path is not None and resume and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path, map_location=dev)
        check_resume(checkpoint_path, state, run_config, len(state["history"]),
                     epochs_fixed=isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR))
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        history = list(state["history"])
        start_epoch = len(history) + 1

    last_epoch = min(epochs, stop_after) if stop_after is not None else epochs
    for epoch in range(start_epoch, last_epoch + 1):
        torch.manual_seed(epoch_seed(seed, epoch))
        generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
        model.train()
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev, dtype=torch.long)
        n_batches = -(-len(y_train) // batch_size)
        for idx in _progress(batch_indices(len(y_train), batch_size, generator), n_batches, progress, f"epoch {epoch}"):
            idx = idx.to(dev)
            xb, yb = x_train[idx], y_train[idx]
            if augment is not None:
                xb = augment(xb, generator)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(yb)
            correct += (logits.detach().argmax(1) == yb).sum()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        seconds = time.perf_counter() - started
        train_loss = loss_sum.item() / len(y_train)
        test_loss, test_acc = evaluate(model, x_test, y_test, eval_batch_size)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_acc": 100.0 * correct.item() / len(y_train),
            "test_loss": test_loss,
            "test_acc": test_acc,
            "lr": _current_lr(optimizer),
            "seconds": round(seconds, 3),
        }
        if scheduler is not None:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(train_loss)
            else:
                scheduler.step()
        history.append(row)
        if checkpoint_path is not None:
            save_checkpoint(
                checkpoint_path,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "history": history,
                    "seed": seed,
                    "config": run_config,
                },
            )
        if on_epoch is not None:
            on_epoch(row)
    return history
