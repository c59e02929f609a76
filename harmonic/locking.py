"""One writer per run folder: a lock file that the operating system releases when its holder dies.

:func:`folder_lock` holds an exclusive ``flock`` on ``<folder>/.lock`` while a run trains and
writes there (:func:`harmonic.experiments.recording.recorded_run`, the ImageNet script), and
:func:`file_lock` one on ``<executed copy>.lock`` while the pipeline executes a notebook
(:mod:`harmonic.pipeline`). A second writer is refused at
once with :class:`FolderLockedError` naming the folder and the process holding it; a process
killed with ``kill -9`` holds nothing any more, so a rerun is never blocked by a stale lock.
The lock file records who holds it (for the message) and is removed on release.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import socket
from pathlib import Path
from typing import Iterator

__all__ = ["LOCK_FILE", "FolderLockedError", "FolderNotWritableError", "file_lock", "folder_lock"]

#: Name of the lock file inside a locked folder.
LOCK_FILE = ".lock"


class FolderLockedError(RuntimeError):
    """Another process is writing the folder; the message names it and that process."""


class FolderNotWritableError(PermissionError):
    """The folder cannot be created or written; the message names it and what to do."""


def _open_lock(path: Path) -> int:
    """A descriptor of the lock file at ``path``, created if needed (errors name the folder)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        raise FolderNotWritableError(
            f"{path.parent} cannot be written ({type(error).__name__}: {error.strerror or error}): "
            "choose another results folder, or make this one writable (and free space on its disk)") from None


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "another process"
    except OSError:
        return "another process"


@contextlib.contextmanager
def file_lock(path: str | os.PathLike, guards: str, what: str = "run") -> Iterator[Path]:
    """Hold the lock file ``path`` (created if missing, removed on release) for the ``with`` block.

    ``guards`` names what the lock protects in messages (a folder, an executed notebook);
    ``what`` the writer (``"run"``, ``"pipeline"``). Raises :class:`FolderLockedError` at once if
    another process holds it, :class:`FolderNotWritableError` if it cannot be created.
    """
    import fcntl

    path = Path(path)
    while True:
        fd = _open_lock(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderLockedError(
                f"{guards} is being written by {_holder(path)} (lock file {path}); wait until it finishes, or write "
                f"this {what} elsewhere (another run name or results folder); the lock ends with its process") from None
        try:  # the holder before us may have removed the file after we opened it: then lock the new one
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.write(fd, f"{what} process {os.getpid()} on {socket.gethostname()} since {started}\n".encode())
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "run") -> Iterator[Path]:
    """Hold the lock of ``folder`` (``<folder>/.lock``, :func:`file_lock`) for the ``with`` block;
    yield the folder. Folders the lock created are removed again if nothing was written into them."""
    folder = Path(folder)
    created = [path for path in (folder, *folder.parents) if not path.exists()]  # deepest first
    try:
        with file_lock(folder / LOCK_FILE, str(folder), what):
            yield folder
    finally:
        for path in created:
            try:
                path.rmdir()
            except OSError:  # not empty: something was written
                break
