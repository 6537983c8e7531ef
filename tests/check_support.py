"""Helpers for the checker's tests: run a version of an exercise's function as a notebook would, and
assert that a wrong one fails on the row that names its mistake."""

from __future__ import annotations

import linecache

from lrnn_course import build
from lrnn_course.checks import check_quietly


def executed(exercise_id: str, code: str, name: str):
    """Run a version of an exercise's function as a notebook would, and return the object ``name`` it defines.

    The source goes into ``linecache`` as a notebook cell's does: ``@triton.jit`` reads it back.
    """
    solution = build.solution_function(exercise_id)
    source = "\n".join(build.import_lines(solution, code, set())) + "\n" + code + "\n"
    filename = f"<{name} for {exercise_id}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def stub_of(exercise_id: str):
    """The function a learner starts from: the exercise notebook's stub, executed."""
    solution = build.solution_function(exercise_id)
    return executed(exercise_id, build.function_source(solution, "exercise"), solution.__name__)


def edited_solution(exercise_id: str, name: str, old: str, new: str):
    """The solution with the line holding ``old`` changed to ``new``, renamed ``name``: a mutant of a kernel."""
    solution = build.solution_function(exercise_id)
    code = build.function_source(solution, "lesson")
    assert code.count(old) == 1, f"{old!r} must occur once in {solution.__name__}"
    code = code.replace(old, new).replace(f"def {solution.__name__}(", f"def {name}(")
    return executed(exercise_id, code, name)


def expect_fails_on_row(exercise_id: str, mutant, row_name: str, message: str) -> None:
    """``mutant`` fails ``exercise_id``; the row ``row_name`` is red and says ``message``.

    Tests that also want ``row_name`` to be the row the report explains assert ``result.diagnosis`` themselves.
    """
    result = check_quietly(exercise_id, mutant)
    rows = {row.name: row for row in result.rows}
    assert not result.passed
    assert row_name in rows, f"no row {row_name!r} in {list(rows)}"
    assert not rows[row_name].passed, result.report()
    assert message in rows[row_name].message, rows[row_name].message
