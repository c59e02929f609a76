"""The Harmonic-MLP study (issue #5): tidy table, summary, the study profile and its chapter.

``study_dir`` (:mod:`study_fixtures`) is a synthetic study: test fixtures for the aggregation logic, never results.
"""

from __future__ import annotations

import ast
import json
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harmonic import pipeline
from harmonic.analysis import study
from harmonic.experiments.mlp import MLPConfig, run_mlp_grid
from harmonic.experiments.recording import config_from
from harmonic.mlp import build_model

from study_fixtures import FIXTURE, study_dir  # noqa: F401 (the fixture)


# --------------------------------------------------------------------------- naming
def test_a_run_says_its_variant_and_older_runs_are_found_in_the_plan(tmp_path):
    from harmonic import results

    record = {"params": {"dataset": "mnist", "model": "relu"}, "seed": 0}
    metrics = [{"epoch": 1, "test_acc": 90.0, "seconds": 1.0}]
    # a new run says what it is, whatever its folder is called
    results.save_run(tmp_path / "new", "any-name", metrics,
                     record | {"plan": {"profile": "study", "group": "mlp-study", "variant": "relu-32x16",
                                        "point": {"dataset": "mnist"}}})
    assert set(study.study_runs(tmp_path / "new")["variant"]) == {"relu-32x16"}
    # a run recorded before runs said so: found in the study plan by its folder
    recorded = pipeline.PARAMS.parent.parent / "data" / "results"
    older = tmp_path / "old" / "mlp-study"
    folder = recorded / "mlp-study" / "fao-0.5-datasetfashion-mnist-harmonic-s3"
    results.save_run(older, folder.name, metrics, record)
    with pytest.raises(ValueError, match=r"runs \['fao-0.5-datasetfashion-mnist-harmonic-s3'\] say no variant"):
        study.study_runs(older)
    with pytest.raises(ValueError, match=r"not in the plan of profile 'study'"):  # not the study's folder
        study.study_runs(older, profile="study")
    runs = study.study_runs(folder.parent, profile="study")
    assert set(runs.loc[runs["run"] == folder.name, "variant"]) == {"fao-0.5"}
    assert set(runs["variant"]) >= {"seed-faithful", "relu", "relu-32x16", "fao-0.5", "lr-3e-4-cosine"}


@pytest.mark.parametrize("variant, family", [
    ("seed-faithful", "reference"), ("relu", "reference"), ("freq-learnable", "frequency distribution"),
    ("act-snake", "activation"), ("bn-before", "batch norm position"), ("fao-0.5", "frequency-aware optimizer"),
    ("width-32x16", "width"), ("relu-32x16", "width"), ("batch64", "batch size"), ("relu-batch64", "batch size"),
    ("lr-3e-3", "learning rate and schedule"), ("relu-lr-3e-4", "learning rate and schedule"),
    ("cosine", "learning rate and schedule"), ("relu-cosine", "learning rate and schedule"),
])
def test_family_of(variant, family):
    assert study.family_of(variant) == family


def test_every_name_of_the_study_is_reachable_from_study():
    """The chapters call ``study.<name>`` for the names now defined beside it: each is the defining module's object."""
    from harmonic.analysis import study_coverage, study_findings, study_views
    from harmonic.figures import mlp
    from harmonic.mlp import frequencies

    for name in study.__all__:
        assert getattr(study, name) is not None
    assert study.summary_view is study_views.summary_view and study.findings is study_findings.findings
    assert study.coverage_note is study_coverage.coverage_note and study.family_curves is mlp.family_curves
    assert study.shared_periods is frequencies.shared_periods
    with pytest.raises(AttributeError):
        study.no_such_name


# --------------------------------------------------------------------------- table
def test_study_table_has_one_row_per_run_with_variant_and_options(study_dir):
    table = study.study_table(study_dir)
    assert list(table.columns) == list(study.TABLE_COLUMNS)
    assert len(table) == sum(len(row[-1]) for row in FIXTURE)
    assert not table.duplicated(["dataset", "variant", "seed"]).any()
    assert set(table["variant"]) == {row[1] for row in FIXTURE}
    row = table[(table["variant"] == "freq-linear") & (table["seed"] == 1)].iloc[0]
    assert row["test_acc"] == pytest.approx(98.7) and row["best_test_acc"] == pytest.approx(99.2)
    assert row["epochs"] == 3 and row["seconds_per_epoch"] == pytest.approx(2.0)
    assert (row["freq_scheme"], row["activation"], row["bn_position"]) == ("linear", "harmonic", "after")
    assert row["hidden_sizes"] == "512x256" and row["n_parameters"] == 1000 and row["freq_scale_factor"] == 0.1
    by_variant = table.drop_duplicates("variant").set_index("variant")
    assert by_variant.loc["seed-faithful", "freq_scheme"] == "capped"  # the HarmonicMLP default
    assert pd.isna(by_variant.loc["fao-off", "freq_scale_factor"])  # plain Adam
    relu = by_variant.loc["relu"]
    assert pd.isna(relu["freq_scale_factor"]) and pd.isna(relu["freq_scheme"]) and relu["model"] == "relu"
    assert by_variant.loc["relu-lr-3e-3", "lr"] == 0.003


def test_study_table_at_a_given_epoch(study_dir):
    table = study.study_table(study_dir, epoch=2)
    row = table[(table["variant"] == "relu") & (table["dataset"] == "mnist") & (table["seed"] == 0)].iloc[0]
    assert row["epochs"] == 2 and row["test_acc"] == pytest.approx(98.8)
    assert row["best_test_acc"] == pytest.approx(98.8) and row["seconds_per_epoch"] == pytest.approx(1.5)
    assert study.study_table(study_dir, epoch=9).empty


def test_study_table_of_nothing_is_empty_with_columns(tmp_path):
    assert list(study.study_table(tmp_path).columns) == list(study.TABLE_COLUMNS)


def test_write_study_table_is_atomic_and_never_writes_an_empty_table(study_dir, tmp_path):
    path = tmp_path / "out" / "mlp_study.csv"
    written = study.write_study_table(study_dir, path)
    on_disk = pd.read_csv(path)
    assert len(on_disk) == len(written) and list(on_disk.columns) == list(study.TABLE_COLUMNS)
    assert [p.name for p in path.parent.iterdir()] == ["mlp_study.csv"]
    with pytest.raises(ValueError, match="no recorded run"):
        study.write_study_table(tmp_path / "nothing", path)
    assert len(pd.read_csv(path)) == len(written)  # the recorded table survives


# --------------------------------------------------------------------------- summary
def test_summary_means_target_and_tuned_relu_baseline(study_dir):
    s = study.summary(study.study_table(study_dir))
    assert list(s.columns) == list(study.SUMMARY_COLUMNS)
    assert len(s) == len(FIXTURE) and not s.duplicated(["dataset", "variant"]).any()
    row = s.set_index(["dataset", "variant"])
    linear = row.loc[("mnist", "freq-linear")]
    assert linear["mean"] == pytest.approx(98.7) and linear["std"] == pytest.approx(0.1)
    assert linear["test_acc"] == "98.70 ± 0.10" and linear["seeds"] == 3 and linear["epochs"] == 3
    # the baseline is the best ReLU variant of the dataset and width: the tuned one (98.6), not relu (98.4)
    assert linear["relu_baseline"] == "relu-lr-3e-3" and linear["relu_mean"] == pytest.approx(98.6)
    assert linear["vs_relu"] == pytest.approx(0.1) and linear["beats_relu"] is True
    assert linear["meets_target"] is True and linear["target"] == 98.5
    seed = row.loc[("mnist", "seed-faithful")]
    assert seed["meets_target"] is False and seed["beats_relu"] is False
    assert row.loc[("mnist", "relu-lr-3e-3"), "beats_relu"] is None  # baselines are not compared with themselves
    fashion = row.loc[("fashion-mnist", "seed-faithful")]
    assert fashion["meets_target"] is None and fashion["relu_baseline"] == "relu" and fashion["beats_relu"] is True
    assert s[s["dataset"] == "mnist"]["variant"].iloc[0] == "freq-linear"  # best first


def test_summary_respects_the_epoch_budget_and_survives_a_csv_round_trip(study_dir, tmp_path):
    table = study.study_table(study_dir)
    assert study.summary(table, epoch_budget=2).empty
    assert len(study.summary(table, epoch_budget=20)) == len(FIXTURE)
    study.write_study_table(study_dir, tmp_path / "t.csv")
    again = study.summary(pd.read_csv(tmp_path / "t.csv"))
    pd.testing.assert_frame_equal(again[["dataset", "variant", "mean", "seeds", "vs_relu"]],
                                  study.summary(table)[["dataset", "variant", "mean", "seeds", "vs_relu"]])


def test_summary_keeps_budgets_apart(study_dir, tmp_path):
    """A reduced (subset) run of a variant is neither averaged with nor a baseline for the full runs."""
    full = study.study_table(study_dir)
    reduced = full[full["dataset"] == "mnist"].assign(subset=5000, test_acc=lambda t: t["test_acc"] - 10)
    s = study.summary(pd.concat([full, reduced], ignore_index=True))
    assert len(s) == len(FIXTURE) + 5
    rows = s[(s["dataset"] == "mnist") & (s["variant"] == "freq-linear")].set_index("subset", drop=False)
    assert rows["mean"].tolist() == pytest.approx([98.7, 88.7])
    assert rows["relu_mean"].tolist() == pytest.approx([98.6, 88.6])


def test_same_settings_pairs_each_harmonic_variant_with_its_relu_twin(study_dir):
    table = study.study_table(study_dir)
    pairs = study.same_settings(table)
    assert list(pairs.columns) == list(study.SAME_SETTINGS_COLUMNS)
    got = {(r.dataset, r.variant): (r.relu_variant, r.difference, r.verdict) for r in pairs.itertuples()}
    # relu-lr-3e-3 trains with another learning rate: it is nobody's twin
    assert got == {
        ("mnist", "freq-linear"): ("relu", pytest.approx(0.3), "above"),
        ("mnist", "fao-off"): ("relu", pytest.approx(-0.1), "within std"),
        ("mnist", "seed-faithful"): ("relu", pytest.approx(-0.2), "within std"),
        ("fashion-mnist", "seed-faithful"): ("relu", pytest.approx(0.7), "above"),
    }
    assert pairs.loc[pairs["variant"] == "freq-linear", "harmonic_acc"].item() == "98.70 ± 0.10"
    without_default_relu = table[~((table["variant"] == "relu") & (table["dataset"] == "mnist"))]
    assert set(study.same_settings(without_default_relu)["dataset"]) == {"fashion-mnist"}
    assert study.same_settings(table, epoch_budget=2).empty


# --------------------------------------------------------------------------- a real run
def test_a_real_tiny_run_records_its_variant(tmp_path, mnist_root):
    run_mlp_grid(["harmonic"], [0], results_dir=tmp_path, run_name="freq-linear-datasetmnist",
                 data_root=str(mnist_root), progress=False, dataset="mnist", subset=256, test_subset=256,
                 epochs=1, model_options={"freq_scheme": "linear"}, device="cpu",
                 plan={"profile": "study", "group": "mlp-study", "variant": "freq-linear", "point": {"dataset": "mnist"}})
    record = json.loads((tmp_path / "freq-linear-datasetmnist-harmonic-s0" / "provenance.json").read_text())
    assert record["params"]["model_options"] == {"freq_scheme": "linear"} and record["plan"]["variant"] == "freq-linear"
    assert record["params"]["subset"] == 256 and record["params"]["epochs"] == 1
    row = study.study_table(tmp_path).iloc[0]
    assert (row["variant"], row["freq_scheme"], row["model"], row["seed"]) == ("freq-linear", "linear", "harmonic", 0)
    assert row["dataset"] == "mnist" and row["subset"] == 256 and 0 <= row["test_acc"] <= 100


# --------------------------------------------------------------------------- the study profile
def _notebook_parameters(name: str) -> set[str]:
    nb = json.loads((pipeline.NOTEBOOKS / f"{name}.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}


INJECTED = set(pipeline.PIPELINE_PARAMETERS)  # set by harmonic.pipeline


def _study_jobs(profile: str) -> list[pipeline.Job]:
    return [j for j in pipeline.load_plan(profile) if j.parameters["results_dir"].endswith("mlp-study")]


def test_study_profile_runs_every_variant_on_both_datasets_with_distinct_names():
    jobs = _study_jobs("study")
    variant_files = sorted((pipeline.PARAMS / "study" / "variants").glob("*.yaml"))
    assert len(jobs) == 2 * len(variant_files)  # every variant file is in the plan, on both datasets
    names = [j.parameters["run_name"] for j in jobs]
    assert len(names) == len(set(names))
    run_folders = [f"{j.parameters['run_name']}-{m}-s{s}" for j in jobs
                   for m in j.parameters["models"] for s in j.parameters["seeds"]]
    assert len(run_folders) == len(set(run_folders)) == 2 * 5 * len(variant_files)
    known = _notebook_parameters("mnist_harmonic_mlp") | INJECTED
    for job in jobs:
        p = job.parameters
        assert set(p) <= known, f"{p['run_name']}: {sorted(set(p) - known)} would be silently ignored"
        assert p["epochs"] == 20 and p["seeds"] == [0, 1, 2, 3, 4] and p["subset"] is None
        assert Path(p["results_dir"]).relative_to(pipeline.REPO_ROOT).as_posix() == "data/results/mlp-study"
        assert p["models"] in (["harmonic"], ["relu"])
        variant = p["plan"]["variant"]
        assert p["run_name"] == f"{variant}-dataset{p['dataset']}" and p["plan"]["point"] == {"dataset": p["dataset"]}
        assert (pipeline.PARAMS / "study" / "variants" / f"{variant}.yaml").exists()
        assert ("relu" in variant) == (p["models"] == ["relu"])
        # every configuration builds (scheme and activation names valid, options accepted)
        mlp_fields = {f.name for f in fields(MLPConfig)}
        config = config_from(MLPConfig, {k: v for k, v in p.items() if k in mlp_fields} | {"model": p["models"][0]})
        build_model(config.model, **config.model_kwargs())
    assert {j.parameters["dataset"] for j in jobs} == {"mnist", "fashion-mnist"}
    families = {study.family_of(Path(f).stem) for f in variant_files}
    assert families == {"reference"} | {f for f, _ in study.FAMILIES}


def test_study_variants_cover_the_issue():
    stems = {p.stem for p in (pipeline.PARAMS / "study" / "variants").glob("*.yaml")}
    options = {s: yaml.safe_load((pipeline.PARAMS / "study" / "variants" / f"{s}.yaml").read_text()) for s in stems}
    schemes = {o.get("model_options", {}).get("freq_scheme") for o in options.values()} - {None}
    activations = {o.get("model_options", {}).get("activation") for o in options.values()} - {None}
    assert schemes == {"harmonic", "linear", "log", "random", "learnable"}  # capped: seed-faithful
    assert activations == {"sine", "siren", "snake"}
    assert {"seed-faithful", "relu", "bn-before", "fao-off", "width-32x16", "relu-32x16",
            "batch64", "relu-batch64"} <= stems
    assert options["fao-off"]["freq_scale_factor"] is None
    assert sum(o["models"] == ["relu"] for o in options.values()) >= 3  # a tuned baseline, not just one run


@pytest.mark.parametrize("profile", ["study", "quick", "smoke"])
def test_chapter_parameter_files_match_the_notebook(profile):
    known = _notebook_parameters("mlp_study")
    (page,) = [job for job in pipeline.load_plan(profile) if job.notebook.stem == "mlp_study"]
    assert set(page.parameters) - set(pipeline.PIPELINE_PARAMETERS) <= known
    # only the study profile rewrites the committed table (the notebook's default is not to)
    assert page.parameters.get("write_table", False) is (profile == "study")
    if profile != "study":
        common = yaml.safe_load((pipeline.PARAMS / profile / "study" / "common.yaml").read_text())
        assert set(common) <= _notebook_parameters("mnist_harmonic_mlp")
        assert common["seeds"] == [0]


@pytest.mark.parametrize("profile", ["quick", "smoke"])
def test_reduced_study_in_a_profile_uses_the_study_variants(profile):
    jobs = _study_jobs(profile)
    if not jobs:
        pytest.skip(f"the {profile} plan has no mlp-study entry yet")
    names = [j.parameters["run_name"] for j in jobs]
    assert len(names) == len(set(names))
    stems = {p.stem for p in (pipeline.PARAMS / "study" / "variants").glob("*.yaml")}
    for job in jobs:
        p = job.parameters
        variant = p["plan"]["variant"]
        assert variant in stems and p["seeds"] == [0] and p["epochs"] <= 2


# --------------------------------------------------------------------------- the chapter
def test_chapter_notebook_is_a_clean_source():
    nb = json.loads((pipeline.NOTEBOOKS / "mlp_study.ipynb").read_text())
    assert not any(c.get("outputs") or c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code")
    colab = [c for c in nb["cells"] if "colab-setup" in c.get("metadata", {}).get("tags", [])]
    mlp = json.loads((pipeline.NOTEBOOKS / "mnist_harmonic_mlp.ipynb").read_text())
    mlp_colab = [c for c in mlp["cells"] if "colab-setup" in c.get("metadata", {}).get("tags", [])]
    assert len(colab) == 1 and colab[0]["source"] == mlp_colab[0]["source"]
    assert "Open in Colab" in "".join(nb["cells"][0]["source"])
