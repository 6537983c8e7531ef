"""The exercises of Lesson 08 (the state-tracking lab) and the properties ``check()`` tests them on.

Glossary: a permutation σ is the list (σ(0), …, σ(n-1)); "a, then b" sends i to b(a(i)); a word is
a row of element indices, and positions t in messages count from 0; -1 marks a position that is not
scored. Expected prefix products come from following every point through the word (no Cayley
table); expected matrices are written out from σ here (P e_i = e_σ(i)). One case of the transitions
stands in for ``permutation_reflections`` with a function that adds a swap to every σ's keys, and
sees whether the matrices follow it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import automata, groups, householder, tasks
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
from .lesson07 import expected_matrix

# A row that looks at the result's type and shape only, and must be the one explained when that is wrong: every
# other row then fails too, each with its own inputs in the message.
TYPE_ROW = SPECIFIC + 1


# ---------------------------------------------------------------------------------------------- 08.prefix_products


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
        found = (
            f"{got.dtype} tensor of shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else type(got).__name__
        )
        raise CheckFailed(f"expected {what} as a LongTensor of shape {shape}, got {found}")
    return got


def earliest(wrong: torch.Tensor) -> tuple[int, int]:
    """The (word, position) of the earliest position at which some word is wrong, from a (…, 2) list of them."""
    return min((t, row) for row, t in wrong.tolist())[::-1]


def expect_products(fn: Callable[..., Any], name: str, words: torch.Tensor) -> None:
    group = groups.group(name)
    got = expect_long(call_learner(fn, group.table, words), tuple(words.shape), "the prefix products")
    expected = followed(group.elements, words)
    wrong = (got != expected).nonzero()
    if len(wrong):
        row, t = earliest(wrong)
        before = f"; all {len(words)} words are right before t = {t}" if t and len(words) > 1 else ""
        raise CheckFailed(
            f"{name}, word {row}, position t = {t} (0-based): got element {int(got[row, t])}, expected "
            f"{int(expected[row, t])} ({group.elements[int(expected[row, t])]}){before}"
        )


def prefix_product_cases() -> list[Case]:
    def by_hand(fn: Callable[..., Any]) -> None:
        expect_products(fn, "S3", torch.tensor([[1, 2, 2]]))

    def long_tensors(fn: Callable[..., Any]) -> None:
        table = groups.group("S3").table
        for shape in ((2, 4), (8, 40)):
            expect_long(
                call_learner(fn, table, torch.randint(6, shape, generator=generator_for("long tensors"))),
                shape,
                "the prefix products",
            )

    def identity_letters(fn: Callable[..., Any]) -> None:
        expect_products(fn, "S3", torch.tensor([[1, 0, 0, 0], [0, 0, 3, 0]]))

    def renumbered(fn: Callable[..., Any]) -> None:
        # Judged against the learner's own products for the usual numbering: a function that computes only through the
        # table gives the renumbered products, right or wrong; one that does arithmetic on the indices does not.
        group, generator = groups.group("S3"), generator_for("renumbered")
        relabel = torch.cat(
            [torch.zeros(1, dtype=torch.long), 1 + torch.randperm(5, generator=generator)]
        )  # 0 stays the identity
        table = torch.empty_like(group.table)
        table[relabel[:, None], relabel[None, :]] = relabel[group.table]
        words = torch.randint(6, (4, 12), generator=generator)
        usual = expect_long(call_learner(fn, group.table, words), (4, 12), "the prefix products")
        got = expect_long(call_learner(fn, table, relabel[words]), (4, 12), "the prefix products")
        wrong = (got != relabel[usual]).nonzero()
        if len(wrong):
            row, t = earliest(wrong)
            raise CheckFailed(
                f"S3 with its elements renumbered (element a becomes {relabel.tolist()}[a], in the table and in the "
                f"words): your products should be renumbered the same way, but at word {row}, t = {t} you give "
                f"{int(got[row, t])} where your {int(usual[row, t])} for the usual numbering becomes "
                f"{int(relabel[usual[row, t]])}: your function computes with the indices themselves, not only through "
                "the table"
            )

    def order_matters(fn: Callable[..., Any]) -> None:
        expect_products(fn, "S3", torch.tensor([[1, 2], [2, 1]]))

    def random_words(name: str, shape: tuple[int, int]) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            expect_products(fn, name, torch.randint(groups.group(name).order, shape, generator=generator_for(name)))

        return run

    def unchanged(fn: Callable[..., Any]) -> None:
        table = groups.group("S3").table
        words = torch.randint(6, (3, 5), generator=generator_for("unchanged"))
        originals = [table.clone(), words.clone()]
        call_learner_in_place(fn, table, words)
        expect_unchanged(originals, [table, words], ["table", "words"])

    every_position = (
        "Every position t counts, in every group and for any T: for t in range(T): state = table[state, words[:, t]]; "
        "products[:, t] = state. Nothing may depend on the group or stop the loop early.",
    )
    return [
        Case(
            "S3 by hand: 1, 2, 2 -> 1, 3, 1",
            by_hand,
            (
                "y_1 = x_1 and y_t = table[y_{t-1}, x_t]: the state so far, then the new letter.",
                "Start from the identity, index 0: state = torch.zeros(N, dtype=torch.long); loop over t.",
            ),
            GENERAL,
        ),
        Case(
            "a LongTensor (N, T): one element index per position",
            long_tensors,
            (
                "Fill a tensor like words: torch.empty_like(words) is a LongTensor (N, T), and table[state, letters] "
                "gives LongTensors.",
                "One product per position, y_1 = x_1 and y_T included: T columns, no .float() or .int().",
            ),
            TYPE_ROW,
        ),
        Case(
            "the identity (0) keeps the product: 1, 0, 0, 0 -> 1, 1, 1, 1",
            identity_letters,
            (
                "y_t is the product of every letter so far, x_t included: carry a state from one t to the next, and "
                "store it after multiplying by x_t.",
                "state = table[state, words[:, t]]; products[:, t] = state.",
            ),
        ),
        Case(
            "the table decides: S3 renumbered gives renumbered products",
            renumbered,
            (
                "Everything about the group is in table: the product of a and b is table[a, b], whatever the numbers "
                "a and b. A sum of indices modulo |G| is the rule of a cyclic group numbered in order, not of S3.",
                "state = table[state, words[:, t]], with the table you are given.",
            ),
        ),
        Case(
            "the order matters: (1 then 2) is not (2 then 1)",
            order_matters,
            ("table[a, b] is 'a, then b'; the running product goes first: table[state, words[:, t]].",),
        ),
        Case("random words in S4", random_words("S4", (8, 40)), every_position, GENERAL),
        Case("random words in A4 × Z5", random_words("A4_x_Z5", (8, 40)), every_position, GENERAL),
        Case("long words: T = 1000 in S3", random_words("S3", (4, 1000)), every_position, GENERAL),
        Case("does not modify its inputs", unchanged, ("Fill a new tensor, e.g. torch.empty_like(words).",)),
    ]


# ---------------------------------------------------------------------------------------------- 08.transition_matrices

# What the transitions are compared with: exactly P_σ, up to the float64 rounding left by a learner who builds
# I - 2 k̂ k̂ᵀ with k̂ = k / ‖k‖ (2 (1/√2)² is 1 + 2.2e-16), a few times over in a product of swaps. Rounding
# in float32 (1e-7) is not within it; float16 holds none of it (exact, its own row).
ROUNDING = 1e-15
# What the transitions call for the keys; captured before any case stands in for it (follows_the_reflections).
LIBRARY_REFLECTIONS = householder.permutation_reflections
TRANSPOSE_HINTS = (
    "P e_i = e_σ(i): column i holds its 1 in row σ(i), P[σ(i), i] = 1. P[i, σ(i)] = 1 is the transpose, P⁻¹.",
    "The first key acts first: H(k_m) ⋯ H(k_1), i.e. product = H @ product, the keys in the order "
    "permutation_reflections returns them. product_of_reflections(keys, n) multiplies them so; its result needs no "
    "transpose.",
)


def transitions_of(fn: Callable[..., Any], permutations: Any, *dtype: torch.dtype) -> torch.Tensor:
    """The learner's transitions for ``permutations``, a float tensor of the right shape, in the dtype asked for if
    any."""
    got = call_learner(fn, permutations, *dtype)
    shape = (len(permutations), len(permutations[0]), len(permutations[0]))
    if not isinstance(got, torch.Tensor) or not got.dtype.is_floating_point or tuple(got.shape) != shape:
        found = (
            f"a {got.dtype} tensor of shape {tuple(got.shape)}"
            if isinstance(got, torch.Tensor)
            else f"a {type(got).__name__}"
        )
        raise CheckFailed(
            f"expected a floating-point tensor of shape {shape}, one n × n matrix per permutation, got {found}"
        )
    if dtype and got.dtype != dtype[0]:
        raise CheckFailed(f"expected a {dtype[0]} tensor (the dtype asked for), got {got.dtype}")
    return got


def expect_transitions(got: torch.Tensor, permutations: Any, what: str, atol: float = ROUNDING) -> None:
    """``got`` is P_σ for every σ; a result that is P_σᵀ where they differ gets a message and hints of its own."""
    expected = torch.stack([expected_matrix(list(permutation)) for permutation in permutations])
    try:
        expect_tensor_close(got.double(), expected, what, "(letter, row, column)", atol=atol, rtol=0.0)
    except CheckFailed as failure:
        if not torch.allclose(got.double(), expected.transpose(-1, -2), atol=atol, rtol=0.0):
            raise
        letter = int((got.double() - expected).abs().amax(dim=(1, 2)).argmax())
        sigma = list(permutations[letter])
        point = next(i for i in range(len(sigma)) if sigma[sigma[i]] != i)  # where σ and σ⁻¹ differ
        raise CheckFailed(
            f"{what}: yours are the transposes P_σᵀ = P_σ⁻¹. For σ = {tuple(sigma)} (letter {letter}), column {point} "
            f"must hold its 1 in row σ({point}) = {sigma[point]}; yours has it in row {sigma.index(point)}",
            TRANSPOSE_HINTS,
        ) from failure


def transition_cases() -> list[Case]:
    def matches(name: str, *dtype: torch.dtype, atol: float = ROUNDING) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            elements = groups.group(name).elements
            expect_transitions(transitions_of(fn, elements, *dtype), elements, f"the transitions of {name}", atol)

        return run

    def one_permutation(fn: Callable[..., Any]) -> None:
        expect_transitions(transitions_of(fn, [(1, 2, 0)]), [(1, 2, 0)], "the transition of σ = (1, 2, 0)")

    def default_dtype(fn: Callable[..., Any]) -> None:
        got = transitions_of(fn, groups.group("S3").elements)
        if got.dtype != torch.float32:
            raise CheckFailed(f"called without a dtype, expected torch.float32 (the default), got {got.dtype}")

    def follows_the_reflections(fn: Callable[..., Any]) -> None:
        elements, calls = groups.group("S3").elements, []

        def with_a_swap_of_the_ends(permutation, dtype=torch.float64):
            """σ's keys, then the swap of points 0 and n - 1: valid keys of another permutation, that swap after σ."""
            calls.append(permutation)
            n = len(permutation)
            return LIBRARY_REFLECTIONS(permutation, dtype) + [householder.swap_key(0, n - 1, n, dtype)]

        with substituted(
            fn,
            with_a_swap_of_the_ends,
            names=["permutation_reflections"],
            originals=[LIBRARY_REFLECTIONS],
            modules=[householder],
        ):
            got = transitions_of(fn, elements)
        if not calls:
            raise CheckFailed(
                "never called permutation_reflections: build each matrix from the keys permutation_reflections(σ) "
                "returns, multiplied with product_of_reflections(keys, n)"
            )
        swapped = [tuple({0: 2, 2: 0}.get(image, image) for image in sigma) for sigma in elements]
        try:
            expect_transitions(got, swapped, "the transitions of S3")
        except CheckFailed as failure:
            raise CheckFailed(
                "with permutation_reflections swapped for a stand-in that adds the swap of points 0 and 2 after σ's "
                f"keys, your matrices should follow it (σ, then that swap): {failure}"
            ) from failure

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
            raise CheckFailed(
                f"running H_t = A(x_t) H_(t-1) from H_0 = (1, 2, 3): word {row} goes wrong at t = {t} (0-based)"
            )

    return [
        Case(
            "the 6 elements of S3",
            matches("S3"),
            (
                "householder.permutation_reflections(σ) gives the keys; householder.product_of_reflections(keys, n) "
                "multiplies them, the first key first, each reflection I - 2 k kᵀ / (kᵀk).",
                "Check one matrix by hand: P e_i = e_σ(i), so column i holds its 1 in row σ(i). Stack one matrix per "
                "permutation with torch.stack, then .to(dtype).",
            ),
        ),
        Case(
            "all 24 elements of S4",
            matches("S4"),
            ("The identity has no reflection: product_of_reflections([], n) is I.",),
        ),
        Case("the 5 rotations of Z5 (a 5-cycle is 4 swaps)", matches("Z5"), ("A cycle of length L is L - 1 swaps.",)),
        Case(
            "a single permutation gives (1, n, n)",
            one_permutation,
            ("One permutation is a batch of one: torch.stack of a list of one matrix is (1, n, n). No .squeeze().",),
        ),
        Case(
            "float32 unless a dtype is given",
            default_dtype,
            (
                "The signature's default, dtype=torch.float32, is the dtype to return.",
                "product_of_reflections returns float64, the identity for no keys included: convert the stacked "
                "result with .to(dtype).",
            ),
        ),
        Case(
            "exact in float16 (swap reflections are 0s and ±1s)",
            matches("S4", torch.float16, atol=0.0),
            (
                "Multiply in float64 and convert at the end with .to(dtype): P has entries 0 and 1 only, which "
                "float16 holds exactly.",
            ),
        ),
        Case(
            "the matrices are products of the reflections permutation_reflections gives",
            follows_the_reflections,
            (
                "The check swaps permutation_reflections for a function that returns other valid keys: matrices built "
                "from the keys it returns follow it; a permutation matrix written out from σ does not.",
                "P = product_of_reflections(permutation_reflections(σ), n) for each σ: the reflections are the point "
                "of Theorem 3.",
            ),
        ),
        Case(
            "the group automaton of S3 runs 300 steps without an error",
            runs_the_automaton,
            ("P e_i = e_σ(i): column i has its 1 in row σ(i).",),
        ),
    ]


# ---------------------------------------------------------------------------------------------- 08.sequence_accuracy


def expect_accuracy(got: Any, expected: torch.Tensor, what: str, atol: float = 1e-6) -> None:
    """The accuracy is compared like any tensor, after a dtype check that names the fix (the inputs are integers)."""
    if isinstance(got, torch.Tensor) and got.dtype != torch.float32:
        raise CheckFailed(
            f"{what} has dtype {got.dtype}, expected torch.float32: a mean of 0s and 1s, e.g. x.float().mean(dim=0)"
        )
    expect_tensor_close(got, expected, what, "(T)", atol=atol)


def accuracy_cases() -> list[Case]:
    def scored(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The cumulative sequence accuracy counted row by row and prefix by prefix, in Python."""
        rows, steps = targets.shape
        right = [
            [p == y or y == -1 for p, y in zip(row_p, row_y)]
            for row_p, row_y in zip(predictions.tolist(), targets.tolist())
        ]
        return torch.tensor([sum(all(row[: t + 1]) for row in right) / rows for t in range(steps)])

    def compared(
        what: str, prediction_rows: list[list[int]], target_rows: list[list[int]]
    ) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            predictions, targets = torch.tensor(prediction_rows), torch.tensor(target_rows)
            expect_accuracy(call_learner(fn, predictions, targets), scored(predictions, targets), what)

        return run

    def float32_of_length_t(fn: Callable[..., Any]) -> None:
        for rows, steps in ((4, 7), (5, 3)):  # N ≠ T: the mean over the wrong dimension has the wrong length
            targets = torch.randint(3, (rows, steps), generator=generator_for("float32 (T,)"))
            got = call_learner(fn, targets.clone(), targets)
            if not isinstance(got, torch.Tensor):
                raise CheckFailed(f"returned a {type(got).__name__}, expected a torch.Tensor of shape ({steps},)")
            if tuple(got.shape) != (steps,):
                raise CheckFailed(
                    f"for N = {rows} rows of T = {steps} positions the accuracy has shape {tuple(got.shape)}, expected "
                    f"({steps},): one entry per position, averaged over the rows"
                )
            if got.dtype != torch.float32:
                raise CheckFailed(f"the accuracy has dtype {got.dtype}, expected torch.float32")

    def all_right(fn: Callable[..., Any]) -> None:
        targets = torch.randint(5, (4, 7), generator=generator_for("all right"))
        expect_accuracy(
            call_learner(fn, targets.clone(), targets), torch.ones(7), "the accuracy of perfect predictions", atol=0.0
        )

    def padded_batch(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """50 rows of 12 targets, padded (-1) after a random length, and predictions right 90 % of the time (anything
        at padding)."""
        generator = generator_for(name)
        targets = torch.randint(3, (50, 12), generator=generator)
        targets[torch.arange(12) >= torch.randint(1, 13, (50, 1), generator=generator)] = -1
        guesses = torch.randint(3, (50, 12), generator=generator)
        return torch.where(torch.rand(50, 12, generator=generator) < 0.9, targets.clamp(min=0), guesses), targets

    def random_batch(fn: Callable[..., Any]) -> None:
        predictions, targets = padded_batch("random batch")
        expect_accuracy(
            call_learner(fn, predictions, targets),
            scored(predictions, targets),
            "the cumulative sequence accuracy of a random batch",
        )

    def unchanged(fn: Callable[..., Any]) -> None:
        predictions, targets = padded_batch("unchanged")
        originals = [predictions.clone(), targets.clone()]
        call_learner_in_place(fn, predictions, targets)
        expect_unchanged(originals, [predictions, targets], ["predictions", "targets"])

    # The small rows below isolate one idea each. A mistake fails the first row about it and none before it: each
    # input is one the mistakes of the later rows get right (e.g. with T = 1, cumulative and per-position agree).
    return [
        Case(
            "by hand: one row wrong at t = 1, one at t = 3 (0-based)",
            compared(
                "the cumulative sequence accuracy", [[1, 2, 3, 4], [1, 0, 3, 4], [1, 2, 3, 0]], [[1, 2, 3, 4]] * 3
            ),
            (
                "right = predictions == targets; a row counts at t only if it is right at 0 … t.",
                "right.long().cumprod(dim=1) is 1 up to the first mistake and 0 after; average over rows.",
            ),
            GENERAL,
        ),
        Case(
            "a float32 tensor of shape (T,)",
            float32_of_length_t,
            (
                "Average over the rows, dim=0: x.float().mean(dim=0) turns (N, T) into a float32 (T,).",
                "Return a tensor, not a list or a number; no keepdim=True, no .double().",
            ),
            TYPE_ROW,
        ),
        Case(
            "all right: 1 at every position",
            all_right,
            (
                "A row without any mistake counts at every position: perfect predictions give 1 everywhere.",
                "Where the first mistake is found by argmax, a row without one has argmax 0 too: the cumprod of "
                "'right' along dim=1 needs no search.",
            ),
        ),
        Case(
            "a mistake counts at its own position: T = 1, every row wrong -> 0",
            compared("the accuracy of 2 rows wrong at t = 0 (T = 1)", [[0], [0]], [[1], [1]]),
            (
                "Entry t looks at positions 0 … t, t included: a row wrong at t does not count at t.",
                "right.long().cumprod(dim=1), not shifted by one position.",
            ),
        ),
        Case(
            "a fraction of all N rows: 1 of 3 right -> 1/3",
            compared("the accuracy of 3 rows, 1 right (T = 1)", [[1], [0], [0]], [[1], [1], [1]]),
            (
                "Entry t is (number of rows right so far) / N, a float: integer division (//) of counts gives 0.",
                "alive.float().mean(dim=0), or alive.sum(dim=0) / N with a true division.",
            ),
        ),
        Case(
            "a sequence never recovers from a mistake",
            compared(
                "the accuracy with a mistake at t = 0 in row 0, right after it",
                [[0, 2, 3], [1, 2, 3]],
                [[1, 2, 3], [1, 2, 3]],
            ),
            (
                "The fraction at t can only go down as t grows: a row wrong at t is wrong at every later position.",
                "Multiply along time, within each row: right.long().cumprod(dim=1) — not the accuracy of each "
                "position, a running mean over time, a product over rows (dim=0) or one that starts from the end.",
            ),
        ),
        Case(
            "a later mistake does not count earlier",
            compared(
                "the accuracy with a mistake at t = 2 in row 0 only", [[1, 2, 0], [1, 2, 3]], [[1, 2, 3], [1, 2, 3]]
            ),
            (
                "Entry t depends on positions 0 … t only: a row wrong only at its last position counts everywhere "
                "before it.",
                "Not right.all(dim=1) (the whole row) nor a running mean: cumprod along dim=1 from t = 0.",
            ),
        ),
        Case(
            "rows go wrong at different positions: count rows, not positions",
            compared(
                "the accuracy with row 0 wrong at t = 1 only, row 1 at t = 2 only",
                [[1, 0, 3, 4], [1, 2, 0, 4], [1, 2, 3, 4]],
                [[1, 2, 3, 4]] * 3,
            ),
            (
                "Entry t counts the rows right at every position up to t: take the cumprod in each row first, then "
                "average.",
                "Averaging each position first and then taking a running minimum loses which row was wrong: rows 0 "
                "and 1 are both out at t = 2.",
            ),
        ),
        # Row 0 goes wrong at its first position, row 1 just before its padding: padding marked right after the
        # cumprod would revive row 1. Both rows are wrong from t = 1 on, so leaving padded rows out of the average
        # (the next row's mistake) changes nothing here.
        Case(
            "padding after a mistake does not revive the row",
            compared(
                "the accuracy with a mistake at t = 0 in row 0, and at t = 1 just before padding in row 1",
                [[0, 2, 3, 4], [1, 0, 5, 5]],
                [[1, 2, 3, 4], [1, 2, -1, -1]],
            ),
            (
                "A row wrong before its padding stays wrong at the padding: the padding counts as right, but the "
                "mistake counts on.",
                "Mark the padding before the cumprod, right = (predictions == targets) | (targets == -1), not after "
                "it: a 1 written in afterwards revives a row that already failed.",
            ),
        ),
        # Padding at the end of row 0 under predictions 0 and 7 (comparing with targets.clamp(min=0) gets the 7 wrong),
        # and padding in the middle of rows 1 and 2, followed by right predictions, then in row 2 by a mistake.
        Case(
            "positions with target -1 count as right",
            compared(
                "the accuracy with padding (-1) at the end of row 0 and at t = 1 in rows 1 and 2",
                [[1, 2, 0, 7], [1, 5, 3, 4], [1, 5, 3, 0], [1, 2, 3, 0]],
                [[1, 2, -1, -1], [1, -1, 3, 4], [1, -1, 3, 4], [1, 2, 3, 4]],
            ),
            (
                "A target of -1 means 'not scored', wherever it is: the position counts as right whatever was "
                "predicted there.",
                "right = (predictions == targets) | (targets == -1), before the cumprod; divide by the number of "
                "rows, N.",
            ),
        ),
        Case("a random batch of 50 padded rows", random_batch, ("Return a float32 tensor of shape (T,).",), GENERAL),
        Case(
            "does not modify its inputs",
            unchanged,
            (
                "Compute a new boolean tensor from predictions and targets instead of writing into them "
                "(e.g. at the padding).",
            ),
        ),
    ]


EXERCISES = [
    Exercise("08.prefix_products", groups.prefix_products, tuple(prefix_product_cases())),
    Exercise("08.transition_matrices", automata.transition_matrices, tuple(transition_cases())),
    Exercise("08.sequence_accuracy", tasks.sequence_accuracy, tuple(accuracy_cases())),
]
