"""The exercises of Lesson 09 (chunkwise parallel training) and the properties ``check()`` tests them on.

Glossary: C = the chunk length; K (…, C, D_k) = the chunk's keys as rows; β (…, C); Γ (…, C, C) =
the decay between steps; T = (I + strictly-lower(diag(β)(K Kᵀ ⊙ Γ)))⁻¹ = the UT transform. Expected
values: T from ``torch.linalg.inv`` of the matrix built here; one chunk from the recurrence's steps
(``deltanet.delta_rule_step``, which takes keys of any length), a whole sequence in chunks from the
recurrence ``deltanet.delta_rule``; gradients from autograd through those float64 references. One
case of the chunk driver stands in for ``delta_rule_chunk`` with a chunk function that halves the
state it returns, and sees whether the driver's result follows it; one case of the chunk counts the
operations on tensors shaped like the state, which the WY form runs a fixed number of times and the
recurrence once or more per token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .. import chunkwise, deltanet
from ..checker import (
    GENERAL,
    SPECIFIC,
    Case,
    CheckFailed,
    Exercise,
    OperationLog,
    call_learner,
    call_learner_in_place,
    expect_gradients,
    expect_tensor_close,
    expect_unchanged,
    generator_for,
    substituted,
)

MATRIX = "(..., C, C)"
CHUNK_OUTPUTS, STATE, OUTPUTS = "(B, H, C, D_v)", "(B, H, D_k, D_v)", "(B, T, H, D_v)"
# Priorities. Rows that compare values are GENERAL: any wrong formula breaks them, so the report explains the
# first of them that fails, and they are ordered from the most basic to the most particular (a mistake that
# breaks only the gradient, or only resets, is explained there). SPECIFIC rows fail for their own mistake only
# (an input written in place; T that changes with the leading dims, judged against the learner's own T).
# A function that builds float32 tensors for float64 inputs fails every float64 row with one dtype message:
# the row about the dtype, which looks at nothing else, must be the one the report explains.
DTYPE_KEPT = SPECIFIC + 1
# What the chunk driver calls on each chunk; captured before any case stands in for it (chunk_by_chunk).
LIBRARY_CHUNK = chunkwise.delta_rule_chunk


def as_pair(got: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(got, tuple) or len(got) != 2:
        raise CheckFailed(f"expected a pair {what}, got {type(got).__name__}")
    return got


def expect_dtype_kept(call: Callable[[torch.dtype], Sequence[Any]], dtype: torch.dtype, names: Sequence[str]) -> None:
    """``call(dtype)`` gives the learner's results for inputs of ``dtype``: only their dtype is judged, the values are
    other rows' business, so that this row names the mistake.

    An exception raised for ``dtype`` is about the dtype when the same call in the other float dtype runs: the message
    says so, and this row is the one the report explains. One raised for both is the function's own mistake, which the
    value rows see too: it is passed on unchanged, and the report explains the first row that saw it (the tie rule).
    """
    try:
        results = call(dtype)
    except CheckFailed as failure:
        other = torch.float32 if dtype == torch.float64 else torch.float64
        try:
            call(other)
        except CheckFailed:
            raise failure from None
        raise CheckFailed(
            f"for {dtype} inputs your function {failure}, for {other} ones it runs: something is built in another "
            "dtype than the inputs'"
        ) from failure
    for result, name in zip(results, names):
        if not isinstance(result, torch.Tensor):
            raise CheckFailed(f"{name} is a {type(result).__name__}, expected a torch.Tensor")
        if result.dtype != dtype:
            raise CheckFailed(
                f"{name} has dtype {result.dtype} for {dtype} inputs: build new tensors with the inputs' dtype "
                f"(torch.zeros(..., dtype=k.dtype) or k.new_zeros(...)), never the default float32"
            )


GRADIENT_TOLERANCE = {
    "atol": 1e-8,
    "rtol": 1e-6,
}  # the reference is a different algorithm: rounding differs more than in the values


# ---------------------------------------------------------------------------------------------- 09.ut_transform


def ut_inputs(
    name: str,
    shape: tuple[int, ...],
    decayed: bool,
    beta_value: float | None = None,
    dtype: torch.dtype = torch.float64,
    parallel: bool = False,
    lengths: bool = False,
):
    """Unit keys (..., C, 5) (of lengths in [0.5, 1.5] with ``lengths``), β (..., C) in [0, 2] (or all
    ``beta_value``), and a decay with one reset (α = 0) or None."""
    generator = generator_for(name)
    raw = torch.randn(*shape, 5, generator=generator, dtype=torch.float64)
    if parallel:  # a shared direction plus 10 % noise: the worst-conditioned 𝒯 of the lesson
        raw = torch.randn(*shape[:-1], 1, 5, generator=generator, dtype=torch.float64) + 0.1 * raw
    k = F.normalize(raw, dim=-1)
    if lengths:
        k = k * (0.5 + torch.rand(*shape, 1, generator=generator, dtype=torch.float64))
    beta = (
        2 * torch.rand(shape, generator=generator, dtype=torch.float64)
        if beta_value is None
        else torch.full(shape, beta_value, dtype=torch.float64)
    )
    decay = None
    if decayed:
        alpha = torch.rand(shape, generator=generator, dtype=torch.float64)
        alpha[..., shape[-1] // 2] = 0.0  # a reset: Γ is zero from there back
        decay = chunkwise.decay_matrix(alpha)
    return k.to(dtype), beta.to(dtype), None if decay is None else decay.to(dtype)


def expected_ut(k: torch.Tensor, beta: torch.Tensor, decay: torch.Tensor | None) -> torch.Tensor:
    gram = k.double() @ k.double().transpose(-1, -2)
    if decay is not None:
        gram = gram * decay.double()
    lower = torch.tril(beta.double()[..., :, None] * gram, diagonal=-1)
    return torch.linalg.inv(torch.eye(k.shape[-2], dtype=torch.float64) + lower)


def ut_cases() -> list[Case]:
    def matches(
        name: str,
        shape: tuple[int, ...],
        hints: tuple[str, ...],
        decayed: bool = False,
        beta_value: float | None = None,
        parallel: bool = False,
        lengths: bool = False,
    ) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            k, beta, decay = ut_inputs(name, shape, decayed, beta_value, parallel=parallel, lengths=lengths)
            expect_tensor_close(call_learner(fn, k, beta, decay), expected_ut(k, beta, decay), "T", MATRIX, atol=1e-9)

        return Case(name, run, hints, GENERAL)

    def two_by_two(fn: Callable[..., Any]) -> None:
        k = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)
        got = call_learner(fn, k, torch.tensor([0.5, 2.0], dtype=torch.float64), None)
        expect_tensor_close(
            got,
            torch.tensor([[1.0, 0.0], [-1.2, 1.0]], dtype=torch.float64),
            "T for k₁ = (1, 0), k₂ = (0.6, 0.8), β₂ = 2: A₂₁ = β₂ k₂ᵀk₁ = 1.2",
            MATRIX,
            atol=1e-12,
        )

    def zero_betas(fn: Callable[..., Any]) -> None:
        k, beta, decay = ut_inputs("β = 0", (2, 8), False)
        beta[:, ::3] = 0.0  # rows 0, 3, 6 of A vanish: those rows of T are rows of I
        expect_tensor_close(call_learner(fn, k, beta, decay), expected_ut(k, beta, decay), "T", MATRIX, atol=1e-9)

    def any_leading_dims(fn: Callable[..., Any]) -> None:
        # Judged against the learner's own T for (B, C, D_k) keys, the shape of the other rows: a formula that is wrong
        # whatever the shape leaves this row green and the value rows red, so a red row here is about the shapes.
        k, beta, decay = ut_inputs("leading dims", (2, 3, 6), True)
        batched = call_learner(fn, k, beta, decay)
        each = torch.stack([call_learner(fn, k[i], beta[i], decay[i]) for i in range(2)])
        expect_tensor_close(
            batched,
            each,
            "T for keys (2, 3, C, D_k) against yours for each (3, C, D_k) slice",
            "(2, 3, C, C)",
            atol=1e-12,
        )
        single = call_learner(fn, k[0, 0], beta[0, 0], None)
        expect_tensor_close(
            single,
            call_learner(fn, k[0, :1], beta[0, :1], None)[0],
            "T for keys (C, D_k) against yours for (1, C, D_k)",
            "(C, C)",
            atol=1e-12,
        )

    def keeps(dtype: torch.dtype) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            def call(as_dtype: torch.dtype, decayed: bool) -> list[Any]:
                k, beta, decay = ut_inputs("dtype", (2, 8), decayed, dtype=as_dtype)
                return [call_learner(fn, k, beta, decay)]

            for decayed in (True, False):
                expect_dtype_kept(lambda as_dtype: call(as_dtype, decayed), dtype, ["T"])

        return run

    def gradient(fn: Callable[..., Any]) -> None:
        # The gates are the leaf, as in training: Γ = decay_matrix(α) is not any C × C matrix, and formulas that agree
        # on every such Γ (T ⊙ Γ after inverting is one) agree in their gradients for α too.
        k, beta, _ = ut_inputs("gradient", (2, 6), False)
        alpha = torch.rand(2, 6, generator=generator_for("gradient gates"), dtype=torch.float64)
        alpha[:, 2] = 0.0  # a reset, where a decay built through log space has NaN gradients
        k, beta, alpha = (x.requires_grad_() for x in (k, beta, alpha))
        decay = chunkwise.decay_matrix(alpha)
        expect_gradients(
            [call_learner(fn, k, beta, decay)],
            [expected_ut(k, beta, decay)],
            [k, beta, alpha],
            ["k", "beta", "alpha (through decay)"],
            ["(..., C, D_k)", "(..., C)", "(..., C)"],
            ["T"],
            **GRADIENT_TOLERANCE,
        )

    return [
        Case(
            "two steps by hand",
            two_by_two,
            (
                "T = (I + A)⁻¹ with A = strictly-lower(diag(β) K Kᵀ): entry (i, j) of A is β_i k_iᵀk_j for j < i.",
                "torch.tril(beta[..., :, None] * (k @ k.transpose(-1, -2)), diagonal=-1), then invert I + A.",
            ),
            GENERAL,
        ),
        matches(
            "a chunk of 16, β ∈ [0, 2]",
            (2, 16),
            ("Use forward_substitution_inverse (or torch.linalg.solve_triangular).",),
        ),
        matches(
            "keys of any length: K as given",
            (2, 16),
            (
                "The formula takes the keys as they are: K Kᵀ of the keys given, not of normalised ones. Here they "
                "have lengths between 0.5 and 1.5; the layers normalise keys before they get here, not this function.",
            ),
            lengths=True,
        ),
        Case(
            "β = 0 on some steps: their rows of T are rows of I",
            zero_betas,
            (
                "A step with β = 0 writes nothing: row i of A is zero, so row i of T is e_i.",
                "Nothing may divide by β: build A = tril(β_i k_iᵀk_j, -1) and invert I + A.",
            ),
            GENERAL,
        ),
        matches(
            "β = 2 everywhere (reflections)",
            (2, 16),
            ("Nothing special: the same formula holds at β = 2.",),
            beta_value=2.0,
        ),
        matches(
            "with a decay Γ and a reset (Gated DeltaNet)",
            (2, 16),
            (
                "Multiply K Kᵀ entrywise by decay before masking: gram * decay (Γ as given, not transposed).",
                "Γ[i, j] is the decay from step j to step i (row i, column j): gram * decay, not "
                "decay.transpose(-1, -2).",
            ),
            decayed=True,
        ),
        matches(
            "nearly parallel keys, β = 2 (ill-conditioned)",
            (2, 32),
            (
                "Forward substitution (or solve_triangular) meets no entry larger than β here; a formula that does "
                "loses digits.",
                "Powers of A grow large for nearly parallel keys and cancel: Σ (-A)ⁿ or (I - A)(I + A²)(I + A⁴)⋯ is "
                "exact on paper only.",
            ),
            beta_value=2.0,
            parallel=True,
        ),
        Case(
            "the same T for any leading dims: (2, 3, C, D_k) and (C, D_k)",
            any_leading_dims,
            (
                "Index from the end: k.transpose(-1, -2), beta[..., :, None]; torch.bmm and transpose(1, 2) assume "
                "3 dims.",
            ),
        ),
        Case(
            "keeps float32 as float32", keeps(torch.float32), ("Build every intermediate from k's dtype.",), DTYPE_KEPT
        ),
        Case(
            "keeps float64 as float64",
            keeps(torch.float64),
            ("torch.zeros and torch.eye without dtype= make float32: pass dtype=k.dtype (and device=k.device).",),
            DTYPE_KEPT,
        ),
        Case(
            "gradient matches autograd",
            gradient,
            (
                "Fill T row by row into a preallocated tensor and autograd cannot go back through the rows it "
                "overwrote.",
                "Keep the rows in a list and torch.stack them, or use torch.linalg.solve_triangular; no .detach() or "
                "no_grad.",
            ),
            GENERAL,
        ),
    ]


# ---------------------------------------------------------------------------------------------- 09.delta_rule_chunk


def chunk_inputs(
    name: str,
    size: int,
    gated: bool,
    with_state: bool = True,
    edges: bool = False,
    parallel: bool = False,
    lengths: bool = False,
):
    """q, unit k, v, β ∈ [0, 2], S₀ (or zeros) and α ∈ [0, 1] (or None) of one chunk, (B, H, C, D).

    ``edges``: β and α at the ends of their ranges; ``parallel``: keys close to one direction, β = 2; ``lengths``: keys
    of lengths in [0.5, 1.5] and β ∈ [0, 1] (so that 1 - β‖k‖² stays in [-1.25, 1]).
    """
    generator = generator_for(name)
    options = {"generator": generator, "dtype": torch.float64}
    q = torch.randn(2, 3, size, 4, **options)
    raw = torch.randn(2, 3, size, 4, **options)
    if parallel:
        raw = torch.randn(2, 3, 1, 4, **options) + 0.1 * raw
    k = F.normalize(raw, dim=-1)
    v = torch.randn(2, 3, size, 5, **options)
    beta = torch.full((2, 3, size), 2.0, dtype=torch.float64) if parallel else 2 * torch.rand(2, 3, size, **options)
    state = torch.randn(2, 3, 4, 5, **options) if with_state else torch.zeros(2, 3, 4, 5, dtype=torch.float64)
    alpha = torch.rand(2, 3, size, **options) if gated else None
    if edges:  # every gate at an end of its range: resets, no decay, steps that write nothing, reflections
        beta = (
            torch.tensor([0.0, 2.0, 1.0, 2.0, 0.0, 2.0, 0.5, 2.0], dtype=torch.float64)
            .repeat(size // 8)
            .expand(2, 3, size)
            .clone()
        )
        alpha = (
            torch.tensor([1.0, 1.0, 0.0, 0.7, 1.0, 0.0, 1.0, 0.9], dtype=torch.float64)
            .repeat(size // 8)
            .expand(2, 3, size)
            .clone()
        )
    if lengths:
        k, beta = k * (0.5 + torch.rand(2, 3, size, 1, **options)), beta / 2
    return q, k, v, beta, state, alpha


def recurrence_of_chunk(q, k, v, beta, state, alpha, scale):
    """The same chunk, token by token: ``deltanet.delta_rule``'s loop, whose steps take keys of any length (it wants
    unit ones)."""
    outputs = []
    for t in range(q.shape[2]):
        state = deltanet.delta_rule_step(
            state, k[:, :, t], v[:, :, t], beta[:, :, t], None if alpha is None else alpha[:, :, t]
        )
        outputs.append(scale * torch.einsum("bhkv,bhk->bhv", state, q[:, :, t]))
    return torch.stack(outputs, dim=2), state


def operations_on_the_state(fn: Callable[..., Any], size: int) -> int:
    """How many operations ``fn`` runs on tensors shaped like the state for a gated chunk of ``size`` steps from a
    given S₀.

    D_k = 5 and D_v = 7 are no other length of the chunk (B = 2, H = 3, C = 8 or 16), so only the state and what is
    computed from it, or added to it, have those last two dimensions.
    """
    generator = generator_for("operations on the state")
    options = {"generator": generator, "dtype": torch.float64}
    inputs = (
        torch.randn(2, 3, size, 5, **options),
        F.normalize(torch.randn(2, 3, size, 5, **options), dim=-1),
        torch.randn(2, 3, size, 7, **options),
        2 * torch.rand(2, 3, size, **options),
        torch.randn(2, 3, 5, 7, **options),
        torch.rand(2, 3, size, **options),
    )
    log = OperationLog()

    @functools.wraps(fn)  # the same signature, so that a write into an input is named by its parameter
    def logged(*args: Any, **kwargs: Any) -> Any:
        with log:
            return fn(*args, **kwargs)

    call_learner(logged, *inputs)
    # attribute reads such as .shape left out; the state may be held transposed
    return sum(
        operation.name != "__get__" and any(shape[-2:] in ((5, 7), (7, 5)) for shape in operation.inputs)
        for operation in log.operations
    )


def chunk_cases() -> list[Case]:
    def matches(
        name: str,
        size: int,
        hints: tuple[str, ...],
        gated: bool = False,
        with_state: bool = True,
        scale: float = 1.0,
        edges: bool = False,
        parallel: bool = False,
        lengths: bool = False,
    ) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            inputs = chunk_inputs(name, size, gated, with_state, edges, parallel, lengths)
            outputs, new_state = as_pair(call_learner(fn, *inputs, scale=scale), "(outputs, new_state)")
            expected_outputs, expected_state = recurrence_of_chunk(*inputs, scale)
            expect_tensor_close(outputs, expected_outputs, "the chunk's outputs", CHUNK_OUTPUTS, atol=1e-10)
            expect_tensor_close(new_state, expected_state, "the state after the chunk", STATE, atol=1e-10)

        return Case(name, run, hints, GENERAL)

    def unchanged(fn: Callable[..., Any]) -> None:
        inputs = chunk_inputs("unchanged", 8, True)
        originals = [x.clone() for x in inputs]
        call_learner_in_place(fn, *inputs)
        expect_unchanged(originals, list(inputs), ["q", "k", "v", "beta", "state", "alpha"])

    def keeps(dtype: torch.dtype) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            def call(as_dtype: torch.dtype, gated: bool) -> tuple[Any, Any]:
                *inputs, alpha = [x.to(as_dtype) for x in chunk_inputs("dtype", 8, True)]
                return as_pair(call_learner(fn, *inputs, alpha if gated else None), "(outputs, new_state)")

            for gated in (True, False):  # an ungated chunk makes its own gates of ones: in which dtype?
                expect_dtype_kept(
                    lambda as_dtype: call(as_dtype, gated), dtype, ["the chunk's outputs", "the state after the chunk"]
                )

        return run

    def state_enters_a_fixed_number_of_times(fn: Callable[..., Any]) -> None:
        short, long = (operations_on_the_state(fn, size) for size in (8, 16))
        if long > short:
            raise CheckFailed(
                f"your function ran {short} torch operations on tensors shaped like the state (…, D_k, D_v) for a "
                f"chunk of 8 steps and {long} for a chunk of 16, {(long - short) / 8:g} more per step: it updates the "
                "state token by token, as the recurrence does. In the WY form the state enters the same few times for "
                "any C."
            )

    def gradient(fn: Callable[..., Any]) -> None:
        inputs = chunk_inputs("gradient", 8, True)
        inputs[5][..., 3] = (
            0.0  # a reset: cumulative gates taken through log space are right forward and NaN backward here
        )
        inputs = [x.requires_grad_() for x in inputs]
        got = as_pair(call_learner(fn, *inputs, scale=0.5), "(outputs, new_state)")
        names = ["q", "k", "v", "beta", "state", "alpha"]
        dims = [
            CHUNK_OUTPUTS.replace("D_v", "D_k"),
            CHUNK_OUTPUTS.replace("D_v", "D_k"),
            CHUNK_OUTPUTS,
            "(B, H, C)",
            STATE,
            "(B, H, C)",
        ]
        expect_gradients(
            got,
            recurrence_of_chunk(*inputs, 0.5),
            inputs,
            names,
            dims,
            ["the chunk's outputs", "the new state"],
            **GRADIENT_TOLERANCE,
        )

    return [
        matches(
            "one token from a zero state: o₁ = β₁(q₁·k₁)v₁",
            1,
            (
                "o_t reads the state after token t's own write: tril(q kᵀ) keeps its diagonal (no diagonal=-1).",
                "With S₀ = 0 and C = 1: U = β v, and o = (q·k) U.",
            ),
            with_state=False,
        ),
        matches(
            "from a zero state: the chunk alone",
            8,
            (
                "T = ut_transform(k, beta); W = T (β k) and U' = T (β v); then U = U' - W S₀.",
                "Outputs: scale · (q S₀ + tril(q kᵀ) U); the new state S₀ + kᵀ U.",
            ),
            with_state=False,
        ),
        matches("from a given state S₀", 8, ("The state enters twice: U = U' - W S₀ and the read-out q S₀.",)),
        matches("a chunk of 64, scale 1/√D_k", 64, ("Multiply the whole read-out by scale.",), scale=0.5),
        matches(
            "gated: decay Γ and cumulative gates g",
            16,
            (
                "With a gate: Γ = decay_matrix(alpha), g = cumprod(alpha); W = T (β g k); multiply tril(q kᵀ) by Γ.",
                "The read-out of S₀ is scaled by g_t; the new state is g_C S₀ + kᵀ (Γ_C· U), Γ_C· the last row of Γ.",
            ),
            gated=True,
        ),
        matches(
            "gates at their edges: α = 0 (a reset), α = 1, β = 0, β = 2",
            16,
            (
                "A gate of exactly 0 is a reset: Γ and g hold exact zeros. decay_matrix multiplies gates; g_t / g_i "
                "divides by zero.",
                "Take the new state's decay from the last row of Γ, not from g_C / g_i.",
            ),
            edges=True,
        ),
        matches(
            "nearly parallel keys, β = 2",
            16,
            ("The formulas hold for any unit keys; nothing here needs special care.",),
            parallel=True,
        ),
        matches(
            "keys of any length: K as given",
            16,
            (
                "The formulas take the keys as they are (here of lengths 0.5 to 1.5): no normalising inside the "
                "chunk, which would compute another recurrence; the layers normalise keys before they get here.",
            ),
            gated=True,
            lengths=True,
        ),
        Case(
            "the WY form: the state enters a fixed number of times, whatever C",
            state_enters_a_fixed_number_of_times,
            (
                "Touch S₀ only in U = U' - W S₀, the read-out diag(g) Q S₀ and S_C = g_C S₀ + Kᵀ (Γ_C· U): one matrix "
                "product each, for all C steps at once.",
                "A loop over the tokens that updates the state (deltanet.delta_rule_step, or S = S + k uᵀ) is the "
                "recurrence: right numbers, but not the chunked algorithm, whose only sequential part is between "
                "chunks.",
            ),
            GENERAL,
        ),
        Case(
            "keeps float32 as float32",
            keeps(torch.float32),
            ("Build every intermediate from the inputs' dtype.",),
            DTYPE_KEPT,
        ),
        Case(
            "keeps float64 as float64",
            keeps(torch.float64),
            (
                "torch.zeros, torch.ones and torch.eye without dtype= make float32: use torch.ones_like(beta) or "
                "dtype=k.dtype.",
            ),
            DTYPE_KEPT,
        ),
        Case("does not modify its inputs", unchanged, ("Build new tensors instead of writing into state or v.",)),
        Case(
            "gradient matches autograd",
            gradient,
            (
                "Every tensor of the chunk needs a gradient in training, T included: no .detach() or torch.no_grad().",
                "Writing rows into a preallocated tensor that is read again breaks autograd: keep a list and "
                "torch.stack it.",
            ),
            GENERAL,
        ),
    ]


# ---------------------------------------------------------------------------------------------- 09.chunk_delta_rule

# B, H, D_k, D_v: four different lengths, so that a layout mixed up (heads for batch, a reshape for a transpose) raises
# or gives other numbers, never the right ones by chance.
WIDTH = (2, 3, 4, 5)


def sequence_inputs(name: str, steps: int, gated: bool, with_state: bool, width: tuple[int, int, int, int] = WIDTH):
    """q, unit k, v, β ∈ [0, 2] in (B, T, H, D); α ∈ [0, 1] with a reset at T/2 (or None); S₀ (B, H, D_k, D_v)
    (or None)."""
    batch, heads, key_dim, value_dim = width
    generator = generator_for(name)
    options = {"generator": generator, "dtype": torch.float64}
    q = torch.randn(batch, steps, heads, key_dim, **options)
    k = F.normalize(torch.randn(batch, steps, heads, key_dim, **options), dim=-1)
    v = torch.randn(batch, steps, heads, value_dim, **options)
    beta = 2 * torch.rand(batch, steps, heads, **options)
    alpha = None
    if gated:  # mostly close to 1, so that the state lives across chunks, and one reset
        alpha = torch.rand(batch, steps, heads, **options).pow(0.1)
        alpha[:, steps // 2] = 0.0
    state = torch.randn(batch, heads, key_dim, value_dim, **options) if with_state else None
    return q, k, v, beta, alpha, state


def first_chunk_note(got: Any, expected_outputs: torch.Tensor, chunk_size: int) -> str:
    """Where the learner's outputs are right in the first chunk and wrong later, say so: the mistake is between
    chunks."""
    outputs = got[0] if isinstance(got, tuple) and got else None
    if (
        not isinstance(outputs, torch.Tensor)
        or outputs.shape != expected_outputs.shape
        or outputs.dtype != expected_outputs.dtype
        or expected_outputs.shape[1] <= chunk_size
    ):
        return ""
    first = slice(0, chunk_size)
    right_at_first = torch.allclose(outputs.detach()[:, first], expected_outputs[:, first], atol=1e-9)
    wrong_later = not torch.allclose(outputs.detach(), expected_outputs, atol=1e-9)
    return (
        f"the first chunk (steps 0 to {chunk_size - 1}) is right, a later one is not: "
        if right_at_first and wrong_later
        else ""
    )


def expect_sequence_close(got: Any, expected: tuple[torch.Tensor, torch.Tensor]) -> None:
    outputs, state = as_pair(got, "(outputs, final_state)")
    expect_tensor_close(outputs, expected[0], "the outputs", OUTPUTS, atol=1e-9)
    expect_tensor_close(state, expected[1], "the final state S_T", STATE, atol=1e-9)


def state_not_kept(got: Any, start: torch.Tensor, expected_state: torch.Tensor) -> bool:
    """True when the learner's final state is the state the sequence started from, and the recurrence's is not."""
    state = got[1] if isinstance(got, tuple) and len(got) == 2 else None
    return (
        isinstance(state, torch.Tensor)
        and state.shape == start.shape
        and state.dtype == start.dtype
        and torch.equal(state.detach(), start)
        and not torch.equal(expected_state, start)
    )


STATE_KEPT_HINTS = (
    "Keep what delta_rule_chunk returns: chunk_outputs, state = delta_rule_chunk(..., state, ...). The next chunk "
    "starts from that state, and after the last chunk it is the final state S_T.",
)


def driver_cases() -> list[Case]:
    def matches(
        name: str,
        steps: int,
        chunk_size: int,
        hints: tuple[str, ...],
        gated: bool = False,
        with_state: bool = False,
        scale: float | None = 1.0,
        width: tuple[int, int, int, int] = WIDTH,
    ) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            q, k, v, beta, alpha, state = sequence_inputs(name, steps, gated, with_state, width)
            got = call_learner(fn, q, k, v, beta, alpha=alpha, initial_state=state, scale=scale, chunk_size=chunk_size)
            expected = deltanet.delta_rule(q, k, v, beta, alpha, state, scale)
            try:
                expect_sequence_close(got, expected)
            except CheckFailed as failure:
                start = deltanet.starting_point(q, v.shape[-1], state, scale)[0]
                if state_not_kept(got, start, expected[1]):
                    raise CheckFailed(
                        f"the final state S_T is the state the sequence started from: the state delta_rule_chunk "
                        f"returns is never kept ({failure})",
                        STATE_KEPT_HINTS,
                    ) from failure
                raise CheckFailed(first_chunk_note(got, expected[0], chunk_size) + str(failure)) from failure

        return Case(name, run, hints, GENERAL)

    def chunk_by_chunk(fn: Callable[..., Any]) -> None:
        steps, size = 40, 16
        q, k, v, beta, alpha, state = sequence_inputs("chunk by chunk", steps, True, True)
        sizes: list[int] = []

        def halving_chunk(q, k, v, beta, state, alpha=None, scale=1.0):
            """A different but well-defined chunk operator: the library's chunk, then half the state it returns."""
            sizes.append(q.shape[-2])
            outputs, new_state = LIBRARY_CHUNK(q, k, v, beta, state, alpha, scale)
            return outputs, 0.5 * new_state

        with substituted(fn, halving_chunk, names=["delta_rule_chunk"], originals=[LIBRARY_CHUNK], modules=[chunkwise]):
            got = call_learner(fn, q, k, v, beta, alpha=alpha, initial_state=state, scale=1.0, chunk_size=size)
        if not sizes:
            raise CheckFailed(
                "never called delta_rule_chunk: compute each chunk with delta_rule_chunk(q_c, k_c, v_c, beta_c, state, "
                "alpha_c, scale) and pass on the state it returns"
            )
        if max(sizes) > size:
            raise CheckFailed(
                f"called delta_rule_chunk on pieces of {', '.join(map(str, sizes))} steps for T = {steps}: with "
                f"chunk_size = {size}, no piece may be longer than {size}"
            )
        # With the state halved at the end of every chunk, the recurrence halves it before steps 16 and 32, and at the
        # end.
        halved = alpha.clone()
        halved[:, size::size] *= 0.5
        expected_outputs, expected_state = deltanet.delta_rule(q, k, v, beta, halved, state, 1.0)
        try:
            expect_sequence_close(got, (expected_outputs, 0.5 * expected_state))
        except CheckFailed as failure:
            raise CheckFailed(
                f"with delta_rule_chunk swapped for a stand-in that halves the state it returns, your result should "
                f"follow it, chunks at steps 0, {size} and {2 * size} (your calls had {', '.join(map(str, sizes))} "
                f"steps): {failure}"
            ) from failure

    def unchanged(fn: Callable[..., Any]) -> None:
        inputs = sequence_inputs("unchanged", 20, True, True)
        originals = [x.clone() for x in inputs]
        call_learner_in_place(fn, *inputs, chunk_size=8)
        expect_unchanged(originals, list(inputs), ["q", "k", "v", "beta", "alpha", "initial_state"])

    def keeps(dtype: torch.dtype) -> Callable[[Callable[..., Any]], None]:
        # The first call has the first row's shapes and arguments: a function that raises the same whatever the dtype
        # (a layout mixed up) raises the same message there, and the report explains the first row (the tie rule), not
        # this one.
        def run(fn: Callable[..., Any]) -> None:
            def call(as_dtype: torch.dtype, gated: bool) -> tuple[Any, Any]:
                q, k, v, beta, alpha, state = [x.to(as_dtype) for x in sequence_inputs("dtype", 10, True, True)]
                got = call_learner(
                    fn,
                    q,
                    k,
                    v,
                    beta,
                    alpha=alpha if gated else None,
                    initial_state=state if gated else None,
                    scale=1.0,
                    chunk_size=64,
                )
                return as_pair(got, "(outputs, final_state)")

            for gated in (False, True):
                expect_dtype_kept(lambda as_dtype: call(as_dtype, gated), dtype, ["the outputs", "the final state S_T"])

        return run

    def gradient(fn: Callable[..., Any]) -> None:
        inputs = [x.requires_grad_() for x in sequence_inputs("gradient", 20, True, True)]
        got = as_pair(call_learner(fn, *inputs, scale=0.5, chunk_size=8), "(outputs, final_state)")
        names = ["q", "k", "v", "beta", "alpha", "initial_state"]
        dims = ["(B, T, H, D_k)", "(B, T, H, D_k)", OUTPUTS, "(B, T, H)", "(B, T, H)", STATE]
        expect_gradients(
            got,
            deltanet.delta_rule(*inputs, 0.5),
            inputs,
            names,
            dims,
            ["the outputs", "the final state"],
            **GRADIENT_TOLERANCE,
        )

    return [
        matches(
            "one chunk: chunk_size ≥ T (T = 10, C = 64)",
            10,
            64,
            (
                "With C ≥ T the whole sequence is one chunk: range(0, T, C) has one start (T // C has none). Each "
                "input goes to delta_rule_chunk as x.transpose(1, 2), (B, H, C, D): a reshape to (B, H, T, D), or a "
                "permute that puts the heads first, mixes steps, heads and batch rows.",
                "The outputs go back with .transpose(1, 2) to (B, T, H, D_v), T of them: steps padded on change "
                "nothing (β = 0, α = 1) and their outputs are dropped. The final state is the one delta_rule_chunk "
                "returned; pass scale on as the stub set it.",
            ),
        ),
        matches(
            "T = 48 in chunks of 16: the state carries across chunks",
            48,
            16,
            (
                "Chunk n starts from the state chunk n - 1 returned, not from the initial state: state = new_state in "
                "the loop.",
                "The first chunk's outputs are right and the second's are not? The state is not passed on.",
            ),
        ),
        matches(
            "T = 40 in chunks of 16: the last chunk has 8 steps",
            40,
            16,
            (
                "There are ceil(T / C) chunks; slice x[:, start:start + C] (the last slice is shorter), or pad to a "
                "multiple of C.",
                "Padded steps must change nothing: β = 0 (and α = 1). Return T outputs and the state after step T.",
            ),
        ),
        matches(
            "chunk_size = 1: every step a chunk",
            7,
            1,
            ("With C = 1 the loop is the recurrence: T chunks of one step.",),
        ),
        matches(
            "from an initial state S₀",
            40,
            16,
            ("The first chunk starts from initial_state (state, from starting_point, in the stub), not from zeros.",),
            with_state=True,
        ),
        matches(
            "gated, with a reset (α = 0)",
            48,
            16,
            ("Pass each chunk's slice of alpha to delta_rule_chunk.",),
            gated=True,
        ),
        matches(
            "gated, T = 37 in chunks of 16: padding changes nothing",
            37,
            16,
            (
                "A padded step with α = 0 resets the state: pad alpha with 1, beta with 0 "
                "(or slice instead of padding).",
                "The final state is the state after step T, not after the padding.",
            ),
            gated=True,
            with_state=True,
        ),
        matches(
            "scale=None means 1/√D_k in every chunk",
            40,
            16,
            (
                "Pass scale on to delta_rule_chunk: its default is 1.0, and the stub has already turned None into "
                "1/√D_k.",
            ),
            scale=None,
        ),
        matches(
            "T = 600 in chunks of 64, narrow width",
            600,
            64,
            ("The loop over chunks, state passed on, as above.",),
            gated=True,
            with_state=True,
            width=(1, 2, 3, 4),
        ),
        Case(
            "works chunk by chunk through delta_rule_chunk",
            chunk_by_chunk,
            (
                "Call delta_rule_chunk once per chunk, on steps nC … nC + C - 1, and pass the state it returns to the "
                "next call.",
                "The recurrence (deltanet.delta_rule) or torch.chunk into ceil(T/C) unequal pieces gives the right "
                "numbers, but not the chunked algorithm.",
            ),
            GENERAL,
        ),
        Case(
            "keeps float32 as float32",
            keeps(torch.float32),
            ("Build every new tensor with the inputs' dtype.",),
            DTYPE_KEPT,
        ),
        Case(
            "keeps float64 as float64",
            keeps(torch.float64),
            (
                "A preallocated torch.zeros(...) is float32: use v.new_zeros(...) or collect the chunks in a list and "
                "torch.cat them.",
            ),
            DTYPE_KEPT,
        ),
        Case(
            "does not modify its inputs",
            unchanged,
            ("Keep the running state in a new variable; never write into initial_state.",),
        ),
        Case(
            "gradient matches autograd",
            gradient,
            (
                "Training backpropagates through every chunk: no .detach() of the state between chunks, no "
                "torch.no_grad().",
            ),
            GENERAL,
        ),
    ]


EXERCISES = [
    Exercise("09.ut_transform", chunkwise.ut_transform, tuple(ut_cases())),
    Exercise("09.delta_rule_chunk", chunkwise.delta_rule_chunk, tuple(chunk_cases())),
    Exercise("09.chunk_delta_rule", chunkwise.chunk_delta_rule, tuple(driver_cases())),
]
