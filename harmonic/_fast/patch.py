"""Eqs. 1-3 on the unfolded input patches: the form for few output positions.

Merging the kernel ``sum_f w_f psi_f`` costs ``out * in/groups * n * k^2`` multiply-adds per call
whatever the input; where a layer has few output positions (deep layers, small images or
batches) that is most of its work. Here eq. 1 is applied to every ``k x k`` input patch instead
(its ``n`` DCT coefficients, one matrix product with the bank), spectral BN (eq. 3) to those
coefficients as a batch of positions, and eq. 2 is one matrix product with the weights as they
are stored. Where ``compute_form="auto"`` takes it: :mod:`harmonic._fast.forms`; its timings and
the layout's are recorded in ``benchmarks/README.md`` ("The patch form", "patch form layout").
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from harmonic._fast.fold import bank_product
from harmonic._fast.geometry import Window, super_patch_offsets, window_view

__all__ = ["patch_forward"]


def patch_forward(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    filters: Tensor,
    window: Window,
    groups: int,
    normalise: Callable[[Tensor], Tensor] | None,
) -> Tensor:
    """The block on ``x`` ``(N, C, H, W)`` by patches; ``weight`` ``(out, C/groups, n)``, ``filters``
    the bank ``(n, k, k)``, ``normalise`` the spectral BN (eq. 3, a ``BatchNorm2d`` over ``C * n``
    channels) or None.

    Layout: one row per (output position, input channel) holding that patch's ``k*k`` values, so
    eq. 1 is one matrix product with the bank; its result, viewed as one row per position with
    the ``C * n`` coefficients (channel ``c * n + f``, as BN expects), is normalised as a batch
    of positions and multiplied by the weights.
    """
    k, n, g = window.k, filters.shape[0], groups
    channels, out_channels = weight.shape[1] * groups, weight.shape[0]
    pad = window.pad
    h_out, w_out = window.output_size(x.shape[-2:])
    rows = x.shape[0] * h_out * w_out
    if any(pad):
        x = F.pad(x, pad)
    dh, dw = window.dilation
    taps_h, taps_w = super_patch_offsets(k, 1, dh, 1), super_patch_offsets(k, 1, dw, 1)
    windows = window_view(x, taps_h, taps_w, window.stride, (h_out, w_out))
    patches = windows.permute(0, 2, 3, 1, 4, 5).reshape(rows * channels, k * k)  # (N Ho Wo C, k^2)
    spectra = bank_product(patches, filters.reshape(n, -1).to(x.dtype).T).reshape(rows, channels * n)
    if normalise is not None:  # a batch of `rows` positions with C * n channels
        spectra = normalise(spectra.reshape(rows, channels * n, 1, 1)).reshape(rows, channels * n)
    if g == 1:
        weight = weight.reshape(out_channels, channels * n)
        out = spectra @ weight.T if bias is None else torch.addmm(bias, spectra, weight.T)
    else:
        per_group = spectra.reshape(rows, g, (channels // g) * n).transpose(0, 1)
        weight = weight.reshape(g, out_channels // g, (channels // g) * n)
        out = torch.bmm(per_group, weight.transpose(1, 2)).transpose(0, 1).reshape(rows, out_channels)
        if bias is not None:
            out = out + bias
    return out.reshape(-1, h_out, w_out, out_channels).permute(0, 3, 1, 2).contiguous()
