"""How pages are prepared for reading and the small helpers the Harmonic-MLP chapters read numbers through."""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest

from harmonic import pipeline
from harmonic.analysis import report


def _notebook(tmp_path, folder: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("# colab", metadata={"tags": ["colab-setup"]}),
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(f'results_dir = "{folder}/build/r"\nbook_dir = "/tmp/b/book"',
                                  metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("print(results_dir)"),
        nbformat.v4.new_code_cell("shown", metadata={"tags": ["show-input"]}),
    ]
    nb.cells[4].outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{folder}/build/r\n"),
                           nbformat.v4.new_output("display_data", data={
                               "text/html": f"<td>{folder}/data</td><td>/tmp/b/book/x</td>",
                               "image/png": "iVBORw0KGgo/work/main/"})]
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, path)
    return path


def test_prepare_page_removes_parameter_cells_collapses_code_and_drops_machine_paths(tmp_path):
    root = str(pipeline.REPO_ROOT)
    path = _notebook(tmp_path, root)
    pipeline.prepare_page(path, {"/tmp/b/book": "book"})
    cells = nbformat.read(path, as_version=4).cells
    tags = [c.metadata.get("tags", []) for c in cells]
    assert all("remove-cell" in t for t in tags[1:4])
    assert "hide-input" in tags[4] and "hide-input" not in tags[5] and tags[0] == []
    assert cells[3].source == 'results_dir = "build/r"\nbook_dir = "book"'
    stream, html = cells[4].outputs
    assert stream["text"] == "build/r\n"
    assert html["data"]["text/html"] == "<td>data</td><td>book/x</td>"
    assert html["data"]["image/png"] == "iVBORw0KGgo/work/main/"  # images are never rewritten
    pipeline.prepare_page(path, {"/tmp/b/book": "book"})  # idempotent
    assert [c.metadata.get("tags", []) for c in nbformat.read(path, as_version=4).cells] == tags


def test_kernel_config_asks_for_transport_encryption_where_supported():
    zmq = pytest.importorskip("zmq")
    config = pipeline.kernel_config()
    if zmq.has("curve"):
        assert config.KernelManager.transport_encryption == "auto"


@pytest.mark.parametrize("lr, text", [(1e-4, "1e-4"), (3e-4, "3e-4"), (0.001, "1e-3"), (0.01, "1e-2"),
                                      (0.1, "0.1"), (2.5e-5, "2.5e-5")])
def test_format_lr(lr, text):
    assert report.format_lr(lr) == text


def _runs(model: str, accs: dict[int, list[float]]) -> pd.DataFrame:
    rows = [{"run": f"{model}-s{seed}", "seed": seed, "model": model, "epoch": e + 1, "test_acc": a}
            for seed, values in accs.items() for e, a in enumerate(values)]
    return pd.DataFrame(rows)


def test_claim_check_uses_every_seed_and_the_verdict_names_the_baseline():
    runs = pd.concat([_runs("harmonic", {0: [94.0, 95.5], 1: [95.2, 96.0]}),
                      _runs("relu", {0: [96.0, 97.0], 1: [96.5, 97.5]})])
    check = report.claim_check(runs, 95.0).set_index("model")
    assert check.loc["harmonic", "first epoch ≥ 95 % (worst seed)"] == 2
    assert check.loc["harmonic", "first epoch ≥ 95 % (best seed)"] == 1
    assert check.loc["relu", "seeds reaching 95 %"] == 2
    text = report.claim_verdict(check.reset_index(), 95.0)
    assert "The claim holds here" in text and "by epoch 2" in text and "not specific" in text
    assert "NaN" not in report.claim_check(_runs("harmonic", {0: [90.0]}), 95.0).to_string()


def test_glue_without_myst_nb_is_a_no_op(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as on Colab: the package only
    report.glue("key", "value")
    report.glue("shown", "visible text", display=True)
    assert "visible text" in capsys.readouterr().out
