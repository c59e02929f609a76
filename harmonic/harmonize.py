"""Turn any CNN into a harmonic network by swapping its k x k convolutions.

:func:`harmonize` replaces every ``nn.Conv2d`` with a square kernel larger
than 1x1 by a :class:`~harmonic.layers.HarmonicConv2d` of the same geometry
(Ulicny et al., BMVC 2019: harmonic blocks take the place of convolutions),
optionally projecting the existing kernels onto the DCT basis so a trained
model keeps its outputs. The paper's variants are arguments: Harm1 (only the
stem, ``which="stem"``), full harmonic networks (``which="all"``), compression
lambda (``level``) and progressive lambda per stage (``level`` as a mapping).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from torch import nn

from harmonic.dct import n_filters
from harmonic.layers import HarmonicConv2d

__all__ = [
    "HARMONIC_VARIANTS",
    "HarmonicLayerInfo",
    "harmonize",
    "harmonize_report",
    "harmonize_variant",
]

LevelSpec = (
    int | None | Mapping[str, int | None] | Callable[[str, nn.Conv2d], int | None]
)
Which = str | Callable[[str, nn.Conv2d], bool]

#: Values of the ``harmonic`` argument of the model builders: plain network,
#: Harm1 (harmonic stem only) and fully harmonic network.
HARMONIC_VARIANTS = (None, "stem", "all")


def _is_spatial_conv(module: nn.Module) -> bool:
    """A plain conv with a square kernel larger than 1x1 (what harmonize replaces)."""
    if not isinstance(module, nn.Conv2d):
        return False
    kh, kw = module.kernel_size
    return kh == kw and kh > 1


def _matches(name: str, prefix: str) -> bool:
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def _level_resolver(level: LevelSpec) -> tuple[Callable[[str, nn.Conv2d], int | None], set[str]]:
    """Per-layer lambda from ``level``; also the mapping keys (to report unused ones)."""
    if level is None or (isinstance(level, int) and not isinstance(level, bool)):
        return (lambda name, conv: level), set()
    if isinstance(level, Mapping):
        for key in level:
            if not isinstance(key, str):
                raise ValueError(f"level mapping keys must be module names (str); got {key!r}")
        keys = sorted(level, key=len, reverse=True)  # most specific prefix wins

        def by_prefix(name: str, conv: nn.Conv2d) -> int | None:
            for key in keys:
                if _matches(name, key):
                    return level[key]
            return None

        return by_prefix, set(keys)
    if callable(level):
        return level, set()
    raise ValueError(
        "level must be None, an int, a mapping from module name (prefix) to level, "
        f"or a callable (name, conv) -> level; got {level!r}"
    )


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def harmonize(
    model: nn.Module,
    level: LevelSpec = None,
    *,
    which: Which = "all",
    stem_spectral_bn: bool = True,
    spectral_bn: bool = False,
    convert: bool = False,
    norm: str | None = "l1",
    init: str = "authors",
) -> nn.Module:
    """Replace k x k convolutions (k > 1) of ``model`` by harmonic blocks, in place; returns ``model``.

    - ``which``: ``"all"`` (every square k x k ``nn.Conv2d``, k > 1), ``"stem"``
      (only the first one, the paper's Harm1) or a predicate ``(name, conv) -> bool``.
      1x1 and non-square convolutions are never replaced.
    - ``level``: compression lambda (keep ``u + v < lambda``): None (full
      basis), an int for every replaced layer, a mapping from module name or
      name prefix to lambda (longest matching prefix wins, unmatched layers keep
      the full basis; a key matching no replaced layer is an error), or a
      callable ``(name, conv) -> lambda``.
    - ``stem_spectral_bn`` / ``spectral_bn``: inner BN on the spectral maps
      (eq. 3) for the stem / for the other replaced layers. The stem is the
      first square k x k conv in module registration order (the forward order
      for torchvision ResNets and :mod:`harmonic.models`).
    - ``convert``: project the existing kernels onto the DCT basis
      (:meth:`HarmonicConv2d.from_conv`): with ``level=None`` the model's
      outputs in eval mode are unchanged (inner BNs start as the identity in
      eval mode; in training mode they normalise with batch statistics, which
      changes outputs, as any inserted BN does). Otherwise the blocks are
      freshly initialised as ``init`` says (``"authors"`` or ``"kaiming"``, see :mod:`harmonic.init`).

    Use :func:`harmonize_report` to list what was replaced.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module; got {type(model).__name__}")
    if which not in ("all", "stem") and not callable(which):
        raise ValueError(f"which must be 'all', 'stem' or a callable (name, conv) -> bool; got {which!r}")
    resolve_level, unused_keys = _level_resolver(level)
    spatial = [(name, m) for name, m in model.named_modules(remove_duplicate=False) if _is_spatial_conv(m)]
    stem_name = spatial[0][0] if spatial else None
    if which == "stem":
        selected = spatial[:1]
    elif which == "all":
        selected = spatial
    else:
        selected = [(name, conv) for name, conv in spatial if which(name, conv)]

    # Build every block before touching the model, so a bad argument leaves it unchanged.
    blocks: dict[int, HarmonicConv2d] = {}  # by id: a conv shared by several parents is replaced once
    for name, conv in selected:
        unused_keys = {key for key in unused_keys if not _matches(name, key)}
        if id(conv) not in blocks:
            blocks[id(conv)] = HarmonicConv2d.from_conv(
                conv,
                level=resolve_level(name, conv),
                norm=norm,
                spectral_bn=stem_spectral_bn if name == stem_name else spectral_bn,
                project_weights=convert,
                init=init,
            )
    if unused_keys:
        raise ValueError(f"level keys {sorted(unused_keys)} match no replaced convolution")
    for name, conv in selected:
        _set_submodule(model, name, blocks[id(conv)])
    return model


@dataclass(frozen=True)
class HarmonicLayerInfo:
    """One harmonic block of a model (a row of :func:`harmonize_report`)."""

    name: str
    in_channels: int
    out_channels: int
    kernel_size: int
    stride: tuple[int, int]
    level: int | None
    n_filters: int
    spectral_bn: bool
    parameters: int


def harmonize_report(model: nn.Module) -> list[HarmonicLayerInfo]:
    """The :class:`HarmonicConv2d` modules of ``model``, in registration order."""
    return [
        HarmonicLayerInfo(
            name=name,
            in_channels=m.in_channels,
            out_channels=m.out_channels,
            kernel_size=m.kernel_size[0],
            stride=m.stride,
            level=m.level,
            n_filters=m.n_filters,
            spectral_bn=m.spectral_bn,
            parameters=sum(p.numel() for p in m.parameters()),
        )
        for name, m in model.named_modules()
        if isinstance(m, HarmonicConv2d)
    ]


def harmonize_variant(
    model: nn.Module,
    harmonic: str | None,
    level: int | Sequence[int | None] | None,
    stages: Sequence[str],
    stem_spectral_bn: bool = True,
    init: str = "authors",
) -> nn.Module:
    """Apply a paper variant to a freshly built model (helper of the model builders).

    ``harmonic``: None (plain), ``"stem"`` (Harm1: the stem conv only, with
    spectral BN) or ``"all"`` (every k x k conv, spectral BN on the stem only).
    ``stem_spectral_bn=False`` drops the stem's spectral BN (Table 1's "Harm1 (no BN)"
    row, and the stem of a converted network, whose BN statistics do not exist).
    ``level`` (only with ``"all"``): None, one lambda for every stage, or one
    per stage (``len(stages)`` entries, None = full basis; progressive
    compression). The stem is in no stage and keeps the full spectrum. ``init``: how the new
    blocks are drawn (:class:`~harmonic.layers.HarmonicConv2d`).
    """
    if harmonic not in HARMONIC_VARIANTS:
        raise ValueError(f"harmonic must be one of {HARMONIC_VARIANTS}; got {harmonic!r}")
    if level is not None and harmonic != "all":
        raise ValueError(f"level applies only with harmonic='all'; got level={level!r} with harmonic={harmonic!r}")
    if not isinstance(stem_spectral_bn, bool):
        raise ValueError(f"stem_spectral_bn must be True or False; got {stem_spectral_bn!r}")
    if harmonic is None:
        if not stem_spectral_bn:
            raise ValueError("stem_spectral_bn=False applies only to a harmonic network (harmonic='stem' or 'all')")
        return model
    if level is None or isinstance(level, int):
        per_stage: Sequence[int | None] = [level] * len(stages)
    elif isinstance(level, Sequence) and not isinstance(level, str) and len(level) == len(stages):
        per_stage = level
    else:
        raise ValueError(
            f"level must be None, an int or a sequence of {len(stages)} levels (one per stage "
            f"{tuple(stages)}); got {level!r}"
        )
    for value in per_stage:
        if value is not None:
            n_filters(3, value)  # raises ValueError naming level for non-positive / non-int values
    stage_levels = None if all(v is None for v in per_stage) else dict(zip(stages, per_stage, strict=True))
    return harmonize(model, stage_levels, which=harmonic, stem_spectral_bn=stem_spectral_bn, init=init)
