"""lrnn_course.inspection against models whose answer is known: Lesson 08's exact automata, hand-set layers, hand-made
state sets."""

import math

import pytest
import torch
import torch.nn.functional as F

from lrnn_course import inspection, ops
from lrnn_course.automata import GroupAutomaton, ModularAdder, ResetAutomaton, linear_rnn
from lrnn_course.deltaproduct import delta_product
from lrnn_course.groups import cyclic_group, prefix_products, symmetric_group
from lrnn_course.models import build_model

S3 = symmetric_group(3)


def random_words(n_letters: int, shape: tuple[int, int], seed: int = 0) -> torch.Tensor:
    return torch.randint(n_letters, shape, generator=torch.Generator().manual_seed(seed))


def test_theorem_3_automaton_for_s3_is_its_cayley_graph_with_exact_relations():
    automaton = GroupAutomaton(S3, torch.float64)
    words = random_words(6, (64, 12))
    states = automaton.states(words)  # (64, 12, 3)
    extracted = inspection.extract_automaton(states, words, automaton.read(states), 6)
    match = inspection.compare_automata(extracted, prefix_products(S3.table, words), S3.table)
    assert (extracted.n_clusters, extracted.n_states, extracted.consistency) == (6, 6, 1.0)
    assert match.isomorphic and match.transition_agreement == 1.0 and match.purity == 1.0
    relations = inspection.relation_residuals(automaton.transitions, states.reshape(-1, 3), S3.table)
    assert relations.rank == 2  # the differences of the permutations of (1, 2, 3): the plane ⊥ (1, 1, 1)
    assert relations.worst < 1e-12 and float(relations.leakage.max()) < 1e-12
    assert not bool(relations.order.isnan().any())  # every element of a group has an order


def test_relations_detect_maps_given_to_the_wrong_elements():
    """Exchanging the maps of two transpositions breaks compositions but not their orders (both are 2)."""
    transpositions = [i for i, element in enumerate(S3.elements) if sum(p != q for q, p in enumerate(element)) == 2]
    first, second = transpositions[:2]
    maps = GroupAutomaton(S3, torch.float64).transitions.clone()
    maps[[first, second]] = maps[[second, first]]
    relations = inspection.relation_residuals(maps, torch.eye(3, dtype=torch.float64), S3.table)
    assert float(relations.composition.max()) > 0.5
    assert float(relations.order[first]) < 1e-12 and float(relations.order[second]) < 1e-12


def test_relations_are_measured_on_the_span_of_the_states_only():
    """S3's permutation maps padded with a 2-D block that satisfies no relation: exact where the states live."""
    blocks = torch.randn(6, 2, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    maps = torch.stack([torch.block_diag(p, b) for p, b in zip(GroupAutomaton(S3, torch.float64).transitions, blocks)])
    vectors = F.pad(GroupAutomaton(S3, torch.float64).states(random_words(6, (8, 5))).reshape(-1, 3), (0, 2))
    inside = inspection.relation_residuals(maps, vectors, S3.table)
    assert inside.rank == 2 and inside.worst < 1e-12 and float(inside.leakage.max()) < 1e-12
    vectors[0, 3] = 1.0  # one state now reaches a padded coordinate
    outside = inspection.relation_residuals(maps, vectors, S3.table)
    assert outside.rank == 3 and outside.worst > 0.1


def test_matrix_states_are_centred_column_by_column():
    """Columns P_y (1, 2, 3) and P_y (5, 5, 5) = (5, 5, 5): only the first moves, within the plane ⊥ (1, 1, 1)."""
    automaton = GroupAutomaton(S3, torch.float64)
    moving = automaton.states(random_words(6, (8, 5))).reshape(-1, 3)
    states = torch.stack([moving, torch.full_like(moving, 5.0)], dim=-1)  # (40, 3, 2)
    relations = inspection.relation_residuals(automaton.transitions, states, S3.table)
    assert relations.rank == 2 and relations.worst < 1e-12


def test_theorem_6_adder_minimises_to_the_cycle_and_its_step_pairs_are_rotations():
    modulus = 5
    adder = ModularAdder(modulus, torch.float64)
    digits = random_words(modulus, (64, 12))
    _, rotation = adder.states(digits)  # layer 2: (64, 12, 2)
    extracted = inspection.extract_automaton(rotation, digits, adder(digits), modulus)
    sums = adder(digits)
    cycle = cyclic_group(modulus).table  # state s, digit x -> s + x mod m
    match = inspection.compare_automata(extracted, sums, cycle)
    # 2m states (the sum at each parity of t); the two parities answer alike, so minimising halves them
    assert (extracted.n_clusters, extracted.n_states) == (2 * modulus, modulus) and match.isomorphic
    reflections = adder.layer_transitions()  # even letters 0..m-1, odd letters m..2m-1
    pairs = reflections[:modulus] @ reflections[modulus]  # R(s): the odd-step 0, then the even-step s
    assert torch.allclose(reflections[3] @ reflections[modulus + 1], pairs[4], atol=1e-12)  # 1 + 3 = 4 = 0 + 4
    relations = inspection.relation_residuals(pairs, rotation.reshape(-1, 2), cycle)
    assert relations.rank == 2 and relations.worst < 1e-12


def test_reset_automaton_satisfies_its_monoid_table_and_is_recovered():
    """Letters: Z3's three rotations and a reset to state 0 (absorbing in the linear parts: A = 0)."""
    automaton = ResetAutomaton(((0, 1, 2), (1, 2, 0), (2, 0, 1), 0), 3, dtype=torch.float64)
    transitions, inputs = automaton.matrices()
    table = torch.full((4, 4), 3)
    table[:3, :3] = cyclic_group(3).table
    words = random_words(4, (64, 12))
    states = linear_rnn(transitions, inputs, torch.eye(3, dtype=torch.float64)[0], words)
    relations = inspection.relation_residuals(transitions, states.reshape(-1, 3), table)
    assert relations.rank == 2 and relations.worst < 1e-12
    assert relations.order.isnan().tolist() == [False, False, False, True]  # a reset has no order
    true_next = torch.tensor([[(q + a) % 3 for a in range(3)] + [0] for q in range(3)])
    extracted = inspection.extract_automaton(states, words, automaton(words), 4)
    assert inspection.compare_automata(extracted, automaton(words), true_next).isomorphic


def diagonal_model(gates: list[float], negative: bool):
    """A one-layer diagonal model whose gates are ``gates`` for every token (W_a = 0, b_a chosen)."""
    torch.manual_seed(0)
    model = build_model("diagonal", 3, 2, len(gates), negative=negative, residual=False).double()
    layer = model.layers[0]
    wanted = torch.tensor(gates, dtype=torch.float64)
    with torch.no_grad():
        layer.gate_proj.weight.zero_()
        layer.gate_proj.bias.copy_((torch.atanh(wanted) if negative else torch.logit(wanted)) / layer.sharpness)
    return model


@pytest.mark.parametrize("gates, negative", [([-0.5, 0.25, 0.75], True), ([0.9, 0.5, 0.2], False)])
def test_diagonal_layer_with_known_gates_has_those_spectra(gates, negative):
    tokens = random_words(3, (4, 6))
    reading = inspection.read_layer(diagonal_model(gates, negative), tokens)
    assert reading.transitions.shape == (4, 6, 1, 3, 3) and reading.betas is None
    farthest_from_one_first = sorted(gates, key=lambda gate: -abs(gate - 1))
    spectra = inspection.eigenvalues(reading.transitions)
    torch.testing.assert_close(spectra.real, torch.tensor(farthest_from_one_first).double().expand(4, 6, 1, 3))
    assert float(spectra.imag.abs().max()) == 0.0
    for token, values in inspection.values_by_token(reading.gates, tokens).items():
        assert len(values) == int((tokens == token).sum())
        torch.testing.assert_close(values, torch.tensor(gates).double().expand_as(values))
    # the state's update minus the transition's part depends on the current token only
    write = reading.states[:, 1:] - reading.transitions[:, 1:] @ reading.states[:, :-1]
    same = tokens[:, 1:] == tokens[0, 1]
    torch.testing.assert_close(write[same], write[0, 0].expand_as(write[same]))


def test_deltaproduct_transitions_are_the_gated_product_of_its_factors():
    """Against delta_product run from S_0 = I with v = 0 (each token alone), keys and β recomputed from the weights."""
    torch.manual_seed(3)
    model = build_model("deltaproduct", 5, 5, 6, n_heads=2, n_householder=2, gated=True).double()
    layer, tokens = model.layers[0], random_words(5, (3, 7))
    reading = inspection.read_layer(model, tokens)
    x = model.first_layer_input(tokens.flatten().tolist())  # (21, 6): layer 0 reads norm(embedding)
    keys = F.normalize(layer.keys(x).view(21, 2, 2, 3), dim=-1)[:, None]  # (21, 1, n_h, H, D_k)
    beta = 2 * torch.sigmoid(layer.betas(x)).view(21, 1, 2, 2)
    alpha = torch.sigmoid(layer.gate(x))[:, None]
    identity = torch.eye(3, dtype=torch.float64).expand(21, 2, 3, 3)
    _, product = delta_product(torch.zeros(21, 1, 2, 3).double(), keys, keys * 0, beta, alpha, identity)
    torch.testing.assert_close(reading.transitions.view(21, 2, 3, 3), product, rtol=0, atol=1e-13)
    torch.testing.assert_close(reading.betas.view(21, 2, 2), beta[:, 0], rtol=0, atol=0)
    # the last state is the one the model's own (chunked) recurrence reaches
    _, final = ops.chunk_delta_product(*layer.recurrence_inputs(x.view(3, 7, 6)))
    torch.testing.assert_close(reading.states[:, -1], final, rtol=0, atol=1e-12)


def test_layer_0_maps_depend_on_the_token_only_and_deeper_ones_on_the_context():
    torch.manual_seed(4)
    model = build_model("deltaproduct", 5, 5, 6, n_layers=2, n_heads=2, n_householder=2).double()
    tokens = random_words(5, (8, 6))
    _, first = inspection.token_maps(inspection.read_layer(model, tokens, 0).transitions, tokens, range(5))
    _, second = inspection.token_maps(inspection.read_layer(model, tokens, 1).transitions, tokens, range(5))
    assert float(first.max()) < 1e-12 and float(second.min()) > 1e-3
    with pytest.raises(ValueError, match=r"tokens \[5\] never occur"):
        inspection.token_maps(inspection.read_layer(model, tokens).transitions, tokens, range(6))


def hexagon_states(noise: float = 0.01):
    """Six states on a hexagon; letter 0 stays, letter 1 steps once round; the outputs are the position mod 3."""
    words = random_words(2, (32, 10))
    position = words.cumsum(dim=1) % 6
    angle = position * (math.pi / 3)
    jitter = noise * torch.randn(*words.shape, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return torch.stack([angle.cos(), angle.sin()], dim=-1) + jitter, words, position


def test_clusters_of_a_hand_made_state_set_minimise_to_the_counter_mod_3():
    states, words, position = hexagon_states()
    extracted = inspection.extract_automaton(states, words, position % 3, 2)
    counter = torch.tensor([[q, (q + 1) % 3] for q in range(3)])
    match = inspection.compare_automata(extracted, position % 3, counter)
    assert (extracted.n_clusters, extracted.n_states, extracted.consistency) == (6, 3, 1.0) and match.isomorphic
    # one state moved onto the next corner: the two steps through it disagree, its label is wrong
    states[5, 4] = states[5, 4] @ torch.tensor([[0.5, math.sqrt(3) / 2], [-math.sqrt(3) / 2, 0.5]]).double()
    corrupted = inspection.extract_automaton(states, words, position % 3, 2)
    assert corrupted.consistency == pytest.approx(1 - 2 / (32 * 9))
    match = inspection.compare_automata(corrupted, position % 3, counter)
    assert match.purity == pytest.approx(1 - 1 / (32 * 10)) and match.isomorphic


def test_leader_clustering_by_hand():
    points = torch.tensor([[0.0], [0.05], [1.0], [1.04], [3.0], [0.02]])
    assert inspection.cluster_states(points, 0.1).tolist() == [0, 0, 1, 1, 2, 0]
    assert inspection.cluster_states(points, 10.0).tolist() == [0] * 6


@pytest.mark.parametrize(
    "transitions, outputs, blocks",
    [
        ([[1, 0], [0, 1], [3, 2], [2, 3]], [0, 0, 1, 1], [0, 0, 1, 1]),  # 0 ~ 1 and 2 ~ 3
        ([[1, 0], [0, 2], [3, 2], [2, 3]], [0, 0, 1, 1], [0, 1, 2, 2]),  # letter 1 tells 0 from 1
        ([[0], [2], [3], [3]], [0, 0, 0, 1], [0, 1, 2, 3]),  # 2 splits off first, then 1, then 0 from the rest
        ([[3], [3], [-1], [3]], [0, 0, 0, 1], [0, 0, 0, 1]),  # an unknown move agrees with any
        ([[4], [4], [5], [-1], [4], [5]], [0, 0, 0, 0, 1, 2], [0, 0, 1, 0, 2, 3]),  # ... and joins the majority
    ],
)
def test_moore_minimisation_by_hand(transitions, outputs, blocks):
    assert inspection.minimise(torch.tensor(transitions), torch.tensor(outputs)).tolist() == blocks


def test_a_zero_one_model_runs_and_its_spectra_stay_in_zero_one():
    """β ∈ [0, 1]: each factor is positive semi-definite, so every product's eigenvalues are real in [0, 1]."""
    torch.manual_seed(5)
    model = build_model("deltaproduct", 8, 6, 8, negative=False, n_heads=2, n_householder=2)
    words = random_words(6, (16, 8))
    inspected = inspection.inspect_word_problem(model, S3, words)
    spectra = inspection.eigenvalues(inspected.reading.transitions)
    assert float(spectra.imag.abs().max()) < 1e-6 and float(spectra.real.min()) > -1e-6
    assert float(spectra.real.max()) < 1 + 1e-6
    assert len(inspected.relations) == 2 and len(inspected.summary().splitlines()) == 3
    assert 0 <= inspected.match.transition_agreement <= 1 and inspected.automaton.n_states >= 1


def test_inputs_are_validated_with_clear_messages():
    model = build_model("lstm", 8, 6, 8)
    with pytest.raises(TypeError, match="layer 0 is a LSTMLayer; read_layer reads DeltaProductLayer"):
        inspection.read_layer(model, random_words(6, (2, 3)))
    with pytest.raises(ValueError, match=r"layer must be an index in \[0, 0\]"):
        inspection.read_layer(model, random_words(6, (2, 3)), 1)
    with pytest.raises(ValueError, match="no identity"):
        inspection.relation_residuals(torch.eye(2).expand(2, 2, 2), torch.eye(2), torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="must start with the tokens' shape"):
        inspection.values_by_token(torch.zeros(3, 4), torch.zeros(4, 3, dtype=torch.long))


def test_token_transitions_act_as_the_factors_applied_one_after_the_other():
    """A s against s <- s - β_j k_j (k_jᵀ s) for j = 1 … n_h, then α s: no matrix is formed on this side."""
    generator = torch.Generator().manual_seed(6)
    keys = F.normalize(torch.randn(4, 3, 2, 5, generator=generator, dtype=torch.float64), dim=-1)  # (N, n_h, H, D)
    betas = 2 * torch.rand(4, 3, 2, generator=generator, dtype=torch.float64)
    gates = torch.rand(4, 2, generator=generator, dtype=torch.float64)
    vectors = torch.randn(4, 2, 5, generator=generator, dtype=torch.float64)
    moved = vectors
    for key, beta in zip(keys.unbind(1), betas.unbind(1)):
        moved = moved - beta[..., None] * key * (key * moved).sum(dim=-1, keepdim=True)
    transitions = inspection.token_transitions(keys, betas, gates)
    torch.testing.assert_close(
        transitions @ vectors[..., None], (gates[..., None] * moved)[..., None], rtol=0, atol=1e-13
    )
    ungated = inspection.token_transitions(keys, betas)
    torch.testing.assert_close(gates[..., None, None] * ungated, transitions, rtol=0, atol=0)


def test_token_transitions_are_what_a_deltaproduct_layer_applies():
    torch.manual_seed(7)
    layer = build_model("deltaproduct", 5, 5, 6, n_heads=2, n_householder=3).double().layers[0]
    x = torch.randn(2, 4, 6, dtype=torch.float64)
    _, keys, _, betas, _ = layer.recurrence_inputs(x)
    torch.testing.assert_close(inspection.token_transitions(keys, betas), layer.transitions(x), rtol=0, atol=1e-13)


def test_token_transitions_refuse_keys_that_are_not_unit_and_shapes_that_do_not_match():
    keys = F.normalize(torch.randn(3, 2, 4), dim=-1)
    with pytest.raises(ValueError, match="keys must be L2-normalised"):
        inspection.token_transitions(2 * keys, torch.ones(3, 2))
    with pytest.raises(ValueError, match=r"betas \(\.\.\., n_h, H\)"):
        inspection.token_transitions(keys, torch.ones(2, 3))
    with pytest.raises(ValueError, match="gates must have shape"):
        inspection.token_transitions(keys, torch.ones(3, 2), torch.ones(3))


def test_composition_residuals_by_hand():
    """Z2 with M(0) = 1, M(1) = 2 (1 × 1): only 1·1 = 0 fails, |4 - 1| / max(4, 1); a zero map gives 0, not NaN."""
    table = cyclic_group(2).table
    residuals = inspection.composition_residuals(torch.tensor([[[1.0]], [[2.0]]]), table)
    assert residuals.tolist() == [[0.0, 0.0], [0.0, 0.75]]
    zero_and_identity = torch.stack([torch.zeros(2, 2), torch.eye(2)]).double()  # letter 0 absorbs, 1 is e
    absorbing = torch.tensor([[0, 0], [0, 1]])
    assert inspection.composition_residuals(zero_and_identity, absorbing).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_composition_residuals_put_the_later_letter_on_the_left():
    """S3's permutation matrices satisfy its table exactly; their transposes (P_σ⁻¹) are an anti-representation, so
    they do only where the two orders agree (a pair that commutes)."""
    maps = GroupAutomaton(S3, torch.float64).transitions
    assert float(inspection.composition_residuals(maps, S3.table).max()) == 0.0
    transposed = inspection.composition_residuals(maps.transpose(-1, -2), S3.table)
    commutes = S3.table == S3.table.T
    assert float(transposed[commutes].max()) == 0.0 and float(transposed[~commutes].min()) > 0.5


def test_composition_residuals_refuse_a_table_of_another_size():
    with pytest.raises(ValueError, match="table must have shape"):
        inspection.composition_residuals(torch.eye(2).expand(3, 2, 2), cyclic_group(2).table)


def test_transition_table_by_hand():
    """Move t: state_of[:, t] -> state_of[:, t + 1] on words[:, t]. State 0 on letter 0 reaches 1, 2, 1 (majority 1);
    state 1 on letter 1 reaches 1, then 0 (a tie: the smaller, 0); state 2 on letter 0 reaches 0; nothing else is seen
    (letter 2 is never read)."""
    state_of = torch.tensor([[0, 1, 1, 0], [0, 2, 0, 1]])
    words = torch.tensor([[0, 1, 1], [0, 0, 0]])
    table, consistency = inspection.transition_table(state_of, words, 3, 3)
    assert table.tolist() == [[1, -1, -1], [-1, 0, -1], [0, -1, -1]]
    assert consistency == 4 / 6  # (0, 0) -> 2 and (1, 1) -> 1 disagree
    reversed_tie, _ = inspection.transition_table(torch.tensor([[1, 0], [1, 1]]), torch.tensor([[1], [1]]), 2, 2)
    assert reversed_tie.tolist() == [[-1, -1], [-1, 0]]  # the tie goes to 0 whichever move comes first


def test_transition_table_refuses_states_without_the_one_before_the_first_letter():
    with pytest.raises(ValueError, match=r"state_of must have shape \(N, T \+ 1\) = \(2, 4\)"):
        inspection.transition_table(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long), 2, 2)
    with pytest.raises(ValueError, match=r"words must hold letters in \[0, 1\]"):
        inspection.transition_table(torch.zeros(1, 2, dtype=torch.long), torch.full((1, 1), 2), 2, 2)
