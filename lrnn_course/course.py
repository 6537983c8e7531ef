"""Execute lesson notebooks headless (``runner.run_notebook``) and write a one-page summary (``make course``).

Glossary: ``size`` = the notebooks' ``SIZE`` parameter ("small" or "full"), ``device`` = their
``DEVICE`` parameter, ``jobs`` = the ``JOBS`` parameter of the lessons that train several runs,
``out_dir`` = where the executed notebooks, ``summary.md`` and ``summary.html`` (the same table,
then every notebook's figures, for a browser) go.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import runner
from .build import lesson_notebooks, output_folder
from .checker import FAIL_MARK, PASS_MARK

# A cell that runs longer has hung (a cell tagged `widget` gets a minute: `runner.WIDGET_CELL_TIMEOUT_S`).
# At "small" that is the limit of `lrnn-course build` and nbval: the slowest cell takes under half a
# minute on a 2-core CPU. At "full" one cell trains every missing run of an experiment (Lesson 08's
# parity: 18 runs of 5 000 steps), which is legitimately long.
CELL_TIMEOUT_S = {"small": runner.CELL_TIMEOUT_S, "full": 3600}


@dataclass
class Run:
    """What executing one notebook gave."""

    notebook: str
    seconds: float
    slowest_cell_s: float
    slowest_cell: int  # its index in the notebook
    checks_passed: int
    checks: int
    error: str = ""
    figures: list[str] = field(default_factory=list)  # base64 PNGs, in notebook order

    @property
    def passed(self) -> bool:
        return not self.error and self.checks_passed == self.checks

    @property
    def status(self) -> str:
        return "error: " + self.error if self.error else "ok"


def check_tables(notebook: nbformat.NotebookNode) -> list[str]:
    """The text printed by the notebook's ``check(...)`` cells."""
    return [
        "".join(output.get("text", "") for output in cell.get("outputs", []) if output.output_type == "stream")
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.source.startswith("check(")
    ]


def execute(
    path: Path, output: Path, parameters: dict[str, object], timeout_s: float = CELL_TIMEOUT_S["small"]
) -> runner.Execution:
    """Run the notebook at ``path`` in its own folder with ``parameters``, save the executed copy to ``output``.

    Only the ``parameters`` that the notebook's parameters cell declares are set (Lesson 04 has
    ``JOBS``, Lesson 01 has not). A cell that raises or runs longer than ``timeout_s`` (a cell tagged
    ``widget``: a minute) stops the run; ``Execution.stopped`` says which, and ``output`` keeps the cells run.
    """
    execution = runner.run_notebook(nbformat.read(path, as_version=4), path.parent, parameters, timeout_s)
    output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(execution.notebook, output)
    return execution


def execute_lesson(path: Path, out_dir: Path, size: str, device: str, jobs: int = 1) -> Run:
    """Run one lesson with its ``SIZE``, ``DEVICE`` and ``JOBS`` parameters; a failing cell is said in the ``Run``."""
    started = time.perf_counter()
    execution = execute(path, out_dir / path.name, {"SIZE": size, "DEVICE": device, "JOBS": jobs}, CELL_TIMEOUT_S[size])
    seconds = time.perf_counter() - started
    executed, slowest = execution.notebook, execution.slowest or runner.CellRun(0, 0.0)
    tables = check_tables(executed)
    passed = sum(FAIL_MARK not in table and PASS_MARK in table for table in tables)
    figures = [
        output.data["image/png"]
        for cell in executed.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    return Run(path.name, seconds, slowest.seconds, slowest.index, passed, len(tables), execution.stopped, figures)


def summary(runs: list[Run], size: str, device: str) -> str:
    """A markdown page: one row per notebook."""
    lines = [
        f"# Course run: SIZE={size}, DEVICE={device}",
        "",
        "| notebook | status | total (s) | slowest cell (s) | which cell | checks passed |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run.notebook} | {run.status} | {run.seconds:.1f} | {run.slowest_cell_s:.1f} | {run.slowest_cell} | "
            f"{run.checks_passed}/{run.checks} |"
        )
    return "\n".join(lines) + "\n"


def summary_html(runs: list[Run], size: str, device: str) -> str:
    """The summary as a page: the table, with failures in red, then each notebook's figures."""
    heading = f"Course run: SIZE={size}, DEVICE={device}"
    rows = "\n".join(
        f"<tr class={'good' if run.passed else 'bad'}>"
        f"<td><a href='#{html.escape(run.notebook)}'>{html.escape(run.notebook)}</a></td>"
        f"<td>{html.escape(run.status)}</td>"
        f"<td>{run.seconds:.1f}</td><td>{run.slowest_cell_s:.1f}</td><td>{run.checks_passed}/{run.checks}</td></tr>"
        for run in runs
    )
    galleries = "\n".join(
        f"<h2 id='{html.escape(run.notebook)}'>{html.escape(run.notebook)}: {len(run.figures)} figures</h2>\n"
        + "".join(
            f"<img src='data:image/png;base64,{figure.strip()}' alt='figure {i + 1} of {html.escape(run.notebook)}'>"
            for i, figure in enumerate(run.figures)
        )
        for run in runs
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{heading}</title><style>
body {{ font-family: sans-serif; margin: 2em; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: right; }} td:first-child {{ text-align: left; }}
tr.bad td {{ background: #fdd; }} tr.good td {{ background: #dfd; }}
img {{ max-width: 32%; margin: 0.3em; border: 1px solid #eee; }}
</style></head><body>
<h1>{heading}</h1>
<table><tr><th>notebook</th><th>status</th><th>total (s)</th><th>slowest cell (s)</th><th>checks passed</th></tr>
{rows}
</table>
{galleries}
</body></html>
"""


def run_course(
    names: tuple[str, ...] = (), size: str = "small", device: str = "auto", out_dir: Path | None = None, jobs: int = 1
) -> list[Run]:
    """Execute every lesson (or those whose name starts with one of ``names``); write ``summary.md`` and ``.html``.

    ``jobs``: training runs at once in the lessons that train several (their ``JOBS`` parameter).
    """
    lessons = lesson_notebooks(names)  # a checkout's, or those an installed wheel ships
    out_dir = out_dir or output_folder("course")
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = [execute_lesson(path, out_dir, size, device, jobs) for path in lessons]
    (out_dir / "summary.md").write_text(summary(runs, size, device), encoding="utf-8")
    (out_dir / "summary.html").write_text(summary_html(runs, size, device), encoding="utf-8")
    return runs
