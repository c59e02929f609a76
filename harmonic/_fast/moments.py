"""Spectral-BN batch statistics (the inputs of eq. 3) without the spectral maps.

In training, eq. 3 normalises each spectral map ``psi_f * x_c`` (eq. 1) by its batch mean and
variance. These are linear and quadratic in the input patches ``P``:
``mean_f = psi_f . E[P]`` and ``var_f = psi_f^T Cov[P] psi_f``, so on CPU they are computed from
the patch moments (sum and Gram matrix of all patches the convolution sees, zero padding
included), in chunks of images, with a hand-written backward; the ``n``-times larger maps are
never held. On CUDA the chunked moments launch many small kernels, so there the statistics come
from the maps themselves (:func:`map_statistics`). :func:`normalising_statistics` returns what BN
normalises with and updates the running statistics as ``nn.BatchNorm2d`` does. Measurements of
both choices: ``benchmarks/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from harmonic._fast.forms import uses_batch_statistics
from harmonic.dct import spectral_maps
from harmonic._fast.geometry import Window, output_size, patch_slices, super_patch_offsets, windows

__all__ = [
    "CHUNK_ELEMENTS",
    "SpectralMoments",
    "batch_statistics",
    "centred",
    "image_chunks",
    "map_statistics",
    "normalising_statistics",
    "patch_moments",
    "super_patch_shape",
]

#: Patch values materialised at a time by the spectral BN statistics (bounds their memory).
CHUNK_ELEMENTS = 1 << 20


def image_chunks(batch: int, per_image: int) -> list[slice]:
    """Slices of the batch holding about :data:`CHUNK_ELEMENTS` patch values each."""
    step = max(1, CHUNK_ELEMENTS // max(per_image, 1))
    return [slice(start, start + step) for start in range(0, batch, step)]


def super_patch_shape(
    k: int, stride: tuple[int, int], dilation: tuple[int, int], h_out: int, w_out: int
) -> tuple[int, int]:
    """Patches per super-patch ``(mh, mw)``: fewest multiply-adds per patch in the Gram GEMM.

    A super-patch of ``mh x mw`` adjacent patches has ``S`` values (the union of
    their taps), and its Gram matrix costs ``S^2 / (mh mw)`` per patch against
    ``k^4`` for single patches: for 3x3, stride 1, ``2 x 2`` gives 64 instead of
    81 and copies 4 instead of 9 values per patch. ``mh``/``mw`` must divide the
    output size.
    """
    def cost(mh: int, mw: int) -> float:
        size = len(super_patch_offsets(k, stride[0], dilation[0], mh)) * len(
            super_patch_offsets(k, stride[1], dilation[1], mw)
        )
        return size * size / (mh * mw)

    shapes = [(mh, mw) for mh in (1, 2, 4) for mw in (1, 2, 4) if h_out % mh == 0 and w_out % mw == 0]
    return min(shapes, key=lambda shape: (cost(*shape), shape))


def patch_moments(
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
    "super-patch" (the union of their taps, see :func:`super_patch_shape`); the
    Gram matrix of a patch pair is then the sum over the ``mh * mw`` positions of
    entries of the super-patch Gram matrix. Images are processed in chunks.
    """
    (sh, sw), (dh, dw) = stride, dilation
    mh, mw = super_patch_shape(k, stride, dilation, h_out, w_out)
    rows, cols = super_patch_offsets(k, sh, dh, mh), super_patch_offsets(k, sw, dw, mw)
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
    for chunk in image_chunks(batch, channels * size * gh * gw):
        patches = windows(by_channel[:, chunk], rows, cols, (mh * sh, mw * sw), (gh, gw))
        gram.baddbmm_(patches, patches.transpose(1, 2))
        total += patches.sum(dim=-1)
    return total[:, index].sum(-1), gram[:, index[:, None, :], index[None, :, :]].sum(-1)


def centred(x: Tensor, pad: tuple[int, int, int, int]) -> tuple[Tensor, Tensor]:
    """Padded input as ``(C, N, H_pad, W_pad)`` minus a per-channel constant, and that constant.

    The shift leaves the covariance unchanged and avoids cancellation in
    ``E[P P^T] - E[P] E[P]^T``.
    """
    padded = F.pad(x, pad)
    centre = padded.mean(dim=(0, 2, 3), keepdim=True)
    return (padded - centre).transpose(0, 1), centre.reshape(-1, 1)


class SpectralMoments(torch.autograd.Function):
    """Batch mean and variance of the spectral maps ``psi_f * x_c`` from patch moments.

    Forward: ``mean[c, f] = psi_f . E[P_c]`` and ``var[c, f] = psi_f^T Cov[P_c] psi_f``
    with ``P_c`` the ``k*k`` patches of channel ``c`` (shape ``(C, n)`` each).
    Backward: the gradient on patch ``l`` is
    ``(psi^T g_mean + 2 A (P_l - E[P])) / L`` with ``A = sum_f g_var[f] psi_f psi_f^T``,
    scattered back onto the input (col2im by strided views). Both passes work
    on chunks of images, so memory stays well below that of the spectral maps.
    Arguments: ``(x, bank, k, stride, dilation, pad)``, ``bank`` ``(n, k*k)``.
    """

    @staticmethod
    def forward(ctx, x, bank, k, stride, dilation, pad):  # type: ignore[override]
        by_channel, centre = centred(x, pad)
        h_out, w_out = output_size(x.shape[-2:], k, stride, dilation, pad)
        count = x.shape[0] * h_out * w_out
        total, gram = patch_moments(by_channel, k, stride, dilation, h_out, w_out)
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
        by_channel, _ = centred(x, pad)
        channels, batch = by_channel.shape[:2]
        count = batch * h_out * w_out
        quad = torch.einsum("cf,fa,fb->cab", grad_var, bank, bank)
        constant = (grad_mean @ bank - 2.0 * torch.bmm(quad, patch_mean[:, :, None])[..., 0]) / count
        slices = patch_slices(k, stride, dilation, h_out, w_out)
        taps_h, taps_w = super_patch_offsets(k, 1, dilation[0], 1), super_patch_offsets(k, 1, dilation[1], 1)
        grad_padded = torch.zeros_like(by_channel)
        quad = quad * (2.0 / count)
        for chunk in image_chunks(batch, channels * k * k * h_out * w_out):
            images = by_channel[:, chunk]
            grad = torch.bmm(quad, windows(images, taps_h, taps_w, stride, (h_out, w_out)))
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


def map_statistics(
    x: Tensor, bank: Tensor, k: int, stride: tuple[int, int], dilation: tuple[int, int], pad: tuple[int, int, int, int]
) -> tuple[Tensor, Tensor]:
    """Batch mean and biased variance of the spectral maps ``psi_f * x_c`` (eq. 1), computed
    from the maps themselves: one depthwise convolution with the bank and one reduction,
    differentiated by autograd. Shapes ``(C, n)``, as :class:`SpectralMoments` returns.

    The same statistics as the patch moments, with the ``n``-times larger maps held for
    the step; on CUDA these are a few kernels where the moments take several per chunk.
    """
    channels, n = x.shape[1], bank.shape[0]
    maps = spectral_maps(F.pad(x, pad), bank, k, stride, 0, dilation)
    var, mean = torch.var_mean(maps, dim=(0, 2, 3), correction=0)
    return mean.reshape(channels, n), var.reshape(channels, n)


def batch_statistics(x: Tensor, filters: Tensor, window: Window) -> tuple[Tensor, Tensor, int]:
    """Batch mean and biased variance of the spectral maps of ``x`` (inputs of eq. 3), without them.

    ``filters`` is the bank ``(n, k, k)``. Returns ``mean``, ``var`` (shape ``(C * n,)``, channel
    ``c * n + f``) and the number of values per map; in at least float32 with autocast off,
    from :class:`SpectralMoments` on CPU and :func:`map_statistics` elsewhere.
    """
    compute_dtype = torch.promote_types(x.dtype, torch.float32)
    statistics = SpectralMoments.apply if x.device.type == "cpu" else map_statistics
    with torch.autocast(device_type=x.device.type, enabled=False):
        bank = filters.reshape(filters.shape[0], -1).to(compute_dtype)
        mean, var = statistics(x.to(compute_dtype), bank, *window)
    return mean.reshape(-1), var.reshape(-1), window.positions(x)


def normalising_statistics(
    bn: nn.BatchNorm2d, x: Tensor, statistics: Callable[[Tensor], tuple[Tensor, Tensor, int]]
) -> tuple[Tensor, Tensor]:
    """Mean and variance ``bn`` normalises with (eq. 3): its running statistics, or the batch's
    ``statistics(x)`` with the running statistics updated as ``nn.BatchNorm2d`` does."""
    if not uses_batch_statistics(bn):
        return bn.running_mean, bn.running_var  # type: ignore[return-value]
    mean, var, count = statistics(x)
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
