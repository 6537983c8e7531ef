"""The input checks every public function shares: what they accept, what they refuse, and what they say."""

from __future__ import annotations

import math

import pytest
import torch

from lrnn_course import validate

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_require_finite_finds_any_non_finite_value_and_counts_them(dtype, bad):
    x = torch.randn(3, 50, 4).to(dtype)
    assert validate.require_finite(x, "x") is x
    x[1, 17, 2] = x[2, 49, 3] = bad
    with pytest.raises(ValueError, match=r"x has 2 non-finite value\(s\)"):
        validate.require_finite(x, "x")
    assert validate.require_finite(torch.ones(0, 3, dtype=dtype), "empty") is not None


def test_require_in_range_refuses_values_outside_and_nan_and_names_the_first():
    x = torch.tensor([0.0, 2.0, 1.0])
    assert validate.require_in_range(x, "beta", 0.0, 2.0) is x  # both ends are inside
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 2\]; found 2\.5 \(2 value\(s\) outside\)"):
        validate.require_in_range(torch.tensor([1.0, 2.5, -1.0]), "beta", 0.0, 2.0)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]; found nan \(1 value\(s\) outside\)"):
        validate.require_in_range(torch.tensor([0.5, NAN]), "alpha", 0.0, 1.0)
    validate.require_in_range(torch.ones(0), "empty", 0.0, 1.0)


def test_require_shape_names_the_layout_and_the_reason():
    x = torch.zeros(2, 4)
    assert validate.require_shape(x, "h0", (2, 4), "(B, D)") is x
    with pytest.raises(ValueError, match=r"^h0 must have shape \(B, D\) = \(2, 3\), got \(2, 4\)$"):
        validate.require_shape(x, "h0", (2, 3), "(B, D)")
    with pytest.raises(ValueError, match=r"^k must have shape \(2, 5\) to match the state, got \(2, 4\)$"):
        validate.require_shape(x, "k", (2, 5), why="to match the state")


def test_require_steps_refuses_an_empty_sequence():
    with pytest.raises(ValueError, match=r"^a and b must hold at least one time step \(T >= 1\), got T = 0$"):
        validate.require_steps(torch.zeros(2, 0, 3), "a and b")
    validate.require_steps(torch.zeros(2, 1, 3), "a and b")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_require_unit_keys_accepts_normalised_keys_of_each_dtype_and_nothing_else(dtype):
    keys = torch.nn.functional.normalize(torch.randn(3, 7, 2, 64, dtype=torch.float64), dim=-1)
    validate.require_unit_keys(keys.to(dtype))
    with pytest.raises(ValueError, match=r"L2-normalised.*of length 1\.[01]\d* \(1 such keys\)"):  # 1.1, rounded
        validate.require_unit_keys(torch.cat([keys[:1, :1, :1] * 1.1, keys[:1, :1, 1:]], dim=2).to(dtype))
    spoiled = keys.clone()
    spoiled[0, 0, 0, 0] = NAN
    with pytest.raises(ValueError, match="length nan"):
        validate.require_unit_keys(spoiled.to(dtype))


def test_require_broadcastable_lists_the_shapes():
    validate.require_broadcastable([torch.zeros(2, 1), torch.zeros(1, 3)], "x and y", "all (B, D)")
    with pytest.raises(ValueError, match=r"^the shapes of x and y must broadcast together, e\.g\. all \(B, D\); "):
        validate.require_broadcastable([torch.zeros(2, 3), torch.zeros(4, 3)], "x and y", "all (B, D)")


def test_require_number_and_require_positive_int_take_bounds():
    assert validate.require_number(2, "beta_max", 0.0, 2.0) == 2.0
    with pytest.raises(ValueError, match=r"^beta_max must lie in \[0, 2\], got 2\.5$"):
        validate.require_number(2.5, "beta_max", 0.0, 2.0)
    with pytest.raises(ValueError, match="scale must be finite"):
        validate.require_number(math.inf, "scale")
    with pytest.raises(TypeError, match="flag must be a Python int or float, got bool"):
        validate.require_number(True, "flag")
    assert validate.require_positive_int(2, "modulus", minimum=2) == 2
    with pytest.raises(ValueError, match="^modulus must be at least 2, got 1$"):
        validate.require_positive_int(1, "modulus", minimum=2)
    with pytest.raises(ValueError, match="^n must be at least 1, got 0$"):
        validate.require_positive_int(0, "n")


def test_require_bits_takes_zeros_and_ones_only():
    bits = torch.tensor([[0.0, 1.0, 1.0]])
    assert validate.require_bits(bits) is bits
    with pytest.raises(ValueError, match="^bits must hold only zeros and ones$"):
        validate.require_bits(torch.tensor([[0.0, 0.5]]))
    with pytest.raises(ValueError, match=r"bits must have 2 dimensions \(B, T\)"):
        validate.require_bits(torch.ones(3))
