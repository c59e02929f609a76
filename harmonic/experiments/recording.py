"""Recorded runs: one call trains, and its metrics are written with provenance.

Every experiment of the book (the MLP runs, the WRN runs, the conversion check) goes through
:func:`recorded_run`, which times the training, builds the provenance
(:func:`harmonic.results.provenance`) and writes ``metrics.csv`` + ``provenance.json``
(:func:`harmonic.results.save_run`). ``plan`` is what the pipeline says the run is
(``{"profile", "group", "variant", "point"}``, see :mod:`harmonic.plan`); it is kept in the
provenance, so readers take a run's variant from the run itself. The run folder is locked
(:func:`harmonic.locking.folder_lock`) from before training until its files are written: a second
process writing the same run is refused at once, and an unwritable folder is found before training.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import pandas as pd

from harmonic import results
from harmonic.locking import folder_lock

__all__ = ["LABEL_KEYS", "RunResult", "check_plan", "config_from", "item_run_name", "recorded_run"]

#: Keys of a run's ``plan`` label (:attr:`harmonic.plan.Job.label`; not the keys of a plan file).
LABEL_KEYS: tuple[str, ...] = ("profile", "group", "variant", "point")


@dataclass
class RunResult:
    """What a run produced: per-epoch metrics, where they were written, and provenance."""

    metrics: pd.DataFrame
    folder: Optional[Path]
    record: dict[str, Any]

    @property
    def final(self) -> pd.Series:
        """Metrics of the last epoch."""
        return self.metrics.iloc[-1]


def config_from(cls: type, params: dict[str, Any]):
    """Build dataclass ``cls`` from ``params``; unknown keys raise a ValueError naming them."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - names)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; accepted: {sorted(names)}")
    return cls(**params)


def item_run_name(run_name: str | None, **item: Any) -> str | None:
    """Folder name of one run of a notebook that records several (one per model × seed):
    ``<run_name>-<model>-s<seed>``; ``run_name`` itself when ``item`` is empty."""
    if run_name is None or not item:
        return run_name
    unknown = sorted(set(item) - {"model", "seed"})
    if unknown:
        raise ValueError(f"item must name only model and seed, got {unknown}")
    return f"{run_name}-{item['model']}-s{item['seed']}"


def check_plan(plan: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``plan`` as a dict if it is None or a mapping of exactly :data:`LABEL_KEYS`, else a ValueError."""
    if plan is None:
        return None
    if not isinstance(plan, Mapping) or set(plan) != set(LABEL_KEYS):
        raise ValueError(f"plan must be None or a mapping of the keys {list(LABEL_KEYS)}, got {plan!r}")
    return dict(plan)


def recorded_run(
    params: dict[str, Any],
    *,
    seed: int,
    device: str,
    results_dir: str | Path | None,
    run_name: str | None,
    train: Callable[[Optional[Path]], list[dict[str, Any]]],
    plan: Mapping[str, Any] | None = None,
) -> RunResult:
    """Time ``train(checkpoint_path)`` and save its metrics with provenance (and ``plan``, if given).

    With ``results_dir=None`` nothing is written (exploration in a notebook). ``run_name`` and
    ``plan`` are checked before anything is trained or written; the run folder is locked while
    it trains and writes (:func:`harmonic.locking.folder_lock`).
    """
    if results_dir is not None and not run_name:
        raise ValueError("run_name must be given when results_dir is set")
    folder = Path(results_dir) / results.check_run_name(run_name) if results_dir is not None else None
    plan = check_plan(plan)
    checkpoint = folder / "checkpoint.pt" if folder is not None else None
    with folder_lock(folder) if folder is not None else contextlib.nullcontext():
        started_at = results.now_utc()
        clock = time.perf_counter()
        history = train(checkpoint)
        record = results.provenance(params, seed=seed, device=device, started=started_at,
                                    duration_s=time.perf_counter() - clock)
        if plan is not None:
            record["plan"] = plan
        if folder is not None:
            results.save_run(results_dir, run_name, history, record)
    return RunResult(pd.DataFrame(history), folder, record)
