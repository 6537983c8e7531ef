"""Plausible wrong solutions of Lessons 06–08's exercises, each failing on the row that names its mistake."""

from __future__ import annotations

import pytest
import torch

from check_support import edited_solution, expect_fails_on_row
from lrnn_course import deltanet, deltaproduct, groups, householder, automata

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


MUTANTS = [
    ("06.delta_rule_step", step_without_beta_on_the_erase, "matches (I - β k kᵀ) S + β k vᵀ", "first mismatch"),
    ("06.delta_rule_step", step_of_linear_attention, "β = 1 overwrites: afterwards Sᵀk = v", "first mismatch"),
    ("06.delta_rule_step", step_gating_after_the_write, "the gate α scales the old state first", "first mismatch"),
    ("06.delta_rule_step", step_in_place, "does not modify its inputs", "modified its input `state`"),
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
    ("07.delta_product_by_interleaving", interleaving_into_the_query, "does not modify its inputs", "modified its input `q`"),
    ("07.delta_product_by_interleaving", interleaving_without_scale, "scale 0.3 reaches the read-out", "first mismatch"),
    ("07.delta_product_by_interleaving", interleaving_with_the_library_delta_rule, "runs the delta_rule it is given",
     "never called the delta_rule it was given"),
    ("08.prefix_products", products_in_the_wrong_order, "the order matters: (1 then 2) is not (2 then 1)", "position t = 1"),
    ("08.prefix_products", products_of_single_letters, "S3 by hand: 1, 2, 2 -> 1, 3, 1", "position t = 1"),
    ("08.prefix_products", products_in_place, "does not modify its inputs", "modified its input `words`"),
    ("08.transition_matrices", transposed_transitions, "the 6 elements of S3", "first mismatch"),
    ("08.transition_matrices", transitions_in_float64, "exact in float16 (swap reflections are 0s and ±1s)", "expected a torch.float16 tensor"),
    ("08.sequence_accuracy", accuracy_per_position, "a sequence never recovers from a mistake", "first mismatch"),
    ("08.sequence_accuracy", accuracy_scoring_padding, "positions with target -1 count as right", "first mismatch"),
]


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
