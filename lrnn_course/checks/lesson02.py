"""The exercises of Lesson 02 (selective SSMs) and the properties ``check()`` tests them on.

Glossary: ``delta`` = Δ (batch, T, E), ``A_log`` = w_1 (E, N), ``B``/``C`` = B_t/C_t (batch, T, N),
``D`` = w_2 (E,), ``negative`` = the paper's [-1, 1] remap. Expected values come from
``gates64`` (one ``math.exp`` per entry) and ``scan64`` (Lesson 01's float64 loop on every
(channel, state) pair), written independently of ``lrnn_course.mamba``; expected gradients from
autograd through ``torch_gates64`` and ``scan64``. Value rows are ``GENERAL``, as in Lesson 01.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .. import mamba
from ..checker import (
    GENERAL,
    SPECIFIC,
    Case,
    CheckFailed,
    Exercise,
    call_learner,
    call_learner_in_place,
    expect_tensor_close,
    expect_unchanged,
    generator_for,
    substituted,
)
from .lesson01 import HALF, HALF_TOLERANCE, gradient_cases, loop64

GATES = "(batch, T, E, N)"
OUTPUTS = "(batch, T, E)"
INPUTS = {"u": OUTPUTS, "delta": OUTPUTS, "A_log": "(E, N)", "B": "(batch, T, N)", "C": "(batch, T, N)", "D": "(E,)"}
CONNECTED_HINTS = (
    "Autograd must be able to go back from your result to every input: compute with torch operations on the tensors "
    "you are given, so that a model built on your function can learn Δ and A_log.",
)
LIBRARY_GATES = mamba.selective_gates


def gates64(delta: torch.Tensor, A_log: torch.Tensor, negative: bool) -> torch.Tensor:
    """exp(-Δ exp(w)) entry by entry with ``math.exp``, remapped to 2g - 1 when ``negative``."""
    batch, steps, channels = delta.shape
    states = A_log.shape[1]
    gates = torch.empty(batch, steps, channels, states, dtype=torch.float64)
    for index in range(batch * steps * channels * states):
        i, rest = divmod(index, steps * channels * states)
        t, rest = divmod(rest, channels * states)
        e, n = divmod(rest, states)
        gate = math.exp(-float(delta[i, t, e]) * math.exp(float(A_log[e, n])))
        gates[i, t, e, n] = 2 * gate - 1 if negative else gate
    return gates


def torch_gates64(delta: torch.Tensor, A_log: torch.Tensor, negative: bool) -> torch.Tensor:
    """``gates64`` with torch operations in float64, so that autograd can go back through it."""
    gates = torch.exp(-delta.double().unsqueeze(-1) * torch.exp(A_log.double()))
    return 2 * gates - 1 if negative else gates


def scan64(u, delta, A_log, B, C, D=None, negative=False, gate_steps=None) -> torch.Tensor:
    """The selective scan as E * N independent Lesson 01 recurrences, in float64 (differentiable); ``gate_steps``, when
    given, is the Δ the gates are computed from (the input term keeps ``delta``)."""
    batch, steps, channels = u.shape
    states = A_log.shape[1]
    gates = torch_gates64(delta if gate_steps is None else gate_steps, A_log, negative).reshape(
        batch, steps, channels * states
    )
    drive = (delta.double() * u.double()).unsqueeze(-1) * B.double().unsqueeze(2)
    h = loop64(gates, drive.reshape(batch, steps, channels * states)).reshape(batch, steps, channels, states)
    y = (h * C.double().unsqueeze(2)).sum(-1)
    return y if D is None else y + D.double() * u.double()


def selective_inputs(
    name: str, batch: int = 2, steps: int = 7, channels: int = 3, states: int = 4, with_D: bool = True
):
    """Seeded float64 inputs (u, delta, A_log, B, C, D) of the selective scan; Δ in (0, 2)."""
    rng = generator_for(name)
    u = torch.randn(batch, steps, channels, generator=rng, dtype=torch.float64)
    delta = 2 * torch.rand(batch, steps, channels, generator=rng, dtype=torch.float64)
    A_log = torch.randn(channels, states, generator=rng, dtype=torch.float64) - 0.5
    B = torch.randn(batch, steps, states, generator=rng, dtype=torch.float64)
    C = torch.randn(batch, steps, states, generator=rng, dtype=torch.float64)
    D = torch.randn(channels, generator=rng, dtype=torch.float64) if with_D else None
    return u, delta, A_log, B, C, D


def expect_gates(got: Any, expected: torch.Tensor, negative: bool, tolerance: tuple[float, float]) -> None:
    """``got`` close to ``expected``; when only gates within 1e-4 of an end of the range differ (a clamp, or an epsilon
    added "for stability"), the message says so."""
    try:
        expect_tensor_close(got, expected, "the gates", GATES, *tolerance)
    except CheckFailed:
        if not (isinstance(got, torch.Tensor) and got.shape == expected.shape and got.dtype == expected.dtype):
            raise
        low = -1.0 if negative else 0.0
        wrong = ~torch.isclose(got.detach(), expected, *tolerance[::-1])
        at_ends = ((expected - low).abs() < 1e-4) | ((expected - 1).abs() < 1e-4)
        if not bool(at_ends[wrong].all()):
            raise
        index = tuple(int(i) for i in wrong.nonzero()[0])
        where = ", ".join(f"{name}={i}" for name, i in zip(("batch", "t", "e", "n"), index))
        raise CheckFailed(
            f"the gates differ only near the ends of [{low:g}, 1]: at [{where}] yours {got[index].item():.12g}, "
            f"expected {expected[index].item():.12g}",
            (
                "Return exp(-Δ·exp(A_log)) as it is: a clamp or an epsilon moves the gates at the ends, where Δ = 0 "
                "must give exactly 1 (the state kept) and a huge Δ exactly 0 (the state forgotten), or -1 with "
                "negative=True.",
            ),
        ) from None


def gate_cases() -> list[Case]:
    def matches(negative: bool, dtype: torch.dtype = torch.float64, tolerance: tuple[float, float] = (1e-9, 1e-7)):
        def run(fn: Callable[..., Any]) -> None:
            _, delta, A_log = (x.to(dtype) for x in selective_inputs(f"gates {negative} {dtype}")[:3])
            expect_gates(
                call_learner(fn, delta, A_log, negative=negative),
                gates64(delta, A_log, negative).to(dtype),
                negative,
                tolerance,
            )

        return run

    def shape(fn: Callable[..., Any]) -> None:
        _, delta, A_log = selective_inputs("gates shape", 2, 5, 3, 4)[:3]
        got = call_learner(fn, delta, A_log)
        if not isinstance(got, torch.Tensor) or got.shape != (2, 5, 3, 4):
            found = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise CheckFailed(f"expected gates of shape (2, 5, 3, 4) {GATES}, got {found}")

    def in_range(negative: bool) -> Callable[[Callable[..., Any]], None]:
        low = -1.0 if negative else 0.0

        def run(fn: Callable[..., Any]) -> None:
            delta = torch.linspace(0, 50, 64, dtype=torch.float64).reshape(1, 64, 1)
            A_log = torch.tensor([[-3.0, 0.0, 3.0]], dtype=torch.float64)
            got = call_learner(fn, delta, A_log, negative=negative)
            if not isinstance(got, torch.Tensor):
                raise CheckFailed(f"expected a tensor, got {type(got).__name__}")
            if bool((got < low).any()) or bool((got > 1).any()):
                raise CheckFailed(f"a gate left [{low:g}, 1]: found {got.min().item():.4f} .. {got.max().item():.4f}")

        return run

    def zero_step(fn: Callable[..., Any]) -> None:
        delta = torch.zeros(1, 3, 2, dtype=torch.float64)
        A_log = torch.randn(2, 5, generator=generator_for("zero step"), dtype=torch.float64)
        for negative in (False, True):
            expect_tensor_close(
                call_learner(fn, delta, A_log, negative=negative),
                torch.ones(1, 3, 2, 5, dtype=torch.float64),
                f"the gates for Δ = 0 (negative={negative})",
                GATES,
                atol=0,
                rtol=0,
            )

    def long_step(fn: Callable[..., Any]) -> None:
        delta = torch.full((1, 2, 1), 60.0, dtype=torch.float64)
        A_log = torch.zeros(1, 2, dtype=torch.float64)
        for negative, gate in ((False, 0.0), (True, -1.0)):
            expect_tensor_close(
                call_learner(fn, delta, A_log, negative=negative),
                torch.full((1, 2, 1, 2), gate, dtype=torch.float64),
                f"the gates for a huge Δ (negative={negative})",
                GATES,
                atol=1e-12,
            )

    def unchanged(fn: Callable[..., Any]) -> None:
        _, delta, A_log, *_ = selective_inputs("unchanged gates")
        originals = [delta.clone(), A_log.clone()]
        call_learner_in_place(fn, delta, A_log, negative=True)
        expect_unchanged(originals, [delta, A_log], ["delta", "A_log"])

    return [
        Case(
            "returns gates of shape (batch, T, E, N)",
            shape,
            (
                "One gate per (step, channel, state): delta.unsqueeze(-1) is (batch, T, E, 1), and it broadcasts with "
                "(E, N).",
            ),
            SPECIFIC,
        ),
        Case(
            "matches exp(-Δ·exp(A_log))",
            matches(False),
            (
                "A = -exp(A_log), and the discretised gate is exp(Δ · A): one value per (step, channel, state).",
                "Broadcast: delta.unsqueeze(-1) is (batch, T, E, 1) and torch.exp(A_log) is (E, N).",
            ),
            GENERAL,
        ),
        Case("gates lie in [0, 1]", in_range(False), ("exp of a non-positive number lies in (0, 1].",), GENERAL),
        Case(
            "negative=True gives 2·exp(-Δ·exp(A_log)) - 1",
            matches(True),
            ("The paper's change (eq. 2) maps a gate g in [0, 1] to 2 g - 1 in [-1, 1]; nothing else changes.",),
            GENERAL,
        ),
        Case("negative gates lie in [-1, 1]", in_range(True), ("2 g - 1 for g in [0, 1] lies in [-1, 1].",), GENERAL),
        Case(
            "Δ = 0 keeps the state (gate 1)",
            zero_step,
            ("With Δ = 0 no time passes: exp(0) = 1, and 2 · 1 - 1 = 1 too.",),
            GENERAL,
        ),
        Case(
            "a huge Δ gives 0, or -1 with negative=True",
            long_step,
            ("exp(-60) is 0 in float64 up to 1e-26: the gate forgets everything, and the remapped gate is 2 · 0 - 1.",),
            GENERAL,
        ),
        Case(
            "does not modify its inputs",
            unchanged,
            ("Build new tensors: in-place methods (exp_, mul_, unsqueeze_) write into delta or A_log.",),
            SPECIFIC,
        ),
        *gradient_cases(
            "the gates",
            {"delta": OUTPUTS, "A_log": "(E, N)"},
            gradient_inputs,
            lambda fn, delta, A_log: fn(delta, A_log, negative=True),
            lambda delta, A_log: torch_gates64(delta, A_log, True),
            CONNECTED_HINTS,
        ),
        # After the gradient, as in Lesson 01: numpy has no bfloat16.
        Case(
            "keeps float32 as float32",
            matches(True, torch.float32, (1e-6, 1e-5)),
            ("Do not convert the inputs: compute in delta's dtype.",),
            GENERAL,
        ),
        # bfloat16 keeps 8 bits of Δ·e^w and of the gate: the library is 6e-3 off at most here; 2e-2 leaves room for
        # any order.
        Case(
            "keeps bfloat16 as bfloat16",
            matches(True, HALF, (2e-2, 2e-2)),
            ("Do not convert the inputs: compute in delta's dtype (a tensor made without a dtype is float32).",),
            GENERAL,
        ),
        Case(
            "Mamba's ranges in bfloat16 and float16: Δ ∈ [0.001, 0.1], A_log = log 1 … log 16",
            mamba_ranges,
            (
                "Round once: exp(-Δ · exp(A_log)) in one expression. exp(-Δ) ** exp(A_log) is the same number on "
                "paper, but exp(-Δ) is rounded to the half type first, which for a small Δ keeps few of its digits, "
                "and the power magnifies that error up to 16 times.",
            ),
            GENERAL,
        ),
    ]


def gradient_inputs() -> list[torch.Tensor]:
    """Δ and A_log for the gradient rows, with Δ = 0 at a few steps: a gate through log(Δ) is right there, its
    gradient NaN."""
    _, delta, A_log = selective_inputs("gradient gates")[:3]
    delta[:, 0] = 0.0
    return [delta, A_log]


def mamba_ranges(fn: Callable[..., Any]) -> None:
    """The gates at the step sizes and decay rates Mamba initialises, in both half types, against float64 on the same
    rounded inputs: one rounding is 3.4e-3 (bfloat16) and 4.4e-4 (float16) off at most, rounding exp(-Δ) first 9
    times more."""
    rng = generator_for("mamba ranges")
    delta = 1e-3 + (0.1 - 1e-3) * torch.rand(2, 64, 16, generator=rng, dtype=torch.float64)
    A_log = torch.log(torch.arange(1, 17, dtype=torch.float64)).expand(16, 16).clone()
    for dtype, tolerance in ((torch.bfloat16, 1e-2), (torch.float16, 1.5e-3)):
        rounded = [x.to(dtype) for x in (delta, A_log)]
        expected = gates64(*(x.double() for x in rounded), False).to(dtype)
        expect_tensor_close(call_learner(fn, *rounded), expected, f"the {dtype} gates", GATES, atol=tolerance, rtol=0)


def extreme_inputs() -> tuple[torch.Tensor, ...]:
    """Inputs whose gates are exactly 1 (Δ = 0) or exactly 0 (Δ e^w > 745, below the smallest float64), and -1 with
    the remap; small integers elsewhere, so that every output is an exact integer."""
    rng = generator_for("gates exactly 0, 1 and -1")

    def integers(*shape: int) -> torch.Tensor:
        return torch.randint(-2, 3, shape, generator=rng).double()

    delta = torch.where(torch.rand(2, 12, 2, generator=rng) < 0.5, 0.0, 1e4).double()
    A_log = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64).reshape(2, 3)
    return integers(2, 12, 2), delta, A_log, integers(2, 12, 3), integers(2, 12, 3), integers(2)


def scan_cases() -> list[Case]:
    def matches(
        name: str,
        negative: bool = False,
        hints: tuple[str, ...] = (),
        dtype: torch.dtype = torch.float64,
        tolerance: tuple[float, float] = (1e-9, 1e-7),
        **sizes: Any,
    ) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            inputs = [x.to(dtype) for x in selective_inputs(name, **sizes)]
            got = call_learner(fn, *inputs, negative=negative)
            expect_tensor_close(got, scan64(*inputs, negative=negative).to(dtype), "y", OUTPUTS, *tolerance)

        return Case(name, run, hints, GENERAL)

    def shape(fn: Callable[..., Any]) -> None:
        inputs = selective_inputs("shape", 2, 5, 3, 4)
        got = call_learner(fn, *inputs)
        if not isinstance(got, torch.Tensor) or got.shape != (2, 5, 3):
            found = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise CheckFailed(f"expected y of shape (2, 5, 3) {OUTPUTS}, got {found}")

    def without_skip(fn: Callable[..., Any]) -> None:
        inputs = selective_inputs("without skip", with_D=False)
        expect_tensor_close(call_learner(fn, *inputs), scan64(*inputs), "y (D = None)", OUTPUTS)

    def extremes(fn: Callable[..., Any]) -> None:
        inputs = extreme_inputs()
        for negative in (False, True):
            expect_tensor_close(
                call_learner(fn, *inputs, negative=negative),
                scan64(*inputs, negative=negative),
                f"y (negative={negative})",
                OUTPUTS,
                atol=0,
                rtol=0,
            )

    def unchanged(fn: Callable[..., Any]) -> None:
        inputs = selective_inputs("unchanged")
        originals = [x.clone() for x in inputs]
        call_learner_in_place(fn, *inputs)
        expect_unchanged(originals, inputs, list(INPUTS))

    def skip_term(fn: Callable[..., Any]) -> None:
        # Whatever the scan part computes, it does not depend on D: y(D + 1) - y(D) is u exactly when the skip term is
        # D * u.
        u, delta, A_log, B, C, D = selective_inputs("skip term")
        with_D, with_more_D = (call_learner(fn, u, delta, A_log, B, C, skip) for skip in (D, D + 1))
        change = (
            with_more_D - with_D
            if isinstance(with_D, torch.Tensor) and isinstance(with_more_D, torch.Tensor)
            else with_D
        )
        expect_tensor_close(change, u, "how much y grows when D grows by 1 (it must grow by u)", OUTPUTS)

    def uses_selective_gates(fn: Callable[..., Any]) -> None:
        inputs = selective_inputs("uses your selective_gates")
        calls = []

        def gates_of_twice_the_step(delta: torch.Tensor, A_log: torch.Tensor, negative: bool = False) -> torch.Tensor:
            """Valid gates, and not the ones of Δ: those of 2Δ."""
            calls.append(negative)
            gates = torch.exp(-2 * delta.unsqueeze(-1) * torch.exp(A_log))
            return 2 * gates - 1 if negative else gates

        # Only among fn's globals: a library function that runs the whole scan from its own module keeps the library's
        # gates.
        with substituted(fn, gates_of_twice_the_step, names=["selective_gates"], originals=[LIBRARY_GATES]):
            got = call_learner(fn, *inputs)
        if not calls:
            defined = "selective_gates" in getattr(fn, "__globals__", {})
            raise CheckFailed(
                "your function never called "
                + (
                    "selective_gates, the one defined beside it (exercise 1)"
                    if defined
                    else "a function named selective_gates, and there is none where it is defined (exercise 1)"
                )
                + ": gates from elsewhere (mamba.selective_gates by its module, a library scan, or your own "
                "formula inline) are not the ones this exercise builds on; call selective_gates by that name"
            )
        try:
            expect_tensor_close(got, scan64(*inputs, gate_steps=2 * inputs[1]), "y", OUTPUTS)
        except CheckFailed as mismatch:
            raise CheckFailed(
                "with selective_gates swapped for a stand-in returning other valid gates (those of 2Δ), your y "
                f"should follow them, and does not: it computes its gates another way. {mismatch}"
            ) from None

    return [
        Case(
            "returns y of shape (batch, T, E)",
            shape,
            ("Each channel reads its N states with C_t: y_t[e] = sum over n of H_t[e, n] · C_t[n].",),
            SPECIFIC,
        ),
        matches(
            "matches the float64 loop",
            hints=(
                "Per step: H = gates[:, t] * H + (delta[:, t] * u[:, t])[..., None] * B[:, t, None, :].",
                "Then y_t = (H * C[:, t, None, :]).sum(-1), and finally y + D * u.",
            ),
        ),
        matches(
            "negative=True uses the [-1, 1] gates",
            negative=True,
            hints=("Pass negative on to selective_gates, or compute 2 g - 1 yourself.",),
        ),
        Case("D = None: no skip term", without_skip, ("When D is None, return the scan's read-out alone.",), GENERAL),
        matches("length 1", hints=("With T = 1 the state is Δ B u and y = <H, C> + D u.",), steps=1),
        matches(
            "one channel, one state",
            hints=("Nothing may assume E > 1 or N > 1 (no .squeeze()).",),
            channels=1,
            states=1,
        ),
        matches("batch of 3, 17 steps", batch=3, steps=17, hints=("Batch items never mix.",)),
        Case(
            "gates exactly 0, 1 and -1 (Δ = 0 or huge)",
            extremes,
            (
                "A gate of 0 forgets the state, and -1 flips it: carry H forward step by step; nothing may divide by a "
                "gate or a product of gates, or take the log of one.",
            ),
            GENERAL,
        ),
        Case("does not modify its inputs", unchanged, ("Build new tensors; do not write into u, B or C.",), SPECIFIC),
        # Before the gradient: a y without D * u leaves D without a gradient, and this row names the missing term.
        Case(
            "the skip term is D · u",
            skip_term,
            (
                "Add the skip term: y_t[e] = <H_t[e], C_t> + D[e] · u_t[e], that is y + D * u "
                "(D broadcasts over batch and time).",
            ),
            SPECIFIC,
        ),
        *gradient_cases(
            "y",
            INPUTS,
            lambda: selective_inputs("gradient", 1, 6, 2, 3),
            lambda fn, *inputs: fn(*inputs, negative=True),
            lambda *inputs: scan64(*inputs, negative=True),
            CONNECTED_HINTS,
            tolerance=(1e-8, 1e-6),
        ),
        # After the gradient: numpy has no bfloat16, and a function computing in numpy is told about its graph first.
        matches(
            "keeps bfloat16 as bfloat16",
            negative=True,
            dtype=HALF,
            tolerance=(HALF_TOLERANCE, HALF_TOLERANCE),
            hints=(
                "Do not convert the inputs; a state made without a dtype (torch.zeros(batch, E, N)) is float32: use "
                "torch.zeros_like or u.new_zeros.",
            ),
            batch=1,
            steps=6,
            channels=2,
            states=3,
        ),
        matches(
            "long float32 sequence T = 2000",
            dtype=torch.float32,
            tolerance=(1e-5, 1e-4),
            hints=(
                "Products of hundreds of gates underflow to 0 in float32: a form that divides by cumprod of the gates "
                "breaks down long before T = 2000. Carry H forward step by step.",
            ),
            batch=1,
            steps=2000,
            channels=1,
            states=2,
        ),
        # Last: a scan wrong in other ways misses the stand-in's gates too, and the rows above explain it.
        Case(
            "computes with your selective_gates",
            uses_selective_gates,
            (
                "Compute the gates with selective_gates(delta, A_log, negative), your function of exercise 1: the "
                "check swaps it for a stand-in and expects y to follow.",
                "A loop over time or a scan of Lesson 01 on (batch, T, E·N) both work, as long as the gates come from "
                "selective_gates.",
            ),
            GENERAL,
        ),
    ]


EXERCISES = [
    Exercise("02.selective_gates", mamba.selective_gates, tuple(gate_cases())),
    Exercise("02.selective_scan", mamba.selective_scan, tuple(scan_cases())),
]
