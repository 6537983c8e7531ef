"""The notebooks' first cell (``build.install_cell_source()``), run by nbclient in a kernel that has no
lrnn_course and no network, as on a learner's machine; and ``make wheel``, the wheel an instructor hands out.

The kernel's Python is a new venv (no pip of its own) that sees this interpreter's packages (ipykernel,
pip, ...) through a folder of links that leaves lrnn_course out, the editable install's import hook too;
what its pip installs lands in the venv, not here. pip reads no configuration file and its only index
is a closed local port.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import lrnn_course
from lrnn_course import build
from lrnn_course.notebook_files import shipped_notebooks

ROOT = Path(__file__).resolve().parents[1]
NOT_RUN = "not run: lrnn_course is not installed (see the first cell)\n"
# names in site-packages that make lrnn_course importable or installed: the package, its metadata and an
# editable install's import hook (the .pth file that starts the hook is left out with every other .pth)
COURSE_ENTRIES = ("lrnn_course", "__editable__")


@pytest.fixture
def course_free_kernel(tmp_path, monkeypatch) -> dict:
    """Start options for a kernel whose Python lacks lrnn_course; ``["venv"]`` is that Python's prefix."""
    venv, packages = tmp_path / "venv", tmp_path / "packages"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    packages.mkdir()
    folders = [*site.getsitepackages(), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    for folder in filter(os.path.isdir, filter(None, folders)):
        for entry in Path(folder).iterdir():
            if not entry.name.startswith(COURSE_ENTRIES) and entry.suffix != ".pth":
                link = packages / entry.name
                if not link.exists():
                    link.symlink_to(entry)
    venv_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(venv_packages) / "course_free_view.pth").write_text(f"{packages}\n")

    kernels = tmp_path / "jupyter" / "kernels" / "course-free"
    kernels.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (kernels / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "no course", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))

    with socket.socket() as probe:  # a port that nothing listens on: pip's index refuses at once
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("PIP_", "PYTHON"))}
    environment |= {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": f"http://127.0.0.1:{closed_port}/simple",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONNOUSERSITE": "1",
    }
    return {"kernel_name": "course-free", "env": environment, "venv": venv}


def stand_in_wheel(folder: Path, marker: str) -> Path:
    """A wheel named as the course's, holding only ``lrnn_course/__init__.py``: its version and ``STAND_IN``."""
    version = lrnn_course.__version__
    info = f"lrnn_course-{version}.dist-info"
    files = {
        "lrnn_course/__init__.py": f'__version__ = "{version}"\nSTAND_IN = "{marker}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: lrnn-course\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"lrnn_course-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


WHICH_COURSE = "import lrnn_course\nprint(lrnn_course.STAND_IN, lrnn_course.__file__)"


def text_of(cell: nbformat.NotebookNode) -> str:
    """A cell's printed text; fails on any other output (an error, a traceback)."""
    assert all(output.output_type == "stream" and output.name == "stdout" for output in cell.outputs), cell.outputs
    return "".join(output.text for output in cell.outputs)


def notebook_in(folder: Path, kernel: dict, *later_cells: str) -> tuple[NotebookClient, nbformat.NotebookNode]:
    """A notebook in ``folder`` that opens with the install cell, and a client for ``kernel`` to run it."""
    cells = [build.install_cell_source(), *later_cells]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    folder.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        notebook, kernel_name=kernel["kernel_name"], timeout=120, resources={"metadata": {"path": str(folder)}}
    )
    return client, notebook


def test_without_the_course_or_a_network_the_first_cell_says_what_to_do_and_the_next_cells_do_not_run(
    tmp_path, course_free_kernel
):
    client, notebook = notebook_in(tmp_path / "work", course_free_kernel, WHICH_COURSE, "1 / 0")
    with client.setup_kernel(env=course_free_kernel["env"]):
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)  # raises on an error output
        first = text_of(notebook.cells[0])
        assert f"lrnn_course is missing; trying: pip install lrnn-course=={lrnn_course.__version__}" in first
        assert f"lrnn_course {lrnn_course.__version__} could not be installed" in first
        assert f"put it\n    into {tmp_path / 'work' / 'wheels'} (a folder beside this notebook)" in first
        assert "LRNN_COURSE_PIP" in first and "run this cell again" in first
        assert "Traceback" not in first
        assert [text_of(cell) for cell in notebook.cells[1:]] == [NOT_RUN, NOT_RUN]

        # as the message says: the wheel into wheels/, this cell again; no restart
        stand_in_wheel(tmp_path / "work" / "wheels", marker="handed-out")
        client.execute_cell(notebook.cells[0], 0)
        client.execute_cell(notebook.cells[1], 1)
    assert text_of(notebook.cells[0]).endswith(f"lrnn_course {lrnn_course.__version__} is installed\n")
    marker, where = text_of(notebook.cells[1]).split()
    assert marker == "handed-out" and Path(where).is_relative_to(course_free_kernel["venv"])


@pytest.mark.parametrize("folder", ["work", "work/wheels", "wheels"])
def test_the_first_cell_installs_a_wheel_beside_the_notebook_or_in_wheels_here_or_one_folder_up(
    tmp_path, course_free_kernel, folder
):
    stand_in_wheel(tmp_path / folder, marker="wheel")
    client, notebook = notebook_in(tmp_path / "work", course_free_kernel, WHICH_COURSE)
    client.execute(env=course_free_kernel["env"])
    assert text_of(notebook.cells[0]).splitlines()[-1] == f"lrnn_course {lrnn_course.__version__} is installed"
    marker, where = text_of(notebook.cells[1]).split()
    assert marker == "wheel" and Path(where).is_relative_to(course_free_kernel["venv"])


def test_lrnn_course_pip_comes_before_a_wheel(tmp_path, course_free_kernel):
    stand_in_wheel(tmp_path / "work" / "wheels", marker="wheel")
    chosen = stand_in_wheel(tmp_path / "elsewhere", marker="chosen")
    client, notebook = notebook_in(tmp_path / "work", course_free_kernel, WHICH_COURSE)
    client.execute(env={**course_free_kernel["env"], "LRNN_COURSE_PIP": str(chosen)})
    assert text_of(notebook.cells[1]).split()[0] == "chosen"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_wheel_ships_the_generated_notebooks_and_only_the_packages_modules(tmp_path):
    done = subprocess.run(
        ["make", "--no-print-directory", "wheel", f"PY={sys.executable}", f"WHEEL_DIR={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("lrnn_course-*.whl")
    assert str(wheel) in done.stdout and "wheels/" in done.stdout
    with zipfile.ZipFile(wheel) as archive:
        packaged = {name: archive.read(name) for name in archive.namelist() if name.startswith("lrnn_course/")}
    notebooks = {
        f"lrnn_course/notebooks/{path.parent.name}/{path.name}": path.read_bytes()
        for kind in ("exercises", "solutions", "lessons")
        for path in shipped_notebooks(kind)
    }
    assert {name: data for name, data in packaged.items() if name.endswith(".ipynb")} == notebooks
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "lrnn_course").rglob("*.py")}
    assert {name for name in packaged if name.endswith(".py")} == modules  # nothing left from an earlier build
