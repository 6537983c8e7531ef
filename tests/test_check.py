"""The checker: solutions pass, generated stubs fail, and plausible wrong solutions fail on the right row."""

from __future__ import annotations

import pytest
import torch

import test_mutants_01_02
import test_mutants_03_05
import test_mutants_06_08
import test_mutants_09
import test_mutants_kernels
from check_support import stub_of
from lrnn_course import scan
from lrnn_course.check import check, check_quietly
from lrnn_course.checks import EXERCISES


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_every_solution_passes(exercise_id):
    result = check_quietly(exercise_id, EXERCISES[exercise_id].solution)
    assert result.passed, result.report()
    assert len(result.rows) >= 5


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_every_stub_fails_every_row_with_a_clear_message(exercise_id):
    result = check_quietly(exercise_id, stub_of(exercise_id))
    assert not result.passed
    failed = [row for row in result.rows if not row.passed]
    assert failed, result.report()
    assert all("NotImplementedError" in row.message or "not implemented" in row.message for row in failed)



def test_every_exercise_has_mutants():
    areas = (test_mutants_01_02, test_mutants_03_05, test_mutants_06_08, test_mutants_09, test_mutants_kernels)
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
    assert "Look at matches (a1·a2, a2·b1 + b2): the input part (second element): first mismatch" in printed
    assert "Hint 1: Apply (a1, b1) first" in printed
    assert not result and "01.combine: " in repr(result)


def test_unknown_exercise_and_non_function_are_rows_not_crashes():
    unknown = check_quietly("01.sequental_scan", scan.sequential_scan)
    assert not unknown and "did you mean 01.sequential_scan" in unknown.rows[0].message
    assert not check_quietly("01.combine", 42)
