"""ResNet-50 for ImageNet (He et al., 2016) and its harmonic variants (Ulicny et al., 2019).

The network is torchvision's ``resnet50``; harmonic variants are produced by
:func:`~harmonic.harmonize.harmonize_variant`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torchvision
from torch import nn

from ..harmonize import harmonize_variant

__all__ = ["resnet50"]

#: Stages a per-stage ``level`` refers to.
RESNET_STAGES = ("layer1", "layer2", "layer3", "layer4")


def resnet50(
    num_classes: int = 1000,
    harmonic: str | None = None,
    level: int | Sequence[int | None] | None = None,
    maxpool: bool = False,
) -> nn.Module:
    """torchvision ResNet-50 (25.6M parameters), plain or harmonic.

    ``maxpool=False`` is the paper's "no max-pooling" network: the 3x3
    max-pool is replaced by ``nn.Identity`` and the 7x7 stem gets stride 4, so
    feature-map sizes are unchanged. ``harmonic``: None, ``"stem"`` (harmonic
    7x7 stem with spectral BN) or ``"all"`` (every conv larger than 1x1,
    spectral BN on the stem only). ``level`` (with ``"all"``): lambda for every
    stage or a sequence of 4 (the paper's progressive setting is
    ``(None, None, 3, 2)``); the stem keeps the full spectrum.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int; got {num_classes!r}")
    model = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    if not maxpool:
        model.maxpool = nn.Identity()
        model.conv1.stride = (4, 4)
    return harmonize_variant(model, harmonic, level, RESNET_STAGES)
