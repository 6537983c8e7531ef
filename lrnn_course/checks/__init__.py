"""The registry of exercises: every id that ``check()`` accepts, found by module name, and their grading.

Glossary (checker plumbing; no paper symbol):

=================  ==========================================================================
``lesson id``      what precedes the dot of an exercise id: ``"01"`` in ``"01.sequential_scan"``,
                   ``"K1"`` in ``"K1.diagonal_scan_kernel"``
``check module``   ``lrnn_course/checks/lesson<ID>.py``: it defines ``EXERCISES``, a list of
                   ``checker.Exercise`` whose ids all start with ``<ID>.``
``EXERCISES``      the registry, a mapping from exercise id to ``Exercise``; it imports a check
                   module only when one of its exercises is asked for (listing them all imports
                   every module), so checking a Lesson 01 exercise never imports Triton
=================  ==========================================================================

A new lesson's checks take one new file here, named after the lesson; no list is edited by hand.
``check_quietly`` grades one exercise in this process; ``lrnn_course.grade.check`` (what a learner
calls) runs the same cases in a child process (``lrnn_course.isolation``).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

from ..checker import (
    GENERAL,
    INPUT_WRITES,
    INPUTS_ROW,
    Case,
    CheckResult,
    Exercise,
    Row,
    inputs_unchanged,
    run_case,
    takes_tensors,
)

MODULE_PREFIX = "lesson"


def check_modules(path: Iterable[str]) -> dict[str, str]:
    """Lesson id -> module name for every ``lesson<ID>`` module in the package directories ``path``."""
    return {
        info.name.removeprefix(MODULE_PREFIX): info.name
        for info in pkgutil.iter_modules(list(path))
        if info.name.startswith(MODULE_PREFIX) and not info.ispkg
    }


class Registry(MutableMapping[str, Exercise]):
    """Exercise id -> ``Exercise`` over the check modules of ``package`` (found in ``path``), each imported on demand.

    Setting and deleting entries works as on a dict (tests add toy exercises that way).
    """

    def __init__(self, package: str, path: Iterable[str]) -> None:
        self._package, self._path = package, list(path)
        self._modules: dict[str, str] | None = None
        self._loaded: set[str] = set()
        self._exercises: dict[str, Exercise] = {}

    def lesson_ids(self) -> list[str]:
        """The lesson ids that have a check module, sorted."""
        if self._modules is None:
            self._modules = check_modules(self._path)
        return sorted(self._modules)

    def _load(self, lesson_id: str) -> None:
        """Import the check module of ``lesson_id`` (if it has one, not yet loaded) and register its exercises."""
        if lesson_id in self._loaded or lesson_id not in self.lesson_ids():
            return
        name = f"{self._package}.{self._modules[lesson_id]}"
        exercises = getattr(importlib.import_module(name), "EXERCISES", None)
        if not isinstance(exercises, list) or not all(isinstance(exercise, Exercise) for exercise in exercises):
            raise TypeError(f"{name} must define EXERCISES, a list of lrnn_course.checker.Exercise")
        for exercise in exercises:
            if not exercise.id.startswith(f"{lesson_id}."):
                raise ValueError(
                    f"{name} defines exercise {exercise.id!r}, but the exercise ids of a check module "
                    f"lesson<ID>.py start with '<ID>.': here {lesson_id + '.'!r}"
                )
            if exercise.id in self._exercises:
                raise ValueError(f"{name} defines exercise {exercise.id!r} twice")
            self._exercises[exercise.id] = exercise
        self._loaded.add(lesson_id)

    def of_lesson(self, lesson_id: str) -> list[str]:
        """The exercise ids of one lesson, sorted (empty for a lesson without a check module)."""
        self._load(lesson_id)
        return sorted(exercise for exercise in self._exercises if exercise.startswith(f"{lesson_id}."))

    def __getitem__(self, exercise: str) -> Exercise:
        if isinstance(exercise, str):
            self._load(exercise.partition(".")[0])
        return self._exercises[exercise]

    def __setitem__(self, exercise: str, value: Exercise) -> None:
        self._exercises[exercise] = value

    def __delitem__(self, exercise: str) -> None:
        del self._exercises[exercise]

    def __iter__(self) -> Iterator[str]:
        for lesson_id in self.lesson_ids():
            self._load(lesson_id)
        return iter(list(self._exercises))

    def __len__(self) -> int:
        return sum(1 for _ in self)


EXERCISES = Registry(__name__, __path__)


def unknown_exercise_message(exercise: str) -> str:
    """What ``check()``, ``lrnn-course check`` and ``reveal`` say of an id that names no exercise: the closest ids."""
    # The ids of the same lesson when it exists: a typo in a Lesson 01 id imports no other lesson's checks.
    lesson = str(exercise).partition(".")[0]
    of_lesson = EXERCISES.of_lesson(lesson)
    close = difflib.get_close_matches(str(exercise), of_lesson or sorted(EXERCISES), n=3)
    if close:
        return f"unknown exercise id {exercise!r}; did you mean {', '.join(close)}?"
    if of_lesson:
        return f"unknown exercise id {exercise!r}; Lesson {lesson}'s exercises are {', '.join(of_lesson)}"
    return (
        f"unknown exercise id {exercise!r}: an id is a lesson and a function, as in 01.sequential_scan; "
        f"the exercises are {', '.join(sorted(EXERCISES))}"
    )


def unknown_exercise(exercise: str, fn: Any) -> Row | None:
    """The one red row for an exercise id that does not exist or an ``fn`` that is not a function, else None."""
    if exercise not in EXERCISES:
        return Row("exercise exists", False, unknown_exercise_message(exercise))
    if isinstance(fn, str):  # a file name, as `lrnn-course check` takes
        return Row(
            "is a function",
            False,
            f"got the text {fn!r}: pass your function itself, check({exercise!r}, {exercise.partition('.')[2]}); "
            f"to check a .py file, run `lrnn-course check {exercise} FILE` in a terminal",
        )
    if not callable(fn):
        return Row("is a function", False, f"expected a function, got {type(fn).__name__}")
    return None


def cases_of(exercise: str) -> tuple[Case, ...]:
    """The cases of a known exercise, in the order they run, and last, for an exercise without a row of its own
    about in-place writes, the automatic one. Clears the record of input writes: a check starts here."""
    INPUT_WRITES.clear()
    exercise_ = EXERCISES[exercise]
    cases = exercise_.cases
    if not takes_tensors(exercise_.solution) or any(case.name.startswith("does not modify") for case in cases):
        return cases
    # GENERAL, and last: it explains only when every other row passes (or none names a mistake better).
    return (
        *cases,
        Case(
            INPUTS_ROW,
            inputs_unchanged,
            (
                "Build new tensors (x = x * y, torch.cat, torch.stack) instead of writing into the ones you were given "
                "(x.mul_(…), x[...] = …, x += …): the caller still needs them.",
            ),
            GENERAL,
        ),
    )


def check_quietly(exercise: str, fn: Callable[..., Any]) -> CheckResult:
    """``check`` without printing and in this process: for tests, and where a child process cannot run."""
    problem = unknown_exercise(exercise, fn)
    if problem is not None:
        return CheckResult(exercise, [problem])
    return CheckResult(exercise, [run_case(case, fn) for case in cases_of(exercise)])
