"""The pipeline checks the whole plan before anything runs or is deleted (issue #14, cases 1 and 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harmonic import pipeline, plan
from harmonic.paths import REPO_ROOT
from test_plan import _profile


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


def test_figures_mode_restages_the_sources_but_keeps_the_executed_pages(tmp_path):
    staged = pipeline.stage_book(tmp_path / "book")
    for built in ("notebooks/cifar_wrn.ipynb", "_extra/data/notebooks/cifar_wrn/table-1.csv"):
        (staged / built).parent.mkdir(parents=True, exist_ok=True)
        (staged / built).write_text("from the last build")
    (staged / "left-over.md").write_text("an old source")
    pipeline.stage_book(staged, keep_built=True)
    assert (staged / "notebooks" / "cifar_wrn.ipynb").is_file() and (staged / "_extra" / "data").is_dir()
    assert not (staged / "left-over.md").exists() and (staged / "_config.yml").is_file()
    pipeline.stage_book(staged)
    assert not (staged / "notebooks").exists() and not (staged / "_extra").exists()


# --------------------------------------------------------------------------- 4. a bad parameter stops everything
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
        plan.load_plan(profile)
    assert pipeline.main(["--profile", profile, "--book", str(tmp_path / "book"), "--no-build"]) == 2
    assert nothing_runs_or_is_deleted == [] and not (tmp_path / "book").exists()
