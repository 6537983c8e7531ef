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
``WordProblem``             a group, the input alphabet (all of G or a subset, e.g. the swaps),
                            and the number of tokens that spell one element (1, or 4 in the
                            paper's "4 tokens per transition" S₅ variant)
``WORD_PROBLEMS``           the named tasks: ``"S3"``, ``"S5_only_swaps"``, ``"A4_x_Z5"`` …
``sequence_accuracy``       cumulative sequence accuracy at t: the fraction of sequences whose
                            predictions are all right up to position t (the DeltaProduct code's
                            ``cumulative_sequence_accuracies``)
==========================  ==============================================================

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
from .tasks import IGNORE, Batch, uniform_lengths, validate_task_inputs
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
                raise ValueError(f"group {self.name}: every element must permute {len(self.elements[0])} points, got {element}")

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
        raise ValueError(f"words must hold {what} in [0, {alphabet_size - 1}], got {int(words.min())}..{int(words.max())}")
    return words


def prefix_products(table: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """The word problem's targets: y_t = x_1 ⋯ x_t for every row of ``words``.

    Args:
        table: LongTensor (|G|, |G|), the Cayley table (``Group.table``): table[a, b] = a, then b.
        words: LongTensor (N, T) of element indices.

    Returns:
        LongTensor (N, T): the index of the product of each prefix.
    """
    if not isinstance(table, torch.Tensor) or table.dtype != torch.long or table.dim() != 2 or table.shape[0] != table.shape[1]:
        raise TypeError("table must be a square LongTensor (|G|, |G|)")
    outside = (table < 0) | (table >= table.shape[0])
    if bool(outside.any()):
        raise ValueError(f"table must hold element indices in [0, {table.shape[0] - 1}] (a Cayley table (|G|, |G|)), "
                         f"got {int(table[outside][0])} ({int(outside.sum())} entries outside)")
    require_words(words, table.shape[0], "element indices")
    ### BEGIN SOLUTION
    products = torch.empty_like(words)
    state = torch.zeros(words.shape[0], dtype=torch.long, device=words.device)
    for t in range(words.shape[1]):
        state = table[state, words[:, t]]
        products[:, t] = state
    return products
    ### END SOLUTION


def sequence_accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cumulative sequence accuracy: entry t is the fraction of rows right at every position ≤ t.

    Args:
        predictions: LongTensor (N, T), the predicted class at every position.
        targets: LongTensor (N, T), the right class, or -1 where nothing is scored (padding);
            unscored positions count as right.

    Returns:
        float32 tensor (T,), non-increasing in t.
    """
    for x, name in ((predictions, "predictions"), (targets, "targets")):
        if not isinstance(x, torch.Tensor) or x.dtype != torch.long or x.dim() != 2:
            raise TypeError(f"{name} must be a LongTensor (N, T)")
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions {tuple(predictions.shape)} and targets {tuple(targets.shape)} must have the same shape")
    if predictions.shape[0] == 0:
        raise ValueError("need at least one sequence")
    ### BEGIN SOLUTION
    right = (predictions == targets) | (targets == IGNORE)
    return right.long().cumprod(dim=1).float().mean(dim=0)
    ### END SOLUTION


@dataclass(frozen=True)
class WordProblem:
    """A word-problem task: a group, the elements that may appear as inputs, tokens per element.

    With ``tokens_per_element`` = k > 1 each input element is followed by k - 1 copies of a blank
    token (index |G|) and the target at position t is the product of the elements read up to
    position t - (k - 1) (the identity before): the model gets k steps to apply each element.
    """

    name: str
    group: Group
    alphabet: tuple[int, ...]
    tokens_per_element: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.group, Group):
            raise TypeError(f"group must be a Group, got {type(self.group).__name__}")
        require_positive_int(self.tokens_per_element, "tokens_per_element")
        if not self.alphabet or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.group.order
                                    for i in self.alphabet):
            raise ValueError(f"alphabet must be a non-empty tuple of element indices in [0, {self.group.order - 1}], "
                             f"got {self.alphabet!r}")

    @property
    def blank_token(self) -> int:
        return self.group.order

    @property
    def pad_token(self) -> int:
        return self.group.order + 1

    @property
    def vocab_size(self) -> int:
        return self.group.order + 2

    def __call__(self, n: int, min_len: int, max_len: int, generator: torch.Generator) -> Batch:
        """N sequences of lengths U[min_len, max_len], PAD (target -1) after each length.

        Worked example, S3 (elements in lexicographic order, 1 = (0 2 1), 2 = (1 0 2)), words 1 2 2:
        tokens = [1, 2, 2], targets = [1, 3, 1] (1 then 2 is element 3 = (1 2 0)).
        """
        validate_task_inputs(n, min_len, max_len, generator, shortest=1)
        lengths = uniform_lengths(n, min_len, max_len, generator)
        alphabet = torch.tensor(self.alphabet)
        k = self.tokens_per_element
        elements = alphabet[torch.randint(len(alphabet), (n, -(-max_len // k)), generator=generator)]
        products = prefix_products(self.group.table, elements)
        tokens = torch.full((n, elements.shape[1] * k), self.blank_token, dtype=torch.long)
        tokens[:, ::k] = elements
        # Position t is scored on the elements read by t - (k - 1), the identity (index 0) before.
        elements_read = (torch.arange(tokens.shape[1]) - (k - 1)) // k
        targets = torch.where(elements_read >= 0, products[:, elements_read.clamp(min=0)], 0)
        tokens, targets = tokens[:, :max_len], targets[:, :max_len]
        beyond = torch.arange(max_len) >= lengths[:, None]
        tokens[beyond], targets[beyond] = self.pad_token, IGNORE
        width = int(lengths.max())
        return Batch(self.name, tokens[:, :width], targets[:, :width], lengths, self.vocab_size, self.pad_token, 0,
                     self.group.order, 1.0 / self.group.order, every_position=True)


def word_problem(group_name: str, max_moved: int | None = None, tokens_per_element: int = 1, name: str | None = None) -> WordProblem:
    """The word problem of ``group_name``; inputs only the elements moving ≤ ``max_moved`` points if given."""
    if max_moved is not None and (isinstance(max_moved, bool) or not isinstance(max_moved, int) or max_moved < 0):
        raise ValueError(f"max_moved must be a non-negative int or None, got {max_moved!r}")
    chosen = group(group_name)
    alphabet = tuple(i for i, element in enumerate(chosen.elements) if max_moved is None or moved_points(element) <= max_moved)
    return WordProblem(name or group_name, chosen, alphabet, tokens_per_element)


WORD_PROBLEMS: dict[str, WordProblem] = {
    problem.name: problem
    for problem in (
        word_problem("S3"),
        word_problem("S4"),
        word_problem("S5"),
        word_problem("A4"),
        word_problem("A5"),
        word_problem("Z5"),
        word_problem("Z60"),
        word_problem("A4_x_Z5"),
        word_problem("S4", max_moved=2, name="S4_only_swaps"),
        word_problem("S5", max_moved=2, name="S5_only_swaps"),
        word_problem("S5", max_moved=3, name="S5_swaps_and_3_cycles"),
        word_problem("S5", tokens_per_element=4, name="S5_4_tokens"),
    )
}
