"""Generalized Householder matrices, rotations from two reflections, and the exact mod-m counter (Theorem 2)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from lrnn_course import householder, precision


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 1.7, 2.0])
def test_spectrum_is_one_minus_beta_along_k_and_one_elsewhere(beta):
    key = torch.randn(5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    matrix = householder.generalized_householder(key, beta)
    unit = key / key.norm()
    assert torch.allclose(matrix @ unit, (1 - beta) * unit, atol=1e-14)
    orthogonal = torch.randn(5, dtype=torch.float64)
    orthogonal -= (orthogonal @ unit) * unit
    assert torch.allclose(matrix @ orthogonal, orthogonal, atol=1e-14)
    assert sorted(torch.linalg.eigvalsh(matrix).tolist()) == pytest.approx(sorted([1 - beta] + [1.0] * 4), abs=1e-12)
    assert torch.linalg.matrix_norm(matrix, ord=2).item() <= 1 + 1e-12


def test_batched_keys_and_betas():
    """Every (key, β) pair of a batch against I - β k kᵀ / kᵀk built entry by entry in Python floats."""
    generator = torch.Generator().manual_seed(4)
    keys = torch.randn(3, 4, 3, generator=generator, dtype=torch.float64)
    betas = torch.rand(3, 4, generator=generator, dtype=torch.float64) * 2
    matrices = householder.generalized_householder(keys, betas)
    assert matrices.shape == (3, 4, 3, 3)
    for i in range(3):
        for j in range(4):
            k, beta = keys[i, j].tolist(), betas[i, j].item()
            norm = sum(x * x for x in k)
            expected = [[(r == c) - beta * k[r] * k[c] / norm for c in range(3)] for r in range(3)]
            torch.testing.assert_close(matrices[i, j], torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-14)


@pytest.mark.parametrize("first,second", [(0.0, 0.0), (0.3, 1.2), (math.pi / 3, 0.0), (2.0, -1.0)])
def test_two_reflections_make_the_rotation_by_twice_their_angle(first, second):
    product = householder.reflection_product(first, second)
    assert torch.allclose(product, householder.rotation(2 * (first - second)), atol=1e-14)
    assert torch.linalg.det(product).item() == pytest.approx(1.0)

    # H(θ) = I - 2 u uᵀ, u = (cos θ, sin θ), written out: [[-cos 2θ, -sin 2θ], [-sin 2θ, cos 2θ]]; H(θ₂) acts first.
    def reflection(angle):
        return torch.tensor(
            [[-math.cos(2 * angle), -math.sin(2 * angle)], [-math.sin(2 * angle), math.cos(2 * angle)]],
            dtype=torch.float64,
        )

    torch.testing.assert_close(product, reflection(first) @ reflection(second), rtol=0, atol=1e-14)


def test_rotation_and_reflection_product_by_hand():
    """A quarter turn takes e₁ to e₂ (counter-clockwise); H(π/4) H(0) = [[0, -1], [-1, 0]] [[-1, 0], [0, 1]] is it."""
    quarter = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(householder.rotation(math.pi / 2), quarter, rtol=0, atol=1e-15)
    torch.testing.assert_close(householder.reflection_product(math.pi / 4, 0.0), quarter, rtol=0, atol=1e-15)
    # Not commutative: the other order turns the other way.
    torch.testing.assert_close(householder.reflection_product(0.0, math.pi / 4), quarter.T, rtol=0, atol=1e-15)
    angles = torch.tensor([0.0, math.pi / 3], dtype=torch.float64)
    torch.testing.assert_close(
        householder.rotation(angles)[1],
        torch.tensor([[0.5, -(3**0.5) / 2], [3**0.5 / 2, 0.5]], dtype=torch.float64),
        rtol=0,
        atol=1e-15,
    )


def test_rotation_by_2pi_over_3_has_the_cube_roots_of_unity_and_period_3():
    rotation = householder.reflection_product(math.pi / 3, 0.0)
    eigenvalues = sorted(torch.linalg.eigvals(rotation).tolist(), key=lambda z: z.imag)
    assert eigenvalues == pytest.approx([complex(-0.5, -math.sqrt(3) / 2), complex(-0.5, math.sqrt(3) / 2)])
    assert torch.allclose(torch.linalg.matrix_power(rotation, 3), torch.eye(2, dtype=torch.float64), atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rotation_counter_counts_mod_3_exactly_for_10000_steps(dtype):
    bits = torch.randint(2, (2, 10_000), generator=torch.Generator().manual_seed(0)).to(dtype)
    assert torch.equal(householder.mod_counter(bits, 3), bits.long().cumsum(dim=1) % 3)


@pytest.mark.parametrize("modulus", [2, 5, 7])
def test_rotation_counter_for_other_moduli(modulus):
    bits = torch.ones(1, 3 * modulus, dtype=torch.float64)
    assert householder.mod_counter(bits, modulus).tolist() == [[k % modulus for k in range(1, 3 * modulus + 1)]]


def test_real_diagonal_states_cannot_count_mod_3_but_the_rotation_can():
    """On 1^k every real diagonal state ends 1- or 2-periodic; counting mod 3 needs period 3."""
    gates = torch.linspace(-1, 1, 41, dtype=torch.float64)
    _, period = precision.eventual_period(
        precision.iterate(gates, torch.ones(41, dtype=torch.float64), 4000, "float16")
    )
    assert 3 % period != 0
    counts = householder.mod_counter(torch.ones(1, 30, dtype=torch.float16), 3)
    assert counts[0, :6].tolist() == [1, 2, 0, 1, 2, 0]


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: householder.mod_counter(torch.ones(1, 4), 1), ValueError, "modulus must be at least 2"),
        (lambda: householder.mod_counter(torch.full((1, 4), 0.5), 3), ValueError, "bits must hold only zeros and ones"),
        (lambda: householder.mod_counter(torch.ones(4), 3), ValueError, r"bits must have 2 dimensions \(B, T\)"),
        (lambda: householder.generalized_householder(torch.ones(3), 2.5), ValueError, r"beta must lie in \[0, 2\]"),
        (lambda: householder.generalized_householder(torch.zeros(3), 1.0), ValueError, "every key must be non-zero"),
        (
            lambda: householder.generalized_householder(torch.tensor([1.0, float("nan")]), 1.0),
            ValueError,
            "key has 1 non-finite",
        ),
        (lambda: householder.reflection_product(float("inf"), 0.0), ValueError, "first_angle must be a finite float"),
        (lambda: householder.rotation(float("nan")), ValueError, "angle has 1 non-finite"),
    ],
)
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("permutation", list(itertools.permutations(range(4))))
def test_every_permutation_of_s4_is_n_minus_c_swaps(permutation):
    keys = householder.permutation_reflections(permutation)
    assert len(keys) == 4 - len(householder.cycles(permutation))
    product = householder.product_of_reflections(keys, n=4)
    matrix = householder.permutation_matrix(permutation)
    assert torch.equal(product, matrix)  # exact: the swap keys e_i - e_j involve no rounding


def test_random_permutations_of_s8_factor_into_swaps():
    generator = torch.Generator().manual_seed(8)
    for _ in range(50):
        permutation = torch.randperm(8, generator=generator).tolist()
        keys = householder.permutation_reflections(permutation)
        assert len(keys) == 8 - len(householder.cycles(permutation))
        matrix = householder.permutation_matrix(permutation)
        assert torch.equal(householder.product_of_reflections(keys, n=8), matrix)
        for e in range(8):  # P e_i = e_σ(i)
            assert matrix[:, e].argmax().item() == permutation[e]


def test_cycles_by_hand():
    assert householder.cycles([1, 2, 0, 3]) == [(0, 1, 2), (3,)]
    assert householder.cycles([0, 1, 2]) == [(0,), (1,), (2,)]
    assert householder.permutation_reflections([0, 1, 2]) == []


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_orthogonal_matrices_are_at_most_n_reflections(n):
    generator = torch.Generator().manual_seed(n)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    for matrix in (q, -q, torch.eye(n, dtype=torch.float64)):
        keys = householder.orthogonal_reflections(matrix)
        assert len(keys) <= n
        torch.testing.assert_close(householder.product_of_reflections(keys, n=n), matrix, rtol=0, atol=1e-12)
    assert householder.orthogonal_reflections(torch.eye(n, dtype=torch.float64)) == []


def test_proposition_1_spectra_by_sampling():
    """≤ 2 factors with β ∈ [0, 1]: real eigenvalues in [0, 1]. Three factors, or β ∈ [0, 2]: complex ones appear."""
    generator = torch.Generator().manual_seed(0)

    def share_complex(eigenvalues):
        return (eigenvalues.imag.abs() > 1e-10).any(dim=1).double().mean().item()

    for factors in (1, 2):
        eigenvalues = householder.spectrum_sample(4, factors, 1.0, 20_000, generator)
        assert share_complex(eigenvalues) == 0.0
        assert eigenvalues.real.min() > -1e-10 and eigenvalues.real.max() < 1 + 1e-10
    assert 0.002 < share_complex(householder.spectrum_sample(4, 3, 1.0, 20_000, generator)) < 0.05  # measured 0.012
    wide = householder.spectrum_sample(4, 2, 2.0, 20_000, generator)
    assert 0.1 < share_complex(wide) < 0.3  # measured 0.178; the paper's notes: 17 %
    assert (wide.real < -1e-10).any(dim=1).double().mean().item() > 0.5
    assert wide.abs().max() < 1 + 1e-10  # every product is a contraction: ‖A‖ ≤ 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: householder.permutation_matrix([0, 0, 1]),
        lambda: householder.cycles([]),
        lambda: householder.permutation_reflections([1, 2]),
        lambda: householder.orthogonal_reflections(torch.ones(3, 3, dtype=torch.float64)),
        lambda: householder.product_of_reflections([]),
        lambda: householder.spectrum_sample(4, 2, 2.5, 10, torch.Generator()),
        lambda: householder.spectrum_sample(0, 2, 1.0, 10, torch.Generator()),
    ],
)
def test_factorisation_inputs_are_checked(call):
    with pytest.raises(ValueError):
        call()


def test_constructions_reject_wrong_arguments_with_clear_errors():
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 2\]; found nan"):
        householder.generalized_householder(torch.randn(3), float("nan"))
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
        householder.rotation(1.0, torch.long)
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
        householder.reflection_product(1.0, 0.0, torch.long)
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
        householder.permutation_matrix([1, 0], torch.long)
    with pytest.raises(ValueError, match=r"states must have shape \(\.\.\., 2\)"):
        householder.angle_of(torch.randn(3))
    with pytest.raises(ValueError, match="states has 1 non-finite"):
        householder.angle_of(torch.tensor([float("nan"), 1.0]))
    with pytest.raises(ValueError, match="i and j must differ"):
        householder.swap_key(1, 1, 3)
    with pytest.raises(ValueError, match=r"i must be a coordinate in \[0, 2\], got -1"):
        householder.swap_key(-1, 0, 3)
    with pytest.raises(ValueError, match=r"j must be a coordinate in \[0, 2\], got 5"):
        householder.swap_key(0, 5, 3)
    with pytest.raises(TypeError, match="i must be an int"):
        householder.swap_key(0.5, 1, 3)
    with pytest.raises(ValueError, match="n must be at least 1"):
        householder.product_of_reflections([], -1)
    with pytest.raises(ValueError, match=r"every key must have 3 entries.*keys\[1\]"):
        householder.product_of_reflections([torch.randn(3), torch.randn(4)])
    with pytest.raises(ValueError, match="tolerance must be finite"):
        householder.orthogonal_reflections(torch.eye(2, dtype=torch.float64), float("nan"))
    with pytest.raises(ValueError, match="tolerance must be positive"):
        householder.orthogonal_reflections(torch.eye(2, dtype=torch.float64), 0.0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        householder.spectrum_sample(2, 2, 1.0, 3, None)
    with pytest.raises(TypeError, match="beta_max must be a Python int or float"):
        householder.spectrum_sample(2, 2, "1", 3, torch.Generator())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_generalized_householder_takes_keys_of_any_length(dtype):
    """kᵀk overflows float32 from ‖k‖ ≈ 2e19 (the identity came out) and underflows below 1e-19 (-inf came out):
    every finite non-zero length must give I - β k̂ k̂ᵀ of the direction, as float64 computes it."""
    direction = torch.nn.functional.normalize(torch.randn(5, 4, generator=torch.Generator().manual_seed(3)), dim=-1)
    betas = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0])
    largest = torch.finfo(dtype).max
    for length in (1e-30, 3e-22, 1e-3, 1.0, 7.0, 3e19, 1e30, largest / 4):
        keys = (direction.double() * length).to(dtype)
        if not bool(torch.isfinite(keys).all() and (keys.abs().amax(-1) > 0).all()):
            continue  # a length the dtype cannot hold at all
        scaled = keys.double() / keys.double().abs().amax(dim=-1, keepdim=True)  # no overflow in the reference
        exact_direction = scaled / scaled.norm(dim=-1, keepdim=True)
        expected = torch.eye(4, dtype=torch.float64) - betas.double()[:, None, None] * (
            exact_direction[:, :, None] * exact_direction[:, None, :]
        )
        got = householder.generalized_householder(keys, betas.to(dtype))
        assert got.dtype == dtype
        tolerance = 4 * torch.finfo(dtype).eps
        torch.testing.assert_close(got.double(), expected, rtol=0, atol=tolerance, msg=f"‖k‖ = {length:g}")


def test_generalized_householder_refuses_a_beta_of_another_shape() -> None:
    keys = torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(
        ValueError, match=r"beta must be a number or have the keys' leading shape \(\.\.\.,\) = \(4,\), got \(3,\)"
    ):
        householder.generalized_householder(keys, torch.ones(3))
    with pytest.raises(ValueError, match=r"leading shape \(\.\.\.,\) = \(4,\), got \(4, 1\)"):
        householder.generalized_householder(keys, torch.ones(4, 1))
    assert householder.generalized_householder(keys, torch.ones(4)).shape == (4, 3, 3)
    assert householder.generalized_householder(keys, torch.tensor(1.0)).shape == (4, 3, 3)


def test_mod_counter_refuses_empty_words() -> None:
    with pytest.raises(ValueError, match=r"bits must hold at least one time step \(B, T\) with T >= 1, got T = 0"):
        householder.mod_counter(torch.zeros(2, 0, dtype=torch.float64), 3)
