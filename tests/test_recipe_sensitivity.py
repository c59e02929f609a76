"""Verdicts side by side under two recipes: a flip is found and said in words, from the runs' numbers."""

import pandas as pd
import pytest

from harmonic.analysis import recipe_sensitivity, wrn_study


def _study(errors: dict[str, list[float]], recipe: str, folder=None) -> wrn_study.Study:
    """A study whose final-epoch table has the given errors per Table 1 row (found by parameters, as recorded runs);
    the harmonic runs get a flat Figure 3 table in ``folder``."""
    configs = {"wrn-28-10": dict(harmonic=None, level=None, stem_spectral_bn=True),
               "harm": dict(harmonic="all", level=None, stem_spectral_bn=True),
               "harm1": dict(harmonic="stem", level=None, stem_spectral_bn=True)}
    rows = []
    for row, values in errors.items():
        for seed, error in enumerate(values):
            config = configs[row]
            if folder is not None and row == "harm":
                table = pd.DataFrame({"layer": ["layer1.0.conv1", "layer3.0.conv2"], "index": [1, 2],
                                      **{f"({u},{v})": [1.0, 1.0] for u in range(3) for v in range(3)}})
                (folder / f"{row}-seed{seed}").mkdir(parents=True)
                table.to_csv(folder / f"{row}-seed{seed}" / "frequency_weights.csv", index=False)
            rows.append({"run": f"{row}-seed{seed}", "results_dir": str(folder or ""), "seed": seed, "epoch": 10, "error": error,
                         "test_acc": 100 - error, "param_harmonic": config["harmonic"] or "none",
                         "param_level": config["level"], "param_stem_spectral_bn": config["stem_spectral_bn"],
                         "param_dropout": 0.3, "param_widen_factor": 1.0, "param_n_parameters": 1000})
    return wrn_study.Study(pd.DataFrame(rows), pd.DataFrame(), "", recipe)


def test_a_flipped_verdict_is_flagged_and_said_with_both_findings(tmp_path):
    authors = _study({"wrn-28-10": [9.0, 9.1, 9.2], "harm": [9.05, 9.15, 9.3], "harm1": [8.0, 8.1, 8.2]}, "authors",
                     tmp_path / "authors")
    kaiming = _study({"wrn-28-10": [9.0, 9.1, 9.2], "harm": [10.0, 10.1, 10.2], "harm1": [8.0, 8.1, 8.2]}, "kaiming",
                     tmp_path / "kaiming")
    table = recipe_sensitivity.sensitivity_table({"authors": authors, "kaiming": kaiming}).set_index("claim")
    assert table.loc["harm-beats-baseline", "authors: verdict"] == wrn_study.NOT_DISTINGUISHABLE
    assert table.loc["harm-beats-baseline", "kaiming: verdict"] == wrn_study.DOES_NOT_HOLD
    assert table.loc["harm-beats-baseline", "flips"]
    assert not table.loc["harm1-beats-baseline", "flips"]  # holds under both
    assert not table.loc["harm1-bn", "flips"]  # not run under either: no judgement to flip
    assert not table.loc["low-frequency", "flips"]  # the same (flat) Figure 3 tables under both
    sentences = recipe_sensitivity.sensitivity_sentences(table.reset_index())
    assert len(sentences) == 1
    assert "9.15 (9.05–9.30) vs 9.10 (9.00–9.20)" in sentences[0] and "10.10 (10.00–10.20)" in sentences[0]
    points = recipe_sensitivity.errors_by_recipe({"authors": authors, "kaiming": kaiming})
    assert len(points) == 18 and set(points["recipe"]) == {"authors", "kaiming"}
    assert "+0.05 points under the authors' recipe" in recipe_sensitivity.gap_sentence(points)
    assert "+1.00 points under the first recipe" in recipe_sensitivity.gap_sentence(points)


def test_unknown_recipes_are_refused():
    with pytest.raises(ValueError, match="unknown recipe"):
        recipe_sensitivity.sensitivity_table({"sgdr": _study({"harm": [1.0]}, "sgdr")})
    with pytest.raises(ValueError, match="recipe must be one of"):
        wrn_study.load_recipe("sgdr")


def test_the_view_says_each_verdict_with_what_was_found_and_nothing_twice(tmp_path):
    authors = _study({"wrn-28-10": [9.0, 9.1]}, "authors", tmp_path / "authors")
    kaiming = _study({"wrn-28-10": [9.0, 9.1, 9.2], "harm": [10.0, 10.1, 10.2], "harm1": [8.0, 8.1]}, "kaiming",
                     tmp_path / "kaiming")
    table = recipe_sensitivity.sensitivity_table({"authors": authors, "kaiming": kaiming})
    view = recipe_sensitivity.sensitivity_view(table, {"authors": "authors' recipe"})
    assert list(view.columns) == ["claim", "authors' recipe", "kaiming"]
    rows = view.set_index(table["claim"])
    assert rows.loc["harm-beats-baseline", "authors' recipe"] == "one side not run yet: not run yet vs 9.05 (9.00–9.10)"
    assert rows.loc["harm-beats-baseline", "kaiming"] == "does not hold: 10.10 (10.00–10.20) vs 9.10 (9.00–9.20)"
    assert rows.loc["harm1-bn", "kaiming"] == "not run yet"


def test_coefficient_scale_of_the_committed_first_recipe_runs():
    low, high = recipe_sensitivity.coefficient_scale(wrn_study.load_recipe("kaiming"))
    # the deeper blocks start 1/||psi_f|| (2-3x) larger than the authors'; the 1-channel stem smaller (fan_in of 9)
    assert 0.5 < low < 1.0 and 2.0 < high < 3.0
