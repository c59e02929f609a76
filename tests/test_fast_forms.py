"""harmonic._fast.forms: which form compute_form="auto" takes, and every form in low precision."""

import copy

import pytest
import torch

from harmonic.layers import HarmonicConv2d

from test_layers import _input, _randomise_bn


def _count_patch_calls(layer, monkeypatch):
    calls = []
    original = layer.patch_forward
    monkeypatch.setattr(layer, "patch_forward", lambda x: calls.append(x.shape) or original(x))
    return calls


def test_auto_form_takes_patches_only_for_few_positions_per_output_channel(monkeypatch):
    layer = HarmonicConv2d(64, 64, 3, padding=1)  # full bank: n = 9, patch form if positions <= 4 * 64 / 9
    calls = _count_patch_calls(layer, monkeypatch)
    layer(torch.randn(2, 64, 3, 3))  # 18 positions
    assert len(calls) == 1
    layer(torch.randn(2, 64, 8, 8))  # 128 positions
    assert len(calls) == 1
    compressed = HarmonicConv2d(64, 64, 3, padding=1, level=2)  # n = 3: up to 85 positions
    calls = _count_patch_calls(compressed, monkeypatch)
    compressed(torch.randn(1, 64, 8, 8))
    assert len(calls) == 1
    compressed.compute_form = "merged"
    compressed(torch.randn(1, 64, 8, 8))
    assert len(calls) == 1
    compressed.compute_form = "patch"
    compressed(torch.randn(4, 64, 32, 32))
    assert len(calls) == 2


def test_auto_form_keeps_the_cached_kernel_and_applies_to_spectral_bn(monkeypatch):
    layer = HarmonicConv2d(64, 64, 3, padding=1).eval()
    calls = _count_patch_calls(layer, monkeypatch)
    with torch.no_grad():
        layer(torch.randn(1, 64, 2, 2))  # eval + no_grad: the merged kernel is cached and reused
    assert calls == [] and layer._cache is not None
    sbn = HarmonicConv2d(64, 64, 3, padding=1, spectral_bn=True, spectral_bn_affine=True)
    sbn_calls = _count_patch_calls(sbn, monkeypatch)
    sbn(torch.randn(2, 64, 3, 3))  # 18 positions * 9 <= 4 * 64: patch form, BN on the coefficients
    sbn(torch.randn(2, 64, 8, 8))  # 128 positions: batch statistics from patch moments, folded conv
    assert sbn_calls == [torch.Size([2, 64, 3, 3])]


def test_auto_form_runs_training_spectral_bn_explicitly_off_cpu_only(monkeypatch, device):
    layer = HarmonicConv2d(4, 6, 3, padding=1, spectral_bn=True, spectral_bn_affine=True).to(device)
    calls = []
    original = layer.explicit_forward
    monkeypatch.setattr(layer, "explicit_forward", lambda x: calls.append(x.shape) or original(x))
    x = torch.randn(2, 4, 8, 8, device=device)
    layer(x)  # training: batch statistics
    layer.compute_form = "merged"
    layer(x)
    layer.compute_form = "auto"
    layer.eval()
    layer(x)  # running statistics: folded
    assert len(calls) == (0 if device.type == "cpu" else 1)


@pytest.mark.parametrize("form", ["merged", "patch", "sbn-train", "sbn-eval"])
def test_low_precision_forward_and_backward(form, device):
    """Every form runs in the half-precision types the device's convolutions support, keeps the
    input's dtype and stays close to float64 (rounding of 8- or 11-bit mantissas only)."""
    dtypes = [torch.bfloat16] + ([torch.float16] if device.type == "cuda" else [])
    torch.manual_seed(0)
    reference = HarmonicConv2d(8, 6, 3, padding=1, spectral_bn=form.startswith("sbn"), spectral_bn_affine=True).double()
    if reference.bn is not None:
        _randomise_bn(reference)
        reference.bn.running_var.uniform_(0.5, 2)
    reference.compute_form = "patch" if form == "patch" else "merged"
    reference.train(form != "sbn-eval")
    x64 = _input(8, size=6, batch=4, device=device)
    for dtype in dtypes:
        layer = copy.deepcopy(reference).to(device=device, dtype=dtype)
        x = x64.to(dtype).requires_grad_()
        out = layer(x)
        out.float().square().sum().backward()
        assert out.dtype == dtype and x.grad.dtype == dtype and layer.weight.grad.dtype == dtype
        assert torch.isfinite(x.grad).all() and torch.isfinite(layer.weight.grad).all()
        expected = copy.deepcopy(reference).to(device)(x64)
        scale = expected.abs().max().item()
        torch.testing.assert_close(out.double(), expected, rtol=0.05, atol=0.03 * scale)
