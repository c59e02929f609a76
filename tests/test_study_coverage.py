"""How much of the Harmonic-MLP study's plan is recorded (:mod:`harmonic.analysis.study_coverage`)."""

from __future__ import annotations

import pandas as pd

from harmonic import pipeline
from harmonic.analysis import study
from harmonic.analysis.study_coverage import coverage, coverage_note, planned_study

from study_fixtures import study_dir  # noqa: F401 (the fixture)


def test_planned_study_reads_the_plan():
    planned = planned_study("study")
    variants = {p.stem for p in (pipeline.PARAMS / "study" / "variants").glob("*.yaml")}
    assert len(planned) == 2 * len(variants)
    assert set(planned["variant"]) == variants and set(planned["dataset"]) == {"mnist", "fashion-mnist"}
    assert (planned["seeds"] == 5).all() and (planned["epochs"] == 20).all()


def test_coverage_tells_complete_partial_and_missing_apart(study_dir):
    table = study.study_table(study_dir)  # three seeds of three epochs per (dataset, variant)
    planned = pd.DataFrame([
        {"dataset": "mnist", "variant": "relu", "family": "reference", "seeds": 3, "epochs": 3},
        {"dataset": "mnist", "variant": "fao-off", "family": "frequency-aware optimizer", "seeds": 5, "epochs": 3},
        {"dataset": "mnist", "variant": "freq-linear", "family": "frequency distribution", "seeds": 3, "epochs": 20},
        {"dataset": "fashion-mnist", "variant": "act-snake", "family": "activation", "seeds": 5, "epochs": 3},
    ])
    got = coverage(table, planned).set_index(["dataset", "variant"])
    assert got.loc[("mnist", "relu"), "status"] == "complete"
    assert got.loc[("mnist", "fao-off"), ["recorded_seeds", "status"]].tolist() == [3, "partial"]
    # runs shorter than the planned budget do not count
    assert got.loc[("mnist", "freq-linear"), ["recorded_seeds", "status"]].tolist() == [0, "not run"]
    assert got.loc[("fashion-mnist", "act-snake"), "status"] == "not run"
    assert coverage(pd.DataFrame(columns=list(study.TABLE_COLUMNS)), planned)["status"].eq("not run").all()


def test_coverage_note_names_what_is_missing(study_dir):
    planned = pd.DataFrame([
        {"dataset": "mnist", "variant": "relu", "family": "reference", "seeds": 3, "epochs": 3},
        {"dataset": "fashion-mnist", "variant": "act-snake", "family": "activation", "seeds": 3, "epochs": 3},
    ])
    table = study.study_table(study_dir)
    note = coverage_note(coverage(table, planned))
    assert note.startswith("Recorded: 1 of 2 planned (dataset, variant) pairs complete (3 seeds × 3 epochs each)")
    assert "1 not run — fashion-mnist: `act-snake`." in note
    assert coverage_note(coverage(table, planned.iloc[:1])).endswith(": the whole plan.")
