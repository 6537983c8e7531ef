"""The installed version of lrnn-course, as ``lrnn_course.__version__`` gives it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lrnn-course")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
