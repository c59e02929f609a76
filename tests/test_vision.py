"""Image data on tiny files in the real on-disk formats, the batch augmentation, and the WRN runner.

CIFAR and ImageNet cannot be downloaded here, so the tests write a few images in the
original formats (CIFAR "python version" pickles, ImageFolder JPEG trees, IDX files)
and check that the loaders read back exactly what was written. No number produced
here is a result.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pandas as pd
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
from harmonic.datasets.imagefolder import image_folder, imagenet_transform


# ----------------------------------------------------------------- fixtures
def _write_pickle(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=2)  # byte keys, as in the original Python 2 pickles


def _batch(rng: np.random.Generator, n: int, label_keys: dict[str, int]) -> dict:
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"batch_label": b"test"}
    for key, classes in label_keys.items():
        batch[key.encode()] = [int(v) for v in rng.integers(0, classes, n)]
    return batch


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> tuple[Path, dict[str, list[dict]]]:
    """CIFAR-10 (5 × 3 training + 2 test images) and CIFAR-100 (4 + 2) in the torchvision layout."""
    root = tmp_path_factory.mktemp("cifar")
    rng = np.random.default_rng(0)
    written: dict[str, list[dict]] = {f"{name}-{split}": [] for name in ("cifar10", "cifar100")
                                      for split in ("train", "test")}
    c10 = root / "cifar-10-batches-py"
    for i in range(1, 6):
        batch = _batch(rng, 3, {"labels": 10})
        _write_pickle(c10 / f"data_batch_{i}", batch)
        written["cifar10-train"].append(batch)
    test = _batch(rng, 2, {"labels": 10})
    _write_pickle(c10 / "test_batch", test)
    written["cifar10-test"].append(test)
    _write_pickle(c10 / "batches.meta", {b"label_names": [f"class{i}".encode() for i in range(10)]})
    c100 = root / "cifar-100-python"
    for split, n in (("train", 4), ("test", 2)):
        batch = _batch(rng, n, {"fine_labels": 100, "coarse_labels": 20})
        _write_pickle(c100 / split, batch)
        written[f"cifar100-{split}"].append(batch)
    _write_pickle(c100 / "meta", {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                                  b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]})
    return root, written


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
    _write_pickle(broken / "train", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]})
    (broken / "meta").write_bytes(pickle.dumps({}))
    with pytest.raises(ValueError, match="fine_labels"):
        load_cifar("cifar100", root=tmp_path, download=False)


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
def _write_idx(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_dataset_by_name(cifar_root, tmp_path):
    root, _ = cifar_root
    assert load_image_dataset("cifar100", train=False, root=root, download=False).tensors[0].shape == (2, 3, 32, 32)
    raw = tmp_path / "FashionMNIST" / "raw"
    rng = np.random.default_rng(0)
    _write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (3, 28, 28)))
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.array([1, 2, 3]))
    x, y = load_image_dataset("fashion-mnist", train=False, root=tmp_path, download=False).tensors
    assert x.shape == (3, 1, 32, 32) and y.tolist() == [1, 2, 3]
    info = image_dataset_info("fashion-mnist")
    assert (info.num_classes, info.in_channels, info.image_size) == (10, 1, 32)
    assert image_dataset_info("cifar100").num_classes == 100
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_image_dataset("mnist")


# ------------------------------------------------------------ ImageFolder
@pytest.fixture(scope="module")
def jpeg_tree(tmp_path_factory) -> Path:
    from PIL import Image

    root = tmp_path_factory.mktemp("imagefolder")
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for label in ("cat", "dog"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / f"{i}.JPEG")
    return root


def test_image_folder_train_and_val(jpeg_tree):
    train = image_folder(jpeg_tree, "train", image_size=32, resize=36)
    val = image_folder(jpeg_tree, "val", image_size=32, resize=36)
    assert train.classes == ["cat", "dog"] and len(train) == 6 and len(val) == 6
    x, label = val[4]
    assert x.shape == (3, 32, 32) and label == 1
    assert torch.equal(val[0][0], val[0][0])  # evaluation transform: deterministic
    torch.manual_seed(0)
    a = train[0][0]
    torch.manual_seed(0)
    b = train[0][0]
    c = train[0][0]
    assert a.shape == (3, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)  # random, seeded by torch


def test_image_folder_val_is_resize_then_centre_crop(jpeg_tree):
    from PIL import Image
    from torchvision.transforms import functional as TF

    path, _ = image_folder(jpeg_tree, "val", image_size=32, resize=36).samples[0]
    image = Image.open(path).convert("RGB")
    expected = TF.to_tensor(TF.center_crop(TF.resize(image, 36), 32))
    expected = TF.normalize(expected, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert torch.allclose(image_folder(jpeg_tree, "val", 32, 36)[0][0], expected)


def test_image_folder_errors(jpeg_tree, tmp_path):
    with pytest.raises(DataUnavailableError, match="no class folders"):
        image_folder(tmp_path, "train")
    (tmp_path / "val" / "empty").mkdir(parents=True)
    with pytest.raises(DataUnavailableError, match="ImageFolder tree"):
        image_folder(tmp_path, "val")
    with pytest.raises(ValueError, match="split must be one of"):
        image_folder(jpeg_tree, "test")
    with pytest.raises(ValueError, match="resize must be at least"):
        imagenet_transform(False, image_size=224, resize=200)
    with pytest.raises(ValueError, match="image_size"):
        imagenet_transform(True, image_size=0)


# ----------------------------------------------------- WRN runs and Figure 3
def test_frequency_weights_table():
    from harmonic.models import wrn
    from harmonic.experiments.wrn import frequency_weights

    model = wrn(10, 1, harmonic="all", level=(None, 3, 2))
    stem = model.conv1
    with torch.no_grad():
        stem.weight.copy_(-torch.arange(9.0).expand_as(stem.weight))
    table = frequency_weights(model)
    assert list(table["layer"][:2]) == ["conv1", "layer1.0.conv1"] and table["index"].tolist() == list(range(7))
    assert table.loc[0, ["(0,0)", "(1,1)", "(2,2)"]].tolist() == [0.0, 4.0, 8.0]
    lam2 = table[table["layer"] == "layer3.0.conv1"].iloc[0]
    assert lam2["n_filters"] == 3 and lam2["level"] == 2
    assert lam2[["(0,0)", "(0,1)", "(1,0)"]].notna().all() and lam2[["(1,1)", "(0,2)"]].isna().all()
    expected = model.layer3[0].conv1.weight.abs().mean(dim=(0, 1))
    assert np.allclose(lam2[["(0,0)", "(0,1)", "(1,0)"]].astype(float), expected.detach().numpy())
    assert pd.isna(table.loc[0, "level"])
    assert frequency_weights(wrn(10, 1)).empty


def test_run_wrn_records_results_and_figure3(cifar_root, tmp_path):
    from harmonic.results import load_runs
    from harmonic.experiments.wrn import FREQUENCY_WEIGHTS_FILE, run_wrn

    root, _ = cifar_root
    params = dict(dataset="cifar10", depth=10, widen_factor=1, harmonic="all", level=[None, 3, 2], dropout=0.0,
                  epochs=2, batch_size=8, lr=0.01, milestones=[1], seed=0, device="cpu")
    run = run_wrn(results_dir=tmp_path, run_name="tiny", data_root=str(root), checkpoint=True, progress=False,
                  **params)
    folder = tmp_path / "tiny"
    metrics = pd.read_csv(folder / "metrics.csv")
    assert metrics["epoch"].tolist() == [1, 2] and metrics["lr"].tolist() == pytest.approx([0.01, 0.002])
    record = json.loads((folder / "provenance.json").read_text())
    from harmonic.utils import count_parameters

    assert record["params"]["n_parameters"] == count_parameters(run.model) > 0
    assert record["params"]["level"] == [None, 3, 2] and record["params"]["weight_decay"] == 5e-4
    table = pd.read_csv(folder / FREQUENCY_WEIGHTS_FILE)
    assert len(table) == 7 and "(2,2)" in table.columns
    pd.testing.assert_frame_equal(table, run.frequency_weights, check_dtype=False)
    assert len(load_runs(tmp_path)) == 2
    # a rerun resumes from the checkpoint and reproduces the same numbers without training
    again = run_wrn(results_dir=tmp_path, run_name="tiny", data_root=str(root), checkpoint=True, progress=False,
                    **params)
    pd.testing.assert_frame_equal(again.metrics, run.metrics)


def test_run_wrn_plain_and_errors(cifar_root):
    from harmonic.experiments.wrn import run_wrn

    root, _ = cifar_root
    run = run_wrn(data_root=str(root), progress=False, dataset="cifar100", depth=10, widen_factor=1, harmonic="none",
                  epochs=1, milestones=[], batch_size=4, augment=False, device="cpu")
    assert run.folder is None and run.frequency_weights is None and len(run.metrics) == 1
    with pytest.raises(ValueError, match="unknown parameter"):
        run_wrn(data_root=str(root), widen=2)
