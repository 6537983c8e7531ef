"""The exercises of Lesson 06 (DeltaNet) and the properties ``check()`` tests them on.

Glossary: S (B, H, D_k, D_v) = the state; k, v = a key and a value per batch row and head;
β = the step size, α = the gate. Expected values come from dense float64 matrices
(I - β k kᵀ) S + β k vᵀ built entry by entry here, and from the spectrum 1 - β along k, 1 elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import deltanet, householder
from ..check import Case, CheckFailed, Exercise, call_learner, call_learner_in_place, expect_tensor_close, expect_unchanged, generator_for

STATE = "(B, H, D_k, D_v)"
MATRIX = "(..., n, n)"


def step_inputs(name: str, beta_value: float | None = None, gated: bool = False, dtype: torch.dtype = torch.float64):
    """A state (2, 3, 4, 5), unit keys, values, β in [0, 2] (or all ``beta_value``), and α if ``gated``."""
    generator = generator_for(name)
    state = torch.randn(2, 3, 4, 5, generator=generator, dtype=torch.float64)
    k = torch.randn(2, 3, 4, generator=generator, dtype=torch.float64)
    k = k / k.norm(dim=-1, keepdim=True)
    v = torch.randn(2, 3, 5, generator=generator, dtype=torch.float64)
    beta = 2 * torch.rand(2, 3, generator=generator, dtype=torch.float64) if beta_value is None else torch.full((2, 3), beta_value, dtype=torch.float64)
    alpha = torch.rand(2, 3, generator=generator, dtype=torch.float64) if gated else None
    return [x.to(dtype) if x is not None else None for x in (state, k, v, beta, alpha)]


def dense_step(state, k, v, beta, alpha) -> torch.Tensor:
    """α (I - β k kᵀ) S + β k vᵀ with explicit D_k × D_k matrices, in float64."""
    state, k, v, beta = (x.double() for x in (state, k, v, beta))
    identity = torch.eye(k.shape[-1], dtype=torch.float64)
    transition = identity - beta[..., None, None] * torch.einsum("bhi,bhj->bhij", k, k)
    if alpha is not None:
        transition = alpha.double()[..., None, None] * transition
    return transition @ state + beta[..., None, None] * torch.einsum("bhi,bhj->bhij", k, v)


def step_cases() -> list[Case]:
    def matches(name: str, hints: tuple[str, ...], beta_value: float | None = None, gated: bool = False) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            state, k, v, beta, alpha = step_inputs(name, beta_value, gated)
            got = call_learner(fn, state, k, v, beta, alpha)
            expect_tensor_close(got, dense_step(state, k, v, beta, alpha), "the new state", STATE, atol=1e-12)

        return Case(name, run, hints)

    def overwrites(fn: Callable[..., Any]) -> None:
        state, k, v, _, _ = step_inputs("overwrite")
        got = call_learner(fn, state, k, v, torch.ones(2, 3, dtype=torch.float64), None)
        if not isinstance(got, torch.Tensor) or got.shape != state.shape:
            raise CheckFailed(f"expected a state of shape {tuple(state.shape)}, got {got!r}")
        expect_tensor_close(torch.einsum("bhkv,bhk->bhv", got, k), v, "Sᵀk after the write", "(B, H, D_v)", atol=1e-12)

    def keeps_float32(fn: Callable[..., Any]) -> None:
        inputs = step_inputs("float32", dtype=torch.float32)
        got = call_learner(fn, *inputs)
        expect_tensor_close(got, dense_step(*inputs).float(), "the new state", STATE, atol=1e-5, rtol=1e-5)

    def unchanged(fn: Callable[..., Any]) -> None:
        inputs = step_inputs("unchanged", gated=True)
        originals = [x.clone() for x in inputs]
        call_learner_in_place(fn, *inputs)
        expect_unchanged(originals, inputs, ["state", "k", "v", "beta", "alpha"])

    return [
        matches("matches (I - β k kᵀ) S + β k vᵀ", (
            "Read first: r = Sᵀk, i.e. torch.einsum('bhkv,bhk->bhv', state, k).",
            "Then S + k ⊗ β (v - r): k[..., :, None] * (beta[..., None] * (v - r))[..., None, :].",
        )),
        matches("β = 0 leaves the state alone", ("With β = 0 nothing is erased and nothing written.",), beta_value=0.0),
        Case("β = 1 overwrites: afterwards Sᵀk = v", overwrites, ("The correction is β (v - Sᵀk): at β = 1 it replaces what k read by v.",)),
        matches("β = 2 reflects along k, then writes 2 k vᵀ", ("β multiplies both the erase and the write.",), beta_value=2.0),
        matches("the gate α scales the old state first", (
            "Gated DeltaNet: S ← α (I - β k kᵀ) S + β k vᵀ. Scale the state by α before reading Sᵀk.",
            "alpha has shape (B, H): use alpha[..., None, None].",
        ), gated=True),
        Case("keeps float32 as float32", keeps_float32, ("Do not convert to float64; torch ops keep the inputs' dtype.",)),
        Case("does not modify its inputs", unchanged, ("Build a new state (state + ...) instead of state += ...",)),
    ]


def householder_cases() -> list[Case]:
    def dense(key: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        unit = key.double() / key.double().norm(dim=-1, keepdim=True)
        identity = torch.eye(key.shape[-1], dtype=torch.float64)
        return identity - beta.double()[..., None, None] * torch.einsum("...i,...j->...ij", unit, unit)

    def spectrum(fn: Callable[..., Any]) -> None:
        key = torch.randn(5, generator=generator_for("spectrum"), dtype=torch.float64)
        for beta in (0.0, 0.5, 1.0, 1.7, 2.0):
            got = call_learner(fn, key, beta)
            if not isinstance(got, torch.Tensor) or got.shape != (5, 5):
                raise CheckFailed(f"expected a (5, 5) matrix, got {got!r}")
            eigenvalues = torch.linalg.eigvalsh((got.double() + got.double().T) / 2)
            expected = torch.tensor(sorted([1 - beta] + [1.0] * 4), dtype=torch.float64)
            if (got.double() - got.double().T).abs().max() > 1e-12 or (eigenvalues - expected).abs().max() > 1e-9:
                shown = ", ".join(f"{x:.4f}" for x in eigenvalues.tolist())
                raise CheckFailed(f"β = {beta}: eigenvalues {shown}; expected 1 - β = {1 - beta:.4f} once and 1 four times (and a symmetric matrix)")

    def along_the_key(fn: Callable[..., Any]) -> None:
        key = torch.tensor([3.0, 4.0], dtype=torch.float64)
        got = call_learner(fn, key, 2.0)
        expect_tensor_close(got, torch.tensor([[0.28, -0.96], [-0.96, -0.28]], dtype=torch.float64),
                            "I - 2 k̂ k̂ᵀ for k = (3, 4)", MATRIX, atol=1e-12)

    def batched(fn: Callable[..., Any]) -> None:
        generator = generator_for("batched")
        keys = torch.randn(2, 3, 4, generator=generator, dtype=torch.float64)
        betas = 2 * torch.rand(2, 3, generator=generator, dtype=torch.float64)
        expect_tensor_close(call_learner(fn, keys, betas), dense(keys, betas), "the (2, 3) batch of matrices", MATRIX, atol=1e-12)

    def involution(fn: Callable[..., Any]) -> None:
        key = torch.randn(6, generator=generator_for("involution"), dtype=torch.float64)
        got = call_learner(fn, key, 2.0)
        if not isinstance(got, torch.Tensor) or got.shape != (6, 6):
            raise CheckFailed(f"expected a (6, 6) matrix, got {got!r}")
        expect_tensor_close(got @ got, torch.eye(6, dtype=torch.float64), "H H (a reflection undoes itself)", MATRIX, atol=1e-12)

    def keeps_float32(fn: Callable[..., Any]) -> None:
        key = torch.randn(3, generator=generator_for("float32"))
        expect_tensor_close(call_learner(fn, key, 1.5), dense(key, torch.tensor(1.5)).float(), "the matrix", MATRIX, atol=1e-6, rtol=1e-5)

    return [
        Case("eigenvalue 1 - β along k, 1 elsewhere", spectrum, (
            "k̂ k̂ᵀ = k kᵀ / (kᵀk), and kᵀk is computed for you as squared_norms.",
            "torch.eye(n) - (beta / squared_norms)[..., None, None] * key[..., :, None] * key[..., None, :].",
        )),
        Case("normalises the key: k = (3, 4), β = 2", along_the_key, ("Divide by the squared length kᵀk (or normalise the key first).",)),
        Case("a batch of keys and βs", batched, ("Use broadcasting over the leading dimensions, not torch.outer (1-d only).",)),
        Case("β = 2 is a reflection: H H = I", involution, ("β = 2 flips the component along k̂; twice restores it.",)),
        Case("keeps float32 as float32", keeps_float32, ("Build the identity in key.dtype.",)),
    ]


EXERCISES = [
    Exercise("06.delta_rule_step", deltanet.delta_rule_step, tuple(step_cases())),
    Exercise("06.generalized_householder", householder.generalized_householder, tuple(householder_cases())),
]
