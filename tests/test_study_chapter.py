"""The Harmonic-MLP study's chapter data (harmonic.analysis.study_chapter): both studies found from the plans.

``study_dir`` (:mod:`study_fixtures`) is a synthetic study: test fixtures for the aggregation logic, never results.
"""

from __future__ import annotations

import shutil

import pandas as pd
import yaml

from harmonic import plan
from harmonic.analysis import study, study_chapter

from study_fixtures import study_dir  # noqa: F401 (the fixture)


def _profile(params, name: str, results_dir) -> None:
    """A profile whose plan writes group mlp-study into ``results_dir`` (an absolute folder)."""
    (params / name).mkdir(parents=True)
    (params / name / "v.yaml").write_text(yaml.safe_dump({"epochs": 1}))
    (params / name / "plan.yaml").write_text(yaml.safe_dump({"results_dir": str(results_dir), "runs": [
        {"notebook": "mnist_harmonic_mlp", "group": "mlp-study", "params": ["v.yaml"]}]}))


def test_the_chapter_reads_this_build_and_the_full_study_from_their_plans(study_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(plan, "PARAMS", tmp_path / "params")
    _profile(tmp_path / "params", "study", study_dir.parent)
    shutil.copytree(study_dir, tmp_path / "build" / "mlp-study")
    _profile(tmp_path / "params", "build", tmp_path / "build")
    table_path = tmp_path / "mlp_study.csv"

    before = study_chapter.load_chapter("build", table_path=table_path)
    assert before.reference is None and not before.is_full_study and len(before.runs) > 0
    assert len(before.reference_runs) == len(before.runs)  # the full study's runs, from the study plan

    full = study_chapter.load_chapter("study", write_table=True, table_path=table_path)
    assert full.is_full_study and full.reference is full.table
    assert table_path.read_text() == study.study_table(study_dir).to_csv(index=False)

    after = study_chapter.load_chapter("build", table_path=table_path)
    pd.testing.assert_frame_equal(after.reference, pd.read_csv(table_path))
    # a table written before a family existed: the chapter re-derives each variant's family
    pd.read_csv(table_path).assign(family="old name").to_csv(table_path, index=False)
    stale = study_chapter.load_chapter("build", table_path=table_path).reference
    assert list(stale["family"]) == [study.family_of(v) for v in stale["variant"]]
    build, reference = study.summary(after.table, 3), study.summary(after.reference, 3)
    assert "Best harmonic variant: `freq-linear`" in study.findings_text(reference)
    side = study_chapter.side_by_side(build, reference)
    assert list(side.columns) == ["dataset", "variant", "this build (%)", "seeds (this build)", "epochs (this build)",
                                  "full study (%)", "full study std", "seeds (full study)", "epochs (full study)"]
    assert (side["this build (%)"] == side["full study (%)"]).all()  # the same runs on both sides
    assert set(side["variant"]) == {study.variant_label(v) for v in build["variant"]}
