"""harmonic.datasets.imagefolder on a tiny JPEG tree: transforms, errors, and the DataLoaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harmonic.datasets.imagefolder import image_folder, imagenet_transform
from harmonic.datasets.mnist import DataUnavailableError


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


def test_image_folder_loaders_split_the_images_over_the_processes(jpeg_tree):
    from harmonic.datasets.imagefolder import image_folder_loaders

    loaders = [image_folder_loaders(jpeg_tree, 4, image_size=32, resize=36, workers=0, rank=rank, world_size=2)
               for rank in (0, 1)]
    # validation: every image exactly once, process r taking images r, r + 2, ...
    assert [list(val.sampler) for _, val in loaders] == [[0, 2, 4], [1, 3, 5]]
    assert [[len(y) for _, y in val] for _, val in loaders] == [[2, 1], [2, 1]]
    # training: 2 images per process, whole batches only, disjoint shards that set_epoch reshuffles
    train0, train1 = loaders[0][0], loaders[1][0]
    assert [len(y) for _, y in train0] == [2] and train0.batch_size == 2 and train0.drop_last
    shards = [list(train0.sampler), list(train1.sampler)]
    assert sorted(shards[0] + shards[1]) == list(range(6))
    orders = set()
    for epoch in range(6):
        train0.sampler.set_epoch(epoch)
        orders.add(tuple(train0.sampler))
    assert len(orders) > 1
    with pytest.raises(ValueError, match=r"batch_size must be divisible by the number of processes \(4\), got 6"):
        image_folder_loaders(jpeg_tree, 6, world_size=4)
