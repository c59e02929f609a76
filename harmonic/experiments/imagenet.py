"""Train ResNet-50 and its harmonic variants on ImageNet (Table 2 and Figure 5 of the paper).

Usage, one process (CPU or one GPU)::

    python -m harmonic.experiments.imagenet --data /path/to/imagenet --harmonic all --level none none 3 2

several GPUs (or CPU processes) on one or more machines, with torchrun::

    torchrun --standalone --nproc_per_node 8 -m harmonic.experiments.imagenet --data /path/to/imagenet --harmonic stem

The defaults are the paper's ImageNet settings (Ulicny et al., BMVC 2019; the
authors' code follows the PyTorch ImageNet example): SGD with momentum 0.9,
lr 0.1 divided by 10 every 30 epochs, 90 epochs, weight decay 1e-4, global
batch 256 (split evenly over the processes), random-resized crop 224 + flip for
training and resize 256 + centre crop 224 for validation. ``--harmonic``
``none``/``stem``/``all`` and ``--level`` pick the variant
(:func:`harmonic.models.resnet50`); ``--maxpool`` restores the 3×3 max-pool
(default: the paper's network without it, stem stride 4).

Distributed training uses ``DistributedDataParallel`` (NCCL on CUDA, gloo on
the CPU) and a ``DistributedSampler``; torchrun's environment variables
(``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``) are read, and without them the
script runs as a single process. Validation splits the images over the
processes without padding, so the reported errors are exact.

Rank 0 writes, after every epoch, into ``<results-dir>/<run-name>/``:
``checkpoint.pt`` (model, optimizer, scheduler, history; atomically) and, via
:func:`harmonic.results.save_run`, ``metrics.csv`` (one row per epoch:
``epoch, train_loss, train_top1_err, train_top5_err, val_loss, val_top1_err,
val_top5_err, lr, seconds, val_seconds, images``; errors in percent, seconds of
training and of validation) and ``provenance.json``. Rerunning the same command
resumes from the checkpoint (``--no-resume`` starts over); raising
``--epochs`` continues a finished run.

Table 2's "converted + finetuned" rows: ``--convert-from CHECKPOINT`` starts from a trained plain
ResNet-50 (no maxpool) checkpoint of this script (or any state_dict file of that network), converts
it into the harmonic network that ``--harmonic all [--level ...]`` names (every k x k kernel projected
on the DCT basis; the stem without spectral BN, whose statistics the plain network does not have,
as in the paper's Section 5.2), records its validation error before fine-tuning as epoch 0 and then
fine-tunes: the paper's protocol is ``--epochs 5 --lr 0.001``.

``--evaluate --checkpoint FILE`` validates a checkpoint (ours, or the authors' released
``harm_resnet50-eec30392.pth`` / ``harm_resnet101-62e185b1.pth``, read by
:func:`harmonic.pretrained.load_weights`) on ``<data>/val`` (resize 256, central 224 crop) and
records the top-1/top-5 errors like a run (one row, epoch 0), without training.

For smoke tests: ``--image-size``, ``--val-resize``, ``--max-steps-per-epoch``,
``--max-val-steps``, ``--workers 0`` and ``--model-kwargs '{"num_classes": 2}'``
(by default the number of classes is the number of class folders).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from harmonic import results
from harmonic.datasets.imagefolder import image_folder_loaders
from harmonic.locking import folder_lock
from harmonic.paths import BUILD
from harmonic.init import INITS
from harmonic.experiments.checks import check_imagenet_args, parse_level
from harmonic.experiments.checkpoints import (RESUME_IGNORED, plain, resume_training, save_checkpoint, trained_epochs,
                                              training_state)
from harmonic.experiments.train import (Metric, current_lr, make_optimizer, make_scheduler, run_epoch, seed_epoch,
                                        seed_everything, step_scheduler)
from harmonic.utils import count_parameters

__all__ = ["ARCHS", "DistEnv", "build_parser", "main", "parse_level", "run_name_for", "topk_correct"]

#: Architectures this script trains (the paper's ImageNet network, and ResNet-101 for the authors' checkpoint).
ARCHS = ("resnet50", "resnet101")
HARMONIC_CHOICES = ("none", "stem", "all")
CHECKPOINT_FILE = "checkpoint.pt"
#: Options that say where and how verbosely a run happens, not what it computes: a resumed run may change them.
OPERATIONAL_OPTIONS = ("data", "results_dir", "run_name", "no_resume", "print_freq", "workers", "evaluate",
                       "checkpoint")
#: Options that define the network: a resumed run is checked against the checkpoint's model spec instead.
MODEL_OPTIONS = ("arch", "harmonic", "level", "maxpool", "model_kwargs", "init")


#: What every run records of the recipe beyond its options: the momentum is kept across learning-rate
#: drops, as the authors' imagenet/main.py does (its adjust_learning_rate changes the lr only).
RECIPE_FIXED = {"reset_momentum": False}


def build_parser() -> argparse.ArgumentParser:
    """Command-line options (defaults: the paper's ImageNet settings)."""
    p = argparse.ArgumentParser(
        prog="python -m harmonic.experiments.imagenet",
        description="Train (harmonic) ResNet-50 on an ImageFolder tree with train/ and val/ "
                    "(several GPUs: launch with torchrun).",
    )
    p.add_argument("--data", required=True, help="folder with train/<class>/* and val/<class>/*")
    p.add_argument("--arch", default="resnet50", choices=ARCHS)
    p.add_argument("--harmonic", default="none", choices=HARMONIC_CHOICES,
                   help="none: ResNet-50; stem: Harm1 (harmonic first conv); all: Harm-ResNet-50")
    p.add_argument("--level", nargs="+", default=None, metavar="LAMBDA",
                   help="compression lambda (with --harmonic all): one value, or 4 per stage, e.g. none none 3 2")
    p.add_argument("--maxpool", action="store_true", help="keep the 3x3 max-pool (default: without, stem stride 4)")
    p.add_argument("--init", default="authors", choices=INITS,
                   help="initial weights of the harmonic blocks (harmonic.init): as the authors' Harm2d, or 'kaiming'")
    p.add_argument("--model-kwargs", default="{}", help='JSON of extra builder arguments, e.g. {"num_classes": 2}')
    p.add_argument("--epochs", type=int, default=90)
    p.add_argument("--batch-size", type=int, default=256, help="global batch size (over all processes)")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--lr-step", type=int, default=30, help="divide the lr by 1/gamma every this many epochs")
    p.add_argument("--gamma", type=float, default=0.1)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--val-resize", type=int, default=256)
    p.add_argument("--workers", type=int, default=8, help="DataLoader workers per process")
    p.add_argument("--max-steps-per-epoch", type=int, default=None,
                   help="stop each training epoch after this many steps")
    p.add_argument("--max-val-steps", type=int, default=None, help="validate on at most this many batches per process")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast (not used in the paper)")
    p.add_argument("--results-dir", default=str(BUILD / "results" / "imagenet"))
    p.add_argument("--run-name", default=None, help="default: from arch, harmonic, level and maxpool")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint and start over")
    p.add_argument("--print-freq", type=int, default=100, help="log the training loss every this many steps (rank 0)")
    p.add_argument("--convert-from", default=None, metavar="CHECKPOINT",
                   help="convert this trained plain no-maxpool network into the --harmonic all network, then fine-tune")
    p.add_argument("--evaluate", action="store_true", help="only validate --checkpoint on <data>/val and record it")
    p.add_argument("--checkpoint", default=None, metavar="FILE", help="weights to validate with --evaluate")
    return p


def run_name_for(arch: str, harmonic: str, level: Any, maxpool: bool) -> str:
    """Default run folder name, e.g. ``resnet50-all-none-none-3-2``."""
    parts = [arch, "plain" if harmonic == "none" else harmonic]
    if level is not None:
        parts += [str(v).lower() for v in (level if isinstance(level, tuple) else (level,))]
    if maxpool:
        parts.append("maxpool")
    return "-".join(parts)


@dataclass(frozen=True)
class DistEnv:
    """This process's place in the job (torchrun's variables; one process without them)."""

    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str = "auto") -> DistEnv:
    """Read torchrun's environment, pick the device, start the process group when there are several processes."""
    rank = int(os.environ.get("RANK", 0))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise ValueError("device must be 'auto' or 'cpu' on a machine without CUDA, got 'cuda'")
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
        torch.backends.cudnn.benchmark = True
    else:
        dev = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistEnv(rank, local_rank, world_size, dev)


def topk_correct(logits: torch.Tensor, target: torch.Tensor, ks: Sequence[int] = (1, 5)) -> list[torch.Tensor]:
    """Number of examples whose label is among the top-k logits, for each k (k capped at the class count)."""
    k_max = min(max(ks), logits.shape[1])
    top = logits.topk(k_max, dim=1).indices
    hits = top == target[:, None]
    return [hits[:, : min(k, k_max)].any(dim=1).sum() for k in ks]


def _topk_sums(logits: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    top1, top5 = topk_correct(logits, target)
    return torch.stack([loss.double() * len(target), top1.double(), top5.double(),
                        torch.tensor(len(target), dtype=torch.float64, device=logits.device)])


#: [loss × examples, top-1 hits, top-5 hits, examples] in float64, summed by :func:`run_epoch`.
TOPK_SUMS = Metric(_topk_sums, 4, torch.float64)


def _all_reduce(t: torch.Tensor, env: DistEnv) -> torch.Tensor:
    if env.distributed:
        dist.all_reduce(t)
    return t


def _log(env: DistEnv, message: str) -> None:
    if env.main:
        print(message, flush=True)


def _run_epoch(
    model: nn.Module, loader: DataLoader, env: DistEnv, *, optimizer: torch.optim.Optimizer | None,
    max_steps: int | None, amp: bool, print_freq: int = 0, epoch: int = 0,
) -> dict[str, float]:
    """:func:`~harmonic.experiments.train.run_epoch` with top-1/top-5 sums reduced over the processes
    (training when ``optimizer`` is given, else validation), as errors in percent."""

    def log_loss(step: int, loss: torch.Tensor) -> None:
        if step % print_freq == 0:
            _log(env, f"epoch {epoch} step {step}: loss {loss.item():.4f}")

    done = run_epoch(model, loader, device=env.device, optimizer=optimizer, metric=TOPK_SUMS,
                     reduce=lambda sums: _all_reduce(sums, env), max_steps=max_steps, amp=amp,
                     on_step=log_loss if optimizer is not None and print_freq else None)
    loss_sum, top1, top5, count = done.sums.tolist()
    if count == 0:
        raise ValueError("no batch was processed: the split is smaller than one batch per process")
    return {"loss": loss_sum / count, "top1_err": 100.0 * (1 - top1 / count),
            "top5_err": 100.0 * (1 - top5 / count), "seconds": done.seconds, "images": int(count)}


def _val_row(val: dict[str, float], epoch: int = 0) -> dict[str, Any]:
    """The validation columns of a metrics row."""
    return {"epoch": epoch, "val_loss": val["loss"], "val_top1_err": val["top1_err"],
            "val_top5_err": val["top5_err"], "val_seconds": round(val["seconds"], 3)}


def _loaders(args: argparse.Namespace, env: DistEnv) -> tuple[DataLoader, DataLoader, int]:
    train_loader, val_loader = image_folder_loaders(
        args.data, args.batch_size, image_size=args.image_size, resize=args.val_resize, workers=args.workers,
        rank=env.rank, world_size=env.world_size, seed=args.seed, pin_memory=env.device.type == "cuda")
    return train_loader, val_loader, len(train_loader.dataset.classes)


def _model_spec(args: argparse.Namespace, num_classes: int) -> dict[str, Any]:
    """Everything that defines the network: the builder and its keyword arguments."""
    clash = sorted({"harmonic", "level", "maxpool", "init"} & set(args.model_kwargs))
    if clash:
        raise ValueError(f"model_kwargs must not repeat {clash}: use the --harmonic/--level/--maxpool/--init options")
    kwargs = {"num_classes": num_classes, **args.model_kwargs,
              "harmonic": None if args.harmonic == "none" else args.harmonic,
              "level": args.level, "maxpool": args.maxpool, "init": args.init}
    if args.convert_from is not None:
        kwargs["stem_spectral_bn"] = False  # what conversion builds (the paper's Section 5.2)
    return {"arch": args.arch, "kwargs": kwargs}


def _converted_model(args: argparse.Namespace, spec: dict[str, Any]) -> nn.Module:
    """The plain network of ``spec`` with the weights of ``--convert-from``, converted by
    :func:`harmonic.conversion.convert` into the harmonic network of ``spec``."""
    from harmonic import models
    from harmonic.conversion import convert
    from harmonic.models.resnet import RESNET_STAGES

    kwargs = {k: v for k, v in spec["kwargs"].items() if k not in ("harmonic", "level", "stem_spectral_bn")}
    try:
        plain = getattr(models, spec["arch"])(**kwargs, weights=args.convert_from)
    except ValueError as error:
        raise ValueError(f"convert_from: {args.convert_from} is not a checkpoint of the plain {spec['arch']} "
                         f"without maxpool that --harmonic all converts ({_brief(error)})") from None
    level = spec["kwargs"]["level"]
    per_stage = level if isinstance(level, tuple) else (level,) * len(RESNET_STAGES)
    levels = {stage: value for stage, value in zip(RESNET_STAGES, per_stage, strict=True) if value is not None}
    return convert(plain, levels or None)


def _evaluate(args: argparse.Namespace, env: DistEnv) -> list[dict[str, Any]]:
    """``--evaluate``: validate ``--checkpoint`` and record one row (epoch 0) like a run."""
    from harmonic.pretrained import load_weights

    run_name = _run_name(args)
    _, val_loader, num_classes = _loaders(args, env)
    spec = _model_spec(args, num_classes)
    model = _build_model(spec)
    try:
        model.load_state_dict(load_weights(args.checkpoint), strict=True)
    except RuntimeError as error:  # missing, unexpected or mis-shaped weights
        raise ValueError(f"checkpoint: {args.checkpoint} does not fit --arch {args.arch} --harmonic {args.harmonic}"
                         f"{' --maxpool' if args.maxpool else ''} ({_brief(error)}); pass the options it was "
                         "trained with") from None
    model.to(env.device)
    started, clock = results.now_utc(), time.perf_counter()
    val = _run_epoch(model, val_loader, env, optimizer=None, max_steps=args.max_val_steps, amp=args.amp)
    row = _val_row(val) | {"val_images": val["images"]}
    _log(env, f"{run_name}: val top-1 err {row['val_top1_err']:.2f}, top-5 err {row['val_top5_err']:.2f} "
              f"on {row['val_images']} images")
    params = dict(vars(args)) | {**RECIPE_FIXED, "run_name": run_name, "n_parameters": count_parameters(model),
                                 "num_classes": num_classes, "world_size": env.world_size}
    _record(args, env, run_name, [row], params, started, clock)
    return [row]


def _record(args: argparse.Namespace, env: DistEnv, run_name: str, history: list[dict[str, Any]],
            params: dict[str, Any], started: str, clock: float, **extra: Any) -> None:
    """Rank 0 writes the run so far: ``metrics.csv`` and ``provenance.json`` (plus ``extra``)."""
    if env.main:
        record = results.provenance(params, seed=args.seed, device=env.device.type, started=started,
                                    duration_s=time.perf_counter() - clock)
        results.save_run(args.results_dir, run_name, history, record | extra)


def _brief(error: Exception, limit: int = 400) -> str:
    """The first line of ``error``'s message, at most ``limit`` characters (key lists can be long)."""
    text = next(iter(str(error).splitlines()), "")
    return text if len(text) <= limit else text[:limit] + " ..."


def _run_name(args: argparse.Namespace) -> str:
    """``--run-name``, or the default: ``evaluate-<checkpoint stem>`` or :func:`run_name_for`."""
    if args.run_name:
        return args.run_name
    if args.evaluate:
        return "evaluate-" + Path(args.checkpoint).stem
    return run_name_for(args.arch, args.harmonic, args.level, args.maxpool)


def _build_model(spec: dict[str, Any]) -> nn.Module:
    from harmonic import models

    return getattr(models, spec["arch"])(**spec["kwargs"])


def run_config(args: argparse.Namespace) -> dict[str, Any]:
    """How a run trains: every option but :data:`OPERATIONAL_OPTIONS` and the network's
    (:data:`MODEL_OPTIONS`, checked as the model spec). Stored in the checkpoint; a resumed run
    must have the same, except a larger ``--epochs``."""
    skip = OPERATIONAL_OPTIONS + MODEL_OPTIONS + RESUME_IGNORED
    return plain({k: v for k, v in vars(args).items() if k not in skip})


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Run the command line ``argv``; return the per-epoch metrics (on every rank)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.level = parse_level(args.level)
        args.model_kwargs = json.loads(args.model_kwargs)
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        parser.error(str(error))
    if not isinstance(args.model_kwargs, dict):
        parser.error(f"--model-kwargs must be a JSON object, got {args.model_kwargs!r}")
    check_imagenet_args(args)
    env = setup_distributed(args.device)
    try:  # rank 0 writes the run folder: one such process at a time (harmonic.locking)
        with folder_lock(Path(args.results_dir) / _run_name(args)) if env.main else contextlib.nullcontext():
            return _evaluate(args, env) if args.evaluate else _train(args, env)
    finally:
        if env.distributed and dist.is_initialized():
            dist.destroy_process_group()


def _train(args: argparse.Namespace, env: DistEnv) -> list[dict[str, Any]]:
    """Train (or fine-tune a converted network) epoch by epoch with :func:`_run_epoch`, resuming
    from and writing the checkpoint and the run's files after every epoch.

    The epochs are not :func:`~harmonic.experiments.train.fit`'s: the data are DataLoaders, not
    tensors (a sampler to reshuffle, a generator per rank to seed), validation runs on the bare
    model (DDP's forward would wait for the other ranks on uneven shards), a converted network
    first records an epoch 0, and the results folder is rewritten by rank 0 every epoch."""
    run_name = _run_name(args)
    folder = Path(args.results_dir) / run_name
    checkpoint_path = folder / CHECKPOINT_FILE
    train_loader, val_loader, num_classes = _loaders(args, env)

    spec = _model_spec(args, num_classes)
    seed_everything(args.seed)
    converting = args.convert_from is not None and (args.no_resume or not checkpoint_path.exists())
    model = (_converted_model(args, spec) if converting else _build_model(spec)).to(env.device)
    n_parameters = count_parameters(model)
    optimizer = make_optimizer(model, "sgd", lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    scheduler = make_scheduler(optimizer, "step", step_size=args.lr_step, gamma=args.gamma)

    config = run_config(args)
    history: list[dict[str, Any]] = []
    if checkpoint_path.exists() and not args.no_resume:
        def same_network(state: dict[str, Any]) -> None:
            if plain(state["model_spec"]) != plain(spec):
                raise ValueError(f"checkpoint {checkpoint_path} is for model {state['model_spec']}, not {spec}: "
                                 "use another --run-name or --no-resume")

        history = resume_training(checkpoint_path, model, optimizer, scheduler, config, map_location=env.device,
                                  check_state=same_network)
        _log(env, f"resumed from {checkpoint_path} after epoch {len(history)}")
    resumed_after = len(history)

    ddp_model: nn.Module = model
    if env.distributed:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[env.local_rank] if env.device.type == "cuda" else None)

    params = dict(vars(args)) | {
        "run_name": run_name, "n_parameters": n_parameters, "num_classes": num_classes, **RECIPE_FIXED,
        "world_size": env.world_size, "batch_size_per_process": args.batch_size // env.world_size,
    }
    started, clock = results.now_utc(), time.perf_counter()
    _log(env, f"{run_name}: {n_parameters / 1e6:.2f}M parameters, {env.world_size} process(es) on {env.device.type}")

    if converting:  # the converted network before any fine-tuning: epoch 0
        val = _run_epoch(model, val_loader, env, optimizer=None, max_steps=args.max_val_steps, amp=args.amp)
        history.append(_val_row(val))
        _log(env, f"converted {args.convert_from}: val top-1 err {val['top1_err']:.2f} before fine-tuning")
    for epoch in range(trained_epochs(history) + 1, args.epochs + 1):
        train_loader.sampler.set_epoch(epoch)
        # augmentation: in this process (workers=0) or in workers seeded from the loader's generator;
        # different on every rank, the same for a given (seed, epoch, rank), also after a resume
        seed_epoch(args.seed, epoch, offset=env.rank, generator=train_loader.generator)
        lr = current_lr(optimizer)
        train = _run_epoch(ddp_model, train_loader, env, optimizer=optimizer, max_steps=args.max_steps_per_epoch,
                           amp=args.amp, print_freq=args.print_freq, epoch=epoch)
        # the bare model: shards may differ by one batch, and DDP's forward would wait for the other ranks
        val = _run_epoch(model, val_loader, env, optimizer=None, max_steps=args.max_val_steps, amp=args.amp)
        step_scheduler(scheduler, train["loss"])
        row = {"epoch": epoch, "train_loss": train["loss"], "train_top1_err": train["top1_err"],
               "train_top5_err": train["top5_err"], "val_loss": val["loss"], "val_top1_err": val["top1_err"],
               "val_top5_err": val["top5_err"], "lr": lr, "seconds": round(train["seconds"], 3),
               "val_seconds": round(val["seconds"], 3), "images": train["images"]}
        history.append(row)
        _log(env, f"epoch {epoch}/{args.epochs}: train loss {row['train_loss']:.4f}, top-1 err "
                  f"{row['train_top1_err']:.2f} | val top-1 err {row['val_top1_err']:.2f}, "
                  f"top-5 err {row['val_top5_err']:.2f} | {row['seconds']:.1f}s")
        if env.main:
            save_checkpoint(checkpoint_path, training_state(model, optimizer, scheduler, history, seed=args.seed,
                                                            config=config, model_spec=spec))
        _record(args, env, run_name, history, params, started, clock, resumed_after_epoch=resumed_after)
        if env.distributed:
            dist.barrier()  # nobody runs ahead of the checkpoint
    return history


if __name__ == "__main__":  # pragma: no cover - exercised through subprocess in the tests
    main(sys.argv[1:])
