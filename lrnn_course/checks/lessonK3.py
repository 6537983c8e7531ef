"""The exercise of kernel lesson K3 (forward substitution in Triton), and what K4's check shares with it.

Glossary: q, k (B, T, H, D_k) with unit keys, v (B, T, H, D_v), ``beta`` β ∈ [0, 2], ``alpha`` α ∈
[0, 1] (B, T, H); ``substitute`` = the learner's ``forward_substitution``, ``gates`` = their
``chunk_gates``. Both are Triton helpers: the check runs them inside the course's forward kernel
(``kernels.delta.launch_delta_rule_forward``), where Triton runs, in float32, and compares the
outputs and the final state with the float64 token-by-token recurrence ``deltanet.delta_rule``.
A wrong T or Γ changes the pseudo-values U and with them every output of the chunk. Other rows read the
helper's result whole instead, from a probe kernel that stores it, at the interpreter's chunk (16) and a
GPU's (32): they name the wrong entry, so they outrank the forward rows (``READ_WHOLE``). K4's check
(``lessonK4``) reuses these inputs, forward rows and probes for ``chunk_gates``.

The helpers receive blocks, never pointers: nothing they do can read or write out of bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .. import deltanet
from .._triton import tl, triton
from ..checker import (
    GENERAL,
    SPECIFIC,
    Case,
    CheckFailed,
    Exercise,
    call_learner,
    call_learner_in_place,
    expect_tensor_close,
    generator_for,
)
from ..kernels import delta as kernel_delta
from ..kernels.backend import on_device_of
from .lessonK1 import KERNEL_TOLERANCE, on_kernel_device

KEY_DIM, VALUE_DIM, HEADS = 8, 6, 2
# Several blocks on every axis the kernel splits (chunks, value blocks, and (batch row, head) pairs), the last
# ones part full; D_k = 12 fills part of its single key block. One head keeps the interpreter's time down.
SPREAD = {"batch": 2, "heads": 1, "key_dim": 12, "value_dim": 70}
# The chunk under the interpreter, and the one compiled for a GPU: a helper must work at both.
PROBE_CHUNKS = (kernel_delta.INTERPRETER_CHUNK, kernel_delta.COMPILED_CHUNK)
# Rows that read the helper's result whole name the wrong entry, and outrank the forward rows; the row about the
# dtype of T, which the forward kernel cannot even run with (tl.dot refuses mixed dtypes), outranks them all.
READ_WHOLE = SPECIFIC + 1
BLOCK_DTYPE = SPECIFIC + 2


if triton is not None:

    @triton.jit
    def _substitution_probe(a_ptr, transform_ptr, bits_ptr, CHUNK: tl.constexpr, SUBSTITUTE: tl.constexpr):
        """T of one (CHUNK, CHUNK) block A, by the helper ``SUBSTITUTE``, stored whole (in float32), and the bits of
        the floats the helper returned."""
        rows = tl.arange(0, CHUNK)
        block = rows[:, None] * CHUNK + rows[None, :]
        transform = SUBSTITUTE(tl.load(a_ptr + block), CHUNK)
        tl.store(transform_ptr + block, transform)
        tl.store(bits_ptr, transform.dtype.primitive_bitwidth)


RESETS = {"reset": [5, 21], "first step": [0]}


def delta_inputs(
    name: str,
    steps: int,
    beta: float | None = None,
    alpha: str | None = None,
    value_dim: int = VALUE_DIM,
    batch: int = 1,
    heads: int = HEADS,
    key_dim: int = KEY_DIM,
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


def forward_case(
    name: str, steps: int, helper: str, hints: tuple[str, ...], priority: int = SPECIFIC, **options: Any
) -> Case:
    """The course's forward kernel with the learner's ``helper`` ("substitute" or "gates") inside it."""

    def run(fn: Callable[..., Any]) -> None:
        inputs = delta_inputs(name, steps, **options)
        scale = inputs["q"].shape[-1] ** -0.5
        expected_out, expected_state = deltanet.delta_rule(*inputs.values(), scale=scale)
        on_device = dict(zip(inputs, on_kernel_device(*inputs.values())))
        result = call_learner(kernel_delta.launch_delta_rule_forward, *on_device.values(), scale, **{helper: fn})
        out, final_state, _ = result
        expect_tensor_close(
            out.cpu(),
            expected_out.float(),
            "the outputs o_t",
            "(B, T, H, D_v)",
            atol=KERNEL_TOLERANCE,
            rtol=KERNEL_TOLERANCE,
        )
        expect_tensor_close(
            final_state.cpu(),
            expected_state.float(),
            "the final state S_T",
            "(B, H, D_k, D_v)",
            atol=KERNEL_TOLERANCE,
            rtol=KERNEL_TOLERANCE,
        )

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
    expect_tensor_close(
        final_state[0, 0].cpu(),
        expected.float(),
        "S₂ = k₁u₁ᵀ + k₂u₂ᵀ with u₂ = β₂ v₂ - β₂ (k₂ᵀk₁) u₁",
        "(D_k, D_v)",
        atol=KERNEL_TOLERANCE,
        rtol=KERNEL_TOLERANCE,
    )


def run_probe(probe: Any, *args: Any, **blocks: Any) -> None:
    """One program of a probe kernel; what the learner's helper raises becomes ``CheckFailed``."""
    with on_device_of(args[0]):
        call_learner_in_place(lambda: probe[(1,)](*args, **blocks))


def substitution_read_whole(substitute: Callable[..., Any], chunk: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(T as returned, stored in float32; the float64 inverse of I + A; the bits of the floats returned) for a random
    A = strictly-lower(diag(β) K Kᵀ) without a decay, so that the last rows depend on the first ones."""
    generator = generator_for(f"whole T: {chunk}")
    k = F.normalize(torch.randn(chunk, KEY_DIM, generator=generator, dtype=torch.float64), dim=-1)
    beta = 2 * torch.rand(chunk, 1, generator=generator, dtype=torch.float64)
    strictly_lower = torch.tril(beta * (k @ k.T), diagonal=-1)
    expected = torch.linalg.inv(torch.eye(chunk, dtype=torch.float64) + strictly_lower)
    (a,) = on_kernel_device(strictly_lower)
    transform, bits = torch.empty_like(a), torch.zeros(1, dtype=torch.int32, device=a.device)
    run_probe(_substitution_probe, a, transform, bits, CHUNK=chunk, SUBSTITUTE=substitute)
    return transform.cpu(), expected, int(bits.item())


def float32_block_case(substitute: Callable[..., Any]) -> None:
    """The helper returns a float32 block: the kernel multiplies T with float32 blocks in tl.dot, which refuses
    to mix."""
    bits = substitution_read_whole(substitute, PROBE_CHUNKS[0])[2]
    if bits != 32:
        raise CheckFailed(
            f"forward_substitution returned a block of {bits}-bit floats: return T as a float32 block, "
            "as the identity tl.where(..., 1.0, 0.0) you start from is"
        )


def rows_note(transform: torch.Tensor, expected: torch.Tensor) -> str:
    """Which rows of T are right, and what that says about the loop over rows ("" when T is right)."""
    chunk = transform.shape[0]
    wrong = (~torch.isclose(transform, expected.float(), atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)).any(dim=1)
    if not bool(wrong.any()):
        return ""
    first = int(wrong.nonzero()[0])
    if bool(torch.ones(chunk, chunk, dtype=torch.bool).triu(1).logical_and(transform != 0).any()):
        return (
            "T has entries above the diagonal, where it is 0: write row i with combinations of the rows above it only. "
        )
    if first == 0:
        return "row 0 of T is e_0: start from the identity. "
    if wrong.nonzero().flatten().tolist() == [chunk - 1]:
        return f"only the last row, i = {chunk - 1}, is wrong: the loop over rows must reach it, range(1, CHUNK). "
    if first == PROBE_CHUNKS[0] and bool(wrong[first:].all()):
        return (
            f"rows 0 to {first - 1} are right, none from {first} on is: the loop must cover the block it is given, "
            "range(1, CHUNK). "
        )
    return (
        f"rows 0 to {first - 1} are right, row {first} is not: row {first} = e_{first} - Σ_(j<{first}) A[{first}, j] · "
        "(row j of T), a combination of whole rows of T, each final before it is used. "
    )


def whole_transform_case(substitute: Callable[..., Any]) -> None:
    """T read whole, upper triangle included, against the float64 inverse of I + A at each of ``PROBE_CHUNKS``."""
    for chunk in PROBE_CHUNKS:
        transform, expected, _ = substitution_read_whole(substitute, chunk)
        try:
            expect_tensor_close(
                transform,
                expected.float(),
                f"T at a chunk of {chunk}",
                "(i, j)",
                atol=KERNEL_TOLERANCE,
                rtol=KERNEL_TOLERANCE,
            )
        except CheckFailed as failure:
            raise CheckFailed(rows_note(transform, expected) + str(failure)) from failure


def substitution_cases() -> list[Case]:
    return [
        Case(
            "returns a float32 block",
            float32_block_case,
            (
                "Keep T in float32 from start to end: no .to(tl.float16) or .to(tl.bfloat16) on the way; the kernel "
                "rounds what it needs to, where it needs to.",
            ),
            BLOCK_DTYPE,
        ),
        Case(
            "two steps by hand: T₂₁ = -β₂ k₂ᵀk₁ = -1.2",
            two_by_two_case,
            (
                "Start from the identity: tl.where(rows[:, None] == rows[None, :], 1.0, 0.0).",
                "Row i: pick row i of A with tl.sum(tl.where(rows[:, None] == i, strictly_lower, 0.0), axis=0).",
            ),
            READ_WHOLE,
        ),
        forward_case(
            "one chunk: T = 12, β ∈ [0, 2]",
            12,
            "substitute",
            (
                "Row i of T is e_i - Σ_{j<i} A_ij T_j: tl.sum(row_of_a[:, None] * transform, axis=0) is the sum.",
                "Write the new row back with tl.where(rows[:, None] == i, new_row[None, :], transform).",
            ),
            GENERAL,
        ),
        forward_case(
            "β = 2 everywhere (reflections)",
            16,
            "substitute",
            ("The same substitution holds at β = 2; nothing in it divides.",),
            GENERAL,
            beta=2.0,
        ),
        # Chunks hold 16 steps under the interpreter and 32 compiled: T = 150 spans several either way.
        forward_case(
            "several chunks with a decay Γ: T = 150",
            150,
            "substitute",
            (
                "The decay is already inside the block A you are given: T = (I + A)⁻¹ for any strictly lower A, "
                "whatever made it.",
            ),
            alpha="random",
        ),
        forward_case(
            "several chunks, value blocks and batch rows: B = 2, T = 37, D_v = 70",
            37,
            "substitute",
            (
                "T depends on the keys and β only, never on the values: every value block computes the same T.",
                "Steps past T are padded with β = 0 and k = 0: their rows of A are 0, and T has e_i there.",
            ),
            GENERAL,
            **SPREAD,
        ),
        Case(
            "T read whole at chunks of 16 and 32 (a GPU's)",
            whole_transform_case,
            (
                "Row i of T is e_i - Σ_{j<i} A[i, j] · (row j of T): the coefficients A[i, j] run along row i of A, "
                "and each multiplies a whole row of T: tl.sum(row_of_a[:, None] * transform, axis=0).",
                "Rows must be computed in order, 1, 2, …, CHUNK - 1, each from rows already final, over the whole "
                "block you are given: range(1, CHUNK), never a fixed 16.",
            ),
            READ_WHOLE,
        ),
    ]


EXERCISES = [
    Exercise(
        "K3.forward_substitution", getattr(kernel_delta, "forward_substitution", None), tuple(substitution_cases())
    ),
]
