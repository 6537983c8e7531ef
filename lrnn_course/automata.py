"""Hand-built automata as linear RNNs: the constructions of Theorems 3, 4 and 6, no training.

Every automaton here is the generic LRNN of the paper's eq. (1), one matrix per input letter:

    H_t = A(x_t) H_{t-1} + B(x_t),   H_0 given,

with every A(x) a product of generalized Householder matrices I - β k kᵀ, β ∈ {1, 2}.

Glossary (code name -> paper symbol, Grazzi et al. 2025):

=========================  =================================================================
``transitions``            A(x) for each letter x, stacked: (|Σ|, n, n)
``inputs``                 B(x) for each letter, stacked: (|Σ|, n)
``initial_state``          H_0, shape (n,)
``linear_rnn``             the recurrence above over a batch of words (N, T) -> states (N, T, n)
``transition_matrices``    Theorem 3: the permutation matrix of each letter as a product of
                           n - c(σ) swap reflections (β = 2, keys e_i - e_j)
``GroupAutomaton``         Theorem 3's one-layer LRNN for a group word problem: H_0 = (1, …, n)ᵀ,
                           B ≡ 0, H_t = P_{y_t} H_0 read back into the prefix product y_t
``ModularAdder``           Theorem 6 (App. D): two layers of reflections only — layer 1 is
                           A ≡ -1 (a position counter mod 2), layer 2 reflects the 2-D state
                           at angle θ(i, odd) = (1 - 2i)π/m or θ(i, even) = (1 + 2i)π/m
``ResetAutomaton``         Theorem 4's building block, a permutation–reset automaton: one-hot
                           states, permutations as reflections, and a reset to state q as
                           A = ∏_i (I - e_i e_iᵀ) = 0 (β = 1: each factor erases a coordinate)
                           with B = e_q
=========================  =================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from .groups import Group, require_words
from .householder import generalized_householder, permutation_reflections, product_of_reflections, require_permutation
from .validate import require_finite, require_float_dtype, require_positive_int, require_tensor


def linear_rnn(
    transitions: torch.Tensor, inputs: torch.Tensor, initial_state: torch.Tensor, words: torch.Tensor
) -> torch.Tensor:
    """H_t = A(x_t) H_{t-1} + B(x_t) for every word: the states (N, T, n), in the dtype of ``transitions``.

    Args:
        transitions: A, (|Σ|, n, n).
        inputs: B, (|Σ|, n).
        initial_state: H_0, (n,).
        words: LongTensor (N, T) of letters in [0, |Σ|).
    """
    require_tensor(transitions, "transitions", 3, "(|Σ|, n, n)")
    require_tensor(inputs, "inputs", 2, "(|Σ|, n)")
    require_tensor(initial_state, "initial_state", 1, "(n,)")
    letters, n = transitions.shape[0], transitions.shape[1]
    if transitions.shape != (letters, n, n) or inputs.shape != (letters, n) or initial_state.shape != (n,):
        raise ValueError(
            f"need transitions (|Σ|, n, n), inputs (|Σ|, n), initial_state (n,); got {tuple(transitions.shape)}, "
            f"{tuple(inputs.shape)}, {tuple(initial_state.shape)}"
        )
    for x, name in ((transitions, "transitions"), (inputs, "inputs"), (initial_state, "initial_state")):
        require_finite(x, name)
    require_words(words, letters)
    inputs, state = inputs.to(transitions.dtype), initial_state.to(transitions.dtype).expand(words.shape[0], n)
    states = []
    # collected and stacked: writes into states[:, t] would make a backward pass quadratic in T, as reads do
    for letters in words.unbind(1):
        state = (transitions[letters] @ state[..., None])[..., 0] + inputs[letters]
        states.append(state)
    return torch.stack(states, dim=1) if states else torch.empty(*words.shape, n, dtype=transitions.dtype)


def transition_matrices(permutations: Sequence[Sequence[int]], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Theorem 3's transitions: the permutation matrix of each σ (P e_i = e_σ(i)) as a product of reflections.

    Args:
        permutations: the letters, each a permutation of the same n points (σ(i) at position i).
        dtype: of the result. The products are 0s and 1s: exact in every floating dtype when built with
            ``product_of_reflections`` (it divides by kᵀk); with k̂ = k/‖k‖ float64 keeps a rounding of
            about 1e-16, which a conversion to float16 rounds away.

    Returns:
        Tensor (len(permutations), n, n).
    """
    require_float_dtype(dtype)
    if not permutations:
        raise ValueError("permutations must not be empty")
    checked = [require_permutation(permutation) for permutation in permutations]
    if len({len(permutation) for permutation in checked}) != 1:
        raise ValueError("every permutation must act on the same number of points")
    ### BEGIN SOLUTION
    n = len(checked[0])
    return torch.stack([product_of_reflections(permutation_reflections(permutation), n) for permutation in checked]).to(
        dtype
    )
    ### END SOLUTION


@dataclass(frozen=True)
class GroupAutomaton:
    """Theorem 3: a one-layer LRNN that outputs the prefix products of a group word problem.

    The state H_t = P_{y_t} (1, …, n)ᵀ holds value i + 1 at point y_t(i); reading which point holds
    which value recovers the permutation y_t, hence its element index.
    """

    group: Group
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        if not isinstance(self.group, Group):
            raise TypeError(f"group must be a Group, got {type(self.group).__name__}")
        require_float_dtype(self.dtype)
        if self.group.degree > 15:
            raise ValueError(
                f"{self.group.name} acts on {self.group.degree} points; reading states back supports at most 15"
            )

    @cached_property
    def transitions(self) -> torch.Tensor:
        return transition_matrices(self.group.elements, self.dtype)

    @property
    def initial_state(self) -> torch.Tensor:
        return torch.arange(1, self.group.degree + 1, dtype=self.dtype)

    @cached_property
    def _codes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Each element's state code, sorted, and the element index of each sorted code."""
        codes = self._code(self.transitions @ self.initial_state)
        return codes.sort()

    def _code(self, states: torch.Tensor) -> torch.Tensor:
        """An integer per state: the values at the n points read as the digits of a base-(n + 1) number."""
        n = self.group.degree
        return (torch.round(states).long() * (n + 1) ** torch.arange(n)).sum(dim=-1)

    def states(self, words: torch.Tensor) -> torch.Tensor:
        """H_t for words of element indices (N, T): (N, T, n)."""
        n = self.group.degree
        return linear_rnn(
            self.transitions, torch.zeros(self.group.order, n, dtype=self.dtype), self.initial_state, words
        )

    def read(self, states: torch.Tensor) -> torch.Tensor:
        """The element index y_t of each state (..., n); -1 where no element has that state."""
        require_tensor(states, "states")
        if states.dim() == 0 or states.shape[-1] != self.group.degree:
            raise ValueError(f"states must have shape (..., {self.group.degree}), got {tuple(states.shape)}")
        sorted_codes, elements = self._codes
        codes = self._code(states)
        slot = torch.searchsorted(sorted_codes, codes).clamp(max=len(sorted_codes) - 1)
        return torch.where(sorted_codes[slot] == codes, elements[slot], -1)

    def __call__(self, words: torch.Tensor) -> torch.Tensor:
        """The prefix products of words (N, T), as element indices (N, T)."""
        return self.read(self.states(words))


def reflection(angle: float | torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """H(θ) = [[cos θ, sin θ], [sin θ, -cos θ]]: the reflection across the line at angle θ/2, as I - 2uuᵀ."""
    require_float_dtype(dtype)
    half = torch.as_tensor(angle, dtype=torch.float64) / 2
    require_finite(half, "angle")
    key = torch.stack([-torch.sin(half), torch.cos(half)], dim=-1)
    return generalized_householder(key, 2.0).to(dtype)


@dataclass(frozen=True)
class ModularAdder:
    """Theorem 6: x_1 + … + x_t mod m from two layers whose transitions are single reflections.

    Layer 1 (1-D, A ≡ -1, H_0 = 1) alternates sign: negative at odd t. Layer 2 reads the digit
    and that sign; its reflection angles make each pair of steps a rotation by 2π(x_{t-1} + x_t)/m,
    so H_t sits at angle 2π s_t/m at even t and π/m - 2π s_t/m at odd t: 2m states in all.
    """

    modulus: int
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        require_positive_int(self.modulus, "modulus")
        require_float_dtype(self.dtype)

    def layer_transitions(self) -> torch.Tensor:
        """Layer 2's A for the 2m letters x + m·[t odd]: (2m, 2, 2)."""
        digits = torch.arange(self.modulus, dtype=torch.float64)
        even = (1 + 2 * digits) * math.pi / self.modulus
        odd = (1 - 2 * digits) * math.pi / self.modulus
        return reflection(torch.cat([even, odd]), self.dtype)

    def states(self, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both layers' states for digits (N, T) in [0, m): (N, T, 1) and (N, T, 2)."""
        require_words(digits, self.modulus)
        counter = linear_rnn(
            -torch.ones(1, 1, 1, dtype=self.dtype),
            torch.zeros(1, 1, dtype=self.dtype),
            torch.ones(1, dtype=self.dtype),
            torch.zeros_like(digits),
        )
        letters = digits + self.modulus * (counter[..., 0] < 0).long()
        rotation = linear_rnn(
            self.layer_transitions(),
            torch.zeros(2 * self.modulus, 2, dtype=self.dtype),
            torch.tensor([1.0, 0.0], dtype=self.dtype),
            letters,
        )
        return counter, rotation

    def __call__(self, digits: torch.Tensor) -> torch.Tensor:
        """The running sums mod m, read from the angle of layer 2's state and layer 1's sign: (N, T)."""
        counter, rotation = self.states(digits)
        angle = torch.atan2(rotation[..., 1].double(), rotation[..., 0].double())
        odd = counter[..., 0] < 0
        turns = torch.where(odd, math.pi / self.modulus - angle, angle) * self.modulus / (2 * math.pi)
        return torch.round(turns).long() % self.modulus


@dataclass(frozen=True)
class ResetAutomaton:
    """A permutation–reset automaton on n states as a one-layer LRNN with one-hot states.

    ``letters[x]`` is either a permutation of the n states (A = its matrix as reflections, B = 0)
    or an int q, a reset to state q (A = ∏_i (I - e_i e_iᵀ) = 0 and B = e_q).
    """

    letters: tuple[tuple[int, ...] | int, ...]
    n_states: int
    start: int = 0
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        require_positive_int(self.n_states, "n_states")
        require_float_dtype(self.dtype)
        if not self.letters:
            raise ValueError("letters must hold at least one letter (a permutation or a reset)")
        if isinstance(self.start, bool) or not isinstance(self.start, int):
            raise TypeError(f"start must be an int, got {type(self.start).__name__}")
        for letter in self.letters:
            if isinstance(letter, int) and not isinstance(letter, bool):
                if not 0 <= letter < self.n_states:
                    raise ValueError(f"a reset must name a state in [0, {self.n_states - 1}], got {letter}")
            elif len(require_permutation(letter)) != self.n_states:
                raise ValueError(f"letter {letter} must permute the {self.n_states} states")
        if not 0 <= self.start < self.n_states:
            raise ValueError(f"start must be a state in [0, {self.n_states - 1}], got {self.start}")

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A (|Σ|, n, n) and B (|Σ|, n) of every letter."""
        n, identity = self.n_states, torch.eye(self.n_states, dtype=torch.float64)
        transitions, inputs = [], []
        for letter in self.letters:
            if isinstance(letter, int):
                erase_all = identity
                for point in range(n):
                    erase_all = generalized_householder(identity[point], 1.0) @ erase_all
                transitions.append(erase_all)
                inputs.append(identity[letter])
            else:
                transitions.append(product_of_reflections(permutation_reflections(letter), n))
                inputs.append(torch.zeros(n, dtype=torch.float64))
        return torch.stack(transitions).to(self.dtype), torch.stack(inputs).to(self.dtype)

    def __call__(self, words: torch.Tensor) -> torch.Tensor:
        """The automaton's state after each letter of words (N, T): (N, T), read as the one-hot's position."""
        transitions, inputs = self.matrices()
        start = torch.zeros(self.n_states, dtype=self.dtype)
        start[self.start] = 1.0
        return linear_rnn(transitions, inputs, start, words).argmax(dim=-1)
