"""Converting a trained convolutional network into a harmonic one (Table 2's conversion experiment).

With the full DCT basis the projection of every k×k kernel is exact, so the converted
network computes the same function; truncating to λ drops the high frequencies of each
kernel and changes the outputs by an amount this module measures.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import pandas as pd
import torch
from torch import nn

from .harmonize import harmonize
from .utils import count_parameters

#: ResNet-50 variants of the conversion experiment: name → ``level`` of :func:`harmonize`.
RESNET50_CONVERSIONS: dict[str, Any] = {
    "full spectrum": None,
    "progressive λ (layer3: 3, layer4: 2)": {"layer3": 3, "layer4": 2},
    "λ=3 everywhere but the stem": {"layer1": 3, "layer2": 3, "layer3": 3, "layer4": 3},
    "λ=2 everywhere but the stem": {"layer1": 2, "layer2": 2, "layer3": 2, "layer4": 2},
}


@torch.no_grad()
def conversion_report(
    model: nn.Module,
    inputs: torch.Tensor,
    variants: Mapping[str, Any] = RESNET50_CONVERSIONS,
    norm: str | None = "l1",
) -> pd.DataFrame:
    """Convert copies of ``model`` with each ``level`` in ``variants`` and compare outputs on ``inputs``.

    Every k×k convolution is replaced by a :class:`~harmonic.layers.HarmonicConv2d` whose
    weights are the least-squares DCT coefficients of the original kernel (eq. 2 inverted;
    exact for the full basis). Both models run in eval mode. Columns: variant, parameters,
    max and mean |Δlogit|, relative error ‖Δ‖/‖logits‖ and top-1 agreement (%) with the original.
    """
    model = model.eval()
    reference = model(inputs)
    rows = []
    for name, level in variants.items():
        converted = harmonize(copy.deepcopy(model), level=level, convert=True, norm=norm).eval()
        logits = converted(inputs)
        delta = (logits - reference).abs()
        rows.append({
            "variant": name,
            "parameters": count_parameters(converted),
            "max |Δlogit|": delta.max().item(),
            "mean |Δlogit|": delta.mean().item(),
            "relative error": (torch.linalg.vector_norm(logits - reference) / torch.linalg.vector_norm(reference)).item(),
            "top-1 agreement (%)": 100.0 * (logits.argmax(1) == reference.argmax(1)).float().mean().item(),
        })
    original = {"variant": "original (nn.Conv2d)", "parameters": count_parameters(model), "max |Δlogit|": 0.0,
                "mean |Δlogit|": 0.0, "relative error": 0.0, "top-1 agreement (%)": 100.0}
    return pd.DataFrame([original, *rows])


def probe_images(source: str = "fashion-mnist", n: int = 8, size: int = 224,
                 root: str | None = None, seed: int = 0) -> torch.Tensor:
    """A batch ``(n, 3, size, size)`` to compare networks on.

    ``"fashion-mnist"``: real test images (grey replicated to RGB, bilinearly resized),
    which are at hand offline; ``"noise"``: standard normal noise from ``seed``. Where ImageNet is at hand, pass its own validation images instead.
    """
    if source == "noise":
        return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))
    if source != "fashion-mnist":
        raise ValueError(f"source must be 'fashion-mnist' or 'noise', got {source!r}")
    from .data import load_fashion_mnist

    x = load_fashion_mnist(train=False, root=root, subset=n).tensors[0]
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1).contiguous()
