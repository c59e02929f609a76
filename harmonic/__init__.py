"""Companion package for the Harmonic MLP and Harmonic Networks (Ulicny et al., BMVC 2019).

Model code follows the papers' names: :class:`HarmonicMLP` and
:class:`FrequencyAwareOptimizer` (the Harmonic MLP); experiments, data and
result files live in :mod:`harmonic.experiment`, :mod:`harmonic.data`,
:mod:`harmonic.train` and :mod:`harmonic.results`.
"""

from .activations import ACTIVATIONS, harmonic_activation, sine_activation, siren_activation, snake_activation
from .frequencies import FREQ_SCHEMES, neuron_frequencies
from .mlp import FrequencyAwareOptimizer, HarmonicLayer, HarmonicMLP, ReLUMLP, build_model
from .utils import count_parameters

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "FREQ_SCHEMES",
    "FrequencyAwareOptimizer",
    "HarmonicLayer",
    "HarmonicMLP",
    "ReLUMLP",
    "build_model",
    "count_parameters",
    "harmonic_activation",
    "neuron_frequencies",
    "sine_activation",
    "siren_activation",
    "snake_activation",
]
