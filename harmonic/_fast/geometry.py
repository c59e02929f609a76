"""Where a ``k x k`` convolution reads its input: output size, zero padding, window views.

The fast forms never materialise the spectral maps; they read the input patches instead,
as strided views of the padded input (im2col without a copy where the offsets are evenly
spaced). These helpers compute that geometry exactly as ``F.conv2d`` does. The measurements
that made views worth it are recorded in ``benchmarks/README.md``.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

__all__ = [
    "Window",
    "offset_index",
    "output_size",
    "padding_lrtb",
    "patch_slices",
    "super_patch_offsets",
    "symmetric_padding",
    "window_view",
    "windows",
]


def output_size(
    size: tuple[int, ...],
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


class Window(NamedTuple):
    """The geometry of a square convolution: kernel size, stride, dilation, padding (l, r, t, b)."""

    k: int
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int, int, int]

    def output_size(self, size: tuple[int, ...]) -> tuple[int, int]:
        """Output height and width on an input of spatial ``size``."""
        return output_size(size, self.k, self.stride, self.dilation, self.pad)

    def positions(self, x: Tensor) -> int:
        """Number of output positions (batch * height * width) of the convolution on ``x``."""
        h_out, w_out = self.output_size(x.shape[-2:])
        return x.shape[0] * h_out * w_out


def padding_lrtb(padding: tuple[int, int] | str, k: int, dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """Zero padding (left, right, top, bottom) that ``F.conv2d`` applies for ``padding``."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        th, tw = (d * (k - 1) for d in dilation)
        return (tw // 2, tw - tw // 2, th // 2, th - th // 2)
    ph, pw = padding  # type: ignore[misc]
    return (pw, pw, ph, ph)


def symmetric_padding(pad: tuple[int, int, int, int]) -> tuple[int, int] | None:
    """Padding (left, right, top, bottom) as ``(height, width)`` if symmetric, else None."""
    left, right, top, bottom = pad
    return (top, left) if left == right and top == bottom else None


def patch_slices(
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


def offset_index(offsets: list[int]) -> slice | list[int]:
    """Sorted ``offsets`` starting at 0 as a slice where they are evenly spaced (a view), else as they are."""
    step = offsets[1] - offsets[0] if len(offsets) > 1 else 1
    return slice(None, None, step) if offsets == list(range(0, offsets[-1] + 1, step)) else offsets


def window_view(
    images: Tensor, rows: list[int], cols: list[int], step: tuple[int, int], count: tuple[int, int]
) -> Tensor:
    """The values at ``rows x cols`` offsets of the first ``count`` windows (spaced by ``step``) of the
    4-D ``images``, as ``(A, B, count_h, count_w, len(rows), len(cols))``: a view where the offsets
    are evenly spaced (always for single patches), a gathered copy otherwise."""
    unfolded = images.unfold(2, rows[-1] + 1, step[0]).unfold(3, cols[-1] + 1, step[1])[:, :, : count[0], : count[1]]
    return unfolded[..., offset_index(rows), :][..., offset_index(cols)]


def windows(
    images: Tensor, rows: list[int], cols: list[int], step: tuple[int, int], count: tuple[int, int]
) -> Tensor:
    """:func:`window_view` of ``images`` ``(C, N, H, W)`` as ``(C, len(rows) * len(cols), N * windows)``:
    im2col by one strided copy (offsets row-major, as :func:`patch_slices` orders the taps)."""
    view = window_view(images, rows, cols, step, count)
    return view.permute(0, 4, 5, 1, 2, 3).reshape(images.shape[0], len(rows) * len(cols), -1)


def super_patch_offsets(k: int, stride: int, dilation: int, m: int) -> list[int]:
    """Offsets (rows or columns) of the padded input covered by ``m`` adjacent patches."""
    return sorted({a * stride + i * dilation for a in range(m) for i in range(k)})
