"""The registry of exercises: ``EXERCISES[id]`` for every id that ``check()`` accepts.

One module per lesson defines a list ``EXERCISES``; this module gathers them by id.
"""

from __future__ import annotations

from ..check import Exercise
from . import kernels_delta, kernels_scan, lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07, lesson08, lesson09

EXERCISES: dict[str, Exercise] = {
    exercise.id: exercise for module in (lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07, lesson08, lesson09, kernels_scan, kernels_delta) for exercise in module.EXERCISES
}
