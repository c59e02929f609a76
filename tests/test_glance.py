"""The landing page's claims table: computed from result files, never typed."""

from harmonic.analysis import glance
from harmonic.paths import RECORDED_RESULTS


def test_without_recorded_runs_nothing_is_claimed(tmp_path):
    table = glance.results_at_a_glance(tmp_path)
    assert len(table) == 12
    recipe = table[table["claim"].str.contains("training recipe")].iloc[0]
    assert recipe["this project"].startswith("0 of 13 verdicts differ")
    mlp = table[table["work"] == "Harmonic MLP"]
    assert (mlp["this project"] == "not run yet").all() and (mlp["verdict"] == "not run yet").all()
    errors = table[table["claim"].str.contains("errors")]
    assert errors["this project"].str.startswith("not run here").all()
    counts = table[table["claim"].str.startswith("parameter counts")].iloc[0]
    assert counts["this project"] == "17 of 17 equal to the reported count (to 0.1 M)" and counts["verdict"] == "holds"


def test_mlp_claim_is_read_from_the_committed_reference_runs():
    table = glance.results_at_a_glance(RECORDED_RESULTS).set_index("claim")
    row = table.loc["about 95 % MNIST test accuracy within the first few epochs"]
    assert "for all 5 seeds" in row["this project"] and row["verdict"].startswith("holds")
    # each model's final accuracy is said after its epoch count, not after the epoch it reached 95 %
    assert row["this project"].count("after 15 epochs") == 2
    assert "mnist_harmonic_mlp.html" in row["chapter"]
    assert table.loc["its authors asked for batch size 64", "this project"].startswith("best ")


def test_recipe_row_counts_the_verdicts_that_flip_between_the_committed_recipes():
    from harmonic.analysis import recipe_sensitivity, wrn_study

    table = glance.results_at_a_glance().set_index("claim")
    studies = {recipe: wrn_study.load_recipe(recipe) for recipe in ("authors", "kaiming")}
    flips = int(recipe_sensitivity.sensitivity_table(studies)["flips"].sum())
    assert table.loc["do those verdicts depend on the training recipe?", "this project"].startswith(f"{flips} of 13 ")
