"""ImageNet-style data: an ImageFolder tree with ``train/`` and ``val/`` class folders.

ImageNet does not fit in memory, so unlike :mod:`harmonic.datasets.mnist` and
:mod:`harmonic.datasets.cifar` images are decoded per sample by ``DataLoader`` workers,
with the standard ResNet pipeline (He et al. 2016, as in the authors' ImageNet
code, which follows the PyTorch ImageNet example):

* training: random-resized crop to ``image_size`` (224) + horizontal flip;
* evaluation: resize the short side to ``resize`` (256) + centre crop ``image_size``;

then ``ToTensor`` and normalisation with the ImageNet channel mean/std. Sizes
are parameters so tests can use tiny images. Expected layout::

    <root>/train/<class>/<image>.JPEG
    <root>/val/<class>/<image>.JPEG
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from harmonic.datasets.mnist import DataUnavailableError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "SPLITS", "image_folder", "image_folder_loaders", "imagenet_transform"]

#: Channel mean and std of the ImageNet training images (torchvision's values).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SPLITS = ("train", "val")


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def imagenet_transform(train: bool, image_size: int = 224, resize: int = 256):
    """The PIL → normalised tensor pipeline: train (random-resized crop + flip) or eval (resize + centre crop)."""
    from torchvision import transforms as T

    _positive_int("image_size", image_size)
    _positive_int("resize", resize)
    if not train and resize < image_size:
        raise ValueError(f"resize must be at least image_size ({image_size}) for the centre crop, got {resize}")
    normalize = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    if train:
        steps = [T.RandomResizedCrop(image_size), T.RandomHorizontalFlip()]
    else:
        steps = [T.Resize(resize), T.CenterCrop(image_size)]
    return T.Compose([*steps, T.ToTensor(), normalize])


def image_folder(
    root: str | os.PathLike,
    split: str = "train",
    image_size: int = 224,
    resize: int = 256,
) -> Dataset:
    """``torchvision.datasets.ImageFolder`` of ``<root>/<split>`` with :func:`imagenet_transform`.

    ``split`` is ``"train"`` (augmented) or ``"val"`` (resize + centre crop). A
    missing folder, or one without class folders, raises
    :class:`~harmonic.datasets.mnist.DataUnavailableError` describing the expected layout.
    """
    from torchvision.datasets import ImageFolder

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    folder = Path(root).expanduser() / split
    layout = (
        f"expected an ImageFolder tree {Path(root) / 'train'}/<class>/<image> and {Path(root) / 'val'}/<class>/<image> "
        "(for ImageNet: the ILSVRC2012 train and val images, val sorted into one folder per class)"
    )
    if not folder.is_dir() or not any(p.is_dir() for p in folder.iterdir()):
        raise DataUnavailableError(f"no class folders in {folder}: {layout}")
    try:
        return ImageFolder(str(folder), transform=imagenet_transform(split == "train", image_size, resize))
    except FileNotFoundError as error:  # class folders without images
        raise DataUnavailableError(f"{error}; {layout}") from None


def image_folder_loaders(
    root: str | os.PathLike,
    batch_size: int,
    *,
    image_size: int = 224,
    resize: int = 256,
    workers: int = 8,
    rank: int = 0,
    world_size: int = 1,
    seed: int = 0,
    pin_memory: bool = False,
) -> tuple[DataLoader, DataLoader]:
    """Training and validation ``DataLoader``s of :func:`image_folder` for process ``rank`` of
    ``world_size``, which share the global ``batch_size`` evenly.

    Training: a shuffling ``DistributedSampler`` (seeded with ``seed``; call its ``set_epoch``),
    whole batches only (a last batch of one image would break BatchNorm on the 1x1 maps of small
    images) and a generator of its own: seed it every epoch, the workers (restarted every epoch,
    not persistent) draw their seeds from it. Validation: every image exactly once, process
    ``r`` taking images ``r, r + W, r + 2W, ...``, in order.
    """
    train_set = image_folder(root, "train", image_size, resize)
    val_set = image_folder(root, "val", image_size, resize)
    if batch_size % world_size:
        raise ValueError(f"batch_size must be divisible by the number of processes ({world_size}), got {batch_size}")
    per_process = batch_size // world_size
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    common = {"num_workers": workers, "pin_memory": pin_memory}
    train_loader = DataLoader(train_set, per_process, sampler=sampler, drop_last=True,
                              generator=torch.Generator(), **common)
    val_loader = DataLoader(val_set, per_process, sampler=range(rank, len(val_set), world_size), **common)
    return train_loader, val_loader
