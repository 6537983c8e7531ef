"""Plausible wrong solutions of Lessons kernels's exercises, each failing on the row that names its mistake."""

from __future__ import annotations

import pytest
import torch

from check_support import edited_solution, expect_fails_on_row
from lrnn_course.kernels import scan as kernel_scan

def scan_backward_with_current_states(a, h0, h, grad_h):
    grad_a, grad_b, grad_h0 = kernel_scan.scan_backward(a, h0, h, grad_h)
    return grad_b * h, grad_b, grad_h0


def scan_backward_forgetting_the_first_gate(a, h0, h, grad_h):
    grad_a, grad_b, _ = kernel_scan.scan_backward(a, h0, h, grad_h)
    return grad_a, grad_b, grad_b[:, 0]


KERNEL_MUTANTS = [
    ("K1.diagonal_scan_kernel", "kernel_without_carry",
     "carry = tl.sum(tl.where(block_times[:, None] == BLOCK_T - 1, states, 0.0), axis=0)", "carry = carry",
     "the carry crosses blocks: T = 300", "first mismatch"),
    ("K1.diagonal_scan_kernel", "kernel_ignoring_the_carry",
     "states = gate_products * carry[None, :] + local_states", "states = local_states",
     "initial state and long memory", "first mismatch"),
    ("K1.diagonal_scan_kernel", "kernel_scanning_inputs_as_gates",
     "tl.associative_scan((gates, inputs)", "tl.associative_scan((inputs, gates)", "one block: T = 8, D = 3", "first mismatch"),
    ("K3.forward_substitution", "substitution_adding_the_rows_above",
     "new_row = tl.where(rows == i, 1.0, 0.0) - tl.sum(", "new_row = tl.where(rows == i, 1.0, 0.0) + tl.sum(",
     "two steps by hand: T₂₁ = -β₂ k₂ᵀk₁ = -1.2", "first mismatch"),
    ("K3.forward_substitution", "substitution_skipping_the_last_row",
     "for i in range(1, CHUNK):", "for i in range(1, CHUNK - 1):", "several chunks with a decay Γ: T = 150", "first mismatch"),
    ("K4.chunk_gates", "gates_by_dividing_cumulative_products",
     "decay = tl.where(rows[:, None] >= rows[None, :], tl.cumprod(tl.where(later, alpha[:, None], 1.0), axis=0), 0.0)",
     "decay = tl.where(rows[:, None] >= rows[None, :], tl.cumprod(alpha, axis=0)[:, None] / tl.cumprod(alpha, axis=0)[None, :], 0.0)",
     "resets (α = 0) across chunks: T = 150", "non-finite"),
    ("K4.chunk_gates", "gates_including_the_own_step",
     "tl.where(later, alpha[:, None], 1.0)", "tl.where(later | (rows[:, None] == rows[None, :]), alpha[:, None], 1.0)",
     "random gates in one chunk", "first mismatch"),
] if kernel_scan.triton is not None else []

MUTANTS = [
    *((exercise_id, edited_solution(exercise_id, name, old, new), row, message)
      for exercise_id, name, old, new, row, message in KERNEL_MUTANTS),
    ("K2.scan_backward", scan_backward_with_current_states, "dL/da needs the previous states", "first mismatch"),
    ("K2.scan_backward", scan_backward_forgetting_the_first_gate, "dL/dh0 and the carry across blocks: T = 50", "first mismatch"),
]


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
