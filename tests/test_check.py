"""The checker: solutions pass, generated stubs fail, and plausible wrong solutions fail on the right row."""

from __future__ import annotations

import linecache
import math

import pytest
import torch

from lrnn_course import build, chunkwise, deltanet, deltaproduct, householder, mamba, models, precision, scan, train
from lrnn_course.check import check, check_quietly
from lrnn_course.checks import EXERCISES
from lrnn_course.kernels import scan as kernel_scan


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


# ---- plausible wrong solutions a learner writes, and the row that must catch each -----------------

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


combine = scan.combine  # the name the Hillis-Steele mutants look up, as a notebook's would be


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


def freeze_in_python_floats(gate, drive, dtype, max_steps=100_000):
    state = 0.0
    for step in range(max_steps):
        following = gate * state + drive
        if following == state:
            return step, state
        state = following
    return None


def freeze_with_the_gate_rounded(gate, drive, dtype, max_steps=100_000):
    return precision.freeze_step(torch.tensor(gate, dtype=dtype).item(), drive, dtype, max_steps)


def freeze_one_step_late(gate, drive, dtype, max_steps=100_000):
    found = precision.freeze_step(gate, drive, dtype, max_steps)
    return None if found is None else (found[0] + 1, found[1])


def freeze_returning_tensors(gate, drive, dtype, max_steps=100_000):
    found = precision.freeze_step(gate, drive, dtype, max_steps)
    return None if found is None else (torch.tensor(found[0]), torch.tensor(found[1], dtype=dtype))


def parity_with_positive_gate(bits):
    gates = torch.ones_like(bits)
    return scan.hillis_steele_scan(gates[..., None], bits[..., None])[..., 0]


def parity_swapping_the_symbols(bits):
    flipped = 1 - bits
    return scan.hillis_steele_scan((1 - 2 * flipped)[..., None], flipped[..., None])[..., 0]


def parity_in_float32(bits):
    return precision.parity_machine(bits.float())


def parity_overwriting_bits(bits):
    bits.mul_(-2).add_(1)
    gates = bits.clone()
    inputs = (1 - gates) / 2
    return scan.hillis_steele_scan(gates[..., None], inputs[..., None])[..., 0]



def loss_at_the_last_column(logits, batch):
    answers = batch.targets[torch.arange(len(batch.targets)), batch.answer_positions] - batch.answer_offset
    return torch.nn.functional.cross_entropy(logits[:, -1], answers)


def loss_with_parity_offset(logits, batch):
    rows, positions = torch.arange(logits.shape[0]), batch.answer_positions
    return torch.nn.functional.cross_entropy(logits[rows, positions], batch.targets[rows, positions] - 1)


def loss_summed_over_rows(logits, batch):
    return train.answer_loss(logits, batch) * logits.shape[0]


def loss_as_a_float(logits, batch):
    return train.answer_loss(logits, batch).item()


def gates_without_sharpness(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x, weight, bias, negative, sharpness=1.0)


def gates_with_swapped_activations(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x, weight, bias, not negative, sharpness)


def gates_with_sharpness_10_always(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x, weight, bias, negative)


def gates_in_float64_always(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x.double(), weight.double(), bias.double(), negative, sharpness)



def product_in_the_wrong_order(first_angle, second_angle, dtype=torch.float64):
    return householder.reflection_product(second_angle, first_angle, dtype)


def product_of_projections(first_angle, second_angle, dtype=torch.float64):
    unit = lambda angle: torch.tensor([math.cos(angle), math.sin(angle)], dtype=dtype)
    first, second = unit(first_angle), unit(second_angle)
    eye = torch.eye(2, dtype=dtype)
    return (eye - torch.outer(first, first)) @ (eye - torch.outer(second, second))


def product_in_float64_always(first_angle, second_angle, dtype=torch.float64):
    return householder.reflection_product(first_angle, second_angle)


def counter_by_cumsum_of_floats(bits, modulus):
    return bits.cumsum(dim=1) % modulus


def counter_by_cumsum_of_integers(bits, modulus):
    return bits.long().cumsum(dim=1) % modulus


def counter_rotating_by_pi_over_m(bits, modulus):
    return householder.mod_counter(bits, 2 * modulus) // 2


def counter_with_modulus_3_always(bits, modulus):
    return householder.mod_counter(bits, 3)


def counter_overwriting_bits(bits, modulus):
    counts = householder.mod_counter(bits, modulus)
    bits.zero_()
    return counts


def step_without_beta_on_the_erase(state, k, v, beta, alpha=None):
    """Linear-attention-style: erase with the full read, write β v."""
    if alpha is not None:
        state = alpha[..., None, None] * state
    read = torch.einsum("bhkv,bhk->bhv", state, k)
    return state + k[..., :, None] * (beta[..., None] * v - read)[..., None, :]


def step_of_linear_attention(state, k, v, beta, alpha=None):
    if alpha is not None:
        state = alpha[..., None, None] * state
    return state + beta[..., None, None] * k[..., :, None] * v[..., None, :]


def step_gating_after_the_write(state, k, v, beta, alpha=None):
    new = deltanet.delta_rule_step(state, k, v, beta)
    return new if alpha is None else alpha[..., None, None] * new


def step_in_place(state, k, v, beta, alpha=None):
    new = deltanet.delta_rule_step(state, k, v, beta, alpha)
    state.copy_(new)
    return new


def householder_without_normalising(key, beta):
    beta = torch.as_tensor(beta, dtype=key.dtype)
    return torch.eye(key.shape[-1], dtype=key.dtype) - beta[..., None, None] * key[..., :, None] * key[..., None, :]


def householder_with_half_beta(key, beta):
    return householder.generalized_householder(key, torch.as_tensor(beta, dtype=key.dtype) / 2)


def householder_with_outer(key, beta):
    unit = key / key.norm()
    return torch.eye(key.shape[-1], dtype=key.dtype) - beta * torch.outer(unit, unit)


def householder_in_float64(key, beta):
    return householder.generalized_householder(key.double(), beta)


def swaps_in_the_wrong_order(permutation, dtype=torch.float64):
    return householder.permutation_reflections(permutation, dtype)[::-1]


def one_swap_per_cycle_member(permutation, dtype=torch.float64):
    """Also 'swaps' each cycle's first element with itself: a zero key, or one too many per cycle."""
    n = len(permutation)
    return [householder.swap_key(cycle[0], point, n, dtype) for cycle in householder.cycles(permutation)
            for point in cycle[1:]] + [householder.swap_key(0, 1, n, dtype)] * 2


def swaps_of_neighbours(permutation, dtype=torch.float64):
    """Swaps each point with the next one in its cycle, in the wrong order for cycles longer than 2."""
    n = len(permutation)
    return [householder.swap_key(cycle[i], cycle[i + 1], n, dtype) for cycle in householder.cycles(permutation)
            for i in range(len(cycle) - 1)]


def interleaving_with_the_query_first(q, k, v, beta, alpha=None, initial_state=None, scale=None):
    n_householder = k.shape[2]
    queries = torch.zeros_like(k)
    queries[:, :, 0] = q
    outputs, state = deltanet.delta_rule(*(deltaproduct.interleave(x) for x in (queries, k, v, beta)), None, initial_state, scale)
    return outputs[:, n_householder - 1 :: n_householder], state


def interleaving_with_the_gate_everywhere(q, k, v, beta, alpha=None, initial_state=None, scale=None):
    n_householder = k.shape[2]
    queries = torch.zeros_like(k)
    queries[:, :, -1] = q
    gates = None if alpha is None else deltaproduct.interleave(alpha[:, :, None].expand_as(beta))
    outputs, state = deltanet.delta_rule(*(deltaproduct.interleave(x) for x in (queries, k, v, beta)), gates, initial_state, scale)
    return outputs[:, n_householder - 1 :: n_householder], state


def interleaving_without_initial_state(q, k, v, beta, alpha=None, initial_state=None, scale=None):
    return deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha, None, scale)


def interleaving_into_the_query(q, k, v, beta, alpha=None, initial_state=None, scale=None):
    result = deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha, initial_state, scale)
    q.zero_()
    return result


def interleaving_without_scale(q, k, v, beta, alpha=None, initial_state=None, scale=None, *, delta_rule=deltanet.delta_rule):
    return deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha, initial_state, None, delta_rule=delta_rule)


def interleaving_with_the_library_delta_rule(q, k, v, beta, alpha=None, initial_state=None, scale=None, *, delta_rule=None):
    """Right numbers, but always deltanet.delta_rule: the kernel a caller passes never runs."""
    return deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha, initial_state, scale)


def ut_including_the_diagonal(k, beta, decay=None):
    gram = k @ k.transpose(-1, -2)
    if decay is not None:
        gram = gram * decay
    lower = torch.tril(beta[..., :, None] * gram)
    return torch.linalg.inv(torch.eye(k.shape[-2], dtype=k.dtype) + lower)


def ut_with_beta_on_the_columns(k, beta, decay=None):
    gram = k @ k.transpose(-1, -2)
    if decay is not None:
        gram = gram * decay
    return chunkwise.forward_substitution_inverse(torch.tril(beta[..., None, :] * gram, diagonal=-1))


def ut_ignoring_decay(k, beta, decay=None):
    return chunkwise.ut_transform(k, beta)


def ut_in_float64(k, beta, decay=None):
    return chunkwise.ut_transform(k.double(), beta.double(), None if decay is None else decay.double())


def chunk_ignoring_the_state_in_u(q, k, v, beta, state, alpha=None, scale=1.0):
    transform = chunkwise.ut_transform(k, beta)
    u = transform @ (beta[..., None] * v)
    outputs = scale * (q @ state + torch.tril(q @ k.transpose(-1, -2)) @ u)
    return outputs, state + k.transpose(-1, -2) @ u


def chunk_reading_out_with_strict_mask(q, k, v, beta, state, alpha=None, scale=1.0):
    outputs, new_state = chunkwise.delta_rule_chunk(q, k, v, beta, state, alpha, scale)
    transform = chunkwise.ut_transform(k, beta, None if alpha is None else chunkwise.decay_matrix(alpha))
    diagonal = (q * k).sum(-1, keepdim=True)
    gates = torch.ones_like(beta) if alpha is None else alpha
    w = transform @ ((beta * torch.cumprod(gates, -1))[..., None] * k)
    u = transform @ (beta[..., None] * v) - w @ state
    return outputs - scale * diagonal * u, new_state


def chunk_without_gates(q, k, v, beta, state, alpha=None, scale=1.0):
    return chunkwise.delta_rule_chunk(q, k, v, beta, state, None, scale)


def chunk_updating_state_in_place(q, k, v, beta, state, alpha=None, scale=1.0):
    outputs, new_state = chunkwise.delta_rule_chunk(q, k, v, beta, state, alpha, scale)
    state.copy_(new_state)
    return outputs, new_state


def products_in_the_wrong_order(table, words):
    products, state = torch.empty_like(words), torch.zeros(words.shape[0], dtype=torch.long)
    for t in range(words.shape[1]):
        state = table[words[:, t], state]
        products[:, t] = state
    return products


def products_of_single_letters(table, words):
    return table[0][words]


def products_in_place(table, words):
    for t in range(1, words.shape[1]):
        words[:, t] = table[words[:, t - 1], words[:, t]]
    return words


def transposed_transitions(permutations, dtype=torch.float32):
    return torch.stack([householder.permutation_matrix(p).T for p in permutations]).to(dtype)


def transitions_in_float64(permutations, dtype=torch.float32):
    return torch.stack([householder.permutation_matrix(p) for p in permutations])


def accuracy_per_position(predictions, targets):
    return ((predictions == targets) | (targets == -1)).float().mean(dim=0)


def accuracy_scoring_padding(predictions, targets):
    return (predictions == targets).long().cumprod(dim=1).float().mean(dim=0)


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
    ("01.sequential_scan", ignores_h0, "uses the initial state h0", "first mismatch"),
    ("01.sequential_scan", gate_of_previous_step, "matches the float64 loop", "first mismatch at [b=0, t=1"),
    ("01.sequential_scan", last_state_only, "returns h of shape (B, T, D)", "got (2, 3)"),
    ("01.sequential_scan", absolute_gates, "negative gates", "first mismatch"),
    ("01.sequential_scan", preallocated_states, "gradient matches autograd", "modified by an inplace operation"),
    ("01.sequential_scan", upcasts, "keeps float32 as float32", "dtype torch.float64"),
    ("01.sequential_scan", writes_into_b, "does not modify its inputs", "changed its input b"),
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
    ("03.freeze_step", freeze_in_python_floats, "float16, gate 0.9, drive 1: step 53 at 9.96875", "yours (step 328"),
    ("03.freeze_step", freeze_with_the_gate_rounded, "float16, gate 0.9, drive 1: step 53 at 9.96875", "yours (step 52, value 9.953125)"),
    ("03.freeze_step", freeze_one_step_late, "gate 0: frozen after one step", "expected (step 1, value 3.0)"),
    ("03.freeze_step", freeze_returning_tensors, "float16, gate 0.9, drive 1: step 53 at 9.96875", "got tensors"),
    ("03.parity_machine", parity_with_positive_gate, "all ones: 1 0 1 0 ...", "first mismatch"),
    ("03.parity_machine", parity_swapping_the_symbols, "all zeros: the state stays 0", "first mismatch"),
    ("03.parity_machine", parity_in_float32, "keeps bfloat16", "dtype torch.float32"),
    ("03.parity_machine", parity_overwriting_bits, "does not modify its input", "changed its input bits"),
    ("04.answer_loss", loss_at_the_last_column, "parity: cross-entropy at the answer position", "yours"),
    ("04.answer_loss", loss_with_parity_offset, "cycle navigation: 5 answers from token 4", "raised IndexError"),
    ("04.answer_loss", loss_summed_over_rows, "gradient only at the answer positions", "first mismatch"),
    ("04.answer_loss", loss_as_a_float, "one row", "got float"),
    ("04.figure1_gates", gates_without_sharpness, "negative=True: tanh(10 (W x + b))", "first mismatch"),
    ("04.figure1_gates", gates_with_swapped_activations, "sigmoid gates stay in [0, 1]", "outside [0, 1]"),
    ("04.figure1_gates", gates_with_sharpness_10_always, "sharpness 2.5 scales the pre-activation", "first mismatch"),
    ("04.figure1_gates", gates_in_float64_always, "keeps float32 as float32", "dtype torch.float64"),
    ("05.reflection_product", product_in_the_wrong_order, "the order matters: H(1.3) H(0.4)", "first mismatch"),
    ("05.reflection_product", product_of_projections, "is the rotation by 2(θ₁ - θ₂)", "first mismatch"),
    ("05.reflection_product", product_in_float64_always, "dtype=torch.float32 gives float32", "dtype torch.float64"),
    ("05.mod_counter", counter_by_cumsum_of_floats, "random bits, m = 3", "dtype torch.float64"),
    ("05.mod_counter", counter_by_cumsum_of_integers, "counts by rotating the state, not with a cumulative sum", "calls cumsum"),
    ("05.mod_counter", counter_rotating_by_pi_over_m, "all ones, m = 3: 1 2 0 1 2 0 1", "first mismatch"),
    ("05.mod_counter", counter_with_modulus_3_always, "m = 5", "first mismatch"),
    ("05.mod_counter", counter_overwriting_bits, "does not modify its input", "changed its input bits"),
    ("06.delta_rule_step", step_without_beta_on_the_erase, "matches (I - β k kᵀ) S + β k vᵀ", "first mismatch"),
    ("06.delta_rule_step", step_of_linear_attention, "β = 1 overwrites: afterwards Sᵀk = v", "first mismatch"),
    ("06.delta_rule_step", step_gating_after_the_write, "the gate α scales the old state first", "first mismatch"),
    ("06.delta_rule_step", step_in_place, "does not modify its inputs", "changed its input state"),
    ("06.generalized_householder", householder_without_normalising, "normalises the key: k = (3, 4), β = 2", "first mismatch"),
    ("06.generalized_householder", householder_with_half_beta, "eigenvalue 1 - β along k, 1 elsewhere", "expected 1 - β"),
    ("06.generalized_householder", householder_with_outer, "a batch of keys and βs", "raised RuntimeError"),
    ("06.generalized_householder", householder_in_float64, "keeps float32 as float32", "dtype torch.float64"),
    ("07.permutation_reflections", swaps_in_the_wrong_order, "the 3-cycle 0 → 1 → 2 → 0 is two reflections, in order", "first mismatch"),
    ("07.permutation_reflections", one_swap_per_cycle_member, "the identity needs none", "2 reflections, expected n - c(σ) = 0"),
    ("07.permutation_reflections", swaps_of_neighbours, "the 3-cycle 0 → 1 → 2 → 0 is two reflections, in order", "first mismatch"),
    ("07.delta_product_by_interleaving", interleaving_with_the_query_first, "n_h = 2 equals the native recurrence", "first mismatch"),
    ("07.delta_product_by_interleaving", interleaving_with_the_gate_everywhere, "gated, n_h = 4: α at each token's first sub-step", "first mismatch"),
    ("07.delta_product_by_interleaving", interleaving_without_initial_state, "n_h = 3 with an initial state", "first mismatch"),
    ("07.delta_product_by_interleaving", interleaving_into_the_query, "does not modify its inputs", "changed its input q"),
    ("07.delta_product_by_interleaving", interleaving_without_scale, "scale 0.3 reaches the read-out", "first mismatch"),
    ("07.delta_product_by_interleaving", interleaving_with_the_library_delta_rule, "runs the delta_rule it is given",
     "never called the delta_rule it was given"),
    ("08.prefix_products", products_in_the_wrong_order, "the order matters: (1 then 2) is not (2 then 1)", "position t = 1"),
    ("08.prefix_products", products_of_single_letters, "S3 by hand: 1, 2, 2 -> 1, 3, 1", "position t = 1"),
    ("08.prefix_products", products_in_place, "does not modify its inputs", "changed the table or the words"),
    ("08.transition_matrices", transposed_transitions, "the 6 elements of S3", "first mismatch"),
    ("08.transition_matrices", transitions_in_float64, "exact in float16 (swap reflections are 0s and ±1s)", "expected a torch.float16 tensor"),
    ("08.sequence_accuracy", accuracy_per_position, "a sequence never recovers from a mistake", "first mismatch"),
    ("08.sequence_accuracy", accuracy_scoring_padding, "positions with target -1 count as right", "first mismatch"),
    ("09.ut_transform", ut_including_the_diagonal, "two steps by hand", "first mismatch"),
    ("09.ut_transform", ut_with_beta_on_the_columns, "two steps by hand", "first mismatch"),
    ("09.ut_transform", ut_ignoring_decay, "with a decay Γ (Gated DeltaNet)", "first mismatch"),
    ("09.ut_transform", ut_in_float64, "keeps float32 as float32", "dtype torch.float64"),
    ("09.delta_rule_chunk", chunk_ignoring_the_state_in_u, "from a given state S₀", "first mismatch"),
    ("09.delta_rule_chunk", chunk_reading_out_with_strict_mask, "from a zero state: the chunk alone", "first mismatch"),
    ("09.delta_rule_chunk", chunk_without_gates, "gated: decay Γ and cumulative gates g", "first mismatch"),
    ("09.delta_rule_chunk", chunk_updating_state_in_place, "does not modify its inputs", "changed its input state"),
]


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    result = check_quietly(exercise_id, mutant)
    rows = {row.name: row for row in result.rows}
    assert not result.passed
    assert not rows[row_name].passed, result.report()
    assert message in rows[row_name].message, rows[row_name].message


def test_every_exercise_has_mutants():
    assert {m[0] for m in MUTANTS} == set(EXERCISES)


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
    result = check("01.combine", commutative_combine, hint=1)
    printed = capsys.readouterr().out
    assert printed.startswith("Checking 01.combine\n  ✗ matches (a1·a2, a2·b1 + b2)\n")
    assert "  ✗ the earlier step acts first\n" in printed and "  ✓ (1, 0) is the identity\n" in printed
    assert "First failure, matches (a1·a2, a2·b1 + b2): the input part (second element): first mismatch" in printed
    assert "Hint 1: Apply (a1, b1) first" in printed
    assert not result and "01.combine: " in repr(result)


def test_unknown_exercise_and_non_function_are_rows_not_crashes():
    unknown = check_quietly("01.sequental_scan", scan.sequential_scan)
    assert not unknown and "did you mean 01.sequential_scan" in unknown.rows[0].message
    assert not check_quietly("01.combine", 42)
