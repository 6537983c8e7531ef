"""Plausible wrong solutions of Lessons 01–02's exercises, each failing on the row that names its mistake."""

from __future__ import annotations

import math

import pytest
import torch

from check_support import edited_solution, expect_fails_on_row
from lrnn_course import mamba, scan
from lrnn_course.scan import combine

def ignores_h0(a, b, h0=None):
    h, states = torch.zeros_like(a[:, 0]), []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        states.append(h)
    return torch.stack(states, dim=1)


def gate_of_previous_step(a, b, h0=None):
    h = torch.zeros_like(a[:, 0]) if h0 is None else h0
    states = []
    for t in range(a.shape[1]):
        h = a[:, max(t - 1, 0)] * h + b[:, t]
        states.append(h)
    return torch.stack(states, dim=1)


def last_state_only(a, b, h0=None):
    return scan.sequential_scan(a, b, h0)[:, -1]


def absolute_gates(a, b, h0=None):
    return scan.sequential_scan(a.abs(), b, h0)


def preallocated_states(a, b, h0=None):
    out = torch.zeros_like(a)
    h = torch.zeros_like(a[:, 0]) if h0 is None else h0
    for t in range(a.shape[1]):
        out[:, t] = a[:, t] * (out[:, t - 1] if t else h) + b[:, t]
    return out


def upcasts(a, b, h0=None):
    return scan.sequential_scan(a.double(), b.double(), None if h0 is None else h0.double())


def writes_into_b(a, b, h0=None):
    h = torch.zeros_like(a[:, 0]) if h0 is None else h0
    for t in range(a.shape[1]):
        b[:, t] = a[:, t] * h + b[:, t]
        h = b[:, t]
    return b.clone()


def commutative_combine(earlier, later):
    (a1, b1), (a2, b2) = earlier, later
    return a1 * a2, a1 * b2 + b1


def input_part_only(earlier, later):
    return later[0] * earlier[1] + later[1]


def added_gates(earlier, later):
    (a1, b1), (a2, b2) = earlier, later
    return a1 + a2, a2 * b1 + b2


def combine_per_position(a, b, h0=None):
    state = (torch.ones_like(a[:, 0]), torch.zeros_like(b[:, 0]) if h0 is None else h0)
    states = []
    for t in range(a.shape[1]):
        state = combine(state, (a[:, t], b[:, t]))
        states.append(state[1])
    return torch.stack(states, dim=1)


def combines_in_the_wrong_order(a, b, h0=None):
    h0 = torch.zeros_like(a[:, 0]) if h0 is None else h0
    b = torch.cat([a[:, :1] * h0[:, None] + b[:, :1], b[:, 1:]], dim=1)
    offset = 1
    while offset < a.shape[1]:
        earlier_a = torch.cat([torch.ones_like(a[:, :offset]), a[:, :-offset]], dim=1)
        earlier_b = torch.cat([torch.zeros_like(b[:, :offset]), b[:, :-offset]], dim=1)
        a, b = combine((a, b), (earlier_a, earlier_b))
        offset *= 2
    return b


def floor_log2_rounds(a, b, h0=None):
    h0 = torch.zeros_like(a[:, 0]) if h0 is None else h0
    b = torch.cat([a[:, :1] * h0[:, None] + b[:, :1], b[:, 1:]], dim=1)
    for k in range(int(math.log2(a.shape[1]))):
        offset = 2**k
        earlier_a = torch.cat([torch.ones_like(a[:, :offset]), a[:, :-offset]], dim=1)
        earlier_b = torch.cat([torch.zeros_like(b[:, :offset]), b[:, :-offset]], dim=1)
        a, b = combine((earlier_a, earlier_b), (a, b))
    return b


def chunks_without_carry(a, b, h0=None, chunk_size=64):
    pieces = [scan.sequential_scan(a[:, i:i + chunk_size], b[:, i:i + chunk_size]) for i in range(0, a.shape[1], chunk_size)]
    return torch.cat(pieces, dim=1)


def carry_without_gate_products(a, b, h0=None, chunk_size=64):
    h = torch.zeros_like(a[:, 0]) if h0 is None else h0
    pieces = []
    for i in range(0, a.shape[1], chunk_size):
        local = scan.sequential_scan(a[:, i:i + chunk_size], b[:, i:i + chunk_size]) + h[:, None]
        pieces.append(local)
        h = local[:, -1]
    return torch.cat(pieces, dim=1)


def assumes_chunk_divides_t(a, b, h0=None, chunk_size=64):
    batch, steps, width = a.shape
    a.reshape(batch, steps // chunk_size, chunk_size, width)
    return scan.chunked_scan(a, b, h0, chunk_size=chunk_size)


def gates_without_exp_of_a_log(delta, A_log, negative=False):
    gates = torch.exp(-delta.unsqueeze(-1) * A_log)
    return 2 * gates - 1 if negative else gates


def negative_gates_by_sign_flip(delta, A_log, negative=False):
    gates = torch.exp(-delta.unsqueeze(-1) * torch.exp(A_log))
    return -gates if negative else gates


def gates_in_float64(delta, A_log, negative=False):
    return mamba.selective_gates(delta.double(), A_log.double(), negative)


def scan_without_delta_in_the_input(u, delta, A_log, B, C, D=None, negative=False):
    return mamba.selective_scan(u / delta, delta, A_log, B, C, D, negative)


def scan_ignoring_negative(u, delta, A_log, B, C, D=None, negative=False):
    return mamba.selective_scan(u, delta, A_log, B, C, D, negative=False)


def scan_with_skip_always(u, delta, A_log, B, C, D=None, negative=False):
    y = mamba.selective_scan(u, delta, A_log, B, C, None, negative)
    return y + u if D is None else y + D * u


def scan_reading_out_before_the_update(u, delta, A_log, B, C, D=None, negative=False):
    gates = mamba.selective_gates(delta, A_log, negative)
    drive = (delta * u).unsqueeze(-1) * B.unsqueeze(2)
    state, outputs = torch.zeros_like(gates[:, 0]), []
    for t in range(u.shape[1]):
        outputs.append((state * C[:, t].unsqueeze(1)).sum(-1))
        state = gates[:, t] * state + drive[:, t]
    y = torch.stack(outputs, dim=1)
    return y if D is None else y + D * u


MUTANTS = [
    ("01.sequential_scan", ignores_h0, "uses the initial state h0", "first mismatch"),
    ("01.sequential_scan", gate_of_previous_step, "matches the float64 loop", "first mismatch at [b=0, t=1"),
    ("01.sequential_scan", last_state_only, "returns h of shape (B, T, D)", "got (2, 3)"),
    ("01.sequential_scan", absolute_gates, "negative gates", "first mismatch"),
    ("01.sequential_scan", preallocated_states, "gradient matches autograd", "modified by an inplace operation"),
    ("01.sequential_scan", upcasts, "keeps float32 as float32", "dtype torch.float64"),
    ("01.sequential_scan", writes_into_b, "does not modify its inputs", "modified its input `b`"),
    ("01.combine", commutative_combine, "the earlier step acts first", "yours 17.000000, expected 22.000000"),
    ("01.combine", input_part_only, "matches (a1·a2, a2·b1 + b2)", "expected a pair (a, b)"),
    ("01.combine", added_gates, "matches (a1·a2, a2·b1 + b2)", "the gate part"),
    ("01.hillis_steele_scan", combine_per_position, "uses ⌈log2 T⌉ rounds of combine", "called 63 times"),
    ("01.hillis_steele_scan", combines_in_the_wrong_order, "matches the float64 loop", "h: first mismatch"),
    ("01.hillis_steele_scan", floor_log2_rounds, "odd length 63", "first mismatch"),
    ("01.chunked_scan", chunks_without_carry, "state carried across chunks", "first mismatch at [b=0, t=4, d=0]"),
    ("01.chunked_scan", carry_without_gate_products, "entering state scaled by the gate products", "first mismatch"),
    ("01.chunked_scan", assumes_chunk_divides_t, "chunk size that does not divide T (T = 63, chunk 16)", "raised RuntimeError"),
    ("02.selective_gates", gates_without_exp_of_a_log, "matches exp(-Δ·exp(A_log))", "first mismatch"),
    ("02.selective_gates", negative_gates_by_sign_flip, "negative=True gives 2·exp(-Δ·exp(A_log)) - 1", "first mismatch"),
    ("02.selective_gates", gates_in_float64, "keeps float32 as float32", "dtype torch.float64"),
    ("02.selective_scan", scan_without_delta_in_the_input, "matches the float64 loop", "first mismatch"),
    ("02.selective_scan", scan_ignoring_negative, "negative=True uses the [-1, 1] gates", "first mismatch"),
    ("02.selective_scan", scan_with_skip_always, "D = None: no skip term", "first mismatch"),
    ("02.selective_scan", scan_reading_out_before_the_update, "length 1", "first mismatch at [batch=0, t=0"),
]


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
