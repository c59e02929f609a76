"""Where the companion keeps things, relative to the repository checkout."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PAPER_DATA = REPO_ROOT / "data" / "paper"
RECORDED_RESULTS = REPO_ROOT / "data" / "results"
BUILD = REPO_ROOT / "build"


def resolve(path: str | os.PathLike | None) -> Path | None:
    """A notebook parameter path: absolute as given, relative ones against the repository root."""
    if path is None or str(path) == "":
        return None
    path = Path(path).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path
