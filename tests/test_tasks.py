"""lrnn_course.tasks against evaluators written here from the task definitions, not from the module."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lrnn_course import tasks

# The token tables of the reference notes §3.1, copied here so that a wrong table in the module fails.
PARITY = {1: "0", 2: "1"}
ARITHMETIC = {1: "+", 2: "-", 3: "*", 4: "=", 5: "0", 6: "1", 7: "2", 8: "3", 9: "4"}
BRACKETS = {0: "0", 1: "1", 2: "2", 3: "3", 4: "4", 5: "+", 6: "-", 7: "*", 8: "(", 9: ")", 10: "="}
CYCLE_STEPS = {1: -1, 2: 0, 3: +1}

GENERATORS = {
    "parity": tasks.parity,
    "modular_arithmetic": tasks.modular_arithmetic,
    "modular_arithmetic_with_brackets": tasks.modular_arithmetic_with_brackets,
    "cycle_navigation": tasks.cycle_navigation,
}
SHORTEST = {"parity": 2, "modular_arithmetic": 3, "modular_arithmetic_with_brackets": 4, "cycle_navigation": 2}
PAD = {"parity": 0, "modular_arithmetic": 0, "modular_arithmetic_with_brackets": 11, "cycle_navigation": 0}


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def evaluate(text: str) -> int:
    """Recursive descent over digits, + - *, unary minus and brackets; '*' binds tighter; value mod 5."""
    position = 0

    def peek() -> str | None:
        return text[position] if position < len(text) else None

    def take() -> str:
        nonlocal position
        position += 1
        return text[position - 1]

    def expression() -> int:
        value = term()
        while peek() in ("+", "-"):
            value = value + term() if take() == "+" else value - term()
        return value

    def term() -> int:
        value = factor()
        while peek() == "*":
            take()
            value *= factor()
        return value

    def factor() -> int:
        symbol = take()
        if symbol == "-":
            return -factor()
        if symbol == "(":
            value = expression()
            assert take() == ")", text
            return value
        assert symbol.isdigit(), text
        return int(symbol)

    value = expression()
    assert position == len(text), f"trailing input in {text!r}"
    return value % 5


def expected_answer(task: str, words: list[int]) -> tuple[int, int]:
    """(answer token, answer position) of one row cut to its length, from the task definitions alone."""
    if task == "parity":
        bits = [int(PARITY[w]) for w in words[:-1]]
        return sum(bits) % 2 + 1, len(words) - 1
    if task == "cycle_navigation":
        return 4 + sum(CYCLE_STEPS[w] for w in words[:-1]) % 5, len(words) - 1
    if task == "modular_arithmetic":
        assert ARITHMETIC[words[-2]] == "="
        text = "".join(ARITHMETIC[w] for w in words[:-2])
        assert eval(text) % 5 == evaluate(text)  # Python's % already lands in [0, 5) for negatives
        return 5 + evaluate(text), len(words) - 1
    assert BRACKETS[words[-3]] == "=" and words[-1] == 11
    return evaluate("".join(BRACKETS[w] for w in words[:-3])), len(words) - 2


def check_batch(batch: tasks.Batch, task: str, n: int, min_len: int, max_len: int) -> None:
    """Every invariant of the documented layout, and every label recomputed independently."""
    pad = PAD[task]
    assert batch.task == task
    assert batch.tokens.dtype == batch.targets.dtype == batch.lengths.dtype == torch.long
    assert batch.tokens.shape == batch.targets.shape == (n, int(batch.lengths.max()))
    assert batch.lengths.shape == (n,)
    assert bool(((batch.lengths >= min_len) & (batch.lengths <= max_len)).all())
    assert bool(((batch.tokens >= 0) & (batch.tokens < batch.vocab_size)).all())
    assert ((batch.targets != -1).sum(dim=1) == 1).all(), "exactly one scored position per row"
    for row in range(n):
        length = int(batch.lengths[row])
        words = batch.tokens[row, :length].tolist()
        assert batch.tokens[row, length:].eq(pad).all(), "batch padding is PAD"
        answer, position = expected_answer(task, words)
        assert int(batch.targets[row, position]) == answer
        assert words[position] == pad, "the input at the answer position is PAD"
        assert pad not in words[:position], "no PAD among the input words"
        assert batch.answer_offset <= answer < batch.answer_offset + batch.n_classes
    assert torch.equal(batch.answer_positions, batch.lengths - (2 if task == "modular_arithmetic_with_brackets" else 1))


def test_paper_example_evaluates_to_3() -> None:
    assert evaluate("2-3-3*2") == 3  # the test's own evaluator, on the paper's example
    tokens = torch.tensor([[7, 2, 8, 2, 8, 3, 7]])
    assert tasks.evaluate_modular_arithmetic(tokens, torch.tensor([7])).tolist() == [3]
    # Prefixes of the same row by length: 2, 2 - 3, 2 - 3 - 3.
    assert tasks.evaluate_modular_arithmetic(tokens.repeat(3, 1), torch.tensor([1, 3, 5])).tolist() == [2, 4, 1]


def test_documented_examples_decode() -> None:
    examples = {
        "parity": ([2, 1, 2, 2, 0], [-1, -1, -1, -1, 2], "1 0 1 1 [1]"),
        "modular_arithmetic": ([7, 2, 8, 2, 8, 3, 7, 4, 0], [-1] * 8 + [8], "2 - 3 - 3 * 2 = [3]"),
        "modular_arithmetic_with_brackets": (
            [8, 1, 5, 8, 2, 9, 9, 10, 11, 11],
            [-1] * 8 + [3, -1],
            "( 1 + ( 2 ) ) = [3] _",
        ),
        "cycle_navigation": ([1, 1, 2, 0], [-1, -1, -1, 7], "-1 -1 0 [3]"),
    }
    for task, (tokens, targets, text) in examples.items():
        assert expected_answer(task, tokens) == (max(targets), targets.index(max(targets)))
        template = GENERATORS[task](1, 5, 5, seeded(0))
        rows = {
            "tokens": torch.tensor([tokens]),
            "targets": torch.tensor([targets]),
            "lengths": torch.tensor([len(tokens)]),
        }
        batch = dataclasses.replace(template, **rows)
        assert tasks.decode(batch, 0) == text


@pytest.mark.parametrize("task", GENERATORS)
def test_labels_and_layout(task: str) -> None:
    batch = GENERATORS[task](300, SHORTEST[task], 40, seeded(1))
    check_batch(batch, task, 300, SHORTEST[task], 40)


@pytest.mark.parametrize("mult", [False, True])
def test_brackets_operators(mult: bool) -> None:
    batch = tasks.modular_arithmetic_with_brackets(300, 4, 40, seeded(2), mult=mult)
    check_batch(batch, "modular_arithmetic_with_brackets", 300, 4, 40)
    assert bool((batch.tokens == 7).any()) == mult
    assert bool((batch.tokens == 5).any()) and bool((batch.tokens == 6).any())


@pytest.mark.parametrize("task", GENERATORS)
def test_seeded(task: str) -> None:
    first = GENERATORS[task](50, SHORTEST[task], 30, seeded(3))
    again = GENERATORS[task](50, SHORTEST[task], 30, seeded(3))
    for field in ("tokens", "targets", "lengths"):
        assert torch.equal(getattr(first, field), getattr(again, field))
    generator = seeded(3)
    GENERATORS[task](50, SHORTEST[task], 30, generator)
    fresh = GENERATORS[task](50, SHORTEST[task], 30, generator)
    assert not torch.equal(fresh.lengths, first.lengths) or not torch.equal(fresh.tokens, first.tokens)


@pytest.mark.parametrize("task", GENERATORS)
def test_lengths_cover_the_range(task: str) -> None:
    low, high = SHORTEST[task] + 1, SHORTEST[task] + 9
    lengths = set(GENERATORS[task](1000, low, high, seeded(4)).lengths.tolist())
    wanted = range(low, high + 1, 1)
    if task == "modular_arithmetic":
        wanted = [length for length in wanted if length % 2 == 1]
    assert lengths == set(wanted)


def test_fixed_length() -> None:
    batch = tasks.modular_arithmetic(20, 9, 9, seeded(5))
    assert batch.lengths.eq(9).all() and batch.tokens.shape == (20, 9)


@pytest.mark.parametrize(
    ("task", "vocab", "n_classes", "chance"),
    [
        ("parity", 3, 2, 0.5),
        ("modular_arithmetic", 10, 5, 0.2),
        ("modular_arithmetic_with_brackets", 12, 5, 0.2),
        ("cycle_navigation", 9, 5, 0.2),
    ],
)
def test_task_constants(task: str, vocab: int, n_classes: int, chance: float) -> None:
    batch = GENERATORS[task](10, 5, 9, seeded(6))
    assert (batch.vocab_size, batch.n_classes, batch.pad_token) == (vocab, n_classes, PAD[task])
    assert batch.chance_accuracy == pytest.approx(chance)


def test_answers_near_uniform() -> None:
    """A label that ignores the input would show up as a lopsided answer histogram."""
    for task, generator in GENERATORS.items():
        batch = generator(4000, 10, 20, seeded(7))
        answers = batch.targets[batch.targets != -1] - batch.answer_offset
        shares = torch.bincount(answers, minlength=batch.n_classes).double() / len(answers)
        assert shares.sub(batch.chance_accuracy).abs().max() < 0.05, (task, shares)


def test_scaled_accuracy() -> None:
    assert tasks.scaled_accuracy(0.5, 0.5) == 0.0
    assert tasks.scaled_accuracy(0.2, 0.2) == pytest.approx(0.0)
    assert tasks.scaled_accuracy(1.0, 0.2) == pytest.approx(1.0)
    assert tasks.scaled_accuracy(0.75, 0.5) == pytest.approx(0.5)
    assert tasks.scaled_accuracy(0.6, 0.2) == pytest.approx(0.5)
    assert tasks.scaled_accuracy(0.0, 0.5) == pytest.approx(-1.0)


def test_batch_is_frozen_and_moves() -> None:
    batch = tasks.parity(4, 3, 6, seeded(8))
    with pytest.raises(dataclasses.FrozenInstanceError):
        batch.tokens = batch.targets  # type: ignore[misc]
    moved = batch.to("cpu")
    assert torch.equal(moved.tokens, batch.tokens) and moved.task == "parity"


@settings(max_examples=40, deadline=None)
@given(
    task=st.sampled_from(sorted(GENERATORS)),
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 12),
    min_len=st.integers(1, 60),
    span=st.integers(0, 30),
)
def test_property_layout_and_labels(task: str, seed: int, n: int, min_len: int, span: int) -> None:
    min_len = max(min_len, SHORTEST[task])
    max_len = min_len + span
    if task == "modular_arithmetic" and min_len == max_len and min_len % 2 == 0:
        max_len += 1
    check_batch(GENERATORS[task](n, min_len, max_len, seeded(seed)), task, n, min_len, max_len)


@settings(max_examples=30, deadline=None)
@given(acc=st.floats(0, 1), chance=st.floats(0, 0.99))
def test_property_scaled_accuracy_is_affine(acc: float, chance: float) -> None:
    scaled = tasks.scaled_accuracy(acc, chance)
    assert scaled * (1 - chance) + chance == pytest.approx(acc, abs=1e-9)
    assert scaled <= 1 + 1e-12


@pytest.mark.parametrize("task", GENERATORS)
@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((0, 5, 9, torch.Generator()), ValueError),
        ((1.5, 5, 9, torch.Generator()), TypeError),
        ((True, 5, 9, torch.Generator()), TypeError),
        ((4, 9, 5, torch.Generator()), ValueError),
        ((4, 0, 5, torch.Generator()), ValueError),
        ((4, 1, 5, torch.Generator()), ValueError),
        ((4, 5, 9.0, torch.Generator()), TypeError),
        ((4, 5, 9, 0), TypeError),
        ((4, 5, 9, None), TypeError),
    ],
)
def test_bad_inputs(task: str, args: tuple, error: type[Exception]) -> None:
    with pytest.raises(error):
        GENERATORS[task](*args)


def test_bad_task_specific_inputs() -> None:
    with pytest.raises(ValueError, match="odd"):
        tasks.modular_arithmetic(4, 6, 6, seeded(0))
    with pytest.raises(ValueError, match="at least 4"):
        tasks.modular_arithmetic_with_brackets(4, 3, 8, seeded(0))
    with pytest.raises(TypeError, match="mult"):
        tasks.modular_arithmetic_with_brackets(4, 4, 8, seeded(0), mult=1)
    with pytest.raises(TypeError):
        tasks.evaluate_modular_arithmetic(torch.tensor([[7.0]]), torch.tensor([1]))
    with pytest.raises(ValueError):
        tasks.evaluate_modular_arithmetic(torch.tensor([[7, 1]]), torch.tensor([2]))
    with pytest.raises(ValueError):
        tasks.evaluate_modular_arithmetic(torch.tensor([[7, 4, 7]]), torch.tensor([3]))
    with pytest.raises(ValueError):
        tasks.evaluate_modular_arithmetic(torch.tensor([[7, 1, 7]]), torch.tensor([3, 3]))


def test_bad_metric_and_decode_inputs() -> None:
    with pytest.raises(ValueError):
        tasks.scaled_accuracy(0.5, 1.0)
    with pytest.raises(ValueError):
        tasks.scaled_accuracy(1.5, 0.5)
    with pytest.raises(TypeError):
        tasks.scaled_accuracy("0.5", 0.5)
    with pytest.raises(TypeError):
        tasks.scaled_accuracy(torch.tensor(0.5), 0.5)
    batch = tasks.parity(3, 3, 6, seeded(0))
    with pytest.raises(ValueError):
        tasks.decode(batch, 3)
    with pytest.raises(TypeError):
        tasks.decode(batch, 0.0)
    with pytest.raises(TypeError):
        tasks.decode(batch.tokens, 0)


def test_helpers_reject_wrong_arguments():
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="length must be at least 1"):
        tasks.random_bracketed_expression(0, generator, False)
    with pytest.raises(TypeError, match="length must be an int"):
        tasks.random_bracketed_expression(2.0, generator, False)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        tasks.random_bracketed_expression(5, None, False)
    with pytest.raises(ValueError, match="min_len must not exceed max_len"):
        tasks.uniform_lengths(3, 5, 2, generator)
    with pytest.raises(ValueError, match="step must be at least 1"):
        tasks.uniform_lengths(3, 2, 5, generator, step=0)
    with pytest.raises(ValueError, match="n must be at least 1"):
        tasks.uniform_lengths(-1, 2, 5, generator)


def test_decode_refuses_a_word_problem_batch():
    batch = tasks.WORD_PROBLEMS["S3"](2, 1, 3, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="decode reads batches of parity"):
        tasks.decode(batch, 0)
