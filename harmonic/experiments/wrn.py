"""Wide residual networks on 32×32 images (Table 1) and their DCT spectra (Figure 3), as one call each.

:func:`run_wrn` is the WRN counterpart of :func:`harmonic.experiments.mlp.run_mlp`:
a notebook's ``parameters`` cell becomes its keyword arguments; it loads the
data (:func:`harmonic.datasets.cifar.load_image_dataset`), builds the plain or harmonic
WRN (:func:`harmonic.models.wrn`), trains with :func:`harmonic.experiments.train.fit` and
records ``metrics.csv`` + ``provenance.json`` (and, for harmonic networks, the
Figure 3 table ``frequency_weights.csv``) in ``<results_dir>/<run_name>/``.

Defaults are the paper's CIFAR settings (Ulicny et al., BMVC 2019, which follow
Zagoruyko & Komodakis' WRN code): SGD with lr 0.1, momentum 0.9, weight decay
5e-4, batch 128, 200 epochs, lr × 0.2 at epochs 60, 120 and 160, reflect-pad +
crop + flip augmentation, and dropout 0.3 (the rate in the authors' example
command for WRN-28-10; their table only says "with dropout"). What the paper leaves open
follows the authors' code (their ``cifar/main.py`` and ``utils.py``): the initial weights
(``init="authors"``, :mod:`harmonic.init`) and a fresh optimizer, i.e. momentum buffers
emptied, at every learning-rate drop (``reset_momentum=True``). ``init="kaiming"`` with
``reset_momentum=False`` is the recipe this companion used first (kept for comparison).
:data:`RECIPE_DIFFERENCES` lists what still differs from the authors' script.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import pandas as pd
from torch import nn

from harmonic import results
from harmonic.datasets.cifar import IMAGE_DATASETS, cifar_augment, image_dataset_info, load_image_dataset
from harmonic.experiments.checks import check_choice, check_dropout, check_int, check_level, check_milestones, check_number
from harmonic.experiments.recording import RunResult, config_from, recorded_run
from harmonic.experiments.train import fit, make_optimizer, make_scheduler, save_checkpoint, seed_everything, select_device
from harmonic.init import check_init
from harmonic.utils import count_parameters

__all__ = [
    "FREQUENCY_WEIGHTS_FILE",
    "MODEL_FILE",
    "RECIPE_UNRECORDED",
    "WRNConfig",
    "WRNRunResult",
    "build_model",
    "frequency_label",
    "frequency_weights",
    "recorded_config",
    "run_wrn",
    "save_frequency_weights",
]

#: File name of the Figure 3 table next to a run's metrics.
FREQUENCY_WEIGHTS_FILE = "frequency_weights.csv"
#: File name of a run's trained weights (``save_model=True``).
MODEL_FILE = "model.pt"

Level = Union[None, int, Sequence[Optional[int]]]

#: The recipe of WRN runs recorded before runs recorded ``init`` and ``reset_momentum`` (before f32965d):
#: the code then had only this initialisation and kept the momentum across learning-rate drops.
RECIPE_UNRECORDED: dict[str, Any] = {"init": "kaiming", "reset_momentum": False}


@dataclass
class WRNConfig:
    """Parameters of one WRN run; defaults are the paper's CIFAR settings (WRN-28-10, Table 1)."""

    dataset: str = "cifar10"
    depth: int = 28
    widen_factor: float = 10
    harmonic: Optional[str] = None
    stem_spectral_bn: bool = True
    level: Level = None
    dropout: float = 0.3
    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    milestones: tuple[int, ...] = (60, 120, 160)
    gamma: float = 0.2
    augment: bool = True
    subset: Optional[int] = None
    test_subset: Optional[int] = None
    seed: int = 0
    device: str = "auto"
    init: str = "authors"
    reset_momentum: bool = True

    def __post_init__(self) -> None:
        if self.harmonic == "none":  # YAML / command-line spelling of None
            self.harmonic = None
        if isinstance(self.level, list):
            self.level = tuple(self.level)
        self._check()
        self.milestones = tuple(self.milestones)

    def _check(self) -> None:
        """Types and ranges of every field (a ValueError naming the field and what was expected)."""
        from harmonic.models.wrn import WRN_STAGES

        check_choice("dataset", self.dataset, sorted(IMAGE_DATASETS))
        check_int("depth", self.depth)
        check_number("widen_factor", self.widen_factor)
        check_choice("harmonic", self.harmonic, [None, "stem", "all"])
        check_init(self.init)
        for name in ("stem_spectral_bn", "nesterov", "augment", "reset_momentum"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        check_level(self.level, WRN_STAGES)
        if self.level is not None and self.harmonic != "all":
            raise ValueError(f"level applies only with harmonic='all', got level={self.level!r} "
                             f"with harmonic={self.harmonic!r}")
        check_dropout(self.dropout)
        check_int("epochs", self.epochs)
        check_int("batch_size", self.batch_size)
        check_number("lr", self.lr)
        check_number("momentum", self.momentum, strict=False)
        check_number("weight_decay", self.weight_decay, strict=False)
        check_milestones(self.milestones, self.epochs)
        check_number("gamma", self.gamma)
        check_int("subset", self.subset, optional=True)
        check_int("test_subset", self.test_subset, optional=True)
        check_int("seed", self.seed, minimum=0)


@dataclass
class WRNRunResult(RunResult):
    """A :class:`~harmonic.experiments.recording.RunResult` plus the trained model and its Figure 3 table."""

    model: Optional[nn.Module] = None
    frequency_weights: Optional[pd.DataFrame] = None


def frequency_label(u: int, v: int) -> str:
    """Column name of DCT frequency ``(u, v)`` in the Figure 3 table: ``"(u,v)"``."""
    return f"({u},{v})"


def frequency_weights(model: nn.Module) -> pd.DataFrame:
    """Figure 3 data: mean absolute weight per DCT frequency, one row per harmonic block.

    For every :class:`~harmonic.layers.HarmonicConv2d` (in registration order,
    i.e. from input to output) the weights ``(out, in / groups, n_filters)`` are
    averaged in absolute value over the output and input channels. Columns:
    ``layer`` (module name), ``index`` (0-based depth order), ``in_channels``,
    ``out_channels``, ``kernel_size``, ``level``, ``n_filters`` and one column
    per frequency ``"(u,v)"`` (u-major, all ``k*k`` of the largest kernel; a
    frequency a layer does not have, because of lambda or a smaller kernel, is
    NaN). The raw learned coefficients are used: a spectral BN's scale is not
    folded in. Empty frame (with the fixed columns) for a plain network.
    """
    from harmonic.dct import dct_frequencies
    from harmonic.layers import HarmonicConv2d

    fixed = ["layer", "index", "in_channels", "out_channels", "kernel_size", "level", "n_filters"]
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, HarmonicConv2d)]
    if not layers:
        return pd.DataFrame(columns=fixed)
    k_max = max(m.kernel_size[0] for _, m in layers)
    columns = [frequency_label(u, v) for u, v in dct_frequencies(k_max)]
    rows = []
    for index, (name, layer) in enumerate(layers):
        means = layer.weight.detach().abs().mean(dim=(0, 1)).double().cpu().tolist()
        labels = [frequency_label(u, v) for u, v in dct_frequencies(layer.kernel_size[0], layer.level)]
        row: dict[str, Any] = {
            "layer": name, "index": index, "in_channels": layer.in_channels,
            "out_channels": layer.out_channels, "kernel_size": layer.kernel_size[0],
            "level": layer.level, "n_filters": layer.n_filters,
        }
        row.update(dict(zip(labels, means)))
        rows.append(row)
    frame = pd.DataFrame(rows).reindex(columns=fixed + columns)
    frame["level"] = frame["level"].astype("Int64")  # None (full basis) stays missing, not 3.0
    return frame


def save_frequency_weights(model_or_table: nn.Module | pd.DataFrame, folder: str | os.PathLike) -> Path:
    """Write the Figure 3 table of a model (or an already computed one) atomically to ``folder``."""
    table = frequency_weights(model_or_table) if isinstance(model_or_table, nn.Module) else model_or_table
    return results.atomic_write_text(Path(folder) / FREQUENCY_WEIGHTS_FILE, table.to_csv(index=False))


def recorded_config(params: Mapping[str, Any]) -> WRNConfig:
    """The :class:`WRNConfig` of a recorded run's ``params`` (provenance.json), with
    :data:`RECIPE_UNRECORDED` for a run recorded before its recipe was."""
    names = {f.name for f in fields(WRNConfig)}
    return WRNConfig(**(RECIPE_UNRECORDED | {k: v for k, v in params.items() if k in names}))


def build_model(config: WRNConfig) -> nn.Module:
    """The network of ``config`` as its run starts: torch seeded with ``config.seed``, then built
    (the same initial weights as :func:`run_wrn`'s, e.g. for the initial Figure 3 profile)."""
    from harmonic.models import wrn  # model code lives in harmonic.models

    info = image_dataset_info(config.dataset)
    seed_everything(config.seed)
    return wrn(
        config.depth, config.widen_factor, num_classes=info.num_classes, dropout=config.dropout,
        harmonic=config.harmonic, level=config.level, in_channels=info.in_channels,
        stem_spectral_bn=config.stem_spectral_bn, init=config.init,
    )


def run_wrn(
    results_dir: str | Path | None = None,
    run_name: str | None = None,
    data_root: str | None = None,
    checkpoint: bool = False,
    progress: bool = True,
    save_model: bool = False,
    plan: Mapping[str, Any] | None = None,
    **params: Any,
) -> WRNRunResult:
    """Train one (harmonic) WRN configuration on CIFAR-10/100 or Fashion-MNIST and record it.

    ``params`` are the fields of :class:`WRNConfig`: ``dataset`` (``"cifar10"``,
    ``"cifar100"``, ``"fashion-mnist"``), ``depth``, ``widen_factor``,
    ``harmonic`` (None/``"none"``, ``"stem"`` = Harm1, ``"all"`` = Harm-WRN),
    ``stem_spectral_bn`` (False: Harm1 "(no BN)"),
    ``level`` (lambda, or one per group for progressive compression, e.g.
    ``[None, 3, 2]``), ``dropout``, ``epochs``, ``batch_size``, ``lr``,
    ``momentum``, ``nesterov``, ``weight_decay``, ``milestones``, ``gamma``,
    ``augment``, ``subset``, ``test_subset``, ``seed``, ``device``, ``init`` (``"authors"`` or
    ``"kaiming"``, :mod:`harmonic.init`) and ``reset_momentum``.
    ``checkpoint=True`` keeps ``checkpoint.pt`` next to the results and a rerun
    resumes from it. The recorded parameters include ``n_parameters``; harmonic
    networks also get ``frequency_weights.csv`` (see :func:`frequency_weights`).
    ``save_model=True`` also writes the trained ``state_dict`` as ``model.pt`` (:data:`MODEL_FILE`;
    read with :func:`~harmonic.experiments.checkpoints.load_checkpoint`, which checks its SHA-256), e.g. for
    converting it later.
    ``plan``: what the pipeline says the run is (kept in its provenance, see :mod:`harmonic.plan`).
    """
    config: WRNConfig = config_from(WRNConfig, params)
    device = str(select_device(config.device))
    train_set = load_image_dataset(config.dataset, train=True, root=data_root, subset=config.subset)
    test_set = load_image_dataset(config.dataset, train=False, root=data_root, subset=config.test_subset)
    model = build_model(config)
    optimizer = make_optimizer(model, "sgd", lr=config.lr, weight_decay=config.weight_decay,
                               momentum=config.momentum, nesterov=config.nesterov)
    scheduler = make_scheduler(optimizer, "multistep", milestones=config.milestones, gamma=config.gamma,
                               epochs=config.epochs)

    def train(checkpoint_path: Optional[Path]) -> list[dict[str, Any]]:
        return fit(
            model, optimizer, train_set, test_set,
            epochs=config.epochs, batch_size=config.batch_size, seed=config.seed,
            scheduler=scheduler, augment=cifar_augment if config.augment else None, device=device,
            checkpoint_path=checkpoint_path if checkpoint else None, progress=progress, config=asdict(config),
            reset_momentum=config.reset_momentum,
        )

    record_params = asdict(config) | {"n_parameters": count_parameters(model)}
    run = recorded_run(record_params, seed=config.seed, device=device,
                       results_dir=results_dir, run_name=run_name, train=train, plan=plan)
    table = frequency_weights(model) if config.harmonic is not None else None
    if table is not None and run.folder is not None:
        save_frequency_weights(table, run.folder)
    if save_model and run.folder is not None:
        save_checkpoint(run.folder / MODEL_FILE, model.state_dict())
    return WRNRunResult(run.metrics, run.folder, run.record, model=model, frequency_weights=table)
