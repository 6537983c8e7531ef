"""The exercises of Lesson 04 (negative eigenvalues, trained) and the properties ``check()`` tests them on.

Glossary: ``logits`` = the model's answer scores at every position (N, L, n_classes); ``batch`` =
a ``tasks.Batch`` whose ``targets`` hold one answer token per row; ``weight``/``bias`` = W_a/b_a of
the Figure 1 gate. Expected values are computed row by row with ``math`` (the loss) and entry by
entry in float64 (the gates), independently of ``lrnn_course.train`` and ``lrnn_course.models``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .. import models, tasks, train
from ..check import Case, CheckFailed, Exercise, call_learner, expect_tensor_close, generator_for

POSITIONS = "(N, L, C)"


def loss64(logits: torch.Tensor, batch: tasks.Batch) -> float:
    """Mean over rows of -log softmax(logits at the answer position)[answer], with ``math``."""
    total = 0.0
    for row in range(logits.shape[0]):
        (position,) = [i for i, target in enumerate(batch.targets[row].tolist()) if target != tasks.IGNORE]
        scores = [float(v) for v in logits[row, position]]
        answer = int(batch.targets[row, position]) - batch.answer_offset
        largest = max(scores)
        total += largest + math.log(sum(math.exp(s - largest) for s in scores)) - scores[answer]
    return total / logits.shape[0]


def random_logits(batch: tasks.Batch, name: str) -> torch.Tensor:
    n, length = batch.tokens.shape
    return 3 * torch.randn(n, length, batch.n_classes, generator=generator_for(name), dtype=torch.float64)


def expect_loss(got: Any, expected: float, what: str) -> None:
    if not isinstance(got, torch.Tensor) or got.dim() != 0:
        found = f"shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else type(got).__name__
        raise CheckFailed(f"{what}: expected a single number (a 0-d tensor, the mean over rows), got {found}")
    if not math.isclose(got.item(), expected, rel_tol=1e-9, abs_tol=1e-12):
        raise CheckFailed(f"{what}: yours {got.item():.6f}, expected {expected:.6f}")


def loss_cases() -> list[Case]:
    def on_task(name: str, make_batch: Callable[[torch.Generator], tasks.Batch], hints: tuple[str, ...]) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            batch = make_batch(generator_for(name))
            logits = random_logits(batch, name)
            expect_loss(call_learner(fn, logits, batch), loss64(logits, batch), "the loss")

        return Case(name, run, hints)

    def ignores_other_positions(fn: Callable[..., Any]) -> None:
        batch = tasks.parity(6, 3, 12, generator_for("other positions"))
        logits = random_logits(batch, "other positions")
        scored = torch.zeros_like(logits, dtype=torch.bool)
        scored[torch.arange(6), batch.answer_positions] = True
        noisy = torch.where(scored, logits, logits + 100 * torch.randn(logits.shape, generator=generator_for("noise"), dtype=torch.float64))
        expect_loss(call_learner(fn, noisy, batch), loss64(logits, batch), "the loss after changing every other position")

    def gradient(fn: Callable[..., Any]) -> None:
        batch = tasks.parity(5, 3, 9, generator_for("gradient"))
        logits = random_logits(batch, "gradient").requires_grad_()
        got = call_learner(fn, logits, batch)
        if not isinstance(got, torch.Tensor) or not got.requires_grad:
            raise CheckFailed("the loss is not connected to logits by autograd (no .item(), .detach() or numpy)")
        (grad,) = torch.autograd.grad(got, logits)
        rows = torch.arange(5)
        expected = torch.zeros_like(logits)
        positions = batch.answer_positions
        softmax = torch.softmax(logits.detach()[rows, positions], dim=-1)
        softmax[rows, batch.targets[rows, positions] - batch.answer_offset] -= 1
        expected[rows, positions] = softmax / 5
        expect_tensor_close(grad, expected, "the gradient", POSITIONS, atol=1e-12, rtol=1e-9)

    return [
        on_task("parity: cross-entropy at the answer position", lambda g: tasks.parity(8, 3, 15, g), (
            "Each row has one scored position: where batch.targets is not -1 (batch.answer_positions gives it).",
            "Pick logits[rows, positions] (shape (N, C)) and the answers targets[rows, positions] - batch.answer_offset,"
            " then F.cross_entropy.",
        )),
        on_task("cycle navigation: 5 answers from token 4", lambda g: tasks.cycle_navigation(8, 3, 15, g), (
            "Class k is the answer token batch.answer_offset + k: subtract the offset from the target token.",
        )),
        on_task("brackets task: answers from token 0", lambda g: tasks.modular_arithmetic_with_brackets(8, 5, 15, g), (
            "Use batch.answer_offset rather than a number that fits parity only.",
        )),
        on_task("one row", lambda g: tasks.parity(1, 3, 9, g), ("Nothing may assume N > 1 (no .squeeze()).",)),
        Case("ignores every other position", ignores_other_positions, (
            "Only the answer position carries a target; the other positions must not enter the loss.",
        )),
        Case("gradient only at the answer positions", gradient, (
            "Average over rows (F.cross_entropy's default), and keep the result a tensor.",
        )),
    ]


def gates64(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, negative: bool, sharpness: float) -> torch.Tensor:
    pre = sharpness * (torch.einsum("...i,oi->...o", x.double(), weight.double()) + bias.double())
    return torch.tanh(pre) if negative else 1 / (1 + torch.exp(-pre))


def gate_cases() -> list[Case]:
    def inputs(name: str, leading: tuple[int, ...] = (2, 5), d_in: int = 4, d_out: int = 3, scale: float = 0.2):
        rng = generator_for(name)
        return (scale * torch.randn(*leading, d_in, generator=rng, dtype=torch.float64),
                torch.randn(d_out, d_in, generator=rng, dtype=torch.float64),
                torch.randn(d_out, generator=rng, dtype=torch.float64))

    def matches(name: str, negative: bool, hints: tuple[str, ...], sharpness: float = 10.0, **sizes: Any) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            x, weight, bias = inputs(name, **sizes)
            kwargs = {} if sharpness == 10.0 else {"sharpness": sharpness}
            got = call_learner(fn, x, weight, bias, negative, **kwargs)
            expect_tensor_close(got, gates64(x, weight, bias, negative, sharpness), "the gates", atol=1e-12, rtol=1e-9)

        return Case(name, run, hints)

    def in_range(negative: bool, low: float) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            x, weight, bias = inputs("range", scale=50.0)
            gates = call_learner(fn, x, weight, bias, negative)
            if not isinstance(gates, torch.Tensor):
                raise CheckFailed(f"expected a tensor, got {type(gates).__name__}")
            if gates.min().item() < low or gates.max().item() > 1:
                raise CheckFailed(f"gates span [{gates.min().item():.3f}, {gates.max().item():.3f}], outside [{low:g}, 1]")
            if gates.min().item() > low + 0.01 or gates.max().item() < 0.99:
                raise CheckFailed(f"large pre-activations should reach both ends of [{low:g}, 1]; "
                                  f"got [{gates.min().item():.3f}, {gates.max().item():.3f}]")

        return run

    def float32(fn: Callable[..., Any]) -> None:
        x, weight, bias = (t.float() for t in inputs("float32"))
        got = call_learner(fn, x, weight, bias, True)
        expect_tensor_close(got, gates64(x, weight, bias, True, 10.0).float(), "the gates", atol=1e-5, rtol=1e-4)

    return [
        matches("negative=True: tanh(10 (W x + b))", True, (
            "The pre-activation is x @ weight.T + bias (or F.linear(x, weight, bias)).",
            "Multiply it by sharpness, then apply torch.tanh when negative is True.",
        )),
        matches("negative=False: sigmoid(10 (W x + b))", False, ("Use torch.sigmoid when negative is False.",)),
        Case("tanh gates reach both -1 and 1", in_range(True, -1.0), ("tanh maps the real line onto (-1, 1).",)),
        Case("sigmoid gates stay in [0, 1]", in_range(False, 0.0), ("The sigmoid maps the real line onto (0, 1).",)),
        matches("sharpness 2.5 scales the pre-activation", True, (
            "Use the sharpness argument instead of the number 10.",
        ), sharpness=2.5),
        matches("any leading shape: (3, 2, 7, d_in)", False, (
            "Work on the last dimension only, whatever comes before it.",
        ), leading=(3, 2, 7)),
        Case("keeps float32 as float32", float32, ("Do not convert the inputs: compute in x's dtype.",)),
    ]


EXERCISES = [
    Exercise("04.answer_loss", train.answer_loss, tuple(loss_cases())),
    Exercise("04.figure1_gates", models.figure1_gates, tuple(gate_cases())),
]
