"""DeltaNet: the delta rule, a linear RNN whose transition is a generalized Householder matrix.

The state is a matrix S (d_k × d_v), the "fast weights" of a linear associative memory. Each token
writes its value v_t under its key k_t, after erasing a fraction β_t of what the key read before:

    S_t = α_t (I - β_t k_t k_tᵀ) S_{t-1} + β_t k_t v_tᵀ,     o_t = scale · S_tᵀ q_t.

Without the gate (α_t = 1) this is one step of online gradient descent, with step size β_t, on the
regression loss ½‖Sᵀk_t - v_t‖². With a unit key the transition I - β_t k_t k_tᵀ has eigenvalue
1 - β_t along k_t and 1 elsewhere: β ∈ [0, 1] keeps the spectrum in [0, 1], and the paper's
change, β ∈ [0, 2], reaches -1 — a reflection — while keeping ‖A‖ ≤ 1 (Grazzi et al. 2025, §4).

Layout (as in flash-linear-attention): batch B, time T, heads H, key width D_k, value width D_v.

Glossary (code name -> paper symbol):

=================  ======================================================================
``q, k, v``        q_t, k_t, v_t: query, key and value of token t, shapes (B, T, H, D); keys must
                   have unit length (checked), as the layers make them
``beta``           β_t ∈ [0, 2], the step size of the write (B, T, H)
``alpha``          α_t ∈ [0, 1], the scalar forget gate of Gated DeltaNet (B, T, H); None is 1
``state``          S_t = H_t, the (D_k, D_v) memory of each head; ``initial_state`` is S_0
``scale``          the factor on the read-out (fla's default 1/√D_k)
``A``              A(x_t) = α_t (I - β_t k_t k_tᵀ), the state-transition matrix
``B``              B(x_t) = β_t k_t v_tᵀ, the input term
=================  ======================================================================
"""

from __future__ import annotations

import torch

from .validate import (
    require_finite,
    require_in_range,
    require_like,
    require_number,
    require_same,
    require_shape,
    require_steps,
    require_tensor,
    require_unit_keys,
)

BETA_RANGE = {False: 1.0, True: 2.0}
"""The largest β for each eigenvalue range: ``negative=False`` -> β ∈ [0, 1], True -> β ∈ [0, 2]."""


def validate_delta_inputs(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None,
    initial_state: torch.Tensor | None,
    values: bool = True,
) -> None:
    """Check the shapes, dtypes, ranges and finiteness shared by every delta-rule implementation.

    Keys must have unit length (``require_unit_keys``): the theory (eigenvalue 1 - β along k, ‖A‖ ≤ 1 for β ≤ 2)
    holds for unit keys only, so the recurrences reject others rather than silently leaving [-1, 1].
    With ``values=False`` no value is read, only shapes, dtypes and devices: on a GPU each value check waits
    for every queued kernel (a host synchronisation) and reads the inputs once more.
    """
    require_tensor(q, "q", 4, "(B, T, H, D_k)")
    require_tensor(k, "k", 4, "(B, T, H, D_k)")
    require_tensor(v, "v", 4, "(B, T, H, D_v)")
    require_tensor(beta, "beta", 3, "(B, T, H)")
    require_same([q, k], ["q", "k"])
    if v.shape[:3] != q.shape[:3] or beta.shape != q.shape[:3]:
        raise ValueError(
            f"q, k (B, T, H, D_k), v (B, T, H, D_v) and beta (B, T, H) disagree: "
            f"{tuple(q.shape)}, {tuple(v.shape)}, {tuple(beta.shape)}"
        )
    require_steps(q, "q, k, v and beta")
    if alpha is not None:
        require_same([beta, require_tensor(alpha, "alpha", 3, "(B, T, H)")], ["beta", "alpha"])
    if initial_state is not None:
        require_tensor(initial_state, "initial_state", 4, "(B, H, D_k, D_v)")
        state_shape = (q.shape[0], q.shape[2], q.shape[3], v.shape[3])
        require_shape(initial_state, "initial_state", state_shape, "(B, H, D_k, D_v)")
    named = {"q": q, "k": k, "v": v, "beta": beta, "alpha": alpha, "initial_state": initial_state}
    for name, x in named.items():
        if x is not None:
            require_like(x, name, q, "q")
    if not values:
        return
    for name, x in named.items():
        if x is not None:
            require_finite(x, name)
    require_in_range(beta, "beta", 0.0, 2.0)
    if alpha is not None:
        require_in_range(alpha, "alpha", 0.0, 1.0)
    require_unit_keys(k)


def starting_point(
    q: torch.Tensor, value_dim: int, initial_state: torch.Tensor | None, scale: float | None
) -> tuple[torch.Tensor, float]:
    """S_0 (zeros of shape (B, H, D_k, D_v) when not given) and the read-out factor (1/√D_k when not given)."""
    if scale is not None:
        require_number(scale, "scale")
    batch, _, heads, key_dim = q.shape
    state = q.new_zeros(batch, heads, key_dim, value_dim) if initial_state is None else initial_state
    return state, key_dim**-0.5 if scale is None else float(scale)


def delta_rule_step(
    state: torch.Tensor, k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, alpha: torch.Tensor | None = None
) -> torch.Tensor:
    """One step S ← α (I - β k kᵀ) S + β k vᵀ for every batch row and head.

    Shapes and dtypes are checked here; values (ranges, finiteness) once per sequence by ``validate_delta_inputs``,
    so that the loop over time does not synchronise with the GPU at every step.

    Args:
        state: (B, H, D_k, D_v).
        k: (B, H, D_k); v: (B, H, D_v); beta and alpha: (B, H).

    Returns:
        The new state, (B, H, D_k, D_v).
    """
    require_tensor(state, "state", 4, "(B, H, D_k, D_v)")
    batch, heads, key_dim, value_dim = state.shape
    shapes = {
        "k": (batch, heads, key_dim),
        "v": (batch, heads, value_dim),
        "beta": (batch, heads),
        "alpha": (batch, heads),
    }
    for x, name in ((k, "k"), (v, "v"), (beta, "beta"), (alpha, "alpha")):
        if x is not None:
            require_like(require_tensor(x, name), name, state, "the state")
            require_shape(x, name, shapes[name], why="to match the state")
    ### BEGIN SOLUTION
    if alpha is not None:
        state = alpha[..., None, None] * state
    # (I - β k kᵀ) S + β k vᵀ = S + k ⊗ β (v - Sᵀk): the form that never builds a D_k × D_k matrix.
    correction = beta[..., None] * (v - torch.einsum("bhkv,bhk->bhv", state, k))
    return state + k[..., :, None] * correction[..., None, :]
    ### END SOLUTION


def delta_rule(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (gated) delta rule, token by token: the naive reference every faster form is tested against.

    Args:
        q, k: (B, T, H, D_k); every key of unit length (others raise; the layers L2-normalise).
        v: (B, T, H, D_v).
        beta: (B, T, H), β ∈ [0, 2].
        alpha: (B, T, H), α ∈ [0, 1], or None for plain DeltaNet.
        initial_state: S_0, (B, H, D_k, D_v), or None for zeros.
        scale: factor on the read-out; None means 1/√D_k.

    Returns:
        ``(outputs, final_state)``: o_1..o_T as (B, T, H, D_v) and S_T as (B, H, D_k, D_v).
    """
    validate_delta_inputs(q, k, v, beta, alpha, initial_state)
    state, scale = starting_point(q, v.shape[-1], initial_state, scale)
    outputs = []
    # unbind, not x[:, t], which would make the backward pass quadratic in T (see scan.sequential_scan)
    gates = alpha.unbind(1) if alpha is not None else [None] * q.shape[1]
    for q_t, k_t, v_t, beta_t, alpha_t in zip(q.unbind(1), k.unbind(1), v.unbind(1), beta.unbind(1), gates):
        state = delta_rule_step(state, k_t, v_t, beta_t, alpha_t)
        outputs.append(scale * torch.einsum("bhkv,bhk->bhv", state, q_t))
    return torch.stack(outputs, dim=1), state


def dense_delta_rule(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same recurrence written as the paper writes it, S_t = A(x_t) S_{t-1} + B(x_t), with dense matrices.

    Slow (it forms every D_k × D_k transition), meant for tests and for the lesson's derivation.
    """
    validate_delta_inputs(q, k, v, beta, alpha, initial_state)
    state, scale = starting_point(q, v.shape[-1], initial_state, scale)
    identity = torch.eye(q.shape[-1], dtype=q.dtype, device=q.device)
    outputs = []
    gates = alpha.unbind(1) if alpha is not None else [None] * q.shape[1]
    for query, key, value, b, gate in zip(q.unbind(1), k.unbind(1), v.unbind(1), beta.unbind(1), gates):
        transition = identity - b[..., None, None] * key[..., :, None] * key[..., None, :]
        if gate is not None:
            transition = gate[..., None, None] * transition
        state = transition @ state + b[..., None, None] * key[..., :, None] * value[..., None, :]
        outputs.append(scale * (state.transpose(-1, -2) @ query[..., None])[..., 0])
    return torch.stack(outputs, dim=1), state
