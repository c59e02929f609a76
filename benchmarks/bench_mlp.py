"""Training-step speed of HarmonicMLP against the ReLU baseline of the same size.

Timing only: the inputs are random-normal 784-dim vectors with random labels,
nothing is learned or evaluated. Each model runs the same loop (zero_grad,
forward, cross-entropy, backward, Adam step; the harmonic models through
FrequencyAwareOptimizer, as in the seed) over ``--batches`` batches, best of
``--repeats`` interleaved rounds, extrapolated to one MNIST epoch
(60000 samples). The seed's per-neuron Python loop took 188 s per MNIST epoch.

    python benchmarks/bench_mlp.py --batches 50 --threads 1
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn
from torch.nn import functional as F

from harmonic.mlp.activations import ACTIVATIONS
from harmonic.mlp import FrequencyAwareOptimizer, HarmonicMLP, ReLUMLP

EPOCH_SAMPLES = 60000


def time_batches(model: nn.Module, optimizer: torch.optim.Optimizer, batches: list) -> float:
    """Seconds for one pass of the training loop over ``batches``."""
    model.train()
    start = time.perf_counter()
    for x, y in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=50, help="timed batches per round")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds; the best is kept")
    parser.add_argument("--hidden-sizes", type=int, nargs="+", default=[512, 256])
    parser.add_argument(
        "--activations", nargs="+", default=["harmonic"], choices=ACTIVATIONS,
        help="HarmonicMLP activations to time against ReLU",
    )
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    hidden = tuple(args.hidden_sizes)
    models: dict[str, tuple[nn.Module, torch.optim.Optimizer]] = {}
    relu = ReLUMLP(hidden_sizes=hidden)
    models["relu"] = (relu, torch.optim.Adam(relu.parameters(), lr=1e-3, weight_decay=1e-5))
    for activation in args.activations:
        model = HarmonicMLP(hidden_sizes=hidden, max_freqs=5.0 if len(hidden) != 2 else (5.0, 3.0),
                            activation=activation)
        adam = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
        models[f"harmonic ({activation})"] = (model, FrequencyAwareOptimizer(adam, model, 0.1))

    batches = [
        (torch.randn(args.batch_size, 1, 28, 28), torch.randint(0, 10, (args.batch_size,)))
        for _ in range(args.batches)
    ]
    for model, optimizer in models.values():  # warm-up: allocator, Adam state
        time_batches(model, optimizer, batches[:3])
    best = {name: math.inf for name in models}
    for _ in range(args.repeats):
        for name, (model, optimizer) in models.items():
            best[name] = min(best[name], time_batches(model, optimizer, batches))

    per_epoch = math.ceil(EPOCH_SAMPLES / args.batch_size)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, hidden {hidden}, "
          f"batch {args.batch_size}, {args.batches} timed batches x best of {args.repeats}, "
          f"epoch = {per_epoch} batches (random data: timing only)")
    print(f"{'model':<22}{'ms/batch':>10}{'s/epoch':>10}{'ratio':>8}")
    for name, seconds in best.items():
        ms = 1000 * seconds / args.batches
        ratio = seconds / best["relu"]
        print(f"{name:<22}{ms:>10.2f}{ms * per_epoch / 1000:>10.2f}{ratio:>8.2f}")


if __name__ == "__main__":
    main()
