"""The small-scale study's analysis: verdict rule, Table 1 rows found by their parameters, claims quoted verbatim."""

import re
from pathlib import Path

import pytest

from harmonic.analysis import report, wrn_study
from harmonic.conversion import run_conversion
from harmonic.experiments.wrn import run_wrn


@pytest.mark.parametrize("a, relation, b, expected", [
    ([7.0, 7.1, 7.2], "<", [7.3, 7.5, 7.4], wrn_study.HOLDS),
    ([7.0, 7.4, 7.2], "<", [7.3, 7.5, 7.4], wrn_study.NOT_DISTINGUISHABLE),  # ranges overlap
    ([7.6, 7.7, 7.8], "<", [7.3, 7.5, 7.4], wrn_study.DOES_NOT_HOLD),
    ([7.6, 7.7, 7.8], ">", [7.3, 7.5, 7.4], wrn_study.HOLDS),
    ([7.0, 7.4, 7.2], "≈", [7.3, 7.5, 7.4], wrn_study.HOLDS),
    ([7.0, 7.1, 7.2], "≈", [7.3, 7.5, 7.4], wrn_study.DOES_NOT_HOLD),
    ([7.0], "<", [8.0], wrn_study.TOO_FEW_SEEDS),  # one seed shows no spread
    ([7.0], "≈", [8.0], wrn_study.TOO_FEW_SEEDS),
    ([], "<", [8.0], "not run yet"),
])
def test_verdict_rule_on_seed_ranges(a, relation, b, expected):
    assert wrn_study.verdict(a, relation, b) == expected


def test_paired_verdict_uses_per_seed_differences():
    # ranges overlap, but every seed's converted network is worse than its own source
    assert wrn_study.verdict([8.0, 7.1, 7.6], ">", [7.9, 7.0, 7.5], paired=True) == wrn_study.HOLDS
    assert wrn_study.verdict([8.0, 6.9, 7.6], ">", [7.9, 7.0, 7.5], paired=True) == wrn_study.NOT_DISTINGUISHABLE
    assert wrn_study.verdict([100, 100], "=", [100, 100]) == wrn_study.HOLDS
    assert wrn_study.verdict([100, 99], "=", [100, 100]) == wrn_study.DOES_NOT_HOLD


def test_claim_quotes_are_the_papers_words():
    seeds = sorted((Path(__file__).resolve().parents[2] / "shared" / "seeds").glob("001_*.txt"))
    if not seeds:
        pytest.skip("the paper's text (../shared/seeds/001_*.txt) is not beside this checkout")
    text = re.sub(r"\s+", " ", seeds[0].read_text())
    claims = report.reported(wrn_study.CLAIMS_FILE)
    for quote in claims["quote"]:
        assert re.sub(r"\s+", " ", quote) in text, quote
    rows = set(report.reported("table1_wrn_cifar.csv")["row"])
    table_claims = claims[claims["section"].astype(str) == "5.1"]
    assert set(table_claims["a"]) <= rows and set(table_claims["b"].dropna()) <= rows


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory, mnist_root):
    """Two seeds of four Table 1 rows and one conversion, on 256 Fashion-MNIST images for one epoch:
    mechanics only, the numbers mean nothing."""
    root = tmp_path_factory.mktemp("study")
    common = dict(data_root=str(mnist_root), dataset="fashion-mnist", depth=10, epochs=1, subset=256,
                  test_subset=200, milestones=[], progress=False, device="cpu")
    rows = {"wrn": dict(harmonic=None, widen_factor=1, dropout=0.3, save_model=True),
            "harm": dict(harmonic="all", widen_factor=1, dropout=0.3),
            "harm1-nobn": dict(harmonic="stem", stem_spectral_bn=False, widen_factor=1, dropout=0.0),
            "wrn-0.6": dict(harmonic=None, widen_factor=0.6, dropout=0.3)}
    for name, params in rows.items():
        for seed in (0, 1):
            run_wrn(results_dir=root, run_name=f"{name}-seed{seed}", seed=seed, **common, **params)
    run_conversion(root, "conversion-seed0", "wrn-seed0", finetune_epochs=1, subset=256, test_subset=200,
                   data_root=str(mnist_root))
    return wrn_study.load_study(root)


def test_rows_are_found_by_their_parameters(tiny_study):
    table = wrn_study.small_table1(tiny_study).set_index("row")
    assert table.loc["wrn-28-10", "seeds"] == 2 and table.loc["harm", "seeds"] == 2
    assert table.loc["harm1-nobn", "seeds"] == 2 and table.loc["wrn-28-6", "seeds"] == 2
    assert table.loc["harm1-nodrop", "seeds"] == 0 and table.loc["harm-l3", "seeds"] == 0
    assert table.loc["wrn-28-6", "params"] < table.loc["wrn-28-10", "params"]


def test_claims_table_and_figure3_from_recorded_runs(tiny_study):
    claims = wrn_study.claims_table(tiny_study).set_index("claim")
    assert claims.loc["harm-beats-baseline", "verdict"] in (wrn_study.HOLDS, wrn_study.NOT_DISTINGUISHABLE,
                                                             wrn_study.DOES_NOT_HOLD)
    single = wrn_study.Study(tiny_study.final[tiny_study.final["seed"] == 0], tiny_study.conversions, "")
    assert wrn_study.claims_table(single).set_index("claim").loc["harm-beats-baseline", "verdict"] == \
        wrn_study.TOO_FEW_SEEDS
    assert claims.loc["harm1-bn", "verdict"] == "not run yet"  # harm1-nodrop has no run
    assert claims.loc["conversion-exact", "verdict"] == wrn_study.HOLDS
    assert "identical predictions on 200 of 200 test images" in claims.loc["conversion-exact", "this study"]
    profile = wrn_study.frequency_profile(tiny_study, "harm")
    assert len(profile) == 7  # the stem and two 3x3 blocks per residual group of WRN-10-1
    frequencies = [c for c in profile.columns if c.startswith("(")]
    assert profile[frequencies].sum(axis=1).round(6).eq(1.0).all()
    assert claims.loc["low-frequency", "verdict"] in (wrn_study.HOLDS, wrn_study.NOT_DISTINGUISHABLE,
                                                       wrn_study.DOES_NOT_HOLD)


def test_study_records_the_authors_recipe_and_refuses_a_folder_of_mixed_recipes(tiny_study, tmp_path):
    import json
    import shutil

    assert tiny_study.recipe == "authors"  # run_wrn's defaults: init "authors", reset_momentum True
    mixed = tmp_path / "mixed"
    for run in ("wrn-seed0", "harm-seed0"):
        shutil.copytree(Path(tiny_study.results_dir) / run, mixed / run)
    provenance = mixed / "harm-seed0" / "provenance.json"
    record = json.loads(provenance.read_text())
    record["params"].update(init="kaiming", reset_momentum=False)
    provenance.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="mixes runs of the recipes"):
        wrn_study.load_study(mixed)
    # a run recorded before runs recorded their recipe is the first recipe's
    del record["params"]["init"], record["params"]["reset_momentum"]
    provenance.write_text(json.dumps(record))
    (mixed / "wrn-seed0" / "provenance.json").unlink()
    assert wrn_study.load_study(mixed).recipe == "kaiming"


def test_initial_profile_is_the_runs_own_starting_point(tmp_path, mnist_root):
    """A run that barely moves (lr 1e-9) records, after training, the profile it started from."""
    from harmonic.experiments.wrn import FREQUENCY_WEIGHTS_FILE

    for seed in (0, 1):
        run_wrn(results_dir=tmp_path, run_name=f"harm-seed{seed}", data_root=str(mnist_root), dataset="fashion-mnist",
                depth=10, widen_factor=1, harmonic="all", dropout=0.3, epochs=1, lr=1e-9, weight_decay=0.0,
                subset=64, test_subset=64, milestones=[], progress=False, device="cpu", seed=seed)
    study = wrn_study.load_study(tmp_path)
    initial = wrn_study.initial_frequency_profile(study, "harm")
    trained = wrn_study.frequency_profile(study, "harm")
    frequencies = [c for c in initial.columns if c.startswith("(")]
    assert len(initial) == 7 and (initial[frequencies] - trained[frequencies]).abs().max().max() < 1e-6
    # the authors' init: every frequency starts with the same spread, so each layer's shares are near 1/9
    # (past the stem, whose 16 weights per frequency are too few for a flat average)
    assert (initial.loc[initial["index"] > 0, frequencies] - 1 / 9).abs().max().max() < 0.02
    assert (tmp_path / "harm-seed0" / FREQUENCY_WEIGHTS_FILE).exists()


def test_small_table1_view_has_whole_parameter_counts_and_dashes_not_nan(tiny_study):
    view = wrn_study.small_table1_view(wrn_study.small_table1(tiny_study))
    text = view.to_string()
    assert "nan" not in text.lower() and ".0 " not in text
    counted = view[view["seeds"] > 0]["parameters"]
    assert counted.str.fullmatch(r"\d{1,3}(,\d{3})*").all()
    assert set(view[view["seeds"] == 0]["parameters"]) == {"—"}
    assert set(view[view["seeds"] == 0]["Fashion-MNIST error (%)"]) == {"not run yet"}
