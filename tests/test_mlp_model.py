import copy
import io
import math
import pickle
import warnings

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from harmonic.mlp import (
    HarmonicLayer,
    HarmonicMLP,
    ReLUMLP,
    build_model,
    frequency_init_scale,
)
from harmonic.utils import count_parameters

PI = math.pi


def tiny_mlp(**kwargs) -> HarmonicMLP:
    """6 -> 4 (f = 1, 2, 3, 4) -> 3 (f = 1, 2, 2) -> 2."""
    args = dict(in_features=6, hidden_sizes=(4, 3), max_freqs=(10.0, 2.0), num_classes=2, dropout=0.0)
    return HarmonicMLP(**(args | kwargs))


# --------------------------------------------------------------------------- HarmonicLayer
def test_layer_has_linear_and_frequency_buffer():
    layer = HarmonicLayer(5, 4, base_freq=1.0, max_freq=3.0)
    assert isinstance(layer.linear, nn.Linear) and layer.linear.weight.shape == (4, 5)
    assert layer.frequencies.tolist() == [1.0, 2.0, 3.0, 3.0]
    assert "frequencies" in dict(layer.named_buffers())
    assert "frequencies" in layer.state_dict()
    assert count_parameters(layer) == 4 * 5 + 4  # frequencies are not trained


def test_layer_forward_is_the_formula():
    torch.manual_seed(0)
    layer = HarmonicLayer(5, 4, max_freq=3.0)
    x = torch.randn(7, 5)
    z = x @ layer.linear.weight.T + layer.linear.bias
    f = torch.tensor([1.0, 2.0, 3.0, 3.0])
    assert torch.allclose(layer(x), torch.sin(2 * PI * z / f) + 0.1 * z, atol=1e-6)


def test_init_scale_by_hand():
    s = frequency_init_scale(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    inv = [1.0, 2 ** -0.5, 3 ** -0.5, 0.5]
    mean = sum(inv) / 4
    assert torch.allclose(s, torch.tensor([v / mean for v in inv]))
    assert s.mean().item() == pytest.approx(1.0)


def test_init_is_unscaled_uniform_times_s_with_the_seed_rng_stream():
    # The seed: nn.Linear(...), then weight.uniform_(+-1/sqrt(fan_in)) * s, bias.uniform_(...) * s.
    torch.manual_seed(7)
    ref = nn.Linear(9, 6)
    bound = 1 / math.sqrt(9)
    w = ref.weight.detach().clone().uniform_(-bound, bound)
    b = ref.bias.detach().clone().uniform_(-bound, bound)
    torch.manual_seed(7)
    layer = HarmonicLayer(9, 6, base_freq=1.0, max_freq=4.0)
    s = frequency_init_scale(torch.tensor([1.0, 2.0, 3.0, 4.0, 4.0, 4.0]))
    assert torch.equal(layer.linear.weight.detach(), w * s[:, None])
    assert torch.equal(layer.linear.bias.detach(), b * s)
    assert (layer.linear.weight.abs() <= s[:, None] * bound).all()
    assert (layer.linear.bias.abs() <= s * bound).all()


def test_learnable_frequencies_are_a_positive_parametrisation_with_gradients():
    layer = HarmonicLayer(3, 4, max_freq=10.0, freq_scheme="learnable")
    assert isinstance(layer.log_frequencies, nn.Parameter)
    assert "frequencies" not in dict(layer.named_buffers())
    assert torch.allclose(layer.frequencies, torch.tensor([1.0, 2.0, 3.0, 4.0]))
    layer(torch.randn(8, 3)).pow(2).sum().backward()
    grad = layer.log_frequencies.grad
    assert grad is not None and grad.abs().min() > 0
    with torch.no_grad():
        layer.log_frequencies.fill_(math.log(0.5))
    assert torch.allclose(layer.frequencies, torch.full((4,), 0.5))
    # the forward uses the current value: sin(2 pi z / 0.5) + 0.1 z
    x = torch.randn(2, 3)
    z = layer.linear(x)
    assert torch.allclose(layer(x), torch.sin(4 * PI * z) + 0.1 * z, atol=1e-5)


@pytest.mark.parametrize("activation", ["harmonic", "sine", "siren", "snake"])
def test_layer_activation_choice_is_used(activation):
    torch.manual_seed(0)
    layer = HarmonicLayer(4, 3, max_freq=2.0, activation=activation, omega0=20.0)
    x = torch.randn(5, 4)
    z = layer.linear(x)
    w = 2 * PI / torch.tensor([1.0, 2.0, 2.0])
    expected = {
        "harmonic": torch.sin(w * z) + 0.1 * z,
        "sine": torch.sin(w * z),
        "siren": torch.sin(20.0 * z),
        "snake": z + torch.sin(w * z) ** 2 / w,
    }[activation]
    assert torch.allclose(layer(x), expected, atol=1e-5)


# --------------------------------------------------------------------------- HarmonicMLP
def seed_reference_mlp() -> nn.Module:
    """The seed's construction, restated: same modules, same order of RNG draws."""

    def harmonic_linear(n_in, n_out, max_freq):
        linear = nn.Linear(n_in, n_out)
        f = torch.tensor([min(1.0 * (i + 1), max_freq) for i in range(n_out)])
        s = 1.0 / torch.sqrt(f)
        s = s / s.mean()
        bound = 1 / math.sqrt(n_in)
        with torch.no_grad():
            linear.weight.uniform_(-bound, bound)
            linear.weight *= s.unsqueeze(1)
            linear.bias.uniform_(-bound, bound)
            linear.bias *= s
        return linear, f

    first, f1 = harmonic_linear(784, 512, 5.0)
    bn1 = nn.BatchNorm1d(512)
    second, f2 = harmonic_linear(512, 256, 3.0)
    bn2 = nn.BatchNorm1d(256)
    classifier = nn.Linear(256, 10)
    with torch.no_grad():
        classifier.weight.uniform_(-1 / 16, 1 / 16)
        classifier.bias.uniform_(-1 / 16, 1 / 16)

    class Seed(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.bn1, self.second, self.bn2, self.classifier = first, bn1, second, bn2, classifier

        def forward(self, x):  # eval mode only: no dropout
            h = x.view(x.size(0), -1)
            for linear, f, bn in ((self.first, f1, self.bn1), (self.second, f2, self.bn2)):
                z = linear(h)
                h = bn(torch.stack([torch.sin(2 * PI * (z[:, i] / f[i])) + 0.1 * z[:, i]
                                    for i in range(z.shape[1])], dim=1))
            return self.classifier(h)

    return Seed()


def test_defaults_reproduce_the_seed():
    torch.manual_seed(123)
    seed = seed_reference_mlp().eval()
    torch.manual_seed(123)
    model = HarmonicMLP().eval()
    ours = [p for p in model.parameters()]
    theirs = [p for p in seed.parameters()]
    assert [p.shape for p in ours] == [p.shape for p in theirs]
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))  # bit for bit
    layers = model.feature_layers
    assert [type(m) for m in layers] == [HarmonicLayer, nn.BatchNorm1d, nn.Dropout] * 2
    assert layers[2].p == 0.2 and layers[5].p == 0.2
    assert int((layers[0].frequencies == 5).sum()) == 508 and int((layers[3].frequencies == 3).sum()) == 254
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(model(x), seed(x), atol=1e-4)


def test_small_hidden_sizes_forward_shape_on_images():
    model = HarmonicMLP(hidden_sizes=(32, 16))
    out = model(torch.randn(8, 1, 28, 28))
    assert out.shape == (8, 10)
    out.sum().backward()
    assert model.feature_layers[0].linear.weight.grad.shape == (32, 784)


@pytest.mark.parametrize("scheme", ["capped", "harmonic", "linear", "log", "random", "learnable"])
@pytest.mark.parametrize("activation", ["harmonic", "sine", "siren", "snake"])
def test_every_scheme_and_activation_builds_and_runs(scheme, activation):
    model = HarmonicMLP(hidden_sizes=(8, 4), freq_scheme=scheme, activation=activation)
    out = model(torch.randn(3, 784))
    assert out.shape == (3, 10) and torch.isfinite(out).all()


def test_max_freqs_single_number_is_broadcast():
    model = HarmonicMLP(hidden_sizes=(6, 6, 6), max_freqs=2.0)
    for layer in model.feature_layers[::3]:
        assert layer.frequencies.tolist() == [1.0, 2.0, 2.0, 2.0, 2.0, 2.0]


def test_bn_position_before_puts_batch_norm_inside_the_layer():
    torch.manual_seed(0)
    model = tiny_mlp(bn_position="before").eval()
    assert [type(m) for m in model.feature_layers] == [HarmonicLayer, nn.Dropout] * 2
    layer = model.feature_layers[0]
    assert isinstance(layer.norm, nn.BatchNorm1d)
    with torch.no_grad():
        layer.norm.running_mean.fill_(0.5)
        layer.norm.running_var.fill_(4.0)
    x = torch.randn(5, 6)
    z = (layer.linear(x) - 0.5) / math.sqrt(4.0 + 1e-5)
    w = 2 * PI / torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert torch.allclose(layer(x), torch.sin(w * z) + 0.1 * z, atol=1e-5)
    assert tiny_mlp().feature_layers[0].norm is None


def test_relu_baseline_shape_and_default_init():
    torch.manual_seed(5)
    ref = nn.Linear(784, 32)
    torch.manual_seed(5)
    model = ReLUMLP(hidden_sizes=(32, 16))
    assert [type(m) for m in model.feature_layers] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout] * 2
    assert torch.equal(model.feature_layers[0].weight, ref.weight)
    assert model(torch.randn(4, 1, 28, 28)).shape == (4, 10)


def test_parameter_counts_by_hand():
    seed_count = (784 * 512 + 512) + 2 * 512 + (512 * 256 + 256) + 2 * 256 + (256 * 10 + 10)
    assert seed_count == 537354
    assert count_parameters(HarmonicMLP()) == seed_count
    assert count_parameters(ReLUMLP()) == seed_count
    assert count_parameters(HarmonicMLP(freq_scheme="learnable")) == seed_count + 512 + 256
    small = (784 * 32 + 32) + 64 + (32 * 16 + 16) + 32 + (16 * 10 + 10)
    assert count_parameters(build_model("relu", hidden_sizes=(32, 16))) == small == 25914
    frozen = ReLUMLP(hidden_sizes=(32, 16))
    frozen.classifier.requires_grad_(False)
    assert count_parameters(frozen) == small - 170


def test_build_model():
    assert isinstance(build_model("harmonic", hidden_sizes=(32, 16)), HarmonicMLP)
    assert isinstance(build_model("relu"), ReLUMLP)
    with pytest.raises(ValueError, match=r"name must be one of \('harmonic', 'relu'\); got 'tanh'"):
        build_model("tanh")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(hidden_sizes=()), "hidden_sizes must be a non-empty"),
        (dict(hidden_sizes=(32, 0)), "hidden_sizes must contain only positive ints"),
        (dict(hidden_sizes=(32, -4)), "hidden_sizes must contain only positive ints"),
        (dict(hidden_sizes=(32, 16), max_freqs=(5.0, 3.0, 2.0)), r"max_freqs .*len\(hidden_sizes\) = 2"),
        (dict(max_freqs=(0.5, 3.0)), r"max_freq must be .* >= base_freq"),
        (dict(base_freq=0.0), "base_freq must be a finite number > 0"),
        (dict(base_freq=-1.0), "base_freq must be a finite number > 0"),
        (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
        (dict(dropout=-0.1), r"dropout must be in \[0, 1\)"),
        (dict(freq_scheme="cubic"), r"freq_scheme must be one of \('capped', 'harmonic', 'linear', 'log'"),
        (dict(activation="relu"), r"activation must be one of \('harmonic', 'sine', 'siren', 'snake'\)"),
        (dict(bn_position="middle"), r"bn_position must be one of \('after', 'before'\)"),
        (dict(in_features=0), "in_features must be a positive int"),
        (dict(num_classes=0), "num_classes must be a positive int"),
        (dict(omega0=0.0), "omega0 must be"),
    ],
)
def test_harmonic_mlp_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HarmonicMLP(**kwargs)


def test_relu_mlp_bad_arguments():
    with pytest.raises(ValueError, match="hidden_sizes"):
        ReLUMLP(hidden_sizes=[])
    with pytest.raises(ValueError, match="dropout"):
        ReLUMLP(dropout=1.5)
