"""The plan of a profile (harmonic.plan): checked as a whole (issue #14, case 4), and what readers
find from it (issue #15: the variant and folders of runs come from the plan, not from folder names)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harmonic import plan
from harmonic.paths import REPO_ROOT


def _profile(tmp_path: Path, monkeypatch, runs: list, files: dict[str, dict] | None = None, **top) -> str:
    """A profile ``t`` with ``runs`` (and parameter ``files``) in a temporary params folder."""
    folder = tmp_path / "params" / "t"
    folder.mkdir(parents=True)
    for name, values in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(yaml.safe_dump(values))
    (folder / "plan.yaml").write_text(yaml.safe_dump({"results_dir": "build/results/t", "runs": runs, **top}))
    monkeypatch.setattr(plan, "PARAMS", tmp_path / "params")
    return "t"


# --------------------------------------------------------------------------- 4. plan keys, types and parameters
@pytest.mark.parametrize("entry, match", [
    ({"notebook": "mnist_harmonic_mlp", "parms": ["a.yaml"]}, r"runs\[0\] \(notebook mnist_harmonic_mlp\): "
                                                            r"unknown key\(s\) \['parms'\]; accepted: \['notebook'"),
    ({"notebook": "mnist_harmonic_mlp", "gird": {"lr": [0.1]}}, r"unknown key\(s\) \['gird'\]"),
    ({"notebok": "mnist_harmonic_mlp"}, r"runs\[0\]: unknown key\(s\) \['notebok'\]"),
    ({"page": True}, r"runs\[0\]: missing key\(s\) \['notebook'\]"),
    ({"notebook": "mnist_harmonic_mlp", "grid": {"lr": 0.01}}, r"grid must be a mapping of parameter -> list of "
                                                             r"values, got \{'lr': 0\.01\}"),
    ({"notebook": "mnist_harmonic_mlp", "params": "a.yaml"}, r"params must be a list of parameter file names"),
    ({"notebook": "mnist_harmonic_mlp", "page": "yes"}, r"page must be true or false"),
    ({"notebook": "mnist_harmonic_mlp", "params": ["missing.yaml"]}, r"params: no file .*missing\.yaml"),
    ({"notebook": "no_such_notebook"}, r"notebook .*no_such_notebook\.ipynb does not exist"),
])
def test_plan_accepts_only_its_keys_with_their_types(tmp_path, monkeypatch, entry, match):
    profile = _profile(tmp_path, monkeypatch, [entry], {"a.yaml": {"epochs": 1}})
    with pytest.raises(ValueError, match=rf"plan {tmp_path / 'params' / 't' / 'plan.yaml'}.*{match}"):
        plan.load_plan(profile)


def test_plan_top_level_keys_are_checked(tmp_path, monkeypatch):
    profile = _profile(tmp_path, monkeypatch, [{"notebook": "dct_filter_bank"}], result_dir="x")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['result_dir'\]; accepted: \['results_dir', 'runs'\]"):
        plan.load_plan(profile)


def test_wrn_parameters_are_checked_with_the_notebook_defaults(tmp_path, monkeypatch):
    # the notebook's own epochs (200) hold the milestones; a 10-epoch run must say where its lr drops
    profile = _profile(tmp_path, monkeypatch, [{"notebook": "cifar_wrn", "params": ["a.yaml"], "grid": {
        "level": [3, 10]}}], {"a.yaml": {"epochs": 10, "milestones": [3, 6]}})
    with pytest.raises(ValueError, match=r"grid point \{'level': 10\}: level must be None, an integer from 1 to 5"):
        plan.load_plan(profile)


def test_two_runs_writing_one_run_folder_are_an_error(tmp_path, monkeypatch):
    profile = _profile(tmp_path, monkeypatch, [{"notebook": "mnist_harmonic_mlp", "group": "g",
                                                "params": ["one/run.yaml", "two/run.yaml"]}],
                       {"one/run.yaml": {"lr": 0.1}, "two/run.yaml": {"lr": 0.2}})
    with pytest.raises(ValueError, match=r"one/run\.yaml and .*two/run\.yaml write the same run folder .*g/run"):
        plan.load_plan(profile)


def test_parameters_papermill_cannot_parse_are_still_known():
    # wrn_conversion's "source_run = ... # (... save_model=True)" has two "=", which papermill skips
    assert "source_run" in plan.notebook_parameters(plan.NOTEBOOKS / "wrn_conversion.ipynb")


# --------------------------------------------------------------------------- runs say what they are
def test_every_job_passes_its_group_variant_and_grid_point(tmp_path, monkeypatch):
    profile = _profile(tmp_path, monkeypatch, [{"notebook": "mnist_harmonic_mlp", "group": "g",
                                                "params": ["v/one.yaml", "v/two.yaml"], "grid": {"lr": [0.1, 0.01]}}],
                       {"v/one.yaml": {"epochs": 1}, "v/two.yaml": {"epochs": 2}})
    jobs = plan.load_plan(profile)
    labels = [job.parameters["plan"] for job in jobs]
    assert labels == [{"profile": "t", "group": "g", "variant": v, "point": {"lr": lr}}
                      for v in ("one", "two") for lr in (0.1, 0.01)]
    assert [job.parameters["run_name"] for job in jobs] == ["one-lr0.1", "one-lr0.01", "two-lr0.1", "two-lr0.01"]


def test_group_dir_and_planned_runs_come_from_the_plan(tmp_path, monkeypatch):
    profile = _profile(tmp_path, monkeypatch, [{"notebook": "mnist_harmonic_mlp", "group": "g", "params": ["v.yaml"],
                                                "grid": {"dataset": ["mnist"]}}],
                       {"v.yaml": {"models": ["harmonic", "relu"], "seeds": [0, 1]}})
    assert plan.group_dir(profile, "g") == (REPO_ROOT / "build/results/t/g").resolve()
    assert plan.results_root(profile) == (REPO_ROOT / "build/results/t").resolve()
    with pytest.raises(ValueError, match=r"group must be one of \['g'\] \(the groups of profile 't'\), got 'h'"):
        plan.group_dir(profile, "h")
    runs = plan.planned_runs(profile, "g")
    assert [r["folder"].name for r in runs] == ["v-datasetmnist-harmonic-s0", "v-datasetmnist-harmonic-s1",
                                               "v-datasetmnist-relu-s0", "v-datasetmnist-relu-s1"]
    assert {r["variant"] for r in runs} == {"v"} and runs[0]["point"] == {"dataset": "mnist"}
    assert plan.planned_runs(profile, "other") == []
