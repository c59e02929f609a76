"""ResNet-50 and ResNet-101 for ImageNet (He et al., 2016) and their harmonic variants (Ulicny et al., 2019).

The networks are torchvision's; harmonic variants are produced by
:func:`~harmonic.harmonize.harmonize_variant`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torchvision
from torch import nn

from harmonic.harmonize import harmonize_variant
from harmonic.init import check_init
from harmonic.pretrained import load_weights, official_levels

__all__ = ["resnet101", "resnet50"]

Weights = str | os.PathLike | Mapping | None

#: Stages a per-stage ``level`` refers to.
RESNET_STAGES = ("layer1", "layer2", "layer3", "layer4")


def _resnet(
    arch: str,
    num_classes: int,
    harmonic: str | None,
    level: int | Sequence[int | None] | None,
    maxpool: bool,
    stem_spectral_bn: bool,
    weights: Weights,
    init: str = "authors",
) -> nn.Module:
    """torchvision's ``arch`` with the paper's stem option, then the harmonic variant, then ``weights``."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int; got {num_classes!r}")
    if not isinstance(maxpool, bool):
        raise ValueError(f"maxpool must be True or False; got {maxpool!r}")
    check_init(init)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
    if not maxpool:
        model.maxpool = nn.Identity()
        model.conv1.stride = (4, 4)
    model = harmonize_variant(model, harmonic, level, RESNET_STAGES, stem_spectral_bn=stem_spectral_bn, init=init)
    if weights is not None:
        state = load_weights(weights)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            found = official_levels(state) if harmonic == "all" else None
            hint = f" (its levels per stage are {found}: pass level={list(found)})" if found else ""
            source = f" {os.fspath(weights)}" if isinstance(weights, (str, os.PathLike)) else ""
            raise ValueError(f"weights{source} do not fit {arch}(harmonic={harmonic!r}, level={level!r}){hint}: "
                             f"{error}") from error
    return model


def resnet50(
    num_classes: int = 1000,
    harmonic: str | None = None,
    level: int | Sequence[int | None] | None = None,
    maxpool: bool = False,
    stem_spectral_bn: bool = True,
    weights: Weights = None,
    init: str = "authors",
) -> nn.Module:
    """torchvision ResNet-50 (25.6M parameters), plain or harmonic.

    ``maxpool=False`` is the paper's "no max-pooling" network: the 3x3
    max-pool is replaced by ``nn.Identity`` and the 7x7 stem gets stride 4, so
    feature-map sizes are unchanged. ``harmonic``: None, ``"stem"`` (harmonic
    7x7 stem with spectral BN) or ``"all"`` (every conv larger than 1x1,
    spectral BN on the stem only). ``level`` (with ``"all"``): lambda for every
    stage or a sequence of 4 (the paper's progressive setting is
    ``(None, None, 3, 2)``); the stem keeps the full spectrum. The stem's spectral BN
    has no learnable affine (as in the authors' code): ResNet-50 and Harm-ResNet-50 both
    have 25,557,032 parameters, progressive lambda 19,658,792. ``stem_spectral_bn=False``
    gives the stem of the paper's converted network (its BN statistics are not available).
    ``weights``: a state_dict or a file of one (ours, a :mod:`harmonic.experiments.imagenet` checkpoint, or
    the authors' released layout, converted by :func:`harmonic.pretrained.from_official`),
    loaded strictly. ``init`` (:mod:`harmonic.init`): the harmonic blocks' initial weights,
    ``"authors"`` (default: as their ``Harm2d``) or ``"kaiming"``; the rest is torchvision's init,
    which is also the authors' (their ResNet code is torchvision's).
    """
    return _resnet("resnet50", num_classes, harmonic, level, maxpool, stem_spectral_bn, weights, init)


def resnet101(
    num_classes: int = 1000,
    harmonic: str | None = None,
    level: int | Sequence[int | None] | None = None,
    maxpool: bool = False,
    stem_spectral_bn: bool = True,
    weights: Weights = None,
    init: str = "authors",
) -> nn.Module:
    """torchvision ResNet-101 with the options of :func:`resnet50` (the authors released a
    Harm-ResNet-101 checkpoint; the BMVC paper reports ResNet-50 only)."""
    return _resnet("resnet101", num_classes, harmonic, level, maxpool, stem_spectral_bn, weights, init)
