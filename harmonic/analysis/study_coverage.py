"""How much of the Harmonic-MLP study's plan is recorded: the plan's (dataset, variant) pairs next to
the runs of a study table (:func:`harmonic.analysis.study.study_table`)."""

from __future__ import annotations

import pandas as pd

from harmonic.analysis.study import family_of

__all__ = ["coverage", "coverage_note", "planned_study"]


def planned_study(profile: str = "study", group: str = "mlp-study") -> pd.DataFrame:
    """What a profile's plan asks of the study: one row per (dataset, variant) with the planned
    ``seeds`` (count) and ``epochs``, read from ``notebooks/params/<profile>/plan.yaml``."""
    from harmonic.plan import load_plan

    rows = []
    for job in load_plan(profile):
        if job.group != group:
            continue
        p = job.parameters
        rows.append({"dataset": p.get("dataset", "mnist"), "variant": job.variant, "family": family_of(job.variant),
                     "seeds": len(p["seeds"]), "epochs": int(p["epochs"])})
    return pd.DataFrame(rows, columns=["dataset", "variant", "family", "seeds", "epochs"])


def coverage(table: pd.DataFrame, planned: pd.DataFrame) -> pd.DataFrame:
    """Planned (dataset, variant) pairs next to what ``table`` (:func:`~harmonic.analysis.study.study_table`) records.

    Columns: ``dataset``, ``variant``, ``family``, ``planned_seeds``, ``planned_epochs``,
    ``recorded_seeds`` (runs that reached the planned epochs) and ``status``: ``"complete"``,
    ``"partial"`` (fewer seeds) or ``"not run"``. Sorted by status, dataset, variant.
    """
    out = planned.rename(columns={"seeds": "planned_seeds", "epochs": "planned_epochs"})
    runs = table[["dataset", "variant", "epochs"]].merge(out[["dataset", "variant", "planned_epochs"]],
                                                         on=["dataset", "variant"])
    reached = runs[runs["epochs"] >= runs["planned_epochs"]].groupby(["dataset", "variant"]).size()
    out = out.merge(reached.rename("recorded_seeds").reset_index(), on=["dataset", "variant"], how="left")
    out["recorded_seeds"] = out["recorded_seeds"].fillna(0).astype(int)
    out["status"] = ["complete" if r >= p else "partial" if r > 0 else "not run"
                     for r, p in zip(out["recorded_seeds"], out["planned_seeds"])]
    order = {"complete": 0, "partial": 1, "not run": 2}
    out = out.sort_values(["status", "dataset", "variant"], key=lambda c: c.map(order) if c.name == "status" else c)
    return out.reset_index(drop=True)


def coverage_note(cover: pd.DataFrame) -> str:
    """One Markdown sentence on a :func:`coverage` table: how much of the plan is recorded."""
    if cover.empty:
        return "The plan holds no study run."
    counts = cover["status"].value_counts()
    complete = int(counts.get("complete", 0))
    seeds, epochs = cover["planned_seeds"].max(), cover["planned_epochs"].max()
    text = (f"Recorded: {complete} of {len(cover)} planned (dataset, variant) pairs complete "
            f"({seeds} seeds × {epochs} epochs each)")
    rest = [f"{int(counts[s])} {s}" for s in ("partial", "not run") if counts.get(s, 0)]
    if not rest:
        return text + ": the whole plan."
    missing = cover[cover["status"] != "complete"]
    by_dataset = "; ".join(f"{d}: " + ", ".join(f"`{v}`" for v in g["variant"])
                           for d, g in missing.groupby("dataset", sort=True))
    return f"{text}, {' and '.join(rest)} — {by_dataset}. Conclusions below hold for the recorded pairs only."
