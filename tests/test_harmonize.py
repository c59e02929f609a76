"""harmonize(): swapping convolutions of arbitrary models for harmonic blocks."""

import copy
import io

import pytest
import torch
import torchvision
from torch import nn

from harmonic.harmonize import harmonize, harmonize_report
from harmonic.layers import HarmonicConv2d


class Tiny(nn.Module):
    """Stem 5x5, a 3x3 conv, a 1x1 conv, a non-square conv and a nested 3x3 conv."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 5, padding=2)
        self.body = nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 1),
            nn.Conv2d(8, 8, (1, 3), padding=(0, 1)),
        )
        self.head = nn.Sequential(nn.Conv2d(8, 4, 3, stride=2, groups=4))

    def forward(self, x):
        return self.head(self.body(self.stem(x)))


def _tiny(seed=0):
    torch.manual_seed(seed)
    return Tiny()


def test_replaces_square_spatial_convs_only():
    model = harmonize(_tiny())
    report = harmonize_report(model)
    assert [r.name for r in report] == ["stem", "body.0", "head.0"]
    assert isinstance(model.body[3], nn.Conv2d) and isinstance(model.body[4], nn.Conv2d)
    assert [r.spectral_bn for r in report] == [True, False, False]
    assert report[2].stride == (2, 2) and report[0].kernel_size == 5
    assert report[1].parameters == 8 * 8 * 9
    assert model(torch.randn(2, 3, 12, 12)).shape == (2, 4, 5, 5)


def test_convert_preserves_outputs_in_eval_mode():
    model = _tiny().double().eval()
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    expected = model(x)
    harmonize(model, convert=True)
    assert len(harmonize_report(model)) == 3
    torch.testing.assert_close(model(x), expected, rtol=1e-10, atol=1e-10)


def test_torchvision_resnet50_conversion_is_exact_and_truncation_is_not(device):
    torch.manual_seed(0)
    original = torchvision.models.resnet50().eval().to(device)
    x = torch.randn(1, 3, 64, 64).to(device)
    with torch.no_grad():
        expected = original(x)
    model = harmonize(copy.deepcopy(original), convert=True)
    report = harmonize_report(model)
    assert len(report) == 17 and report[0].name == "conv1" and report[0].spectral_bn
    assert sum(not r.spectral_bn for r in report) == 16
    with torch.no_grad():
        logits = model(x)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())
    truncated = harmonize(original, level=2, convert=True)
    with torch.no_grad():
        assert (truncated(x) - expected).abs().max() > 1e-2 * expected.abs().max()


def test_which_stem_and_predicate():
    model = harmonize(_tiny(), which="stem")
    assert [r.name for r in harmonize_report(model)] == ["stem"]
    model = harmonize(_tiny(), which=lambda name, conv: conv.stride == (1, 1), stem_spectral_bn=False)
    report = harmonize_report(model)
    assert [r.name for r in report] == ["stem", "body.0"] and not report[0].spectral_bn


def test_level_int_mapping_and_callable():
    report = harmonize_report(harmonize(_tiny(), level=2))
    assert [r.n_filters for r in report] == [3, 3, 3]
    report = harmonize_report(harmonize(_tiny(), level={"body": 3, "body.0": 1, "head": None}))
    assert [(r.level, r.n_filters) for r in report] == [(None, 25), (1, 1), (None, 9)]
    report = harmonize_report(harmonize(_tiny(), level=lambda name, conv: 2 if conv.stride == (2, 2) else None))
    assert [r.level for r in report] == [None, None, 2]


def test_shared_conv_is_replaced_once():
    conv = nn.Conv2d(2, 2, 3, padding=1)
    model = nn.Sequential(conv, nn.ReLU(), conv)
    harmonize(model, stem_spectral_bn=False)
    assert isinstance(model[0], HarmonicConv2d) and model[0] is model[2]


def test_fresh_blocks_keep_geometry_dtype_and_mode():
    model = _tiny().double().eval()
    harmonize(model, convert=False)
    head = model.head[0]
    assert head.groups == 4 and head.stride == (2, 2) and head.weight.dtype == torch.float64
    assert not head.training and model.stem.bias is not None and model.body[0].bias is None


def test_harmonized_model_state_dict_round_trip():
    model = harmonize(_tiny(0), level=3)
    model(torch.randn(4, 3, 12, 12))  # updates the stem's spectral BN statistics
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    restored = harmonize(_tiny(1), level=3)
    restored.load_state_dict(torch.load(buffer))
    model.eval()
    restored.eval()
    x = torch.randn(2, 3, 12, 12)
    torch.testing.assert_close(restored(x), model(x))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(level=0), "level"),
        (dict(level="3"), "level"),
        (dict(level={"body.9": 2}), "level"),
        (dict(level={"body": -1}), "level"),
        (dict(level={3: 2}), "level"),
        (dict(level=lambda name, conv: 0 if name == "head.0" else None), "level"),
        (dict(which="first"), "which"),
    ],
)
def test_bad_arguments(kwargs, match):
    model = _tiny()
    with pytest.raises(ValueError, match=match):
        harmonize(model, **kwargs)
    assert harmonize_report(model) == []  # nothing was replaced
    with pytest.raises(ValueError, match="model"):
        harmonize(torch.zeros(3))
