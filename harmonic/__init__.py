"""Companion package for the Harmonic MLP and Harmonic Networks (Ulicny et al., BMVC 2019).

Model code follows the papers' names: :class:`HarmonicMLP` and
:class:`FrequencyAwareOptimizer` (the Harmonic MLP); :func:`dct_filters` (eq. 1),
:class:`HarmonicConv2d` (eqs. 2-3) and :func:`harmonize` (Harmonic Networks), with
the paper's networks in :mod:`harmonic.models` (``wrn``, ``resnet50``). Experiments,
data and result files live in :mod:`harmonic.experiments.mlp`, :mod:`harmonic.datasets.mnist`,
:mod:`harmonic.experiments.train` and :mod:`harmonic.results`.
"""

from harmonic.mlp.activations import ACTIVATIONS, harmonic_activation, sine_activation, siren_activation, snake_activation
from harmonic.dct import dct_coefficients, dct_filters, dct_frequencies, n_filters
from harmonic.mlp.frequencies import FREQ_SCHEMES, neuron_frequencies
from harmonic.harmonize import harmonize, harmonize_report
from harmonic.layers import HarmonicConv2d
from harmonic.mlp import FrequencyAwareOptimizer, HarmonicLayer, HarmonicMLP, ReLUMLP, build_model
from harmonic.utils import count_parameters

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
