"""Periodic activations for harmonic layers.

Every function acts elementwise on pre-activations ``z`` of shape ``(N, n)``;
per-neuron arguments (``omega``, ``alpha``) have shape ``(n,)`` and broadcast
over the batch. A neuron with frequency f_i has angular frequency
``omega_i = 2 pi / f_i`` (:func:`angular_frequency`), so ``sin(omega_i z)`` has
period f_i in z.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "ACTIVATIONS",
    "angular_frequency",
    "harmonic_activation",
    "sine_activation",
    "siren_activation",
    "snake_activation",
]

#: Accepted values of ``activation``.
ACTIVATIONS: tuple[str, ...] = ("harmonic", "sine", "siren", "snake")

TWO_PI = 2.0 * math.pi


def angular_frequency(frequencies: Tensor) -> Tensor:
    """``omega_i = 2 pi / f_i``: the factor that gives ``sin(omega_i z)`` period f_i."""
    return TWO_PI / frequencies


class _SineResidual(torch.autograd.Function):
    """``y = sin(omega z) + r z``, saving only ``z`` and ``omega``.

    Backward: ``dy/dz = omega cos(omega z) + r`` and ``dy/domega = z cos(omega z)``,
    recomputing ``cos(omega z)`` from ``z``. Compared with the composite
    ``torch.sin(z * omega) + r * z`` it allocates one tensor instead of three
    (forward) or five (backward) per call; under ``create_graph=True`` the backward
    uses differentiable out-of-place ops, so double backward works.
    """

    @staticmethod
    def forward(ctx: Any, z: Tensor, omega: Tensor, residual_scale: float) -> Tensor:
        ctx.save_for_backward(z, omega)
        ctx.residual_scale = residual_scale
        out = torch.mul(z, omega).sin_()
        return out.add_(z, alpha=residual_scale) if residual_scale != 0 else out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        z, omega = ctx.saved_tensors
        r = ctx.residual_scale
        need_z, need_omega = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_z = grad_omega = None
        if torch.is_grad_enabled():  # create_graph=True: keep the graph differentiable
            cos = torch.cos(z * omega)
            if need_omega:
                grad_omega = (grad * cos * z).sum_to_size(omega.shape)
            if need_z:
                grad_z = (grad * (cos * omega + r)).sum_to_size(z.shape)
            return grad_z, grad_omega, None
        cos = torch.mul(z, omega).cos_()
        if need_omega:
            grad_omega = (grad * cos * z).sum_to_size(omega.shape)
        if need_z:
            grad_z = cos.mul_(omega).add_(r).mul_(grad).sum_to_size(z.shape)
        return grad_z, grad_omega, None


def harmonic_activation(z: Tensor, omega: Tensor, residual_scale: float = 0.1) -> Tensor:
    """Seed activation ``sin(omega_i z) + r z`` = ``sin(2 pi z / f_i) + 0.1 z`` for r = 0.1.

    The linear term ``r z`` (the seed's "residual connection") keeps the gradient
    from vanishing where ``cos(omega_i z) = 0``.
    """
    return _SineResidual.apply(z, omega, residual_scale)


def sine_activation(z: Tensor, omega: Tensor) -> Tensor:
    """Pure sine ``sin(omega_i z)`` = ``sin(2 pi z / f_i)``: the seed activation without ``0.1 z``."""
    return _SineResidual.apply(z, omega, 0.0)


def siren_activation(z: Tensor, omega0: float = 30.0) -> Tensor:
    """SIREN activation ``sin(omega_0 z)`` with one ``omega_0`` for all neurons.

    Sitzmann et al. 2020, "Implicit Neural Representations with Periodic
    Activation Functions", which uses ``omega_0 = 30``. Frequency-independent:
    the neurons' f_i are not used.
    """
    return torch.sin(z * omega0)


def snake_activation(z: Tensor, alpha: Tensor) -> Tensor:
    """Snake ``z + sin^2(alpha_i z) / alpha_i`` (Ziyin et al. 2020, "Neural Networks Fail to
    Learn Periodic Functions and How to Fix It", NeurIPS).

    Harmonic layers pass ``alpha_i = omega_i = 2 pi / f_i``; since
    ``sin^2(a z) = (1 - cos(2 a z)) / 2`` the periodic part then has period f_i / 2.
    """
    return torch.addcdiv(z, torch.sin(z * alpha).square(), alpha)
