"""Result files with provenance.

Every run writes two files into ``<results_dir>/<run_name>/``:

* ``metrics.csv``   one row per epoch (the numbers the book shows);
* ``provenance.json`` parameters, seed, git commit, package versions, hardware,
  start time and duration of the run.

Both are written atomically (temporary file + ``os.replace``) so an interrupted
run never leaves a half-written file behind, and an existing result is only
replaced once the new one is complete. The pair is one unit: ``provenance.json``
records the SHA-256 of the ``metrics.csv`` text it was written with
(``metrics_sha256``, written first), and :func:`load_runs` refuses a folder whose
two files come from different saves (a run killed between the two writes).
Temporary files left behind by a killed write are removed when the folder is
written next. Every reader raises :class:`ResultFileError` naming the file it could not read.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

METRICS_FILE = "metrics.csv"
PROVENANCE_FILE = "provenance.json"
#: Key of ``provenance.json`` holding the SHA-256 of its run's ``metrics.csv`` text.
METRICS_HASH_KEY = "metrics_sha256"
#: Name pattern of :func:`atomic_write_bytes`' temporary files.
TEMPORARY_PATTERN = ".*.tmp"


class ResultFileError(ValueError):
    """A result file that cannot be used; the message names it and says what to do."""


class AlteredMetricsError(ResultFileError):
    """A ``metrics.csv`` whose SHA-256 is not the one its ``provenance.json`` recorded: edited after
    recording, or the two files come from different saves."""


class AlteredRunWarning(UserWarning):
    """:func:`load_runs` left out a run whose ``metrics.csv`` is not the one recorded."""


#: What :func:`metrics_status` says of a run folder.
AS_RECORDED, ALTERED, NO_HASH = "as recorded", "edited after recording (not shown)", "recorded before hashes"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: readers see the old file or the new one. A failed write
    (a full disk, a read-only folder) leaves no temporary file and raises the ``OSError`` naming ``path``."""
    path = Path(path)
    tmp = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; results are meant to be shared
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(error, OSError) and error.errno is not None:  # a full disk, a read-only folder, ...
            raise type(error)(error.errno, f"{path} could not be written ({error.strerror}); the previous version, "
                                           "if any, is unchanged: free space on its disk, make the folder "
                                           "writable or choose another results folder") from None
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


def is_plain_name(name: object) -> bool:
    """Whether ``name`` is a plain folder name: text without a path separator or a control
    character, not ``.`` or ``..`` (so it stays inside the folder it is joined to; spaces and
    unicode letters are fine)."""
    return (isinstance(name, str) and bool(name) and name not in (".", "..")
            and not any(char in "/\\" or ord(char) < 32 or ord(char) == 127 for char in name))


def check_run_name(run_name: str | None, what: str = "run_name") -> str:
    """``run_name`` if it :func:`is_plain_name`, else a ValueError naming ``what``."""
    if not is_plain_name(run_name):
        raise ValueError(f"{what} must be a plain folder name (no '/', '\\', '..' or control characters), "
                         f"got {run_name!r}")
    return run_name


def metrics_hash(text: str) -> str:
    """SHA-256 of a ``metrics.csv`` text, line endings normalised (a checkout with CRLF endings still matches)."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def remove_stale_temporaries(folder: str | os.PathLike, older_than: float) -> list[Path]:
    """Delete the temporary files of interrupted atomic writes in ``folder`` last modified before
    ``older_than`` (a :func:`time.time` value); return what was removed."""
    removed = []
    for path in Path(folder).glob(TEMPORARY_PATTERN):
        try:
            if path.is_file() and path.stat().st_mtime < older_than:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # removed meanwhile by whoever wrote it
            continue
    return removed


def save_run(
    results_dir: str | os.PathLike,
    run_name: str,
    metrics: Sequence[Mapping[str, Any]],
    record: Mapping[str, Any],
) -> Path:
    """Write ``metrics.csv`` and ``provenance.json`` of one run as one unit; return its folder.

    ``record`` is what :func:`provenance` returned (plus anything else worth keeping). The
    provenance is written first and holds the hash of the metrics written next, so a run
    interrupted in between is detected by :func:`load_runs`. Temporary files of earlier,
    interrupted writes in the folder are removed.
    """
    started = time.time()
    folder = Path(results_dir) / check_run_name(run_name)
    text = metrics_to_csv(metrics)
    stamped = {**record, METRICS_HASH_KEY: metrics_hash(text)}
    atomic_write_text(folder / PROVENANCE_FILE, json.dumps(stamped, indent=2, sort_keys=True, default=str) + "\n")
    atomic_write_text(folder / METRICS_FILE, text)
    remove_stale_temporaries(folder, older_than=started)
    return folder


def read_json(path: str | os.PathLike) -> Any:
    """The JSON value in ``path``; a :class:`ResultFileError` naming the file if it cannot be read."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultFileError(f"{path} cannot be read as JSON ({type(error).__name__}: {error}); "
                              "restore it (e.g. from git) or rerun what wrote it") from None


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """A ``provenance.json`` record (a JSON object), or a :class:`ResultFileError` naming the file."""
    record = read_json(path)
    if not isinstance(record, dict):
        raise ResultFileError(f"{path} is not a provenance record (a JSON object), got {type(record).__name__}; "
                              "restore it (e.g. from git) or rerun the run")
    return record


def read_metrics(path: str | os.PathLike, expected_hash: str | None = None):
    """A ``metrics.csv`` as a DataFrame; ``expected_hash``: the ``metrics_sha256`` of the run's
    provenance, checked. Raises :class:`ResultFileError` naming the file (or the run folder)."""
    import pandas as pd

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ResultFileError(f"{path} cannot be read ({type(error).__name__}: {error}); "
                              "restore it (e.g. from git) or rerun the run") from None
    if expected_hash is not None and metrics_hash(text) != expected_hash:
        raise AlteredMetricsError(
            f"{path.parent}: {METRICS_FILE} is not the one recorded with {PROVENANCE_FILE} (its SHA-256 differs "
            f"from {METRICS_HASH_KEY}): it was edited after recording, or the two files come from different saves "
            "(a run stopped between writing them, or is writing them now); restore it (e.g. from git) or rerun "
            "the run, else delete the folder")
    try:
        return pd.read_csv(io.StringIO(text))
    except ValueError as error:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise ResultFileError(f"{path} is not a metrics table ({type(error).__name__}: {error}); "
                              "restore it (e.g. from git) or rerun the run") from None


def metrics_status(folder: str | os.PathLike) -> str:
    """Whether a run folder's ``metrics.csv`` is the one its provenance recorded: :data:`AS_RECORDED`,
    :data:`ALTERED` (its SHA-256 differs: :func:`load_runs` leaves the run out) or :data:`NO_HASH`
    (a run recorded before runs recorded the hash)."""
    folder = Path(folder)
    expected = read_provenance(folder / PROVENANCE_FILE).get(METRICS_HASH_KEY)
    if expected is None:
        return NO_HASH
    try:
        read_metrics(folder / METRICS_FILE, expected)
    except AlteredMetricsError:
        return ALTERED
    return AS_RECORDED


def load_runs(results_dirs: str | os.PathLike | Iterable[str | os.PathLike], altered: str = "skip"):
    """All runs below one or more folders as one long pandas DataFrame.

    Each metrics row is joined with its run's parameters (columns ``param_*``), seed,
    device, commit, ``run`` (folder path relative to its results folder) and what the run's
    plan says it is (``plan_profile``, ``plan_group``, ``plan_variant``; None for runs recorded
    before runs carried it, see :mod:`harmonic.plan`).
    Returns an empty frame when there is no run yet. A file that cannot be read raises
    :class:`ResultFileError` naming it. A run whose ``metrics.csv`` is not the one its provenance
    recorded (edited by hand, or a save interrupted between the two files) is never shown as
    recorded: ``altered="skip"`` (default) leaves it out with an :class:`AlteredRunWarning` naming it
    (the book's status page lists such runs, :func:`metrics_status`); ``altered="raise"`` raises
    :class:`AlteredMetricsError`.
    """
    import warnings

    import pandas as pd

    if altered not in ("skip", "raise"):
        raise ValueError(f"altered must be 'skip' or 'raise', got {altered!r}")

    if isinstance(results_dirs, (str, os.PathLike)):
        results_dirs = [results_dirs]
    frames = []
    for root in map(Path, results_dirs):
        for prov_path in sorted(root.rglob(PROVENANCE_FILE)):
            metrics_path = prov_path.with_name(METRICS_FILE)
            record = read_provenance(prov_path)
            expected = record.get(METRICS_HASH_KEY)
            if not metrics_path.exists():
                if expected is None:  # a provenance of the old format alone: not a run (as before)
                    continue
                raise ResultFileError(f"{prov_path.parent}: {PROVENANCE_FILE} without its {METRICS_FILE} "
                                      "(a run stopped while saving); rerun the run or delete the folder")
            try:
                frame = read_metrics(metrics_path, expected)
            except AlteredMetricsError as error:
                if altered == "raise":
                    raise
                warnings.warn(f"left out: {error}", AlteredRunWarning, stacklevel=2)
                continue
            frame["run"] = str(prov_path.parent.relative_to(root))
            frame["results_dir"] = str(root)
            frame["seed"] = record.get("seed")
            frame["device"] = record.get("device")
            frame["commit"] = (record.get("git") or {}).get("commit")
            frame["started"] = record.get("started")
            plan = record.get("plan") or {}  # what the pipeline said the run is (runs recorded since it says so)
            for key in ("profile", "group", "variant"):
                frame[f"plan_{key}"] = plan.get(key)
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
