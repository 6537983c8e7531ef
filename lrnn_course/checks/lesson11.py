"""The exercises of Lesson 11 (the capstone: code and text) and the properties ``check()`` tests them on.

Glossary: a program is a row of statements (kind, target, operand), written here as text, ``a = 3; swap a c;
c += 4``; k variables a, b, c, … hold values in Z_m; a row runs its first ``lengths[i]`` statements, and in a
hand-written program the statements after ``|`` lie beyond ``lengths[i]``. Expected values come from an oracle
written here, a Python loop over each row's statements on a list of k values (it never calls
``tasks.interpret``); a mismatch that equals what a known mistake gives (the statements beyond ``lengths[i]``
run, or the statements run last to first) says so.

``11.cross_entropy_bits``: logits (..., V) and targets (...), the mean over positions of -log₂ softmax(logits)[target].
Its oracle, ``loop_bits``, is a float64 Python loop over positions, a log-sum-exp with the largest logit subtracted
(torch operations on one position at a time, so that autograd gives the reference gradient); a wrong value that
equals what a known mistake gives (nats, log10, a sum, unnormalised logits, the softmax over positions) says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import language, tasks
from ..checker import (
    GENERAL,
    GRADIENT_HINTS,
    SPECIFIC,
    Case,
    CheckFailed,
    Exercise,
    call_learner,
    expect_float64_precision,
    generator_for,
    learner_gradients,
    precision_case,
    shown_apart,
)
from ..tasks import ADD, COPY, SET, SWAP, VARIABLE_NAMES

# A row about the result's type and shape alone, explained when that is wrong (every other row then fails too).
TYPE_ROW = SPECIFIC + 1
Programs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # kinds, targets, operands, lengths
ORDER_HINTS = (
    "Statement 0 runs first, then statement 1, …: a later set overwrites an earlier one.",
    "Loop over the columns in increasing order, e.g. zip(kinds.unbind(1), targets.unbind(1), operands.unbind(1)).",
)
BEYOND_HINTS = (
    "Row i runs its first lengths[i] statements only: kinds[i, s] for s >= lengths[i] is whatever filled the tensor, "
    "not a statement of the program.",
    "Where a column s lies beyond a row's length, keep that row's values: torch.where((s < lengths)[:, None], "
    "updated, values), or loop over range(lengths[i]) in row i.",
)
EXACTLY_HINTS = (
    "Statement s runs when s < lengths[i]: statements 0 … lengths[i] - 1, that is lengths[i] of them, as "
    "range(lengths[i]) gives.",
)


# ---------------------------------------------------------------------------------------------- the oracle


def run_statement(values: list[int], kind: int, x: int, y: int, modulus: int) -> None:
    """Run one statement on the Python list ``values``, in place (the mutants' tests change it one kind at a time)."""
    if kind == SET:
        values[x] = y
    elif kind == COPY:
        values[x] = values[y]
    elif kind == SWAP:
        values[x], values[y] = values[y], values[x]
    else:
        values[x] = (values[x] + y) % modulus


def run_programs(
    programs: Programs, n_variables: int, modulus: int, extra: int = 0, reverse: bool = False
) -> torch.Tensor:
    """The final values, LongTensor (N, k), by a Python loop over each row's statements.

    ``extra`` statements beyond each length run too (or -1: the last one does not) and ``reverse`` runs them last
    to first: what three mistakes compute, to name them.
    """
    kinds, targets, operands, lengths = (x.tolist() for x in programs)
    finals = []
    for row_kinds, row_targets, row_operands, length in zip(kinds, targets, operands, lengths):
        statements = list(zip(row_kinds, row_targets, row_operands))[: max(length + extra, 0)]
        values = [0] * n_variables
        for kind, x, y in reversed(statements) if reverse else statements:
            run_statement(values, kind, x, y, modulus)
        finals.append(values)
    return torch.tensor(finals, dtype=torch.long).reshape(len(finals), n_variables)


def parsed(statement: str) -> tuple[int, int, int]:
    """(kind, target, operand) of one statement's text: ``a = 3``, ``a = b``, ``swap a b`` or ``a += 2``."""
    words = statement.split()
    if words[0] == "swap":
        return SWAP, VARIABLE_NAMES.index(words[1]), VARIABLE_NAMES.index(words[2])
    x, sign, value = words
    if sign == "+=":
        return ADD, VARIABLE_NAMES.index(x), int(value)
    if value.isdigit():
        return SET, VARIABLE_NAMES.index(x), int(value)
    return COPY, VARIABLE_NAMES.index(x), VARIABLE_NAMES.index(value)


def written(texts: Sequence[str]) -> Programs:
    """The tensors of hand-written programs of the same width; statements after ``|`` lie beyond the length."""
    rows, lengths = [], []
    for text in texts:
        running, _, beyond = text.partition("|")
        statements = [parsed(s) for part in (running, beyond) for s in part.split(";") if s.strip()]
        rows.append(statements)
        lengths.append(len([s for s in running.split(";") if s.strip()]))
    if len({len(row) for row in rows}) > 1:
        raise ValueError(f"hand-written programs of one call must have the same width: {texts}")
    table = torch.tensor(rows, dtype=torch.long).reshape(len(rows), -1, 3)
    kinds, targets, operands = table.unbind(-1)
    return kinds, targets, operands, torch.tensor(lengths, dtype=torch.long)


def random_programs(name: str, n: int, width: int, n_variables: int, modulus: int) -> Programs:
    """N random rows of ``width`` valid statements and lengths uniform in [0, width], seeded by ``name``.

    Copy and swap take a variable other than their target (there are none when k = 1).
    """
    generator = generator_for(name)
    n_kinds = 4 if n_variables > 1 else 2
    kinds = torch.tensor([SET, ADD, COPY, SWAP])[torch.randint(n_kinds, (n, width), generator=generator)]
    targets = torch.randint(n_variables, (n, width), generator=generator)
    constants = torch.randint(modulus, (n, width), generator=generator)
    # another variable: the target plus 1 … k - 1, around the circle
    others = (targets + 1 + torch.randint(max(n_variables - 1, 1), (n, width), generator=generator)) % n_variables
    operands = torch.where((kinds == COPY) | (kinds == SWAP), others, constants)
    lengths = torch.randint(width + 1, (n,), generator=generator)
    return kinds, targets, operands, lengths


def program_text(programs: Programs, row: int) -> str:
    """Row ``row`` as text, ``|`` before the statements beyond its length (the first 12 statements shown)."""
    kinds, targets, operands, lengths = programs
    texts = []
    for kind, x, y in zip(kinds[row].tolist(), targets[row].tolist(), operands[row].tolist()):
        a, b = VARIABLE_NAMES[x], VARIABLE_NAMES[y] if y < len(VARIABLE_NAMES) else str(y)
        texts.append({SET: f"{a} = {y}", COPY: f"{a} = {b}", SWAP: f"swap {a} {b}", ADD: f"{a} += {y}"}[kind])
    length = int(lengths[row])
    shown = "; ".join(texts[: min(length, 12)])
    if length < len(texts) and length < 12:
        shown += (" | " if length else "| ") + "; ".join(texts[length:12])
    shown += "; …" if len(texts) > 12 else ""
    return shown or "(no statement)"


def values_text(values: Sequence[int]) -> str:
    return ", ".join(f"{VARIABLE_NAMES[x]} = {v}" for x, v in enumerate(values))


def expect_type(got: Any, n: int, n_variables: int) -> torch.Tensor:
    """``got`` is a LongTensor (N, k), else ``CheckFailed`` saying what it is."""
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"returned a {type(got).__name__}, expected a LongTensor (N, k) = {(n, n_variables)}")
    if got.dtype != torch.long:
        raise CheckFailed(
            f"returned a {got.dtype} tensor, expected torch.long (int64): values in Z_m are integers "
            "(torch.zeros(..., dtype=torch.long))"
        )
    if tuple(got.shape) != (n, n_variables):
        raise CheckFailed(
            f"returned shape {tuple(got.shape)}, expected (N, k) = {(n, n_variables)}: one row per program, one "
            "column per variable"
        )
    return got


def expect_values(got: Any, programs: Programs, n_variables: int, modulus: int, what: str) -> None:
    """``got`` against the oracle; the first wrong row is shown with its program, and a known mistake named."""
    expected = run_programs(programs, n_variables, modulus)
    got = expect_type(got, len(expected), n_variables)
    wrong = (got != expected).any(dim=1).nonzero()
    if not len(wrong):
        return
    row = int(wrong[0])
    width = programs[0].shape[1]
    mistakes = (
        ({"extra": width}, "yours also ran the statements beyond lengths[i]", BEYOND_HINTS),
        ({"extra": 1}, "yours ran one statement more than lengths[i]", EXACTLY_HINTS),
        ({"extra": -1}, "yours left out the last statement of each row", EXACTLY_HINTS),
        ({"reverse": True}, "yours ran the statements last to first", ORDER_HINTS),
    )
    message = (
        f"{what}, row {row}: `{program_text(programs, row)}` (k = {n_variables}, m = {modulus}) — yours "
        f"{values_text(got[row].tolist())}; expected {values_text(expected[row].tolist())}"
    )
    for mistake, meaning, hints in mistakes:
        if torch.equal(got, run_programs(programs, n_variables, modulus, **mistake)):
            raise CheckFailed(f"{message} — {meaning}", hints)
    raise CheckFailed(message)


# ---------------------------------------------------------------------------------------------- 11.interpret


def interpret_cases() -> list[Case]:
    def compared(
        texts: Sequence[str], n_variables: int, modulus: int, what: str
    ) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            programs = written(texts)
            expect_values(call_learner(fn, *programs, n_variables, modulus), programs, n_variables, modulus, what)

        return run

    def type_and_shape(fn: Callable[..., Any]) -> None:
        programs = random_programs("type and shape", 5, 7, 3, 5)
        expect_type(call_learner(fn, *programs, 3, 5), 5, 3)

    def nothing_to_run(fn: Callable[..., Any]) -> None:
        no_columns = tuple(torch.zeros(3, 0, dtype=torch.long) for _ in range(3)) + (torch.zeros(3, dtype=torch.long),)
        expect_values(call_learner(fn, *no_columns, 4, 5), no_columns, 4, 5, "3 programs of S = 0 statements")
        no_rows = random_programs("no rows", 0, 4, 2, 3)
        expect_type(call_learner(fn, *no_rows, 2, 3), 0, 2)

    def random_rows(fn: Callable[..., Any]) -> None:
        programs = random_programs("random programs", 200, 30, 3, 5)
        expect_values(call_learner(fn, *programs, 3, 5), programs, 3, 5, "random programs")

    def every_size(fn: Callable[..., Any]) -> None:
        for n_variables in range(1, 7):
            for modulus in range(2, 12):
                programs = random_programs(f"k = {n_variables}, m = {modulus}", 12, 10, n_variables, modulus)
                got = call_learner(fn, *programs, n_variables, modulus)
                expect_values(got, programs, n_variables, modulus, f"random programs with k = {n_variables}")

    def large(fn: Callable[..., Any]) -> None:
        programs = random_programs("large", 2000, 200, 4, 7)
        expect_values(call_learner(fn, *programs, 4, 7), programs, 4, 7, "2000 random programs of 200 statements")

    return [
        Case(
            "a LongTensor (N, k)",
            type_and_shape,
            (
                "Return one row per program and one column per variable: torch.zeros(N, n_variables, "
                "dtype=torch.long) to start from, N = kinds.shape[0].",
                "Keep integers: no float division, no torch.zeros without dtype=torch.long.",
            ),
            TYPE_ROW,
        ),
        Case(
            "no statement to run: every variable is 0 (S = 0; N = 0)",
            nothing_to_run,
            (
                "Every variable starts at 0, before the first statement: with no statement the result is "
                "torch.zeros(N, n_variables, dtype=torch.long).",
                "Loop over the S columns (or the rows): a loop that runs zero times must still return (N, k).",
            ),
        ),
        Case(
            "set x = c: x becomes the constant c",
            compared(["a = 3; b = 4", "c = 1; a = 2", "b = 0; c = 4"], 3, 5, "programs of sets"),
            (
                "A set statement's operand is the constant itself: values[target] = operand.",
                "Only the target changes; the other variables keep their values.",
            ),
        ),
        Case(
            "x += c adds the constant c (not the value of variable c)",
            compared(["b = 2; a += 1", "c += 3; d = 1", "d = 4; b += 3"], 4, 5, "programs of adds"),
            (
                "An add statement's operand is a constant, as a set's is: values[target] + operand, not "
                "values[target] + values[operand]. Only copy and swap read a second variable.",
            ),
        ),
        Case(
            "x += c wraps around mod m",
            compared(["a += 3; a += 4; b += 1", "b += 4; b += 4; b += 4", "c += 1; a += 6; c += 6"], 3, 7, "wrapping"),
            (
                "Values lie in Z_m: after an add take % modulus (m = 7 here, so 6 + 1 is 0).",
                "(values + operand) % modulus — Python's and torch's % of non-negative numbers is in [0, m).",
            ),
        ),
        Case(
            "statements run first to last",
            compared(["a = 1; a = 2; b = 3", "b = 3; b += 1; c = 1", "c += 2; c = 1; a += 1"], 3, 5, "statement order"),
            ORDER_HINTS,
        ),
        Case(
            "copy x = y writes x (y keeps its value)",
            compared(["a = 3; a = b", "c = 2; c = a", "b = 4; b = c"], 3, 5, "copies from a variable still 0"),
            (
                "In x = y the target x changes and takes y's value; y is only read: "
                "values[target] = values[operand], not the other way round.",
            ),
        ),
        Case(
            "copy x = y reads the current value of y",
            compared(["b = 2; a = b; b = 4", "a = 1; a += 2; c = a", "c = 4; b = c; a = b"], 3, 5, "copies"),
            (
                "Read y's value as it is when the copy runs, after the statements before it, from the values you "
                "are updating, not from the values the program started with.",
            ),
        ),
        Case(
            "swap x y exchanges the two values",
            compared(["a = 1; b = 2; swap a b", "a = 3; c = 4; swap a c", "b = 1; c += 2; swap b c"], 3, 5, "swaps"),
            (
                "Both variables change: x takes y's old value and y takes x's old value. Writing x = y first and "
                "then y = x gives both y's value; keep x's old value before writing.",
                "old = values[x]; values[x] = values[y]; values[y] = old — or values[[x, y]] = values[[y, x]].",
            ),
        ),
        Case(
            "swap y x is swap x y: the target may be the larger variable",
            compared(["a = 1; b = 2; swap b a", "a = 3; c = 4; swap c a", "b = 2; swap c b; b += 1"], 3, 5, "swaps"),
            (
                "The task's tokens write a swap with x < y, but interpret takes any two variables: swap c a "
                "exchanges a and c as swap a c does.",
            ),
        ),
        Case(
            "swap x x and copy x = x leave x as it is",
            compared(
                ["a = 3; swap a a; b = 1; swap b b", "b = 4; b = b; b += 1; c = b", "c = 2; a = 1; swap c c; a = a"],
                3,
                5,
                "statements naming one variable twice",
            ),
            (
                "A statement may name the same variable twice: swap a a and a = a change nothing. A swap through "
                "arithmetic (x = x + y; y = x - y; x = x - y) or XOR, or a copy as 'clear x, then add y', zeroes x "
                "when y is x.",
                "Swap through a saved old value (old = values[x]; values[x] = values[y]; values[y] = old) and copy "
                "with one assignment (values[x] = values[y]).",
            ),
        ),
        Case(
            "statements beyond lengths[i] are ignored",
            compared(
                ["a = 2 | a = 2; b = 4; c += 1", "b = 3; b += 1 | b = 4; a = 1", "| a = 0; b = 2; c = 1; a = 3"],
                3,
                5,
                "programs with statements beyond their lengths",
            ),
            BEYOND_HINTS,
        ),
        Case(
            "exactly lengths[i] statements: the last one runs, the next one does not",
            compared(["a = 2; b = 1 | a = 4", "b = 3 | c = 1; c = 2", "c = 1; c += 3 | c += 1"], 3, 5, "lengths"),
            EXACTLY_HINTS,
        ),
        Case(
            "random programs (k = 3, m = 5) against a Python loop",
            random_rows,
            ("Every statement within the length, first to last, on values that start at 0.",),
            GENERAL,
        ),
        Case(
            "every k from 1 to 6 and m from 2 to 11",
            every_size,
            (
                "Use n_variables and modulus as given: k columns in the result, % modulus after each add; do not "
                "read them off the data (targets.max() + 1 misses a variable that no statement names).",
            ),
            GENERAL,
        ),
        Case(
            "2000 programs of 200 statements",
            large,
            (
                "A Python loop over 400 000 statements that indexes tensors one entry at a time is slow: loop over the "
                "200 columns and update all rows at once with tensor operations, or turn the inputs into lists first "
                "(kinds.tolist()).",
            ),
            GENERAL,
        ),
    ]


# ---------------------------------------------------------------------------------------------- 11.cross_entropy_bits

LN2 = math.log(2)
NORMALISE_HINTS = (
    "A logit is not a log-probability: log softmax(x)_t = x_t - log Σ_v exp(x_v). torch.log_softmax(logits, dim=-1) "
    "computes it over the V classes of every position.",
    "The classes are the last axis: dim=-1. An earlier axis runs over positions, and its softmax mixes them.",
)
BITS_HINTS = (
    "torch.log is the natural logarithm: its cross-entropy is in nats. Bits are nats / ln 2 (math.log(2)), "
    "or torch.log2 of the probabilities.",
)


def loop_bits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The oracle: the mean over positions of -log₂ softmax(logits)[target], a float64 0-d tensor, position by
    position in Python; log Σ exp x = max + log Σ exp(x - max), so logits of any size stay finite."""
    rows = logits.double().reshape(-1, logits.shape[-1])  # (positions, V)
    terms = []
    for row, target in zip(rows.unbind(0), targets.reshape(-1).tolist()):
        top = row.max().detach()
        log_sum = top + (row - top).exp().sum().log()
        terms.append((log_sum - row[target]) / LN2)
    return torch.stack(terms).sum() / len(terms)


def bits_mistakes(logits: torch.Tensor, targets: torch.Tensor) -> list[tuple[float, str, tuple[str, ...]]]:
    """(value, what it means, hints) of known mistakes on these inputs, in float64."""
    logits = logits.detach().double()
    right = loop_bits(logits, targets).item()
    picked = logits.gather(-1, targets[..., None])  # (..., 1)
    mistakes = [
        (right * LN2, "that is the cross-entropy in nats: divide by ln 2 for bits", BITS_HINTS),
        (right * math.log10(2), "that is log10: bits take log₂ (nats / ln 2)", BITS_HINTS),
        (right * targets.numel(), f"that is the sum over the {targets.numel()} positions, not their mean", ()),
        (-picked.mean().item() / LN2, "that is -logits[target] / ln 2: the logits were never normalised", ()),
    ]
    if logits.dim() >= 2 and logits.shape[0] > 1:
        over_positions = -torch.log_softmax(logits, dim=0).gather(-1, targets[..., None]).mean().item() / LN2
        mistakes.append((over_positions, "that is the softmax over axis 0 (positions), not over the V classes", ()))
    return [(value, meaning, hints or NORMALISE_HINTS) for value, meaning, hints in mistakes if value != right]


def expect_scalar(got: Any, dtype: torch.dtype) -> torch.Tensor:
    """``got`` is a 0-d tensor of ``dtype``, else ``CheckFailed`` saying what it is."""
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(
            f"returned a {type(got).__name__}, expected a 0-d tensor: .item(), float() or numpy turn the mean into a "
            "Python number, and autograd cannot follow that back to the logits"
        )
    if got.dim() != 0:
        raise CheckFailed(
            f"returned shape {tuple(got.shape)}, expected a 0-d tensor (): one number, the mean over every position "
            "of every leading axis (.mean() with no dim)"
        )
    if got.dtype != dtype:
        raise CheckFailed(f"returned a {got.dtype} tensor for {dtype} logits: keep the logits' dtype (no .double())")
    return got


def expect_bits(got: Any, logits: torch.Tensor, targets: torch.Tensor, what: str) -> None:
    """``got`` against the oracle (0-d, the logits' dtype, the value), naming a known mistake when it is one."""
    got = expect_scalar(got, logits.dtype)
    expected = loop_bits(logits.detach(), targets).item()
    yours = got.item()
    loose = 1e-9 if logits.dtype == torch.float64 else 2e-5
    if math.isfinite(yours) and math.isclose(yours, expected, rel_tol=loose, abs_tol=loose):
        return
    shown, wanted = shown_apart(yours, expected)
    message = f"{what}: yours {shown} bits, expected {wanted}"
    if not math.isfinite(yours):
        raise CheckFailed(
            f"{message} — softmax(logits) rounds the smallest probabilities to 0 (its log is -inf) or exp(logits) "
            "overflows: compute log-probabilities directly, with the largest logit subtracted",
            (
                "torch.log_softmax(logits, dim=-1) subtracts each position's largest logit before exp: "
                "log softmax(x)_t = (x_t - m) - log Σ_v exp(x_v - m), m = max_v x_v.",
            ),
        )
    for value, meaning, hints in bits_mistakes(logits, targets):
        if math.isclose(yours, value, rel_tol=1e-4, abs_tol=1e-6):
            raise CheckFailed(f"{message} — {meaning}", hints)
    raise CheckFailed(message)


def cross_entropy_bits_inputs(
    name: str, leading: tuple[int, ...], n_classes: int, scale: float = 2.0, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random logits (*leading, V) of about ``scale`` and random targets (*leading), seeded by ``name``."""
    generator = generator_for(name)
    logits = scale * torch.randn(*leading, n_classes, generator=generator, dtype=torch.float64)
    return logits.to(dtype), torch.randint(n_classes, leading, generator=generator)


def cross_entropy_bits_cases() -> list[Case]:
    def type_and_dtype(fn: Callable[..., Any]) -> None:
        logits, targets = cross_entropy_bits_inputs("type and dtype", (2, 3), 5)
        expect_scalar(call_learner(fn, logits, targets), torch.float32)

    def shifted(fn: Callable[..., Any]) -> None:
        logits, targets = cross_entropy_bits_inputs("shifted", (4, 6), 7, dtype=torch.float64)
        shifts = 20 * torch.randn(4, 6, 1, generator=generator_for("shifts"), dtype=torch.float64)
        before = expect_scalar(call_learner(fn, logits, targets), torch.float64).item()
        after = expect_scalar(call_learner(fn, logits + shifts, targets), torch.float64).item()
        if math.isclose(before, after, rel_tol=1e-6, abs_tol=1e-6):  # loose: precision is its own row
            return
        expect_bits(torch.tensor(after, dtype=torch.float64), logits + shifts, targets, "logits shifted per position")
        raise CheckFailed(
            f"yours {before:.6f} bits, and {after:.6f} once every logit of each position is shifted by the same "
            "constant (a different one at each position): softmax(x + c) = softmax(x)"
        )

    def mean_of_positions(fn: Callable[..., Any]) -> None:
        for leading in ((12,), (3, 4), (2, 3, 4)):
            logits, targets = cross_entropy_bits_inputs(f"mean over {leading}", leading, 6, dtype=torch.float64)
            whole = expect_scalar(call_learner(fn, logits, targets), torch.float64).item()
            alone = []
            one = (1,) * len(leading)
            for position_logits, target in zip(logits.reshape(-1, 6), targets.reshape(-1)):
                got = call_learner(fn, position_logits.reshape(*one, 6), target.reshape(one))
                alone.append(expect_scalar(got, torch.float64).item())
            mean = sum(alone) / len(alone)
            if math.isclose(whole, mean, rel_tol=1e-6, abs_tol=1e-6):
                continue
            n = len(alone)
            meaning = f" (= {n} × that: the sum, not the mean)" if math.isclose(whole, n * mean, rel_tol=1e-6) else ""
            raise CheckFailed(
                f"leading shape {leading}: yours {whole:.6f} bits on all {n} positions, but the mean of your values "
                f"on each position alone is {mean:.6f}{meaning}"
            )

    def uniform(fn: Callable[..., Any]) -> None:
        for leading, n_classes in (((4,), 256), ((3, 5), 2)):
            targets = torch.randint(n_classes, leading, generator=generator_for(f"uniform {n_classes}"))
            logits = torch.zeros(*leading, n_classes)
            what = f"uniform logits over V = {n_classes} classes (log₂ {n_classes} = {math.log2(n_classes):g})"
            expect_bits(call_learner(fn, logits, targets), logits, targets, what)

    def confident(fn: Callable[..., Any]) -> None:
        targets = torch.tensor([0, 3, 1, 2])
        logits = torch.zeros(4, 4)
        logits[torch.arange(4), targets] = 30.0  # the right class 30 above the others: p ≈ 1 - 3e-13
        expect_bits(call_learner(fn, logits, targets), logits, targets, "30 on the right class, 0 on the others")
        wrong = (targets + 1) % 4
        expect_bits(call_learner(fn, logits, wrong), logits, wrong, "30 on a wrong class, 0 on the others")

    def huge(fn: Callable[..., Any]) -> None:
        logits, targets = cross_entropy_bits_inputs("huge logits", (2, 4), 5, scale=1e4)
        logits[0, 0] = 1e4 + torch.arange(5.0)  # every exp(x) overflows float32; the differences are small
        expect_bits(call_learner(fn, logits, targets), logits, targets, "logits of size 1e4")

    def precision(fn: Callable[..., Any]) -> None:
        logits, targets = cross_entropy_bits_inputs("precision", (5, 6), 9, dtype=torch.float64)
        expect_float64_precision(call_learner(fn, logits, targets), loop_bits(logits, targets), "the bits")

    def random_positions(fn: Callable[..., Any]) -> None:
        logits, targets = cross_entropy_bits_inputs("random positions", (8, 25), 40, scale=3.0)
        expect_bits(call_learner(fn, logits, targets), logits, targets, "random logits (8, 25, 40)")

    def gradients(fn: Callable[..., Any]) -> None:
        logits, targets = cross_entropy_bits_inputs("gradients", (3, 4), 6, dtype=torch.float64)
        leaf = logits.clone().requires_grad_()
        yours, expected = learner_gradients(
            call_learner(fn, leaf, targets), loop_bits(leaf, targets), [leaf], ["logits"]
        )
        error = (yours[0] - expected[0]).abs().max().item()
        if error > 1e-9:
            raise CheckFailed(f"the gradient with respect to the logits is off by up to {error:.1e} from autograd's")

    return [
        Case(
            "a 0-d tensor in the logits' dtype",
            type_and_dtype,
            (
                "Return the mean itself, a tensor of shape (): .mean() with no dim averages every leading axis at "
                "once; no .item() or float() at the end.",
                "Keep the logits' dtype: no .double() or .float() of the result.",
            ),
            TYPE_ROW,
        ),
        Case(
            "adding a constant to every logit of a position changes nothing",
            shifted,
            NORMALISE_HINTS,
        ),
        Case(
            "the mean over every position, for leading shapes (M,), (N, T) and (2, 3, 4)",
            mean_of_positions,
            (
                "Average over the positions, not sum: .mean() of the (...) tensor of per-position bits, or .sum() "
                "divided by targets.numel().",
            ),
        ),
        Case(
            "in bits: uniform logits give log₂ V (8 for V = 256, 1 for V = 2)",
            uniform,
            BITS_HINTS,
        ),
        Case(
            "a confident right answer gives about 0 bits, a confident wrong one about 43",
            confident,
            (
                "p(right class) ≈ 1 gives -log₂ p ≈ 0; p ≈ e^-30 gives 30 / ln 2 ≈ 43 bits.",
                *NORMALISE_HINTS,
            ),
        ),
        Case(
            "logits of size 1e4 stay finite and exact",
            huge,
            (
                "exp(1e4) overflows, and softmax then log gives log 0 = -inf for an unlikely class: compute "
                "log-probabilities directly, torch.log_softmax(logits, dim=-1), which subtracts the largest logit.",
            ),
        ),
        precision_case("float64 stays float64, to float64's precision", precision),
        Case(
            "random logits (8, 25, 40) against a float64 loop over positions",
            random_positions,
            ("-log₂ softmax(logits)[target] at every position, then the mean over all 200 positions.",),
            GENERAL,
        ),
        Case(
            "the gradient with respect to the logits matches autograd through a float64 loop",
            gradients,
            GRADIENT_HINTS,
            GENERAL,
        ),
    ]


EXERCISES = [
    Exercise("11.interpret", tasks.interpret, tuple(interpret_cases())),
    Exercise("11.cross_entropy_bits", language.cross_entropy_bits, tuple(cross_entropy_bits_cases())),
]
