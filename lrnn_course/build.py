"""The notebook generator: one text source per lesson -> lesson, exercise and solution notebooks.

Glossary:

==================  ==========================================================================
source              ``sources/NN_name.py`` (jupytext ``py:percent``), the only hand-written copy
lesson              ``lessons/NN_name.ipynb`` (``kernels/KN_name.ipynb`` for kernel lessons):
                    every cell, solutions in place, executed, outputs committed (nbval's reference)
exercise notebook   ``exercises/NN_name.ipynb``: the practice cells, solutions stubbed, no outputs
solution notebook   ``solutions/NN_name.ipynb``: the same cells with the solutions, no outputs
exercise cell       a code cell holding the directive ``#| exercise: 01.sequential_scan``
==================  ==========================================================================

Cell tags in a source: ``lesson`` (only in the lesson), ``practice`` (only in the exercise and
solution notebooks), ``instructor`` (in no notebook: the lesson's talking points and its workshop
minutes, read by ``lrnn_course.instructor``), ``notes`` (in no notebook as a cell: speaker notes,
kept in the lesson as ``slideshow.notes`` of the cell before); untagged cells go everywhere. A source marks its slide
boundaries with cell metadata ``slideshow={"slide_type": "slide"}`` (``"skip"`` for set-up cells),
which the notebooks keep and ``lrnn_course.slides`` turns into a deck. Every notebook opens with a
generated install cell, so that it runs on Colab or Binder where the package is missing. An
exercise cell is replaced by the source of the library function that solves it
(``lrnn_course.checks.EXERCISES[id].solution``), preceded by the imports it needs; in the exercise
notebook the region between the function's ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers
becomes nbgrader's stub, so ``nbgrader generate_assignment`` on a solution notebook gives back the
exercise notebook.

In the lesson, the answer stays out of sight until the learner asks for it: the exercise cell is
tagged ``solution`` and folded (``FOLDED``: JupyterLab shows only its first line, a comment; every
nbconvert export, HTML and slides included, leaves its source out; ``lrnn_course.slides`` drops the
cell), and a generated markdown cell tagged ``try-first`` says where to try the exercise and how to
reveal the answer. Its outputs and the cells after it, which call the function, stay as they are.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import sys
import textwrap
import types
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import runner
from .instructor import MEASURED_TIME, measured_time_phrase
from .notebook_files import DIRECTIVE, SET_UP_SLIDE_TYPE, shipped_notebooks

if TYPE_CHECKING:  # imported where used: `reveal` and `check` need this module, not the notebook packages
    import nbformat

KINDS = ("lesson", "exercise", "solution")
NOTES_TAG = "notes"  # a markdown cell of speaker notes for the slide of the cell before it
SOURCE_TAGS = ("lesson", "practice", "instructor", NOTES_TAG)  # the generator's own tags, dropped from notebooks
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
KERNEL_SPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
# cell metadata a notebook keeps; the rest (jupytext's layout hints) stays in the source
KEPT_CELL_METADATA = ("slideshow", "jupyter", "editable", "deletable")
SOLUTION_TAG = "solution"  # a lesson's exercise cell, which holds the reference solution
TRY_FIRST_TAG = "try-first"  # the markdown line before it
# JupyterLab folds a cell whose metadata says jupyter.source_hidden (and shows the first line of its
# source in its place); nbconvert's templates leave out the source of a cell whose metadata says
# transient.remove_source (what its TagRemovePreprocessor sets), so `jupyter nbconvert --to html`
# needs no option to keep the answer out of a lesson's HTML.
FOLDED = {"jupyter": {"source_hidden": True}, "transient": {"remove_source": True}}


class NotACheckout(FileNotFoundError):
    """The package runs from an installation (a wheel), without the course's ``sources/``."""


def checkout_root() -> Path | None:
    """The checkout this module belongs to, or None when it is installed from a wheel."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "sources").is_dir() else None


def repo_root() -> Path:
    """The checkout this module belongs to (the generator only runs from a source tree)."""
    root = checkout_root()
    if root is None:
        raise NotACheckout(
            f"this lrnn_course is installed in {Path(__file__).resolve().parent}, without the course's sources/: "
            "generating the notebooks needs a clone of the course repository (then `pip install -e .` in it)"
        )
    return root


def lesson_notebooks(names: Iterable[str] = ()) -> list[Path]:
    """The executed lesson and kernel notebooks (or those whose stem starts with one of ``names``).

    A checkout's ``lessons/`` and ``kernels/``; from an installed wheel, the copies it ships
    (``lrnn-course fetch lessons``), so that ``slides`` and ``run`` need no clone.
    """
    root = checkout_root()
    if root is not None:
        return [target.path for target in targets(root, names) if target.kind == "lesson"]
    wanted = tuple(names)
    chosen = [path for path in shipped_notebooks("lessons") if not wanted or path.stem.startswith(wanted)]
    if wanted and not chosen:
        raise FileNotFoundError(f"no lesson shipped with lrnn_course starts with {', '.join(wanted)}")
    return chosen


def output_folder(name: str) -> Path:
    """``build/<name>`` in the checkout, or in the current folder when the package is installed from a wheel."""
    return (checkout_root() or Path.cwd()) / "build" / name


@dataclass(frozen=True)
class Target:
    """Where one notebook of one source goes."""

    source: Path
    kind: str
    path: Path


def targets(root: Path, names: Iterable[str] = ()) -> list[Target]:
    """The three notebooks of every source (or of the sources whose stem starts with one of ``names``)."""
    wanted = tuple(names)
    sources = sorted((root / "sources").glob("[0-9K]*.py"))
    chosen = [s for s in sources if not wanted or s.stem.startswith(wanted)]
    if wanted and not chosen:
        raise FileNotFoundError(f"no source in {root / 'sources'} starts with {', '.join(wanted)}")
    lesson_folder = {True: "kernels", False: "lessons"}
    return [
        Target(
            source,
            kind,
            root
            / (lesson_folder[source.stem.startswith("K")] if kind == "lesson" else kind + "s")
            / f"{source.stem}.ipynb",
        )
        for source in chosen
        for kind in KINDS
    ]


def python_function(fn: object) -> types.FunctionType:
    """``fn`` itself, or the Python function inside a Triton kernel (``@triton.jit`` wraps it as ``.fn``)."""
    inner = getattr(fn, "fn", None)
    return inner if isinstance(inner, types.FunctionType) and not isinstance(fn, types.FunctionType) else fn


def solution_function(exercise_id: str) -> types.FunctionType:
    """The library function that solves ``exercise_id`` (for a Triton kernel, its Python source function)."""
    from .checks import EXERCISES, unknown_exercise_message

    if exercise_id not in EXERCISES:
        raise KeyError(unknown_exercise_message(exercise_id))
    return python_function(EXERCISES[exercise_id].solution)


def function_source(fn: types.FunctionType, kind: str) -> str:
    """The source of ``fn`` as the notebook of ``kind`` shows it: markers dropped, kept, or stubbed."""
    source = textwrap.dedent(inspect.getsource(fn))
    lines = source.splitlines()
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begins) != 1 or len(ends) != 1 or begins[0] > ends[0]:
        raise ValueError(f"{fn.__module__}.{fn.__qualname__} needs exactly one {BEGIN} ... {END} region")
    begin, end = begins[0], ends[0]
    if kind == "lesson":
        kept = lines[:begin] + lines[begin + 1 : end] + lines[end + 1 :]
    elif kind == "solution":
        kept = lines
    else:
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        kept = lines[:begin] + [indent + stub for stub in STUB] + lines[end + 1 :]
    return "\n".join(kept)


def bound_names(code: str) -> set[str]:
    """Names that the top-level statements of ``code`` bind (imports, defs, classes, assignments)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics: they bind nothing we need to know about
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets_ = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for target in targets_ for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def import_lines(fn: types.FunctionType, code: str, already_bound: set[str]) -> list[str]:
    """Import statements for the globals ``code`` (the source of ``fn``) uses that are not yet bound."""
    used = {node.id for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Name)}
    lines = []
    for name in sorted(used - already_bound - {fn.__name__} - set(dir(builtins))):
        if name not in fn.__globals__:
            continue  # a local variable
        value = fn.__globals__[name]
        if isinstance(value, types.ModuleType):
            lines.append(f"import {value.__name__}" if value.__name__ == name else f"import {value.__name__} as {name}")
            continue
        if isinstance(value, (bool, int, float, str)):  # a constant: import it from where the function reads it
            lines.append(f"from {fn.__module__} import {name}")
            continue
        module = getattr(python_function(value), "__module__", None)
        if module is None or getattr(sys.modules.get(module), name, None) is not value:
            raise ValueError(f"{fn.__qualname__} uses {name!r}, which cannot be imported by name into a notebook")
        lines.append(f"from {module} import {name}")
    return sorted(lines, key=lambda line: (line.startswith("from"), line))


def exercise_cell_source(cell_source: str, kind: str, already_bound: set[str]) -> str:
    """Replace the directive of an exercise cell by the imports and the function for ``kind``.

    In the lesson a comment comes first: JupyterLab shows that line in place of the folded cell.
    """
    match = DIRECTIVE.search(cell_source)
    exercise_id = match.group("id")
    fn = solution_function(exercise_id)
    code = function_source(fn, kind)
    imports = import_lines(fn, code, already_bound)
    block = "\n".join(imports) + ("\n\n\n" if imports else "") + code
    if kind == "lesson":
        block = f"# The reference solution of {exercise_id}, folded: click to unfold it, once you have tried\n" + block
    return (cell_source[: match.start()] + block + cell_source[match.end() :]).strip("\n")


def try_first_source(exercise_id: str, practice_notebook: str) -> str:
    """The line a lesson shows before the folded solution of ``exercise_id``."""
    return (
        f"**Try it yourself first:** exercise `{exercise_id}` waits in the practice notebook `{practice_notebook}` "
        f"(`lrnn-course fetch exercises` copies it). The next cell holds the reference solution, folded: "
        f"click it to unfold it, or print it with `lrnn-course reveal {exercise_id}`."
    )


# The first cell of every notebook, with @VERSION@ for the notebook's version. The learner sees it first,
# so its comments say what it does. It never raises: when the course cannot be installed it says what to
# do, and an IPython input transformer (run on each cell's text before it executes) turns every later cell
# into one "not run" line while the course is missing; this cell, known by its first line, still runs, so
# running it again after the fix installs the course without restarting the kernel.
INSTALL_CELL = '''\
# The course's first cell: it makes sure that `lrnn_course` can be imported, and says which version runs.
# Where it is missing (Colab, Binder, a new environment), it installs the first of these that works:
#   1. $LRNN_COURSE_PIP: pip's arguments for the course (a wheel's path, a git URL, a clone's folder);
#   2. a course wheel, lrnn_course-*.whl, beside this notebook or in a wheels/ folder here or one folder
#      up (an instructor builds it with `make wheel`); pip looks there for missing dependencies too;
#   3. the published package lrnn-course==@VERSION@.
# It leaves out the [triton] extra: PyTorch's CUDA build brings Triton (as on Colab), without a GPU only
# the kernel notebooks K1-K4 use it (`pip install triton` there), and an extra that cannot be downloaded
# would stop an offline install from a wheel.
# If none works, this cell says what to do, and each cell after it prints one line instead of running.
import glob
import importlib
import importlib.util
import os
import shlex
import subprocess
import sys

COURSE_VERSION = "@VERSION@"


def pip_install(*arguments):
    """pip, quiet unless it fails (then its last lines), giving up soon where the network does not answer."""
    print("lrnn_course is missing; trying: pip install", *arguments)
    quiet_and_quick = ["--quiet", "--no-color", "--timeout", "10", "--retries", "1"]
    command = [sys.executable, "-m", "pip", "install", *quiet_and_quick, *arguments]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print("    " + "\\n    ".join(done.stderr.strip().splitlines()[-3:]))
    return done.returncode == 0


def unless_installed(lines):
    """IPython passes each cell's lines through this before running them."""
    if importlib.util.find_spec("lrnn_course") or "".join(lines[:1]).startswith("# The course's first cell"):
        return lines
    return ["print('not run: lrnn_course is not installed (see the first cell)')\\n"]


if importlib.util.find_spec("lrnn_course") is None:
    places = ("lrnn_course-*.whl", "wheels/lrnn_course-*.whl", "../wheels/lrnn_course-*.whl")
    wheels = [wheel for place in places for wheel in sorted(glob.glob(place))]
    wheels.sort(key=lambda path: f"-{COURSE_VERSION}-" not in path)  # this notebook's version first
    attempts = [shlex.split(os.environ.get("LRNN_COURSE_PIP", ""))]
    attempts += [[wheel, "--find-links", os.path.dirname(wheel)] for wheel in wheels]
    attempts += [[f"lrnn-course=={COURSE_VERSION}"]]
    for attempt in attempts:
        if attempt and pip_install(*attempt):
            break
    importlib.invalidate_caches()  # so that this running kernel finds what pip has just installed
if importlib.util.find_spec("lrnn_course") is None:
    print(
        f"\\nlrnn_course {COURSE_VERSION} could not be installed, so the cells below will not run. Either\\n"
        f"  - ask your instructor for the course wheel, lrnn_course-{COURSE_VERSION}-py3-none-any.whl, and put it\\n"
        f"    into {os.path.abspath('wheels')} (a folder beside this notebook),\\n"
        f"  - or install the course from a clone of its repository: {sys.executable} -m pip install <the clone>\\n"
        f"  - or start Jupyter with LRNN_COURSE_PIP set to pip's arguments for it (a wheel's path, a git URL),\\n"
        f"then run this cell again."
    )
    transformers = get_ipython().input_transformers_cleanup
    if "unless_installed" not in [getattr(step, "__name__", "") for step in transformers]:
        transformers.append(unless_installed)
else:
    import lrnn_course

    mismatch = ""
    if lrnn_course.__version__ != COURSE_VERSION:
        mismatch = f", but this notebook is from {COURSE_VERSION}: `lrnn-course fetch` gives matching notebooks"
    print(f"lrnn_course {lrnn_course.__version__} is installed{mismatch}")'''


def install_cell_source() -> str:
    """The first cell of every notebook (``INSTALL_CELL``), stamped with this version of the course."""
    from .version import __version__

    if "+unknown" in __version__:
        raise RuntimeError(
            "lrnn_course has no version (install the checkout with `pip install -e .`) to stamp the notebooks"
        )
    return INSTALL_CELL.replace("@VERSION@", __version__)


def source_cells(source: Path) -> list[nbformat.NotebookNode]:
    """The cells of a source, split at its ``# %%`` markers as jupytext reads ``py:percent``."""
    import jupytext

    return jupytext.reads(source.read_text(encoding="utf-8"), fmt="py:percent").cells


def render(source: Path, kind: str) -> nbformat.NotebookNode:
    """The notebook of ``kind`` generated from ``source``, not executed."""
    import nbformat

    excluded_tags = {"instructor", "practice" if kind == "lesson" else "lesson"}
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {
        "kernelspec": dict(KERNEL_SPEC),
        "language_info": {"name": "python"},
        "lrnn_course": {
            "source": f"sources/{source.name}",
            "kind": kind,
            "generated": "edit the source, then run: lrnn-course build",
        },
    }
    # folded: a learner sees its first line (what it does) and opens it only if it has something to say
    folded_set_up = {"slideshow": {"slide_type": SET_UP_SLIDE_TYPE}, "jupyter": {"source_hidden": True}}
    install = nbformat.v4.new_code_cell(install_cell_source(), metadata=folded_set_up)
    install.id = f"{kind}-install"
    notebook.cells.append(install)
    bound: set[str] = set()
    measured_time = measured_time_phrase(source)  # for the SIZE comment: no duration is typed by hand

    def append(new: nbformat.NotebookNode) -> None:
        new.id = f"{kind}-{len(notebook.cells):03d}"
        notebook.cells.append(new)

    for cell in source_cells(source):
        tags = list(cell.metadata.get("tags", []))
        if excluded_tags & set(tags):
            continue
        if NOTES_TAG in tags:  # no notebook shows them as a cell: the lesson's deck reads them from the metadata
            if kind == "lesson":
                slideshow = notebook.cells[-1].metadata.setdefault("slideshow", {})
                slideshow["notes"] = "\n\n".join(filter(None, (slideshow.get("notes"), cell.source)))
            continue
        metadata = {key: value for key, value in cell.metadata.items() if key in KEPT_CELL_METADATA}
        kept_tags = [tag for tag in tags if tag not in SOURCE_TAGS]
        if kept_tags:
            metadata["tags"] = kept_tags
        if cell.cell_type == "code":
            code = cell.source.replace(MEASURED_TIME, measured_time)
            directive = DIRECTIVE.search(code)
            if directive:
                try:
                    code = exercise_cell_source(code, kind, bound)
                except KeyError as unknown:  # an id that no check module registers
                    raise KeyError(
                        f"{source.name}, `#| exercise: {directive.group('id')}`: {unknown.args[0]}"
                    ) from None
                if kind == "lesson":
                    append(
                        nbformat.v4.new_markdown_cell(
                            try_first_source(directive.group("id"), f"{source.stem}.ipynb"),
                            metadata={"tags": [TRY_FIRST_TAG]},
                        )
                    )
                    metadata = {**metadata, **copy.deepcopy(FOLDED), "tags": metadata.get("tags", []) + [SOLUTION_TAG]}
            bound |= bound_names(code)
            append(nbformat.v4.new_code_cell(code, metadata=metadata))
        else:
            append(nbformat.v4.new_markdown_cell(cell.source, metadata=metadata))
    nbformat.validate(notebook)
    return notebook


class LessonFailed(RuntimeError):
    """A cell of a lesson raised, overran or ended its kernel while the lesson was built."""


def execute(notebook: nbformat.NotebookNode, cwd: Path) -> runner.Execution:
    """Run every cell in a fresh kernel, in ``cwd`` (``runner.run_notebook``); raise ``LessonFailed`` if one fails."""
    execution = runner.run_notebook(notebook, cwd)
    if execution.stopped:
        failed = execution.notebook.cells[execution.cells[-1].index] if execution.cells else None
        raise LessonFailed(execution.stopped + ("\n" + runner.traceback_of(failed) if failed else ""))
    return execution


def write(notebook: nbformat.NotebookNode, path: Path) -> None:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")


def inputs_of(notebook: nbformat.NotebookNode) -> list[tuple[str, str, dict]]:
    """What a notebook says, without what running it produced: (type, source, metadata) per cell."""
    return [(cell.cell_type, cell.source, dict(cell.metadata)) for cell in notebook.cells]


def drift(target: Target) -> str | None:
    """Why the committed notebook of ``target`` differs from what the generator makes, or None."""
    import nbformat

    if not target.path.exists():
        return f"{target.path} is missing"
    expected = render(target.source, target.kind)
    committed = nbformat.read(target.path, as_version=4)
    if target.kind != "lesson":
        if target.path.read_text(encoding="utf-8") != nbformat.writes(expected) + "\n":
            return f"{target.path} differs from what {target.source.name} generates"
        return None
    if (
        inputs_of(committed) != inputs_of(expected)
        or committed.metadata.get("lrnn_course") != expected.metadata["lrnn_course"]
    ):
        return f"{target.path} differs from what {target.source.name} generates (cells or metadata)"
    counts = [cell.get("execution_count") for cell in committed.cells if cell.cell_type == "code"]
    if counts != list(range(1, len(counts) + 1)):
        return f"{target.path} was not executed top to bottom in one run (execution counts {counts})"
    return None


def build(names: Iterable[str] = (), check_only: bool = False, execute_lessons: bool = True) -> list[str]:
    """Generate (or, with ``check_only``, compare) the notebooks and ``instructor/``.

    Returns the problems found, or the files written (an executed lesson with its slowest cell).
    """
    root = repo_root()
    report = []
    for target in targets(root, names):
        if check_only:
            problem = drift(target)
            if problem:
                report.append(problem)
            continue
        notebook = render(target.source, target.kind)
        written = str(target.path.relative_to(root))
        if target.kind == "lesson" and execute_lessons:
            execution = execute(notebook, target.path.parent)
            notebook, slowest = execution.notebook, execution.slowest
            if slowest is not None:  # what to make cheaper when a lesson gets slow
                written += f" (slowest: cell {slowest.index}, {slowest.seconds:.1f} s)"
        write(notebook, target.path)
        report.append(written)
    return report + instructor_material(root, check_only)


def instructor_material(root: Path, check_only: bool) -> list[str]:
    """Write (or compare) ``instructor/``'s generated files: the problems found or the files written."""
    from .instructor import instructor_files

    report = []
    for path, text in instructor_files(root).items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        name = str(path.relative_to(root))
        if check_only:
            report.append(f"{name} differs from what the instructor cells of sources/ generate")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            report.append(name)
    return report
