"""The workshop commands: fetch, progress and reveal, from a checkout and from an installed wheel (with slides, run
and build)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lrnn_course import cli
from lrnn_course.checks import EXERCISES
from lrnn_course.workshop import NO_REVEAL_ENV, fetch, folder_progress, progress_table, shipped_notebooks

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_notebooks_are_the_generated_ones():
    # Enforces CONTRIBUTING.md#rule-generated-notebooks
    for kind, folders in (
        ("exercises", ["exercises"]),
        ("solutions", ["solutions"]),
        ("lessons", ["lessons", "kernels"]),
    ):
        shipped = {path.name: path.read_bytes() for path in shipped_notebooks(kind)}
        generated = {path.name: path.read_bytes() for folder in folders for path in (ROOT / folder).glob("*.ipynb")}
        assert shipped == generated and len(generated) == len(list((ROOT / "sources").glob("[0-9K]*.py")))


def test_fetch_copies_then_keeps_a_learners_edits_unless_forced(tmp_path):
    names = [path.name for path in shipped_notebooks("exercises")]
    assert {action for _, action in fetch("exercises", tmp_path)} == {"copied"}
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names)
    assert {action for _, action in fetch("exercises", tmp_path)} == {"already up to date"}

    edited = tmp_path / names[0]
    edited.write_text(edited.read_text() + " ")
    actions = dict(fetch("exercises", tmp_path))
    assert actions[names[0]].startswith("kept") and edited.read_text().endswith(" ")
    mine = edited.read_bytes()
    action = dict(fetch("exercises", tmp_path, force=True))[names[0]]
    assert action == f"overwritten (--force); your version is in {names[0]}.bak"
    assert edited.read_bytes() == shipped_notebooks("exercises")[0].read_bytes()
    assert (tmp_path / f"{names[0]}.bak").read_bytes() == mine
    edited.write_text(edited.read_text() + "  ")  # edited again: the first backup stays, the second gets .bak2
    assert dict(fetch("exercises", tmp_path, force=True))[names[0]].endswith(f"{names[0]}.bak2")
    assert (tmp_path / f"{names[0]}.bak").read_bytes() == mine
    assert (tmp_path / f"{names[0]}.bak2").read_text().endswith("  ")


def test_progress_is_red_on_stubs_and_green_on_solutions(tmp_path, capsys):
    fetch("exercises", tmp_path)
    stubs = folder_progress(tmp_path)
    assert sorted(entry.exercise for entry in stubs) == sorted(EXERCISES)
    assert not any(entry.passed for entry in stubs)
    assert all("not implemented yet" in entry.summary() for entry in stubs)
    assert f"0 of {len(EXERCISES)} exercises pass." in progress_table(stubs)

    fetch("solutions", tmp_path, force=True)
    assert cli.main(["progress", str(tmp_path)]) == 0
    assert f"{len(EXERCISES)} of {len(EXERCISES)} exercises pass." in capsys.readouterr().out


def test_progress_reports_a_cell_that_raises_on_the_exercise_it_breaks(tmp_path):
    fetch("solutions", tmp_path)
    notebook = tmp_path / "01_diagonal_scans.ipynb"
    content = json.loads(notebook.read_text())
    code_cells = [cell for cell in content["cells"] if cell["cell_type"] == "code"]
    definition = next(cell for cell in code_cells if "def sequential_scan(" in "".join(cell["source"]))
    definition["source"] = ["undefined_name + 1\n"] + definition["source"]
    notebook.write_text(json.dumps(content))
    entries = {entry.exercise: entry for entry in folder_progress(tmp_path) if entry.notebook == notebook.name}
    assert not entries["01.sequential_scan"].passed
    assert "raised NameError: name 'undefined_name' is not defined" in entries["01.sequential_scan"].summary()
    assert entries["01.combine"].passed


def test_reveal_prints_the_solution_unless_the_instructor_disabled_it(capsys, monkeypatch):
    assert cli.main(["reveal", "01.combine"]) == 0
    shown = capsys.readouterr().out
    assert "def combine(" in shown and "BEGIN SOLUTION" not in shown and "NotImplementedError" not in shown
    monkeypatch.setenv(NO_REVEAL_ENV, "1")
    assert cli.main(["reveal", "01.combine"]) == 3
    assert cli.main(["fetch", "solutions", "unused-folder"]) == 3
    assert NO_REVEAL_ENV in capsys.readouterr().err
    for off in ("0", "false", "No", " off "):
        monkeypatch.setenv(NO_REVEAL_ENV, off)
        assert cli.main(["reveal", "01.combine"]) == 0, off
    monkeypatch.setenv(NO_REVEAL_ENV, "yes")
    assert cli.main(["reveal", "01.combine"]) == 3


def test_fetch_and_progress_work_from_the_installed_wheel(tmp_path):
    """The acceptance path without a clone: the wheel's own notebooks, red as stubs, green as solutions."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheel").glob("lrnn_course-*.whl")
    packaged = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".ipynb")}
    for kind in ("exercises", "solutions", "lessons"):
        assert {f"lrnn_course/notebooks/{path.parent.name}/{path.name}" for path in shipped_notebooks(kind)} <= packaged
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(tmp_path / "installed"),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    # the installed copy first; the rest of PYTHONPATH stays (on a machine without network the
    # notebook packages come from there, e.g. benchmarks/gpu_session.sh's /tmp/site)
    search_path = [str(tmp_path / "installed"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(search_path), "MPLBACKEND": "Agg"}

    def lrnn_course(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "lrnn_course.cli", *args],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
        )

    where = lrnn_course("fetch", "exercises", "work")
    assert where.returncode == 0, where.stderr
    assert (
        str(tmp_path / "installed")
        in subprocess.run(
            [sys.executable, "-c", "import lrnn_course; print(lrnn_course.__file__)"],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
        ).stdout
    )
    red = lrnn_course("progress", "work")
    assert red.returncode == 1 and f"0 of {len(EXERCISES)} exercises pass." in red.stdout, red.stdout + red.stderr
    assert lrnn_course("fetch", "solutions", "work", "--force").returncode == 0
    green = lrnn_course("progress", "work")
    assert green.returncode == 0 and f"{len(EXERCISES)} of {len(EXERCISES)} exercises pass." in green.stdout, (
        green.stdout
    )

    # the lessons too, and what needs only them: a deck; `build` needs the sources, which only a clone has
    assert lrnn_course("fetch", "lessons", "lessons").returncode == 0
    lessons = {path.name: path.read_bytes() for path in shipped_notebooks("lessons")}
    assert {path.name: path.read_bytes() for path in (tmp_path / "lessons").iterdir()} == lessons
    deck = lrnn_course("slides", "03", "--out", "decks")
    assert deck.returncode == 0 and (tmp_path / "decks" / "03_parity_barrier.slides.html").is_file(), deck.stderr
    build = lrnn_course("build", "--check")
    assert build.returncode == 2 and "needs a clone of the course repository" in build.stderr, build.stderr
    run = lrnn_course("run", "99")
    assert run.returncode == 2 and "no lesson shipped with lrnn_course starts with 99" in run.stderr, run.stderr


@pytest.mark.parametrize("kind", ["exercises", "solutions"])
def test_every_exercise_notebook_names_its_checks(kind):
    """progress finds exercises by their check(...) cells: every exercise has one in some notebook."""
    named = set()
    for notebook in shipped_notebooks(kind):
        cells = json.loads(notebook.read_text())["cells"]
        named |= {line.split('"')[1] for cell in cells for line in cell["source"] if line.startswith('check("')}
    assert named == set(EXERCISES)
