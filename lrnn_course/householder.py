"""Generalized Householder matrices, and the rotations that products of two reflections make.

Theorem 2 of Grazzi et al. (2025): a finite-precision LRNN whose transitions A(x) have only real
eigenvalues cannot count modulo m for any m that is not a power of two — on the word 1^k, a real
diagonal state is eventually periodic with period 1 or 2. Counting mod m needs a rotation by 2π/m,
whose eigenvalues e^{±2πi/m} are complex; and a rotation is the product of two reflections, each a
generalized Householder matrix with β = 2, as DeltaProduct with n_h = 2 builds.

Glossary (code name -> paper symbol):

=======================  =====================================================================
``key``                  k, a direction; normalised to unit length before use
``beta``                 β in [0, 2]: the eigenvalue along k is 1 - β (β = 2 gives -1, a reflection)
``generalized_householder``  I - β k kᵀ, eigenvalue 1 - β along k and 1 on k's orthogonal complement
``angle``                θ, the direction (cos θ, sin θ) of a key in the plane
``reflection_product``   H(θ₁) H(θ₂), with H(θ) = I - 2 u uᵀ and u = (cos θ, sin θ): a rotation
                         by 2(θ₁ - θ₂)
``mod_counter``          the LRNN h_t = A(x_t) h_{t-1}, A(1) = a rotation by 2π/m made of two
                         reflections (or a ``transition`` given), A(0) = I, h_0 = (1, 0): the angle
                         of h_t counts the ones mod m
``permutation``          σ as the list (σ(0), …, σ(n-1)); its matrix P has P e_i = e_σ(i)
``cycles``               the cycles of σ; c(σ) counts them, fixed points included
``permutation_reflections``  n - c(σ) swap reflections whose product is P (Theorem 3)
``orthogonal_reflections``   at most n reflections whose product is a given orthogonal matrix
``spectrum_sample``      eigenvalues of random products of generalized Householders (Prop. 1)
=======================  =====================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .validate import (
    require_bits,
    require_finite,
    require_float_dtype,
    require_generator,
    require_in_range,
    require_number,
    require_positive_int,
    require_tensor,
)


def generalized_householder(key: torch.Tensor, beta: float | torch.Tensor) -> torch.Tensor:
    """I - β k̂ k̂ᵀ for keys (..., n) and β in [0, 2] (a float, or a tensor of the keys' leading shape).

    Keys of any finite, non-zero length, in any dtype: each is first scaled by a power of two (exactly)
    to entries of at most 2, so that kᵀk neither overflows nor underflows (in float32 it would from
    ‖k‖ ≈ 2e19 up, and from ‖k‖ ≈ 1e-19 down); k̂ k̂ᵀ = k kᵀ / (kᵀk) does not change with the scale.

    Returns:
        Tensor (..., n, n) in the keys' dtype.
    """
    require_tensor(key, "key")
    if key.dim() == 0:
        raise ValueError("key must have at least one dimension (..., n)")
    require_finite(key, "key")
    largest = key.detach().abs().amax(dim=-1, keepdim=True)
    if bool((largest == 0).any()):
        raise ValueError("every key must be non-zero (it is normalised to unit length)")
    beta = torch.as_tensor(beta, dtype=key.dtype, device=key.device)
    if beta.dim() and beta.shape != key.shape[:-1]:
        raise ValueError(
            f"beta must be a number or have the keys' leading shape (...,) = {tuple(key.shape[:-1])}, "
            f"got {tuple(beta.shape)}"
        )
    require_in_range(beta, "beta", 0.0, 2.0)
    # divided by the power of two at or below its largest entry: exact, and the entries are then at most 2 (see
    # above); torch.ldexp(key, ...) would do the same, but its backward pass returns zeros (PyTorch 2.13)
    key = key / torch.ldexp(torch.ones_like(largest), torch.frexp(largest).exponent - 1)
    squared_norms = (key * key).sum(dim=-1)
    ### BEGIN SOLUTION
    # β k kᵀ / (kᵀk) equals β k̂ k̂ᵀ and, unlike dividing by the rounded √(kᵀk), is exact for integer
    # keys: the swap key e_i - e_j gives exactly the permutation matrix.
    identity = torch.eye(key.shape[-1], dtype=key.dtype, device=key.device)
    return identity - (beta / squared_norms)[..., None, None] * key[..., :, None] * key[..., None, :]
    ### END SOLUTION


def rotation(angle: float | torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The 2x2 rotation by ``angle`` radians (a float, or a tensor of angles -> (..., 2, 2))."""
    require_float_dtype(dtype)
    angle = torch.as_tensor(angle, dtype=dtype)
    require_finite(angle, "angle")
    cos, sin = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)


def unit_vector(angle: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(cos θ, sin θ), the key of a reflection in the plane."""
    require_float_dtype(dtype)
    angle = torch.as_tensor(angle, dtype=dtype)
    require_finite(angle, "angle")
    return torch.stack([torch.cos(angle), torch.sin(angle)])


def reflection_product(first_angle: float, second_angle: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """H(θ₁) H(θ₂): the 2x2 product of two reflections, H(θ) = I - 2 u uᵀ with u = (cos θ, sin θ).

    Applied to a vector, H(θ₂) acts first. The product is the rotation by 2 (θ₁ - θ₂).

    Args:
        first_angle, second_angle: θ₁ and θ₂ in radians (Python floats).
        dtype: the dtype of the result.

    Returns:
        Tensor (2, 2).
    """
    for value, name in ((first_angle, "first_angle"), (second_angle, "second_angle")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite float (radians), got {value!r}")
    ### BEGIN SOLUTION
    first = generalized_householder(unit_vector(first_angle, dtype), 2.0)
    second = generalized_householder(unit_vector(second_angle, dtype), 2.0)
    return first @ second
    ### END SOLUTION


def angle_of(states: torch.Tensor) -> torch.Tensor:
    """The angle in [0, 2π) of each 2-d state (..., 2)."""
    require_tensor(states, "states")
    if states.dim() == 0 or states.shape[-1] != 2:
        raise ValueError(f"states must have shape (..., 2), got {tuple(states.shape)}")
    require_finite(states, "states")
    return torch.atan2(states[..., 1], states[..., 0]) % (2 * math.pi)


def mod_counter(bits: torch.Tensor, modulus: int, transition: torch.Tensor | None = None) -> torch.Tensor:
    """Count the ones of each prefix mod ``modulus`` with a 2-d LRNN whose transition is two reflections.

    h_t = A(x_t) h_{t-1}, h_0 = (1, 0), with A(1) = H(π/m) H(0), the rotation by 2π/m, and A(0) = I.
    After t steps h_t sits at the angle 2π c_t / m, c_t being the number of ones so far; the count is
    read off by rounding the angle to the nearest multiple of 2π/m.

    Args:
        bits: float tensor (B, T) of zeros and ones; its dtype is the dtype of the state.
        modulus: m >= 2.
        transition: A(1), a (2, 2) tensor in the dtype of ``bits``; None (the default) means
            H(π/m) H(0) from ``reflection_product``. The reading is the same for any A(1): the angle
            of h_t rounded to the nearest multiple of 2π/m, as a number in 0 .. m - 1.

    Returns:
        LongTensor (B, T): the readings of h_1 .. h_T; with the default transition, c_1 mod m, ..., c_T mod m.
    """
    require_bits(bits)
    if bits.shape[1] == 0:
        raise ValueError("bits must hold at least one time step (B, T) with T >= 1, got T = 0")
    require_positive_int(modulus, "modulus", minimum=2)
    if transition is not None:
        require_tensor(transition, "transition", 2, "(2, 2)")
        if transition.shape != (2, 2) or transition.dtype != bits.dtype:
            raise ValueError(
                f"transition must be a (2, 2) tensor in the dtype of bits ({bits.dtype}), "
                f"got shape {tuple(transition.shape)} and {transition.dtype}"
            )
    ### BEGIN SOLUTION
    step = reflection_product(math.pi / modulus, 0.0, bits.dtype) if transition is None else transition
    identity = torch.eye(2, dtype=bits.dtype)
    transitions = bits[..., None, None] * step + (1 - bits)[..., None, None] * identity
    state = torch.tensor([1.0, 0.0], dtype=bits.dtype).expand(bits.shape[0], 2)
    states = []
    for transition_t in transitions.unbind(1):  # unbind, not transitions[:, t]: see scan.sequential_scan
        state = (transition_t @ state[..., None])[..., 0]
        states.append(state)
    angles = angle_of(torch.stack(states, dim=1).double())
    return torch.round(angles / (2 * math.pi / modulus)).long() % modulus
    ### END SOLUTION


def require_permutation(permutation: Sequence[int]) -> list[int]:
    """``permutation`` as a list if it holds 0 .. n-1 each exactly once, else raise."""
    values = list(permutation)
    if (
        not values
        or any(isinstance(i, bool) or not isinstance(i, int) for i in values)
        or sorted(values) != list(range(len(values)))
    ):
        raise ValueError(f"permutation must list 0 .. n-1 once each (σ(i) at position i), got {permutation!r}")
    return values


def permutation_matrix(permutation: Sequence[int], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """P with P e_i = e_σ(i): column i holds a single 1 in row σ(i)."""
    values = require_permutation(permutation)
    require_float_dtype(dtype)
    matrix = torch.zeros(len(values), len(values), dtype=dtype)
    matrix[values, range(len(values))] = 1.0
    return matrix


def cycles(permutation: Sequence[int]) -> list[tuple[int, ...]]:
    """The cycles of σ, fixed points included, each starting at its smallest element: c(σ) = len(result)."""
    values = require_permutation(permutation)
    seen, found = set(), []
    for start in range(len(values)):
        if start in seen:
            continue
        cycle, point = [], start
        while point not in seen:
            seen.add(point)
            cycle.append(point)
            point = values[point]
        found.append(tuple(cycle))
    return found


def swap_key(i: int, j: int, n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """e_i - e_j: its reflection I - 2 k̂ k̂ᵀ swaps coordinates i and j and fixes the rest (exactly, in any dtype)."""
    require_positive_int(n, "n")
    for value, name in ((i, "i"), (j, "j")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if not 0 <= value < n:
            raise ValueError(f"{name} must be a coordinate in [0, {n - 1}], got {value}")
    if i == j:
        raise ValueError(
            f"i and j must differ (e_i - e_i is the zero vector, which has no reflection), got i = j = {i}"
        )
    require_float_dtype(dtype)
    key = torch.zeros(n, dtype=dtype)
    key[i], key[j] = 1.0, -1.0
    return key


def product_of_reflections(keys: Sequence[torch.Tensor], n: int | None = None) -> torch.Tensor:
    """H(k_m) ⋯ H(k_1) with H(k) = I - 2 k̂ k̂ᵀ: the first key acts first, as in DeltaProduct. Empty -> I (n needed)."""
    if not keys:
        if n is None:
            raise ValueError("an empty product needs n, the dimension of the identity")
        require_positive_int(n, "n")
        return torch.eye(n, dtype=torch.float64)
    for index, key in enumerate(keys):
        require_tensor(key, f"keys[{index}]")
        if key.dim() == 0 or key.shape[-1] != keys[0].shape[-1] or (n is not None and key.shape[-1] != n):
            width = n if n is not None else keys[0].shape[-1]
            raise ValueError(
                f"every key must have {width} entries (..., n), got keys[{index}] of shape {tuple(key.shape)}"
            )
    product = generalized_householder(keys[0], 2.0)
    for key in keys[1:]:
        product = generalized_householder(key, 2.0) @ product
    return product


def permutation_reflections(permutation: Sequence[int], dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    """Keys of n - c(σ) reflections whose product (first key first) is the permutation matrix of σ.

    A cycle (a₁ a₂ … a_L) is the swap (a₁ a₂), then (a₁ a₃), …, then (a₁ a_L): L - 1 swaps; a swap
    is the reflection along e_i - e_j (Theorem 3 of Grazzi et al. 2025 builds group automata so).
    """
    values = require_permutation(permutation)
    ### BEGIN SOLUTION
    return [swap_key(cycle[0], point, len(values), dtype) for cycle in cycles(values) for point in cycle[1:]]
    ### END SOLUTION


def orthogonal_reflections(matrix: torch.Tensor, tolerance: float = 1e-9) -> list[torch.Tensor]:
    """Keys of at most n reflections whose product (first key first) is the orthogonal ``matrix`` (n, n).

    Column by column, a reflection along e_i - (current column i) sends that column to e_i and,
    being orthogonal, leaves the columns already fixed alone; a reflection is skipped where the
    column is e_i already. What is left after n - 1 columns is diag(1, …, 1, ±1).
    """
    require_tensor(matrix, "matrix", 2, "(n, n)")
    require_finite(matrix, "matrix")
    if require_number(tolerance, "tolerance") <= 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    n = matrix.shape[0]
    identity = torch.eye(n, dtype=matrix.dtype)
    if matrix.shape != (n, n) or not torch.allclose(matrix.T @ matrix, identity, atol=tolerance**0.5):
        raise ValueError(f"matrix must be square and orthogonal (QᵀQ = I), got shape {tuple(matrix.shape)}")
    remaining, undo = matrix.clone(), []
    for i in range(n):
        difference = identity[i] - remaining[:, i]
        if difference.norm() > tolerance:
            reflection = generalized_householder(difference, 2.0)
            remaining = reflection @ remaining
            undo.append(difference / difference.norm())
    # reflections ⋯ H₂ H₁ Q = I, so Q = H₁ H₂ ⋯: the last one found acts first.
    return undo[::-1]


def spectrum_sample(n: int, factors: int, beta_max: float, samples: int, generator: torch.Generator) -> torch.Tensor:
    """Eigenvalues of ``samples`` random products of ``factors`` generalized Householders in dimension n.

    Keys are Gaussian (normalised), β uniform in [0, beta_max]. Proposition 1 of the paper: with
    β ∈ [0, 1] and at most two factors the eigenvalues are real and in [0, 1]; with β ∈ [0, 2] or
    more factors, complex (and negative) ones appear. Returns a complex tensor (samples, n).
    """
    for value, name in ((n, "n"), (factors, "factors"), (samples, "samples")):
        require_positive_int(value, name)
    require_number(beta_max, "beta_max", 0.0, 2.0)
    require_generator(generator)
    keys = torch.randn(samples, factors, n, generator=generator, dtype=torch.float64)
    betas = beta_max * torch.rand(samples, factors, generator=generator, dtype=torch.float64)
    matrices = generalized_householder(keys, betas)
    product = matrices[:, 0]
    for index in range(1, factors):
        product = matrices[:, index] @ product
    return torch.linalg.eigvals(product)
