"""harmonic.datasets.cifar on tiny files in the real format: pixels, normalisation, subsets,
missing files, the batch augmentation, and the 32×32 datasets by name."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harmonic.datasets import cifar
from harmonic.datasets.cifar import (
    CIFAR_DATASETS,
    cifar_augment,
    cifar_classes,
    image_dataset_info,
    load_cifar,
    load_image_dataset,
    read_cifar_batch,
)
from harmonic.datasets.mnist import DataUnavailableError

from dataset_files import cifar_root, md5_sums, write_idx, write_pickle  # noqa: F401 (the fixture)


def _unnormalise(x: torch.Tensor, name: str) -> torch.Tensor:
    spec = CIFAR_DATASETS[name]
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (x * std + mean).mul(255).round().to(torch.uint8)


# ---------------------------------------------------------------- CIFAR
@pytest.mark.parametrize("name, label_key", [("cifar10", b"labels"), ("cifar100", b"fine_labels")])
@pytest.mark.parametrize("train", [True, False])
def test_cifar_pixel_exact(cifar_root, name, label_key, train):
    root, written = cifar_root
    batches = written[f"{name}-{'train' if train else 'test'}"]
    raw = np.concatenate([b[b"data"] for b in batches])
    labels = sum((b[label_key] for b in batches), [])
    x, y = load_cifar(name, train=train, root=root, download=False).tensors
    assert x.shape == (len(raw), 3, 32, 32) and x.dtype == torch.float32
    assert y.tolist() == labels and y.dtype == torch.int64
    pixels = _unnormalise(x, name)
    assert torch.equal(pixels.reshape(len(raw), -1), torch.from_numpy(raw))
    # channel layout: the first 1024 bytes of a row are the red plane, row-major
    assert torch.equal(pixels[0, 0], torch.from_numpy(raw[0, :1024].reshape(32, 32)))
    assert torch.equal(pixels[0, 2, 1, :], torch.from_numpy(raw[0, 2048 + 32 : 2048 + 64]))


def test_cifar_normalisation_statistics(cifar_root):
    root, _ = cifar_root
    x, _ = load_cifar("cifar10", root=root, download=False).tensors
    images, _ = read_cifar_batch(root / "cifar-10-batches-py" / "data_batch_1")
    spec = CIFAR_DATASETS["cifar10"]
    expected = (images[:, 1].float() / 255 - spec.mean[1]) / spec.std[1]
    assert torch.allclose(x[:3, 1], expected, atol=1e-6)


def test_cifar_subset_is_fixed(cifar_root):
    root, _ = cifar_root
    full_x, full_y = load_cifar("cifar10", root=root, download=False).tensors
    a_x, a_y = load_cifar("cifar10", root=root, subset=4, download=False).tensors
    b_x, _ = load_cifar("cifar10", root=root, subset=4, download=False).tensors
    keep = torch.randperm(15, generator=torch.Generator().manual_seed(0))[:4]
    assert torch.equal(a_x, b_x) and torch.equal(a_x, full_x[keep]) and torch.equal(a_y, full_y[keep])
    assert len(load_cifar("cifar10", root=root, subset=100, download=False)) == 15
    with pytest.raises(ValueError, match="subset"):
        load_cifar("cifar10", root=root, subset=0, download=False)


def test_cifar_classes(cifar_root):
    root, _ = cifar_root
    assert cifar_classes("cifar10", root=root, download=False)[:2] == ["class0", "class1"]
    assert len(cifar_classes("cifar100", root=root, download=False)) == 100


def test_cifar_missing_files(tmp_path, monkeypatch):
    with pytest.raises(DataUnavailableError) as info:
        load_cifar("cifar10", root=tmp_path, download=False)
    message = str(info.value)
    assert "data_batch_1" in message and "batches.meta" in message
    assert str(tmp_path / "cifar-10-batches-py") in message and "download=False" in message

    def offline(spec, root):
        raise OSError("network unreachable")

    monkeypatch.setattr(cifar, "_download", offline)
    with pytest.raises(DataUnavailableError, match=r"test, meta.*tried and failed \(OSError: network unreachable\)"):
        load_cifar("cifar100", train=False, root=tmp_path, download=True)


def test_cifar_bad_arguments(cifar_root, tmp_path):
    root, _ = cifar_root
    with pytest.raises(ValueError, match="name must be one of"):
        load_cifar("cifar1000", root=root)
    broken = tmp_path / "cifar-100-python"
    write_pickle(broken / "train", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]})
    (broken / "meta").write_bytes(pickle.dumps({}))
    with pytest.raises(ValueError, match="fine_labels"):
        load_cifar("cifar100", root=tmp_path, download=False, checksums=md5_sums(broken))
    with pytest.raises(ValueError, match=r"checksums must give the MD5 sum of every file read, got none for 'train'"):
        load_cifar("cifar100", root=tmp_path, download=False, checksums={})


# ------------------------------------------------------------ augmentation
def _candidates(image: torch.Tensor, padding: int) -> list[torch.Tensor]:
    """Every crop (and its mirror image) of the reflect-padded image."""
    padded = F.pad(image[None], (padding,) * 4, mode="reflect")[0]
    h, w = image.shape[-2:]
    crops = [padded[:, dy : dy + h, dx : dx + w] for dy in range(2 * padding + 1) for dx in range(2 * padding + 1)]
    return crops + [c.flip(-1) for c in crops]


def test_augment_outputs_are_shifted_flipped_inputs():
    x = torch.randn(12, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    out = cifar_augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    matches = []
    for image, result in zip(x, out):
        hits = [i for i, c in enumerate(_candidates(image, 4)) if torch.equal(c, result)]
        assert hits, "an augmented image is not a crop of the padded input"
        matches.append(hits[0])
    assert len(set(matches)) > 1  # offsets differ between images
    assert any(m >= 81 for m in matches) and any(m < 81 for m in matches)  # some flipped, some not


def test_augment_draws_offsets_then_flips_from_the_generator():
    x = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(5)
    offsets = torch.randint(0, 5, (6, 2), generator=g)
    flips = torch.rand(6, generator=g) < 0.5
    out = cifar_augment(x, torch.Generator().manual_seed(5), padding=2)
    padded = F.pad(x, (2,) * 4, mode="reflect")
    for i, ((dy, dx), flip) in enumerate(zip(offsets.tolist(), flips.tolist())):
        crop = padded[i, :, dy : dy + 8, dx : dx + 8]
        assert torch.equal(out[i], crop.flip(-1) if flip else crop)


def test_augment_is_deterministic_under_the_generator():
    x = torch.randn(8, 3, 32, 32)
    a = cifar_augment(x, torch.Generator().manual_seed(3))
    b = cifar_augment(x, torch.Generator().manual_seed(3))
    c = cifar_augment(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_augment_identity_and_errors():
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(cifar_augment(x, torch.Generator(), padding=0, flip=False), x)
    flipped = cifar_augment(x, torch.Generator().manual_seed(0), padding=0)
    assert all(torch.equal(f, i) or torch.equal(f, i.flip(-1)) for f, i in zip(flipped, x))
    with pytest.raises(ValueError, match="padding"):
        cifar_augment(x, torch.Generator(), padding=-1)
    with pytest.raises(ValueError, match="padding"):
        cifar_augment(x, torch.Generator(), padding=32)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        cifar_augment(x[0], torch.Generator())


# ----------------------------------------------------------- by name
def test_dataset_by_name(cifar_root, tmp_path):
    root, _ = cifar_root
    assert load_image_dataset("cifar100", train=False, root=root, download=False).tensors[0].shape == (2, 3, 32, 32)
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (3, 28, 28)))
    write_idx(raw / "t10k-labels-idx1-ubyte", np.array([1, 2, 3]))
    x, y = load_image_dataset("fashion-mnist", train=False, root=tmp_path, download=False).tensors
    assert x.shape == (3, 1, 32, 32) and y.tolist() == [1, 2, 3]
    info = image_dataset_info("fashion-mnist")
    assert (info.num_classes, info.in_channels, info.image_size) == (10, 1, 32)
    assert image_dataset_info("cifar100").num_classes == 100
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_image_dataset("mnist")
