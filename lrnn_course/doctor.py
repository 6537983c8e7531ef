"""``doctor()``: print what this machine offers the course and say whether every lesson can run.

Glossary (code name -> meaning; no paper symbol, this is plumbing):

=====================  ====================================================================
``REQUIRED``           packages a lesson cannot run without; one missing makes doctor fail
``OPTIONAL``           packages for kernels, the notebook server and notebook testing; each
                       missing one is named with what it costs
``triton mode``        how the kernels run here (see ``lrnn_course._triton``)
``smoke test``         one tiny ``diagonal_scan`` compared with the float64 reference
``threads``            PyTorch's thread count now, the cores, ``OMP_NUM_THREADS``, and the
                       count the training lessons set (``threads_for_small_models``)
``workshop report``    ``doctor(report=True)``: also the machine (system, cores, memory, free
                       disk), the notebook front end, the shipped exercises and a timed
                       ``check``, fenced for pasting into a workshop's sign-up form
=====================  ====================================================================

The report is what a learner pastes into a bug report, so it must come out even on a broken
install: every probe catches its own failure and prints it as a line of the report.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import TextIO

REQUIRED = {
    "torch": "every lesson",
    "numpy": "every lesson",
    "matplotlib": "the plots",
    "ipywidgets": "the interactive sliders",
    "tqdm": "the progress bars",
}
OPTIONAL = {
    "triton": "kernels fall back to the PyTorch reference",
    "jupyterlab": "open the notebooks some other way",
    "nbformat": "the notebooks cannot be rebuilt",
    "papermill": "instructors cannot run parametrised notebooks with papermill",
    "nbval": "the notebooks cannot be tested",
}
# Nightly PyTorch ships Triton as ``pytorch-triton``, and Windows users install ``triton-windows``.
DISTRIBUTION_NAMES = {"triton": ("triton", "pytorch-triton", "triton-windows")}
REPORTED_PACKAGES = (
    "torch",
    "triton",
    "numpy",
    "matplotlib",
    "ipywidgets",
    "tqdm",
    "jupyterlab",
    "nbformat",
    "papermill",
    "nbval",
)
LABEL_WIDTH = 13
# What a workshop laptop needs beyond "every lesson can run": the training lessons hold a few
# hundred MB, and pip, the notebooks and the course's build outputs need room on disk.
WORKSHOP_MIN_MEMORY_GIB = 4.0
WORKSHOP_MIN_DISK_GIB = 2.0
WORKSHOP_CHECK = "01.sequential_scan"


def _installed_version(package: str) -> str | None:
    for distribution in DISTRIBUTION_NAMES.get(package, (package,)):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None


def _device_line() -> str:
    try:
        import torch

        from .device import device

        chosen = device()
        if chosen.type == "cuda":
            return f"cuda ({torch.cuda.get_device_name(chosen)})"
        return "cpu (PyTorch sees no CUDA GPU)"
    except Exception as failure:  # noqa: BLE001 - a broken torch is exactly what doctor must report
        return f"unknown ({type(failure).__name__}: {failure})"


def _threads_line() -> str:
    try:
        import torch

        from .device import device, thread_choice

        lessons, _ = thread_choice(device())
        current = torch.get_num_threads()
        setting = os.environ.get("OMP_NUM_THREADS", "").strip() or "not set"
        return (
            f"{current} PyTorch thread{'s' if current != 1 else ''} on {os.cpu_count()} cores, "
            f"OMP_NUM_THREADS {setting}; the training lessons use {lessons}"
        )
    except Exception as failure:  # noqa: BLE001 - same reason as above
        return f"unknown ({type(failure).__name__}: {failure})"


def _triton_report() -> tuple[str, str, str, bool]:
    """Return the Triton mode, its status line, the smoke test line, and whether the smoke test passed."""
    try:
        from .kernels import triton_mode, triton_status
        from .kernels.scan import smoke_test
    except Exception as failure:  # noqa: BLE001 - same reason as above
        return "unavailable", f"could not load the kernels ({type(failure).__name__}: {failure})", "not run", False
    ok, message = smoke_test()
    return triton_mode(), triton_status(), message, ok


def _memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, OSError, ValueError):  # not POSIX (Windows): reported as unknown
        return None


def _workshop_report(line) -> list[str]:
    """Print the workshop lines; return what keeps this machine from a workshop (empty when nothing)."""
    problems = []
    line("system", f"{platform.system()} {platform.release()} ({platform.machine()}), {os.cpu_count()} cores")
    memory = _memory_gib()
    line("memory", "unknown" if memory is None else f"{memory:.1f} GiB")
    if memory is not None and memory < WORKSHOP_MIN_MEMORY_GIB:
        problems.append(f"{memory:.1f} GiB of memory (the training lessons want {WORKSHOP_MIN_MEMORY_GIB:.0f})")
    free = shutil.disk_usage(Path.cwd()).free / 2**30
    line("free disk", f"{free:.1f} GiB in {Path.cwd()}")
    if free < WORKSHOP_MIN_DISK_GIB:
        problems.append(f"{free:.1f} GiB free on disk (want {WORKSHOP_MIN_DISK_GIB:.0f})")
    line("interpreter", sys.executable)
    widgets = _installed_version("jupyterlab_widgets")
    line("lab widgets", widgets or "missing: the sliders will not draw in JupyterLab (pip install jupyterlab_widgets)")
    if _installed_version("jupyterlab") is None or widgets is None:
        problems.append("JupyterLab with its widgets extension (pip install 'lrnn-course[notebooks]')")
    try:
        from .workshop import shipped_notebooks

        line(
            "exercises",
            f"{len(shipped_notebooks('exercises'))} notebooks ship with this version (lrnn-course fetch exercises)",
        )
    except Exception as failure:  # noqa: BLE001 - reported, as every probe here
        line("exercises", f"not found ({type(failure).__name__}: {failure})")
        problems.append("the exercise notebooks (reinstall lrnn-course)")
    try:
        from .build import solution_function
        from .checker import DEFAULT_TIMEOUT_S
        from .isolation import run_isolated

        started = time.perf_counter()  # in a child process, as a learner's check() runs
        result = run_isolated(WORKSHOP_CHECK, solution_function(WORKSHOP_CHECK), DEFAULT_TIMEOUT_S)
        outcome = f"{result.n_passed}/{len(result.rows)} rows passed in {time.perf_counter() - started:.1f} s"
        line("check", f"{WORKSHOP_CHECK} with the reference solution: {outcome}")
        if not result.passed:
            problems.append(f"check({WORKSHOP_CHECK!r}) fails on the reference solution")
    except Exception as failure:  # noqa: BLE001
        line("check", f"could not run ({type(failure).__name__}: {failure})")
        problems.append("the exercise checker")
    return problems


def doctor(stream: TextIO | None = None, report: bool = False) -> int:
    """Print the environment report to ``stream`` (standard output when None) and return an exit status.

    With ``report``, the workshop lines follow and the whole report is fenced as Markdown, for an
    attendee to paste; readiness then also needs JupyterLab's widgets, the shipped exercises, a
    passing ``check`` and the memory and free disk of ``WORKSHOP_MIN_MEMORY_GIB`` and ``WORKSHOP_MIN_DISK_GIB``.

    Returns:
        0 when every required package is installed and the ``diagonal_scan`` smoke test passed
        (on Triton, or on the PyTorch reference where Triton cannot run), and with ``report`` the
        workshop needs are met too; 1 otherwise.
    """
    # Resolved at call time, so redirected or captured output (Jupyter, pytest) gets the report.
    stream = sys.stdout if stream is None else stream

    def line(label: str, value: str) -> None:
        print(f"  {label:<{LABEL_WIDTH}}{value}", file=stream)

    if report:
        print("Paste everything from ``` to ``` into the workshop's sign-up form:", file=stream)
        print("```", file=stream)
    status = _environment_report(stream, line, report)
    if report:
        print("```", file=stream)
    return status


def _environment_report(stream: TextIO, line, report: bool) -> int:
    from .version import __version__

    print(f"lrnn-course doctor (lrnn-course {__version__})", file=stream)
    line("Python", platform.python_version())
    missing_required = []
    for package in REPORTED_PACKAGES:
        version = _installed_version(package)
        if version is not None:
            line(package, version)
        elif package in REQUIRED:
            missing_required.append(package)
            line(package, f"missing (required for {REQUIRED[package]})")
        else:
            line(package, f"missing (optional: {OPTIONAL[package]})")
    line("device", _device_line())
    line("threads", _threads_line())
    mode, status, smoke_message, smoke_ok = _triton_report()
    line("triton mode", status)
    line("smoke test", smoke_message)
    workshop_problems = _workshop_report(line) if report else []

    if missing_required:
        print(f"NOT READY: install {', '.join(missing_required)}", file=stream)
        return 1
    if not smoke_ok:
        print("NOT READY: the diagonal_scan smoke test failed; paste this report into an issue", file=stream)
        return 1
    if workshop_problems:
        print(f"NOT READY for the workshop: {'; '.join(workshop_problems)}", file=stream)
        return 1
    how = {
        "compiled": "kernels compiled for the GPU",
        "interpreter": "kernels run through Triton's interpreter on the CPU",
    }.get(mode, "Triton cannot run here, so lessons use the PyTorch reference instead of the kernels")
    print(f"READY: every lesson can run ({how})", file=stream)
    return 0
