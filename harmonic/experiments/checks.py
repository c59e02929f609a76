"""Validation of run parameters: each error names the parameter and what was expected.

Used by the run configurations (:mod:`harmonic.experiments.mlp`, :mod:`harmonic.experiments.wrn`),
the ImageNet command line (:mod:`harmonic.experiments.imagenet`) and the training loop
(:mod:`harmonic.experiments.train`), so a bad value fails before anything is read, built or trained.
"""

from __future__ import annotations

import argparse
import math
import numbers
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["check_choice", "check_dropout", "check_imagenet_args", "check_int", "check_level", "check_list",
           "check_milestones", "check_number", "parse_level"]


def check_int(name: str, value: Any, minimum: int = 1, *, optional: bool = False) -> None:
    """``value`` must be an integer (not a bool, not a float such as ``2.0``) >= ``minimum``
    (or None where ``optional``); a ValueError naming ``name`` otherwise."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        expected = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {expected}{' or None' if optional else ''}, got {value!r}")


def check_number(name: str, value: Any, minimum: float = 0.0, *, strict: bool = True,
                 optional: bool = False) -> None:
    """``value`` must be a finite real number (not NaN or infinite) > ``minimum`` (>= with
    ``strict=False``), or None where ``optional``; a ValueError naming ``name`` otherwise."""
    if optional and value is None:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= minimum if strict else value < minimum):
        if minimum == 0:
            expected = "a positive number" if strict else "a number >= 0"
        else:
            expected = f"a number {'>' if strict else '>='} {minimum:g}"
        raise ValueError(f"{name} must be {expected}{' or None' if optional else ''}, got {value!r}")


def check_milestones(milestones: Any, epochs: int | None) -> None:
    """Milestones of a multistep schedule: increasing positive integers within the run
    (<= ``epochs``; not checked when ``epochs`` is None)."""
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, (list, tuple)):
        raise ValueError(f"milestones must be a list of epochs (increasing positive integers <= epochs), "
                         f"got {milestones!r}")
    for value in milestones:
        check_int("milestones", value)
        if epochs is not None and value > epochs:
            raise ValueError(f"milestones must lie within the run (<= epochs={epochs}), got {list(milestones)}")
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ValueError(f"milestones must be increasing, got {list(milestones)}")


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """``value`` must be one of ``choices``; a ValueError naming ``name`` and them otherwise."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def check_list(name: str, value: Any, check_item: Callable[[str, Any], None], what: str) -> None:
    """``value`` must be a list (or tuple) whose items pass ``check_item``; ``what`` describes it."""
    try:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ValueError
        for item in value:
            check_item(name, item)
    except ValueError:
        raise ValueError(f"{name} must be a list of {what}, got {value!r}") from None


def check_dropout(value: Any) -> None:
    """A dropout rate: a number in [0, 1)."""
    check_number("dropout", value, strict=False)
    if value >= 1:
        raise ValueError(f"dropout must be in [0, 1), got {value!r}")


def check_level(level: Any, stages: Sequence[str], kernel_size: int = 3) -> None:
    """Compression level lambda of :func:`harmonic.dct.n_filters` for ``kernel_size`` kernels: None
    (full basis), an integer from 1 to ``2 * kernel_size - 1`` (which keeps every filter), or one
    such value or None per stage of ``stages``. A ValueError naming ``level`` and the range otherwise."""
    top = 2 * kernel_size - 1
    expected = (f"None, an integer from 1 to {top} (lambda of the {kernel_size}x{kernel_size} kernels; "
                f"{top} keeps all {kernel_size * kernel_size} DCT filters) or a list of {len(stages)} such "
                f"values or None, one per stage {list(stages)}")

    def one(value: Any) -> bool:
        return value is None or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= top)

    per_stage = level if isinstance(level, (list, tuple)) else None
    if not (one(level) if per_stage is None else len(per_stage) == len(stages) and all(map(one, per_stage))):
        raise ValueError(f"level must be {expected}, got {level!r}")


def parse_level(values: Sequence[str] | None) -> int | tuple[int | None, ...] | None:
    """``--level`` tokens of the ImageNet command line → the ``level`` of :func:`harmonic.models.resnet50`.

    No token or ``none``: full basis; one integer: lambda for every stage; four
    tokens (integers or ``none``): one lambda per stage, e.g. ``none none 3 2``.
    """
    if not values:
        return None

    def one(token: str) -> int | None:
        if token.lower() == "none":
            return None
        try:
            value = int(token)
        except ValueError:
            raise ValueError(f"level must be 'none' or a positive integer per token, got {token!r}") from None
        if value <= 0:
            raise ValueError(f"level must be 'none' or a positive integer per token, got {token!r}")
        return value

    parsed = tuple(one(v) for v in values)
    if len(parsed) == 1:
        return parsed[0]
    if len(parsed) != 4:
        raise ValueError(f"level takes 1 value or 4 (one per ResNet stage), got {len(parsed)}: {list(values)}")
    return parsed


def check_imagenet_args(args: argparse.Namespace) -> None:
    """The options of :mod:`harmonic.experiments.imagenet` (parsed, ``--level`` by its ``parse_level``):
    types, ranges and which go together, before anything is read, built or written."""
    from harmonic import results
    from harmonic.models.resnet import RESNET_STAGES

    for name in ("epochs", "batch_size", "lr_step", "image_size", "val_resize"):
        check_int(name, getattr(args, name))
    for name in ("max_steps_per_epoch", "max_val_steps"):
        check_int(name, getattr(args, name), optional=True)
    check_int("print_freq", args.print_freq, minimum=0)
    check_int("workers", args.workers, minimum=0)
    check_number("lr", args.lr)
    check_number("gamma", args.gamma)
    check_number("momentum", args.momentum, strict=False)
    check_number("weight_decay", args.weight_decay, strict=False)
    check_level(args.level, RESNET_STAGES)
    if args.level is not None and args.harmonic != "all":
        raise ValueError(f"level applies only with --harmonic all, got --level with --harmonic {args.harmonic}")
    if args.run_name is not None:
        results.check_run_name(args.run_name)
    if args.evaluate != (args.checkpoint is not None):
        raise ValueError("evaluate and checkpoint go together: --evaluate --checkpoint FILE")
    if args.convert_from is not None:
        if args.evaluate:
            raise ValueError("convert_from trains (fine-tunes); it does not go with --evaluate")
        if args.harmonic != "all" or args.maxpool:
            raise ValueError("convert_from converts into the paper's no-maxpool harmonic network: use --harmonic all "
                             f"without --maxpool (got --harmonic {args.harmonic}{' --maxpool' if args.maxpool else ''})")
    for name in ("convert_from", "checkpoint"):
        value = getattr(args, name)
        if value is not None and not Path(value).is_file():
            raise ValueError(f"{name}: no file at {value}")
