"""Datasets as in-memory, normalised tensors.

MNIST-style data (MNIST, Fashion-MNIST) is read straight from the original IDX
files into one uint8 tensor, converted and normalised once; training then only
indexes tensors, with no per-sample PIL transforms on the hot path.

Where the data lives
--------------------
``root`` argument > environment variable ``HARMONIC_DATA`` > ``~/.cache/harmonic``.
Inside the root the torchvision layout is used (``<root>/MNIST/raw/...``,
``<root>/FashionMNIST/raw/...``); Fashion-MNIST is also found in Debian's
``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``).
Missing files are downloaded with torchvision when ``download=True`` and the
network allows; otherwise :class:`DataUnavailableError` says which files are
missing and where to put them.
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import torch
from torch.utils.data import TensorDataset

from harmonic.datasets.registry import dataset_names, dataset_spec, load

T = TypeVar("T")

DATA_ENV = "HARMONIC_DATA"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


class DataUnavailableError(RuntimeError):
    """The dataset is neither on disk nor downloadable; the message says what to do."""


@dataclass(frozen=True)
class IdxDataset:
    """The files of an MNIST-format dataset: torchvision folder and class, normalisation."""

    name: str
    folder: str
    mean: float
    std: float
    torchvision_class: str


#: How the IDX datasets of :mod:`harmonic.datasets.registry` are stored and normalised.
IDX_DATASETS: dict[str, IdxDataset] = {
    # mean/std of the training images, the values every MNIST tutorial (and the seed) use
    "mnist": IdxDataset("mnist", "MNIST", 0.1307, 0.3081, "MNIST"),
    "fashion-mnist": IdxDataset("fashion-mnist", "FashionMNIST", 0.2860, 0.3530, "FashionMNIST"),
}

_SPLIT_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Resolve the data root: argument, then ``$HARMONIC_DATA``, then ``~/.cache/harmonic``."""
    if root is not None and str(root) != "":
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "harmonic"


class DamagedFileError(ValueError):
    """A data file that exists but cannot be read; the message names it and what to do."""


def _damaged(path: Path, reason: str) -> DamagedFileError:
    return DamagedFileError(f"{path} is damaged ({reason}): delete it and rerun (it is downloaded again where "
                            "downloading is allowed), or replace it with an intact copy")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally ``.gz``) into a numpy array of its stored shape.

    A truncated or otherwise unreadable file raises :class:`DamagedFileError` naming it.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise _damaged(path, f"{type(error).__name__}: {error}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise _damaged(path, "not an IDX file: bad magic number")
    type_code, ndim = data[2], data[3]
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if type_code not in dtypes:
        raise _damaged(path, f"unknown IDX element type 0x{type_code:02x}")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise _damaged(path, f"its header is cut short ({len(data)} bytes)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    itemsize = np.dtype(dtypes[type_code]).itemsize
    expected = int(np.prod(shape))
    if len(data) - offset != expected * itemsize:
        raise _damaged(path, f"expected {expected} values for shape {shape}, found {(len(data) - offset) // itemsize}")
    return np.frombuffer(data, dtype=dtypes[type_code], offset=offset).reshape(shape)


def check_labels(labels: torch.Tensor, num_classes: int, what: str) -> None:
    """Labels must be integers in ``0 .. num_classes - 1``; a ValueError naming ``what`` (the dataset
    and its file) and the offending values otherwise, before anything trains on them."""
    if labels.numel() == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        bad = sorted({int(v) for v in labels[(labels < 0) | (labels >= num_classes)].unique()[:10]})
        raise ValueError(f"{what}: labels must be in 0..{num_classes - 1}, found {bad}; "
                         "the file is damaged or of another dataset: replace it with an intact copy")


def ensure_files(
    locate: Callable[[], T | None],
    download: Callable[[], None],
    allow_download: bool,
    message: Callable[[str], str],
) -> T:
    """What ``locate()`` finds, after ``download()`` if it found nothing and downloading is allowed.

    Otherwise one :class:`DataUnavailableError` whose text is ``message(reason)``: the
    download was not allowed, failed (no traceback chain: one clear message), or left no files.
    """
    found = locate()
    if found is not None:
        return found
    if not allow_download:
        raise DataUnavailableError(message("not allowed (download=False)"))
    try:
        download()
    except Exception as error:  # network errors come in many types
        raise DataUnavailableError(message(f"tried and failed ({type(error).__name__}: {error})")) from None
    found = locate()
    if found is None:  # pragma: no cover - the downloader wrote somewhere unexpected
        raise DataUnavailableError(message("run but left no files"))
    return found


def _find(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    return None


def _candidate_dirs(spec: IdxDataset, root: Path) -> list[Path]:
    dirs = [root / spec.folder / "raw", root / spec.folder, root]
    if spec.name == "fashion-mnist":
        dirs.append(DEBIAN_FASHION_MNIST)
    return dirs


def _locate(spec: IdxDataset, root: Path, train: bool) -> tuple[Path, Path] | None:
    for directory in _candidate_dirs(spec, root):
        found = [_find(directory, stem) for stem in _SPLIT_FILES[train]]
        if all(found):
            return found[0], found[1]  # type: ignore[return-value]
    return None


def _download(spec: IdxDataset, root: Path) -> None:
    import torchvision

    cls = getattr(torchvision.datasets, spec.torchvision_class)
    for train in (True, False):
        cls(root=str(root), train=train, download=True)


def _missing_message(spec: IdxDataset, root: Path, train: bool, reason: str) -> str:
    files = ", ".join(_SPLIT_FILES[train])
    where = root / spec.folder / "raw"
    extra = ""
    if spec.name == "fashion-mnist":
        extra = f" (or install Debian's package dataset-fashion-mnist, which puts them in {DEBIAN_FASHION_MNIST})"
    return (
        f"{spec.name} {'training' if train else 'test'} files not found: {files} (optionally .gz). "
        f"Put them in {where}{extra}, or point ${DATA_ENV} / the data_root parameter at a folder "
        f"that has {spec.folder}/raw/. Download was {reason}."
    )


def load_idx_dataset(
    dataset: str = "mnist",
    *,
    train: bool = True,
    root: str | os.PathLike | None = None,
    subset: int | None = None,
    download: bool = True,
    pad_to: int | None = None,
) -> TensorDataset:
    """MNIST or Fashion-MNIST as a normalised ``TensorDataset`` of (N,1,H,W) floats and labels.

    ``subset`` keeps a fixed, seed-independent random sample of that many examples
    (the same for every run, so smoke runs are comparable). ``pad_to`` zero-pads
    (in normalised units: the background value) images to ``pad_to``×``pad_to``,
    e.g. 32 for the CIFAR-shaped networks.
    """
    if dataset not in IDX_DATASETS:
        raise ValueError(f"dataset must be one of {sorted(IDX_DATASETS)}, got {dataset!r}")
    fixed_subset(1, subset)  # validates before any file is read
    spec = IDX_DATASETS[dataset]
    base = data_root(root)
    paths = ensure_files(
        lambda: _locate(spec, base, train), lambda: _download(spec, base), download,
        lambda reason: _missing_message(spec, base, train, reason),
    )
    images = torch.from_numpy(read_idx(paths[0]).copy())
    labels = torch.from_numpy(read_idx(paths[1]).astype(np.int64))
    if images.ndim != 3 or labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{paths[0]} / {paths[1]}: images {tuple(images.shape)} and labels {tuple(labels.shape)} do not match")
    size = dataset_spec(dataset).image_size
    if images.shape[1:] != (size, size):
        raise ValueError(f"{paths[0]}: images of {images.shape[1]}x{images.shape[2]} pixels, {dataset}'s are {size}x{size}: "
                         "the file is of another dataset; replace it with the original")
    check_labels(labels, dataset_spec(dataset).num_classes, f"{dataset} {'training' if train else 'test'} set ({paths[1]})")
    keep = fixed_subset(len(labels), subset)
    if keep is not None:
        images, labels = images[keep], labels[keep]
    x = images.unsqueeze(1).float().div_(255.0).sub_(spec.mean).div_(spec.std)
    if pad_to is not None:
        x = pad_images(x, pad_to, value=-spec.mean / spec.std)
    return TensorDataset(x, labels)


def fixed_subset(n: int, subset: int | None) -> torch.Tensor | None:
    """Indices of a fixed, seed-independent random sample of ``subset`` of ``n`` examples (None: all).

    Always the same permutation (a generator seeded with 0), so smoke runs on a subset
    are comparable across runs, seeds and datasets.
    """
    if subset is None:
        return None
    if not isinstance(subset, int) or isinstance(subset, bool) or subset <= 0:
        raise ValueError(f"subset must be a positive integer or None, got {subset!r}")
    if subset >= n:
        return None
    return torch.randperm(n, generator=torch.Generator().manual_seed(0))[:subset]


def pad_images(x: torch.Tensor, size: int, value: float = 0.0) -> torch.Tensor:
    """Centre ``x`` (N,C,H,W) on a ``size``×``size`` canvas filled with ``value``."""
    h, w = x.shape[-2:]
    if size < max(h, w):
        raise ValueError(f"pad_to must be at least the image size {max(h, w)}, got {size}")
    top, left = (size - h) // 2, (size - w) // 2
    return torch.nn.functional.pad(x, (left, size - w - left, top, size - h - top), value=value)


def load_mnist(train: bool = True, **kwargs) -> TensorDataset:
    """MNIST normalised with (0.1307, 0.3081), as the Harmonic MLP seed does."""
    return load_idx_dataset("mnist", train=train, **kwargs)


def load_fashion_mnist(train: bool = True, **kwargs) -> TensorDataset:
    """Fashion-MNIST normalised with its own training-set mean and std."""
    return load_idx_dataset("fashion-mnist", train=train, **kwargs)


def load_dataset(name: str, train: bool = True, **kwargs) -> TensorDataset:
    """MNIST or Fashion-MNIST by name (28×28 unless ``pad_to``; ``kwargs`` of
    :func:`load_idx_dataset`), through :func:`harmonic.datasets.registry.load`."""
    dataset_spec(name, DATASET_LOADERS)
    return load(name, train=train, **kwargs)


#: The IDX datasets of :mod:`harmonic.datasets.registry`, each with its loader ``(train=True, **kwargs)``.
DATASET_LOADERS: dict[str, Callable[..., TensorDataset]] = {name: partial(load_dataset, name)
                                                            for name in dataset_names("idx")}
