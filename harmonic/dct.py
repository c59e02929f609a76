"""The fixed DCT-II filter bank of harmonic blocks (Ulicny et al., BMVC 2019, eq. 1).

A harmonic block convolves its input with the 2-D DCT-II basis

    psi_{u,v}[x, y] = cos(pi/k * (x + 1/2) * u) * cos(pi/k * (y + 1/2) * v),

``u, v = 0..k-1`` (``x`` indexes kernel rows, ``y`` columns). Compression
level ``lambda`` keeps the low frequencies ``u + v < lambda``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["NORMS", "dct_coefficients", "dct_filters", "dct_frequencies", "n_filters", "spectral_maps"]

#: Accepted values of the ``norm`` argument of :func:`dct_filters`.
NORMS = ("ortho", "l1", None)


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return value


def _check_level(level: object) -> int | None:
    if level is None:
        return None
    return _check_positive_int(level, "level")


def dct_frequencies(
    kernel_size: int, level: int | None = None, dc: bool = True
) -> list[tuple[int, int]]:
    """Frequency pairs ``(u, v)`` of the filter bank, u-major, with ``u + v < level``.

    This is the order of the filters returned by :func:`dct_filters` and of the
    last dimension of ``HarmonicConv2d.weight`` (eq. 1 and the compression level lambda).
    ``level=None`` keeps all ``k * k`` pairs; ``dc=False`` drops ``(0, 0)``.
    """
    k = _check_positive_int(kernel_size, "kernel_size")
    lam = _check_level(level)
    pairs = [
        (u, v)
        for u in range(k)
        for v in range(k)
        if (lam is None or u + v < lam) and (dc or (u, v) != (0, 0))
    ]
    if not pairs:
        raise ValueError(
            f"level={level!r} with dc={dc!r} leaves no DCT filter for kernel_size={k}"
        )
    return pairs


def n_filters(kernel_size: int, level: int | None = None, dc: bool = True) -> int:
    """Number of filters kept at compression level lambda (pairs with ``u + v < lambda``).

    ``lambda (lambda + 1) / 2`` for ``lambda <= k``, else ``k^2 - r (r + 1) / 2``
    with ``r = 2k - 1 - lambda`` (``k^2`` once ``lambda >= 2k - 1`` or ``None``),
    minus one without the DC filter.
    """
    k = _check_positive_int(kernel_size, "kernel_size")
    lam = _check_level(level)
    if lam is None or lam >= 2 * k - 1:
        count = k * k
    elif lam <= k:
        count = lam * (lam + 1) // 2
    else:
        r = 2 * k - 1 - lam
        count = k * k - r * (r + 1) // 2
    count -= 0 if dc else 1
    if count < 1:
        raise ValueError(
            f"level={level!r} with dc={dc!r} leaves no DCT filter for kernel_size={k}"
        )
    return count


def dct_filters(
    kernel_size: int,
    level: int | None = None,
    norm: str | None = "ortho",
    dc: bool = True,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """DCT-II filter bank psi_{u,v} of eq. 1, shape ``(n, k, k)``, u-major order.

    ``norm="ortho"`` scales by ``alpha_u alpha_v`` (``alpha_0 = sqrt(1/k)``,
    ``alpha_i = sqrt(2/k)``) so the full bank is an orthonormal basis of
    ``k x k`` kernels; ``norm="l1"`` divides each filter by its L1 norm (the
    authors' ImageNet models); ``norm=None`` leaves the plain cosine products.
    Filters are computed in float64 and cast to ``dtype`` (default dtype if None).
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}; got {norm!r}")
    pairs = dct_frequencies(kernel_size, level, dc)
    k = kernel_size
    # cos(pi/k (x + 1/2) u) for u (rows) and x (columns): the 1-D DCT-II basis.
    grid = (torch.arange(k, dtype=torch.float64, device="cpu") + 0.5) * (math.pi / k)
    basis_1d = torch.cos(torch.arange(k, dtype=torch.float64, device="cpu")[:, None] * grid)
    u = torch.tensor([p[0] for p in pairs])
    v = torch.tensor([p[1] for p in pairs])
    bank = basis_1d[u][:, :, None] * basis_1d[v][:, None, :]
    if norm == "ortho":
        alpha = torch.full((k,), math.sqrt(2.0 / k), dtype=torch.float64)
        alpha[0] = math.sqrt(1.0 / k)
        bank = bank * (alpha[u] * alpha[v])[:, None, None]
    elif norm == "l1":
        bank = bank / bank.abs().sum(dim=(1, 2), keepdim=True)
    return bank.to(dtype=dtype or torch.get_default_dtype(), device=device)


def dct_coefficients(kernels: Tensor, filters: Tensor) -> Tensor:
    """Least-squares coefficients ``w`` with ``sum_f w_f psi_f ~= kernel`` (eq. 2 inverted).

    ``kernels`` has shape ``(..., k, k)`` and ``filters`` ``(n, k, k)``; returns
    ``(..., n)``. Exact when the bank spans all ``k x k`` kernels (full basis);
    for a lambda-truncated bank it is the orthogonal projection onto the kept
    frequencies. Solved in float64, returned in the dtype of ``kernels``.
    """
    if filters.dim() != 3 or filters.shape[1] != filters.shape[2]:
        raise ValueError(f"filters must have shape (n, k, k); got {tuple(filters.shape)}")
    if kernels.dim() < 2 or kernels.shape[-2:] != filters.shape[1:]:
        raise ValueError(
            f"kernels must have shape (..., {filters.shape[1]}, {filters.shape[2]}); "
            f"got {tuple(kernels.shape)}"
        )
    bank = filters.reshape(filters.shape[0], -1).to(device=kernels.device, dtype=torch.float64)
    flat = kernels.reshape(-1, bank.shape[1]).to(torch.float64)
    # Normal equations (B B^T) w = B k; the rows of (B B^T)^-1 B form the dual basis
    # (B B^T is diagonal for DCT banks, but solve anyway).
    dual = torch.linalg.solve(bank @ bank.T, bank)
    coeffs = flat @ dual.T
    return coeffs.reshape(*kernels.shape[:-2], bank.shape[0]).to(kernels.dtype)


def spectral_maps(
    x: Tensor, bank: Tensor, k: int, stride: tuple[int, int], padding: object, dilation: tuple[int, int]
) -> Tensor:
    """Eq. 1: every input channel convolved with every filter of ``bank`` ``(n, k*k)``, as one
    depthwise convolution; channel ``c * n + f`` of the result is ``psi_f * x_c``."""
    channels, n = x.shape[-3], bank.shape[0]
    weight = bank.reshape(1, n, k, k).expand(channels, n, k, k).reshape(channels * n, 1, k, k)
    return F.conv2d(x, weight, None, stride, padding, dilation, channels)
