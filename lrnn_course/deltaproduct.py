"""DeltaProduct: n_h delta-rule steps per token, so each transition is a product of n_h Householders.

DeltaNet's transition I - β k kᵀ has real eigenvalues only. DeltaProduct (Siems et al. 2025) lets
every token write n_h times, with its own keys, values and step sizes:

    S_{t,j} = (I - β_{t,j} k_{t,j} k_{t,j}ᵀ) S_{t,j-1} + β_{t,j} k_{t,j} v_{t,j}ᵀ,   j = 1..n_h,
    S_{t,0} = α_t S_{t-1},  S_t = S_{t,n_h},  o_t = scale · S_tᵀ q_t,

so A(x_t) = α_t ∏_j (I - β_{t,j} k_{t,j} k_{t,j}ᵀ), the identity plus a rank-n_h matrix. With β ∈ [0, 2]
two factors already compose rotations — complex eigenvalues, the counters of Lesson 05. The authors
run it as DeltaNet on an interleaved sequence of n_h·T sub-steps, queries zero except at each
token's last sub-step, keeping every n_h-th output; ``delta_product_by_interleaving`` is that trick.

Glossary (code name -> paper symbol):

=================  ======================================================================
``n_householder``  n_h, the number of Householder factors (delta steps) per token
``k, v``           k_{t,j}, v_{t,j}: shapes (B, T, n_h, H, D_k) and (B, T, n_h, H, D_v)
``beta``           β_{t,j} ∈ [0, 2], shape (B, T, n_h, H)
``q``              q_t, one query per token, (B, T, H, D_k)
``alpha``          α_t ∈ [0, 1], the gate of Gated DeltaProduct, once per token, (B, T, H)
``negative``       True: β = 2·sigmoid (eigenvalues in [-1, 1]); False: β = sigmoid ([0, 1])
=================  ======================================================================
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .deltanet import BETA_RANGE, delta_rule, delta_rule_step, starting_point, validate_delta_inputs
from .householder import generalized_householder
from .validate import (
    require_finite,
    require_in_range,
    require_like,
    require_positive_int,
    require_shape,
    require_tensor,
    require_unit_keys,
)


def validate_product_layout(q, k, v, beta, alpha) -> None:
    """Check DeltaProduct's layout, n_h >= 1 sub-steps per token, and one dtype and device (not the values)."""
    require_tensor(k, "k", 5, "(B, T, n_h, H, D_k)")
    require_tensor(v, "v", 5, "(B, T, n_h, H, D_v)")
    require_tensor(beta, "beta", 4, "(B, T, n_h, H)")
    require_tensor(q, "q", 4, "(B, T, H, D_k)")
    if k.shape[:2] != q.shape[:2] or k.shape[3:] != q.shape[2:]:
        raise ValueError(
            f"k must have shape (B, T, n_h, H, D_k) matching q (B, T, H, D_k), "
            f"got {tuple(k.shape)} and {tuple(q.shape)}"
        )
    if v.shape[:4] != k.shape[:4] or beta.shape != k.shape[:4]:
        raise ValueError(
            f"k (B, T, n_h, H, D_k), v (B, T, n_h, H, D_v) and beta (B, T, n_h, H) disagree: "
            f"{tuple(k.shape)}, {tuple(v.shape)}, {tuple(beta.shape)}"
        )
    if k.shape[2] == 0:
        raise ValueError(
            f"k, v and beta must hold at least one sub-step per token (n_h >= 1), got k of shape {tuple(k.shape)}"
        )
    if alpha is not None:
        require_shape(require_tensor(alpha, "alpha", 3, "(B, T, H)"), "alpha", q.shape[:3], "(B, T, H)")
    for x, name in ((k, "k"), (v, "v"), (beta, "beta"), (alpha, "alpha")):
        if x is not None:
            require_like(x, name, q, "q")


def validate_product_inputs(q, k, v, beta, alpha, initial_state, values: bool = True) -> None:
    """Check DeltaProduct's inputs: its layout, then the delta rule's checks of the first sub-step (which settle
    dtypes, devices, q, α and S_0) and the values of the other sub-steps, so that every value is checked once.
    With ``values=False`` no value is read (see ``validate_delta_inputs``)."""
    validate_product_layout(q, k, v, beta, alpha)
    validate_delta_inputs(q, k[:, :, 0], v[:, :, 0], beta[:, :, 0], alpha, initial_state, values=values)
    if not values:
        return
    for x, name in ((k, "k"), (v, "v"), (beta, "beta")):
        require_finite(x[:, :, 1:], name)
    require_in_range(beta[:, :, 1:], "beta", 0.0, 2.0)
    require_unit_keys(k[:, :, 1:])


def delta_product(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (gated) DeltaProduct recurrence, token by token and sub-step by sub-step (the reference).

    Args:
        q: (B, T, H, D_k).
        k: (B, T, n_h, H, D_k), unit keys; v: (B, T, n_h, H, D_v); beta: (B, T, n_h, H) in [0, 2].
        alpha: (B, T, H) in [0, 1], applied once per token before its first sub-step; None for no gate.
        initial_state: S_0, (B, H, D_k, D_v), or None for zeros.
        scale: factor on the read-out; None means 1/√D_k.

    Returns:
        ``(outputs, final_state)``: (B, T, H, D_v) and (B, H, D_k, D_v).
    """
    validate_product_inputs(q, k, v, beta, alpha, initial_state)
    state, scale = starting_point(q, v.shape[-1], initial_state, scale)
    outputs = []
    # unbind, not x[:, t], which would make the backward pass quadratic in T (see scan.sequential_scan)
    gates = alpha.unbind(1) if alpha is not None else [None] * q.shape[1]
    for q_t, keys, values, betas, gate in zip(q.unbind(1), k.unbind(1), v.unbind(1), beta.unbind(1), gates):
        for j, (k_j, v_j, beta_j) in enumerate(zip(keys.unbind(1), values.unbind(1), betas.unbind(1))):
            state = delta_rule_step(state, k_j, v_j, beta_j, gate if j == 0 else None)
        outputs.append(scale * torch.einsum("bhkv,bhk->bhv", state, q_t))
    return torch.stack(outputs, dim=1), state


def interleave(x: torch.Tensor) -> torch.Tensor:
    """(B, T, n_h, ...) -> (B, T·n_h, ...): token t's n_h sub-steps become consecutive time steps."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 3:
        raise ValueError(f"x must have at least 3 dimensions (B, T, n_h, ...), got shape {tuple(x.shape)}")
    return x.flatten(1, 2)


def delta_product_by_interleaving(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    scale: float | None = None,
    *,
    delta_rule: Callable[..., tuple[torch.Tensor, torch.Tensor]] = delta_rule,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DeltaProduct computed by any delta-rule implementation on the interleaved sequence.

    Same arguments and result as ``delta_product``: q (B, T, H, D_k); k (B, T, n_h, H, D_k),
    v (B, T, n_h, H, D_v) and beta (B, T, n_h, H); alpha (B, T, H). Keys, values and β are
    interleaved to n_h·T sub-steps; the query is zero except at each token's last sub-step, the
    gate is α_t at its first and 1 elsewhere, and every n_h-th output is kept. ``delta_rule`` runs the
    interleaved sequence: ``deltanet.delta_rule`` by default, or any function with its arguments and
    result (the chunked form, a Triton kernel). It checks the values of the interleaved sequence, so
    here only the layout, dtypes and devices are checked.
    """
    validate_product_layout(q, k, v, beta, alpha)
    ### BEGIN SOLUTION
    n_householder = k.shape[2]
    queries = torch.zeros_like(k)
    queries[:, :, -1] = q
    gates = None
    if alpha is not None:
        gates = torch.ones_like(beta)
        gates[:, :, 0] = alpha
        gates = interleave(gates)
    outputs, state = delta_rule(
        interleave(queries), interleave(k), interleave(v), interleave(beta), gates, initial_state, scale
    )
    return outputs[:, n_householder - 1 :: n_householder], state
    ### END SOLUTION


class DeltaProductLayer(nn.Module):
    """A DeltaProduct token mixer (n_householder = 1 is DeltaNet): (batch, T, d_model) -> same shape.

    Queries and keys are L2-normalised per head (so each factor is a generalized Householder matrix
    with a unit key); β = sigmoid(W_β x) scaled to [0, 2] when ``negative`` else [0, 1]; with
    ``gated`` a forget gate α = sigmoid(W_α x) per head and token. Setting ``reflection_threshold``
    (e.g. 1.99) makes every β above it exactly 2 — an exact reflection — without retraining.
    ``recurrence`` runs the sequence, with the arguments and result of ``delta_product`` (the
    default); ``models.build_model`` passes ``ops.chunk_delta_product``, the fastest form per device.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int = 1,
        n_householder: int = 2,
        negative: bool = True,
        gated: bool = False,
        recurrence: Callable[..., tuple[torch.Tensor, torch.Tensor]] = delta_product,
    ) -> None:
        super().__init__()
        self.recurrence = recurrence
        for value, name in ((d_model, "d_model"), (n_heads, "n_heads"), (n_householder, "n_householder")):
            require_positive_int(value, name)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.n_heads, self.n_householder, self.negative = n_heads, n_householder, bool(negative)
        self.head_dim = d_model // n_heads
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.keys = nn.Linear(d_model, n_householder * d_model, bias=False)
        self.values = nn.Linear(d_model, n_householder * d_model, bias=False)
        self.betas = nn.Linear(d_model, n_householder * n_heads)
        self.gate = nn.Linear(d_model, n_heads) if gated else None
        self.out = nn.Linear(d_model, d_model, bias=False)
        self.reflection_threshold: float | None = None

    def _check_input(self, x: torch.Tensor, ndim: int | None = None) -> None:
        """Raise unless ``x`` is a (..., d_model) tensor of the layer's dtype (``ndim`` dimensions if given)."""
        require_tensor(x, "x", ndim, "(batch, T, d_model)" if ndim else None)
        if x.dim() == 0 or x.shape[-1] != self.query.in_features:
            raise ValueError(
                f"x must have {self.query.in_features} features (..., d_model), got shape {tuple(x.shape)}"
            )
        if x.dtype != self.query.weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(f"x has dtype {x.dtype} but the layer's weights are {self.query.weight.dtype}")

    def betas_of(self, x: torch.Tensor) -> torch.Tensor:
        """β_{t,j} for inputs (batch, T, d_model): (batch, T, n_h, heads), in [0, 2] or [0, 1]."""
        self._check_input(x)
        betas = BETA_RANGE[self.negative] * torch.sigmoid(self.betas(x)).unflatten(
            -1, (self.n_householder, self.n_heads)
        )
        if self.reflection_threshold is None:
            return betas
        return torch.where(betas > self.reflection_threshold, 2.0, betas)

    def transitions(self, x: torch.Tensor) -> torch.Tensor:
        """A(x) = ∏_j (I - β_j k_j k_jᵀ) per head for inputs (..., d_model): (..., heads, head_dim, head_dim).

        The matrix that multiplies the state when the layer reads ``x`` (without the gate α): the
        first factor acts first, so it stands rightmost.
        """
        _, keys, _, betas, _ = self.recurrence_inputs(x)
        factors = generalized_householder(keys, betas)
        product = factors[..., 0, :, :, :]
        for index in range(1, self.n_householder):
            product = factors[..., index, :, :, :] @ product
        return product

    def recurrence_inputs(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """What the layer feeds its recurrence for inputs (..., d_model): ``(q, k, v, beta, alpha)``, of shapes
        q (..., H, D_k), k (..., n_h, H, D_k), v (..., n_h, H, D_v), beta (..., n_h, H), alpha (..., H) or None."""
        self._check_input(x)
        heads = (self.n_heads, self.head_dim)
        q = F.normalize(self.query(x).unflatten(-1, heads), dim=-1)
        k = F.normalize(self.keys(x).unflatten(-1, (self.n_householder, *heads)), dim=-1)
        v = self.values(x).unflatten(-1, (self.n_householder, *heads))
        alpha = torch.sigmoid(self.gate(x)) if self.gate is not None else None
        return q, k, v, self.betas_of(x), alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, 3)
        outputs, _ = self.recurrence(*self.recurrence_inputs(x))
        return self.out(outputs.flatten(2))
