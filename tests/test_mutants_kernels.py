"""Plausible wrong solutions of the kernel lessons' exercises, each failing on the row that names its mistake, and
correct ones written differently, which pass.

The K1 kernels that store or load out of bounds run in this process: the guard bands around every tensor they
receive take the stray accesses (without them, Triton's interpreter can abort the process).
"""

from __future__ import annotations

import pytest
import torch

from check_support import edited_solution, executed
from lrnn_course.check import check_quietly
from lrnn_course.kernels import scan as kernel_scan
from lrnn_course.kernels.scan import launch_scan

OUT_OF_BOUNDS_ROW = "no load or store out of bounds"
VALID = "valid = (scan_order[:, None] < steps) & column_mask[None, :]"
ROW_OFFSETS = "row_offsets = (batch * steps + times[:, None]) * width + columns[None, :]"
GATE_OFFSETS = "gate_offsets = (batch * steps + gate_times[:, None]) * width + columns[None, :]"
STORE = "tl.store(h_ptr + row_offsets, states.to(h_ptr.dtype.element_ty), mask=valid)"
EARLIER_BEFORE_LATER = "tl.where(later, alpha[:, None], 1.0)"
DECAY = f"decay = tl.where(rows[:, None] >= rows[None, :], tl.cumprod({EARLIER_BEFORE_LATER}, axis=0), 0.0)"


def scan_backward_with_current_states(a, h0, h, grad_h):
    grad_a, grad_b, grad_h0 = kernel_scan.scan_backward(a, h0, h, grad_h)
    return grad_b * h, grad_b, grad_h0


def scan_backward_forgetting_the_first_gate(a, h0, h, grad_h):
    grad_a, grad_b, _ = kernel_scan.scan_backward(a, h0, h, grad_h)
    return grad_a, grad_b, grad_b[:, 0]


# (exercise, mutant name, line fragment of the solution, its replacement, row, message)
KERNEL_MUTANTS = [
    ("K1.diagonal_scan_kernel", "kernel_without_carry",
     "carry = tl.sum(tl.where(block_times[:, None] == BLOCK_T - 1, states, 0.0), axis=0)", "carry = carry",
     "the carry crosses blocks: T = 300", "first mismatch"),
    ("K1.diagonal_scan_kernel", "kernel_ignoring_the_carry",
     "states = gate_products * carry[None, :] + local_states", "states = local_states",
     "initial state and long memory", "first mismatch"),
    ("K1.diagonal_scan_kernel", "kernel_scanning_inputs_as_gates",
     "tl.associative_scan((gates, inputs)", "tl.associative_scan((inputs, gates)", "one block: T = 8, D = 3", "first mismatch"),
    # The closed form h = A_cum (h_in + cumsum(b / A_cum)): right until a gate is exactly 0.
    ("K1.diagonal_scan_kernel", "kernel_dividing_by_the_gate_products",
     "gate_products, local_states = tl.associative_scan((gates, inputs), axis=0, combine_fn=_compose)",
     "gate_products = tl.cumprod(gates, axis=0)\n        local_states = gate_products * tl.cumsum(inputs / gate_products, axis=0)",
     "gates of exactly 0, -1 and 1", "non-finite"),
    ("K1.diagonal_scan_kernel", "kernel_stopping_a_step_early", VALID, VALID.replace("< steps", "< steps - 1"),
     "one block: T = 8, D = 3", "never stored h at [b=0, t=7, d=0]"),
    # Out of bounds: the guard bands take the stray stores and loads, so this process lives on to report them.
    ("K1.diagonal_scan_kernel", "kernel_without_its_column_mask", VALID, "valid = scan_order[:, None] < steps", OUT_OF_BOUNDS_ROW,
     "wrote 11 elements past the end of h (out of bounds): that is columns past D in the last row: check the column mask"),
    ("K1.diagonal_scan_kernel", "kernel_without_its_time_mask", VALID, "valid = column_mask[None, :]", OUT_OF_BOUNDS_ROW,
     "past the end of h (out of bounds): that is steps past T in the last block: check the time mask"),
    ("K1.diagonal_scan_kernel", "kernel_storing_without_a_mask", STORE, STORE.replace(", mask=valid", ""), OUT_OF_BOUNDS_ROW,
     "past the end of h (out of bounds): that is steps past T and columns past D: check the time mask and the column mask"),
    ("K1.diagonal_scan_kernel", "kernel_with_a_row_stride_of_block_d", ROW_OFFSETS, ROW_OFFSETS.replace("* width", "* BLOCK_D"),
     OUT_OF_BOUNDS_ROW, "past the end of h (out of bounds): that is where a row stride of BLOCK_D puts the last rows"),
    ("K1.diagonal_scan_kernel", "kernel_with_a_row_stride_of_t", ROW_OFFSETS, ROW_OFFSETS.replace("* width", "* steps"),
     OUT_OF_BOUNDS_ROW, "past the end of h (out of bounds): that is where a row stride of T puts the last rows"),
    ("K1.diagonal_scan_kernel", "kernel_loading_gates_with_a_row_stride_of_t", GATE_OFFSETS, GATE_OFFSETS.replace("* width", "* steps"),
     OUT_OF_BOUNDS_ROW, "read outside a (out of bounds): the NaN of its guard band reached h at [b=1, t=29, d=0]"),
    ("K2.scan_backward", "scan_backward_with_a_forward_launch", "reverse=True", "reverse=False",
     "dL/db are the adjoints: T = 9", "first mismatch"),
    ("K3.forward_substitution", "substitution_adding_the_rows_above",
     "new_row = tl.where(rows == i, 1.0, 0.0) - tl.sum(", "new_row = tl.where(rows == i, 1.0, 0.0) + tl.sum(",
     "two steps by hand: T₂₁ = -β₂ k₂ᵀk₁ = -1.2", "first mismatch"),
    ("K3.forward_substitution", "substitution_skipping_the_last_row",
     "for i in range(1, CHUNK):", "for i in range(1, CHUNK - 1):", "several chunks with a decay Γ: T = 150", "first mismatch"),
    # Right under the interpreter, whose chunks hold 16 steps; wrong compiled, where they hold 32.
    ("K3.forward_substitution", "substitution_of_a_chunk_of_16",
     "for i in range(1, CHUNK):", "for i in range(1, 16):", "T read whole at chunks of 16 and 32 (a GPU's)",
     "T at a chunk of 32: first mismatch at [i=16"),
    ("K4.chunk_gates", "gates_by_dividing_cumulative_products", DECAY,
     "decay = tl.where(rows[:, None] >= rows[None, :], tl.cumprod(alpha, axis=0)[:, None] / tl.cumprod(alpha, axis=0)[None, :], 0.0)",
     "resets (α = 0) across chunks: T = 150", "non-finite"),
    ("K4.chunk_gates", "gates_in_log_space", DECAY,
     "decay = tl.where(rows[:, None] >= rows[None, :], "
     "tl.exp(tl.cumsum(tl.log(alpha), axis=0)[:, None] - tl.cumsum(tl.log(alpha), axis=0)[None, :]), 0.0)",
     "resets (α = 0) across chunks: T = 150", "non-finite"),
    ("K4.chunk_gates", "gates_including_the_own_step",
     EARLIER_BEFORE_LATER, "tl.where(later | (rows[:, None] == rows[None, :]), alpha[:, None], 1.0)",
     "random gates in one chunk", "first mismatch"),
    # The forward kernel masks Γ, so every forward row passes; the backward kernel's gradients are 40-140 % off.
    ("K4.chunk_gates", "gates_not_zeroed_above_the_diagonal", DECAY, f"decay = tl.cumprod({EARLIER_BEFORE_LATER}, axis=0)",
     "Γ read whole: zero above the diagonal, chunks of 16 and 32", "Γ above the diagonal is not 0: Γ[t=0, i=1] = 1"),
] if kernel_scan.triton is not None else []

MUTANTS = [
    *((exercise_id, edited_solution(exercise_id, name, old, new), row, message)
      for exercise_id, name, old, new, row, message in KERNEL_MUTANTS),
    ("K2.scan_backward", scan_backward_with_current_states, "dL/da needs the previous states", "first mismatch"),
    ("K2.scan_backward", scan_backward_forgetting_the_first_gate, "dL/dh0 and the carry across blocks: T = 50", "first mismatch"),
]



def scan_backward_by_flipping_time(a, h0, h, grad_h):
    """The adjoints from a forward launch over reversed time, with the gates a_{t+1} shifted in by hand."""
    later_gates = torch.cat((a[:, 1:], torch.ones_like(a[:, :1])), dim=1)  # the 1 past the end multiplies a zero carry
    adjoints = launch_scan(later_gates.flip(1), grad_h.flip(1), torch.zeros_like(h0), dtype=torch.float32).flip(1)
    previous_states = torch.roll(h, 1, dims=1)
    previous_states[:, 0] = h0
    return (adjoints * previous_states).to(a.dtype), adjoints.to(a.dtype), (a[:, 0] * adjoints[:, 0]).to(h0.dtype)


STEP_BY_STEP_KERNEL = '''
@triton.jit
def step_by_step_kernel(a_ptr, b_ptr, h0_ptr, h_ptr, steps, width, BLOCK_T: tl.constexpr, BLOCK_D: tl.constexpr,
                        REVERSE: tl.constexpr):
    batch = tl.program_id(0).to(tl.int64)
    columns = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    column_mask = columns < width
    state = tl.load(h0_ptr + batch * width + columns, mask=column_mask, other=0.0).to(tl.float32)
    for t in range(0, steps):
        offsets = (batch * steps + t) * width + columns
        gate = tl.load(a_ptr + offsets, mask=column_mask, other=1.0).to(tl.float32)
        state = gate * state + tl.load(b_ptr + offsets, mask=column_mask, other=0.0).to(tl.float32)
        tl.store(h_ptr + offsets, state, mask=column_mask)
'''

SUBSTITUTION_BY_FIXED_POINT = '''
@triton.jit
def substitution_by_fixed_point(strictly_lower, CHUNK: tl.constexpr):
    rows = tl.arange(0, CHUNK)
    identity = tl.where(rows[:, None] == rows[None, :], 1.0, 0.0)
    transform = identity
    for _ in range(1, CHUNK):  # T = I - A T, exact after CHUNK - 1 rounds since A is nilpotent
        transform = identity - tl.dot(strictly_lower, transform, input_precision="ieee")
    return transform
'''


def correct_alternatives():
    """(exercise, function) pairs that solve the exercise in another style or by another route."""
    if kernel_scan.triton is None:
        return []
    return [
        ("K1.diagonal_scan_kernel", executed("K1.diagonal_scan_kernel", STEP_BY_STEP_KERNEL, "step_by_step_kernel")),
        ("K1.diagonal_scan_kernel", edited_solution(
            "K1.diagonal_scan_kernel", "kernel_carrying_the_last_composition",
            "carry = tl.sum(tl.where(block_times[:, None] == BLOCK_T - 1, states, 0.0), axis=0)",
            "last = block_times[:, None] == BLOCK_T - 1\n        carry = "
            "tl.sum(tl.where(last, gate_products, 0.0), axis=0) * carry + tl.sum(tl.where(last, local_states, 0.0), axis=0)")),
        ("K2.scan_backward", scan_backward_by_flipping_time),
        ("K3.forward_substitution", executed("K3.forward_substitution", SUBSTITUTION_BY_FIXED_POINT, "substitution_by_fixed_point")),
        ("K3.forward_substitution", edited_solution(
            "K3.forward_substitution", "substitution_from_row_zero", "for i in range(1, CHUNK):", "for i in range(CHUNK):")),
        ("K4.chunk_gates", edited_solution(
            "K4.chunk_gates", "gates_masked_by_multiplying", DECAY,
            f"decay = tl.cumprod({EARLIER_BEFORE_LATER}, axis=0) * (rows[:, None] >= rows[None, :])")),
        ("K4.chunk_gates", edited_solution(
            "K4.chunk_gates", "gates_from_the_first_column", "return decay, tl.cumprod(alpha, axis=0)",
            "return decay, "
            "tl.sum(tl.where(rows[None, :] == 0, decay, 0.0), axis=1) * tl.sum(tl.where(rows == 0, alpha, 0.0), axis=0)")),
    ]


ALTERNATIVES = correct_alternatives()


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    # One check, not expect_fails_on_row and a second one: the row the report explains is red, so this asserts as much.
    result = check_quietly(exercise_id, mutant)
    assert result.diagnosis is not None and result.diagnosis.name == row_name, result.report()
    assert message in result.diagnosis.message, result.diagnosis.message


@pytest.mark.parametrize("exercise_id,solution", ALTERNATIVES, ids=[fn.__name__ for _, fn in ALTERNATIVES])
def test_correct_solutions_written_differently_pass(exercise_id, solution):
    result = check_quietly(exercise_id, solution)
    assert result.passed, result.report()
