"""The one place that executes a notebook: ``lrnn-course build``, ``run`` and ``progress`` all call it.

Glossary (plumbing; no paper symbol):

==================  ==========================================================================
parameters cell     the code cell tagged ``parameters`` (``SIZE = "small"`` …): the names a run may change
injected cell       the cell tagged ``injected-parameters`` that a run with ``parameters`` adds after it
cell limit          seconds one cell may run: ``limit_s`` (``CELL_TIMEOUT_S`` unless given), a minute
                    for a cell tagged ``widget`` (``WIDGET_CELL_TIMEOUT_S``)
``keep_going``      go on after a cell that raises or overruns (``progress``: a learner's broken cell
                    is reported on the exercises after it); otherwise the run stops there
``Execution``       what a run gave: the executed copy, the seconds and error of every code cell,
                    and why it stopped early ("" when it ran to the end)
==================  ==========================================================================

Every run starts a fresh kernel (``python3``, this interpreter) in ``cwd`` with the environment of
``kernel_environment``; the notebook given is not changed.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nbformat

# A cell that runs longer has hung: at SIZE=small the slowest cell takes well under a minute on a 2-core CPU.
CELL_TIMEOUT_S = 300
# Seen in CI twice: Lesson 05's explorer cell waited 600 s, then 300 s (its whole limit) for a reply
# the kernel sent within 0.2 s. Likely cause: a widget's first drawing goes through an Output widget,
# which nbclient mirrors by sending on the kernel's shell channel while it waits on that channel for
# the reply, and under load the reply's wake-up is missed. A cell tagged `widget` builds one and
# draws one figure, so a minute is its limit, and the most such a stall costs.
WIDGET_TAG = "widget"
WIDGET_CELL_TIMEOUT_S = 60
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
KERNEL_NAME = "python3"
OVERRUN = "<the cell ran past its limit>"  # what nbclient reports for a cell it interrupted; replaced by the limit


@dataclass
class CellRun:
    """One executed code cell: its position in the notebook, its wall-clock seconds, what it raised ("" if nothing)."""

    index: int
    seconds: float
    error: str = ""


@dataclass
class Execution:
    """The executed copy of a notebook, each code cell's ``CellRun`` in order, and why the run stopped early."""

    notebook: nbformat.NotebookNode
    cells: list[CellRun] = field(default_factory=list)
    stopped: str = ""

    @property
    def slowest(self) -> CellRun | None:
        return max(self.cells, key=lambda cell: cell.seconds, default=None)


@contextlib.contextmanager
def kernel_environment() -> Iterator[None]:
    """Kernels started inside draw their figures into the notebook and show no progress bars.

    A kernel inherits the environment. ``MPLBACKEND=Agg`` (set for headless test runs) would make
    every ``plt.show()`` draw nothing, so the notebooks would keep no figures. A tqdm bar is live
    feedback for a learner running a cell; a saved notebook would keep only its first frame
    ("0/1000"), as if nothing had trained, so ``TQDM_DISABLE`` turns the bars off (``progress.progress_bar``).
    """
    settings = {"MPLBACKEND": INLINE_BACKEND, "TQDM_DISABLE": "1"}
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def cell_timeout(limit_s: float) -> Callable[[nbformat.NotebookNode], float]:
    """nbclient's ``timeout_func``: ``limit_s`` for a cell, ``WIDGET_CELL_TIMEOUT_S`` for one tagged ``widget``."""
    return lambda cell: WIDGET_CELL_TIMEOUT_S if WIDGET_TAG in cell.metadata.get("tags", []) else limit_s


def declared_parameters(notebook: nbformat.NotebookNode) -> tuple[int | None, set[str]]:
    """The index of the parameters cell and the names it assigns; ``(None, set())`` when there is none."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and PARAMETERS_TAG in cell.metadata.get("tags", []):
            names = set()
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                names |= {
                    name.id for target in targets if target for name in ast.walk(target) if isinstance(name, ast.Name)
                }
            return index, names
    return None, set()


def literal(value: object) -> str:
    """``value`` as Python source: strings in double quotes (as the lessons write them), the rest by ``repr``."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def with_parameters(notebook: nbformat.NotebookNode, parameters: Mapping[str, object]) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with a cell after its parameters cell that sets those of ``parameters`` it declares.

    Names the notebook does not declare are left out (Lesson 04 has ``JOBS``, Lesson 01 has not),
    so one set of parameters serves every lesson.
    """
    import nbformat

    copied = copy.deepcopy(notebook)
    index, declared = declared_parameters(copied)
    chosen = {name: value for name, value in parameters.items() if name in declared}
    if chosen:
        lines = ["# Parameters of this run"] + [f"{name} = {literal(value)}" for name, value in chosen.items()]
        injected = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": [INJECTED_TAG]})
        injected.id = INJECTED_TAG
        copied.cells.insert(index + 1, injected)
    return copied


def run_notebook(
    notebook: nbformat.NotebookNode,
    cwd: Path,
    parameters: Mapping[str, object] | None = None,
    limit_s: float | Callable[[nbformat.NotebookNode], float] = CELL_TIMEOUT_S,
    keep_going: bool = False,
    before_cell: Callable[[int, nbformat.NotebookNode], None] | None = None,
) -> Execution:
    """Run every code cell of a copy of ``notebook`` in order, in a fresh kernel in ``cwd``.

    ``parameters``: values for the names the notebook's parameters cell declares (``with_parameters``).
    ``limit_s``: seconds a cell may run (a cell tagged ``widget`` gets a minute), or a function of the
    cell giving them. A cell that raises or overruns stops the run (``Execution.stopped`` says why),
    unless ``keep_going``. ``before_cell(index, cell)`` is called before each code cell runs.
    A kernel that dies stops the run either way. Never raises for what a cell does.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    executed = with_parameters(notebook, parameters or {})
    timeout_of = limit_s if callable(limit_s) else cell_timeout(limit_s)
    execution = Execution(executed)
    started: dict[int, float] = {}

    def on_start(cell: nbformat.NotebookNode, cell_index: int) -> None:
        if cell.cell_type == "code" and cell.source.strip():
            if before_cell is not None:
                before_cell(cell_index, cell)
            started[cell_index] = time.perf_counter()

    def on_executed(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict) -> None:
        reply = (execute_reply or {}).get("content", {})
        error = ""
        if reply.get("status") == "error":
            said = (
                f"did not finish within {timeout_of(cell):g} s"
                if reply.get("evalue") == OVERRUN
                else reply.get("evalue")
            )
            error = f"{reply.get('ename')}: {said}"
        execution.cells.append(CellRun(cell_index, time.perf_counter() - started[cell_index], error))

    client = NotebookClient(
        executed,
        timeout_func=lambda cell: timeout_of(cell),
        kernel_name=KERNEL_NAME,
        allow_errors=keep_going,
        # An overrunning cell is interrupted and reported as an error, so that the run can go on after it.
        interrupt_on_timeout=True,
        error_on_timeout={"ename": "TimeoutError", "evalue": OVERRUN, "traceback": []},
        record_timing=False,
        on_cell_execute=on_start,
        on_cell_executed=on_executed,
        resources={"metadata": {"path": str(cwd)}},
    )
    with kernel_environment():
        try:
            client.execute()
        except CellExecutionError:
            failed = execution.cells[-1]
            execution.stopped = f"cell {failed.index} raised {failed.error}"
        except DeadKernelError:
            execution.stopped = f"the kernel died while running cell {max(started, default=0)}"
    return execution


def traceback_of(cell: nbformat.NotebookNode) -> str:
    """The traceback a cell's error output shows, without its terminal colours ("" when it raised nothing)."""
    lines = [line for output in cell.get("outputs", []) if output.output_type == "error" for line in output.traceback]
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(lines))
