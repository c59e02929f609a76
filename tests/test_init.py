"""Initial weights against what the authors' code draws (harmonic.init).

The expected spread of every tensor is written out here from the authors' files, not taken from
harmonic.init: their CIFAR ``utils.py`` (``conv_params``, ``dct_params``, ``linear_params``: torch's
``kaiming_normal_`` with its defaults, fan_in and gain sqrt(2); ``bnparams``: weight ``torch.rand``, bias 0)
and, for ImageNet, ``Harm2d`` (``kaiming_normal_(mode='fan_out')`` of ``(out, in, nf, 1, 1)``, or of
``(out, in * nf, 1, 1)`` with BN) inside torchvision's ResNet init.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from harmonic.layers import HarmonicConv2d
from harmonic.models import resnet50, wrn

TOLERANCE = 0.15  # the bound, per tensor

WRN_VARIANTS = {
    "plain": dict(harmonic=None),
    "harm1": dict(harmonic="stem"),
    "harm": dict(harmonic="all"),
    "lambda3": dict(harmonic="all", level=3),
    "progressive": dict(harmonic="all", level=(None, 3, 2)),
}


def _authors_cifar(module: nn.Module, name: str, tensor: torch.Tensor) -> tuple[str, float]:
    """(statistic, value) the authors' CIFAR code implies for parameter ``name`` of ``module``."""
    if name == "bias":
        return "max_abs", 0.0
    if isinstance(module, nn.BatchNorm2d):
        return "mean", 0.5  # torch.rand: U(0, 1)
    if isinstance(module, HarmonicConv2d):  # dct_params(ni, no, nf) = (no, ni, nf, 1, 1); the stem (no, ni*nf, 1, 1)
        out, inp, nf = tensor.shape
        return "std", math.sqrt(2.0 / (inp * nf))
    fan_in = tensor[0].numel()  # conv (no, ni, k, k) and linear (no, ni): fan_in
    return "std", math.sqrt(2.0 / fan_in)


def _statistic(kind: str, tensor: torch.Tensor) -> float:
    t = tensor.detach().double()
    return {"std": t.std, "mean": t.mean, "max_abs": lambda: t.abs().max()}[kind]().item()


def _per_tensor(build, expected, seeds=range(8)):
    """Each parameter's statistic averaged over models built with ``seeds``, and what is expected."""
    found: dict[str, list[float]] = {}
    wanted: dict[str, tuple[str, float]] = {}
    for seed in seeds:
        torch.manual_seed(seed)
        model = build()
        for module_name, module in model.named_modules():
            for name, param in module.named_parameters(recurse=False):
                key = f"{module_name}.{name}"
                wanted[key] = expected(module, name, param)
                found.setdefault(key, []).append(_statistic(wanted[key][0], param))
    return {key: (sum(v) / len(v), *wanted[key]) for key, v in found.items()}


@pytest.mark.parametrize("variant", sorted(WRN_VARIANTS))
def test_wrn_16_4_starts_where_the_authors_cifar_code_starts(variant):
    stats = _per_tensor(lambda: wrn(16, 4, dropout=0.3, **WRN_VARIANTS[variant]), _authors_cifar)
    assert len(stats) > 30
    off = {key: (round(value, 4), kind, round(target, 4)) for key, (value, kind, target) in stats.items()
           if (abs(value) > 1e-12 if target == 0 else abs(value / target - 1) > TOLERANCE)}
    assert not off, f"{variant}: tensors off the authors' init: {off}"


def test_wrn_bn_weights_are_uniform_on_0_1_and_harmonic_frequencies_start_flat():
    torch.manual_seed(0)
    model = wrn(16, 4, harmonic="all")
    weights = torch.cat([m.weight.detach() for m in model.modules() if isinstance(m, nn.BatchNorm2d) and m.affine])
    assert weights.min() >= 0 and weights.max() < 1
    assert weights.std().item() == pytest.approx(1 / math.sqrt(12), rel=0.05)
    layer = model.layer3[1].conv2  # (256, 256, 9): every frequency with the same spread
    per_frequency = layer.weight.detach().std(dim=(0, 1))
    assert torch.allclose(per_frequency, torch.full_like(per_frequency, math.sqrt(2 / (256 * 9))), rtol=0.03)


def _authors_imagenet(module: nn.Module, name: str, tensor: torch.Tensor) -> tuple[str, float]:
    """torchvision's init (which the authors' ResNet code keeps) and Harm2d's."""
    if isinstance(module, nn.BatchNorm2d):
        return ("mean", 1.0) if name == "weight" else ("max_abs", 0.0)
    if isinstance(module, nn.Linear):  # PyTorch's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias
        return "std", 1.0 / math.sqrt(3 * module.in_features)
    if isinstance(module, HarmonicConv2d):
        out, _, nf = tensor.shape
        return "std", math.sqrt(2.0 / (out if module.spectral_bn else out * nf))
    out, _, kh, kw = tensor.shape  # nn.Conv2d: kaiming_normal_(mode='fan_out')
    return "std", math.sqrt(2.0 / (out * kh * kw))


@pytest.mark.parametrize("level", [None, (None, None, 3, 2)], ids=["full", "progressive"])
def test_harm_resnet50_starts_where_the_authors_imagenet_code_starts(level):
    stats = _per_tensor(lambda: resnet50(harmonic="all", level=level), _authors_imagenet, seeds=[0])
    harmonic = [key for key in stats if key.endswith("weight") and ("conv2" in key or key == "conv1.weight")]
    assert len(harmonic) == 17
    off = {key: (round(value, 4), kind, round(target, 4)) for key, (value, kind, target) in stats.items()
           if (abs(value) > 1e-12 if target == 0 else abs(value / target - 1) > TOLERANCE)}
    assert not off, f"tensors off the authors' init: {off}"


def test_kaiming_recipe_is_the_dense_kernel_init_and_differs_from_the_authors():
    """The alternative: the harmonic block's dense kernel sum_f w_f psi_f is Kaiming-normal (fan_out)."""
    torch.manual_seed(0)
    kaiming = wrn(16, 4, harmonic="all", init="kaiming")
    torch.manual_seed(0)
    authors = wrn(16, 4, harmonic="all")
    layer = kaiming.layer3[1].conv2
    assert layer.dense_weight().detach().std().item() == pytest.approx(math.sqrt(2 / (256 * 9)), rel=0.03)
    assert torch.all(kaiming.bn.weight == 1)
    ratio = layer.weight.detach().std() / authors.layer3[1].conv2.weight.detach().std()
    assert 2.0 < ratio < 3.0  # L1-normalised filters: 2-3 times the authors' coefficients


def test_init_names_are_checked():
    for build in (lambda: wrn(10, 1, init="he"), lambda: resnet50(init="he")):
        with pytest.raises(ValueError, match="init must be one of"):
            build()
