"""Learner code cannot crash, hang or silence a check: in a notebook, from the command line, in `progress`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import nbformat
import pytest

from lrnn_course import build, isolation, scan
from lrnn_course.checks import EXERCISES
from lrnn_course.grade import check
from lrnn_course.kernels import scan as kernel_scan

CLI = [sys.executable, "-m", "lrnn_course"]


def loops_forever(a, b, h0=None):
    while True:
        pass


def exits_quietly(a, b, h0=None):
    sys.exit(0)


def ends_the_process(a, b, h0=None):
    os._exit(0)


def aborts_on_long_inputs(a, b, h0=None):
    if a.shape[1] == 63:  # the row "odd length 63", after four rows that pass
        os.abort()
    return scan.sequential_scan(a, b, h0)


def prints_and_solves(a, b, h0=None):
    print(f"debugging: T = {a.shape[1]}")
    return scan.sequential_scan(a, b, h0)


def rows_of(result):
    return {row.name: row for row in result.rows}


def test_an_endless_loop_is_a_red_row_within_the_limit_plus_five_seconds():
    started = time.monotonic()
    result = check("01.sequential_scan", loops_forever, timeout=2)
    assert time.monotonic() - started < 2 + 5
    assert not result
    assert "did not finish within 2 s" in result.rows[0].message
    assert result.diagnosis is result.rows[0]
    assert all("not run" in row.message for row in result.rows[1:])


@pytest.mark.parametrize(
    "learner,message",
    [
        (exits_quietly, "called sys.exit(0)"),
        (ends_the_process, "ended the check's process (exit code 0"),
    ],
)
def test_exiting_is_a_red_row_not_a_green_check(learner, message):
    result = check("01.sequential_scan", learner, timeout=20)
    assert not result
    assert message in result.diagnosis.message


def test_a_crash_keeps_the_rows_before_it_and_this_process_lives_on():
    result = check("01.sequential_scan", aborts_on_long_inputs, timeout=20)
    rows = rows_of(result)
    assert rows["returns h of shape (B, T, D)"].passed and rows["length 1"].passed
    assert not rows["odd length 63"].passed
    assert "crashed (SIGABRT" in rows["odd length 63"].message
    assert result.diagnosis is rows["odd length 63"]
    assert "not run" in rows["gradient matches autograd"].message


def test_what_the_learner_prints_reaches_the_notebook_and_the_solution_passes(capsys):
    result = check("01.sequential_scan", prints_and_solves, timeout=20)
    assert result
    assert "debugging: T = 63" in capsys.readouterr().out


def test_where_no_child_can_run_the_check_runs_here_and_says_so(monkeypatch, capsys):
    monkeypatch.setattr(isolation, "in_process_reason", lambda: "CUDA is initialised in this process")
    result = check("01.combine", EXERCISES["01.combine"].solution)
    assert result and "ran in this process, without a time limit: CUDA is initialised" in capsys.readouterr().out


def run_cli(*args, cwd=None, timeout=120):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.mark.parametrize(
    "body,message",
    [
        ("import sys\nsys.exit(0)\n", "called sys.exit(0) while loading"),
        ("while True:\n    pass\n", "TimeoutError"),
        (
            "import sys\n\ndef sequential_scan(a, b, h0=None):\n    sys.exit(0)\n",
            "called sys.exit(0): a function returns",
        ),
        ("def sequential_scan(a, b, h0=None):\n    while True:\n        pass\n", "did not finish within 3 s"),
    ],
)
def test_the_command_line_never_passes_code_that_exits_or_hangs(tmp_path, body, message):
    learner = tmp_path / "mine.py"
    learner.write_text(body)
    started = time.monotonic()
    done = run_cli("check", "01.sequential_scan", str(learner), "--timeout", "3")
    assert done.returncode == 1, done.stdout + done.stderr
    assert message in done.stdout + done.stderr
    assert time.monotonic() - started < 60


def test_the_command_line_asks_for_hints_in_its_own_spelling(tmp_path):
    learner = tmp_path / "mine.py"
    learner.write_text(
        "def combine(earlier, later):\n    (a1, b1), (a2, b2) = earlier, later\n    return a1 * a2, a1 * b2 + b1\n"
    )
    done = run_cli("check", "01.combine", str(learner))
    assert "--hint 1" in done.stdout and "check(..., hint" not in done.stdout


def test_progress_names_unreadable_and_missing_notebooks_and_checks_the_rest(tmp_path):
    folder = tmp_path / "ex"
    assert run_cli("fetch", "exercises", str(folder)).returncode == 0
    broken = folder / "02_selective_ssms.ipynb"
    broken.write_bytes(broken.read_bytes()[:3000])  # truncated, as by a full disk
    (folder / "04_negative_eigenvalues.ipynb").unlink()
    solved = folder / "01_diagonal_scans.ipynb"
    notebook = nbformat.read(solved, as_version=4)
    for cell in notebook.cells:
        if "def combine(" in cell.source:
            cell.source = (
                "def combine(earlier, later):\n"
                "    (a1, b1), (a2, b2) = earlier, later\n"
                "    return a1 * a2, a2 * b1 + b2\n"
            )
    nbformat.write(notebook, solved)
    done = run_cli("progress", str(folder), "--timeout", "20", timeout=600)
    table = done.stdout
    assert done.returncode == 1
    assert "02_selective_ssms.ipynb could not be read (JSONDecodeError" in table
    assert "04_negative_eigenvalues.ipynb is missing" in table
    assert "✓ 01.combine" in table and "K4.chunk_gates" in table
    assert "checking 01.combine" in done.stderr  # a line per exercise while it runs


def test_a_notebook_kernel_survives_learner_code_that_hangs_crashes_or_exits(tmp_path):
    from nbclient import NotebookClient

    cells = [
        "from lrnn_course import check\nimport os, sys",
        "def sequential_scan(a, b, h0=None):\n    while True:\n        pass",
        'check("01.sequential_scan", sequential_scan, timeout=2)',
        "def sequential_scan(a, b, h0=None):\n    os.abort()",
        'check("01.sequential_scan", sequential_scan)',
        "def sequential_scan(a, b, h0=None):\n    sys.exit(0)",
        'check("01.sequential_scan", sequential_scan)',
        'print("the kernel is alive")',
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells])
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = [json.dumps(cell.get("outputs", [])) for cell in notebook.cells]
    assert "did not finish within 2 s" in text[2]
    assert "crashed (SIGABRT" in text[4]
    assert "called sys.exit(0)" in text[6]
    assert "the kernel is alive" in text[7]


# ---- a K1 kernel that writes out of bounds: a red row naming the tensor, in a shell and in a notebook ------------

VALID = "valid = (scan_order[:, None] < steps) & column_mask[None, :]"
ROW_OFFSETS = "row_offsets = (batch * steps + times[:, None]) * width + columns[None, :]"
OUT_OF_BOUNDS_KERNELS = {  # what the learner got wrong: (line of the solution, the learner's line)
    "no column mask": (VALID, "valid = scan_order[:, None] < steps"),
    "no time mask": (VALID, "valid = column_mask[None, :]"),
    "a row stride of T": (ROW_OFFSETS, ROW_OFFSETS.replace("* width", "* steps")),
}
needs_triton = pytest.mark.skipif(kernel_scan.triton is None, reason="Triton is not installed")


def kernel_cell(old: str, new: str) -> str:
    """The K1 solution with one line changed, and the imports it needs: what a learner's cell or file holds."""
    solution = build.solution_function("K1.diagonal_scan_kernel")
    code = build.function_source(solution, "lesson")
    assert code.count(old) == 1
    code = code.replace(old, new)
    return "\n".join(build.import_lines(solution, code, set())) + "\n\n\n" + code + "\n"


@needs_triton
@pytest.mark.parametrize("mistake", sorted(OUT_OF_BOUNDS_KERNELS))
def test_an_out_of_bounds_kernel_is_a_red_row_from_the_command_line(tmp_path, mistake):
    learner = tmp_path / "kernel.py"
    learner.write_text(kernel_cell(*OUT_OF_BOUNDS_KERNELS[mistake]))
    done = run_cli("check", "K1.diagonal_scan_kernel", str(learner))
    assert done.returncode == 1, done.stdout + done.stderr  # not 134 (aborted) or 139 (segmentation fault)
    assert "✗ no load or store out of bounds" in done.stdout
    assert "past the end of h (out of bounds)" in done.stdout


@needs_triton
def test_out_of_bounds_kernels_leave_the_notebook_kernel_alive(tmp_path):
    from nbclient import NotebookClient

    cells = ["from lrnn_course import check"]
    for old, new in OUT_OF_BOUNDS_KERNELS.values():
        cells += [kernel_cell(old, new), 'check("K1.diagonal_scan_kernel", diagonal_scan_kernel)']
    cells.append('print("the kernel is alive")')
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    reports = [json.dumps(cell.outputs) for cell in notebook.cells[2:-1:2]]
    assert all("out of bounds" in report and " of h " in report for report in reports), reports
    assert "the kernel is alive" in json.dumps(notebook.cells[-1].outputs)
