"""Small helpers shared by models, notebooks and benchmarks."""

from __future__ import annotations

from torch import nn

__all__ = ["count_parameters"]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars, ``sum(p.numel() for p in model.parameters() if p.requires_grad)``.

    Buffers (BatchNorm running statistics, fixed frequencies) are not counted.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
