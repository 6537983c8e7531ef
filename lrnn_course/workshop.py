"""Workshop commands: fetch the exercise notebooks, show a learner's progress, reveal a solution.

Glossary (code name -> meaning; plumbing, no paper symbol):

=================  ========================================================================
``kind``           ``"exercises"`` (stubs to complete) or ``"solutions"`` (the same notebooks, solved)
shipped notebook   one packaged with this version of lrnn_course, in ``lrnn_course/notebooks/``
                   (in a checkout: links to the generated ``exercises/`` and ``solutions/``)
``NO_REVEAL_ENV``  set it to 1 and ``reveal`` and ``fetch solutions`` refuse: an instructor's switch
``Progress``       one exercise of one notebook: the rows of its check, or why it could not run
=================  ========================================================================

``progress`` runs a learner's notebook the way a reader would, cell by cell in order, but in this
process and without the ``check(...)`` cells; then it checks every exercise function the notebook
defines. A cell that raises is reported on the exercises defined after it, never crashes the table.
"""

from __future__ import annotations

import contextlib
import io
import json
import linecache
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .check import FAIL_MARK, PASS_MARK, CheckResult, check_quietly, describe_exception

KINDS = ("exercises", "solutions")
NO_REVEAL_ENV = "LRNN_COURSE_NO_REVEAL"
CHECK_CALL = re.compile(r"""^check\(\s*["']([\w.]+)["']\s*,\s*(\w+)""", re.MULTILINE)
GREEN, RED, RESET = "\033[32m", "\033[31m", "\033[0m"


class RevealDisabled(RuntimeError):
    """The instructor has disabled solutions (``LRNN_COURSE_NO_REVEAL`` is set)."""


def require_reveal_allowed() -> None:
    if os.environ.get(NO_REVEAL_ENV, "") not in ("", "0"):
        raise RevealDisabled(f"solutions are disabled in this workshop ({NO_REVEAL_ENV} is set); ask your instructor")


def shipped_notebooks(kind: str) -> list[Path]:
    """The notebooks of ``kind`` that this version of lrnn_course ships, sorted by lesson."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    folder = Path(str(resources.files("lrnn_course") / "notebooks" / kind))
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no {kind} notebooks in {folder}: in a checkout, run `lrnn-course build` first")
    return notebooks


def fetch(kind: str, target: Path, force: bool = False) -> list[tuple[str, str]]:
    """Copy the shipped notebooks of ``kind`` into ``target``; ``[(file name, what happened)]``.

    A file already there that differs from the shipped one is the learner's work: it is kept
    unless ``force``. ``fetch("solutions", ...)`` writes the same file names as the exercises.
    """
    if kind == "solutions":
        require_reveal_allowed()
    notebooks = shipped_notebooks(kind)
    target.mkdir(parents=True, exist_ok=True)
    report = []
    for source in notebooks:
        destination = target / source.name
        shipped = source.read_bytes()
        if not destination.exists():
            action = "copied"
        elif destination.read_bytes() == shipped:
            report.append((source.name, "already up to date"))
            continue
        elif force:
            action = "overwritten (--force)"
        else:
            report.append((source.name, "kept: it differs from the shipped notebook (your edits?); --force replaces it"))
            continue
        destination.write_bytes(shipped)
        report.append((source.name, action))
    return report


@dataclass
class Progress:
    """One exercise of one notebook: its check's result, or the reason it could not be checked."""

    notebook: str
    exercise: str
    result: CheckResult | None = None
    problem: str = ""

    @property
    def passed(self) -> bool:
        return self.result is not None and self.result.passed

    def summary(self) -> str:
        if self.result is None:
            return self.problem
        if self.passed:
            return f"{self.result.n_passed}/{len(self.result.rows)} checks"
        failure = self.result.first_failure
        return f"{self.result.n_passed}/{len(self.result.rows)} checks; first failure: {failure.name}: {failure.message}"


def _code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def _without_shell_lines(source: str) -> str:
    """Drop IPython's ``%magic`` and ``!shell`` lines, which plain Python cannot run."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def notebook_progress(notebook: Path) -> list[Progress]:
    """Run the notebook's cells except its ``check(...)`` calls, then check each exercise it names."""
    import matplotlib

    matplotlib.use("Agg")  # the cells' figures are not shown
    namespace: dict = {"__name__": "__lrnn_course_progress__"}
    failures: list[str] = []
    exercises: list[tuple[str, str, int]] = []  # (exercise id, function name, failed cells before it)
    for index, source in enumerate(_code_cells(notebook)):
        calls = CHECK_CALL.findall(source)
        if calls:
            exercises += [(exercise, name, len(failures)) for exercise, name in calls]
            continue
        # A file name per cell, in linecache: @triton.jit reads a kernel's source back from there.
        filename = f"<{notebook.name}, code cell {index + 1}>"
        code = _without_shell_lines(source) + "\n"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                exec(compile(code, filename, "exec"), namespace)
        except Exception as error:  # a learner's broken cell: reported on the exercises after it
            failures.append(f"code cell {index + 1} {describe_exception(error)}")
    progress = []
    for exercise, name, failed_before in exercises:
        fn = namespace.get(name)
        if fn is None:
            problem = failures[failed_before - 1] if failed_before else f"the notebook defines no function {name}"
            progress.append(Progress(notebook.name, exercise, problem=problem))
        else:
            progress.append(Progress(notebook.name, exercise, result=check_quietly(exercise, fn)))
    return progress


def folder_progress(folder: Path) -> list[Progress]:
    """``notebook_progress`` of every exercise notebook in ``folder`` (those named like the shipped ones)."""
    names = {path.name for path in shipped_notebooks("exercises")}
    notebooks = sorted(path for path in folder.glob("*.ipynb") if path.name in names)
    if not notebooks:
        raise FileNotFoundError(f"no exercise notebooks in {folder}: run `lrnn-course fetch exercises {folder}` first")
    return [entry for notebook in notebooks for entry in notebook_progress(notebook)]


def progress_table(progress: list[Progress], colour: bool = False) -> str:
    """One block per notebook, one line per exercise, ✓ in green or ✗ in red; a total at the end."""
    lines, notebook = [], None
    width = max(len(entry.exercise) for entry in progress)
    for entry in progress:
        if entry.notebook != notebook:
            notebook = entry.notebook
            lines.append(("\n" if lines else "") + notebook)
        mark = PASS_MARK if entry.passed else FAIL_MARK
        if colour:
            mark = f"{GREEN if entry.passed else RED}{mark}{RESET}"
        lines.append(f"  {mark} {entry.exercise:{width}s}  {entry.summary()}")
    passed = sum(entry.passed for entry in progress)
    lines.append(f"\n{passed} of {len(progress)} exercises pass.")
    return "\n".join(lines)


def reveal(exercise: str) -> str:
    """The reference solution of ``exercise``, as the lesson notebook shows it."""
    require_reveal_allowed()
    from .build import function_source, solution_function

    return function_source(solution_function(exercise), "lesson")
