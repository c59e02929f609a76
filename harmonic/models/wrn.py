"""Wide residual networks (Zagoruyko & Komodakis, BMVC 2016) and their harmonic variants.

WRN-d-k for 32x32 inputs: a 3x3 stem conv to 16 channels, three groups of
``(d - 4) / 6`` pre-activation basic blocks of widths ``16k, 32k, 64k``
(strides 1, 2, 2), then BN-ReLU, global average pooling and a linear layer.
Harmonic variants (Ulicny et al., BMVC 2019: Harm1, Harm-WRN,
lambda and progressive lambda) are made by :func:`~harmonic.harmonize.harmonize_variant`,
not by a separate class.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from harmonic.harmonize import harmonize_variant
from harmonic.init import check_init, init_wrn_authors

__all__ = ["WideBasicBlock", "WideResNet", "wrn"]

#: Residual groups, i.e. the stages a per-stage ``level`` refers to.
WRN_STAGES = ("layer1", "layer2", "layer3")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution, padding 1, no bias."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


class WideBasicBlock(nn.Module):
    """Pre-activation basic block: BN-ReLU-conv3x3-BN-ReLU-(dropout)-conv3x3 + shortcut.

    When the shape changes the shortcut is a strided 1x1 conv applied to the
    pre-activated input, as in the reference implementation.
    """

    def __init__(self, in_planes: int, out_planes: int, stride: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(in_planes, out_planes, stride)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = conv3x3(out_planes, out_planes)
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_planes != out_planes:
            self.shortcut = nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        activated = self.relu1(self.bn1(x))
        out = self.conv1(activated)
        out = self.conv2(self.dropout(self.relu2(self.bn2(out))))
        residual = x if self.shortcut is None else self.shortcut(activated)
        return out + residual


class WideResNet(nn.Module):
    """WRN-depth-widen_factor for 32x32 images (plain; see :func:`wrn` for harmonic variants).

    Group widths are ``round(16k), round(32k), round(64k)``: the paper's integer ``k``, or a
    fractional one for a narrower baseline whose size matches a compressed harmonic network.

    ``init`` (:mod:`harmonic.init`): ``"authors"`` (default), as the authors' CIFAR code
    (:func:`~harmonic.init.init_wrn_authors`: Kaiming normal with fan_in everywhere, BN weights
    ``U(0, 1)``, biases 0); ``"kaiming"``: convolutions Kaiming normal with ``mode="fan_out"`` (std
    ``sqrt(2 / (k^2 out))``), BN weight 1 and bias 0, linear bias 0 (weight keeps PyTorch's default).
    """

    def __init__(
        self,
        depth: int = 28,
        widen_factor: float = 10,
        num_classes: int = 10,
        dropout: float = 0.0,
        in_channels: int = 3,
        init: str = "authors",
    ) -> None:
        super().__init__()
        check_init(init)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
            raise ValueError(f"depth must be an int 6n + 4 with n >= 1 (10, 16, 22, 28, ...); got {depth!r}")
        if isinstance(widen_factor, bool) or not isinstance(widen_factor, (int, float)) or not widen_factor > 0:
            raise ValueError(f"widen_factor must be a positive number; got {widen_factor!r}")
        for name, value in (
            ("num_classes", num_classes),
            ("in_channels", in_channels),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
        blocks = (depth - 4) // 6
        widths = (16, *(round(base * widen_factor) for base in (16, 32, 64)))
        if min(widths) < 1:
            raise ValueError(f"widen_factor {widen_factor!r} leaves a group with no channels")
        self.depth = depth
        self.widen_factor = widen_factor
        self.conv1 = conv3x3(in_channels, widths[0])
        self.layer1 = self._group(widths[0], widths[1], blocks, 1, dropout)
        self.layer2 = self._group(widths[1], widths[2], blocks, 2, dropout)
        self.layer3 = self._group(widths[2], widths[3], blocks, 2, dropout)
        self.bn = nn.BatchNorm2d(widths[3])
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
        if init == "authors":  # drawn after the "kaiming" draws, so that recipe's runs stay as recorded
            init_wrn_authors(self)

    @staticmethod
    def _group(in_planes: int, out_planes: int, blocks: int, stride: int, dropout: float) -> nn.Sequential:
        layers = [WideBasicBlock(in_planes, out_planes, stride, dropout)]
        layers += [WideBasicBlock(out_planes, out_planes, 1, dropout) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        x = self.avgpool(self.relu(self.bn(x)))
        return self.fc(torch.flatten(x, 1))


def wrn(
    depth: int = 28,
    widen_factor: float = 10,
    num_classes: int = 10,
    dropout: float = 0.0,
    harmonic: str | None = None,
    level: int | Sequence[int | None] | None = None,
    in_channels: int = 3,
    stem_spectral_bn: bool = True,
    init: str = "authors",
) -> nn.Module:
    """WRN-``depth``-``widen_factor``, plain or harmonic (Ulicny et al., 2019).

    ``harmonic``: None (WRN), ``"stem"`` (Harm1: harmonic stem with spectral
    BN) or ``"all"`` (Harm-WRN: every 3x3 conv harmonic, spectral BN on the
    stem only, 1x1 shortcuts unchanged). ``level`` (with ``"all"``): lambda for
    every residual group, or a sequence of 3 (progressive, e.g. ``(None, 3, 2)``);
    the stem keeps the full spectrum. The stem's spectral BN (eq. 3) has no learnable
    scale or shift, as in the authors' code, so every variant without compression has
    exactly the plain network's parameters (WRN-28-10 for CIFAR-100: 36,536,884);
    ``stem_spectral_bn=False`` is Table 1's "Harm1-WRN-28-10 (no BN)".
    ``init``: the initial weights (:mod:`harmonic.init`): ``"authors"`` (default) draws every tensor,
    harmonic coefficients included, as the authors' CIFAR code; ``"kaiming"`` is the alternative
    recipe (each harmonic block distributed as a Kaiming-initialised plain convolution).
    """
    check_init(init)
    model = WideResNet(depth, widen_factor, num_classes, dropout, in_channels, init="kaiming")
    model = harmonize_variant(model, harmonic, level, WRN_STAGES, stem_spectral_bn=stem_spectral_bn, init="kaiming")
    return init_wrn_authors(model) if init == "authors" else model
