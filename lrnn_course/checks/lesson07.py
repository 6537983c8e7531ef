"""The exercises of Lesson 07 (products of Householders, DeltaProduct) and the properties ``check()`` tests.

Glossary: σ = a permutation as the list (σ(0), …, σ(n-1)); c(σ) = its number of cycles; the
reflection of a key k is I - 2 k̂ k̂ᵀ, and a list of keys multiplies with the first key acting
first. Expected permutation matrices are written out from σ here; the DeltaProduct reference is
the recurrence with dense float64 matrices, sub-step by sub-step (``lesson06.dense_step``), and
expected gradients come from autograd through it. One case passes, as ``delta_rule``, a DeltaNet
that also decays its state at every step and records its calls: the result must follow it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .. import deltanet, deltaproduct, householder
from ..checker import (
    GENERAL,
    GRADIENT_HINTS,
    Case,
    CheckFailed,
    Exercise,
    call_learner,
    call_learner_in_place,
    expect_gradients,
    expect_tensor_close,
    expect_unchanged,
    generator_for,
)
from .lesson06 import dense_step, with_gradients

OUTPUTS = "(B, T, H, D_v)"


def expected_matrix(permutation: list[int]) -> torch.Tensor:
    """P with P e_i = e_σ(i), written out here."""
    matrix = torch.zeros(len(permutation), len(permutation), dtype=torch.float64)
    for i, image in enumerate(permutation):
        matrix[image, i] = 1.0
    return matrix


def cycle_count(permutation: list[int]) -> int:
    seen, count = set(), 0
    for start in range(len(permutation)):
        if start not in seen:
            count += 1
            point = start
            while point not in seen:
                seen.add(point)
                point = permutation[point]
    return count


def factored(fn: Callable[..., Any], permutation: list[int], *dtype: torch.dtype) -> list[torch.Tensor]:
    """The learner's keys for σ, after checking that they are a list of n - c(σ) non-zero keys of shape (n,)."""
    keys = call_learner(fn, permutation, *dtype)
    if not isinstance(keys, list) or not all(
        isinstance(k, torch.Tensor) and k.shape == (len(permutation),) for k in keys
    ):
        raise CheckFailed(
            f"expected a list of keys, each a tensor of shape ({len(permutation)},), got {keys!r}",
            (
                "Return a Python list of keys, [swap_key(...), ...], not one stacked tensor: the list of the identity "
                "is empty, [].",
            ),
        )
    wanted = len(permutation) - cycle_count(permutation)
    if len(keys) != wanted:
        raise CheckFailed(f"σ = {permutation}: {len(keys)} reflections, expected n - c(σ) = {wanted}")
    zero = next((index for index, key in enumerate(keys) if not bool(key.ne(0).any())), None)
    if zero is not None:
        raise CheckFailed(
            f"σ = {permutation}: key {zero} is zero, which is no reflection (a swap of a point with itself?)"
        )
    return keys


def factor_and_compare(fn: Callable[..., Any], permutation: list[int]) -> None:
    product = torch.eye(len(permutation), dtype=torch.float64)
    for key in factored(fn, permutation):
        unit = key.double() / key.double().norm()
        product = (torch.eye(len(permutation), dtype=torch.float64) - 2 * torch.outer(unit, unit)) @ product
    expect_tensor_close(
        product,
        expected_matrix(permutation),
        f"the product of your reflections for σ = {permutation}",
        "(row, column)",
        atol=1e-12,
    )


def permutation_cases() -> list[Case]:
    def single(name: str, permutation: list[int], hints: tuple[str, ...]) -> Case:
        return Case(name, lambda fn: factor_and_compare(fn, permutation), hints)

    def all_of_s4(fn: Callable[..., Any]) -> None:
        for permutation in itertools.permutations(range(4)):
            factor_and_compare(fn, list(permutation))

    def random_s8(fn: Callable[..., Any]) -> None:
        generator = generator_for("random S8")
        for _ in range(10):
            factor_and_compare(fn, torch.randperm(8, generator=generator).tolist())

    def dtypes(fn: Callable[..., Any]) -> None:
        for asked in ((), (torch.float32,), (torch.float16,)):
            found = {key.dtype for key in factored(fn, [2, 0, 1, 3], *asked)}
            wanted = asked[0] if asked else torch.float64
            if found != {wanted}:
                call = f"dtype={wanted}" if asked else "no dtype (the default, float64)"
                raise CheckFailed(f"with {call}, your keys are {', '.join(sorted(map(str, found)))}")

    return [
        single("the identity needs none", [0, 1, 2, 3], ("Fixed points are cycles of length 1: they need no swap.",)),
        single(
            "a swap is one reflection: σ = (1, 0, 2)",
            [1, 0, 2],
            ("swap_key(i, j, n) is e_i - e_j; its reflection swaps coordinates i and j.",),
        ),
        single(
            "the 3-cycle 0 → 1 → 2 → 0 is two reflections, in order",
            [1, 2, 0],
            (
                "A cycle (a₁ a₂ … a_L) is the swap (a₁ a₂) first, then (a₁ a₃), …, then (a₁ a_L).",
                "cycles(σ) lists the cycles, each starting at its smallest element.",
            ),
        ),
        Case("all 24 permutations of S₄", all_of_s4, ("Loop over cycles(permutation) and add L - 1 swaps per cycle.",)),
        Case("random permutations of S₈", random_s8, ("n - c(σ) in total: the sum over cycles of (length - 1).",)),
        Case("keys in the dtype asked for (float64 by default)", dtypes, ("Pass dtype on: swap_key(i, j, n, dtype).",)),
    ]


def product_inputs(name: str, n_householder: int, gated: bool, with_state: bool):
    generator = generator_for(name)
    options = {"generator": generator, "dtype": torch.float64}
    q = torch.randn(2, 6, 2, 4, **options)
    k = F.normalize(torch.randn(2, 6, n_householder, 2, 4, **options), dim=-1)
    v = torch.randn(2, 6, n_householder, 2, 3, **options)
    beta = 2 * torch.rand(2, 6, n_householder, 2, **options)
    alpha = torch.rand(2, 6, 2, **options) if gated else None
    state = torch.randn(2, 2, 4, 3, **options) if with_state else None
    return q, k, v, beta, alpha, state


def substep_gates(alpha: torch.Tensor | None, beta: torch.Tensor, decay: float = 1.0) -> torch.Tensor | None:
    """The factor on the state at each sub-step (B, T, n_h, H): α_t at token t's first sub-step, 1 at the others,
    times ``decay``."""
    if alpha is None and decay == 1.0:
        return None
    first = torch.ones_like(beta[:, :, 0]) if alpha is None else alpha.double()
    return decay * torch.cat([first[:, :, None], torch.ones_like(beta[:, :, 1:])], dim=2).double()


def dense_product(q, k, v, beta, gates, initial_state, scale) -> tuple[torch.Tensor, torch.Tensor]:
    """DeltaProduct in float64 with dense matrices: sub-step j of token t is S ← g (I - β k kᵀ) S + β k vᵀ,
    g = gates[:, t, j]."""
    batch, steps, n_householder, heads, key_dim = k.shape
    state = (
        torch.zeros(batch, heads, key_dim, v.shape[-1], dtype=torch.float64)
        if initial_state is None
        else initial_state.double()
    )
    scale = key_dim**-0.5 if scale is None else scale
    outputs = []
    for t in range(steps):
        for j in range(n_householder):
            state = dense_step(state, k[:, t, j], v[:, t, j], beta[:, t, j], None if gates is None else gates[:, t, j])
        outputs.append(scale * torch.einsum("bhkv,bhk->bhv", state, q[:, t].double()))
    return torch.stack(outputs, dim=1), state


def compare_products(got: Any, expected: tuple[torch.Tensor, torch.Tensor]) -> None:
    if not isinstance(got, tuple) or len(got) != 2:
        raise CheckFailed(f"expected a pair (outputs, final_state), got {type(got).__name__}")
    expect_tensor_close(got[0], expected[0], "the outputs", OUTPUTS, atol=1e-12)
    expect_tensor_close(got[1], expected[1], "the final state", "(B, H, D_k, D_v)", atol=1e-12)


DECAY = 0.8
"""The decaying DeltaNet passed as ``delta_rule`` multiplies the state by this at every step, on top of the gate."""


def interleaving_cases() -> list[Case]:
    def matches(
        name: str,
        n_householder: int,
        hints: tuple[str, ...],
        gated: bool = False,
        with_state: bool = False,
        scale: float | None = None,
    ) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            q, k, v, beta, alpha, state = inputs = product_inputs(name, n_householder, gated, with_state)
            compare_products(
                call_learner(fn, *inputs, scale), dense_product(q, k, v, beta, substep_gates(alpha, beta), state, scale)
            )

        return Case(name, run, hints)

    def given_delta_rule(fn: Callable[..., Any]) -> None:
        # Any correct DeltaNet gives the right numbers, so the check passes one that is different on purpose
        # (the Triton track passes its kernel here): the learner's result must be what it computes.
        lengths: list[int] = []

        def decaying_delta_rule(q, k, v, beta, alpha=None, initial_state=None, scale=None):
            lengths.append(q.shape[1])
            return deltanet.delta_rule(
                q, k, v, beta, DECAY * (torch.ones_like(beta) if alpha is None else alpha), initial_state, scale
            )

        q, k, v, beta, alpha, state = inputs = product_inputs("the delta_rule it is given", 2, True, True)
        got = call_learner(fn, *inputs, delta_rule=decaying_delta_rule)
        if not lengths:
            raise CheckFailed("never called the delta_rule it was given")
        if lengths != [2 * 6]:
            raise CheckFailed(
                f"called the given delta_rule on sequences of lengths {lengths}, expected once on n_h·T = 12 sub-steps"
            )
        try:
            compare_products(got, dense_product(q, k, v, beta, substep_gates(alpha, beta, DECAY), state, None))
        except CheckFailed as failure:
            raise CheckFailed(
                f"the delta_rule passed here also decays the state by {DECAY} at every step, and your result does not "
                f"follow it: {failure}"
            ) from None

    def gradients(fn: Callable[..., Any]) -> None:
        leaves = with_gradients(product_inputs("gradients", 2, True, True))
        q, k, v, beta, alpha, state = leaves
        got = call_learner(fn, *leaves)
        expect_gradients(
            got,
            dense_product(q, k, v, beta, substep_gates(alpha, beta), state, None),
            leaves,
            ["q", "k", "v", "beta", "alpha", "initial_state"],
            [
                "(B, T, H, D_k)",
                "(B, T, n_h, H, D_k)",
                "(B, T, n_h, H, D_v)",
                "(B, T, n_h, H)",
                "(B, T, H)",
                "(B, H, D_k, D_v)",
            ],
            ["the outputs", "the final state"],
        )

    def unchanged(fn: Callable[..., Any]) -> None:
        inputs = product_inputs("unchanged", 2, True, True)
        originals = [x.clone() for x in inputs]
        call_learner_in_place(fn, *inputs)
        expect_unchanged(originals, list(inputs), ["q", "k", "v", "beta", "alpha", "initial_state"])

    return [
        matches(
            "n_h = 1 is DeltaNet",
            1,
            ("Interleave with interleave(x) = x.flatten(1, 2): (B, T, n_h, ...) becomes (B, T·n_h, ...).",),
        ),
        matches(
            "n_h = 2 equals the native recurrence",
            2,
            (
                "The query is zero at every sub-step except each token's last: queries = zeros_like(k); "
                "queries[:, :, -1] = q.",
                "Token t's sub-steps must be consecutive: interleave (B, T, n_h, ...) as it is, without moving n_h in "
                "front of T.",
                "Run delta_rule (the argument) on the interleaved sequence and keep outputs[:, n_h - 1 :: n_h].",
            ),
        ),
        matches("n_h = 3 with an initial state", 3, ("Pass initial_state through to delta_rule.",), with_state=True),
        matches(
            "scale 0.3 reaches the read-out",
            2,
            ("Pass scale through to delta_rule: it multiplies every output.",),
            scale=0.3,
        ),
        matches(
            "gated, n_h = 4: α at each token's first sub-step",
            4,
            (
                "The gate multiplies the state once per token, before its first write: α at sub-step 0 and 1 at the "
                "other n_h - 1 sub-steps.",
            ),
            gated=True,
            with_state=True,
        ),
        Case(
            "runs the delta_rule it is given",
            given_delta_rule,
            (
                "Call the argument delta_rule, not deltanet.delta_rule, once on the whole interleaved sequence, and "
                "return what it computed: the caller may pass the chunked form or a kernel.",
            ),
        ),
        Case("gradients match autograd through a float64 reference", gradients, GRADIENT_HINTS, GENERAL),
        Case(
            "does not modify its inputs",
            unchanged,
            ("Build new tensors (zeros_like, ones_like) instead of writing into q, k or beta.",),
        ),
    ]


EXERCISES = [
    Exercise("07.permutation_reflections", householder.permutation_reflections, tuple(permutation_cases())),
    Exercise(
        "07.delta_product_by_interleaving", deltaproduct.delta_product_by_interleaving, tuple(interleaving_cases())
    ),
]
