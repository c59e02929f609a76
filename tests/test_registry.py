"""harmonic.datasets.registry: one entry per dataset, and both by-name loaders go through it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harmonic.datasets import cifar, mnist, registry
from harmonic.datasets.registry import DATASETS, dataset_names, dataset_spec, load

from dataset_files import cifar_root, make_fake_mnist, write_idx  # noqa: F401 (the fixture)


def test_every_reader_knows_exactly_its_datasets():
    assert dataset_names() == sorted(DATASETS) == ["cifar10", "cifar100", "fashion-mnist", "imagenet", "mnist"]
    assert sorted(mnist.IDX_DATASETS) == dataset_names("idx") == sorted(mnist.DATASET_LOADERS)
    assert sorted(cifar.CIFAR_DATASETS) == dataset_names("cifar")
    assert dataset_names("imagefolder") == ["imagenet"]
    for name, info in cifar.IMAGE_DATASETS.items():
        spec = DATASETS[name]
        assert (info.num_classes, info.in_channels, info.image_size) == (spec.num_classes, spec.in_channels, 32)
    assert (DATASETS["fashion-mnist"].image_size, DATASETS["cifar100"].num_classes) == (28, 100)


def test_bad_names():
    with pytest.raises(ValueError, match=r"dataset must be one of \['cifar10', .*'mnist'\], got 'svhn'"):
        dataset_spec("svhn")
    with pytest.raises(ValueError, match=r"dataset must be one of \['fashion-mnist', 'mnist'\], got 'cifar10'"):
        dataset_spec("cifar10", dataset_names("idx"))
    with pytest.raises(ValueError, match="readers must be among"):
        dataset_names("jpeg")
    with pytest.raises(ValueError, match="ImageFolder tree, decoded per sample"):
        load("imagenet")


def _spy(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_both_fashion_mnist_paths_read_the_files_in_one_place(tmp_path, monkeypatch):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (4, 28, 28)))
    write_idx(raw / "t10k-labels-idx1-ubyte", np.array([0, 9, 3, 3]))
    calls = _spy(monkeypatch, mnist, "load_idx_dataset")
    small = mnist.load_dataset("fashion-mnist", train=False, root=tmp_path, download=False)
    padded = cifar.load_image_dataset("fashion-mnist", train=False, root=tmp_path, download=False)
    assert [(args, kwargs["pad_to"]) for args, kwargs in calls] == [(("fashion-mnist",), None),
                                                                     (("fashion-mnist",), 32)]
    assert small.tensors[0].shape == (4, 1, 28, 28) and padded.tensors[0].shape == (4, 1, 32, 32)
    assert torch.equal(padded.tensors[0][:, :, 2:30, 2:30], small.tensors[0])
    assert torch.equal(padded.tensors[1], small.tensors[1])
    assert torch.equal(load("fashion-mnist", False, root=tmp_path, download=False, pad_to=32).tensors[0],
                       padded.tensors[0])


def test_mnist_and_cifar_through_the_registry(tmp_path, cifar_root, monkeypatch):
    make_fake_mnist(tmp_path)
    assert torch.equal(mnist.DATASET_LOADERS["mnist"](False, root=tmp_path, download=False).tensors[0],
                       mnist.load_mnist(train=False, root=tmp_path, download=False).tensors[0])
    root, _ = cifar_root
    calls = _spy(monkeypatch, cifar, "load_cifar")
    x, _ = cifar.load_image_dataset("cifar10", train=False, root=root, download=False).tensors
    assert len(calls) == 1 and calls[0][0] == ("cifar10",) and x.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match=r"pad_to must be None or 32 for cifar10"):
        registry.load("cifar10", root=root, download=False, pad_to=40)
