"""A/B on CUDA: spectral-BN statistics by unfold moments vs from the maps (sbn-train fwd+bwd)."""
import sys
sys.path.insert(0, "benchmarks")
import torch
from torch import nn
import bench_harmonic_conv as b
from harmonic import layers
from harmonic.layers import HarmonicConv2d

dev = torch.device("cuda")
shapes = [(3, 16, 3, 1, 1, 32, 128), (64, 64, 3, 1, 1, 32, 32), (3, 64, 7, 4, 3, 224, 64), (16, 16, 3, 1, 1, 32, 64)]
for graphs in (False, True):
    clock = b.Clock("wall", dev, graphs)
    for c_in, c_out, k, s, p, size, batch in shapes:
        torch.manual_seed(0)
        x = torch.randn(batch, c_in, size, size, device=dev, requires_grad=c_in != 3)
        conv = nn.Conv2d(c_in, c_out, k, stride=s, padding=p, bias=False).to(dev)
        sbn = HarmonicConv2d.from_conv(conv, spectral_bn=True).train()
        def knob(value, step):
            def run():
                layers._CUDA_STATISTICS = value
                step()
            return run
        base, ratios = b.time_ratios(clock, b._train_step(conv, x), {
            "moments": knob("moments", b._train_step(sbn, x)),
            "maps": knob("maps", b._train_step(sbn, x)),
            "explicit": b._train_step(sbn.explicit_forward, x)}, 20)
        print(f"graphs={graphs} {c_in}->{c_out} k{k} s{s} {size}x{size} b{batch}: conv {base*1e3:.3f} ms; "
              + ", ".join(f"{n} {m:.2f}/{f:.2f}" for n, (m, f) in ratios.items()), flush=True)
layers._CUDA_STATISTICS = "moments"
