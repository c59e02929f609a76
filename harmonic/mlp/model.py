"""The Harmonic MLP and its ReLU baseline.

Reproduces the public "Harmonic MLP" seed (vectorized): hidden neuron i of a
:class:`HarmonicLayer` has frequency f_i (:mod:`harmonic.mlp.frequencies`) and
computes ``sin(2 pi z_i / f_i) + 0.1 z_i`` on ``z = W x + b``
(:mod:`harmonic.mlp.activations`). Rows of W and entries of b start at
``U(+-1/sqrt(fan_in)) * s_i`` with ``s_i = f_i^{-1/2} / mean_j f_j^{-1/2}``, and
:func:`~harmonic.mlp.optim.FrequencyAwareOptimizer` multiplies their gradients by
``1 / (1 + c f_i)`` (c = ``freq_scale_factor`` = 0.1) before each step.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from harmonic.mlp.activations import (
    ACTIVATIONS,
    angular_frequency,
    harmonic_activation,
    sine_activation,
    siren_activation,
    snake_activation,
)
from harmonic.mlp.frequencies import FREQ_SCHEMES, check_frequency_range, neuron_frequencies

__all__ = [
    "BN_POSITIONS",
    "MODELS",
    "HarmonicLayer",
    "HarmonicMLP",
    "ReLUMLP",
    "build_model",
    "frequency_init_scale",
]

#: Accepted values of ``HarmonicMLP(bn_position=...)``.
BN_POSITIONS: tuple[str, ...] = ("after", "before")


# --------------------------------------------------------------------------- checks
def _is_positive_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def _check_positive_int(name: str, value: Any) -> int:
    if not _is_positive_int(value):
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return int(value)


def _check_hidden_sizes(hidden_sizes: Sequence[int]) -> tuple[int, ...]:
    if isinstance(hidden_sizes, (int, str)) or len(hidden_sizes) == 0:
        raise ValueError(
            f"hidden_sizes must be a non-empty sequence of positive ints, e.g. (512, 256); "
            f"got {hidden_sizes!r}"
        )
    if not all(_is_positive_int(size) for size in hidden_sizes):
        raise ValueError(f"hidden_sizes must contain only positive ints; got {tuple(hidden_sizes)!r}")
    return tuple(int(size) for size in hidden_sizes)


def _check_dropout(dropout: float) -> None:
    if not (0.0 <= dropout < 1.0):
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")


def _check_mlp_shape(
    in_features: int, hidden_sizes: Sequence[int], dropout: float, num_classes: int
) -> tuple[int, int, tuple[int, ...]]:
    """Validate the arguments every MLP of this module shares; return them normalised."""
    _check_dropout(dropout)
    return (_check_positive_int("in_features", in_features), _check_positive_int("num_classes", num_classes),
            _check_hidden_sizes(hidden_sizes))


def _check_choice(name: str, value: str, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise ValueError(f"{name} must be one of {accepted}; got {value!r}")


def _uniform_fan_in_(linear: nn.Linear) -> None:
    """Redraw weight and bias from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, as the seed does.

    ``nn.Linear``'s default init has the same distribution; redrawing keeps the RNG
    stream (hence the weights under a given seed) identical to the seed's.
    """
    bound = 1.0 / math.sqrt(linear.in_features)
    with torch.no_grad():
        linear.weight.uniform_(-bound, bound)
        if linear.bias is not None:
            linear.bias.uniform_(-bound, bound)


# --------------------------------------------------------------------------- scales
def frequency_init_scale(frequencies: Tensor) -> Tensor:
    """Init scale ``s_i = f_i^{-1/2} / mean_j f_j^{-1/2}`` (mean 1; low frequencies get larger weights)."""
    inv_sqrt = 1.0 / torch.sqrt(frequencies)
    return inv_sqrt / inv_sqrt.mean()


# --------------------------------------------------------------------------- layer
class HarmonicLayer(nn.Module):
    """``y_i = act(z_i; f_i)`` with ``z = W x + b``; by default ``act = sin(2 pi z_i / f_i) + 0.1 z_i``.

    Args:
        in_features, out_features: sizes of the linear map ``linear``.
        base_freq, max_freq: b and m of the frequency scheme (seed: f_i = min(b (i+1), m)).
        freq_scheme: one of :data:`~harmonic.mlp.frequencies.FREQ_SCHEMES`. ``"learnable"``
            trains ``log_frequencies`` (an ``nn.Parameter``, initialised to log of the
            capped values); otherwise the frequencies are the buffer ``frequencies``.
        activation: one of :data:`~harmonic.mlp.activations.ACTIVATIONS`: ``"harmonic"``
            ``sin(w_i z) + r z``, ``"sine"`` ``sin(w_i z)``, ``"siren"`` ``sin(omega0 z)``,
            ``"snake"`` ``z + sin^2(w_i z) / w_i``, with ``w_i = 2 pi / f_i``.
        residual_scale: r, the slope of the linear term of ``"harmonic"`` (seed: 0.1).
        omega0: the SIREN frequency (only for ``activation="siren"``).
        batch_norm: put ``BatchNorm1d`` between the linear map and the activation
            (``HarmonicMLP(bn_position="before")``).

    Rows of ``linear.weight`` and entries of ``linear.bias`` are drawn from
    ``U(+-1/sqrt(in_features))`` and multiplied by :func:`frequency_init_scale`.
    The draws consume torch's RNG as the seed does (``nn.Linear`` init, then the
    redraw); ``"random"`` frequencies are drawn after them, so under one seed all
    schemes share the same unscaled weights.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        base_freq: float = 1.0,
        max_freq: float = 10.0,
        *,
        freq_scheme: str = "capped",
        activation: str = "harmonic",
        residual_scale: float = 0.1,
        omega0: float = 30.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        in_features = _check_positive_int("in_features", in_features)
        out_features = _check_positive_int("out_features", out_features)
        check_frequency_range(base_freq, max_freq)
        _check_choice("freq_scheme", freq_scheme, FREQ_SCHEMES)
        _check_choice("activation", activation, ACTIVATIONS)
        if not math.isfinite(residual_scale):
            raise ValueError(f"residual_scale must be a finite number; got {residual_scale!r}")
        if not (math.isfinite(omega0) and omega0 > 0):
            raise ValueError(f"omega0 must be a finite number > 0; got {omega0!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.base_freq = float(base_freq)
        self.max_freq = float(max_freq)
        self.freq_scheme = freq_scheme
        self.activation = activation
        self.residual_scale = float(residual_scale)
        self.omega0 = float(omega0)

        # nn.Linear's own init, then the seed's redraw: the same RNG stream as the seed.
        self.linear = nn.Linear(in_features, out_features)
        _uniform_fan_in_(self.linear)
        freqs = neuron_frequencies(out_features, base_freq, max_freq, freq_scheme)
        with torch.no_grad():
            scale = frequency_init_scale(freqs)
            self.linear.weight.mul_(scale.unsqueeze(1))
            self.linear.bias.mul_(scale)
        if freq_scheme == "learnable":
            self.log_frequencies = nn.Parameter(freqs.log())
        else:
            self.register_buffer("frequencies", freqs)
        self.norm = nn.BatchNorm1d(out_features) if batch_norm else None

    @property
    def frequencies(self) -> Tensor:
        """Current f_i, shape ``(out_features,)``: the buffer, or ``exp(log_frequencies)``."""
        if "log_frequencies" in self._parameters:
            return self._parameters["log_frequencies"].exp()
        if "frequencies" in self._buffers:
            return self._buffers["frequencies"]
        raise AttributeError("frequencies")  # only while __init__ registers the buffer

    def activate(self, z: Tensor) -> Tensor:
        """Apply the layer's activation to pre-activations ``z`` of shape ``(N, out_features)``."""
        if self.activation == "siren":
            return siren_activation(z, self.omega0)
        omega = angular_frequency(self.frequencies)
        if self.activation == "harmonic":
            return harmonic_activation(z, omega, self.residual_scale)
        if self.activation == "sine":
            return sine_activation(z, omega)
        return snake_activation(z, omega)

    def forward(self, x: Tensor) -> Tensor:
        z = self.linear(x)
        if self.norm is not None:
            z = self.norm(z)
        return self.activate(z)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"base_freq={self.base_freq}, max_freq={self.max_freq}, "
            f"freq_scheme={self.freq_scheme!r}, activation={self.activation!r}"
        )


# --------------------------------------------------------------------------- models
class HarmonicMLP(nn.Module):
    """Flatten → [HarmonicLayer → BatchNorm1d → Dropout] per hidden size → Linear.

    Defaults reproduce the seed: 784 → 512 (f ≤ 5) → 256 (f ≤ 3) → 10, base
    frequency 1, dropout 0.2, classifier drawn from ``U(+-1/sqrt(fan_in))``; under
    the same ``torch.manual_seed`` the parameters equal the seed's bit for bit.

    Args:
        max_freqs: one max frequency per hidden layer, or one number for all.
        freq_scheme, activation, residual_scale, omega0: passed to every
            :class:`HarmonicLayer`.
        bn_position: ``"after"`` (seed: activation then BN) or ``"before"``
            (Linear → BN → activation).
    """

    def __init__(
        self,
        in_features: int = 784,
        hidden_sizes: Sequence[int] = (512, 256),
        max_freqs: float | Sequence[float] = (5.0, 3.0),
        base_freq: float = 1.0,
        dropout: float = 0.2,
        num_classes: int = 10,
        *,
        freq_scheme: str = "capped",
        activation: str = "harmonic",
        bn_position: str = "after",
        residual_scale: float = 0.1,
        omega0: float = 30.0,
    ) -> None:
        super().__init__()
        in_features, num_classes, hidden_sizes = _check_mlp_shape(in_features, hidden_sizes, dropout, num_classes)
        _check_choice("bn_position", bn_position, BN_POSITIONS)
        if isinstance(max_freqs, numbers.Real):
            max_freqs = (float(max_freqs),) * len(hidden_sizes)
        elif len(max_freqs) != len(hidden_sizes):
            raise ValueError(
                f"max_freqs must be one number or have one entry per hidden layer "
                f"(len(hidden_sizes) = {len(hidden_sizes)}); got {tuple(max_freqs)!r}"
            )
        self.hidden_sizes = hidden_sizes
        self.max_freqs = tuple(float(m) for m in max_freqs)

        layers: list[nn.Module] = []
        width = in_features
        for size, max_freq in zip(hidden_sizes, self.max_freqs):
            layers.append(
                HarmonicLayer(
                    width,
                    size,
                    base_freq,
                    max_freq,
                    freq_scheme=freq_scheme,
                    activation=activation,
                    residual_scale=residual_scale,
                    omega0=omega0,
                    batch_norm=bn_position == "before",
                )
            )
            if bn_position == "after":
                layers.append(nn.BatchNorm1d(size))
            layers.append(nn.Dropout(dropout))
            width = size
        self.feature_layers = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)
        _uniform_fan_in_(self.classifier)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.feature_layers(x.flatten(1)))


class ReLUMLP(nn.Module):
    """Baseline of the same shape: Flatten → [Linear → BatchNorm1d → ReLU → Dropout]* → Linear.

    All linear layers keep ``nn.Linear``'s default init, ``U(+-1/sqrt(fan_in))``.
    """

    def __init__(
        self,
        in_features: int = 784,
        hidden_sizes: Sequence[int] = (512, 256),
        dropout: float = 0.2,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        in_features, num_classes, hidden_sizes = _check_mlp_shape(in_features, hidden_sizes, dropout, num_classes)
        self.hidden_sizes = hidden_sizes
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.feature_layers = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.feature_layers(x.flatten(1)))


#: Model names accepted by :func:`build_model`.
MODELS: dict[str, Callable[..., nn.Module]] = {"harmonic": HarmonicMLP, "relu": ReLUMLP}


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a model by name (``"harmonic"`` or ``"relu"``), passing ``kwargs`` to its class."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {tuple(MODELS)}; got {name!r}")
    return MODELS[name](**kwargs)
