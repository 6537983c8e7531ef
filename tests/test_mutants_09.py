"""Plausible wrong solutions of Lesson 09's exercises, each failing on the row that names its mistake, and correct
solutions in other styles, which pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from check_support import executed, expect_fails_on_row

from lrnn_course import chunkwise, deltanet
from lrnn_course.checks import check_quietly, lesson09
from lrnn_course.chunkwise import delta_rule_chunk
from lrnn_course.validate import require_positive_int


def gram_of(k, decay):
    gram = k @ k.transpose(-1, -2)
    return gram if decay is None else gram * decay


def strictly_lower(k, beta, decay):
    return torch.tril(beta[..., :, None] * gram_of(k, decay), diagonal=-1)


def identity_like(k):
    return torch.eye(k.shape[-2], dtype=k.dtype)


# ---------------------------------------------------------------------------------------------- 09.ut_transform


def ut_including_the_diagonal(k, beta, decay=None):
    lower = torch.tril(beta[..., :, None] * gram_of(k, decay))
    return torch.linalg.inv(identity_like(k) + lower)


def ut_with_beta_on_the_columns(k, beta, decay=None):
    return chunkwise.forward_substitution_inverse(torch.tril(beta[..., None, :] * gram_of(k, decay), diagonal=-1))


def ut_upper_triangular(k, beta, decay=None):
    return torch.linalg.inv(identity_like(k) + strictly_lower(k, beta, decay).transpose(-1, -2))


def ut_ignoring_decay(k, beta, decay=None):
    return chunkwise.ut_transform(k, beta)


def ut_with_transposed_decay(k, beta, decay=None):
    return chunkwise.ut_transform(k, beta, None if decay is None else decay.transpose(-1, -2))


def ut_dividing_by_beta(k, beta, decay=None):
    # (I + diag(β) L)⁻¹ = (diag(1/β) + L)⁻¹ diag(1/β): exact, until a step has β = 0.
    return (
        torch.linalg.inv(torch.diag_embed(1 / beta) + torch.tril(gram_of(k, decay), diagonal=-1)) / beta[..., None, :]
    )


def ut_by_neumann_series(k, beta, decay=None):
    """(I + A)⁻¹ = Σ_{n<C} (-A)ⁿ, exact since A is nilpotent; in floating point the large powers cancel and lose
    digits."""
    lower = strictly_lower(k, beta, decay)
    term = total = identity_like(k).expand_as(lower)
    for _ in range(k.shape[-2] - 1):
        term = -(lower @ term)
        total = total + term
    return total


def ut_by_repeated_squaring(k, beta, decay=None):
    """(I + A)⁻¹ = (I - A)(I + A²)(I + A⁴)⋯, exact for the same reason, and as fragile."""
    lower, identity = strictly_lower(k, beta, decay), identity_like(k)
    result, power, covered = identity - lower, lower @ lower, 2
    while covered < k.shape[-2]:
        result, power, covered = result @ (identity + power), power @ power, 2 * covered
    return result


def ut_in_float64(k, beta, decay=None):
    return chunkwise.ut_transform(k.double(), beta.double(), None if decay is None else decay.double())


def ut_through_numpy(k, beta, decay=None):
    lower = strictly_lower(k, beta, decay).detach().numpy()
    return torch.from_numpy(np.linalg.inv(np.eye(k.shape[-2], dtype=lower.dtype) + lower))


def ut_with_bmm(k, beta, decay=None):
    gram = torch.bmm(k, k.transpose(1, 2))
    if decay is not None:
        gram = gram * decay
    return torch.linalg.inv(identity_like(k) + torch.tril(beta[..., :, None] * gram, diagonal=-1))


def ut_substituting_in_place(k, beta, decay=None):
    """Forward substitution into a preallocated T: right values, but each row overwrites what backward needs."""
    lower = strictly_lower(k, beta, decay)
    transform = identity_like(k).repeat(*k.shape[:-2], 1, 1)
    for i in range(1, k.shape[-2]):
        transform[..., i, :] = transform[..., i, :] - (lower[..., i, :i, None] * transform[..., :i, :]).sum(-2)
    return transform


def ut_normalising_the_keys(k, beta, decay=None):
    """'DeltaNet keys are unit vectors': the same T for unit keys, another one for the rest."""
    return chunkwise.ut_transform(k / k.norm(dim=-1, keepdim=True).detach(), beta, decay)


def ut_by_f_normalize(k, beta, decay=None):
    return chunkwise.ut_transform(F.normalize(k, dim=-1), beta, decay)


def ut_decaying_in_place(k, beta, decay=None):
    gram = k @ k.transpose(-1, -2)
    if decay is not None:
        gram = decay.mul_(gram)  # into the caller's decay
    return torch.linalg.inv(identity_like(k) + torch.tril(beta[..., :, None] * gram, diagonal=-1))


def ut_substituting_the_transposed_system(k, beta, decay=None):
    """forward_substitution_inverse of Aᵀ, transposed back: Aᵀ is upper triangular, which the helper refuses on every
    input."""
    return chunkwise.forward_substitution_inverse(strictly_lower(k, beta, decay).transpose(-1, -2)).transpose(-1, -2)


def ut_substituting_into_default_zeros(k, beta, decay=None):
    lower = strictly_lower(k, beta, decay)
    transform = torch.zeros(lower.shape)
    for i in range(k.shape[-2]):
        transform[..., i, i] = 1.0
        transform[..., i, :] = transform[..., i, :] - (lower[..., i, :i, None] * transform[..., :i, :]).sum(-2)
    return transform


# ---------------------------------------------------------------------------------------------- 09.delta_rule_chunk


def library_gates(beta, alpha):
    """Γ = decay_matrix(α) and g = cumprod(α) (α = 1 without a gate), as the library builds them."""
    gates = torch.ones_like(beta) if alpha is None else alpha
    return chunkwise.decay_matrix(gates), torch.cumprod(gates, dim=-1)


def chunk_from(
    q,
    k,
    v,
    beta,
    state,
    scale,
    decay,
    cumulative,
    transform,
    *,
    diagonal=0,
    decay_the_writes=True,
    rank_one_writes=False,
):
    """The rest of a chunk from Γ, g and T as the library computes it; the keywords make it wrong in one way
    (``rank_one_writes``: right values, but the new state built by one rank-one update per token, not one product)."""
    w = transform @ ((beta * cumulative)[..., None] * k)
    u = transform @ (beta[..., None] * v) - w @ state
    outputs = scale * (
        cumulative[..., None] * (q @ state) + (torch.tril(q @ k.transpose(-1, -2), diagonal) * decay) @ u
    )
    writes = decay[..., -1, :, None] * u if decay_the_writes else u
    new_state = cumulative[..., -1, None, None] * state
    if rank_one_writes:
        for i in range(k.shape[-2]):
            new_state = new_state + k[..., i, :, None] * writes[..., i, None, :]
        return outputs, new_state
    return outputs, new_state + k.transpose(-1, -2) @ writes


def chunk_ignoring_the_state_in_u(q, k, v, beta, state, alpha=None, scale=1.0):
    transform = chunkwise.ut_transform(k, beta)
    u = transform @ (beta[..., None] * v)
    outputs = scale * (q @ state + torch.tril(q @ k.transpose(-1, -2)) @ u)
    return outputs, state + k.transpose(-1, -2) @ u


def chunk_reading_out_with_strict_mask(q, k, v, beta, state, alpha=None, scale=1.0):
    decay, cumulative = library_gates(beta, alpha)
    return chunk_from(
        q, k, v, beta, state, scale, decay, cumulative, chunkwise.ut_transform(k, beta, decay), diagonal=-1
    )


def chunk_without_gates(q, k, v, beta, state, alpha=None, scale=1.0):
    return chunkwise.delta_rule_chunk(q, k, v, beta, state, None, scale)


def chunk_with_the_state_decayed_by_g_only(q, k, v, beta, state, alpha=None, scale=1.0):
    decay, cumulative = library_gates(beta, alpha)
    return chunk_from(
        q, k, v, beta, state, scale, decay, cumulative, chunkwise.ut_transform(k, beta, decay), decay_the_writes=False
    )


def chunk_dividing_cumulative_gates(q, k, v, beta, state, alpha=None, scale=1.0):
    _, cumulative = library_gates(beta, alpha)
    decay = torch.tril(cumulative[..., :, None] / cumulative[..., None, :])  # g_t / g_i: 0/0 after a reset
    return chunk_from(q, k, v, beta, state, scale, decay, cumulative, chunkwise.ut_transform(k, beta, decay))


def chunk_forgetting_scale(q, k, v, beta, state, alpha=None, scale=1.0):
    return chunkwise.delta_rule_chunk(q, k, v, beta, state, alpha)


def chunk_with_gates_of_default_dtype(q, k, v, beta, state, alpha=None, scale=1.0):
    return chunkwise.delta_rule_chunk(q, k, v, beta, state, torch.ones(beta.shape) if alpha is None else alpha, scale)


def chunk_with_a_detached_transform(q, k, v, beta, state, alpha=None, scale=1.0):
    decay, cumulative = library_gates(beta, alpha)
    transform = chunkwise.ut_transform(k, beta, decay).detach()  # "T is a constant of the chunk"
    return chunk_from(q, k, v, beta, state, scale, decay, cumulative, transform)


def chunk_by_the_recurrence(q, k, v, beta, state, alpha=None, scale=1.0):
    """Token by token, as deltanet.delta_rule: every number right, and no WY form."""
    outputs = []
    for t in range(q.shape[2]):
        state = deltanet.delta_rule_step(
            state, k[:, :, t], v[:, :, t], beta[:, :, t], None if alpha is None else alpha[:, :, t]
        )
        outputs.append(scale * torch.einsum("bhkv,bhk->bhv", state, q[:, :, t]))
    return torch.stack(outputs, dim=2), state


def chunk_writing_the_state_token_by_token(q, k, v, beta, state, alpha=None, scale=1.0):
    decay, cumulative = library_gates(beta, alpha)
    return chunk_from(
        q, k, v, beta, state, scale, decay, cumulative, chunkwise.ut_transform(k, beta, decay), rank_one_writes=True
    )


def chunk_normalising_the_keys(q, k, v, beta, state, alpha=None, scale=1.0):
    return chunkwise.delta_rule_chunk(q, F.normalize(k, dim=-1), v, beta, state, alpha, scale)


def chunk_updating_state_in_place(q, k, v, beta, state, alpha=None, scale=1.0):
    outputs, new_state = chunkwise.delta_rule_chunk(q, k, v, beta, state, alpha, scale)
    state.copy_(new_state)
    return outputs, new_state


# ---------------------------------------------------------------------------------------------- 09.chunk_delta_rule


def heads_first(x, piece):
    """Steps ``piece`` of a (B, T, H, ...) tensor as (B, H, C, ...), as delta_rule_chunk takes them."""
    return None if x is None else x[:, piece].transpose(1, 2)


def stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size):
    """What the exercise's stub does before the learner's code: check the inputs, then S₀ and the scale."""
    deltanet.validate_delta_inputs(q, k, v, beta, alpha, initial_state)
    require_positive_int(chunk_size, "chunk_size")
    return deltanet.starting_point(q, v.shape[-1], initial_state, scale)


def chunk_loop(
    q, k, v, beta, alpha, state, scale, chunk_size, *, carry=True, pass_scale=True, pass_alpha=True, detach=False
):
    """A learner's loop: one slice of ``chunk_size`` steps after the other. The keywords after * make it wrong in one
    way."""
    start_state, outputs = state, []
    for start in range(0, q.shape[1], chunk_size):
        piece = slice(start, start + chunk_size)
        parts = [heads_first(x, piece) for x in (q, k, v, beta, alpha if pass_alpha else None)]
        chunk_outputs, new_state = chunkwise.delta_rule_chunk(
            *parts[:4], state if carry else start_state, parts[4], *([scale] if pass_scale else [])
        )
        state = new_state.detach() if detach else new_state
        outputs.append(chunk_outputs.transpose(1, 2))
    return torch.cat(outputs, dim=1), state


def sliced_driver(
    q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64, *, from_zeros=False, **mistakes
):
    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    return chunk_loop(
        q, k, v, beta, alpha, torch.zeros_like(state) if from_zeros else state, scale, chunk_size, **mistakes
    )


def driver_without_carry(*args, **kwargs):
    return sliced_driver(*args, carry=False, **kwargs)


def driver_forgetting_the_initial_state(*args, **kwargs):
    return sliced_driver(*args, from_zeros=True, **kwargs)


def driver_forgetting_scale(*args, **kwargs):
    return sliced_driver(*args, pass_scale=False, **kwargs)


def driver_forgetting_alpha(*args, **kwargs):
    return sliced_driver(*args, pass_alpha=False, **kwargs)


def driver_detaching_the_state(*args, **kwargs):
    return sliced_driver(*args, detach=True, **kwargs)


def padded_driver(
    q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64, *, mode="identity", trim=True
):
    """A learner's driver that pads time to a multiple of C first: with identity steps (right), zeros or copies of the
    last step."""
    steps = q.shape[1]
    padding = -steps % chunk_size

    def padded(x, fill):
        if x is None or not padding:
            return x
        if mode == "replicate":
            return torch.cat([x, x[:, -1:].expand(-1, padding, *x.shape[2:])], dim=1)
        return F.pad(x, [0, 0] * (x.dim() - 2) + [0, padding], value=fill if mode == "identity" else 0.0)

    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    outputs, state = chunk_loop(
        padded(q, 0.0), padded(k, 0.0), padded(v, 0.0), padded(beta, 0.0), padded(alpha, 1.0), state, scale, chunk_size
    )
    return (outputs[:, :steps] if trim else outputs), state


def driver_padding_with_zeros(*args, **kwargs):
    return padded_driver(*args, mode="zeros", **kwargs)


def driver_padding_with_the_last_step(*args, **kwargs):
    return padded_driver(*args, mode="replicate", **kwargs)


def driver_keeping_the_padded_outputs(*args, **kwargs):
    return padded_driver(*args, trim=False, **kwargs)


def driver_dropping_the_tail(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    whole = q.shape[1] // chunk_size * chunk_size
    return chunk_loop(*(None if x is None else x[:, :whole] for x in (q, k, v, beta, alpha)), state, scale, chunk_size)


def driver_with_full_chunks_only(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    """Every chunk C steps long, the last one aligned to the end of the sequence: it runs some steps twice."""
    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    steps, outputs = q.shape[1], []
    starts = list(range(0, steps - chunk_size + 1, chunk_size)) + (
        [max(steps - chunk_size, 0)] if steps % chunk_size else []
    )
    for start in starts:
        parts = [heads_first(x, slice(start, start + chunk_size)) for x in (q, k, v, beta, alpha)]
        chunk_outputs, state = chunkwise.delta_rule_chunk(*parts[:4], state, parts[4], scale)
        outputs.append(chunk_outputs.transpose(1, 2))
    return torch.cat(outputs, dim=1), state


def driver_recomputing_the_scale(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    state, _ = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    return chunk_loop(q, k, v, beta, alpha, state, q.shape[-1] ** -0.5, chunk_size)


def driver_calling_the_recurrence(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    return deltanet.delta_rule(q, k, v, beta, alpha, initial_state, scale)


def driver_in_one_piece(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    return chunk_loop(q, k, v, beta, alpha, state, scale, q.shape[1])


def driver_in_unequal_pieces(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    """torch.chunk into ceil(T / C) pieces: 40 steps in chunks of 16 become 14, 14 and 12."""
    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    pieces = -(-q.shape[1] // chunk_size)
    outputs = []
    for parts in zip(*(x.chunk(pieces, dim=1) if x is not None else [None] * pieces for x in (q, k, v, beta, alpha))):
        chunk_outputs, state = chunkwise.delta_rule_chunk(
            *(heads_first(x, slice(None)) for x in parts[:4]), state, heads_first(parts[4], slice(None)), scale
        )
        outputs.append(chunk_outputs.transpose(1, 2))
    return torch.cat(outputs, dim=1), state


def driver_preallocating_default_zeros(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    outputs = torch.zeros(*v.shape)
    for start in range(0, q.shape[1], chunk_size):
        piece = slice(start, start + chunk_size)
        parts = [heads_first(x, piece) for x in (q, k, v, beta, alpha)]
        chunk_outputs, state = chunkwise.delta_rule_chunk(*parts[:4], state, parts[4], scale)
        outputs[:, piece] = chunk_outputs.transpose(1, 2)
    return outputs, state


def driver_reshaping_instead_of_transposing(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    """x.reshape(B, H, T, D) where x.transpose(1, 2) belongs: the same shape, steps and heads mixed up."""
    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    batch, steps, heads = q.shape[:3]

    def heads_first(x):
        return None if x is None else x.reshape(batch, heads, steps, *x.shape[3:])

    outputs = []
    for start in range(0, steps, chunk_size):
        parts = [
            None if x is None else x[:, :, start : start + chunk_size] for x in map(heads_first, (q, k, v, beta, alpha))
        ]
        chunk_outputs, state = chunkwise.delta_rule_chunk(*parts[:4], state, parts[4], scale)
        outputs.append(chunk_outputs)
    return torch.cat(outputs, dim=2).reshape(batch, steps, heads, -1), state


def driver_with_the_heads_first(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    """(B, T, H, D) -> (H, B, T, D) by x.permute(2, 0, 1, 3): delta_rule_chunk refuses it whenever B ≠ H."""
    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)

    def heads_first(x):
        return None if x is None else x.permute(2, 0, 1, *range(3, x.dim()))

    outputs = []
    for start in range(0, q.shape[1], chunk_size):
        parts = [
            None if x is None else x[:, :, start : start + chunk_size] for x in map(heads_first, (q, k, v, beta, alpha))
        ]
        chunk_outputs, state = chunkwise.delta_rule_chunk(*parts[:4], state, parts[4], scale)
        outputs.append(chunk_outputs)
    return torch.cat(outputs, dim=2).permute(1, 2, 0, 3), state


def driver_dropping_the_returned_state(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    """outputs, _ = delta_rule_chunk(...): every chunk from S₀, and S₀ returned as the final state."""
    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    outputs = []
    for start in range(0, q.shape[1], chunk_size):
        parts = [heads_first(x, slice(start, start + chunk_size)) for x in (q, k, v, beta, alpha)]
        chunk_outputs, _ = chunkwise.delta_rule_chunk(*parts[:4], state, parts[4], scale)
        outputs.append(chunk_outputs.transpose(1, 2))
    return torch.cat(outputs, dim=1), state


def driver_writing_into_the_initial_state(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    outputs, state = sliced_driver(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    if initial_state is not None:
        initial_state.copy_(state)
    return outputs, state


IN_PLACE = "does not modify its inputs"
UT_LENGTHS = "keys of any length: K as given"
CHUNK_LENGTHS = "keys of any length: K as given"
WY_FORM = "the WY form: the state enters a fixed number of times, whatever C"
ONE_CHUNK = "one chunk: chunk_size ≥ T (T = 10, C = 64)"


def chunk_with_gates_in_log_space(q, k, v, beta, state, alpha=None, scale=1.0):
    # exp(log α) is α forward, also at a reset α = 0, but its gradient there is 0 · ∞ = NaN
    return delta_rule_chunk(q, k, v, beta, state, None if alpha is None else torch.exp(torch.log(alpha)), scale)


MUTANTS = [
    ("09.delta_rule_chunk", chunk_with_gates_in_log_space, "gradient matches autograd", "non-finite"),
    ("09.ut_transform", ut_including_the_diagonal, "two steps by hand", "first mismatch"),
    ("09.ut_transform", ut_with_beta_on_the_columns, "two steps by hand", "first mismatch"),
    ("09.ut_transform", ut_upper_triangular, "two steps by hand", "first mismatch"),
    ("09.ut_transform", ut_ignoring_decay, "with a decay Γ and a reset (Gated DeltaNet)", "first mismatch"),
    ("09.ut_transform", ut_with_transposed_decay, "with a decay Γ and a reset (Gated DeltaNet)", "first mismatch"),
    ("09.ut_transform", ut_dividing_by_beta, "β = 0 on some steps: their rows of T are rows of I", "non-finite value"),
    ("09.ut_transform", ut_by_neumann_series, "nearly parallel keys, β = 2 (ill-conditioned)", "largest error 1.3e-02"),
    ("09.ut_transform", ut_by_repeated_squaring, "nearly parallel keys, β = 2 (ill-conditioned)", "largest error"),
    ("09.ut_transform", ut_in_float64, "keeps float32 as float32", "dtype torch.float64"),
    ("09.ut_transform", ut_substituting_into_default_zeros, "keeps float64 as float64", "dtype torch.float32"),
    ("09.ut_transform", ut_through_numpy, "gradient matches autograd", "T is not connected to autograd"),
    (
        "09.ut_transform",
        ut_substituting_in_place,
        "gradient matches autograd",
        "backpropagating through T raised RuntimeError",
    ),
    (
        "09.ut_transform",
        ut_with_bmm,
        "the same T for any leading dims: (2, 3, C, D_k) and (C, D_k)",
        "raised RuntimeError",
    ),
    ("09.ut_transform", ut_normalising_the_keys, UT_LENGTHS, "T: first mismatch"),
    ("09.ut_transform", ut_by_f_normalize, UT_LENGTHS, "T: first mismatch"),
    ("09.ut_transform", ut_decaying_in_place, IN_PLACE, "modified its input `decay`"),
    (
        "09.ut_transform",
        ut_substituting_the_transposed_system,
        "two steps by hand",
        "raised ValueError: strictly_lower must be zero",
    ),
    (
        "09.delta_rule_chunk",
        chunk_reading_out_with_strict_mask,
        "one token from a zero state: o₁ = β₁(q₁·k₁)v₁",
        "first mismatch",
    ),
    ("09.delta_rule_chunk", chunk_ignoring_the_state_in_u, "from a given state S₀", "first mismatch"),
    (
        "09.delta_rule_chunk",
        chunk_forgetting_scale,
        "a chunk of 64, scale 1/√D_k",
        "the chunk's outputs: first mismatch",
    ),
    ("09.delta_rule_chunk", chunk_without_gates, "gated: decay Γ and cumulative gates g", "first mismatch"),
    (
        "09.delta_rule_chunk",
        chunk_with_the_state_decayed_by_g_only,
        "gated: decay Γ and cumulative gates g",
        "the state after the chunk",
    ),
    (
        "09.delta_rule_chunk",
        chunk_dividing_cumulative_gates,
        "gates at their edges: α = 0 (a reset), α = 1, β = 0, β = 2",
        "non-finite value",
    ),
    (
        "09.delta_rule_chunk",
        chunk_with_gates_of_default_dtype,
        "keeps float64 as float64",
        "raised TypeError: alpha is torch.float32",
    ),
    ("09.delta_rule_chunk", chunk_updating_state_in_place, IN_PLACE, "modified its input `state`"),
    (
        "09.delta_rule_chunk",
        chunk_with_a_detached_transform,
        "gradient matches autograd",
        "the gradient with respect to k",
    ),
    ("09.delta_rule_chunk", chunk_normalising_the_keys, CHUNK_LENGTHS, "the chunk's outputs: first mismatch"),
    ("09.delta_rule_chunk", chunk_by_the_recurrence, WY_FORM, "for a chunk of 8 steps and"),
    ("09.delta_rule_chunk", chunk_writing_the_state_token_by_token, WY_FORM, "it updates the state token by token"),
    (
        "09.chunk_delta_rule",
        driver_without_carry,
        "T = 48 in chunks of 16: the state carries across chunks",
        "the first chunk (steps 0 to 15) is right, a later one is not: the outputs: first mismatch at [b=0, t=16",
    ),
    (
        "09.chunk_delta_rule",
        driver_dropping_the_tail,
        "T = 40 in chunks of 16: the last chunk has 8 steps",
        "has shape (2, 32, 3, 5)",
    ),
    (
        "09.chunk_delta_rule",
        driver_with_full_chunks_only,
        "T = 40 in chunks of 16: the last chunk has 8 steps",
        "has shape (2, 48, 3, 5)",
    ),
    ("09.chunk_delta_rule", driver_keeping_the_padded_outputs, ONE_CHUNK, "has shape (2, 64, 3, 5)"),
    ("09.chunk_delta_rule", driver_reshaping_instead_of_transposing, ONE_CHUNK, "the outputs: first mismatch"),
    (
        "09.chunk_delta_rule",
        driver_with_the_heads_first,
        ONE_CHUNK,
        "raised ValueError: q must have shape (2, 3, 10, 4)",
    ),
    (
        "09.chunk_delta_rule",
        driver_dropping_the_returned_state,
        ONE_CHUNK,
        "the state delta_rule_chunk returns is never kept",
    ),
    ("09.chunk_delta_rule", driver_padding_with_the_last_step, ONE_CHUNK, "the final state S_T"),
    ("09.chunk_delta_rule", driver_recomputing_the_scale, ONE_CHUNK, "the outputs: first mismatch at [b=0, t=0"),
    ("09.chunk_delta_rule", driver_forgetting_the_initial_state, "from an initial state S₀", "first mismatch"),
    ("09.chunk_delta_rule", driver_forgetting_alpha, "gated, with a reset (α = 0)", "first mismatch"),
    (
        "09.chunk_delta_rule",
        driver_padding_with_zeros,
        "gated, T = 37 in chunks of 16: padding changes nothing",
        "the final state S_T",
    ),
    (
        "09.chunk_delta_rule",
        driver_forgetting_scale,
        "scale=None means 1/√D_k in every chunk",
        "the outputs: first mismatch",
    ),
    (
        "09.chunk_delta_rule",
        driver_calling_the_recurrence,
        "works chunk by chunk through delta_rule_chunk",
        "never called delta_rule_chunk",
    ),
    ("09.chunk_delta_rule", driver_in_one_piece, "works chunk by chunk through delta_rule_chunk", "pieces of 40 steps"),
    (
        "09.chunk_delta_rule",
        driver_in_unequal_pieces,
        "works chunk by chunk through delta_rule_chunk",
        "your calls had 14, 14, 12 steps",
    ),
    ("09.chunk_delta_rule", driver_preallocating_default_zeros, "keeps float64 as float64", "dtype torch.float32"),
    ("09.chunk_delta_rule", driver_writing_into_the_initial_state, IN_PLACE, "modified its input `initial_state`"),
    (
        "09.chunk_delta_rule",
        driver_detaching_the_state,
        "gradient matches autograd",
        "the final state is not connected",
    ),
]


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
    # The report explains that row: its message and its hints are about this mistake.
    assert check_quietly(exercise_id, mutant).diagnosis.name == row_name


# --------------------------------------------------------------------------------------------- correct, in other styles


def ut_decayed_after_inverting(k, beta, decay=None):
    """Exact: Γ_ij = c_i / c_j for the cumulative gates c, so A ⊙ Γ = D A D⁻¹ (D = diag(c)) and its T is T ⊙ Γ."""
    transform = chunkwise.ut_transform(k, beta)
    return transform if decay is None else transform * decay


def ut_by_inverting(k, beta, decay=None):
    return torch.linalg.inv(identity_like(k) + strictly_lower(k, beta, decay))


def ut_by_spelled_out_substitution(k, beta, decay=None):
    return chunkwise.forward_substitution_inverse(strictly_lower(k, beta, decay))


def ut_by_rows_in_a_list(k, beta, decay=None):
    lower, identity = strictly_lower(k, beta, decay), identity_like(k)
    rows = []
    for i in range(k.shape[-2]):
        row = identity[i].expand(*k.shape[:-2], -1)
        rows.append(row - (lower[..., i, :i, None] * torch.stack(rows, dim=-2)).sum(-2) if i else row)
    return torch.stack(rows, dim=-2)


def chunk_by_solving_for_u(q, k, v, beta, state, alpha=None, scale=1.0):
    """U from (I + A) U = diag(β) V - diag(β g) K S₀ by one triangular solve, without forming T."""
    decay, cumulative = library_gates(beta, alpha)
    system = torch.eye(k.shape[-2], dtype=k.dtype) + strictly_lower(k, beta, decay)
    right = beta[..., None] * v - (beta * cumulative)[..., None] * (k @ state)
    u = torch.linalg.solve_triangular(system, right, upper=False, unitriangular=True)
    outputs = scale * (cumulative[..., None] * (q @ state) + (torch.tril(q @ k.transpose(-1, -2)) * decay) @ u)
    last = decay[..., -1, :]
    return outputs, cumulative[..., -1, None, None] * state + torch.einsum("bhck,bhc,bhcv->bhkv", k, last, u)


def chunk_from_ut_transform(q, k, v, beta, state, alpha=None, scale=1.0):
    decay, cumulative = library_gates(beta, alpha)
    return chunk_from(q, k, v, beta, state, scale, decay, cumulative, chunkwise.ut_transform(k, beta, decay))


def chunk_by_forward_substitution(q, k, v, beta, state, alpha=None, scale=1.0):
    """T by the spelled-out substitution: a Python loop over the C rows of a (C, C) matrix, which never touches the
    state."""
    decay, cumulative = library_gates(beta, alpha)
    transform = chunkwise.forward_substitution_inverse(strictly_lower(k, beta, decay))
    return chunk_from(q, k, v, beta, state, scale, decay, cumulative, transform)


def driver_by_slices(*args, **kwargs):
    return sliced_driver(*args, **kwargs)


def driver_by_split(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    gates = alpha.split(chunk_size, dim=1) if alpha is not None else [None] * len(q.split(chunk_size, dim=1))
    outputs = []
    for q_c, k_c, v_c, b_c, a_c in zip(*(x.split(chunk_size, dim=1) for x in (q, k, v, beta)), gates):
        o, state = delta_rule_chunk(
            q_c.transpose(1, 2),
            k_c.transpose(1, 2),
            v_c.transpose(1, 2),
            b_c.transpose(1, 2),
            state,
            None if a_c is None else a_c.transpose(1, 2),
            scale,
        )
        outputs.append(o)
    return torch.cat(outputs, dim=2).transpose(1, 2), state


def driver_into_preallocated_outputs(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    state, scale = stub_prelude(q, k, v, beta, alpha, initial_state, scale, chunk_size)
    outputs = v.new_zeros(v.shape)
    for start in range(0, q.shape[1], chunk_size):
        piece = slice(start, start + chunk_size)
        parts = [heads_first(x, piece) for x in (q, k, v, beta, alpha)]
        chunk_outputs, state = chunkwise.delta_rule_chunk(*parts[:4], state, parts[4], scale)
        outputs[:, piece] = chunk_outputs.transpose(1, 2)
    return outputs, state


def driver_padding_with_identity_steps(*args, **kwargs):
    return padded_driver(*args, **kwargs)


ALTERNATIVES = [
    ("09.ut_transform", ut_by_inverting),
    ("09.ut_transform", ut_decayed_after_inverting),
    ("09.ut_transform", ut_by_spelled_out_substitution),
    ("09.ut_transform", ut_by_rows_in_a_list),
    ("09.delta_rule_chunk", chunk_by_solving_for_u),
    ("09.delta_rule_chunk", chunk_from_ut_transform),
    ("09.delta_rule_chunk", chunk_by_forward_substitution),
    ("09.chunk_delta_rule", driver_by_slices),
    ("09.chunk_delta_rule", driver_by_split),
    ("09.chunk_delta_rule", driver_into_preallocated_outputs),
    ("09.chunk_delta_rule", driver_padding_with_identity_steps),
]


@pytest.mark.parametrize("exercise_id,solution", ALTERNATIVES, ids=[a[1].__name__ for a in ALTERNATIVES])
def test_correct_solutions_in_other_styles_pass(exercise_id, solution):
    result = check_quietly(exercise_id, solution)
    assert result.passed, result.report()


LEARNERS_DRIVER = """
def delta_rule_chunk(q, k, v, beta, state, alpha=None, scale=1.0):
    # Exercise 2 not done: the driver's own value rows fail, the structure row does not care.
    raise NotImplementedError()


def chunk_delta_rule(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64):
    state, scale = starting_point(q, v.shape[-1], initial_state, scale)
    outputs = []
    for start in range(0, q.shape[1], chunk_size):
        part = [None if x is None else x[:, start:start + chunk_size].transpose(1, 2) for x in (q, k, v, beta, alpha)]
        chunk_outputs, state = delta_rule_chunk(*part[:4], state, part[4], scale)
        outputs.append(chunk_outputs.transpose(1, 2))
    return torch.cat(outputs, dim=1), state
"""


def test_the_structure_row_stands_in_for_a_learners_own_chunk_function_and_puts_everything_back():
    driver = executed(
        "09.chunk_delta_rule", "from lrnn_course.deltanet import starting_point\n" + LEARNERS_DRIVER, "chunk_delta_rule"
    )
    own_chunk = driver.__globals__["delta_rule_chunk"]
    rows = {row.name: row for row in check_quietly("09.chunk_delta_rule", driver).rows}
    assert rows["works chunk by chunk through delta_rule_chunk"].passed
    assert "not implemented" in rows["T = 48 in chunks of 16: the state carries across chunks"].message
    assert driver.__globals__["delta_rule_chunk"] is own_chunk
    assert chunkwise.delta_rule_chunk is lesson09.LIBRARY_CHUNK is delta_rule_chunk


def test_the_wy_row_counts_a_fixed_number_of_state_operations_for_the_wy_form_and_more_for_the_recurrence():
    library = [lesson09.operations_on_the_state(chunkwise.delta_rule_chunk, size) for size in (8, 16)]
    recurrence = [lesson09.operations_on_the_state(chunk_by_the_recurrence, size) for size in (8, 16)]
    assert library[0] == library[1] > 0
    assert recurrence[1] - recurrence[0] >= 8, recurrence


def test_a_driver_that_drops_the_state_delta_rule_chunk_returns_is_told_to_keep_it():
    diagnosis = check_quietly("09.chunk_delta_rule", driver_dropping_the_returned_state).diagnosis
    assert diagnosis.hints == lesson09.STATE_KEPT_HINTS
