"""Converting a trained convolutional network into a harmonic one (Table 2's conversion experiment).

Each k×k kernel is replaced by its least-squares coefficients on the DCT filters (eq. 2
solved for ``w``). With the full basis the filters span every k×k kernel, so the projection
is exact under any per-filter normalisation (L1 or orthonormal: scaling a basis vector only
rescales its coefficient) and the converted network computes the same function; truncating
to λ drops each kernel's high frequencies. As in the paper (Section 5.2), the converted stem
has no spectral BN: a trained plain network has no statistics for it.

:func:`run_conversion` is the small-scale version of Table 2's "converted + finetuned" rows
for a trained plain WRN: exactness of the full-basis conversion on every test image, the
accuracy of the progressive-λ conversion before fine-tuning, and after a few epochs at lr 0.001
(with the plain network fine-tuned the same way as the control).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Mapping, Optional

import pandas as pd
import torch
from torch import nn

from harmonic import results
from harmonic.experiments.checkpoints import load_checkpoint
from harmonic.experiments.recording import RunResult, recorded_run
from harmonic.harmonize import harmonize
from harmonic.utils import count_parameters

#: ResNet-50 conversions of the paper (Section 5.2): name → ``level`` of :func:`harmonize`.
RESNET50_CONVERSIONS: dict[str, Any] = {
    "full basis": None,
    "progressive λ (layer3: 3, layer4: 2)": {"layer3": 3, "layer4": 2},
}

#: WRN conversions of the small-scale study: the full basis and the paper's progressive λ per group.
WRN_CONVERSIONS: dict[str, Any] = {
    "full basis": None,
    "progressive λ (layer2: 3, layer3: 2)": {"layer2": 3, "layer3": 2},
}


def convert(model: nn.Module, level: Any = None, norm: str | None = "l1") -> nn.Module:
    """A harmonic copy of a trained plain ``model``: every k×k convolution projected on the DCT
    basis (``level``: as :func:`~harmonic.harmonize.harmonize`), no spectral BN anywhere (the
    paper's conversion: the stem's BN statistics are not available)."""
    return harmonize(copy.deepcopy(model), level=level, convert=True, stem_spectral_bn=False, norm=norm)


@torch.no_grad()
def conversion_report(
    model: nn.Module,
    inputs: torch.Tensor,
    variants: Mapping[str, Any] = RESNET50_CONVERSIONS,
    norm: str | None = "l1",
) -> pd.DataFrame:
    """Convert copies of ``model`` with each ``level`` in ``variants`` and compare outputs on ``inputs``.

    Every k×k convolution is replaced by a :class:`~harmonic.layers.HarmonicConv2d` whose
    weights are the least-squares DCT coefficients of the original kernel (:func:`convert`;
    exact for the full basis). Both models run in eval mode. Columns: variant, parameters,
    max and mean |Δlogit|, relative error ‖Δ‖/‖logits‖ and top-1 agreement (%) with the original.
    """
    model = model.eval()
    reference = model(inputs)
    rows = []
    for name, level in variants.items():
        converted = convert(model, level, norm).eval()
        logits = converted(inputs)
        delta = (logits - reference).abs()
        rows.append({
            "variant": name,
            "parameters": count_parameters(converted),
            "max |Δlogit|": delta.max().item(),
            "mean |Δlogit|": delta.mean().item(),
            "relative error": (torch.linalg.vector_norm(logits - reference) / torch.linalg.vector_norm(reference)).item(),
            "top-1 agreement (%)": 100.0 * (logits.argmax(1) == reference.argmax(1)).float().mean().item(),
        })
    original = {"variant": "original (nn.Conv2d)", "parameters": count_parameters(model), "max |Δlogit|": 0.0,
                "mean |Δlogit|": 0.0, "relative error": 0.0, "top-1 agreement (%)": 100.0}
    return pd.DataFrame([original, *rows])


def probe_images(source: str = "fashion-mnist", n: int = 8, size: int = 224,
                 root: str | None = None, seed: int = 0) -> torch.Tensor:
    """A batch ``(n, 3, size, size)`` to compare networks on.

    ``"fashion-mnist"``: real test images (grey replicated to RGB, bilinearly resized),
    which are at hand offline; ``"noise"``: standard normal noise from ``seed``. Where ImageNet is at hand, pass its own validation images instead.
    """
    if source == "noise":
        return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))
    if source != "fashion-mnist":
        raise ValueError(f"source must be 'fashion-mnist' or 'noise', got {source!r}")
    from harmonic.datasets.mnist import load_fashion_mnist

    x = load_fashion_mnist(train=False, root=root, subset=n).tensors[0]
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1).contiguous()


@torch.no_grad()
def _logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def _source_model(folder: Path) -> tuple[nn.Module, dict[str, Any]]:
    """The trained plain WRN of a recorded run folder (its ``provenance.json`` and ``model.pt``)."""
    from harmonic.datasets.cifar import image_dataset_info
    from harmonic.models import wrn
    from harmonic.experiments.wrn import MODEL_FILE

    provenance_path, weights_path = folder / results.PROVENANCE_FILE, folder / MODEL_FILE
    for path in (provenance_path, weights_path):
        if not path.is_file():
            raise ValueError(f"source_run: {path} is missing (record the plain run with save_model=True first)")
    params = results.read_provenance(provenance_path).get("params")
    if not isinstance(params, dict):
        raise ValueError(f"source_run: {provenance_path} records no parameters")
    if params.get("harmonic") is not None:
        raise ValueError(f"source_run: {folder.name} is a harmonic network (harmonic={params['harmonic']!r}); "
                         "conversion starts from a plain one")
    info = image_dataset_info(params["dataset"])
    model = wrn(params["depth"], params["widen_factor"], num_classes=info.num_classes, dropout=params["dropout"],
                in_channels=info.in_channels)
    model.load_state_dict(load_checkpoint(weights_path, map_location="cpu"))  # its SHA-256 checked, if it has one
    return model, params


def run_conversion(
    results_dir: str | os.PathLike,
    run_name: str,
    source_run: str,
    *,
    finetune_epochs: int = 2,
    lr: float = 0.001,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    batch_size: int = 128,
    augment: bool = True,
    seed: int = 0,
    data_root: str | None = None,
    subset: int | None = None,
    test_subset: int | None = None,
    device: str = "cpu",
    progress: bool = False,
    conversions: Mapping[str, Any] = WRN_CONVERSIONS,
    plan: Mapping[str, Any] | None = None,
) -> RunResult:
    """Table 2's "converted + finetuned" protocol at small scale, recorded as ``<results_dir>/<run_name>``.

    Takes the trained plain WRN of ``<results_dir>/<source_run>`` (``model.pt``), converts it with
    each of ``conversions`` (:func:`convert`), and fine-tunes the converted networks, and the plain
    one as the control, for ``finetune_epochs`` epochs of SGD at ``lr`` (the paper: 5 epochs at
    0.001). ``metrics.csv`` has one row per (variant, epoch), epoch 0 being before fine-tuning,
    with ``test_acc``, ``test_loss``, ``parameters``, and, against the plain network's test
    logits, ``identical_predictions`` (test images with the same predicted class) and
    ``max_abs_logit_diff``. ``subset`` / ``test_subset``: fixed subsets (tests; the study uses all images).
    """
    from harmonic.datasets.cifar import cifar_augment, load_image_dataset
    from harmonic.experiments.train import evaluate, fit, make_optimizer, seed_everything, select_device

    source_folder = Path(results_dir) / source_run
    plain, source_params = _source_model(source_folder)
    dev = select_device(device)
    train_set = load_image_dataset(source_params["dataset"], train=True, root=data_root, subset=subset)
    test_set = load_image_dataset(source_params["dataset"], train=False, root=data_root, subset=test_subset)
    x_test, y_test = test_set.tensors
    reference = _logits(plain, x_test)
    variants = {"plain (control)": plain} | {name: convert(plain, level) for name, level in conversions.items()}

    def train(_checkpoint: Optional[Path]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for name, model in variants.items():
            logits = _logits(model, x_test)
            test_loss, test_acc = evaluate(model, x_test, y_test)
            common = {"variant": name, "parameters": count_parameters(model)}
            rows.append(common | {
                "epoch": 0, "test_acc": test_acc, "test_loss": test_loss,
                "identical_predictions": int((logits.argmax(1) == reference.argmax(1)).sum()),
                "max_abs_logit_diff": (logits - reference).abs().max().item(),
            })
            seed_everything(seed)
            optimizer = make_optimizer(model, "sgd", lr=lr, momentum=momentum, weight_decay=weight_decay)
            history = fit(model, optimizer, train_set, test_set, epochs=finetune_epochs, batch_size=batch_size,
                          seed=seed, augment=cifar_augment if augment else None, device=dev, progress=progress)
            rows += [common | row for row in history]
        return rows

    params = {"source_run": source_run, "source_params": source_params, "conversions": dict(conversions),
              "finetune_epochs": finetune_epochs, "lr": lr, "momentum": momentum, "weight_decay": weight_decay,
              "batch_size": batch_size, "augment": augment, "seed": seed, "subset": subset,
              "test_subset": test_subset, "device": str(dev)}
    return recorded_run(params, seed=seed, device=str(dev), results_dir=results_dir, run_name=run_name, train=train,
                        plan=plan)
