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
from lrnn_course.check import CUT_GRAPH_HINTS, INPUTS_ROW, cases_of, check, check_quietly, inputs_unchanged
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


def test_writing_into_an_input_is_its_own_row_where_the_exercise_has_none():
    def combine_in_place(earlier, later):
        (a1, b1), (a2, b2) = earlier, later
        return a1.mul_(a2), b1.mul_(a2).add_(b2)

    result = check_quietly("01.combine", combine_in_place)
    rows = {row.name: row for row in result.rows}
    assert rows[INPUTS_ROW] is result.rows[-1] and not rows[INPUTS_ROW].passed
    assert "modified its inputs `earlier`" in rows[INPUTS_ROW].message
    assert rows["matches (a1·a2, a2·b1 + b2)"].passed  # copies keep every expected value right
    assert check_quietly("01.combine", EXERCISES["01.combine"].solution).rows[-1].passed


def test_only_exercises_that_take_tensors_and_have_no_row_of_their_own_get_the_automatic_row():
    automatic = {exercise for exercise in EXERCISES if cases_of(exercise)[-1].run is inputs_unchanged}
    assert "01.combine" in automatic and "09.ut_transform" in automatic
    assert not automatic & {"03.freeze_step", "05.reflection_product", "K1.diagonal_scan_kernel", "01.sequential_scan"}
