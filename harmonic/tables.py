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

from .report import last_epoch, reported
from .results import load_runs
from .utils import count_parameters

TABLE1_FILE = "table1_wrn_cifar.csv"
TABLE2_FILE = "table2_resnet50_imagenet.csv"


def parse_level(text: Any) -> Any:
    """A ``level`` cell: empty/none → None, ``"3"`` → 3, ``"none-3-2"`` → (None, 3, 2) (one per stage)."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or str(text).strip().lower() in ("", "none"):
        return None
    if isinstance(text, (list, tuple)):
        text = "-".join(str(t) for t in text)
    values = [None if p.lower() == "none" else int(float(p)) for p in str(text).split("-")]
    return values[0] if len(values) == 1 else tuple(values)


def _harmonic(text: Any) -> Optional[str]:
    return None if text is None or pd.isna(text) or str(text).lower() == "none" else str(text)


def _millions(n: int) -> float:
    return round(n / 1e6, 1)


_NORMALISE = {"level": parse_level, "harmonic": _harmonic}


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


def table1(results_dirs: Iterable[str | os.PathLike] | None = None) -> pd.DataFrame:
    """Table 1 (WRN on CIFAR-10/100): reported errors and parameters, parameters of our models,
    and reproduced errors from runs under ``results_dirs`` (mean over seeds, with run counts)."""
    from .models import wrn

    paper = reported(TABLE1_FILE)
    final = _load_final(results_dirs)
    rows = []
    for _, row in paper.iterrows():
        harmonic, level = _harmonic(row["harmonic"]), parse_level(row["level"])
        model = wrn(int(row["depth"]), int(row["widen_factor"]), num_classes=10, harmonic=harmonic, level=level)
        config = {"depth": int(row["depth"]), "widen_factor": int(row["widen_factor"]),
                  "harmonic": harmonic, "level": level}
        out: dict[str, Any] = {
            "method": row["method"], "dropout": row["dropout"], "compression": row["compression"],
            "params (M) reported": row["params_M"], "params (M) ours": _millions(count_parameters(model)),
        }
        for dataset, column in (("cifar10", "cifar10_err"), ("cifar100", "cifar100_err")):
            chosen = matching_runs(final, config | {"dataset": dataset})
            out[f"{dataset} err reported"] = row[column]
            out[f"{dataset} err reproduced"] = (100.0 - chosen["test_acc"]).mean() if len(chosen) else float("nan")
            out[f"{dataset} runs"] = len(chosen)
        rows.append(out)
    return pd.DataFrame(rows)


def table2(results_dirs: Iterable[str | os.PathLike] | None = None) -> pd.DataFrame:
    """Table 2 (ResNet-50 on ImageNet): reported top-1/top-5 errors and parameters, parameters of
    our models, and reproduced errors from ``python -m harmonic.imagenet`` runs under ``results_dirs``."""
    from .models import resnet50

    paper = reported(TABLE2_FILE)
    final = _load_final(results_dirs)
    rows = []
    for _, row in paper.iterrows():
        harmonic, level = _harmonic(row["harmonic"]), parse_level(row["level"])
        maxpool = str(row["maxpool"]) == "yes"
        model = resnet50(num_classes=1000, harmonic=harmonic, level=level, maxpool=maxpool)
        chosen = matching_runs(final, {"harmonic": harmonic, "level": level, "maxpool": maxpool})
        rows.append({
            "type": row["type"], "params (M) reported": row["params_M"],
            "params (M) ours": _millions(count_parameters(model)),
            "top-1 err reported": row["top1_err"], "top-5 err reported": row["top5_err"],
            "top-1 err reproduced": chosen["val_top1_err"].mean() if len(chosen) else float("nan"),
            "top-5 err reproduced": chosen["val_top5_err"].mean() if len(chosen) else float("nan"),
            "runs": len(chosen),
        })
    return pd.DataFrame(rows)


def figure4_points(table: pd.DataFrame) -> pd.DataFrame:
    """Figure 4 data from :func:`table1`: (dataset, model, params_M, error, source) per point.

    Reported points use the paper's parameter counts; reproduced points our models' counts.
    Rows without an error (not reported / not run) give no point.
    """
    labels = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}
    points = []
    for _, row in table.iterrows():
        model = row["method"] + (f" ({row['compression']})" if isinstance(row["compression"], str) else "")
        if row["dropout"] == "no":
            model += " (no dropout)"
        for dataset, label in labels.items():
            for source, params in (("reported", row["params (M) reported"]), ("reproduced", row["params (M) ours"])):
                error = row[f"{dataset} err {source}"]
                if pd.notna(error) and pd.notna(params):
                    points.append({"dataset": label, "model": model, "params_M": params, "error": error,
                                   "source": source})
    return pd.DataFrame(points, columns=["dataset", "model", "params_M", "error", "source"])


def variant_summary(results_dirs: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per WRN configuration under ``results_dirs``: parameters, final test error
    (mean ± std over seeds), epochs and seconds per epoch — the CPU-scale stand-in for Table 1."""
    dirs = [d for d in results_dirs if d is not None and os.path.exists(d)]
    runs = load_runs(dirs) if dirs else pd.DataFrame()
    if runs.empty:
        return pd.DataFrame()
    seconds = runs.groupby("run")["seconds"].mean()
    final = last_epoch(runs).assign(error=lambda t: 100.0 - t["test_acc"])
    final["seconds_per_epoch"] = final["run"].map(seconds)
    final["harmonic"] = final["param_harmonic"].map(lambda v: _harmonic(v) or "none")
    final["level"] = final["param_level"].map(lambda v: str(parse_level(v)))
    grouped = final.groupby(["param_dataset", "param_depth", "param_widen_factor", "harmonic", "level"], dropna=False)
    table = grouped.agg(params_M=("param_n_parameters", lambda n: round(n.iloc[0] / 1e6, 3)),
                        error_mean=("error", "mean"), error_std=("error", "std"), seeds=("error", "size"),
                        epochs=("epoch", "max"), seconds_per_epoch=("seconds_per_epoch", "mean")).reset_index()
    return table.rename(columns={"param_dataset": "dataset", "param_depth": "depth", "param_widen_factor": "width"})
