"""The exercises of Lesson 04 (negative eigenvalues, trained) and the properties ``check()`` tests them on.

Glossary: ``logits`` = the model's answer scores at every position (N, L, n_classes); ``batch`` =
a ``tasks.Batch`` whose ``targets`` hold one answer token per row; ``weight``/``bias`` = W_a/b_a of
the Figure 1 gate. Expected values and gradients come from float64 references written here — the
loss row by row with ``logsumexp``, the gates entry by entry with an overflow-free sigmoid — and
autograd through them, independently of ``lrnn_course.train`` and ``lrnn_course.models``.

Rows that name one mistake compare the learner's function with itself where they can: its gates at
sharpness 2.5 with its own gates for W/4 and b/4 at sharpness 10, its loss on a batch with its own
loss when the answers are written from another token, and so on. A function wrong in some other way
passes them (the rows that compare with the reference say what is wrong), so the row the report
explains is the one about the mistake made. ``expect_float64_precision`` and ``precision_case``
serve Lessons 05 and 06 too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch

from .. import models, tasks, train
from ..checker import (
    GENERAL,
    SPECIFIC,
    Case,
    CheckFailed,
    Exercise,
    call_learner,
    call_learner_in_place,
    expect_float64_precision,
    expect_gradients,
    expect_tensor_close,
    expect_unchanged,
    generator_for,
    learner_gradients,
    precision_case,
    shown_apart,
)

POSITIONS = "(N, L, C)"
GATES = "(B, T, d_out)"
CONNECTED_HINTS = (
    "Compute with torch operations on the tensors you were given, so that autograd can follow them back to every "
    "input.",
    "A float, a numpy value or a tensor made with torch.tensor(...) from one has forgotten where it came from: "
    "training would get no gradient.",
)


def expect_follows(got: Any, own: Any, what: str, dims: str = "", tolerance: float = 1e-4) -> None:
    """``got`` equals ``own``, the learner's own result for an input that must give the same answer. Results that are
    not tensors of one shape are the value rows' mistake, not this comparison's. The tolerance allows a float32
    computation: the mistakes such a row names are off by far more."""
    if isinstance(got, torch.Tensor) and isinstance(own, torch.Tensor) and got.shape == own.shape:
        expect_tensor_close(got, own.detach(), what, dims, atol=tolerance, rtol=tolerance)


def connected_gradients(
    got: Any, reference: torch.Tensor, leaves: list[torch.Tensor], names: list[str], what: str
) -> tuple[Any, ...]:
    """``learner_gradients`` (the learner's half) for a row about autograd alone: a result of another shape is summed
    first, since its shape is the value rows' mistake, and whether autograd reaches every input shows all the same."""
    if isinstance(got, torch.Tensor) and got.shape != reference.shape:
        got, reference = got.sum(), reference.sum()
    return learner_gradients([got], [reference], leaves, names, [what])[
        0
    ]  # a list returned is one wrong result, not parts


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


TARGET_HINTS = (
    "A class index outside 0 .. n_classes - 1 reached the loss. The class of an answer is its target token minus "
    "batch.answer_offset, taken at the scored positions only (batch.answer_positions): everywhere else the target "
    "is -1.",
    "Subtracting the offset from every target also moves those -1 to -1 - answer_offset, which ignore_index=-1 no "
    "longer skips: pick the scored positions first, or mark the others with torch.where before subtracting.",
)


def learner_loss(fn: Callable[..., Any], logits: torch.Tensor, batch: tasks.Batch) -> Any:
    """The learner's loss on copies of ``logits`` and ``batch``; a class index out of range gets hints of its own."""
    try:
        return call_learner(fn, logits, batch)
    except CheckFailed as failure:
        if "out of bounds" in str(failure):
            raise CheckFailed(str(failure), TARGET_HINTS) from None
        raise


def loss_value(got: Any, what: str) -> float:
    """The number a learner's loss holds, once it is a 0-d tensor."""
    if not isinstance(got, torch.Tensor) or got.dim() != 0:
        found = f"shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else type(got).__name__
        raise CheckFailed(f"{what}: expected a single number (a 0-d tensor, the mean over rows), got {found}")
    return got.item()


def loss_values(*losses: Any) -> list[float] | None:
    """The numbers the learner's losses hold, or None unless each is a 0-d tensor: then the value rows name the mistake,
    and a row that compares the learner's losses with each other has nothing to compare."""
    if all(isinstance(loss, torch.Tensor) and loss.dim() == 0 for loss in losses):
        return [loss.item() for loss in losses]
    return None


def differing_losses(
    fn: Callable[..., Any], first: tuple[torch.Tensor, tasks.Batch], second: tuple[torch.Tensor, tasks.Batch]
) -> tuple[float, float] | None:
    """The learner's losses on two inputs that must give the same loss, when they differ; None when they agree, or when
    either is not a single number (the value rows name that mistake)."""
    values = loss_values(learner_loss(fn, *first), learner_loss(fn, *second))
    return None if values is None or same_loss(*values) else (values[0], values[1])


def same_loss(yours: float, expected: float) -> bool:
    return math.isclose(yours, expected, rel_tol=1e-9, abs_tol=1e-12)


def expect_loss(got: Any, expected: float, rows: int, what: str) -> None:
    expect_loss_value(loss_value(got, what), expected, rows, what)


def expect_loss_value(yours: float, expected: float, rows: int, what: str) -> None:
    """The learner's loss ``yours`` is ``expected``; a sum over the rows, or a mean over more terms than rows, is
    named."""
    if same_loss(yours, expected):
        return
    why = ""
    if rows > 1 and math.isclose(yours, rows * expected, rel_tol=1e-9):
        why = f" — {rows} times too large: the sum over the {rows} rows, not their mean"
    elif (
        yours > 0
        and round(expected / yours) >= 2
        and math.isclose(round(expected / yours) * yours, expected, rel_tol=1e-9)
    ):
        times = round(expected / yours)
        why = f" — {times} times too small: a mean over {times} times as many terms as there are rows (every position?)"
    shown = shown_apart(yours, expected)
    raise CheckFailed(f"{what}: yours {shown[0]}, expected {shown[1]}{why}")


def loss_cases() -> list[Case]:
    def on_task(name: str, make_batch: Callable[[torch.Generator], tasks.Batch], hints: tuple[str, ...]) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            batch = make_batch(generator_for(name))
            logits = random_logits(batch, name)
            expect_loss(learner_loss(fn, logits, batch), loss64(logits, batch).item(), logits.shape[0], "the loss")

        return Case(name, run, hints, GENERAL)

    def follows_the_offset(fn: Callable[..., Any]) -> None:
        # The same answers written from token 0 (answer_offset 0): a loss that subtracts batch.answer_offset cannot tell
        # the two batches apart, whatever else it gets wrong.
        batch = tasks.cycle_navigation(8, 3, 15, generator_for("answers from token 4"))
        logits = random_logits(batch, "answers from token 4")
        classes = torch.where(batch.targets == tasks.IGNORE, batch.targets, batch.targets - batch.answer_offset)
        rewritten = dataclasses.replace(batch, targets=classes, answer_offset=0)
        differing = differing_losses(fn, (logits, batch), (logits, rewritten))
        if differing:
            given, other = differing
            raise CheckFailed(
                f"your loss is {given:.6f} for answers written from token {batch.answer_offset} and {other:.6f} "
                "for the same answers written from token 0 (targets lowered by 4, answer_offset 0): the class "
                "of an answer is its token minus batch.answer_offset"
            )

    def ignores_other_positions(fn: Callable[..., Any]) -> None:
        batch = tasks.parity(6, 3, 12, generator_for("other positions"))
        logits = random_logits(batch, "other positions")
        scored = torch.zeros_like(logits, dtype=torch.bool)
        scored[torch.arange(6), batch.answer_positions] = True
        noisy = torch.where(
            scored,
            logits,
            logits + 100 * torch.randn(logits.shape, generator=generator_for("noise"), dtype=torch.float64),
        )
        differing = differing_losses(fn, (logits, batch), (noisy, batch))
        if differing:
            before, after = differing
            raise CheckFailed(
                f"your loss goes from {before:.6f} to {after:.6f} when only the scores at the positions without "
                "a target change: it reads other positions than each row's answer position"
            )

    def confident(fn: Callable[..., Any]) -> None:
        # A trained model's scores are large: a confidently wrong answer has probability e^-1000, which underflows to 0
        # even in float64. The values are compared only when the loss is right at scores ±5: otherwise the value rows
        # name the mistake.
        batch = tasks.parity(4, 3, 9, generator_for("confident"))
        logits = random_logits(batch, "confident")
        rows, positions = torch.arange(4), batch.answer_positions
        answers = batch.targets[rows, positions] - batch.answer_offset
        logits[rows, positions] = 0.0
        signs = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
        logits[rows, positions, answers] = 1000 * signs
        moderate = logits.clone()
        moderate[rows, positions, answers] = 5 * signs
        values = loss_values(learner_loss(fn, logits, batch), learner_loss(fn, moderate, batch))
        if values is None:
            return
        what, expected = "the loss with answer scores ±1000", loss64(logits, batch).item()
        if not math.isfinite(values[0]):
            raise CheckFailed(f"{what}: yours {values[0]}, expected {expected:.6f}")
        if same_loss(values[1], loss64(moderate, batch).item()):
            expect_loss_value(values[0], expected, 4, what)

    def precision(fn: Callable[..., Any]) -> None:
        batch = tasks.parity(8, 3, 15, generator_for("precision"))
        logits = random_logits(batch, "precision")
        expect_float64_precision(learner_loss(fn, logits, batch), loss64(logits, batch), "the loss")

    def connected(fn: Callable[..., Any]) -> None:
        batch = tasks.parity(5, 3, 9, generator_for("connected"))
        logits = random_logits(batch, "connected").requires_grad_()
        connected_gradients(learner_loss(fn, logits, batch), loss64(logits, batch), [logits], ["logits"], "the loss")

    def gradient(fn: Callable[..., Any]) -> None:
        batch = tasks.cycle_navigation(5, 3, 9, generator_for("gradient"))
        logits = random_logits(batch, "gradient").requires_grad_()
        expect_gradients(
            learner_loss(fn, logits, batch), loss64(logits, batch), [logits], ["logits"], [POSITIONS], ["the loss"]
        )

    def unchanged(fn: Callable[..., Any]) -> None:
        batch = tasks.parity(4, 3, 9, generator_for("unchanged"))
        logits = random_logits(batch, "unchanged")
        inputs = [logits, batch.tokens, batch.targets, batch.lengths]
        originals = [tensor.clone() for tensor in inputs]
        call_learner_in_place(fn, logits, batch)
        expect_unchanged(originals, inputs, ["logits", "batch.tokens", "batch.targets", "batch.lengths"])

    return [
        on_task(
            "parity: cross-entropy at the answer position",
            lambda g: tasks.parity(8, 3, 15, g),
            (
                "Each row has one scored position: where batch.targets is not -1 (batch.answer_positions gives it).",
                "Pick logits[rows, positions] (shape (N, C)) and the answers targets[rows, positions] - "
                "batch.answer_offset, then F.cross_entropy, which takes the raw scores (it applies log_softmax "
                "itself) and averages over rows.",
            ),
        ),
        Case(
            "cycle navigation: 5 answers from token 4",
            follows_the_offset,
            (
                "Class k is the answer token batch.answer_offset + k: subtract the offset from the target token "
                "(it is 4 here, 1 in parity, 0 in the brackets task).",
            ),
        ),
        on_task(
            "brackets task: answers from token 0",
            lambda g: tasks.modular_arithmetic_with_brackets(8, 5, 15, g),
            (
                "In this task a PAD follows the answer position: the answer is not at lengths - 1; "
                "batch.answer_positions knows.",
                "Use batch.answer_offset rather than a number that fits parity only.",
            ),
        ),
        on_task("one row", lambda g: tasks.parity(1, 3, 9, g), ("Nothing may assume N > 1 (no .squeeze()).",)),
        Case(
            "ignores every other position",
            ignores_other_positions,
            (
                "Only the answer position carries a target; the other positions must not enter the loss. It is not "
                "always the last column, nor lengths - 1: batch.answer_positions gives it.",
                "softmax and log_softmax go over the classes, the last dimension (dim=-1), not over the positions.",
            ),
        ),
        Case(
            "confidently wrong answers (score -1000) give a large, finite loss",
            confident,
            (
                "log(softmax(...)) is log(0) = -inf once a probability underflows: use F.cross_entropy or log_softmax, "
                "which compute log p without forming p.",
            ),
        ),
        Case("connected to logits by autograd", connected, CONNECTED_HINTS, SPECIFIC + 1),
        precision_case("float64 logits give a float64 loss, to float64's precision", precision),
        Case(
            "gradient only at the answer positions",
            gradient,
            ("Average over rows (F.cross_entropy's default), and keep the result a tensor.",),
            GENERAL,
        ),
        Case(
            "does not modify logits or batch",
            unchanged,
            (
                "Compute new tensors (e.g. answers = batch.targets[rows, positions] - batch.answer_offset) instead of "
                "subtracting the offset inside batch.targets: the batch is used again after the loss.",
            ),
        ),
    ]


def gates64(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, negative: bool, sharpness: float
) -> torch.Tensor:
    """act(sharpness (x Wᵀ + b)) in float64; the sigmoid as e^-|z| fractions, so neither it nor its gradient
    overflows."""
    pre = sharpness * (torch.einsum("...i,oi->...o", x.double(), weight.double()) + bias.double())
    if negative:
        return torch.tanh(pre)
    decay = torch.exp(-pre.abs())
    return torch.where(pre >= 0, 1 / (1 + decay), decay / (1 + decay))


def gate_cases() -> list[Case]:
    def inputs(
        name: str,
        leading: tuple[int, ...] = (2, 5),
        d_in: int = 4,
        d_out: int = 3,
        scale: float = 0.2,
        dtype: torch.dtype = torch.float64,
    ) -> list[torch.Tensor]:
        rng = generator_for(name)
        return [
            t.to(dtype)
            for t in (
                scale * torch.randn(*leading, d_in, generator=rng, dtype=torch.float64),
                torch.randn(d_out, d_in, generator=rng, dtype=torch.float64),
                torch.randn(d_out, generator=rng, dtype=torch.float64),
            )
        ]

    def matches(name: str, negative: bool, hints: tuple[str, ...]) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            x, weight, bias = inputs(name)
            got = call_learner(fn, x, weight, bias, negative)
            expect_tensor_close(
                got, gates64(x, weight, bias, negative, 10.0), "the gates", GATES, atol=1e-12, rtol=1e-9
            )

        return Case(name, run, hints, GENERAL)

    def in_range(negative: bool, low: float) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            x, weight, bias = inputs("range", scale=50.0)
            gates = call_learner(fn, x, weight, bias, negative)
            if not isinstance(gates, torch.Tensor):
                raise CheckFailed(f"expected a tensor, got {type(gates).__name__}")
            if not bool(gates.isfinite().all()):
                raise CheckFailed(
                    f"the gates hold {gates[~gates.isfinite()][0].item()} at large pre-activations: "
                    f"exp(|z|) overflows for |z| > 709 in float64 (and > 88 in float32)"
                )
            if gates.min().item() < low or gates.max().item() > 1:
                raise CheckFailed(
                    f"gates span [{gates.min().item():.3f}, {gates.max().item():.3f}], outside [{low:g}, 1]"
                )
            if gates.min().item() > low + 0.01 or gates.max().item() < 0.99:
                raise CheckFailed(
                    f"large pre-activations should reach both ends of [{low:g}, 1]; "
                    f"got [{gates.min().item():.3f}, {gates.max().item():.3f}]"
                )

        return run

    def sharpness(fn: Callable[..., Any]) -> None:
        # act(2.5 (x Wᵀ + b)) = act(10 (x (W/4)ᵀ + b/4)): at sharpness 2.5 the learner's gates must be its own gates for
        # W/4 and b/4 at sharpness 10, in both branches, whatever else it gets wrong.
        x, weight, bias = inputs("sharpness")
        for negative in (True, False):
            got = call_learner(fn, x, weight, bias, negative, sharpness=2.5)
            own = call_learner(fn, x, weight / 4, bias / 4, negative, sharpness=10.0)
            expect_follows(
                got,
                own,
                f"negative={negative}: your gates at sharpness 2.5 against your own gates for weight / 4 "
                "and bias / 4 at sharpness 10 (the same pre-activation 2.5 (x Wᵀ + b))",
                GATES,
            )

    def any_leading_shape(fn: Callable[..., Any]) -> None:
        # Each gate depends on its own vector x[..., :] alone: for x of any leading shape the gates must be the
        # learner's own gates of the same vectors stacked as an (N, d_in) matrix. A function that raises whatever the
        # shape raises here as in every row (the first shape is the other rows'); one that raises for some shapes only
        # is this row's.
        three, weight, bias = inputs("any leading shape")
        four = inputs("any leading shape, four dimensions", leading=(3, 2, 7))[0]
        d_in, d_out = weight.shape[1], weight.shape[0]
        shapes = (three, three.reshape(-1, d_in), four, four.reshape(-1, d_in))
        results: list[Any] = []
        for x in shapes:
            try:
                results.append(call_learner(fn, x, weight, bias, False))
            except CheckFailed as failure:
                results.append(failure)
        failures = [(x, result) for x, result in zip(shapes, results) if isinstance(result, CheckFailed)]
        if len(failures) == len(shapes):
            raise failures[0][1]
        if failures:
            works = next(tuple(x.shape) for x, result in zip(shapes, results) if not isinstance(result, CheckFailed))
            x, failure = failures[0]
            raise CheckFailed(
                f"for x of shape {tuple(x.shape)} your function {failure}; for x of shape {works} it runs"
            )
        for x, got, flat in ((three, results[0], results[1]), (four, results[2], results[3])):
            if not isinstance(flat, torch.Tensor) or flat.shape != (x.shape[:-1].numel(), d_out):
                continue  # wrong for a matrix of vectors too: the value rows say how
            if not isinstance(got, torch.Tensor) or got.shape != (*x.shape[:-1], d_out):
                found = f"shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else f"a {type(got).__name__}"
                raise CheckFailed(
                    f"for x of shape {tuple(x.shape)} your gates have {found}, expected {(*x.shape[:-1], d_out)}: "
                    "the leading dimensions stay, d_in becomes d_out"
                )
            expect_follows(
                got,
                flat.reshape(got.shape),
                f"your gates for x of shape {tuple(x.shape)} against your own gates "
                f"of the same vectors as a ({flat.shape[0]}, d_in) matrix",
                GATES,
            )

    def keeps(dtype: torch.dtype, tolerance: float) -> Callable[[Callable[..., Any]], None]:
        # Against the learner's own float64 gates for the same inputs: only the dtype differs.
        def run(fn: Callable[..., Any]) -> None:
            x, weight, bias = inputs(f"keeps {dtype}", dtype=dtype)
            got = call_learner(fn, x, weight, bias, True)
            own = call_learner(fn, x.double(), weight.double(), bias.double(), True)
            expect_follows(
                got,
                own.to(dtype) if isinstance(own, torch.Tensor) else own,
                f"the gates for {dtype} inputs against your own gates for the same inputs in float64",
                GATES,
                tolerance,
            )

        return run

    def precision(fn: Callable[..., Any]) -> None:
        x, weight, bias = inputs("precision")
        for negative in (True, False):
            expect_float64_precision(
                call_learner(fn, x, weight, bias, negative),
                gates64(x, weight, bias, negative, 10.0),
                "the gates",
                GATES,
            )

    def gradients(fn: Callable[..., Any]) -> None:
        for negative in (True, False):
            x, weight, bias = (t.requires_grad_() for t in inputs("gradients at scale 0.2"))
            got = call_learner(fn, x, weight, bias, negative)
            what = f"the {'tanh' if negative else 'sigmoid'} gates"
            expect_gradients(
                got,
                gates64(x, weight, bias, negative, 10.0),
                [x, weight, bias],
                ["x", "weight", "bias"],
                ["(B, T, d_in)", "(d_out, d_in)", "(d_out,)"],
                [what],
            )

    def finite_gradients(fn: Callable[..., Any]) -> None:
        # Finite, and nothing more: their values are the gradient row's, at pre-activations where nothing saturates.
        for negative in (True, False):
            x, weight, bias = (t.requires_grad_() for t in inputs("gradients at scale 50.0", scale=50.0))
            what = f"the {'tanh' if negative else 'sigmoid'} gates"
            yours = connected_gradients(
                call_learner(fn, x, weight, bias, negative),
                gates64(x, weight, bias, negative, 10.0),
                [x, weight, bias],
                ["x", "weight", "bias"],
                what,
            )
            for name, gradient in zip(("x", "weight", "bias"), yours):
                if gradient is not None and not bool(gradient.isfinite().all()):
                    index = [int(i) for i in (~gradient.isfinite()).nonzero()[0]]
                    raise CheckFailed(
                        f"the gradient of {what} with respect to {name} holds a non-finite value at {index}: "
                        f"{gradient[tuple(index)].item():g}"
                    )

    def connected(fn: Callable[..., Any]) -> None:
        x, weight, bias = (t.requires_grad_() for t in inputs("connected"))
        got = call_learner(fn, x, weight, bias, True)
        connected_gradients(
            got, gates64(x, weight, bias, True, 10.0), [x, weight, bias], ["x", "weight", "bias"], "the gates"
        )

    return [
        matches(
            "negative=True: tanh(10 (W x + b))",
            True,
            (
                "The pre-activation is x @ weight.T + bias (or F.linear(x, weight, bias)).",
                "Multiply it by sharpness, then apply torch.tanh when negative is True. Beware: 2·sigmoid(z) - 1 is "
                "tanh(z / 2), not tanh(z).",
            ),
        ),
        matches("negative=False: sigmoid(10 (W x + b))", False, ("Use torch.sigmoid when negative is False.",)),
        Case(
            "tanh gates reach both -1 and 1",
            in_range(True, -1.0),
            (
                "tanh maps the real line onto (-1, 1).",
                "Use torch.tanh: (e^z - e^-z) / (e^z + e^-z) is inf / inf = nan once e^z overflows.",
            ),
        ),
        Case("sigmoid gates stay in [0, 1]", in_range(False, 0.0), ("The sigmoid maps the real line onto (0, 1).",)),
        Case(
            "sharpness 2.5 scales the pre-activation",
            sharpness,
            (
                "Multiply the whole pre-activation x Wᵀ + b by the sharpness argument, in both branches: not by the "
                "number 10, not by int(sharpness), and not the product x Wᵀ alone.",
            ),
        ),
        Case(
            "any leading shape: (N, d_in), (B, T, d_in), (3, 2, 7, d_in)",
            any_leading_shape,
            (
                "Work on the last dimension only, whatever comes before it: x @ weight.T (or F.linear) does, a "
                "reshape to x.shape[0] rows or an einsum with fixed letters for the leading dimensions does not.",
            ),
            SPECIFIC + 1,
        ),
        Case(
            "keeps float32 as float32",
            keeps(torch.float32, 1e-4),
            ("Do not convert the inputs: compute in x's dtype.",),
        ),
        Case(
            "keeps bfloat16 as bfloat16",
            keeps(torch.bfloat16, 1e-2),
            ("Do not convert the inputs: compute in x's dtype (no .float() on the way).",),
        ),
        Case("connected to x, weight and bias by autograd", connected, CONNECTED_HINTS, SPECIFIC + 1),
        precision_case("float64 inputs give float64 gates, to float64's precision", precision),
        Case(
            "gradients with respect to x, weight and bias match autograd",
            gradients,
            ("Training backpropagates through the gates: compute them with torch operations on x, weight and bias.",),
            GENERAL,
        ),
        Case(
            "saturated gates (pre-activations in the thousands) have finite gradients",
            finite_gradients,
            (
                "With sharpness 10 most gates saturate, and their gradient must be 0, not nan.",
                "1 / (1 + torch.exp(-z)) has a nan gradient once exp(-z) overflows (z < -709 in float64, z < -88 in "
                "float32): use torch.sigmoid and torch.tanh, which stay finite.",
            ),
        ),
    ]


EXERCISES = [
    Exercise("04.answer_loss", train.answer_loss, tuple(loss_cases())),
    Exercise("04.figure1_gates", models.figure1_gates, tuple(gate_cases())),
]
