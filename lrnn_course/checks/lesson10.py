"""The exercises of Lesson 10 (inside the trained networks) and the properties ``check()`` tests them on.

Glossary: a token's transition is A = α (I - β_{n_h} k kᵀ) ⋯ (I - β_1 k_1 k_1ᵀ), the first factor rightmost; a
composition table says table[a, b] = "a, then b", whose map is M(b) M(a); a run of an automaton is a row of states,
one before the first letter and one after each letter. Expected values come from oracles written here: products of
factors multiplied one by one in float64 Python loops, permutation matrices written out from σ, and counts of moves
kept in Python dictionaries. The keys of ``token_transitions`` are unit vectors, so its gradient with respect to a
key is compared along the unit sphere only (the part that turns the key): a function that normalises its keys first
computes the same thing there.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .. import groups, inspection
from ..checker import (
    GENERAL,
    GRADIENT_HINTS,
    SPECIFIC,
    Case,
    CheckFailed,
    Exercise,
    call_learner,
    expect_float64_precision,
    expect_tensor_close,
    generator_for,
    learner_gradients,
    precision_case,
    shown_apart,
)

# A row about the result's type and shape alone, explained when that is wrong (every other row then fails too).
TYPE_ROW = SPECIFIC + 1


# ---------------------------------------------------------------------------------------------- 10.token_transitions


def product_of_factors(
    keys: torch.Tensor, betas: torch.Tensor, gates: torch.Tensor | None, order: Sequence[int] | None = None
) -> torch.Tensor:
    """α (I - β_j k_j k_jᵀ) ⋯ for every token and head, one matrix at a time: the factors multiplied in ``order``
    (default: the first one first, so it ends rightmost), each new one from the left."""
    n_h, heads, dim = keys.shape[-3:]
    flat_keys, flat_betas = keys.reshape(-1, n_h, heads, dim), betas.reshape(-1, n_h, heads)
    flat_gates = None if gates is None else gates.reshape(-1, heads)
    identity = torch.eye(dim, dtype=keys.dtype)
    tokens = []
    for token in range(flat_keys.shape[0]):
        per_head = []
        for head in range(heads):
            product = identity
            for j in range(n_h) if order is None else order:
                key = flat_keys[token, j, head]
                product = (identity - flat_betas[token, j, head] * torch.outer(key, key)) @ product
            per_head.append(product if flat_gates is None else flat_gates[token, head] * product)
        tokens.append(torch.stack(per_head))
    return torch.stack(tokens).reshape(*keys.shape[:-3], heads, dim, dim)


def summed_factors(keys: torch.Tensor, betas: torch.Tensor, gates: torch.Tensor | None) -> torch.Tensor:
    """I - Σ_j β_j k_j k_jᵀ (times α): the product's first-order part, a mistake's result."""
    identity = torch.eye(keys.shape[-1], dtype=keys.dtype)
    summed = identity - (betas[..., None, None] * keys[..., :, None] * keys[..., None, :]).sum(dim=-4)
    return summed if gates is None else gates[..., None, None] * summed


# What the learner's transitions may equal instead of the right ones, and what that says.
def transition_mistakes(
    keys: torch.Tensor, betas: torch.Tensor, gates: torch.Tensor | None
) -> list[tuple[torch.Tensor, str]]:
    n_h = keys.shape[-3]
    mistakes = [
        (
            product_of_factors(keys, betas, gates, range(n_h - 1, -1, -1)),
            "yours is the product with the factors in the opposite order, the last factor rightmost: but the first "
            "factor acts first on the state, so it must stand rightmost",
        ),
        (
            summed_factors(keys, betas, gates),
            "yours is I - Σ_j β_j k_j k_jᵀ, the sum of the corrections: the factors must be multiplied, and their "
            "product also holds the terms β_i β_j k_i (k_iᵀk_j) k_jᵀ",
        ),
        (
            product_of_factors(keys, betas, gates, [0]),
            "yours is the first factor alone: multiply all n_h factors",
        ),
    ]
    if gates is not None:
        mistakes += [
            (
                product_of_factors(keys, betas, gates**n_h),
                f"yours is α^{n_h} times the product: the gate was applied to each of the {n_h} factors, where it "
                "scales the whole product once",
            ),
            (product_of_factors(keys, betas, None), "yours leaves the gate out: multiply the product by α"),
        ]
    return mistakes


def expect_transitions(
    got: Any,
    keys: torch.Tensor,
    betas: torch.Tensor,
    gates: torch.Tensor | None,
    what: str,
) -> None:
    """``got`` (float64 inputs) against the float64 product; a mismatch that is a known mistake says which."""
    expected = product_of_factors(keys, betas, gates)
    leading = expected.dim() - 3
    tokens = ["token"] if leading == 1 else [f"token_{i}" for i in range(leading)]
    dims = f"({', '.join([*tokens, 'head', 'row', 'column'])})"
    try:
        expect_tensor_close(got, expected, what, dims)
    except CheckFailed as failure:
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            for mistaken, meaning in transition_mistakes(keys, betas, gates):
                if not torch.allclose(mistaken, expected) and torch.allclose(
                    got.detach().double(), mistaken, atol=1e-4, rtol=1e-4
                ):
                    raise CheckFailed(f"{failure} — {meaning}") from failure
        raise


def unit_keys(generator: torch.Generator, *shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=generator, dtype=torch.float64), dim=-1).to(dtype)


def transition_inputs(
    name: str, leading: tuple[int, ...], n_h: int, heads: int, dim: int, gated: bool, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Random unit keys, β in [0, 2] and gates in (0, 1), seeded by the row's name."""
    generator = generator_for(name)
    keys = unit_keys(generator, *leading, n_h, heads, dim, dtype=dtype)
    betas = (2 * torch.rand(*leading, n_h, heads, generator=generator, dtype=torch.float64)).to(dtype)
    gates = (0.2 + 0.7 * torch.rand(*leading, heads, generator=generator, dtype=torch.float64)).to(dtype)
    return keys, betas, gates if gated else None


def transition_cases() -> list[Case]:
    def by_hand(fn: Callable[..., Any]) -> None:
        # one token, n_h = 1, three heads with the same key e_0 and β = 0, 1, 2: I, a projection, a reflection
        keys = torch.zeros(1, 3, 2, dtype=torch.float64)
        keys[..., 0] = 1.0
        betas = torch.tensor([[0.0, 1.0, 2.0]], dtype=torch.float64)
        expected = torch.stack([torch.diag(torch.tensor([1.0 - beta, 1.0], dtype=torch.float64)) for beta in (0, 1, 2)])
        got = call_learner(fn, keys, betas)
        expect_tensor_close(got, expected, "the transitions of heads with β = 0, 1, 2 along k = e_0", "(H, D, D)")

    def shape_and_dtype(fn: Callable[..., Any]) -> None:
        for dtype in (torch.float32, torch.float64):
            keys, betas, gates = transition_inputs("shape and dtype", (2, 3), 2, 3, 4, True, dtype)
            got = call_learner(fn, keys, betas, gates)
            if not isinstance(got, torch.Tensor):
                raise CheckFailed(f"returned a {type(got).__name__}, expected a torch.Tensor of shape (2, 3, 3, 4, 4)")
            if tuple(got.shape) != (2, 3, 3, 4, 4):
                raise CheckFailed(
                    f"keys (2, 3, n_h = 2, H = 3, D = 4) give transitions of shape {tuple(got.shape)}, expected "
                    "(2, 3, 3, 4, 4): the leading dimensions, then one D × D matrix per head (the n_h factors are "
                    "multiplied together)"
                )
            if got.dtype != dtype:
                raise CheckFailed(f"{dtype} keys give transitions of dtype {got.dtype}, expected {dtype}")

    def leading_shapes(fn: Callable[..., Any]) -> None:
        # n_h = 1 and no gate: only where the leading dimensions go is judged here, the factors and gates below
        for leading in ((3,), (), (2, 2, 3)):
            keys, betas, _ = transition_inputs(f"leading {leading}", leading, 1, 2, 3, False)
            what = f"the transitions for keys of shape {tuple(keys.shape)}"
            expect_transitions(call_learner(fn, keys, betas), keys, betas, None, what)

    def order_matters(fn: Callable[..., Any]) -> None:
        # two keys 45° apart: the factors do not commute, so the order shows
        keys = torch.tensor([[[1.0, 0.0, 0.0]], [[math.sqrt(0.5), math.sqrt(0.5), 0.0]]], dtype=torch.float64)
        betas = torch.tensor([[2.0], [1.0]], dtype=torch.float64)
        what = "n_h = 2, k_1 = e_0 with β_1 = 2, k_2 = (e_0 + e_1)/√2 with β_2 = 1"
        expect_transitions(call_learner(fn, keys, betas), keys, betas, None, what)

    def three_factors(fn: Callable[..., Any]) -> None:
        keys, betas, _ = transition_inputs("three factors", (), 3, 1, 3, False)
        what = "n_h = 3 factors with random keys and β"
        expect_transitions(call_learner(fn, keys, betas), keys, betas, None, what)

    def gated_once(fn: Callable[..., Any]) -> None:
        keys, betas, _ = transition_inputs("gated once", (3,), 2, 2, 3, False)
        gates = torch.tensor([[0.5, 0.25], [0.5, 0.75], [1.0, 0.5]], dtype=torch.float64)
        what = "n_h = 2, gates α = 0.25 to 1"
        expect_transitions(call_learner(fn, keys, betas, gates), keys, betas, gates, what)

    def gate_of_zero(fn: Callable[..., Any]) -> None:
        keys, betas, gates = transition_inputs("gate of zero", (3,), 2, 2, 3, True)
        gates[0] = 0.0
        leaves = with_gradients([keys, betas, gates])
        got = call_learner(fn, *leaves)
        expect_transitions(got, keys, betas, gates, "n_h = 2 with the gates of token 0 at α = 0 (a reset)")
        if isinstance(got, torch.Tensor) and got.requires_grad:  # a result cut from autograd is the gradient row's
            expect_transition_gradients(got, leaves)

    def precision(fn: Callable[..., Any]) -> None:
        keys, betas, gates = transition_inputs("precision", (4,), 3, 2, 5, True)
        expected = product_of_factors(keys, betas, gates)
        expect_float64_precision(call_learner(fn, keys, betas, gates), expected, "the transitions", "(N, H, D, D)")

    def random_tokens(fn: Callable[..., Any]) -> None:
        keys, betas, gates = transition_inputs("random tokens", (2, 5), 2, 2, 3, True)
        expect_transitions(call_learner(fn, keys, betas, gates), keys, betas, gates, "the transitions of 2 × 5 tokens")

    def gradients(fn: Callable[..., Any]) -> None:
        leaves = with_gradients(transition_inputs("gradients", (2, 3), 3, 2, 4, True))
        expect_transition_gradients(call_learner(fn, *leaves), leaves)

    return [
        Case(
            "by hand: β = 0, 1, 2 along k = e_0 give I, a projection, a reflection",
            by_hand,
            (
                "One factor is I - β k kᵀ: build k kᵀ by broadcasting, keys[..., :, None] * keys[..., None, :], and "
                "give β two trailing axes, betas[..., None, None].",
                "With n_h = 1 and no gate the transition is that one factor: (..., n_h, H, D, D) -> (..., H, D, D).",
            ),
            GENERAL,
        ),
        Case(
            "shape (..., H, D, D) in the keys' dtype",
            shape_and_dtype,
            (
                "keys are (..., n_h, H, D): the factors are (..., n_h, H, D, D), and multiplying the n_h of them "
                "together removes that axis (the fourth from the end).",
                "Build the identity with dtype=keys.dtype: torch.eye(D) is float32 whatever the keys are.",
            ),
            TYPE_ROW,
        ),
        Case(
            "any leading shape: 1, 0 or 3 dimensions before (n_h, H, D)",
            leading_shapes,
            (
                "Index from the end, not the start: the factor axis is -4 of the factors (..., n_h, H, D, D), "
                "whatever comes before it.",
                "factors.unbind(-4) gives the n_h factors of every token and head at once.",
            ),
        ),
        Case(
            "n_h = 2: the first factor acts first, so it stands rightmost",
            order_matters,
            (
                "The state is multiplied by the first factor, then by the second: A S = F_2 (F_1 S), so A = F_2 F_1.",
                "product = factors[0]; then for each later factor: product = factor @ product (the new one on the "
                "left).",
            ),
        ),
        Case(
            "n_h = 3: every factor, in order",
            three_factors,
            ("Loop over all n_h factors, however many there are: for factor in later: product = factor @ product.",),
        ),
        Case(
            "the gate α scales the whole product once",
            gated_once,
            (
                "A = α F_{n_h} ⋯ F_1: one α per token and head, outside the product, not one per factor.",
                "The gate multiplies everything, the identity included: α (I - β k kᵀ), not α I - β k kᵀ. "
                "gates[..., None, None] * product, after the loop; gates=None means no gate.",
            ),
        ),
        Case(
            "a gate of 0 gives A = 0, with finite gradients",
            gate_of_zero,
            (
                "α = 0 is a reset: A = 0 · product. Multiply by α itself; exp(log α) is α forward but its gradient at "
                "α = 0 is 0 · ∞ = NaN.",
            ),
        ),
        precision_case("float64 stays float64, to float64's precision", precision),
        Case(
            "matches the float64 product on 2 × 5 random tokens",
            random_tokens,
            ("A = α (I - β_{n_h} k kᵀ) ⋯ (I - β_1 k_1 k_1ᵀ) for every token and head.",),
            GENERAL,
        ),
        Case(
            "gradients with respect to keys, β and α match autograd through a float64 reference",
            gradients,
            GRADIENT_HINTS,
            GENERAL,
        ),
    ]


def with_gradients(inputs: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
    """Fresh float64 leaves that require grad, one per input (None stays None)."""
    return [None if x is None else x.detach().double().clone().requires_grad_() for x in inputs]


def expect_transition_gradients(got: Any, leaves: Sequence[torch.Tensor]) -> None:
    """The gradients of one random weighting of ``got`` against the oracle's: β's and α's as they are, the keys'
    along the unit sphere (their part orthogonal to the key), which is all that a function of unit keys defines."""
    keys, betas, gates = leaves
    yours, expected = learner_gradients(
        got, product_of_factors(keys, betas, gates), leaves, ["keys", "betas", "gates"], ["the transitions"]
    )
    for name, dims, mine, want in zip(
        ("keys", "betas", "gates"), ("(N, n_h, H, D)", "(N, n_h, H)", "(N, H)"), yours, expected
    ):
        mine = torch.zeros_like(want) if mine is None else mine
        if name == "keys":
            unit = keys.detach()
            mine = mine - (mine * unit).sum(dim=-1, keepdim=True) * unit
            want = want - (want * unit).sum(dim=-1, keepdim=True) * unit
            name = "keys (along the unit sphere)"
        expect_tensor_close(mine, want, f"the gradient with respect to {name}", dims)


# ------------------------------------------------------------------------------------------ 10.composition_residuals


def relative_residuals(maps: torch.Tensor, table: torch.Tensor, product: str = "ba") -> torch.Tensor:
    """‖M(b) M(a) - M(table[a, b])‖_F / max(both norms) pair by pair, in float64 loops (``product="ab"``: M(a) M(b),
    a mistake's)."""
    letters = maps.shape[0]
    result = torch.zeros(letters, letters, dtype=torch.float64)
    for a in range(letters):
        for b in range(letters):
            composed = maps[b] @ maps[a] if product == "ba" else maps[a] @ maps[b]
            wanted = maps[int(table[a, b])]
            gap = float(torch.sqrt(((composed - wanted) ** 2).sum()))
            size = max(float(torch.sqrt((composed**2).sum())), float(torch.sqrt((wanted**2).sum())))
            result[a, b] = gap / size if gap > 0 else 0.0
    return result


def permutation_matrix(sigma: Sequence[int]) -> torch.Tensor:
    """P e_i = e_σ(i), written out."""
    matrix = torch.zeros(len(sigma), len(sigma), dtype=torch.float64)
    for i, image in enumerate(sigma):
        matrix[image, i] = 1.0
    return matrix


def renumbered(table: torch.Tensor, relabel: torch.Tensor) -> torch.Tensor:
    """The table of the same operation with letter a called relabel[a]."""
    new = torch.empty_like(table)
    new[relabel[:, None], relabel[None, :]] = relabel[table]
    return new


def s3_on_its_plane() -> tuple[torch.Tensor, torch.Tensor]:
    """S3's permutation matrices restricted to the plane ⊥ (1, 1, 1), and the table, with letters renumbered so that
    the identity is letter 3 (not 0)."""
    group = groups.group("S3")
    basis = torch.tensor([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]], dtype=torch.float64).T
    basis = basis / basis.norm(dim=0)  # (3, 2), orthonormal columns
    relabel = torch.tensor([3, 0, 5, 1, 4, 2])  # element i becomes letter relabel[i]
    maps = torch.empty(6, 2, 2, dtype=torch.float64)
    for element, sigma in enumerate(group.elements):
        maps[relabel[element]] = basis.T @ permutation_matrix(sigma) @ basis
    return maps, renumbered(group.table, relabel)


def expect_residuals(got: Any, maps: torch.Tensor, table: torch.Tensor, what: str) -> None:
    """``got`` (float64 maps) against the float64 residuals; a mismatch that is a known mistake says so."""
    expected = relative_residuals(maps, table)
    try:
        expect_tensor_close(got, expected, what, "(a, b)")
    except CheckFailed as failure:
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            mine = got.detach().double()
            swapped = relative_residuals(maps, table, "ab")
            if not torch.allclose(swapped, expected) and torch.allclose(mine, swapped, atol=1e-6):
                raise CheckFailed(
                    f"{failure} — yours compares M(a) M(b) with M(table[a, b]): 'a, then b' applies M(a) first, so "
                    "its map is M(b) M(a)"
                ) from failure
            if not torch.allclose(expected.T, expected) and torch.allclose(mine, expected.T, atol=1e-6):
                raise CheckFailed(
                    f"{failure} — yours is the transpose: entry [a, b] belongs to the pair 'a, then b'"
                ) from failure
        raise


def commuting_rotations(name: str, letters: int) -> torch.Tensor:
    """Random rotations of two planes of R^4, one pair of angles per letter: orthogonal maps that commute, so rows on
    them see how a residual is normalised, whatever the order of the product or of the pair."""
    angles = 2 * math.pi * torch.rand(letters, 2, generator=generator_for(name), dtype=torch.float64)
    cos, sin = angles.cos(), angles.sin()
    maps = torch.zeros(letters, 4, 4, dtype=torch.float64)
    for block in range(2):
        plane = slice(2 * block, 2 * block + 2)
        maps[:, plane, plane] = torch.stack(
            [torch.stack([cos[:, block], -sin[:, block]], -1), torch.stack([sin[:, block], cos[:, block]], -1)], -2
        )
    return maps


def composition_cases() -> list[Case]:
    def shape_and_dtype(fn: Callable[..., Any]) -> None:
        table = groups.cyclic_group(3).table
        for dtype in (torch.float32, torch.float64):
            maps = commuting_rotations("shape and dtype", 3).to(dtype)
            got = call_learner(fn, maps, table)
            if not isinstance(got, torch.Tensor):
                raise CheckFailed(f"returned a {type(got).__name__}, expected a torch.Tensor of shape (3, 3)")
            if tuple(got.shape) != (3, 3):
                raise CheckFailed(
                    f"3 maps of shape (4, 4) give residuals of shape {tuple(got.shape)}, expected (3, 3): one number "
                    "per pair (a, b)"
                )
            if got.dtype != dtype:
                raise CheckFailed(f"{dtype} maps give residuals of dtype {got.dtype}, expected {dtype}")

    def exact_s3(fn: Callable[..., Any]) -> None:
        maps, table = s3_on_its_plane()
        expect_residuals(call_learner(fn, maps, table), maps, table, "S3's exact maps (identity = letter 3)")

    def pairs_in_place(fn: Callable[..., Any]) -> None:
        _, table = s3_on_its_plane()
        maps = torch.randn(6, 2, 2, generator=generator_for("pairs"), dtype=torch.float64)
        expect_residuals(call_learner(fn, maps, table), maps, table, "random maps with S3's table")

    def frobenius(fn: Callable[..., Any]) -> None:
        maps, table = commuting_rotations("frobenius", 5), groups.cyclic_group(5).table
        what = "rotations of R^4 (every norm is √4 = 2) with Z5's table"
        expect_residuals(call_learner(fn, maps, table), maps, table, what)

    def larger_norm(fn: Callable[..., Any]) -> None:
        scales = torch.tensor([1.0, 3.0, 0.5, 2.0], dtype=torch.float64)
        maps = commuting_rotations("larger norm", 4) * scales[:, None, None]
        table = renumbered(groups.cyclic_group(4).table, torch.tensor([2, 0, 3, 1]))
        what = "maps scaled by 1, 3, 0.5, 2 (Z4's table, identity = letter 2)"
        expect_residuals(call_learner(fn, maps, table), maps, table, what)

    def both_zero(fn: Callable[..., Any]) -> None:
        # letters: 0 a zero map (absorbing), 1 the identity, 2 a reflection of order 2
        table = torch.tensor([[0, 0, 0], [0, 1, 2], [0, 2, 1]])
        maps = torch.stack([torch.zeros(2, 2), torch.eye(2), torch.diag(torch.tensor([-1.0, 1.0]))]).double()
        maps[2, 0, 1] = 0.1  # M(2)² is not quite I, so some residuals are not 0
        what = "a zero map z (z·x = x·z = z), the identity and a near-reflection"
        expect_residuals(call_learner(fn, maps, table), maps, table, what)

    def precision(fn: Callable[..., Any]) -> None:
        maps = torch.randn(4, 3, 3, generator=generator_for("precision"), dtype=torch.float64)
        table = groups.cyclic_group(4).table
        expected = relative_residuals(maps, table)
        expect_float64_precision(call_learner(fn, maps, table), expected, "the residuals", "(a, b)")

    def random_s4(fn: Callable[..., Any]) -> None:
        group = groups.group("S4")
        maps = torch.randn(24, 3, 3, generator=generator_for("random S4"), dtype=torch.float64)
        expect_residuals(call_learner(fn, maps, group.table), maps, group.table, "random 3 × 3 maps with S4's table")

    return [
        Case(
            "a (G, G) tensor in the maps' dtype",
            shape_and_dtype,
            (
                "One residual per pair (a, b): maps[None, :] @ maps[:, None] is (G, G, r, r), and "
                "torch.linalg.matrix_norm takes the last two dimensions away.",
                "No .double() or .item(): keep the maps' dtype.",
            ),
            TYPE_ROW,
        ),
        Case(
            "'a, then b' is M(b) M(a): S3's exact maps give 0 everywhere",
            exact_s3,
            (
                "M(a) acts first on a state, then M(b): M(b) (M(a) s). The later map stands on the left.",
                "composed[a, b] = maps[b] @ maps[a]: restricted[None, :] @ restricted[:, None] broadcasts to exactly "
                "that.",
            ),
        ),
        Case(
            "relative, in Frobenius norms: rotations of R^4 (every norm is 2)",
            frobenius,
            (
                "A residual is ‖X - Y‖_F / max(‖X‖_F, ‖Y‖_F): the Frobenius norm, not squared, not the spectral norm, "
                "and divided.",
                "torch.linalg.matrix_norm(x) is the Frobenius norm of the last two dimensions (ord='fro' by default).",
            ),
        ),
        Case(
            "divided by the larger of the two norms",
            larger_norm,
            (
                "The denominator is max(‖M(b) M(a)‖_F, ‖M(table[a, b])‖_F): torch.maximum of the two, whichever is "
                "larger for that pair, not one of them, their sum or their mean.",
            ),
        ),
        Case(
            "0 where both are 0: a map of zeros",
            both_zero,
            (
                "A zero map composed with anything is 0, and so is the map it should equal: 0 / 0 must give 0, not "
                "NaN.",
                "torch.where(gap > 0, gap / size.clamp_min(tiny), 0.0): where the gap is 0 the residual is 0.",
            ),
        ),
        Case(
            "entry [a, b] is the pair (a, b), not (b, a)",
            pairs_in_place,
            (
                "Row a, column b: a first, then b. Compare M(b) M(a) with restricted[table], whose entry [a, b] is "
                "M(table[a, b]).",
            ),
        ),
        precision_case("float64 stays float64, to float64's precision", precision),
        Case(
            "random 3 × 3 maps with S4's table (G = 24)",
            random_s4,
            ("Entry [a, b] = ‖M(b) M(a) - M(table[a, b])‖_F / max(‖M(b) M(a)‖_F, ‖M(table[a, b])‖_F).",),
            GENERAL,
        ),
    ]


# ---------------------------------------------------------------------------------------------- 10.transition_table


def counted_moves(state_of: torch.Tensor, words: torch.Tensor) -> dict[tuple[int, int], Counter]:
    """{(state, letter): Counter of the next states} over every move of every run, in Python."""
    moves: dict[tuple[int, int], Counter] = {}
    for states, letters in zip(state_of.tolist(), words.tolist()):
        for before, letter, after in zip(states, letters, states[1:]):
            moves.setdefault((before, letter), Counter())[after] += 1
    return moves


def expected_table(
    state_of: torch.Tensor, words: torch.Tensor, n_states: int, n_letters: int
) -> tuple[torch.Tensor, float]:
    moves = counted_moves(state_of, words)
    table = torch.full((n_states, n_letters), -1, dtype=torch.long)
    agreeing = 0
    for (state, letter), reached in moves.items():
        most = max(reached.values())
        table[state, letter] = min(next_state for next_state, count in reached.items() if count == most)
        agreeing += most
    return table, agreeing / words.numel()


def expect_table(got: Any, state_of: torch.Tensor, words: torch.Tensor, n_states: int, n_letters: int) -> None:
    """``got`` is ``(table, consistency)`` as the Python count gives them; a wrong entry is shown with its moves."""
    table, consistency = expect_table_type(got, n_states, n_letters)
    expected, expected_consistency = expected_table(state_of, words, n_states, n_letters)
    wrong = (table != expected).nonzero()
    if len(wrong):
        state, letter = wrong[0].tolist()
        reached = counted_moves(state_of, words).get((state, letter), Counter())
        seen = (
            "observed moves reach " + ", ".join(f"state {s} ({n}×)" for s, n in sorted(reached.items()))
            if reached
            else "never observed"
        )
        layout = (
            " — yours holds the entries letter by letter (key letter · n_states + state): with the key "
            "state · n_letters + letter, .view(n_states, n_letters) puts entry [state, letter] in its place"
            if torch.equal(table.flatten(), expected.T.flatten())
            else ""
        )
        raise CheckFailed(
            f"table[state={state}, letter={letter}]: yours {int(table[state, letter])}, expected "
            f"{int(expected[state, letter])} ({seen}){layout}"
        )
    # a wrong count is off by 1 / (N·T) >= 1/300 here; float32's rounding of a right fraction (1e-7) is not wrong
    if not math.isclose(consistency, expected_consistency, rel_tol=0, abs_tol=1e-6):
        yours, wanted = shown_apart(consistency, expected_consistency)
        agreeing = round(expected_consistency * words.numel())
        raise CheckFailed(
            f"the table is right; its consistency: yours {yours}, expected {wanted} ({agreeing} of the "
            f"{words.numel()} observed moves agree with the table)"
        )


def expect_table_type(got: Any, n_states: int, n_letters: int) -> tuple[torch.Tensor, float]:
    if not isinstance(got, tuple) or len(got) != 2:
        raise CheckFailed(f"returned a {type(got).__name__}, expected a tuple (table, consistency)")
    table, consistency = got
    shape = (n_states, n_letters)
    if not isinstance(table, torch.Tensor) or table.dtype != torch.long or tuple(table.shape) != shape:
        found = (
            f"a {table.dtype} tensor of shape {tuple(table.shape)}"
            if isinstance(table, torch.Tensor)
            else f"a {type(table).__name__}"
        )
        raise CheckFailed(
            f"the table is {found}, expected a LongTensor of shape (n_states, n_letters) = {shape}: one entry per "
            "state and letter, those never observed included"
        )
    if isinstance(consistency, bool) or not isinstance(consistency, float):
        raise CheckFailed(
            f"the consistency is a {type(consistency).__name__}, expected a Python float (float(...) of a tensor)"
        )
    return table, consistency


def runs(rows: list[list[int]], letters: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(rows), torch.tensor(letters)


def table_cases() -> list[Case]:
    def compared(
        state_rows: list[list[int]], letter_rows: list[list[int]], n_states: int, n_letters: int
    ) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            state_of, words = runs(state_rows, letter_rows)
            expect_table(call_learner(fn, state_of, words, n_states, n_letters), state_of, words, n_states, n_letters)

        return run

    def type_and_shape(fn: Callable[..., Any]) -> None:
        # 5 states, of which 3 are seen; 4 letters, of which 2 are read
        state_of, words = runs([[0, 1, 2, 0], [2, 2, 1, 0]], [[1, 1, 1], [0, 1, 1]])
        expect_table_type(call_learner(fn, state_of, words, 5, 4), 5, 4)

    def random_runs(fn: Callable[..., Any]) -> None:
        generator = generator_for("random runs")
        true_next = torch.randint(6, (6, 3), generator=generator)
        words = torch.randint(3, (20, 15), generator=generator)
        rows = [torch.randint(6, (1,), generator=generator).item() for _ in range(20)]
        state_of = torch.empty(20, 16, dtype=torch.long)
        state_of[:, 0] = torch.tensor(rows)
        for t in range(15):
            state_of[:, t + 1] = true_next[state_of[:, t], words[:, t]]
        noisy = torch.rand(20, 16, generator=generator) < 0.15  # a state read wrong now and then
        state_of = torch.where(noisy, torch.randint(6, (20, 16), generator=generator), state_of)
        expect_table(call_learner(fn, state_of, words, 6, 3), state_of, words, 6, 3)

    # Counter mod 3 with letter 0 = stay, 1 = step: every move agrees, every (state, letter) is seen.
    return [
        Case(
            "by hand: a counter mod 3 (letter 0 stays, 1 steps)",
            compared([[0, 1, 1, 2, 0], [2, 2, 0, 1, 1]], [[1, 0, 1, 1], [0, 1, 1, 0]], 3, 2),
            (
                "Move t of a run goes from state_of[:, t] to state_of[:, t + 1] on the letter words[:, t]; count the "
                "moves of each (state, letter) and keep the next state reached most often.",
                "One key per (state, letter), state * n_letters + letter; lrnn_course.inspection.majority(keys, "
                "next_states, n_states * n_letters) does the vote (ties to the smallest, -1 where unseen), and "
                ".view(n_states, n_letters) shapes it.",
            ),
            GENERAL,
        ),
        Case(
            "a LongTensor (n_states, n_letters) and a float",
            type_and_shape,
            (
                "Use n_states and n_letters as given: a state never seen and a letter never read still get a row and "
                "a column (of -1), so words.max() + 1 is not the number of letters.",
                "Return a tuple: the table as a LongTensor, the consistency as a Python float (float(x) of a tensor).",
            ),
            TYPE_ROW,
        ),
        Case(
            "move t goes from column t to column t + 1: the first move counts",
            compared([[0, 1, 1]], [[0, 0]], 2, 1),
            (
                "Column 0 of state_of is the state before the first letter: the word's first letter moves it to "
                "column 1. Pair state_of[:, :-1] (before), words, and state_of[:, 1:] (after).",
            ),
        ),
        Case(
            "a move never observed is -1",
            compared([[0, 0, 0, 1], [1, 1, 1, 0]], [[0, 0, 1], [1, 1, 0]], 3, 3),
            (
                "A (state, letter) that no run moves from has no next state: -1, not 0 (a real state), whatever the "
                "table starts as.",
            ),
        ),
        Case(
            "consistency: the fraction of all observed moves that the table predicts",
            compared([[0, 1, 0, 2, 0, 1], [1, 1, 1, 1, 1, 1]], [[0] * 5, [1] * 5], 3, 2),
            (
                "Count moves, not table entries: a (state, letter) seen 5 times weighs 5 times as much as one seen "
                "once. consistency = (moves whose next state is the table's) / (N · T).",
            ),
        ),
        Case(
            "the majority of the moves, not the first or the last one seen",
            compared([[0, 2, 0, 1, 0, 1, 0, 1, 0, 2]], [[0] * 9], 3, 1),
            (
                "Count every move of a (state, letter); the next state most of them reach wins, whenever they "
                "happen. Writing table[state, letter] = next in a loop keeps the last move instead.",
            ),
        ),
        Case(
            "ties go to the smallest state id",
            compared([[0, 2, 0, 1, 0], [2, 0, 2, 2, 2]], [[0, 0, 0, 0], [1, 1, 1, 0]], 3, 2),
            (
                "When two next states are reached equally often, the smaller id wins: torch.argmax of counts returns "
                "the first maximum, which is the smallest id; the first or last one seen may be either.",
            ),
        ),
        Case(
            "(state, letter) pairs kept apart: 3 states, 5 letters",
            compared([[0, 1, 0, 2, 1, 2]], [[4, 0, 3, 1, 2]], 3, 5),
            (
                "A key must be unique per (state, letter): state * n_letters + letter runs over 0 … n_states · "
                "n_letters - 1 without collisions; state * n_states + letter collides when there are more letters "
                "than states.",
            ),
        ),
        Case(
            "random runs of a 6-state automaton, 15 % of states read wrong",
            random_runs,
            ("Every move of every run counts once; the table holds the majority, ties to the smallest id.",),
            GENERAL,
        ),
    ]


EXERCISES = [
    Exercise("10.token_transitions", inspection.token_transitions, tuple(transition_cases())),
    Exercise("10.composition_residuals", inspection.composition_residuals, tuple(composition_cases())),
    Exercise("10.transition_table", inspection.transition_table, tuple(table_cases())),
]
