"""The exercises of kernel lessons K3 (forward substitution in Triton) and K4 (the chunk's gates in Triton).

Glossary: q, k (B, T, H, D_k) with unit keys, v (B, T, H, D_v), ``beta`` β ∈ [0, 2], ``alpha`` α ∈
[0, 1] (B, T, H); ``substitute`` = the learner's ``forward_substitution``, ``gates`` = their
``chunk_gates``. Both are Triton helpers: the check runs them inside the course's forward kernel
(``kernels.delta.launch_delta_rule_forward``), where Triton runs, in float32, and compares the
outputs and the final state with the float64 token-by-token recurrence ``deltanet.delta_rule``.
A wrong T or Γ changes the pseudo-values U and with them every output of the chunk. Two rows read the
helper's result whole instead, from a probe kernel that stores it, at the interpreter's chunk (16) and a
GPU's (32): a Γ not zeroed above the diagonal leaves the forward pass right, where ``later`` masks it,
and the backward kernel's gradients wrong, where nothing does.

The helpers receive blocks, never pointers: nothing they do can read or write out of bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .. import deltanet
from .._triton import tl, triton
from ..check import (GENERAL, SPECIFIC, Case, CheckFailed, Exercise, call_learner, call_learner_in_place, expect_tensor_close,
                     generator_for)
from ..kernels import delta as kernel_delta
from ..kernels.backend import on_device_of
from .kernels_scan import KERNEL_TOLERANCE, on_kernel_device

KEY_DIM, VALUE_DIM, HEADS = 8, 6, 2
# Several blocks on every axis the kernel splits (chunks, value blocks, and (batch row, head) pairs), the last
# ones part full; D_k = 12 fills part of its single key block. One head keeps the interpreter's time down.
SPREAD = {"batch": 2, "heads": 1, "key_dim": 12, "value_dim": 70}
# The chunk under the interpreter, and the one compiled for a GPU: a helper must work at both.
PROBE_CHUNKS = (kernel_delta.INTERPRETER_CHUNK, kernel_delta.COMPILED_CHUNK)

if triton is not None:

    @triton.jit
    def _substitution_probe(a_ptr, transform_ptr, CHUNK: tl.constexpr, SUBSTITUTE: tl.constexpr):
        """T of one (CHUNK, CHUNK) block A, by the helper ``SUBSTITUTE``, stored whole."""
        rows = tl.arange(0, CHUNK)
        block = rows[:, None] * CHUNK + rows[None, :]
        tl.store(transform_ptr + block, SUBSTITUTE(tl.load(a_ptr + block), CHUNK))

    @triton.jit
    def _gates_probe(alpha_ptr, decay_ptr, gate_ptr, CHUNK: tl.constexpr, GATES: tl.constexpr):
        """Γ (CHUNK, CHUNK) and g (CHUNK,) of one chunk's gates, by the helper ``GATES``, stored whole."""
        rows = tl.arange(0, CHUNK)
        decay, cumulative_gate = GATES(tl.load(alpha_ptr + rows), CHUNK)
        tl.store(decay_ptr + rows[:, None] * CHUNK + rows[None, :], decay)
        tl.store(gate_ptr + rows, cumulative_gate)


RESETS = {"reset": [5, 21], "first step": [0]}


def delta_inputs(
    name: str, steps: int, beta: float | None = None, alpha: str | None = None, value_dim: int = VALUE_DIM,
    batch: int = 1, heads: int = HEADS, key_dim: int = KEY_DIM,
) -> dict[str, torch.Tensor | None]:
    """Seeded float64 inputs. ``alpha``: None (no gate), "random" in [0, 1], "ones" (exactly 1 everywhere), or
    random with α = 0 at the steps ``RESETS`` names: "reset" (steps 5 and 21), "first step" (step 0)."""
    generator = generator_for(name)
    options = {"generator": generator, "dtype": torch.float64}
    tokens = (batch, steps, heads)
    inputs: dict[str, torch.Tensor | None] = {
        "q": torch.randn(*tokens, key_dim, **options),
        "k": F.normalize(torch.randn(*tokens, key_dim, **options), dim=-1),
        "v": torch.randn(*tokens, value_dim, **options),
        "beta": 2 * torch.rand(*tokens, **options) if beta is None else torch.full(tokens, beta, dtype=torch.float64),
        "alpha": None,
        "initial_state": torch.randn(batch, heads, key_dim, value_dim, **options),
    }
    if alpha is not None:
        gate = torch.ones(*tokens, dtype=torch.float64) if alpha == "ones" else torch.rand(*tokens, **options)
        gate[:, RESETS.get(alpha, [])] = 0.0
        inputs["alpha"] = gate
    return inputs


def forward_case(name: str, steps: int, helper: str, hints: tuple[str, ...], priority: int = SPECIFIC, **options: Any) -> Case:
    """The course's forward kernel with the learner's ``helper`` ("substitute" or "gates") inside it."""

    def run(fn: Callable[..., Any]) -> None:
        inputs = delta_inputs(name, steps, **options)
        scale = inputs["q"].shape[-1] ** -0.5
        expected_out, expected_state = deltanet.delta_rule(*inputs.values(), scale=scale)
        on_device = dict(zip(inputs, on_kernel_device(*inputs.values())))
        result = call_learner(kernel_delta.launch_delta_rule_forward, *on_device.values(), scale, **{helper: fn})
        out, final_state, _ = result
        expect_tensor_close(out.cpu(), expected_out.float(), "the outputs o_t", "(B, T, H, D_v)",
                            atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)
        expect_tensor_close(final_state.cpu(), expected_state.float(), "the final state S_T", "(B, H, D_k, D_v)",
                            atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)

    return Case(name, run, hints, priority)


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


def run_probe(probe: Any, *args: Any, **blocks: Any) -> None:
    """One program of a probe kernel; what the learner's helper raises becomes ``CheckFailed``."""
    with on_device_of(args[0]):
        call_learner_in_place(lambda: probe[(1,)](*args, **blocks))


def whole_transform_case(substitute: Callable[..., Any]) -> None:
    """T read whole, upper triangle included, against the float64 inverse of I + A at each of ``PROBE_CHUNKS``;
    A = strictly-lower(diag(β) K Kᵀ) without a decay, so that the last rows depend on the first ones."""
    for chunk in PROBE_CHUNKS:
        generator = generator_for(f"whole T: {chunk}")
        k = F.normalize(torch.randn(chunk, KEY_DIM, generator=generator, dtype=torch.float64), dim=-1)
        beta = 2 * torch.rand(chunk, 1, generator=generator, dtype=torch.float64)
        strictly_lower = torch.tril(beta * (k @ k.T), diagonal=-1)
        expected = torch.linalg.inv(torch.eye(chunk, dtype=torch.float64) + strictly_lower)
        (a,) = on_kernel_device(strictly_lower)
        transform = torch.empty_like(a)
        run_probe(_substitution_probe, a, transform, CHUNK=chunk, SUBSTITUTE=substitute)
        expect_tensor_close(transform.cpu(), expected.float(), f"T at a chunk of {chunk}", "(i, j)",
                            atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)


def whole_gates_case(gates: Callable[..., Any]) -> None:
    """Γ and g read whole at each of ``PROBE_CHUNKS``, against products of the gates taken one by one: Γ must be
    exactly 0 above the diagonal, which the forward kernel masks and the backward kernel does not."""
    for chunk in PROBE_CHUNKS:
        alpha = torch.rand(chunk, generator=generator_for(f"whole Γ: {chunk}"), dtype=torch.float64)
        alpha[RESETS["reset"][0]] = 0.0
        expected_decay = torch.zeros(chunk, chunk, dtype=torch.float64)
        for i in range(chunk):  # Γ_ti = α_{i+1} ⋯ α_t for t ≥ i: 1 on the diagonal, then one more gate a row
            expected_decay[i:, i] = torch.cat((alpha.new_ones(1), alpha[i + 1:])).cumprod(0)
        (alpha32,) = on_kernel_device(alpha)
        decay, cumulative_gate = torch.empty(chunk, chunk, device=alpha32.device), torch.empty_like(alpha32)
        run_probe(_gates_probe, alpha32, decay, cumulative_gate, CHUNK=chunk, GATES=gates)
        decay = decay.cpu()
        above = torch.ones(chunk, chunk, dtype=torch.bool).triu(1) & (decay != 0)
        if bool(above.any()):
            t, i = (int(x) for x in above.nonzero()[0])
            raise CheckFailed(f"Γ above the diagonal is not 0: Γ[t={t}, i={i}] = {decay[t, i].item():g} at a chunk of {chunk} "
                              f"({int(above.sum())} such entries); the backward kernel multiplies by Γ without masking it")
        expect_tensor_close(decay, expected_decay.float(), f"Γ at a chunk of {chunk}", "(t, i)",
                            atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)
        expect_tensor_close(cumulative_gate.cpu(), alpha.cumprod(0).float(), f"g at a chunk of {chunk}", "(t)",
                            atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)


def substitution_cases() -> list[Case]:
    return [
        Case("two steps by hand: T₂₁ = -β₂ k₂ᵀk₁ = -1.2", two_by_two_case, (
            "Start from the identity: tl.where(rows[:, None] == rows[None, :], 1.0, 0.0).",
            "Row i: pick row i of A with tl.sum(tl.where(rows[:, None] == i, strictly_lower, 0.0), axis=0).",
        )),
        forward_case("one chunk: T = 12, β ∈ [0, 2]", 12, "substitute", (
            "Row i of T is e_i - Σ_{j<i} A_ij T_j: tl.sum(row_of_a[:, None] * transform, axis=0) is the sum.",
            "Write the new row back with tl.where(rows[:, None] == i, new_row[None, :], transform).",
        ), GENERAL),
        forward_case("β = 2 everywhere (reflections)", 16, "substitute", (
            "The same substitution holds at β = 2; nothing in it divides.",
        ), GENERAL, beta=2.0),
        # Chunks hold 16 steps under the interpreter and 32 compiled: T = 150 spans several either way.
        forward_case("several chunks with a decay Γ: T = 150", 150, "substitute", (
            "Rows run from 1 to CHUNK - 1 with `for i in range(1, CHUNK)`; row 0 of T is e_0.",
        ), alpha="random"),
        forward_case("several chunks, value blocks and batch rows: B = 2, T = 37, D_v = 70", 37, "substitute", (
            "T depends on the keys and β only, never on the values: every value block computes the same T.",
            "Steps past T are padded with β = 0 and k = 0: their rows of A are 0, and T has e_i there.",
        ), GENERAL, **SPREAD),
        Case("T read whole at chunks of 16 and 32 (a GPU's)", whole_transform_case, (
            "Loop over the rows of the block you are given: range(1, CHUNK), never a fixed 16.",
            "T is lower triangular with ones on the diagonal: start from the identity and only ever write row i "
            "with combinations of the rows above it.",
        )),
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
        forward_case("β = 2 and resets over several blocks: B = 2, T = 37, D_v = 70", 37, "gates", (
            "The gates and β are independent: Γ depends on α only.",
            "Steps past T are padded with α = 1: the cumulative products carry on unchanged over them.",
        ), GENERAL, alpha="reset", beta=2.0, **SPREAD),
        forward_case("a reset at the first step: S₀ is forgotten at once", 16, "gates", (
            "With α_1 = 0, g_t = 0 for every t: the cumulative product must not skip the first gate.",
        ), alpha="first step"),
        Case("Γ read whole: zero above the diagonal, chunks of 16 and 32", whole_gates_case, (
            "The forward pass masks Γ, the backward pass multiplies by it as it is (dL/dscores = dL/dattention ⊙ Γ): "
            "every entry with t < i must be 0.",
            "tl.where(rows[:, None] >= rows[None, :], products, 0.0) keeps the lower triangle and zeroes the rest.",
        )),
    ]


EXERCISES = [
    Exercise("K3.forward_substitution", getattr(kernel_delta, "forward_substitution", None), tuple(substitution_cases())),
    Exercise("K4.chunk_gates", getattr(kernel_delta, "chunk_gates", None), tuple(gate_cases())),
]
