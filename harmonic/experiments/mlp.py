"""The Harmonic-MLP runs as one call: parameters in, result files with provenance out.

Notebooks stay thin: their ``parameters`` cell becomes the keyword arguments of
:func:`run_mlp` (one model and seed) or :func:`run_mlp_grid` (every model × seed), which load the
data, build the model and optimizer, train with :func:`harmonic.experiments.train.fit` and record
the run (:func:`harmonic.experiments.recording.recorded_run`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import pandas as pd
from torch.utils.data import TensorDataset

from harmonic.datasets.mnist import DATASET_LOADERS, load_dataset
from harmonic.experiments.recording import RunResult, config_from, item_run_name, recorded_run
from harmonic.experiments.checks import check_choice, check_dropout, check_int, check_list, check_number
from harmonic.experiments.train import OPTIMIZERS, SCHEDULERS, fit, make_optimizer, make_scheduler, seed_everything, select_device
from harmonic.utils import count_parameters


@dataclass
class MLPConfig:
    """Parameters of one MLP run; defaults are the Harmonic MLP seed's settings."""

    dataset: str = "mnist"
    model: str = "harmonic"
    hidden_sizes: tuple[int, ...] = (512, 256)
    max_freqs: tuple[float, ...] = (5.0, 3.0)
    base_freq: float = 1.0
    dropout: float = 0.2
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 15
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 1e-5
    freq_scale_factor: Optional[float] = 0.1
    scheduler: Optional[str] = "plateau"
    seed: int = 0
    subset: Optional[int] = None
    test_subset: Optional[int] = None
    device: str = "auto"

    def __post_init__(self) -> None:
        from harmonic.mlp import MODELS

        check_choice("dataset", self.dataset, sorted(DATASET_LOADERS))
        check_choice("model", self.model, list(MODELS))
        check_list("hidden_sizes", self.hidden_sizes, check_int, "positive integers, one per hidden layer")
        if self.model != "relu":
            check_list("max_freqs", self.max_freqs, check_number, "positive numbers, one per hidden layer")
            check_number("base_freq", self.base_freq)
        check_dropout(self.dropout)
        if not isinstance(self.model_options, dict):
            raise ValueError(f"model_options must be a mapping of HarmonicMLP arguments, got {self.model_options!r}")
        check_int("epochs", self.epochs)
        check_int("batch_size", self.batch_size)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_number("lr", self.lr)
        check_number("weight_decay", self.weight_decay, strict=False)
        check_number("freq_scale_factor", self.freq_scale_factor, strict=False, optional=True)
        check_choice("scheduler", self.scheduler, SCHEDULERS)
        check_int("seed", self.seed, minimum=0)
        check_int("subset", self.subset, optional=True)
        check_int("test_subset", self.test_subset, optional=True)

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`harmonic.mlp.build_model`."""
        kwargs: dict[str, Any] = {"hidden_sizes": tuple(self.hidden_sizes), "dropout": self.dropout}
        if self.model != "relu":
            kwargs.update(max_freqs=tuple(self.max_freqs), base_freq=self.base_freq)
        kwargs.update(self.model_options)
        return kwargs


def mlp_data(config: MLPConfig, data_root: str | None = None) -> tuple[TensorDataset, TensorDataset]:
    """The (train, test) sets a run of ``config`` trains and evaluates on."""
    return (load_dataset(config.dataset, train=True, root=data_root, subset=config.subset),
            load_dataset(config.dataset, train=False, root=data_root, subset=config.test_subset))


def run_mlp(
    results_dir: str | Path | None = None,
    run_name: str | None = None,
    data_root: str | None = None,
    checkpoint: bool = False,
    progress: bool = True,
    data: tuple[TensorDataset, TensorDataset] | None = None,
    plan: Mapping[str, Any] | None = None,
    **params: Any,
) -> RunResult:
    """Train one MLP (harmonic or ReLU) configuration and record it.

    ``params`` are the fields of :class:`MLPConfig`. ``checkpoint=True`` keeps a
    checkpoint next to the results, and a rerun resumes from it. ``data``: the
    (train, test) sets of :func:`mlp_data` when the caller already loaded them. ``plan``: what
    the pipeline says the run is (kept in its provenance, see :mod:`harmonic.plan`).
    """
    from harmonic.mlp import build_model  # model code lives in harmonic.mlp

    config: MLPConfig = config_from(MLPConfig, params)
    device = str(select_device(config.device))
    train_set, test_set = data if data is not None else mlp_data(config, data_root)
    seed_everything(config.seed)
    model = build_model(config.model, **config.model_kwargs())
    optimizer = make_optimizer(
        model,
        config.optimizer,
        lr=config.lr,
        weight_decay=config.weight_decay,
        freq_scale_factor=config.freq_scale_factor if config.model != "relu" else None,
    )
    scheduler = make_scheduler(optimizer, config.scheduler, epochs=config.epochs)

    def train(checkpoint_path: Optional[Path]) -> list[dict[str, Any]]:
        return fit(
            model, optimizer, train_set, test_set,
            epochs=config.epochs, batch_size=config.batch_size, seed=config.seed,
            scheduler=scheduler, device=device,
            checkpoint_path=checkpoint_path if checkpoint else None, progress=progress, config=asdict(config),
        )

    record_params = asdict(config) | {"n_parameters": count_parameters(model)}
    return recorded_run(record_params, seed=config.seed, device=device,
                        results_dir=results_dir, run_name=run_name, train=train, plan=plan)


def run_mlp_grid(
    models: list[str],
    seeds: list[int],
    *,
    results_dir: str | Path | None = None,
    run_name: str | None = None,
    plan: Mapping[str, Any] | None = None,
    **params: Any,
) -> pd.DataFrame:
    """:func:`run_mlp` for every model × seed; one long frame of per-epoch metrics.

    Runs are recorded as ``<results_dir>/<run_name>-<model>-s<seed>/``
    (:func:`~harmonic.experiments.recording.item_run_name`), each with ``plan``; the frame
    has the columns of ``metrics.csv`` plus ``model``, ``seed`` and ``run``.
    """
    if not models or not seeds:
        raise ValueError(f"models and seeds must be non-empty lists, got models={models!r}, seeds={seeds!r}")
    run_options = {key: params.pop(key) for key in ("data_root", "checkpoint", "progress") if key in params}
    data = mlp_data(config_from(MLPConfig, params), run_options.get("data_root"))  # read once for all runs
    frames = []
    for model in models:
        for seed in seeds:
            name = item_run_name(run_name, model=model, seed=seed) if run_name else None
            result = run_mlp(results_dir=results_dir, run_name=name, data=data, model=model, seed=seed,
                             plan=plan, **run_options, **params)
            frames.append(result.metrics.assign(model=model, seed=seed, run=name or f"{model}-s{seed}"))
    return pd.concat(frames, ignore_index=True)
