"""The hand-built automata of Theorems 3, 4 and 6: 1 000 random words of length 10 000 each, zero errors."""

from __future__ import annotations

import pytest
import torch

from lrnn_course import automata, groups, householder

WORDS, LENGTH = 1000, 10_000


@pytest.mark.parametrize("name", ["S3", "S5", "A4_x_Z5"])
def test_group_automaton_is_exact_for_ten_thousand_steps(name):
    group = groups.group(name)
    words = torch.randint(group.order, (WORDS, LENGTH), generator=torch.Generator().manual_seed(3))
    states = automata.GroupAutomaton(group).states(words)
    assert torch.equal(states, states.round()), "the swap reflections must keep the states exact integers"
    errors = (automata.GroupAutomaton(group).read(states) != groups.prefix_products(group.table, words)).sum().item()
    assert errors == 0


@pytest.mark.parametrize(("modulus", "words"), [(5, WORDS), (3, 100), (7, 100)])
def test_theorem_6_adder_is_exact_for_ten_thousand_steps(modulus, words):
    digits = torch.randint(modulus, (words, LENGTH), generator=torch.Generator().manual_seed(modulus))
    sums = automata.ModularAdder(modulus)(digits)
    assert (sums != digits.cumsum(dim=1) % modulus).sum().item() == 0


def test_theorem_6_adder_visits_two_m_states_and_each_step_is_one_reflection():
    adder = automata.ModularAdder(5, dtype=torch.float64)
    matrices = adder.layer_transitions()
    eigenvalues = torch.linalg.eigvalsh(matrices)
    assert torch.allclose(eigenvalues, torch.tensor([-1.0, 1.0], dtype=torch.float64).expand(10, 2), atol=1e-12)
    _, rotation = adder.states(torch.randint(5, (50, 200), generator=torch.Generator().manual_seed(0)))
    assert len({tuple(point) for point in rotation.round(decimals=6).reshape(-1, 2).tolist()}) == 10


def next_state(letters, state, letter):
    action = letters[letter]
    return action if isinstance(action, int) else action[state]


def test_reset_automaton_is_exact_for_ten_thousand_steps():
    letters = ((1, 2, 0), (1, 0, 2), 0)  # a 3-cycle, a swap, and a reset to state 0
    automaton = automata.ResetAutomaton(letters, 3)
    words = torch.randint(3, (WORDS, LENGTH), generator=torch.Generator().manual_seed(4))
    table = torch.tensor([[next_state(letters, state, letter) for letter in range(3)] for state in range(3)])
    expected, state = torch.empty_like(words), torch.zeros(WORDS, dtype=torch.long)
    for t in range(LENGTH):
        state = table[state, words[:, t]]
        expected[:, t] = state
    assert (automaton(words) != expected).sum().item() == 0
    transitions, inputs = automaton.matrices()
    assert torch.equal(transitions[2], torch.zeros(3, 3)) and inputs[2].tolist() == [1.0, 0.0, 0.0]


def test_transition_matrices_are_the_permutation_matrices_in_every_dtype():
    permutations = groups.group("S4").elements
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        matrices = automata.transition_matrices(permutations, dtype)
        assert matrices.dtype == dtype
        for matrix, permutation in zip(matrices, permutations):
            assert torch.equal(matrix, householder.permutation_matrix(permutation, dtype))


def test_wrong_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="same number of points"):
        automata.transition_matrices([(0, 1), (0, 1, 2)])
    with pytest.raises(ValueError, match="letters in"):
        automata.GroupAutomaton(groups.group("S3"))(torch.tensor([[6]]))
    with pytest.raises(ValueError, match="at most 15"):
        automata.GroupAutomaton(groups.group("Z60"))
    with pytest.raises(ValueError, match="non-finite"):
        automata.linear_rnn(
            torch.full((1, 2, 2), float("nan")), torch.zeros(1, 2), torch.zeros(2), torch.zeros(1, 3, dtype=torch.long)
        )
    with pytest.raises(ValueError, match="reset must name a state"):
        automata.ResetAutomaton((5,), 3)


def test_wrong_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="group must be a Group"):
        automata.GroupAutomaton(3)
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
        automata.GroupAutomaton(groups.group("S3"), torch.long)
    with pytest.raises(ValueError, match=r"states must have shape \(\.\.\., 3\)"):
        automata.GroupAutomaton(groups.group("S3")).read(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="angle has 1 non-finite"):
        automata.reflection(float("nan"))
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
        automata.ModularAdder(3, torch.long)
    with pytest.raises(ValueError, match="letters must hold at least one letter"):
        automata.ResetAutomaton((), 2)
    with pytest.raises(TypeError, match="start must be an int"):
        automata.ResetAutomaton(((1, 0),), 2, start=True)


@pytest.mark.parametrize("dtype", [torch.long, torch.bool, "float32"])
def test_transition_matrices_refuses_non_float_dtypes(dtype: object) -> None:
    with pytest.raises(TypeError, match=r"dtype must be a floating-point torch.dtype \(e.g. torch.float64\)"):
        automata.transition_matrices([[1, 0], [0, 1]], dtype)
