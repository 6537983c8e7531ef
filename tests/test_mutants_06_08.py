"""Plausible wrong solutions of Lessons 06–08's exercises, each failing on the row that names its mistake,
and correct solutions written in other styles, which pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from check_support import expect_fails_on_row

from lrnn_course import automata, deltanet, deltaproduct, groups, householder, tasks
from lrnn_course.checks import check_quietly, lesson08

# householder_copying_beta calls torch.tensor on a tensor, as the learner it imitates would; PyTorch warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:To copy construct from a tensor")

# --- 06.delta_rule_step --------------------------------------------------------------------------------------


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


def step_gating_the_old_state_but_reading_it_ungated(state, k, v, beta, alpha=None):
    correction = beta[..., None] * (v - torch.einsum("bhkv,bhk->bhv", state, k))
    gated = state if alpha is None else alpha[..., None, None] * state
    return gated + k[..., :, None] * correction[..., None, :]


def step_ignoring_the_gate(state, k, v, beta, alpha=None):
    return deltanet.delta_rule_step(state, k, v, beta)


def step_with_beta_clamped_to_one(state, k, v, beta, alpha=None):
    """β ∈ [0, 1], DeltaNet as first published, where the lesson's β reaches 2."""
    return deltanet.delta_rule_step(state, k, v, beta.clamp(0, 1), alpha)


def step_in_place(state, k, v, beta, alpha=None):
    new = deltanet.delta_rule_step(state, k, v, beta, alpha)
    state.copy_(new)
    return new


def step_gating_in_place(state, k, v, beta, alpha=None):
    if alpha is not None:
        state.mul_(alpha[..., None, None])
    return deltanet.delta_rule_step(state, k, v, beta)


def step_without_autograd(state, k, v, beta, alpha=None):
    with torch.no_grad():
        return deltanet.delta_rule_step(state, k, v, beta, alpha)


def step_in_numpy(state, k, v, beta, alpha=None):
    s, key, value, b = (x.detach().numpy() for x in (state, k, v, beta))
    if alpha is not None:
        s = alpha.detach().numpy()[..., None, None] * s
    correction = b[..., None] * (value - np.einsum("bhkv,bhk->bhv", s, key))
    return torch.from_numpy(s + key[..., :, None] * correction[..., None, :])


def step_with_a_float32_identity(state, k, v, beta, alpha=None):
    """The dense form, with torch.eye in its default dtype."""
    transition = torch.eye(k.shape[-1]) - beta[..., None, None] * k[..., :, None] * k[..., None, :]
    if alpha is not None:
        transition = alpha[..., None, None] * transition
    return transition @ state + beta[..., None, None] * k[..., :, None] * v[..., None, :]


def step_in_float64(state, k, v, beta, alpha=None):
    return deltanet.delta_rule_step(
        state.double(), k.double(), v.double(), beta.double(), None if alpha is None else alpha.double()
    )


def step_with_the_dense_transition(state, k, v, beta, alpha=None):
    """Right values, from the D_k × D_k matrix the exercise says never to build."""
    identity = torch.eye(k.shape[-1], dtype=state.dtype)
    transition = identity - beta[..., None, None] * k[..., :, None] * k[..., None, :]
    if alpha is not None:
        transition = alpha[..., None, None] * transition
    return transition @ state + beta[..., None, None] * k[..., :, None] * v[..., None, :]


def step_normalising_the_key(state, k, v, beta, alpha=None):
    return deltanet.delta_rule_step(state, k / k.norm(dim=-1, keepdim=True), v, beta, alpha)


def step_in_float32_cast_back(state, k, v, beta, alpha=None):
    as_float32 = [None if x is None else x.float() for x in (state, k, v, beta, alpha)]
    return deltanet.delta_rule_step(*as_float32).to(state.dtype)


def step_reading_s_times_k(state, k, v, beta, alpha=None):
    """S k instead of Sᵀk: a (D_v, D_k) times (D_k,) product that does not fit."""
    read = (state @ k[..., None])[..., 0]
    return state + beta[..., None, None] * k[..., :, None] * (v - read)[..., None, :]


# --- 06.generalized_householder ------------------------------------------------------------------------------


def householder_without_normalising(key, beta):
    beta = torch.as_tensor(beta, dtype=key.dtype)
    return torch.eye(key.shape[-1], dtype=key.dtype) - beta[..., None, None] * key[..., :, None] * key[..., None, :]


def householder_with_half_beta(key, beta):
    return householder.generalized_householder(key, torch.as_tensor(beta, dtype=key.dtype) / 2)


def householder_with_beta_clamped_to_one(key, beta):
    return householder.generalized_householder(key, torch.as_tensor(beta, dtype=key.dtype).clamp(0, 1))


def householder_with_outer(key, beta):
    unit = key / key.norm()
    return torch.eye(key.shape[-1], dtype=key.dtype) - beta * torch.outer(unit, unit)


def householder_with_one_norm_for_the_batch(key, beta):
    unit = key / key.norm()
    beta = torch.as_tensor(beta, dtype=key.dtype)
    return torch.eye(key.shape[-1], dtype=key.dtype) - beta[..., None, None] * unit[..., :, None] * unit[..., None, :]


def householder_with_an_epsilon(key, beta):
    unit = key / (key.norm(dim=-1, keepdim=True) + 1e-12)
    beta = torch.as_tensor(beta, dtype=key.dtype)
    return torch.eye(key.shape[-1], dtype=key.dtype) - beta[..., None, None] * unit[..., :, None] * unit[..., None, :]


def householder_in_float64(key, beta):
    return householder.generalized_householder(key.double(), beta)


def householder_with_a_float32_identity(key, beta):
    beta = torch.as_tensor(beta, dtype=key.dtype)
    return (
        torch.eye(key.shape[-1]) - (beta / (key * key).sum(-1))[..., None, None] * key[..., :, None] * key[..., None, :]
    )


def householder_copying_beta(key, beta):
    """torch.tensor(beta) accepts a float and a tensor alike, and copies a tensor off the autograd graph."""
    beta = torch.tensor(beta, dtype=key.dtype)
    return householder.generalized_householder(key, beta)


def householder_detached(key, beta):
    return householder.generalized_householder(key.detach(), beta.detach() if isinstance(beta, torch.Tensor) else beta)


def householder_in_float32_for_float64_keys(key, beta):
    beta = torch.as_tensor(beta, dtype=key.dtype)
    squared = (key * key).sum(-1)
    return (
        torch.eye(key.shape[-1])
        - (beta / squared).float()[..., None, None] * (key[..., :, None] * key[..., None, :]).float()
    )


def householder_with_beta_missing_an_axis(key, beta):
    beta = torch.as_tensor(beta, dtype=key.dtype)
    projection = key[..., :, None] * key[..., None, :] / (key * key).sum(-1)[..., None, None]
    return torch.eye(key.shape[-1], dtype=key.dtype) - beta[..., None] * projection


def householder_with_the_mean_norm(key, beta):
    beta = torch.as_tensor(beta, dtype=key.dtype)
    projection = key[..., :, None] * key[..., None, :] / (key * key).sum(-1).mean()
    return torch.eye(key.shape[-1], dtype=key.dtype) - beta[..., None, None] * projection


def householder_normalising_in_place(key, beta):
    key /= key.norm(dim=-1, keepdim=True)
    beta = torch.as_tensor(beta, dtype=key.dtype)
    return torch.eye(key.shape[-1], dtype=key.dtype) - beta[..., None, None] * key[..., :, None] * key[..., None, :]


# --- 07.permutation_reflections ------------------------------------------------------------------------------


def swaps_in_the_wrong_order(permutation, dtype=torch.float64):
    return householder.permutation_reflections(permutation, dtype)[::-1]


def one_swap_per_cycle_member(permutation, dtype=torch.float64):
    """Also 'swaps' each cycle's first element with itself: a zero key, or one too many per cycle."""
    n = len(permutation)
    return [
        householder.swap_key(cycle[0], point, n, dtype)
        for cycle in householder.cycles(permutation)
        for point in cycle[1:]
    ] + [householder.swap_key(0, 1, n, dtype)] * 2


def swaps_of_neighbours(permutation, dtype=torch.float64):
    """Swaps each point with the next one in its cycle, in the wrong order for cycles longer than 2."""
    n = len(permutation)
    return [
        householder.swap_key(cycle[i], cycle[i + 1], n, dtype)
        for cycle in householder.cycles(permutation)
        for i in range(len(cycle) - 1)
    ]


def swaps_stacked_into_a_tensor(permutation, dtype=torch.float64):
    keys = householder.permutation_reflections(permutation, dtype)
    return torch.stack(keys) if keys else torch.zeros(0, len(permutation), dtype=dtype)


def swaps_in_the_default_dtype(permutation, dtype=torch.float64):
    n = len(permutation)
    return [
        householder.swap_key(cycle[0], point, n) for cycle in householder.cycles(permutation) for point in cycle[1:]
    ]


# --- 07.delta_product_by_interleaving ------------------------------------------------------------------------


def interleaved(
    q,
    k,
    v,
    beta,
    gates,
    initial_state,
    scale,
    delta_rule=deltanet.delta_rule,
    query_at=-1,
    interleave=deltaproduct.interleave,
):
    """Shared body of the interleaving mutants: the query at sub-step ``query_at``, the given ``gates`` (B, T, n_h, H)
    or None."""
    n_householder = k.shape[2]
    queries = torch.zeros_like(k)
    queries[:, :, query_at] = q
    outputs, state = delta_rule(
        *(interleave(x) for x in (queries, k, v, beta)),
        None if gates is None else interleave(gates),
        initial_state,
        scale,
    )
    return outputs[:, n_householder - 1 :: n_householder], state


def gates_at(alpha, beta, sub_step):
    """α at one sub-step of every token, 1 at the others (None without a gate)."""
    if alpha is None:
        return None
    gates = torch.ones_like(beta)
    gates[:, :, sub_step] = alpha
    return gates


def interleaving_with_the_query_first(q, k, v, beta, alpha=None, initial_state=None, scale=None):
    return interleaved(q, k, v, beta, gates_at(alpha, beta, 0), initial_state, scale, query_at=0)


def interleaving_with_the_gate_everywhere(q, k, v, beta, alpha=None, initial_state=None, scale=None):
    gates = None if alpha is None else alpha[:, :, None].expand_as(beta)
    return interleaved(q, k, v, beta, gates, initial_state, scale)


def interleaving_with_the_gate_last(q, k, v, beta, alpha=None, initial_state=None, scale=None):
    return interleaved(q, k, v, beta, gates_at(alpha, beta, -1), initial_state, scale)


def interleaving_sub_steps_first(q, k, v, beta, alpha=None, initial_state=None, scale=None):
    """(B, T, n_h, ...) -> (B, n_h·T, ...) with n_h moved in front of T: a token's sub-steps are T steps apart."""
    return interleaved(
        q,
        k,
        v,
        beta,
        gates_at(alpha, beta, 0),
        initial_state,
        scale,
        interleave=lambda x: x.transpose(1, 2).flatten(1, 2),
    )


def interleaving_without_initial_state(q, k, v, beta, alpha=None, initial_state=None, scale=None):
    return deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha, None, scale)


def interleaving_into_the_query(
    q, k, v, beta, alpha=None, initial_state=None, scale=None, *, delta_rule=deltanet.delta_rule
):
    result = deltaproduct.delta_product_by_interleaving(
        q, k, v, beta, alpha, initial_state, scale, delta_rule=delta_rule
    )
    q.zero_()
    return result


def interleaving_with_alpha_unsqueezed_in_place(
    q, k, v, beta, alpha=None, initial_state=None, scale=None, *, delta_rule=deltanet.delta_rule
):
    gates = None
    if alpha is not None:
        gates = torch.ones_like(beta)
        gates[:, :, :1] = alpha.unsqueeze_(2)
    return interleaved(q, k, v, beta, gates, initial_state, scale, delta_rule)


def interleaving_without_scale(
    q, k, v, beta, alpha=None, initial_state=None, scale=None, *, delta_rule=deltanet.delta_rule
):
    return deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha, initial_state, None, delta_rule=delta_rule)


def interleaving_with_the_library_delta_rule(
    q, k, v, beta, alpha=None, initial_state=None, scale=None, *, delta_rule=None
):
    """Right numbers, but always deltanet.delta_rule: the kernel a caller passes never runs."""
    return deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha, initial_state, scale)


def interleaving_that_calls_the_given_delta_rule_for_show(
    q, k, v, beta, alpha=None, initial_state=None, scale=None, *, delta_rule=deltanet.delta_rule
):
    """Calls the argument once on the right sequence, then returns the library's recurrence."""
    deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha, initial_state, scale, delta_rule=delta_rule)
    return deltaproduct.delta_product(q, k, v, beta, alpha, initial_state, scale)


def interleaving_token_by_token(
    q, k, v, beta, alpha=None, initial_state=None, scale=None, *, delta_rule=deltanet.delta_rule
):
    """Calls the given delta_rule once per token, on its n_h sub-steps, carrying the state: right numbers, T calls."""
    gates = gates_at(alpha, beta, 0)
    state, outputs = initial_state, []
    for t in range(q.shape[1]):
        token = slice(t, t + 1)
        output, state = interleaved(
            q[:, token],
            k[:, token],
            v[:, token],
            beta[:, token],
            None if gates is None else gates[:, token],
            state,
            scale,
            delta_rule,
        )
        outputs.append(output)
    return torch.cat(outputs, dim=1), state


def interleaving_without_autograd(
    q, k, v, beta, alpha=None, initial_state=None, scale=None, *, delta_rule=deltanet.delta_rule
):
    with torch.no_grad():
        return deltaproduct.delta_product_by_interleaving(
            q, k, v, beta, alpha, initial_state, scale, delta_rule=delta_rule
        )


# --- 08.prefix_products --------------------------------------------------------------------------------------


def products_in_the_wrong_order(table, words):
    products, state = torch.empty_like(words), torch.zeros(words.shape[0], dtype=torch.long)
    for t in range(words.shape[1]):
        state = table[words[:, t], state]
        products[:, t] = state
    return products


def products_of_single_letters(table, words):
    return table[0][words]


def products_stored_before_the_letter(table, words):
    products, state = torch.empty_like(words), torch.zeros(words.shape[0], dtype=torch.long)
    for t in range(words.shape[1]):
        products[:, t] = state
        state = table[state, words[:, t]]
    return products


def products_starting_from_the_first_letter(table, words):
    """state = x_1 and then the loop multiplies by x_1 again."""
    products, state = torch.empty_like(words), words[:, 0]
    for t in range(words.shape[1]):
        state = table[state, words[:, t]]
        products[:, t] = state
    return products


def products_in_place(table, words):
    for t in range(1, words.shape[1]):
        words[:, t] = table[words[:, t - 1], words[:, t]]
    return words


def products_by_summing_indices(table, words):
    """The rule of a cyclic group numbered in order, Z_n: it never looks into the table."""
    return torch.cumsum(words, dim=1) % table.shape[0]


def products_as_floats(table, words):
    products = words.clone().float()
    for t in range(1, words.shape[1]):
        products[:, t] = table[products[:, t - 1].long(), words[:, t]].float()
    return products


def products_without_the_last_position(table, words):
    return groups.prefix_products(table, words)[:, :-1]


def products_of_the_first_steps(steps):
    """A loop over range(1, min(T, steps)), as a learner who capped it while testing: right wherever T ≤ steps."""

    def products(table, words):
        products = words.clone()
        for t in range(1, min(words.shape[1], steps)):
            products[:, t] = table[products[:, t - 1], words[:, t]]
        return products

    products.__name__ = f"products_of_the_first_{steps}_steps"
    return products


# --- 08.transition_matrices ----------------------------------------------------------------------------------


def transposed_transitions(permutations, dtype=torch.float32):
    return torch.stack([householder.permutation_matrix(p).T for p in permutations]).to(dtype)


def transitions_in_float64(permutations, dtype=torch.float32):
    return torch.stack([householder.permutation_matrix(p) for p in permutations])


def transitions_always_in_float32(permutations, dtype=torch.float32):
    return automata.transition_matrices(permutations)


def transitions_multiplied_in_the_wrong_order(permutations, dtype=torch.float32):
    """product = product @ H: the first key ends up acting last."""
    n, matrices = len(permutations[0]), []
    for permutation in permutations:
        product = torch.eye(n, dtype=torch.float64)
        for key in householder.permutation_reflections(permutation):
            product = product @ householder.generalized_householder(key, 2.0)
        matrices.append(product)
    return torch.stack(matrices).to(dtype)


def transitions_of_projections(permutations, dtype=torch.float32):
    """β = 1 instead of 2: each factor projects out e_i - e_j instead of swapping."""
    n, matrices = len(permutations[0]), []
    for permutation in permutations:
        product = torch.eye(n, dtype=torch.float64)
        for key in householder.permutation_reflections(permutation):
            product = householder.generalized_householder(key, 1.0) @ product
        matrices.append(product)
    return torch.stack(matrices).to(dtype)


def transitions_with_the_keys_reversed(permutations, dtype=torch.float32):
    n = len(permutations[0])
    return torch.stack(
        [householder.product_of_reflections(householder.permutation_reflections(p)[::-1], n) for p in permutations]
    ).to(dtype)


def transitions_of_rows(permutations, dtype=torch.float32):
    """Row i of the identity for e_σ(i): P[i, σ(i)] = 1, the transpose."""
    return torch.stack([torch.eye(len(p), dtype=dtype)[list(p)] for p in permutations])


def transitions_with_keys_in_the_dtype(permutations, dtype=torch.float32):
    """Keys made in the dtype asked for and multiplied there, without .to(dtype): the identity comes back in float64."""
    n = len(permutations[0])
    return torch.stack(
        [householder.product_of_reflections(householder.permutation_reflections(p, dtype), n) for p in permutations]
    )


def transitions_written_out_from_sigma(permutations, dtype=torch.float32):
    """The right matrices, without a single reflection: columns of the identity picked by σ."""
    return torch.stack([torch.eye(len(p), dtype=dtype)[:, list(p)] for p in permutations])


def transitions_calling_the_reflections_for_show(permutations, dtype=torch.float32):
    matrices = []
    for permutation in permutations:
        householder.permutation_reflections(permutation)
        matrices.append(householder.permutation_matrix(permutation))
    return torch.stack(matrices).to(dtype)


def transitions_squeezed(permutations, dtype=torch.float32):
    return automata.transition_matrices(permutations, dtype).squeeze(0)


# --- 08.sequence_accuracy ------------------------------------------------------------------------------------


def accuracy_per_position(predictions, targets):
    return ((predictions == targets) | (targets == -1)).float().mean(dim=0)


def accuracy_scoring_padding(predictions, targets):
    return (predictions == targets).long().cumprod(dim=1).float().mean(dim=0)


def accuracy_with_padding_marked_after_the_cumprod(predictions, targets):
    right = (predictions == targets).long().cumprod(dim=1)
    right[targets == -1] = 1
    return right.float().mean(dim=0)


def accuracy_with_padding_clamped_to_zero(predictions, targets):
    return (predictions == targets.clamp(min=0)).long().cumprod(dim=1).float().mean(dim=0)


def accuracy_over_unpadded_rows(predictions, targets):
    """The fraction among the rows still scored at t, instead of among all N rows."""
    scored = targets != -1
    right = ((predictions == targets) | ~scored).long().cumprod(dim=1)
    return ((right * scored).sum(dim=0) / scored.sum(dim=0).clamp(min=1)).float()


def accuracy_with_padding_from_the_length(predictions, targets):
    """Takes every position from the row's number of scored targets on as padding."""
    lengths = (targets != -1).sum(dim=1, keepdim=True)
    padding = torch.arange(targets.shape[1]) >= lengths
    return ((predictions == targets) | padding).long().cumprod(dim=1).float().mean(dim=0)


def accuracy_from_the_first_mistake(predictions, targets):
    """argmax of the wrong positions is 0 for a row without any mistake, too."""
    wrong = (predictions != targets) & (targets != -1)
    first = wrong.long().argmax(dim=1, keepdim=True)
    return (torch.arange(targets.shape[1]) < first).float().mean(dim=0)


def accuracy_cumulated_over_rows(predictions, targets):
    return ((predictions == targets) | (targets == -1)).long().cumprod(dim=0).float().mean(dim=0)


def accuracy_in_float64(predictions, targets):
    return tasks.sequence_accuracy(predictions, targets).double()


def accuracy_filling_the_padding_of_targets(predictions, targets):
    targets[targets == -1] = predictions[targets == -1]
    return (predictions == targets).long().cumprod(dim=1).float().mean(dim=0)


def accuracy_blanking_the_padding_of_predictions(predictions, targets):
    predictions[targets == -1] = -1
    return (predictions == targets).long().cumprod(dim=1).float().mean(dim=0)


def scored_right(predictions, targets):
    return (predictions == targets) | (targets == -1)


def accuracy_by_integer_division(predictions, targets):
    alive = scored_right(predictions, targets).long().cumprod(dim=1)
    return (alive.sum(dim=0) // predictions.shape[0]).float()


def accuracy_up_to_the_previous_position(predictions, targets):
    right = scored_right(predictions, targets)
    return torch.cat([torch.ones_like(right[:, :1]), right[:, :-1]], dim=1).long().cumprod(dim=1).float().mean(dim=0)


def accuracy_from_the_end(predictions, targets):
    return scored_right(predictions, targets).flip(1).long().cumprod(dim=1).flip(1).float().mean(dim=0)


def accuracy_of_whole_sequences(predictions, targets):
    return scored_right(predictions, targets).all(dim=1).float().mean().expand(targets.shape[1]).clone()


def accuracy_as_a_running_mean(predictions, targets):
    per_position = scored_right(predictions, targets).float().mean(dim=0)
    return per_position.cumsum(dim=0) / torch.arange(1, targets.shape[1] + 1)


def accuracy_as_a_running_minimum_of_positions(predictions, targets):
    return scored_right(predictions, targets).float().mean(dim=0).cummin(dim=0).values


def accuracy_keeping_the_row_dimension(predictions, targets):
    return scored_right(predictions, targets).long().cumprod(dim=1).float().mean(dim=0, keepdim=True)


def accuracy_averaged_over_time(predictions, targets):
    return scored_right(predictions, targets).long().cumprod(dim=1).float().mean(dim=1)


IN_PLACE = "does not modify its inputs"
GRADIENTS = "gradients match autograd through a float64 reference"
NOT_CONNECTED = "not connected to autograd"
PRODUCTS_TYPE = "a LongTensor (N, T): one element index per position"
PRODUCTS_TABLE = "the table decides: S3 renumbered gives renumbered products"
TRANSPOSES = "yours are the transposes P_σᵀ = P_σ⁻¹"
REFLECTIONS = "the matrices are products of the reflections permutation_reflections gives"
ACCURACY_TYPE = "a float32 tensor of shape (T,)"
NEVER_RECOVERS = "a sequence never recovers from a mistake"


def step_with_the_gate_in_log_space(state, k, v, beta, alpha=None):
    # exp(log α) is α forward, also at a reset α = 0, but its gradient there is 0 · ∞ = NaN
    return deltanet.delta_rule_step(state, k, v, beta, None if alpha is None else torch.exp(torch.log(alpha)))


MUTANTS = [
    (
        "06.delta_rule_step",
        step_with_the_gate_in_log_space,
        "gradients match autograd through a float64 reference",
        "non-finite",
    ),
    ("06.delta_rule_step", step_without_beta_on_the_erase, "β = 0 leaves the state alone", "first mismatch"),
    ("06.delta_rule_step", step_of_linear_attention, "β = 1 overwrites: afterwards Sᵀk = v", "first mismatch"),
    (
        "06.delta_rule_step",
        step_with_beta_clamped_to_one,
        "β = 2 reflects along k, then writes 2 k vᵀ",
        "first mismatch",
    ),
    ("06.delta_rule_step", step_gating_after_the_write, "the gate α scales the old state first", "first mismatch"),
    (
        "06.delta_rule_step",
        step_gating_the_old_state_but_reading_it_ungated,
        "the gate α scales the old state first",
        "first mismatch",
    ),
    ("06.delta_rule_step", step_ignoring_the_gate, "the gate α scales the old state first", "first mismatch"),
    ("06.delta_rule_step", step_in_place, IN_PLACE, "modified its input `state`"),
    ("06.delta_rule_step", step_gating_in_place, IN_PLACE, "modified its input `state`"),
    ("06.delta_rule_step", step_without_autograd, GRADIENTS, NOT_CONNECTED),
    ("06.delta_rule_step", step_in_numpy, GRADIENTS, NOT_CONNECTED),
    (
        "06.delta_rule_step",
        step_with_a_float32_identity,
        "never builds the D_k × D_k matrix (D_k = 7)",
        "your eye returned a tensor of shape (7, 7)",
    ),
    ("06.delta_rule_step", step_in_float64, "keeps float32 as float32", "dtype torch.float64"),
    (
        "06.delta_rule_step",
        step_with_the_dense_transition,
        "never builds the D_k × D_k matrix (D_k = 7)",
        "a tensor of shape (7, 7)",
    ),
    (
        "06.delta_rule_step",
        step_normalising_the_key,
        "keys of any length: the step uses k as given",
        "keys of lengths 0.5 to 2",
    ),
    (
        "06.delta_rule_step",
        step_in_float32_cast_back,
        "float64 stays float64, to float64's precision",
        "float32's rounding",
    ),
    ("06.delta_rule_step", step_reading_s_times_k, "matches (I - β k kᵀ) S + β k vᵀ", "raised RuntimeError"),
    (
        "06.generalized_householder",
        householder_without_normalising,
        "normalises the key: k = (3, 4), β = 2",
        "first mismatch",
    ),
    (
        "06.generalized_householder",
        householder_with_half_beta,
        "eigenvalue 1 - β along k, 1 elsewhere",
        "expected 1 - β",
    ),
    (
        "06.generalized_householder",
        householder_with_beta_clamped_to_one,
        "eigenvalue 1 - β along k, 1 elsewhere",
        "β = 1.7",
    ),
    ("06.generalized_householder", householder_with_outer, "a batch of keys and βs", "raised RuntimeError"),
    ("06.generalized_householder", householder_with_one_norm_for_the_batch, "a batch of keys and βs", "first mismatch"),
    (
        "06.generalized_householder",
        householder_with_an_epsilon,
        "float32 keys of length 1e15 and 1e-10, β = 0, 1, 2",
        "float32 keys of length 1e-10, β = 1: first mismatch",
    ),
    ("06.generalized_householder", householder_in_float64, "keeps float32 as float32", "dtype torch.float64"),
    (
        "06.generalized_householder",
        householder_with_a_float32_identity,
        "keeps float16 as float16",
        "dtype torch.float32",
    ),
    (
        "06.generalized_householder",
        householder_copying_beta,
        GRADIENTS,
        "gradient with respect to beta is not connected to autograd",
    ),
    ("06.generalized_householder", householder_detached, GRADIENTS, NOT_CONNECTED),
    ("06.generalized_householder", householder_normalising_in_place, IN_PLACE, "modified its input `key`"),
    (
        "06.generalized_householder",
        householder_in_float32_for_float64_keys,
        "float64 keys give float64 matrices, to float64's precision",
        "dtype torch.float32",
    ),
    (
        "06.generalized_householder",
        householder_with_beta_missing_an_axis,
        "a batch of keys and βs",
        "raised RuntimeError",
    ),
    ("06.generalized_householder", householder_with_the_mean_norm, "a batch of keys and βs", "first mismatch"),
    (
        "07.permutation_reflections",
        swaps_in_the_wrong_order,
        "the 3-cycle 0 → 1 → 2 → 0 is two reflections, in order",
        "first mismatch",
    ),
    (
        "07.permutation_reflections",
        one_swap_per_cycle_member,
        "the identity needs none",
        "2 reflections, expected n - c(σ) = 0",
    ),
    (
        "07.permutation_reflections",
        swaps_of_neighbours,
        "the 3-cycle 0 → 1 → 2 → 0 is two reflections, in order",
        "first mismatch",
    ),
    (
        "07.permutation_reflections",
        swaps_in_the_default_dtype,
        "keys in the dtype asked for (float64 by default)",
        "with dtype=torch.float32, your keys are torch.float64",
    ),
    ("07.permutation_reflections", swaps_stacked_into_a_tensor, "the identity needs none", "expected a list of keys"),
    (
        "07.delta_product_by_interleaving",
        interleaving_with_the_query_first,
        "n_h = 2 equals the native recurrence",
        "first mismatch",
    ),
    (
        "07.delta_product_by_interleaving",
        interleaving_sub_steps_first,
        "n_h = 2 equals the native recurrence",
        "first mismatch",
    ),
    (
        "07.delta_product_by_interleaving",
        interleaving_with_the_gate_everywhere,
        "gated, n_h = 4: α at each token's first sub-step",
        "first mismatch",
    ),
    (
        "07.delta_product_by_interleaving",
        interleaving_with_the_gate_last,
        "gated, n_h = 4: α at each token's first sub-step",
        "first mismatch",
    ),
    (
        "07.delta_product_by_interleaving",
        interleaving_without_initial_state,
        "n_h = 3 with an initial state",
        "first mismatch",
    ),
    ("07.delta_product_by_interleaving", interleaving_into_the_query, IN_PLACE, "modified its input `q`"),
    (
        "07.delta_product_by_interleaving",
        interleaving_with_alpha_unsqueezed_in_place,
        IN_PLACE,
        "modified its input `alpha`",
    ),
    (
        "07.delta_product_by_interleaving",
        interleaving_without_scale,
        "scale 0.3 reaches the read-out",
        "first mismatch",
    ),
    (
        "07.delta_product_by_interleaving",
        interleaving_with_the_library_delta_rule,
        "runs the delta_rule it is given",
        "never called the delta_rule it was given",
    ),
    (
        "07.delta_product_by_interleaving",
        interleaving_that_calls_the_given_delta_rule_for_show,
        "runs the delta_rule it is given",
        "your result does not follow it",
    ),
    (
        "07.delta_product_by_interleaving",
        interleaving_token_by_token,
        "runs the delta_rule it is given",
        "lengths [2, 2, 2, 2, 2, 2]",
    ),
    ("07.delta_product_by_interleaving", interleaving_without_autograd, GRADIENTS, NOT_CONNECTED),
    (
        "08.prefix_products",
        products_in_the_wrong_order,
        "the order matters: (1 then 2) is not (2 then 1)",
        "position t = 1",
    ),
    (
        "08.prefix_products",
        products_of_single_letters,
        "the identity (0) keeps the product: 1, 0, 0, 0 -> 1, 1, 1, 1",
        "position t = 1",
    ),
    (
        "08.prefix_products",
        products_stored_before_the_letter,
        "the identity (0) keeps the product: 1, 0, 0, 0 -> 1, 1, 1, 1",
        "position t = 0",
    ),
    (
        "08.prefix_products",
        products_starting_from_the_first_letter,
        "the identity (0) keeps the product: 1, 0, 0, 0 -> 1, 1, 1, 1",
        "position t = 0",
    ),
    ("08.prefix_products", products_in_place, IN_PLACE, "modified its input `words`"),
    (
        "08.prefix_products",
        products_by_summing_indices,
        PRODUCTS_TABLE,
        "your function computes with the indices themselves",
    ),
    ("08.prefix_products", products_as_floats, PRODUCTS_TYPE, "got torch.float32 tensor of shape (2, 4)"),
    ("08.prefix_products", products_without_the_last_position, PRODUCTS_TYPE, "got torch.int64 tensor of shape (2, 3)"),
    ("08.prefix_products", products_of_the_first_steps(8), "random words in S4", "all 8 words are right before t = 8"),
    (
        "08.prefix_products",
        products_of_the_first_steps(64),
        "long words: T = 1000 in S3",
        "all 4 words are right before t = 64",
    ),
    ("08.transition_matrices", transposed_transitions, "the 6 elements of S3", TRANSPOSES),
    ("08.transition_matrices", transitions_multiplied_in_the_wrong_order, "the 6 elements of S3", TRANSPOSES),
    ("08.transition_matrices", transitions_with_the_keys_reversed, "the 6 elements of S3", TRANSPOSES),
    ("08.transition_matrices", transitions_of_rows, "the 6 elements of S3", TRANSPOSES),
    ("08.transition_matrices", transitions_of_projections, "the 6 elements of S3", "first mismatch"),
    (
        "08.transition_matrices",
        transitions_squeezed,
        "a single permutation gives (1, n, n)",
        "got a torch.float32 tensor of shape (3, 3)",
    ),
    ("08.transition_matrices", transitions_in_float64, "float32 unless a dtype is given", "got torch.float64"),
    (
        "08.transition_matrices",
        transitions_with_keys_in_the_dtype,
        "float32 unless a dtype is given",
        "got torch.float64",
    ),
    (
        "08.transition_matrices",
        transitions_always_in_float32,
        "exact in float16 (swap reflections are 0s and ±1s)",
        "expected a torch.float16 tensor",
    ),
    ("08.transition_matrices", transitions_written_out_from_sigma, REFLECTIONS, "never called permutation_reflections"),
    (
        "08.transition_matrices",
        transitions_calling_the_reflections_for_show,
        REFLECTIONS,
        "your matrices should follow it",
    ),
    ("08.sequence_accuracy", accuracy_in_float64, ACCURACY_TYPE, "dtype torch.float64, expected torch.float32"),
    ("08.sequence_accuracy", accuracy_keeping_the_row_dimension, ACCURACY_TYPE, "has shape (1, 7), expected (7,)"),
    ("08.sequence_accuracy", accuracy_averaged_over_time, ACCURACY_TYPE, "has shape (4,), expected (7,)"),
    (
        "08.sequence_accuracy",
        accuracy_from_the_first_mistake,
        "all right: 1 at every position",
        "first mismatch at [t=0]",
    ),
    (
        "08.sequence_accuracy",
        accuracy_up_to_the_previous_position,
        "a mistake counts at its own position: T = 1, every row wrong -> 0",
        "yours 1.000000, expected 0.000000",
    ),
    (
        "08.sequence_accuracy",
        accuracy_by_integer_division,
        "a fraction of all N rows: 1 of 3 right -> 1/3",
        "yours 0.000000, expected 0.333333",
    ),
    ("08.sequence_accuracy", accuracy_per_position, NEVER_RECOVERS, "first mismatch at [t=1]"),
    ("08.sequence_accuracy", accuracy_cumulated_over_rows, NEVER_RECOVERS, "first mismatch at [t=0]"),
    ("08.sequence_accuracy", accuracy_from_the_end, NEVER_RECOVERS, "first mismatch at [t=1]"),
    ("08.sequence_accuracy", accuracy_as_a_running_mean, NEVER_RECOVERS, "first mismatch at [t=1]"),
    (
        "08.sequence_accuracy",
        accuracy_of_whole_sequences,
        "a later mistake does not count earlier",
        "first mismatch at [t=0]",
    ),
    (
        "08.sequence_accuracy",
        accuracy_as_a_running_minimum_of_positions,
        "rows go wrong at different positions: count rows, not positions",
        "first mismatch at [t=2]",
    ),
    (
        "08.sequence_accuracy",
        accuracy_with_padding_marked_after_the_cumprod,
        "padding after a mistake does not revive the row",
        "first mismatch at [t=2]",
    ),
    ("08.sequence_accuracy", accuracy_scoring_padding, "positions with target -1 count as right", "first mismatch"),
    (
        "08.sequence_accuracy",
        accuracy_with_padding_clamped_to_zero,
        "positions with target -1 count as right",
        "first mismatch at [t=1]",
    ),
    (
        "08.sequence_accuracy",
        accuracy_over_unpadded_rows,
        "positions with target -1 count as right",
        "first mismatch at [t=3]",
    ),
    (
        "08.sequence_accuracy",
        accuracy_with_padding_from_the_length,
        "positions with target -1 count as right",
        "first mismatch at [t=1]",
    ),
    ("08.sequence_accuracy", accuracy_filling_the_padding_of_targets, IN_PLACE, "modified its input `targets`"),
    (
        "08.sequence_accuracy",
        accuracy_blanking_the_padding_of_predictions,
        IN_PLACE,
        "modified its input `predictions`",
    ),
]


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
    diagnosis = check_quietly(exercise_id, mutant).diagnosis
    assert diagnosis is not None and diagnosis.name == row_name, (
        f"the report explains {diagnosis.name!r}, not {row_name!r}"
    )


@pytest.mark.parametrize(
    "exercise_id,mutant", [(m[0], m[1]) for m in MUTANTS if m[2] == IN_PLACE], ids=lambda x: getattr(x, "__name__", x)
)
def test_in_place_mutants_get_every_value_right(exercise_id, mutant):
    """Their values are right: only the in-place row (and the gradient through overwritten tensors) may be red."""
    failed = {row.name for row in check_quietly(exercise_id, mutant).rows if not row.passed}
    assert failed <= {IN_PLACE, GRADIENTS}, failed


# --- correct solutions in other styles ------------------------------------------------------------------------


def step_by_matmuls(state, k, v, beta, alpha=None):
    """Sᵀk and the outer product by matmuls of (D_k, 1) and (1, D_v) matrices: no D_k × D_k matrix either."""
    state = state if alpha is None else state * alpha[..., None, None]
    column = k[..., None]
    error = v[..., None] - state.transpose(-1, -2) @ column
    return state + beta[..., None, None] * (column @ error.transpose(-1, -2))


def step_gating_after_the_erase(state, k, v, beta, alpha=None):
    """α (S - β k (Sᵀk)ᵀ) + β k vᵀ: the gate may come after the erase, which it commutes with."""
    read = torch.einsum("bhkv,bhk->bhv", state, k)
    erased = state - beta[..., None, None] * k[..., :, None] * read[..., None, :]
    erased = erased if alpha is None else alpha[..., None, None] * erased
    return erased + beta[..., None, None] * k[..., :, None] * v[..., None, :]


def step_in_float64_cast_back(state, k, v, beta, alpha=None):
    s, key, value, b = (x.double() for x in (state, k, v, beta))
    read = (s.transpose(-1, -2) @ key[..., None])[..., 0]
    new = s - b[..., None, None] * key[..., :, None] * read[..., None, :]
    if alpha is not None:
        new = alpha.double()[..., None, None] * new
    return (new + b[..., None, None] * key[..., :, None] * value[..., None, :]).to(state.dtype)


def householder_by_f_normalize(key, beta):
    unit = F.normalize(key, dim=-1)
    beta = torch.as_tensor(beta, dtype=key.dtype)
    return torch.eye(key.shape[-1], dtype=key.dtype) - beta[..., None, None] * torch.einsum(
        "...i,...j->...ij", unit, unit
    )


def householder_with_diag_embed(key, beta):
    unit = key / key.norm(dim=-1, keepdim=True)
    if not isinstance(beta, torch.Tensor):
        beta = torch.full(key.shape[:-1], float(beta), dtype=key.dtype)
    return torch.diag_embed(torch.ones_like(key)) - beta[..., None, None] * unit.unsqueeze(-1) * unit.unsqueeze(-2)


def householder_split_along_the_key(key, beta):
    """(I - P) + (1 - β) P with P = k kᵀ / (kᵀk): the identity off the key, 1 - β along it."""
    beta = torch.as_tensor(beta, dtype=key.dtype)
    projection = torch.einsum("...i,...j->...ij", key, key) / (key * key).sum(-1)[..., None, None]
    return (torch.eye(key.shape[-1], dtype=key.dtype) - projection) + (1 - beta)[..., None, None] * projection


def reflections_walking_the_cycles(permutation, dtype=torch.float64):
    """Follows σ from each unseen point by hand, with keys e_j - e_i (the same reflections as e_i - e_j)."""
    n, seen, keys = len(permutation), set(), []
    for start in range(n):
        if start in seen:
            continue
        point = permutation[start]
        seen.add(start)
        while point != start:
            key = torch.zeros(n, dtype=dtype)
            key[point], key[start] = 1.0, -1.0
            keys.append(key)
            seen.add(point)
            point = permutation[point]
    return keys


def swaps_of_neighbours_from_the_end(permutation, dtype=torch.float64):
    """(a_{L-1} a_L) first, then (a_{L-2} a_{L-1}), …, (a₁ a₂): another factorisation into L - 1 swaps per cycle."""
    n = len(permutation)
    return [
        householder.swap_key(cycle[i], cycle[i + 1], n, dtype)
        for cycle in householder.cycles(permutation)
        for i in reversed(range(len(cycle) - 1))
    ]


def swaps_around_the_last_point(permutation, dtype=torch.float64):
    """(a_L a₁) first, then (a_L a₂), …, (a_L a_{L-1}): the pivot at the end of each cycle works as well."""
    n = len(permutation)
    return [
        householder.swap_key(cycle[-1], point, n, dtype)
        for cycle in householder.cycles(permutation)
        for point in cycle[:-1]
    ]


def swaps_of_half_length_keys(permutation, dtype=torch.float64):
    """Keys (e_j - e_i) / √2: the reflection depends on the direction of a key only."""
    return [-key / 2**0.5 for key in householder.permutation_reflections(permutation, dtype)]


def interleaving_by_stacking(
    q, k, v, beta, alpha=None, initial_state=None, scale=None, *, delta_rule=deltanet.delta_rule
):
    batch, steps, n_householder = k.shape[:3]

    def merged(x):
        return x.reshape(batch, steps * n_householder, *x.shape[3:])

    queries = torch.stack([torch.zeros_like(q)] * (n_householder - 1) + [q], dim=2)
    gates = None if alpha is None else merged(torch.cat([alpha[:, :, None], torch.ones_like(beta[:, :, 1:])], dim=2))
    outputs, state = delta_rule(
        merged(queries), merged(k), merged(v), merged(beta), alpha=gates, initial_state=initial_state, scale=scale
    )
    return outputs.unflatten(1, (steps, n_householder))[:, :, -1], state


def interleaving_reading_at_every_sub_step(
    q, k, v, beta, alpha=None, initial_state=None, scale=None, *, delta_rule=deltanet.delta_rule
):
    """The query at every sub-step: the outputs kept, each token's last, are the same."""
    gates = (
        None
        if alpha is None
        else deltaproduct.interleave(torch.cat([alpha[:, :, None], torch.ones_like(beta[:, :, 1:])], dim=2))
    )
    n_householder = k.shape[2]
    outputs, state = delta_rule(
        deltaproduct.interleave(q[:, :, None].expand_as(k)),
        deltaproduct.interleave(k),
        deltaproduct.interleave(v),
        deltaproduct.interleave(beta),
        gates,
        initial_state,
        scale,
    )
    return outputs[:, n_householder - 1 :: n_householder], state


def products_by_doubling(table, words):
    """Hillis–Steele: after the round with offset d, entry t holds the product of x_{t-2d+1} … x_t."""
    products, offset = words.clone(), 1
    while offset < words.shape[1]:
        products = torch.cat([products[:, :offset], table[products[:, :-offset], products[:, offset:]]], dim=1)
        offset *= 2
    return products


def products_over_unbind(table, words):
    state, products = torch.zeros(words.shape[0], dtype=torch.long), []
    for letters in words.unbind(dim=1):
        state = table[state, letters]
        products.append(state)
    return torch.stack(products, dim=1)


def transitions_by_hand(permutations, dtype=torch.float32):
    n, matrices = len(permutations[0]), []
    for permutation in permutations:
        product = torch.eye(n, dtype=torch.float64)
        for key in householder.permutation_reflections(permutation):
            product = householder.generalized_householder(key, 2.0) @ product
        matrices.append(product.to(dtype))
    return torch.stack(matrices)


def transitions_by_normalised_keys(permutations, dtype=torch.float32):
    """I - 2 k̂ k̂ᵀ with k̂ = k / ‖k‖, as the notebook writes it: float64 rounding (2.2e-16) where the helper is exact."""
    n, matrices = len(permutations[0]), []
    for permutation in permutations:
        product = torch.eye(n, dtype=torch.float64)
        for key in householder.permutation_reflections(permutation):
            unit = key / key.norm()
            product = (torch.eye(n, dtype=torch.float64) - 2.0 * torch.outer(unit, unit)) @ product
        matrices.append(product)
    return torch.stack(matrices).to(dtype)


def transitions_by_rank_one_updates(permutations, dtype=torch.float32):
    """H P = P - 2 k (kᵀP) / (kᵀk), without forming H."""
    n, matrices = len(permutations[0]), []
    for permutation in permutations:
        product = torch.eye(n, dtype=torch.float64)
        for key in householder.permutation_reflections(permutation):
            product = product - 2.0 * torch.outer(key, key @ product) / key.dot(key)
        matrices.append(product)
    return torch.stack(matrices).to(dtype)


def accuracy_by_cummin(predictions, targets):
    right = predictions.eq(targets).logical_or(targets.eq(-1))
    return right.cummin(dim=1).values.float().mean(dim=0)


def accuracy_by_counting_mistakes(predictions, targets):
    wrong = (predictions != targets) & (targets != -1)
    return (wrong.long().cumsum(dim=1) == 0).float().mean(dim=0)


def accuracy_masking_the_predictions(predictions, targets):
    return (predictions.masked_fill(targets == -1, -1) == targets).float().cumprod(dim=1).mean(dim=0)


ALTERNATIVES = [
    ("06.delta_rule_step", step_by_matmuls),
    ("06.delta_rule_step", step_gating_after_the_erase),
    ("06.delta_rule_step", step_in_float64_cast_back),
    ("06.generalized_householder", householder_by_f_normalize),
    ("06.generalized_householder", householder_with_diag_embed),
    ("06.generalized_householder", householder_split_along_the_key),
    ("07.permutation_reflections", reflections_walking_the_cycles),
    ("07.permutation_reflections", swaps_of_neighbours_from_the_end),
    ("07.permutation_reflections", swaps_around_the_last_point),
    ("07.permutation_reflections", swaps_of_half_length_keys),
    ("07.delta_product_by_interleaving", interleaving_by_stacking),
    ("07.delta_product_by_interleaving", interleaving_reading_at_every_sub_step),
    ("08.prefix_products", products_by_doubling),
    ("08.prefix_products", products_over_unbind),
    ("08.transition_matrices", transitions_by_hand),
    ("08.transition_matrices", transitions_by_normalised_keys),
    ("08.transition_matrices", transitions_by_rank_one_updates),
    ("08.sequence_accuracy", accuracy_by_cummin),
    ("08.sequence_accuracy", accuracy_by_counting_mistakes),
    ("08.sequence_accuracy", accuracy_masking_the_predictions),
]


HINTED_06_07 = [
    ("06.delta_rule_step", step_in_float32_cast_back, "Compute in the inputs' dtype"),
    ("06.delta_rule_step", step_reading_s_times_k, "Read first: r = Sᵀk"),
    ("06.generalized_householder", householder_in_float32_for_float64_keys, "Compute in the inputs' dtype"),
    ("06.generalized_householder", householder_with_beta_missing_an_axis, "[..., None, None]"),
    ("07.permutation_reflections", swaps_stacked_into_a_tensor, "not one stacked tensor"),
]


@pytest.mark.parametrize("exercise_id,mutant,hint", HINTED_06_07, ids=[h[1].__name__ for h in HINTED_06_07])
def test_the_explained_row_of_lessons_06_07_hints_at_the_mistake_made(exercise_id, mutant, hint):
    diagnosis = check_quietly(exercise_id, mutant).diagnosis
    assert any(hint in text for text in diagnosis.hints), diagnosis.hints


@pytest.mark.parametrize("exercise_id,alternative", ALTERNATIVES, ids=[a[1].__name__ for a in ALTERNATIVES])
def test_correct_solutions_in_other_styles_pass(exercise_id, alternative):
    result = check_quietly(exercise_id, alternative)
    assert result.passed, result.report()


def test_transposed_transitions_get_hints_about_the_columns_whatever_the_row_says():
    """Keys reversed, a product transposed or rows for columns all give P_σᵀ: the S3 row's hints are then about that."""
    for mutant in (transitions_with_the_keys_reversed, transitions_of_rows):
        diagnosis = check_quietly("08.transition_matrices", mutant).diagnosis
        assert "column i holds its 1 in row σ(i)" in diagnosis.hints[0], diagnosis.hints


def test_the_reflections_row_stands_in_for_the_helper_and_puts_it_back():
    rows = {row.name: row for row in check_quietly("08.transition_matrices", transitions_by_hand).rows}
    assert rows[REFLECTIONS].passed
    assert householder.permutation_reflections is automata.permutation_reflections is lesson08.LIBRARY_REFLECTIONS
