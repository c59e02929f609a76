"""Per-neuron frequencies f_i of a harmonic layer.

The seed ("Harmonic MLP") gives hidden neuron i (0-based) the frequency
``f_i = min(base_freq * (i + 1), max_freq)``: a harmonic series capped at
``max_freq``. The other schemes are the alternatives studied in issue #5.
:func:`shared_periods` counts the neurons of a model that share one f.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import torch
from torch import Tensor

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FREQ_SCHEMES", "neuron_frequencies", "check_frequency_range", "shared_periods"]

#: Accepted values of ``freq_scheme``.
FREQ_SCHEMES: tuple[str, ...] = ("capped", "harmonic", "linear", "log", "random", "learnable")


def check_frequency_range(base_freq: float, max_freq: float) -> None:
    """Raise ValueError unless ``0 < base_freq <= max_freq`` (both finite)."""
    if not (math.isfinite(base_freq) and base_freq > 0):
        raise ValueError(f"base_freq must be a finite number > 0; got {base_freq!r}")
    if not (math.isfinite(max_freq) and max_freq >= base_freq):
        raise ValueError(
            f"max_freq must be a finite number >= base_freq ({base_freq!r}); got {max_freq!r}"
        )


def neuron_frequencies(
    n: int,
    base_freq: float = 1.0,
    max_freq: float = 10.0,
    scheme: str = "capped",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Frequencies ``f_0 .. f_{n-1}`` (float32, shape ``(n,)``) for ``n`` neurons.

    Schemes, with b = ``base_freq``, m = ``max_freq``, i = 0 .. n-1:

    - ``"capped"`` (seed): ``f_i = min(b (i+1), m)``
    - ``"harmonic"``: ``f_i = b (i+1)``, uncapped (``m`` is ignored)
    - ``"linear"``: ``f_i = b + (m - b) i / (n-1)`` (``torch.linspace``)
    - ``"log"``: ``f_i = b (m/b)^{i/(n-1)}`` (geometric spacing)
    - ``"random"``: ``f_i ~ U[b, m]``, drawn from torch's RNG (or ``generator``)
    - ``"learnable"``: the ``"capped"`` values; :class:`~harmonic.mlp.HarmonicLayer`
      then trains them (as ``log f``).

    For ``n == 1`` the linear and log schemes return ``[b]``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int (the number of neurons); got {n!r}")
    check_frequency_range(base_freq, max_freq)
    index = torch.arange(n, dtype=torch.float64)
    if scheme in ("capped", "learnable"):
        freqs = torch.clamp(base_freq * (index + 1), max=max_freq)
    elif scheme == "harmonic":
        freqs = base_freq * (index + 1)
    elif scheme == "linear":
        freqs = torch.linspace(base_freq, max_freq, n, dtype=torch.float64)
    elif scheme == "log":
        log_f = torch.linspace(math.log(base_freq), math.log(max_freq), n, dtype=torch.float64)
        freqs = log_f.exp()
        freqs[0] = base_freq  # exact end points despite exp(log(.)) rounding
        if n > 1:
            freqs[-1] = max_freq
    elif scheme == "random":
        freqs = torch.empty(n, dtype=torch.float64).uniform_(base_freq, max_freq, generator=generator)
    else:
        raise ValueError(f"freq_scheme must be one of {FREQ_SCHEMES}; got {scheme!r}")
    return freqs.to(torch.float32)


def shared_periods(hidden_sizes: Sequence[int], max_freqs: Sequence[float], base_freq: float = 1.0,
                   scheme: str = "capped") -> pd.DataFrame:
    """How many neurons of each hidden layer share one f under ``scheme`` (the seed: ``"capped"``).

    f_i is the period of the activation sin(2π z / f_i) (:func:`neuron_frequencies`):
    larger f oscillates more slowly. Columns: ``layer`` (1-based), ``neurons``, ``distinct f``,
    ``smallest f``, ``largest f``, ``neurons at the largest f`` (with the cap: the neurons whose f is
    the cap ``f_max``).
    """
    import pandas as pd

    rows = []
    for layer, (width, cap) in enumerate(zip(hidden_sizes, max_freqs), 1):
        f = neuron_frequencies(int(width), float(base_freq), float(cap), scheme)
        rows.append({"layer": layer, "neurons": int(width), "distinct f": int(f.unique().numel()),
                     "smallest f": float(f.min()), "largest f": float(f.max()),
                     "neurons at the largest f": int((f == f.max()).sum())})
    return pd.DataFrame(rows)
