"""Which computation a forward call of the block takes, and with which BN statistics.

All forms give the same values (eqs. 1-3); they differ in cost. Merging the kernel costs
``out * in/groups * n * k^2`` multiply-adds per call (and as much again in backward), the patch
form's coefficients ``positions * in * n * k^2``, so ``compute_form="auto"`` takes the patch form
on CPU where a layer has few output positions for its width (:data:`PATCH_FORM_RATIO`), and on
other devices (CUDA) never; there training-mode spectral BN runs the literal form instead. The
timings these rules were read off are recorded in ``benchmarks/README.md`` (sections "The patch
form" and "CUDA").
"""

from __future__ import annotations

from torch import Tensor, nn

from harmonic._fast.geometry import Window

__all__ = ["PATCH_FORM_RATIO", "explicit_on_device", "use_patch_form", "uses_batch_statistics"]

#: ``compute_form="auto"`` on CPU takes the patch form when
#: ``positions * n_filters * groups <= PATCH_FORM_RATIO * out_channels``: the merge costs
#: ``~out * in/g * n`` and the patch coefficients ``~positions * in * n``, and the patch form's
#: combination product shrinks with ``n`` (it is ``n / k^2`` of the convolution's). Read off
#: forward+backward timings of single 3x3 layers on CPU; with spectral BN the same rule applies.
#: On other devices (CUDA) ``"auto"`` never takes the patch form (benchmarks/README.md).
PATCH_FORM_RATIO = 4


def uses_batch_statistics(bn: nn.BatchNorm2d | None) -> bool:
    """Whether spectral BN normalises with batch statistics (training, or no running stats)."""
    return bn is not None and (bn.training or (bn.running_mean is None and bn.running_var is None))


def explicit_on_device(compute_form: str, x: Tensor) -> bool:
    """Whether ``"auto"`` runs spectral BN in training as the literal form (not on CPU)."""
    return compute_form == "auto" and x.device.type != "cpu" and x.dim() == 4


def use_patch_form(
    compute_form: str, x: Tensor, window: Window, n_filters: int, groups: int, out_channels: int
) -> bool:
    """Whether the block runs the patch form on ``x`` (:mod:`harmonic._fast.patch`)."""
    if compute_form == "merged" or x.dim() != 4:
        return False
    if compute_form == "patch":
        return True
    if x.device.type != "cpu":  # see PATCH_FORM_RATIO: CUDA keeps the merged convolution
        return False
    return window.positions(x) * n_filters * groups <= PATCH_FORM_RATIO * out_channels
