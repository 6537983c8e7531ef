"""Workshop commands: fetch the exercise (or lesson) notebooks, show a learner's progress, reveal a solution.

Glossary (code name -> meaning; plumbing, no paper symbol):

=================  ========================================================================
``kind``           ``"exercises"`` (stubs to complete), ``"solutions"`` (the same notebooks, solved)
                   or ``"lessons"`` (the executed lesson and kernel notebooks, answers folded)
shipped notebook   one packaged with this version of lrnn_course, in ``lrnn_course/notebooks/``
                   (in a checkout: links to the generated ``exercises/``, ``solutions/``,
                   ``lessons/`` and ``kernels/``)
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
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .check import DEFAULT_TIMEOUT_S, FAIL_MARK, PASS_MARK, CheckResult, describe_exception, exit_call, first_line

# the folders of lrnn_course/notebooks/ that hold each kind (the kernel lessons are lessons too)
SHIPPED_FOLDERS = {"exercises": ("exercises",), "solutions": ("solutions",), "lessons": ("lessons", "kernels")}
KINDS = tuple(SHIPPED_FOLDERS)
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
    shipped = Path(str(resources.files("lrnn_course") / "notebooks"))
    notebooks = sorted((path for folder in SHIPPED_FOLDERS[kind] for path in (shipped / folder).glob("*.ipynb")),
                       key=lambda path: path.name)
    if not notebooks:
        raise FileNotFoundError(f"no {kind} notebooks in {shipped}: in a checkout, run `lrnn-course build` first")
    return notebooks


def fetch(kind: str, target: Path, force: bool = False) -> list[tuple[str, str]]:
    """Copy the shipped notebooks of ``kind`` into ``target``; ``[(file name, what happened)]``.

    A file already there that differs from the shipped one is the learner's work: it is kept
    unless ``force``. ``fetch("solutions", ...)`` writes the same file names as the exercises;
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
        failure = self.result.diagnosis
        return f"{self.result.n_passed}/{len(self.result.rows)} checks; look at {failure.name}: {failure.message}"


def _code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def _without_shell_lines(source: str) -> str:
    """Drop IPython's ``%magic`` and ``!shell`` lines, which plain Python cannot run."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def exercises_of(cells: list[str]) -> list[tuple[str, str]]:
    """(exercise id, function name) of every ``check(...)`` call in a notebook's code cells, in order."""
    return [call for source in cells for call in CHECK_CALL.findall(source)]


def notebook_progress(notebook: Path, timeout: float = DEFAULT_TIMEOUT_S,
                      on_start: Callable[[str, str], None] | None = None) -> list[Progress]:
    """Run the notebook's cells except its ``check(...)`` calls, then check each exercise it names.

    Each check runs in a child process stopped after ``timeout`` seconds (``isolation.run_isolated``);
    the cells run here, each stopped after ``timeout`` seconds where a timer can interrupt them (the main thread).
    ``on_start(notebook name, exercise)`` is called before each check.
    """
    import matplotlib

    from .isolation import run_isolated

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
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), time_limit(timeout):
                exec(compile(code, filename, "exec"), namespace)
        except SystemExit as error:  # exit() in a cell ends nothing here
            failures.append(f"code cell {index + 1} called {exit_call(error)}")
        except Exception as error:  # a learner's broken cell (TimeoutError included): reported on the exercises after it
            failures.append(f"code cell {index + 1} {describe_exception(error)}")
    progress = []
    for exercise, name, failed_before in exercises:
        fn = namespace.get(name)
        if fn is None:
            problem = failures[failed_before - 1] if failed_before else f"the notebook defines no function {name}"
            progress.append(Progress(notebook.name, exercise, problem=problem))
        else:
            if on_start is not None:
                on_start(notebook.name, exercise)
            progress.append(Progress(notebook.name, exercise, result=run_isolated(exercise, fn, timeout)))
    return progress


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``TimeoutError`` in the block after ``seconds``; no limit outside the main thread, where SIGALRM cannot reach."""
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


def folder_progress(folder: Path, timeout: float = DEFAULT_TIMEOUT_S,
                    on_start: Callable[[str, str, int, int], None] | None = None) -> list[Progress]:
    """``notebook_progress`` of every exercise notebook ``fetch`` puts in ``folder``.

    A notebook that is missing or cannot be read (not JSON, truncated) gives a row per exercise of
    the shipped notebook saying so, by file name; the other notebooks are checked as usual.
    ``on_start(notebook name, exercise, index, total)`` is called before each check.
    """
    shipped = shipped_notebooks("exercises")
    present = [path for path in shipped if (folder / path.name).exists()]
    if not present:
        raise FileNotFoundError(f"no exercise notebooks in {folder}: run `lrnn-course fetch exercises {folder}` first")
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
            problem = f"{mine} is missing: `lrnn-course fetch exercises {folder}` copies it back (your other files are kept)"
        else:
            try:
                progress += notebook_progress(mine, timeout, announce)
                continue
            except (OSError, ValueError, KeyError, TypeError) as error:  # not JSON, truncated, not a notebook
                problem = f"{mine} could not be read ({type(error).__name__}: {first_line(error)}); restore it from a backup or fetch it again"
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
