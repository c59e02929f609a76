"""Reliability (issue #14): resume only the same run, safe checkpoint loading, parameters checked
before anything runs, errors that name the file, and result files written as one unit."""

from __future__ import annotations

import io
import json
import os
import pathlib
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from harmonic import plan, results
from harmonic.analysis import report
from harmonic.experiments.mlp import MLPConfig, run_mlp
from harmonic.experiments.recording import config_from, recorded_run
from harmonic.mlp import ReLUMLP
from harmonic.paths import RECORDED_RESULTS
from harmonic.experiments.train import fit, make_optimizer, make_scheduler, save_checkpoint, seed_everything
from harmonic.experiments.wrn import WRNConfig

from dataset_files import make_fake_mnist, md5_sums, write_idx
from test_imagenet import _args, tree  # noqa: F401  (tree: the generated ImageFolder fixture)


class _RunsCode:
    """Unpickling this touches ``path``: a stand-in for a crafted checkpoint that runs a command."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.path),)


def _fit(toy_data, checkpoint: Path, epochs: int = 1, **kwargs):
    seed_everything(0)
    model = ReLUMLP(hidden_sizes=(8,))
    optimizer = make_optimizer(model, "adam", lr=1e-2)
    return fit(model, optimizer, *toy_data, epochs=epochs, batch_size=100, seed=0, device="cpu", progress=False,
               checkpoint_path=checkpoint, **kwargs)


def _mnist_run(tmp_path: Path, mnist_root: Path, **params):
    defaults = dict(hidden_sizes=[16], max_freqs=[3.0], epochs=1, subset=256, test_subset=128, seed=0, device="cpu")
    return run_mlp(results_dir=tmp_path, run_name="run", data_root=str(mnist_root), checkpoint=True, progress=False,
                   **(defaults | params))


# --------------------------------------------------------------------------- 2. resume
def test_resume_with_changed_parameters_is_an_error_naming_them(tmp_path, mnist_root):
    _mnist_run(tmp_path, mnist_root)
    with pytest.raises(ValueError, match=r"checkpoint .*checkpoint\.pt.*lr: 0\.001 in the checkpoint, 0\.05 now.*"
                                         r"seed: 0 in the checkpoint, 1 now.*delete"):
        _mnist_run(tmp_path, mnist_root, lr=0.05, seed=1)
    record = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert record["params"]["lr"] == 0.001 and record["seed"] == 0  # nothing recorded under the new parameters


def test_resume_continues_only_to_more_epochs(tmp_path, mnist_root):
    _mnist_run(tmp_path, mnist_root, epochs=1)
    longer = _mnist_run(tmp_path, mnist_root, epochs=2)
    straight = _mnist_run(tmp_path / "straight", mnist_root, epochs=2)
    pd.testing.assert_frame_equal(longer.metrics.drop(columns="seconds"), straight.metrics.drop(columns="seconds"))
    with pytest.raises(ValueError, match=r"2 epochs trained, more than the epochs=1 asked for"):
        _mnist_run(tmp_path, mnist_root, epochs=1)


def test_cosine_schedule_does_not_continue_to_other_epochs(tmp_path, toy_data):
    def run(epochs):
        seed_everything(0)
        model = ReLUMLP(hidden_sizes=(8,))
        optimizer = make_optimizer(model, "adam")
        return fit(model, optimizer, *toy_data, epochs=epochs, batch_size=100, seed=0, device="cpu", progress=False,
                   scheduler=make_scheduler(optimizer, "cosine", epochs=epochs),
                   checkpoint_path=tmp_path / "checkpoint.pt")

    run(1)
    with pytest.raises(ValueError, match=r"epochs: 1 in the checkpoint, 2 now.*cosine"):
        run(2)


def test_checkpoint_without_configuration_resumes_with_a_warning(tmp_path, toy_data):
    checkpoint = tmp_path / "checkpoint.pt"
    _fit(toy_data, checkpoint)
    state = torch.load(checkpoint, weights_only=True)
    del state["config"]  # as written before checkpoints recorded their configuration
    save_checkpoint(checkpoint, state)
    with pytest.warns(UserWarning, match="cannot be checked"):
        assert len(_fit(toy_data, checkpoint, epochs=2)) == 2


# --------------------------------------------------------------------------- 3. safe loading
def test_crafted_checkpoint_does_not_run_code(tmp_path, toy_data):
    marker = tmp_path / "code-ran"
    checkpoint = tmp_path / "checkpoint.pt"
    buffer = io.BytesIO()
    torch.save({"model": _RunsCode(marker), "history": []}, buffer)
    checkpoint.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match=rf"{checkpoint}.*other than tensors and plain data.*delete"):
        _fit(toy_data, checkpoint)
    assert not marker.exists()


def test_checkpoint_contents_load_with_weights_only(tmp_path, toy_data):
    checkpoint = tmp_path / "checkpoint.pt"
    seed_everything(0)
    model = ReLUMLP(hidden_sizes=(8,))
    optimizer = make_optimizer(model, "sgd", lr=0.1)
    fit(model, optimizer, *toy_data, epochs=1, batch_size=100, seed=0, device="cpu", progress=False,
        scheduler=make_scheduler(optimizer, "multistep", milestones=(1,), gamma=0.5), checkpoint_path=checkpoint,
        config={"milestones": (1,), "level": (None, 3), "subset": None})
    state = torch.load(checkpoint, weights_only=True)
    assert state["config"] == {"milestones": [1], "level": [None, 3], "subset": None, "epochs": 1,
                               "batch_size": 100, "seed": 0}


# --------------------------------------------------------------------------- 5. types and ranges
@pytest.mark.parametrize("cls, params, match", [
    (MLPConfig, {"epochs": 2.0}, r"epochs must be a positive integer, got 2\.0"),
    (MLPConfig, {"batch_size": 64.0}, r"batch_size must be a positive integer, got 64\.0"),
    (MLPConfig, {"hidden_sizes": 64}, r"hidden_sizes must be a list of positive integers.*got 64"),
    (MLPConfig, {"seed": -1}, "seed must be a non-negative integer"),
    (WRNConfig, {"epochs": 2.0}, r"epochs must be a positive integer, got 2\.0"),
    (WRNConfig, {"gamma": -1}, r"gamma must be a positive number, got -1"),
    (WRNConfig, {"milestones": [-5]}, r"milestones must be a positive integer, got -5"),
    (WRNConfig, {"milestones": [120, 60]}, r"milestones must be increasing, got \[120, 60\]"),
    (WRNConfig, {"epochs": 10}, r"milestones must lie within the run \(<= epochs=10\), got \[60, 120, 160\]"),
    (WRNConfig, {"harmonic": "all", "level": 10}, r"level must be None, an integer from 1 to 5 .*got 10"),
    (WRNConfig, {"harmonic": "all", "level": [None, 3, 0]}, r"level must be .*one per stage.*got \(None, 3, 0\)"),
    (WRNConfig, {"harmonic": "all", "level": [3, 2]}, r"level must be .*got \(3, 2\)"),
])
def test_config_rejects_wrong_types_and_ranges(cls, params, match):
    with pytest.raises(ValueError, match=match):
        config_from(cls, params)


def test_config_accepts_every_lambda_of_3x3_kernels():
    for level in (1, 2, 3, 4, 5, [None, 3, 2]):
        config_from(WRNConfig, {"harmonic": "all", "level": level})


# --------------------------------------------------------------------------- 6. errors that name the file
def test_truncated_checkpoint_names_its_path_and_the_way_out(tmp_path, toy_data):
    checkpoint = tmp_path / "checkpoint.pt"
    _fit(toy_data, checkpoint)
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(ValueError, match=rf"checkpoint {checkpoint} cannot be read.*delete {checkpoint}"):
        _fit(toy_data, checkpoint, epochs=2)


def _two_runs(root: Path) -> Path:
    for name in ("a", "b"):
        results.save_run(root, name, [{"epoch": 1, "test_acc": 90.0}], {"params": {"lr": 0.1}, "seed": 0})
    return root / "b"


@pytest.mark.parametrize("file, text", [("provenance.json", '{"params": {"lr": 0.1'),
                                        ("provenance.json", "[1, 2]"),
                                        ("metrics.csv", "epoch,test_acc\n1,90\n2,91,3,4\n")])
def test_malformed_result_file_is_named(tmp_path, file, text):
    folder = _two_runs(tmp_path)
    (folder / file).write_text(text)
    if file == "provenance.json":
        with pytest.raises(ValueError, match=str(folder / file)):
            report.provenance_summary([tmp_path])
    with pytest.raises(ValueError, match=str(folder)):
        results.load_runs(tmp_path, altered="raise")


def test_malformed_executed_notebook_is_named(tmp_path):
    (tmp_path / "page.ipynb").write_text('{"cells": [')
    with pytest.raises(ValueError, match=str(tmp_path / "page.ipynb")):
        report.executed_notebooks([tmp_path])


def test_truncated_gz_data_file_is_named(tmp_path):
    from harmonic.datasets.mnist import load_mnist

    make_fake_mnist(tmp_path, compress=True)
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match=rf"{path} is damaged.*delete it"):
        load_mnist(train=True, root=tmp_path, download=False)


def test_out_of_range_mnist_label_is_named_before_training(tmp_path):
    from harmonic.datasets.mnist import load_mnist

    make_fake_mnist(tmp_path)
    labels = tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    write_idx(labels, np.array([10] + [1] * 19))
    with pytest.raises(ValueError, match=rf"mnist training set \({labels}\): labels must be in 0..9, found \[10\]"):
        load_mnist(train=True, root=tmp_path, download=False)


def test_out_of_range_cifar_label_is_named(tmp_path):
    from harmonic.datasets.cifar import load_cifar

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch = {b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [3, 10]}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(ValueError, match=r"cifar10 test set \(.*test_batch\): labels must be in 0..9, found \[10\]"):
        load_cifar("cifar10", train=False, root=tmp_path, download=False, checksums=md5_sums(folder))


# --------------------------------------------------------------------------- 7. results as a pair
def test_a_save_stopped_between_the_two_files_is_detected(tmp_path, monkeypatch):
    results.save_run(tmp_path, "run", [{"epoch": 1, "test_acc": 90.0}], {"params": {"lr": 0.1}})
    writes = []

    def stop_at_second_write(path, text):
        if writes:
            raise KeyboardInterrupt  # the run is killed between the two files
        writes.append(path)
        return atomic_write_text(path, text)

    atomic_write_text = results.atomic_write_text
    monkeypatch.setattr(results, "atomic_write_text", stop_at_second_write)
    with pytest.raises(KeyboardInterrupt):
        results.save_run(tmp_path, "run", [{"epoch": 1, "test_acc": 50.0}, {"epoch": 2, "test_acc": 60.0}],
                         {"params": {"lr": 0.5}})
    monkeypatch.undo()
    with pytest.raises(ValueError, match=rf"{tmp_path / 'run'}: .*different saves"):
        results.load_runs(tmp_path, altered="raise")
    with pytest.warns(results.AlteredRunWarning, match="different saves"):
        assert results.load_runs(tmp_path).empty  # never shown as recorded


def test_run_name_is_checked_before_training(tmp_path):
    trained = []

    def train(checkpoint):
        trained.append(checkpoint)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_bytes(b"")
        return [{"epoch": 1}]

    with pytest.raises(ValueError, match="run_name must be a plain folder name"):
        recorded_run({}, seed=0, device="cpu", results_dir=tmp_path / "results", run_name="../x", train=train)
    assert trained == [] and not (tmp_path / "x").exists()


def test_stale_temporary_files_are_removed(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    stale = [folder / ".metrics.csv.abc123.tmp", folder / ".checkpoint.pt.def456.tmp"]
    for path in stale:
        path.write_bytes(b"half written")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    results.save_run(tmp_path, "run", [{"epoch": 1}], {})
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.csv", "provenance.json"]


def test_recorded_results_still_load():
    runs = results.load_runs(RECORDED_RESULTS)
    assert not runs.empty and runs["epoch"].notna().all()


# --------------------------------------------------------------------------- ImageNet script
@pytest.fixture
def imagenet_run(tree, tmp_path) -> tuple[Path, list[str]]:
    """One epoch of the plain ResNet-50 on the tiny tree: its results folder and arguments."""
    from harmonic.experiments.imagenet import main

    args = _args(tree, tmp_path, 1, "--run-name", "run")
    main(args)
    return tmp_path / "run", args


def test_imagenet_resume_with_other_parameters_is_an_error(imagenet_run, tree):
    from harmonic.experiments.imagenet import main

    folder, args = imagenet_run
    with pytest.raises(ValueError, match=r"lr: 0\.01 in the checkpoint, 0\.05 now.*seed: 0 in the checkpoint, 3 now"
                                         r".*--no-resume"):
        main(args + ["--lr", "0.05", "--seed", "3"])
    assert len(main(_args(tree, folder.parent, 2, "--run-name", "run"))) == 2  # a larger --epochs continues
    with pytest.raises(ValueError, match=r"2 epochs trained, more than the epochs=1 asked for"):
        main(args)


def test_imagenet_crafted_checkpoint_does_not_run_code(imagenet_run):
    from harmonic.experiments.imagenet import main

    folder, args = imagenet_run
    marker = folder / "code-ran"
    buffer = io.BytesIO()
    torch.save({"model": _RunsCode(marker), "history": [], "model_spec": None}, buffer)
    (folder / "checkpoint.pt").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match=r"checkpoint\.pt holds objects other than tensors"):
        main(args)
    assert not marker.exists()


@pytest.mark.parametrize("extra, match", [
    (["--gamma", "-1"], "gamma must be a positive number"),
    (["--harmonic", "all", "--level", "10"], r"level must be None, an integer from 1 to 5"),
    (["--harmonic", "all", "--level", "none", "none", "3", "7"], r"level must be .*one per stage"),
    (["--run-name", "../x"], "run_name must be a plain folder name"),
])
def test_imagenet_bad_options_are_named(tree, tmp_path, extra, match):
    from harmonic.experiments.imagenet import main

    with pytest.raises(ValueError, match=match):
        main(_args(tree, tmp_path / "results", 1, *extra))
    assert not (tmp_path / "x").exists()


# =========================================================================== issue #24: the untried classes
def test_a_checkpoint_with_damaged_tensor_bytes_is_not_resumed_from(tmp_path, toy_data):
    checkpoint = tmp_path / "checkpoint.pt"
    _fit(toy_data, checkpoint)
    weight = next(iter(torch.load(checkpoint, weights_only=True)["model"].values()))
    data = bytearray(checkpoint.read_bytes())
    at = bytes(data).find(weight.numpy().tobytes()[:64])
    assert at > 0
    data[at + 3] ^= 0x40  # one weight changed: torch.load reads the file without complaint
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"checkpoint {checkpoint} is damaged: its contents differ from the SHA-256 "
                                         rf"recorded when it was saved: delete {checkpoint}"):
        _fit(toy_data, checkpoint, epochs=2)


def test_metrics_edited_by_hand_are_not_shown_as_recorded(tmp_path):
    folder = _two_runs(tmp_path)
    (folder / "metrics.csv").write_text("epoch,test_acc\n1,99.0\n")
    with pytest.raises(ValueError, match=rf"{folder}: metrics\.csv is not the one recorded with provenance\.json .*"
                                         r"edited after recording"):
        results.load_runs(tmp_path, altered="raise")
    # what the book does: the run is left out of every table, and the status page says why
    with pytest.warns(results.AlteredRunWarning, match=rf"left out: {folder}"):
        shown = results.load_runs(tmp_path)
    assert folder.name not in set(shown["run"]) and len(shown["run"].unique()) == 1
    summary = report.provenance_summary([tmp_path]).set_index("run")
    assert summary.loc[folder.name, "metrics"] == results.ALTERED
    assert set(summary.drop(index=folder.name)["metrics"]) == {results.AS_RECORDED}


@pytest.mark.parametrize("name", ["..", "../x", "a/b", "/tmp/x", "x\\y", "a\nb", "."])
def test_run_names_that_leave_the_results_folder_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="run_name must be a plain folder name"):
        recorded_run({}, seed=0, device="cpu", results_dir=tmp_path / "results", run_name=name,
                     train=lambda checkpoint: [{"epoch": 1}])
    assert not (tmp_path / "results").exists() and sorted(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["with space", "λ3-Ünïcode", "..x"])
def test_run_names_with_spaces_or_unicode_stay_inside(tmp_path, name):
    recorded_run({}, seed=0, device="cpu", results_dir=tmp_path, run_name=name, train=lambda checkpoint: [{"epoch": 1}])
    assert [p.name for p in tmp_path.iterdir()] == [name] and results.load_runs(tmp_path)["run"].tolist() == [name]


@pytest.mark.parametrize("entry, match", [
    ({"notebook": "mnist_harmonic_mlp", "group": "../../outside"}, r"group must be a plain folder name"),
    ({"notebook": "mnist_harmonic_mlp", "group": "/tmp/outside"}, r"group must be a plain folder name"),
    ({"notebook": "../notebooks/mnist_harmonic_mlp", "page": True}, r"notebook must be a notebook name"),
    ({"notebook": "mnist_harmonic_mlp", "params": ["a.yaml"], "grid": {"dataset": ["x/../../../outside"]}},
     r"run_name must be a plain folder name.*'a-datasetx/\.\./\.\./\.\./outside'"),
])
def test_plan_names_that_leave_their_folders_are_refused(tmp_path, monkeypatch, entry, match):
    from test_plan import _profile

    profile = _profile(tmp_path, monkeypatch, [entry], {"a.yaml": {"epochs": 1}})
    with pytest.raises(ValueError, match=match):
        plan.load_plan(profile)


def test_a_profile_name_with_a_path_is_refused():
    with pytest.raises(ValueError, match=r"profile must be one of \[.*'quick'.*\], got '\.\./params/quick'"):
        plan.load_plan("../params/quick")


@pytest.mark.parametrize("cls, params, match", [
    (cls, {name: value}, rf"{name} must be a (positive|non-negative) (number|integer)|{name} must be a number >= 0")
    for cls in (MLPConfig, WRNConfig)
    for name, value in (("lr", float("nan")), ("lr", float("inf")), ("lr", 0), ("lr", 0.0), ("batch_size", 0),
                        ("epochs", 0), ("weight_decay", float("inf")))
] + [(cls, {"dropout": value}, "dropout must be") for cls in (MLPConfig, WRNConfig)
     for value in (float("nan"), float("inf"), 1.0, -0.1)]
  + [(WRNConfig, {"momentum": float("inf")}, "momentum must be a number >= 0"),
     (WRNConfig, {"gamma": float("nan")}, "gamma must be a positive number")])
def test_nan_inf_and_zero_parameters_are_refused(cls, params, match):
    with pytest.raises(ValueError, match=match):
        config_from(cls, params)


@pytest.mark.parametrize("cls, name", [(MLPConfig, "mnsit"), (MLPConfig, "MNIST"), (WRNConfig, "cifar-10"),
                                       (WRNConfig, "fashion_mnist")])
def test_misspelled_dataset_names_are_refused(cls, name):
    with pytest.raises(ValueError, match=rf"dataset must be one of \[.*\], got '{name}'"):
        config_from(cls, {"dataset": name})


def test_harmonic_data_at_a_partial_dataset_names_what_is_missing(tmp_path, monkeypatch):
    from harmonic.datasets.cifar import load_image_dataset
    from harmonic.datasets.mnist import DataUnavailableError, load_mnist

    make_fake_mnist(tmp_path)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / "MNIST" / "raw" / name).unlink()
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"")
    monkeypatch.setenv("HARMONIC_DATA", str(tmp_path))
    assert len(load_mnist(train=True, download=False)) == 20
    with pytest.raises(DataUnavailableError, match=r"mnist test files not found: t10k-images-idx3-ubyte, "
                                                   rf"t10k-labels-idx1-ubyte .*Put them in {tmp_path / 'MNIST' / 'raw'}"):
        load_mnist(train=False, download=False)
    with pytest.raises(DataUnavailableError, match=r"cifar10 files not found: batches\.meta"):
        load_image_dataset("cifar10", train=False, download=False)


def test_harmonic_data_at_another_dataset_is_named(tmp_path, monkeypatch):
    from harmonic.datasets.mnist import load_mnist

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images-idx3-ubyte", np.zeros((4, 32, 32)))  # 32x32 images: not MNIST's 28x28
    write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(4))
    monkeypatch.setenv("HARMONIC_DATA", str(tmp_path))
    with pytest.raises(ValueError, match=rf"{raw / 't10k-images-idx3-ubyte'}: images of 32x32 pixels, mnist's are "
                                         "28x28: the file is of another dataset"):
        load_mnist(train=False, download=False)


def test_truncated_idx_file_is_named(tmp_path):
    from harmonic.datasets.mnist import load_mnist

    make_fake_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=rf"{path} is damaged \(expected 7840 values for shape \(10, 28, 28\), "
                                         r"found 7740\): delete it"):
        load_mnist(train=False, root=tmp_path, download=False)


def test_images_of_other_sizes_in_an_image_folder_are_resized(tmp_path):
    from PIL import Image

    from harmonic.datasets.imagefolder import image_folder_loaders

    for split in ("train", "val"):
        for label, (size, mode) in {"a": ((5, 300), "RGB"), "b": ((1, 1), "L"), "c": ((64, 48), "RGBA")}.items():
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(2):
                Image.new(mode, size).save(tmp_path / split / label / f"{i}.png")
    train, val = image_folder_loaders(tmp_path, 2, image_size=16, resize=20, workers=0)
    for loader in (train, val):
        assert all(x.shape[1:] == (3, 16, 16) for x, _ in loader)


@pytest.mark.parametrize("extra, match", [
    (["--level", "3"], r"level applies only with --harmonic all, got --level with --harmonic none"),
    (["--evaluate"], "evaluate and checkpoint go together"),
    (["--checkpoint", "x.pth"], "evaluate and checkpoint go together"),
    (["--convert-from", "missing.pt", "--harmonic", "all"], "convert_from: no file at missing.pt"),
])
def test_imagenet_conflicting_or_incomplete_options_write_nothing(tree, tmp_path, extra, match):
    from harmonic.experiments.imagenet import main

    with pytest.raises(ValueError, match=match):
        main(_args(tree, tmp_path / "results", 1, *extra))
    assert not (tmp_path / "results").exists()


def test_imagenet_level_list_of_the_wrong_length_is_an_option_error(tree, tmp_path, capsys):
    from harmonic.experiments.imagenet import main

    with pytest.raises(SystemExit):
        main(_args(tree, tmp_path / "results", 1, "--harmonic", "all", "--level", "3", "2", "1"))
    assert "level takes 1 value or 4 (one per ResNet stage), got 3" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_imagenet_checkpoints_of_another_network_name_the_option(tree, tmp_path):
    from harmonic.experiments.imagenet import main
    from harmonic.models import resnet50

    foreign = tmp_path / "resnet18.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(2, 512)}, foreign)
    with pytest.raises(ValueError, match=rf"checkpoint: {foreign} does not fit --arch resnet50 --harmonic none "
                                         r"\(.*\); pass the options it was trained with"):
        main(_args(tree, tmp_path / "results", 1, "--evaluate", "--checkpoint", str(foreign)))
    harmonic_file = tmp_path / "harmonic.pth"
    torch.save(resnet50(harmonic="all", num_classes=2, maxpool=False).state_dict(), harmonic_file)
    with pytest.raises(ValueError, match=rf"convert_from: {harmonic_file} is not a checkpoint of the plain resnet50 "
                                         r"without maxpool"):
        main(_args(tree, tmp_path / "results", 1, "--convert-from", str(harmonic_file), "--harmonic", "all"))
    with pytest.raises(ValueError, match=rf"weights {harmonic_file} do not fit resnet50\(harmonic=None"):
        resnet50(num_classes=2, weights=harmonic_file)
    assert not (tmp_path / "results").exists()
