"""harmonic.datasets.integrity (issue #24): a file named like a CIFAR batch cannot run code, and
files that differ from the published ones are refused before they are read."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from harmonic.datasets.cifar import CIFAR_DATASETS, load_cifar, load_image_dataset, read_cifar_batch
from harmonic.datasets.integrity import check_md5, md5sum, restricted_load

from dataset_files import cifar_batch, md5_sums, write_pickle

CIFAR10_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]


class _Touch:
    """Unpickling this runs ``touch <marker>`` through ``os.system``: a crafted data file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _crafted_cifar10(root: Path, marker: Path) -> Path:
    """The seven files of CIFAR-10, each a pickle that would touch ``marker``; their folder."""
    folder = root / "cifar-10-batches-py"
    for name in CIFAR10_FILES:
        write_pickle(folder / name, {b"data": _Touch(marker), b"labels": [0]})
    return folder


def test_the_crafted_file_runs_code_under_plain_pickle(tmp_path):
    # the file of the tests below really is hostile: pickle.load runs its command
    folder = _crafted_cifar10(tmp_path, tmp_path / "ran")
    with open(folder / "test_batch", "rb") as handle:
        pickle.load(handle, encoding="bytes")
    assert (tmp_path / "ran").exists()


def test_crafted_cifar_files_are_refused_by_the_md5_check(tmp_path):
    marker = tmp_path / "code-ran"
    folder = _crafted_cifar10(tmp_path, marker)
    with pytest.raises(ValueError, match=rf"{folder / 'test_batch'} is not the published CIFAR file \(MD5 [0-9a-f]+, "
                                         r"expected 40351d587109b95175f43aff81a1287e\).*delete it and download it again"):
        load_image_dataset("cifar10", train=False, root=tmp_path, download=False)
    assert not marker.exists()


def test_crafted_cifar_files_with_matching_sums_are_refused_by_the_unpickler(tmp_path):
    marker = tmp_path / "code-ran"
    folder = _crafted_cifar10(tmp_path, marker)
    with pytest.raises(ValueError, match=rf"{folder / 'test_batch'} is not a data pickle this loader reads "
                                         r"\(global posix\.system is not allowed\); nothing in it was run"):
        load_cifar("cifar10", train=False, root=tmp_path, download=False, checksums=md5_sums(folder))
    with pytest.raises(ValueError, match=r"global posix\.system is not allowed"):
        read_cifar_batch(folder / "data_batch_1")  # no MD5 given: the unpickler alone
    with pytest.raises(ValueError, match=r"global posix\.system is not allowed"):
        restricted_load(folder / "batches.meta")
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("builtins", "getattr"), ("subprocess", "Popen"),
                                          ("numpy", "load"), ("copyreg", "_reconstructor")])
def test_only_the_formats_globals_are_admitted(tmp_path, module, name):
    path = tmp_path / "batch"
    path.write_bytes(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R.")  # GLOBAL, EMPTY_TUPLE, REDUCE
    with pytest.raises(ValueError, match=rf"global {module}\.{name} is not allowed"):
        restricted_load(path)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_real_format_pickles_still_load(tmp_path, protocol):
    batch = cifar_batch(np.random.default_rng(0), 3, {"labels": 10}) | {b"filenames": [b"a.png", b"b.png", b"c.png"]}
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    loaded = restricted_load(path)
    assert loaded.keys() == batch.keys() and np.array_equal(loaded[b"data"], batch[b"data"])
    assert loaded[b"labels"] == batch[b"labels"] and loaded[b"filenames"] == batch[b"filenames"]


def test_a_modified_real_format_file_fails_its_md5_check(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    rng = np.random.default_rng(0)
    for name in CIFAR10_FILES:
        write_pickle(folder / name, cifar_batch(rng, 2, {"labels": 10}) | {b"label_names": [b"x"] * 10})
    sums = md5_sums(folder)
    assert len(load_cifar("cifar10", train=False, root=tmp_path, download=False, checksums=sums)) == 2
    data = bytearray((folder / "test_batch").read_bytes())
    data[-20] ^= 1  # one pixel value changed: still a valid pickle
    (folder / "test_batch").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{folder / 'test_batch'} is not the published CIFAR file \(MD5 "
                                         rf"{md5sum(folder / 'test_batch')}, expected {sums['test_batch']}\)"):
        load_cifar("cifar10", train=False, root=tmp_path, download=False, checksums=sums)
    # and the tiny files are not the published ones either
    with pytest.raises(ValueError, match=rf"{folder / 'batches.meta'} is not the published CIFAR file.*"
                                         f"{CIFAR_DATASETS['cifar10'].md5['batches.meta']}"):
        from harmonic.datasets.cifar import cifar_classes

        cifar_classes("cifar10", root=tmp_path, download=False)


def test_published_sums_are_torchvisions():
    from torchvision.datasets import CIFAR10, CIFAR100

    for name, cls in (("cifar10", CIFAR10), ("cifar100", CIFAR100)):
        published = dict(cls.train_list + cls.test_list) | {cls.meta["filename"]: cls.meta["md5"]}
        assert CIFAR_DATASETS[name].md5 == published


def test_check_md5_names_the_file(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    check_md5(path, "900150983cd24fb0d6963f7d28e17f72", "file")
    with pytest.raises(ValueError, match=rf"{path} is not the published file"):
        check_md5(path, "0" * 32, "file")


def test_damaged_pickle_is_named(tmp_path):
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"labels": list(range(100))}, protocol=2)[:-30])
    with pytest.raises(ValueError, match=rf"{path} is damaged \(.*\): delete it and download it again"):
        restricted_load(path)
