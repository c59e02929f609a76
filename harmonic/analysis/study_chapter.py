"""What the Harmonic-MLP study's chapter reads: this build's study runs and the committed full study.

The chapter (``notebooks/mlp_study.ipynb``) shows the full study (profile ``study``, recorded in
``data/results/mlp-study`` and tidied into :data:`TABLE_PATH`) and, beside it, the reduced study of
the build that runs it (the group ``mlp-study`` of its profile). Both folders come from the plans
(:func:`harmonic.plan.group_dir`). In the ``study`` profile the build *is* the full study, and its
chapter rewrites the tidy table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harmonic.analysis.study import TABLE_COLUMNS, family_of, study_runs, study_table, write_study_table
from harmonic.analysis.study_views import variant_label
from harmonic.paths import RECORDED_RESULTS
from harmonic.plan import group_dir

__all__ = ["FULL_STUDY", "GROUP", "TABLE_PATH", "StudyChapter", "load_chapter", "side_by_side"]

#: The profile whose plan is the full study, the group its runs write, and its committed tidy table.
FULL_STUDY = "study"
GROUP = "mlp-study"
TABLE_PATH = RECORDED_RESULTS / "mlp_study.csv"


@dataclass
class StudyChapter:
    """The chapter's data: ``runs`` and ``table`` of this build, ``reference`` (the full study's tidy
    table, None when it is not recorded) and ``reference_runs`` (its per-epoch runs, possibly empty)."""

    runs: pd.DataFrame
    table: pd.DataFrame
    reference: pd.DataFrame | None
    reference_runs: pd.DataFrame
    is_full_study: bool


def load_chapter(profile: str, write_table: bool = False,
                 table_path: str | os.PathLike = TABLE_PATH) -> StudyChapter:
    """This build's study runs (group :data:`GROUP` of ``profile``) and the full study's.

    ``write_table=True`` (the full study's own build) rewrites ``table_path`` from this build's runs
    (:func:`~harmonic.analysis.study.write_study_table`) and makes it the reference; otherwise the
    reference is the committed ``table_path`` (None if there is none), its ``family`` column re-derived
    from the variant (:func:`~harmonic.analysis.study.family_of`).
    """
    here = group_dir(profile, GROUP)
    runs = study_runs(here, profile, GROUP) if here.exists() else pd.DataFrame()
    table_path = Path(table_path)
    if runs.empty:
        table = pd.DataFrame(columns=list(TABLE_COLUMNS))
    elif write_table:
        table = write_study_table(here, table_path, profile=profile, group=GROUP)
    else:
        table = study_table(here, profile=profile, group=GROUP)
    full = group_dir(FULL_STUDY, GROUP)
    is_full_study = write_table and here == full
    if is_full_study:
        reference = table
    else:
        # the family is re-derived from the variant: a table written before a family was added keeps the old one
        reference = (pd.read_csv(table_path).assign(family=lambda t: t["variant"].map(family_of))
                     if table_path.exists() else None)
    reference_runs = study_runs(full, FULL_STUDY, GROUP) if full.exists() else pd.DataFrame()
    return StudyChapter(runs, table, reference, reference_runs, is_full_study)


def side_by_side(build_summary: pd.DataFrame, reference_summary: pd.DataFrame) -> pd.DataFrame:
    """This build's variants (mean final test accuracy) next to the full study's mean and std, for reading
    (both :func:`~harmonic.analysis.study.summary` tables; variants missing in the full study stay empty)."""
    side = build_summary[["dataset", "variant", "mean", "seeds", "epochs"]].merge(
        reference_summary[["dataset", "variant", "mean", "std", "seeds", "epochs"]],
        on=["dataset", "variant"], how="left", suffixes=(" (this build)", " (full study)"))
    return side.assign(variant=side["variant"].map(variant_label)).rename(columns={
        "mean (this build)": "this build (%)", "mean (full study)": "full study (%)", "std": "full study std"})
