"""The exercises of Lesson 08 (the state-tracking lab) and the properties ``check()`` tests them on.

Glossary: a permutation σ is the list (σ(0), …, σ(n-1)); "a, then b" sends i to b(a(i)); a word is
a row of element indices, and positions t in messages count from 0; -1 marks a position that is not
scored. Expected prefix products come from following every point through the word (no Cayley
table); expected matrices are written out from σ here (P e_i = e_σ(i)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import automata, groups
from ..check import GENERAL, Case, CheckFailed, Exercise, call_learner, call_learner_in_place, expect_tensor_close, expect_unchanged, generator_for
from .lesson07 import expected_matrix


def followed(elements: tuple[tuple[int, ...], ...], words: torch.Tensor) -> torch.Tensor:
    """Prefix products as element indices, by tracking where every point goes."""
    index = {element: position for position, element in enumerate(elements)}
    rows = []
    for word in words.tolist():
        where, row = list(range(len(elements[0]))), []
        for letter in word:
            where = [elements[letter][point] for point in where]
            row.append(index[tuple(where)])
        rows.append(row)
    return torch.tensor(rows, dtype=torch.long)


def expect_long(got: Any, shape: tuple[int, ...], what: str) -> torch.Tensor:
    if not isinstance(got, torch.Tensor) or got.dtype != torch.long or tuple(got.shape) != shape:
        found = f"{got.dtype} tensor of shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else type(got).__name__
        raise CheckFailed(f"expected {what} as a LongTensor of shape {shape}, got {found}")
    return got


def expect_products(fn: Callable[..., Any], name: str, words: torch.Tensor) -> None:
    group = groups.group(name)
    got = expect_long(call_learner(fn, group.table, words), tuple(words.shape), "the prefix products")
    expected = followed(group.elements, words)
    wrong = (got != expected).nonzero()
    if len(wrong):
        row, t = wrong[0].tolist()
        raise CheckFailed(f"{name}, word {row}, position t = {t} (0-based): got element {int(got[row, t])}, expected {int(expected[row, t])} "
                          f"({group.elements[int(expected[row, t])]})")


def prefix_product_cases() -> list[Case]:
    def by_hand(fn: Callable[..., Any]) -> None:
        expect_products(fn, "S3", torch.tensor([[1, 2, 2]]))

    def identity_letters(fn: Callable[..., Any]) -> None:
        expect_products(fn, "S3", torch.tensor([[1, 0, 0, 0], [0, 0, 3, 0]]))

    def order_matters(fn: Callable[..., Any]) -> None:
        expect_products(fn, "S3", torch.tensor([[1, 2], [2, 1]]))

    def random_words(name: str) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            group = groups.group(name)
            expect_products(fn, name, torch.randint(group.order, (8, 40), generator=generator_for(name)))

        return run

    def unchanged(fn: Callable[..., Any]) -> None:
        table = groups.group("S3").table
        words = torch.randint(6, (3, 5), generator=generator_for("unchanged"))
        originals = [table.clone(), words.clone()]
        call_learner_in_place(fn, table, words)
        expect_unchanged(originals, [table, words], ["table", "words"])

    return [
        Case("S3 by hand: 1, 2, 2 -> 1, 3, 1", by_hand, (
            "y_1 = x_1 and y_t = table[y_{t-1}, x_t]: the state so far, then the new letter.",
            "Start from the identity, index 0: state = torch.zeros(N, dtype=torch.long); loop over t.",
        ), GENERAL),
        Case("the identity (0) keeps the product: 1, 0, 0, 0 -> 1, 1, 1, 1", identity_letters, (
            "y_t is the product of every letter so far, x_t included: carry a state from one t to the next, and store it "
            "after multiplying by x_t.",
            "state = table[state, words[:, t]]; products[:, t] = state.",
        )),
        Case("the order matters: (1 then 2) is not (2 then 1)", order_matters, (
            "table[a, b] is 'a, then b'; the running product goes first: table[state, words[:, t]].",
        )),
        Case("random words in S4", random_words("S4"), ("Index the table with two LongTensors at once: table[state, letters].",), GENERAL),
        Case("random words in A4 × Z5", random_words("A4_x_Z5"), ("Nothing depends on the group: only the table.",), GENERAL),
        Case("does not modify its inputs", unchanged, ("Fill a new tensor, e.g. torch.empty_like(words).",)),
    ]


def transition_cases() -> list[Case]:
    def transitions_of(fn: Callable[..., Any], name: str, *dtype: torch.dtype) -> torch.Tensor:
        """The learner's transitions for the elements of ``name``, a float tensor of the right shape, in the dtype asked for if any."""
        elements = groups.group(name).elements
        got = call_learner(fn, elements, *dtype)
        shape = (len(elements), len(elements[0]), len(elements[0]))
        if not isinstance(got, torch.Tensor) or not got.dtype.is_floating_point or tuple(got.shape) != shape:
            raise CheckFailed(f"expected a floating-point tensor of shape {shape}, got {got!r:.200}")
        if dtype and got.dtype != dtype[0]:
            raise CheckFailed(f"expected a {dtype[0]} tensor (the dtype asked for), got {got.dtype}")
        return got

    def matches(name: str, *dtype: torch.dtype) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            got = transitions_of(fn, name, *dtype)
            expected = torch.stack([expected_matrix(list(element)) for element in groups.group(name).elements])
            expect_tensor_close(got.double(), expected, f"the transitions of {name}", "(letter, row, column)", atol=0.0)

        return run

    def default_dtype(fn: Callable[..., Any]) -> None:
        got = transitions_of(fn, "S3")
        if got.dtype != torch.float32:
            raise CheckFailed(f"called without a dtype, expected torch.float32 (the default), got {got.dtype}")

    def runs_the_automaton(fn: Callable[..., Any]) -> None:
        group = groups.group("S3")
        transitions = call_learner(fn, group.elements)
        words = torch.randint(6, (20, 300), generator=generator_for("automaton"))
        initial = torch.arange(1, 4, dtype=torch.float32)
        states = automata.linear_rnn(transitions.float(), torch.zeros(6, 3), initial, words)
        read = automata.GroupAutomaton(group).read(states)
        expected = followed(group.elements, words)
        if not torch.equal(read, expected):
            row, t = (read != expected).nonzero()[0].tolist()
            raise CheckFailed(f"running H_t = A(x_t) H_(t-1) from H_0 = (1, 2, 3): word {row} goes wrong at t = {t} (0-based)")

    return [
        Case("the 6 elements of S3", matches("S3"), (
            "householder.permutation_reflections(σ) gives the keys; householder.product_of_reflections(keys, n) multiplies them.",
            "Stack one matrix per permutation with torch.stack, then .to(dtype).",
        )),
        Case("all 24 elements of S4", matches("S4"), ("The identity has no reflection: product_of_reflections([], n) is I.",)),
        Case("the 5 rotations of Z5 (a 5-cycle is 4 swaps)", matches("Z5"), ("A cycle of length L is L - 1 swaps.",)),
        Case("float32 unless a dtype is given", default_dtype, ("The signature's default, dtype=torch.float32, is the dtype to return.",)),
        Case("exact in float16 (swap reflections are 0s and ±1s)", matches("S4", torch.float16), ("Convert at the end with .to(dtype).",)),
        Case("the group automaton of S3 runs 300 steps without an error", runs_the_automaton, (
            "P e_i = e_σ(i): column i has its 1 in row σ(i).",
        )),
    ]


def expect_accuracy(got: Any, expected: torch.Tensor, what: str, atol: float = 1e-6) -> None:
    """The accuracy is compared like any tensor, after a dtype check that names the fix (the inputs are integers)."""
    if isinstance(got, torch.Tensor) and got.dtype != torch.float32:
        raise CheckFailed(f"{what} has dtype {got.dtype}, expected torch.float32: a mean of 0s and 1s, e.g. x.float().mean(dim=0)")
    expect_tensor_close(got, expected, what, "(T)", atol=atol)


def accuracy_cases() -> list[Case]:
    def scored(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The cumulative sequence accuracy counted row by row and prefix by prefix, in Python."""
        rows, steps = targets.shape
        right = [[p == y or y == -1 for p, y in zip(row_p, row_y)] for row_p, row_y in zip(predictions.tolist(), targets.tolist())]
        return torch.tensor([sum(all(row[: t + 1]) for row in right) / rows for t in range(steps)])

    def compared(what: str, prediction_rows: list[list[int]], target_rows: list[list[int]]) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            predictions, targets = torch.tensor(prediction_rows), torch.tensor(target_rows)
            expect_accuracy(call_learner(fn, predictions, targets), scored(predictions, targets), what)

        return run

    def all_right(fn: Callable[..., Any]) -> None:
        targets = torch.randint(5, (4, 7), generator=generator_for("all right"))
        expect_accuracy(call_learner(fn, targets.clone(), targets), torch.ones(7), "the accuracy of perfect predictions", atol=0.0)

    def padded_batch(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """50 rows of 12 targets, padded (-1) after a random length, and predictions right 90 % of the time (anything at padding)."""
        generator = generator_for(name)
        targets = torch.randint(3, (50, 12), generator=generator)
        targets[torch.arange(12) >= torch.randint(1, 13, (50, 1), generator=generator)] = -1
        guesses = torch.randint(3, (50, 12), generator=generator)
        return torch.where(torch.rand(50, 12, generator=generator) < 0.9, targets.clamp(min=0), guesses), targets

    def random_batch(fn: Callable[..., Any]) -> None:
        predictions, targets = padded_batch("random batch")
        expect_accuracy(call_learner(fn, predictions, targets), scored(predictions, targets),
                        "the cumulative sequence accuracy of a random batch")

    def unchanged(fn: Callable[..., Any]) -> None:
        predictions, targets = padded_batch("unchanged")
        originals = [predictions.clone(), targets.clone()]
        call_learner_in_place(fn, predictions, targets)
        expect_unchanged(originals, [predictions, targets], ["predictions", "targets"])

    return [
        Case("by hand: one row wrong at t = 1, one at t = 3 (0-based)", compared(
            "the cumulative sequence accuracy", [[1, 2, 3, 4], [1, 0, 3, 4], [1, 2, 3, 0]], [[1, 2, 3, 4]] * 3), (
            "right = predictions == targets; a row counts at t only if it is right at 0 … t.",
            "right.long().cumprod(dim=1) is 1 up to the first mistake and 0 after; average over rows.",
        ), GENERAL),
        Case("all right: 1 at every position", all_right, ("Return a float32 tensor of shape (T,), not a Python list.",)),
        # Row 0 goes wrong at its first position, row 1 just before its padding: padding marked right after the
        # cumprod would revive row 1, so this row is red for a mask applied too late. Both rows are wrong from
        # t = 1 on, so leaving padded rows out of the average (the next row's mistake) changes nothing here.
        Case("a sequence never recovers from a mistake", compared(
            "the accuracy with a mistake at t = 0 in row 0, and at t = 1 just before padding in row 1",
            [[0, 2, 3, 4], [1, 0, 5, 5]], [[1, 2, 3, 4], [1, 2, -1, -1]]), (
            "The fraction at t can only go down as t grows: a row wrong at t is wrong at every later position, padding or not.",
            "Mark the padding right before the cumprod, not after it: a 1 written in afterwards revives a row that already failed.",
        )),
        # Padding at the end of row 0 under predictions 0 and 7 (comparing with targets.clamp(min=0) gets the 7 wrong),
        # and padding in the middle of rows 1 and 2, followed by right predictions, then in row 2 by a mistake.
        Case("positions with target -1 count as right", compared(
            "the accuracy with padding (-1) at the end of row 0 and at t = 1 in rows 1 and 2",
            [[1, 2, 0, 7], [1, 5, 3, 4], [1, 5, 3, 0], [1, 2, 3, 0]], [[1, 2, -1, -1], [1, -1, 3, 4], [1, -1, 3, 4], [1, 2, 3, 4]]), (
            "A target of -1 means 'not scored', wherever it is: the position counts as right whatever was predicted there.",
            "right = (predictions == targets) | (targets == -1), before the cumprod; divide by the number of rows, N.",
        )),
        Case("a random batch of 50 padded rows", random_batch, ("Return a float32 tensor of shape (T,).",), GENERAL),
        Case("does not modify its inputs", unchanged, (
            "Compute a new boolean tensor from predictions and targets instead of writing into them (e.g. at the padding).",
        )),
    ]


EXERCISES = [
    Exercise("08.prefix_products", groups.prefix_products, tuple(prefix_product_cases())),
    Exercise("08.transition_matrices", automata.transition_matrices, tuple(transition_cases())),
    Exercise("08.sequence_accuracy", groups.sequence_accuracy, tuple(accuracy_cases())),
]
