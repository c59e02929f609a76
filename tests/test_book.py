"""Profiles, papermill runs of every notebook (smoke profile) and the book build with warnings as errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from harmonic import pipeline, plan


def _toc_notebooks() -> set[str]:
    toc = yaml.safe_load((pipeline.REPO_ROOT / "book" / "_toc.yml").read_text())
    files = [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    return {Path(f).name for f in files if f.startswith("notebooks/")}


@pytest.mark.parametrize("profile", ["smoke", "quick"])
def test_the_book_profiles_execute_exactly_the_pages_of_the_table_of_contents(profile):
    pages = {job.output.stem for job in pipeline.load_plan(profile) if job.page}
    assert pages == _toc_notebooks()


def test_no_profile_writes_a_page_the_book_does_not_list():
    toc = _toc_notebooks()
    for profile in pipeline.profiles():
        pages = {job.output.stem for job in pipeline.load_plan(profile) if job.page}
        assert pages <= toc, f"{profile}: {sorted(pages - toc)}"


def test_grid_expands_each_parameter_file():
    jobs = [j for j in pipeline.load_plan("quick") if "mnist-sweep" in j.parameters["results_dir"]]
    assert len(jobs) == 3 * 5
    names = {j.parameters["run_name"] for j in jobs}
    assert "hidden32x16-batch128-lr0.0001" in names
    assert {j.parameters["lr"] for j in jobs} == {1e-4, 3e-4, 1e-3, 3e-3, 1e-2}


def test_only_matching_nothing_is_an_error(capsys):
    assert pipeline.main(["--profile", "smoke", "--only", "no-such-run", "--no-build"]) == 2
    assert "matches no run" in capsys.readouterr().err


def test_only_selects_the_union_of_several_texts_in_plan_order():
    jobs = pipeline.load_plan("study")
    chosen = pipeline.select_jobs(jobs, ["relu-datasetmnist", "seed-faithful-"])
    assert [j.parameters["run_name"] for j in chosen] == [
        "seed-faithful-datasetmnist", "seed-faithful-datasetfashion-mnist", "relu-datasetmnist"]
    with pytest.raises(ValueError, match="no-such-run"):
        pipeline.select_jobs(jobs, ["relu-", "no-such-run"])


def test_unknown_profile_is_named():
    with pytest.raises(ValueError, match=r"profile must be one of \[.*'quick'.*\], got 'fast'"):
        pipeline.load_plan("fast")


def test_source_notebooks_have_parameters_and_no_outputs():
    for path in sorted(pipeline.NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        tags = [c.get("metadata", {}).get("tags", []) for c in nb["cells"]]
        assert sum("parameters" in t for t in tags) == 1, path.name
        assert not any(c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), path.name


def test_missing_data_stops_with_one_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARMONIC_DATA", str(tmp_path / "nothing-here"))
    monkeypatch.setattr(plan, "BUILD", tmp_path / "build")
    code = pipeline.main(["--profile", "smoke", "--book", str(tmp_path / "book"), "--only", "batch64-lr0.01"])
    err = capsys.readouterr().err
    assert code == 1
    assert "DataUnavailableError" in err and "train-images-idx3-ubyte" in err and "HARMONIC_DATA" in err
    assert "Traceback" not in err


def test_book_pages_show_this_builds_results(smoke_book):
    page = (smoke_book / "notebooks" / "mnist_harmonic_mlp.html").read_text()
    assert "test_acc" in page and "<table" in page
    assert re.search(r'<img[^>]+src="[^"]+\.png"', page), "training curves missing"
    sweep = (smoke_book / "notebooks" / "mnist_sweep.html").read_text()
    assert "hidden 32×16, batch 128" in sweep and re.search(r'<img[^>]+\.png', sweep)
    status = (smoke_book / "notebooks" / "status.html").read_text()
    assert "mnist_harmonic_mlp.ipynb" in status and "hidden512x256-batch64-lr0.01.ipynb" in status
    assert "cifar_wrn.ipynb" in status and "imagenet_resnet50.ipynb" in status


def _images(page: str) -> int:
    return len(re.findall(r'<img[^>]+src="[^"]*_images/[^"]+\.png"', page))  # figures, not the Colab logo


def test_harmonic_network_chapters(smoke_book):
    pages = {name: (smoke_book / "notebooks" / f"{name}.html").read_text()
             for name in ("dct_filter_bank", "cifar_wrn", "table1", "imagenet_resnet50")}
    assert _images(pages["dct_filter_bank"]) == 3  # Figure 2: the 3x3 and the 7x7 bank; Figure 1
    assert "filters kept" in pages["dct_filter_bank"]
    assert _images(pages["cifar_wrn"]) == 2  # training curves + Figure 3
    # Table 1: every reported row with our parameter count, and Figure 4
    assert "Parameter counts: 10 of the 10 WRN rows equal the paper" in pages["table1"]
    assert pages["table1"].count("not run here") >= 18 and "NaN" not in pages["table1"]
    assert pages["table1"].count("Harm-WRN-28-10") >= 4 and _images(pages["table1"]) == 1
    assert "progressive" in pages["table1"]
    # Table 2 and the conversion experiment
    page = pages["imagenet_resnet50"]
    assert "Harm-ResNet-50, progr. λ" in page and "full basis" in page and "random weights" in page
    assert "ScatResNet-50" in page and "converted + finetuned" in page
    assert "harm_resnet101-62e185b1.pth" in page and "later results, not Table 2" in page


def test_no_table_cell_shows_raw_float_digits(smoke_book):
    # a Styler.format(dict) call without subset resets the other columns to pandas' six digits (10.260000)
    for page in sorted((smoke_book / "notebooks").glob("*.html")):
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", page.read_text())
        raw = [c for c in cells if re.fullmatch(r"\s*-?\d+\.\d{6}\s*", c)]
        assert not raw, f"{page.name}: {raw[:3]}"


def test_book_math_is_served_locally(smoke_book):
    intro = (smoke_book / "intro.html").read_text()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', intro)
    mathjax = [s for s in scripts if "mathjax" in s.lower() or "tex-" in s]
    assert mathjax and all(not s.startswith(("http:", "https:", "//")) for s in mathjax), mathjax
    assert (smoke_book / "_static" / "mathjax" / "tex-svg.js").exists()
    assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], "a script loads from the network"


def test_harmonic_mlp_chapters_state_what_their_sources_say(smoke_book):
    """The MLP chapters and the status page (issue: statements true to their sources, tables and figures for reading)."""
    pages = {name: (smoke_book / "notebooks" / f"{name}.html").read_text()
             for name in ("mnist_harmonic_mlp", "mnist_sweep", "mlp_study", "status", "dct_filter_bank")}
    mnist = pages["mnist_harmonic_mlp"]
    assert "is a period" in mnist and "harmonic-mlp.py" in mnist  # f_i as a period; settings from the code
    assert re.search(r"pasted-text\">508</span> of the\s+<span class=\"pasted-text\">512</span>", mnist)  # glued
    assert "The claim holds here" in mnist and "not specific to the harmonic activation" in mnist
    assert "band: ± 1 std over seeds" in mnist or "bands ± one standard deviation" in mnist
    sweep = pages["mnist_sweep"]
    assert "lr 0.000" not in sweep and "3e-4" in sweep and "the harmonic model is best at lr" in sweep
    assert "5 epochs each" in sweep  # the committed sweep's budget, from its runs
    study_page = pages["mlp_study"]
    assert "act-sin30z (not SIREN)" in study_page and "combination (two changes)".capitalize() in study_page
    assert "misses the target, which also asks for at least the best ReLU variant" in study_page
    assert "no comparison with ReLU is drawn" in study_page  # the build's one-seed runs
    assert "<details" in pages["status"] and "Every committed run" in pages["status"]
    for name, page in pages.items():
        assert not re.search(r"issue #\d", page), name
        assert "NaN" not in re.sub(r"<(script|style)[\s\S]*?</\1>", "", page), name
