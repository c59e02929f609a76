"""harmonic._fast.cache: the merged kernel cached in eval mode follows in-place updates and replaced tensors."""

import torch
from torch import nn

from harmonic.layers import HarmonicConv2d

from test_layers import _input


def test_eval_cache_follows_in_place_updates_and_load_state_dict():
    torch.manual_seed(0)
    layer = HarmonicConv2d(4, 5, 3, padding=1, spectral_bn=True, spectral_bn_affine=True).eval()
    x = _input(4, dtype=torch.float32)
    with torch.no_grad():
        first = layer(x)
        layer.weight.mul_(2)  # as an optimizer step would
        second = layer(x)
        layer.bn.running_mean.add_(1)
        third = layer(x)
    assert not torch.allclose(first, second) and not torch.allclose(second, third)
    torch.testing.assert_close(third, layer.explicit_forward(x).detach(), rtol=1e-5, atol=1e-5)
    other = HarmonicConv2d(4, 5, 3, padding=1, spectral_bn=True, spectral_bn_affine=True).eval()
    with torch.no_grad():
        other(x)
    other.load_state_dict(layer.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(other(x), third)
    layer.weight = nn.Parameter(torch.zeros_like(layer.weight))  # replaced, not modified in place
    with torch.no_grad():
        torch.testing.assert_close(layer(x), layer.bias.view(1, -1, 1, 1).expand_as(third))
