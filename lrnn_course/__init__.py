"""lrnn-course: linear recurrent neural networks from diagonal scans to Householder products.

The package is the single source of truth of the course: every exercise's solution is a function
here, the lessons import it, and ``check()`` grades a learner's version of it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .check import check
from .device import device

try:
    __version__ = version("lrnn-course")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"


def doctor() -> int:
    """Print the environment report and return the exit status (0 when every lesson can run)."""
    from .doctor import doctor as run_doctor

    return run_doctor()


__all__ = ["__version__", "check", "device", "doctor"]
