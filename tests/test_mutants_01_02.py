"""Plausible wrong solutions of Lessons 01–02's exercises, each failing on the row that names its mistake
(the row the report explains), and correct solutions that differ from the library's only in style, each passing."""

from __future__ import annotations

import linecache
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from check_support import expect_fails_on_row

from lrnn_course import mamba, scan
from lrnn_course.checker import CUT_GRAPH_HINTS
from lrnn_course.checks import check_quietly
from lrnn_course.checks.lesson01 import ORDER_HINTS
from lrnn_course.mamba import selective_gates
from lrnn_course.scan import combine, hillis_steele_scan


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


def updates_h0_in_place(a, b, h0=None):
    h = torch.zeros_like(a[:, 0]) if h0 is None else h0
    states = []
    for t in range(a.shape[1]):
        h.mul_(a[:, t]).add_(b[:, t])
        states.append(h.clone())
    return torch.stack(states, dim=1)


def starts_from_float32_zeros(a, b, h0=None):
    h = torch.zeros(a.shape[0], a.shape[2]) if h0 is None else h0
    states = []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        states.append(h)
    return torch.stack(states, dim=1)


def closed_form(a, b, h0=None, chunk_size=None):
    # h_t = P_t (h0 + sum_s b_s / P_s), P_t = a_1 ⋯ a_t: exact algebra, NaN at a zero gate, 0/0 once P underflows.
    h0 = torch.zeros_like(a[:, 0]) if h0 is None else h0
    products = torch.cumprod(a, dim=1)
    return products * (h0[:, None] + torch.cumsum(b / products, dim=1))


def closed_form_in_log_space(a, b, h0=None, chunk_size=None):
    # The same with P_t = sign_t · exp(cumsum log|a|): exp(-log P) overflows instead of dividing by zero.
    h0 = torch.zeros_like(a[:, 0]) if h0 is None else h0
    log_magnitude = torch.cumsum(torch.log(a.abs()), dim=1)
    sign = torch.cumprod(torch.sign(a), dim=1)
    return sign * torch.exp(log_magnitude) * (h0[:, None] + torch.cumsum(sign * b * torch.exp(-log_magnitude), dim=1))


def loop_in_numpy_float32(a, b, h0=None):
    # float32 arrays, cast back to the inputs' dtype: the dtype is right, the precision is float32's.
    gates, inputs = a.detach().float().numpy(), b.detach().float().numpy()
    h = np.zeros_like(gates[:, 0]) if h0 is None else h0.detach().float().numpy()
    states = []
    for t in range(gates.shape[1]):
        h = gates[:, t] * h + inputs[:, t]
        states.append(h)
    return torch.from_numpy(np.stack(states, axis=1)).to(a.dtype)


def states_into_default_zeros(a, b, h0=None):
    out, h = torch.zeros(a.shape), torch.zeros_like(a[:, 0]) if h0 is None else h0
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        out[:, t] = h
    return out


def loop_under_no_grad(a, b, h0=None):
    with torch.no_grad():
        return scan.sequential_scan(a, b, h0)


def loop_in_numpy(a, b, h0=None):
    gates, inputs = a.detach().numpy(), b.detach().numpy()
    h = np.zeros_like(gates[:, 0]) if h0 is None else h0.detach().numpy()
    states = []
    for t in range(gates.shape[1]):
        h = gates[:, t] * h + inputs[:, t]
        states.append(h)
    return torch.from_numpy(np.stack(states, axis=1))


def commutative_combine(earlier, later):
    (a1, b1), (a2, b2) = earlier, later
    return a1 * a2, a1 * b2 + b1


def input_part_only(earlier, later):
    return later[0] * earlier[1] + later[1]


def added_gates(earlier, later):
    (a1, b1), (a2, b2) = earlier, later
    return a1 + a2, a2 * b1 + b2


def combine_in_numpy(earlier, later):
    (a1, b1), (a2, b2) = ((a.detach().numpy(), b.detach().numpy()) for a, b in (earlier, later))
    return torch.from_numpy(a1 * a2), torch.from_numpy(a2 * b1 + b2)


def combine_detached(earlier, later):
    (a1, b1), (a2, b2) = earlier, later
    return (a1 * a2).detach(), (a2 * b1 + b2).detach()


def combine_in_place(earlier, later):
    (a1, b1), (a2, b2) = earlier, later
    return a1.mul_(a2), b1.mul_(a2).add_(b2)


def combine_reshaped_to_b1(earlier, later):
    (a1, b1), (a2, b2) = earlier, later
    return (a1 * a2).reshape(b1.shape), (a2 * b1 + b2).reshape(b1.shape)


def combine_by_einsum(earlier, later):
    (a1, b1), (a2, b2) = earlier, later
    return torch.einsum("btd,btd->btd", a1, a2), torch.einsum("btd,btd->btd", a2, b1) + b2


def combine_in_float64(earlier, later):
    (a1, b1), (a2, b2) = ((a.double(), b.double()) for a, b in (earlier, later))
    return a1 * a2, a2 * b1 + b2


def doubling(a, b, h0=None, rounds=None, shifted=None, order=lambda shifted, running: (shifted, running)):
    """Hillis–Steele with h0 folded into the first step: ``rounds(T)`` rounds (⌈log2 T⌉),
    ``shifted(x, offset, identity)`` the pairs ``offset`` steps earlier (padded with the identity), ``order`` the
    arguments of combine. The wrong versions below differ only there."""
    h0 = torch.zeros_like(a[:, 0]) if h0 is None else h0
    b = torch.cat([a[:, :1] * h0[:, None] + b[:, :1], b[:, 1:]], dim=1)
    steps = a.shape[1]
    shifted = shifted or (
        lambda x, offset, identity: torch.cat(
            [torch.full_like(x[:, :offset], identity), x[:, : max(x.shape[1] - offset, 0)]], dim=1
        )
    )
    for k in range(math.ceil(math.log2(steps)) if rounds is None else rounds(steps)):
        offset = 2**k
        a, b = combine(*order((shifted(a, offset, 1.0), shifted(b, offset, 0.0)), (a, b)))
    return b


def one_round_too_many(a, b, h0=None):
    # `while offset <= T`: one round more than ⌈log2 T⌉ when T is a power of two (and one at T = 1).
    return doubling(a, b, h0, rounds=lambda steps: steps.bit_length())


def at_least_one_round(a, b, h0=None):
    return doubling(a, b, h0, rounds=lambda steps: max(1, math.ceil(math.log2(steps))))


def combines_in_the_wrong_order(a, b, h0=None):
    return doubling(a, b, h0, order=lambda shifted, running: (running, shifted))


def floor_log2_rounds(a, b, h0=None):
    return doubling(a, b, h0, rounds=lambda steps: int(math.log2(steps)))


def shifted_by_roll(a, b, h0=None):
    return doubling(a, b, h0, shifted=lambda x, offset, identity: torch.roll(x, offset, dims=1))


def padded_with_ones_for_the_inputs(a, b, h0=None):
    return doubling(
        a, b, h0, shifted=lambda x, offset, identity: torch.cat([torch.ones_like(x[:, :offset]), x[:, :-offset]], dim=1)
    )


def combine_per_position(a, b, h0=None):
    state = (torch.ones_like(a[:, 0]), torch.zeros_like(b[:, 0]) if h0 is None else h0)
    states = []
    for t in range(a.shape[1]):
        state = combine(state, (a[:, t], b[:, t]))
        states.append(state[1])
    return torch.stack(states, dim=1)


def loop_with_unused_combines(a, b, h0=None):
    # Calls combine ⌈log2 T⌉ times, as the rounds row counts, and throws the results away.
    for _ in range(math.ceil(math.log2(a.shape[1])) if a.shape[1] > 1 else 0):
        combine((a, b), (a, b))
    return scan.sequential_scan(a, b, h0)


def chunks_without_carry(a, b, h0=None, chunk_size=64):
    pieces = [
        scan.sequential_scan(a[:, i : i + chunk_size], b[:, i : i + chunk_size])
        for i in range(0, a.shape[1], chunk_size)
    ]
    return torch.cat(pieces, dim=1)


def chunks_in_parallel_without_carry(a, b, h0=None, chunk_size=64):
    batch, steps, width = a.shape
    n_chunks = math.ceil(steps / chunk_size)
    pad = n_chunks * chunk_size - steps
    a_chunks = F.pad(a, (0, 0, 0, pad), value=1.0).reshape(batch * n_chunks, chunk_size, width)
    b_chunks = F.pad(b, (0, 0, 0, pad), value=0.0).reshape(batch * n_chunks, chunk_size, width)
    return scan.hillis_steele_scan(a_chunks, b_chunks).reshape(batch, n_chunks * chunk_size, width)[:, :steps]


def carry_without_gate_products(a, b, h0=None, chunk_size=64):
    h = torch.zeros_like(a[:, 0]) if h0 is None else h0
    pieces = []
    for i in range(0, a.shape[1], chunk_size):
        local = scan.sequential_scan(a[:, i : i + chunk_size], b[:, i : i + chunk_size]) + h[:, None]
        pieces.append(local)
        h = local[:, -1]
    return torch.cat(pieces, dim=1)


def assumes_chunk_divides_t(a, b, h0=None, chunk_size=64):
    batch, steps, width = a.shape
    a.reshape(batch, steps // chunk_size, chunk_size, width)
    return scan.chunked_scan(a, b, h0, chunk_size=chunk_size)


def chunks_without_padding(a, b, h0=None, chunk_size=64):
    # T // chunk_size whole chunks: the last T mod chunk_size steps are dropped.
    whole = a.shape[1] - a.shape[1] % chunk_size
    return scan.chunked_scan(a[:, :whole], b[:, :whole], h0, chunk_size=chunk_size)


def chunked_by_the_sequential_scan(a, b, h0=None, chunk_size=64):
    return scan.sequential_scan(a, b, h0)


def chunked_by_one_hillis_steele_scan(a, b, h0=None, chunk_size=64):
    return scan.hillis_steele_scan(a, b, h0)


def chunks_scanned_step_by_step(a, b, h0=None, chunk_size=64):
    # Carries the state across chunks, but each chunk is a loop over its steps: the sequential scan again.
    h, pieces = torch.zeros_like(a[:, 0]) if h0 is None else h0, []
    for i in range(0, a.shape[1], chunk_size):
        pieces.append(scan.sequential_scan(a[:, i : i + chunk_size], b[:, i : i + chunk_size], h))
        h = pieces[-1][:, -1]
    return torch.cat(pieces, dim=1)


def gates_without_exp_of_a_log(delta, A_log, negative=False):
    gates = torch.exp(-delta.unsqueeze(-1) * A_log)
    return 2 * gates - 1 if negative else gates


def negative_gates_by_sign_flip(delta, A_log, negative=False):
    gates = torch.exp(-delta.unsqueeze(-1) * torch.exp(A_log))
    return -gates if negative else gates


def gates_in_float64(delta, A_log, negative=False):
    return selective_gates(delta.double(), A_log.double(), negative)


def gates_in_numpy(delta, A_log, negative=False):
    gates = np.exp(-delta.detach().numpy()[..., None] * np.exp(A_log.detach().numpy()))
    return torch.from_numpy(2 * gates - 1 if negative else gates)


def gates_under_no_grad(delta, A_log, negative=False):
    with torch.no_grad():
        return selective_gates(delta, A_log, negative)


def gates_with_a_log_exponentiated_in_place(delta, A_log, negative=False):
    gates = torch.exp(-delta.unsqueeze(-1) * A_log.exp_())
    return 2 * gates - 1 if negative else gates


def gates_clamped_inside_the_range(delta, A_log, negative=False):
    gates = torch.exp(-delta.unsqueeze(-1) * torch.exp(A_log)).clamp(1e-6, 1 - 1e-6)
    return 2 * gates - 1 if negative else gates


def gates_without_the_channel_axis(delta, A_log, negative=False):
    gates = torch.exp(-delta * torch.exp(A_log).sum(-1))
    return 2 * gates - 1 if negative else gates


def scan_without_delta_in_the_input(u, delta, A_log, B, C, D=None, negative=False):
    gates = selective_gates(delta, A_log, negative)
    states = scan.sequential_scan(gates.flatten(2), (u.unsqueeze(-1) * B.unsqueeze(2)).flatten(2)).view(gates.shape)
    y = (states * C.unsqueeze(2)).sum(-1)
    return y if D is None else y + D * u


def scan_by_the_parallel_library_scan(u, delta, A_log, B, C, D=None, negative=False):
    return mamba.selective_scan_parallel(u, delta, A_log, B, C, D, negative)


def scan_with_its_own_gates(u, delta, A_log, B, C, D=None, negative=False):
    # Calls selective_gates, then computes the gates again inline and scans those.
    selective_gates(delta, A_log, negative)
    gates = torch.exp(-delta.unsqueeze(-1) * torch.exp(A_log))
    gates = 2 * gates - 1 if negative else gates
    states = scan.hillis_steele_scan(gates.flatten(2), ((delta * u).unsqueeze(-1) * B.unsqueeze(2)).flatten(2)).view(
        gates.shape
    )
    y = (states * C.unsqueeze(2)).sum(-1)
    return y if D is None else y + D * u


def scan_without_the_skip_term(u, delta, A_log, B, C, D=None, negative=False):
    return mamba.selective_scan(u, delta, A_log, B, C, None, negative)


def scan_adding_D_alone(u, delta, A_log, B, C, D=None, negative=False):
    y = mamba.selective_scan(u, delta, A_log, B, C, None, negative)
    return y if D is None else y + D


def scan_ignoring_negative(u, delta, A_log, B, C, D=None, negative=False):
    return mamba.selective_scan(u, delta, A_log, B, C, D, negative=False)


def scan_with_skip_always(u, delta, A_log, B, C, D=None, negative=False):
    y = mamba.selective_scan(u, delta, A_log, B, C, None, negative)
    return y + u if D is None else y + D * u


def scan_reading_out_before_the_update(u, delta, A_log, B, C, D=None, negative=False):
    gates = selective_gates(delta, A_log, negative)
    drive = (delta * u).unsqueeze(-1) * B.unsqueeze(2)
    state, outputs = torch.zeros_like(gates[:, 0]), []
    for t in range(u.shape[1]):
        outputs.append((state * C[:, t].unsqueeze(1)).sum(-1))
        state = gates[:, t] * state + drive[:, t]
    y = torch.stack(outputs, dim=1)
    return y if D is None else y + D * u


def selective_scan_with(states_of, u, delta, A_log, B, C, D, negative):
    """y from ``states_of(gates, drive)``, the (batch, T, E, N) states: the wrong versions below differ only there."""
    gates = selective_gates(delta, A_log, negative)
    y = (states_of(gates, (delta * u).unsqueeze(-1) * B.unsqueeze(2)) * C.unsqueeze(2)).sum(-1)
    return y if D is None else y + D * u


def scan_from_float32_zeros(u, delta, A_log, B, C, D=None, negative=False):
    def states_of(gates, drive):
        state, states = torch.zeros(gates.shape[0], gates.shape[2], gates.shape[3]), []
        for t in range(gates.shape[1]):
            state = gates[:, t] * state + drive[:, t]
            states.append(state)
        return torch.stack(states, dim=1)

    return selective_scan_with(states_of, u, delta, A_log, B, C, D, negative)


def scan_by_the_closed_form(u, delta, A_log, B, C, D=None, negative=False):
    def states_of(gates, drive):
        products = torch.cumprod(gates, dim=1)
        return products * torch.cumsum(drive / products, dim=1)

    return selective_scan_with(states_of, u, delta, A_log, B, C, D, negative)


def scan_into_a_preallocated_tensor(u, delta, A_log, B, C, D=None, negative=False):
    def states_of(gates, drive):
        states = torch.zeros_like(gates)
        for t in range(gates.shape[1]):
            states[:, t] = gates[:, t] * (states[:, t - 1] if t else 0) + drive[:, t]
        return states

    return selective_scan_with(states_of, u, delta, A_log, B, C, D, negative)


def scan_in_numpy(u, delta, A_log, B, C, D=None, negative=False):
    def states_of(gates, drive):
        gates, drive = gates.detach().numpy(), drive.detach().numpy()
        state, states = np.zeros_like(gates[:, 0]), []
        for t in range(gates.shape[1]):
            state = gates[:, t] * state + drive[:, t]
            states.append(state)
        return torch.from_numpy(np.stack(states, axis=1))

    return selective_scan_with(states_of, u, delta, A_log, B, C, D, negative)


def scan_detached(u, delta, A_log, B, C, D=None, negative=False):
    return mamba.selective_scan(u, delta, A_log, B, C, D, negative).detach()


NOT_FINITE = "holds a non-finite value"
NOT_CONNECTED = "not connected to autograd"
ROUNDS, IDENTITY = "uses ⌈log2 T⌉ rounds of combine", "positions t < 2^k combine with the identity (1, 0)"


def gates_rounding_exp_of_delta_first(delta, A_log, negative=False):
    gates = torch.exp(-delta)[..., None] ** A_log.exp()  # equal on paper; exp(-Δ) is rounded to a half type first
    return 2 * gates - 1 if negative else gates


def gates_through_the_log_of_delta(delta, A_log, negative=False):
    gates = torch.exp(-torch.exp(torch.log(delta)[..., None] + A_log))  # right at Δ = 0, NaN gradient there
    return 2 * gates - 1 if negative else gates


MUTANTS = [
    (
        "02.selective_gates",
        gates_rounding_exp_of_delta_first,
        "Mamba's ranges in bfloat16 and float16: Δ ∈ [0.001, 0.1], A_log = log 1 … log 16",
        "the torch.bfloat16 gates: first mismatch",
    ),
    ("02.selective_gates", gates_through_the_log_of_delta, "gradient matches autograd", "non-finite"),
    ("01.sequential_scan", ignores_h0, "uses the initial state h0", "yours 0.000000"),
    ("01.sequential_scan", gate_of_previous_step, "matches the float64 loop", "first mismatch at [b=0, t=1"),
    ("01.sequential_scan", last_state_only, "returns h of shape (B, T, D)", "got (2, 3)"),
    ("01.sequential_scan", absolute_gates, "negative gates", "first mismatch"),
    ("01.sequential_scan", preallocated_states, "connected to autograd", "modified by an inplace operation"),
    ("01.sequential_scan", upcasts, "keeps float32 as float32", "dtype torch.float64"),
    ("01.sequential_scan", writes_into_b, "does not modify its inputs", "modified its input `b`"),
    ("01.sequential_scan", updates_h0_in_place, "does not modify its inputs", "modified its input `h0`"),
    ("01.sequential_scan", starts_from_float32_zeros, "keeps bfloat16 as bfloat16", "dtype torch.float32"),
    ("01.sequential_scan", closed_form, "gates exactly 0", NOT_FINITE),
    ("01.sequential_scan", closed_form_in_log_space, "gates exactly 0", NOT_FINITE),
    ("01.sequential_scan", loop_in_numpy, "connected to autograd", NOT_CONNECTED),
    ("01.sequential_scan", loop_under_no_grad, "connected to autograd", NOT_CONNECTED),
    ("01.sequential_scan", loop_in_numpy_float32, "keeps float64 as float64", "only as precise as float32"),
    (
        "01.sequential_scan",
        states_into_default_zeros,
        "keeps float64 as float64",
        "h has dtype torch.float32 for float64 inputs",
    ),
    ("01.combine", commutative_combine, "matches (a1·a2, a2·b1 + b2)", "the later step acted first"),
    ("01.combine", input_part_only, "matches (a1·a2, a2·b1 + b2)", "expected a pair (a, b)"),
    ("01.combine", added_gates, "matches (a1·a2, a2·b1 + b2)", "the gate part"),
    ("01.combine", combine_in_numpy, "connected to autograd", NOT_CONNECTED),
    ("01.combine", combine_detached, "connected to autograd", NOT_CONNECTED),
    ("01.combine", combine_in_place, "does not modify its inputs", "modified its inputs `a1`, `b1`"),
    (
        "01.combine",
        combine_reshaped_to_b1,
        "broadcasts: a (B, 1, D) pair with a (B, T, D) pair, gates (B, T, 1)",
        "raised RuntimeError",
    ),
    (
        "01.combine",
        combine_by_einsum,
        "works on tensors of any shape: (B, D), (D,), 4-D",
        "raised RuntimeError: einsum()",
    ),
    ("01.combine", combine_in_float64, "keeps float32 and bfloat16", "dtype torch.float64, expected torch.float32"),
    (
        "01.hillis_steele_scan",
        combine_per_position,
        ROUNDS,
        "ran 62 rounds of combine for T = 63 (calls that fold in h0 not counted)",
    ),
    (
        "01.hillis_steele_scan",
        combines_in_the_wrong_order,
        "matches the float64 loop",
        "composed in the opposite order",
    ),
    (
        "01.hillis_steele_scan",
        floor_log2_rounds,
        ROUNDS,
        "ran 5 rounds of combine for T = 63; the parallel scan needs 6",
    ),
    (
        "01.hillis_steele_scan",
        one_round_too_many,
        ROUNDS,
        "ran 7 rounds of combine for T = 64 (calls that fold in h0 not counted); "
        "the parallel scan needs 6, for offsets 1, 2, 4, 8, 16, 32: one round too many",
    ),
    (
        "01.hillis_steele_scan",
        at_least_one_round,
        ROUNDS,
        "ran 1 round of combine for T = 1 (calls that fold in h0 not counted); T = 1 needs no round at all",
    ),
    ("01.hillis_steele_scan", shifted_by_roll, IDENTITY, "first mismatch at [b=0, t=0, d=0]: yours 65535"),
    ("01.hillis_steele_scan", padded_with_ones_for_the_inputs, IDENTITY, "first mismatch at [b=0, t=0, d=0]"),
    (
        "01.hillis_steele_scan",
        loop_with_unused_combines,
        "computes with the results of combine",
        "does not compute its states from what combine returns",
    ),
    (
        "01.chunked_scan",
        chunks_without_carry,
        "state carried across chunks",
        "first mismatch at [b=0, t=4, d=0]: yours 1.000000, expected 5.000000",
    ),
    (
        "01.chunked_scan",
        chunks_in_parallel_without_carry,
        "state carried across chunks",
        "first mismatch at [b=0, t=4, d=0]",
    ),
    (
        "01.chunked_scan",
        carry_without_gate_products,
        "entering state scaled by the gate products",
        "yours 0.125000, expected 0.062500",
    ),
    ("01.chunked_scan", assumes_chunk_divides_t, "returns h of shape (B, T, D)", "raised RuntimeError"),
    (
        "01.chunked_scan",
        chunks_without_padding,
        "returns h of shape (B, T, D)",
        "got (2, 4, 3): T = 5 is not a multiple of chunk_size = 4, and your states stop at the last whole chunk",
    ),
    ("01.chunked_scan", chunked_by_the_sequential_scan, "works chunk by chunk", "it ignores chunk_size"),
    ("01.chunked_scan", chunked_by_one_hillis_steele_scan, "works chunk by chunk", "it ignores chunk_size"),
    ("01.chunked_scan", chunks_scanned_step_by_step, "works chunk by chunk", "it works one time step after another"),
    ("02.selective_gates", gates_without_exp_of_a_log, "matches exp(-Δ·exp(A_log))", "first mismatch"),
    (
        "02.selective_gates",
        negative_gates_by_sign_flip,
        "negative=True gives 2·exp(-Δ·exp(A_log)) - 1",
        "first mismatch",
    ),
    ("02.selective_gates", gates_in_float64, "keeps float32 as float32", "dtype torch.float64"),
    ("02.selective_gates", gates_in_numpy, "connected to autograd", NOT_CONNECTED),
    ("02.selective_gates", gates_under_no_grad, "connected to autograd", NOT_CONNECTED),
    (
        "02.selective_gates",
        gates_with_a_log_exponentiated_in_place,
        "does not modify its inputs",
        "modified its input `A_log`",
    ),
    ("02.selective_gates", gates_without_the_channel_axis, "returns gates of shape (batch, T, E, N)", "got (2, 5, 3)"),
    (
        "02.selective_gates",
        gates_clamped_inside_the_range,
        "matches exp(-Δ·exp(A_log))",
        "the gates differ only near the ends of [0, 1]",
    ),
    ("02.selective_scan", scan_without_delta_in_the_input, "matches the float64 loop", "first mismatch"),
    ("02.selective_scan", scan_ignoring_negative, "negative=True uses the [-1, 1] gates", "first mismatch"),
    ("02.selective_scan", scan_with_skip_always, "D = None: no skip term", "first mismatch"),
    (
        "02.selective_scan",
        scan_reading_out_before_the_update,
        "matches the float64 loop",
        "first mismatch at [batch=0, t=0",
    ),
    ("02.selective_scan", scan_from_float32_zeros, "keeps bfloat16 as bfloat16", "dtype torch.float32"),
    ("02.selective_scan", scan_by_the_closed_form, "gates exactly 0, 1 and -1 (Δ = 0 or huge)", NOT_FINITE),
    ("02.selective_scan", scan_into_a_preallocated_tensor, "connected to autograd", "modified by an inplace operation"),
    ("02.selective_scan", scan_in_numpy, "connected to autograd", "no gradient reaches delta, A_log, B"),
    ("02.selective_scan", scan_detached, "connected to autograd", NOT_CONNECTED),
    (
        "02.selective_scan",
        scan_by_the_parallel_library_scan,
        "computes with your selective_gates",
        "never called selective_gates",
    ),
    (
        "02.selective_scan",
        scan_with_its_own_gates,
        "computes with your selective_gates",
        "it computes its gates another way",
    ),
    ("02.selective_scan", scan_without_the_skip_term, "the skip term is D · u", "yours 0.000000"),
    ("02.selective_scan", scan_adding_D_alone, "the skip term is D · u", "yours 1.000000"),
]


@pytest.mark.parametrize(
    "exercise_id,mutant,row_name,message", MUTANTS, ids=[f"{m[0]}-{m[1].__name__}" for m in MUTANTS]
)
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
    diagnosis = check_quietly(exercise_id, mutant).diagnosis
    assert diagnosis is not None and diagnosis.name == row_name, (
        f"the report explains {diagnosis.name!r}, not {row_name!r}"
    )


@pytest.mark.parametrize("exercise_id", ["01.sequential_scan", "01.hillis_steele_scan", "01.chunked_scan"])
@pytest.mark.parametrize("mutant", [closed_form, closed_form_in_log_space])
def test_a_closed_form_is_not_finite_at_a_zero_gate_nor_on_a_long_float32_sequence(exercise_id, mutant):
    rows = {row.name: row for row in check_quietly(exercise_id, mutant).rows}
    for name in ("gates exactly 0", "long float32 sequence T = 2000"):
        assert not rows[name].passed and NOT_FINITE in rows[name].message, rows[name]


@pytest.mark.parametrize(
    "exercise_id,mutant,hints",
    [
        ("01.sequential_scan", loop_under_no_grad, CUT_GRAPH_HINTS),
        ("01.hillis_steele_scan", combines_in_the_wrong_order, ORDER_HINTS),
    ],
)
def test_the_report_gives_the_hints_of_the_way_the_row_failed(exercise_id, mutant, hints):
    assert check_quietly(exercise_id, mutant).diagnosis.hints == hints


@pytest.mark.parametrize("mutant", [writes_into_b, updates_h0_in_place])
def test_a_scan_writing_into_its_inputs_is_told_so_and_its_values_are_judged_on_pristine_copies(mutant):
    result = check_quietly("01.sequential_scan", mutant)
    failed = {row.name for row in result.rows if not row.passed}
    # The values are right, and the rows that compare them say so; only the in-place row (and the backward
    # pass through the overwritten tensors) is red.
    assert failed <= {"does not modify its inputs", "connected to autograd", "gradient matches autograd"}, failed
    assert "does not modify its inputs" in failed


def defined_in_a_cell(source: str, name: str, **bound):
    """The function ``name`` that ``source`` defines, run as a notebook cell is (its lines readable in tracebacks)."""
    filename = f"<cell defining {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"torch": torch, **bound}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


SCAN_BY_ROUNDS = """
def scan_by_rounds(a, b, h0=None):
    if h0 is not None:
        b = torch.cat([a[:, :1] * h0[:, None] + b[:, :1], b[:, 1:]], dim=1)
    offset = 1
    while offset < a.shape[1]:
        earlier = (torch.cat([torch.ones_like(a[:, :offset]), a[:, :-offset]], 1),
                   torch.cat([torch.zeros_like(b[:, :offset]), b[:, :-offset]], 1))
        a, b = combine(earlier, (a, b))
        offset *= 2
    return b
"""


def test_a_scan_whose_combine_raises_or_is_missing_is_told_which():
    # A notebook's Hillis–Steele cell looks combine up among the notebook's globals, beside it.
    right = "def combine(earlier, later):\n    return earlier[0] * later[0], later[0] * earlier[1] + later[1]\n"
    assert check_quietly("01.hillis_steele_scan", defined_in_a_cell(right + SCAN_BY_ROUNDS, "scan_by_rounds"))
    broken = "def combine(earlier, later):\n    return earlier[0] * later[0], earlier[1] @ later[0]\n"
    rows = {
        row.name: row
        for row in check_quietly(
            "01.hillis_steele_scan", defined_in_a_cell(broken + SCAN_BY_ROUNDS, "scan_by_rounds")
        ).rows
    }
    assert "raised RuntimeError" in rows["uses ⌈log2 T⌉ rounds of combine"].message
    assert (
        "of combine: return earlier[0] * later[0], earlier[1] @ later[0]"
        in rows["uses ⌈log2 T⌉ rounds of combine"].message
    )
    rows = {
        row.name: row
        for row in check_quietly("01.hillis_steele_scan", defined_in_a_cell(SCAN_BY_ROUNDS, "scan_by_rounds")).rows
    }
    for name in ("uses ⌈log2 T⌉ rounds of combine", "computes with the results of combine"):
        assert "name 'combine' is not defined" in rows[name].message, rows[name].message


def test_a_scan_that_never_looks_combine_up_is_told_to_build_on_it():
    library = defined_in_a_cell(
        "def scan_by_the_library(a, b, h0=None):\n    return scan.hillis_steele_scan(a, b, h0)\n",
        "scan_by_the_library",
        scan=scan,
    )
    rows = {row.name: row for row in check_quietly("01.hillis_steele_scan", library).rows}
    assert (
        "there is no function named combine where your scan is defined"
        in rows["computes with the results of combine"].message
    )


def scan_over_unbind(a, b, h0=None):
    h, states = torch.zeros_like(a[:, 0]) if h0 is None else h0, []
    for gate, drive in zip(a.unbind(1), b.unbind(1)):
        h = torch.addcmul(drive, gate, h)
        states.append(h)
    return torch.stack(states, dim=1)


def scan_by_masked_segment_products(a, b, h0=None):
    # h_t = sum over s <= t of (a_{s+1} ⋯ a_t) b_s + (a_1 ⋯ a_t) h0, the products by a cumprod over a (T, T) mask: no
    # division.
    h0 = torch.zeros_like(a[:, 0]) if h0 is None else h0
    steps = a.shape[1]
    later = torch.ones(steps, steps, dtype=torch.bool).tril(-1)[None, :, :, None]  # [j, s]: j > s
    products = torch.cumprod(
        torch.where(later, a[:, :, None], torch.ones_like(a[:, :, None])).expand(-1, -1, steps, -1), dim=1
    )
    products = torch.where(
        torch.ones(steps, steps, dtype=torch.bool).tril()[None, :, :, None], products, torch.zeros_like(products)
    )
    return (products * b[:, None]).sum(2) + torch.cumprod(a, dim=1) * h0[:, None]


def scan_written_into_a_preallocated_tensor(a, b, h0=None):
    # In-place writes of new states only; the next step reads h, never the tensor written into.
    out, h = torch.empty_like(a), torch.zeros_like(a[:, 0]) if h0 is None else h0
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        out[:, t] = h
    return out


def doubling_with_h0_folded_by_combine(a, b, h0=None):
    # h0 folded in by one more combine, ((1, h0), (a_1, b_1)), before the ⌈log2 T⌉ rounds.
    h0 = torch.zeros_like(a[:, 0]) if h0 is None else h0
    _, first = combine((torch.ones_like(h0), h0), (a[:, 0], b[:, 0]))
    return doubling(a, torch.cat([first[:, None], b[:, 1:]], dim=1))


def doubling_on_slices(a, b, h0=None):
    # One combine per round on the positions that have a partner, the first `offset` ones kept as they are.
    if h0 is not None:
        b = torch.cat([a[:, :1] * h0[:, None] + b[:, :1], b[:, 1:]], dim=1)
    offset = 1
    while offset < a.shape[1]:
        new_a, new_b = combine((a[:, :-offset], b[:, :-offset]), (a[:, offset:], b[:, offset:]))
        a, b = torch.cat([a[:, :offset], new_a], dim=1), torch.cat([b[:, :offset], new_b], dim=1)
        offset *= 2
    return b


def doubling_with_padded_identities(a, b, h0=None):
    # h0 as one more step in front, (1, h0), and the identity (1, 0) shifted in with F.pad.
    h0 = torch.zeros_like(a[:, 0]) if h0 is None else h0
    a = torch.cat([torch.ones_like(a[:, :1]), a], dim=1)
    b = torch.cat([h0[:, None], b], dim=1)
    for k in range(math.ceil(math.log2(a.shape[1]))):
        shift = 2**k
        earlier = (F.pad(a, (0, 0, shift, 0), value=1.0)[:, : a.shape[1]], F.pad(b, (0, 0, shift, 0))[:, : b.shape[1]])
        a, b = combine(earlier, (a, b))
    return b[:, 1:]


def chunks_looped_with_cumprod_inside(a, b, h0=None, chunk_size=64):
    h, pieces = torch.zeros_like(a[:, 0]) if h0 is None else h0, []
    for start in range(0, a.shape[1], chunk_size):
        gates, inputs = a[:, start : start + chunk_size], b[:, start : start + chunk_size]
        states = scan.hillis_steele_scan(gates, inputs) + torch.cumprod(gates, dim=1) * h[:, None]
        pieces.append(states)
        h = states[:, -1]
    return torch.cat(pieces, dim=1)


def chunks_each_scanned_from_the_carry(a, b, h0=None, chunk_size=64):
    pieces = []
    for gates, inputs in zip(a.split(chunk_size, dim=1), b.split(chunk_size, dim=1)):
        pieces.append(scan.hillis_steele_scan(gates, inputs, h0 if not pieces else pieces[-1][:, -1]))
    return torch.cat(pieces, dim=1)


def chunks_scanned_one_after_another(a, b, h0=None, chunk_size=64):
    # Sequential over the chunks, parallel inside each: a valid chunked scan.
    h, pieces = torch.zeros_like(a[:, 0]) if h0 is None else h0, []
    for start in range(0, a.shape[1], chunk_size):
        pieces.append(hillis_steele_scan(a[:, start : start + chunk_size], b[:, start : start + chunk_size], h))
        h = pieces[-1][:, -1]
    return torch.cat(pieces, dim=1)


def chunks_padded_with_a_loop_inside_all_chunks_at_once(a, b, h0=None, chunk_size=64):
    # Steps inside the chunks one at a time, but for all chunks together: chunk_size steps, then one carry per chunk.
    batch, steps, width = a.shape
    n_chunks = -(-steps // chunk_size)
    pad = n_chunks * chunk_size - steps
    gates = F.pad(a, (0, 0, 0, pad), value=1.0).view(batch, n_chunks, chunk_size, width)
    inputs = F.pad(b, (0, 0, 0, pad)).view(batch, n_chunks, chunk_size, width)
    local, products, h, p = [], [], torch.zeros_like(gates[:, :, 0]), torch.ones_like(gates[:, :, 0])
    for t in range(chunk_size):
        h, p = gates[:, :, t] * h + inputs[:, :, t], p * gates[:, :, t]
        local.append(h)
        products.append(p)
    local, products = torch.stack(local, dim=2), torch.stack(products, dim=2)
    carry, entering = torch.zeros_like(a[:, 0]) if h0 is None else h0, []
    for chunk in range(n_chunks):
        entering.append(carry)
        carry = local[:, chunk, -1] + products[:, chunk, -1] * carry
    states = local + products * torch.stack(entering, dim=1)[:, :, None]
    return states.reshape(batch, n_chunks * chunk_size, width)[:, :steps]


def combine_by_addcmul(earlier, later):
    return torch.mul(earlier[0], later[0]), torch.addcmul(later[1], later[0], earlier[1])


def gates_by_exp_of_a_product(delta, A_log, negative=False):
    gates = (-(delta[..., None] * A_log.exp())).exp()
    return gates.mul(2).sub(1) if negative else gates


def gates_by_einsum(delta, A_log, negative=False):
    gates = torch.exp(-torch.einsum("bte,en->bten", delta, torch.exp(A_log)))
    return 2 * gates - 1 if negative else gates


def selective_scan_indexing_each_step(u, delta, A_log, B, C, D=None, negative=False):
    gates = selective_gates(delta, A_log, negative)
    state, outputs = torch.zeros_like(gates[:, 0]), []
    for t in range(u.shape[1]):
        state = gates[:, t] * state + (delta[:, t] * u[:, t])[..., None] * B[:, t, None, :]
        outputs.append(torch.einsum("ben,bn->be", state, C[:, t]))
    y = torch.stack(outputs, dim=1)
    return y if D is None else y + D * u


def selective_scan_by_lesson_01s_scan(u, delta, A_log, B, C, D=None, negative=False):
    batch, steps, channels = u.shape
    gates = selective_gates(delta, A_log, negative)
    drive = (delta * u).unsqueeze(-1) * B.unsqueeze(2)
    states = scan.sequential_scan(gates.flatten(2), drive.flatten(2)).view(gates.shape)
    y = (states * C.unsqueeze(2)).sum(-1)
    return y if D is None else y + D * u


def selective_scan_by_a_parallel_scan(u, delta, A_log, B, C, D=None, negative=False):
    gates = selective_gates(delta, A_log, negative)
    drive = (delta * u).unsqueeze(-1) * B.unsqueeze(2)
    states = hillis_steele_scan(gates.flatten(2), drive.flatten(2)).view(gates.shape)
    y = torch.einsum("bten,btn->bte", states, C)
    return y if D is None else y + D * u


ALTERNATIVES = [
    ("01.sequential_scan", scan_over_unbind),
    ("01.sequential_scan", scan_by_masked_segment_products),
    ("01.sequential_scan", scan_written_into_a_preallocated_tensor),
    ("01.combine", combine_by_addcmul),
    ("01.hillis_steele_scan", doubling_on_slices),
    ("01.hillis_steele_scan", doubling_with_h0_folded_by_combine),
    ("01.hillis_steele_scan", doubling_with_padded_identities),
    ("01.chunked_scan", chunks_looped_with_cumprod_inside),
    ("01.chunked_scan", chunks_each_scanned_from_the_carry),
    ("01.chunked_scan", chunks_scanned_one_after_another),
    ("01.chunked_scan", chunks_padded_with_a_loop_inside_all_chunks_at_once),
    ("02.selective_gates", gates_by_exp_of_a_product),
    ("02.selective_gates", gates_by_einsum),
    ("02.selective_scan", selective_scan_indexing_each_step),
    ("02.selective_scan", selective_scan_by_lesson_01s_scan),
    ("02.selective_scan", selective_scan_by_a_parallel_scan),
]


@pytest.mark.parametrize("exercise_id,solution", ALTERNATIVES, ids=[f"{a[0]}-{a[1].__name__}" for a in ALTERNATIVES])
def test_correct_solutions_in_another_style_pass(exercise_id, solution):
    result = check_quietly(exercise_id, solution)
    assert result.passed, result.report()
