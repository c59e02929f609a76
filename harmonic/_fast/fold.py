"""Spectral BN (eq. 3) folded into the block's single convolution, as one autograd node.

Eq. 1 and eq. 2 are linear, so without the inner BN the block is one convolution with kernel
``sum_f w_f psi_f`` (the merged form). BN is an affine map per spectral channel once its
statistics are known (batch or running), so its scale and shift fold into ``w`` and a bias and
the block is still one convolution. :class:`FoldedSpectralConv` runs that fold and the
convolution in one node with a hand-written backward (two nodes instead of about twenty small
ones when autograd records the fold). Also here: the narrow bank products and the channel sums
this path is built from, with their CPU-specific shortcuts. Measurements (operator counts,
crossover of :data:`PAIRED_ROWS`, the bias gradient): ``benchmarks/README.md``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "PAIRED_ROWS",
    "FoldedSpectralConv",
    "bank_product",
    "bn_affine",
    "channel_sums",
    "fold_affine",
    "fold_bn",
]

#: Rows from which :func:`bank_product` multiplies two rows at once on CPU (the crossover
#: measured in benchmarks/results/cpu-2026-11-24/bank_product_rows.txt).
PAIRED_ROWS = 1024


def bank_product(rows: Tensor, matrix: Tensor) -> Tensor:
    """``rows @ matrix`` for a narrow ``matrix``: the filter bank ``(n, k*k)`` or its transpose.

    On CPU (MKL) a GEMM with a 9-wide output is slower than one with 18 columns
    from a few thousand rows on, so there two rows are multiplied at once by a
    block-diagonal copy of ``matrix`` (below :data:`PAIRED_ROWS` building that
    copy costs more than it saves).
    """
    count = rows.shape[0]
    if rows.device.type == "cpu" and count >= PAIRED_ROWS and count % 2 == 0 and matrix.shape[0] <= 16:
        paired = rows.reshape(-1, 2 * rows.shape[1]) @ torch.block_diag(matrix, matrix)
        return paired.reshape(count, matrix.shape[1])
    return rows @ matrix


def bn_affine(
    mean: Tensor, var: Tensor, gamma: Tensor | None, beta: Tensor | None, eps: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. 3 as ``scale * z + shift`` per spectral channel; also returns ``1 / sqrt(var + eps)``."""
    inv_std = torch.rsqrt(var + eps)
    scale = inv_std if gamma is None else inv_std * gamma
    shift = -mean * scale if beta is None else torch.addcmul(beta, mean, scale, value=-1.0)
    return scale, shift, inv_std


def fold_affine(
    weight: Tensor, bias: Tensor | None, scale: Tensor, shift: Tensor, groups: int, bank: Tensor
) -> tuple[Tensor, Tensor]:
    """Kernel and bias of eq. 2 applied to ``scale * (eq. 1) + shift``: one convolution.

    ``sum_f w (scale z_f + shift) + b = sum_f (w scale) z_f + (b + sum_f w shift)``, and the
    kernel of ``sum_f (w scale)_f z_f`` is ``sum_f (w scale)_f psi_f``. ``weight`` is
    ``(out, in/groups, n)``, ``scale`` and ``shift`` ``(in * n,)``, ``bank`` ``(n, k*k)``.
    """
    out, per_group, n = weight.shape
    k = math.isqrt(bank.shape[1])
    grouped = weight.reshape(groups, out // groups, per_group * n)
    scale = scale.reshape(groups, 1, per_group * n).to(weight.dtype)
    shift = shift.reshape(groups, per_group * n, 1).to(weight.dtype)
    kernel = bank_product((grouped * scale).reshape(-1, n), bank).reshape(out, per_group, k, k)
    if bias is None:
        return kernel, torch.bmm(grouped, shift).reshape(out)
    return kernel, torch.baddbmm(bias.reshape(groups, out // groups, 1), grouped, shift).reshape(out)


def fold_bn(
    weight: Tensor,
    bias: Tensor | None,
    mean: Tensor,
    var: Tensor,
    gamma: Tensor | None,
    beta: Tensor | None,
    eps: float,
    groups: int,
    bank: Tensor,
) -> tuple[Tensor, Tensor]:
    """Kernel and bias of the block with BN (eq. 3) of statistics ``mean``/``var`` folded in,
    recorded by autograd (the form taken under autocast and for asymmetric padding)."""
    scale, shift, _ = bn_affine(mean, var, gamma, beta, eps)
    return fold_affine(weight, bias, scale, shift, groups, bank)


def channel_sums(t: Tensor) -> Tensor:
    """``t.sum(dim=(0, 2, 3))``; on CPU for contiguous tensors as two reductions, which is
    faster there (the conv bias gradient)."""
    if t.device.type == "cpu" and t.is_contiguous():
        return t.reshape(t.shape[0], t.shape[1], -1).sum(2).sum(0)
    return t.sum(dim=(0, 2, 3))


class FoldedSpectralConv(torch.autograd.Function):
    """The block with spectral BN (eqs. 1-3) as one convolution and one autograd node.

    Forward: BN's ``scale`` and ``shift`` (statistics ``mean``/``var`` given: batch
    or running) folded by :func:`fold_affine`, then ``F.conv2d``. Backward: the
    convolution's own backward for the input and the kernel, the bias gradient as
    a channel sum of the output gradient, and the fold's chain rule written out
    (``scale = gamma / sqrt(var + eps)``, ``shift = beta - mean * scale``), each
    product over the output channels one batched matrix product. The same values
    as letting autograd record the fold, in two nodes instead of about twenty
    small ones, and on CPU a cheaper bias gradient than oneDNN's. The backward
    is itself differentiable (double backward rebuilds the fold from the inputs
    so that autograd records it). Arguments: ``(x, weight, bias, gamma, beta,
    mean, var, bank, eps, (stride, padding, dilation, groups))``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, gamma, beta, mean, var, bank, eps, geometry):  # type: ignore[override]
        stride, padding, dilation, groups = geometry
        scale, shift, inv_std = bn_affine(mean, var, gamma, beta, eps)
        kernel, conv_bias = fold_affine(weight, bias, scale, shift, groups, bank)
        ctx.save_for_backward(x, weight, gamma, beta, mean, var, bank, kernel, scale, shift, inv_std)
        ctx.geometry, ctx.eps = geometry, eps
        return F.conv2d(x, kernel, conv_bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        x, weight, gamma, beta, mean, var, bank, kernel, scale, shift, inv_std = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        if torch.is_grad_enabled():  # double backward: rebuild the fold from the inputs, recorded
            scale, shift, inv_std = bn_affine(mean, var, gamma, beta, ctx.eps)
            kernel, _ = fold_affine(weight, None, scale, shift, groups, bank)
        need = ctx.needs_input_grad
        need_kernel = need[1] or need[3] or need[6]  # weight, gamma, var act through the kernel
        grad_x, grad_kernel, _ = torch.ops.aten.convolution_backward(
            grad_out, x, kernel, None, list(stride), list(padding), list(dilation),
            False, [0, 0], groups, [need[0], need_kernel, False],
        )
        grads: list[Tensor | None] = [grad_x] + [None] * 9
        if not any(need[1:7]):
            return tuple(grads)
        out, per_group, n = weight.shape
        per_out, m = out // groups, per_group * n
        grad_bias = channel_sums(grad_out).to(weight.dtype)
        grad_bias_row = grad_bias.reshape(groups, 1, per_out)
        grouped = weight.reshape(groups, per_out, m)
        grad_shift = torch.bmm(grad_bias_row, grouped)  # sum_o grad_bias[o] w[o]: (groups, 1, m)
        if need_kernel:  # d (w scale) = grad_kernel projected on the bank
            grad_scaled = bank_product(grad_kernel.reshape(-1, bank.shape[1]), bank.T).reshape(groups, per_out, m)
            if need[1]:  # d w = d(w scale) * scale + grad_bias[o] * shift
                grad_weight = grad_scaled * scale.reshape(groups, 1, m).to(weight.dtype)
                shift_row = shift.reshape(groups, 1, m).to(weight.dtype)
                grads[1] = torch.baddbmm(grad_weight, grad_bias_row.transpose(1, 2), shift_row).reshape(weight.shape)
            if need[3] or need[6]:  # d scale = sum_o d(w scale)[o] w[o] - d shift * mean
                grad_scale = torch.addcmul(
                    (grad_scaled * grouped).sum(1, keepdim=True), grad_shift, mean.reshape(groups, 1, m), value=-1.0
                ).reshape(-1)
                grads[3] = grad_scale * inv_std if need[3] else None  # scale = gamma * inv_std
                grads[6] = -0.5 * grad_scale * scale * inv_std**2 if need[6] else None
        grads[2] = grad_bias if need[2] else None
        grad_shift = grad_shift.reshape(-1)
        grads[4] = grad_shift if need[4] else None
        grads[5] = -grad_shift * scale if need[5] else None
        return tuple(grads)
