"""kill -9 in the middle of a write (issue #24): a results write, a checkpoint save and the book's
staging. Afterwards nothing half-written is shown or resumed from, and a rerun completes."""

from __future__ import annotations

import filecmp

import pandas as pd
import pytest
import torch

from harmonic import pipeline, results
from harmonic.experiments.checkpoints import load_checkpoint, save_checkpoint
from harmonic.paths import REPO_ROOT

from processes import kill_at


def _save_run_killed_at_write(folder, number: int) -> None:
    """``save_run`` of a new version of the run in ``folder``, killed while writing its ``number``-th
    file (1: provenance.json, 2: metrics.csv), its bytes not yet all on disk."""
    kill_at(f"""
        import os
        from harmonic import results
        writes = []
        fsync = os.fsync
        def fsync_or_hold(fd):
            writes.append(fd)
            hold() if len(writes) == {number} else fsync(fd)
        os.fsync = fsync_or_hold
        results.save_run({str(folder.parent)!r}, {folder.name!r}, [{{"epoch": 1, "test_acc": 10.0}}], {{"seed": 9}})
    """)


def test_killed_during_the_first_file_keeps_the_recorded_run(tmp_path):
    results.save_run(tmp_path, "run", [{"epoch": 1, "test_acc": 90.0}], {"seed": 0})
    _save_run_killed_at_write(tmp_path / "run", 1)
    assert list((tmp_path / "run").glob(".*.tmp"))  # the killed write's temporary file is all it left
    runs = results.load_runs(tmp_path)
    assert runs["test_acc"].tolist() == [90.0] and runs["seed"].tolist() == [0]  # the recorded run, whole


def test_killed_between_the_files_is_not_shown_and_a_rerun_completes(tmp_path):
    results.save_run(tmp_path, "run", [{"epoch": 1, "test_acc": 90.0}], {"seed": 0})
    _save_run_killed_at_write(tmp_path / "run", 2)
    with pytest.raises(results.ResultFileError, match=rf"{tmp_path / 'run'}: metrics\.csv is not the one recorded"):
        results.load_runs(tmp_path, altered="raise")
    results.save_run(tmp_path, "run", [{"epoch": 1, "test_acc": 10.0}], {"seed": 9})  # the rerun
    assert results.load_runs(tmp_path)["test_acc"].tolist() == [10.0]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["metrics.csv", "provenance.json"]


def test_killed_during_a_checkpoint_save_resumes_from_the_previous_one(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"model": {"w": torch.arange(4.0)}, "history": [{"epoch": 1}]})
    kill_at(f"""
        import os, torch
        from harmonic.experiments.checkpoints import save_checkpoint
        os.fsync = hold
        save_checkpoint({str(path)!r}, {{"model": {{"w": torch.zeros(4)}}, "history": [{{"epoch": 1}}, {{"epoch": 2}}]}})
    """)
    state = load_checkpoint(path)
    assert torch.equal(state["model"]["w"], torch.arange(4.0)) and state["history"] == [{"epoch": 1}]


def test_killed_during_the_book_staging_is_restaged(tmp_path):
    destination = tmp_path / "book"
    kill_at(f"""
        import shutil
        from pathlib import Path
        from harmonic import pipeline
        copied = []
        copyfile = shutil.copyfile
        def copy_or_hold(src, dst, **kwargs):
            copied.append(src)
            return hold() if len(copied) == 3 else copyfile(src, dst, **kwargs)
        shutil.copyfile = copy_or_hold
        pipeline.stage_book(Path({str(destination)!r}))
    """)
    assert (destination / pipeline.STAGED_MARKER).is_file()  # half a copy, marked as the pipeline's own
    pipeline.stage_book(destination)  # the rerun replaces it
    source = REPO_ROOT / "book"
    # what a build writes (pipeline.BUILT) is not staged, so it is left out of the comparison
    compared = filecmp.dircmp(source, destination, ignore=[*pipeline.BUILT, pipeline.STAGED_MARKER])
    assert not compared.left_only and not compared.right_only and not compared.diff_files


def test_a_failed_write_leaves_the_previous_file_and_names_the_path(tmp_path, monkeypatch):
    path = results.atomic_write_text(tmp_path / "metrics.csv", "epoch\n1\n")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results.os, "fsync", disk_full)
    with pytest.raises(OSError, match=rf"{path} could not be written \(No space left on device\); the previous "
                                      r"version, if any, is unchanged"):
        results.atomic_write_text(path, "epoch\n1\n2\n")
    assert path.read_text() == "epoch\n1\n" and [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]
    assert pd.read_csv(path)["epoch"].tolist() == [1]
