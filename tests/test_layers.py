"""HarmonicConv2d: eqs. 1-3, merged/explicit/folded forms, conversion, state and errors."""

import copy
import io

import pytest
import torch
from torch import nn

from harmonic import layers
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
    monkeypatch.setattr(layers, "_CHUNK_ELEMENTS", chunk)
    torch.manual_seed(0)
    layer = HarmonicConv2d(3, 4, 3, stride=stride, padding=dilation, dilation=dilation, spectral_bn=True, spectral_bn_affine=True).double()
    layer.compute_form = "merged"
    _randomise_bn(layer)
    h_out, w_out = layers._output_size((height, width), 3, layer.stride, layer.dilation, layer._padding_lrtb())
    assert layers._super_patch_shape(3, layer.stride, layer.dilation, h_out, w_out) == shape
    _assert_matches_explicit_form(layer, torch.randn(5, 3, height, width, dtype=F64, requires_grad=True))


def test_spectral_statistics_super_patches_with_gaps(monkeypatch):
    """Super-patches whose taps leave gaps (stride 4, 2x2 patches: rows 0-2 and 4-6; the cost rule never
    picks them, but the moments take any shape): the windows are gathered, not sliced."""
    assert layers._offset_index([0, 1, 2, 4, 5, 6]) == [0, 1, 2, 4, 5, 6]
    assert layers._offset_index([0, 2, 4, 6]) == slice(None, None, 2)
    monkeypatch.setattr(layers, "_super_patch_shape", lambda *args: (2, 2))
    torch.manual_seed(0)
    layer = HarmonicConv2d(2, 3, 3, stride=4, padding=1, spectral_bn=True, spectral_bn_affine=True).double()
    layer.compute_form = "merged"
    _assert_matches_explicit_form(layer, torch.randn(3, 2, 16, 16, dtype=F64, requires_grad=True))


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


def test_spectral_statistics_gradcheck():
    layer = HarmonicConv2d(1, 2, 3, stride=2, padding=1, level=4, spectral_bn=True, spectral_bn_affine=True).double()
    x = _input(1, size=4, batch=2, requires_grad=True)

    def statistics(inp):
        mean, var, _ = layer.spectral_statistics(inp)
        return mean, var

    assert torch.autograd.gradcheck(statistics, (x,))


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
    monkeypatch.setattr(layer, "_cache_key", lambda: None)
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


@pytest.mark.parametrize("rows", [6, layers.PAIRED_ROWS - 2, layers.PAIRED_ROWS, layers.PAIRED_ROWS + 1])
def test_bank_product_pairs_rows_only_from_paired_rows(rows, monkeypatch):
    """Two rows at a time by a block-diagonal bank (CPU, even row counts from PAIRED_ROWS on):
    the same product as the plain one."""
    built = []
    block_diag = torch.block_diag
    monkeypatch.setattr(layers.torch, "block_diag", lambda *m: built.append(len(m)) or block_diag(*m))
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(rows, 9, generator=generator, dtype=F64)
    bank = dct_filters(3, 3).reshape(6, 9).to(F64)
    torch.testing.assert_close(layers._bank_product(values, bank.T), values @ bank.T, rtol=1e-12, atol=1e-12)
    assert built == ([2] if rows >= layers.PAIRED_ROWS and rows % 2 == 0 else [])


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


def test_converted_spectral_bn_is_identity_in_eval_mode():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False).double().eval()
    layer = HarmonicConv2d.from_conv(conv, spectral_bn=True, spectral_bn_affine=True)
    x = _input(3, size=20)
    torch.testing.assert_close(layer(x), conv(x), rtol=1e-12, atol=1e-12)
    assert torch.all(layer.bn.running_var == 1 - layer.bn.eps)


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


def test_initialisation_is_kaiming_normal_fan_out_in_kernel_space():
    torch.manual_seed(0)
    layer = HarmonicConv2d(256, 128, 3, norm="l1")
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


# ----------------------------------------------------------------- compute forms (merged / patch)
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


def test_compute_form_rejects_unknown_values_and_survives_copies():
    layer = HarmonicConv2d(4, 4, 3)
    with pytest.raises(ValueError, match="compute_form must be one of"):
        layer.compute_form = "fast"
    assert layer.compute_form == "auto"
    layer.compute_form = "patch"
    assert copy.deepcopy(layer).compute_form == "patch"
    assert "compute_form" not in str(list(layer.state_dict()))


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
    moments = layers._SpectralMoments.apply(x, *args)
    maps = layers._map_statistics(x, *args)
    weights = [torch.randn_like(t) for t in moments]
    grads = [torch.autograd.grad(sum((t * w).sum() for t, w in zip(ts, weights)), x)[0] for ts in (moments, maps)]
    for a, b in zip((*moments, grads[0]), (*maps, grads[1]), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_spectral_bn_defaults_to_no_affine_like_the_authors_code():
    """Eq. 3 normalises by batch mean and deviation only: no learnable scale/shift by default."""
    layer = HarmonicConv2d(3, 8, 3, padding=1, spectral_bn=True)
    assert {name for name, _ in layer.named_parameters()} == {"weight", "bias"}
    assert not layer.bn.affine and layer.bn.weight is None and layer.bn.bias is None
    x = torch.randn(4, 3, 6, 6, dtype=torch.float64)
    layer = layer.double().train()
    reference = copy.deepcopy(layer)
    assert torch.allclose(layer(x), reference.explicit_forward(x), atol=1e-10)
