"""Companion package for the Harmonic MLP and Harmonic Networks (Ulicny et al., BMVC 2019).

Model code follows the papers' names: :class:`HarmonicMLP` and
:class:`FrequencyAwareOptimizer` (the Harmonic MLP); :func:`dct_filters` (eq. 1),
:class:`HarmonicConv2d` (eqs. 2-3) and :func:`harmonize` (Harmonic Networks), with
the paper's networks in :mod:`harmonic.models` (``wrn``, ``resnet50``). Experiments,
data and result files live in :mod:`harmonic.experiment`, :mod:`harmonic.data`,
:mod:`harmonic.train` and :mod:`harmonic.results`.
"""

from .activations import ACTIVATIONS, harmonic_activation, sine_activation, siren_activation, snake_activation
from .dct import dct_coefficients, dct_filters, dct_frequencies, n_filters
from .frequencies import FREQ_SCHEMES, neuron_frequencies
from .harmonize import harmonize, harmonize_report
from .layers import HarmonicConv2d
from .mlp import FrequencyAwareOptimizer, HarmonicLayer, HarmonicMLP, ReLUMLP, build_model
from .utils import count_parameters

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "FREQ_SCHEMES",
    "FrequencyAwareOptimizer",
    "HarmonicConv2d",
    "HarmonicLayer",
    "HarmonicMLP",
    "ReLUMLP",
    "build_model",
    "count_parameters",
    "dct_coefficients",
    "dct_filters",
    "dct_frequencies",
    "harmonize",
    "harmonize_report",
    "n_filters",
    "harmonic_activation",
    "neuron_frequencies",
    "sine_activation",
    "siren_activation",
    "snake_activation",
]
