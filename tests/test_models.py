"""WRN and ResNet-50 builders: parameter counts of the paper, structure, variants, errors."""

import pytest
import torch
from torch import nn

from harmonic.harmonize import harmonize_report
from harmonic.layers import HarmonicConv2d
from harmonic.models import resnet50, wrn


def _millions(builder, **kwargs) -> float:
    with torch.device("meta"):  # no memory, no initialisation cost
        model = builder(**kwargs)
    return round(sum(p.numel() for p in model.parameters()) / 1e6, 1)


# Parameter counts reported by Ulicny et al. (2019) for CIFAR WRNs and ImageNet ResNet-50.
@pytest.mark.parametrize(
    "kwargs, millions",
    [
        (dict(), 36.5),
        (dict(harmonic="all"), 36.5),
        (dict(harmonic="all", level=3), 24.4),
        (dict(harmonic="all", level=2), 12.3),
        (dict(harmonic="all", level=(None, 3, 2)), 15.7),
        (dict(widen_factor=8), 23.4),
        (dict(widen_factor=6), 13.1),
    ],
)
def test_wrn_parameter_counts(kwargs, millions):
    assert _millions(wrn, depth=28, num_classes=10, **{"widen_factor": 10, **kwargs}) == millions


@pytest.mark.parametrize(
    "kwargs, millions",
    [(dict(), 25.6), (dict(harmonic="all"), 25.6), (dict(harmonic="all", level=(None, None, 3, 2)), 19.7)],
)
def test_resnet50_parameter_counts(kwargs, millions):
    assert _millions(resnet50, num_classes=1000, **kwargs) == millions


def _count(builder, **kwargs) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in builder(**kwargs).parameters())


# The authors' implementation's exact counts (official parity: the stem's spectral BN has no
# learnable affine, so the full-basis harmonic networks have the plain networks' parameters).
@pytest.mark.parametrize(
    "kwargs, count",
    [
        (dict(), 36_536_884),
        (dict(harmonic="stem"), 36_536_884),
        (dict(harmonic="stem", stem_spectral_bn=False), 36_536_884),
        (dict(harmonic="all"), 36_536_884),
        (dict(harmonic="all", level=3), 24_471_604),
        (dict(harmonic="all", level=2), 12_406_324),
        (dict(harmonic="all", level=(None, 3, 2)), 15_800_884),
    ],
)
def test_exact_wrn_28_10_cifar100_counts(kwargs, count):
    assert _count(wrn, depth=28, widen_factor=10, num_classes=100, **kwargs) == count


@pytest.mark.parametrize(
    "kwargs, count",
    [(dict(), 25_557_032), (dict(harmonic="all"), 25_557_032), (dict(harmonic="all", level=(None, None, 3, 2)), 19_658_792)],
)
def test_exact_resnet50_counts(kwargs, count):
    assert _count(resnet50, **kwargs) == count


def test_stem_spectral_bn_is_not_affine_and_can_be_dropped():
    stem = wrn(depth=10, widen_factor=1, harmonic="stem").conv1
    assert stem.spectral_bn and not stem.bn.affine and stem.bn.weight is None
    assert {name for name, _ in stem.named_parameters()} == {"weight"}
    no_bn = wrn(depth=10, widen_factor=1, harmonic="stem", stem_spectral_bn=False).conv1
    assert isinstance(no_bn, HarmonicConv2d) and not no_bn.spectral_bn
    with pytest.raises(ValueError, match="stem_spectral_bn"):
        wrn(depth=10, widen_factor=1, stem_spectral_bn=False)


def test_fractional_widen_factor_rounds_group_widths():
    model = wrn(depth=10, widen_factor=0.8, num_classes=10)
    assert [model.layer1[0].conv1.out_channels, model.layer2[0].conv1.out_channels,
            model.layer3[0].conv1.out_channels] == [13, 26, 51]
    with pytest.raises(ValueError, match="widen_factor"):
        wrn(depth=10, widen_factor=0)


def test_harm_wrn_structure_and_forward():
    torch.manual_seed(0)
    model = wrn(depth=10, widen_factor=2, harmonic="all", level=(None, 3, 2), dropout=0.1)
    report = harmonize_report(model)
    assert len(report) == 1 + 3 * 2  # stem + two 3x3 convs per block, one block per group
    assert report[0].name == "conv1" and report[0].spectral_bn and report[0].level is None
    assert [r.level for r in report[1:]] == [None, None, 3, 3, 2, 2]
    assert not any(r.spectral_bn for r in report[1:])
    assert isinstance(model.layer2[0].shortcut, nn.Conv2d)  # 1x1 shortcuts stay convolutions
    x = torch.randn(4, 3, 32, 32)
    out = model(x)
    assert out.shape == (4, 10)
    out.sum().backward()
    assert model.conv1.weight.grad is not None and model.layer3[0].conv2.weight.grad is not None
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (4, 10)


@pytest.mark.parametrize("builder", ["wrn", "resnet50"])
def test_harmonic_network_train_step_under_autocast(builder, device):
    """One SGD step of a harmonic network in bfloat16 autocast (how GPU training runs it):
    finite loss and gradients, every parameter updated, running statistics moved."""
    torch.manual_seed(0)
    if builder == "wrn":
        model, size = wrn(depth=10, widen_factor=2, harmonic="all", level=(None, 3, 2)), 32
    else:
        model, size = resnet50(num_classes=10, harmonic="all", level=(None, None, 3, 2)), 64
    model.to(device).train()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    stem_mean = model.conv1.bn.running_mean.clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 3, size, size, device=device), torch.randint(0, 10, (4,), device=device)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    optimizer.step()
    unchanged = [name for name, p in model.named_parameters() if torch.equal(p, before[name])]
    assert unchanged == []
    assert not torch.equal(model.conv1.bn.running_mean, stem_mean)


def test_harm1_and_plain_wrn():
    model = wrn(depth=10, widen_factor=1, harmonic="stem")
    assert [r.name for r in harmonize_report(model)] == ["conv1"]
    plain = wrn(depth=16, widen_factor=1, num_classes=100, in_channels=1)
    assert harmonize_report(plain) == [] and len(plain.layer1) == 2
    assert plain(torch.randn(2, 1, 32, 32)).shape == (2, 100)


def test_wrn_kaiming_initialisation():
    torch.manual_seed(0)
    model = wrn(depth=10, widen_factor=4, init="kaiming")
    weight = model.layer3[0].conv2.weight
    assert weight.std().item() == pytest.approx((2 / (9 * 256)) ** 0.5, rel=0.02)
    assert torch.all(model.bn.weight == 1) and torch.all(model.fc.bias == 0)


def test_resnet50_variants():
    torch.manual_seed(0)
    model = resnet50(num_classes=10, harmonic="all", level=(None, None, 3, 2))
    assert isinstance(model.maxpool, nn.Identity)
    assert isinstance(model.conv1, HarmonicConv2d) and model.conv1.stride == (4, 4)
    assert model.conv1.spectral_bn and model.conv1.n_filters == 49
    levels = {r.name.split(".")[0]: r.level for r in harmonize_report(model)}
    assert levels == {"conv1": None, "layer1": None, "layer2": None, "layer3": 3, "layer4": 2}
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 10)
    with_pool = resnet50(num_classes=10, maxpool=True)
    assert isinstance(with_pool.maxpool, nn.MaxPool2d) and with_pool.conv1.stride == (2, 2)
    stem_only = resnet50(num_classes=10, harmonic="stem")
    assert [r.name for r in harmonize_report(stem_only)] == ["conv1"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(depth=27), "depth"),
        (dict(depth=4), "depth"),
        (dict(widen_factor=0), "widen_factor"),
        (dict(harmonic="full"), "harmonic"),
        (dict(level=3), "level"),  # level without harmonic="all"
        (dict(harmonic="stem", level=3), "level"),
        (dict(harmonic="all", level=(3, 2)), "level"),
        (dict(harmonic="all", level=(None, 0, 2)), "level"),
        (dict(harmonic="all", level="3"), "level"),
        (dict(dropout=1.0), "dropout"),
    ],
)
def test_wrn_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        with torch.device("meta"):
            wrn(depth=kwargs.pop("depth", 10), **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(harmonic="Harm"), "harmonic"),
        (dict(harmonic="all", level=(None, 3, 2)), "level"),
        (dict(num_classes=0), "num_classes"),
    ],
)
def test_resnet50_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        with torch.device("meta"):
            resnet50(**kwargs)
