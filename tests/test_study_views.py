"""The Harmonic-MLP study for reading (:mod:`harmonic.analysis.study_views`)."""

from __future__ import annotations

import pandas as pd

from harmonic.analysis import study
from harmonic.analysis.study_views import findings_text, summary_view


def test_summary_view_gives_no_verdict_from_one_seed():
    table = pd.DataFrame({
        "dataset": "mnist", "variant": ["seed-faithful", "relu"], "family": None, "model": ["harmonic", "relu"],
        "seed": 0, "epochs": 2, "test_acc": [97.0, 96.0], "n_parameters": 10, "hidden_sizes": "512x256",
        "seconds_per_epoch": 1.0, "subset": 5000})
    view = summary_view(study.summary(table))
    assert view.set_index("variant").loc["seed-faithful", "verdict"] == "one seed: no verdict"
    text = findings_text(study.summary(table))
    assert "at or above" not in text and "no comparison with ReLU is drawn" in text
