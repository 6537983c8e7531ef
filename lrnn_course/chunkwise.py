"""The chunkwise parallel delta rule: the WY/UT form that trains DeltaNet fast on accelerators.

The recurrence of ``deltanet.delta_rule`` is T dependent steps of small matrix-vector work. The
chunked form cuts time into chunks of C tokens and does, per chunk, a few C × C and C × D matrix
products — the work GPUs are built for — leaving only N = T / C sequential state updates.

Derivation (Yang et al. 2024; gate α as in Gated DeltaNet). Write one step as
S_t = α_t S_{t-1} + k_t u_tᵀ with u_t = β_t (v_t - α_t S_{t-1}ᵀ k_t). Inside a chunk that starts from
S_0, with g_t = α_1 ⋯ α_t and Γ_{ti} = α_{i+1} ⋯ α_t (the decay from step i to step t),

    S_t = g_t S_0 + Σ_{i≤t} Γ_{ti} k_i u_iᵀ,
    u_t = β_t (v_t - g_t S_0ᵀ k_t - Σ_{i<t} Γ_{ti} (k_tᵀ k_i) u_i).

In matrix form (rows are time steps), with A = strictly-lower(diag(β) (K Kᵀ ⊙ Γ)):

    (I + A) U = diag(β) V - diag(β g) K S_0,    so    U = T diag(β) V - T diag(β g) K S_0,
    T = (I + A)⁻¹                               (the "UT transform", by forward substitution),
    O = scale · (diag(g) Q S_0 + (tril(Q Kᵀ) ⊙ Γ) U),
    S_C = g_C S_0 + Kᵀ diag(Γ_{C·}) U.

W = T diag(β g) K and U' = T diag(β) V depend only on the chunk's own inputs, so a kernel computes
them for every chunk in parallel; only U = U' - W S_0 and the state update pass from chunk to chunk.
This reference keeps one readable function per chunk (``delta_rule_chunk``) and loops over chunks.
The functions of one chunk check shapes, dtypes and the (B, H, C) gates' ranges; the large tensors' values
(finite, unit keys) are checked once per sequence, by ``chunk_delta_rule``.

Glossary (code name -> symbol): ``chunk_size`` C; ``decay`` Γ; ``cumulative_gate`` g;
``ut_transform`` T = (I + A)⁻¹; ``w`` W; ``u`` U (the pseudo-values); the rest as in ``deltanet``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .deltanet import starting_point, validate_delta_inputs
from .validate import (
    require_finite,
    require_in_range,
    require_like,
    require_positive_int,
    require_shape,
    require_tensor,
)


def forward_substitution_inverse(strictly_lower: torch.Tensor) -> torch.Tensor:
    """(I + A)⁻¹ for strictly lower-triangular A (..., C, C), one row at a time: the algorithm, spelled out.

    Row i of X = (I + A)⁻¹ solves X_i = e_i - Σ_{j<i} A_ij X_j: it needs only the rows above it, so
    C steps of a vector-matrix product, with no pivoting and no division. ``ut_transform`` runs the
    same substitution through ``torch.linalg.solve_triangular``, which does not loop in Python.
    """
    require_tensor(strictly_lower, "strictly_lower")
    if strictly_lower.dim() < 2 or strictly_lower.shape[-2] != strictly_lower.shape[-1]:
        raise ValueError(f"strictly_lower must be square (..., C, C), got {tuple(strictly_lower.shape)}")
    require_finite(strictly_lower, "strictly_lower")
    size = strictly_lower.shape[-1]
    if bool(torch.triu(strictly_lower).ne(0).any()):
        raise ValueError("strictly_lower must be zero on and above the diagonal")
    identity = torch.eye(size, dtype=strictly_lower.dtype, device=strictly_lower.device)
    rows: list[torch.Tensor] = []
    for i in range(size):
        row = identity[i].expand(strictly_lower.shape[:-2] + (size,))
        if i:
            row = row - torch.einsum("...j,...jc->...c", strictly_lower[..., i, :i], torch.stack(rows, dim=-2))
        rows.append(row)
    return torch.stack(rows, dim=-2)


def decay_matrix(alpha: torch.Tensor) -> torch.Tensor:
    """Γ with Γ_{ti} = α_{i+1} ⋯ α_t for t ≥ i (1 on the diagonal, 0 above), from gates (..., C).

    Built by a cumulative product down each column, never by dividing cumulative products, so a
    gate of exactly 0 (a reset) stays exact.
    """
    require_tensor(alpha, "alpha")
    if alpha.dim() == 0:
        raise ValueError("alpha must have at least one dimension (..., C), got a 0-d tensor")
    size = alpha.shape[-1]
    later = torch.arange(size, device=alpha.device)[:, None] > torch.arange(size, device=alpha.device)[None, :]
    factors = torch.where(later, alpha[..., :, None], torch.ones((), dtype=alpha.dtype, device=alpha.device))
    return torch.tril(torch.cumprod(factors, dim=-2))


def ut_transform(k: torch.Tensor, beta: torch.Tensor, decay: torch.Tensor | None = None) -> torch.Tensor:
    """T = (I + strictly-lower(diag(β) (K Kᵀ ⊙ Γ)))⁻¹ for one chunk: k (..., C, D_k), β (..., C), Γ (..., C, C).

    Returns:
        Tensor (..., C, C), lower triangular with ones on the diagonal.
    """
    require_tensor(k, "k")
    require_tensor(beta, "beta")
    if k.dim() < 2 or beta.shape != k.shape[:-1]:
        raise ValueError(f"need k (..., C, D_k) and beta (..., C), got {tuple(k.shape)} and {tuple(beta.shape)}")
    for x, name in ((beta, "beta"), (decay, "decay")):
        if x is not None:
            require_like(require_tensor(x, name), name, k, "k")
    if decay is not None:
        require_shape(decay, "decay", k.shape[:-1] + k.shape[-2:-1], "(..., C, C)")
    require_in_range(beta, "beta", 0.0, 2.0)
    ### BEGIN SOLUTION
    gram = k @ k.transpose(-1, -2)
    if decay is not None:
        gram = gram * decay
    identity = torch.eye(k.shape[-2], dtype=k.dtype, device=k.device)
    unit_lower = torch.tril(beta[..., :, None] * gram, diagonal=-1) + identity
    # The same forward substitution as forward_substitution_inverse, in one library call.
    return torch.linalg.solve_triangular(unit_lower, identity.expand_as(unit_lower), upper=False, unitriangular=True)
    ### END SOLUTION


def delta_rule_chunk(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    state: torch.Tensor,
    alpha: torch.Tensor | None = None,
    scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One chunk of the (gated) delta rule in the WY/UT form, from the state S_0 it starts with.

    Args:
        q, k: (B, H, C, D_k); v: (B, H, C, D_v); beta and alpha (or None): (B, H, C).
        state: S_0, (B, H, D_k, D_v).
        scale: the read-out factor.

    Returns:
        ``(outputs, new_state)``: o for the C steps, (B, H, C, D_v), and S_C, (B, H, D_k, D_v).

    Shapes, dtypes and the gates' ranges (β ∈ [0, 2], α ∈ [0, 1], NaN refused) are checked here; the values of
    q, k, v and the state once per sequence by ``chunk_delta_rule``, so that a chunk makes no pass over them.
    """
    require_tensor(state, "state", 4, "(B, H, D_k, D_v)")
    require_tensor(q, "q", 4, "(B, H, C, D_k)")
    batch, heads, key_dim, value_dim = state.shape
    size = q.shape[2]
    shapes = {
        "q": (batch, heads, size, key_dim),
        "k": (batch, heads, size, key_dim),
        "v": (batch, heads, size, value_dim),
        "beta": (batch, heads, size),
        "alpha": (batch, heads, size),
    }
    for x, name in ((q, "q"), (k, "k"), (v, "v"), (beta, "beta"), (alpha, "alpha")):
        if x is not None:
            require_like(require_tensor(x, name), name, state, "the state")
            require_shape(x, name, shapes[name], why="to match q and the state")
    require_in_range(beta, "beta", 0.0, 2.0)
    if alpha is not None:
        require_in_range(alpha, "alpha", 0.0, 1.0)
    ### BEGIN SOLUTION
    if alpha is None:  # DeltaNet: Γ is the causal mask and g = 1, so the gated formulas below lose their Γ and g
        transform = ut_transform(k, beta)
        w = transform @ (beta[..., None] * k)
        u = transform @ (beta[..., None] * v) - w @ state
        outputs = scale * (q @ state + torch.tril(q @ k.transpose(-1, -2)) @ u)
        return outputs, state + k.transpose(-1, -2) @ u
    decay = decay_matrix(alpha)
    cumulative_gate = torch.cumprod(alpha, dim=-1)
    transform = ut_transform(k, beta, decay)
    w = transform @ ((beta * cumulative_gate)[..., None] * k)
    u = transform @ (beta[..., None] * v) - w @ state
    attention = torch.tril(q @ k.transpose(-1, -2)) * decay
    outputs = scale * (cumulative_gate[..., None] * (q @ state) + attention @ u)
    new_state = cumulative_gate[..., -1, None, None] * state + k.transpose(-1, -2) @ (decay[..., -1, :, None] * u)
    return outputs, new_state
    ### END SOLUTION


def _into_chunks(x: torch.Tensor, chunk_size: int, fill: float) -> torch.Tensor:
    """(B, T, H, ...) -> (N, B, H, C, ...), padding time with ``fill`` up to a multiple of C.

    Chunks first and contiguous: each chunk is then one block of memory, which the matrix products of
    ``delta_rule_chunk`` read as it is, where a strided view would be copied by every product.
    """
    steps = x.shape[1]
    padding = -steps % chunk_size
    if padding:
        pad_widths = [0, 0] * (x.dim() - 2) + [0, padding]
        x = F.pad(x, pad_widths, value=fill)
    x = x.unflatten(1, (-1, chunk_size))  # (B, N, C, H, ...)
    return x.movedim(1, 0).movedim(3, 2).contiguous()  # (N, B, H, C, ...)


def chunk_delta_rule(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    scale: float | None = None,
    chunk_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (gated) delta rule in chunks of ``chunk_size``; the same arguments and result as ``deltanet.delta_rule``.

    Chunk n holds steps nC … nC + C - 1 and starts from the state chunk n - 1 returned (the first from
    S_0). Backward is PyTorch autograd through these ops.
    """
    validate_delta_inputs(q, k, v, beta, alpha, initial_state)
    require_positive_int(chunk_size, "chunk_size")
    state, scale = starting_point(q, v.shape[-1], initial_state, scale)
    ### BEGIN SOLUTION
    # Time padded to a multiple of C with identity steps (β = 0, α = 1, zero q, k, v), whose outputs are dropped.
    steps = q.shape[1]
    queries, keys, values = (_into_chunks(x, chunk_size, 0.0) for x in (q, k, v))
    betas = _into_chunks(beta, chunk_size, 0.0)
    gates = _into_chunks(alpha, chunk_size, 1.0) if alpha is not None else None
    outputs = []
    # unbind, not x[n], which would make the backward pass quadratic in N (see scan.sequential_scan)
    gate_chunks = gates.unbind() if gates is not None else [None] * len(queries)
    for q_c, k_c, v_c, beta_c, alpha_c in zip(
        queries.unbind(), keys.unbind(), values.unbind(), betas.unbind(), gate_chunks
    ):
        chunk_outputs, state = delta_rule_chunk(q_c, k_c, v_c, beta_c, state, alpha_c, scale)
        outputs.append(chunk_outputs)
    chunked = torch.stack(outputs, dim=1)  # (B, N, H, C, D_v)
    return chunked.transpose(2, 3).flatten(1, 2)[:, :steps], state
    ### END SOLUTION
