"""The exercises of Lesson 09 (chunkwise parallel training) and the properties ``check()`` tests them on.

Glossary: C = the chunk length; K (…, C, D_k) = the chunk's keys as rows; β (…, C); Γ (…, C, C) =
the decay between steps; T = (I + strictly-lower(diag(β)(K Kᵀ ⊙ Γ)))⁻¹ = the UT transform. Expected
values: T from ``torch.linalg.inv`` of the matrix built here; one chunk from the token-by-token
recurrence ``deltanet.delta_rule``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .. import chunkwise, deltanet
from ..check import Case, CheckFailed, Exercise, call_learner, call_learner_in_place, expect_tensor_close, expect_unchanged, generator_for

MATRIX = "(..., C, C)"


def ut_inputs(name: str, size: int, decayed: bool, beta_value: float | None = None, dtype: torch.dtype = torch.float64):
    generator = generator_for(name)
    k = F.normalize(torch.randn(2, size, 5, generator=generator, dtype=torch.float64), dim=-1)
    beta = 2 * torch.rand(2, size, generator=generator, dtype=torch.float64) if beta_value is None else torch.full((2, size), beta_value, dtype=torch.float64)
    decay = None
    if decayed:
        decay = chunkwise.decay_matrix(torch.rand(2, size, generator=generator, dtype=torch.float64))
    return k.to(dtype), beta.to(dtype), None if decay is None else decay.to(dtype)


def expected_ut(k: torch.Tensor, beta: torch.Tensor, decay: torch.Tensor | None) -> torch.Tensor:
    gram = k.double() @ k.double().transpose(-1, -2)
    if decay is not None:
        gram = gram * decay.double()
    lower = torch.tril(beta.double()[..., :, None] * gram, diagonal=-1)
    return torch.linalg.inv(torch.eye(k.shape[-2], dtype=torch.float64) + lower)


def ut_cases() -> list[Case]:
    def matches(name: str, size: int, hints: tuple[str, ...], decayed: bool = False, beta_value: float | None = None) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            k, beta, decay = ut_inputs(name, size, decayed, beta_value)
            expect_tensor_close(call_learner(fn, k, beta, decay), expected_ut(k, beta, decay), "T", MATRIX, atol=1e-9)

        return Case(name, run, hints)

    def two_by_two(fn: Callable[..., Any]) -> None:
        k = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)
        got = call_learner(fn, k, torch.tensor([0.5, 2.0], dtype=torch.float64), None)
        expect_tensor_close(got, torch.tensor([[1.0, 0.0], [-1.2, 1.0]], dtype=torch.float64),
                            "T for k₁ = (1, 0), k₂ = (0.6, 0.8), β₂ = 2: A₂₁ = β₂ k₂ᵀk₁ = 1.2", MATRIX, atol=1e-12)

    def keeps_float32(fn: Callable[..., Any]) -> None:
        k, beta, decay = ut_inputs("float32", 8, True, dtype=torch.float32)
        expect_tensor_close(call_learner(fn, k, beta, decay), expected_ut(k, beta, decay).float(), "T", MATRIX, atol=1e-4, rtol=1e-4)

    return [
        Case("two steps by hand", two_by_two, (
            "T = (I + A)⁻¹ with A = strictly-lower(diag(β) K Kᵀ): entry (i, j) of A is β_i k_iᵀk_j for j < i.",
            "torch.tril(beta[..., :, None] * (k @ k.transpose(-1, -2)), diagonal=-1), then invert I + A.",
        )),
        matches("a chunk of 16, β ∈ [0, 2]", 16, ("Use forward_substitution_inverse (or torch.linalg.solve_triangular).",)),
        matches("β = 2 everywhere (reflections)", 16, ("Nothing special: the same formula holds at β = 2.",), beta_value=2.0),
        matches("with a decay Γ (Gated DeltaNet)", 16, ("Multiply K Kᵀ entrywise by decay before masking: gram * decay.",), decayed=True),
        Case("keeps float32 as float32", keeps_float32, ("Build every intermediate from k's dtype.",)),
    ]


def chunk_inputs(name: str, size: int, gated: bool, with_state: bool = True):
    generator = generator_for(name)
    options = {"generator": generator, "dtype": torch.float64}
    q = torch.randn(2, 3, size, 4, **options)
    k = F.normalize(torch.randn(2, 3, size, 4, **options), dim=-1)
    v = torch.randn(2, 3, size, 5, **options)
    beta = 2 * torch.rand(2, 3, size, **options)
    state = torch.randn(2, 3, 4, 5, **options) if with_state else torch.zeros(2, 3, 4, 5, dtype=torch.float64)
    alpha = torch.rand(2, 3, size, **options) if gated else None
    return q, k, v, beta, state, alpha


def recurrence_of_chunk(q, k, v, beta, state, alpha, scale):
    """The same chunk, token by token, in deltanet's (B, T, H, D) layout."""
    def swap(x):
        return None if x is None else x.transpose(1, 2)

    outputs, new_state = deltanet.delta_rule(swap(q), swap(k), swap(v), swap(beta), swap(alpha), state, scale)
    return outputs.transpose(1, 2), new_state


def chunk_cases() -> list[Case]:
    def matches(name: str, size: int, hints: tuple[str, ...], gated: bool = False, with_state: bool = True, scale: float = 1.0) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            inputs = chunk_inputs(name, size, gated, with_state)
            got = call_learner(fn, *inputs, scale=scale)
            expected_out, expected_state = recurrence_of_chunk(*inputs, scale)
            if not isinstance(got, tuple) or len(got) != 2:
                raise CheckFailed(f"expected a pair (outputs, new_state), got {type(got).__name__}")
            expect_tensor_close(got[0], expected_out, "the chunk's outputs", "(B, H, C, D_v)", atol=1e-10)
            expect_tensor_close(got[1], expected_state, "the state after the chunk", "(B, H, D_k, D_v)", atol=1e-10)

        return Case(name, run, hints)

    def unchanged(fn: Callable[..., Any]) -> None:
        inputs = chunk_inputs("unchanged", 8, True)
        originals = [x.clone() for x in inputs]
        call_learner_in_place(fn, *inputs)
        expect_unchanged(originals, list(inputs), ["q", "k", "v", "beta", "state", "alpha"])

    return [
        matches("from a zero state: the chunk alone", 8, (
            "T = ut_transform(k, beta); W = T (β k) and U' = T (β v); then U = U' - W S₀.",
            "Outputs: scale · (q S₀ + tril(q kᵀ) U); the new state S₀ + kᵀ U.",
        ), with_state=False),
        matches("from a given state S₀", 8, ("The state enters twice: U = U' - W S₀ and the read-out q S₀.",)),
        matches("a chunk of 64, scale 1/√D_k", 64, ("Multiply the whole read-out by scale.",), scale=0.5),
        matches("gated: decay Γ and cumulative gates g", 16, (
            "With a gate: Γ = decay_matrix(alpha), g = cumprod(alpha); W = T (β g k); multiply tril(q kᵀ) by Γ.",
            "The read-out of S₀ is scaled by g_t; the new state is g_C S₀ + kᵀ (Γ_C· U), Γ_C· the last row of Γ.",
        ), gated=True),
        Case("does not modify its inputs", unchanged, ("Build new tensors instead of writing into state or v.",)),
    ]


EXERCISES = [
    Exercise("09.ut_transform", chunkwise.ut_transform, tuple(ut_cases())),
    Exercise("09.delta_rule_chunk", chunkwise.delta_rule_chunk, tuple(chunk_cases())),
]
