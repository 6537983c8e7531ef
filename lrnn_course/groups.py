"""Group word problems: read group elements one by one and output the running product (Lesson 08).

The word problem of a finite group G (Merrill et al. 2024; Grazzi et al. 2025, §5.2): inputs
x_1 … x_T are elements of G drawn uniformly, and the target at every position t is the prefix
product y_t = x_1 · x_2 ⋯ x_t. Tracking the state of any finite automaton whose transitions are
invertible is such a word problem, which is why S₅ (the hardest, NC¹-complete) is the benchmark.

Glossary (code name -> paper symbol or term):

==========================  ==============================================================
``Group``                   G, a finite group of permutations of ``degree`` points (Cayley:
                            every finite group is one); ``elements[0]`` is the identity
``table``                   the Cayley table: ``table[a, b]`` is the index of "a, then b"
``compose(first, then)``    the permutation i -> then(first(i)): the state after reading
                            ``first`` and then ``then``
``prefix_products``         y_t = x_1 ⋯ x_t, the targets of the word problem
==========================  ==============================================================

This module is the groups' maths only; the word problems as training tasks (batches of words,
their targets, the sequence accuracy) are ``tasks.WORD_PROBLEMS`` and ``tasks.sequence_accuracy``.

Group names follow the authors' data generator: ``S<n>`` (symmetric), ``A<n>`` (alternating, the
even permutations), ``Z<m>`` (cyclic) and ``<G>_x_<H>`` (direct product, acting on disjoint points).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cached_property

import torch

from .householder import cycles, require_permutation
from .validate import require_positive_int

Permutation = tuple[int, ...]


def compose(first: Permutation, then: Permutation) -> Permutation:
    """The permutation "``first``, then ``then``": i -> then[first[i]]."""
    if len(first) != len(then):
        raise ValueError(f"first and then must permute the same number of points, got {len(first)} and {len(then)}")
    return tuple(then[image] for image in first)


def moved_points(permutation: Permutation) -> int:
    """How many points the permutation moves (0 for the identity, 2 for a swap, 3 for a 3-cycle)."""
    return sum(image != point for point, image in enumerate(permutation))


def is_even(permutation: Permutation) -> bool:
    """An even permutation is a product of an even number of swaps: n - c(σ) is even."""
    return (len(permutation) - len(cycles(permutation))) % 2 == 0


@dataclass(frozen=True)
class Group:
    """A finite group given by its elements as permutations of ``degree`` points, identity first."""

    name: str
    elements: tuple[Permutation, ...]

    def __post_init__(self) -> None:
        if not self.elements or self.elements[0] != tuple(range(len(self.elements[0]))):
            raise ValueError(f"group {self.name}: elements[0] must be the identity")
        if len(set(self.elements)) != len(self.elements):
            raise ValueError(f"group {self.name}: elements repeat")
        for element in self.elements:
            require_permutation(element)
            if len(element) != len(self.elements[0]):
                raise ValueError(
                    f"group {self.name}: every element must permute {len(self.elements[0])} points, got {element}"
                )

    @property
    def order(self) -> int:
        """|G|, the number of elements (the number of classes of the word problem)."""
        return len(self.elements)

    @property
    def degree(self) -> int:
        """n, the number of points the permutations act on (the state size of Theorem 3's LRNN)."""
        return len(self.elements[0])

    @cached_property
    def index(self) -> dict[Permutation, int]:
        """The element index of each permutation."""
        return {element: position for position, element in enumerate(self.elements)}

    @cached_property
    def table(self) -> torch.Tensor:
        """LongTensor (|G|, |G|): ``table[a, b]`` is the index of a, then b. Raises if G is not closed."""
        try:
            rows = [[self.index[compose(a, b)] for b in self.elements] for a in self.elements]
        except KeyError as error:
            raise ValueError(f"group {self.name} is not closed under composition: {error.args[0]} is missing") from None
        return torch.tensor(rows, dtype=torch.long)


def symmetric_group(n: int) -> Group:
    """S_n: all n! permutations of n points, in lexicographic order (the identity first)."""
    require_positive_int(n, "n")
    return Group(f"S{n}", tuple(itertools.permutations(range(n))))


def alternating_group(n: int) -> Group:
    """A_n: the n!/2 even permutations of n points."""
    require_positive_int(n, "n")
    return Group(f"A{n}", tuple(p for p in itertools.permutations(range(n)) if is_even(p)))


def cyclic_group(m: int) -> Group:
    """Z_m as the m rotations of m points: element k sends i to i + k mod m."""
    require_positive_int(m, "m")
    return Group(f"Z{m}", tuple(tuple((point + shift) % m for point in range(m)) for shift in range(m)))


def direct_product(first: Group, second: Group) -> Group:
    """G × H acting on the disjoint union of their points; element index = i_G · |H| + i_H."""
    for value, name in ((first, "first"), (second, "second")):
        if not isinstance(value, Group):
            raise TypeError(f"{name} must be a Group, got {type(value).__name__}")
    offset = first.degree
    elements = tuple(a + tuple(offset + image for image in b) for a in first.elements for b in second.elements)
    return Group(f"{first.name}_x_{second.name}", elements)


_FACTORIES = {"S": symmetric_group, "A": alternating_group, "Z": cyclic_group}


def group(name: str) -> Group:
    """The group called ``name``: "S5", "A4", "Z60", "A4_x_Z5", …"""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    factors = name.split("_x_")
    if not all(re.fullmatch(r"[SAZ][1-9]\d*", factor) for factor in factors):
        raise ValueError(f"unknown group {name!r}: use S<n>, A<n>, Z<m> or products such as A4_x_Z5")
    result = _FACTORIES[factors[0][0]](int(factors[0][1:]))
    for factor in factors[1:]:
        result = direct_product(result, _FACTORIES[factor[0]](int(factor[1:])))
    return result


def require_words(words: object, alphabet_size: int, what: str = "letters") -> torch.Tensor:
    """``words`` if it is a LongTensor (N, T) of ``what`` in [0, alphabet_size), else raise."""
    if not isinstance(words, torch.Tensor) or words.dtype != torch.long or words.dim() != 2:
        raise TypeError(f"words must be a LongTensor (N, T) of {what}")
    if bool(((words < 0) | (words >= alphabet_size)).any()):
        raise ValueError(
            f"words must hold {what} in [0, {alphabet_size - 1}], got {int(words.min())}..{int(words.max())}"
        )
    return words


def prefix_products(table: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """The word problem's targets: y_t = x_1 ⋯ x_t for every row of ``words``.

    Args:
        table: LongTensor (|G|, |G|), the Cayley table (``Group.table``): table[a, b] = a, then b.
        words: LongTensor (N, T) of element indices.

    Returns:
        LongTensor (N, T): the index of the product of each prefix.
    """
    if (
        not isinstance(table, torch.Tensor)
        or table.dtype != torch.long
        or table.dim() != 2
        or table.shape[0] != table.shape[1]
    ):
        raise TypeError("table must be a square LongTensor (|G|, |G|)")
    outside = (table < 0) | (table >= table.shape[0])
    if bool(outside.any()):
        raise ValueError(
            f"table must hold element indices in [0, {table.shape[0] - 1}] (a Cayley table (|G|, |G|)), "
            f"got {int(table[outside][0])} ({int(outside.sum())} entries outside)"
        )
    require_words(words, table.shape[0], "element indices")
    ### BEGIN SOLUTION
    products = torch.empty_like(words)
    state = torch.zeros(words.shape[0], dtype=torch.long, device=words.device)
    for t in range(words.shape[1]):
        state = table[state, words[:, t]]
        products[:, t] = state
    return products
    ### END SOLUTION
