"""Other processes for the reliability tests: one that holds on at a chosen point (to be killed
with ``kill -9`` there, or to hold a lock while the test runs)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]

#: Prelude of every script: ``hold()`` says "ready" and then waits to be killed.
_PRELUDE = """
import sys, time
def hold(*args, **kwargs):
    print("ready", flush=True)
    time.sleep(120)
    sys.exit("not killed")
"""


@contextlib.contextmanager
def held_process(script: str) -> Iterator[subprocess.Popen]:
    """Run ``script`` (Python, which calls ``hold()`` where it should stop) in a new process of this
    package; yield once it has reached ``hold()``; kill it (SIGKILL) when the block ends."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-c", _PRELUDE + textwrap.dedent(script)], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        if line.strip() != "ready":
            process.kill()
            raise AssertionError(f"the process did not reach hold(): {line}{process.stderr.read()}")
        yield process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()


def kill_at(script: str) -> None:
    """Run ``script`` until it reaches ``hold()``, then ``kill -9`` it."""
    with held_process(script):
        pass
