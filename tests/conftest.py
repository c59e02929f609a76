"""Shared fixtures: where the real MNIST files are, and small in-memory datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from harmonic import pipeline

REPO = Path(__file__).resolve().parents[1]


def _mnist_root() -> Path | None:
    for candidate in (os.environ.get("HARMONIC_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
            return Path(candidate)
    return None


_DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.fixture(params=_DEVICES)
def device(request, monkeypatch) -> torch.device:
    """Each device a test should pass on: the CPU, and CUDA where present (skipped elsewhere).

    On CUDA, TF32 is switched off for the test (float32 convolutions and matrix products
    would otherwise round to ~1e-3 there and tests compare forms to much less).
    """
    if request.param == "cuda":
        monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
        monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    return torch.device(request.param)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """Root with the real MNIST raw files ($HARMONIC_DATA or ../shared/data); skip if absent."""
    root = _mnist_root()
    if root is None:
        pytest.skip("real MNIST not found: set HARMONIC_DATA to a folder with MNIST/raw/")
    return root


@pytest.fixture(scope="session")
def mnist_small(mnist_root: Path) -> tuple[TensorDataset, TensorDataset]:
    """1,000 training and 500 test images of the real MNIST."""
    from harmonic.datasets.mnist import load_mnist

    return (load_mnist(train=True, root=mnist_root, subset=1000, download=False),
            load_mnist(train=False, root=mnist_root, subset=500, download=False))


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory, mnist_root) -> Path:
    """Every notebook executed by papermill with the smoke profile, then the book built with -W."""
    book = tmp_path_factory.mktemp("book") / "book"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARMONIC_DATA", str(mnist_root))  # the notebooks' kernels inherit it
        assert pipeline.main(["--profile", "smoke", "--book", str(book)]) == 0
    return book / "_build" / "html"


@pytest.fixture
def toy_data() -> tuple[TensorDataset, TensorDataset]:
    """A learnable 10-class problem on random 1×28×28 inputs (for loop mechanics only)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 1, 28, 28, generator=g)
    w = torch.randn(784, 10, generator=g)
    y = (x.flatten(1) @ w).argmax(1)
    return TensorDataset(x[:400], y[:400]), TensorDataset(x[400:], y[400:])
