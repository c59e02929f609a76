"""CIFAR-10/100 as in-memory tensors, and the WRN training augmentation on the device.

The original CIFAR "python version" archives hold pickled dicts (written by
Python 2, so keys may be ``bytes``): ``data`` is a uint8 array of shape
``(N, 3072)``, each row the 1024 red, then 1024 green, then 1024 blue values of
a 32×32 image in row-major order; labels are ``labels`` (CIFAR-10) or
``fine_labels`` (CIFAR-100). :func:`load_cifar` reads them into one uint8
tensor, converts to float and normalises once, like :mod:`harmonic.datasets.mnist` does
for MNIST.

Every file is checked against its published MD5 sum (the table torchvision uses) before it is
read, and read by a restricted unpickler (:mod:`harmonic.datasets.integrity`) that builds only
dicts, lists, bytes/str, numbers and numpy arrays: a file named like a CIFAR batch cannot run
code. Files you made yourself (a subset, the tests' tiny files) are read with their own sums
(``checksums``).

Where the data lives: ``root`` argument > ``$HARMONIC_DATA`` > ``~/.cache/harmonic``
(:func:`harmonic.datasets.mnist.data_root`), in torchvision's layout
``<root>/cifar-10-batches-py/`` and ``<root>/cifar-100-python/``. Missing files
are downloaded with torchvision when ``download=True`` and the network allows.

Augmentation (:func:`cifar_augment`) is the one of the WRN code the authors
build on: reflect-pad 4, random 32×32 crop, random horizontal flip, done for a
whole batch at once with indices drawn from a ``torch.Generator``, so that
:func:`harmonic.experiments.train.fit` can apply it on the GPU and runs stay seeded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from harmonic.datasets.integrity import check_md5, restricted_load
from harmonic.datasets.mnist import DATA_ENV, check_labels, data_root, ensure_files, fixed_subset
from harmonic.datasets.registry import DATASETS, dataset_spec, load

__all__ = [
    "CIFAR_DATASETS",
    "IMAGE_DATASETS",
    "CifarSpec",
    "ImageDatasetInfo",
    "cifar_augment",
    "cifar_classes",
    "image_dataset_info",
    "load_cifar",
    "load_image_dataset",
    "read_cifar_batch",
]


@dataclass(frozen=True)
class CifarSpec:
    """One CIFAR variant: its folder, files, label key and normalisation (in [0, 1] units)."""

    name: str
    folder: str
    archive: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    label_key: str
    names_key: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    torchvision_class: str
    #: Published MD5 sum of each file (torchvision/datasets/cifar.py's table).
    md5: Mapping[str, str]


CIFAR_DATASETS: dict[str, CifarSpec] = {
    # per-channel mean/std of the training images as used by the WRN code and the authors' cifar/main.py
    "cifar10": CifarSpec(
        "cifar10", "cifar-10-batches-py", "cifar-10-python.tar.gz",
        tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), "batches.meta",
        "labels", "label_names",
        (125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255), "CIFAR10",
        {"data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
         "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
         "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e",
         "batches.meta": "5ff9c542aee3614f3951f8cda6e48888"},
    ),
    "cifar100": CifarSpec(
        "cifar100", "cifar-100-python", "cifar-100-python.tar.gz", ("train",), ("test",), "meta",
        "fine_labels", "fine_label_names",
        (129.3 / 255, 124.1 / 255, 112.4 / 255), (68.2 / 255, 65.4 / 255, 70.4 / 255), "CIFAR100",
        {"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
         "meta": "7973b15100ade9c7d40fb424638fde48"},
    ),
}


def _spec(name: str) -> CifarSpec:
    if name not in CIFAR_DATASETS:
        raise ValueError(f"name must be one of {sorted(CIFAR_DATASETS)}, got {name!r}")
    return CIFAR_DATASETS[name]


def _unpickle(path: Path, md5: str | None = None) -> dict[str, Any]:
    """A CIFAR pickle as a dict with ``str`` keys (the files are Python 2 pickles with byte keys),
    read by :func:`~harmonic.datasets.integrity.restricted_load` after its MD5 sum is checked
    against ``md5`` (None: not checked)."""
    if md5 is not None:
        check_md5(path, md5, "CIFAR file")
    obj = restricted_load(path, encoding="bytes")
    if not isinstance(obj, dict):
        raise ValueError(f"{path} is not a CIFAR pickle (expected a dict, got {type(obj).__name__})")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_cifar_batch(
    path: str | os.PathLike, label_key: str = "labels", md5: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One CIFAR batch file as uint8 images ``(N, 3, 32, 32)`` (RGB planes) and int64 labels.

    ``md5``: the file's expected MD5 sum, checked before it is read (None: not checked; the
    restricted unpickler applies either way)."""
    path = Path(path)
    batch = _unpickle(path, md5)
    if "data" not in batch or label_key not in batch:
        raise ValueError(f"{path}: expected keys 'data' and {label_key!r}, found {sorted(batch)}")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise ValueError(f"{path}: data {data.shape} and {label_key} {labels.shape} are not (N, 3072) and (N,)")
    return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(labels)


def _md5(spec: CifarSpec, file: str, checksums: Mapping[str, str] | None) -> str:
    """The MD5 sum ``file`` must have: from ``checksums`` where given, else the published one."""
    sums = spec.md5 if checksums is None else checksums
    if file not in sums:
        raise ValueError(f"checksums must give the MD5 sum of every file read, got none for {file!r}")
    return sums[file]


def _folder(spec: CifarSpec, root: Path) -> Path:
    return root / spec.folder


def _missing(spec: CifarSpec, root: Path, train: bool) -> list[str]:
    files = (spec.train_files if train else spec.test_files) + (spec.meta_file,)
    return [f for f in files if not (_folder(spec, root) / f).exists()]


def _missing_message(spec: CifarSpec, root: Path, missing: list[str], reason: str) -> str:
    return (
        f"{spec.name} files not found: {', '.join(missing)}. Put the extracted 'python version' archive in "
        f"{_folder(spec, root)} (the folder {spec.folder}/ inside {spec.archive}), "
        f"or point ${DATA_ENV} / the root parameter at a folder that has {spec.folder}/. Download was {reason}."
    )


def _download(spec: CifarSpec, root: Path) -> None:
    import torchvision

    cls = getattr(torchvision.datasets, spec.torchvision_class)
    cls(root=str(root), train=True, download=True)


def _locate(spec: CifarSpec, root: str | os.PathLike | None, train: bool, download: bool) -> Path:
    """The folder holding the split's files, downloading them first if allowed and needed."""
    base = data_root(root)
    return ensure_files(
        lambda: None if _missing(spec, base, train) else _folder(spec, base),
        lambda: _download(spec, base), download,
        lambda reason: _missing_message(spec, base, _missing(spec, base, train), reason),
    )


def load_cifar(
    name: str = "cifar10",
    train: bool = True,
    root: str | os.PathLike | None = None,
    subset: int | None = None,
    download: bool = True,
    checksums: Mapping[str, str] | None = None,
) -> TensorDataset:
    """CIFAR-10 or CIFAR-100 as a normalised ``TensorDataset`` of (N,3,32,32) floats and int64 labels.

    Read from the original pickle batches (``data_batch_1..5``/``test_batch`` or
    ``train``/``test``), converted from uint8 once and normalised with the
    per-channel mean/std of :data:`CIFAR_DATASETS`. ``subset`` keeps a fixed
    random sample (see :func:`fixed_subset`). CIFAR-100 labels are the 100 fine labels.
    Each file must have its published MD5 sum, or the one ``checksums`` gives for its name
    (files you made yourself); the check is never skipped.
    """
    spec = _spec(name)
    folder = _locate(spec, root, train, download)
    parts = []
    for file in spec.train_files if train else spec.test_files:
        parts.append(read_cifar_batch(folder / file, spec.label_key, _md5(spec, file, checksums)))
        check_labels(parts[-1][1], DATASETS[name].num_classes,
                     f"{name} {'training' if train else 'test'} set ({folder / file})")
    images = torch.cat([p[0] for p in parts])
    labels = torch.cat([p[1] for p in parts])
    keep = fixed_subset(len(labels), subset)
    if keep is not None:
        images, labels = images[keep], labels[keep]
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    x = images.float().div_(255.0).sub_(mean).div_(std)
    return TensorDataset(x, labels)


def cifar_classes(name: str = "cifar10", root: str | os.PathLike | None = None, download: bool = True,
                  checksums: Mapping[str, str] | None = None) -> list[str]:
    """Class names in label order, from ``batches.meta`` / ``meta`` (``checksums`` as in :func:`load_cifar`)."""
    spec = _spec(name)
    meta = _unpickle(_locate(spec, root, False, download) / spec.meta_file, _md5(spec, spec.meta_file, checksums))
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in meta[spec.names_key]]


def cifar_augment(
    x: torch.Tensor, generator: torch.Generator | None = None, padding: int = 4, flip: bool = True
) -> torch.Tensor:
    """Reflect-pad by ``padding``, crop a random H×W window, flip half of the images horizontally.

    ``x`` is a batch ``(N, C, H, W)`` on any device; every image gets its own
    offset ``(dy, dx)`` in ``[0, 2 * padding]`` and flip bit, drawn (in that
    order) from ``generator`` on the CPU, so the result depends only on the
    generator's state. Vectorised: one reflect pad and two gathers for the whole
    batch, the flip folded into the column index. Output: same shape as ``x``.
    """
    if x.dim() != 4:
        raise ValueError(f"x must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be a non-negative int, got {padding!r}")
    n, c, h, w = x.shape
    if padding >= min(h, w):
        raise ValueError(f"padding must be smaller than the image size {min(h, w)} (reflect padding), got {padding}")
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    offsets, flips = offsets.to(x.device), flips.to(x.device)
    padded = F.pad(x, (padding,) * 4, mode="reflect") if padding else x
    rows = offsets[:, :1] + torch.arange(h, device=x.device)
    cols_forward = torch.arange(w, device=x.device).expand(n, w)
    cols = offsets[:, 1:] + torch.where(flips[:, None], w - 1 - cols_forward, cols_forward)
    out = padded.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, padded.shape[3]))
    return out.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))


# ---------------------------------------------------------------- by name
@dataclass(frozen=True)
class ImageDatasetInfo:
    """What a model needs to know about a dataset: classes, channels, image size."""

    name: str
    num_classes: int
    in_channels: int
    image_size: int


#: Side of the images of the CIFAR-shaped networks.
IMAGE_SIZE = 32
#: The datasets of the CIFAR-shaped networks (:func:`load_image_dataset`), from
#: :mod:`harmonic.datasets.registry`: Fashion-MNIST's 28×28 images are centred on 32×32.
IMAGE_DATASETS: dict[str, ImageDatasetInfo] = {
    name: ImageDatasetInfo(name, DATASETS[name].num_classes, DATASETS[name].in_channels, IMAGE_SIZE)
    for name in ("cifar10", "cifar100", "fashion-mnist")
}


def image_dataset_info(name: str) -> ImageDatasetInfo:
    """Classes, channels and image size of a dataset of :data:`IMAGE_DATASETS`."""
    dataset_spec(name, IMAGE_DATASETS)
    return IMAGE_DATASETS[name]


def load_image_dataset(
    name: str,
    train: bool = True,
    root: str | os.PathLike | None = None,
    subset: int | None = None,
    download: bool = True,
) -> TensorDataset:
    """32×32 image data for the CIFAR-shaped networks by name: ``"cifar10"``, ``"cifar100"``, ``"fashion-mnist"``,
    through :func:`harmonic.datasets.registry.load`.

    Fashion-MNIST is zero-padded (in normalised units: the background) to 32×32, one channel.
    """
    image_dataset_info(name)
    return load(name, train, root=root, subset=subset, download=download, pad_to=IMAGE_SIZE)
