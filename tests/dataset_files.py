"""Tiny dataset files in the real on-disk formats, for the loader tests.

MNIST, CIFAR and ImageNet cannot be downloaded here, so the tests write a few images in the
original formats (IDX files, CIFAR "python version" pickles) and check that the loaders read
back exactly what was written. No number produced from them is a result.
"""

from __future__ import annotations

import dataclasses
import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

from harmonic.datasets import cifar
from harmonic.datasets.integrity import md5sum


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    """Write ``array`` (uint8) in the IDX format: magic 0x0000 08 ndim, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def make_fake_mnist(root: Path, n: int = 20, compress: bool = False) -> None:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, count in (("train", n), ("t10k", n // 2)):
        write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28)), compress)
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.arange(count) % 10, compress)


def write_pickle(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=2)  # byte keys, as in the original Python 2 pickles


def cifar_batch(rng: np.random.Generator, n: int, label_keys: dict[str, int]) -> dict:
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"batch_label": b"test"}
    for key, classes in label_keys.items():
        batch[key.encode()] = [int(v) for v in rng.integers(0, classes, n)]
    return batch


def md5_sums(folder: Path) -> dict[str, str]:
    """The MD5 sum of every file in ``folder``, by name (the ``checksums`` of files a test wrote)."""
    return {path.name: md5sum(path) for path in folder.iterdir() if path.is_file()}


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> tuple[Path, dict[str, list[dict]]]:
    """CIFAR-10 (5 × 3 training + 2 test images) and CIFAR-100 (4 + 2) in the torchvision layout.

    While the fixture lives (its test module), the MD5 sums of these files stand in for the
    published ones in :data:`harmonic.datasets.cifar.CIFAR_DATASETS`, so that the loaders read
    them through every path (by name, through the registry); every other file is still checked."""
    root = tmp_path_factory.mktemp("cifar")
    rng = np.random.default_rng(0)
    written: dict[str, list[dict]] = {f"{name}-{split}": [] for name in ("cifar10", "cifar100")
                                      for split in ("train", "test")}
    c10 = root / "cifar-10-batches-py"
    for i in range(1, 6):
        batch = cifar_batch(rng, 3, {"labels": 10})
        write_pickle(c10 / f"data_batch_{i}", batch)
        written["cifar10-train"].append(batch)
    test = cifar_batch(rng, 2, {"labels": 10})
    write_pickle(c10 / "test_batch", test)
    written["cifar10-test"].append(test)
    write_pickle(c10 / "batches.meta", {b"label_names": [f"class{i}".encode() for i in range(10)]})
    c100 = root / "cifar-100-python"
    for split, n in (("train", 4), ("test", 2)):
        batch = cifar_batch(rng, n, {"fine_labels": 100, "coarse_labels": 20})
        write_pickle(c100 / split, batch)
        written[f"cifar100-{split}"].append(batch)
    write_pickle(c100 / "meta", {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                                  b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]})
    with pytest.MonkeyPatch.context() as patch:
        for name, folder in (("cifar10", c10), ("cifar100", c100)):
            spec = cifar.CIFAR_DATASETS[name]
            patch.setitem(cifar.CIFAR_DATASETS, name, dataclasses.replace(spec, md5=md5_sums(folder)))
        yield root, written
