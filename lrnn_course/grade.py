"""``check()``: what a learner calls to grade a function of theirs, with a table of named properties.

``from lrnn_course import check`` reaches it without importing anything at ``import lrnn_course``:
the checker, the exercises of the lesson asked for and the child process that runs them are loaded
by the first call. The rows come from :mod:`lrnn_course.checks`; the child process that keeps the
notebook alive whatever the learner's code does, from :mod:`lrnn_course.isolation`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from .checker import DEFAULT_TIMEOUT_S, CheckResult
from .isolation import run_isolated


def check(
    exercise: str,
    fn: Callable[..., Any],
    hint: int = 0,
    stream: TextIO | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> CheckResult:
    """Run every case of ``exercise`` on ``fn``, print the table, and return the ``CheckResult``.

    The cases run in a child process (:func:`lrnn_course.isolation.run_isolated`): a function that
    crashes, loops forever or exits becomes a red row, and this process (the notebook's kernel)
    lives on. The result is truthy when every property holds; its ``repr`` is the one-line summary,
    which a notebook shows under the table.

    Args:
        exercise: the exercise id, e.g. ``"01.sequential_scan"``.
        fn: your function.
        hint: how many hints to print for the row that names the mistake (0 = none).
        stream: where to print the table (default: standard output).
        timeout: seconds the whole check may take before it is stopped and reported.
    """
    result = run_isolated(exercise, fn, timeout)
    print(result.report(hint=hint, summary=False), file=stream or sys.stdout)
    return result
