"""The data behind every table and figure (:mod:`harmonic.downloads`): written and linked only in a book build."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from harmonic import downloads, pipeline  # noqa: E402
from harmonic.analysis import report  # noqa: E402
from harmonic.figures.common import save  # noqa: E402


@pytest.fixture
def page(tmp_path, monkeypatch):
    """The environment the pipeline gives a page ``notebooks/x`` of a book in ``tmp_path``; its data folder."""
    environment = downloads.page_environment(tmp_path, tmp_path / "notebooks" / "x.ipynb")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(downloads, "_numbers", type(downloads._numbers)(downloads._numbers.default_factory))
    return tmp_path / "_extra" / "data" / "notebooks" / "x"


def test_a_page_writes_into_the_books_extra_folder_and_links_from_its_own_folder(tmp_path):
    environment = downloads.page_environment(tmp_path, tmp_path / "notebooks" / "table1.ipynb")
    assert environment == {downloads.FOLDER_ENV: str(tmp_path / "_extra" / "data" / "notebooks" / "table1"),
                           downloads.URL_ENV: "../data/notebooks/table1"}
    assert downloads.page_environment(tmp_path, tmp_path / "top.ipynb")[downloads.URL_ENV] == "data/top"


def test_styled_table_writes_its_frame_and_links_it_under_the_table(page):
    frame = pd.DataFrame({("error (%)", "paper"): [1.23456, None], ("error (%)", "here"): ["2.0 (1 run)", "—"]})
    first, second = report.styled(frame), report.styled(frame.head(1), caption="second")
    html = first._repr_html_()
    assert html.index("</table>") < html.index('href="../data/notebooks/x/table-1.csv"')
    assert 'href="../data/notebooks/x/table-2.csv"' in second._repr_html_()
    written = pd.read_csv(page / "table-1.csv")
    assert list(written.columns) == ["error (%) paper", "error (%) here"]  # a grouped header, flattened
    assert written.iloc[0, 0] == 1.23456 and pd.isna(written.iloc[1, 0])  # the numbers, not their rounding
    assert "table-1.csv" in report.details("more", first).data  # collapsed, still linked


def test_outside_a_book_build_nothing_is_written_or_linked(tmp_path, monkeypatch):
    for name in (downloads.FOLDER_ENV, downloads.URL_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    table = report.styled(pd.DataFrame({"a": [1]}))
    assert table.download is None and "companion-download" not in table._repr_html_()
    assert list(tmp_path.iterdir()) == []


def test_a_figure_saves_the_data_it_plots_beside_its_png_and_the_page_links_it(page, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda item: shown.append(item))
    fig, ax = plt.subplots()
    data = pd.DataFrame({"epoch": [1, 2], "test_acc": [90.0, 95.0]})
    ax.plot(data["epoch"], data["test_acc"])
    save(fig, tmp_path / "figures" / "quick-curve.png", data)
    assert pd.read_csv(tmp_path / "figures" / "quick-curve.csv").equals(data)
    assert pd.read_csv(page / "quick-curve.csv").equals(data)
    assert shown[0] is fig and 'href="../data/notebooks/x/quick-curve.csv"' in shown[1].data
    assert not plt.fignum_exists(fig.number)  # closed: the notebook does not show it a second time


def test_prepare_page_removes_machine_paths_from_the_pages_data(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "table-1.csv").write_text(f"run\n{pipeline.REPO_ROOT}/build/results/x\n/tmp/b/book/y\n")
    notebook = tmp_path / "page.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    pipeline.prepare_page(notebook, {"/tmp/b/book": "book"}, folder)
    assert (folder / "table-1.csv").read_text() == "run\nbuild/results/x\nbook/y\n"


def test_figures_mode_runs_the_pages_that_train_nothing_and_keeps_the_others(tmp_path):
    jobs = pipeline.load_plan("quick", tmp_path / "book")
    training = [job for job in jobs if job.page and job.notebook.stem in pipeline.RUN_CONFIGS]
    assert {job.notebook.stem for job in training} == {"mnist_harmonic_mlp", "cifar_wrn"}
    with pytest.raises(ValueError, match="make book"):
        pipeline.figure_jobs(jobs)
    for job in training:  # as a full build leaves them
        job.output.parent.mkdir(parents=True, exist_ok=True)
        job.output.write_text("{}")
    chosen = pipeline.figure_jobs(jobs)
    assert all(job.page for job in chosen)
    assert {job.notebook.stem for job in chosen} == {job.notebook.stem for job in jobs if job.page} - {
        "mnist_harmonic_mlp", "cifar_wrn"}


def test_a_figure_cells_link_moves_to_a_cell_of_its_own_that_myst_nb_renders(tmp_path):
    """myst-nb wraps every output of a cell with figure metadata in the figure: the link would be a second one."""
    notebook = nbformat.v4.new_notebook()
    figure = nbformat.v4.new_code_cell("plot()", metadata={"mystnb": {"figure": {"name": "fig-x", "caption": "X"}}})
    link = nbformat.v4.new_output("display_data", data={"text/html": downloads.link("../data/x.csv", "figure")})
    image = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"})
    figure.outputs = [image, link]
    table = nbformat.v4.new_code_cell("table()")
    table.outputs = [link]  # no figure metadata: the link stays under its table
    notebook.cells = [figure, table]
    path = tmp_path / "page.ipynb"
    nbformat.write(notebook, path)
    pipeline.prepare_page(path)
    cells = nbformat.read(path, as_version=4).cells
    assert [len(cell.outputs) for cell in cells] == [1, 1, 1] and "image/png" in cells[0].outputs[0].data
    assert "x.csv" in cells[1].outputs[0].data["text/html"] and cells[1].source.strip()  # empty cells are skipped
    assert "remove-input" in cells[1].metadata.tags and "mystnb" not in cells[1].metadata
