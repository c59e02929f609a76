"""Data files that cannot run code: a restricted unpickler for CIFAR's pickles, and MD5 checks.

``pickle.load`` builds whatever a file asks for, so a file named like a CIFAR batch could run a
command while it is read. :func:`restricted_load` admits only what the CIFAR "python version"
files hold: dicts, lists, bytes/str, numbers and numpy arrays with their dtypes. Any other global
the file names is refused by :meth:`RestrictedUnpickler.find_class` before an object is built.
:func:`check_md5` compares a file with its published MD5 sum before it is read at all.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["ALLOWED_GLOBALS", "RefusedGlobal", "RestrictedUnpickler", "check_md5", "md5sum", "restricted_load"]


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 pickles ``bytes`` at protocol 2, for the latin-1 codec only."""
    if codecs.lookup(encoding).name != "iso8859-1" or not isinstance(text, str):
        raise RefusedGlobal(f"_codecs.encode is admitted for latin-1 text only, got {encoding!r}")
    return text.encode("latin1")


_reconstruct = np.zeros(0).__reduce__()[0]  # numpy's ndarray rebuilder, wherever this numpy keeps it
_frombuffer = np.zeros(1).__reduce_ex__(5)[0]

#: The globals a CIFAR pickle may name (module, name) -> what it gets: numpy 1 and 2 spell the
#: rebuilders' module differently (``numpy.core`` / ``numpy._core``); protocol 2 pickles written by
#: Python 3 spell ``bytes`` as ``_codecs.encode(text, "latin1")``.
ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any] | type] = {
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _reconstruct for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _frombuffer for core in ("core", "_core")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle names a global that :class:`RestrictedUnpickler` does not build."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only :data:`ALLOWED_GLOBALS` (plus pickle's own dicts, lists,
    tuples, bytes, str and numbers); any other global raises :class:`RefusedGlobal`."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise RefusedGlobal(f"global {module}.{name} is not allowed")
        return allowed


def restricted_load(path: str | os.PathLike, encoding: str = "bytes") -> Any:
    """The object pickled in ``path``, read by :class:`RestrictedUnpickler` (``encoding`` as in
    :func:`pickle.load`; ``"bytes"`` for the Python 2 CIFAR files).

    Raises a ValueError naming the file and what it refused (or why it could not be read).
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return RestrictedUnpickler(handle, encoding=encoding).load()
    except RefusedGlobal as error:
        raise ValueError(f"{path} is not a data pickle this loader reads ({error}); nothing in it was run: "
                         "replace it with the original file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise ValueError(f"{path} is damaged ({type(error).__name__}: {error}): delete it and download it "
                         "again, or replace it with an intact copy") from None


def md5sum(path: str | os.PathLike) -> str:
    """The MD5 hex digest of the file at ``path``."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_md5(path: str | os.PathLike, expected: str, what: str) -> None:
    """``path`` must have the MD5 sum ``expected``; else a ValueError naming the file, ``what`` it
    should be, and what to do."""
    found = md5sum(path)
    if found != expected:
        raise ValueError(f"{path} is not the published {what} (MD5 {found}, expected {expected}): it is damaged, "
                         "modified or another file; delete it and download it again (or replace it with the "
                         "original), or, for files you made yourself, pass their MD5 sums as checksums")
