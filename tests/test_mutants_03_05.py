"""Plausible wrong solutions of Lessons 03–05's exercises, each failing on the row that names its mistake,
and correct solutions that differ from the library's only in style, each passing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from check_support import expect_fails_on_row

from lrnn_course import householder, models, precision, scan, train
from lrnn_course.checks import check_quietly, lesson05
from lrnn_course.checks.lesson03 import LATE_HINTS
from lrnn_course.scan import hillis_steele_scan


def freeze_loop(step, gate, drive, dtype, max_steps):
    """The freeze-step loop of the exercise, with the step h -> next h given: the wrong and right versions differ only
    there."""
    state = torch.zeros((), dtype=dtype)
    for k in range(max_steps + 1):
        following = step(gate, state, drive, dtype)
        if following == state:
            return k, float(state)
        state = following
    return None


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


def freeze_rounding_once_from_float64(gate, drive, dtype, max_steps=100_000):
    return freeze_loop(lambda g, h, b, d: torch.tensor(g * float(h) + b, dtype=d), gate, drive, dtype, max_steps)


def freeze_rounding_once_from_float32(gate, drive, dtype, max_steps=100_000):
    return freeze_loop(lambda g, h, b, d: (g * h.float() + b).to(d), gate, drive, dtype, max_steps)


def freeze_within_a_tolerance(gate, drive, dtype, max_steps=100_000):
    state = torch.zeros((), dtype=dtype)
    for step in range(max_steps + 1):
        following = gate * state + drive
        if abs(float(following) - float(state)) < 1e-6:
            return step, float(state)
        state = following
    return None


def freeze_trying_k_below_max_steps(gate, drive, dtype, max_steps=100_000):
    # for k in range(max_steps): the last k tried is max_steps - 1.
    return precision.freeze_step(gate, drive, dtype, max_steps - 1)


def freeze_trying_k_below_max_steps_minus_one(gate, drive, dtype, max_steps=100_000):
    return precision.freeze_step(gate, drive, dtype, max_steps - 2)


def freeze_trying_k_up_to_max_steps_plus_one(gate, drive, dtype, max_steps=100_000):
    return precision.freeze_step(gate, drive, dtype, max_steps + 1)


def freeze_by_a_closed_form(gate, drive, dtype, max_steps=100_000):
    # k from the gap to the limit: the first k whose step drive * gate**k is below half a spacing of the limit.
    if drive == 0 or gate == 0:
        return precision.freeze_step(gate, drive, dtype, max_steps)
    if not 0 < gate < 1:
        return None
    limit = drive / (1 - gate)
    bits = {torch.float16: 10, torch.bfloat16: 7, torch.float32: 23, torch.float64: 52}[dtype]
    half_spacing = 2.0 ** (math.floor(math.log2(abs(limit))) - bits) / 2
    step = math.ceil(math.log(half_spacing / abs(drive)) / math.log(gate))
    state = torch.zeros((), dtype=dtype)
    for _ in range(step):
        state = gate * state + drive
    return (step, float(state)) if step <= max_steps else None


def parity_by_an_integer_count(bits):
    return (bits.long().cumsum(dim=1) % 2).to(bits.dtype)


def parity_by_a_loop_over_unbind(bits):
    state, states = torch.zeros(bits.shape[0], dtype=bits.dtype), []
    for bit in bits.unbind(dim=1):
        state = (1 - 2 * bit) * state + bit
        states.append(state)
    return torch.stack(states, dim=1)


def parity_by_cumprod_of_the_gates(bits):
    # h_t = (1 - a_1 ⋯ a_t) / 2 with a = 1 - 2x: the parity without the scan.
    return (1 - torch.cumprod(1 - 2 * bits, dim=1)) / 2


def parity_by_an_xor_fold(bits):
    state, offset = bits, 1
    while offset < bits.shape[1]:
        state = torch.cat([state[:, :offset], (state[:, offset:] + state[:, :-offset]) % 2], dim=1)
        offset *= 2
    return state


def parity_running_the_scan_for_show(bits):
    hillis_steele_scan((1 - 2 * bits)[..., None], bits[..., None])
    return parity_by_an_integer_count(bits)


def parity_resetting_on_a_zero_bit(bits):
    return hillis_steele_scan(-bits[..., None], bits[..., None])[..., 0]


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


def parity_by_a_running_count(bits):
    return bits.cumsum(dim=1) % 2


def parity_resetting_instead_of_flipping(bits):
    return scan.hillis_steele_scan((1 - bits)[..., None], bits[..., None])[..., 0]


def answers_of(batch):
    rows, positions = torch.arange(len(batch.targets)), batch.answer_positions
    return rows, positions, batch.targets[rows, positions] - batch.answer_offset


def loss_at_the_last_column(logits, batch):
    _, _, answers = answers_of(batch)
    return F.cross_entropy(logits[:, -1], answers)


def loss_with_parity_offset(logits, batch):
    rows, positions = torch.arange(logits.shape[0]), batch.answer_positions
    return F.cross_entropy(logits[rows, positions], batch.targets[rows, positions] - 1)


def loss_at_lengths_minus_one(logits, batch):
    rows, positions = torch.arange(logits.shape[0]), batch.lengths - 1
    return F.cross_entropy(logits[rows, positions], batch.targets[rows, positions] - batch.answer_offset)


def loss_summed_over_rows(logits, batch):
    return train.answer_loss(logits, batch) * logits.shape[0]


def loss_as_a_float(logits, batch):
    return train.answer_loss(logits, batch).item()


def loss_of_detached_logits(logits, batch):
    return train.answer_loss(logits.detach(), batch)


def loss_in_numpy(logits, batch):
    rows, positions, answers = answers_of(batch)
    scores = logits[rows, positions].detach().numpy()
    largest = scores.max(axis=1, keepdims=True)
    log_p = scores - largest - np.log(np.exp(scores - largest).sum(axis=1, keepdims=True))
    return torch.tensor(-log_p[np.arange(len(answers)), answers.numpy()].mean())


def loss_under_no_grad(logits, batch):
    with torch.no_grad():
        return train.answer_loss(logits, batch)


def loss_as_log_of_softmax(logits, batch):
    rows, positions, answers = answers_of(batch)
    return -torch.log(torch.softmax(logits[rows, positions], dim=-1)[rows, answers]).mean()


def loss_shifting_the_targets_in_place(logits, batch):
    targets = batch.targets
    targets[targets != -1] -= batch.answer_offset
    rows, positions = torch.arange(logits.shape[0]), batch.answer_positions
    return F.cross_entropy(logits[rows, positions], targets[rows, positions])


def loss_in_float32(logits, batch):
    rows, positions, answers = answers_of(batch)
    return F.cross_entropy(logits[rows, positions].float(), answers)


def loss_in_float32_cast_back(logits, batch):
    return loss_in_float32(logits, batch).to(logits.dtype)


def loss_with_the_offset_subtracted_everywhere(logits, batch):
    """ignore_index=-1 no longer matches the unscored positions once the offset moved them to -1 - offset."""
    return F.cross_entropy(logits.flatten(0, 1), (batch.targets - batch.answer_offset).flatten(), ignore_index=-1)


def loss_without_the_offset(logits, batch):
    rows, positions = torch.arange(logits.shape[0]), batch.answer_positions
    return F.cross_entropy(logits[rows, positions], batch.targets[rows, positions].clamp(max=batch.n_classes - 1))


def loss_averaged_over_every_position(logits, batch):
    classes = torch.where(batch.targets == -1, 0, batch.targets - batch.answer_offset)
    per_position = F.cross_entropy(logits.transpose(1, 2), classes, reduction="none")
    return (per_position * (batch.targets != -1)).mean()


def loss_with_log_softmax_over_positions(logits, batch):
    rows, positions, answers = answers_of(batch)
    return F.nll_loss(logits.log_softmax(dim=1)[rows, positions], answers)


def loss_one_position_early(logits, batch):
    rows, positions, answers = answers_of(batch)
    return F.cross_entropy(logits[rows, positions - 1], answers)


def loss_of_probabilities(logits, batch):
    rows, positions, answers = answers_of(batch)
    return F.cross_entropy(logits[rows, positions].softmax(dim=-1), answers)


def gates_without_sharpness(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x, weight, bias, negative, sharpness=1.0)


def gates_with_swapped_activations(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x, weight, bias, not negative, sharpness)


def gates_with_sharpness_10_always(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x, weight, bias, negative)


def gates_in_float64_always(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x.double(), weight.double(), bias.double(), negative, sharpness)


def gates_with_exp_sigmoid(x, weight, bias, negative, sharpness=10.0):
    z = sharpness * (x @ weight.T + bias)
    return torch.tanh(z) if negative else 1 / (1 + torch.exp(-z))


def gates_with_exp_tanh(x, weight, bias, negative, sharpness=10.0):
    z = sharpness * (x @ weight.T + bias)
    return (torch.exp(z) - torch.exp(-z)) / (torch.exp(z) + torch.exp(-z)) if negative else torch.sigmoid(z)


def gates_of_a_detached_weight(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x, weight.detach(), bias, negative, sharpness)


def gates_in_numpy(x, weight, bias, negative, sharpness=10.0):
    z = sharpness * (x.detach().numpy() @ weight.detach().numpy().T + bias.detach().numpy())
    return torch.from_numpy(np.tanh(z) if negative else 0.5 * (1 + np.tanh(z / 2)))


def gates_scaling_x_in_place(x, weight, bias, negative, sharpness=10.0):
    x.mul_(sharpness)
    z = x @ weight.T + sharpness * bias
    return torch.tanh(z) if negative else torch.sigmoid(z)


def gates_with_two_sigmoids_minus_one(x, weight, bias, negative, sharpness=10.0):
    """2σ(z) - 1 is tanh(z / 2)."""
    z = sharpness * (x @ weight.T + bias)
    return 2 * torch.sigmoid(z) - 1 if negative else torch.sigmoid(z)


def gates_with_a_hard_sigmoid(x, weight, bias, negative, sharpness=10.0):
    z = sharpness * (x @ weight.T + bias)
    return torch.tanh(z) if negative else torch.clamp(0.5 + z / 4, 0, 1)


def gates_with_sharpness_in_the_tanh_only(x, weight, bias, negative, sharpness=10.0):
    z = x @ weight.T + bias
    return torch.tanh(sharpness * z) if negative else torch.sigmoid(z)


def gates_with_an_int_sharpness(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x, weight, bias, negative, int(sharpness))


def gates_with_sharpness_before_the_bias(x, weight, bias, negative, sharpness=10.0):
    z = sharpness * (x @ weight.T) + bias
    return torch.tanh(z) if negative else torch.sigmoid(z)


def gates_in_float32(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x.float(), weight.float(), bias.float(), negative, sharpness)


def gates_through_half(x, weight, bias, negative, sharpness=10.0):
    return models.figure1_gates(x.half(), weight.half(), bias.half(), negative, sharpness).to(x.dtype)


def gates_of_a_matrix_of_vectors_only(x, weight, bias, negative, sharpness=10.0):
    z = sharpness * (x.reshape(x.shape[0], -1) @ weight.T + bias)
    return torch.tanh(z) if negative else torch.sigmoid(z)


def gates_by_an_einsum_over_batch_and_time(x, weight, bias, negative, sharpness=10.0):
    z = sharpness * (torch.einsum("bti,oi->bto", x, weight) + bias)
    return torch.tanh(z) if negative else torch.sigmoid(z)


def product_in_the_wrong_order(first_angle, second_angle, dtype=torch.float64):
    return householder.reflection_product(second_angle, first_angle, dtype)


def unit(angle, dtype):
    return torch.tensor([math.cos(angle), math.sin(angle)], dtype=dtype)


def product_of_projections(first_angle, second_angle, dtype=torch.float64):
    first, second = unit(first_angle, dtype), unit(second_angle, dtype)
    eye = torch.eye(2, dtype=dtype)
    return (eye - torch.outer(first, first)) @ (eye - torch.outer(second, second))


def product_in_float64_always(first_angle, second_angle, dtype=torch.float64):
    return householder.reflection_product(first_angle, second_angle)


def product_with_an_identity_in_float32(first_angle, second_angle, dtype=torch.float64):
    first, second = unit(first_angle, dtype), unit(second_angle, dtype)
    return (torch.eye(2) - 2 * torch.outer(first, first)) @ (torch.eye(2) - 2 * torch.outer(second, second))


def product_built_in_float32(first_angle, second_angle, dtype=torch.float64):
    first, second = unit(first_angle, torch.float32), unit(second_angle, torch.float32)
    return ((torch.eye(2) - 2 * torch.outer(first, first)) @ (torch.eye(2) - 2 * torch.outer(second, second))).to(dtype)


def product_of_float32_keys(first_angle, second_angle, dtype=torch.float64):
    first, second = (
        torch.tensor([math.cos(first_angle), math.sin(first_angle)]),
        torch.tensor([math.cos(second_angle), math.sin(second_angle)]),
    )
    eye = torch.eye(2, dtype=dtype)
    return (eye - 2 * torch.outer(first, first)) @ (eye - 2 * torch.outer(second, second))


def readings(states, modulus):
    """The counter's read-out: the angle of each state (..., 2) rounded to a multiple of 2π/m, in 0 .. m - 1."""
    return torch.round(householder.angle_of(states.double()) / (2 * math.pi / modulus)).long() % modulus


def step_of(bits, modulus, transition):
    return householder.reflection_product(math.pi / modulus, 0.0, bits.dtype) if transition is None else transition


def counter_by_cumsum_of_floats(bits, modulus, transition=None):
    return bits.cumsum(dim=1) % modulus


def counter_by_cumsum_of_integers(bits, modulus, transition=None):
    return bits.long().cumsum(dim=1) % modulus


def counter_in_python_integers(bits, modulus, transition=None):
    counts = []
    for row in bits.tolist():
        count, line = 0, []
        for bit in row:
            count = (count + int(bit)) % modulus
            line.append(count)
        counts.append(line)
    return torch.tensor(counts)


def counter_by_numpy_cumsum(bits, modulus, transition=None):
    return torch.from_numpy(np.cumsum(bits.numpy(), axis=1).astype(np.int64) % modulus)


def counter_by_a_triangular_matmul(bits, modulus, transition=None):
    ones_below = torch.ones(bits.shape[1], bits.shape[1], dtype=bits.dtype).tril()
    return (bits @ ones_below.T).round().long() % modulus


def counter_adding_up_angles(bits, modulus, transition=None):
    angles = torch.cumsum(bits.double() * (2 * math.pi / modulus), dim=1)
    return readings(torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1), modulus)


def counter_adding_up_the_angle_of_the_transition(bits, modulus, transition=None):
    step = step_of(bits, modulus, transition)
    angles = torch.cumsum(bits.double() * torch.atan2(step[1, 0], step[0, 0]).double(), dim=1)
    return readings(torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1), modulus)


def counter_ignoring_the_transition(bits, modulus, transition=None):
    return householder.mod_counter(bits, modulus)


def counter_without_the_transition_argument(bits, modulus):
    return householder.mod_counter(bits, modulus)


def counter_rotating_by_pi_over_m(bits, modulus, transition=None):
    step = (
        householder.reflection_product(math.pi / (2 * modulus), 0.0, bits.dtype) if transition is None else transition
    )
    return householder.mod_counter(bits, modulus, step)


def counter_with_modulus_3_always(bits, modulus, transition=None):
    return householder.mod_counter(bits, 3, transition)


def rotation_counter(
    bits,
    modulus,
    transition=None,
    *,
    turn=lambda h, a: h @ a.T,
    reading=None,
    before=False,
    always=False,
    angle=math.pi,
):
    """The counter of the exercise on row vectors h, with one part swapped for a mutant's: ``turn(h, A)``,
    ``reading(h, m)``, the reading taken ``before`` the step, the state turned ``always`` (at a 0 too),
    A(1) = reflection_product(angle / m, 0)."""
    step = householder.reflection_product(angle / modulus, 0.0, bits.dtype) if transition is None else transition
    reading = reading or (lambda h, m: torch.round(torch.atan2(h[:, 1], h[:, 0]) / (2 * math.pi / m)).long() % m)
    state = torch.zeros(bits.shape[0], 2, dtype=bits.dtype)
    state[:, 0] = 1
    found = []
    for bit in bits.unbind(dim=1):
        if before:
            found.append(reading(state, modulus))
        turned = turn(state, step)
        state = turned if always else torch.where(bit[:, None] == 1, turned, state)
        if not before:
            found.append(reading(state, modulus))
    return torch.stack(found, dim=1)


def angle_in_steps(h, modulus):
    return torch.atan2(h[:, 1], h[:, 0]) / (2 * math.pi / modulus)


def counter_multiplying_a_row_vector(bits, modulus, transition=None):
    """h @ A for a row vector h multiplies by Aᵀ, the rotation the other way."""
    return rotation_counter(bits, modulus, transition, turn=lambda h, a: h @ a)


def counter_with_the_rotation_doubled(bits, modulus, transition=None):
    return rotation_counter(bits, modulus, transition, angle=2 * math.pi)


def counter_rounding_down(bits, modulus, transition=None):
    return rotation_counter(
        bits, modulus, transition, reading=lambda h, m: torch.floor(angle_in_steps(h, m)).long() % m
    )


def counter_by_acos(bits, modulus, transition=None):
    def reading(h, m):
        angle = torch.acos((h[:, 0] / h.norm(dim=1)).clamp(-1, 1))
        return torch.round(angle / (2 * math.pi / m)).long() % m

    return rotation_counter(bits, modulus, transition, reading=reading)


def counter_without_mod(bits, modulus, transition=None):
    return rotation_counter(bits, modulus, transition, reading=lambda h, m: torch.round(angle_in_steps(h, m)).long())


def counter_reading_before_the_step(bits, modulus, transition=None):
    return rotation_counter(bits, modulus, transition, before=True)


def counter_turning_at_every_bit(bits, modulus, transition=None):
    return rotation_counter(bits, modulus, transition, always=True)


def counter_in_int32(bits, modulus, transition=None):
    return rotation_counter(bits, modulus, transition).int()


def counter_overwriting_bits(bits, modulus, transition=None):
    counts = householder.mod_counter(bits, modulus, transition)
    bits.zero_()
    return counts


LOSS_PRECISION = "float64 logits give a float64 loss, to float64's precision"
GATES_PRECISION = "float64 inputs give float64 gates, to float64's precision"
GATES_SHAPES = "any leading shape: (N, d_in), (B, T, d_in), (3, 2, 7, d_in)"
PRODUCT_PRECISION = "the default dtype, float64, to float64's precision"
ALL_ONES = "all ones, m = 3: 1 2 0 1 2 0 1"


def freeze_within_half_an_epsilon(gate, drive, dtype, max_steps=100_000):
    state = torch.zeros((), dtype=dtype)
    for step in range(max_steps + 1):
        following = gate * state + drive
        if abs((following - state).item()) <= torch.finfo(dtype).eps * abs(state.item()) / 2:  # "equal up to rounding"
            return step, state.item()
        state = following
    return None


MUTANTS = (
    [
        (
            "03.freeze_step",
            freeze_within_half_an_epsilon,
            "negative gates and drives: some states hop between two values for ever (None)",
            "expected None",
        ),
        (
            "03.freeze_step",
            freeze_in_python_floats,
            "float16, gate 0.9, drive 1: step 53 at 9.96875",
            "yours (step 328",
        ),
        (
            "03.freeze_step",
            freeze_with_the_gate_rounded,
            "float16, gate 0.9, drive 1: step 53 at 9.96875",
            "yours (step 52, value 9.953125)",
        ),
        (
            "03.freeze_step",
            freeze_one_step_late,
            "drive 0: frozen from the start (step 0)",
            "yours (step 1, value 0.0)",
        ),
        ("03.freeze_step", freeze_returning_tensors, "drive 0: frozen from the start (step 0)", "got tensors"),
        (
            "03.freeze_step",
            freeze_rounding_once_from_float64,
            "float32 freezes at step 138",
            "yours (step 138, value 9.999996185302734)",
        ),
        (
            "03.freeze_step",
            freeze_rounding_once_from_float32,
            "each operation rounds: gate 0.3, drive 1 (float16 step 6, bfloat16 step 4)",
            "yours (step 7, value 1.4287109375), expected (step 6, value 1.427734375)",
        ),
        ("03.freeze_step", freeze_within_a_tolerance, "float32 freezes at step 138", "yours (step 128"),
        (
            "03.freeze_step",
            freeze_by_a_closed_form,
            "float32 freezes at step 138",
            "yours (step 139, value 9.999993324279785)",
        ),
    ]
    + [
        ("03.freeze_step", freeze, "max_steps = k finds step k, max_steps = k - 1 does not", message)
        for freeze, message in (
            (freeze_trying_k_below_max_steps, "with max_steps = 53 it returns None, expected (53, 9.96875)"),
            (freeze_trying_k_below_max_steps_minus_one, "with max_steps = 53 it returns None, expected (53, 9.96875)"),
            (freeze_trying_k_up_to_max_steps_plus_one, "with max_steps = 52 it returns (53, 9.96875), expected None"),
        )
    ]
    + [
        ("03.parity_machine", parity_with_positive_gate, "all ones: 1 0 1 0 ...", "first mismatch"),
        (
            "03.parity_machine",
            parity_swapping_the_symbols,
            "all ones: 1 0 1 0 ...",
            "yours 0.000000, expected 1.000000",
        ),
        ("03.parity_machine", parity_in_float32, "keeps bfloat16", "dtype torch.float32"),
        ("03.parity_machine", parity_overwriting_bits, "does not modify its input", "modified its input `bits`"),
        (
            "03.parity_machine",
            parity_by_a_running_count,
            "exact at length 10 000 in float16",
            "first mismatch at [b=0, t=4091]",
        ),
        (
            "03.parity_machine",
            parity_resetting_instead_of_flipping,
            "all ones: 1 0 1 0 ...",
            "yours 1.000000, expected 0.000000",
        ),
        (
            "03.parity_machine",
            parity_resetting_on_a_zero_bit,
            "a zero bit keeps the state: 1 0 0 1 0 1 1 0 0 0",
            "[b=0, t=1]: yours 0.000000",
        ),
        (
            "03.parity_machine",
            parity_running_the_scan_for_show,
            "runs a scan of Lesson 01 on the gates and inputs",
            "not what the scan returns",
        ),
    ]
    + [
        (
            "03.parity_machine",
            parity,
            "runs a scan of Lesson 01 on the gates and inputs",
            "never ran a scan of Lesson 01",
        )
        for parity in (
            parity_by_an_integer_count,
            parity_by_a_loop_over_unbind,
            parity_by_cumprod_of_the_gates,
            parity_by_an_xor_fold,
        )
    ]
    + [
        (
            "04.answer_loss",
            loss_at_the_last_column,
            "ignores every other position",
            "when only the scores at the positions without a target",
        ),
        ("04.answer_loss", loss_with_parity_offset, "cycle navigation: 5 answers from token 4", "raised IndexError"),
        (
            "04.answer_loss",
            loss_at_lengths_minus_one,
            "brackets task: answers from token 0",
            "Target -1 is out of bounds",
        ),
        ("04.answer_loss", loss_summed_over_rows, "parity: cross-entropy at the answer position", "8 times too large"),
        ("04.answer_loss", loss_as_a_float, "connected to logits by autograd", "got a float, not a tensor"),
        ("04.answer_loss", loss_of_detached_logits, "connected to logits by autograd", "not connected to autograd"),
        ("04.answer_loss", loss_in_numpy, "connected to logits by autograd", "not connected to autograd"),
        ("04.answer_loss", loss_under_no_grad, "connected to logits by autograd", "not connected to autograd"),
        (
            "04.answer_loss",
            loss_as_log_of_softmax,
            "confidently wrong answers (score -1000) give a large, finite loss",
            "yours inf",
        ),
        (
            "04.answer_loss",
            loss_shifting_the_targets_in_place,
            "does not modify logits or batch",
            "modified its input `batch.targets`",
        ),
        ("04.answer_loss", loss_in_float32, LOSS_PRECISION, "dtype torch.float32"),
        ("04.answer_loss", loss_in_float32_cast_back, LOSS_PRECISION, "float32's rounding"),
        (
            "04.answer_loss",
            loss_with_the_offset_subtracted_everywhere,
            "parity: cross-entropy at the answer position",
            "Target -2 is out of bounds",
        ),
        (
            "04.answer_loss",
            loss_without_the_offset,
            "cycle navigation: 5 answers from token 4",
            "the same answers written from token 0",
        ),
        (
            "04.answer_loss",
            loss_averaged_over_every_position,
            "parity: cross-entropy at the answer position",
            "15 times too small",
        ),
        (
            "04.answer_loss",
            loss_with_log_softmax_over_positions,
            "ignores every other position",
            "positions without a target change",
        ),
        (
            "04.answer_loss",
            loss_one_position_early,
            "ignores every other position",
            "positions without a target change",
        ),
        ("04.answer_loss", loss_of_probabilities, "parity: cross-entropy at the answer position", "expected 0.920111"),
        ("04.figure1_gates", gates_without_sharpness, "sharpness 2.5 scales the pre-activation", "first mismatch"),
        (
            "04.figure1_gates",
            gates_with_swapped_activations,
            "tanh gates reach both -1 and 1",
            "should reach both ends of [-1, 1]",
        ),
        (
            "04.figure1_gates",
            gates_with_sharpness_10_always,
            "sharpness 2.5 scales the pre-activation",
            "first mismatch",
        ),
        ("04.figure1_gates", gates_in_float64_always, "keeps float32 as float32", "dtype torch.float64"),
        (
            "04.figure1_gates",
            gates_with_exp_sigmoid,
            "saturated gates (pre-activations in the thousands) have finite gradients",
            "non-finite value",
        ),
        ("04.figure1_gates", gates_with_exp_tanh, "tanh gates reach both -1 and 1", "the gates hold nan"),
        (
            "04.figure1_gates",
            gates_of_a_detached_weight,
            "connected to x, weight and bias by autograd",
            "no gradient reaches weight",
        ),
        (
            "04.figure1_gates",
            gates_in_numpy,
            "connected to x, weight and bias by autograd",
            "not connected to autograd",
        ),
        ("04.figure1_gates", gates_scaling_x_in_place, "does not modify its inputs", "modified its input `x`"),
        ("04.figure1_gates", gates_with_two_sigmoids_minus_one, "negative=True: tanh(10 (W x + b))", "first mismatch"),
        ("04.figure1_gates", gates_with_a_hard_sigmoid, "negative=False: sigmoid(10 (W x + b))", "first mismatch"),
        (
            "04.figure1_gates",
            gates_with_sharpness_in_the_tanh_only,
            "sharpness 2.5 scales the pre-activation",
            "negative=False",
        ),
        ("04.figure1_gates", gates_with_an_int_sharpness, "sharpness 2.5 scales the pre-activation", "first mismatch"),
        (
            "04.figure1_gates",
            gates_with_sharpness_before_the_bias,
            "sharpness 2.5 scales the pre-activation",
            "first mismatch",
        ),
        ("04.figure1_gates", gates_in_float32, GATES_PRECISION, "dtype torch.float32"),
        ("04.figure1_gates", gates_through_half, GATES_PRECISION, "first mismatch"),
        (
            "04.figure1_gates",
            gates_of_a_matrix_of_vectors_only,
            GATES_SHAPES,
            "for x of shape (2, 5, 4) your function raised RuntimeError",
        ),
        (
            "04.figure1_gates",
            gates_by_an_einsum_over_batch_and_time,
            GATES_SHAPES,
            "for x of shape (10, 4) your function raised RuntimeError",
        ),
        ("05.reflection_product", product_in_the_wrong_order, "matches H(θ₁) H(θ₂), entry by entry", "first mismatch"),
        ("05.reflection_product", product_of_projections, "matches H(θ₁) H(θ₂), entry by entry", "first mismatch"),
        (
            "05.reflection_product",
            product_in_float64_always,
            "dtype=torch.float32 gives float32",
            "dtype torch.float64",
        ),
        (
            "05.reflection_product",
            product_with_an_identity_in_float32,
            "dtype=torch.float16 gives float16",
            "dtype torch.float32",
        ),
        ("05.reflection_product", product_of_float32_keys, PRODUCT_PRECISION, "float32's rounding"),
        ("05.reflection_product", product_built_in_float32, PRODUCT_PRECISION, "float32's rounding"),
        ("05.mod_counter", counter_rotating_by_pi_over_m, "all ones, m = 3: 1 2 0 1 2 0 1", "first mismatch"),
        ("05.mod_counter", counter_with_modulus_3_always, "m = 5", "first mismatch"),
        ("05.mod_counter", counter_overwriting_bits, "does not modify its input", "modified its input `bits`"),
        (
            "05.mod_counter",
            counter_without_the_transition_argument,
            "counts by rotating the state: transition = the rotation by 4π/3 reads 2c mod 3",
            "unexpected keyword argument 'transition'",
        ),
        (
            "05.mod_counter",
            counter_adding_up_the_angle_of_the_transition,
            "counts by rotating the state: a transition that is not a rotation",
            "first mismatch",
        ),
        ("05.mod_counter", counter_multiplying_a_row_vector, ALL_ONES, "yours are (-c) mod 3"),
        ("05.mod_counter", counter_with_the_rotation_doubled, ALL_ONES, "yours are (-c) mod 3"),
        ("05.mod_counter", counter_rounding_down, ALL_ONES, "one below the count"),
        ("05.mod_counter", counter_by_acos, ALL_ONES, "read a state at angle -θ as the one at θ"),
        ("05.mod_counter", counter_without_mod, ALL_ONES, "yours hold -1, outside 0 .. 2"),
        ("05.mod_counter", counter_reading_before_the_step, ALL_ONES, "the readings before each step"),
        ("05.mod_counter", counter_turning_at_every_bit, "random bits, m = 3", "yours advance at every step"),
        ("05.mod_counter", counter_in_int32, "returns whole numbers as torch.long", "dtype torch.int32"),
    ]
    + [
        (
            "05.mod_counter",
            counter,
            "counts by rotating the state: transition = the rotation by 4π/3 reads 2c mod 3",
            "yours are the counts c mod 3",
        )
        for counter in (
            counter_by_cumsum_of_floats,
            counter_by_cumsum_of_integers,
            counter_in_python_integers,
            counter_by_numpy_cumsum,
            counter_by_a_triangular_matmul,
            counter_adding_up_angles,
            counter_ignoring_the_transition,
        )
    ]
)


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
    assert check_quietly(exercise_id, mutant).diagnosis.name == row_name


def test_a_freeze_step_found_late_is_told_so_not_about_rounding():
    assert check_quietly("03.freeze_step", freeze_by_a_closed_form).diagnosis.hints == LATE_HINTS


def freeze_with_a_drive_tensor(gate, drive, dtype, max_steps=100_000):
    return freeze_loop(lambda g, h, b, d: g * h + torch.tensor(b, dtype=d), gate, drive, dtype, max_steps)


def freeze_with_methods(gate, drive, dtype, max_steps=100_000):
    return freeze_loop(lambda g, h, b, d: h.mul(g).add(b), gate, drive, dtype, max_steps)


def parity_by_the_sequential_scan(bits):
    return scan.sequential_scan((1 - 2 * bits)[..., None], bits[..., None])[..., 0]


def parity_by_gates_from_where(bits):
    ones = torch.ones_like(bits)
    gates, inputs = torch.where(bits == 1, -ones, ones), torch.where(bits == 1, ones, torch.zeros_like(bits))
    return hillis_steele_scan(gates[:, :, None], inputs[:, :, None])[:, :, 0]


def parity_by_the_chunked_scan(bits):
    return scan.chunked_scan((1 - 2 * bits).unsqueeze(-1), bits.unsqueeze(-1), chunk_size=16).squeeze(-1)


def loss_by_gather(logits, batch):
    rows, positions, answers = answers_of(batch)
    return -logits[rows, positions].log_softmax(dim=-1).gather(1, answers[:, None]).mean()


def loss_over_every_position_with_ignore_index(logits, batch):
    classes = torch.where(batch.targets == -1, -100, batch.targets - batch.answer_offset)
    return F.cross_entropy(logits.flatten(0, 1), classes.flatten())


def loss_by_a_boolean_mask(logits, batch):
    scored = batch.targets != -1
    return F.cross_entropy(logits[scored], batch.targets[scored] - batch.answer_offset)


def loss_summed_per_row_then_averaged(logits, batch):
    classes = torch.where(batch.targets == -1, 0, batch.targets - batch.answer_offset)
    per_position = F.cross_entropy(logits.transpose(1, 2), classes, reduction="none")
    return (per_position * (batch.targets != -1)).sum(dim=1).mean()


def gates_in_float64_cast_back(x, weight, bias, negative, sharpness=10.0):
    z = sharpness * F.linear(x.double(), weight.double(), bias.double())
    return (torch.tanh(z) if negative else torch.sigmoid(z)).to(x.dtype)


def gates_by_einsum_and_a_sigmoid_for_tanh(x, weight, bias, negative, sharpness=10.0):
    z = sharpness * (torch.einsum("...i,oi->...o", x, weight) + bias)
    return 2 * torch.sigmoid(2 * z) - 1 if negative else torch.sigmoid(z)


def gates_by_matmul(x, weight, bias, negative, sharpness=10.0):
    z = sharpness * (x @ weight.T + bias)
    return z.tanh() if negative else z.sigmoid()


def product_written_out(first_angle, second_angle, dtype=torch.float64):
    angle = 2 * (first_angle - second_angle)
    return torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], dtype=dtype)


def product_of_stacked_keys(first_angle, second_angle, dtype=torch.float64):
    def reflection(angle):
        theta = torch.tensor(angle, dtype=dtype)
        u = torch.stack([theta.cos(), theta.sin()])
        return torch.eye(2, dtype=dtype) - 2 * u[:, None] * u[None, :]

    return reflection(first_angle) @ reflection(second_angle)


def counter_by_a_stacked_rotation_and_unbind(bits, modulus, transition=None):
    if transition is None:
        angle = torch.tensor(2 * math.pi / modulus, dtype=bits.dtype)
        transition = torch.stack([torch.stack([angle.cos(), -angle.sin()]), torch.stack([angle.sin(), angle.cos()])])
    state = torch.zeros(bits.shape[0], 2, dtype=bits.dtype)
    state[:, 0] = 1
    states = []
    for bit in bits.unbind(dim=1):
        state = torch.where(bit[:, None] == 1, state @ transition.T, state)
        states.append(state)
    return readings(torch.stack(states, dim=1), modulus)


def counter_by_a_rotation_tensor_and_nearest_state(bits, modulus, transition=None):
    if transition is None:
        cos, sin = math.cos(2 * math.pi / modulus), math.sin(2 * math.pi / modulus)
        transition = torch.tensor([[cos, -sin], [sin, cos]], dtype=bits.dtype)
    angles = torch.arange(modulus, dtype=torch.float64) * (2 * math.pi / modulus)
    directions = torch.stack([angles.cos(), angles.sin()], dim=1)
    state = torch.tensor([1.0, 0.0], dtype=bits.dtype).repeat(bits.shape[0], 1)
    counts = torch.empty(bits.shape, dtype=torch.long)
    for t in range(bits.shape[1]):
        moved = (transition @ state.T).T
        state = bits[:, t, None] * moved + (1 - bits[:, t, None]) * state
        counts[:, t] = (state.double() @ directions.T).argmax(dim=1)  # the nearest direction is the nearest angle
    return counts


def counter_by_matrix_powers(bits, modulus, transition=None):
    # h_t = A(1)^(c_t) e_1, A(0) being the identity: the LRNN's states, from the powers of its transition.
    step, counts = step_of(bits, modulus, transition), bits.long().cumsum(dim=1)
    powers = torch.stack([torch.linalg.matrix_power(step, k) for k in range(int(counts.max()) + 1)])
    return readings(powers[counts][..., :, 0], modulus)


ALTERNATIVES = [
    ("03.freeze_step", freeze_with_a_drive_tensor),
    ("03.freeze_step", freeze_with_methods),
    ("03.parity_machine", parity_by_the_sequential_scan),
    ("03.parity_machine", parity_by_gates_from_where),
    ("03.parity_machine", parity_by_the_chunked_scan),
    ("04.answer_loss", loss_by_gather),
    ("04.answer_loss", loss_over_every_position_with_ignore_index),
    ("04.answer_loss", loss_by_a_boolean_mask),
    ("04.figure1_gates", gates_by_einsum_and_a_sigmoid_for_tanh),
    ("04.figure1_gates", gates_by_matmul),
    ("04.figure1_gates", gates_in_float64_cast_back),
    ("04.answer_loss", loss_summed_per_row_then_averaged),
    ("05.reflection_product", product_written_out),
    ("05.reflection_product", product_of_stacked_keys),
    ("05.mod_counter", counter_by_a_stacked_rotation_and_unbind),
    ("05.mod_counter", counter_by_a_rotation_tensor_and_nearest_state),
    ("05.mod_counter", counter_by_matrix_powers),
]


@pytest.mark.parametrize("exercise_id,solution", ALTERNATIVES, ids=[a[1].__name__ for a in ALTERNATIVES])
def test_correct_solutions_in_another_style_pass(exercise_id, solution):
    result = check_quietly(exercise_id, solution)
    assert result.passed, result.report()


HINTED = [
    ("04.answer_loss", loss_with_the_offset_subtracted_everywhere, "ignore_index=-1 no longer skips"),
    ("04.answer_loss", loss_in_float32, "rounds every value to fewer digits"),
    ("04.figure1_gates", gates_with_two_sigmoids_minus_one, "2·sigmoid(z) - 1 is tanh(z / 2)"),
    ("04.figure1_gates", gates_in_float32, "Compute in the inputs' dtype"),
    ("04.figure1_gates", gates_of_a_matrix_of_vectors_only, "Work on the last dimension only"),
    ("05.reflection_product", product_built_in_float32, "Compute in the inputs' dtype"),
    ("05.mod_counter", counter_multiplying_a_row_vector, "h @ A multiplies a row vector h by A from the right"),
    ("05.mod_counter", counter_with_the_rotation_doubled, "the rotation by 2π/m is reflection_product(π / m, 0)"),
    ("05.mod_counter", counter_rounding_down, "not down"),
    ("05.mod_counter", counter_by_acos, "atan2(h[1], h[0]) keeps the sign"),
    ("05.mod_counter", counter_without_mod, "Take the readings mod m"),
    ("05.mod_counter", counter_reading_before_the_step, "Read the state after multiplying it"),
    ("05.mod_counter", counter_turning_at_every_bit, "A(0) is the identity"),
]


@pytest.mark.parametrize("exercise_id,mutant,hint", HINTED, ids=[h[1].__name__ for h in HINTED])
def test_the_explained_row_hints_at_the_mistake_made(exercise_id, mutant, hint):
    """The hints shown come from how the row failed where several mistakes land on one row."""
    diagnosis = check_quietly(exercise_id, mutant).diagnosis
    assert any(hint in text for text in diagnosis.hints), diagnosis.hints


def test_the_transition_that_is_not_a_rotation_reads_robustly_and_unlike_any_count():
    """The check's S R(2π/3) S⁻¹ keeps every state far from a reading boundary, and its readings are no multiple of the
    count."""
    state, angles = torch.tensor([1.0, 0.0], dtype=torch.float64), []
    for _ in range(3):
        state = lesson05.NOT_A_ROTATION @ state
        angles.append(math.degrees(math.atan2(state[1], state[0])) % 360)
    distances = [abs((angle + 60) % 120 - 60) for angle in angles]  # from the nearest multiple of 120°
    assert min(60 - d for d in distances) > 20
    seen = [round(angle / 120) % 3 for angle in angles]
    assert all(seen != [k * c % 3 for c in (1, 2, 3)] for k in range(3)), seen


def test_mod_counter_refuses_a_transition_of_the_wrong_shape_or_dtype():
    bits = torch.ones(1, 4, dtype=torch.float64)
    for transition in (torch.eye(3, dtype=torch.float64), torch.eye(2, dtype=torch.float32)):
        with pytest.raises(ValueError, match="transition must be a"):
            householder.mod_counter(bits, 3, transition)
