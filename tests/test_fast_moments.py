"""harmonic._fast.moments (and .geometry's window views): spectral-BN batch statistics from patch moments
and from the maps, against the literal form (eq. 3 on the spectral maps of eq. 1)."""

import copy

import pytest
import torch

from harmonic._fast import geometry, moments
from harmonic.dct import dct_filters
from harmonic.layers import HarmonicConv2d

from test_layers import F64, _input, _randomise_bn


def _assert_matches_explicit_form(layer, x):
    """Output and input gradient of ``layer`` (with spectral BN) equal those of its literal form."""
    reference = copy.deepcopy(layer)
    fast, slow = layer(x), reference.explicit_forward(x)
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-10)
    grad_out = torch.randn_like(fast)
    (grad_fast,) = torch.autograd.grad(fast, x, grad_out)
    (grad_slow,) = torch.autograd.grad(slow, x, grad_out)
    torch.testing.assert_close(grad_fast, grad_slow, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize(
    "height, width, stride, dilation, chunk, shape",
    [
        (12, 12, 1, 1, 1 << 20, (2, 2)),
        (12, 11, 1, 1, 200, (2, 1)),
        (11, 10, 1, 1, 200, (1, 2)),
        (11, 11, 1, 1, 200, (1, 1)),
        (12, 12, 2, 1, 300, (1, 1)),
        (12, 12, 1, 2, 300, (1, 1)),
    ],
)
def test_spectral_statistics_super_patches_and_chunks(monkeypatch, height, width, stride, dilation, chunk, shape):
    """Every super-patch shape the cost rule picks (output sizes divisible by 2 or not, stride,
    dilation), images in chunks: statistics and their input gradient equal the explicit form."""
    monkeypatch.setattr(moments, "CHUNK_ELEMENTS", chunk)
    torch.manual_seed(0)
    layer = HarmonicConv2d(3, 4, 3, stride=stride, padding=dilation, dilation=dilation, spectral_bn=True, spectral_bn_affine=True).double()
    layer.compute_form = "merged"
    _randomise_bn(layer)
    h_out, w_out = geometry.output_size(
        (height, width), 3, layer.stride, layer.dilation, geometry.padding_lrtb(layer.padding, 3, layer.dilation)
    )
    assert moments.super_patch_shape(3, layer.stride, layer.dilation, h_out, w_out) == shape
    _assert_matches_explicit_form(layer, torch.randn(5, 3, height, width, dtype=F64, requires_grad=True))


def test_spectral_statistics_super_patches_with_gaps(monkeypatch):
    """Super-patches whose taps leave gaps (stride 4, 2x2 patches: rows 0-2 and 4-6; the cost rule never
    picks them, but the moments take any shape): the windows are gathered, not sliced."""
    assert geometry.offset_index([0, 1, 2, 4, 5, 6]) == [0, 1, 2, 4, 5, 6]
    assert geometry.offset_index([0, 2, 4, 6]) == slice(None, None, 2)
    monkeypatch.setattr(moments, "super_patch_shape", lambda *args: (2, 2))
    torch.manual_seed(0)
    layer = HarmonicConv2d(2, 3, 3, stride=4, padding=1, spectral_bn=True, spectral_bn_affine=True).double()
    layer.compute_form = "merged"
    _assert_matches_explicit_form(layer, torch.randn(3, 2, 16, 16, dtype=F64, requires_grad=True))


def test_spectral_statistics_gradcheck():
    layer = HarmonicConv2d(1, 2, 3, stride=2, padding=1, level=4, spectral_bn=True, spectral_bn_affine=True).double()
    x = _input(1, size=4, batch=2, requires_grad=True)

    def statistics(inp):
        mean, var, _ = layer.spectral_statistics(inp)
        return mean, var

    assert torch.autograd.gradcheck(statistics, (x,))


@pytest.mark.parametrize(
    "k, stride, dilation, padding, size",
    [
        (3, 1, 1, 1, (10, 9)),
        (3, 2, 1, 1, (10, 9)),
        (3, 1, 2, 2, (10, 9)),
        (3, 1, 1, (0, 1, 2, 0), (10, 9)),
        (5, 1, 1, 0, (9, 11)),
        (2, 1, (2, 1), (1, 0, 0, 1), (7, 8)),
        (4, 1, 1, (2, 1, 1, 2), (6, 6)),
        (3, 1, 1, 1, (3, 2)),  # smaller than the frame: no row or column sees every tap
    ],
)
def test_map_statistics_equal_patch_moments(k, stride, dilation, padding, size):
    """The statistics CUDA takes from the spectral maps equal the patch moments (CPU's), values
    and input gradient; asymmetric padding, even and 5x5 kernels, and inputs smaller than the
    padding's frame included."""
    torch.manual_seed(0)
    bank = dct_filters(k).reshape(k * k, k * k).double()
    pad = padding if isinstance(padding, tuple) else (padding,) * 4
    dilation = dilation if isinstance(dilation, tuple) else (dilation, dilation)
    x = torch.randn(3, 4, *size, dtype=F64, requires_grad=True)
    args = (bank, k, (stride, stride), dilation, pad)
    from_moments = moments.SpectralMoments.apply(x, *args)
    maps = moments.map_statistics(x, *args)
    weights = [torch.randn_like(t) for t in from_moments]
    grads = [torch.autograd.grad(sum((t * w).sum() for t, w in zip(ts, weights)), x)[0] for ts in (from_moments, maps)]
    for a, b in zip((*from_moments, grads[0]), (*maps, grads[1]), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
