"""harmonic._fast.patch: eqs. 1-3 on unfolded patches, against the merged convolution and the literal form."""

import copy

import pytest
import torch

from harmonic.layers import HarmonicConv2d

from test_layers import F64, GEOMETRIES, _input, _randomise_bn


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("level", [None, 2])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_patch_form_equals_merged_form_with_gradients(geometry, level, device):
    torch.manual_seed(0)
    layer = HarmonicConv2d(**geometry, level=level).double().to(device)
    params = [p for p in (layer.weight, layer.bias) if p is not None]
    results = {}
    for form in ("merged", "patch"):
        layer.compute_form = form
        x = _input(geometry["in_channels"], requires_grad=True, device=device)
        out = layer(x)
        ramp = torch.linspace(-1, 1, out.numel(), dtype=F64, device=device).reshape(out.shape)
        grads = torch.autograd.grad((out * ramp).sum(),
                                    [x, *params])
        results[form] = (out, *grads)
    for merged, patch in zip(results["merged"], results["patch"], strict=True):
        torch.testing.assert_close(patch, merged, rtol=1e-10, atol=1e-10)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("geometry", GEOMETRIES[:5])
def test_spectral_bn_patch_form_matches_explicit_form(geometry, mode, device):
    torch.manual_seed(0)
    layer = HarmonicConv2d(**geometry, level=3, spectral_bn=True, spectral_bn_affine=True).double()
    _randomise_bn(layer)
    layer.bn.running_mean.uniform_(-1, 1)
    layer.bn.running_var.uniform_(0.5, 2)
    layer.compute_form = "patch"
    layer.train(mode == "train")
    layer.to(device)
    reference = copy.deepcopy(layer)
    for step in range(2):
        x = _input(geometry["in_channels"], seed=step, requires_grad=True, device=device)
        fast, slow = layer(x), reference.explicit_forward(x)
        torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-10)
        grad_out = torch.randn_like(fast)
        params = [x, *layer.parameters()]
        grads_fast = torch.autograd.grad(fast, params, grad_out)
        grads_slow = torch.autograd.grad(slow, [x, *reference.parameters()], grad_out)
        for g_fast, g_slow in zip(grads_fast, grads_slow, strict=True):
            torch.testing.assert_close(g_fast, g_slow, rtol=1e-9, atol=1e-10)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(layer.bn, name), getattr(reference.bn, name))
