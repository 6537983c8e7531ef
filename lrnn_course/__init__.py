"""lrnn-course: linear recurrent neural networks from diagonal scans to Householder products.

The package is the single source of truth of the course: every exercise's solution is a function
here, the lessons import it, and ``check()`` grades a learner's version of it.

``import lrnn_course`` imports PyTorch, ``device`` (and ``threads_for_small_models``, its module's)
and ``doctor`` (whose module imports only the standard library until it runs): ``check`` and
``__version__`` load their modules when first used (PEP 562), so importing the package brings in
neither the checker nor Triton, and sets no environment variable.
"""

from __future__ import annotations

from typing import Any

# Imported here, not on first use: ``lrnn_course.device`` and ``lrnn_course.doctor`` are also the
# names of their modules, and whichever module imports one first would otherwise leave the module,
# not the function, under that name here.
from .device import device, threads_for_small_models
from .doctor import doctor

__all__ = ["__version__", "check", "device", "doctor", "threads_for_small_models"]


def __getattr__(name: str) -> Any:
    if name == "check":
        from .grade import check

        return check
    if name == "__version__":
        from .version import __version__

        return __version__
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
