"""harmonic.locking (issue #24): one writer per run folder; a second process is refused at once,
a killed holder blocks nothing, an unwritable results folder is found before training."""

from __future__ import annotations

import errno
import os

import pytest

from harmonic import locking, results
from harmonic.experiments.recording import recorded_run
from harmonic.locking import FolderLockedError, FolderNotWritableError, folder_lock

from processes import held_process

_HOLD_LOCK = """
    from harmonic.locking import folder_lock
    with folder_lock({folder!r}):
        hold()
"""


def _train_into():
    def train(checkpoint):
        checkpoint.write_bytes(b"weights")
        return [{"epoch": 1, "test_acc": 50.0}]
    return train


def test_a_second_writer_of_a_run_folder_is_refused(tmp_path):
    results.save_run(tmp_path, "run", [{"epoch": 1, "test_acc": 90.0}], {"seed": 0})
    trained = []
    with held_process(_HOLD_LOCK.format(folder=str(tmp_path / "run"))) as holder:
        with pytest.raises(FolderLockedError, match=rf"{tmp_path / 'run'} is being written by run process {holder.pid} "
                                                    r"on .* since .*\(lock file .*\.lock\); wait until it finishes"):
            recorded_run({}, seed=1, device="cpu", results_dir=tmp_path, run_name="run",
                         train=lambda checkpoint: trained.append(checkpoint) or [])
    assert trained == []  # refused before training: nothing of the other run was touched
    assert results.load_runs(tmp_path)["test_acc"].tolist() == [90.0]


def test_a_killed_holder_leaves_no_lock_behind(tmp_path):
    with held_process(_HOLD_LOCK.format(folder=str(tmp_path / "run"))):
        assert (tmp_path / "run" / locking.LOCK_FILE).is_file()
    # killed with SIGKILL: its lock file is still there, its lock is not
    run = recorded_run({}, seed=0, device="cpu", results_dir=tmp_path, run_name="run", train=_train_into())
    assert run.final["test_acc"] == 50.0
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint.pt", "metrics.csv", "provenance.json"]


def test_one_process_takes_the_lock_once(tmp_path):
    with folder_lock(tmp_path / "run"):
        with pytest.raises(FolderLockedError):  # flock locks are per open file: a second open is refused too
            with folder_lock(tmp_path / "run"):
                pass
    with folder_lock(tmp_path / "run"):
        pass
    assert not (tmp_path / "run").exists()  # created by the lock, nothing written: removed again


def test_an_unwritable_results_folder_is_found_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    trained = []
    with pytest.raises(FolderNotWritableError, match=rf"{blocker / 'run'} cannot be written .*choose another results "
                                                     "folder, or make this one writable"):
        recorded_run({}, seed=0, device="cpu", results_dir=blocker, run_name="run",
                     train=lambda checkpoint: trained.append(checkpoint) or [])
    open_file = os.open

    def read_only(path, flags, mode=0o777):
        if str(path).endswith(locking.LOCK_FILE):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return open_file(path, flags, mode)

    monkeypatch.setattr(locking.os, "open", read_only)  # root writes through chmod: a read-only mount instead
    with pytest.raises(FolderNotWritableError, match=r"cannot be written \(OSError: Read-only file system\)"):
        recorded_run({}, seed=0, device="cpu", results_dir=tmp_path / "results", run_name="run",
                     train=lambda checkpoint: trained.append(checkpoint) or [])
    assert trained == []
