"""Plausible wrong solutions of Lessons 09's exercises, each failing on the row that names its mistake."""

from __future__ import annotations

import pytest
import torch

from check_support import edited_solution, expect_fails_on_row
from lrnn_course import chunkwise

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


MUTANTS = [
    ("09.ut_transform", ut_including_the_diagonal, "two steps by hand", "first mismatch"),
    ("09.ut_transform", ut_with_beta_on_the_columns, "two steps by hand", "first mismatch"),
    ("09.ut_transform", ut_ignoring_decay, "with a decay Γ (Gated DeltaNet)", "first mismatch"),
    ("09.ut_transform", ut_in_float64, "keeps float32 as float32", "dtype torch.float64"),
    ("09.delta_rule_chunk", chunk_ignoring_the_state_in_u, "from a given state S₀", "first mismatch"),
    ("09.delta_rule_chunk", chunk_reading_out_with_strict_mask, "from a zero state: the chunk alone", "first mismatch"),
    ("09.delta_rule_chunk", chunk_without_gates, "gated: decay Γ and cumulative gates g", "first mismatch"),
    ("09.delta_rule_chunk", chunk_updating_state_in_place, "does not modify its inputs", "modified its input `state`"),
]


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
