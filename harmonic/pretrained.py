"""Checkpoints saved by the authors' ImageNet code, as state_dicts of :mod:`harmonic.models`.

The authors released Harm-ResNet-50 and Harm-ResNet-101 weights (their ``imagenet/README.md``;
file names ``harm_resnet50-eec30392.pth`` and ``harm_resnet101-62e185b1.pth``). Their networks are
torchvision's ResNets with two differences in naming and layout, which :func:`from_official` undoes:

* the harmonic stem is ``harm1`` (ours: ``conv1``). Its spectral BN is ``harm1.bn`` (no affine),
  its 1x1 combination ``harm1.weight`` has shape ``(64, 3 * n, 1, 1)`` with spectral channel
  ``c * n + f`` (ours: ``(64, 3, n)``, the same order), and its filter bank ``harm1.dct`` is
  tiled once per input channel, ``(3 * n, 1, 7, 7)``;
* each bottleneck's 3x3 convolution is ``layerX.Y.harm2`` (ours: ``layerX.Y.conv2``) with weight
  ``(out, in, n, 1, 1)`` (ours: ``(out, in, n)``) and bank ``harm2.dct`` of shape ``(1, n, 3, 3)``.

The banks are L1-normalised DCT filters (``norm="l1"``, Section 5.2 of the paper). A file may
lack the ``dct`` tensors (the authors load non-strictly); where present they are checked against
the bank our layer computes. State dicts saved from ``DataParallel`` carry a ``module.`` prefix,
which is removed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from harmonic.dct import dct_filters, n_filters

__all__ = ["OFFICIAL_CHECKPOINTS", "from_official", "is_official", "load_weights", "official_levels"]

#: The authors' released ImageNet checkpoints (their imagenet/README.md): file name -> our builder call.
OFFICIAL_CHECKPOINTS: dict[str, str] = {
    "harm_resnet50-eec30392.pth": 'resnet50(harmonic="all", weights=PATH)',
    "harm_resnet101-62e185b1.pth": 'resnet101(harmonic="all", weights=PATH)',
}

_STEM = "harm1."
_BLOCK = re.compile(r"^(layer\d+\.\d+)\.harm2\.(.+)$")
_OURS = re.compile(r"^layer(\d+)\.\d+\.conv2\.weight$")


def _strip_prefix(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    if state_dict and all(key.startswith("module.") for key in state_dict):
        return {key[len("module."):]: value for key, value in state_dict.items()}
    return dict(state_dict)


def is_official(state_dict: Mapping[str, Tensor]) -> bool:
    """Whether ``state_dict`` is in the authors' layout (a ``harm1`` stem or ``harm2`` blocks)."""
    keys = _strip_prefix(state_dict)
    return any(key.startswith(_STEM) or _BLOCK.match(key) for key in keys)


def _level_of(n: int, kernel_size: int, name: str) -> int | None:
    """The compression level lambda whose bank has ``n`` filters (None: full basis)."""
    if n == kernel_size * kernel_size:
        return None
    for level in range(1, 2 * kernel_size - 1):
        if n_filters(kernel_size, level) == n:
            return level
    raise ValueError(f"{name}: {n} DCT filters match no compression level of a {kernel_size}x{kernel_size} bank")


def _bank(n: int, kernel_size: int, name: str, stored: Tensor | None) -> Tensor:
    """Our ``filters`` buffer for a layer with ``n`` filters; checked against the file's bank if any."""
    bank = dct_filters(kernel_size, _level_of(n, kernel_size, name), norm="l1")
    if stored is not None:
        given = stored.reshape(-1, n, kernel_size, kernel_size)[0].to(torch.float64)
        if not torch.allclose(given, bank.to(torch.float64), atol=1e-5):
            raise ValueError(f"{name}.dct is not the L1-normalised DCT bank with {n} filters this layer expects")
    return bank.to(stored.dtype if stored is not None else torch.get_default_dtype())


def from_official(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Convert a state_dict of the authors' harmonic ResNet into one of ours (see the module docstring).

    The result loads with ``strict=True`` into :func:`harmonic.models.resnet50` or
    :func:`~harmonic.models.resnet101` built with ``harmonic="all"`` (or ``"stem"``) and the levels
    :func:`official_levels` reads off the file; the model computes the authors' network's outputs.
    """
    source = _strip_prefix(state_dict)
    if not is_official(source):
        raise ValueError("state_dict has no 'harm1.*' or 'layerX.Y.harm2.*' keys: not the authors' harmonic layout")
    out: dict[str, Tensor] = {}
    stem_bank: Tensor | None = None
    blocks: dict[str, dict[str, Tensor]] = {}
    for key, value in source.items():
        if key.startswith(_STEM):
            rest = key[len(_STEM):]
            if rest == "weight":
                if value.dim() != 4 or value.shape[1] % 3 or value.shape[2:] != (1, 1):
                    raise ValueError(f"harm1.weight must have shape (64, 3 * n, 1, 1); got {tuple(value.shape)}")
                out["conv1.weight"] = value.reshape(value.shape[0], 3, value.shape[1] // 3)
            elif rest == "dct":
                stem_bank = value
            else:  # bn.running_mean, bn.running_var, bn.num_batches_tracked, bias
                out[f"conv1.{rest}"] = value
            continue
        match = _BLOCK.match(key)
        if match:
            blocks.setdefault(match.group(1), {})[match.group(2)] = value
            continue
        out[key] = value
    if "conv1.weight" in out:
        n = out["conv1.weight"].shape[2]
        out["conv1.filters"] = _bank(n, 7, "harm1", stem_bank)
    for prefix, parts in blocks.items():
        weight = parts.pop("weight", None)
        if weight is None or weight.dim() != 5 or weight.shape[3:] != (1, 1):
            shape = None if weight is None else tuple(weight.shape)
            raise ValueError(f"{prefix}.harm2.weight must have shape (out, in, n, 1, 1); got {shape}")
        out[f"{prefix}.conv2.weight"] = weight.reshape(weight.shape[:3])
        out[f"{prefix}.conv2.filters"] = _bank(weight.shape[2], 3, f"{prefix}.harm2", parts.pop("dct", None))
        for rest, value in parts.items():
            out[f"{prefix}.conv2.{rest}"] = value
    return out


def official_levels(state_dict: Mapping[str, Tensor]) -> tuple[int | None, ...]:
    """Compression level of each stage ``layer1..layer4`` of a harmonic ResNet state_dict (the
    authors' layout or ours; None: full basis, or a stage without harmonic blocks).

    Raises ValueError if the blocks of one stage have different levels.
    """
    state = from_official(state_dict) if is_official(state_dict) else _strip_prefix(state_dict)
    levels: dict[int, set[int | None]] = {}
    for key, value in state.items():
        match = _OURS.match(key)
        if match and value.dim() == 3:
            levels.setdefault(int(match.group(1)), set()).add(_level_of(value.shape[2], 3, key))
    for stage, found in levels.items():
        if len(found) != 1:
            raise ValueError(f"layer{stage} mixes compression levels {sorted(found, key=str)}")
    return tuple(next(iter(levels[s])) if s in levels else None for s in range(1, 5))


def load_weights(weights: str | os.PathLike | Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A state_dict from a file (``torch.load(weights_only=True)``) or a mapping, in our layout.

    Files in the authors' layout are converted with :func:`from_official`; a training checkpoint
    of :mod:`harmonic.experiments.imagenet` (a dict with a ``"model"`` entry) gives its model weights,
    after its recorded SHA-256 is checked (a damaged file is a ValueError naming it).
    """
    if isinstance(weights, Mapping):
        state = dict(weights)
    else:
        path = Path(weights)
        if not path.is_file():
            raise ValueError(f"weights: no file at {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # pickle, zip or unsupported-type errors: the file is not usable
            raise ValueError(
                f"weights: {path} could not be read as a PyTorch state_dict ({type(error).__name__}: {error})"
            ) from error
        from harmonic.experiments.checkpoints import CHECKSUM_KEY, state_digest  # our checkpoints hold their digest

        if isinstance(state, dict) and CHECKSUM_KEY in state and state.pop(CHECKSUM_KEY) != state_digest(state):
            raise ValueError(f"weights: {path} is damaged: its contents differ from the SHA-256 recorded when it "
                             "was saved; restore or re-create the file")
    for key in ("model", "state_dict"):
        if isinstance(state.get(key), Mapping):
            state = dict(state[key])
    return from_official(state) if is_official(state) else _strip_prefix(state)
