"""Speed of harmonic blocks relative to ``nn.Conv2d`` of the same geometry, per form and per network.

Forms of :class:`harmonic.layers.HarmonicConv2d` (3x3, padding 1, no bias),
timed against ``nn.Conv2d`` with the same geometry:

- ``merged``: no inner BN, one conv with kernel ``sum_f w_f psi_f``;
- ``patch``: no inner BN, DCT coefficients of the unfolded patches, then one
  matrix product (``compute_form="patch"``; ``"auto"`` picks it on CPU for
  layers with few output positions per output channel, as in the deep layer);
- ``two-stage``: depthwise DCT conv + 1x1 conv (``explicit_forward``, no BN),
  what the original implementation computes;
- ``sbn-train``: spectral BN (eq. 3) in training mode: batch statistics from
  input patch moments, folded into one conv;
- ``sbn-train-explicit``: the same, literal form (depthwise conv,
  ``BatchNorm2d`` over the spectral maps, 1x1 conv), which ``auto`` runs on CUDA;
- ``sbn-train-folded``: the same with ``compute_form="merged"``: batch statistics
  (patch moments on CPU, the maps' on CUDA) folded into one conv;
- ``sbn-eval``: spectral BN in eval mode (running statistics folded), as a
  training step (e.g. fine-tuning with frozen statistics) and as inference;
- ``conv+bias``: ``nn.Conv2d`` with a bias (a reference, not a harmonic form):
  folding BN's shift gives the spectral-BN forms a conv bias, and this row
  measures what a bias alone costs against the bias-free baseline.

The spectral-BN forms use ``compute_form="auto"``: on CPU the patch form (BN on
the patches' DCT coefficients) where it applies, as in the deep layer; on CUDA
the literal form in training.

Training steps are forward + backward (input gradients for inner layers, not
for the stem, whose input is the image); inference is a forward pass under
``torch.no_grad()`` in eval mode. Whole networks: WRN-16-4 vs Harm-WRN-16-4
(``harmonic="all"``) on 32x32 and ResNet-50 vs Harm-ResNet-50 on 64x64 inputs,
one SGD step, and an eval forward; ``Harm-net`` uses the default
``compute_form="auto"``, ``Harm-net merged`` forces the merged conv everywhere.

Timing: each round runs the baseline and every candidate once, interleaved, in
an order rotated from round to round;
``median`` is the median over rounds of the per-round ratio, ``fastest`` the
ratio of the fastest rounds. ``--clock cpu`` measures process CPU time instead
of wall time; with ``--threads 1`` it is insensitive to other processes taking
the CPU (use it on shared machines). On glibc the script first asks malloc to
keep freed memory (see :func:`keep_freed_memory`; ``--glibc-malloc`` to skip).
Nothing is asserted; targets are printed.

    python benchmarks/bench_harmonic_conv.py --quick --threads 1 --clock cpu
    python benchmarks/bench_harmonic_conv.py --device cuda [--cuda-graphs] [--amp --cudnn-benchmark]

On CUDA each timed sample runs a step back to back until it lasts about 20 ms
(see :class:`Clock`), and two networks at the papers' training sizes are added;
``--cuda-graphs`` times replays of captured steps, i.e. the GPU's work without
the host's Python and launch overhead, which bounds small layers when timed eagerly.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import contextlib
import json
import math
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from harmonic.layers import HarmonicConv2d
from harmonic.models import resnet50, wrn
from harmonic.results import atomic_write_text, provenance

# (in_channels, out_channels, spatial size, batch); the stem shape is 3 -> 16. The first four are
# issue #3's; the last is a deep layer of ResNet-50 on 64x64 inputs (its fourth stage at batch 2).
LAYER_SHAPES = [(16, 16, 32, 64), (64, 64, 32, 32), (160, 160, 16, 16), (3, 16, 32, 128), (512, 512, 2, 2)]
# Targets of issue #3 (ratio to nn.Conv2d / to the plain network).
TARGETS = {"merged": 1.05, "sbn-eval": 1.05, "network": 1.05}
STEM_SBN_TRAIN_TARGET = 2.0
CUDA_SAMPLE_S = 0.02  # seconds of GPU work per timed sample on CUDA (see Clock)

Step = Callable[[], None]
Row = tuple[str, str, str, float, float, float, "float | None"]


def with_form(module: nn.Module, form: str) -> nn.Module:
    """``module`` with every :class:`HarmonicConv2d` in it set to ``compute_form=form``."""
    for layer in module.modules():
        if isinstance(layer, HarmonicConv2d):
            layer.compute_form = form
    return module


def keep_freed_memory() -> bool:
    """Make glibc keep freed large blocks instead of unmapping them (as jemalloc/tcmalloc do).

    With glibc's defaults every multi-megabyte tensor is a fresh ``mmap``, so
    each step page-faults its activations anew; measured here that doubles a
    small conv's time and makes it vary by 3x between steps.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))


class Clock:
    """Wall clock (synchronising CUDA) or process CPU time.

    On CUDA a timed sample runs the step ``calls`` times back to back between two
    synchronisations (set per case by :func:`time_ratios` so that a baseline sample
    lasts at least :data:`CUDA_SAMPLE_S`): a single small step would time the
    synchronisation and the host's launch latency, not the GPU's work.
    """

    def __init__(self, kind: str, device: torch.device, graphs: bool = False) -> None:
        if kind == "cpu" and device.type != "cpu":
            raise ValueError(f"--clock cpu only measures CPU devices; got device {device}")
        if graphs and device.type != "cuda":
            raise ValueError(f"--cuda-graphs needs a CUDA device; got device {device}")
        self.device = device
        self.now = time.process_time if kind == "cpu" else time.perf_counter
        self.calls = 1
        self.graphs = graphs

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def time(self, step: Step) -> float:
        """Seconds per call of ``step`` (mean over the sample's ``calls``)."""
        self._sync()
        start = self.now()
        for _ in range(self.calls):
            step()
        self._sync()
        return (self.now() - start) / self.calls

    def calibrate(self, step: Step) -> None:
        """On CUDA, choose ``calls`` so that one sample of ``step`` lasts about CUDA_SAMPLE_S."""
        self.calls = 1
        if self.device.type == "cuda":
            step()  # warm-up (cuDNN algorithm choice, allocator)
            self.calls = max(1, min(1000, math.ceil(CUDA_SAMPLE_S / max(self.time(step), 1e-6))))


def cuda_graph(step: Step, device: torch.device) -> Step:
    """``step`` captured once in a CUDA graph (after a warm-up on a side stream): its replay
    launches the same kernels without the host's Python and dispatch work, so the timing
    measures the GPU's work alone."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def interleaved_times(clock: Clock, steps: dict[str, Step], repeats: int, warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per call of every step in each of ``repeats`` rounds (after ``warmup`` untimed ones)."""
    names = list(steps)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + repeats):
        # Rotate the order every round: a step runs measurably slower or faster depending on
        # what ran just before it (cache and allocator state; up to ~3 % on whole networks).
        start = round_index % len(names)
        for name in names[start:] + names[:start]:
            elapsed = clock.time(steps[name])
            if round_index >= warmup:
                times[name].append(elapsed)
    return times


def median_ratio(times: list[float], base: list[float]) -> float:
    """Median over rounds of the per-round ratio ``times / base``."""
    return statistics.median(t / b for t, b in zip(times, base, strict=True))


def time_ratios(
    clock: Clock, baseline: Step, candidates: dict[str, Step], repeats: int, warmup: int = 2
) -> tuple[float, dict[str, tuple[float, float]]]:
    """Fastest baseline time (s) and, per candidate, (median per-round ratio, ratio of fastest)."""
    steps = {"baseline": baseline, **candidates}
    if clock.graphs:
        steps = {name: cuda_graph(step, clock.device) for name, step in steps.items()}
    clock.calibrate(steps["baseline"])
    times = interleaved_times(clock, steps, repeats, warmup)
    base = times["baseline"]
    ratios = {name: (median_ratio(times[name], base), min(times[name]) / min(base)) for name in candidates}
    return min(base), ratios


def _train_step(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Step:
    def step() -> None:
        out = forward(x)
        out.backward(torch.ones_like(out))

    return step


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    # no weight-cast cache: it is not allowed in CUDA graph capture, and a step casts each weight once
    return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False) if amp else contextlib.nullcontext()


def _inference(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, amp: bool = False) -> Step:
    def step() -> None:
        with torch.no_grad(), _autocast(x.device, amp):
            forward(x)

    return step


def _rows(label: str, kind: str, base: float, ratios: dict, stem: bool) -> list[Row]:
    rows = []
    for form, (median, fastest) in ratios.items():
        target = TARGETS.get(form)
        if stem and form == "sbn-train":
            target = STEM_SBN_TRAIN_TARGET
        rows.append((label, kind, form, base * 1e3, median, fastest, target))
    return rows


def bench_layers(clock: Clock, repeats: int) -> list[Row]:
    device = clock.device
    rows: list[Row] = []
    for c_in, c_out, size, batch in LAYER_SHAPES:
        stem = c_in == 3
        torch.manual_seed(0)
        x = torch.randn(batch, c_in, size, size, device=device, requires_grad=not stem)
        conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False).to(device)
        conv_bias = nn.Conv2d(c_in, c_out, 3, padding=1).to(device)
        merged = with_form(HarmonicConv2d.from_conv(conv), "merged")
        patch = with_form(HarmonicConv2d.from_conv(conv), "patch")
        sbn = HarmonicConv2d.from_conv(conv, spectral_bn=True).train()
        sbn_explicit = copy.deepcopy(sbn)
        sbn_folded = with_form(copy.deepcopy(sbn), "merged")
        sbn_eval = copy.deepcopy(sbn).eval()
        label = f"{c_in}->{c_out} {size}x{size} b{batch}" + (" stem" if stem else "")
        base, ratios = time_ratios(
            clock,
            _train_step(conv, x),
            {
                "merged": _train_step(merged, x),
                "patch": _train_step(patch, x),
                "two-stage": _train_step(merged.explicit_forward, x),
                "sbn-train": _train_step(sbn, x),
                "sbn-train-explicit": _train_step(sbn_explicit.explicit_forward, x),
                "sbn-train-folded": _train_step(sbn_folded, x),
                "sbn-eval": _train_step(sbn_eval, x),
                "conv+bias": _train_step(conv_bias, x),
            },
            repeats,
        )
        rows += _rows(label, "fwd+bwd", base, ratios, stem)
        conv.eval()
        merged.eval()
        base, ratios = time_ratios(
            clock,
            _inference(conv, x),
            {
                "merged": _inference(merged, x),
                "sbn-eval": _inference(sbn_eval, x),
                "sbn-eval-explicit": _inference(sbn_eval.explicit_forward, x),
            },
            repeats,
        )
        rows += _rows(label, "inference", base, ratios, stem)
    return rows


def _network_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool = False) -> Step:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with _autocast(x.device, amp):
            loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    return step


def bench_networks(clock: Clock, repeats: int, quick: bool, amp: bool = False) -> list[Row]:
    """Plain vs harmonic networks, one SGD step and an eval forward (bfloat16 autocast if ``amp``).

    On CUDA two cases at the papers' training sizes follow the small ones:
    WRN-28-10 on 128 CIFAR-sized images and ResNet-50 on 64 images of 224x224.
    """
    device = clock.device

    def wrn_16_4(harmonic: str | None) -> nn.Module:
        return wrn(depth=16, widen_factor=4, harmonic=harmonic)

    def resnet_50(harmonic: str | None) -> nn.Module:
        return resnet50(num_classes=1000, harmonic=harmonic)

    def wrn_28_10(harmonic: str | None) -> nn.Module:
        return wrn(depth=28, widen_factor=10, harmonic=harmonic)

    cases = [("WRN-16-4", wrn_16_4, 8 if quick else 32, 32), ("ResNet-50", resnet_50, 2, 64)]
    if not quick:  # merging kernels costs per step, not per image: larger batches amortise it
        cases.append(("ResNet-50", resnet_50, 16, 64))
    if device.type == "cuda" and not quick:
        cases += [("WRN-28-10", wrn_28_10, 128, 32), ("ResNet-50", resnet_50, 64, 224)]
    rows: list[Row] = []
    for name, build, batch, size in cases:
        torch.manual_seed(0)
        plain = build(None).to(device).train()
        harm = build("all").to(device).train()
        harm_merged = with_form(copy.deepcopy(harm), "merged")
        x = torch.randn(batch, 3, size, size, device=device)
        y = torch.randint(0, 10, (batch,), device=device)
        label = f"{name} {batch}x3x{size}x{size}" + (" bf16" if amp else "")
        candidates = {
            "Harm-net": _network_step(harm, x, y, amp),
            "Harm-net merged": _network_step(harm_merged, x, y, amp),
        }
        base, ratios = time_ratios(clock, _network_step(plain, x, y, amp), candidates, repeats)
        rows += [(label, "train step", form, base * 1e3, *ratios[form], TARGETS["network"]) for form in candidates]
        plain.eval()
        harm.eval()
        base, ratios = time_ratios(
            clock, _inference(plain, x, amp), {"Harm-net": _inference(harm, x, amp)}, repeats
        )
        rows.append((label, "inference", "Harm-net", base * 1e3, *ratios["Harm-net"], TARGETS["network"]))
        del plain, harm, harm_merged, candidates
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def save_json(path: str, tables: list[dict], args: argparse.Namespace) -> None:
    """Every table with the run's provenance (commit, versions, hardware, arguments), atomically."""
    settings = {
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
    }
    record = {"provenance": provenance({**vars(args), **settings}, seed=0, device=args.device), "tables": tables}
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(f"{'case':26s} {'timing':10s} {'form':19s} {'base ms':>8s} {'median':>7s} {'fastest':>7s}  target")
    for label, kind, form, base_ms, median, fastest, target in rows:
        mark = ""
        if target is not None:
            mark = f"<={target:.2f}" + ("" if min(median, fastest) <= target else " missed")
        print(f"{label:26s} {kind:10s} {form:19s} {base_ms:8.2f} {median:7.2f} {fastest:7.2f}  {mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="all", help="cpu, cuda or all (cuda only if available)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per case")
    parser.add_argument("--quick", action="store_true", help="5 rounds per case, WRN batch 8 (~2 min on CPU)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="cpu: process CPU time")
    parser.add_argument("--part", choices=("all", "layers", "networks"), default="all", help="what to time")
    parser.add_argument("--glibc-malloc", action="store_true", help="keep glibc's default malloc settings")
    parser.add_argument("--amp", action="store_true", help="networks in bfloat16 autocast (as GPU training runs)")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN time its algorithms per shape")
    parser.add_argument("--json", metavar="PATH", help="also write the tables and the run's provenance here")
    parser.add_argument("--cuda-graphs", action="store_true",
                        help="on CUDA, time replays of captured steps: the GPU's work without the host's")
    args = parser.parse_args()
    tuned = not args.glibc_malloc and keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    if args.device == "all":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = [args.device]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s), clock: {args.clock}, "
        f"malloc: {'freed blocks kept (mallopt)' if tuned else 'default'}"
    )
    if torch.cuda.is_available():
        print(
            f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, cudnn.benchmark "
            f"{torch.backends.cudnn.benchmark}, TF32 conv {torch.backends.cudnn.allow_tf32} "
            f"matmul {torch.backends.cuda.matmul.allow_tf32}"
        )
    print("ratio = time of the harmonic form / time of nn.Conv2d (networks: / plain network)")
    tables: list[dict] = []
    for name in devices:
        device = torch.device(name)
        graphs = args.cuda_graphs and device.type == "cuda"
        clock = Clock(args.clock if device.type == "cpu" else "wall", device, graphs)
        repeats = args.repeats or (5 if args.quick else 15) * (1 if device.type == "cpu" else 2)
        title = f"[{device}" + (f" {torch.cuda.get_device_name(device)}]" if device.type == "cuda" else "]")
        title += " CUDA graph replays" if graphs else ""
        parts = []
        if args.part in ("all", "layers"):
            parts.append((f"{title} single layers, {repeats} rounds", bench_layers(clock, repeats)))
        if args.part in ("all", "networks"):
            amp = " bf16 autocast" if args.amp else ""
            parts.append((f"{title} networks{amp}, {repeats} rounds",
                          bench_networks(clock, repeats, args.quick, args.amp)))
        for table_title, rows in parts:
            print_table(table_title, rows)
            keys = ("case", "timing", "form", "base_ms", "median", "fastest", "target")
            tables.append({"title": table_title, "rows": [dict(zip(keys, row, strict=True)) for row in rows]})
            if args.json:  # after every table: an interrupted run keeps what it measured
                save_json(args.json, tables, args)


if __name__ == "__main__":
    main()
