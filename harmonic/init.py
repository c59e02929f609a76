"""Initial weights of the paper's networks: the authors' recipe, and the alternative kept beside it.

The paper does not say how its networks start; the authors' code does, and it draws every weight
tensor from a Kaiming normal of *that tensor's own shape*. For eq. 2's coefficients ``w``, stored
``(out, in, n_filters, 1, 1)``, the fan counts the ``n_filters`` frequencies, so every frequency
starts with the same spread (unlike a dense kernel projected on the DCT filters). Two recipes, by
name (:data:`INITS`):

``"authors"``
    CIFAR WRNs (their ``utils.py``, from Zagoruyko's WRN code, used by ``cifar/models/*.py``):
    ``kaiming_normal_`` with its defaults, i.e. fan_in and gain sqrt(2), for every convolution
    (stem, 3x3, 1x1 shortcut), every block of harmonic coefficients (std
    ``sqrt(2 / (in * n_filters))``, the stem's ``(out, in * n_filters, 1, 1)`` tensor gives the same)
    and the classifier; BN weights ``U(0, 1)`` (``torch.rand``), every bias 0
    (:func:`init_wrn_authors`). ImageNet ResNets (``imagenet/models/resnet.py`` and ``Harm2d`` in
    ``harmonic/modules.py``): torchvision's init for convolutions (fan_out), BN (1, 0) and the
    classifier (PyTorch's default); harmonic coefficients Kaiming normal with fan_out of their own
    tensor: std ``sqrt(2 / (out * n_filters))``, or ``sqrt(2 / out)`` with spectral BN, whose
    coefficients are stored ``(out, in * n_filters, 1, 1)``; bias 0. That is
    :class:`~harmonic.layers.HarmonicConv2d`'s own default.

``"kaiming"``
    The recipe this companion used before it followed the authors: convolutions Kaiming normal
    with fan_out, BN weights 1, PyTorch's default classifier weights, and each harmonic block drawn
    so that its kernel ``sum_f w_f psi_f`` is distributed as a Kaiming-normal (fan_out) dense kernel:
    ``w_f ~ N(0, 2 / (out * k^2) / ||psi_f||^2)``. A harmonic network then equals its plain twin in
    distribution at step 0; with the L1-normalised filters (``||psi_f||_2`` between 1/3 and 1/2 for
    k = 3) its coefficients start 2-3 times larger than the authors'.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["INITS", "check_init", "harmonic_std", "init_wrn_authors"]

#: Names of the initial-weight recipes (see the module docstring); the first is the default.
INITS: tuple[str, ...] = ("authors", "kaiming")


def check_init(init: object) -> str:
    """``init`` if it names a recipe of :data:`INITS`; a ValueError naming the parameter otherwise."""
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init must be one of {list(INITS)}; got {init!r}")
    return init


def harmonic_std(in_per_group: int, out_channels: int, n_filters: int, spectral_bn: bool, mode: str) -> float:
    """Std of the authors' Kaiming-normal draw of eq. 2's coefficients ``w`` (gain sqrt(2)).

    ``mode="fan_in"`` (CIFAR code): ``sqrt(2 / (in * n_filters))`` whatever the layout.
    ``mode="fan_out"`` (``Harm2d``): ``sqrt(2 / (out * n_filters))`` for ``(out, in, n_filters, 1, 1)``;
    with spectral BN the coefficients are ``(out, in * n_filters, 1, 1)``: ``sqrt(2 / out)``.
    """
    if mode == "fan_in":
        fan = in_per_group * n_filters
    elif mode == "fan_out":
        fan = out_channels * (1 if spectral_bn else n_filters)
    else:
        raise ValueError(f"mode must be 'fan_in' or 'fan_out'; got {mode!r}")
    return math.sqrt(2.0 / fan)


@torch.no_grad()
def init_wrn_authors(model: nn.Module) -> nn.Module:
    """Redraw every parameter of a (harmonic) WRN as the authors' CIFAR code does; returns ``model``.

    Convolutions and the classifier: Kaiming normal, fan_in, gain sqrt(2); harmonic coefficients
    (eq. 2's ``w``): ``N(0, 2 / (in * n_filters))`` (:func:`harmonic_std`, ``"fan_in"``); affine BN
    weights ``U(0, 1)``; every bias 0. Running statistics are reset.
    """
    from harmonic.layers import HarmonicConv2d

    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(module, HarmonicConv2d):
            in_per_group = module.in_channels // module.groups
            std = harmonic_std(in_per_group, module.out_channels, module.n_filters, module.spectral_bn, "fan_in")
            module.weight.normal_(0.0, std)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            if module.affine:
                module.weight.uniform_(0.0, 1.0)
        else:
            continue
        bias = getattr(module, "bias", None)
        if isinstance(bias, nn.Parameter):
            bias.zero_()
    return model
