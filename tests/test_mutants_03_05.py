"""Plausible wrong solutions of Lessons 03–05's exercises, each failing on the row that names its mistake."""

from __future__ import annotations

import math

import pytest
import torch

from check_support import edited_solution, expect_fails_on_row
from lrnn_course import householder, models, precision, scan, train

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


MUTANTS = [
    ("03.freeze_step", freeze_in_python_floats, "float16, gate 0.9, drive 1: step 53 at 9.96875", "yours (step 328"),
    ("03.freeze_step", freeze_with_the_gate_rounded, "float16, gate 0.9, drive 1: step 53 at 9.96875", "yours (step 52, value 9.953125)"),
    ("03.freeze_step", freeze_one_step_late, "gate 0: frozen after one step", "expected (step 1, value 3.0)"),
    ("03.freeze_step", freeze_returning_tensors, "float16, gate 0.9, drive 1: step 53 at 9.96875", "got tensors"),
    ("03.parity_machine", parity_with_positive_gate, "all ones: 1 0 1 0 ...", "first mismatch"),
    ("03.parity_machine", parity_swapping_the_symbols, "all zeros: the state stays 0", "first mismatch"),
    ("03.parity_machine", parity_in_float32, "keeps bfloat16", "dtype torch.float32"),
    ("03.parity_machine", parity_overwriting_bits, "does not modify its input", "modified its input `bits`"),
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
    ("05.mod_counter", counter_overwriting_bits, "does not modify its input", "modified its input `bits`"),
]


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
