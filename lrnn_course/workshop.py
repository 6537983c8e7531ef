"""Workshop commands: fetch the exercise (or lesson) notebooks, show a learner's progress, reveal a solution.

Glossary (code name -> meaning; plumbing, no paper symbol):

=================  ========================================================================
``kind``           ``"exercises"`` (stubs to complete), ``"solutions"`` (the same notebooks, solved)
                   or ``"lessons"`` (the executed lesson and kernel notebooks, answers folded)
shipped notebook   one packaged with this version of lrnn_course, in ``lrnn_course/notebooks/``
                   (in a checkout: links to the generated ``exercises/``, ``solutions/``,
                   ``lessons/`` and ``kernels/``)
``NO_REVEAL_ENV``  set it (1, yes; not 0, false, no, off) and ``reveal`` and ``fetch solutions`` refuse
``Progress``       one exercise of one notebook: the rows of its check, or why it could not run
=================  ========================================================================

``progress`` runs a learner's notebook as Jupyter would, cell by cell in order in a fresh kernel
(``runner.run_notebook``, the runner of ``build`` and ``run`` too), with each ``check(...)`` call
replaced by a quiet check whose result comes back as a cell output. A cell that raises is reported
on the exercises checked after it, never crashes the table.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import pickle
import re
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .checker import DEFAULT_TIMEOUT_S, FAIL_MARK, PASS_MARK, CheckResult, first_line
from .notebook_files import SHIPPED_FOLDERS, shipped_notebooks

KINDS = tuple(SHIPPED_FOLDERS)
NO_REVEAL_ENV = "LRNN_COURSE_NO_REVEAL"
CHECK_CALL = re.compile(r"""^check\(\s*["']([\w.]+)["']\s*,\s*(\w+)""", re.MULTILINE)
GREEN, RED, RESET = "\033[32m", "\033[31m", "\033[0m"


class RevealDisabled(RuntimeError):
    """The instructor has disabled solutions (``LRNN_COURSE_NO_REVEAL`` is set)."""


SWITCHED_OFF = ("", "0", "false", "no", "off")
"""Values of ``LRNN_COURSE_NO_REVEAL`` that leave solutions available (any case, spaces ignored)."""


def require_reveal_allowed() -> None:
    value = os.environ.get(NO_REVEAL_ENV, "")
    if value.strip().lower() not in SWITCHED_OFF:
        raise RevealDisabled(f"solutions are disabled in this workshop ({NO_REVEAL_ENV}={value}); ask your instructor")


def fetch(kind: str, target: Path, force: bool = False) -> list[tuple[str, str]]:
    """Copy the shipped notebooks of ``kind`` into ``target``; ``[(file name, what happened)]``.

    A file already there that differs from the shipped one is the learner's work: it is kept
    unless ``force``, which first copies it to a free ``<name>.bak`` (``.bak2``, ... when taken), so
    no edit is lost. ``fetch("solutions", ...)`` writes the same file names as the exercises;
    ``fetch("lessons", ...)`` the lesson and kernel notebooks side by side.
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
            backup = free_backup_name(destination)
            backup.write_bytes(destination.read_bytes())
            action = f"overwritten (--force); your version is in {backup.name}"
        else:
            report.append(
                (source.name, "kept: it differs from the shipped notebook (your edits?); --force replaces it")
            )
            continue
        destination.write_bytes(shipped)
        report.append((source.name, action))
    return report


def free_backup_name(path: Path) -> Path:
    """``<name>.bak``, or ``<name>.bak2``, ``.bak3``, ... : the first that does not exist yet."""
    candidates = (path.with_name(f"{path.name}.bak{'' if n == 1 else n}") for n in itertools.count(1))
    return next(candidate for candidate in candidates if not candidate.exists())


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
        failure = self.result.diagnosis
        return f"{self.result.n_passed}/{len(self.result.rows)} checks; look at {failure.name}: {failure.message}"


def _code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def exercises_of(cells: list[str]) -> list[tuple[str, str]]:
    """(exercise id, function name) of every ``check(...)`` call in a notebook's code cells, in order."""
    return [call for source in cells for call in CHECK_CALL.findall(source)]


def notebook_progress(
    notebook: Path, timeout: float = DEFAULT_TIMEOUT_S, on_start: Callable[[str, str], None] | None = None
) -> list[Progress]:
    """Run the notebook's code cells in a fresh kernel (``runner.run_notebook``), a quiet check for each ``check(...)``.

    A cell may run ``timeout`` seconds; each check runs in a child process of the kernel stopped
    after ``timeout`` seconds (``isolation.run_isolated``) and hands its result back as an output
    (``report_check``). A cell that raises is reported on the exercises checked after it.
    ``on_start(notebook name, exercise)`` is called before each check.
    """
    import nbformat

    from . import runner

    cells, checked = [], {}  # checked: index of a generated check cell -> (exercise, function name)
    learner_cell = {}  # index of a learner's cell -> its number among the notebook's code cells
    for number, source in enumerate(_code_cells(notebook), start=1):
        calls = CHECK_CALL.findall(source)
        for exercise, name in calls:
            checked[len(cells)] = (exercise, name)
            cells.append(nbformat.v4.new_code_cell(check_cell_source(exercise, name, timeout)))
        if not calls:
            learner_cell[len(cells)] = number
            cells.append(nbformat.v4.new_code_cell(source))

    def before(index: int, cell) -> None:
        if index in checked and on_start is not None:
            on_start(notebook.name, checked[index][0])

    execution = runner.run_notebook(
        nbformat.v4.new_notebook(cells=cells),
        notebook.parent,
        limit_s=lambda cell: timeout + CHECK_GRACE_S if cell.source.startswith(CHECK_CELL_START) else timeout,
        keep_going=True,
        before_cell=before,
    )
    failures, progress = [], []
    ran = {cell.index: cell for cell in execution.cells}
    for index in range(len(cells)):
        if index in learner_cell and index in ran and ran[index].error:
            failures.append(f"code cell {learner_cell[index]} {said(ran[index].error)}")
        if index not in checked:
            continue
        exercise, name = checked[index]
        result = reported_check(execution.notebook.cells[index])
        if result is not None:
            progress.append(Progress(notebook.name, exercise, result=result))
            continue
        if index not in ran:
            problem = f"not checked: {execution.stopped}"
        elif ran[index].error:
            problem = f"the check {said(ran[index].error)}"
        else:
            problem = failures[-1] if failures else f"the notebook defines no function {name}"
        progress.append(Progress(notebook.name, exercise, problem=problem))
    return progress


CHECK_CELL_START = "from lrnn_course.workshop import report_check"
CHECK_GRACE_S = 30  # a check cell's limit beyond the check's own: forking the kernel, reporting red rows
RESULT_MIME = "application/x.lrnn-course.check-result"  # a check's CheckResult, pickled, in base64


def check_cell_source(exercise: str, name: str, timeout: float) -> str:
    """The cell that ``notebook_progress`` runs in place of ``check(exercise, name)``."""
    return f"{CHECK_CELL_START}\n\nreport_check({exercise!r}, globals().get({name!r}), {timeout!r})"


def report_check(exercise: str, fn: Callable | None, timeout: float) -> None:
    """In a kernel that ``notebook_progress`` runs: check ``fn`` in a child process, display the result for it."""
    from IPython.display import display

    from .isolation import run_isolated

    if fn is not None:
        result = run_isolated(exercise, fn, timeout)
        display({RESULT_MIME: base64.b64encode(pickle.dumps(result)).decode("ascii")}, raw=True)


def reported_check(cell) -> CheckResult | None:
    """The ``CheckResult`` a ``report_check`` cell displayed, or None when it displayed none."""
    for output in cell.get("outputs", []):
        if RESULT_MIME in output.get("data", {}):
            return pickle.loads(base64.b64decode(output["data"][RESULT_MIME]))
    return None


def said(error: str) -> str:
    """What a cell did, from ``runner.CellRun.error``: "raised NameError: …", or "called sys.exit(0)"."""
    name, _, value = error.partition(": ")
    return f"called sys.exit({value})" if name == "SystemExit" else f"raised {error}"


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``TimeoutError`` in the block after ``seconds``; no limit outside the main thread, where SIGALRM cannot
    reach."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signal_number: int, frame) -> None:
        raise TimeoutError(f"did not finish within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def folder_progress(
    folder: Path, timeout: float = DEFAULT_TIMEOUT_S, on_start: Callable[[str, str, int, int], None] | None = None
) -> list[Progress]:
    """``notebook_progress`` of every exercise notebook ``fetch`` puts in ``folder``.

    A notebook that is missing or cannot be read (not JSON, truncated) gives a row per exercise of
    the shipped notebook saying so, by file name; the other notebooks are checked as usual.
    ``on_start(notebook name, exercise, index, total)`` is called before each check.

    Raises:
        FileNotFoundError: ``folder`` is missing, is a file, or holds none of the exercise notebooks.
    """
    fetch_them = f"`lrnn-course fetch exercises {folder}`"
    if not folder.exists():
        raise FileNotFoundError(f"no such folder: {folder}; {fetch_them} makes it, with the exercise notebooks")
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is a file: give the folder that holds your exercise notebooks")
    shipped = shipped_notebooks("exercises")
    present = [path for path in shipped if (folder / path.name).exists()]
    if not present:
        raise FileNotFoundError(f"no exercise notebooks in {folder}: run {fetch_them} first")
    planned = {path.name: exercises_of(_code_cells(path)) for path in shipped}
    total, started = sum(len(planned[path.name]) for path in present), []

    def announce(notebook: str, exercise: str) -> None:
        started.append(exercise)
        if on_start is not None:
            on_start(notebook, exercise, len(started), total)

    progress = []
    for path in shipped:
        mine = folder / path.name
        if not mine.exists():
            problem = (
                f"{mine} is missing: `lrnn-course fetch exercises {folder}` copies it back (your other files are kept)"
            )
        else:
            try:
                progress += notebook_progress(mine, timeout, announce)
                continue
            except (OSError, ValueError, KeyError, TypeError) as error:  # not JSON, truncated, not a notebook
                problem = (
                    f"{mine} could not be read ({type(error).__name__}: {first_line(error)}); "
                    "restore it from a backup or fetch it again"
                )
        progress += [Progress(path.name, exercise, problem=problem) for exercise, _ in planned[path.name]]
    return progress


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
