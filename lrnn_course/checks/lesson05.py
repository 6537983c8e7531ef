"""The exercises of Lesson 05 (counting mod m) and the properties ``check()`` tests them on.

Glossary: θ₁, θ₂ = the angles of the two reflection keys; ``bits`` (B, T) = the input word;
``modulus`` = m; ``transition`` = A(1) of the counter. Expected values are written out entry by entry
with ``math`` (the reflections, and the counter's states for a transition the check supplies) and with
an integer cumulative sum (the counts), independently of ``lrnn_course.householder``. Whether the
counter rotates its state is judged by what it computes: given a different A(1), its readings must
follow it. Those rows rank below the rows with the default A(1): a counter that reads wrong there
is explained by them, with hints picked from the pattern of its readings (turned the other way,
read before the step, not reduced mod m, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .. import householder
from ..checker import (
    GENERAL,
    Case,
    CheckFailed,
    Exercise,
    call_learner,
    call_learner_in_place,
    expect_float64_precision,
    expect_tensor_close,
    expect_unchanged,
    generator_for,
    precision_case,
)

COUNTS = "(B, T)"


def reflection64(angle: float) -> torch.Tensor:
    """I - 2 u uᵀ for u = (cos θ, sin θ), entry by entry."""
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[1 - 2 * c * c, -2 * c * s], [-2 * c * s, 1 - 2 * s * s]], dtype=torch.float64)


def product_cases() -> list[Case]:
    def matches(name: str, first: float, second: float, hints: tuple[str, ...]) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            got = call_learner(fn, first, second)
            expect_tensor_close(
                got,
                reflection64(first) @ reflection64(second),
                f"H({first:.4f}) H({second:.4f})",
                atol=1e-12,
                rtol=1e-12,
            )

        return Case(name, run, hints)

    def is_rotation(fn: Callable[..., Any]) -> None:
        for first, second in (
            2 * math.pi * torch.rand(4, 2, generator=generator_for("rotations"), dtype=torch.float64)
        ).tolist():
            got = call_learner(fn, first, second)
            angle = 2 * (first - second)
            expected = torch.tensor(
                [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], dtype=torch.float64
            )
            expect_tensor_close(
                got, expected, f"H({first:.4f}) H({second:.4f}), the rotation by 2(θ₁ - θ₂)", atol=1e-12, rtol=1e-12
            )

    def eigenvalues(fn: Callable[..., Any]) -> None:
        got = call_learner(fn, math.pi / 3, 0.0)
        if not isinstance(got, torch.Tensor) or got.shape != (2, 2):
            raise CheckFailed(f"expected a (2, 2) tensor, got {got!r}")
        values = sorted(torch.linalg.eigvals(got.double()).tolist(), key=lambda z: z.imag)
        expected = [complex(-0.5, -math.sqrt(3) / 2), complex(-0.5, math.sqrt(3) / 2)]
        if any(abs(v - e) > 1e-9 for v, e in zip(values, expected)):
            shown = ", ".join(f"{v.real:+.4f}{v.imag:+.4f}i" for v in values)
            raise CheckFailed(f"eigenvalues {shown}, expected e^(±2πi/3) = -0.5000±0.8660i")

    def precision(fn: Callable[..., Any]) -> None:
        expect_float64_precision(
            call_learner(fn, 0.4, 1.3), reflection64(0.4) @ reflection64(1.3), "H(0.4000) H(1.3000)"
        )

    def keeps(dtype: torch.dtype, tolerance: float) -> Callable[[Callable[..., Any]], None]:
        def run(fn: Callable[..., Any]) -> None:
            got = call_learner(fn, 0.3, 1.1, dtype=dtype)
            expect_tensor_close(
                got, (reflection64(0.3) @ reflection64(1.1)).to(dtype), "the product", atol=tolerance, rtol=tolerance
            )

        return run

    return [
        matches(
            "matches H(θ₁) H(θ₂), entry by entry",
            0.4,
            1.3,
            (
                "u = torch.stack([cos θ, sin θ]) and H = I - 2 u uᵀ: torch.eye(2) - 2 * torch.outer(u, u).",
                "Multiply H(θ₁) @ H(θ₂) — in this order: the second reflection acts first on a vector.",
            ),
        ),
        matches(
            "the order matters: H(1.3) H(0.4)", 1.3, 0.4, ("Reflections do not commute: H(θ₁) H(θ₂) ≠ H(θ₂) H(θ₁).",)
        ),
        matches("equal angles give the identity", 0.9, 0.9, ("A reflection is its own inverse: H H = I.",)),
        Case("is the rotation by 2(θ₁ - θ₂)", is_rotation, ("β = 2, not 1: a reflection maps u to -u.",)),
        Case(
            "H(π/3) H(0) has eigenvalues e^(±2πi/3)",
            eigenvalues,
            ("A rotation by 2π/3 has the complex eigenvalues e^(±2πi/3).",),
        ),
        precision_case("the default dtype, float64, to float64's precision", precision),
        Case("dtype=torch.float32 gives float32", keeps(torch.float32, 1e-5), ("Build u in the requested dtype.",)),
        Case(
            "dtype=torch.float16 gives float16",
            keeps(torch.float16, 4e-3),
            (
                "Every tensor you build needs the dtype: torch.eye(2) alone is float32, and float32 - float16 is "
                "float32.",
            ),
        ),
    ]


def rotation64(angle: float) -> torch.Tensor:
    """The rotation by ``angle``, entry by entry."""
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


# A(1) = S R(2π/3) S⁻¹ with S the shear [[1, 2], [0, 1]]: not a rotation (its states lie on an ellipse), so
# the angles of its states do not grow by a fixed step. They read 0, 0, 2 at 0, 1, 2 ones (then repeat),
# each at least 21° from the nearest reading boundary (±60° around a multiple of 120°).
SHEAR = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64)
NOT_A_ROTATION = SHEAR @ rotation64(2 * math.pi / 3) @ torch.linalg.inv(SHEAR)


def readings64(bits: torch.Tensor, modulus: int, transition: torch.Tensor) -> torch.Tensor:
    """The LRNN h_t = A(x_t) h_(t-1), h_0 = (1, 0), A(1) = ``transition``, A(0) = I, step by step with ``math``:
    the angle of each h_t rounded to the nearest multiple of 2π/m, in 0 .. m - 1."""
    (a, b), (c, d) = transition.tolist()
    readings = []
    for row in bits.tolist():
        x, y, line = 1.0, 0.0, []
        for bit in row:
            if bit:
                x, y = a * x + b * y, c * x + d * y
            line.append(round(math.atan2(y, x) / (2 * math.pi / modulus)) % modulus)
        readings.append(line)
    return torch.tensor(readings, dtype=torch.long)


def whole_counts(got: Any) -> Any:
    """The learner's readings as int64 where they hold whole numbers, to compare their values: the row "returns whole
    numbers as torch.long" alone judges their dtype. Readings that are not whole numbers stay as they are."""
    if (
        isinstance(got, torch.Tensor)
        and got.dtype not in (torch.long, torch.bool)
        and not got.is_complex()
        and (not got.is_floating_point() or bool((got == got.round()).all()))
    ):
        return got.long()
    return got


def misreading(got: torch.Tensor, bits: torch.Tensor, modulus: int) -> tuple[str, tuple[str, ...]] | None:
    """What a counter's wrong readings (B, T) of ``bits`` with the default A(1) have in common with the right ones, if
    they follow a pattern a known mistake makes, and hints about that mistake."""
    counts = bits.long().cumsum(dim=1)
    if got.min() < 0 or got.max() >= modulus:
        value = int(got.min()) if got.min() < 0 else int(got.max())
        return f"yours hold {value}, outside 0 .. {modulus - 1}", (
            "Take the readings mod m: atan2 gives angles in (-π, π], so for half the states the nearest multiple of "
            "2π/m is negative: round(angle / (2π/m)) % m.",
        )
    for factor in range(2, modulus):
        if bool((got == factor * counts % modulus).all()):
            if factor == modulus - 1:
                return f"yours are (-c) mod {modulus}: your state turns by -2π/{modulus} at each 1", (
                    "h @ A multiplies a row vector h by A from the right, which is multiplying it by Aᵀ = A⁻¹, the "
                    "rotation the other way: write h @ A.T, or A @ h for a column vector h.",
                    "Or your A(1) turns by 2·(2π/m): reflection_product(θ₁, θ₂) rotates by 2(θ₁ - θ₂), so the "
                    "rotation by 2π/m is reflection_product(π / m, 0).",
                )
            return f"yours are {factor}c mod {modulus}: your A(1) turns {factor} times too far", (
                "reflection_product(θ₁, θ₂) rotates by 2(θ₁ - θ₂): the rotation by 2π/m is "
                "reflection_product(π / m, 0).",
            )
    steps = torch.arange(1, bits.shape[1] + 1).expand_as(got)
    if bool((got == steps % modulus).all()):
        return "yours advance at every step, at a 0 too", (
            "A(0) is the identity: only a 1 turns the state. For a batch of bits, choose per row, e.g. "
            "torch.where(bit == 1, turned, h), or A(x) = x·A(1) + (1 - x)·I.",
        )
    before = torch.cat([torch.zeros_like(counts[:, :1]), counts[:, :-1]], dim=1) % modulus
    if bool((got == before).all()):
        return "yours are the readings before each step, of h_(t-1)", (
            "Read the state after multiplying it by A(x_t): the reading at t counts the ones up to and including x_t.",
        )
    # Readings of angle magnitudes (acos) and readings rounded down (floor) can coincide on a few steps: both are named
    # then.
    found = []
    if bool((got == torch.minimum(counts % modulus, -counts % modulus)).all()):
        found.append(
            (
                "read a state at angle -θ as the one at θ",
                "acos(cos θ) cannot tell θ from -θ: torch.atan2(h[1], h[0]) keeps the sign of the angle.",
            )
        )
    if bool(torch.isin((got - counts) % modulus, torch.tensor([0, modulus - 1])).all()):
        found.append(
            (
                "are one below the count at some steps",
                "Round to the nearest multiple of 2π/m (torch.round), not down: the computed angle lies a rounding "
                "error below or above k·2π/m, and floor or int() turns k - ε into k - 1.",
            )
        )
    if found:
        return "yours " + ", or ".join(remark for remark, _ in found), tuple(hint for _, hint in found)
    return None


def expect_counts(got: Any, bits: torch.Tensor, modulus: int, what: str) -> None:
    """The counter's readings with the default A(1) are the counts mod m; a known pattern of wrong ones gets its
    hints."""
    try:
        expect_tensor_close(whole_counts(got), bits.long().cumsum(dim=1) % modulus, what, COUNTS, atol=0, rtol=0)
    except CheckFailed as failure:
        got = whole_counts(got)
        known = (
            misreading(got, bits, modulus)
            if isinstance(got, torch.Tensor) and got.shape == bits.shape and got.dtype == torch.long
            else None
        )
        if known is None:
            raise
        raise CheckFailed(f"{failure} — {known[0]}", known[1]) from None


def counter_cases() -> list[Case]:
    def matches(name: str, batch: int, steps: int, modulus: int, dtype: torch.dtype, hints: tuple[str, ...]) -> Case:
        def run(fn: Callable[..., Any]) -> None:
            bits = (torch.rand(batch, steps, generator=generator_for(name)) < 0.5).to(dtype)
            expect_counts(call_learner(fn, bits, modulus), bits, modulus, f"the counts mod {modulus}")

        return Case(name, run, hints)

    def all_ones(fn: Callable[..., Any]) -> None:
        bits = torch.ones(1, 7, dtype=torch.float64)
        expect_counts(call_learner(fn, bits, 3), bits, 3, "the counts on 1111111, m = 3")

    def random_bits(name: str) -> torch.Tensor:
        return (torch.rand(2, 24, generator=generator_for(name)) < 0.5).double()

    def follows_a_rotation(fn: Callable[..., Any]) -> None:
        # Rotating by 4π/3 instead of 2π/3, the state after c ones sits at 2c · 2π/3: it reads 2c mod 3.
        bits = random_bits("follows a rotation")
        counts = bits.long().cumsum(dim=1) % 3
        got = call_learner(fn, bits, 3, transition=rotation64(4 * math.pi / 3))
        if (
            isinstance(got, torch.Tensor) and got.shape == counts.shape and bool((got == counts).all())
        ):  # whatever their dtype
            raise CheckFailed(
                "with transition = the rotation by 4π/3 the state after c ones reads 2c mod 3, but yours are the "
                "counts c mod 3, as if A(1) were the rotation by 2π/3: they do not follow the transition given"
            )
        expect_tensor_close(
            whole_counts(got),
            2 * counts % 3,
            "the readings with transition = the rotation by 4π/3 (2c mod 3)",
            COUNTS,
            atol=0,
            rtol=0,
        )

    def reads_the_state(fn: Callable[..., Any]) -> None:
        bits = random_bits("reads the state")
        got = whole_counts(call_learner(fn, bits, 3, transition=NOT_A_ROTATION))
        expect_tensor_close(
            got,
            readings64(bits, 3, NOT_A_ROTATION),
            "the readings with transition = S R(2π/3) S⁻¹, S = [[1, 2], [0, 1]] (not a rotation)",
            COUNTS,
            atol=0,
            rtol=0,
        )

    def long_counts(fn: Callable[..., Any]) -> None:
        got = call_learner(fn, random_bits("whole numbers"), 3)
        if isinstance(got, torch.Tensor) and got.dtype != torch.long:
            raise CheckFailed(f"the counts have dtype {got.dtype}, expected torch.int64 (whole numbers 0 .. m - 1)")

    def unchanged(fn: Callable[..., Any]) -> None:
        bits = (torch.rand(2, 9, generator=generator_for("unchanged")) < 0.5).double()
        original = bits.clone()
        call_learner_in_place(fn, bits, 3)
        expect_unchanged([original], [bits], ["bits"])

    rotating = (
        "Keep the signature mod_counter(bits, modulus, transition=None): use transition as A(1) when it is given.",
        "The exercise is the LRNN: a loop over t that multiplies the state by A(x_t), then reads the angle of the "
        "state. A count of the ones (a Python counter, cumsum, a matmul with a triangular matrix, a sum of angles) "
        "cannot follow a different A(1).",
    )
    # The rows with the default A(1) name the mistakes of a machine that reads wrong; the rows that hand over another
    # A(1) rank below them, so they explain only a counter that reads right but does not compute with the rotation; the
    # dtype of the readings comes last.
    return [
        Case(
            "all ones, m = 3: 1 2 0 1 2 0 1",
            all_ones,
            (
                "The symbol 1 uses A(1) = reflection_product(π / m, 0), a rotation by 2π/m; the symbol 0 uses the "
                "identity.",
                "Start from h = (1, 0); after each step read the angle atan2(h[1], h[0]) mod 2π and round it to a "
                "multiple of 2π/m.",
            ),
        ),
        matches(
            "random bits, m = 3",
            3,
            50,
            3,
            torch.float64,
            ("Per step: h = A(x_t) h, with A(x_t) = x_t · R + (1 - x_t) · I for a batch of bits.",),
        ),
        matches("m = 5", 2, 60, 5, torch.float64, ("Use the modulus argument for the angle π / m.",)),
        matches("m = 2 (parity) works too", 2, 40, 2, torch.float64, ("For m = 2 the rotation is by π: h -> -h.",)),
        matches(
            "exact for 10 000 steps in float32, m = 3",
            2,
            10_000,
            3,
            torch.float32,
            ("Keep the state in the dtype of bits; rounding to the nearest multiple of 2π/m absorbs the drift.",),
        ),
        Case(
            "counts by rotating the state: transition = the rotation by 4π/3 reads 2c mod 3",
            follows_a_rotation,
            rotating,
            GENERAL,
        ),
        Case(
            "counts by rotating the state: a transition that is not a rotation",
            reads_the_state,
            rotating[:1]
            + (
                "Read the count off the state itself, atan2(h[1], h[0]), after multiplying it by A(x_t): an angle you "
                "add up step by step is the state's angle only when A(1) is a rotation.",
            ),
            GENERAL,
        ),
        Case(
            "returns whole numbers as torch.long",
            long_counts,
            ("Return the readings as whole numbers of dtype torch.long (int64): .long() after rounding.",),
            GENERAL - 1,
        ),
        Case("does not modify its input", unchanged, ("Build new tensors from bits instead of writing into it.",)),
    ]


EXERCISES = [
    Exercise("05.reflection_product", householder.reflection_product, tuple(product_cases())),
    Exercise("05.mod_counter", householder.mod_counter, tuple(counter_cases())),
]
