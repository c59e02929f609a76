"""A/B: harmonic/layers.py of this tree against the one of commit OLD (default b143636) on CPU.

Per layer shape of the benchmark: training steps (forward + backward, as
bench_harmonic_conv.py times them) of spectral BN in eval mode (the folded
node), spectral BN in training with ``compute_form="merged"`` (folded) and the
merged form without BN, each in the old and the new code, interleaved with
``nn.Conv2d`` in rotated order (process CPU time, one thread). Prints the median
per-round ratio to the conv, the median per-round new/old ratio, and the number
of operator calls that do work per step (torch.profiler; views and dtype no-ops
not counted), which on CUDA is about the number of kernel launches.

    python benchmarks/results/cpu-2026-11-24/fold_ab.py [--old COMMIT] [--rounds 40]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types

import torch
from torch import nn
from torch.profiler import profile

sys.path.insert(0, "benchmarks")
import bench_harmonic_conv as bench  # noqa: E402

from harmonic import layers as new  # noqa: E402
from harmonic.results import provenance  # noqa: E402

# the four layer shapes, then a tiny one where the per-call overhead is most of the step
SHAPES = [(16, 16, 32, 64), (64, 64, 32, 32), (160, 160, 16, 16), (3, 16, 32, 128), (16, 16, 8, 2)]
NO_WORK = {
    "aten::view", "aten::reshape", "aten::as_strided", "aten::numpy_T", "aten::t", "aten::transpose",
    "aten::expand", "aten::slice", "aten::select", "aten::unsqueeze", "aten::squeeze", "aten::_unsafe_view",
    "aten::permute", "aten::detach", "aten::alias", "aten::empty", "aten::empty_strided", "aten::empty_like",
    "aten::lift_fresh", "aten::to", "aten::_to_copy", "aten::result_type", "aten::resolve_conj",
    "aten::resolve_neg", "aten::resize_", "aten::as_strided_", "aten::_reshape_alias", "aten::contiguous",
    "aten::unfold",
}


def old_layers(commit: str) -> types.ModuleType:
    """harmonic/layers.py as of ``commit``, importing the current package's other modules."""
    source = subprocess.run(["git", "show", f"{commit}:harmonic/layers.py"], capture_output=True, text=True,
                            check=True).stdout
    module = types.ModuleType("harmonic._layers_ab_old")
    module.__package__ = "harmonic"
    exec(compile(source, f"{commit}:harmonic/layers.py", "exec"), module.__dict__)
    return module


def operator_calls(step: bench.Step) -> int:
    """Operator calls that do work in one ``step`` (outermost counted op only)."""
    step()
    with profile() as prof:
        step()
    count = 0
    for event in prof.events():
        if not event.name.startswith("aten::") or event.name in NO_WORK:
            continue
        parent = event.cpu_parent
        while parent is not None and (not parent.name.startswith("aten::") or parent.name in NO_WORK):
            parent = parent.cpu_parent
        count += parent is None
    return count


def forms(module: types.ModuleType, conv: nn.Conv2d) -> dict[str, nn.Module]:
    sbn_eval = module.HarmonicConv2d.from_conv(conv, spectral_bn=True).eval()
    sbn_train = bench.with_form(module.HarmonicConv2d.from_conv(conv, spectral_bn=True).train(), "merged")
    merged = bench.with_form(module.HarmonicConv2d.from_conv(conv), "merged")
    return {"sbn-eval": sbn_eval, "sbn-train-folded": sbn_train, "merged": merged}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="b143636")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)
    bench.keep_freed_memory()
    old = old_layers(args.old)
    clock = bench.Clock("cpu", torch.device("cpu"))
    info = provenance(vars(args), seed=0, device="cpu")
    print(json.dumps({k: info[k] for k in ("git", "versions", "hardware", "params", "started")}))
    for c_in, c_out, size, batch in SHAPES:
        torch.manual_seed(0)
        x = torch.randn(batch, c_in, size, size, requires_grad=c_in != 3)
        conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        steps = {"conv": bench._train_step(conv, x)}
        for tag, module in (("old", old), ("new", new)):
            for form, layer in forms(module, conv).items():
                steps[f"{form} {tag}"] = bench._train_step(layer, x)
        times = bench.interleaved_times(clock, steps, args.rounds)

        def ratio(a: str, b: str) -> float:
            return bench.median_ratio(times[a], times[b])

        print(f"{c_in}->{c_out} {size}x{size} b{batch}: conv {min(times['conv']) * 1e3:.2f} ms, "
              f"{operator_calls(steps['conv'])} operator calls")
        for form in ("sbn-eval", "sbn-train-folded", "merged"):
            print(f"  {form:17s} /conv old {ratio(f'{form} old', 'conv'):.3f} new {ratio(f'{form} new', 'conv'):.3f}"
                  f"  new/old {ratio(f'{form} new', f'{form} old'):.3f}"
                  f"  operator calls old {operator_calls(steps[f'{form} old'])}"
                  f" new {operator_calls(steps[f'{form} new'])}", flush=True)


if __name__ == "__main__":
    main()
