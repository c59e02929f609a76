"""harmonic.datasets.mnist: IDX parsing, real MNIST, subsets, and the missing-data message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harmonic.datasets import mnist as data
from harmonic.datasets.mnist import DataUnavailableError, load_idx_dataset, load_mnist, read_idx

from dataset_files import make_fake_mnist, write_idx

MNIST_TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, compress):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x-idx3-ubyte", array, compress)
    name = "x-idx3-ubyte.gz" if compress else "x-idx3-ubyte"
    np.testing.assert_array_equal(read_idx(tmp_path / name), array)


def test_read_idx_rejects_other_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "bad")


@pytest.mark.parametrize("compress", [False, True])
def test_generated_files_load_normalised(tmp_path, compress):
    make_fake_mnist(tmp_path, compress=compress)
    train = load_mnist(train=True, root=tmp_path, download=False)
    x, y = train.tensors
    assert x.shape == (20, 1, 28, 28) and x.dtype == torch.float32
    raw = torch.from_numpy(read_idx(next((tmp_path / "MNIST" / "raw").glob("train-images*"))).copy())
    expected = (raw.float() / 255 - 0.1307) / 0.3081
    torch.testing.assert_close(x[:, 0], expected)
    assert y.tolist() == [i % 10 for i in range(20)]


def test_real_mnist_label_counts_and_normalisation(mnist_root):
    train = load_mnist(train=True, root=mnist_root, download=False)
    test = load_mnist(train=False, root=mnist_root, download=False)
    x, y = train.tensors
    assert len(y) == 60000 and len(test.tensors[1]) == 10000
    assert torch.bincount(y).tolist() == MNIST_TRAIN_LABEL_COUNTS
    # normalised with the training set's own mean/std -> about zero mean, unit std
    assert abs(x.mean().item()) < 1e-3 and abs(x.std().item() - 1) < 1e-2


def test_subset_is_fixed_and_seed_independent(mnist_root):
    torch.manual_seed(123)
    a = load_mnist(train=True, root=mnist_root, subset=100, download=False).tensors[1]
    torch.manual_seed(456)
    b = load_mnist(train=True, root=mnist_root, subset=100, download=False).tensors[1]
    assert torch.equal(a, b) and len(a) == 100
    assert len(torch.unique(a)) == 10  # a random sample, not the first 100 of one class


def test_missing_data_without_download_names_files_and_variable(tmp_path):
    with pytest.raises(DataUnavailableError) as info:
        load_mnist(train=True, root=tmp_path, download=False)
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and str(tmp_path / "MNIST" / "raw") in message
    assert "HARMONIC_DATA" in message


def test_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    def offline(spec, root):
        raise OSError("network is unreachable")

    monkeypatch.setattr(data, "_download", offline)
    with pytest.raises(DataUnavailableError, match="tried and failed.*network is unreachable") as info:
        load_mnist(train=False, root=tmp_path)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_root_from_environment(tmp_path, monkeypatch):
    make_fake_mnist(tmp_path)
    monkeypatch.setenv("HARMONIC_DATA", str(tmp_path))
    assert data.data_root() == tmp_path
    assert len(load_mnist(train=False, download=False).tensors[1]) == 10


@pytest.mark.skipif(not data.DEBIAN_FASHION_MNIST.exists(), reason="Debian's dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian_package(tmp_path):
    test = data.load_fashion_mnist(train=False, root=tmp_path, download=False, pad_to=32)
    x, y = test.tensors
    assert x.shape == (10000, 1, 32, 32)
    assert torch.bincount(y).tolist() == [1000] * 10
    # the padding is the normalised background value
    assert torch.allclose(x[:, :, 0, :], torch.tensor(-0.2860 / 0.3530))


@pytest.mark.parametrize(
    "kwargs, match",
    [({"dataset": "cifar"}, "dataset must be one of"), ({"subset": 0}, "subset must be a positive"),
     ({"subset": 2.5}, "subset")],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_idx_dataset(root=tmp_path, download=False, **kwargs)


def test_pad_to_smaller_than_image_is_rejected():
    with pytest.raises(ValueError, match="pad_to"):
        data.pad_images(torch.zeros(1, 1, 28, 28), 20)
