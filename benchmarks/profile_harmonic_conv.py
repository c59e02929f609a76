"""Where one training step of a harmonic block spends its time: torch.profiler's table per form.

For a layer shape of the speed benchmark (``bench_harmonic_conv.py``), one
forward + backward of ``nn.Conv2d`` and of the chosen forms of
:class:`harmonic.layers.HarmonicConv2d`, profiled over a few steps after a
warm-up. Prints, per form, the operators sorted by self device time (CUDA) or
self CPU time, and the number of operator calls per step: on a GPU small layers
are bound by launches, and that count is what the forms differ in.

    python benchmarks/profile_harmonic_conv.py --device cuda --shape 64 64 32 32 --forms merged sbn-train

``--network NAME BATCH SIZE`` profiles one SGD step of a plain and a harmonic
network instead (``wrn-16-4``, ``wrn-28-10`` or ``resnet50``).
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from bench_harmonic_conv import _network_step, _train_step  # the benchmark's steps, profiled as timed

from harmonic.layers import HarmonicConv2d
from harmonic.models import resnet50, wrn

FORMS = ("conv", "merged", "patch", "two-stage", "sbn-train", "sbn-train-explicit", "sbn-eval")


def _forward(form: str, conv: nn.Conv2d) -> Callable[[torch.Tensor], torch.Tensor]:
    """What a step of ``form`` calls: the module built from ``conv``, or its explicit form."""
    if form == "conv":
        return conv
    layer = HarmonicConv2d.from_conv(conv, spectral_bn=form.startswith("sbn"))
    if form in ("merged", "patch"):
        layer.compute_form = form
    if form == "sbn-eval":
        layer.eval()
    return layer.explicit_forward if form in ("two-stage", "sbn-train-explicit") else layer


def _network(name: str, harmonic: str | None) -> nn.Module:
    if name == "resnet50":
        return resnet50(num_classes=1000, harmonic=harmonic)
    depth, width = (int(v) for v in name.removeprefix("wrn-").split("-"))
    return wrn(depth=depth, widen_factor=width, harmonic=harmonic)


def _profile(step: Callable[[], None], steps: int, device: torch.device, title: str, rows: int) -> None:
    """Warm up, profile ``steps`` calls of ``step`` and print the operator table."""
    for _ in range(3):
        step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    events = prof.key_averages()
    calls = sum(e.count for e in events if not e.key.startswith(("cuda", "Memcpy", "Memset"))) / steps
    sort_by = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(f"\n== {title} on {device}, {calls:.0f} profiled calls per step (operators and kernels)")
    print(events.table(sort_by=sort_by, row_limit=rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shape", type=int, nargs=4, default=(64, 64, 32, 32), metavar=("IN", "OUT", "SIZE", "BATCH"))
    parser.add_argument("--forms", nargs="+", default=list(FORMS), choices=FORMS)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rows", type=int, default=12, help="operators listed per form")
    parser.add_argument("--network", nargs=3, metavar=("NAME", "BATCH", "SIZE"), help="e.g. wrn-28-10 128 32")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.network:
        name, batch, size = args.network[0], int(args.network[1]), int(args.network[2])
        x = torch.randn(batch, 3, size, size, device=device)
        y = torch.randint(0, 10, (batch,), device=device)
        for harmonic in (None, "all"):
            torch.manual_seed(0)
            model = _network(name, harmonic).to(device).train()
            label = f"{name} harmonic={harmonic} {batch}x3x{size}x{size}"
            _profile(_network_step(model, x, y), args.steps, device, label, args.rows)
        return
    c_in, c_out, size, batch = args.shape
    torch.manual_seed(0)
    base = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False).to(device)
    x = torch.randn(batch, c_in, size, size, device=device, requires_grad=c_in != 3)
    for form in args.forms:
        step = _train_step(_forward(form, copy.deepcopy(base)), x)
        _profile(step, args.steps, device, f"{form}: {c_in}->{c_out} {size}x{size} b{batch}", args.rows)


if __name__ == "__main__":
    main()
