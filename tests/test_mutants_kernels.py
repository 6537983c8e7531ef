"""Plausible wrong solutions of the kernel lessons' exercises, each failing on the row that names its mistake, and
correct ones written differently, which pass.

The K1 kernels that store or load out of bounds run in this process: the guard bands around every tensor they
receive take the stray accesses (without them, Triton's interpreter can abort the process).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from check_support import edited_solution, executed

from lrnn_course._triton import triton_mode
from lrnn_course.checks import check_quietly
from lrnn_course.kernels import scan as kernel_scan
from lrnn_course.kernels.scan import launch_scan

OUT_OF_BOUNDS_ROW = "no load or store out of bounds"
VALID = "valid = (scan_order[:, None] < steps) & column_mask[None, :]"
ROW_OFFSETS = "row_offsets = (batch * steps + times[:, None]) * width + columns[None, :]"
GATE_OFFSETS = "gate_offsets = (batch * steps + gate_times[:, None]) * width + columns[None, :]"
STORE = "tl.store(h_ptr + row_offsets, states.to(h_ptr.dtype.element_ty), mask=valid)"
INPUTS_LOAD = "inputs = tl.load(b_ptr + row_offsets, mask=valid, other=0.0)"
H0_LOAD = "carry = tl.load(h0_ptr + batch * width + columns, mask=column_mask, other=0.0)"
BLOCK_LOOP = "for block_start in range(0, steps, BLOCK_T):"
FLOAT32_LOADS = (
    "other=1.0).to(tl.float32)\n        inputs = tl.load(b_ptr + row_offsets, mask=valid, other=0.0).to(tl.float32)"
)
ADJOINTS = "reverse=True, dtype=torch.float32)"
NEXT_ROW = "transform = tl.where(rows[:, None] == i, new_row[None, :], transform)"
COMBINATION = "tl.sum(row_of_a[:, None] * transform, axis=0)"
WHOLE_T_ROW = "T read whole at chunks of 16 and 32 (a GPU's)"
EARLIER_BEFORE_LATER = "tl.where(later, alpha[:, None], 1.0)"
DECAY = f"decay = tl.where(rows[:, None] >= rows[None, :], tl.cumprod({EARLIER_BEFORE_LATER}, axis=0), 0.0)"
GATES_RETURNED = "return decay, tl.cumprod(alpha, axis=0)"
WHOLE_DECAY_ROW = "Γ read whole: Γ[t, i] = alpha[i+1] ⋯ alpha[t] below the diagonal"
EXACT_ZEROS_ROW = "Γ and g exactly 0 after a reset (α = 0)"


def gates_in_log_space(clamp: str, gate: str) -> str:
    """Γ = exp(logs_t - logs_i), and g = ``gate``, from the logarithms of the gates clamped at ``clamp``."""
    return (
        f"logs = tl.cumsum(tl.log(tl.maximum(alpha, {clamp})), axis=0)\n"
        "    decay = tl.where(rows[:, None] >= rows[None, :], tl.exp(logs[:, None] - logs[None, :]), 0.0)\n"
        f"    return decay, {gate}"
    )


def scan_backward_with_current_states(a, h0, h, grad_h):
    grad_a, grad_b, grad_h0 = kernel_scan.scan_backward(a, h0, h, grad_h)
    return grad_b * h, grad_b, grad_h0


def scan_backward_forgetting_the_first_gate(a, h0, h, grad_h):
    grad_a, grad_b, _ = kernel_scan.scan_backward(a, h0, h, grad_h)
    return grad_a, grad_b, grad_b[:, 0]


def scan_backward_in_float32(a, h0, h, grad_h):
    adjoints = launch_scan(a, grad_h, torch.zeros(h0.shape, device=a.device), reverse=True, dtype=torch.float32)
    return adjoints * torch.cat((h0[:, None], h[:, :-1]), dim=1), adjoints, a[:, 0] * adjoints[:, 0]


def adjoints_by_a_loop(a, grad_h):
    """λ_t = a_{t+1} λ_{t+1} + g_t, step by step in float32."""
    adjoint, adjoints = torch.zeros_like(grad_h[:, 0], dtype=torch.float32), []
    for t in reversed(range(a.shape[1])):
        later_gate = a[:, t + 1].float() if t + 1 < a.shape[1] else torch.ones_like(adjoint)
        adjoint = later_gate * adjoint + grad_h[:, t].float()
        adjoints.insert(0, adjoint)
    return torch.stack(adjoints, dim=1)


def scan_backward_by_a_loop(a, h0, h, grad_h):
    adjoints = adjoints_by_a_loop(a, grad_h)
    previous_states = torch.cat((h0[:, None], h[:, :-1]), dim=1)
    return (adjoints * previous_states).to(a.dtype), adjoints.to(a.dtype), (a[:, 0] * adjoints[:, 0]).to(h0.dtype)


def scan_backward_by_autograd_in_float64(a, h0, h, grad_h):
    """A learner's shortcut: the inputs b recovered from the states, then autograd through a float64 loop."""
    with torch.enable_grad():
        gates, initial = a.double().requires_grad_(), h0.double().requires_grad_()
        previous_states = torch.cat((h0[:, None], h[:, :-1]), dim=1).double()
        inputs = (h.double() - a.double() * previous_states).requires_grad_()
        state, states = initial, []
        for t in range(a.shape[1]):
            state = gates[:, t] * state + inputs[:, t]
            states.append(state)
        grads = torch.autograd.grad((torch.stack(states, dim=1) * grad_h.double()).sum(), (gates, inputs, initial))
    return grads[0].to(a.dtype), grads[1].to(a.dtype), grads[2].to(h0.dtype)


def scan_backward_with_a_loop_for_db(a, h0, h, grad_h):
    grad_a, _, grad_h0 = kernel_scan.scan_backward(a, h0, h, grad_h)
    return grad_a, adjoints_by_a_loop(a, grad_h).to(a.dtype), grad_h0


def scan_backward_shifting_h_in_place(a, h0, h, grad_h):
    adjoints = launch_scan(a, grad_h, torch.zeros(h0.shape, device=a.device), reverse=True, dtype=torch.float32)
    previous_states = h
    previous_states[:, 1:] = h[:, :-1].clone()
    previous_states[:, 0] = h0
    return (adjoints * previous_states).to(a.dtype), adjoints.to(a.dtype), (a[:, 0] * adjoints[:, 0]).to(h0.dtype)


# (exercise, mutant name, line fragment of the solution, its replacement, row, message)
KERNEL_MUTANTS = (
    [
        (
            "K1.diagonal_scan_kernel",
            "kernel_without_carry",
            "carry = tl.sum(tl.where(block_times[:, None] == BLOCK_T - 1, states, 0.0), axis=0)",
            "carry = carry",
            "the carry crosses blocks: T = 300",
            "first mismatch",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_ignoring_the_carry",
            "states = gate_products * carry[None, :] + local_states",
            "states = local_states",
            "initial state and long memory",
            "first mismatch",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_scanning_inputs_as_gates",
            "tl.associative_scan((gates, inputs)",
            "tl.associative_scan((inputs, gates)",
            "one block: T = 8, D = 3",
            "first mismatch",
        ),
        # The closed form h = A_cum (h_in + cumsum(b / A_cum)): right until a gate is exactly 0.
        (
            "K1.diagonal_scan_kernel",
            "kernel_dividing_by_the_gate_products",
            "gate_products, local_states = tl.associative_scan((gates, inputs), axis=0, combine_fn=_compose)",
            "gate_products = tl.cumprod(gates, axis=0)\n        local_states = gate_products * tl.cumsum(inputs / "
            "gate_products, axis=0)",
            "gates of exactly 0, -1 and 1",
            "non-finite",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_stopping_a_step_early",
            VALID,
            VALID.replace("< steps", "< steps - 1"),
            "one block: T = 8, D = 3",
            "never stored h at [b=0, t=7, d=0] (3 of 24 entries left unwritten): no step from t = 7 on is "
            "stored, inside a block of 16 steps: the time mask of the store is times < steps",
        ),
        # Out of bounds: the guard bands take the stray stores and loads, so this process lives on to report them.
        (
            "K1.diagonal_scan_kernel",
            "kernel_without_its_column_mask",
            VALID,
            "valid = scan_order[:, None] < steps",
            OUT_OF_BOUNDS_ROW,
            "wrote 11 elements past the end of h (out of bounds): that is columns past D in the last row: check the "
            "column mask",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_without_its_time_mask",
            VALID,
            "valid = column_mask[None, :]",
            OUT_OF_BOUNDS_ROW,
            "past the end of h (out of bounds): that is steps past T in the last block: check the time mask",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_storing_without_a_mask",
            STORE,
            STORE.replace(", mask=valid", ""),
            OUT_OF_BOUNDS_ROW,
            "past the end of h (out of bounds): that is steps past T in the last block and columns past D in the last "
            "row: check the time mask of the store; check the column mask of the store",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_with_a_row_stride_of_block_d",
            ROW_OFFSETS,
            ROW_OFFSETS.replace("* width", "* BLOCK_D"),
            OUT_OF_BOUNDS_ROW,
            "past the end of h (out of bounds): that is where a row stride of BLOCK_D puts the last rows",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_with_a_row_stride_of_t",
            ROW_OFFSETS,
            ROW_OFFSETS.replace("* width", "* steps"),
            OUT_OF_BOUNDS_ROW,
            "past the end of h (out of bounds): that is where a row stride of T puts the last rows",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_loading_gates_with_a_row_stride_of_t",
            GATE_OFFSETS,
            GATE_OFFSETS.replace("* width", "* steps"),
            OUT_OF_BOUNDS_ROW,
            " a (out of bounds): ",
        ),  # by its addresses under the interpreter, by the NaN of a's band compiled
        (
            "K1.diagonal_scan_kernel",
            "kernel_storing_one_step_past_t",
            VALID,
            VALID.replace("< steps", "<= steps"),
            OUT_OF_BOUNDS_ROW,
            "wrote 37 elements past the end of h (out of bounds): that is one step past T: the time mask of the store "
            "is `times < steps`, not `times <= steps`",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_with_a_row_stride_of_t_inside_each_batch_row",
            ROW_OFFSETS,
            "row_offsets = batch * steps * width + times[:, None] * steps + columns[None, :]",
            OUT_OF_BOUNDS_ROW,
            "past the end of h (out of bounds): that is where a row stride of T inside each batch row puts its last "
            "rows",
        ),
        # Each program stores at (b + t) · D: batch row 0 whole, the later ones in part.
        (
            "K1.diagonal_scan_kernel",
            "kernel_with_a_batch_offset_of_one_row",
            f"{ROW_OFFSETS}\n        {GATE_OFFSETS}",
            f"{ROW_OFFSETS}\n        {GATE_OFFSETS}".replace("(batch * steps +", "(batch +"),
            "batch rows apart: B = 3, T = 8, D = 3",
            "while batch row 0 is stored whole: check the batch offset",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_stopping_a_block_early",
            BLOCK_LOOP,
            BLOCK_LOOP.replace("steps,", "steps - 1,"),
            "a last block of one step: T = 257",
            "no step from t = 256 on is stored, as if the block loop stopped there",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_of_one_block",
            BLOCK_LOOP,
            BLOCK_LOOP.replace("steps,", "BLOCK_T,"),
            "the carry crosses blocks: T = 300",
            "no step from t = 16 on is stored",
        ),
        (
            "K1.diagonal_scan_kernel",
            "kernel_scanning_in_half_precision",
            FLOAT32_LOADS,
            FLOAT32_LOADS.replace(".to(tl.float32)", ""),
            "float16 and bfloat16 inputs: the scan runs in float32",
            "h from float16 inputs: first mismatch",
        ),
        (
            "K2.scan_backward",
            "scan_backward_with_a_forward_launch",
            "reverse=True",
            "reverse=False",
            "dL/db are the adjoints: T = 9",
            "first mismatch",
        ),
        (
            "K2.scan_backward",
            "scan_backward_with_adjoints_in_the_gates_dtype",
            ADJOINTS,
            "reverse=True)",
            "bfloat16 gates, float32 h0: dtypes kept, adjoints in float32",
            "first mismatch",
        ),
        (
            "K3.forward_substitution",
            "substitution_in_half_precision",
            NEXT_ROW,
            NEXT_ROW + ".to(tl.float16)",
            "returns a float32 block",
            "returned a block of 16-bit floats: return T as a float32 block",
        ),
        (
            "K3.forward_substitution",
            "substitution_walking_the_rows_backwards",
            "for i in range(1, CHUNK):",
            "for i in range(CHUNK - 1, 0, -1):",
            WHOLE_T_ROW,
            "rows 0 to 1 are right, row 2 is not",
        ),
        (
            "K3.forward_substitution",
            "substitution_combining_columns",
            COMBINATION,
            "tl.sum(row_of_a[None, :] * transform, axis=1)",
            WHOLE_T_ROW,
            "rows 0 to 1 are right, row 2 is not",
        ),
        (
            "K3.forward_substitution",
            "substitution_combining_rows_of_a",
            COMBINATION,
            "row_of_a",
            WHOLE_T_ROW,
            "rows 0 to 1 are right, row 2 is not",
        ),
        (
            "K3.forward_substitution",
            "substitution_adding_the_rows_above",
            "new_row = tl.where(rows == i, 1.0, 0.0) - tl.sum(",
            "new_row = tl.where(rows == i, 1.0, 0.0) + tl.sum(",
            "two steps by hand: T₂₁ = -β₂ k₂ᵀk₁ = -1.2",
            "first mismatch",
        ),
        (
            "K3.forward_substitution",
            "substitution_skipping_the_last_row",
            "for i in range(1, CHUNK):",
            "for i in range(1, CHUNK - 1):",
            WHOLE_T_ROW,
            "only the last row, i = 15, is wrong",
        ),
        # Right under the interpreter, whose chunks hold 16 steps; wrong compiled, where they hold 32.
        (
            "K3.forward_substitution",
            "substitution_of_a_chunk_of_16",
            "for i in range(1, CHUNK):",
            "for i in range(1, 16):",
            WHOLE_T_ROW,
            "none from 16 on is: the loop must cover the block it is given, range(1, CHUNK). T at a chunk of 32: "
            "first mismatch at [i=16",
        ),
        (
            "K4.chunk_gates",
            "gates_by_dividing_cumulative_products",
            DECAY,
            "decay = tl.where(rows[:, None] >= rows[None, :], tl.cumprod(alpha, axis=0)[:, None] / tl.cumprod(alpha, "
            "axis=0)[None, :], 0.0)",
            WHOLE_DECAY_ROW,
            "non-finite",
        ),
        (
            "K4.chunk_gates",
            "gates_in_log_space",
            DECAY,
            "decay = tl.where(rows[:, None] >= rows[None, :], "
            "tl.exp(tl.cumsum(tl.log(alpha), axis=0)[:, None] - tl.cumsum(tl.log(alpha), axis=0)[None, :]), 0.0)",
            WHOLE_DECAY_ROW,
            "non-finite",
        ),
        # Clamped, the logarithms are finite: Γ and g after a reset come out tiny, within every tolerance, but not 0.
        (
            "K4.chunk_gates",
            "gates_in_log_space_clamped_at_1e_6",
            f"{DECAY}\n    {GATES_RETURNED}",
            gates_in_log_space("1e-6", "tl.exp(logs)"),
            EXACT_ZEROS_ROW,
            "after the reset alpha[5] = 0: it must be exactly 0",
        ),
        (
            "K4.chunk_gates",
            "gates_in_log_space_clamped_at_1e_30",
            f"{DECAY}\n    {GATES_RETURNED}",
            gates_in_log_space("1e-30", "tl.cumprod(alpha, axis=0)"),
            EXACT_ZEROS_ROW,
            "Γ[t=5, i=0] = ",
        ),
        (
            "K4.chunk_gates",
            "gates_in_log_space_clamped_at_1e_4",
            f"{DECAY}\n    {GATES_RETURNED}",
            gates_in_log_space("1e-4", "tl.exp(logs)"),
            WHOLE_DECAY_ROW,
            "alpha[5] = 0 lies between steps i and t",
        ),
        (
            "K4.chunk_gates",
            "gates_including_the_own_step",
            EARLIER_BEFORE_LATER,
            "tl.where(later | (rows[:, None] == rows[None, :]), alpha[:, None], 1.0)",
            WHOLE_DECAY_ROW,
            "first mismatch at [t=0, i=0]",
        ),
        (
            "K4.chunk_gates",
            "gates_multiplied_along_rows",
            f"tl.cumprod({EARLIER_BEFORE_LATER}, axis=0)",
            f"tl.cumprod({EARLIER_BEFORE_LATER}, axis=1)",
            WHOLE_DECAY_ROW,
            "first mismatch at [t=1, i=1]",
        ),
        (
            "K4.chunk_gates",
            "gates_transposed",
            DECAY,
            f"decay = tl.trans(tl.where(rows[:, None] >= rows[None, :], "
            f"tl.cumprod({EARLIER_BEFORE_LATER}, axis=0), 0.0))",
            "Γ read whole: zero above the diagonal, chunks of 16 and 32",
            "Your Γ is the transpose of the right one",
        ),
        (
            "K4.chunk_gates",
            "gates_skipping_the_first_gate_in_g",
            GATES_RETURNED,
            "return decay, tl.cumprod(tl.where(rows == 0, 1.0, alpha), axis=0)",
            "g read whole: g[t] = alpha[0] ⋯ alpha[t]",
            "g at a chunk of 16: first mismatch at [t=0]",
        ),
        # The forward kernel masks Γ, so every forward row passes; the backward kernel's gradients are 40-140 % off.
        (
            "K4.chunk_gates",
            "gates_not_zeroed_above_the_diagonal",
            DECAY,
            f"decay = tl.cumprod({EARLIER_BEFORE_LATER}, axis=0)",
            "Γ read whole: zero above the diagonal, chunks of 16 and 32",
            "Γ above the diagonal is not 0: Γ[t=0, i=1] = 1",
        ),
    ]
    if kernel_scan.triton is not None
    else []
)

MUTANTS = [
    *(
        (exercise_id, edited_solution(exercise_id, name, old, new), row, message)
        for exercise_id, name, old, new, row, message in KERNEL_MUTANTS
    ),
    ("K2.scan_backward", scan_backward_with_current_states, "dL/da needs the previous states", "first mismatch"),
    (
        "K2.scan_backward",
        scan_backward_forgetting_the_first_gate,
        "dL/dh0 and the carry across blocks: T = 50",
        "first mismatch",
    ),
    (
        "K2.scan_backward",
        scan_backward_in_float32,
        "bfloat16 gates, float32 h0: dtypes kept, adjoints in float32",
        "dL/da has dtype torch.float32 for torch.bfloat16 gates",
    ),
    ("K2.scan_backward", scan_backward_by_a_loop, "the adjoints come from launch_scan", "never called launch_scan"),
    (
        "K2.scan_backward",
        scan_backward_by_autograd_in_float64,
        "the adjoints come from launch_scan",
        "never called launch_scan",
    ),
    (
        "K2.scan_backward",
        scan_backward_with_a_loop_for_db,
        "the adjoints come from launch_scan",
        "dL/db should be the stand-in's adjoints",
    ),
    # The values are right: only the automatic row sees the write into h.
    (
        "K2.scan_backward",
        scan_backward_shifting_h_in_place,
        "does not modify its inputs",
        "modified its input `h` in place",
    ),
]
# Loads are watched lane by lane only under the interpreter; compiled, a load out of bounds shows only where its NaN
# reaches h, which these loads' NaN does not (they are masked out of the stores and of the carry).
if triton_mode() == "interpreter":
    MUTANTS += [
        (exercise_id, edited_solution(exercise_id, name, old, new), row, message)
        for exercise_id, name, old, new, row, message in (
            (
                "K1.diagonal_scan_kernel",
                "kernel_loading_past_the_end_of_time",
                INPUTS_LOAD,
                INPUTS_LOAD.replace("mask=valid", "mask=column_mask[None, :]"),
                OUT_OF_BOUNDS_ROW,
                "read 111 elements past the end of b (out of bounds): that is steps past T in the last block: check "
                "the time mask of the load",
            ),
            (
                "K1.diagonal_scan_kernel",
                "kernel_loading_past_the_last_column",
                INPUTS_LOAD,
                INPUTS_LOAD.replace("mask=valid", "mask=scan_order[:, None] < steps"),
                OUT_OF_BOUNDS_ROW,
                "read 11 elements past the end of b (out of bounds): that is columns past D in the last row: check "
                "the column mask of the load",
            ),
            (
                "K1.diagonal_scan_kernel",
                "kernel_loading_h0_without_its_mask",
                H0_LOAD,
                H0_LOAD.replace(", mask=column_mask, other=0.0", ""),
                OUT_OF_BOUNDS_ROW,
                "read 11 elements past the end of h0 (out of bounds): that is columns past D in the last row",
            ),
        )
    ]


def scan_backward_by_flipping_time(a, h0, h, grad_h):
    """The adjoints from a forward launch over reversed time, with the gates a_{t+1} shifted in by hand."""
    later_gates = torch.cat((a[:, 1:], torch.ones_like(a[:, :1])), dim=1)  # the 1 past the end multiplies a zero carry
    adjoints = launch_scan(later_gates.flip(1), grad_h.flip(1), torch.zeros_like(h0), dtype=torch.float32).flip(1)
    previous_states = torch.roll(h, 1, dims=1)
    previous_states[:, 0] = h0
    return (adjoints * previous_states).to(a.dtype), adjoints.to(a.dtype), (a[:, 0] * adjoints[:, 0]).to(h0.dtype)


def scan_backward_through_diagonal_scan(a, h0, h, grad_h):
    """The adjoints as the states of the course's forward kernel over reversed time, through diagonal_scan, in
    float32."""
    later_gates = torch.cat((a[:, 1:], torch.ones_like(a[:, :1])), dim=1).float()
    adjoints = kernel_scan.diagonal_scan(later_gates.flip(1), grad_h.float().flip(1)).flip(1)
    previous_states = torch.cat((h0[:, None], h[:, :-1]), dim=1)
    return (adjoints * previous_states).to(a.dtype), adjoints.to(a.dtype), (a[:, 0] * adjoints[:, 0]).to(h0.dtype)


STEP_BY_STEP_KERNEL = """
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
"""

SUBSTITUTION_BY_FIXED_POINT = """
@triton.jit
def substitution_by_fixed_point(strictly_lower, CHUNK: tl.constexpr):
    rows = tl.arange(0, CHUNK)
    identity = tl.where(rows[:, None] == rows[None, :], 1.0, 0.0)
    transform = identity
    for _ in range(1, CHUNK):  # T = I - A T, exact after CHUNK - 1 rounds since A is nilpotent
        transform = identity - tl.dot(strictly_lower, transform, input_precision="ieee")
    return transform
"""

GATES_BY_ASSOCIATIVE_SCAN = """
@triton.jit
def _times(x, y):
    return x * y


@triton.jit
def gates_by_associative_scan(alpha, CHUNK: tl.constexpr):
    rows = tl.arange(0, CHUNK)
    factors = tl.where(rows[:, None] > rows[None, :], alpha[:, None], 1.0)
    decay = tl.where(rows[:, None] >= rows[None, :], tl.associative_scan(factors, axis=0, combine_fn=_times), 0.0)
    first = tl.sum(tl.where(rows == 0, alpha, 0.0), axis=0)
    return decay, first * tl.sum(tl.where(rows[None, :] == 0, decay, 0.0), axis=1)
"""


def correct_alternatives():
    """(exercise, function) pairs that solve the exercise in another style or by another route."""
    if kernel_scan.triton is None:
        return []
    return [
        ("K1.diagonal_scan_kernel", executed("K1.diagonal_scan_kernel", STEP_BY_STEP_KERNEL, "step_by_step_kernel")),
        (
            "K1.diagonal_scan_kernel",
            edited_solution(
                "K1.diagonal_scan_kernel",
                "kernel_carrying_the_last_composition",
                "carry = tl.sum(tl.where(block_times[:, None] == BLOCK_T - 1, states, 0.0), axis=0)",
                "last = block_times[:, None] == BLOCK_T - 1\n        carry = "
                "tl.sum(tl.where(last, gate_products, 0.0), axis=0) * carry + tl.sum(tl.where(last, local_states, "
                "0.0), axis=0)",
            ),
        ),
        ("K2.scan_backward", scan_backward_by_flipping_time),
        ("K2.scan_backward", scan_backward_through_diagonal_scan),
        (
            "K3.forward_substitution",
            executed("K3.forward_substitution", SUBSTITUTION_BY_FIXED_POINT, "substitution_by_fixed_point"),
        ),
        (
            "K3.forward_substitution",
            edited_solution(
                "K3.forward_substitution",
                "substitution_from_row_zero",
                "for i in range(1, CHUNK):",
                "for i in range(CHUNK):",
            ),
        ),
        (
            "K4.chunk_gates",
            edited_solution(
                "K4.chunk_gates",
                "gates_masked_by_multiplying",
                DECAY,
                f"decay = tl.cumprod({EARLIER_BEFORE_LATER}, axis=0) * (rows[:, None] >= rows[None, :])",
            ),
        ),
        (
            "K4.chunk_gates",
            edited_solution(
                "K4.chunk_gates",
                "gates_from_the_first_column",
                "return decay, tl.cumprod(alpha, axis=0)",
                "return decay, "
                "tl.sum(tl.where(rows[None, :] == 0, decay, 0.0), axis=1) * tl.sum(tl.where(rows == 0, alpha, 0.0), "
                "axis=0)",
            ),
        ),
        ("K4.chunk_gates", executed("K4.chunk_gates", GATES_BY_ASSOCIATIVE_SCAN, "gates_by_associative_scan")),
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


KERNEL_DEFINED_BEFORE_THE_COURSE = """
import triton
import triton.language as tl
from lrnn_course.checks import check_quietly


@triton.jit
def kernel(
    a_ptr, b_ptr, h0_ptr, h_ptr, steps, width, BLOCK_T: tl.constexpr, BLOCK_D: tl.constexpr, REVERSE: tl.constexpr
):
    pass


print(check_quietly("K1.diagonal_scan_kernel", kernel).diagnosis.message)
"""


@pytest.mark.skipif(
    kernel_scan.triton is None or torch.cuda.is_available(),
    reason="needs Triton and no GPU (compiled, the order is free)",
)
def test_a_kernel_defined_before_the_course_is_imported_is_told_which_import_goes_first(tmp_path, monkeypatch):
    # Triton's library is built for the compiler when triton comes first; the interpreter cannot run it afterwards.
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    learner = tmp_path / "kernel.py"
    learner.write_text(KERNEL_DEFINED_BEFORE_THE_COURSE)
    done = subprocess.run([sys.executable, str(learner)], capture_output=True, text=True, timeout=300)
    assert "put `import lrnn_course.kernels` first, restart Python" in done.stdout, done.stdout + done.stderr
