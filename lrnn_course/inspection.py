"""Inside trained networks (Lesson 10): per-token transitions, their spectra, the learned β and gates, the group
relations the transitions satisfy on the states, and the automaton hidden in the states.

A recurrent layer of the course updates a state S_t = A(x_t) S_{t-1} + (a write), one state and one transition
per head. This module reads A(x_t) and S_t back from a model on a batch of tokens, as the model computes them
(the layer's own projections, through a forward hook on the layer), and measures them.

Glossary (code name -> paper symbol or term):

=========================  ======================================================================================
``LayerReading``           what one layer computed on tokens (B, T): A(x_t) per head (gate included), S_t, β, gates
``transitions``            A(x_t): DeltaNet I - β k kᵀ; DeltaProduct α_t ∏_j (I - β_j k_j k_jᵀ), the first factor
                           rightmost (it acts first); a diagonal layer Diag(a(x_t)). Shape (B, T, H, n, n)
``states``                 S_t per head, (B, T, H, n, m): A acts on the left, so each of the m columns is a
                           vector of R^n (DeltaProduct: n = D_k, m = D_v; diagonal: H = 1, n = d_model, m = 1)
``token_transitions``      A(x_t) of a DeltaProduct from its keys, β and gate: α (I - β_{n_h} k kᵀ) ⋯ (I - β_1 k_1 k_1ᵀ)
``eigenvalues``            the spectrum of each transition, the ones farthest from 1 first
``token_maps``             A(g) of a token g: the mean of A(x_t) over the positions that read g (see below)
``relation_residuals``     how far the maps restricted to the states' span are from a group's (or monoid's) table:
                           M(b) M(a) ≈ M(a·b) and M(g)^{ord g} ≈ I, with M = Uᵀ A U
``composition_residuals``  ‖M(b) M(a) - M(a·b)‖_F / max(‖M(b) M(a)‖_F, ‖M(a·b)‖_F) for every pair (a, b)
``reachable subspace``     span U of the differences of the state vectors (``relation_residuals`` says why): the
                           left singular vectors whose singular value exceeds ``rank_tolerance`` times the largest
``extract_automaton``      states -> leader clusters -> majority transition table -> Moore minimisation (outputs:
                           the model's answers; moves never observed are "don't care")
``transition_table``       the majority next state per (state, letter) over observed moves, -1 where never seen
``compare_automata``       the extracted automaton against the true one, states matched by majority label
``inspect_word_problem``   all of it for one layer of a group word-problem model, with a printable ``summary``
=========================  ======================================================================================

Which map stands for a token (``token_maps``): the first layer reads norm(embedding(x_t)), so its A(x_t) depends
on the token alone and the mean is that map exactly. A deeper layer reads the residual stream, and A(x_t) then
depends on the context: the mean over the dataset's positions is the single linear map closest (in the mean
squared Frobenius sense) to all the maps the layer applies for that token, and ``token_maps`` returns the
relative spread of the per-context maps around it, so a lesson can say how much one map per token leaves out.
The relations test linear parts only: a reset's write B(x) = e_q is not seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .deltaproduct import DeltaProductLayer, delta_product
from .groups import Group, prefix_products, require_words
from .models import DiagonalRecurrence, SequenceModel
from .validate import (
    require_like,
    require_number,
    require_positive_int,
    require_shape,
    require_tensor,
    require_unit_keys,
)

SUPPORTED_LAYERS = (DeltaProductLayer, DiagonalRecurrence)


@dataclass(frozen=True)
class LayerReading:
    """What one recurrent layer computed on tokens (B, T): float64 copies on the CPU."""

    transitions: torch.Tensor  # A(x_t) per head, gate included: (B, T, H, n, n)
    states: torch.Tensor  # S_t per head after token t: (B, T, H, n, m)
    betas: torch.Tensor | None  # β_{t,j}: (B, T, n_h, H); None for a diagonal layer
    gates: torch.Tensor | None  # α_t (B, T, H) of a gated DeltaProduct, a_t (B, T, d_model) of a diagonal layer


def read_layer(model: SequenceModel, tokens: torch.Tensor, layer: int = 0) -> LayerReading:
    """Run ``model`` on ``tokens`` (B, T) and read back layer ``layer``'s transitions, states, β and gates.

    The layer's input is captured with a forward hook, so deeper layers see the residual stream the model really
    gives them. A DeltaProduct's states come from ``deltaproduct.delta_product`` applied token by token to the
    layer's own q, k, v, β, α (``DeltaProductLayer.recurrence_inputs``).
    """
    if not isinstance(model, SequenceModel):
        raise TypeError(f"model must be a SequenceModel, got {type(model).__name__}")
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(model.layers):
        raise ValueError(f"layer must be an index in [0, {len(model.layers) - 1}], got {layer!r}")
    module = model.layers[layer]
    if not isinstance(module, SUPPORTED_LAYERS):
        names = ", ".join(kind.__name__ for kind in SUPPORTED_LAYERS)
        raise TypeError(f"layer {layer} is a {type(module).__name__}; read_layer reads {names}")
    captured = {}

    def capture(_module, inputs, output):
        captured["input"], captured["output"] = inputs[0], output

    hook = module.register_forward_hook(capture)
    try:
        with torch.no_grad():
            model(tokens)
            return (
                _read_delta_product(module, captured["input"])
                if isinstance(module, DeltaProductLayer)
                else _read_diagonal(module, captured["input"], captured["output"])
            )
    finally:
        hook.remove()


def _read_delta_product(layer: DeltaProductLayer, x: torch.Tensor) -> LayerReading:
    q, k, v, beta, alpha = layer.recurrence_inputs(x)  # (B, T, H, D_k), (B, T, n_h, H, D_k), …
    transitions = token_transitions(k, beta, alpha)  # (B, T, H, D_k, D_k)
    state, states = None, []
    for t in range(x.shape[1]):
        step = slice(t, t + 1)
        gate = alpha[:, step] if alpha is not None else None
        _, state = delta_product(q[:, step], k[:, step], v[:, step], beta[:, step], gate, initial_state=state)
        states.append(state)  # (B, H, D_k, D_v)
    return LayerReading(*(_copy(x) for x in (transitions, torch.stack(states, dim=1), beta, alpha)))


def _read_diagonal(layer: DiagonalRecurrence, x: torch.Tensor, output: torch.Tensor) -> LayerReading:
    gates = _copy(layer.gates(x))  # (B, T, d)
    return LayerReading(torch.diag_embed(gates)[:, :, None], _copy(output)[:, :, None, :, None], None, gates)


def _copy(x: torch.Tensor | None) -> torch.Tensor | None:
    return x.detach().double().cpu() if x is not None else None


def token_transitions(keys: torch.Tensor, betas: torch.Tensor, gates: torch.Tensor | None = None) -> torch.Tensor:
    """What a DeltaProduct layer multiplies its state by for one token: α (I - β_{n_h} k kᵀ) ⋯ (I - β_1 k_1 k_1ᵀ).

    The first factor acts first on the state, so it stands rightmost; the gate α scales the whole product once.

    Args:
        keys: unit keys (..., n_h, H, D), as ``DeltaProductLayer.recurrence_inputs`` gives them (used as given).
        betas: β (..., n_h, H), one per factor and head.
        gates: α (..., H), one per head, or None for a layer without a gate (α = 1).

    Returns:
        A(x) per head, (..., H, D, D), in the keys' dtype.
    """
    require_unit_keys(keys)
    if keys.dim() < 3 or betas.shape != keys.shape[:-1]:
        raise ValueError(
            f"need keys (..., n_h, H, D) and betas (..., n_h, H), got {tuple(keys.shape)} and {tuple(betas.shape)}"
        )
    require_like(betas, "betas", keys, "keys")
    if gates is not None:
        require_shape(
            require_like(gates, "gates", keys, "keys"), "gates", keys.shape[:-3] + keys.shape[-2:-1], "(..., H)"
        )
    ### BEGIN SOLUTION
    identity = torch.eye(keys.shape[-1], dtype=keys.dtype, device=keys.device)
    factors = identity - betas[..., None, None] * keys[..., :, None] * keys[..., None, :]  # (..., n_h, H, D, D)
    first, *later = factors.unbind(-4)
    product = first
    for factor in later:  # each later factor acts after the ones before: it multiplies from the left
        product = factor @ product
    return product if gates is None else gates[..., None, None] * product
    ### END SOLUTION


def eigenvalues(matrices: torch.Tensor) -> torch.Tensor:
    """The eigenvalues of square matrices (..., n, n) as complex128 (..., n), the ones farthest from 1 first.

    A DeltaProduct's transition is α (I + a rank-n_h matrix): all but n_h of its eigenvalues equal α (1 ungated),
    so without a gate the informative ones come first.
    """
    require_tensor(matrices, "matrices")
    if matrices.dim() < 2 or matrices.shape[-1] != matrices.shape[-2]:
        raise ValueError(f"matrices must have shape (..., n, n), got {tuple(matrices.shape)}")
    values = torch.linalg.eigvals(matrices.double())
    order = torch.argsort(-(values - 1).abs(), dim=-1, stable=True)
    return values.gather(-1, order)


def values_by_token(values: torch.Tensor, tokens: torch.Tensor) -> dict[int, torch.Tensor]:
    """Per-position values (B, T, ...) grouped by the token read there: {token id: (count, ...)}, ids ascending."""
    tokens = _require_tokens(tokens)
    require_tensor(values, "values")
    if values.shape[:2] != tokens.shape:
        raise ValueError(f"values must start with the tokens' shape {tuple(tokens.shape)}, got {tuple(values.shape)}")
    return {int(token): values[tokens == token] for token in tokens.unique()}


def token_maps(
    transitions: torch.Tensor, tokens: torch.Tensor, token_ids: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """One map per token: the mean of A(x_t) over the positions that read it (see the module's docstring).

    Args:
        transitions: (B, T, H, n, n), a ``LayerReading.transitions``.
        tokens: LongTensor (B, T), the tokens the reading was made on.
        token_ids: the tokens wanted, each of which must occur in ``tokens``.

    Returns:
        ``(maps, spread)``: (len(token_ids), H, n, n) and (len(token_ids), H), the spread being
        sqrt(mean ‖A(x_t) - mean‖²_F) / ‖mean‖_F, 0 where the map does not depend on the context.
    """
    grouped = values_by_token(require_tensor(transitions, "transitions", 5, "(B, T, H, n, n)"), tokens)
    missing = [token for token in token_ids if token not in grouped]
    if missing:
        raise ValueError(f"tokens {missing} never occur in tokens, so they have no map")
    maps = torch.stack([grouped[token].mean(dim=0) for token in token_ids])
    deviation = torch.stack([(grouped[token] - grouped[token].mean(dim=0)).square().mean(dim=0) for token in token_ids])
    spread = deviation.sum(dim=(-2, -1)).sqrt() / torch.linalg.matrix_norm(maps).clamp_min(torch.finfo(maps.dtype).tiny)
    return maps, spread


@dataclass(frozen=True)
class RelationResiduals:
    """How far per-letter maps, restricted to the span of the states, are from satisfying a composition table.

    Every residual is relative: ‖X - Y‖_F / max(‖X‖_F, ‖Y‖_F), 0 where both vanish (at most 2).
    """

    rank: int  # r, the dimension of the span of the states' differences
    basis: torch.Tensor  # U (n, r), orthonormal columns spanning those differences
    composition: torch.Tensor  # (G, G): M(b) M(a) against M(table[a, b]), "a, then b"
    order: torch.Tensor  # (G,): M(g)^{ord g} against I_r; NaN where g has no finite order (e.g. a reset)
    leakage: torch.Tensor  # (G,): ‖(I - UUᵀ) A(g) U‖_F / ‖A(g) U‖_F, how far A(g) carries the span out of itself

    @property
    def worst(self) -> float:
        """The largest composition or order residual."""
        orders = self.order[~self.order.isnan()]
        return max(float(self.composition.max()), float(orders.max()) if len(orders) else 0.0)


def relation_residuals(
    maps: torch.Tensor, states: torch.Tensor, table: torch.Tensor, rank_tolerance: float = 1e-3
) -> RelationResiduals:
    """Project the maps onto the directions the states span and measure the relations of ``table`` there.

    The directions are those of the differences of the states, S - mean(S): every layer here is affine,
    S <- A S + W, and affine maps that act on a set of states as the group does have linear parts that compose
    as the group does on those differences, whatever W is (a DeltaProduct must write, since S_0 = 0).

    Args:
        maps: A(g) per letter, (G, n, n).
        states: the states the maps act on from the left: vectors (N, n), or matrices (N, n, m), whose columns
            then span the directions (each column centred on its own mean).
        table: LongTensor (G, G), table[a, b] = the letter equal to "a, then b" (``Group.table``, or a monoid's);
            it must have an identity letter e (table[e, x] = table[x, e] = x).
        rank_tolerance: singular values below this fraction of the largest do not count towards the span.
    """
    require_tensor(maps, "maps", 3, "(G, n, n)")
    require_tensor(states, "states")
    letters, n = maps.shape[0], maps.shape[-1]
    if maps.shape != (letters, n, n) or states.dim() not in (2, 3) or states.shape[1] != n:
        raise ValueError(
            f"need maps (G, n, n) and states (N, n) or (N, n, m), got {tuple(maps.shape)} and {tuple(states.shape)}"
        )
    require_words(table, letters, "letters")
    if table.shape != (letters, letters):
        raise ValueError(f"table must have shape ({letters}, {letters}), one row per map, got {tuple(table.shape)}")
    require_number(rank_tolerance, "rank_tolerance")
    identity = _identity_of(table)
    maps, states = maps.double(), states.double().reshape(states.shape[0], n, -1)
    differences = (states - states.mean(dim=0)).movedim(0, 1).flatten(1)  # (n, N·m)
    basis, singular, _ = torch.linalg.svd(differences, full_matrices=False)
    if float(singular[0]) == 0:
        raise ValueError("states are all equal: their differences span no subspace")
    basis = basis[:, singular > rank_tolerance * singular[0]]  # (n, r)
    rank = basis.shape[1]
    moved = maps @ basis  # (G, n, r)
    restricted = basis.T @ moved  # (G, r, r)
    composition = composition_residuals(restricted, table)
    order = torch.full((letters,), math.nan, dtype=torch.float64)
    for letter in range(letters):
        power, steps = letter, 1
        while power != identity and steps <= letters:
            power, steps = int(table[power, letter]), steps + 1
        if power == identity:
            order[letter] = _relative_gap(
                torch.linalg.matrix_power(restricted[letter], steps), torch.eye(rank, dtype=torch.float64)
            )
    leaked = torch.linalg.matrix_norm(moved - basis @ restricted)
    leakage = torch.where(leaked > 0, leaked / torch.linalg.matrix_norm(moved).clamp_min(1e-300), 0.0)
    return RelationResiduals(rank, basis, composition, order, leakage)


def _identity_of(table: torch.Tensor) -> int:
    """The letter e with table[e, x] = table[x, e] = x for every x."""
    letters = torch.arange(table.shape[0])
    for candidate in range(table.shape[0]):
        if torch.equal(table[candidate], letters) and torch.equal(table[:, candidate], letters):
            return candidate
    raise ValueError("table has no identity letter e with table[e, x] = table[x, e] = x")


def composition_residuals(restricted: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """How far maps are from composing as ``table`` says, pair by pair, as relative residuals.

    Args:
        restricted: M(g) per letter g, (G, r, r): the maps restricted to the span of the states.
        table: LongTensor (G, G), table[a, b] = the letter equal to "a, then b".

    Returns:
        (G, G) in the maps' dtype: entry [a, b] is ‖M(b) M(a) - M(table[a, b])‖_F divided by the larger of
        ‖M(b) M(a)‖_F and ‖M(table[a, b])‖_F, 0 where both are 0 (so every entry lies in [0, 2]).
    """
    require_tensor(restricted, "restricted", 3, "(G, r, r)")
    letters = restricted.shape[0]
    if restricted.shape[1] != restricted.shape[2]:
        raise ValueError(f"restricted must hold square maps (G, r, r), got {tuple(restricted.shape)}")
    require_words(table, letters, "letters")
    require_shape(table, "table", (letters, letters), "(G, G)", "(one row and column per map)")
    ### BEGIN SOLUTION
    composed = restricted[None, :] @ restricted[:, None]  # [a, b] = M(b) M(a): a acts first, so it stands right
    wanted = restricted[table]  # [a, b] = M(table[a, b])
    gap = torch.linalg.matrix_norm(composed - wanted)
    size = torch.maximum(torch.linalg.matrix_norm(composed), torch.linalg.matrix_norm(wanted))
    return torch.where(gap > 0, gap / size.clamp_min(torch.finfo(size.dtype).tiny), 0.0)
    ### END SOLUTION


def _relative_gap(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """‖x - y‖_F / max(‖x‖_F, ‖y‖_F) over the last two dimensions, 0 where both vanish: the measure of
    ``composition_residuals`` (whose formula the learner writes out), for one power against the identity."""
    gap = torch.linalg.matrix_norm(x - y)
    size = torch.maximum(torch.linalg.matrix_norm(x), torch.linalg.matrix_norm(y))
    return torch.where(gap > 0, gap / size.clamp_min(1e-300), 0.0)


def cluster_states(states: torch.Tensor, radius: float) -> torch.Tensor:
    """Greedy leader clustering of states (N, d): LongTensor (N,) of cluster ids 0, 1, … in order of appearance.

    The first state not yet clustered leads a new cluster, which takes every unclustered state within ``radius``
    (Euclidean) of it; repeated until every state has a cluster. Deterministic for a given order of the states.
    """
    require_tensor(states, "states", 2, "(N, d)")
    require_number(radius, "radius")
    states = states.double()
    states = states - states.mean(dim=0)  # distances unchanged; smaller norms, less rounding in the form below
    squared_norms = states.square().sum(dim=-1)
    cluster = torch.full((states.shape[0],), -1, dtype=torch.long)
    count = 0
    while bool((cluster < 0).any()):
        leader = int((cluster < 0).nonzero()[0])
        # ‖x - c‖² = ‖x‖² + ‖c‖² - 2 x·c: one matrix-vector product per cluster, no (N, d) temporary
        squared_distances = squared_norms + squared_norms[leader] - 2 * (states @ states[leader])
        cluster[(cluster < 0) & (squared_distances <= radius**2)] = count
        cluster[leader], count = count, count + 1
    return cluster


def majority(keys: torch.Tensor, values: torch.Tensor, n_keys: int) -> tuple[torch.Tensor, float]:
    """The most frequent value per key, ties to the smallest: ``(winner, agreement)``.

    Args:
        keys, values: LongTensors (N,), values >= 0; keys in [0, n_keys).

    Returns:
        ``winner`` (n_keys,), -1 for a key that never occurs, and ``agreement``, the fraction of the N pairs
        whose value is their key's winner.
    """
    width = int(values.max()) + 1
    pairs, counts = torch.unique(keys * width + values, return_counts=True)
    paired_keys, paired_values = pairs // width, pairs % width
    best = torch.zeros(n_keys, dtype=torch.long).scatter_reduce(0, paired_keys, counts, "amax")
    wins = counts == best[paired_keys]
    winner = torch.full((n_keys,), width, dtype=torch.long)
    winner = winner.scatter_reduce(0, paired_keys[wins], paired_values[wins], "amin")
    winner[best == 0] = -1
    return winner, float(best.sum()) / len(values)


def minimise(transitions: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """Moore's partition refinement, unknown transitions taken as "don't care": the block of each state (Q,).

    Start from the partition by output; for each letter, split every block by the block its members move to,
    a member whose move is unknown joining the block's most common move (ties to the smallest); repeat until no
    letter splits a block. With a complete table this is Moore's algorithm and gives the minimal machine; with
    unknown moves it gives a machine consistent with every known move (which may not be the smallest one).

    Args:
        transitions: LongTensor (Q, L), the next state per letter; -1 where unknown.
        outputs: LongTensor (Q,), each state's output (>= 0).

    Returns:
        LongTensor (Q,): block ids 0, 1, … in order of first appearance.
    """
    blocks = _first_appearance(outputs)
    stable = False
    while not stable:
        stable = True
        for moves in transitions.T:  # (Q,): every state's move on one letter
            known = moves >= 0
            if not bool(known.any()):
                continue
            successor = torch.where(known, blocks[moves.clamp_min(0)], -1)
            usual, _ = majority(blocks[known], successor[known], int(blocks.max()) + 1)
            refined = _first_appearance(torch.stack([blocks, torch.where(known, successor, usual[blocks])], dim=1))
            if int(refined.max()) > int(blocks.max()):
                blocks, stable = refined, False
    return blocks


def _first_appearance(rows: torch.Tensor) -> torch.Tensor:
    """Ids 0, 1, … of the distinct rows (or values) of ``rows``, numbered in order of first appearance."""
    _, inverse = torch.unique(rows, dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), len(inverse), dtype=torch.long)
    first = first.scatter_reduce(0, inverse, torch.arange(len(inverse)), "amin")
    return torch.argsort(torch.argsort(first))[inverse]


@dataclass(frozen=True)
class ExtractedAutomaton:
    """A Moore machine read off hidden states: states, transitions per letter, one output per state."""

    n_clusters: int  # clusters of states before minimising
    state_of: torch.Tensor  # (B, T): the (minimised) state at each position
    transitions: torch.Tensor  # (Q, L): next state per letter, -1 where that letter was never read there
    outputs: torch.Tensor  # (Q,): the majority output of each state
    consistency: float  # fraction of the observed steps (position t - 1 to t) that ``transitions`` predicts

    @property
    def n_states(self) -> int:
        return self.transitions.shape[0]


def extract_automaton(
    states: torch.Tensor, words: torch.Tensor, outputs: torch.Tensor, n_letters: int, relative_radius: float = 0.1
) -> ExtractedAutomaton:
    """Cluster the states after each letter, read off the transitions, minimise.

    Args:
        states: the hidden state after each letter, (B, T, d) (flatten matrix states).
        words: LongTensor (B, T), the letters read, in [0, n_letters); every position a real letter (no padding).
        outputs: LongTensor (B, T), what the model answers at each position (its predicted class); a cluster's
            output is the majority, ties to the smallest.
        n_letters: the alphabet size L.
        relative_radius: the clustering radius in units of the states' spread sqrt(mean ‖S - mean S‖²).

    The step from position t - 1 to t gives one observed transition; the first letter of a word only places
    its state. Each cluster moves, on each letter, to the cluster most of its steps reach (``transition_table``);
    ``minimise`` then merges clusters that no observed word tells apart by the outputs, and the merged states' moves
    are read off the same steps again. Cost: O(N · clusters · d) for the
    clustering of the N = B·T states.
    """
    require_tensor(states, "states", 3, "(B, T, d)")
    require_words(words, n_letters)
    if not isinstance(outputs, torch.Tensor) or outputs.dtype != torch.long or bool((outputs < 0).any()):
        raise TypeError("outputs must be a LongTensor (B, T) of classes >= 0")
    if states.shape[:2] != words.shape or outputs.shape != words.shape or words.shape[1] < 2:
        raise ValueError(
            f"need states (B, T, d), words (B, T) and outputs (B, T) with T >= 2, got {tuple(states.shape)}, "
            f"{tuple(words.shape)} and {tuple(outputs.shape)}"
        )
    require_number(relative_radius, "relative_radius")
    words, outputs = words.cpu(), outputs.cpu()
    flat = states.flatten(0, 1).double().cpu()
    spread = float((flat - flat.mean(dim=0)).square().sum(dim=-1).mean().sqrt())
    cluster = cluster_states(flat, relative_radius * spread).view(words.shape)  # (B, T)
    n_clusters = int(cluster.max()) + 1
    cluster_outputs, _ = majority(cluster.flatten(), outputs.flatten(), n_clusters)
    moves = words[:, 1:]  # the step from t - 1 to t reads letter t; the first letter only places its state
    cluster_table, _ = transition_table(cluster, moves, n_clusters, n_letters)
    block = minimise(cluster_table, cluster_outputs)
    n_states = int(block.max()) + 1
    state_of = block[cluster]  # (B, T)
    transitions, consistency = transition_table(state_of, moves, n_states, n_letters)
    state_outputs, _ = majority(block, cluster_outputs, n_states)
    return ExtractedAutomaton(n_clusters, state_of, transitions, state_outputs, consistency)


def transition_table(
    state_of: torch.Tensor, words: torch.Tensor, n_states: int, n_letters: int
) -> tuple[torch.Tensor, float]:
    """The transition table that observed runs of an automaton follow most often.

    Args:
        state_of: LongTensor (N, T + 1) of states in [0, n_states): each word's state before its first letter
            (column 0), then after each letter. Move t goes from state_of[:, t] to state_of[:, t + 1] on words[:, t].
        words: LongTensor (N, T), the letters read, in [0, n_letters).
        n_states, n_letters: the numbers of states and letters (a letter no word reads still gets a column).

    Returns:
        ``(table, consistency)``: table, LongTensor (n_states, n_letters), the next state most of the moves of
        (state, letter) reach, ties to the smallest state id, -1 where that move was never observed; consistency,
        a float, the fraction of the N·T observed moves that agree with the table.
    """
    require_positive_int(n_states, "n_states")
    require_positive_int(n_letters, "n_letters")
    require_words(words, n_letters)
    require_words(state_of, n_states, "states")
    require_shape(
        state_of, "state_of", (words.shape[0], words.shape[1] + 1), "(N, T + 1)", "(a state before each word)"
    )
    ### BEGIN SOLUTION
    moves = state_of[:, :-1] * n_letters + words  # the (state, letter) of each move, as one key
    table, consistency = majority(moves.flatten(), state_of[:, 1:].flatten(), n_states * n_letters)
    return table.view(n_states, n_letters), consistency
    ### END SOLUTION


@dataclass(frozen=True)
class AutomatonMatch:
    """An extracted automaton against the true one, each extracted state standing for its majority true state."""

    n_states: int  # states extracted (after minimising)
    n_true_states: int
    label_of: torch.Tensor  # (Q,): the true state each extracted state stands for
    purity: float  # fraction of positions whose true state is their extracted state's label
    transition_agreement: float  # fraction of the extracted (known) transitions that the true automaton makes
    complete: bool  # every extracted state has a known transition for every letter
    isomorphic: bool  # one extracted state per true state, complete, and every transition agrees


def compare_automata(
    extracted: ExtractedAutomaton, labels: torch.Tensor, true_transitions: torch.Tensor
) -> AutomatonMatch:
    """Match ``extracted`` with the true automaton.

    Args:
        extracted: from ``extract_automaton``.
        labels: LongTensor (B, T), the true state after each letter (a word problem: the prefix products).
        true_transitions: LongTensor (Q*, L), the true next state (a word problem: the Cayley table).
    """
    if not isinstance(extracted, ExtractedAutomaton):
        raise TypeError(f"extracted must be an ExtractedAutomaton, got {type(extracted).__name__}")
    n_true, n_letters = true_transitions.shape
    require_words(true_transitions, n_true, "true states")
    require_words(labels, n_true, "true states")
    if labels.shape != extracted.state_of.shape or n_letters != extracted.transitions.shape[1]:
        raise ValueError(
            f"labels {tuple(labels.shape)} must match the extracted positions {tuple(extracted.state_of.shape)} and "
            f"true_transitions must have {extracted.transitions.shape[1]} letters, got {n_letters}"
        )
    labels, true_transitions = labels.cpu(), true_transitions.cpu()
    label_of, purity = majority(extracted.state_of.flatten(), labels.flatten(), extracted.n_states)
    known = extracted.transitions >= 0
    predicted = label_of[extracted.transitions.clamp_min(0)]  # (Q, L)
    agrees = (predicted == true_transitions[label_of]) & known
    agreement = float(agrees.sum()) / max(int(known.sum()), 1)
    complete = bool(known.all())
    isomorphic = extracted.n_states == n_true and len(label_of.unique()) == n_true and complete and bool(agrees.all())
    return AutomatonMatch(extracted.n_states, n_true, label_of, purity, agreement, complete, isomorphic)


@dataclass(frozen=True)
class WordProblemInspection:
    """One layer of a word-problem model, inspected: relations per head and the automaton in its states."""

    reading: LayerReading
    relations: list[RelationResiduals]  # one per head
    context_spread: torch.Tensor  # (G, H): relative spread of each element's per-context maps (``token_maps``)
    automaton: ExtractedAutomaton
    match: AutomatonMatch

    def summary(self) -> str:
        """The numbers, one line each."""
        lines = [
            f"automaton: {self.match.n_states} states ({self.automaton.n_clusters} clusters, true "
            f"{self.match.n_true_states}); transitions agreeing {self.match.transition_agreement:.3f}; "
            f"consistency {self.automaton.consistency:.3f}; purity {self.match.purity:.3f}; "
            f"{'equals' if self.match.isomorphic else 'differs from'} the true automaton",
        ]
        for head, relations in enumerate(self.relations):
            orders = ", ".join(f"{value:.2e}" for value in relations.order.tolist())
            lines.append(
                f"head {head}: rank {relations.rank}; composition residual worst "
                f"{float(relations.composition.max()):.2e}, median {float(relations.composition.median()):.2e}; "
                f"order residual per element {orders}; "
                f"worst leakage {float(relations.leakage.max()):.2e}; worst context spread "
                f"{float(self.context_spread[:, head].max()):.2e}"
            )
        return "\n".join(lines)


def inspect_word_problem(
    model: SequenceModel,
    group: Group,
    words: torch.Tensor,
    layer: int = 0,
    relative_radius: float = 0.1,
    rank_tolerance: float = 1e-3,
    clustered: str = "state",
) -> WordProblemInspection:
    """Read layer ``layer`` of a word-problem model on ``words`` and measure its relations and automaton.

    Args:
        model: a ``SequenceModel`` trained on ``group``'s word problem (tokens = element indices).
        group: the group; every element must occur in ``words`` (the relations need every element's map).
        words: LongTensor (B, T) of element indices, no padding.
        layer, relative_radius, rank_tolerance: as in ``read_layer``, ``extract_automaton``, ``relation_residuals``.
        clustered: what the automaton is extracted from: "state", the layer's recurrent states S_t (flattened), or
            "readout", what the model's head reads at each position (the final norm's output, all layers).

    The maps are ``token_maps`` (per-context means); the automaton's outputs are the model's predicted answers,
    and it is compared with the Cayley graph (state y, letter g -> y·g).
    """
    if not isinstance(group, Group):
        raise TypeError(f"group must be a Group, got {type(group).__name__}")
    require_words(words, group.order, "element indices")
    if clustered not in ("state", "readout"):
        raise ValueError(f'clustered must be "state" or "readout", got {clustered!r}')
    reading = read_layer(model, words, layer)
    captured = {}
    hook = model.head.register_forward_hook(lambda _module, inputs, output: captured.update(x=inputs[0], y=output))
    try:
        with torch.no_grad():
            model(words)
    finally:
        hook.remove()
    predictions, words = captured["y"].argmax(dim=-1).cpu(), words.cpu()  # (B, T) each, analysed on the CPU
    points = reading.states.flatten(2) if clustered == "state" else _copy(captured["x"])  # (B, T, ·)
    maps, spread = token_maps(reading.transitions, words, range(group.order))
    states = reading.states.flatten(0, 1)  # (B·T, H, n, m)
    relations = [
        relation_residuals(maps[:, head], states[:, head], group.table, rank_tolerance) for head in range(maps.shape[1])
    ]
    automaton = extract_automaton(points, words, predictions, group.order, relative_radius)
    match = compare_automata(automaton, prefix_products(group.table, words), group.table)
    return WordProblemInspection(reading, relations, spread, automaton, match)


def _require_tokens(tokens: object) -> torch.Tensor:
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long or tokens.dim() != 2:
        raise TypeError("tokens must be a LongTensor (B, T)")
    return tokens
