"""What the small-scale verdicts depend on: the study's claims under each training recipe.

The same rows, seeds, schedule and data are recorded under two recipes
(:data:`harmonic.analysis.wrn_study.RECIPES`): the authors' (their initial weights, a momentum
reset at every learning-rate drop) and the companion's first one (harmonic blocks initialised
as Kaiming-normal dense kernels, momentum kept). :func:`sensitivity_table` sets each claim's
verdict under both side by side, :func:`sensitivity_sentences` says in words where a verdict
flips, and :func:`errors_by_recipe` gives every seed's error per row and recipe for a figure.
Nothing here is typed in: every number comes from the recorded runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pandas as pd

from harmonic.analysis.report import plural
from harmonic.analysis.wrn_study import (RECIPES, Study, claims_table, describe_errors, row_runs, run_config,
                                         small_table1)

__all__ = ["COMPARED_ROWS", "coefficient_scale", "errors_by_recipe", "gap_sentence", "sensitivity_sentences",
           "sensitivity_table", "sensitivity_view"]

#: The rows whose every seed :func:`errors_by_recipe` shows: the baseline, Harm1 and the full Harm-WRN.
COMPARED_ROWS: tuple[str, ...] = ("wrn-28-10", "harm1", "harm")

#: Verdicts that are a judgement (a flip between two of them is a change of conclusion).
_JUDGED = ("holds", "does not hold", "not distinguishable")


def sensitivity_table(studies: Mapping[str, Study]) -> pd.DataFrame:
    """One row per claim: its quote, and for every recipe of ``studies`` (name -> study) what the study
    found and the verdict (columns ``"<recipe>: found"``, ``"<recipe>: verdict"``); ``flips`` is True when
    two recipes give different judged verdicts (holds / does not hold / not distinguishable)."""
    if not studies:
        raise ValueError("studies must name at least one recipe's study")
    unknown = sorted(set(studies) - set(RECIPES))
    if unknown:
        raise ValueError(f"studies: unknown recipe(s) {unknown}; known: {sorted(RECIPES)}")
    table: pd.DataFrame | None = None
    for recipe, study in studies.items():
        claims = claims_table(study).rename(columns={"this study": f"{recipe}: found", "verdict": f"{recipe}: verdict"})
        part = claims[["claim", "section", "quote", "compares", f"{recipe}: found", f"{recipe}: verdict"]]
        table = part if table is None else table.merge(part, on=["claim", "section", "quote", "compares"])
    assert table is not None
    verdicts = table[[f"{recipe}: verdict" for recipe in studies]]
    table["flips"] = verdicts.apply(lambda row: len({v for v in row if v in _JUDGED}) > 1, axis=1)
    return table


def _cell(verdict: str, found: str) -> str:
    """One claim under one recipe: "verdict: what the runs found"; "not run yet" alone when neither side has a
    run, and "one side not run yet: ..." when only one has."""
    if all(part == "not run yet" for part in found.split(" vs ")):
        return "not run yet"
    return f"{'one side not run yet' if verdict == 'not run yet' else verdict}: {found}"


def sensitivity_view(table: pd.DataFrame, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """:func:`sensitivity_table` for reading: the claim's quote and, per recipe, one cell "verdict: found"
    (the verdict alone where no run is recorded); ``labels`` names the recipe columns."""
    recipes = [c.removesuffix(": verdict") for c in table.columns if c.endswith(": verdict")]
    labels = {recipe: recipe for recipe in recipes} | dict(labels or {})
    view = pd.DataFrame({"claim": table["quote"]})
    for recipe in recipes:
        verdicts, found = table[f"{recipe}: verdict"], table[f"{recipe}: found"]
        view[labels[recipe]] = [_cell(verdict, text) for verdict, text in zip(verdicts, found)]
    return view


def sensitivity_sentences(table: pd.DataFrame, recipes: Sequence[str] = ("authors", "kaiming")) -> list[str]:
    """A plain sentence per claim whose verdict flips between ``recipes`` (from :func:`sensitivity_table`),
    with what each recipe's runs found (median and range of the test errors over seeds)."""
    first, second = recipes
    sentences = []
    for _, row in table[table["flips"]].iterrows():
        sentences.append(
            f"“{row['quote']}” ({row['compares']}): {row[f'{first}: verdict']} under {RECIPES[first][1]} "
            f"({row[f'{first}: found']}), {row[f'{second}: verdict']} under {RECIPES[second][1]} "
            f"({row[f'{second}: found']}).")
    return sentences


def errors_by_recipe(studies: Mapping[str, Study], rows: Sequence[str] = COMPARED_ROWS) -> pd.DataFrame:
    """Every seed's test error (%) of the Table 1 ``rows`` under each recipe: columns ``recipe``, ``row``,
    ``method``, ``seed``, ``error`` and ``summary`` (the row's median and range under that recipe)."""
    records = []
    tables = {recipe: small_table1(study).set_index("row") for recipe, study in studies.items()}
    for row in rows:  # row by row, so that the rows keep their order whichever recipe has runs
        for recipe, study in studies.items():
            table = tables[recipe]
            errors = table.loc[row, "errors"]
            summary = f"{describe_errors(errors)}, {plural(len(errors), 'seed')}"
            runs = _seeds_of(study, row)
            for seed, error in runs:
                records.append({"recipe": recipe, "row": row, "method": table.loc[row, "method"], "seed": seed,
                                "error": error, "summary": summary})
    return pd.DataFrame(records, columns=["recipe", "row", "method", "seed", "error", "summary"])


def _seeds_of(study: Study, row: str) -> list[tuple[int, float]]:
    """(seed, test error) of each run of Table 1 row ``row`` in ``study``."""
    runs = row_runs(study, row)
    return [(int(seed), float(error)) for seed, error in zip(runs["seed"], runs["error"])] if len(runs) else []


def gap_sentence(points: pd.DataFrame, a: str = "harm", b: str = "wrn-28-10") -> str:
    """How far row ``a``'s median error is from row ``b``'s under each recipe, in words, from
    :func:`errors_by_recipe`'s ``points`` (e.g. the full Harm-WRN against the plain WRN)."""
    parts = []
    for recipe, frame in points.groupby("recipe", sort=False):
        medians = frame.groupby("row")["error"].median()
        if a not in medians or b not in medians:
            parts.append(f"not yet recorded for both rows under {RECIPES[recipe][1]}")
            continue
        seeds = frame.groupby("row")["seed"].nunique()
        parts.append(f"{medians[a] - medians[b]:+.2f} points under {RECIPES[recipe][1]} "
                     f"({plural(int(seeds[a]), 'seed')} and {plural(int(seeds[b]), 'seed')})")
    method_a = points.loc[points["row"] == a, "method"].iloc[0] if (points["row"] == a).any() else a
    method_b = points.loc[points["row"] == b, "method"].iloc[0] if (points["row"] == b).any() else b
    return f"Median error of {method_a} minus {method_b}: " + "; ".join(parts) + "."


def coefficient_scale(study: Study, row: str = "harm") -> tuple[float, float]:
    """How much larger the first recipe starts eq. 2's coefficients than the authors' recipe: the smallest
    and largest ratio, over the harmonic layers, of their std under ``init="kaiming"`` to that under
    ``init="authors"``, for the network of ``row``'s first recorded run (rebuilt with its seed)."""
    from harmonic.experiments.wrn import build_model
    from harmonic.layers import HarmonicConv2d

    runs = row_runs(study, row)
    if runs.empty:
        raise ValueError(f"row {row!r} has no recorded run in {study.results_dir}")
    config = run_config(runs.iloc[0])
    spreads = {}
    for init in ("kaiming", "authors"):
        model = build_model(replace(config, init=init))
        spreads[init] = [float(m.weight.detach().std()) for m in model.modules() if isinstance(m, HarmonicConv2d)]
    ratios = [k / a for k, a in zip(spreads["kaiming"], spreads["authors"], strict=True)]
    return min(ratios), max(ratios)
