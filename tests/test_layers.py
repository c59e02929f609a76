"""HarmonicConv2d against eqs. 1-3 (its literal form): conversion, dense kernel, spectral BN, state, errors.

The fast paths of :mod:`harmonic._fast` are tested against the literal form in ``tests/test_fast_*.py``.
"""

import copy
import io

import pytest
import torch
from torch import nn

from harmonic.dct import dct_filters
from harmonic.layers import HarmonicConv2d

F64 = torch.float64

GEOMETRIES = [
    dict(in_channels=4, out_channels=6, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1),
    dict(in_channels=4, out_channels=8, kernel_size=3, padding=(2, 1), dilation=(2, 1), groups=2),
    dict(in_channels=3, out_channels=5, kernel_size=(5, 5), stride=(2, 1), padding="valid", bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=4, padding="same", groups=4),
    dict(in_channels=2, out_channels=3, kernel_size=2, stride=1, padding=1),
]


def _input(channels, size=9, batch=3, seed=0, dtype=F64, requires_grad=False, device="cpu"):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, size, size, generator=generator, dtype=dtype).to(device)
    return x.requires_grad_(requires_grad)


def _randomise_bn(layer, seed=1):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.bn.weight.copy_(torch.rand(layer.bn.num_features, generator=generator) + 0.5)
        layer.bn.bias.copy_(torch.randn(layer.bn.num_features, generator=generator))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_from_conv_is_exact_for_the_full_basis(geometry):
    torch.manual_seed(0)
    conv = nn.Conv2d(**geometry).double()
    layer = HarmonicConv2d.from_conv(conv)
    x = _input(geometry["in_channels"])
    expected = conv(x)
    assert layer(x).shape == expected.shape
    torch.testing.assert_close(layer(x), expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(layer.dense_weight(), conv.weight, rtol=1e-10, atol=1e-12)
    assert (layer.bias is None) == (conv.bias is None)
    assert (layer.stride, layer.dilation, layer.groups) == (conv.stride, conv.dilation, conv.groups)


def test_from_conv_float32_and_keeps_training_flag():
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 16, 3, padding=1).eval()
    layer = HarmonicConv2d.from_conv(conv, norm="ortho")
    assert not layer.training and layer.weight.dtype == torch.float32
    x = _input(8, dtype=torch.float32)
    torch.testing.assert_close(layer(x), conv(x), rtol=1e-5, atol=1e-5)


def test_from_conv_without_projection_takes_geometry_only():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=False).double().eval()
    layer = HarmonicConv2d.from_conv(conv, level=3, project_weights=False)
    assert (layer.stride, layer.padding, layer.groups, layer.bias) == ((2, 2), (1, 1), 2, None)
    assert layer.weight.dtype == torch.float64 and not layer.training
    x = _input(4)
    assert layer(x).shape == conv(x).shape and (layer(x) - conv(x)).abs().max() > 1e-3


def test_truncated_conversion_is_the_least_squares_projection():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, padding=1).double()
    layer = HarmonicConv2d.from_conv(conv, level=2)
    assert layer.n_filters == 3 and layer.weight.shape == (6, 4, 3)
    x = _input(4)
    assert (layer(x) - conv(x)).abs().max() > 1e-2
    residual = (conv.weight - layer.dense_weight()).reshape(-1, 9)
    bank = layer.filters.reshape(3, 9)
    torch.testing.assert_close(residual @ bank.T, torch.zeros(24, 3, dtype=F64), atol=1e-12, rtol=0)
    # and the layer is exactly the conv with the projected kernel
    projected = nn.functional.conv2d(x, layer.dense_weight(), conv.bias, padding=1)
    torch.testing.assert_close(layer(x), projected)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_merged_equals_explicit_without_bn(geometry, device):
    torch.manual_seed(0)
    layer = HarmonicConv2d(**geometry, level=3).double().to(device)
    x = _input(geometry["in_channels"], device=device)
    torch.testing.assert_close(layer(x), layer.explicit_forward(x), rtol=1e-10, atol=1e-10)


def test_dense_weight_is_sum_of_weighted_filters():
    torch.manual_seed(0)
    layer = HarmonicConv2d(6, 4, 3, groups=2, level=4, norm="ortho")
    bank = dct_filters(3, level=4, norm="ortho")
    expected = torch.einsum("oif,fxy->oixy", layer.weight, bank)
    torch.testing.assert_close(layer.dense_weight(), expected)
    assert layer.dense_weight().shape == (4, 3, 3, 3)


def test_filters_are_a_buffer_not_a_parameter():
    layer = HarmonicConv2d(3, 8, 3, level=3, spectral_bn=True, spectral_bn_affine=True)
    names = {name for name, _ in layer.named_parameters()}
    assert names == {"weight", "bias", "bn.weight", "bn.bias"}
    assert "filters" in layer.state_dict()
    assert layer.filters.shape == (6, 3, 3) and not layer.filters.requires_grad
    assert layer.weight.shape == (8, 3, 6)
    assert layer.bn.num_features == 3 * 6


@pytest.mark.parametrize("geometry", GEOMETRIES[:5])
def test_spectral_bn_training_matches_explicit_form_with_gradients(geometry, device):
    torch.manual_seed(0)
    layer = HarmonicConv2d(**geometry, level=3, spectral_bn=True, spectral_bn_affine=True).double().train()
    layer.compute_form = "merged"  # the folded form ("auto" runs the explicit one on CUDA)
    _randomise_bn(layer)
    layer.to(device)
    reference = copy.deepcopy(layer)
    for step in range(3):  # several steps: running statistics must agree too
        x = _input(geometry["in_channels"], seed=step, requires_grad=True, device=device)
        fast, slow = layer(x), reference.explicit_forward(x)
        torch.testing.assert_close(fast, slow, rtol=1e-9, atol=1e-9)
        grad_out = torch.randn_like(fast)
        inputs_fast = [x, layer.weight, layer.bn.weight, layer.bn.bias]
        inputs_slow = [x, reference.weight, reference.bn.weight, reference.bn.bias]
        if layer.bias is not None:
            inputs_fast.append(layer.bias)
            inputs_slow.append(reference.bias)
        grads_fast = torch.autograd.grad(fast, inputs_fast, grad_out)
        grads_slow = torch.autograd.grad(slow, inputs_slow, grad_out)
        for g_fast, g_slow in zip(grads_fast, grads_slow, strict=True):
            torch.testing.assert_close(g_fast, g_slow, rtol=1e-8, atol=1e-9)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(layer.bn, name), getattr(reference.bn, name))


def test_spectral_bn_cumulative_momentum_and_float32():
    torch.manual_seed(0)
    layer = HarmonicConv2d(3, 8, 3, padding=1, spectral_bn=True, spectral_bn_affine=True)
    layer.bn.momentum = None
    reference = copy.deepcopy(layer)
    for step in range(2):
        x = _input(3, size=16, batch=8, seed=step, dtype=torch.float32) * 3 + 5  # offset input
        torch.testing.assert_close(layer(x), reference.explicit_forward(x), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(layer.bn.running_var, reference.bn.running_var, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(layer.bn.running_mean, reference.bn.running_mean, rtol=1e-5, atol=1e-6)


def test_spectral_bn_eval_folds_running_statistics(device):
    torch.manual_seed(0)
    layer = HarmonicConv2d(4, 6, 3, padding=1, groups=2, spectral_bn=True, spectral_bn_affine=True).double()
    _randomise_bn(layer)
    layer.to(device)
    for step in range(3):
        layer(_input(4, seed=step, device=device) * 2 + 1)
    assert layer.bn.running_var.min() < 0.9  # running stats are not the initial ones
    layer.eval()
    x = _input(4, seed=10, requires_grad=True, device=device)
    folded = layer(x)
    explicit = layer.explicit_forward(x)
    torch.testing.assert_close(folded, explicit, rtol=1e-10, atol=1e-10)
    grad_folded = torch.autograd.grad(folded.sum(), [x, layer.weight, layer.bn.weight])
    grad_explicit = torch.autograd.grad(explicit.sum(), [x, layer.weight, layer.bn.weight])
    for a, b in zip(grad_folded, grad_explicit, strict=True):
        torch.testing.assert_close(a, b)
    with torch.no_grad():  # cached kernel path
        torch.testing.assert_close(layer(x), explicit.detach(), rtol=1e-10, atol=1e-10)


def test_converted_spectral_bn_is_identity_in_eval_mode():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False).double().eval()
    layer = HarmonicConv2d.from_conv(conv, spectral_bn=True, spectral_bn_affine=True)
    x = _input(3, size=20)
    torch.testing.assert_close(layer(x), conv(x), rtol=1e-12, atol=1e-12)
    assert torch.all(layer.bn.running_var == 1 - layer.bn.eps)


def test_state_dict_round_trip():
    torch.manual_seed(0)
    layer = HarmonicConv2d(4, 6, 3, padding=1, level=3, spectral_bn=True, spectral_bn_affine=True)
    layer(_input(4, dtype=torch.float32))  # update running statistics
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(1)
    restored = HarmonicConv2d(4, 6, 3, padding=1, level=3, spectral_bn=True, spectral_bn_affine=True)
    restored.load_state_dict(torch.load(buffer))
    layer.eval()
    restored.eval()
    x = _input(4, seed=5, dtype=torch.float32)
    torch.testing.assert_close(restored(x), layer(x))
    assert set(layer.state_dict()) == {
        "filters", "weight", "bias", "bn.weight", "bn.bias",
        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
    }  # fmt: skip


def test_state_dict_moves_between_devices(device):
    """Saved on the device, loaded on the CPU (map_location) and back: same outputs."""
    torch.manual_seed(0)
    layer = HarmonicConv2d(4, 6, 3, padding=1, level=3, spectral_bn=True, spectral_bn_affine=True).double().to(device)
    layer(_input(4, device=device))
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    buffer.seek(0)
    on_cpu = HarmonicConv2d(4, 6, 3, padding=1, level=3, spectral_bn=True, spectral_bn_affine=True).double()
    on_cpu.load_state_dict(torch.load(buffer, map_location="cpu"))
    assert on_cpu.filters.device.type == "cpu"
    layer.eval()
    on_cpu.eval()
    x = _input(4, seed=5)
    torch.testing.assert_close(on_cpu(x), layer(x.to(device)).cpu(), rtol=1e-10, atol=1e-10)


def test_filters_follow_dtype():
    layer = HarmonicConv2d(2, 3, 3).double()
    assert layer.filters.dtype == layer.weight.dtype == F64
    layer = HarmonicConv2d(2, 3, 3, dtype=torch.bfloat16)
    assert layer.filters.dtype == torch.bfloat16
    assert layer(torch.randn(1, 2, 6, 6, dtype=torch.bfloat16)).dtype == torch.bfloat16


def test_kaiming_initialisation_is_kaiming_normal_fan_out_in_kernel_space():
    torch.manual_seed(0)
    layer = HarmonicConv2d(256, 128, 3, norm="l1", init="kaiming")
    kernel = layer.dense_weight().detach()
    expected_std = (2.0 / (128 * 9)) ** 0.5
    assert kernel.std().item() == pytest.approx(expected_std, rel=0.02)
    assert kernel.mean().abs().item() < 0.02 * expected_std
    # isotropic: every kernel tap has the same spread, taps uncorrelated
    per_tap = kernel.reshape(-1, 9).std(dim=0)
    assert torch.allclose(per_tap, torch.full_like(per_tap, expected_std), rtol=0.03)
    correlation = torch.corrcoef(kernel.reshape(-1, 9).T) - torch.eye(9)
    assert correlation.abs().max() < 0.03
    bound = 1 / (256 * 9) ** 0.5
    assert layer.bias.abs().max() <= bound and layer.bias.abs().max() > 0.5 * bound


@pytest.mark.parametrize("spectral_bn, level", [(False, None), (False, 2), (True, None)])
def test_default_initialisation_is_the_authors_harm2d(spectral_bn, level):
    """Harm2d (their harmonic/modules.py): kaiming_normal_(mode='fan_out') of (out, in, nf, 1, 1), or of
    (out, in * nf, 1, 1) with BN: std sqrt(2 / (out nf)) / sqrt(2 / out), the same for every frequency; bias 0."""
    torch.manual_seed(0)
    layer = HarmonicConv2d(256, 128, 3, level=level, spectral_bn=spectral_bn)
    fan_out = 128 * (1 if spectral_bn else layer.n_filters)
    expected = (2.0 / fan_out) ** 0.5
    per_frequency = layer.weight.detach().std(dim=(0, 1))
    assert torch.allclose(per_frequency, torch.full_like(per_frequency, expected), rtol=0.03)
    assert layer.weight.detach().mean().abs() < 0.01 * expected
    assert torch.count_nonzero(layer.bias) == 0


def test_init_is_checked():
    with pytest.raises(ValueError, match="init must be one of"):
        HarmonicConv2d(2, 3, 3, init="xavier")


def test_extra_repr():
    text = repr(HarmonicConv2d(3, 8, 3, padding=1, level=2, spectral_bn=True, spectral_bn_affine=True))
    assert "level=2" in text and "n_filters=3" in text and "spectral_bn=True" in text


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kernel_size=(3, 5)), "kernel_size"),
        (dict(kernel_size=0), "kernel_size"),
        (dict(level=0), "level"),
        (dict(level=2.0), "level"),
        (dict(groups=3), "groups"),
        (dict(in_channels=0), "in_channels"),
        (dict(padding="full"), "padding"),
        (dict(padding=-1), "padding"),
        (dict(stride=0), "stride"),
        (dict(stride=2, padding="same"), "same"),
        (dict(norm="l2"), "norm"),
    ],
)
def test_bad_arguments(kwargs, match):
    arguments = dict(in_channels=4, out_channels=8, kernel_size=3) | kwargs
    with pytest.raises(ValueError, match=match):
        HarmonicConv2d(**arguments)


def test_bad_conversions_and_inputs():
    with pytest.raises(ValueError, match="padding_mode"):
        HarmonicConv2d.from_conv(nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect"))
    with pytest.raises(ValueError, match="kernel_size"):
        HarmonicConv2d.from_conv(nn.Conv2d(2, 2, (1, 3)))
    with pytest.raises(ValueError, match="conv"):
        HarmonicConv2d.from_conv(nn.Linear(2, 2))
    layer = HarmonicConv2d(2, 2, 3, spectral_bn=True, spectral_bn_affine=True)
    for form in ("merged", "patch"):
        layer.compute_form = form
        with pytest.raises(ValueError, match="more than 1 value"):
            layer(torch.randn(1, 2, 3, 3))


def test_compute_form_rejects_unknown_values_and_survives_copies():
    layer = HarmonicConv2d(4, 4, 3)
    with pytest.raises(ValueError, match="compute_form must be one of"):
        layer.compute_form = "fast"
    assert layer.compute_form == "auto"
    layer.compute_form = "patch"
    assert copy.deepcopy(layer).compute_form == "patch"
    assert "compute_form" not in str(list(layer.state_dict()))


def test_spectral_bn_defaults_to_no_affine_like_the_authors_code():
    """Eq. 3 normalises by batch mean and deviation only: no learnable scale/shift by default."""
    layer = HarmonicConv2d(3, 8, 3, padding=1, spectral_bn=True)
    assert {name for name, _ in layer.named_parameters()} == {"weight", "bias"}
    assert not layer.bn.affine and layer.bn.weight is None and layer.bn.bias is None
    x = torch.randn(4, 3, 6, 6, dtype=torch.float64)
    layer = layer.double().train()
    reference = copy.deepcopy(layer)
    assert torch.allclose(layer(x), reference.explicit_forward(x), atol=1e-10)
