"""harmonic._fast.fold: spectral BN folded into one convolution (one autograd node) and the bank product,
against the literal form and autograd."""

import copy

import pytest
import torch
from torch import nn

from harmonic._fast import cache, fold
from harmonic.dct import dct_filters
from harmonic.layers import HarmonicConv2d

from test_layers import F64, _input, _randomise_bn


def _functional(layer):
    """The layer as a function of its input and parameters (for gradcheck)."""
    names = [name for name, _ in layer.named_parameters()]

    def call(x, *params):
        return torch.func.functional_call(layer, dict(zip(names, params, strict=True)), (x,))

    return call, [p.detach().clone().requires_grad_() for p in layer.parameters()]


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_folded_spectral_bn_gradcheck(mode, monkeypatch, device):
    """The folded conv's hand-written backward, for every input and parameter (and, in eval
    mode, its own derivative: the statistics are constants there, so gradgradcheck applies)."""
    torch.manual_seed(0)
    layer = HarmonicConv2d(4, 6, 3, stride=2, padding=1, groups=2, level=2, spectral_bn=True, spectral_bn_affine=True).double()
    _randomise_bn(layer)
    layer.bn.running_mean.uniform_(-1, 1)
    layer.bn.running_var.uniform_(0.5, 2)
    layer.to(device)
    layer.compute_form = "merged"
    layer.train(mode == "train")
    # gradcheck perturbs inputs through .data (no version bump): keep the eval cache out of it
    monkeypatch.setattr(cache, "kernel_cache_key", lambda *args: None)
    call, params = _functional(layer)
    x = _input(4, size=5, batch=2, requires_grad=True, device=device)
    assert torch.autograd.gradcheck(call, (x, *params))
    if mode == "eval":
        assert torch.autograd.gradgradcheck(call, (x, *params))


@pytest.mark.parametrize("frozen", ["weight", "bn", "weight+bias"])
def test_folded_spectral_bn_with_frozen_parameters(frozen, device):
    """The hand-written backward returns only what is asked for, and the right values for it
    (fine-tuning with frozen statistics, frozen weights or frozen BN affine parameters)."""
    torch.manual_seed(0)
    layer = HarmonicConv2d(4, 6, 3, padding=1, groups=2, spectral_bn=True, spectral_bn_affine=True).double()
    _randomise_bn(layer)
    layer.bn.running_mean.uniform_(-1, 1)
    layer.bn.running_var.uniform_(0.5, 2)
    layer.to(device).eval()
    layer.compute_form = "merged"
    reference = copy.deepcopy(layer)
    for module in (layer, reference):
        names = {"weight": ["weight"], "bn": ["bn.weight", "bn.bias"], "weight+bias": ["weight", "bias"]}[frozen]
        for name, parameter in module.named_parameters():
            parameter.requires_grad_(name not in names)
    x = _input(4, requires_grad=True, device=device)
    fast, slow = layer(x), reference.explicit_forward(x)
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-10)
    ramp = torch.linspace(-1, 1, fast.numel(), dtype=F64, device=device).reshape(fast.shape)
    trained = [[p for p in m.parameters() if p.requires_grad] for m in (layer, reference)]
    grads_fast = torch.autograd.grad((fast * ramp).sum(), [x, *trained[0]])
    grads_slow = torch.autograd.grad((slow * ramp).sum(), [x, *trained[1]])
    for a, b in zip(grads_fast, grads_slow, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("rows", [6, fold.PAIRED_ROWS - 2, fold.PAIRED_ROWS, fold.PAIRED_ROWS + 1])
def test_bank_product_pairs_rows_only_from_paired_rows(rows, monkeypatch):
    """Two rows at a time by a block-diagonal bank (CPU, even row counts from PAIRED_ROWS on):
    the same product as the plain one."""
    built = []
    block_diag = torch.block_diag
    monkeypatch.setattr(fold.torch, "block_diag", lambda *m: built.append(len(m)) or block_diag(*m))
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(rows, 9, generator=generator, dtype=F64)
    bank = dct_filters(3, 3).reshape(6, 9).to(F64)
    torch.testing.assert_close(fold.bank_product(values, bank.T), values @ bank.T, rtol=1e-12, atol=1e-12)
    assert built == ([2] if rows >= fold.PAIRED_ROWS and rows % 2 == 0 else [])


def test_folded_spectral_bn_without_affine_and_under_autocast(device):
    torch.manual_seed(0)
    layer = HarmonicConv2d(3, 4, 3, padding=1, spectral_bn=True, spectral_bn_affine=True).double()
    layer.compute_form = "merged"
    layer.bn = nn.BatchNorm2d(layer.bn.num_features, affine=False).double()
    layer.to(device)
    reference = copy.deepcopy(layer)
    x = _input(3, requires_grad=True, device=device)
    fast, slow = layer(x), reference.explicit_forward(x)
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-10)
    grads = [torch.autograd.grad(out.sum(), [x, m.weight, m.bias]) for out, m in ((fast, layer), (slow, reference))]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
    # autocast takes the recorded fold (the conv runs in bfloat16): close to float32
    layer = HarmonicConv2d(3, 4, 3, padding=1, spectral_bn=True, spectral_bn_affine=True).to(device)
    layer.compute_form = "merged"
    x = torch.randn(2, 3, 8, 8, device=device)
    expected = layer(x)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        low = layer(x)
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), expected, rtol=0.05, atol=0.05)
