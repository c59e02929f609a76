"""The small-scale study of Harmonic Networks' claims: Table 1's rows, the conversion rows of Table 2,
Figures 3 and 4, and a verdict per claim, all read from the recorded runs of the ``wrn-study`` profile.

Every run is identified by its recorded parameters, never by its folder name: a Table 1 row
(``data/paper/table1_wrn_cifar.csv``) is matched by ``harmonic``, ``level``, ``stem_spectral_bn``,
whether it has dropout, and its width relative to the study's widest network (10, 8, 6 in the
paper are 1, 0.8, 0.6 here).

Verdicts (:func:`claims_table`) follow one rule. For two rows of independent runs, a claim that
``a`` has lower error than ``b`` *holds* when every seed of ``a`` is below every seed of ``b``
(the seed-to-seed ranges do not overlap), *does not hold* when every seed of ``a`` is above every
seed of ``b``, and is *not distinguishable* otherwise; "comparable" holds when the ranges overlap. With fewer than two
seeds on a side there is no range: *too few seeds to judge*.
For the conversion claims, which compare networks made from the same trained model, the per-seed
differences are used: the claim holds when every seed's difference has the claimed sign.

The study is recorded under two training recipes (:data:`RECIPES`): the authors' (their initial
weights and a momentum reset at each learning-rate drop, profile ``wrn-study``) and the
companion's first one (``wrn-study-kaiming``). :func:`sensitivity_table` sets each claim's verdict
under both side by side; a folder never mixes recipes (:func:`load_study` refuses it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from harmonic.analysis.report import last_epoch, plural, reported
from harmonic.results import load_runs
from harmonic.analysis.tables import TABLE1_FILE, harmonic_from_cell, level_from_cell, yes_from_cell

if TYPE_CHECKING:
    from harmonic.experiments.wrn import WRNConfig

__all__ = [
    "CLAIMS_FILE",
    "TOO_FEW_SEEDS",
    "HOLDS",
    "NOT_DISTINGUISHABLE",
    "DOES_NOT_HOLD",
    "RECIPES",
    "claims_table",
    "conversion_summary",
    "load_recipe",
    "describe_errors",
    "FIGURE4_ROWS",
    "figure4_points",
    "frequency_profile",
    "initial_frequency_profile",
    "load_study",
    "row_runs",
    "run_config",
    "low_frequency_share",
    "small_table1",
    "small_table1_view",
    "verdict",
]

CLAIMS_FILE = "claims_harmonic_networks.csv"
HOLDS, NOT_DISTINGUISHABLE, DOES_NOT_HOLD = "holds", "not distinguishable", "does not hold"
TOO_FEW_SEEDS = "too few seeds to judge"
NOT_JUDGED = "shown, not judged"


#: The recipes the study is recorded under: name -> (profile and group of its runs, what it is).
RECIPES: dict[str, tuple[str, str]] = {
    "authors": ("wrn-study", "the authors' recipe: their initial weights, momentum reset at each lr drop"),
    "kaiming": ("wrn-study-kaiming", "the first recipe: Kaiming-equivalent harmonic blocks, momentum kept"),
}


@dataclass
class Study:
    """The recorded study: one row per training run (final epoch) and the conversion runs' metrics,
    all of one ``recipe`` (a key of :data:`RECIPES`; None when nothing is recorded)."""

    final: pd.DataFrame
    conversions: pd.DataFrame
    results_dir: str
    recipe: str | None = None


def _recipe_of(params: dict[str, Any]) -> str:
    """The :data:`RECIPES` name of a run's recorded ``init`` and ``reset_momentum`` (runs recorded before
    those were: :data:`~harmonic.experiments.wrn.RECIPE_UNRECORDED`)."""
    from harmonic.experiments.wrn import RECIPE_UNRECORDED

    init = params.get("init", RECIPE_UNRECORDED["init"])
    reset = params.get("reset_momentum", RECIPE_UNRECORDED["reset_momentum"])
    for name, wanted in (("authors", ("authors", True)), ("kaiming", ("kaiming", False))):
        if (init, bool(reset)) == wanted:
            return name
    return f"init={init}, reset_momentum={reset}"


def _recipes(runs: pd.DataFrame, key: str) -> pd.Series:
    """Per run, its recipe: from ``param_init`` / ``param_reset_momentum`` (or, for conversion runs,
    from the recorded parameters of their source run, ``key="param_source_params"``)."""
    def params(row: pd.Series) -> dict[str, Any]:
        if key == "param_source_params":  # load_runs keeps a dict parameter as JSON text
            return json.loads(row[key]) if isinstance(row[key], str) else {}
        return {name: row[f"param_{name}"] for name in ("init", "reset_momentum")
                if f"param_{name}" in row and pd.notna(row[f"param_{name}"])}

    return runs.apply(lambda row: _recipe_of(params(row)), axis=1) if not runs.empty else pd.Series(dtype=str)


def load_study(results_dir: str | os.PathLike) -> Study:
    """Read every run below ``results_dir`` (a study group folder); its runs must share one recipe."""
    runs = load_runs(results_dir)
    if runs.empty:
        return Study(pd.DataFrame(), pd.DataFrame(), str(results_dir))
    is_conversion = runs["param_source_run"].notna() if "param_source_run" in runs else pd.Series(False, index=runs.index)
    training = runs[~is_conversion]
    final = last_epoch(training) if not training.empty else training
    final = final.assign(error=100.0 - final["test_acc"]) if not final.empty else final
    found = set(_recipes(final, "")) | set(_recipes(runs[is_conversion], "param_source_params"))
    if len(found) > 1:
        raise ValueError(f"results_dir {results_dir} mixes runs of the recipes {sorted(found)}: "
                         "keep each recipe's runs in its own folder (its own profile)")
    return Study(final.reset_index(drop=True), runs[is_conversion].reset_index(drop=True), str(results_dir),
                 found.pop() if found else None)


def load_recipe(recipe: str) -> Study:
    """The study recorded under ``recipe`` (a key of :data:`RECIPES`), found from its profile's plan."""
    from harmonic.plan import group_dir

    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {sorted(RECIPES)}, got {recipe!r}")
    profile = RECIPES[recipe][0]
    return load_study(group_dir(profile, profile))


def _widest(study: Study) -> float:
    """The widen factor of the study's widest network (the paper's width 10 maps onto it)."""
    return float(study.final["param_widen_factor"].astype(float).max()) if not study.final.empty else 1.0


def _row_config(row: pd.Series, widest: float) -> dict[str, Any]:
    harmonic = harmonic_from_cell(row["harmonic"])
    return {"harmonic": harmonic, "level": level_from_cell(row["level"]),
            "stem_spectral_bn": None if harmonic is None else yes_from_cell(row["stem_spectral_bn"]) is not False,
            "dropout": yes_from_cell(row["dropout"]), "width": float(row["widen_factor"]) / 10.0 * widest}


def _runs_of(final: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    if final.empty:
        return final
    mask = final["param_harmonic"].map(lambda v: harmonic_from_cell(v) == config["harmonic"]).astype(bool)
    mask &= final["param_level"].map(lambda v: level_from_cell(v) == config["level"]).astype(bool)
    mask &= (final["param_dropout"].astype(float) > 0) == bool(config["dropout"])
    mask &= (final["param_widen_factor"].astype(float) - config["width"]).abs() < 1e-9
    if config["harmonic"] is not None:
        stem_bn = final["param_stem_spectral_bn"] if "param_stem_spectral_bn" in final else pd.Series(True, index=final.index)
        mask &= stem_bn.fillna(True).astype(bool) == config["stem_spectral_bn"]
    return final[mask]


def small_table1(study: Study) -> pd.DataFrame:
    """Table 1 at small scale: per WRN row of the paper, its CIFAR errors and the study's test error
    (median, min and max over seeds), seeds, parameters and epochs. Rows without runs have 0 seeds."""
    paper = reported(TABLE1_FILE)
    paper = paper[paper["kind"] == "wrn"]
    widest = _widest(study)
    rows = []
    for _, row in paper.iterrows():
        runs = _runs_of(study.final, _row_config(row, widest))
        errors = runs["error"] if not runs.empty else pd.Series(dtype=float)
        rows.append({
            "row": row["row"], "method": row["method"], "dropout": row["dropout"],
            "compression": row["compression"] if isinstance(row["compression"], str) else "",
            "cifar10 err paper": row["cifar10_err"], "cifar100 err paper": row["cifar100_err"],
            "params": int(runs["param_n_parameters"].iloc[0]) if len(runs) else None,
            "error median": errors.median() if len(errors) else float("nan"),
            "error min": errors.min() if len(errors) else float("nan"),
            "error max": errors.max() if len(errors) else float("nan"),
            "seeds": len(errors), "epochs": int(runs["epoch"].max()) if len(runs) else None,
            "errors": sorted(errors.tolist()),
        })
    return pd.DataFrame(rows)


#: The study's rows on Figure 4's two curves, as in the paper: harmonic WRNs with dropout by
#: compression, and WRN baselines by width.
FIGURE4_ROWS = {"Harm-WRN": ("harm", "harm-l3", "harm-l2"), "WRN": ("wrn-28-10", "wrn-28-8", "wrn-28-6")}


def small_table1_view(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`small_table1` for reading: the paper's CIFAR errors beside this study's error (median and
    range over seeds), parameters as whole numbers, "—" where a row has no run."""
    return table.assign(**{
        "Fashion-MNIST error (%)": [describe_errors(errors) for errors in table["errors"]],
        "parameters": ["—" if pd.isna(p) else f"{int(p):,}" for p in table["params"]],
    })[["method", "dropout", "compression", "parameters", "cifar10 err paper", "cifar100 err paper",
        "Fashion-MNIST error (%)", "seeds"]].rename(columns={
        "cifar10 err paper": "CIFAR-10 error (%), paper", "cifar100 err paper": "CIFAR-100 error (%), paper"})


def figure4_points(table: pd.DataFrame, dataset: str = "Fashion-MNIST (this study)") -> pd.DataFrame:
    """Figure 4 at small scale from :func:`small_table1`: median test error against parameters
    (millions), with the seeds' range, for the rows of :data:`FIGURE4_ROWS` that have runs."""
    table = table.set_index("row")
    points = []
    for family, rows in FIGURE4_ROWS.items():
        for row in rows:
            if table.loc[row, "seeds"]:
                label = table.loc[row, "method"] + (f" ({table.loc[row, 'compression']})" if table.loc[row, "compression"] else "")
                points.append({"dataset": dataset, "family": family, "model": label,
                               "params_M": table.loc[row, "params"] / 1e6, "error": table.loc[row, "error median"],
                               "error_low": table.loc[row, "error min"], "error_high": table.loc[row, "error max"],
                               "source": "this study"})
    return pd.DataFrame(points, columns=["dataset", "family", "model", "params_M", "error", "error_low",
                                         "error_high", "source"])


def verdict(a: Iterable[float], relation: str, b: Iterable[float], paired: bool = False) -> str:
    """The module's rule: ``relation`` ``"<"``, ``">"``, ``"≈"`` or ``"="`` between errors ``a`` and ``b``.

    Unpaired: compares the seed ranges; paired (same source model per seed): the signs of ``a - b``.
    Fewer than 2 values on a side show no spread: ``too few seeds to judge``.
    """
    a, b = list(a), list(b)
    if not a or not b:
        return "not run yet"
    if relation == "=":
        return HOLDS if all(x == y for x, y in zip(a, b, strict=True)) else DOES_NOT_HOLD
    if min(len(a), len(b)) < 2:
        return TOO_FEW_SEEDS
    if paired:
        diffs = [x - y for x, y in zip(a, b, strict=True)]
        below, above = all(d < 0 for d in diffs), all(d > 0 for d in diffs)
    else:
        below, above = max(a) < min(b), min(a) > max(b)
    if relation == "≈":
        return HOLDS if not (below or above) else DOES_NOT_HOLD
    wanted, opposite = (below, above) if relation == "<" else (above, below)
    return HOLDS if wanted else DOES_NOT_HOLD if opposite else NOT_DISTINGUISHABLE


def row_runs(study: Study, row: str) -> pd.DataFrame:
    """The study's runs of the Table 1 row ``row`` (a key of the paper file's ``row`` column)."""
    paper = reported(TABLE1_FILE).set_index("row")
    widest = _widest(study)
    return _runs_of(study.final, _row_config(paper.loc[row], widest))


def _normalise(table: pd.DataFrame) -> pd.DataFrame:
    """A Figure 3 table with each layer's weights divided by their sum (columns ``layer``, ``index``, frequencies)."""
    columns = [c for c in table.columns if c.startswith("(")]
    table = table.copy()
    table[columns] = table[columns].div(table[columns].sum(axis=1), axis=0)
    return table[["layer", "index", *columns]]


def _normalised_weights(run: pd.Series) -> pd.DataFrame:
    """A run's Figure 3 table (``frequency_weights.csv``), each layer's weights normalised to sum to 1."""
    from pathlib import Path

    from harmonic.experiments.wrn import FREQUENCY_WEIGHTS_FILE

    path = Path(run["results_dir"]) / run["run"] / FREQUENCY_WEIGHTS_FILE
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError) as error:
        raise ValueError(f"{path} could not be read as a Figure 3 table ({error}); rerun that run to rewrite it") from error
    return _normalise(table)


def run_config(run: pd.Series) -> "WRNConfig":
    """The configuration a study run (a row of ``Study.final``) was recorded with, from its provenance."""
    from pathlib import Path

    from harmonic.experiments.wrn import recorded_config
    from harmonic.results import PROVENANCE_FILE, read_provenance

    return recorded_config(read_provenance(Path(run["results_dir"]) / run["run"] / PROVENANCE_FILE).get("params") or {})


def _initial_weights(run: pd.Series) -> pd.DataFrame:
    """The Figure 3 table of a run's network as it started: rebuilt from its recorded parameters and seed
    (:func:`harmonic.experiments.wrn.build_model` draws the same initial weights as the run did)."""
    from harmonic.experiments.wrn import build_model, frequency_weights

    return _normalise(frequency_weights(build_model(run_config(run))))


def _mean_profile(tables: list[pd.DataFrame]) -> pd.DataFrame:
    if not tables:
        return pd.DataFrame()
    return pd.concat(tables).groupby(["index", "layer"], sort=True).mean().reset_index()


def frequency_profile(study: Study, row: str = "harm") -> pd.DataFrame:
    """Figure 3 data for one Table 1 row: the mean absolute weight per DCT frequency of every
    harmonic layer after training, each layer normalised to sum to 1, averaged over the row's seeds.
    Columns: ``layer``, ``index`` and one per frequency ``"(u,v)"``."""
    return _mean_profile([_normalised_weights(run) for _, run in row_runs(study, row).iterrows()])


def initial_frequency_profile(study: Study, row: str = "harm") -> pd.DataFrame:
    """:func:`frequency_profile` of the same runs at step 0 (their initial weights, rebuilt from each
    run's recorded parameters and seed): what training changed is the difference between the two."""
    return _mean_profile([_initial_weights(run) for _, run in row_runs(study, row).iterrows()])


def low_frequency_share(profile: pd.DataFrame, max_order: int = 1) -> pd.Series:
    """Per layer, the share of the weight on the frequencies with ``u + v <= max_order``
    (the 3 lowest of a 3x3 bank for ``max_order=1``), from :func:`frequency_profile`."""
    low = [c for c in profile.columns if c.startswith("(") and sum(map(int, c[1:-1].split(","))) <= max_order]
    return profile.set_index("layer")[low].sum(axis=1)


def _group_shares(table: pd.DataFrame) -> pd.Series:
    """Mean low-frequency share per residual group (``layer1``, ``layer2``, ...; the stem is in none)."""
    share = low_frequency_share(table)
    groups = share.index.to_series().str.extract(r"^(layer\d+)", expand=False)
    return share.groupby(groups.values).mean()


def conversion_summary(study: Study) -> pd.DataFrame:
    """Per conversion run (one per seed): test error of the trained plain network, of the full-basis
    and the progressive-lambda conversions before fine-tuning, identical predictions, and the errors
    after fine-tuning of the plain control and of both conversions."""
    columns = ["run", "seed", "finetune epochs", "plain", "full", "identical predictions", "max |Δlogit|",
               "progressive", "plain+ft", "full+ft", "progressive+ft", "test images"]
    if study.conversions.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for run, frame in study.conversions.groupby("run"):
        def error(variant: str, after: bool) -> float:
            part = frame[frame["variant"].str.startswith(variant)]
            part = part[part["epoch"] == (part["epoch"].max() if after else 0)]
            return float(100.0 - part["test_acc"].iloc[0]) if len(part) else float("nan")

        full0 = frame[(frame["variant"] == "full basis") & (frame["epoch"] == 0)].iloc[0]
        rows.append({
            "run": run, "seed": int(frame["seed"].iloc[0]), "finetune epochs": int(frame["epoch"].max()),
            "plain": error("plain", False), "full": error("full basis", False),
            "identical predictions": int(full0["identical_predictions"]),
            "max |Δlogit|": float(full0["max_abs_logit_diff"]),
            "progressive": error("progressive", False), "plain+ft": error("plain", True),
            "full+ft": error("full basis", True), "progressive+ft": error("progressive", True),
            "test images": int(frame["param_test_subset"].iloc[0]) if "param_test_subset" in frame and pd.notna(frame["param_test_subset"].iloc[0]) else 10_000,
        })
    return pd.DataFrame(rows, columns=columns)


def _low_frequency_verdict(study: Study, row: str) -> tuple[str, str]:
    """Per seed: is the low-frequency share of the last residual group above that of the first?"""
    shares = [_group_shares(_normalised_weights(run)) for _, run in row_runs(study, row).iterrows()]
    if not shares:
        return "not run yet", "not run yet"
    first, last = [s.iloc[0] for s in shares], [s.iloc[-1] for s in shares]
    found = (f"share of the weight on the 3 lowest of 9 frequencies: first residual group "
             f"{min(first):.2f}–{max(first):.2f}, last {min(last):.2f}–{max(last):.2f} over {plural(len(shares), 'seed')} "
             f"(equal weights: 0.33)")
    return verdict(last, ">", first, paired=True), found


def describe_errors(values: list[float]) -> str:
    """``median (min–max)`` of a row's errors over seeds, ``not run yet`` without runs."""
    if not values:
        return "not run yet"
    middle = pd.Series(values).median()
    return f"{middle:.2f}" if len(values) == 1 else f"{middle:.2f} ({min(values):.2f}–{max(values):.2f})"


def claims_table(study: Study) -> pd.DataFrame:
    """One row per claim of ``data/paper/claims_harmonic_networks.csv``: section, quote, what the paper
    reports (its Table 1/2 numbers), what the study found (median and seed range of test errors,
    in %) and the verdict of :func:`verdict`."""
    claims = reported(CLAIMS_FILE)
    table1 = small_table1(study).set_index("row")
    paper = reported(TABLE1_FILE).set_index("row")
    conversions = conversion_summary(study)
    statements = reported("conversion_statements.csv").set_index("id")
    rows = []
    for _, claim in claims.iterrows():
        a, relation, b = claim["a"], claim["relation"], claim["b"]
        if relation == "low-frequency":
            result, found = _low_frequency_verdict(study, a)
            reported_text = "Figure 3 (CIFAR-10): weights concentrate on low frequencies in deeper layers"
        elif str(claim["section"]) == "5.2":
            values_a = conversions[a].tolist() if a in conversions else []
            values_b = conversions[b].tolist() if b in conversions else []
            if relation == "=":
                same = conversions["identical predictions"].tolist()
                totals = conversions["test images"].tolist()
                result = verdict(same, "=", totals) if same else "not run yet"
                span = "" if not same else f"{min(same):,}" if min(same) == max(same) else f"{min(same):,}–{max(same):,}"
                found = (f"identical predictions on {span} of {totals[0]:,} test images in each of {plural(len(same), 'seed')}"
                         if same else "not run yet")
            else:
                result = verdict(values_a, relation, values_b, paired=True)
                diffs = [x - y for x, y in zip(values_a, values_b)]
                found = (f"{a} − {b}: " + ", ".join(f"{d:+.2f}" for d in diffs) + " pp error per seed") if diffs else "not run yet"
            key = {"conversion-exact": "full-exact", "progressive-conversion-degrades": "progressive-before",
                   "finetuned-conversion-improves": "full-finetuned-top1",
                   "finetuned-progressive-falls-short": "progressive-finetuned-top1"}[claim["id"]]
            value = statements.loc[key, "value_pp"]
            reported_text = ("identical outputs" if key == "full-exact"
                             else f"{value:+g} pp top-1 accuracy vs the baseline (ImageNet)")
        else:
            errors_a, errors_b = table1.loc[a, "errors"], table1.loc[b, "errors"]
            result = NOT_JUDGED if relation == "mixed" else verdict(errors_a, relation, errors_b)
            found = f"{describe_errors(errors_a)} vs {describe_errors(errors_b)}"
            reported_text = (f"CIFAR-10 {paper.loc[a, 'cifar10_err']:.2f} vs {paper.loc[b, 'cifar10_err']:.2f}, "
                             f"CIFAR-100 {paper.loc[a, 'cifar100_err']:.2f} vs {paper.loc[b, 'cifar100_err']:.2f}")
        rows.append({"claim": claim["id"], "section": str(claim["section"]), "quote": claim["quote"],
                     "compares": f"{a} {relation} {b}" if isinstance(b, str) else a,
                     "paper": reported_text, "this study": found, "verdict": result})
    return pd.DataFrame(rows)
