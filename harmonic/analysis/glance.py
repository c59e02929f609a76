"""The landing page's "Results at a glance": each claim of both works, what was reported, what this
project found (read from the recorded result files and from our models), a verdict, and its chapter.

Nothing here is typed in: reported values come from ``data/paper/`` and our values from the
recorded runs (:func:`harmonic.results.load_runs`) or from building the models. Each group of runs
is named by the profile whose plan records it (:data:`GROUPS`); its folder comes from that plan
(:func:`harmonic.plan.group_dirs`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from harmonic.analysis import recipe_sensitivity, report, tables, wrn_study
from harmonic.paths import RECORDED_RESULTS
from harmonic.plan import group_dirs
from harmonic.results import load_runs

__all__ = ["GROUPS", "results_at_a_glance"]

#: The recorded groups the landing page reads: (profile, group) of the plan that records each.
#: ImageNet runs come from the torchrun command (no plan): recorded under ``data/results/imagenet`` (README).
GROUPS: dict[str, tuple[str | None, str]] = {
    "mlp": ("paper", "mnist_harmonic_mlp"),
    "sweep": ("paper", "mnist-sweep"),
    "cifar": ("paper", "cifar-wrn"),
    "imagenet": (None, "imagenet"),
    "wrn-study": ("wrn-study", "wrn-study"),
    "wrn-study-kaiming": ("wrn-study-kaiming", "wrn-study-kaiming"),
}

NEEDS_GPU = "needs CIFAR and a GPU"
NEEDS_IMAGENET = "needs ImageNet and GPUs"


def _link(text: str, page: str) -> str:
    return f'<a href="{page}.html">{text}</a>'


def _folders(results_dir: str | os.PathLike | None) -> dict[str, Path]:
    """The folder of each of :data:`GROUPS`: from its plan, or ``results_dir/<group>`` when given
    (the groups still checked against their plans)."""
    planned = {profile: group_dirs(profile) for profile, _ in GROUPS.values() if profile is not None}  # one read each
    folders = {}
    for key, (profile, group) in GROUPS.items():
        if profile is not None and group not in planned[profile]:
            raise ValueError(f"GROUPS[{key!r}]: profile {profile!r} has no group {group!r}; "
                             f"its groups: {sorted(planned[profile])}")
        if results_dir is not None:
            folders[key] = Path(results_dir) / group
        else:
            folders[key] = planned[profile][group] if profile is not None else RECORDED_RESULTS / group
    return folders


def _mlp_rows(folders: dict[str, Path]) -> list[dict[str, str]]:
    reference = folders["mlp"]
    runs = load_runs(reference) if reference.exists() else pd.DataFrame()
    rows = []
    if runs.empty:
        found, result = "not run yet", "not run yet"
    else:
        check = report.claim_check(runs.assign(model=runs["param_model"]), 95.0).set_index("model")
        worst = "first epoch ≥ 95 % (worst seed)"

        def epochs(model: str) -> str:
            value = check.loc[model, worst]
            return f"epoch {int(value)}" if pd.notna(value) else "not within the run"

        def reached(model: str) -> str:
            return (f"95 % by {epochs(model)} for all {int(check.loc[model, 'seeds'])} seeds, "
                    f"{check.loc[model, 'final test accuracy (%)']} % after {int(check.loc[model, 'epochs'])} epochs")

        found = f"Harmonic MLP: {reached('harmonic')}; the ReLU MLP of the same size: {reached('relu')}"
        harmonic_first = check.loc["harmonic", worst]
        result = ("holds (a ReLU MLP of the same size does the same)"
                  if pd.notna(harmonic_first) and harmonic_first <= 3 else "does not hold")
    rows.append({"work": "Harmonic MLP", "claim": "about 95 % MNIST test accuracy within the first few epochs",
                 "reported": "95 % in the first few epochs (README)", "this project": found,
                 "verdict": result, "chapter": _link("Harmonic MLP on MNIST", "mnist_harmonic_mlp")})
    sweep_dir = folders["sweep"]
    sweep = report.sweep_table(load_runs(sweep_dir)) if sweep_dir.exists() else pd.DataFrame()
    asks = (("a learning-rate sweep", None), ("batch size 64", "batch 64"), ("hidden layers [32, 16]", "hidden 32×16"))
    for ask, text in asks:
        part = sweep[sweep["model"] == "harmonic"] if not sweep.empty else sweep
        if text is not None and not part.empty:
            part = part[part["configuration"].str.contains(text, regex=False)]
        if part.empty:
            found, result = "not run yet", "not run yet"
        else:
            best = part.loc[part["test_acc"].idxmax()]
            found = (f"best {best['test_acc']:.2f} % at lr {report.format_lr(best['lr'])} ({best['configuration']}, "
                     f"{int(best['epochs'])} epochs, {len(part)} runs)")
            result = "done"
        rows.append({"work": "Harmonic MLP", "claim": f"its authors asked for {ask}", "reported": "—",
                     "this project": found, "verdict": result,
                     "chapter": _link("The learning-rate sweep", "mnist_sweep")})
    return rows


def _network_rows(folders: dict[str, Path]) -> list[dict[str, str]]:
    table1, table2 = tables.table1([folders["cifar"]]), tables.table2([folders["imagenet"]])
    rows = []
    ours = pd.concat([table1, table2]).dropna(subset=["params (M) ours"])
    equal = int((ours["params (M) ours"] == ours["params (M) reported"]).sum())
    rows.append({"work": "Harmonic Networks", "claim": "parameter counts of Tables 1 and 2 (λ compression included)",
                 "reported": f"{len(ours)} buildable rows", "this project": f"{equal} of {len(ours)} equal to the reported count (to 0.1 M)",
                 "verdict": "holds" if equal == len(ours) else "does not hold",
                 "chapter": _link("Table 1", "table1")})
    for name, table, runs_column, needs, page in (
            ("Table 1 errors (WRN-28-10 family, CIFAR-10/100)", table1, "cifar10 runs", NEEDS_GPU, "table1"),
            ("Table 2 errors (ResNet-50 family, ImageNet)", table2, "runs", NEEDS_IMAGENET, "imagenet_resnet50")):
        run = int((table[runs_column] > 0).sum())
        rows.append({"work": "Harmonic Networks", "claim": name, "reported": f"{len(table)} rows",
                     "this project": f"{run} rows run" if run else f"not run here: {needs}",
                     "verdict": "—" if not run else "see the chapter", "chapter": _link(name.split(" errors")[0], page)})
    study = wrn_study.load_study(folders["wrn-study"])
    claims = wrn_study.claims_table(study)
    counts = claims["verdict"].value_counts()
    rows.append({"work": "Harmonic Networks",
                 "claim": f"the {len(claims)} comparisons of Section 5 (Table 1, Figures 3–4, conversion)",
                 "reported": "CIFAR / ImageNet", "this project": "at small scale (Fashion-MNIST, WRN-10-1, the authors' "
                 "recipe): "
                 + ", ".join(f"{n} {v}" for v, n in counts.items()),
                 "verdict": "per claim", "chapter": _link("small-scale study", "wrn_study")})
    sensitivity = recipe_sensitivity.sensitivity_table(
        {"authors": study, "kaiming": wrn_study.load_study(folders["wrn-study-kaiming"])})
    flips = int(sensitivity["flips"].sum())
    rows.append({"work": "Harmonic Networks", "claim": "do those verdicts depend on the training recipe?",
                 "reported": "the paper states neither its initial weights nor what its optimizer does at an lr drop",
                 "this project": f"{flips} of {len(sensitivity)} verdicts differ between the authors' recipe and the "
                                 "companion's first one (same rows, seeds and schedule)",
                 "verdict": "per claim", "chapter": _link("what the verdicts depend on", "wrn_study")})
    for claim_id, label in (("conversion-exact", "full-basis conversion is exact"),
                            ("low-frequency", "deeper layers favour low frequencies (Figure 3)"),
                            ("lambda3-comparable", "λ=3 is as accurate as the full basis")):
        row = claims.set_index("claim").loc[claim_id]
        rows.append({"work": "Harmonic Networks", "claim": label, "reported": row["paper"],
                     "this project": row["this study"], "verdict": row["verdict"],
                     "chapter": _link("small-scale study", "wrn_study")})
    return rows


def results_at_a_glance(results_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per claim of both works (columns: work, claim, reported, this project, verdict,
    chapter as an HTML link relative to the book's pages), from the recorded runs: the folders their
    plans name (:data:`GROUPS`), or those groups under ``results_dir`` when given."""
    folders = _folders(results_dir)
    return pd.DataFrame(_mlp_rows(folders) + _network_rows(folders))
