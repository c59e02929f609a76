"""A tried and rejected formulation of the spectral-BN statistics (CPU): patch moments from lag products.

For stride 1 the Gram matrix of the k*k patches, ``G[a, b] = sum_p x(p + a) x(p + b)``, depends on the
taps only through the lag ``b - a`` and the rectangle of positions tap ``a`` sees. So one product map
``sum_n x(q) x(q + lag)`` per lag (2k^2 - 2k + 1 of them, 13 for 3x3, by symmetry) and an integral image of
each give every entry by four look-ups, with no stacked patch copies and no GEMM. This script checks that
against ``harmonic._fast.moments.patch_moments`` (float64) and times both on the benchmark's four layer shapes
(forward only: the stem's input needs no gradient), interleaved, process CPU time, one thread.

    python benchmarks/results/cpu-2026-11-24/lag_moments_ab.py
"""

from __future__ import annotations

import json
import statistics
import sys

import torch

sys.path.insert(0, "benchmarks")
import bench_harmonic_conv as bench  # noqa: E402

from harmonic._fast.moments import centred, patch_moments  # noqa: E402
from harmonic.results import provenance  # noqa: E402


def lag_moments(by_channel: torch.Tensor, k: int, dilation: tuple[int, int], h_out: int, w_out: int):
    """``patch_moments`` for stride 1 from per-lag product maps; ``by_channel`` is ``(C, N, Hp, Wp)``."""
    dh, dw = dilation
    by_channel = by_channel.contiguous()
    channels, _, hp, wp = by_channel.shape
    lags = [(p, q) for p in range(k) for q in range(-(k - 1), k) if p > 0 or q >= 0]
    maps = by_channel.new_zeros(len(lags) + 1, channels, hp + 1, wp + 1)  # a zero row/column for the integral
    maps[0, :, 1:, 1:] = by_channel.sum(1)
    for i, (p, q) in enumerate(lags, start=1):
        oh, ow = p * dh, q * dw
        c0, c1 = max(0, -ow), wp - max(0, ow)
        product = by_channel[:, :, : hp - oh, c0:c1] * by_channel[:, :, oh:, c0 + ow : c1 + ow]
        maps[i, :, 1 : hp - oh + 1, c0 + 1 : c1 + 1] = product.sum(1)
    integral = maps.cumsum(2).cumsum(3)
    y0 = torch.arange(k)[:, None] * dh
    x0 = torch.arange(k)[None, :] * dw
    y1, x1 = y0 + h_out, x0 + w_out
    rect = integral[:, :, y1, x1] - integral[:, :, y0, x1] - integral[:, :, y1, x0] + integral[:, :, y0, x0]
    rect = rect.reshape(len(lags) + 1, channels, k * k)
    index = {lag: i for i, lag in enumerate(lags, start=1)}
    taps = [(i, j) for i in range(k) for j in range(k)]
    lag_of = torch.tensor([[index[(u - i, v - j)] if s <= t else index[(i - u, j - v)]
                            for t, (u, v) in enumerate(taps)] for s, (i, j) in enumerate(taps)])
    first = torch.tensor([[min(s, t) for t in range(k * k)] for s in range(k * k)])
    return rect[0], rect[lag_of, :, first].permute(2, 0, 1)


def main() -> None:
    torch.set_num_threads(1)
    bench.keep_freed_memory()
    info = provenance({}, seed=0, device="cpu")
    print(json.dumps({key: info[key] for key in ("git", "versions", "hardware", "started")}))
    print("float64, max relative difference to patch_moments (sum, Gram):")
    for batch, channels, size, k, dilation, pad in [
        (4, 3, 9, 3, (1, 1), (1, 1, 1, 1)),
        (4, 3, 9, 3, (2, 1), (2, 1, 0, 3)),
        (2, 5, 12, 5, (1, 2), (0, 0, 0, 0)),
        (2, 2, 11, 2, (1, 1), (1, 0, 1, 0)),
    ]:
        x = torch.randn(batch, channels, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        by_channel, _ = centred(x, pad)
        h_out = size + pad[2] + pad[3] - dilation[0] * (k - 1)
        w_out = size + pad[0] + pad[1] - dilation[1] * (k - 1)
        total, gram = patch_moments(by_channel, k, (1, 1), dilation, h_out, w_out)
        total_lag, gram_lag = lag_moments(by_channel, k, dilation, h_out, w_out)
        print(f"  {batch}x{channels}x{size}x{size} k{k} dilation {dilation} pad {pad}: "
              f"{((total - total_lag).abs().max() / total.abs().max()).item():.1e}, "
              f"{((gram - gram_lag).abs().max() / gram.abs().max()).item():.1e}")
    print("float32 forward, median of 30 interleaved rounds:")
    for batch, channels, size in [(64, 16, 32), (32, 64, 32), (16, 160, 16), (128, 3, 32)]:
        x = torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(0))
        by_channel, _ = centred(x, (1, 1, 1, 1))
        steps = {
            "patch": lambda: patch_moments(by_channel, 3, (1, 1), (1, 1), size, size),
            "lag": lambda: lag_moments(by_channel, 3, (1, 1), size, size),
        }
        times = bench.interleaved_times(bench.Clock("cpu", torch.device("cpu")), steps, 30)
        ratio = bench.median_ratio(times["lag"], times["patch"])
        patch_ms, lag_ms = (statistics.median(times[name]) * 1e3 for name in ("patch", "lag"))
        print(f"  {channels} channels {size}x{size} b{batch}: patch moments {patch_ms:.2f} ms, "
              f"lag products {lag_ms:.2f} ms, lag/patch {ratio:.2f}")


if __name__ == "__main__":
    main()
