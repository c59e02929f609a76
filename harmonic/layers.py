"""The harmonic block (Ulicny et al., BMVC 2019, eqs. 1-3) as a drop-in ``nn.Conv2d``.

A harmonic block filters every input channel with the fixed DCT bank psi_f
(eq. 1, a depthwise convolution), optionally batch-normalises the ``C_in * n``
spectral maps (eq. 3) and combines them with learned weights ``w`` (eq. 2, a
1x1 convolution). Both stages are linear, so without the inner BN the block is
one convolution with kernel ``sum_f w_f psi_f`` (the "merged" form), and with
the inner BN it still is one, once the BN statistics are known: BN is an affine
map per spectral channel, so its scale and shift fold into ``w`` and a bias.
:class:`HarmonicConv2d` runs that single convolution, or, where merging the
kernel would cost more than the layer's own work (few output positions per
output channel), eq. 1 on the unfolded input patches, BN on their coefficients
if any, and eq. 2 as one matrix product (:meth:`HarmonicConv2d.patch_forward`). The literal
two-stage form is kept as :meth:`HarmonicConv2d.explicit_forward` (reference
and benchmark).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from harmonic.dct import NORMS, dct_coefficients, dct_filters, n_filters

__all__ = ["COMPUTE_FORMS", "PATCH_FORM_RATIO", "HarmonicConv2d"]

#: Accepted values of :attr:`HarmonicConv2d.compute_form`.
COMPUTE_FORMS: tuple[str, ...] = ("auto", "merged", "patch")

#: ``compute_form="auto"`` on CPU takes the patch form when
#: ``positions * n_filters * groups <= PATCH_FORM_RATIO * out_channels``: the merge costs
#: ``~out * in/g * n`` and the patch coefficients ``~positions * in * n``, and the patch form's
#: combination product shrinks with ``n`` (it is ``n / k^2`` of the convolution's). Read off
#: forward+backward timings of single 3x3 layers (64-512 channels, full and lambda=2 banks) on
#: the 2-core CPU; the deep-layer row of benchmarks/README.md is one of those shapes. With spectral
#: BN the same rule applies (the patch form then also skips the patch moments; deep-layer row).
#: On other devices (CUDA) ``"auto"`` never takes the patch form: on an H100 (benchmarks/README.md,
#: dc52c2e) it measured 1.9-5.7x a conv step at four of the benchmark's five layer shapes as CUDA graph
#: replays (merged: 1.07-1.22x; at the fifth, 512->512 on 2x2 inputs, patch 1.06x and merged 1.43x) and
#: 2.2-3.7x at all five timed eagerly (merged 1.49-2.25x).
PATCH_FORM_RATIO = 4

_IntPair = int | tuple[int, int]
_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)


def _pair(value: object, name: str, minimum: int) -> tuple[int, int]:
    """``value`` as a pair of ints ``>= minimum``; ValueError naming ``name`` otherwise."""
    pair = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(pair) != 2 or any(
        isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in pair
    ):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them; got {value!r}")
    return pair  # type: ignore[return-value]


def _output_size(
    size: tuple[int, ...] | torch.Size,
    k: int,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pad: tuple[int, int, int, int],
) -> tuple[int, int]:
    """Output height and width of a conv with padding (left, right, top, bottom)."""
    height = size[0] + pad[2] + pad[3]
    width = size[1] + pad[0] + pad[1]
    h_out = (height - dilation[0] * (k - 1) - 1) // stride[0] + 1
    w_out = (width - dilation[1] * (k - 1) - 1) // stride[1] + 1
    if h_out < 1 or w_out < 1:
        raise ValueError(f"input of spatial size {tuple(size)} is smaller than the kernel")
    return h_out, w_out


#: Patch values materialised at a time by the spectral BN statistics (bounds their memory).
_CHUNK_ELEMENTS = 1 << 20


def _image_chunks(batch: int, per_image: int) -> list[slice]:
    """Slices of the batch holding about ``_CHUNK_ELEMENTS`` patch values each."""
    step = max(1, _CHUNK_ELEMENTS // max(per_image, 1))
    return [slice(start, start + step) for start in range(0, batch, step)]


def _patch_slices(
    k: int, stride: tuple[int, int], dilation: tuple[int, int], h_out: int, w_out: int
) -> list[tuple[slice, slice]]:
    """Slices of the padded input seen by kernel tap ``(i, j)``, u-major (im2col by views)."""
    (sh, sw), (dh, dw) = stride, dilation
    return [
        (
            slice(i * dh, i * dh + (h_out - 1) * sh + 1, sh),
            slice(j * dw, j * dw + (w_out - 1) * sw + 1, sw),
        )
        for i in range(k)
        for j in range(k)
    ]


def _offset_index(offsets: list[int]) -> slice | list[int]:
    """Sorted ``offsets`` starting at 0 as a slice where they are evenly spaced (a view), else as they are."""
    step = offsets[1] - offsets[0] if len(offsets) > 1 else 1
    return slice(None, None, step) if offsets == list(range(0, offsets[-1] + 1, step)) else offsets


def _window_view(
    images: Tensor, rows: list[int], cols: list[int], step: tuple[int, int], count: tuple[int, int]
) -> Tensor:
    """The values at ``rows x cols`` offsets of the first ``count`` windows (spaced by ``step``) of the
    4-D ``images``, as ``(A, B, count_h, count_w, len(rows), len(cols))``: a view where the offsets
    are evenly spaced (always for single patches), a gathered copy otherwise."""
    windows = images.unfold(2, rows[-1] + 1, step[0]).unfold(3, cols[-1] + 1, step[1])[:, :, : count[0], : count[1]]
    return windows[..., _offset_index(rows), :][..., _offset_index(cols)]


def _windows(
    images: Tensor, rows: list[int], cols: list[int], step: tuple[int, int], count: tuple[int, int]
) -> Tensor:
    """:func:`_window_view` of ``images`` ``(C, N, H, W)`` as ``(C, len(rows) * len(cols), N * windows)``:
    im2col by one strided copy (offsets row-major, as ``_patch_slices`` orders the taps)."""
    windows = _window_view(images, rows, cols, step, count)
    return windows.permute(0, 4, 5, 1, 2, 3).reshape(images.shape[0], len(rows) * len(cols), -1)


def _super_patch_offsets(k: int, stride: int, dilation: int, m: int) -> list[int]:
    """Offsets (rows or columns) of the padded input covered by ``m`` adjacent patches."""
    return sorted({a * stride + i * dilation for a in range(m) for i in range(k)})


def _super_patch_shape(
    k: int, stride: tuple[int, int], dilation: tuple[int, int], h_out: int, w_out: int
) -> tuple[int, int]:
    """Patches per super-patch ``(mh, mw)``: fewest multiply-adds per patch in the Gram GEMM.

    A super-patch of ``mh x mw`` adjacent patches has ``S`` values (the union of
    their taps), and its Gram matrix costs ``S^2 / (mh mw)`` per patch against
    ``k^4`` for single patches: for 3x3, stride 1, ``2 x 2`` gives 64 instead of
    81 and copies 4 instead of 9 values per patch (measured 10-20 % faster than
    the ``4 x 1`` used before). ``mh``/``mw`` must divide the output size.
    """
    def cost(mh: int, mw: int) -> float:
        size = len(_super_patch_offsets(k, stride[0], dilation[0], mh)) * len(
            _super_patch_offsets(k, stride[1], dilation[1], mw)
        )
        return size * size / (mh * mw)

    shapes = [(mh, mw) for mh in (1, 2, 4) for mw in (1, 2, 4) if h_out % mh == 0 and w_out % mw == 0]
    return min(shapes, key=lambda shape: (cost(*shape), shape))


def _patch_moments(
    by_channel: Tensor,
    k: int,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    h_out: int,
    w_out: int,
) -> tuple[Tensor, Tensor]:
    """Sum ``sum_l P_l`` ``(C, k*k)`` and Gram matrix ``sum_l P_l P_l^T`` ``(C, k*k, k*k)`` of all patches.

    ``by_channel`` is the padded input as ``(C, N, H_pad, W_pad)``. To read less
    memory and do fewer multiply-adds, ``mh x mw`` adjacent patches form one
    "super-patch" (the union of their taps, see :func:`_super_patch_shape`); the
    Gram matrix of a patch pair is then the sum over the ``mh * mw`` positions of
    entries of the super-patch Gram matrix. Images are processed in chunks.
    """
    (sh, sw), (dh, dw) = stride, dilation
    mh, mw = _super_patch_shape(k, stride, dilation, h_out, w_out)
    rows, cols = _super_patch_offsets(k, sh, dh, mh), _super_patch_offsets(k, sw, dw, mw)
    row, col = {o: i for i, o in enumerate(rows)}, {o: j for j, o in enumerate(cols)}
    # index[tap, position]: entry of the super-patch holding tap (i, j) of its patch (a, b)
    index = torch.tensor(
        [
            [row[a * sh + i * dh] * len(cols) + col[b * sw + j * dw] for a in range(mh) for b in range(mw)]
            for i in range(k)
            for j in range(k)
        ],
        device=by_channel.device,
    )
    channels, batch = by_channel.shape[:2]
    size = len(rows) * len(cols)
    gh, gw = h_out // mh, w_out // mw
    gram = by_channel.new_zeros(channels, size, size)
    total = by_channel.new_zeros(channels, size)
    for chunk in _image_chunks(batch, channels * size * gh * gw):
        patches = _windows(by_channel[:, chunk], rows, cols, (mh * sh, mw * sw), (gh, gw))
        gram.baddbmm_(patches, patches.transpose(1, 2))
        total += patches.sum(dim=-1)
    return total[:, index].sum(-1), gram[:, index[:, None, :], index[None, :, :]].sum(-1)


#: Rows from which :func:`_bank_product` multiplies two rows at once on CPU. Measured with the
#: block-diagonal bank built in the call (benchmarks/results/cpu-2026-11-24/bank_product_rows.txt):
#: paired/plain time 1.81 at 256 rows, 1.16 at 512, 0.75 at 1024, 0.33-0.46 from 4096 on.
PAIRED_ROWS = 1024


def _bank_product(rows: Tensor, matrix: Tensor) -> Tensor:
    """``rows @ matrix`` for a narrow ``matrix``: the filter bank ``(n, k*k)`` or its transpose.

    On CPU (MKL) a GEMM with a 9-wide output measured 2-3x slower than one with
    18 columns from a few thousand rows on, so there two rows are multiplied at
    once by a block-diagonal copy of ``matrix`` (below :data:`PAIRED_ROWS` building
    that copy costs more than it saves).
    """
    count = rows.shape[0]
    if rows.device.type == "cpu" and count >= PAIRED_ROWS and count % 2 == 0 and matrix.shape[0] <= 16:
        paired = rows.reshape(-1, 2 * rows.shape[1]) @ torch.block_diag(matrix, matrix)
        return paired.reshape(count, matrix.shape[1])
    return rows @ matrix


def _bn_affine(
    mean: Tensor, var: Tensor, gamma: Tensor | None, beta: Tensor | None, eps: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. 3 as ``scale * z + shift`` per spectral channel; also returns ``1 / sqrt(var + eps)``."""
    inv_std = torch.rsqrt(var + eps)
    scale = inv_std if gamma is None else inv_std * gamma
    shift = -mean * scale if beta is None else torch.addcmul(beta, mean, scale, value=-1.0)
    return scale, shift, inv_std


def _fold_affine(
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
    kernel = _bank_product((grouped * scale).reshape(-1, n), bank).reshape(out, per_group, k, k)
    if bias is None:
        return kernel, torch.bmm(grouped, shift).reshape(out)
    return kernel, torch.baddbmm(bias.reshape(groups, out // groups, 1), grouped, shift).reshape(out)


def _channel_sums(t: Tensor) -> Tensor:
    """``t.sum(dim=(0, 2, 3))``; on CPU for contiguous tensors as two reductions, measured about
    2x faster there (the conv bias gradient at the stem shape: 0.3 vs 0.6 ms)."""
    if t.device.type == "cpu" and t.is_contiguous():
        return t.reshape(t.shape[0], t.shape[1], -1).sum(2).sum(0)
    return t.sum(dim=(0, 2, 3))


class _FoldedSpectralConv(torch.autograd.Function):
    """The block with spectral BN (eqs. 1-3) as one convolution and one autograd node.

    Forward: BN's ``scale`` and ``shift`` (statistics ``mean``/``var`` given: batch
    or running) folded by :func:`_fold_affine`, then ``F.conv2d``. Backward: the
    convolution's own backward for the input and the kernel, the bias gradient as
    a channel sum of the output gradient, and the fold's chain rule written out
    (``scale = gamma / sqrt(var + eps)``, ``shift = beta - mean * scale``), each
    product over the output channels one batched matrix product. The same values
    as letting autograd record the fold, in two nodes instead of about twenty
    small ones, and on CPU a cheaper bias gradient than oneDNN's (the benchmark's
    ``sbn-eval`` row). The backward is itself differentiable (double backward
    rebuilds the fold from the inputs so that autograd records it).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, gamma, beta, mean, var, bank, eps, geometry):  # type: ignore[override]
        stride, padding, dilation, groups = geometry
        scale, shift, inv_std = _bn_affine(mean, var, gamma, beta, eps)
        kernel, conv_bias = _fold_affine(weight, bias, scale, shift, groups, bank)
        ctx.save_for_backward(x, weight, gamma, beta, mean, var, bank, kernel, scale, shift, inv_std)
        ctx.geometry, ctx.eps = geometry, eps
        return F.conv2d(x, kernel, conv_bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        x, weight, gamma, beta, mean, var, bank, kernel, scale, shift, inv_std = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        if torch.is_grad_enabled():  # double backward: rebuild the fold from the inputs, recorded
            scale, shift, inv_std = _bn_affine(mean, var, gamma, beta, ctx.eps)
            kernel, _ = _fold_affine(weight, None, scale, shift, groups, bank)
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
        grad_bias = _channel_sums(grad_out).to(weight.dtype)
        grad_bias_row = grad_bias.reshape(groups, 1, per_out)
        grouped = weight.reshape(groups, per_out, m)
        grad_shift = torch.bmm(grad_bias_row, grouped)  # sum_o grad_bias[o] w[o]: (groups, 1, m)
        if need_kernel:  # d (w scale) = grad_kernel projected on the bank
            grad_scaled = _bank_product(grad_kernel.reshape(-1, bank.shape[1]), bank.T).reshape(groups, per_out, m)
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


class _SpectralMoments(torch.autograd.Function):
    """Batch mean and variance of the spectral maps ``psi_f * x_c`` from patch moments.

    Forward: ``mean[c, f] = psi_f . E[P_c]`` and ``var[c, f] = psi_f^T Cov[P_c] psi_f``
    with ``P_c`` the ``k*k`` patches of channel ``c`` (shape ``(C, n)`` each).
    Backward: the gradient on patch ``l`` is
    ``(psi^T g_mean + 2 A (P_l - E[P])) / L`` with ``A = sum_f g_var[f] psi_f psi_f^T``,
    scattered back onto the input (col2im by strided views). Both passes work
    on chunks of images, so memory stays well below that of the spectral maps.
    """

    @staticmethod
    def _centred(x: Tensor, pad: tuple[int, int, int, int]) -> tuple[Tensor, Tensor]:
        """Padded input as ``(C, N, H_pad, W_pad)`` minus a per-channel constant, and that constant.

        The shift leaves the covariance unchanged and avoids cancellation in
        ``E[P P^T] - E[P] E[P]^T``.
        """
        padded = F.pad(x, pad)
        centre = padded.mean(dim=(0, 2, 3), keepdim=True)
        return (padded - centre).transpose(0, 1), centre.reshape(-1, 1)

    @staticmethod
    def forward(ctx, x, bank, k, stride, dilation, pad):  # type: ignore[override]
        by_channel, centre = _SpectralMoments._centred(x, pad)
        h_out, w_out = _output_size(x.shape[-2:], k, stride, dilation, pad)
        count = x.shape[0] * h_out * w_out
        total, gram = _patch_moments(by_channel, k, stride, dilation, h_out, w_out)
        patch_mean = total / count
        cov = gram / count - patch_mean[:, :, None] * patch_mean[:, None, :]
        mean = (patch_mean + centre) @ bank.T
        var = torch.einsum("fa,cab,fb->cf", bank, cov, bank).clamp_min(0.0)
        ctx.save_for_backward(x, bank, patch_mean)
        ctx.geometry = (k, stride, dilation, pad, h_out, w_out)
        return mean, var

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_mean, grad_var):  # type: ignore[override]
        x, bank, patch_mean = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return (None,) * 6
        k, stride, dilation, pad, h_out, w_out = ctx.geometry
        by_channel, _ = _SpectralMoments._centred(x, pad)
        channels, batch = by_channel.shape[:2]
        count = batch * h_out * w_out
        quad = torch.einsum("cf,fa,fb->cab", grad_var, bank, bank)
        constant = (grad_mean @ bank - 2.0 * torch.bmm(quad, patch_mean[:, :, None])[..., 0]) / count
        slices = _patch_slices(k, stride, dilation, h_out, w_out)
        taps_h, taps_w = _super_patch_offsets(k, 1, dilation[0], 1), _super_patch_offsets(k, 1, dilation[1], 1)
        grad_padded = torch.zeros_like(by_channel)
        quad = quad * (2.0 / count)
        for chunk in _image_chunks(batch, channels * k * k * h_out * w_out):
            images = by_channel[:, chunk]
            grad = torch.bmm(quad, _windows(images, taps_h, taps_w, stride, (h_out, w_out)))
            grad = grad.reshape(channels, k * k, images.shape[1], h_out, w_out)
            target = grad_padded[:, chunk]
            for tap, (rows, cols) in enumerate(slices):  # col2im, in place on the views
                target[:, :, rows, cols].add_(grad[:, tap])
        # the constant part of every patch's gradient, the same for every image: scattered once
        covered = grad_padded.new_zeros(channels, 1, *grad_padded.shape[-2:])
        for tap, (rows, cols) in enumerate(slices):
            covered[:, :, rows, cols].add_(constant[:, tap, None, None, None])
        grad_padded += covered
        left, right, top, bottom = pad
        height, width = grad_padded.shape[-2:]
        grad_x = grad_padded[:, :, top : height - bottom, left : width - right]
        return grad_x.transpose(0, 1), None, None, None, None, None


def _spectral_maps(
    x: Tensor, bank: Tensor, k: int, stride: tuple[int, int], padding: object, dilation: tuple[int, int]
) -> Tensor:
    """Eq. 1: every input channel convolved with every filter of ``bank`` ``(n, k*k)``, as one
    depthwise convolution; channel ``c * n + f`` of the result is ``psi_f * x_c``."""
    channels, n = x.shape[-3], bank.shape[0]
    weight = bank.reshape(1, n, k, k).expand(channels, n, k, k).reshape(channels * n, 1, k, k)
    return F.conv2d(x, weight, None, stride, padding, dilation, channels)


def _map_statistics(
    x: Tensor, bank: Tensor, k: int, stride: tuple[int, int], dilation: tuple[int, int], pad: tuple[int, int, int, int]
) -> tuple[Tensor, Tensor]:
    """Batch mean and biased variance of the spectral maps ``psi_f * x_c`` (eq. 1), computed
    from the maps themselves: one depthwise convolution with the bank and one reduction,
    differentiated by autograd. Shapes ``(C, n)``, as :class:`_SpectralMoments` returns.

    The same statistics as the patch moments, with the ``n``-times larger maps held for
    the step; on CUDA these are a few kernels where the moments take several per chunk.
    """
    channels, n = x.shape[1], bank.shape[0]
    maps = _spectral_maps(F.pad(x, pad), bank, k, stride, 0, dilation)
    var, mean = torch.var_mean(maps, dim=(0, 2, 3), correction=0)
    return mean.reshape(channels, n), var.reshape(channels, n)


def _square_kernel_size(kernel_size: object) -> int:
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    if kh != kw:
        raise ValueError(
            f"kernel_size must be square (the DCT bank is k x k); got {kernel_size!r}"
        )
    return kh


class HarmonicConv2d(nn.Module):
    """Harmonic block: conv with kernels ``sum_f w[o, c, f] psi_f`` (eqs. 1-2), opt. spectral BN (eq. 3).

    Same geometry arguments and output shape as ``nn.Conv2d`` (square kernels
    only: ``kernel_size`` an int or ``(k, k)``; zero padding as an int, a pair,
    ``"same"`` or ``"valid"``). ``level`` is the compression lambda (keep
    frequencies ``u + v < level``; None keeps all ``k^2``) and ``norm`` the
    filter normalisation of :func:`~harmonic.dct.dct_filters`.

    Parameters: ``weight`` ``(out, in / groups, n_filters)`` and ``bias``; the
    filter bank is the buffer ``filters`` ``(n_filters, k, k)`` (in the
    state_dict, follows ``.to()``). With ``spectral_bn=True``, ``bn`` is a
    ``BatchNorm2d(in_channels * n_filters, affine=False)`` over the spectral maps
    (eq. 3 normalises by the batch mean and deviation only, as the authors' code does;
    ``spectral_bn_affine=True`` adds BN's learnable scale and shift), channel
    ``c * n_filters + f`` holding frequency ``f`` of input channel ``c``.

    The forward takes one of two exact forms (``compute_form``): ``"merged"``,
    one ``F.conv2d`` with the kernel ``sum_f w_f psi_f`` (spectral BN folded
    in, see below), or ``"patch"``, eq. 1 applied to the unfolded input patches
    (their ``n`` DCT coefficients), ``bn`` on those coefficients if the block
    has it, then eq. 2 as one matrix product. Merging costs
    ``out * in/groups * n * k^2`` multiply-adds per call (and as much again in
    backward), the patch coefficients ``positions * in * n * k^2``; ``"auto"``
    (default) takes the patch form on CPU when the merged kernel is not cached
    and the layer has few output positions for its width (deep layers, small
    images or batches; rule: :data:`PATCH_FORM_RATIO`), where it measured faster.
    On CUDA ``"auto"`` keeps the merged convolution, except for spectral BN in
    training mode, which runs the literal form (:meth:`explicit_forward`:
    depthwise conv, cuDNN's batch norm, 1x1 conv): on an H100 that measured
    faster than the folded form in 7 of 8 timings (four shapes, timed eagerly
    and as CUDA graph replays; benchmarks/README.md).

    With BN the merged form is still one ``F.conv2d``: the per-map mean and
    variance are either the running statistics (eval) or the batch statistics
    (training), computed exactly from the input's patch moments
    (``mean_f = psi_f . E[patch]``, ``var_f = psi_f^T Cov[patch] psi_f``)
    instead of materialising the ``n_filters``-times larger spectral maps
    (on CUDA, with ``compute_form="merged"``, from the maps themselves);
    BN's scale and shift are then folded into the kernel and bias, in one
    autograd node with a hand-written backward. Running statistics are
    updated as ``nn.BatchNorm2d`` does.

    Initialisation: the effective dense kernel is Kaiming-normal with
    ``mode="fan_out"``, ``nonlinearity="relu"`` (as the authors initialise
    their convolutions): coefficient ``f`` is drawn from
    ``N(0, 2 / (out * k^2) / ||psi_f||^2)``, so for the full (orthogonal) bank
    ``sum_f w_f psi_f`` has exactly the distribution of
    ``nn.init.kaiming_normal_(conv.weight, mode="fan_out")`` and a truncated
    bank gives that kernel's projection onto the kept frequencies. The bias is
    initialised like ``nn.Conv2d``'s.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _IntPair,
        stride: _IntPair = 1,
        padding: _IntPair | str = 0,
        dilation: _IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        level: int | None = None,
        spectral_bn: bool = False,
        norm: str | None = "l1",
        spectral_bn_affine: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("groups", groups),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups must divide in_channels ({in_channels}) and out_channels "
                f"({out_channels}); got {groups}"
            )
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}; got {norm!r}")
        k = _square_kernel_size(kernel_size)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = (k, k)
        self.stride = _pair(stride, "stride", 1)
        self.dilation = _pair(dilation, "dilation", 1)
        self.groups = groups
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding must be 'same', 'valid', an int or a pair; got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError("padding='same' requires stride=1 (as in nn.Conv2d)")
            self.padding: tuple[int, int] | str = padding
        else:
            self.padding = _pair(padding, "padding", 0)
        self.level = level
        self.norm = norm
        self._cache: tuple | None = None  # (key, (kernel, bias), eps) in eval/no-grad, see _cache_key
        self._compute_form = "auto"
        self.n_filters = n_filters(k, level)
        factory = {"device": device, "dtype": dtype}
        self.register_buffer("filters", dct_filters(k, level, norm=norm, **factory))
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // groups, self.n_filters, **factory)
        )
        if bias:
            self.bias: nn.Parameter | None = nn.Parameter(torch.empty(out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        self.bn: nn.BatchNorm2d | None = (
            nn.BatchNorm2d(in_channels * self.n_filters, affine=spectral_bn_affine, **factory)
            if spectral_bn
            else None
        )
        self.reset_parameters()

    @property
    def compute_form(self) -> str:
        """How the block without spectral BN is computed: ``"auto"``, ``"merged"`` or ``"patch"``.

        All three give the same output (up to float rounding); see the class docstring.
        """
        return self._compute_form

    @compute_form.setter
    def compute_form(self, value: str) -> None:
        if value not in COMPUTE_FORMS:
            raise ValueError(f"compute_form must be one of {COMPUTE_FORMS}; got {value!r}")
        self._compute_form = value

    @property
    def spectral_bn(self) -> bool:
        """Whether the spectral maps are batch-normalised (eq. 3)."""
        return self.bn is not None

    def reset_parameters(self) -> None:
        """Kaiming-normal (fan_out, relu) effective kernel; ``nn.Conv2d`` bias init."""
        k = self.kernel_size[0]
        std = math.sqrt(2.0 / (self.out_channels * k * k))
        with torch.no_grad():
            filter_norms = self.filters.flatten(1).norm(dim=1).to(self.weight.dtype)
            self.weight.normal_().mul_(std / filter_norms)
            if self.bias is not None:
                bound = 1.0 / math.sqrt(self.in_channels // self.groups * k * k)
                self.bias.uniform_(-bound, bound)
        if self.bn is not None:
            self.bn.reset_parameters()

    # ----------------------------------------------------------------- kernels
    def _bank(self, dtype: torch.dtype) -> Tensor:
        """The filter bank as a ``(n_filters, k*k)`` matrix of ``dtype``."""
        return self.filters.reshape(self.n_filters, -1).to(dtype)

    def _merge(self, weight: Tensor) -> Tensor:
        """``sum_f weight[..., f] psi_f`` (eq. 2 applied to eq. 1): ``(out, in/g, k, k)``."""
        k = self.kernel_size[0]
        merged = _bank_product(weight.reshape(-1, self.n_filters), self._bank(weight.dtype))
        return merged.reshape(self.out_channels, self.in_channels // self.groups, k, k)

    def dense_weight(self) -> Tensor:
        """The equivalent ``nn.Conv2d`` kernel ``sum_f w_f psi_f``, shape ``(out, in/groups, k, k)``.

        Without spectral BN (or before folding it) this is eq. 2 applied to
        eq. 1; the inner BN, if any, is not included.
        """
        return self._merge(self.weight)

    def _folded(self, mean: Tensor, var: Tensor) -> tuple[Tensor, Tensor]:
        """Kernel and bias of the block with BN (eq. 3) of the given statistics folded in."""
        bn = self.bn
        assert bn is not None
        scale, shift, _ = _bn_affine(mean, var, bn.weight, bn.bias, bn.eps)
        return _fold_affine(self.weight, self.bias, scale, shift, self.groups, self._bank(self.weight.dtype))

    # ---------------------------------------------------------- BN statistics
    def _padding_lrtb(self) -> tuple[int, int, int, int]:
        """Zero padding (left, right, top, bottom) that ``F.conv2d`` applies."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            k = self.kernel_size[0]
            th, tw = (d * (k - 1) for d in self.dilation)
            return (tw // 2, tw - tw // 2, th // 2, th - th // 2)
        ph, pw = self.padding  # type: ignore[misc]
        return (pw, pw, ph, ph)

    def spectral_statistics(self, x: Tensor) -> tuple[Tensor, Tensor, int]:
        """Batch mean and biased variance of the spectral maps (inputs of eq. 3), without them.

        Returns ``mean``, ``var`` (shape ``(in_channels * n_filters,)``, channel
        order of ``bn``) and the number of values per map. Computed from the
        patch moments: ``mean_f = psi_f . E[P]``, ``var_f = psi_f^T Cov[P] psi_f``
        over all patches ``P`` the convolution sees (zero padding included),
        in at least float32 with autocast off. Differentiable in ``x`` (once),
        with a hand-written backward that also avoids the spectral maps.
        On CUDA they come from the spectral maps instead (:func:`_map_statistics`:
        a depthwise convolution and a reduction, where the chunked moments launch
        many small kernels).
        """
        compute_dtype = torch.promote_types(x.dtype, torch.float32)
        statistics = _SpectralMoments.apply if x.device.type == "cpu" else _map_statistics
        with torch.autocast(device_type=x.device.type, enabled=False):
            bank = self._bank(compute_dtype)
            mean, var = statistics(
                x.to(compute_dtype),
                bank,
                self.kernel_size[0],
                self.stride,
                self.dilation,
                self._padding_lrtb(),
            )
        return mean.reshape(-1), var.reshape(-1), self._output_positions(x)

    def _batch_norm_statistics(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and variance BN normalises with, updating running stats as ``nn.BatchNorm2d``."""
        bn = self.bn
        assert bn is not None
        if not self._uses_batch_statistics():
            return bn.running_mean, bn.running_var  # type: ignore[return-value]
        mean, var, count = self.spectral_statistics(x)
        if bn.training and bn.track_running_stats and bn.running_mean is not None:
            factor = 0.0 if bn.momentum is None else bn.momentum
            if bn.num_batches_tracked is not None:
                bn.num_batches_tracked.add_(1)
                if bn.momentum is None:
                    factor = 1.0 / float(bn.num_batches_tracked)
            with torch.no_grad():
                bn.running_mean.lerp_(mean.detach().to(bn.running_mean.dtype), factor)
                unbiased = var.detach() * (count / (count - 1))
                bn.running_var.lerp_(unbiased.to(bn.running_var.dtype), factor)
        return mean, var

    # ----------------------------------------------------------------- forward
    def _conv_parameters(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Kernel and bias of the single convolution (merged; spectral BN folded in)."""
        if self.bn is None:
            return self.dense_weight(), self.bias
        return self._folded(*self._batch_norm_statistics(x))

    def _cache_key(self) -> list[tuple[Tensor, int]] | None:
        """Every tensor the kernel depends on with its version, or None if it may not be cached.

        The merged kernel is cached only in eval mode when autograd is not
        recording (``torch.no_grad()`` or frozen parameters) and BN, if any,
        uses running statistics: then it depends on these tensors alone, and
        in-place updates (optimizer steps, ``load_state_dict``) bump versions.
        The key holds the tensors themselves, so a replaced tensor never
        matches (its memory or id cannot be reused while cached).
        """
        if self.training or _is_compiling():
            return None
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            return None
        tensors = [self.weight, self.bias, self.filters]
        if self.bn is not None:
            if self.bn.training or self.bn.running_mean is None:
                return None
            tensors += [self.bn.weight, self.bn.bias, self.bn.running_mean, self.bn.running_var]
        try:
            return [(t, t._version) for t in tensors if t is not None]
        except RuntimeError:  # inference tensors have no version counter
            return None

    def _cached(self, key: list[tuple[Tensor, int]]) -> tuple[Tensor, Tensor | None] | None:
        if self._cache is None or len(self._cache[0]) != len(key):
            return None
        same = all(a is b and va == vb for (a, va), (b, vb) in zip(self._cache[0], key, strict=True))
        return self._cache[1] if same and self._cache[2] == self._eps() else None

    def _eps(self) -> float | None:
        return None if self.bn is None else self.bn.eps

    def _output_positions(self, x: Tensor) -> int:
        """Number of output positions (batch * height * width) of the convolution on ``x``."""
        h_out, w_out = _output_size(x.shape[-2:], self.kernel_size[0], self.stride, self.dilation,
                                    self._padding_lrtb())
        return x.shape[0] * h_out * w_out

    def _uses_batch_statistics(self) -> bool:
        """Whether spectral BN normalises with batch statistics (training, or no running stats)."""
        bn = self.bn
        return bn is not None and (bn.training or (bn.running_mean is None and bn.running_var is None))

    def _symmetric_padding(self) -> tuple[int, int] | None:
        """Padding as ``(height, width)`` if ``F.conv2d`` pads symmetrically, else None."""
        left, right, top, bottom = self._padding_lrtb()
        return (top, left) if left == right and top == bottom else None

    def _explicit_on_device(self, x: Tensor) -> bool:
        """Whether ``"auto"`` runs spectral BN in training as the literal form (not on CPU)."""
        return self.compute_form == "auto" and x.device.type != "cpu" and x.dim() == 4

    def _use_patch_form(self, x: Tensor) -> bool:
        form = self.compute_form
        if form == "merged" or x.dim() != 4:
            return False
        if form == "patch":
            return True
        if x.device.type != "cpu":  # see PATCH_FORM_RATIO: CUDA keeps the merged convolution
            return False
        return self._output_positions(x) * self.n_filters * self.groups <= PATCH_FORM_RATIO * self.out_channels

    def patch_forward(self, x: Tensor) -> Tensor:
        """Eqs. 1-3 on patches: the DCT coefficients of every ``k x k`` input patch (eq. 1 at
        each output position), spectral BN on them (eq. 3, ``self.bn`` in its current mode) if
        the block has it, then their learned combination (eq. 2). Same output as the single
        convolution of :meth:`forward`.

        Layout: one row per (output position, input channel) holding that patch's ``k*k``
        values, so eq. 1 is one matrix product with the bank; its result, viewed as one row per
        position with the ``in * n`` coefficients (channel ``c * n + f``, as ``bn`` expects), is
        normalised as a batch of positions and multiplied by the weights as they are stored.
        Measured against indexing the weights per group and a product per image and channel:
        512->512 on 2x2 inputs 0.93x instead of 1.20x conv at batch 2, 0.81x instead of 1.19x at
        batch 16 (forward + backward, CPU).
        """
        k, n, g = self.kernel_size[0], self.n_filters, self.groups
        channels, out_channels = self.in_channels, self.out_channels
        pad = self._padding_lrtb()
        h_out, w_out = _output_size(x.shape[-2:], k, self.stride, self.dilation, pad)
        rows = x.shape[0] * h_out * w_out
        if any(pad):
            x = F.pad(x, pad)
        dh, dw = self.dilation
        taps_h, taps_w = _super_patch_offsets(k, 1, dh, 1), _super_patch_offsets(k, 1, dw, 1)
        windows = _window_view(x, taps_h, taps_w, self.stride, (h_out, w_out))
        patches = windows.permute(0, 2, 3, 1, 4, 5).reshape(rows * channels, k * k)  # (N Ho Wo C, k^2)
        spectra = _bank_product(patches, self._bank(x.dtype).T).reshape(rows, channels * n)
        if self.bn is not None:  # a batch of `rows` positions with in * n channels
            spectra = self.bn(spectra.reshape(rows, channels * n, 1, 1)).reshape(rows, channels * n)
        if g == 1:
            weight = self.weight.reshape(out_channels, channels * n)
            out = spectra @ weight.T if self.bias is None else torch.addmm(self.bias, spectra, weight.T)
        else:
            per_group = spectra.reshape(rows, g, (channels // g) * n).transpose(0, 1)
            weight = self.weight.reshape(g, out_channels // g, (channels // g) * n)
            out = torch.bmm(per_group, weight.transpose(1, 2)).transpose(0, 1).reshape(rows, out_channels)
            if self.bias is not None:
                out = out + self.bias
        return out.reshape(-1, h_out, w_out, out_channels).permute(0, 3, 1, 2).contiguous()

    def forward(self, x: Tensor) -> Tensor:
        """The block: one convolution with the merged (with spectral BN, folded) kernel, or
        :meth:`patch_forward` when ``compute_form`` selects it, or on CUDA with spectral BN in
        training :meth:`explicit_forward` (see the class docstring)."""
        key = self._cache_key()
        if key is not None:
            cached = self._cached(key)
            if cached is None:
                cached = self._conv_parameters(x)
                self._cache = (key, cached, self._eps())
            return F.conv2d(x, *cached, self.stride, self.padding, self.dilation, self.groups)
        if self._uses_batch_statistics():
            if self._output_positions(x) < 2:  # every form, as nn.BatchNorm2d
                raise ValueError(
                    f"spectral BN needs more than 1 value per channel when training; got input {tuple(x.shape)}"
                )
            if self._explicit_on_device(x):
                return self.explicit_forward(x)
        if self._use_patch_form(x):
            return self.patch_forward(x)
        bn = self.bn
        padding = None if bn is None else self._symmetric_padding()
        if padding is None or x.dim() != 4 or torch.is_autocast_enabled(x.device.type):
            kernel, bias = self._conv_parameters(x)  # autograd records the merge and the fold
            return F.conv2d(x, kernel, bias, self.stride, self.padding, self.dilation, self.groups)
        mean, var = self._batch_norm_statistics(x)
        geometry = (self.stride, padding, self.dilation, self.groups)
        return _FoldedSpectralConv.apply(
            x, self.weight, self.bias, bn.weight, bn.bias, mean, var, self._bank(self.weight.dtype), bn.eps, geometry
        )

    def train(self, mode: bool = True) -> HarmonicConv2d:
        self._cache = None
        return super().train(mode)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = None  # copies and pickles do not carry the cached kernel
        return state

    def _apply(self, fn, recurse=True):  # type: ignore[override]
        self._cache = None  # .to(), .half(), ... : the cached kernel would be stale
        return super()._apply(fn, recurse)

    def explicit_forward(self, x: Tensor) -> Tensor:
        """The literal block: depthwise DCT conv (eq. 1), spectral BN (eq. 3), 1x1 combination (eq. 2).

        Equal to :meth:`forward` (up to float rounding), but materialises the
        ``n_filters``-times larger spectral maps; this is what the original
        implementation computes. Runs ``self.bn`` as a module (so it updates
        its running statistics in training mode).
        """
        n = self.n_filters
        spectra = _spectral_maps(x, self._bank(x.dtype), self.kernel_size[0], self.stride, self.padding, self.dilation)
        if self.bn is not None:
            spectra = self.bn(spectra)
        combine = self.weight.reshape(self.out_channels, (self.in_channels // self.groups) * n, 1, 1)
        return F.conv2d(spectra, combine, self.bias, groups=self.groups)

    # -------------------------------------------------------------- conversion
    @classmethod
    def from_conv(
        cls,
        conv: nn.Conv2d,
        level: int | None = None,
        norm: str | None = "l1",
        spectral_bn: bool = False,
        project_weights: bool = True,
        spectral_bn_affine: bool = False,
    ) -> HarmonicConv2d:
        """Harmonic block with the geometry, dtype, device and mode of ``conv``, its kernel projected.

        The coefficients are the least-squares projection of each ``k x k``
        kernel onto the DCT filters (exact for the full bank, so outputs are
        identical; lambda truncation drops the high frequencies). The bias is
        copied. With ``spectral_bn=True`` the new BN starts as the identity in
        eval mode: running mean 0 and running variance ``1 - eps`` (so that
        ``sqrt(var + eps) = 1``; with ``spectral_bn_affine``, weight 1 and bias 0); in training mode it
        normalises with batch statistics, as any BN does. With
        ``project_weights=False`` only the geometry is taken (fresh init).
        """
        if not isinstance(conv, nn.Conv2d):
            raise ValueError(f"conv must be an nn.Conv2d; got {type(conv).__name__}")
        if conv.padding_mode != "zeros":
            raise ValueError(
                f"conv.padding_mode must be 'zeros' to convert; got {conv.padding_mode!r}"
            )
        layer = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
            level=level,
            spectral_bn=spectral_bn,
            norm=norm,
            spectral_bn_affine=spectral_bn_affine,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
        )
        if not project_weights:
            return layer.train(conv.training)
        with torch.no_grad():
            layer.weight.copy_(dct_coefficients(conv.weight, layer.filters))
            if conv.bias is not None:
                layer.bias.copy_(conv.bias)  # type: ignore[union-attr]
            if layer.bn is not None:
                layer.bn.running_var.fill_(1.0 - layer.bn.eps)  # type: ignore[union-attr]
        return layer.train(conv.training)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding!r}"
        )
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return (
            f"{text}, level={self.level}, n_filters={self.n_filters}, "
            f"spectral_bn={self.spectral_bn}, norm={self.norm!r}"
            + (", spectral_bn_affine=True" if self.bn is not None and self.bn.affine else "")
        )
