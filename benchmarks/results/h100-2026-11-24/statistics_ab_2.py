"""A/B on CUDA: spectral-BN statistics (folded form) by patch moments vs from the maps, against the
literal form: single layers (sbn-train fwd+bwd / conv) and the harmonic networks' stems (SGD step /
plain network), eagerly and as CUDA graph replays."""
import sys
sys.path.insert(0, "benchmarks")
import torch
from torch import nn
import bench_harmonic_conv as b
from harmonic import layers
from harmonic.layers import HarmonicConv2d
from harmonic.models import resnet50, wrn

dev = torch.device("cuda")


def knob(value, form, module, step):
    def run():
        layers._CUDA_STATISTICS = value
        module.compute_form = form
        step()
    return run


shapes = [(3, 16, 3, 1, 1, 32, 128), (64, 64, 3, 1, 1, 32, 32), (3, 64, 7, 4, 3, 224, 64), (16, 16, 3, 1, 1, 32, 64)]
for graphs in (False, True):
    clock = b.Clock("wall", dev, graphs)
    for c_in, c_out, k, s, p, size, batch in shapes:
        torch.manual_seed(0)
        x = torch.randn(batch, c_in, size, size, device=dev, requires_grad=c_in != 3)
        conv = nn.Conv2d(c_in, c_out, k, stride=s, padding=p, bias=False).to(dev)
        sbn = HarmonicConv2d.from_conv(conv, spectral_bn=True).train()
        step = b._train_step(sbn, x)
        base, ratios = b.time_ratios(clock, b._train_step(conv, x), {
            "moments": knob("moments", "merged", sbn, step),
            "maps": knob("maps", "merged", sbn, step),
            "explicit(auto)": knob("moments", "auto", sbn, step)}, 20)
        print(f"layer graphs={graphs} {c_in}->{c_out} k{k} s{s} {size}x{size} b{batch}: conv {base*1e3:.3f} ms; "
              + ", ".join(f"{n} {m:.3f}/{f:.3f}" for n, (m, f) in ratios.items()), flush=True)
nets = [("WRN-28-10", lambda h: wrn(depth=28, widen_factor=10, harmonic=h), 128, 32),
        ("ResNet-50", lambda h: resnet50(num_classes=1000, harmonic=h), 64, 224)]
for name, build, batch, size in nets:
    for graphs in (False, True):
        clock = b.Clock("wall", dev, graphs)
        torch.manual_seed(0)
        plain, harm = build(None).to(dev).train(), build("all").to(dev).train()
        x = torch.randn(batch, 3, size, size, device=dev)
        y = torch.randint(0, 10, (batch,), device=dev)
        step = b._network_step(harm, x, y)
        base, ratios = b.time_ratios(clock, b._network_step(plain, x, y), {
            "stem moments": knob("moments", "merged", harm.conv1, step),
            "stem maps": knob("maps", "merged", harm.conv1, step),
            "stem explicit(auto)": knob("moments", "auto", harm.conv1, step)}, 20)
        print(f"net graphs={graphs} {name} {batch}x3x{size}x{size}: plain {base*1e3:.2f} ms; "
              + ", ".join(f"{n} {m:.3f}/{f:.3f}" for n, (m, f) in ratios.items()), flush=True)
        del plain, harm, step
        torch.cuda.empty_cache()
layers._CUDA_STATISTICS = "moments"
