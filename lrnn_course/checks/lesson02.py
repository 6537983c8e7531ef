"""The exercises of Lesson 02 (selective SSMs) and the properties ``check()`` tests them on.

Glossary: ``delta`` = Δ (batch, T, E), ``A_log`` = w_1 (E, N), ``B``/``C`` = B_t/C_t (batch, T, N),
``D`` = w_2 (E,), ``negative`` = the paper's [-1, 1] remap. Expected values come from
``gates64`` (one ``math.exp`` per entry) and ``scan64`` (Lesson 01's float64 loop on every
(channel, state) pair), written independently of ``lrnn_course.mamba``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .. import mamba
from ..check import Case, CheckFailed, Exercise, call_learner, call_learner_in_place, expect_tensor_close, expect_unchanged, first_line, generator_for
from .lesson01 import loop64

GATES = "(batch, T, E, N)"
OUTPUTS = "(batch, T, E)"


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


def scan64(u, delta, A_log, B, C, D=None, negative=False) -> torch.Tensor:
    """The selective scan as E * N independent Lesson 01 recurrences, in float64."""
    batch, steps, channels = u.shape
    states = A_log.shape[1]
    gates = gates64(delta, A_log, negative).reshape(batch, steps, channels * states)
    drive = (delta.double() * u.double()).unsqueeze(-1) * B.double().unsqueeze(2)
    h = loop64(gates, drive.reshape(batch, steps, channels * states)).reshape(batch, steps, channels, states)
    y = (h * C.double().unsqueeze(2)).sum(-1)
    return y if D is None else y + D.double() * u.double()


def selective_inputs(name: str, batch: int = 2, steps: int = 7, channels: int = 3, states: int = 4, with_D: bool = True):
    """Seeded float64 inputs (u, delta, A_log, B, C, D) of the selective scan; Δ in (0, 2)."""
    rng = generator_for(name)
    u = torch.randn(batch, steps, channels, generator=rng, dtype=torch.float64)
    delta = 2 * torch.rand(batch, steps, channels, generator=rng, dtype=torch.float64)
    A_log = torch.randn(channels, states, generator=rng, dtype=torch.float64) - 0.5
    B = torch.randn(batch, steps, states, generator=rng, dtype=torch.float64)
    C = torch.randn(batch, steps, states, generator=rng, dtype=torch.float64)
    D = torch.randn(channels, generator=rng, dtype=torch.float64) if with_D else None
    return u, delta, A_log, B, C, D


def gate_cases() -> list[Case]:
    def matches(negative: bool) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            _, delta, A_log, *_ = selective_inputs(f"gates {negative}")
            got = call_learner(fn, delta, A_log, negative=negative)
            expect_tensor_close(got, gates64(delta, A_log, negative), "the gates", GATES)

        return run

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
            expect_tensor_close(call_learner(fn, delta, A_log, negative=negative), torch.ones(1, 3, 2, 5, dtype=torch.float64),
                                f"the gates for Δ = 0 (negative={negative})", GATES, atol=0, rtol=0)

    def long_step(fn: Callable[..., Any]) -> None:
        delta = torch.full((1, 2, 1), 60.0, dtype=torch.float64)
        A_log = torch.zeros(1, 2, dtype=torch.float64)
        expect_tensor_close(call_learner(fn, delta, A_log, negative=True), torch.full((1, 2, 1, 2), -1.0, dtype=torch.float64),
                            "the [-1, 1] gates for a huge Δ", GATES, atol=1e-12)

    def float32(fn: Callable[..., Any]) -> None:
        _, delta, A_log, *_ = selective_inputs("float32")
        got = call_learner(fn, delta.float(), A_log.float(), negative=True)
        expect_tensor_close(got, gates64(delta, A_log, True).float(), "the gates", GATES, atol=1e-6, rtol=1e-5)

    return [
        Case("matches exp(-Δ·exp(A_log))", matches(False), (
            "A = -exp(A_log), and the discretised gate is exp(Δ · A): one value per (step, channel, state).",
            "Broadcast: delta.unsqueeze(-1) is (batch, T, E, 1) and torch.exp(A_log) is (E, N).",
        )),
        Case("gates lie in [0, 1]", in_range(False), ("exp of a non-positive number lies in (0, 1].",)),
        Case("negative=True gives 2·exp(-Δ·exp(A_log)) - 1", matches(True), (
            "The paper's change (eq. 2) maps a gate g in [0, 1] to 2 g - 1 in [-1, 1]; nothing else changes.",
        )),
        Case("negative gates lie in [-1, 1]", in_range(True), ("2 g - 1 for g in [0, 1] lies in [-1, 1].",)),
        Case("Δ = 0 keeps the state (gate 1)", zero_step, (
            "With Δ = 0 no time passes: exp(0) = 1, and 2 · 1 - 1 = 1 too.",
        )),
        Case("a huge Δ gives -1 with negative=True", long_step, (
            "exp(-60) is 0 in float64 up to 1e-26, so the remapped gate is 2 · 0 - 1.",
        )),
        Case("keeps float32 as float32", float32, ("Do not convert the inputs: compute in delta's dtype.",)),
    ]


def scan_cases() -> list[Case]:
    def matches(name: str, negative: bool = False, hints: tuple[str, ...] = (), **sizes: Any) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            inputs = selective_inputs(name, **sizes)
            got = call_learner(fn, *inputs, negative=negative)
            expect_tensor_close(got, scan64(*inputs, negative=negative), "y", OUTPUTS)

        return Case(name, run, hints)

    def shape(fn: Callable[..., Any]) -> None:
        inputs = selective_inputs("shape", 2, 5, 3, 4)
        got = call_learner(fn, *inputs)
        if not isinstance(got, torch.Tensor) or got.shape != (2, 5, 3):
            found = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise CheckFailed(f"expected y of shape (2, 5, 3) {OUTPUTS}, got {found}")

    def without_skip(fn: Callable[..., Any]) -> None:
        inputs = selective_inputs("without skip", with_D=False)
        expect_tensor_close(call_learner(fn, *inputs), scan64(*inputs), "y (D = None)", OUTPUTS)

    def unchanged(fn: Callable[..., Any]) -> None:
        inputs = selective_inputs("unchanged")
        originals = [x.clone() for x in inputs]
        call_learner_in_place(fn, *inputs)
        expect_unchanged(originals, inputs, ["u", "delta", "A_log", "B", "C", "D"])

    def gradient(fn: Callable[..., Any]) -> None:
        inputs = [x.clone().requires_grad_() for x in selective_inputs("gradient", 1, 6, 2, 3)]
        got = call_learner(fn, *inputs, negative=True)
        if not isinstance(got, torch.Tensor) or not got.requires_grad:
            raise CheckFailed("y is not connected to the inputs' autograd graph (no .detach(), .item() or numpy)")
        weights = torch.randn(got.shape, generator=generator_for("weights"), dtype=torch.float64)
        try:
            yours = torch.autograd.grad((got * weights).sum(), inputs, allow_unused=True)
        except RuntimeError as error:
            raise CheckFailed(f"backward failed: {first_line(error)}") from error
        expected = torch.autograd.grad((mamba.selective_scan_parallel(*inputs, negative=True) * weights).sum(), inputs)
        for name, mine, want in zip(["u", "delta", "A_log", "B", "C", "D"], yours, expected):
            if mine is None:
                raise CheckFailed(f"y does not depend on {name} through autograd")
            expect_tensor_close(mine, want, f"the gradient for {name}", "", atol=1e-8, rtol=1e-6)

    return [
        Case("returns y of shape (batch, T, E)", shape, (
            "Each channel reads its N states with C_t: y_t[e] = sum over n of H_t[e, n] · C_t[n].",
        )),
        matches("matches the float64 loop", hints=(
            "Per step: H = gates[:, t] * H + (delta[:, t] * u[:, t])[..., None] * B[:, t, None, :].",
            "Then y_t = (H * C[:, t, None, :]).sum(-1), and finally y + D * u.",
        )),
        matches("negative=True uses the [-1, 1] gates", negative=True, hints=(
            "Pass negative on to selective_gates, or compute 2 g - 1 yourself.",
        )),
        Case("D = None: no skip term", without_skip, ("When D is None, return the scan's read-out alone.",)),
        matches("length 1", hints=("With T = 1 the state is Δ B u and y = <H, C> + D u.",), steps=1),
        matches("one channel, one state", hints=("Nothing may assume E > 1 or N > 1 (no .squeeze()).",), channels=1, states=1),
        matches("batch of 3, 17 steps", batch=3, steps=17, hints=("Batch items never mix.",)),
        Case("does not modify its inputs", unchanged, ("Build new tensors; do not write into u, B or C.",)),
        Case("gradient matches autograd", gradient, (
            "Keep each step's output in a Python list and torch.stack them; do not write into a preallocated tensor.",
        )),
    ]


EXERCISES = [
    Exercise("02.selective_gates", mamba.selective_gates, tuple(gate_cases())),
    Exercise("02.selective_scan", mamba.selective_scan, tuple(scan_cases())),
]
