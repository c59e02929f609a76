"""Checkpoints of a run: written atomically, read without unpickling code, resumed only by the same run.

Every checkpoint holds the SHA-256 of its own contents (:data:`CHECKSUM_KEY`, :func:`state_digest`):
``torch.load`` reads a file whose tensor bytes were damaged without complaint, so a damaged
checkpoint is recognised by its digest and never resumed from.

A checkpoint (:func:`training_state`) holds the model, optimizer and scheduler states, the
metrics so far, the seed and the run's configuration; :func:`resume_training` loads it back
after :func:`check_resume` has compared the configurations (a larger ``epochs`` continues a
run). Used by :func:`harmonic.experiments.train.fit` and by the ImageNet script.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import warnings
from typing import Any, Callable, Mapping

import torch
from torch import nn

from harmonic.results import atomic_write_bytes

__all__ = ["CHECKSUM_KEY", "RESUME_IGNORED", "CheckpointError", "check_resume", "load_checkpoint", "plain", "resume_training",
           "save_checkpoint", "state_digest", "trained_epochs", "training_state"]

#: Configuration keys a resumed run may change: where it runs, not what it computes.
RESUME_IGNORED = ("device",)
#: Key of a checkpoint holding the :func:`state_digest` of the rest of it.
CHECKSUM_KEY = "sha256"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this run; the message names it and the way out."""


def _feed(digest: Any, value: Any) -> None:
    """Add ``value`` (tensors, mappings, sequences and plain values, nested) to ``digest``."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"T{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, Mapping):
        digest.update(f"M{len(value)}".encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


def state_digest(state: Mapping[str, Any]) -> str:
    """SHA-256 of a checkpoint's contents (every tensor's dtype, shape and bytes, every other
    value), leaving out :data:`CHECKSUM_KEY`: the same before saving and after loading."""
    digest = hashlib.sha256()
    _feed(digest, {key: value for key, value in state.items() if key != CHECKSUM_KEY})
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> None:
    """``torch.save`` to ``path`` atomically (the previous checkpoint survives a crash), with the
    :func:`state_digest` of ``state`` under :data:`CHECKSUM_KEY`.

    ``state`` should hold only what :func:`load_checkpoint` reads back: tensors, dicts,
    lists, tuples, numbers, strings, booleans and None.
    """
    buffer = io.BytesIO()
    torch.save({**state, CHECKSUM_KEY: state_digest(state)}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, map_location: Any = None) -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint`, read with ``torch.load(weights_only=True)``.

    Nothing but tensors and plain data is unpickled (a crafted file cannot run code).
    A damaged, truncated or foreign file, or one whose contents differ from the digest it
    was saved with, raises :class:`CheckpointError` naming ``path`` and the way out: delete
    it to start the run over. Checkpoints written before they held a digest load unchecked.
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
    if CHECKSUM_KEY in state and state.pop(CHECKSUM_KEY) != state_digest(state):
        raise CheckpointError(f"checkpoint {path} is damaged: its contents differ from the SHA-256 recorded when it "
                              f"was saved: {way_out}")
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
                      f"its parameters cannot be checked (seed {state.get('seed')!r}); resuming", stacklevel=4)
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


def trained_epochs(history: list[Mapping[str, Any]]) -> int:
    """Epochs trained in ``history`` (rows with epoch >= 1; an epoch-0 row records the start)."""
    return sum(1 for row in history if row["epoch"] >= 1)


def training_state(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                   history: list[dict[str, Any]], *, seed: int, config: Mapping[str, Any],
                   **extra: Any) -> dict[str, Any]:
    """What a checkpoint holds: the states of ``model``, ``optimizer`` and ``scheduler``, the
    metrics so far, the seed, the run's configuration and ``extra`` entries."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "history": history, "seed": seed, "config": config, **extra}


def resume_training(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    config: Mapping[str, Any],
    *,
    map_location: Any = None,
    epochs_fixed: bool = False,
    check_state: Callable[[Mapping[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Load the checkpoint at ``path`` (:func:`training_state`) into ``model``, ``optimizer`` and
    ``scheduler`` and return its metrics, after ``check_state(state)`` and :func:`check_resume`."""
    state = load_checkpoint(path, map_location=map_location)
    if check_state is not None:
        check_state(state)
    check_resume(path, state, config, trained_epochs(state["history"]), epochs_fixed=epochs_fixed)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    return list(state["history"])
