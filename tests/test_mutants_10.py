"""Plausible wrong solutions of Lesson 10's exercises, each failing on the row that names its mistake, and correct
solutions written in other styles, which pass."""

from __future__ import annotations

import functools
from collections import Counter

import pytest
import torch
from check_support import expect_fails_on_row

from lrnn_course import householder, inspection
from lrnn_course.checks import check_quietly

# --- 10.token_transitions ------------------------------------------------------------------------------------------


def factors_of(keys, betas, gates=None, dtype=None):
    """I - β k kᵀ per factor, (..., n_h, H, D, D)."""
    identity = torch.eye(keys.shape[-1], dtype=keys.dtype if dtype is None else dtype)
    return identity - betas[..., None, None] * keys[..., :, None] * keys[..., None, :]


def transitions_in_the_wrong_order(keys, betas, gates=None):
    """The first factor leftmost: A = F_1 F_2 ⋯, as the product is written left to right."""
    first, *later = factors_of(keys, betas).unbind(-4)
    product = first
    for factor in later:
        product = product @ factor
    return product if gates is None else gates[..., None, None] * product


def transitions_gating_every_factor(keys, betas, gates=None):
    factors = factors_of(keys, betas)
    if gates is not None:
        factors = gates[..., None, :, None, None] * factors
    first, *later = factors.unbind(-4)
    product = first
    for factor in later:
        product = factor @ product
    return product


def transitions_gating_the_identity_only(keys, betas, gates=None):
    """α I - β k kᵀ per factor: the gate read as part of the identity."""
    identity = torch.eye(keys.shape[-1], dtype=keys.dtype)
    scale = 1.0 if gates is None else gates[..., None, :, None, None]
    factors = scale * identity - betas[..., None, None] * keys[..., :, None] * keys[..., None, :]
    first, *later = factors.unbind(-4)
    product = first
    for factor in later:
        product = factor @ product
    return product


def transitions_of_the_first_factor(keys, betas, gates=None):
    product = factors_of(keys, betas)[..., 0, :, :, :]
    return product if gates is None else gates[..., None, None] * product


def transitions_summing_the_corrections(keys, betas, gates=None):
    """I - Σ_j β_j k_j k_jᵀ: right for orthogonal keys only."""
    identity = torch.eye(keys.shape[-1], dtype=keys.dtype)
    summed = identity - (betas[..., None, None] * keys[..., :, None] * keys[..., None, :]).sum(dim=-4)
    return summed if gates is None else gates[..., None, None] * summed


def transitions_of_two_factors(keys, betas, gates=None):
    """Written for n_h = 2, the lesson's models."""
    factors = factors_of(keys, betas)
    product = factors[..., -1, :, :, :] @ factors[..., 0, :, :, :] if keys.shape[-3] > 1 else factors[..., 0, :, :, :]
    return product if gates is None else gates[..., None, None] * product


def transitions_in_numpy(keys, betas, gates=None):
    k, b = keys.detach().numpy(), betas.detach().numpy()
    product = None
    for j in range(k.shape[-3]):
        outer = k[..., j, :, :, None] * k[..., j, :, None, :]
        factor = -b[..., j, :, None, None] * outer
        factor = factor + torch.eye(k.shape[-1], dtype=keys.dtype).numpy()
        product = factor if product is None else factor @ product
    if gates is not None:
        product = gates.detach().numpy()[..., None, None] * product
    return torch.from_numpy(product)


def transitions_with_the_gate_in_log_space(keys, betas, gates=None):
    # exp(log α) is α forward, at a reset α = 0 too, but its gradient there is 0 · ∞ = NaN
    return inspection.token_transitions(keys, betas, None if gates is None else torch.exp(torch.log(gates)))


def transitions_in_float64(keys, betas, gates=None):
    return inspection.token_transitions(keys, betas, gates).double()


def transitions_in_float32_cast_back(keys, betas, gates=None):
    product = inspection.token_transitions(keys.float(), betas.float(), None if gates is None else gates.float())
    return product.to(keys.dtype)


def transitions_of_a_batch_of_sequences(keys, betas, gates=None):
    """Indexes the factor axis from the start, as for keys (B, T, n_h, H, D) only."""
    product = None
    for j in range(keys.shape[-3]):
        key, beta = keys[:, :, j], betas[:, :, j]
        factor = (
            torch.eye(keys.shape[-1], dtype=keys.dtype) - beta[..., None, None] * key[..., :, None] * key[..., None, :]
        )
        product = factor if product is None else factor @ product
    return product if gates is None else gates[..., None, None] * product


# Self-review, first round: the mistakes the brief names (order of the factors, gate per factor), written as a learner
# would.
def transitions_transposed(keys, betas, gates=None):
    """Aᵀ, from reading the state update S ← Aᵀ… of the kernels: for symmetric factors, the reversed product."""
    return inspection.token_transitions(keys, betas, gates).transpose(-1, -2)


def transitions_multiplied_entrywise(keys, betas, gates=None):
    """`*` where `@` was meant."""
    first, *later = factors_of(keys, betas).unbind(-4)
    product = first
    for factor in later:
        product = factor * product
    return product if gates is None else gates[..., None, None] * product


# Self-review, second round: written blind, before running them against the rows.
def transitions_gating_the_last_axis(keys, betas, gates=None):
    """gates[..., None]: one axis short, so α lines up with the columns instead of the heads."""
    product = inspection.token_transitions(keys, betas)
    return product if gates is None else product * gates[..., None]


def transitions_by_prod(keys, betas, gates=None):
    """factors.prod(dim=-4) for 'the product of the factors': entry by entry."""
    product = factors_of(keys, betas).prod(dim=-4)
    return product if gates is None else gates[..., None, None] * product


# --- 10.composition_residuals ----------------------------------------------------------------------------------------


def norms(x):
    return torch.linalg.matrix_norm(x)


def pieces(restricted, table):
    composed = restricted[None, :] @ restricted[:, None]
    return composed, restricted[table]


def residuals_in_the_wrong_order(restricted, table):
    """M(a) M(b) for 'a, then b'."""
    composed, wanted = restricted[:, None] @ restricted[None, :], restricted[table]
    gap = norms(composed - wanted)
    return torch.where(gap > 0, gap / torch.maximum(norms(composed), norms(wanted)), 0.0)


def residuals_transposed(restricted, table):
    """M(a) M(b) against table[b, a]: right relations, but entry [a, b] holds the pair (b, a)."""
    composed, wanted = restricted[:, None] @ restricted[None, :], restricted[table.T]
    gap = norms(composed - wanted)
    return torch.where(gap > 0, gap / torch.maximum(norms(composed), norms(wanted)), 0.0)


def residuals_not_relative(restricted, table):
    composed, wanted = pieces(restricted, table)
    return norms(composed - wanted)


def residuals_in_the_spectral_norm(restricted, table):
    composed, wanted = pieces(restricted, table)
    gap = torch.linalg.matrix_norm(composed - wanted, ord=2)
    size = torch.maximum(torch.linalg.matrix_norm(composed, ord=2), torch.linalg.matrix_norm(wanted, ord=2))
    return torch.where(gap > 0, gap / size, 0.0)


def residuals_relative_to_the_wanted_map(restricted, table):
    composed, wanted = pieces(restricted, table)
    gap = norms(composed - wanted)
    return torch.where(gap > 0, gap / norms(wanted), 0.0)


def residuals_relative_to_the_smaller_norm(restricted, table):
    composed, wanted = pieces(restricted, table)
    gap = norms(composed - wanted)
    return torch.where(gap > 0, gap / torch.minimum(norms(composed), norms(wanted)), 0.0)


def residuals_dividing_zero_by_zero(restricted, table):
    composed, wanted = pieces(restricted, table)
    return norms(composed - wanted) / torch.maximum(norms(composed), norms(wanted))


def residuals_in_float64(restricted, table):
    return inspection.composition_residuals(restricted.double(), table)


def residuals_in_float32_cast_back(restricted, table):
    return inspection.composition_residuals(restricted.float(), table).to(restricted.dtype)


# Self-review, first round (the mistakes the brief names).
def residuals_of_squared_norms(restricted, table):
    """‖X - Y‖² / max(‖X‖², ‖Y‖²), as a mean squared error would have it."""
    composed, wanted = pieces(restricted, table)
    gap = norms(composed - wanted) ** 2
    return torch.where(gap > 0, gap / torch.maximum(norms(composed), norms(wanted)) ** 2, 0.0)


def residuals_relative_to_one_norm_for_all(restricted, table):
    """One denominator for every pair: the largest norm of all."""
    composed, wanted = pieces(restricted, table)
    return norms(composed - wanted) / torch.maximum(norms(composed).max(), norms(wanted).max())


# Self-review, second round: written blind, before running them against the rows.
def residuals_relative_to_the_mean_norm(restricted, table):
    composed, wanted = pieces(restricted, table)
    return torch.nan_to_num(norms(composed - wanted) / ((norms(composed) + norms(wanted)) / 2))


def residuals_of_the_largest_row_norm(restricted, table):
    """torch.linalg.norm(x, dim=-1) then the largest row, for 'the norm of a matrix'."""
    composed, wanted = pieces(restricted, table)

    def norm(x):
        return torch.linalg.norm(x, dim=-1).amax(dim=-1)

    gap = norm(composed - wanted)
    return torch.where(gap > 0, gap / torch.maximum(norm(composed), norm(wanted)), 0.0)


# --- 10.transition_table ---------------------------------------------------------------------------------------------


def counts_of(state_of, words, n_states, n_letters):
    """counts[state, letter, next] of the moves, dense."""
    counts = torch.zeros(n_states, n_letters, n_states, dtype=torch.long)
    index = (state_of[:, :-1].flatten(), words.flatten(), state_of[:, 1:].flatten())
    return counts.index_put(index, torch.ones(words.numel(), dtype=torch.long), accumulate=True)


def table_with_ties_to_the_largest(state_of, words, n_states, n_letters):
    counts = counts_of(state_of, words, n_states, n_letters)
    table = n_states - 1 - counts.flip(-1).argmax(dim=-1)
    table[counts.sum(dim=-1) == 0] = -1
    return table, float(counts.amax(dim=-1).sum()) / words.numel()


def table_with_zeros_where_unseen(state_of, words, n_states, n_letters):
    counts = counts_of(state_of, words, n_states, n_letters)
    return counts.argmax(dim=-1), float(counts.amax(dim=-1).sum()) / words.numel()


def table_of_the_letters_read(state_of, words, n_states, n_letters):
    return inspection.transition_table(state_of, words, n_states, int(words.max()) + 1)


def table_of_the_last_move(state_of, words, n_states, n_letters):
    table = torch.full((n_states, n_letters), -1, dtype=torch.long)
    for states, letters in zip(state_of.tolist(), words.tolist()):
        for before, letter, after in zip(states, letters, states[1:]):
            table[before, letter] = after
    agree = table[state_of[:, :-1], words] == state_of[:, 1:]
    return table, float(agree.double().mean())


def table_without_the_first_move(state_of, words, n_states, n_letters):
    """Pairs states after letters only, as extract_automaton's states (B, T) would: the first move is lost."""
    table, _ = inspection.transition_table(state_of[:, 1:], words[:, 1:], n_states, n_letters)
    agree = table[state_of[:, :-1], words] == state_of[:, 1:]
    return table, float(agree.double().mean())


def table_with_consistency_per_entry(state_of, words, n_states, n_letters):
    counts = counts_of(state_of, words, n_states, n_letters)
    table, _ = inspection.transition_table(state_of, words, n_states, n_letters)
    seen = counts.sum(dim=-1) > 0
    return table, float((counts.amax(dim=-1)[seen] / counts.sum(dim=-1)[seen]).mean())


def table_with_keys_by_the_number_of_states(state_of, words, n_states, n_letters):
    moves = state_of[:, :-1] * n_states + words
    table, agreement = inspection.majority(moves.flatten(), state_of[:, 1:].flatten(), n_states * n_letters)
    return table.view(n_states, n_letters), agreement


def table_with_a_tensor_consistency(state_of, words, n_states, n_letters):
    table, consistency = inspection.transition_table(state_of, words, n_states, n_letters)
    return table, torch.tensor(consistency)


# Self-review, first round (the mistakes the brief names).
def table_of_the_first_move(state_of, words, n_states, n_letters):
    """The first move seen of each (state, letter) decides."""
    table = torch.full((n_states, n_letters), -1, dtype=torch.long)
    for states, letters in zip(state_of.tolist(), words.tolist()):
        for before, letter, after in zip(states, letters, states[1:]):
            if table[before, letter] < 0:
                table[before, letter] = after
    agree = table[state_of[:, :-1], words] == state_of[:, 1:]
    return table, float(agree.double().mean())


def table_of_moves_backwards(state_of, words, n_states, n_letters):
    """The next state taken as the source: state_of[:, 1:] before state_of[:, :-1]."""
    return inspection.transition_table(state_of.flip(1), words.flip(1), n_states, n_letters)


# Self-review, second round: written blind, before running them against the rows.
def table_with_consistency_of_distinct_moves(state_of, words, n_states, n_letters):
    """Each distinct (state, letter, next state) counted once, however often it was observed."""
    table, _ = inspection.transition_table(state_of, words, n_states, n_letters)
    triples = torch.stack([state_of[:, :-1].flatten(), words.flatten(), state_of[:, 1:].flatten()], 1).unique(dim=0)
    return table, float((table[triples[:, 0], triples[:, 1]] == triples[:, 2]).double().mean())


def table_with_keys_letter_by_letter(state_of, words, n_states, n_letters):
    moves = words * n_states + state_of[:, :-1]
    table, agreement = inspection.majority(moves.flatten(), state_of[:, 1:].flatten(), n_states * n_letters)
    return table.view(n_states, n_letters), agreement


IN_PLACE = "does not modify its inputs"
TT_TYPE = "shape (..., H, D, D) in the keys' dtype"
TT_LEADING = "any leading shape: 1, 0 or 3 dimensions before (n_h, H, D)"
TT_ORDER = "n_h = 2: the first factor acts first, so it stands rightmost"
TT_THREE = "n_h = 3: every factor, in order"
TT_GATE = "the gate α scales the whole product once"
TT_ZERO = "a gate of 0 gives A = 0, with finite gradients"
TT_PRECISION = "float64 stays float64, to float64's precision"
TT_GRADIENTS = "gradients with respect to keys, β and α match autograd through a float64 reference"
CR_TYPE = "a (G, G) tensor in the maps' dtype"
CR_ORDER = "'a, then b' is M(b) M(a): S3's exact maps give 0 everywhere"
CR_NORM = "relative, in Frobenius norms: rotations of R^4 (every norm is 2)"
CR_LARGER = "divided by the larger of the two norms"
CR_ZERO = "0 where both are 0: a map of zeros"
CR_PAIRS = "entry [a, b] is the pair (a, b), not (b, a)"
CR_PRECISION = "float64 stays float64, to float64's precision"
TT_TABLE_TYPE = "a LongTensor (n_states, n_letters) and a float"
TT_FIRST = "move t goes from column t to column t + 1: the first move counts"
TT_NEVER = "a move never observed is -1"
TT_CONSISTENCY = "consistency: the fraction of all observed moves that the table predicts"
TT_MAJORITY = "the majority of the moves, not the first or the last one seen"
TT_TIES = "ties go to the smallest state id"
TT_KEYS = "(state, letter) pairs kept apart: 3 states, 5 letters"

MUTANTS = [
    ("10.token_transitions", transitions_in_the_wrong_order, TT_ORDER, "the factors in the opposite order"),
    ("10.token_transitions", transitions_of_the_first_factor, TT_ORDER, "the first factor alone"),
    ("10.token_transitions", transitions_summing_the_corrections, TT_ORDER, "the sum of the corrections"),
    ("10.token_transitions", transitions_of_two_factors, TT_THREE, "first mismatch"),
    ("10.token_transitions", transitions_gating_every_factor, TT_GATE, "applied to each of the 2 factors"),
    ("10.token_transitions", transitions_gating_the_identity_only, TT_GATE, "first mismatch"),
    ("10.token_transitions", transitions_with_the_gate_in_log_space, TT_ZERO, "non-finite"),
    ("10.token_transitions", transitions_in_numpy, TT_GRADIENTS, "not connected to autograd"),
    ("10.token_transitions", transitions_in_float64, TT_TYPE, "float32 keys give transitions of dtype torch.float64"),
    ("10.token_transitions", transitions_in_float32_cast_back, TT_PRECISION, "float32's rounding"),
    (
        "10.token_transitions",
        transitions_of_a_batch_of_sequences,
        TT_LEADING,
        "has shape (3, 1, 3, 3), expected (3, 2, 3, 3)",
    ),
    ("10.token_transitions", transitions_transposed, TT_ORDER, "the factors in the opposite order"),
    ("10.token_transitions", transitions_multiplied_entrywise, TT_ORDER, "first mismatch"),
    ("10.token_transitions", transitions_gating_the_last_axis, TT_TYPE, "raised RuntimeError"),
    ("10.token_transitions", transitions_by_prod, TT_ORDER, "first mismatch"),
    ("10.composition_residuals", residuals_in_the_wrong_order, CR_ORDER, "compares M(a) M(b)"),
    ("10.composition_residuals", residuals_transposed, CR_PAIRS, "yours is the transpose"),
    ("10.composition_residuals", residuals_not_relative, CR_NORM, "first mismatch"),
    ("10.composition_residuals", residuals_in_the_spectral_norm, CR_NORM, "first mismatch"),
    ("10.composition_residuals", residuals_relative_to_the_wanted_map, CR_LARGER, "first mismatch"),
    ("10.composition_residuals", residuals_relative_to_the_smaller_norm, CR_LARGER, "first mismatch"),
    ("10.composition_residuals", residuals_dividing_zero_by_zero, CR_ZERO, "non-finite value at [a=0, b=0]"),
    ("10.composition_residuals", residuals_in_float64, CR_TYPE, "float32 maps give residuals of dtype torch.float64"),
    ("10.composition_residuals", residuals_in_float32_cast_back, CR_PRECISION, "float32's rounding"),
    ("10.composition_residuals", residuals_of_squared_norms, CR_NORM, "first mismatch"),
    ("10.composition_residuals", residuals_relative_to_one_norm_for_all, CR_LARGER, "first mismatch"),
    ("10.composition_residuals", residuals_relative_to_the_mean_norm, CR_LARGER, "first mismatch"),
    ("10.composition_residuals", residuals_of_the_largest_row_norm, CR_NORM, "first mismatch"),
    ("10.transition_table", table_with_ties_to_the_largest, TT_TIES, "yours 2, expected 1"),
    ("10.transition_table", table_with_zeros_where_unseen, TT_NEVER, "yours 0, expected -1 (never observed)"),
    ("10.transition_table", table_of_the_letters_read, TT_TABLE_TYPE, "shape (5, 2)"),
    ("10.transition_table", table_of_the_last_move, TT_MAJORITY, "yours 2, expected 1"),
    ("10.transition_table", table_without_the_first_move, TT_FIRST, "yours -1, expected 1"),
    ("10.transition_table", table_with_consistency_per_entry, TT_CONSISTENCY, "the table is right; its consistency"),
    ("10.transition_table", table_with_keys_by_the_number_of_states, TT_KEYS, "table[state="),
    ("10.transition_table", table_with_a_tensor_consistency, TT_TABLE_TYPE, "the consistency is a Tensor"),
    ("10.transition_table", table_of_the_first_move, TT_MAJORITY, "yours 2, expected 1"),
    ("10.transition_table", table_of_moves_backwards, TT_FIRST, "table[state="),
    ("10.transition_table", table_with_consistency_of_distinct_moves, TT_CONSISTENCY, "its consistency: yours 0.8"),
    ("10.transition_table", table_with_keys_letter_by_letter, TT_NEVER, "letter by letter"),
]


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
    diagnosis = check_quietly(exercise_id, mutant).diagnosis
    assert diagnosis is not None and diagnosis.name == row_name, (
        f"the report explains {diagnosis.name!r}, not {row_name!r}"
    )


# --- correct solutions in other styles ------------------------------------------------------------------------------


def transitions_by_reduce_of_householders(keys, betas, gates=None):
    """generalized_householder normalises the (already unit) keys; the factors folded with the later one on the left."""
    factors = householder.generalized_householder(keys, betas).unbind(-4)
    product = functools.reduce(lambda done, factor: factor @ done, factors)
    return product if gates is None else product * gates[..., None, None]


def transitions_applied_to_the_identity(keys, betas, gates=None):
    """Each factor applied to the columns of the running product without forming it: P - β k (kᵀ P)."""
    product = torch.eye(keys.shape[-1], dtype=keys.dtype).expand(*keys.shape[:-3], keys.shape[-2], -1, -1)
    for key, beta in zip(keys.unbind(-3), betas.unbind(-2)):
        read = torch.einsum("...hd,...hde->...he", key, product)
        product = product - beta[..., None, None] * key[..., :, None] * read[..., None, :]
    return product if gates is None else torch.einsum("...h,...hde->...hde", gates, product)


def residuals_pair_by_pair(restricted, table):
    letters = restricted.shape[0]
    rows = []
    for a in range(letters):
        row = []
        for b in range(letters):
            composed, wanted = restricted[b] @ restricted[a], restricted[table[a, b]]
            gap = torch.linalg.norm(composed - wanted)
            size = torch.maximum(torch.linalg.norm(composed), torch.linalg.norm(wanted))
            row.append(gap / size if gap > 0 else gap)
        rows.append(torch.stack(row))
    return torch.stack(rows)


def residuals_by_einsum(restricted, table):
    composed = torch.einsum("bij,ajk->abik", restricted, restricted)
    difference = (composed - restricted[table]).square().sum(dim=(-2, -1)).sqrt()
    size = torch.maximum(composed.square().sum(dim=(-2, -1)), restricted[table].square().sum(dim=(-2, -1))).sqrt()
    return (difference / size).nan_to_num(0.0)


def table_by_counting_in_python(state_of, words, n_states, n_letters):
    moves: dict[tuple[int, int], Counter] = {}
    for states, letters in zip(state_of.tolist(), words.tolist()):
        for before, letter, after in zip(states, letters, states[1:]):
            moves.setdefault((before, letter), Counter())[after] += 1
    table = torch.full((n_states, n_letters), -1, dtype=torch.long)
    agreeing = 0
    for (state, letter), reached in moves.items():
        # most_common keeps the order of first appearance among ties: sort by (-count, id) instead
        best, count = min(reached.items(), key=lambda item: (-item[1], item[0]))
        table[state, letter], agreeing = best, agreeing + count
    return table, agreeing / words.numel()


def table_by_dense_counts(state_of, words, n_states, n_letters):
    counts = counts_of(state_of, words, n_states, n_letters)
    table = torch.where(counts.sum(dim=-1) > 0, counts.argmax(dim=-1), -1)  # argmax: the first maximum, smallest id
    return table, (counts.amax(dim=-1).sum() / words.numel()).item()


ALTERNATIVES = [
    ("10.token_transitions", transitions_by_reduce_of_householders),
    ("10.token_transitions", transitions_applied_to_the_identity),
    ("10.composition_residuals", residuals_pair_by_pair),
    ("10.composition_residuals", residuals_by_einsum),
    ("10.transition_table", table_by_counting_in_python),
    ("10.transition_table", table_by_dense_counts),
]


@pytest.mark.parametrize("exercise_id,alternative", ALTERNATIVES, ids=[a[1].__name__ for a in ALTERNATIVES])
def test_correct_solutions_in_other_styles_pass(exercise_id, alternative):
    result = check_quietly(exercise_id, alternative)
    assert result.passed, result.report()


@pytest.mark.parametrize("exercise_id", ["10.token_transitions", "10.composition_residuals", "10.transition_table"])
def test_the_inputs_row_is_the_only_red_one_for_a_solution_that_writes_into_its_inputs(exercise_id):
    solution = {
        "10.token_transitions": inspection.token_transitions,
        "10.composition_residuals": inspection.composition_residuals,
        "10.transition_table": inspection.transition_table,
    }[exercise_id]

    def writes_then_solves(first, *rest):
        result = solution(first.clone(), *rest)
        first.fill_(0)
        return result

    failed = [row.name for row in check_quietly(exercise_id, writes_then_solves).rows if not row.passed]
    assert failed == [IN_PLACE]
