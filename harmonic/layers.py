"""The harmonic block (Ulicny et al., BMVC 2019, eqs. 1-3) as a drop-in ``nn.Conv2d``.

A harmonic block filters every input channel with the fixed DCT bank ``psi_f`` (eq. 1,
:mod:`harmonic.dct`; a depthwise convolution), optionally batch-normalises the ``C_in * n``
spectral maps (eq. 3) and combines them with learned weights ``w`` (eq. 2, a 1x1 convolution):

    h_o = sum_{c, f} w[o, c, f] * (psi_f ** x_c - mu_{c,f}) / sigma_{c,f}      (eq. 3; eq. 2 without BN)

:meth:`HarmonicConv2d.explicit_forward` computes exactly that. Both stages are linear, so the
block is also one convolution with kernel ``sum_f w_f psi_f`` (:meth:`HarmonicConv2d.dense_weight`),
and with spectral BN still one once its statistics are known (BN is an affine map per spectral
channel). :meth:`HarmonicConv2d.forward` runs such an equal but cheaper form; the forms, how
they are chosen and what they cost live in :mod:`harmonic._fast` (measurements:
``benchmarks/README.md``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harmonic._fast import cache, forms
from harmonic._fast.fold import FoldedSpectralConv, bank_product, fold_bn
from harmonic._fast.forms import PATCH_FORM_RATIO
from harmonic._fast.geometry import Window, padding_lrtb, symmetric_padding
from harmonic._fast.moments import batch_statistics, normalising_statistics
from harmonic._fast.patch import patch_forward
from harmonic.dct import NORMS, dct_coefficients, dct_filters, n_filters, spectral_maps
from harmonic.init import check_init, harmonic_std

__all__ = ["COMPUTE_FORMS", "PATCH_FORM_RATIO", "HarmonicConv2d"]

#: Accepted values of :attr:`HarmonicConv2d.compute_form`.
COMPUTE_FORMS: tuple[str, ...] = ("auto", "merged", "patch")

_IntPair = int | tuple[int, int]


def _pair(value: object, name: str, minimum: int) -> tuple[int, int]:
    """``value`` as a pair of ints ``>= minimum``; ValueError naming ``name`` otherwise."""
    pair = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(pair) != 2 or any(
        isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in pair
    ):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them; got {value!r}")
    return pair  # type: ignore[return-value]


def _square_kernel_size(kernel_size: object) -> int:
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    if kh != kw:
        raise ValueError(
            f"kernel_size must be square (the DCT bank is k x k); got {kernel_size!r}"
        )
    return kh


def _check_arguments(in_channels: object, out_channels: object, groups: object, norm: object) -> None:
    for name, value in (
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("groups", groups),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    if in_channels % groups or out_channels % groups:  # type: ignore[operator]
        raise ValueError(
            f"groups must divide in_channels ({in_channels}) and out_channels "
            f"({out_channels}); got {groups}"
        )
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}; got {norm!r}")


def _padding(padding: object, stride: tuple[int, int]) -> tuple[int, int] | str:
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same', 'valid', an int or a pair; got {padding!r}")
        if padding == "same" and stride != (1, 1):
            raise ValueError("padding='same' requires stride=1 (as in nn.Conv2d)")
        return padding
    return _pair(padding, "padding", 0)


class HarmonicConv2d(nn.Module):
    """Harmonic block: conv with kernels ``sum_f w[o, c, f] psi_f`` (eqs. 1-2), opt. spectral BN (eq. 3).

    Geometry arguments and output shape as ``nn.Conv2d`` (square kernels; zero padding as an int, a
    pair, ``"same"`` or ``"valid"``); ``level`` is the compression lambda (keep ``u + v < level``; None:
    all ``k^2``), ``norm`` that of :func:`~harmonic.dct.dct_filters`. Parameters: ``weight``
    ``(out, in / groups, n_filters)`` (eq. 2's ``w``) and ``bias``; the bank ``psi`` (eq. 1) is the
    buffer ``filters`` ``(n_filters, k, k)``. ``spectral_bn=True`` adds ``bn``, a
    ``BatchNorm2d(in_channels * n_filters, affine=spectral_bn_affine)`` over the spectral maps (eq. 3:
    channel ``c * n_filters + f`` is frequency ``f`` of input channel ``c``; no learnable scale and
    shift by default, as in the authors' code), running statistics updated as ``nn.BatchNorm2d`` does.
    ``compute_form``: ``"merged"``, one ``F.conv2d`` with the kernel ``sum_f w_f psi_f`` (BN folded
    in); ``"patch"``, eqs. 1-3 on the unfolded input patches; ``"auto"`` (default), the cheaper for
    the layer and device (:mod:`harmonic._fast.forms`); all equal :meth:`explicit_forward` up to
    rounding. ``init`` (:mod:`harmonic.init`): ``"authors"`` (default), as the authors' ``Harm2d``: ``w``
    Kaiming normal with fan_out of its own tensor, std ``sqrt(2 / (out * n_filters))`` (``sqrt(2 / out)``
    with spectral BN, whose ``w`` they store as ``(out, in * n_filters, 1, 1)``), bias 0; ``"kaiming"``:
    ``w[..., f] ~ N(0, 2 / (out * k^2) / ||psi_f||^2)``, a Kaiming-normal (fan_out) dense kernel for the
    full bank (its projection for a truncated one), bias as ``nn.Conv2d``'s.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: _IntPair, stride: _IntPair = 1,
        padding: _IntPair | str = 0, dilation: _IntPair = 1, groups: int = 1, bias: bool = True,
        level: int | None = None, spectral_bn: bool = False, norm: str | None = "l1", spectral_bn_affine: bool = False,
        device: torch.device | str | None = None, dtype: torch.dtype | None = None, init: str = "authors",
    ) -> None:
        super().__init__()
        _check_arguments(in_channels, out_channels, groups, norm)
        self.init = check_init(init)
        k = _square_kernel_size(kernel_size)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (k, k)
        self.stride, self.dilation = _pair(stride, "stride", 1), _pair(dilation, "dilation", 1)
        self.groups, self.padding = groups, _padding(padding, self.stride)
        self.level, self.norm = level, norm
        self._cache: tuple | None = None  # (key, (kernel, bias), eps) in eval/no-grad: harmonic._fast.cache
        self._compute_form = "auto"
        self.n_filters = n_filters(k, level)
        factory = {"device": device, "dtype": dtype}
        self.register_buffer("filters", dct_filters(k, level, norm=norm, **factory))
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, self.n_filters, **factory))
        if bias:
            self.bias: nn.Parameter | None = nn.Parameter(torch.empty(out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        bn = nn.BatchNorm2d(in_channels * self.n_filters, affine=spectral_bn_affine, **factory) if spectral_bn else None
        self.bn: nn.BatchNorm2d | None = bn
        self.reset_parameters()

    @property
    def compute_form(self) -> str:
        """How the forward is computed: ``"auto"``, ``"merged"`` or ``"patch"`` (same output)."""
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
        """Draw ``w`` and the bias as :attr:`init` says (see the class docstring and :mod:`harmonic.init`)."""
        k = self.kernel_size[0]
        with torch.no_grad():
            if self.init == "authors":
                std = harmonic_std(self.in_channels // self.groups, self.out_channels, self.n_filters,
                                   self.bn is not None, "fan_out")
                self.weight.normal_(0.0, std)
                if self.bias is not None:
                    self.bias.zero_()
            else:
                std = math.sqrt(2.0 / (self.out_channels * k * k))
                filter_norms = self.filters.flatten(1).norm(dim=1).to(self.weight.dtype)
                self.weight.normal_().mul_(std / filter_norms)
                if self.bias is not None:
                    bound = 1.0 / math.sqrt(self.in_channels // self.groups * k * k)
                    self.bias.uniform_(-bound, bound)
        if self.bn is not None:
            self.bn.reset_parameters()

    def _bank(self, dtype: torch.dtype) -> Tensor:
        """The filter bank psi (eq. 1) as a ``(n_filters, k*k)`` matrix of ``dtype``."""
        return self.filters.reshape(self.n_filters, -1).to(dtype)

    def _window(self) -> Window:
        """Kernel size, stride, dilation and the zero padding (left, right, top, bottom) of ``F.conv2d``."""
        k = self.kernel_size[0]
        return Window(k, self.stride, self.dilation, padding_lrtb(self.padding, k, self.dilation))

    def dense_weight(self) -> Tensor:
        """The equivalent ``nn.Conv2d`` kernel ``sum_f w_f psi_f`` (eq. 2 applied to eq. 1), shape
        ``(out, in/groups, k, k)``; the inner BN (eq. 3), if any, is not included."""
        k = self.kernel_size[0]
        merged = bank_product(self.weight.reshape(-1, self.n_filters), self._bank(self.weight.dtype))
        return merged.reshape(self.out_channels, self.in_channels // self.groups, k, k)

    def explicit_forward(self, x: Tensor) -> Tensor:
        """The literal block: depthwise DCT conv (eq. 1), spectral BN (eq. 3), 1x1 combination (eq. 2).

        The reference the other forms equal; it holds the ``n_filters``-times larger spectral maps,
        as the authors' code does, and runs ``self.bn`` as a module (updating its running stats).
        """
        n = self.n_filters
        spectra = spectral_maps(x, self._bank(x.dtype), self.kernel_size[0], self.stride, self.padding, self.dilation)
        if self.bn is not None:
            spectra = self.bn(spectra)
        combine = self.weight.reshape(self.out_channels, (self.in_channels // self.groups) * n, 1, 1)
        return F.conv2d(spectra, combine, self.bias, groups=self.groups)

    def spectral_statistics(self, x: Tensor) -> tuple[Tensor, Tensor, int]:
        """Batch mean, biased variance (``mu``, ``sigma^2`` of eq. 3, ``bn``'s channel order) and values per
        spectral map, without the maps (:func:`harmonic._fast.moments.batch_statistics`)."""
        return batch_statistics(x, self.filters, self._window())

    def patch_forward(self, x: Tensor) -> Tensor:
        """Eqs. 1-3 on patches: eq. 1 at every output position, ``bn`` on the coefficients (eq. 3),
        eq. 2 as one matrix product (:func:`harmonic._fast.patch.patch_forward`)."""
        return patch_forward(x, self.weight, self.bias, self.filters, self._window(), self.groups, self.bn)

    def _conv_parameters(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Kernel and bias of the single convolution: eq. 2 merged into eq. 1, eq. 3 folded in."""
        if (bn := self.bn) is None:
            return self.dense_weight(), self.bias
        mean, var = normalising_statistics(bn, x, self.spectral_statistics)
        return fold_bn(self.weight, self.bias, mean, var, bn.weight, bn.bias, bn.eps, self.groups,
                       self._bank(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        """Eqs. 1-3, computed as :attr:`compute_form` and :mod:`harmonic._fast.forms` choose."""
        key = cache.kernel_cache_key(self.training, self.parameters(), [self.weight, self.bias, self.filters], self.bn)
        if key is not None:  # inference: the merged (folded) kernel, cached
            eps = None if self.bn is None else self.bn.eps
            if not cache.holds(self._cache, key, eps):
                self._cache = (key, self._conv_parameters(x), eps)
            return F.conv2d(x, *self._cache[1], self.stride, self.padding, self.dilation, self.groups)
        window, bn = self._window(), self.bn
        if forms.uses_batch_statistics(bn):
            if window.positions(x) < 2:  # every form, as nn.BatchNorm2d
                raise ValueError(f"spectral BN needs more than 1 value per channel when training; "
                                 f"got input {tuple(x.shape)}")
            if forms.explicit_on_device(self.compute_form, x):
                return self.explicit_forward(x)
        if forms.use_patch_form(self.compute_form, x, window, self.n_filters, self.groups, self.out_channels):
            return self.patch_forward(x)
        padding = None if bn is None else symmetric_padding(window.pad)
        if padding is None or x.dim() != 4 or torch.is_autocast_enabled(x.device.type):
            kernel, bias = self._conv_parameters(x)  # autograd records the merge and the fold
            return F.conv2d(x, kernel, bias, self.stride, self.padding, self.dilation, self.groups)
        assert bn is not None  # symmetric padding found: spectral BN, folded into one autograd node
        mean, var = normalising_statistics(bn, x, self.spectral_statistics)
        geometry = (self.stride, padding, self.dilation, self.groups)
        return FoldedSpectralConv.apply(x, self.weight, self.bias, bn.weight, bn.bias, mean, var,
                                        self._bank(self.weight.dtype), bn.eps, geometry)

    def train(self, mode: bool = True) -> HarmonicConv2d:
        self._cache = None
        return super().train(mode)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_cache": None}  # copies and pickles do not carry the cached kernel

    def _apply(self, fn, recurse=True):  # type: ignore[override]
        self._cache = None  # .to(), .half(), ... : the cached kernel would be stale
        return super()._apply(fn, recurse)

    @classmethod
    def from_conv(
        cls, conv: nn.Conv2d, level: int | None = None, norm: str | None = "l1", spectral_bn: bool = False,
        project_weights: bool = True, spectral_bn_affine: bool = False, init: str = "authors",
    ) -> HarmonicConv2d:
        """Harmonic block with the geometry, dtype, device and mode of ``conv``, its kernel projected.

        ``w`` (eq. 2) is the least-squares projection of each ``k x k`` kernel onto the DCT filters
        (exact for the full bank; lambda truncation drops the high frequencies); the bias is copied.
        A spectral BN (eq. 3) starts as the identity in eval mode: running mean 0, running variance
        ``1 - eps`` (with ``spectral_bn_affine``, weight 1 and bias 0); in training mode it uses batch
        statistics, as any BN does. ``project_weights=False`` takes the geometry only (fresh init, drawn as
        ``init`` says).
        """
        if not isinstance(conv, nn.Conv2d):
            raise ValueError(f"conv must be an nn.Conv2d; got {type(conv).__name__}")
        if conv.padding_mode != "zeros":
            raise ValueError(f"conv.padding_mode must be 'zeros' to convert; got {conv.padding_mode!r}")
        layer = cls(
            conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
            dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None, level=level, norm=norm,
            spectral_bn=spectral_bn, spectral_bn_affine=spectral_bn_affine, device=conv.weight.device,
            dtype=conv.weight.dtype, init=init,
        )  # fmt: skip
        if project_weights:
            with torch.no_grad():
                layer.weight.copy_(dct_coefficients(conv.weight, layer.filters))
                if conv.bias is not None:
                    layer.bias.copy_(conv.bias)  # type: ignore[union-attr]
                if layer.bn is not None:
                    layer.bn.running_var.fill_(1.0 - layer.bn.eps)  # type: ignore[union-attr]
        return layer.train(conv.training)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}")
        text += f", dilation={self.dilation}" if self.dilation != (1, 1) else ""
        text += f", groups={self.groups}" if self.groups != 1 else ""
        text += ", bias=False" if self.bias is None else ""
        text += f", level={self.level}, n_filters={self.n_filters}, spectral_bn={self.spectral_bn}, norm={self.norm!r}"
        text += ", spectral_bn_affine=True" if self.bn is not None and self.bn.affine else ""
        return text + (f", init={self.init!r}" if self.init != "authors" else "")
