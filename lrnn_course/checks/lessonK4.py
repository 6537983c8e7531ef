"""The exercise of kernel lesson K4: the chunk's gates in Triton (``chunk_gates``: Γ and g).

The helper runs inside the course's forward kernel and in a probe that stores its result whole, as K3's
``forward_substitution`` does (``lessonK3``, whose inputs and forward rows this module reuses). A Γ not zeroed
above the diagonal leaves the forward pass right, where ``later`` masks it, and the backward kernel's
gradients wrong, where nothing does; a Γ or g from logarithms of clamped gates is within the tolerance
of the forward rows and never exactly 0 after a reset, where the products of the gates are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch

from .._triton import tl, triton
from ..checker import (
    GENERAL,
    Case,
    CheckFailed,
    Exercise,
    expect_tensor_close,
    generator_for,
)
from ..kernels import delta as kernel_delta
from .lessonK1 import KERNEL_TOLERANCE, on_kernel_device
from .lessonK3 import PROBE_CHUNKS, READ_WHOLE, RESETS, SPREAD, forward_case, run_probe

if triton is not None:

    @triton.jit
    def _gates_probe(alpha_ptr, decay_ptr, gate_ptr, CHUNK: tl.constexpr, GATES: tl.constexpr):
        """Γ (CHUNK, CHUNK) and g (CHUNK,) of one chunk's gates, by the helper ``GATES``, stored whole."""
        rows = tl.arange(0, CHUNK)
        decay, cumulative_gate = GATES(tl.load(alpha_ptr + rows), CHUNK)
        tl.store(decay_ptr + rows[:, None] * CHUNK + rows[None, :], decay)
        tl.store(gate_ptr + rows, cumulative_gate)


class GatesReadWhole(NamedTuple):
    chunk: int
    alpha: torch.Tensor  # (CHUNK,) float64, α = 0 at RESETS["reset"][0]
    decay: torch.Tensor  # Γ as returned, (CHUNK, CHUNK), float32
    gate: torch.Tensor  # g as returned, (CHUNK,), float32
    expected_decay: torch.Tensor  # float64
    expected_gate: torch.Tensor  # float64


def gates_read_whole(gates: Callable[..., Any]) -> Iterator[GatesReadWhole]:
    """Γ and g of random gates with one reset, read whole at each of ``PROBE_CHUNKS``, and the products of the gates
    taken one by one in float64."""
    for chunk in PROBE_CHUNKS:
        alpha = torch.rand(chunk, generator=generator_for(f"whole Γ: {chunk}"), dtype=torch.float64)
        alpha[RESETS["reset"][0]] = 0.0
        expected_decay = torch.zeros(chunk, chunk, dtype=torch.float64)
        for i in range(chunk):  # Γ[t, i] = alpha[i+1] ⋯ alpha[t] for t ≥ i: 1 on the diagonal, then one more gate a row
            expected_decay[i:, i] = torch.cat((alpha.new_ones(1), alpha[i + 1 :])).cumprod(0)
        (alpha32,) = on_kernel_device(alpha)
        decay, gate = torch.empty(chunk, chunk, device=alpha32.device), torch.empty_like(alpha32)
        run_probe(_gates_probe, alpha32, decay, gate, CHUNK=chunk, GATES=gates)
        yield GatesReadWhole(chunk, alpha, decay.cpu(), gate.cpu(), expected_decay, alpha.cumprod(0))


def decay_zero_above_case(gates: Callable[..., Any]) -> None:
    """Γ exactly 0 above the diagonal, which the forward kernel masks and the backward kernel does not."""
    for read in gates_read_whole(gates):
        above = torch.ones(read.chunk, read.chunk, dtype=torch.bool).triu(1) & (read.decay != 0)
        if bool(above.any()):
            t, i = (int(x) for x in above.nonzero()[0])
            transposed = torch.allclose(
                read.decay, read.expected_decay.T.float(), atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE
            )
            note = (
                " Your Γ is the transpose of the right one: its row is the later step t, its column the earlier step i."
                if transposed
                else ""
            )
            raise CheckFailed(
                f"Γ above the diagonal is not 0: Γ[t={t}, i={i}] = {read.decay[t, i].item():g} at a chunk of "
                f"{read.chunk} ({int(above.sum())} such entries); the backward kernel multiplies by Γ without "
                f"masking it.{note}"
            )


def decay_values_case(gates: Callable[..., Any]) -> None:
    """Γ entry by entry against the products of the gates taken one by one."""
    reset = RESETS["reset"][0]
    for read in gates_read_whole(gates):
        try:
            expect_tensor_close(
                read.decay,
                read.expected_decay.float(),
                f"Γ at a chunk of {read.chunk}",
                "(t, i)",
                atol=KERNEL_TOLERANCE,
                rtol=KERNEL_TOLERANCE,
            )
        except CheckFailed as failure:
            t, i = (
                int(x)
                for x in (
                    ~torch.isclose(
                        read.decay, read.expected_decay.float(), atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE
                    )
                ).nonzero()[0]
            )
            note = (
                f"alpha[{reset}] = 0 lies between steps i and t, so Γ[t={t}, i={i}] is exactly 0. "
                if i < reset <= t and bool(read.decay[t, i].isfinite())
                else ""
            )
            raise CheckFailed(note + str(failure)) from failure


def gate_values_case(gates: Callable[..., Any]) -> None:
    """g entry by entry against the cumulative product of the gates."""
    for read in gates_read_whole(gates):
        expect_tensor_close(
            read.gate,
            read.expected_gate.float(),
            f"g at a chunk of {read.chunk}",
            "(t)",
            atol=KERNEL_TOLERANCE,
            rtol=KERNEL_TOLERANCE,
        )


def exact_zeros_case(gates: Callable[..., Any]) -> None:
    """Γ[t, i] and g[t] exactly 0 wherever the reset lies in i < s ≤ t (for g, s ≤ t): exp of summed logarithms of
    clamped gates is tiny there, within the tolerance of every other row, but never 0."""
    reset = RESETS["reset"][0]
    for read in gates_read_whole(gates):
        for what, got, expected, dims in (
            ("Γ", read.decay, read.expected_decay, "ti"),
            ("g", read.gate, read.expected_gate, "t"),
        ):
            should_be_zero = (expected == 0) & (torch.ones_like(expected).tril() != 0 if what == "Γ" else True)
            nonzero = should_be_zero & (got != 0)
            if bool(nonzero.any()):
                index = tuple(int(x) for x in nonzero.nonzero()[0])
                where = ", ".join(f"{axis}={value}" for axis, value in zip(dims, index))
                raise CheckFailed(
                    f"{what}[{where}] = {got[index].item():.3g} at a chunk of {read.chunk}, after the reset "
                    f"alpha[{reset}] = 0: it must be exactly 0 ({int(nonzero.sum())} such entries)"
                )


def gate_cases() -> list[Case]:
    return [
        forward_case(
            "gates of exactly 1: Γ is all ones below the diagonal",
            16,
            "gates",
            (
                "Γ_ti = α_{i+1} ⋯ α_t: a cumulative product down each column of tl.where(later, alpha[:, None], 1.0).",
                "Keep Γ zero above the diagonal: tl.where(rows[:, None] >= rows[None, :], …, 0.0).",
            ),
            alpha="ones",
        ),
        forward_case(
            "random gates in one chunk",
            16,
            "gates",
            (
                "g[t] = alpha[0] ⋯ alpha[t] is tl.cumprod(alpha, axis=0).",
                "Return the pair (decay, cumulative_gate).",
            ),
            alpha="random",
        ),
        forward_case(
            "resets (α = 0) across chunks: T = 150",
            150,
            "gates",
            (
                "After a reset Γ and g are exactly 0: multiply the gates between i and t; dividing g_t by g_i gives 0 "
                "/ 0, and logarithms give log 0.",
            ),
            alpha="reset",
        ),
        forward_case(
            "β = 2 and resets over several blocks: B = 2, T = 37, D_v = 70",
            37,
            "gates",
            (
                "The gates and β are independent: Γ depends on α only.",
                "Steps past T are padded with α = 1: the cumulative products carry on unchanged over them.",
            ),
            GENERAL,
            alpha="reset",
            beta=2.0,
            **SPREAD,
        ),
        forward_case(
            "a reset at the first step: S₀ is forgotten at once",
            16,
            "gates",
            ("With α_1 = 0, g_t = 0 for every t: the cumulative product must not skip the first gate.",),
            alpha="first step",
        ),
        Case(
            "Γ read whole: zero above the diagonal, chunks of 16 and 32",
            decay_zero_above_case,
            (
                "The forward pass masks Γ, the backward pass multiplies by it as it is (dL/dscores = dL/dattention ⊙ "
                "Γ): every entry with t < i must be 0.",
                "tl.where(rows[:, None] >= rows[None, :], products, 0.0) keeps the lower triangle and zeroes the rest.",
            ),
            READ_WHOLE,
        ),
        Case(
            "Γ read whole: Γ[t, i] = alpha[i+1] ⋯ alpha[t] below the diagonal",
            decay_values_case,
            (
                "Γ[t, i] multiplies the gates after step i up to step t, so Γ[t, t] = 1 and alpha[i] is not among "
                "them: a cumulative product down each column (axis=0) of tl.where(later, alpha[:, None], 1.0).",
                "Products only: g[t] / g[i] and exp(logs[t] - logs[i]) go wrong after a reset (α = 0), where Γ is "
                "exactly 0.",
            ),
            READ_WHOLE,
        ),
        Case(
            "g read whole: g[t] = alpha[0] ⋯ alpha[t]",
            gate_values_case,
            (
                "Time counts from 0 in the code: g[t] = alpha[0] · alpha[1] ⋯ alpha[t] includes the first gate, "
                "tl.cumprod(alpha, axis=0).",
            ),
            READ_WHOLE,
        ),
        Case(
            "Γ and g exactly 0 after a reset (α = 0)",
            exact_zeros_case,
            (
                "exp of a sum of logarithms is never exactly 0, and clamping α before the logarithm only makes it "
                "small: build Γ and g from products of the gates (tl.cumprod, or tl.associative_scan with a "
                "multiplication), which a reset sets to exactly 0.",
            ),
            READ_WHOLE,
        ),
    ]


EXERCISES = [
    Exercise("K4.chunk_gates", getattr(kernel_delta, "chunk_gates", None), tuple(gate_cases())),
]
