"""A recorded run (harmonic.experiments.recording): its folder name, and the plan it keeps in its provenance."""

from __future__ import annotations

import json

import pytest

from harmonic.experiments.recording import check_plan, item_run_name, recorded_run
from harmonic.results import load_runs


def test_item_run_name_is_the_one_naming_of_several_runs():
    assert item_run_name("v-lr0.1", model="relu", seed=3) == "v-lr0.1-relu-s3"
    assert item_run_name("conversion") == "conversion"
    with pytest.raises(ValueError, match=r"item must name only model and seed, got \['lr'\]"):
        item_run_name("v", model="relu", seed=0, lr=0.1)


def test_a_recorded_run_keeps_its_plan_and_load_runs_reads_it(tmp_path):
    label = {"profile": "t", "group": "g", "variant": "v", "point": {"lr": 0.1}}
    recorded_run({"lr": 0.1}, seed=0, device="cpu", results_dir=tmp_path, run_name="any-name",
                 train=lambda _checkpoint: [{"epoch": 1, "test_acc": 50.0}], plan=label)
    assert json.loads((tmp_path / "any-name" / "provenance.json").read_text())["plan"] == label
    runs = load_runs(tmp_path)
    assert (runs["plan_variant"] == "v").all() and (runs["plan_group"] == "g").all()
    recorded_run({}, seed=0, device="cpu", results_dir=tmp_path / "old", run_name="r",
                 train=lambda _checkpoint: [{"epoch": 1}])
    assert load_runs(tmp_path / "old")["plan_variant"].isna().all()


@pytest.mark.parametrize("bad", [{"group": "g"}, {"profile": 1, "group": 2, "variant": 3, "point": {}, "x": 4}, "g"])
def test_a_malformed_plan_is_refused_before_training(tmp_path, bad):
    trained = []
    with pytest.raises(ValueError, match=r"plan must be None or a mapping of the keys \['profile', 'group'"):
        recorded_run({}, seed=0, device="cpu", results_dir=tmp_path, run_name="r",
                     train=lambda _checkpoint: trained.append(1) or [], plan=bad)
    assert trained == [] and not (tmp_path / "r").exists()
    assert check_plan(None) is None
