"""Generalized Householder matrices, rotations from two reflections, and the exact mod-m counter (Theorem 2)."""

from __future__ import annotations

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
