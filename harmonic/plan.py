"""The plan of a profile: which notebook runs with which parameters, and where its runs are.

A profile is a folder ``notebooks/params/<profile>/`` with a ``plan.yaml``::

    results_dir: build/results/quick    # where runs of this profile write (repo-relative)
    runs:
      - notebook: mnist_harmonic_mlp    # notebooks/<notebook>.ipynb
        group: mnist-sweep              # results and executed copies go into this subfolder
        params: [sweep/harmonic.yaml, sweep/relu.yaml]   # parameter files (folder-relative)
        grid: {lr: [0.001, 0.01]}       # optional: each file × each grid point is one run
        defaults: sweep/common.yaml     # optional: parameters every file of this entry starts from
                                        # (or a list of files, later ones overriding earlier ones)
      - notebook: mnist_sweep
        params: [mnist_sweep.yaml]
        page: true                      # executed copy becomes a page: book/notebooks/<notebook>.ipynb

Every run gets the parameters of its file and grid point plus ``results_dir``
(``<results_dir>/<group>``), ``run_name`` (the file's stem and the grid point's suffix), ``profile`` and
``plan`` (``{"profile", "group", "variant", "point"}``: the variant is the parameter file's stem,
recorded in each run's provenance so that a run says what it is); pages also ``book_dir``.

Readers find runs from the plan, not from folder names: :func:`group_dir` (:func:`group_dirs`) is where a
group of a profile writes, :func:`planned_runs` every run folder a profile's plan produces with its variant
(for runs recorded before runs carried ``plan`` in their provenance).

Before anything runs, the whole plan is checked (:func:`load_plan`): only the keys above, each of its
type (``params`` a list of file names, ``grid`` a mapping of parameter -> list of values, ...);
every parameter a name of the notebook's own ``parameters`` cell; the run configuration of the
notebooks that train (:data:`RUN_CONFIGS`) built from them; no two runs writing the same run folder.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from harmonic.paths import BUILD, REPO_ROOT
from harmonic.results import check_run_name, is_plain_name

NOTEBOOKS = REPO_ROOT / "notebooks"
PARAMS = NOTEBOOKS / "params"
#: Parameters the pipeline sets itself; a plan or parameter file must not set them.
PIPELINE_PARAMETERS = ("results_dir", "run_name", "profile", "book_dir", "plan")
#: Keys of a plan file and of each of its ``runs`` entries.
PLAN_KEYS = ("results_dir", "runs")
ENTRY_KEYS = ("notebook", "group", "params", "grid", "defaults", "page")


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


#: What each plan key must be: a check and its description.
_KEY_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "results_dir": (_is_text, "a folder name (text)"),
    "runs": (lambda v: isinstance(v, list) and bool(v), "a non-empty list of run entries"),
    "notebook": (is_plain_name, "a notebook name (a plain name: no '/', '\\' or '..')"),
    "group": (is_plain_name, "a plain folder name (no '/', '\\' or '..')"),
    "params": (lambda v: isinstance(v, list) and all(map(_is_text, v)), "a list of parameter file names"),
    "grid": (lambda v: isinstance(v, dict) and all(_is_text(k) and isinstance(x, list) and x for k, x in v.items()),
             "a mapping of parameter -> list of values"),
    "defaults": (lambda v: _is_text(v) or (isinstance(v, list) and bool(v) and all(map(_is_text, v))),
                 "a parameter file name (text) or a list of them"),
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
    group: str = ""
    variant: str = ""
    point: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> dict[str, Any]:
        """What the run records about itself (its ``plan`` parameter, kept in its provenance)."""
        return {"profile": self.parameters.get("profile"), "group": self.group, "variant": self.variant,
                "point": dict(self.point)}


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


def _read_plan(profile: str) -> tuple[Path, dict[str, Any]]:
    """``profile``'s plan file and its content, its top-level keys checked."""
    plan_path = PARAMS / str(profile) / "plan.yaml"
    if profile not in profiles():
        raise ValueError(f"profile must be one of {profiles()}, got {profile!r} (no {plan_path})")
    plan = _read_yaml(plan_path, f"plan {plan_path}")
    _check_keys(plan, PLAN_KEYS, f"plan {plan_path}", required=list(PLAN_KEYS))
    return plan_path, plan


def load_plan(profile: str, book_dir: Path | None = None) -> list[Job]:
    """The jobs of ``profile`` in execution order, all checked (see :func:`check_job`).

    Raises ValueError naming the plan file, the entry and the key for anything it does not accept
    (an unknown or misspelled key, a value of the wrong type, a missing notebook or parameter file,
    an unknown parameter, two runs writing the same run folder).
    """
    plan_path, plan = _read_plan(profile)
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
        defaults: dict[str, Any] = {}
        listed = entry.get("defaults", [])
        for defaults_file in [listed] if isinstance(listed, str) else listed:
            defaults.update(_read_params(plan_path.parent / defaults_file, f"{where}, defaults"))
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
                try:  # a grid value or a file name must not lead the run, or its executed copy, elsewhere
                    check_run_name(run_name)
                except ValueError as error:
                    raise ValueError(f"{source}: {error}") from None
                if page:
                    output = book_dir / "notebooks" / f"{entry['notebook']}.ipynb"
                else:
                    output = BUILD / "runs" / profile / group / f"{run_name}.ipynb"
                parameters = {**base, **point, "results_dir": str(results_root / group),
                              "run_name": run_name, "profile": profile}
                if page:
                    parameters["book_dir"] = str(book_dir)
                job = Job(notebook, output, parameters, page, source, group, stem, dict(point))
                parameters["plan"] = job.label
                jobs.append(job)
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


# --------------------------------------------------------------------------- readers
def group_dirs(profile: str) -> dict[str, Path]:
    """The folder each group of ``profile``'s plan writes into (``<results_dir>/<group>``), by group."""
    return {job.group: Path(job.parameters["results_dir"]) for job in load_plan(profile)}


def group_dir(profile: str, group: str) -> Path:
    """The folder the runs of ``group`` in ``profile``'s plan write into (:func:`group_dirs`).

    Raises ValueError naming the groups of the plan when it has none called ``group``.
    """
    folders = group_dirs(profile)
    if group not in folders:
        raise ValueError(f"group must be one of {sorted(folders)} (the groups of profile {profile!r}), got {group!r}")
    return folders[group]


def _items(job: Job) -> list[dict[str, Any]]:
    """One mapping per run folder of ``job``: the per-item fields of :data:`RUN_CONFIGS` (e.g. model and
    seed of every run of the MLP notebook), or a single empty mapping for a notebook that records one run."""
    if job.notebook.stem not in RUN_CONFIGS:
        return [{}]
    _, per_item = RUN_CONFIGS[job.notebook.stem]
    values = {k: v for k, v in notebook_parameters(job.notebook).items() if v is not _UNKNOWN} | job.parameters
    lists = [[(target, item) for item in values[parameter]] for parameter, target in per_item.items()]
    return [dict(combination) for combination in itertools.product(*lists)]


def planned_runs(profile: str, group: str | None = None) -> list[dict[str, Any]]:
    """Every run folder ``profile``'s plan produces (of ``group`` only, if given), in plan order.

    Each item: ``folder`` (a Path), ``profile``, ``group``, ``variant``, ``point`` and the per-item
    fields (``model``, ``seed`` for the MLP notebook). The folder of a notebook that records several
    runs is named by :func:`harmonic.experiments.recording.item_run_name`, the one function that
    names them when they are written.
    """
    from harmonic.experiments.recording import item_run_name

    found = []
    for job in load_plan(profile):
        if group is not None and job.group != group:
            continue
        for item in _items(job):
            name = item_run_name(job.parameters["run_name"], **item)
            found.append({"folder": Path(job.parameters["results_dir"]) / name, **job.label, **item})
    return found


def results_root(profile: str) -> Path:
    """The folder ``profile``'s runs write into (its plan's ``results_dir``, resolved)."""
    return (REPO_ROOT / _read_plan(profile)[1]["results_dir"]).resolve()
