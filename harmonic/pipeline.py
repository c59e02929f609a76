"""Run the book's notebooks for one profile with papermill, then build the book.

A profile is a folder ``notebooks/params/<profile>/`` with a ``plan.yaml``::

    results_dir: build/results/quick    # where runs of this profile write (repo-relative)
    runs:
      - notebook: mnist_harmonic_mlp    # notebooks/<notebook>.ipynb
        group: mnist-sweep              # results and executed copies go into this subfolder
        params: [sweep/harmonic.yaml, sweep/relu.yaml]   # parameter files (folder-relative)
        grid: {lr: [0.001, 0.01]}       # optional: each file × each grid point is one run
        defaults: sweep/common.yaml     # optional: parameters every file of this entry starts from
      - notebook: mnist_sweep
        params: [mnist_sweep.yaml]
        page: true                      # executed copy becomes a page: book/notebooks/<notebook>.ipynb

Every run gets the parameters of its file and grid point plus ``results_dir``
(``<results_dir>/<group>``), ``run_name`` and ``profile``; pages also ``book_dir``. Executed copies of
non-page runs go to ``build/runs/<profile>/<group>/``; page runs to
``<book>/notebooks/`` (the same relative path as the source, so
Colab launch buttons point at the source notebook). Nothing executed is written next to the sources.

Before anything runs or is deleted, the whole plan is checked: only the keys above, each of its
type (``params`` a list of file names, ``grid`` a mapping of parameter -> list of values, ...);
every parameter a name of the notebook's own ``parameters`` cell; the run configuration of the
notebooks that train (:data:`RUN_CONFIGS`) built from them; no two runs writing the same run
folder. ``--book DIR`` stages a copy of the book there; the pipeline only ever replaces a folder
it staged itself (it holds :data:`STAGED_MARKER`) and never the repository, ``book/`` or a folder
that contains them.

Usage: ``python -m harmonic.pipeline --profile quick [--book book] [--no-build]``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import importlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from harmonic.paths import BUILD, REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
PARAMS = NOTEBOOKS / "params"
#: File that marks a folder as a book staged by :func:`stage_book` (the only kind it replaces).
STAGED_MARKER = ".staged-by-harmonic-pipeline"
#: Parameters the pipeline sets itself; a plan or parameter file must not set them.
PIPELINE_PARAMETERS = ("results_dir", "run_name", "profile", "book_dir")
#: Keys of a plan file and of each of its ``runs`` entries.
PLAN_KEYS = ("results_dir", "runs")
ENTRY_KEYS = ("notebook", "group", "params", "grid", "defaults", "page")


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


#: What each plan key must be: a check and its description.
_KEY_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "results_dir": (_is_text, "a folder name (text)"),
    "runs": (lambda v: isinstance(v, list) and bool(v), "a non-empty list of run entries"),
    "notebook": (_is_text, "a notebook name (text)"),
    "group": (_is_text, "a folder name (text)"),
    "params": (lambda v: isinstance(v, list) and all(map(_is_text, v)), "a list of parameter file names"),
    "grid": (lambda v: isinstance(v, dict) and all(_is_text(k) and isinstance(x, list) and x for k, x in v.items()),
             "a mapping of parameter -> list of values"),
    "defaults": (_is_text, "a parameter file name (text)"),
    "page": (lambda v: isinstance(v, bool), "true or false"),
}


@dataclass
class Job:
    """One papermill execution; ``source`` says where in the plan it comes from (for messages)."""

    notebook: Path
    output: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    page: bool = False
    source: str = ""


def profiles() -> list[str]:
    """Names of the profiles that have a plan."""
    return sorted(p.parent.name for p in PARAMS.glob("*/plan.yaml"))


def _grid_points(grid: dict[str, Sequence[Any]] | None) -> list[dict[str, Any]]:
    if not grid:
        return [{}]
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def point_suffix(point: dict[str, Any]) -> str:
    """Run-name suffix of a grid point: ``{"lr": 0.001, "dataset": "mnist"}`` → ``"-lr0.001-datasetmnist"``."""
    return "".join(f"-{key}{value:g}" if isinstance(value, float) else f"-{key}{value}" for key, value in point.items())


def _check_keys(mapping: Any, expected: Sequence[str], where: str, required: Sequence[str]) -> None:
    """``mapping`` must be a mapping of only the keys ``expected``, each of its type, with ``required``."""
    if not isinstance(mapping, dict):
        raise ValueError(f"{where} must be a mapping of {sorted(expected)}, got {mapping!r}")
    unknown = sorted(set(mapping) - set(expected), key=str)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; accepted: {list(expected)}")
    missing = [key for key in required if key not in mapping]
    if missing:
        raise ValueError(f"{where}: missing key(s) {missing}")
    for key, value in mapping.items():
        check, description = _KEY_TYPES[key]
        if not check(value):
            raise ValueError(f"{where}: {key} must be {description}, got {value!r}")


def _read_yaml(path: Path, what: str) -> Any:
    """A YAML file's content; a ValueError naming ``what`` and the file when it is missing or malformed."""
    if not path.is_file():
        raise ValueError(f"{what}: no file {path}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f"{what}: {path} is not valid YAML ({error})") from None


def _read_params(path: Path, where: str) -> dict[str, Any]:
    """A parameter file: a mapping of parameter names to values (an empty file: none)."""
    values = _read_yaml(path, where)
    if values is None:
        return {}
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise ValueError(f"{where}: {path} must be a mapping of parameter names to values, got {values!r}")
    return values


_UNKNOWN = object()  # the default of a parameter whose value is an expression, not a literal


@functools.lru_cache(maxsize=None)
def _notebook_parameters(notebook: Path, mtime: float) -> dict[str, Any]:
    """:func:`notebook_parameters`, cached per file version (``mtime``)."""
    import papermill

    found = {name: spec["default"] for name, spec in papermill.inspect_notebook(str(notebook)).items()}
    # papermill skips lines it cannot parse (e.g. an "=" in a comment): the cell's assignments, read by Python
    cells = json.loads(notebook.read_text())["cells"]
    for cell in cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for node in ast.parse(source).body:
                if isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        if isinstance(target, ast.Name) and target.id not in found and node.value is not None:
                            found[target.id] = ast.get_source_segment(source, node.value)
    defaults = {}
    for name, text in found.items():
        try:
            defaults[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError):
            defaults[name] = _UNKNOWN  # an expression: known by name only
    return defaults


def notebook_parameters(notebook: str | os.PathLike) -> dict[str, Any]:
    """The parameters of ``notebook``'s ``parameters`` cell (:func:`papermill.inspect_notebook`, and
    the cell's assignments where papermill could not parse a line) with their default values."""
    path = Path(notebook).resolve()
    return _notebook_parameters(path, path.stat().st_mtime)


#: Notebooks that train, by name: the configuration class their parameters build and, for list
#: parameters that make one run per item, the field each item sets (see :func:`check_job`).
RUN_CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "mnist_harmonic_mlp": ("harmonic.experiments.mlp:MLPConfig", {"models": "model", "seeds": "seed"}),
    "cifar_wrn": ("harmonic.experiments.wrn:WRNConfig", {}),
}


def check_job(job: Job) -> None:
    """Check ``job``'s parameters against its notebook before anything runs.

    Every parameter must be a name of the notebook's parameters cell (a ValueError names the
    unknown ones and the accepted ones); for the notebooks of :data:`RUN_CONFIGS` the run
    configuration (the notebook's defaults overridden by the job's parameters) must build, which
    checks types and ranges (e.g. ``epochs`` an integer, ``level`` within the kernel's range).
    """
    accepted = notebook_parameters(job.notebook)
    given = set(job.parameters) - set(PIPELINE_PARAMETERS)
    unknown = sorted(given - set(accepted))
    if unknown:
        raise ValueError(f"{job.source}: unknown parameter(s) {unknown} of notebook {job.notebook.name}; "
                         f"accepted: {sorted(set(accepted) - set(PIPELINE_PARAMETERS))}")
    if job.notebook.stem not in RUN_CONFIGS:
        return
    class_path, per_item = RUN_CONFIGS[job.notebook.stem]
    module, class_name = class_path.split(":")
    cls = getattr(importlib.import_module(module), class_name)
    values = {k: v for k, v in accepted.items() if v is not _UNKNOWN} | job.parameters
    names = {f.name for f in dataclasses.fields(cls)}
    base = {k: v for k, v in values.items() if k in names and k not in per_item.values()}
    lists = []
    for parameter, target in per_item.items():
        items = values.get(parameter)
        if not isinstance(items, list) or not items:
            raise ValueError(f"{job.source}: {parameter} must be a non-empty list, got {items!r}")
        lists.append([(target, item) for item in items])
    for combination in itertools.product(*lists):
        try:
            cls(**base, **dict(combination))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{job.source}: {error}") from None


def load_plan(profile: str, book_dir: Path | None = None) -> list[Job]:
    """The jobs of ``profile`` in execution order, all checked (see :func:`check_job`).

    Raises ValueError naming the plan file, the entry and the key for anything it does not accept
    (an unknown or misspelled key, a value of the wrong type, a missing notebook or parameter file,
    an unknown parameter, two runs writing the same run folder).
    """
    plan_path = PARAMS / profile / "plan.yaml"
    if not plan_path.exists():
        raise ValueError(f"profile must be one of {profiles()}, got {profile!r} (no {plan_path})")
    plan = _read_yaml(plan_path, f"plan {plan_path}")
    _check_keys(plan, PLAN_KEYS, f"plan {plan_path}", required=list(PLAN_KEYS))
    results_root = (REPO_ROOT / plan["results_dir"]).resolve()
    book_dir = (book_dir or REPO_ROOT / "book").resolve()
    jobs: list[Job] = []
    for index, entry in enumerate(plan["runs"]):
        where = f"plan {plan_path}, runs[{index}]"
        if isinstance(entry, dict) and isinstance(entry.get("notebook"), str):
            where += f" (notebook {entry['notebook']})"
        _check_keys(entry, ENTRY_KEYS, where, required=["notebook"])
        notebook = NOTEBOOKS / f"{entry['notebook']}.ipynb"
        if not notebook.exists():
            raise ValueError(f"{where}: notebook {notebook} does not exist")
        group = entry.get("group", entry["notebook"])
        page = entry.get("page", False)
        defaults = {}
        if "defaults" in entry:
            defaults = _read_params(plan_path.parent / entry["defaults"], f"{where}, defaults")
        for params_file in entry.get("params", [None]):
            base: dict[str, Any] = dict(defaults)
            stem = entry["notebook"]
            if params_file is not None:
                path = plan_path.parent / params_file
                base.update(_read_params(path, f"{where}, params"))
                stem = path.stem
            for point in _grid_points(entry.get("grid")):
                source = ", ".join([where] + ([params_file] if params_file else [])
                                   + ([f"grid point {point}"] if point else []))
                reserved = sorted(set(base) & set(PIPELINE_PARAMETERS)) + sorted(set(point) & set(PIPELINE_PARAMETERS))
                if reserved:
                    raise ValueError(f"{source}: {reserved} are set by the pipeline, not by a plan or parameter file")
                run_name = stem + point_suffix(point)
                if page:
                    output = book_dir / "notebooks" / f"{entry['notebook']}.ipynb"
                else:
                    output = BUILD / "runs" / profile / group / f"{run_name}.ipynb"
                parameters = {**base, **point, "results_dir": str(results_root / group),
                              "run_name": run_name, "profile": profile}
                if page:
                    parameters["book_dir"] = str(book_dir)
                jobs.append(Job(notebook, output, parameters, page, source))
    _check_distinct(jobs)
    for job in jobs:
        check_job(job)
    return jobs


def _check_distinct(jobs: Sequence[Job]) -> None:
    """No two jobs may write the same run folder or the same executed copy."""
    seen: dict[Any, Job] = {}
    for job in jobs:
        for key, what in (((job.parameters["results_dir"], job.parameters["run_name"]), "run folder"),
                          (job.output, "executed copy")):
            other = seen.setdefault(key, job)
            if other is not job:
                target = Path(key[0]) / key[1] if what == "run folder" else key
                raise ValueError(f"{other.source} and {job.source} write the same {what} {target}: "
                                 "rename one of the parameter files, or give it another group")


def select_jobs(jobs: Sequence[Job], only: Sequence[str]) -> list[Job]:
    """The jobs whose run name contains any of the texts in ``only`` (plan order kept).

    Raises ValueError naming the texts of ``only`` that match no job.
    """
    unmatched = [text for text in only if not any(text in job.parameters["run_name"] for job in jobs)]
    if unmatched:
        raise ValueError(f"--only {unmatched!r} matches no run")
    return [job for job in jobs if any(text in job.parameters["run_name"] for text in only)]


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
    parameter" notes (the pipeline gives every notebook ``results_dir``, ``run_name`` and, for pages,
    ``book_dir``, which some do not declare) are kept out of the build's output.
    """
    import logging

    import papermill

    job.output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    papermill_log = logging.getLogger("papermill")
    level = papermill_log.level
    papermill_log.setLevel(logging.ERROR)
    try:
        papermill.execute_notebook(
            str(job.notebook), str(job.output), parameters=job.parameters,
            kernel_name=kernel, cwd=str(REPO_ROOT), progress_bar=False, config=kernel_config(),
            extra_arguments=KERNEL_ARGUMENTS,
        )
    finally:
        papermill_log.setLevel(level)
    if job.page:
        prepare_page(job.output, {job.parameters.get("book_dir") or "": "book"})
    return time.perf_counter() - started


#: Cells a page never shows (they stay in the notebook for papermill and Colab).
REMOVED_CELLS = frozenset({"parameters", "injected-parameters", "colab-setup"})

#: Tags by which a cell already says how it is shown; such cells keep their choice.
SHOWN_AS = frozenset({"remove-cell", "remove_cell", "remove-input", "remove_input", "hide-cell", "hide_cell",
                      "hide-input", "hide_input", "show-input"})


def prepare_page(path: str | Path, folders: dict[str, str] | None = None) -> None:
    """Make an executed notebook read as a page of the book (rewrites ``path`` in place).

    - the ``parameters``, papermill's ``injected-parameters`` and the ``colab-setup`` cells get
      ``remove-cell`` (the page does not show them; the notebook keeps them);
    - every other code cell gets ``hide-input`` (its source one click away) unless it carries one of
      :data:`SHOWN_AS` (``show-input`` keeps a cell open);
    - absolute paths of this machine are made relative in every output and in the injected
      parameters: each folder of ``folders`` becomes its value, then the repository root
      becomes a repository-relative path.
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


def papermill_error() -> type[Exception]:
    """papermill's exception for a failing cell (papermill is imported only when notebooks run)."""
    from papermill.exceptions import PapermillExecutionError

    return PapermillExecutionError


def build_book(book_dir: Path, warnings_as_errors: bool = True) -> None:
    """``jupyter-book build`` (1.x) of ``book_dir`` into ``book_dir/_build/html``.

    Its output (a banner and a closing box even with ``--quiet``) is shown only when the build fails:
    then all of it, warnings included, and ``CalledProcessError`` is raised.
    """
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


def stage_book(destination: Path) -> Path:
    """Copy the book's sources (not its build) to ``destination`` and return it.

    The folder is checked first (:func:`check_staging_target`); an earlier staged copy there is
    replaced, and the new one gets :data:`STAGED_MARKER`.
    """
    destination = check_staging_target(destination)
    source = REPO_ROOT / "book"
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("_build", "notebooks"))
    (destination / STAGED_MARKER).write_text(
        f"A copy of {source} staged by python -m harmonic.pipeline, which may delete and rewrite this folder.\n")
    return destination


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick", help=f"one of {profiles()}")
    parser.add_argument("--book", type=Path, default=None,
                        help="build a copy of the book there instead of in book/ (tests use this)")
    parser.add_argument("--no-build", action="store_true", help="execute notebooks only")
    parser.add_argument("--only", action="append", default=None, metavar="TEXT",
                        help="run only jobs whose run name contains this text (repeat for several)")
    parser.add_argument("--kernel", default="python3")
    args = parser.parse_args(argv)

    book_dir = args.book.resolve() if args.book else REPO_ROOT / "book"
    try:  # everything is checked before anything runs or is deleted
        jobs = load_plan(args.profile, book_dir)
        if args.only:
            jobs = select_jobs(jobs, args.only)
        if args.book:
            check_staging_target(book_dir)
    except ValueError as error:
        print(f"profile {args.profile}: {error}", file=sys.stderr)
        return 2
    if args.book:
        stage_book(book_dir)
    total = time.perf_counter()
    for number, job in enumerate(jobs, 1):
        try:
            seconds = execute(job, args.kernel)
        except papermill_error() as error:
            print(f"{job.notebook.name} ({job.parameters['run_name']}) stopped: {error.ename}: {error.evalue}\n"
                  f"The executed copy, with the full traceback, is {job.output}", file=sys.stderr)
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
