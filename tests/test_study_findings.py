"""Sentences of the Harmonic-MLP study computed from its summary (:mod:`harmonic.analysis.study_findings`)."""

from __future__ import annotations

import pandas as pd

from harmonic.analysis import study
from harmonic.analysis.study_findings import findings, same_settings_note

from study_fixtures import study_dir  # noqa: F401 (the fixture)


def test_findings_are_computed_from_the_summary(study_dir):
    text = findings(study.summary(study.study_table(study_dir)))
    assert "Best harmonic variant: `freq-linear`, 98.70 ± 0.10 %" in text
    assert "meets the 98.5 % target" in text and "Best ReLU variant: `relu-lr-3e-3`" in text
    assert "`fao-off` minus `seed-faithful`: +0.10 points, within the seed-to-seed std (0.20)" in text
    assert "`freq-linear` (+0.10)" in text
    assert findings(study.summary(pd.DataFrame(columns=list(study.TABLE_COLUMNS)))).startswith("No recorded")


def test_findings_compare_each_family_with_the_seed(study_dir):
    text = findings(study.summary(study.study_table(study_dir)))
    assert "- Frequency distribution: best harmonic variant `freq-linear`, +0.50 points against " \
           "`seed-faithful` (larger than the seed-to-seed std (0.20))." in text
    assert "- Frequency-aware optimizer: best harmonic variant `fao-off`, +0.10 points" in text


def test_same_settings_note_counts_the_verdicts_per_dataset(study_dir):
    table = study.study_table(study_dir)
    note = same_settings_note(study.same_settings(table))
    assert "- mnist: of 3 harmonic variants with a ReLU twin, 1 above it, 2 within the seed-to-seed std" in note
    assert "best against its twin: `freq-linear` vs `relu` (+0.30 points)" in note
    assert same_settings_note(study.same_settings(table, epoch_budget=2)).startswith("No harmonic variant")
