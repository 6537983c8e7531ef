"""The exercises of Lesson 04 (negative eigenvalues, trained) and the properties ``check()`` tests them on.

Glossary: ``logits`` = the model's answer scores at every position (N, L, n_classes); ``batch`` =
a ``tasks.Batch`` whose ``targets`` hold one answer token per row; ``weight``/``bias`` = W_a/b_a of
the Figure 1 gate. Expected values and gradients come from float64 references written here — the
loss row by row with ``logsumexp``, the gates entry by entry with an overflow-free sigmoid — and
autograd through them, independently of ``lrnn_course.train`` and ``lrnn_course.models``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch

from .. import models, tasks, train
from ..check import (GENERAL, SPECIFIC, Case, CheckFailed, Exercise, call_learner, call_learner_in_place, expect_gradients,
                     expect_tensor_close, expect_unchanged, generator_for, learner_gradients)

POSITIONS = "(N, L, C)"
CONNECTED_HINTS = (
    "Compute with torch operations on the tensors you were given, so that autograd can follow them back to every input.",
    "A float, a numpy value or a tensor made with torch.tensor(...) from one has forgotten where it came from: "
    "training would get no gradient.",
)


def loss64(logits: torch.Tensor, batch: tasks.Batch) -> torch.Tensor:
    """Mean over rows of logsumexp(scores) - scores[answer] at each row's one scored position: a float64 0-d tensor
    that autograd can differentiate with respect to ``logits``."""
    terms = []
    for row in range(logits.shape[0]):
        (position,) = [i for i, target in enumerate(batch.targets[row].tolist()) if target != tasks.IGNORE]
        scores = logits[row, position].double()
        answer = int(batch.targets[row, position]) - batch.answer_offset
        terms.append(torch.logsumexp(scores, dim=0) - scores[answer])
    return torch.stack(terms).mean()


def random_logits(batch: tasks.Batch, name: str) -> torch.Tensor:
    n, length = batch.tokens.shape
    return 3 * torch.randn(n, length, batch.n_classes, generator=generator_for(name), dtype=torch.float64)


def copy_of_batch(batch: tasks.Batch) -> tasks.Batch:
    """The batch with fresh copies of its tensors: what a learner writes into them cannot change the expected values."""
    return dataclasses.replace(batch, tokens=batch.tokens.clone(), targets=batch.targets.clone(), lengths=batch.lengths.clone())


def expect_loss(got: Any, expected: float, rows: int, what: str) -> None:
    if not isinstance(got, torch.Tensor) or got.dim() != 0:
        found = f"shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else type(got).__name__
        raise CheckFailed(f"{what}: expected a single number (a 0-d tensor, the mean over rows), got {found}")
    yours = got.item()
    if not math.isclose(yours, expected, rel_tol=1e-9, abs_tol=1e-12):
        summed = rows > 1 and math.isclose(yours, rows * expected, rel_tol=1e-9)
        why = f" — {rows} times too large: the sum over the {rows} rows, not their mean" if summed else ""
        raise CheckFailed(f"{what}: yours {yours:.6f}, expected {expected:.6f}{why}")


def loss_cases() -> list[Case]:
    def expect_loss_on(fn: Callable[..., Any], logits: torch.Tensor, batch: tasks.Batch, what: str, scored_logits: torch.Tensor | None = None) -> None:
        """The learner's loss on ``logits`` equals the reference on ``scored_logits`` (the same at the answer positions)."""
        expected = loss64(logits if scored_logits is None else scored_logits, batch).item()
        expect_loss(call_learner(fn, logits, copy_of_batch(batch)), expected, logits.shape[0], what)

    def on_task(name: str, make_batch: Callable[[torch.Generator], tasks.Batch], hints: tuple[str, ...]) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            batch = make_batch(generator_for(name))
            expect_loss_on(fn, random_logits(batch, name), batch, "the loss")

        return Case(name, run, hints)

    def ignores_other_positions(fn: Callable[..., Any]) -> None:
        batch = tasks.parity(6, 3, 12, generator_for("other positions"))
        logits = random_logits(batch, "other positions")
        scored = torch.zeros_like(logits, dtype=torch.bool)
        scored[torch.arange(6), batch.answer_positions] = True
        noisy = torch.where(scored, logits, logits + 100 * torch.randn(logits.shape, generator=generator_for("noise"), dtype=torch.float64))
        expect_loss_on(fn, noisy, batch, "the loss after changing every other position", scored_logits=logits)

    def confident(fn: Callable[..., Any]) -> None:
        # A trained model's scores are large: a confidently wrong answer has probability e^-1000, which underflows to 0 even in float64.
        batch = tasks.parity(4, 3, 9, generator_for("confident"))
        logits = random_logits(batch, "confident")
        rows, positions = torch.arange(4), batch.answer_positions
        answers = batch.targets[rows, positions] - batch.answer_offset
        logits[rows, positions] = 0.0
        logits[rows, positions, answers] = torch.tensor([1000.0, -1000.0, 1000.0, -1000.0], dtype=torch.float64)
        expect_loss_on(fn, logits, batch, "the loss with answer scores ±1000")

    def connected(fn: Callable[..., Any]) -> None:
        batch = tasks.parity(5, 3, 9, generator_for("connected"))
        logits = random_logits(batch, "connected").requires_grad_()
        learner_gradients(call_learner(fn, logits, copy_of_batch(batch)), loss64(logits, batch), [logits], ["logits"], ["the loss"])

    def gradient(fn: Callable[..., Any]) -> None:
        batch = tasks.cycle_navigation(5, 3, 9, generator_for("gradient"))
        logits = random_logits(batch, "gradient").requires_grad_()
        got = call_learner(fn, logits, copy_of_batch(batch))
        expect_gradients(got, loss64(logits, batch), [logits], ["logits"], [POSITIONS], ["the loss"])

    def unchanged(fn: Callable[..., Any]) -> None:
        batch = tasks.parity(4, 3, 9, generator_for("unchanged"))
        logits = random_logits(batch, "unchanged")
        inputs = [logits, batch.tokens, batch.targets, batch.lengths]
        originals = [tensor.clone() for tensor in inputs]
        call_learner_in_place(fn, logits, batch)
        expect_unchanged(originals, inputs, ["logits", "batch.tokens", "batch.targets", "batch.lengths"])

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
            "In this task a PAD follows the answer position: the answer is not at lengths - 1; batch.answer_positions knows.",
        )),
        on_task("one row", lambda g: tasks.parity(1, 3, 9, g), ("Nothing may assume N > 1 (no .squeeze()).",)),
        Case("ignores every other position", ignores_other_positions, (
            "Only the answer position carries a target; the other positions must not enter the loss.",
        )),
        Case("confidently wrong answers (score -1000) give a large, finite loss", confident, (
            "log(softmax(...)) is log(0) = -inf once a probability underflows: use F.cross_entropy or log_softmax, "
            "which compute log p without forming p.",
        )),
        Case("connected to logits by autograd", connected, CONNECTED_HINTS, SPECIFIC + 1),
        Case("gradient only at the answer positions", gradient, (
            "Average over rows (F.cross_entropy's default), and keep the result a tensor.",
        )),
        Case("does not modify logits or batch", unchanged, (
            "Compute new tensors (e.g. answers = batch.targets[rows, positions] - batch.answer_offset) instead of "
            "subtracting the offset inside batch.targets: the batch is used again after the loss.",
        )),
    ]


def gates64(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, negative: bool, sharpness: float) -> torch.Tensor:
    """act(sharpness (x Wᵀ + b)) in float64; the sigmoid as e^-|z| fractions, so neither it nor its gradient overflows."""
    pre = sharpness * (torch.einsum("...i,oi->...o", x.double(), weight.double()) + bias.double())
    if negative:
        return torch.tanh(pre)
    decay = torch.exp(-pre.abs())
    return torch.where(pre >= 0, 1 / (1 + decay), decay / (1 + decay))


def gate_cases() -> list[Case]:
    def inputs(name: str, leading: tuple[int, ...] = (2, 5), d_in: int = 4, d_out: int = 3, scale: float = 0.2,
               dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
        rng = generator_for(name)
        return [t.to(dtype) for t in (scale * torch.randn(*leading, d_in, generator=rng, dtype=torch.float64),
                                      torch.randn(d_out, d_in, generator=rng, dtype=torch.float64),
                                      torch.randn(d_out, generator=rng, dtype=torch.float64))]

    def matches(name: str, negative: bool, hints: tuple[str, ...], sharpness: float = 10.0, priority: int = SPECIFIC, **sizes: Any) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            x, weight, bias = inputs(name, **sizes)
            kwargs = {} if sharpness == 10.0 else {"sharpness": sharpness}
            got = call_learner(fn, x, weight, bias, negative, **kwargs)
            expect_tensor_close(got, gates64(x, weight, bias, negative, sharpness), "the gates", atol=1e-12, rtol=1e-9)

        return Case(name, run, hints, priority)

    def in_range(negative: bool, low: float) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            x, weight, bias = inputs("range", scale=50.0)
            gates = call_learner(fn, x, weight, bias, negative)
            if not isinstance(gates, torch.Tensor):
                raise CheckFailed(f"expected a tensor, got {type(gates).__name__}")
            if not bool(gates.isfinite().all()):
                raise CheckFailed(f"the gates hold {gates[~gates.isfinite()][0].item()} at large pre-activations: "
                                  f"exp(|z|) overflows for |z| > 709 in float64 (and > 88 in float32)")
            if gates.min().item() < low or gates.max().item() > 1:
                raise CheckFailed(f"gates span [{gates.min().item():.3f}, {gates.max().item():.3f}], outside [{low:g}, 1]")
            if gates.min().item() > low + 0.01 or gates.max().item() < 0.99:
                raise CheckFailed(f"large pre-activations should reach both ends of [{low:g}, 1]; "
                                  f"got [{gates.min().item():.3f}, {gates.max().item():.3f}]")

        return run

    def gradients(scale: float) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            for negative in (True, False):
                x, weight, bias = (t.requires_grad_() for t in inputs(f"gradients at scale {scale}", scale=scale))
                got = call_learner(fn, x, weight, bias, negative)
                what = f"the {'tanh' if negative else 'sigmoid'} gates"
                expect_gradients(got, gates64(x, weight, bias, negative, 10.0), [x, weight, bias], ["x", "weight", "bias"],
                                 ["(B, T, d_in)", "(d_out, d_in)", "(d_out,)"], [what])

        return run

    def connected(fn: Callable[..., Any]) -> None:
        x, weight, bias = (t.requires_grad_() for t in inputs("connected"))
        got = call_learner(fn, x, weight, bias, True)
        learner_gradients(got, gates64(x, weight, bias, True, 10.0), [x, weight, bias], ["x", "weight", "bias"], ["the gates"])

    def keeps(dtype: torch.dtype, tolerance: float) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            x, weight, bias = inputs(f"keeps {dtype}", dtype=dtype)
            got = call_learner(fn, x, weight, bias, True)
            expect_tensor_close(got, gates64(x, weight, bias, True, 10.0).to(dtype), "the gates", atol=tolerance, rtol=tolerance)

        return run

    return [
        matches("negative=True: tanh(10 (W x + b))", True, (
            "The pre-activation is x @ weight.T + bias (or F.linear(x, weight, bias)).",
            "Multiply it by sharpness, then apply torch.tanh when negative is True.",
        ), priority=GENERAL),
        matches("negative=False: sigmoid(10 (W x + b))", False, ("Use torch.sigmoid when negative is False.",), priority=GENERAL),
        Case("tanh gates reach both -1 and 1", in_range(True, -1.0), (
            "tanh maps the real line onto (-1, 1).",
            "Use torch.tanh: (e^z - e^-z) / (e^z + e^-z) is inf / inf = nan once e^z overflows.",
        )),
        Case("sigmoid gates stay in [0, 1]", in_range(False, 0.0), ("The sigmoid maps the real line onto (0, 1).",)),
        matches("sharpness 2.5 scales the pre-activation", True, (
            "Multiply the pre-activation by the sharpness argument: not by the number 10, and not leaving it out.",
        ), sharpness=2.5),
        matches("any leading shape: (3, 2, 7, d_in)", False, (
            "Work on the last dimension only, whatever comes before it.",
        ), leading=(3, 2, 7)),
        Case("keeps float32 as float32", keeps(torch.float32, 1e-4), ("Do not convert the inputs: compute in x's dtype.",)),
        Case("keeps bfloat16 as bfloat16", keeps(torch.bfloat16, 1e-2), (
            "Do not convert the inputs: compute in x's dtype (no .float() on the way).",
        )),
        Case("connected to x, weight and bias by autograd", connected, CONNECTED_HINTS, SPECIFIC + 1),
        Case("gradients with respect to x, weight and bias match autograd", gradients(0.2), (
            "Training backpropagates through the gates: compute them with torch operations on x, weight and bias.",
        ), GENERAL),
        Case("saturated gates (pre-activations in the thousands) have finite gradients", gradients(50.0), (
            "With sharpness 10 most gates saturate, and their gradient must be 0, not nan.",
            "1 / (1 + torch.exp(-z)) has a nan gradient once exp(-z) overflows (z < -709 in float64, z < -88 in float32): "
            "use torch.sigmoid and torch.tanh, which stay finite.",
        )),
    ]


EXERCISES = [
    Exercise("04.answer_loss", train.answer_loss, tuple(loss_cases())),
    Exercise("04.figure1_gates", models.figure1_gates, tuple(gate_cases())),
]
