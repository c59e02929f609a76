"""The Harmonic MLP (seed 000): per-neuron frequencies, the harmonic activation, the model and its optimizer."""

from harmonic.mlp.model import (
    BN_POSITIONS,
    MODELS,
    HarmonicLayer,
    HarmonicMLP,
    ReLUMLP,
    build_model,
    frequency_init_scale,
)
from harmonic.mlp.optim import FrequencyAwareOptimizer, frequency_grad_scale, scale_frequency_gradients

__all__ = [
    "BN_POSITIONS",
    "MODELS",
    "FrequencyAwareOptimizer",
    "HarmonicLayer",
    "HarmonicMLP",
    "ReLUMLP",
    "build_model",
    "frequency_grad_scale",
    "frequency_init_scale",
    "scale_frequency_gradients",
]
