"""The Harmonic-MLP study for reading: the study's tables and sentences with readable headers, variant
names as the reader sees them and no NaN cells."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from harmonic.analysis.study_findings import findings, same_settings_note

__all__ = [
    "VARIANT_LABELS",
    "findings_text",
    "same_settings_text",
    "split_constant",
    "summary_view",
    "twins_view",
    "variant_label",
]


#: Names shown for variants whose file name would say more than the variant is.
VARIANT_LABELS: dict[str, str] = {
    # sin(30 z) with SIREN's omega_0 but the seed's initialisation, BatchNorm and residual: not SIREN
    "act-siren": "act-sin30z (not SIREN)",
}


def variant_label(variant: str) -> str:
    """The name a reader sees for ``variant`` (:data:`VARIANT_LABELS`, else the variant itself)."""
    return VARIANT_LABELS.get(variant, variant)


def _relabel(text: str) -> str:
    for variant, label in VARIANT_LABELS.items():
        text = text.replace(f"`{variant}`", f"`{label}`")
    return text


def summary_view(summary_table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`~harmonic.analysis.study.summary` for reading: readable headers with units, the training
    set in words, the difference with the best ReLU variant of the same width and budget (``ReLU baseline``), and a
    verdict that says "one seed: no verdict" where there is no seed-to-seed spread. No NaN: missing
    cells are None."""
    if summary_table.empty:
        return pd.DataFrame(columns=["dataset", "variant", "model", "parameters", "test accuracy (%)", "seeds",
                                     "epochs", "training images", "ReLU baseline", "vs ReLU (points)", "verdict"])
    rows = summary_table.copy()
    by_variant = rows.set_index(["dataset", "variant"])

    def verdict(row: pd.Series) -> str | None:
        if row["model"] == "relu" or not isinstance(row["relu_baseline"], str):
            return None
        baseline = by_variant.loc[(row["dataset"], row["relu_baseline"])]
        if isinstance(baseline, pd.DataFrame):
            baseline = baseline.iloc[0]
        if min(row["seeds"], baseline["seeds"]) < 2:
            return "one seed: no verdict"
        spread = max(row["std"], baseline["std"])
        if abs(row["vs_relu"]) <= spread:
            return "within the seeds' std"
        return "above" if row["vs_relu"] > 0 else "below"

    view = pd.DataFrame({
        "dataset": rows["dataset"],
        "variant": rows["variant"].map(variant_label),
        "model": rows["model"],
        "parameters": rows["n_parameters"].astype(int),
        "test accuracy (%)": rows["test_acc"],
        "seeds": rows["seeds"].astype(int),
        "epochs": rows["epochs"].astype(int),
        "training images": [f"{int(s):,}" if s is not None and pd.notna(s) else "all" for s in rows["subset"]],
        "ReLU baseline": [variant_label(b) if isinstance(b, str) else None for b in rows["relu_baseline"]],
        "vs ReLU (points)": rows["vs_relu"].astype(object).where(rows["vs_relu"].notna(), None),
        "verdict": [verdict(row) for _, row in rows.iterrows()],
    })
    return view.reset_index(drop=True)


def twins_view(pairs: pd.DataFrame) -> pd.DataFrame:
    """A :func:`~harmonic.analysis.study.same_settings` table for reading (readable headers, None where a
    spread is missing)."""
    view = pairs.rename(columns={
        "relu_variant": "ReLU twin", "hidden_sizes": "hidden", "batch_size": "batch", "harmonic_acc":
        "harmonic (%)", "relu_acc": "ReLU (%)", "difference": "difference (points)", "spread": "larger std",
    }).drop(columns=["lr", "scheduler"], errors="ignore")
    view["variant"] = view["variant"].map(variant_label)
    view["larger std"] = view["larger std"].astype(object).where(view["larger std"].notna(), None)
    one_seed = view["larger std"].isna()
    view.loc[one_seed, "verdict"] = "one seed: no verdict"
    return view.reset_index(drop=True)


def findings_text(summary_table: pd.DataFrame, **kwargs: Any) -> str:
    """:func:`~harmonic.analysis.study_findings.findings` with the variants under the names a reader sees
    (:data:`VARIANT_LABELS`)."""
    return _relabel(findings(summary_table, **kwargs))


def same_settings_text(pairs: pd.DataFrame) -> str:
    """:func:`~harmonic.analysis.study_findings.same_settings_note` with one-seed pairs said to be no
    evidence and readable variant names."""
    if pairs.empty:
        return same_settings_note(pairs)
    if pairs["spread"].isna().all():
        return ("Every pair here ran with one seed: the differences below are single runs, with no "
                "seed-to-seed spread to judge them by, and no verdict is drawn.\n")
    return _relabel(same_settings_note(pairs))


def split_constant(view: pd.DataFrame, columns: Sequence[str] = ("dataset", "seeds", "epochs", "training images")
                   ) -> tuple[pd.DataFrame, str]:
    """``view`` without those of ``columns`` that hold one value throughout, and those values in words
    (e.g. ``"seeds: 5, epochs: 20, training images: all"``) for the table's caption."""
    constant = [c for c in columns if c in view and view[c].nunique(dropna=False) == 1 and len(view)]
    words = []
    for column in constant:
        value = view[column].iloc[0]
        words.append(f"{column}: {value}")
    return view.drop(columns=constant), ", ".join(words)
