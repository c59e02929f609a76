"""Result files with provenance.

Every run writes two files into ``<results_dir>/<run_name>/``:

* ``metrics.csv``   one row per epoch (the numbers the book shows);
* ``provenance.json`` parameters, seed, git commit, package versions, hardware,
  start time and duration of the run.

Both are written atomically (temporary file + ``os.replace``) so an interrupted
run never leaves a half-written file behind, and an existing result is only
replaced once the new one is complete.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

METRICS_FILE = "metrics.csv"
PROVENANCE_FILE = "provenance.json"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: readers see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; results are meant to be shared
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _git_commit() -> dict[str, Any]:
    """Commit of the checkout this package was imported from (``None`` outside git), or the
    commit named by ``$HARMONIC_GIT_COMMIT`` where the caller sets it."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=here, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = None
    if commit is not None:
        status = git("status", "--porcelain", "--untracked-files=no")
        dirty = bool(status) if status is not None else None
    stated = os.environ.get("HARMONIC_GIT_COMMIT")
    if stated:
        # a copy of a checkout (e.g. a tree sent to a GPU machine) whose .git is missing or
        # stale: the commit it was copied from, as the caller states it; git's answer is kept
        return {"commit": stated, "dirty": None, "source": "HARMONIC_GIT_COMMIT",
                "git_reported": {"commit": commit, "dirty": dirty}}
    return {"commit": commit, "dirty": dirty}


def _package_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("harmonic", "torch", "torchvision", "numpy", "pandas", "papermill"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def hardware() -> dict[str, Any]:
    """Processor, core count and accelerator the run used."""
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "system": f"{platform.system()} {platform.release()}",
        "cpu_count": os.cpu_count(),
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_count"] = torch.cuda.device_count()
            info["cuda"] = torch.version.cuda
        else:
            info["gpu"] = None
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return info


def provenance(
    params: Mapping[str, Any],
    *,
    seed: int | None,
    device: str | None = None,
    started: _dt.datetime | None = None,
    duration_s: float | None = None,
) -> dict[str, Any]:
    """Everything needed to say where a number came from."""
    return {
        "params": dict(params),
        "seed": seed,
        "device": device,
        "git": _git_commit(),
        "versions": _package_versions(),
        "hardware": hardware(),
        "command": " ".join(sys.argv),
        "started": (started or _dt.datetime.now(_dt.timezone.utc)).isoformat(timespec="seconds"),
        "duration_s": None if duration_s is None else round(float(duration_s), 3),
    }


def metrics_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Render per-epoch metric rows as CSV text (columns in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def save_run(
    results_dir: str | os.PathLike,
    run_name: str,
    metrics: Sequence[Mapping[str, Any]],
    record: Mapping[str, Any],
) -> Path:
    """Write ``metrics.csv`` and ``provenance.json`` of one run; return its folder.

    ``record`` is what :func:`provenance` returned (plus anything else worth keeping).
    """
    if not run_name or any(sep in run_name for sep in ("/", "\\")) or run_name in (".", ".."):
        raise ValueError(f"run_name must be a plain folder name, got {run_name!r}")
    folder = Path(results_dir) / run_name
    atomic_write_text(folder / METRICS_FILE, metrics_to_csv(metrics))
    atomic_write_text(folder / PROVENANCE_FILE, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return folder


def load_runs(results_dirs: str | os.PathLike | Iterable[str | os.PathLike]):
    """All runs below one or more folders as one long pandas DataFrame.

    Each metrics row is joined with its run's parameters (columns ``param_*``), seed,
    device, commit and ``run`` (folder path relative to its results folder).
    Returns an empty frame when there is no run yet.
    """
    import pandas as pd

    if isinstance(results_dirs, (str, os.PathLike)):
        results_dirs = [results_dirs]
    frames = []
    for root in map(Path, results_dirs):
        for prov_path in sorted(root.rglob(PROVENANCE_FILE)):
            metrics_path = prov_path.with_name(METRICS_FILE)
            if not metrics_path.exists():
                continue
            record = json.loads(prov_path.read_text())
            frame = pd.read_csv(metrics_path)
            frame["run"] = str(prov_path.parent.relative_to(root))
            frame["results_dir"] = str(root)
            frame["seed"] = record.get("seed")
            frame["device"] = record.get("device")
            frame["commit"] = (record.get("git") or {}).get("commit")
            frame["started"] = record.get("started")
            for key, value in (record.get("params") or {}).items():
                if isinstance(value, (list, tuple)):
                    value = "-".join(str(v) for v in value)
                elif isinstance(value, dict):  # e.g. model_options: one comparable text cell
                    value = json.dumps(value, sort_keys=True)
                frame[f"param_{key}"] = value
            frames.append(frame)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def now_utc() -> _dt.datetime:
    """Current time in UTC (what provenance records)."""
    return _dt.datetime.now(_dt.timezone.utc)
