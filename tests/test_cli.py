"""The `lrnn-course` command line: check a learner's file, check the notebooks."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest

from lrnn_course.build import repo_root
from lrnn_course.checks import EXERCISES
from lrnn_course.cli import main

CORRECT = """
import torch

def sequential_scan(a, b, h0=None):
    h = torch.zeros_like(a[:, 0]) if h0 is None else h0
    states = []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        states.append(h)
    return torch.stack(states, dim=1)
"""
ROOT = repo_root()


def test_check_a_correct_file_exits_zero(tmp_path, capsys):
    path = tmp_path / "mine.py"
    path.write_text(CORRECT)
    assert main(["check", "01.sequential_scan", str(path)]) == 0
    rows = len(EXERCISES["01.sequential_scan"].cases)
    assert f"{rows}/{rows} checks passed (all passed)" in capsys.readouterr().out


def test_check_a_wrong_file_exits_one_with_a_hint(tmp_path, capsys):
    path = tmp_path / "mine.py"
    path.write_text(CORRECT.replace("h = a[:, t] * h + b[:, t]", "h = a[:, t] * (h + b[:, t])"))
    assert main(["check", "01.sequential_scan", str(path), "--hint", "1"]) == 1
    out = capsys.readouterr().out
    assert "✗ matches the float64 loop" in out and "Hint 1:" in out


@pytest.mark.parametrize(
    "content,code,message",
    [
        ("def other(): pass\n", 1, "defines no function named sequential_scan"),
        ("import nonexistent_module\n", 1, "could not be loaded"),
    ],
)
def test_check_reports_a_broken_file(tmp_path, capsys, content, code, message):
    path = tmp_path / "mine.py"
    path.write_text(content)
    assert main(["check", "01.sequential_scan", str(path)]) == code
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "exercise, message",
    [
        ("01.sequential_scn", "unknown exercise id '01.sequential_scn'; did you mean 01.sequential_scan?\n"),
        (
            "01.xyz",
            "unknown exercise id '01.xyz'; Lesson 01's exercises are "
            "01.chunked_scan, 01.combine, 01.hillis_steele_scan, 01.sequential_scan\n",
        ),
        (
            "99.x",
            "unknown exercise id '99.x': an id is a lesson and a function, as in 01.sequential_scan; the exercises",
        ),
    ],
)
@pytest.mark.parametrize("command", ["check", "reveal"])
def test_an_unknown_exercise_id_exits_two_with_the_ids_it_may_mean(tmp_path, capsys, command, exercise, message):
    path = tmp_path / "mine.py"
    path.write_text(CORRECT)
    assert main([command, exercise, *([str(path)] if command == "check" else [])]) == 2
    said = capsys.readouterr().err
    assert said.startswith(message) and "directive" not in said


def test_build_check_passes_on_the_committed_notebooks(capsys):
    # Enforces CONTRIBUTING.md#rule-generated-notebooks
    assert main(["build", "--check"]) == 0
    assert "All notebooks match their sources." in capsys.readouterr().out


def test_console_entry_point_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "lrnn_course", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "doctor" in done.stdout and "check" in done.stdout and "build" in done.stdout


@pytest.mark.notebooks
def test_run_executes_a_lesson_and_writes_a_summary(tmp_path, capsys):
    assert main(["run", "01", "--device", "cpu", "--out", str(tmp_path)]) == 0
    summary = (tmp_path / "summary.md").read_text()
    assert "| 01_diagonal_scans.ipynb | ok |" in summary and "| 4/4 |" in summary
    executed = nbformat.read(tmp_path / "01_diagonal_scans.ipynb", as_version=4)
    figures = [
        output.data["image/png"]
        for cell in executed.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    page = (tmp_path / "summary.html").read_text()
    assert "<tr class=good><td><a href='#01_diagonal_scans.ipynb'>01_diagonal_scans.ipynb</a></td><td>ok</td>" in page
    assert f"01_diagonal_scans.ipynb: {len(figures)} figures</h2>" in page and len(figures) >= 2
    assert all(f"data:image/png;base64,{figure.strip()}'" in page for figure in figures)


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing.py", "no such file: {path}; give the .py file that defines your function"),
        ("folder", "{path} is a folder: give the .py file that defines your function"),
        (
            "mine.ipynb",
            "{path} is a notebook: `lrnn-course check` takes the .py file that defines your function "
            "(`lrnn-course progress {tmp_path}` checks every exercise in a folder of notebooks)",
        ),
        ("mine.txt", "{path} is not a .py file: save your function in a file ending in .py and give that"),
    ],
)
def test_check_says_plainly_why_it_cannot_load_a_file(tmp_path, capsys, name, message):
    (tmp_path / "folder").mkdir()
    for made in ("mine.ipynb", "mine.txt"):
        (tmp_path / made).write_text(CORRECT)
    path = tmp_path / name
    assert main(["check", "01.sequential_scan", str(path)]) == 2
    assert capsys.readouterr().err == message.format(path=path, tmp_path=tmp_path) + "\n"


def test_progress_says_plainly_when_the_folder_is_missing_or_a_file(tmp_path, capsys):
    missing, a_file = tmp_path / "missing", tmp_path / "notes.txt"
    a_file.write_text("")
    assert main(["progress", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"no such folder: {missing}; `lrnn-course fetch exercises {missing}` makes it, with the exercise notebooks\n"
    )
    assert main(["progress", str(a_file)]) == 2
    assert capsys.readouterr().err == f"{a_file} is a file: give the folder that holds your exercise notebooks\n"
    assert main(["progress", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"no exercise notebooks in {tmp_path}: run `lrnn-course fetch exercises")


def test_build_of_an_unknown_lesson_exits_two_without_a_traceback(capsys):
    assert main(["build", "--check", "99"]) == 2
    assert capsys.readouterr().err == f"`lrnn-course build`: no source in {ROOT / 'sources'} starts with 99\n"


def test_experiment_lm_trains_both_ranges_and_writes_its_record(tmp_path, capsys):
    out = tmp_path / "records"
    assert main(["experiment", "lm", "--steps", "2", "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "| deltanet [0,1] | 1 |" in printed and "| deltanet [-1,1] | 1 |" in printed
    record = json.loads((out / "lm-small.json").read_text())
    assert record["command"] == f"lrnn-course experiment lm --steps 2 --device cpu --out {out} --quiet"
    assert [run["steps"] for run in record["runs"]] == [2, 2]
    assert main(["experiment", "lm", "--jobs", "2", "--out", str(out)]) == 2
    assert "--jobs and --resume do not apply" in capsys.readouterr().err
