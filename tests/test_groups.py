"""Groups and word problems, checked against an independent evaluator: follow each point through the word."""

from __future__ import annotations

import math

import pytest
import torch

from lrnn_course import groups, tasks


def follow(elements, word):
    """The prefix products of ``word`` as permutations, by tracking where every point goes (no tables)."""
    n = len(elements[0])
    where = list(range(n))
    products = []
    for letter in word:
        where = [elements[letter][point] for point in where]
        products.append(tuple(where))
    return products


@pytest.mark.parametrize(
    ("name", "order", "degree"),
    [
        ("S3", 6, 3),
        ("S4", 24, 4),
        ("S5", 120, 5),
        ("A4", 12, 4),
        ("A5", 60, 5),
        ("Z5", 5, 5),
        ("Z60", 60, 60),
        ("A4_x_Z5", 60, 9),
    ],
)
def test_groups_have_their_order_and_the_identity_first(name, order, degree):
    group = groups.group(name)
    assert (group.order, group.degree) == (order, degree)
    assert group.elements[0] == tuple(range(degree))
    assert group.table.shape == (order, order)
    assert torch.equal(group.table[0], torch.arange(order)) and torch.equal(group.table[:, 0], torch.arange(order))


def test_alternating_groups_hold_the_even_permutations_only():
    assert all(groups.is_even(p) for p in groups.group("A5").elements)
    assert sum(groups.is_even(p) for p in groups.group("S5").elements) == 60
    assert groups.is_even((1, 2, 0)) and not groups.is_even((1, 0, 2))


def test_the_cayley_table_composes_first_then_second():
    s3 = groups.group("S3")
    for a, first in enumerate(s3.elements):
        for b, then in enumerate(s3.elements):
            expected = tuple(then[first[point]] for point in range(3))
            assert s3.elements[int(s3.table[a, b])] == expected


@pytest.mark.parametrize("name", ["S3", "S5", "A4_x_Z5", "Z60"])
def test_prefix_products_match_following_the_points(name):
    group = groups.group(name)
    words = torch.randint(group.order, (20, 30), generator=torch.Generator().manual_seed(1))
    products = groups.prefix_products(group.table, words)
    for word, row in zip(words.tolist(), products.tolist()):
        assert [group.elements[index] for index in row] == follow(group.elements, word)


@pytest.mark.parametrize("name", sorted(tasks.WORD_PROBLEMS))
def test_every_word_problem_labels_match_the_independent_evaluator(name):
    problem = tasks.WORD_PROBLEMS[name]
    batch = problem(16, 5, 24, torch.Generator().manual_seed(2))
    k = problem.tokens_per_element
    assert (
        batch.every_position and batch.n_classes == problem.group.order and batch.vocab_size == problem.group.order + 2
    )
    for tokens, targets, length in zip(batch.tokens.tolist(), batch.targets.tolist(), batch.lengths.tolist()):
        assert all(token == problem.pad_token for token in tokens[length:]) and all(t == -1 for t in targets[length:])
        letters = tokens[:length]
        assert all(token == problem.blank_token for position, token in enumerate(letters) if position % k)
        elements = letters[::k]
        assert all(element in problem.alphabet for element in elements)
        products = follow(problem.group.elements, elements)
        for position in range(length):
            read = (position - (k - 1)) // k
            expected = problem.group.elements[0] if read < 0 else products[read]
            assert problem.group.elements[targets[position]] == expected


def test_restricted_alphabets_hold_the_swaps_and_three_cycles():
    swaps = tasks.WORD_PROBLEMS["S5_only_swaps"].alphabet
    with_cycles = tasks.WORD_PROBLEMS["S5_swaps_and_3_cycles"].alphabet
    assert len(swaps) == 1 + math.comb(5, 2) and len(with_cycles) == 1 + math.comb(5, 2) + 2 * math.comb(5, 3)
    assert {groups.moved_points(groups.group("S5").elements[i]) for i in swaps} == {0, 2}


def test_the_docstring_example():
    s3 = groups.group("S3")
    assert groups.prefix_products(s3.table, torch.tensor([[1, 2, 2]])).tolist() == [[1, 3, 1]]


def test_sequence_accuracy_by_hand():
    targets = torch.tensor([[1, 2, 3, -1], [1, 2, 3, 4], [1, 2, 3, 4]])
    predictions = torch.tensor([[1, 2, 3, 0], [1, 0, 3, 4], [0, 2, 3, 4]])
    # Row 0 is right everywhere it is scored, row 1 fails at t = 1, row 2 at t = 0.
    assert tasks.sequence_accuracy(predictions, targets).tolist() == pytest.approx([2 / 3, 1 / 3, 1 / 3, 1 / 3])


def test_wrong_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown group"):
        groups.group("Q8")
    with pytest.raises(TypeError, match="square LongTensor"):
        groups.prefix_products(torch.zeros(3, 3), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="element indices"):
        groups.prefix_products(groups.group("S3").table, torch.tensor([[6]]))
    with pytest.raises(ValueError, match="same shape"):
        tasks.sequence_accuracy(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="not closed"):
        _ = groups.Group("broken", ((0, 1, 2), (1, 2, 0))).table
    with pytest.raises(ValueError, match="single answer position"):
        _ = tasks.WORD_PROBLEMS["S3"](2, 4, 4, torch.Generator()).answer_positions


def test_wrong_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="must permute the same number of points"):
        groups.compose((0, 1, 2), (1, 0))
    with pytest.raises(ValueError, match="every element must permute 2 points"):
        groups.Group("mixed", ((0, 1), (1, 0, 2)))
    with pytest.raises(TypeError, match="first must be a Group"):
        groups.direct_product(1, groups.group("Z2"))
    with pytest.raises(ValueError, match="tokens_per_element must be at least 1"):
        tasks.word_problem("S3", tokens_per_element=0)
    with pytest.raises(ValueError, match="max_moved must be a non-negative int"):
        tasks.word_problem("S3", max_moved=-1)
    with pytest.raises(ValueError, match=r"alphabet must be a non-empty tuple of element indices in \[0, 5\]"):
        tasks.WordProblem("bad", groups.group("S3"), (9,))
    with pytest.raises(ValueError, match="alphabet must be a non-empty tuple"):
        tasks.WordProblem("empty", groups.group("S3"), ())


@pytest.mark.parametrize("entry", [99, -1])
def test_prefix_products_refuses_table_entries_outside_the_group(entry: int) -> None:
    table = groups.group("S3").table.clone()
    table[0, 0] = entry
    with pytest.raises(
        ValueError, match=rf"table must hold element indices in \[0, 5\].*got {entry} \(1 entries outside\)"
    ):
        groups.prefix_products(table, torch.zeros(2, 3, dtype=torch.long))
