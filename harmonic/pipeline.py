"""Run the book's notebooks for one profile with papermill, then build the book.

What runs is the profile's plan (:mod:`harmonic.plan`: ``notebooks/params/<profile>/plan.yaml``, checked
as a whole before anything runs or is deleted). Executed copies of non-page runs go to
``build/runs/<profile>/<group>/``; page runs to ``<book>/notebooks/`` (the same relative path as the
source, so Colab launch buttons point at the source notebook), then :func:`prepare_page` makes them
read as pages. Nothing executed is written next to the sources. ``--book DIR`` stages a copy of the
book there; the pipeline only ever replaces a folder it staged itself (it holds :data:`STAGED_MARKER`)
and never the repository, ``book/`` or a folder that contains them. Staging writes the marker
first, so a staging killed half-way leaves a folder that the next run replaces. While a notebook
executes, its executed copy is locked (``<copy>.lock``, :mod:`harmonic.locking`): a second pipeline
running the same job is refused, and the runs themselves lock their run folders.

Usage: ``python -m harmonic.pipeline --profile quick [--book book] [--no-build] [--only TEXT] [--figures]``
(``--figures``: only the pages that train nothing, :func:`figure_jobs`; ``make figures``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from harmonic.downloads import DOWNLOAD_CLASS, EXTRA, FOLDER_ENV, page_environment
from harmonic.locking import FolderLockedError, file_lock
from harmonic.paths import REPO_ROOT
from harmonic.plan import (NOTEBOOKS, PARAMS, PIPELINE_PARAMETERS, RUN_CONFIGS, Job, check_job, load_plan,  # noqa: F401
                           notebook_parameters, point_suffix, profiles, select_jobs)

#: File that marks a folder as a book staged by :func:`stage_book` (the only kind it replaces).
STAGED_MARKER = ".staged-by-harmonic-pipeline"


def kernel_config() -> Any:
    """Configuration of the kernels papermill starts: transport encryption where both sides support it.

    ipykernel >= 7.4 warns on every start of a kernel that talks plain TCP ("Kernel is running over
    TCP without encryption"). jupyter_client's ``transport_encryption="auto"`` gives the kernel
    CurveZMQ keys when its kernelspec declares support, which removes the cause of the warning
    rather than its text; where pyzmq lacks Curve or jupyter_client predates the option nothing changes.
    """
    import zmq
    from jupyter_client.manager import KernelManager
    from traitlets.config import Config

    config = Config()
    if zmq.has("curve") and KernelManager.class_traits().get("transport_encryption") is not None:
        config.KernelManager.transport_encryption = "auto"
    return config


#: Arguments of every kernel papermill starts. jupyter_client interrupts a kernel before it shuts it
#: down, and ipykernel logs that interrupt as "ERROR | KeyboardInterrupt caught in kernel" when it lands
#: during a message; the kernel's own log is therefore limited to critical messages. Cells' errors and
#: output are not affected (papermill records them and the pipeline reports a failing cell).
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


def execute(job: Job, kernel: str = "python3") -> float:
    """Run one job with papermill (working directory: the repository root); return seconds.

    Page jobs are then prepared for reading (:func:`prepare_page`). papermill's "Passed unknown
    parameter" notes (the pipeline gives every notebook ``results_dir``, ``run_name``, ``plan`` and, for
    pages, ``book_dir``, which some do not declare) are kept out of the build's output.
    """
    import logging

    import papermill

    job.output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    papermill_log = logging.getLogger("papermill")
    level = papermill_log.level
    papermill_log.setLevel(logging.ERROR)
    book_dir = Path(job.parameters.get("book_dir") or REPO_ROOT / "book")
    environment = page_environment(book_dir, job.output) if job.page else {}
    downloads = Path(environment[FOLDER_ENV]) if environment else None
    if downloads is not None and downloads.exists():
        shutil.rmtree(downloads)  # the data files of the page's previous execution
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)  # the kernel inherits it: tables and figures publish their data
    try:
        papermill.execute_notebook(
            str(job.notebook), str(job.output), parameters=job.parameters,
            kernel_name=kernel, cwd=str(REPO_ROOT), progress_bar=False, config=kernel_config(),
            extra_arguments=KERNEL_ARGUMENTS,
        )
    finally:
        papermill_log.setLevel(level)
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value
    if job.page:
        prepare_page(job.output, {job.parameters.get("book_dir") or "": "book"}, downloads)
    return time.perf_counter() - started


#: Cells a page never shows (they stay in the notebook for papermill and Colab).
REMOVED_CELLS = frozenset({"parameters", "injected-parameters", "colab-setup"})

#: Tags by which a cell already says how it is shown; such cells keep their choice.
SHOWN_AS = frozenset({"remove-cell", "remove_cell", "remove-input", "remove_input", "hide-cell", "hide_cell",
                      "hide-input", "hide_input", "show-input"})


def prepare_page(path: str | Path, folders: dict[str, str] | None = None, downloads: Path | None = None) -> None:
    """Make an executed notebook read as a page of the book (rewrites ``path`` in place).

    - the ``parameters``, papermill's ``injected-parameters`` and the ``colab-setup`` cells get
      ``remove-cell`` (the page does not show them; the notebook keeps them);
    - every other code cell gets ``hide-input`` (its source one click away) unless it carries one of
      :data:`SHOWN_AS` (``show-input`` keeps a cell open);
    - absolute paths of this machine are made relative in every output and in the injected
      parameters: each folder of ``folders`` becomes its value, then the repository root
      becomes a repository-relative path; the same in the page's data files (the CSV files
      in ``downloads``, :mod:`harmonic.downloads`);
    - a cell drawn as a figure (``mystnb.figure`` metadata, which myst-nb applies to every output
      of the cell) gives its data link to a cell of its own right after it (:func:`split_figure_links`).
    """
    import nbformat

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    replacements = sorted({**(folders or {}), str(REPO_ROOT) + "/": "", str(REPO_ROOT): "."}.items(),
                          key=lambda item: -len(item[0]))
    replacements = [(folder, short) for folder, short in replacements if folder]

    def relative(text: str) -> str:
        for folder, short in replacements:
            text = text.replace(folder, short)
        return text

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return relative(value)
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: scrub(item) for key, item in value.items()}
        return value

    split_figure_links(notebook)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        if REMOVED_CELLS & set(tags):
            tags.append("remove-cell")
            if "injected-parameters" in tags:
                cell.source = relative(cell.source)
        elif not SHOWN_AS & set(tags):
            tags.append("hide-input")
        cell.metadata["tags"] = list(dict.fromkeys(tags))
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = scrub(output["text"])
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") or mime.endswith("json"):  # never inside images' base64
                    output["data"][mime] = scrub(value)
    nbformat.write(notebook, path)
    for data in sorted(downloads.glob("*.csv")) if downloads is not None and downloads.is_dir() else []:
        data.write_text(relative(data.read_text(encoding="utf-8")), encoding="utf-8")


def split_figure_links(notebook: Any) -> None:
    """Move the data links (:func:`harmonic.downloads.link`) out of each cell that myst-nb draws as a figure
    into a new cell right after it that shows only them (otherwise the link becomes a second figure with
    the same name and caption)."""
    import nbformat

    cells = []
    for cell in notebook.cells:
        cells.append(cell)
        if cell.cell_type != "code" or "figure" not in cell.metadata.get("mystnb", {}):
            continue
        links = [output for output in cell.get("outputs", [])
                 if DOWNLOAD_CLASS in str(output.get("data", {}).get("text/html", ""))]
        if links:
            cell.outputs = [output for output in cell.outputs if output not in links]
            cells.append(nbformat.v4.new_code_cell("# the data of the figure above (harmonic.downloads)",
                                                   metadata={"tags": ["remove-input"]}))  # myst-nb skips empty cells
            cells[-1].outputs = links
    notebook.cells = cells


def papermill_error() -> type[Exception]:
    """papermill's exception for a failing cell (papermill is imported only when notebooks run)."""
    from papermill.exceptions import PapermillExecutionError

    return PapermillExecutionError


def build_book(book_dir: Path, warnings_as_errors: bool = True) -> None:
    """``jupyter-book build`` (1.x) of ``book_dir`` into ``book_dir/_build/html``.

    Its output (a banner and a closing box even with ``--quiet``) is shown only when the build fails:
    then all of it, warnings included, and ``CalledProcessError`` is raised.
    """
    (Path(book_dir) / EXTRA).mkdir(exist_ok=True)  # html_extra_path (the pages' data files) must exist
    executable = Path(sys.executable).with_name("jupyter-book")
    command = [str(executable) if executable.exists() else "jupyter-book", "build", "--quiet", str(book_dir)]
    if warnings_as_errors:
        command += ["-W", "-n", "--keep-going"]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        print(result.stdout, file=sys.stderr)
        raise subprocess.CalledProcessError(result.returncode, command, output=result.stdout)


def check_staging_target(destination: Path) -> Path:
    """``destination`` (resolved) if :func:`stage_book` may write a copy of the book there.

    Refused (ValueError): the repository, ``book/``, a folder inside ``book/`` or containing
    either, a file, and an existing non-empty folder without :data:`STAGED_MARKER` (one the
    pipeline did not stage itself).
    """
    destination = Path(destination).resolve()
    source = (REPO_ROOT / "book").resolve()
    for protected in (REPO_ROOT.resolve(), source):
        if destination == protected or destination in protected.parents:
            what = "the book sources" if protected == source else "the repository"
            raise ValueError(f"--book {destination} is {what} or a folder containing it: "
                             "choose a new folder for the staged copy")
    if source in destination.parents:
        raise ValueError(f"--book {destination} is inside the book sources {source}: choose a folder outside it")
    if destination.exists():
        if not destination.is_dir():
            raise ValueError(f"--book {destination} is a file, not a folder")
        if any(destination.iterdir()) and not (destination / STAGED_MARKER).is_file():
            raise ValueError(f"--book {destination} is a folder the pipeline did not stage (no {STAGED_MARKER} in "
                             "it), so it is not replaced: choose a new or empty folder, or remove it yourself")
    return destination


#: What a build writes into a staged book (kept by ``--figures``, which re-executes only some pages).
BUILT = ("_build", "notebooks", EXTRA)


def stage_book(destination: Path, keep_built: bool = False) -> Path:
    """Copy the book's sources (not its build) to ``destination`` and return it.

    The folder is checked first (:func:`check_staging_target`); an earlier staged copy there is
    replaced (with ``keep_built``, all but what its build wrote, :data:`BUILT`). The new folder gets
    :data:`STAGED_MARKER` before anything else, and an old copy is emptied with the marker removed last,
    so a staging killed at any point leaves a folder that holds the marker (or none): the next run replaces it.
    """
    destination = check_staging_target(destination)
    source = REPO_ROOT / "book"
    marker = destination / STAGED_MARKER
    if destination.exists():
        for path in destination.iterdir():
            if path != marker and not (keep_built and path.name in BUILT):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    destination.mkdir(parents=True, exist_ok=True)
    marker.write_text(
        f"A copy of {source} staged by python -m harmonic.pipeline, which may delete and rewrite this folder.\n")
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(*BUILT), dirs_exist_ok=True)
    return destination


def figure_jobs(jobs: Sequence[Job]) -> list[Job]:
    """The jobs of ``--figures`` (``make figures``): the pages whose notebook trains nothing (every page but
    those of :data:`RUN_CONFIGS`), which read the committed results and the last build's runs.

    A page that trains keeps its executed copy from the last full build; a ValueError names the ones
    that have none (run ``make book`` first).
    """
    pages = [job for job in jobs if job.page]
    missing = [job.output for job in pages if job.notebook.stem in RUN_CONFIGS and not job.output.is_file()]
    if missing:
        raise ValueError(f"--figures keeps the pages that train from the last full build, and {len(missing)} of "
                         f"them have no executed copy ({', '.join(str(path) for path in missing)}): "
                         "build the book once first (make book)")
    return [job for job in pages if job.notebook.stem not in RUN_CONFIGS]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick", help=f"one of {profiles()}")
    parser.add_argument("--book", type=Path, default=None,
                        help="build a copy of the book there instead of in book/ (tests use this)")
    parser.add_argument("--no-build", action="store_true", help="execute notebooks only")
    parser.add_argument("--only", action="append", default=None, metavar="TEXT",
                        help="run only jobs whose run name contains this text (repeat for several)")
    parser.add_argument("--figures", action="store_true",
                        help="re-execute only the pages that train nothing (tables and figures from the recorded "
                             "results), keep the other pages of the last build, and build the book")
    parser.add_argument("--kernel", default="python3")
    args = parser.parse_args(argv)

    book_dir = args.book.resolve() if args.book else REPO_ROOT / "book"
    try:  # everything is checked before anything runs or is deleted
        jobs = load_plan(args.profile, book_dir)
        if args.only:
            jobs = select_jobs(jobs, args.only)
        if args.figures:
            jobs = figure_jobs(jobs)
        if args.book:
            check_staging_target(book_dir)
    except ValueError as error:
        print(f"profile {args.profile}: {error}", file=sys.stderr)
        return 2
    if args.book:
        stage_book(book_dir, keep_built=args.figures)
    total = time.perf_counter()
    for number, job in enumerate(jobs, 1):
        try:  # two pipelines executing the same job: the second is refused before it writes
            with file_lock(job.output.with_name(job.output.name + ".lock"), str(job.output), "pipeline"):
                seconds = execute(job, args.kernel)
        except papermill_error() as error:
            print(f"{job.notebook.name} ({job.parameters['run_name']}) stopped: {error.ename}: {error.evalue}\n"
                  f"The executed copy, with the full traceback, is {job.output}", file=sys.stderr)
            return 1
        except FolderLockedError as error:
            print(f"{job.notebook.name} ({job.parameters['run_name']}) not run: {error}", file=sys.stderr)
            return 1
        print(f"[{number}/{len(jobs)}] {job.notebook.name} -> {job.output.relative_to(job.output.parents[2])} "
              f"({seconds:.0f} s)", flush=True)
    print(f"{len(jobs)} notebooks executed in {time.perf_counter() - total:.0f} s (profile {args.profile})")
    if not args.no_build:
        build_book(book_dir)
        print(f"book: {book_dir / '_build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
