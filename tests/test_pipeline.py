"""The pipeline checks the whole plan before anything runs or is deleted (issue #14, cases 1 and 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harmonic import pipeline
from harmonic.paths import REPO_ROOT


@pytest.fixture
def nothing_runs_or_is_deleted(monkeypatch):
    """Record (and refuse) every deletion and execution the pipeline attempts."""
    attempts: list[str] = []

    def refuse_rmtree(path, *args, **kwargs):
        attempts.append(f"rmtree {path}")
        raise AssertionError(f"the pipeline tried to delete {path}")

    def refuse_execute(job, kernel="python3"):
        attempts.append(f"execute {job.notebook.name}")
        raise AssertionError(f"the pipeline ran {job.notebook.name}")

    monkeypatch.setattr(pipeline.shutil, "rmtree", refuse_rmtree)
    monkeypatch.setattr(pipeline, "execute", refuse_execute)
    return attempts


def _profile(tmp_path: Path, monkeypatch, runs: list, files: dict[str, dict] | None = None, **top) -> str:
    """A profile ``t`` with ``runs`` (and parameter ``files``) in a temporary params folder."""
    folder = tmp_path / "params" / "t"
    folder.mkdir(parents=True)
    for name, values in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(yaml.safe_dump(values))
    (folder / "plan.yaml").write_text(yaml.safe_dump({"results_dir": "build/results/t", "runs": runs, **top}))
    monkeypatch.setattr(pipeline, "PARAMS", tmp_path / "params")
    return "t"


# --------------------------------------------------------------------------- 1. --book deletes nothing it did not stage
def test_unknown_profile_with_book_deletes_nothing(tmp_path, nothing_runs_or_is_deleted, capsys):
    folder = tmp_path / "some" / "folder"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("keep me")
    assert pipeline.main(["--profile", "doesnotexist", "--book", str(folder)]) == 2
    assert "profile must be one of" in capsys.readouterr().err
    assert (folder / "notes.txt").read_text() == "keep me" and nothing_runs_or_is_deleted == []


@pytest.mark.parametrize("target", [REPO_ROOT / "book", REPO_ROOT, REPO_ROOT.parent, REPO_ROOT / "book" / "sub"])
def test_book_refuses_the_sources_the_repository_and_their_parents(target, nothing_runs_or_is_deleted, capsys):
    assert pipeline.main(["--profile", "smoke", "--book", str(target), "--no-build"]) == 2
    assert f"--book {target.resolve()}" in capsys.readouterr().err
    assert nothing_runs_or_is_deleted == [] and (REPO_ROOT / "book" / "_config.yml").exists()


def test_book_refuses_a_folder_it_did_not_stage(tmp_path, nothing_runs_or_is_deleted, capsys):
    (tmp_path / "mine.md").write_text("an unrelated folder")
    assert pipeline.main(["--profile", "smoke", "--book", str(tmp_path), "--no-build"]) == 2
    assert pipeline.STAGED_MARKER in capsys.readouterr().err
    assert (tmp_path / "mine.md").exists() and nothing_runs_or_is_deleted == []


def test_a_staged_book_is_marked_and_replaced(tmp_path):
    staged = pipeline.stage_book(tmp_path / "book")
    assert (staged / pipeline.STAGED_MARKER).is_file() and (staged / "_config.yml").is_file()
    (staged / "left-over.md").write_text("from the last build")
    pipeline.stage_book(staged)
    assert not (staged / "left-over.md").exists() and (staged / pipeline.STAGED_MARKER).is_file()
    (tmp_path / "empty").mkdir()
    assert (pipeline.stage_book(tmp_path / "empty") / "_config.yml").is_file()  # an empty folder may be used


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
        pipeline.load_plan(profile)


def test_plan_top_level_keys_are_checked(tmp_path, monkeypatch):
    profile = _profile(tmp_path, monkeypatch, [{"notebook": "dct_filter_bank"}], result_dir="x")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['result_dir'\]; accepted: \['results_dir', 'runs'\]"):
        pipeline.load_plan(profile)


@pytest.mark.parametrize("values, match", [
    ({"epoch": 1}, r"a\.yaml: unknown parameter\(s\) \['epoch'\] of notebook mnist_harmonic_mlp\.ipynb; "
                   r"accepted: \[.*'epochs'"),
    ({"lrr": 0.5}, r"unknown parameter\(s\) \['lrr'\]"),
    ({"run_name": "mine"}, r"\['run_name'\] are set by the pipeline"),
    ({"epochs": 2.0}, r"a\.yaml: epochs must be a positive integer, got 2\.0"),
    ({"batch_size": 64.0}, r"batch_size must be a positive integer, got 64\.0"),
    ({"hidden_sizes": 64}, r"hidden_sizes must be a list of positive integers"),
    ({"seeds": 0}, r"seeds must be a non-empty list, got 0"),
])
def test_job_parameters_are_checked_against_the_notebook(tmp_path, monkeypatch, nothing_runs_or_is_deleted,
                                                         capsys, values, match):
    profile = _profile(tmp_path, monkeypatch, [{"notebook": "mnist_harmonic_mlp", "params": ["a.yaml"]}],
                       {"a.yaml": values})
    with pytest.raises(ValueError, match=match):
        pipeline.load_plan(profile)
    assert pipeline.main(["--profile", profile, "--book", str(tmp_path / "book"), "--no-build"]) == 2
    assert nothing_runs_or_is_deleted == [] and not (tmp_path / "book").exists()


def test_wrn_parameters_are_checked_with_the_notebook_defaults(tmp_path, monkeypatch):
    # the notebook's own epochs (200) hold the milestones; a 10-epoch run must say where its lr drops
    profile = _profile(tmp_path, monkeypatch, [{"notebook": "cifar_wrn", "params": ["a.yaml"], "grid": {
        "level": [3, 10]}}], {"a.yaml": {"epochs": 10, "milestones": [3, 6]}})
    with pytest.raises(ValueError, match=r"grid point \{'level': 10\}: level must be None, an integer from 1 to 5"):
        pipeline.load_plan(profile)


def test_two_runs_writing_one_run_folder_are_an_error(tmp_path, monkeypatch):
    profile = _profile(tmp_path, monkeypatch, [{"notebook": "mnist_harmonic_mlp", "group": "g",
                                                "params": ["one/run.yaml", "two/run.yaml"]}],
                       {"one/run.yaml": {"lr": 0.1}, "two/run.yaml": {"lr": 0.2}})
    with pytest.raises(ValueError, match=r"one/run\.yaml and .*two/run\.yaml write the same run folder .*g/run"):
        pipeline.load_plan(profile)


def test_parameters_papermill_cannot_parse_are_still_known():
    # wrn_conversion's "source_run = ... # (... save_model=True)" has two "=", which papermill skips
    assert "source_run" in pipeline.notebook_parameters(pipeline.NOTEBOOKS / "wrn_conversion.ipynb")
