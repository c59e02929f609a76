"""The merged (and folded) kernel cached across inference calls.

In eval mode, with autograd not recording and BN (if any) on its running statistics, the
block's single convolution kernel depends on the parameters and buffers alone, so merging it
(and folding BN in) every call is wasted work: inference then costs one ``F.conv2d``. The key
holds every tensor the kernel depends on with its version counter, so in-place updates
(optimizer steps, ``load_state_dict``) invalidate it, and the tensors themselves, so a replaced
tensor never matches. Measured as the ``sbn-eval inference`` column of ``benchmarks/README.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["CacheKey", "holds", "kernel_cache_key"]

#: Every tensor the kernel depends on, with its version when the kernel was merged.
CacheKey = list[tuple[Tensor, int]]

_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)


def kernel_cache_key(
    training: bool, parameters: Iterable[Tensor], tensors: Sequence[Tensor | None], bn: nn.BatchNorm2d | None
) -> CacheKey | None:
    """The key of the kernel merged from ``tensors`` (and ``bn``'s), or None if it may not be cached.

    Cached only in eval mode (``training`` False, not compiling) when autograd does not record
    (``torch.no_grad()`` or none of ``parameters`` requires grad) and ``bn``, if any, uses
    running statistics. Inference tensors have no version counter: not cached.
    """
    if training or _is_compiling():
        return None
    if torch.is_grad_enabled() and any(p.requires_grad for p in parameters):
        return None
    tensors = list(tensors)
    if bn is not None:
        if bn.training or bn.running_mean is None:
            return None
        tensors += [bn.weight, bn.bias, bn.running_mean, bn.running_var]
    try:
        return [(t, t._version) for t in tensors if t is not None]
    except RuntimeError:  # inference tensors have no version counter
        return None


def holds(cache: tuple | None, key: CacheKey, eps: float | None) -> bool:
    """Whether ``cache`` ``(key, (kernel, bias), eps)`` was merged from exactly ``key`` and ``eps``."""
    if cache is None or len(cache[0]) != len(key):
        return False
    same = all(a is b and va == vb for (a, va), (b, vb) in zip(cache[0], key, strict=True))
    return same and cache[2] == eps
