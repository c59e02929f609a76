"""Tables 1 and 2 of Harmonic Networks: reported values beside what our code computes and runs.

Each row of ``data/paper/table{1,2}_*.csv`` names its architecture (depth, width,
``harmonic``, ``level``, ...). From that we build the model to count its parameters,
and look up recorded runs of the same configuration. A reproduced cell stays empty
(NaN) until such a run exists.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Optional

import pandas as pd

from harmonic.analysis.report import last_epoch, plural, reported
from harmonic.results import load_runs
from harmonic.utils import count_parameters

TABLE1_FILE = "table1_wrn_cifar.csv"
TABLE2_FILE = "table2_resnet50_imagenet.csv"


def level_from_cell(text: Any) -> int | tuple[int | None, ...] | None:
    """The compression level λ of a ``level`` cell of a paper table (or of a run's recorded ``level``):
    empty/none → None, ``"3"`` → 3, ``"none-3-2"`` → (None, 3, 2) (one per stage)."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or str(text).strip().lower() in ("", "none"):
        return None
    if isinstance(text, (list, tuple)):
        text = "-".join(str(t) for t in text)
    values = [None if p.lower() == "none" else int(float(p)) for p in str(text).split("-")]
    return values[0] if len(values) == 1 else tuple(values)


def harmonic_from_cell(text: Any) -> Optional[str]:
    """The ``harmonic`` cell of a paper table (or a run's recorded ``harmonic``): None for a plain network."""
    return None if text is None or pd.isna(text) or str(text).lower() == "none" else str(text)


def _millions(n: int) -> float:
    return round(n / 1e6, 1)


_NORMALISE = {"level": level_from_cell, "harmonic": harmonic_from_cell}


def matching_runs(final: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """Rows of ``final`` (one per run, with ``param_*`` columns) whose parameters equal ``config``.

    ``level`` and ``harmonic`` are compared after normalising their spellings
    (``None``/``"none"``, ``(None, 3, 2)``/``"none-3-2"``).
    """
    if final.empty:
        return final
    mask = pd.Series(True, index=final.index)
    for key, value in config.items():
        column = f"param_{key}"
        if column not in final:
            return final.iloc[0:0]
        normalise = _NORMALISE.get(key, lambda v: v)
        target = normalise(value)
        mask &= final[column].map(lambda v: normalise(v) == target).astype(bool)  # None == None counts
    return final[mask]


def _load_final(results_dirs: Iterable[str | os.PathLike] | None) -> pd.DataFrame:
    dirs = [d for d in (results_dirs or []) if d is not None and os.path.exists(d)]
    runs = load_runs(dirs) if dirs else pd.DataFrame()
    return last_epoch(runs) if not runs.empty else runs


def yes_from_cell(cell: Any) -> Optional[bool]:
    """A yes/no cell of a paper table: True, False, or None where the paper leaves it blank."""
    if cell is None or (isinstance(cell, float) and pd.isna(cell)) or str(cell).strip() == "":
        return None
    return str(cell).strip().lower() == "yes"


def _meta_parameters(builder: Any, **kwargs: Any) -> int:
    """Parameter count of ``builder(**kwargs)``, built on the meta device (no memory, no init)."""
    import torch

    with torch.device("meta"):
        return count_parameters(builder(**kwargs))


def _dropout_matches(value: Any, wanted: Optional[bool]) -> bool:
    return wanted is None or (float(value) > 0) == wanted


def _reproduced(final: pd.DataFrame, config: dict[str, Any], dropout: Optional[bool], metric: str) -> pd.Series:
    """Final ``metric`` of the runs of ``config`` (and the paper's dropout tick) under the results folders."""
    chosen = matching_runs(final, config)
    if "param_dropout" in chosen and dropout is not None:
        chosen = chosen[chosen["param_dropout"].map(lambda v: _dropout_matches(v, dropout))]
    return chosen[metric] if metric in chosen else pd.Series(dtype=float)


def table1(results_dirs: Iterable[str | os.PathLike] | None = None) -> pd.DataFrame:
    """Table 1 (WRN on CIFAR-10/100), all 11 rows of the paper in its order: reported errors and
    parameters, the parameters of our model of each row (none for the benchmark row, another
    method), and reproduced errors from runs under ``results_dirs``: the median over seeds, as the
    paper reports the median of 5 runs, with the number of runs (0: not run here)."""
    from harmonic.models import wrn

    paper = reported(TABLE1_FILE)
    printed = reported(TABLE1_FILE, as_printed=True)
    final = _load_final(results_dirs)
    rows = []
    for (_, row), (_, text) in zip(paper.iterrows(), printed.iterrows(), strict=True):
        benchmark = row["kind"] == "benchmark"
        out: dict[str, Any] = {
            "method": row["method"], "kind": row["kind"], "dropout": row["dropout"] if not benchmark else None,
            "compression": row["compression"] if isinstance(row["compression"], str) else None,
            "params (M) reported": row["params_M"], "params (M) ours": None,
        }
        config: dict[str, Any] = {}
        if not benchmark:
            stem_bn = yes_from_cell(row["stem_spectral_bn"])
            config = {"depth": int(row["depth"]), "widen_factor": int(row["widen_factor"]),
                      "harmonic": harmonic_from_cell(row["harmonic"]), "level": level_from_cell(row["level"])}
            kwargs = config | ({"stem_spectral_bn": False} if stem_bn is False else {})
            out["params (M) ours"] = _millions(_meta_parameters(wrn, num_classes=10, **kwargs))
            if config["harmonic"] is not None:
                config["stem_spectral_bn"] = stem_bn is not False
        for dataset, column in (("cifar10", "cifar10_err"), ("cifar100", "cifar100_err")):
            errors = (100.0 - _reproduced(final, config | {"dataset": dataset}, yes_from_cell(row["dropout"]), "test_acc")
                      if not benchmark else pd.Series(dtype=float))
            out[f"{dataset} err reported"] = row[column]
            out[f"{dataset} err printed"] = text[column]
            out[f"{dataset} err reproduced"] = errors.median() if len(errors) else float("nan")
            out[f"{dataset} runs"] = len(errors)
        rows.append(out)
    return pd.DataFrame(rows)


def table2(results_dirs: Iterable[str | os.PathLike] | None = None) -> pd.DataFrame:
    """Table 2 (ResNet-50 on ImageNet), all 9 rows in the paper's three groups (``type``): reported
    top-1/top-5 errors and parameters, our model's parameters (none for other methods), and
    reproduced errors (median over runs) from ``python -m harmonic.experiments.imagenet`` runs under
    ``results_dirs`` (converted rows: runs started with ``--convert-from``)."""
    from harmonic.models import resnet50

    paper = reported(TABLE2_FILE)
    printed = reported(TABLE2_FILE, as_printed=True)
    final = _load_final(results_dirs)
    rows = []
    for (_, row), (_, text) in zip(paper.iterrows(), printed.iterrows(), strict=True):
        buildable = not (row["kind"] == "benchmark" and pd.isna(row["maxpool"]))
        out: dict[str, Any] = {"type": row["type"], "model": row["model"], "kind": row["kind"],
                               "params (M) reported": row["params_M"], "params (M) ours": None}
        top1 = top5 = pd.Series(dtype=float)
        if buildable:
            harmonic, level = harmonic_from_cell(row["harmonic"]), level_from_cell(row["level"])
            maxpool = yes_from_cell(row["maxpool"]) is True
            out["params (M) ours"] = _millions(_meta_parameters(resnet50, harmonic=harmonic, level=level,
                                                                maxpool=maxpool))
            converted = isinstance(row["converted_from"], str)
            chosen = matching_runs(final, {"harmonic": harmonic, "level": level, "maxpool": maxpool})
            if len(chosen):
                origin = chosen["param_convert_from"] if "param_convert_from" in chosen else pd.Series(None, index=chosen.index)
                chosen = chosen[origin.notna() == converted]
                top1, top5 = chosen.get("val_top1_err", top1), chosen.get("val_top5_err", top5)
        out |= {"top-1 err reported": row["top1_err"], "top-5 err reported": row["top5_err"],
                "top-1 err printed": text["top1_err"], "top-5 err printed": text["top5_err"],
                "top-1 err reproduced": top1.median() if len(top1) else float("nan"),
                "top-5 err reproduced": top5.median() if len(top5) else float("nan"),
                "runs": len(top1)}
        rows.append(out)
    return pd.DataFrame(rows)


def figure4_points(table: pd.DataFrame) -> pd.DataFrame:
    """Figure 4 data from :func:`table1`: (dataset, family, model, params_M, error, source) per point.

    As in the paper's Figure 4: the harmonic WRNs with dropout by compression (full basis, lambda=3,
    lambda=2; family ``"Harm-WRN"``) and the WRN baselines by width (WRN-28-10/8/6; ``"WRN"``).
    Reported points use the paper's parameter counts, reproduced points our models' counts; rows
    without an error (not run here) give no point.
    """
    labels = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}
    points = []
    for _, row in table.iterrows():
        if row["kind"] != "wrn" or row["dropout"] != "yes":
            continue
        if row["method"].startswith("Harm-WRN"):
            family = "Harm-WRN"
        elif row["method"].startswith("WRN"):
            family = "WRN"
        else:
            continue  # Harm1 rows are not on the paper's curves
        model = row["method"] + (f" ({row['compression']})" if isinstance(row["compression"], str) else "")
        for dataset, label in labels.items():
            for source, params in (("reported", row["params (M) reported"]), ("reproduced", row["params (M) ours"])):
                error = row[f"{dataset} err {source}"]
                if pd.notna(error) and pd.notna(params):
                    points.append({"dataset": label, "family": family, "model": model, "params_M": params,
                                   "error": error, "source": source})
    return pd.DataFrame(points, columns=["dataset", "family", "model", "params_M", "error", "source"])


NOT_RUN = "not run here"
OTHER_METHOD = "other method"


def _cell(value: Any, decimals: int = 2) -> str:
    return "—" if value is None or (isinstance(value, float) and pd.isna(value)) else f"{value:.{decimals}f}"


def _reproduced_cell(row: pd.Series, value: str, runs: str) -> str:
    if row["kind"] == "benchmark" and pd.isna(row["params (M) ours"]):
        return OTHER_METHOD
    if not row[runs]:
        return NOT_RUN
    return f"{row[value]:.2f} ({plural(int(row[runs]), 'run')})"


def table1_view(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`table1` for reading: one text cell per value, "—" where the paper has none,
    "not run here" where no run is recorded, "other method" for the benchmark row."""
    rows = []
    for _, row in table.iterrows():
        rows.append({
            ("", "method"): row["method"],
            ("", "dropout"): {"yes": "✓", "no": ""}.get(row["dropout"], "—") if row["kind"] != "benchmark" else "",
            ("", "compression"): row["compression"] if isinstance(row["compression"], str) else "",
            ("parameters (M)", "paper"): _cell(row["params (M) reported"], 1),
            ("parameters (M)", "ours"): (_cell(row["params (M) ours"], 1) if pd.notna(row["params (M) ours"])
                                         else OTHER_METHOD),
            ("CIFAR-10 error (%)", "paper"): row["cifar10 err printed"],
            ("CIFAR-10 error (%)", "here"): _reproduced_cell(row, "cifar10 err reproduced", "cifar10 runs"),
            ("CIFAR-100 error (%)", "paper"): row["cifar100 err printed"],
            ("CIFAR-100 error (%)", "here"): _reproduced_cell(row, "cifar100 err reproduced", "cifar100 runs"),
        })
    return pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples(rows[0].keys()))


def table2_view(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`table2` for reading, grouped as in the paper (its ``type`` column first)."""
    rows = []
    for _, row in table.iterrows():
        rows.append({
            ("", "type"): row["type"], ("", "model"): row["model"],
            ("parameters (M)", "paper"): _cell(row["params (M) reported"], 1),
            ("parameters (M)", "ours"): (_cell(row["params (M) ours"], 1) if pd.notna(row["params (M) ours"])
                                         else OTHER_METHOD),
            ("top-1 error (%)", "paper"): row["top-1 err printed"],
            ("top-1 error (%)", "here"): _reproduced_cell(row, "top-1 err reproduced", "runs"),
            ("top-5 error (%)", "paper"): row["top-5 err printed"],
            ("top-5 error (%)", "here"): _reproduced_cell(row, "top-5 err reproduced", "runs"),
        })
    view = pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples(rows[0].keys()))
    view.loc[view[("", "type")].duplicated(), ("", "type")] = ""  # the group name once, as the paper prints it
    return view


SETTINGS_FILE = "training_settings.csv"


def _our_settings() -> dict[str, dict[str, Any]]:
    """Our configuration per experiment: the paper profile's WRN parameters over :class:`WRNConfig`'s
    defaults (CIFAR), and ``python -m harmonic.experiments.imagenet``'s defaults (ImageNet)."""
    from dataclasses import asdict

    import yaml

    from harmonic.datasets.cifar import CIFAR_DATASETS
    from harmonic.datasets.imagefolder import IMAGENET_MEAN, IMAGENET_STD
    from harmonic.experiments.imagenet import RECIPE_FIXED, build_parser
    from harmonic.paths import REPO_ROOT
    from harmonic.experiments.wrn import WRNConfig

    def triple(values: tuple[float, ...], scale: float = 1.0) -> str:
        return "(" + ", ".join(f"{v * scale:.4g}" for v in values) + ")"

    common = yaml.safe_load((REPO_ROOT / "notebooks" / "params" / "paper" / "wrn" / "common.yaml").read_text())
    cifar = asdict(WRNConfig()) | common
    first = cifar["milestones"][0]
    # what the code does where no parameter says it (train.make_scheduler's MultiStepLR, make_optimizer)
    cifar["lr_drop_timing"] = (f"after epochs {', '.join(map(str, cifar['milestones']))} ({first} epochs at lr "
                               f"{cifar['lr']:g})")
    cifar["weight_decay_on"] = "every trained tensor (the model's parameters)"
    spec = CIFAR_DATASETS["cifar10"]
    cifar["normalisation"] = f"mean {triple(spec.mean, 255)}/255, std {triple(spec.std, 255)}/255"
    imagenet = vars(build_parser().parse_args(["--data", "."])) | RECIPE_FIXED
    imagenet["lr"] = f"{imagenet['lr']:g}, ×{imagenet['gamma']:g} every {imagenet['lr_step']} epochs"
    imagenet["maxpool"] = "max-pooling" if imagenet["maxpool"] else "no max-pooling, stem stride 4"
    imagenet["normalisation"] = f"mean {triple(IMAGENET_MEAN)}, std {triple(IMAGENET_STD)}"
    return {"CIFAR (Table 1)": cifar, "ImageNet (Table 2)": imagenet}


def training_settings(experiment: str | None = None) -> pd.DataFrame:
    """``data/paper/training_settings.csv`` (setting, value, source) with the value our configuration
    uses for it (column ``ours``, read from the configuration, "—" where the code has it built in);
    ``experiment`` keeps the rows whose experiment starts with it (``"CIFAR"``, ``"ImageNet"``)."""
    settings = reported(SETTINGS_FILE, as_printed=True)
    ours = _our_settings()

    def value(row: pd.Series) -> str:
        if not row["param"]:
            return "—"
        found = ours[row["experiment"]].get(row["param"])
        if row["param"] == "reset_momentum":
            return "reset (emptied at each drop)" if found else "kept"
        if row["param"] == "init":
            return f"{found} (harmonic.init)"
        if isinstance(found, bool):
            return "on" if found else "off"
        if isinstance(found, (list, tuple)):
            return ", ".join(str(v) for v in found)
        return f"{found:g}" if isinstance(found, float) else str(found)

    settings["ours"] = settings.apply(value, axis=1)
    if experiment is not None:
        settings = settings[settings["experiment"].str.startswith(experiment)]
    return settings.drop(columns="param").reset_index(drop=True)
