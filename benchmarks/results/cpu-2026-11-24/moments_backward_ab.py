"""A/B of the spectral-BN statistics (patch moments) forward + input gradient between two commits of
harmonic/layers.py, CPU, one thread, interleaved: used for the stride-1 gradient as a depthwise
convolution by lag (commit d06d4e0, reverted in d7f4511) against its parent.

    python benchmarks/results/cpu-2026-11-24/moments_backward_ab.py --a c5974ab --b d06d4e0
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, "benchmarks")
import bench_harmonic_conv as bench  # noqa: E402
from fold_ab import old_layers  # noqa: E402

from harmonic.results import provenance  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", default="c5974ab")
    parser.add_argument("--b", default="d06d4e0")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    bench.keep_freed_memory()
    info = provenance(vars(args), seed=0, device="cpu")
    print(json.dumps({key: info[key] for key in ("git", "versions", "hardware", "params", "started")}))
    modules = {args.a: old_layers(args.a), args.b: old_layers(args.b)}
    for batch, channels, size in [(64, 16, 32), (32, 64, 32), (16, 160, 16)]:
        x = torch.randn(batch, channels, size, size, requires_grad=True, generator=torch.Generator().manual_seed(0))
        bank = next(iter(modules.values())).HarmonicConv2d(channels, channels, 3)._bank(torch.float32)

        def step(module):
            def run() -> None:
                mean, var = module._SpectralMoments.apply(x, bank, 3, (1, 1), (1, 1), (1, 1, 1, 1))
                torch.autograd.backward([mean, var], [torch.ones_like(mean), torch.ones_like(var)])
            return run

        steps = {name: step(module) for name, module in modules.items()}
        times = bench.interleaved_times(bench.Clock("cpu", torch.device("cpu")), steps, args.rounds)
        a, b = (statistics.median(times[name]) * 1e3 for name in steps)
        ratio = bench.median_ratio(times[args.b], times[args.a])
        print(f"{channels} channels {size}x{size} b{batch}: moments fwd+bwd {args.a} {a:.1f} ms, "
              f"{args.b} {b:.1f} ms, {args.b}/{args.a} {ratio:.2f}")


if __name__ == "__main__":
    main()
