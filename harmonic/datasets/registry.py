"""Every dataset of the companion by name: what it is, and which reader reads its files.

One entry per dataset in :data:`DATASETS`: classes, channels, native image size and its reader,
``"idx"`` (:mod:`harmonic.datasets.mnist`: MNIST, Fashion-MNIST), ``"cifar"``
(:mod:`harmonic.datasets.cifar`: CIFAR-10/100) or ``"imagefolder"``
(:mod:`harmonic.datasets.imagefolder`: ImageNet-style trees, decoded per sample by DataLoader
workers). :func:`load` is the one way in to the in-memory datasets: the MLP's
:func:`harmonic.datasets.mnist.load_dataset` (28×28) and the WRN study's
:func:`harmonic.datasets.cifar.load_image_dataset` (32×32, Fashion-MNIST padded) both go through
it, so the files of each dataset are read by exactly one function.

The reader modules import this one for the names; it imports them only to load.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

from torch.utils.data import TensorDataset

__all__ = ["DATASETS", "READERS", "DatasetSpec", "dataset_names", "dataset_spec", "load"]

#: The readers: IDX files, CIFAR pickled batches, ImageFolder trees.
READERS = ("idx", "cifar", "imagefolder")


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: its name, number of classes, channels, native image size and reader."""

    name: str
    num_classes: int
    in_channels: int
    image_size: int
    reader: str


DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec("mnist", 10, 1, 28, "idx"),
    DatasetSpec("fashion-mnist", 10, 1, 28, "idx"),
    DatasetSpec("cifar10", 10, 3, 32, "cifar"),
    DatasetSpec("cifar100", 100, 3, 32, "cifar"),
    # ILSVRC2012 as an ImageFolder tree (train/, val/); a tree's classes are its class folders
    DatasetSpec("imagenet", 1000, 3, 224, "imagefolder"),
)}


def dataset_names(*readers: str) -> list[str]:
    """Sorted names of the datasets read by one of ``readers`` (every dataset without any)."""
    unknown = sorted(set(readers) - set(READERS))
    if unknown:
        raise ValueError(f"readers must be among {list(READERS)}, got {unknown}")
    return sorted(name for name, spec in DATASETS.items() if not readers or spec.reader in readers)


def dataset_spec(name: str, names: Iterable[str] | None = None) -> DatasetSpec:
    """The entry of ``name``, which must be one of ``names`` (default: every dataset); a
    ValueError listing them otherwise."""
    allowed = sorted(DATASETS if names is None else names)
    if name not in allowed:
        raise ValueError(f"dataset must be one of {allowed}, got {name!r}")
    return DATASETS[name]


def load(
    name: str,
    train: bool = True,
    *,
    root: str | os.PathLike | None = None,
    subset: int | None = None,
    download: bool = True,
    pad_to: int | None = None,
) -> TensorDataset:
    """An in-memory dataset by name: normalised (N, C, H, W) floats and int64 labels.

    ``root``, ``subset`` and ``download`` as in :func:`harmonic.datasets.mnist.load_idx_dataset`;
    ``pad_to`` centres the one-channel (IDX) images on a ``pad_to``×``pad_to`` canvas of
    background; the others are at their native size already (``pad_to`` None or that size).
    """
    spec = dataset_spec(name)
    if spec.reader == "imagefolder":
        raise ValueError(f"{name} is an ImageFolder tree, decoded per sample: read it with "
                         "harmonic.datasets.imagefolder.image_folder (or image_folder_loaders)")
    if spec.reader == "idx":
        from harmonic.datasets.mnist import load_idx_dataset

        return load_idx_dataset(name, train=train, root=root, subset=subset, download=download, pad_to=pad_to)
    if pad_to not in (None, spec.image_size):
        raise ValueError(f"pad_to must be None or {spec.image_size} for {name} (padding applies to "
                         f"{dataset_names('idx')}), got {pad_to!r}")
    from harmonic.datasets.cifar import load_cifar

    return load_cifar(name, train=train, root=root, subset=subset, download=download)
