"""The exercises of kernel lessons K3 (forward substitution in Triton) and K4 (the chunk's gates in Triton).

Glossary: q, k (B, T, H, D_k) with unit keys, v (B, T, H, D_v), ``beta`` β ∈ [0, 2], ``alpha`` α ∈
[0, 1] (B, T, H); ``substitute`` = the learner's ``forward_substitution``, ``gates`` = their
``chunk_gates``. Both are Triton helpers: the check runs them inside the course's forward kernel
(``kernels.delta.launch_delta_rule_forward``), where Triton runs, in float32, and compares the
outputs and the final state with the float64 token-by-token recurrence ``deltanet.delta_rule``.
A wrong T or Γ changes the pseudo-values U and with them every output of the chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .. import deltanet
from ..check import Case, Exercise, call_learner, expect_tensor_close, generator_for
from ..kernels import delta as kernel_delta
from .kernels_scan import KERNEL_TOLERANCE, on_kernel_device

KEY_DIM, VALUE_DIM, HEADS = 8, 6, 2


RESETS = {"reset": [5, 21], "first step": [0]}


def delta_inputs(
    name: str, steps: int, beta: float | None = None, alpha: str | None = None, value_dim: int = VALUE_DIM
) -> dict[str, torch.Tensor | None]:
    """Seeded float64 inputs. ``alpha``: None (no gate), "random" in [0, 1], "ones" (exactly 1 everywhere), or
    random with α = 0 at the steps ``RESETS`` names: "reset" (steps 5 and 21), "first step" (step 0)."""
    generator = generator_for(name)
    options = {"generator": generator, "dtype": torch.float64}
    inputs: dict[str, torch.Tensor | None] = {
        "q": torch.randn(1, steps, HEADS, KEY_DIM, **options),
        "k": F.normalize(torch.randn(1, steps, HEADS, KEY_DIM, **options), dim=-1),
        "v": torch.randn(1, steps, HEADS, value_dim, **options),
        "beta": 2 * torch.rand(1, steps, HEADS, **options) if beta is None else torch.full((1, steps, HEADS), beta, dtype=torch.float64),
        "alpha": None,
        "initial_state": torch.randn(1, HEADS, KEY_DIM, value_dim, **options),
    }
    if alpha is not None:
        gate = torch.ones(1, steps, HEADS, dtype=torch.float64) if alpha == "ones" else torch.rand(1, steps, HEADS, **options)
        gate[:, RESETS.get(alpha, [])] = 0.0
        inputs["alpha"] = gate
    return inputs


def forward_case(name: str, steps: int, helper: str, hints: tuple[str, ...], **options: Any) -> Case:
    """The course's forward kernel with the learner's ``helper`` ("substitute" or "gates") inside it."""

    def run(fn: Callable[..., Any]) -> None:
        inputs = delta_inputs(name, steps, **options)
        scale = KEY_DIM**-0.5
        expected_out, expected_state = deltanet.delta_rule(*inputs.values(), scale=scale)
        on_device = dict(zip(inputs, on_kernel_device(*inputs.values())))
        result = call_learner(kernel_delta.launch_delta_rule_forward, *on_device.values(), scale, **{helper: fn})
        out, final_state, _ = result
        expect_tensor_close(out.cpu(), expected_out.float(), "the outputs o_t", "(B, T, H, D_v)",
                            atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)
        expect_tensor_close(final_state.cpu(), expected_state.float(), "the final state S_T", "(B, H, D_k, D_v)",
                            atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)

    return Case(name, run, hints)


def two_by_two_case(fn: Callable[..., Any]) -> None:
    """T for two steps by hand: A₂₁ = β₂ k₂ᵀk₁ = 2 · 0.6, so T₂₁ = -1.2; seen through u₂ = v₂ - 1.2 v₁ (S₀ = 0)."""
    k = torch.zeros(1, 2, 1, KEY_DIM, dtype=torch.float64)
    k[0, 0, 0, 0], k[0, 1, 0, :2] = 1.0, torch.tensor([0.6, 0.8])
    v = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64).reshape(1, 2, 1, 2)
    beta = torch.tensor([1.0, 2.0], dtype=torch.float64).reshape(1, 2, 1)
    state = torch.zeros(1, 1, KEY_DIM, 2, dtype=torch.float64)
    args = on_kernel_device(k, k, v, beta, None, state)
    _, final_state, _ = call_learner(kernel_delta.launch_delta_rule_forward, *args, 1.0, substitute=fn)
    expected = k[0, 0, 0, :, None] * torch.tensor([1.0, 0.0]) + k[0, 1, 0, :, None] * torch.tensor([-1.2, 2.0])
    expect_tensor_close(final_state[0, 0].cpu(), expected.float(), "S₂ = k₁u₁ᵀ + k₂u₂ᵀ with u₂ = β₂ v₂ - β₂ (k₂ᵀk₁) u₁",
                        "(D_k, D_v)", atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)


def substitution_cases() -> list[Case]:
    return [
        Case("two steps by hand: T₂₁ = -β₂ k₂ᵀk₁ = -1.2", two_by_two_case, (
            "Start from the identity: tl.where(rows[:, None] == rows[None, :], 1.0, 0.0).",
            "Row i: pick row i of A with tl.sum(tl.where(rows[:, None] == i, strictly_lower, 0.0), axis=0).",
        )),
        forward_case("one chunk: T = 12, β ∈ [0, 2]", 12, "substitute", (
            "Row i of T is e_i - Σ_{j<i} A_ij T_j: tl.sum(row_of_a[:, None] * transform, axis=0) is the sum.",
            "Write the new row back with tl.where(rows[:, None] == i, new_row[None, :], transform).",
        )),
        forward_case("β = 2 everywhere (reflections)", 16, "substitute", (
            "The same substitution holds at β = 2; nothing in it divides.",
        ), beta=2.0),
        # Chunks hold 16 steps under the interpreter and 32 compiled: T = 150 spans several either way.
        forward_case("several chunks with a decay Γ: T = 150", 150, "substitute", (
            "Rows run from 1 to CHUNK - 1 with `for i in range(1, CHUNK)`; row 0 of T is e_0.",
        ), alpha="random"),
        forward_case("two value blocks: D_v = 70, T = 17", 17, "substitute", (
            "T depends on the keys and β only, never on the values: every value block computes the same T.",
        ), value_dim=70),
    ]


def gate_cases() -> list[Case]:
    return [
        forward_case("gates of exactly 1: Γ is all ones below the diagonal", 16, "gates", (
            "Γ_ti = α_{i+1} ⋯ α_t: a cumulative product down each column of tl.where(later, alpha[:, None], 1.0).",
            "Keep Γ zero above the diagonal: tl.where(rows[:, None] >= rows[None, :], …, 0.0).",
        ), alpha="ones"),
        forward_case("random gates in one chunk", 16, "gates", (
            "g_t = α_1 ⋯ α_t is tl.cumprod(alpha, axis=0).",
            "Return the pair (decay, cumulative_gate).",
        ), alpha="random"),
        forward_case("resets (α = 0) across chunks: T = 150", 150, "gates", (
            "Never divide g_t by g_i: after a reset both are 0. Multiply the gates between i and t instead.",
        ), alpha="reset"),
        forward_case("gates with β = 2 and a reset", 24, "gates", (
            "The gates and β are independent: Γ depends on α only.",
        ), alpha="reset", beta=2.0),
        forward_case("a reset at the first step: S₀ is forgotten at once", 16, "gates", (
            "With α_1 = 0, g_t = 0 for every t: the cumulative product must not skip the first gate.",
        ), alpha="first step"),
    ]


EXERCISES = [
    Exercise("K3.forward_substitution", getattr(kernel_delta, "forward_substitution", None), tuple(substitution_cases())),
    Exercise("K4.chunk_gates", getattr(kernel_delta, "chunk_gates", None), tuple(gate_cases())),
]
