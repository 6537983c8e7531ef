"""The exercises of Lesson 06 (DeltaNet) and the properties ``check()`` tests them on.

Glossary: S (B, H, D_k, D_v) = the state; k, v = a key and a value per batch row and head;
β = the step size, α = the gate. Expected values come from dense float64 matrices
(I - β k kᵀ) S + β k vᵀ built entry by entry here, and from the spectrum 1 - β along k, 1 elsewhere;
expected gradients from autograd through those dense float64 references. The step must never build
a D_k × D_k matrix: a row reads, in a ``check.OperationLog``, the shape of every tensor the
learner's torch operations return, with D_k = 7 and no other length 7.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import deltanet, householder
from ..checker import (
    GENERAL,
    GRADIENT_HINTS,
    Case,
    CheckFailed,
    Exercise,
    OperationLog,
    call_learner,
    call_learner_in_place,
    expect_float64_precision,
    expect_gradients,
    expect_tensor_close,
    expect_unchanged,
    generator_for,
    precision_case,
)

STATE = "(B, H, D_k, D_v)"
MATRIX = "(..., n, n)"


def with_gradients(inputs: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
    """Fresh float64 leaves that require grad, one per input (None stays None)."""
    return [None if x is None else x.detach().double().clone().requires_grad_() for x in inputs]


def step_inputs(
    name: str,
    beta_value: float | None = None,
    gated: bool = False,
    dtype: torch.dtype = torch.float64,
    alpha_value: float | None = None,
    sizes: tuple[int, int, int, int] = (2, 3, 4, 5),
):
    """A state (B, H, D_k, D_v) = ``sizes``, unit keys, values, β in [0, 2] (or all ``beta_value``), and if ``gated``
    α in [0, 1] (or all ``alpha_value``)."""
    generator = generator_for(name)
    batch, heads, key_dim, value_dim = sizes
    state = torch.randn(batch, heads, key_dim, value_dim, generator=generator, dtype=torch.float64)
    k = torch.randn(batch, heads, key_dim, generator=generator, dtype=torch.float64)
    k = k / k.norm(dim=-1, keepdim=True)
    v = torch.randn(batch, heads, value_dim, generator=generator, dtype=torch.float64)
    beta = (
        2 * torch.rand(batch, heads, generator=generator, dtype=torch.float64)
        if beta_value is None
        else torch.full((batch, heads), beta_value, dtype=torch.float64)
    )
    alpha = None
    if gated:
        alpha = torch.rand(batch, heads, generator=generator, dtype=torch.float64)
        alpha = alpha if alpha_value is None else torch.full_like(alpha, alpha_value)
    return [x.to(dtype) if x is not None else None for x in (state, k, v, beta, alpha)]


def dense_step(state, k, v, beta, alpha) -> torch.Tensor:
    """α (I - β k kᵀ) S + β k vᵀ with explicit D_k × D_k matrices, in float64."""
    state, k, v, beta = (x.double() for x in (state, k, v, beta))
    identity = torch.eye(k.shape[-1], dtype=torch.float64)
    transition = identity - beta[..., None, None] * torch.einsum("bhi,bhj->bhij", k, k)
    if alpha is not None:
        transition = alpha.double()[..., None, None] * transition
    return transition @ state + beta[..., None, None] * torch.einsum("bhi,bhj->bhij", k, v)


STATE_HINTS = (
    "The new state has the shape of the old one, (B, H, D_k, D_v): the update is the outer product of k (B, H, D_k) "
    "with β (v - Sᵀk) (B, H, D_v), k[..., :, None] * (...)[..., None, :], in that order.",
)


def expect_state(got: Any, expected: torch.Tensor, what: str = "the new state", **tolerances: float) -> None:
    """``expect_tensor_close`` for a new state; one that is no tensor of the state's shape gets hints about that,
    whatever the row it fails on names."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        try:
            expect_tensor_close(got, expected, what, STATE)
        except CheckFailed as failure:
            raise CheckFailed(str(failure), STATE_HINTS) from None
    expect_tensor_close(got, expected, what, STATE, **tolerances)


def step_cases() -> list[Case]:
    def matches(
        name: str,
        hints: tuple[str, ...],
        beta_value: float | None = None,
        gated: bool = False,
        alpha_value: float | None = None,
        priority: int = 0,
    ) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            state, k, v, beta, alpha = step_inputs(name, beta_value, gated, alpha_value=alpha_value)
            got = call_learner(fn, state, k, v, beta, alpha)
            expect_state(got, dense_step(state, k, v, beta, alpha), atol=1e-12)

        return Case(name, run, hints, priority)

    def overwrites(fn: Callable[..., Any]) -> None:
        state, k, v, _, _ = step_inputs("overwrite")
        got = call_learner(fn, state, k, v, torch.ones(2, 3, dtype=torch.float64), None)
        if not isinstance(got, torch.Tensor) or got.shape != state.shape:
            expect_state(got, state)
        expect_tensor_close(torch.einsum("bhkv,bhk->bhv", got, k), v, "Sᵀk after the write", "(B, H, D_v)", atol=1e-12)

    def keeps(dtype: torch.dtype, tolerance: float) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            inputs = step_inputs(f"keeps {dtype}", gated=True, dtype=dtype)
            got = call_learner(fn, *inputs)
            expect_state(got, dense_step(*inputs).to(dtype), atol=tolerance, rtol=tolerance)

        return run

    def any_length(fn: Callable[..., Any]) -> None:
        # (I - β k kᵀ) S + β k vᵀ holds for a key of any length. Only a step right for unit keys is judged here: one
        # that is wrong for them too makes another mistake, which the rows above name.
        state, unit, v, beta, alpha = step_inputs("keys of any length", gated=True)
        base = call_learner(fn, state, unit, v, beta, alpha)
        expected = dense_step(state, unit, v, beta, alpha)
        if not (
            isinstance(base, torch.Tensor)
            and base.shape == expected.shape
            and bool(torch.allclose(base.detach().double(), expected, atol=1e-9))
        ):
            return
        k = unit * (0.5 + 1.5 * torch.rand(2, 3, 1, generator=generator_for("key lengths"), dtype=torch.float64))
        got = call_learner(fn, state, k, v, beta, alpha)
        expect_state(
            got, dense_step(state, k, v, beta, alpha), "the new state for keys of lengths 0.5 to 2", atol=1e-12
        )

    def never_dense(fn: Callable[..., Any]) -> None:
        # D_k = 7 and no other length 7 (B = 2, H = 1, D_v = 3): a result ending in (7, 7) is a D_k × D_k matrix.
        inputs = step_inputs("never builds the matrix", gated=True, sizes=(2, 1, 7, 3))
        log = OperationLog()
        with log:
            call_learner(fn, *inputs)
        square = [
            (operation.name, shape)
            for operation in log.operations
            for shape in operation.outputs
            if len(shape) >= 2 and shape[-2:] == (7, 7)
        ]
        if square:
            operation, shape = square[0]
            raise CheckFailed(
                f"with D_k = 7 your {operation} returned a tensor of shape {shape}: a D_k × D_k matrix such as "
                "I - β k kᵀ, which the step never needs"
            )

    def precision(fn: Callable[..., Any]) -> None:
        inputs = step_inputs("precision", gated=True)
        expect_float64_precision(call_learner(fn, *inputs), dense_step(*inputs), "the new state", STATE)

    def gradients(fn: Callable[..., Any]) -> None:
        inputs = step_inputs("gradients", gated=True)
        inputs[4][0, 0] = 0.0  # a reset: a gate taken through log space is right forward and NaN backward here
        leaves = with_gradients(inputs)
        got = call_learner(fn, *leaves)
        expect_gradients(
            got,
            dense_step(*leaves),
            leaves,
            ["state", "k", "v", "beta", "alpha"],
            [STATE, "(B, H, D_k)", "(B, H, D_v)", "(B, H)", "(B, H)"],
            ["the new state"],
        )

    def unchanged(fn: Callable[..., Any]) -> None:
        inputs = step_inputs("unchanged", gated=True)
        originals = [x.clone() for x in inputs]
        call_learner_in_place(fn, *inputs)
        expect_unchanged(originals, inputs, ["state", "k", "v", "beta", "alpha"])

    return [
        matches(
            "matches (I - β k kᵀ) S + β k vᵀ",
            (
                "Read first: r = Sᵀk, i.e. torch.einsum('bhkv,bhk->bhv', state, k).",
                "Then S + k ⊗ β (v - r): k[..., :, None] * (beta[..., None] * (v - r))[..., None, :].",
            ),
            priority=GENERAL,
        ),
        matches(
            "β = 0 leaves the state alone",
            (
                "With β = 0 nothing is erased and nothing written: β multiplies the whole correction v - Sᵀk, the "
                "erase too.",
            ),
            beta_value=0.0,
        ),
        Case(
            "β = 1 overwrites: afterwards Sᵀk = v",
            overwrites,
            ("The correction is β (v - Sᵀk): at β = 1 it replaces what k read by v.",),
        ),
        matches(
            "β = 2 reflects along k, then writes 2 k vᵀ",
            ("β multiplies both the erase and the write.",),
            beta_value=2.0,
        ),
        matches(
            "the gate α scales the old state first",
            (
                "Gated DeltaNet: S ← α (I - β k kᵀ) S + β k vᵀ. Scale the state by α before reading Sᵀk.",
                "alpha has shape (B, H): use alpha[..., None, None].",
            ),
            gated=True,
        ),
        matches(
            "α = 0 resets: the new state is β k vᵀ",
            (
                "α multiplies the old state, and only the old state: at α = 0 it is forgotten and the write β k vᵀ "
                "remains.",
            ),
            gated=True,
            alpha_value=0.0,
        ),
        Case(
            "keys of any length: the step uses k as given",
            any_length,
            (
                "(I - β k kᵀ) S + β k vᵀ holds for a key of any length: use k as it is given, without normalising it "
                "(a layer normalises its keys before the recurrence, not inside the step).",
            ),
        ),
        Case(
            "keeps float32 as float32",
            keeps(torch.float32, 1e-5),
            ("Do not convert to float64; torch ops keep the inputs' dtype.",),
        ),
        Case(
            "keeps float16 as float16",
            keeps(torch.float16, 1e-2),
            (
                "A tensor you create (torch.eye, torch.zeros) is float32 unless you pass dtype=state.dtype; mixing it "
                "in promotes float16.",
            ),
        ),
        Case(
            "never builds the D_k × D_k matrix (D_k = 7)",
            never_dense,
            (
                "Expand the product instead of forming I - β k kᵀ: (I - β k kᵀ) S + β k vᵀ = S + k [β (v - Sᵀk)]ᵀ.",
                "Read r = Sᵀk (torch.einsum('bhkv,bhk->bhv', state, k)), then add the outer product of k with "
                "β (v - r): k[..., :, None] * (beta[..., None] * (v - r))[..., None, :], a (D_k, D_v) update.",
            ),
        ),
        precision_case("float64 stays float64, to float64's precision", precision),
        Case("gradients match autograd through a float64 reference", gradients, GRADIENT_HINTS, GENERAL),
        Case(
            "does not modify its inputs",
            unchanged,
            ("Build a new state (state + ...) instead of state += ... or state.mul_(...).",),
        ),
    ]


def dense_householder(key: torch.Tensor, beta: float | torch.Tensor) -> torch.Tensor:
    """I - β k̂ k̂ᵀ in float64, with k̂ = k / ‖k‖ (keys (..., n), β a number or of the keys' leading shape)."""
    unit = key.double() / key.double().norm(dim=-1, keepdim=True)
    beta = torch.as_tensor(beta).double() if not isinstance(beta, torch.Tensor) else beta.double()
    identity = torch.eye(key.shape[-1], dtype=torch.float64)
    return identity - beta[..., None, None] * torch.einsum("...i,...j->...ij", unit, unit)


def householder_cases() -> list[Case]:
    def spectrum(fn: Callable[..., Any]) -> None:
        # A unit key: the eigenvalue along it is 1 - β whether or not the key is normalised, so this row is about β
        # alone.
        key = torch.randn(5, generator=generator_for("spectrum"), dtype=torch.float64)
        key = key / key.norm()
        for beta in (0.0, 0.5, 1.0, 1.7, 2.0):
            got = call_learner(fn, key, beta)
            if not isinstance(got, torch.Tensor) or got.shape != (5, 5):
                raise CheckFailed(f"expected a (5, 5) matrix, got {got!r}")
            eigenvalues = torch.linalg.eigvalsh((got.double() + got.double().T) / 2)
            expected = torch.tensor(sorted([1 - beta] + [1.0] * 4), dtype=torch.float64)
            # 1e-6: the mistakes this row names are off by a large part of β; a float32 result is the precision row's.
            if (got.double() - got.double().T).abs().max() > 1e-6 or (eigenvalues - expected).abs().max() > 1e-6:
                shown = ", ".join(f"{x:.4f}" for x in eigenvalues.tolist())
                raise CheckFailed(
                    f"β = {beta}: eigenvalues {shown}; expected 1 - β = {1 - beta:.4f} once and 1 four times "
                    "(and a symmetric matrix)"
                )

    def along_the_key(fn: Callable[..., Any]) -> None:
        key = torch.tensor([3.0, 4.0], dtype=torch.float64)
        got = call_learner(fn, key, 2.0)
        expect_tensor_close(
            got,
            torch.tensor([[0.28, -0.96], [-0.96, -0.28]], dtype=torch.float64),
            "I - 2 k̂ k̂ᵀ for k = (3, 4)",
            MATRIX,
            atol=1e-12,
        )

    def lengths(fn: Callable[..., Any]) -> None:
        # One key at a time: a norm over the whole batch is the batch row's mistake, not this one's.
        direction = torch.randn(4, generator=generator_for("lengths"), dtype=torch.float64)
        direction = direction / direction.norm()
        for length in (1e15, 1e-10):
            key = (length * direction).float()
            for beta in (0, 1, 2):
                got = call_learner(fn, key, beta)
                # Values only: the dtype rows name a dtype mistake.
                got = got.float() if isinstance(got, torch.Tensor) and got.is_floating_point() else got
                expect_tensor_close(
                    got,
                    dense_householder(key, beta).float(),
                    f"float32 keys of length {length:g}, β = {beta}",
                    MATRIX,
                    atol=1e-5,
                    rtol=1e-5,
                )

    def batched(fn: Callable[..., Any]) -> None:
        generator = generator_for("batched")
        keys = torch.randn(2, 3, 4, generator=generator, dtype=torch.float64)
        betas = 2 * torch.rand(2, 3, generator=generator, dtype=torch.float64)
        expect_tensor_close(
            call_learner(fn, keys, betas),
            dense_householder(keys, betas),
            "the (2, 3) batch of matrices",
            MATRIX,
            atol=1e-12,
        )

    def involution(fn: Callable[..., Any]) -> None:
        key = torch.randn(6, generator=generator_for("involution"), dtype=torch.float64)
        got = call_learner(fn, key, 2.0)
        if not isinstance(got, torch.Tensor) or got.shape != (6, 6):
            raise CheckFailed(f"expected a (6, 6) matrix, got {got!r}")
        expect_tensor_close(
            got @ got, torch.eye(6, dtype=torch.float64), "H H (a reflection undoes itself)", MATRIX, atol=1e-12
        )

    def keeps(dtype: torch.dtype, tolerance: float) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            generator = generator_for(f"keeps {dtype}")
            keys, betas = (
                torch.randn(2, 3, generator=generator).to(dtype),
                (2 * torch.rand(2, generator=generator)).to(dtype),
            )
            expect_tensor_close(
                call_learner(fn, keys, betas),
                dense_householder(keys, betas).to(dtype),
                "the matrices",
                MATRIX,
                atol=tolerance,
                rtol=tolerance,
            )

        return run

    def precision(fn: Callable[..., Any]) -> None:
        generator = generator_for("precision")
        keys, betas = (
            torch.randn(2, 3, 4, generator=generator, dtype=torch.float64),
            2 * torch.rand(2, 3, generator=generator, dtype=torch.float64),
        )
        expect_float64_precision(
            call_learner(fn, keys, betas), dense_householder(keys, betas), "the (2, 3) batch of matrices", MATRIX
        )

    def gradients(fn: Callable[..., Any]) -> None:
        generator = generator_for("gradients")
        keys, betas = with_gradients(
            [torch.randn(2, 3, 4, generator=generator), 2 * torch.rand(2, 3, generator=generator)]
        )
        got = call_learner(fn, keys, betas)
        expect_gradients(
            got, dense_householder(keys, betas), [keys, betas], ["key", "beta"], ["(..., n)", "(...)"], ["the matrices"]
        )

    def unchanged(fn: Callable[..., Any]) -> None:
        generator = generator_for("unchanged")
        keys = torch.randn(2, 4, generator=generator, dtype=torch.float64)
        betas = 2 * torch.rand(2, generator=generator, dtype=torch.float64)
        originals = [keys.clone(), betas.clone()]
        call_learner_in_place(fn, keys, betas)
        expect_unchanged(originals, [keys, betas], ["key", "beta"])

    return [
        Case(
            "eigenvalue 1 - β along k, 1 elsewhere",
            spectrum,
            (
                "β is the whole step: the matrix is I - β k̂ k̂ᵀ, so the eigenvalue along k is 1 - β (no factor 2 or ½).",
                "torch.eye(n) - (beta / squared_norms)[..., None, None] * key[..., :, None] * key[..., None, :].",
            ),
        ),
        Case(
            "normalises the key: k = (3, 4), β = 2",
            along_the_key,
            (
                "k̂ k̂ᵀ = k kᵀ / (kᵀk), and kᵀk is computed for you as squared_norms.",
                "Divide by the squared length kᵀk (or normalise the key first).",
            ),
        ),
        Case(
            "float32 keys of length 1e15 and 1e-10, β = 0, 1, 2",
            lengths,
            (
                "Only the direction of k counts: divide by exactly kᵀk (or ‖k‖), with no ε added, which would matter "
                "for short keys.",
                "kᵀk of a float32 key of length 1e15 is 1e30, still finite: k kᵀ / (kᵀk) needs no special case.",
            ),
        ),
        Case(
            "a batch of keys and βs",
            batched,
            (
                "A batch of keys (..., n) gives a batch of matrices (..., n, n): build k kᵀ by broadcasting, "
                "key[..., :, None] * key[..., None, :] (torch.outer takes 1-d vectors only).",
                "beta and squared_norms have the leading shape (...): give each two trailing axes, [..., None, None], "
                "to scale each matrix; and divide each key by its own length, not by one norm or mean over the whole "
                "batch.",
            ),
        ),
        Case("β = 2 is a reflection: H H = I", involution, ("β = 2 flips the component along k̂; twice restores it.",)),
        precision_case("float64 keys give float64 matrices, to float64's precision", precision),
        Case("keeps float32 as float32", keeps(torch.float32, 1e-6), ("Build the identity in key.dtype.",)),
        Case(
            "keeps float16 as float16",
            keeps(torch.float16, 1e-2),
            ("torch.eye(n) is float32 unless you pass dtype=key.dtype, and float32 - float16 is float32.",),
        ),
        Case(
            "gradients match autograd through a float64 reference",
            gradients,
            GRADIENT_HINTS
            + (
                "torch.as_tensor(beta, dtype=key.dtype) keeps a tensor β on the graph; torch.tensor(beta) copies it "
                "off.",
            ),
            GENERAL,
        ),
        Case(
            "does not modify its inputs", unchanged, ("Normalise into a new tensor (key / ...) instead of key /= ...",)
        ),
    ]


EXERCISES = [
    Exercise("06.delta_rule_step", deltanet.delta_rule_step, tuple(step_cases())),
    Exercise("06.generalized_householder", householder.generalized_householder, tuple(householder_cases())),
]
