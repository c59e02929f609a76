"""Sentences of the Harmonic-MLP study, computed from its summary (:mod:`harmonic.analysis.study`):
which variant is best per dataset and family, and how each harmonic variant fares against its ReLU twin."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from harmonic.analysis.report import plural
from harmonic.analysis.study import FAMILIES

__all__ = ["findings", "same_settings_note"]


def _pm(row: pd.Series) -> str:
    return f"{row['test_acc']} % ({plural(row['seeds'], 'seed')}, {plural(row['epochs'], 'epoch')})"


def _target_verdict(best: pd.Series, rows: pd.DataFrame) -> str:
    """Whether ``best`` meets the target, which asks for both the accuracy and parity with the best
    ReLU variant of the same width and budget (mean at or above its mean), on more than one seed."""
    target = f"{best['target']:g} %"
    if best["seeds"] < 2:
        return (f"its mean {'is at or above' if best['meets_target'] else 'is below'} {target}, but from one seed: "
                "no verdict on the target")
    if not best["meets_target"]:
        return f"it misses the {target} target"
    relu = rows.set_index("variant")
    if not isinstance(best["relu_baseline"], str) or best["relu_baseline"] not in relu.index:
        return f"it reaches {target}, but no ReLU baseline of its width and budget is recorded: parity unknown"
    baseline = relu.loc[best["relu_baseline"]]
    if best["beats_relu"]:
        return (f"it meets the {target} target: accuracy and parity with the best ReLU variant "
                f"`{best['relu_baseline']}` ({baseline['test_acc']} %)")
    return (f"it reaches {target} but misses the target, which also asks for at least the best ReLU variant's "
            f"accuracy: `{best['relu_baseline']}` has {baseline['test_acc']} %")


def _spread_verdict(diff: float, spread: float) -> str:
    if pd.isna(spread):
        return "one seed only: no seed-to-seed spread to compare with"
    if abs(diff) <= spread:
        return f"within the seed-to-seed std ({spread:.2f})"
    return f"larger than the seed-to-seed std ({spread:.2f})"


def findings(
    summary_table: pd.DataFrame,
    comparisons: Sequence[tuple[str, str]] = (("fao-off", "seed-faithful"),),
    reference: str = "seed-faithful",
) -> str:
    """Markdown sentences, computed from a :func:`~harmonic.analysis.study.summary`, saying per dataset
    which variant is best.

    For each dataset: the best harmonic variant and the best ReLU variant (highest mean test
    accuracy), whether the best harmonic one meets the target and beats that baseline; for each
    family of :data:`FAMILIES` with harmonic runs, its best variant against ``reference`` (the
    seed's model); and for each pair ``(a, b)`` in ``comparisons`` (default: the
    frequency-aware optimizer off vs on) the difference of means. Differences are set next to
    the larger seed-to-seed std of the two.
    """
    if summary_table.empty:
        return "No recorded runs: nothing to summarise."
    lines: list[str] = []
    for dataset, rows in summary_table.groupby("dataset", sort=True):
        rows = rows.sort_values("mean", ascending=False)
        harmonic = rows[rows["model"] != "relu"]
        relu = rows[rows["model"] == "relu"]
        lines.append(f"**{dataset}**")
        if not harmonic.empty:
            best = harmonic.iloc[0]
            sentence = f"- Best harmonic variant: `{best['variant']}`, {_pm(best)}"
            if best["meets_target"] is not None:
                sentence += "; " + _target_verdict(best, rows)
            lines.append(sentence + ".")
        if not relu.empty:
            top = relu.iloc[0]
            lines.append(f"- Best ReLU variant: `{top['variant']}`, {_pm(top)}.")
        if not harmonic.empty and not relu.empty:
            beating = harmonic[harmonic["beats_relu"] == True]  # noqa: E712 (None = no baseline)
            baseline_seeds = rows.set_index("variant")["seeds"]
            single = [v for v, n, b in zip(harmonic["variant"], harmonic["seeds"], harmonic["relu_baseline"])
                      if n < 2 or (isinstance(b, str) and baseline_seeds.get(b, 0) < 2)]
            if single:
                lines.append(f"- {plural(len(single), 'harmonic variant')} ran with one seed (or against a "
                             "one-seed baseline): no seed-to-seed spread, so no comparison with ReLU is drawn "
                             "for them.")
                beating = beating[~beating["variant"].isin(single)]
                if beating.empty and len(single) == len(harmonic):
                    beating = None
            if beating is None:
                pass
            elif beating.empty:
                lines.append("- No harmonic variant reaches the best ReLU baseline of its width and budget.")
            else:
                names = ", ".join(f"`{v}` ({d:+.2f})" for v, d in zip(beating["variant"], beating["vs_relu"]))
                lines.append(f"- Harmonic variants at or above the best ReLU baseline of their width and "
                             f"budget (difference of means, points): {names}.")
        by_variant = rows.drop_duplicates("variant").set_index("variant")
        if reference in by_variant.index:
            ref = by_variant.loc[reference]
            for family, _ in FAMILIES:
                members = harmonic[harmonic["family"] == family]
                if members.empty:
                    continue
                top = members.iloc[0]
                diff = top["mean"] - ref["mean"]
                spread = max(top["std"], ref["std"]) if min(top["seeds"], ref["seeds"]) > 1 else float("nan")
                lines.append(f"- {family.capitalize()}: best harmonic variant `{top['variant']}`, "
                             f"{diff:+.2f} points against `{reference}` ({_spread_verdict(diff, spread)}).")
        for a, b in comparisons:
            if a not in by_variant.index or b not in by_variant.index:
                continue
            ra, rb = by_variant.loc[a], by_variant.loc[b]
            diff = ra["mean"] - rb["mean"]
            spread = max(ra["std"], rb["std"]) if min(ra["seeds"], rb["seeds"]) > 1 else float("nan")
            lines.append(f"- `{a}` minus `{b}`: {diff:+.2f} points, {_spread_verdict(diff, spread)}.")
        lines.append("")
    return "\n".join(lines).strip() + "\n"


def same_settings_note(pairs: pd.DataFrame) -> str:
    """One computed sentence per dataset summarising :func:`~harmonic.analysis.study.same_settings`."""
    if pairs.empty:
        return "No harmonic variant has a ReLU variant with identical training settings recorded."
    lines = []
    for dataset, rows in pairs.groupby("dataset", sort=True):
        counts = rows["verdict"].value_counts()
        best = rows.iloc[0]
        lines.append(
            f"- {dataset}: of {plural(len(rows), 'harmonic variant')} with a ReLU twin, "
            f"{counts.get('above', 0)} above it, {counts.get('within std', 0)} within the seed-to-seed std "
            f"and {counts.get('below', 0)} below it; best against its twin: `{best['variant']}` vs "
            f"`{best['relu_variant']}` ({best['difference']:+.2f} points)."
        )
    return "\n".join(lines) + "\n"
