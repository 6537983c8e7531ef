"""``doctor()``, ``device()`` and the Triton mode report what this machine can do, and never crash.

The scenarios that depend on how Python was started (``TRITON_INTERPRET`` preset, ``triton``
imported first, ``triton`` missing) run in a fresh interpreter each, since the mode is decided
once per process, when ``lrnn_course._triton`` is first imported.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import torch

from lrnn_course import kernels
from lrnn_course._triton import triton_mode
from lrnn_course.device import device
from lrnn_course.doctor import LABEL_WIDTH, REPORTED_PACKAGES, doctor

REPOSITORY = Path(__file__).resolve().parents[1]
cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason="describes a machine without a CUDA GPU")


def test_doctor_is_ready_and_names_the_triton_mode():
    report = io.StringIO()
    assert doctor(report) == 0, report.getvalue()
    text = report.getvalue()
    assert f"triton mode  {triton_mode()}:" in text
    assert re.search(r"smoke test   passed on \w+ \(\w+\): max relative error \d\.\de[+-]\d\d", text)
    assert "READY" in text


@cpu_only
def test_doctor_reports_the_interpreter_on_this_cpu_machine():
    report = io.StringIO()
    doctor(report)
    assert "triton mode  interpreter: TRITON_INTERPRET=1" in report.getvalue()
    assert "kernels run through Triton's interpreter" in report.getvalue()


def test_doctor_aligns_one_line_per_item():
    report = io.StringIO()
    doctor(report)
    lines = [line for line in report.getvalue().splitlines() if line.startswith("  ")]
    labels = [line[2 : 2 + LABEL_WIDTH].strip() for line in lines]
    assert labels == ["Python", *REPORTED_PACKAGES, "device", "threads", "triton mode", "smoke test"]
    assert all(line[2 + LABEL_WIDTH] != " " for line in lines)
    assert f"  torch        {metadata.version('torch')}" in lines


@pytest.mark.parametrize("setting", [None, "3"])
def test_doctor_reports_the_threads_the_cores_and_omp_num_threads(monkeypatch, setting):
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    if setting is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", setting)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        report = io.StringIO()
        doctor(report)
        assert torch.get_num_threads() == 3, "doctor reports the threads; it does not change them"
    finally:
        torch.set_num_threads(before)
    # On a CPU the lessons set one thread unless OMP_NUM_THREADS says otherwise; a GPU leaves the 3 alone.
    lessons = 1 if setting is None and not torch.cuda.is_available() else 3
    assert (
        f"  threads      3 PyTorch threads on {os.cpu_count()} cores, OMP_NUM_THREADS {setting or 'not set'}; "
        f"the training lessons use {lessons}\n" in report.getvalue()
    )


def test_doctor_writes_to_the_current_standard_output(capsys):
    doctor()
    assert "triton mode" in capsys.readouterr().out


def test_doctor_fails_when_a_required_package_is_missing(monkeypatch):
    doctor_module = importlib.import_module("lrnn_course.doctor")  # lrnn_course.doctor is the function

    real_version = doctor_module._installed_version

    def without_tqdm(name):
        return None if name == "tqdm" else real_version(name)

    monkeypatch.setattr(doctor_module, "_installed_version", without_tqdm)
    report = io.StringIO()
    assert doctor(report) == 1
    assert "tqdm         missing (required" in report.getvalue()
    assert "NOT READY: install tqdm" in report.getvalue()


def test_doctor_fails_when_the_smoke_test_fails(monkeypatch):
    failing = (False, "FAILED on triton (cpu): max relative error 3.0e-01")
    monkeypatch.setattr(kernels.scan, "smoke_test", lambda: failing)
    report = io.StringIO()
    assert doctor(report) == 1
    assert "NOT READY" in report.getvalue()


@cpu_only
def test_triton_runs_through_the_interpreter_on_this_cpu_machine():
    assert triton_mode() == "interpreter"


@cpu_only
def test_device_is_the_cpu_here_and_cuda_is_refused():
    assert device() == torch.device("cpu")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        device("cuda")


def test_device_cpu_and_bad_preferences():
    assert device("cpu") == torch.device("cpu")
    for preference in ("gpu", "CUDA", "", "cuda:0"):
        with pytest.raises(ValueError, match="device preference must be one of"):
            device(preference)


def run_fresh_python(code: str, **environment: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
    env.update(environment)
    finished = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout


DOCTOR_THEN_MODE = (
    "import lrnn_course, lrnn_course._triton as t\n"
    "print('exit', lrnn_course.doctor())\n"
    "print('mode', t.triton_mode())\n"
)


@cpu_only
def test_preset_interpreter_off_without_gpu_falls_back_to_the_reference():
    out = run_fresh_python(DOCTOR_THEN_MODE, TRITON_INTERPRET="0")
    assert "mode unavailable" in out and "exit 0" in out
    assert "TRITON_INTERPRET=0 was set" in out
    assert "passed on reference" in out and "lessons use the PyTorch reference" in out


@cpu_only
def test_triton_imported_first_without_the_variable_is_reported_not_crashed():
    out = run_fresh_python("import triton\n" + DOCTOR_THEN_MODE)
    assert "mode unavailable" in out and "exit 0" in out
    assert "imported before lrnn_course" in out


def test_missing_triton_falls_back_to_the_reference():
    out = run_fresh_python("import sys\nsys.modules['triton'] = None\n" + DOCTOR_THEN_MODE)
    assert "mode unavailable" in out and "exit 0" in out
    assert "triton could not be imported" in out and "passed on reference" in out


WORKSHOP_LABELS = ["system", "memory", "free disk", "interpreter", "lab widgets", "exercises", "check"]


def installed(distribution: str) -> bool:
    try:
        return bool(metadata.version(distribution))
    except metadata.PackageNotFoundError:
        return False


def test_the_workshop_report_is_fenced_for_pasting_and_ready_here():
    # the [dev] environment has JupyterLab and its widgets; a GPU machine that runs the suite may not
    lab = installed("jupyterlab") and installed("jupyterlab_widgets")
    report = io.StringIO()
    assert doctor(report, report=True) == (0 if lab else 1), report.getvalue()
    lines = report.getvalue().splitlines()
    verdict = "READY" if lab else "NOT READY for the workshop: JupyterLab with its widgets extension"
    assert lines[1] == "```" and lines[-1] == "```" and lines[-2].startswith(verdict)
    labels = [line[2 : 2 + LABEL_WIDTH].strip() for line in lines if line.startswith("  ")]
    assert labels == ["Python", *REPORTED_PACKAGES, "device", "threads", "triton mode", "smoke test", *WORKSHOP_LABELS]
    text = report.getvalue()
    assert f"{os.cpu_count()} cores" in text
    assert re.search(
        r"check        01\.sequential_scan with the reference solution: (\d+)/\1 rows passed in \d+\.\d s", text
    )
    lessons = len(list((Path(__file__).resolve().parents[1] / "sources").glob("*.py")))
    assert f"exercises    {lessons} notebooks ship with this version" in text


def test_the_workshop_report_names_what_a_laptop_lacks(monkeypatch):
    doctor_module = importlib.import_module("lrnn_course.doctor")  # lrnn_course.doctor is the function

    real_version = doctor_module._installed_version
    monkeypatch.setattr(
        doctor_module, "_installed_version", lambda name: None if name == "jupyterlab_widgets" else real_version(name)
    )
    monkeypatch.setattr(doctor_module, "_memory_gib", lambda: 1.5)
    report = io.StringIO()
    assert doctor(report, report=True) == 1
    text = report.getvalue()
    assert "lab widgets  missing: the sliders will not draw in JupyterLab" in text
    assert (
        "NOT READY for the workshop: 1.5 GiB of memory (the training lessons want 4); JupyterLab with its widgets"
        in text
    )
    assert doctor(io.StringIO()) == 0, "without --report, what a workshop needs does not matter"
