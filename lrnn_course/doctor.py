"""``doctor()``: print what this machine offers the course and say whether every lesson can run.

Glossary (code name -> meaning; no paper symbol, this is plumbing):

=====================  ====================================================================
``REQUIRED``           packages a lesson cannot run without; one missing makes doctor fail
``OPTIONAL``           packages for kernels, the notebook server and notebook testing; each
                       missing one is named with what it costs
``triton mode``        how the kernels run here (see ``lrnn_course._triton``)
``smoke test``         one tiny ``diagonal_scan`` compared with the float64 reference
=====================  ====================================================================

The report is what a learner pastes into a bug report, so it must come out even on a broken
install: every probe catches its own failure and prints it as a line of the report.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
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
    "papermill": "the notebooks cannot be run headless",
    "nbval": "the notebooks cannot be tested",
}
# Nightly PyTorch ships Triton as ``pytorch-triton``, and Windows users install ``triton-windows``.
DISTRIBUTION_NAMES = {"triton": ("triton", "pytorch-triton", "triton-windows")}
REPORTED_PACKAGES = (
    "torch", "triton", "numpy", "matplotlib", "ipywidgets", "tqdm", "jupyterlab", "nbformat", "papermill", "nbval"
)
LABEL_WIDTH = 13


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


def _triton_report() -> tuple[str, str, str, bool]:
    """Return the Triton mode, its status line, the smoke test line, and whether the smoke test passed."""
    try:
        from ._triton import triton_mode, triton_status
        from .kernels.scan import smoke_test
    except Exception as failure:  # noqa: BLE001 - same reason as above
        return "unavailable", f"could not load the kernels ({type(failure).__name__}: {failure})", "not run", False
    ok, message = smoke_test()
    return triton_mode(), triton_status(), message, ok


def doctor(stream: TextIO | None = None) -> int:
    """Print the environment report to ``stream`` (standard output when None) and return an exit status.

    Returns:
        0 when every required package is installed and the ``diagonal_scan`` smoke test passed
        (on Triton, or on the PyTorch reference where Triton cannot run); 1 otherwise.
    """
    # Resolved at call time, so redirected or captured output (Jupyter, pytest) gets the report.
    stream = sys.stdout if stream is None else stream

    def line(label: str, value: str) -> None:
        print(f"  {label:<{LABEL_WIDTH}}{value}", file=stream)

    print("lrnn-course doctor", file=stream)
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
    mode, status, smoke_message, smoke_ok = _triton_report()
    line("triton mode", status)
    line("smoke test", smoke_message)

    if missing_required:
        print(f"NOT READY: install {', '.join(missing_required)}", file=stream)
        return 1
    if not smoke_ok:
        print("NOT READY: the diagonal_scan smoke test failed; paste this report into an issue", file=stream)
        return 1
    how = {
        "compiled": "kernels compiled for the GPU",
        "interpreter": "kernels run through Triton's interpreter on the CPU",
    }.get(mode, "Triton cannot run here, so lessons use the PyTorch reference instead of the kernels")
    print(f"READY: every lesson can run ({how})", file=stream)
    return 0
