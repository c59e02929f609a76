"""Result files: atomic writes, provenance, and one-call experiments on real MNIST."""

from __future__ import annotations

import json

import pytest

from harmonic import results
from harmonic.experiments.mlp import run_mlp, run_mlp_grid
from harmonic.analysis.report import mean_std


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "metrics.csv"
    results.atomic_write_text(target, "old\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        results.atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]  # no temporary file left behind


def test_save_run_rejects_path_like_names(tmp_path):
    with pytest.raises(ValueError, match="run_name"):
        results.save_run(tmp_path, "../escape", [], {})


def test_run_mlp_records_metrics_and_provenance(tmp_path, mnist_root):
    result = run_mlp(results_dir=tmp_path, run_name="tiny", data_root=str(mnist_root), progress=False,
                     hidden_sizes=[32, 16], epochs=2, subset=512, test_subset=256, seed=7, device="cpu")
    folder = tmp_path / "tiny"
    record = json.loads((folder / "provenance.json").read_text())
    assert record["seed"] == 7 and record["device"] == "cpu"
    assert record["params"]["hidden_sizes"] == [32, 16] and record["params"]["lr"] == 1e-3
    assert record["params"]["n_parameters"] > 0
    assert record["versions"]["torch"] and record["hardware"]["cpu_count"] >= 1
    assert "commit" in record["git"] and record["duration_s"] > 0
    loaded = results.load_runs(tmp_path)
    assert list(loaded["epoch"]) == [1, 2]
    assert loaded["test_acc"].tolist() == pytest.approx(result.metrics["test_acc"].tolist())
    assert (loaded["param_model"] == "harmonic").all()


def test_run_mlp_grid_and_summary(mnist_root):
    runs = run_mlp_grid(["harmonic", "relu"], [0, 1], data_root=str(mnist_root), progress=False,
                        hidden_sizes=[16], max_freqs=[3.0], epochs=1, subset=256, test_subset=128, device="cpu")
    table = mean_std(runs, by=["model"])
    assert list(table["model"]) == ["harmonic", "relu"] and list(table["seeds"]) == [2, 2]
    assert all(" ± " in cell for cell in table["test_acc"])


def test_unknown_parameter_is_named():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['learning_rate'\]"):
        run_mlp(learning_rate=0.1)


def test_result_files_are_readable_by_others(tmp_path):
    path = results.atomic_write_text(tmp_path / "provenance.json", "{}")
    assert path.stat().st_mode & 0o777 == 0o666 & ~results._umask()  # not mkstemp's 0600


def test_provenance_overview_groups_runs_by_folder_and_environment(tmp_path):
    from harmonic.analysis import report

    metrics = [{"epoch": 1, "test_acc": 90.0}]
    for folder, name, commit, seconds in [("study", "a-s0", "1" * 40, 10.0), ("study", "a-s1", "1" * 40, 12.0),
                                          ("study", "b-s0", "2" * 40, 5.0), ("sweep", "c-s0", "1" * 40, 1.0)]:
        record = {"seed": 0, "device": "cpu", "git": {"commit": commit, "dirty": False}, "duration_s": seconds,
                  "started": f"2026-11-24T0{int(seconds) % 10}:00:00", "versions": {"torch": "2.x", "python": "3.11"},
                  "hardware": {"machine": "x86_64", "torch_threads": 1}}
        results.save_run(tmp_path / folder, name, metrics, record)
    overview = report.provenance_overview(report.provenance_summary([tmp_path]))
    rows = {(r.folder, r.commit): r for r in overview.itertuples()}
    assert set(rows) == {("study", "1" * 10), ("study", "2" * 10), ("sweep", "1" * 10)}
    assert rows[("study", "1" * 10)].runs == 2 and rows[("study", "1" * 10)].seconds == 22.0
    assert rows[("study", "1" * 10)].first_started < rows[("study", "1" * 10)].last_started
    assert report.provenance_overview(report.provenance_summary([tmp_path / "none"])).empty


def test_commit_of_a_copy_can_be_stated_in_the_environment(monkeypatch):
    def no_git(*args, **kwargs):
        raise OSError("git: not found")

    monkeypatch.setattr(results.subprocess, "run", no_git)
    monkeypatch.delenv("HARMONIC_GIT_COMMIT", raising=False)
    assert results._git_commit() == {"commit": None, "dirty": None}
    monkeypatch.setenv("HARMONIC_GIT_COMMIT", "abc123")
    assert results._git_commit() == {
        "commit": "abc123", "dirty": None, "source": "HARMONIC_GIT_COMMIT",
        "git_reported": {"commit": None, "dirty": None},
    }  # fmt: skip
    monkeypatch.undo()  # git as it is here: the stated commit still wins and git's answer is kept
    monkeypatch.delenv("HARMONIC_GIT_COMMIT", raising=False)
    reported = results._git_commit()
    monkeypatch.setenv("HARMONIC_GIT_COMMIT", "abc123")
    assert results._git_commit() == {
        "commit": "abc123", "dirty": None, "source": "HARMONIC_GIT_COMMIT", "git_reported": reported,
    }  # fmt: skip
