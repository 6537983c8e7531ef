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
    keys = torch.randn(3, 4, 2, dtype=torch.float64)
    betas = torch.rand(3, 4, dtype=torch.float64) * 2
    matrices = householder.generalized_householder(keys, betas)
    assert matrices.shape == (3, 4, 2, 2)
    assert torch.allclose(matrices[1, 2], householder.generalized_householder(keys[1, 2], betas[1, 2].item()))


@pytest.mark.parametrize("first,second", [(0.0, 0.0), (0.3, 1.2), (math.pi / 3, 0.0), (2.0, -1.0)])
def test_two_reflections_make_the_rotation_by_twice_their_angle(first, second):
    product = householder.reflection_product(first, second)
    assert torch.allclose(product, householder.rotation(2 * (first - second)), atol=1e-14)
    assert torch.linalg.det(product).item() == pytest.approx(1.0)


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
    _, period = precision.eventual_period(precision.iterate(gates, torch.ones(41, dtype=torch.float64), 4000, "float16"))
    assert 3 % period != 0
    counts = householder.mod_counter(torch.ones(1, 30, dtype=torch.float16), 3)
    assert counts[0, :6].tolist() == [1, 2, 0, 1, 2, 0]


@pytest.mark.parametrize("call,error", [
    (lambda: householder.mod_counter(torch.ones(1, 4), 1), ValueError),
    (lambda: householder.mod_counter(torch.full((1, 4), 0.5), 3), ValueError),
    (lambda: householder.mod_counter(torch.ones(4), 3), ValueError),
    (lambda: householder.generalized_householder(torch.ones(3), 2.5), ValueError),
    (lambda: householder.generalized_householder(torch.zeros(3), 1.0), ValueError),
    (lambda: householder.generalized_householder(torch.tensor([1.0, float("nan")]), 1.0), ValueError),
    (lambda: householder.reflection_product(float("inf"), 0.0), ValueError),
    (lambda: householder.rotation(float("nan")), ValueError),
])
def test_bad_input_is_refused(call, error):
    with pytest.raises(error):
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


@pytest.mark.parametrize("call", [
    lambda: householder.permutation_matrix([0, 0, 1]),
    lambda: householder.cycles([]),
    lambda: householder.permutation_reflections([1, 2]),
    lambda: householder.orthogonal_reflections(torch.ones(3, 3, dtype=torch.float64)),
    lambda: householder.product_of_reflections([]),
    lambda: householder.spectrum_sample(4, 2, 2.5, 10, torch.Generator()),
    lambda: householder.spectrum_sample(0, 2, 1.0, 10, torch.Generator()),
])
def test_factorisation_inputs_are_checked(call):
    with pytest.raises(ValueError):
        call()
