"""The seed's ``FrequencyAwareOptimizer``: gradients of neuron i scaled by ``1 / (1 + c f_i)``.

Implemented as hooks on the optimizer the caller built (torch's step pre-hook and
state-dict hooks), so the result *is* that optimizer: its ``param_groups``,
``state``, LR schedulers, closures and ``state_dict`` work as they always do.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from harmonic.mlp.model import HarmonicLayer

__all__ = ["FrequencyAwareOptimizer", "frequency_grad_scale", "scale_frequency_gradients"]

#: Key that :func:`FrequencyAwareOptimizer` adds to the optimizer's ``state_dict``.
STATE_KEY = "freq_scale_factor"


def frequency_grad_scale(frequencies: Tensor, freq_scale_factor: float = 0.1) -> Tensor:
    """Gradient scale ``1 / (1 + c f_i)`` of the seed's optimizer (c = ``freq_scale_factor``)."""
    return 1.0 / (1.0 + freq_scale_factor * frequencies)


@torch.no_grad()
def scale_frequency_gradients(model: nn.Module, freq_scale_factor: float = 0.1) -> None:
    """Multiply row i of every :class:`HarmonicLayer`'s weight gradient and entry i of its
    bias gradient by ``1 / (1 + c f_i)``; other gradients (BN, classifier, learnable
    frequencies) are left alone."""
    for module in model.modules():
        if not isinstance(module, HarmonicLayer):
            continue
        weight, bias = module.linear.weight, module.linear.bias
        scale = frequency_grad_scale(module.frequencies.detach(), freq_scale_factor)
        if weight.grad is not None:
            weight.grad.mul_(scale.to(weight.grad).unsqueeze(1))
        if bias is not None and bias.grad is not None:
            bias.grad.mul_(scale.to(bias.grad))


def _check_freq_scale_factor(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"freq_scale_factor must be a finite number >= 0; got {value!r}")
    return float(value)


class _FrequencyScaling:
    """The hooks: scale before each step (inside the closure when one is given)."""

    def __init__(self, model: nn.Module, freq_scale_factor: float) -> None:
        self.model = model
        self.freq_scale_factor = freq_scale_factor

    def before_step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> tuple | None:
        # torch passes the step's own arguments: ``args`` starts with the optimizer itself
        closure = kwargs.get("closure", args[1] if len(args) > 1 else None)
        if closure is None:
            scale_frequency_gradients(self.model, self.freq_scale_factor)
            return None

        def scaled_closure() -> Any:  # closures (also LBFGS's re-evaluations) see scaled gradients
            loss = closure()
            scale_frequency_gradients(self.model, self.freq_scale_factor)
            return loss

        return args[:1], {**{k: v for k, v in kwargs.items() if k != "closure"}, "closure": scaled_closure}

    def save(self, optimizer: torch.optim.Optimizer, state_dict: dict[str, Any]) -> dict[str, Any]:
        state_dict[STATE_KEY] = self.freq_scale_factor
        return state_dict

    def load(self, optimizer: torch.optim.Optimizer, state_dict: dict[str, Any]) -> dict[str, Any]:
        state_dict = dict(state_dict)  # a plain optimizer state dict keeps the current factor
        self.freq_scale_factor = _check_freq_scale_factor(state_dict.pop(STATE_KEY, self.freq_scale_factor))
        return state_dict


def FrequencyAwareOptimizer(  # noqa: N802 - the seed's name for this wrapper
    optimizer: torch.optim.Optimizer, model: nn.Module, freq_scale_factor: float = 0.1
) -> torch.optim.Optimizer:
    """Make ``optimizer`` scale the gradients of ``model``'s harmonic neurons by
    ``1 / (1 + c f_i)`` (c = ``freq_scale_factor``) before each step, and return it.

    The scaling is a step pre-hook registered now, so step hooks added later see scaled
    gradients; ``state_dict()`` gains the key ``"freq_scale_factor"`` and
    ``load_state_dict`` restores it. Like every torch hook, these are not pickled.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
    scaling = _FrequencyScaling(model, _check_freq_scale_factor(freq_scale_factor))
    optimizer.register_step_pre_hook(scaling.before_step)
    optimizer.register_state_dict_post_hook(scaling.save)
    optimizer.register_load_state_dict_pre_hook(scaling.load)
    return optimizer
