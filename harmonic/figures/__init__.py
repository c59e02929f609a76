"""Figures of the book (seaborn), each saved to a file and returned for display: every plot of the
package is drawn here.

- :mod:`harmonic.figures.common`: saving, epoch ticks, per-epoch curves and sweeps of any run;
- :mod:`harmonic.figures.networks`: Harmonic Networks (Figures 1 to 4 of the paper);
- :mod:`harmonic.figures.mlp`: the Harmonic-MLP chapters and their study.
"""

from harmonic.figures.common import METRIC_LABELS, accuracy_vs, integer_epochs, save, training_curves
from harmonic.figures.mlp import (
    epoch_curve,
    family_curves,
    frequency_accuracy,
    lr_sweep,
    variant_accuracy,
)
from harmonic.figures.networks import (
    dct_filter_bank,
    error_vs_parameters,
    errors_by_recipe,
    frequency_weight_heatmap,
    frequency_weight_heatmaps,
    harmonic_block_diagram,
)

__all__ = [
    "METRIC_LABELS",
    "accuracy_vs",
    "dct_filter_bank",
    "epoch_curve",
    "error_vs_parameters",
    "errors_by_recipe",
    "family_curves",
    "frequency_accuracy",
    "frequency_weight_heatmap",
    "frequency_weight_heatmaps",
    "harmonic_block_diagram",
    "integer_epochs",
    "lr_sweep",
    "save",
    "training_curves",
    "variant_accuracy",
]
