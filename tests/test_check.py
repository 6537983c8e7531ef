"""The checker: solutions pass, generated stubs fail, and plausible wrong solutions fail on the right row."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import test_mutants_01_02
import torch
from check_support import stub_of

from lrnn_course import scan
from lrnn_course.checker import (
    CUT_GRAPH_HINTS,
    GENERAL,
    INPUTS_ROW,
    Case,
    Exercise,
    call_learner,
    expect_tensor_close,
    inputs_unchanged,
)
from lrnn_course.checks import EXERCISES, cases_of, check_quietly
from lrnn_course.grade import check


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_every_solution_passes(exercise_id):
    # Enforces CONTRIBUTING.md#rule-check-rows
    result = check_quietly(exercise_id, EXERCISES[exercise_id].solution)
    assert result.passed, result.report()
    assert len(result.rows) >= 5


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_every_stub_fails_every_row_with_a_clear_message(exercise_id):
    # Enforces CONTRIBUTING.md#rule-check-rows
    result = check_quietly(exercise_id, stub_of(exercise_id))
    assert not result.passed
    failed = [row for row in result.rows if not row.passed]
    assert failed, result.report()
    assert all("NotImplementedError" in row.message or "not implemented" in row.message for row in failed)


def test_every_exercise_has_mutants():
    # Enforces CONTRIBUTING.md#rule-mutants
    # every tests/test_mutants_*.py, so that a new lesson's mutants module counts without an edit here
    areas = [importlib.import_module(path.stem) for path in sorted(Path(__file__).parent.glob("test_mutants_*.py"))]
    assert {m[0] for area in areas for m in area.MUTANTS} == set(EXERCISES)


def test_a_learner_exception_becomes_a_red_row_naming_the_line():
    def divides_by_zero(a, b, h0=None):
        return a / 0 + 1 // 0

    result = check_quietly("01.sequential_scan", divides_by_zero)
    assert not any(row.passed for row in result.rows)
    assert "raised ZeroDivisionError" in result.rows[0].message
    assert "divides_by_zero: return a / 0 + 1 // 0" in result.rows[0].message


def test_nan_output_is_reported_with_its_index():
    result = check_quietly("01.sequential_scan", lambda a, b, h0=None: torch.full_like(a, float("nan")))
    row = next(r for r in result.rows if r.name == "matches the float64 loop")
    assert "non-finite value at [b=0, t=0, d=0]" in row.message


def test_check_prints_a_table_and_hints(capsys):
    result = check("01.combine", test_mutants_01_02.commutative_combine, hint=1)
    printed = capsys.readouterr().out
    assert printed.startswith("Checking 01.combine\n  ✗ matches (a1·a2, a2·b1 + b2)\n")
    assert "  ✗ the earlier step acts first\n" in printed and "  ✓ (1, 0) is the identity\n" in printed
    assert "Look at matches (a1·a2, a2·b1 + b2): the input part is a1·b2 + b1: the later step acted first" in printed
    assert "Hint 1: combine is not commutative: the later gate a2 multiplies the earlier input b1." in printed
    assert "Stuck? check(..., hint=2) shows a hint for this row." in printed
    assert not result and "01.combine: " in repr(result)


def test_unknown_exercise_and_non_function_are_rows_not_crashes():
    unknown = check_quietly("01.sequental_scan", scan.sequential_scan)
    assert not unknown and "did you mean 01.sequential_scan" in unknown.rows[0].message
    assert not check_quietly("01.combine", 42)


def test_a_file_name_given_to_check_is_told_how_to_check_a_file():
    result = check_quietly("01.sequential_scan", "mine.py")
    assert [row.name for row in result.rows] == ["is a function"]
    assert result.rows[0].message == (
        "got the text 'mine.py': pass your function itself, check('01.sequential_scan', sequential_scan); "
        "to check a .py file, run `lrnn-course check 01.sequential_scan FILE` in a terminal"
    )


def test_values_equal_to_six_places_are_shown_to_twelve_with_a_float32_note():
    def in_float32(a, b, h0=None):
        return scan.sequential_scan(a.float(), b.float(), None if h0 is None else h0.float()).double()

    result = check_quietly("01.sequential_scan", in_float32)
    message = next(row.message for row in result.rows if "first mismatch" in row.message)
    yours, expected = message.split("yours ")[1].split(", expected ")
    assert f"{float(yours):.6f}" == f"{float(expected.split(' ')[0]):.6f}" and yours != expected.split(" ")[0]
    assert "about float32's rounding" in message


def test_an_exception_on_every_row_is_explained_on_the_first_row_it_happens():
    def raises(earlier, later):
        raise ValueError("shapes do not match")

    result = check_quietly("01.combine", raises)
    assert result.diagnosis is result.rows[0]


def test_a_case_may_give_hints_for_the_way_it_failed():
    def detached(a, b, h0=None):
        return scan.sequential_scan(a.detach(), b.detach(), None if h0 is None else h0.detach())

    row = next(row for row in check_quietly("01.sequential_scan", detached).rows if row.name == "connected to autograd")
    assert not row.passed and row.hints == CUT_GRAPH_HINTS


def doubled(x: torch.Tensor) -> torch.Tensor:
    """A toy exercise's solution: 2 x."""
    return 2 * x


def doubled_in_place(x):
    return x.mul_(2)


def doubled_floats(x: float) -> float:
    return 2 * x


def toy_exercise(solution) -> Exercise:
    def values(fn):
        x = torch.arange(3.0)
        expect_tensor_close(call_learner(fn, x), 2 * x, "2 x")

    return Exercise("00.doubled", solution, (Case("2 x", values, priority=GENERAL),))


def test_writing_into_an_input_is_its_own_row_where_the_exercise_has_none(monkeypatch):
    monkeypatch.setitem(EXERCISES, "00.doubled", toy_exercise(doubled))
    result = check_quietly("00.doubled", doubled_in_place)
    assert [row.name for row in result.rows] == ["2 x", INPUTS_ROW]
    assert result.rows[0].passed  # the copies keep the expected values right
    assert not result.rows[1].passed and "modified its input `x` in place" in result.rows[1].message
    assert result.diagnosis is result.rows[1]
    assert check_quietly("00.doubled", doubled)


def test_an_exercise_that_takes_no_tensor_gets_no_automatic_row(monkeypatch):
    monkeypatch.setitem(EXERCISES, "00.doubled", toy_exercise(doubled_floats))
    assert [case.name for case in cases_of("00.doubled")] == ["2 x"]
    assert not any(
        cases_of(exercise)[-1].run is inputs_unchanged
        for exercise in ("05.reflection_product", "K1.diagonal_scan_kernel")
    )


def test_the_automatic_row_is_red_while_no_call_returned(monkeypatch):
    monkeypatch.setitem(EXERCISES, "00.doubled", toy_exercise(doubled))

    def stub(x):
        raise NotImplementedError()

    assert not any(row.passed for row in check_quietly("00.doubled", stub).rows)
