"""The chunked (gated) delta rule's forward pass split as production kernels split it: two parallel kernels, one serial.

Glossary (code name -> paper symbol; the chunk form is that of ``lrnn_course.chunkwise``, the
names of ``kernels.delta`` where they mean the same):

====================  ====================================================================
``q, k, v``           q_t, k_t, v_t, layout (B, T, H, D); ``beta`` β_t ∈ [0, 2]; ``alpha`` α_t ∈ [0, 1] or None
``decay``             Γ, Γ_{ti} = α_{i+1} ⋯ α_t; ``cumulative_gate`` g_t = α_1 ⋯ α_t inside the chunk
``decay_to_end``      Γ_{C·}, the last row of Γ: how much of step i's write survives to the chunk's end
``transform``         T = (I + A)⁻¹ with A = strictly-lower(diag(β) (K Kᵀ ⊙ Γ))
``w``, ``u``          W = T diag(β g) K and U = T diag(β) V: what a chunk knows without its state
``v_new``             U - W S_0: the pseudo-values once the state S_0 entering the chunk is known
``chunk_states``      S_0 of every chunk, (B, H, N, D_k, D_v), written by the serial kernel
====================  ====================================================================

``kernels.delta``'s forward kernel does everything in one serial walk over the chunks, once per value
block: the triangular inverse T, W, U and Q Kᵀ sit on the sequential path and are recomputed for
every value block. Only S_0 passes from chunk to chunk, and only v_new = U - W S_0 needs it, so:

1. ``_delta_rule_prepare_kernel``, grid (N, B·H): A, T, W and U for every chunk at once, stored in the
   input dtype (bfloat16 in, bfloat16 W and U; float32 in, float32 out: the exact path).
2. ``_delta_rule_state_pass_kernel``, grid (⌈D_v / BLOCK_V⌉, B·H): the serial part. Per chunk, only
   v_new = U - W S_0 and S_C = g_C S_0 + Kᵀ diag(Γ_{C·}) v_new: two matrix products. It stores
   every S_0 (input dtype: the output kernel multiplies them in that dtype anyway) and v_new.
3. ``_delta_rule_output_kernel``, grid (N, B·H): O = scale · (diag(g) Q S_0 + (tril(Q Kᵀ) ⊙ Γ) v_new).

Why the serial kernel does not split the key dimension across programs: W S_0 sums over all D_k
rows of S_0, so every program owning a slice of the keys would need the others' partial sums at
every chunk — a grid-wide exchange per chunk. flash-linear-attention's ``chunk_delta_h`` does not
split keys across programs either: one program holds the whole key dimension as up to four
64-row tiles (its ``b_h1``…``b_h4``), for heads up to 256. Here D_k ≤ 128 is one tile.

T without division and without row-by-row substitution: by recursive doubling. If T_s inverts the
diagonal blocks of size s of L = I + A and E holds A's entries that couple the two halves of each
block of size 2s (rows in the lower half, columns in the upper one), then the blocks of size 2s
invert as T_{2s} = T_s - T_s E T_s, exactly, because E T_s E = 0. Starting from T_1 = I, log₂ C
levels of two matrix products each give T; every intermediate is a block of the true inverse, so
no power of A (whose entries grow like binomials when β = 2) is ever formed.

Matrix products take the input dtype's operands with float32 accumulation (three TF32 passes for
float32 inputs, ``kernels.delta._precision``), except where rounding to bfloat16 costs accuracy that
accumulates over the sequence: T is built in float32 (TF32 products for half-precision inputs), and
the serial kernel multiplies in TF32, so the float32 running state is never rounded (W and v_new enter
as stored). W, U, v_new and the chunk states are stored in the input dtype, as in flash-linear-attention.
DeltaNet with β up to 2 in bfloat16, against float64 at T = 1000 (interpreter, TF32 emulated): RMS
error 1.7 % of the outputs (fla's tolerance: 2 %); 2.5 % with bfloat16 operands in the serial kernel
too, as fla; 1.4 % with TF32 for W and U as well (the prepare kernel then spills 16 bytes);
``kernels.delta``, float32 inside, 0.5 %.

Forward only: no autograd here; ``kernels.delta`` keeps the forward and backward used for training.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._triton import tl, triton, triton_mode
from ..deltanet import starting_point, validate_delta_inputs
from .backend import on_device_of, require_triton
from .delta import _precision, _too_wide, chunk_gates


class LaunchConfiguration(NamedTuple):
    """Chunk C, value columns per tile in the parallel kernels (which loop over the blocks) and per program in
    the serial one, warps per program of the parallel kernels and of the serial one, and the software-pipeline
    stages of the output kernel's loop over value blocks (tiles loaded ahead while the current one is used)."""

    chunk: int
    block_v: int
    state_block_v: int
    warps: int
    state_warps: int
    output_stages: int


# Compiled for an H100 at D_k = D_v = 128 (tests/compile_for_hopper.py), half-precision inputs take chunks
# of 64, as flash-linear-attention (half the serial steps of chunks of 32); 32 value columns a serial
# program make 4 · B·H programs at D_v = 128, and its float32 (TF32) products need 8 warps not to spill.
# float32 operands multiplied in three TF32 passes need about three times the registers: chunks of 32 or
# 64 spill 0.1-2.3 KB a thread whatever the warps and blocks; chunks of 16, blocks of 16 and 8 warps
# spill nothing in the first two kernels; the output kernel spills 8 (16 gated) bytes a thread when it loads
# tiles ahead (Triton's default 3 stages; 176-184 B with 2), none when it loads each tile as it needs it.
HALF_PRECISION_LAUNCH = LaunchConfiguration(
    chunk=64, block_v=64, state_block_v=32, warps=4, state_warps=8, output_stages=3
)
FLOAT32_LAUNCH = LaunchConfiguration(chunk=16, block_v=16, state_block_v=16, warps=8, state_warps=8, output_stages=1)
# The interpreter makes a NumPy call per block operation: short chunks keep the tests quick.
INTERPRETER_CHUNK = 16
MIN_BLOCK = 16  # tl.dot's smallest side

if triton is not None:
    # Triton 3.9's interpreter multiplies bfloat16 blocks as their raw 16-bit integers and ignores TF32; there,
    # ``product`` hands tl.dot float32 blocks holding the values a tensor core would multiply.
    _INTERPRETED = tl.constexpr(triton_mode() == "interpreter")

    @triton.jit
    def product(a, b, OPERAND: tl.constexpr, PRECISION: tl.constexpr):
        """a b in float32 from a and b rounded to OPERAND: the input dtype, or float32 for PRECISION's TF32 passes."""
        a = a.to(OPERAND)
        b = b.to(OPERAND)
        if _INTERPRETED:
            a = a.to(tl.float32)
            b = b.to(tl.float32)
            if OPERAND == tl.float32 and PRECISION == "tf32":  # TF32 keeps 10 mantissa bits (cut here, rounded there)
                a = (a.to(tl.uint32, bitcast=True) & 0xFFFFE000).to(tl.float32, bitcast=True)
                b = (b.to(tl.uint32, bitcast=True) & 0xFFFFE000).to(tl.float32, bitcast=True)
        return tl.dot(a, b, input_precision=PRECISION)

    @triton.jit
    def unit_lower_inverse(strictly_lower, CHUNK: tl.constexpr, LEVELS: tl.constexpr, PRECISION: tl.constexpr):
        """(I + A)⁻¹ in float32 for a strictly lower-triangular (CHUNK, CHUNK) A, CHUNK = 2**LEVELS, by doubling."""
        rows = tl.arange(0, CHUNK)
        inverse = tl.where(rows[:, None] == rows[None, :], 1.0, 0.0)
        for level in tl.static_range(LEVELS):
            half = 1 << level
            same_block = rows[:, None] // (2 * half) == rows[None, :] // (2 * half)
            across = same_block & ((rows[:, None] // half) % 2 == 1) & ((rows[None, :] // half) % 2 == 0)
            coupling = tl.where(across, strictly_lower, 0.0)  # E
            inverse -= product(
                inverse, product(coupling, inverse, tl.float32, PRECISION), tl.float32, PRECISION
            )  # T - T E T
        return inverse

    @triton.jit
    def _chunk_tokens(chunk, pair, steps, heads, CHUNK: tl.constexpr):
        """(flat token index, in-range mask) of the CHUNK rows of chunk ``chunk`` of the (batch·head) ``pair``."""
        times = chunk * CHUNK + tl.arange(0, CHUNK)
        batch = pair // heads
        head = pair % heads
        return (batch * steps + times) * heads + head, times < steps

    @triton.jit
    def _load_gates(alpha_ptr, token, valid, CHUNK: tl.constexpr, GATED: tl.constexpr):
        """(Γ, g) of one chunk; α = 1 past the end and when not gated."""
        if GATED:
            alpha = tl.load(alpha_ptr + token, mask=valid, other=1.0).to(tl.float32)
        else:
            alpha = tl.full([CHUNK], 1.0, tl.float32)
        return chunk_gates(alpha, CHUNK)

    @triton.jit
    def _delta_rule_prepare_kernel(
        k_ptr,
        v_ptr,
        beta_ptr,
        alpha_ptr,
        w_ptr,
        u_ptr,
        decay_to_end_ptr,
        steps,
        heads,
        key_dim,
        value_dim,
        CHUNK: tl.constexpr,
        LEVELS: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_V: tl.constexpr,
        GATED: tl.constexpr,
        PRECISION: tl.constexpr,
    ):
        chunk = tl.program_id(0)
        pair = tl.program_id(1).to(tl.int64)  # int64: offsets of B * T * H * D may pass 2**31
        token, valid = _chunk_tokens(chunk, pair, steps, heads, CHUNK)
        rows = tl.arange(0, CHUNK)
        keys = tl.arange(0, BLOCK_K)
        key_offsets = token[:, None] * key_dim + keys[None, :]
        key_mask = valid[:, None] & (keys[None, :] < key_dim)
        k = tl.load(k_ptr + key_offsets, mask=key_mask, other=0.0)  # (C, D_k), input dtype
        operand = k.dtype
        beta = tl.load(beta_ptr + token, mask=valid, other=0.0).to(tl.float32)
        decay, cumulative_gate = _load_gates(alpha_ptr, token, valid, CHUNK, GATED)
        gram = product(k, tl.trans(k), operand, PRECISION)
        strictly_lower = tl.where(rows[:, None] > rows[None, :], beta[:, None] * gram * decay, 0.0)
        transform = unit_lower_inverse(strictly_lower, CHUNK, LEVELS, PRECISION)
        scaled_keys = (beta * cumulative_gate)[:, None] * k  # diag(β g) K
        w = product(transform, scaled_keys, operand, PRECISION)
        tl.store(w_ptr + key_offsets, w.to(w_ptr.dtype.element_ty), mask=key_mask)
        for block in range(0, tl.cdiv(value_dim, BLOCK_V)):
            columns = block * BLOCK_V + tl.arange(0, BLOCK_V)
            value_offsets = token[:, None] * value_dim + columns[None, :]
            value_mask = valid[:, None] & (columns[None, :] < value_dim)
            v = tl.load(v_ptr + value_offsets, mask=value_mask, other=0.0)
            u = product(transform, beta[:, None] * v, operand, PRECISION)
            tl.store(u_ptr + value_offsets, u.to(u_ptr.dtype.element_ty), mask=value_mask)
        if GATED:
            decay_to_end = tl.sum(tl.where((rows == CHUNK - 1)[:, None], decay, 0.0), axis=0)  # α = 1 past the end
            tl.store(decay_to_end_ptr + token, decay_to_end, mask=valid)

    @triton.jit
    def _delta_rule_state_pass_kernel(
        k_ptr,
        alpha_ptr,
        w_ptr,
        u_ptr,
        decay_to_end_ptr,
        initial_ptr,
        v_new_ptr,
        chunk_states_ptr,
        final_ptr,
        steps,
        heads,
        key_dim,
        value_dim,
        CHUNK: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_V: tl.constexpr,
        GATED: tl.constexpr,
        PRECISION: tl.constexpr,
    ):
        columns = tl.program_id(0) * BLOCK_V + tl.arange(0, BLOCK_V)
        pair = tl.program_id(1).to(tl.int64)
        keys = tl.arange(0, BLOCK_K)
        state_mask = (keys[:, None] < key_dim) & (columns[None, :] < value_dim)
        state_offsets = keys[:, None] * value_dim + columns[None, :]
        state = tl.load(initial_ptr + pair * key_dim * value_dim + state_offsets, mask=state_mask, other=0.0)
        chunks = tl.cdiv(steps, CHUNK)
        for n in range(0, chunks):
            tl.store(
                chunk_states_ptr + (pair * chunks + n) * key_dim * value_dim + state_offsets,
                state.to(chunk_states_ptr.dtype.element_ty),
                mask=state_mask,
            )
            token, valid = _chunk_tokens(n, pair, steps, heads, CHUNK)
            key_offsets = token[:, None] * key_dim + keys[None, :]
            key_mask = valid[:, None] & (keys[None, :] < key_dim)
            value_offsets = token[:, None] * value_dim + columns[None, :]
            value_mask = valid[:, None] & (columns[None, :] < value_dim)
            w = tl.load(w_ptr + key_offsets, mask=key_mask, other=0.0)  # (C, D_k)
            k = tl.load(k_ptr + key_offsets, mask=key_mask, other=0.0)
            u = tl.load(u_ptr + value_offsets, mask=value_mask, other=0.0).to(tl.float32)  # (C, BLOCK_V)
            # Zero past the end (W and U are): padded steps leave the state alone.
            v_new = u - product(w, state, tl.float32, PRECISION)
            tl.store(v_new_ptr + value_offsets, v_new.to(v_new_ptr.dtype.element_ty), mask=value_mask)
            if GATED:
                decay_to_end = tl.load(decay_to_end_ptr + token, mask=valid, other=1.0)
                first = tl.min(token, axis=0)  # g_C = α_1 · Γ_{C1}; the first step is always in range
                chunk_gate = tl.load(alpha_ptr + first).to(tl.float32) * tl.load(decay_to_end_ptr + first)
                written = decay_to_end[:, None] * v_new
                state = chunk_gate * state + product(tl.trans(k), written, tl.float32, PRECISION)
            else:
                state += product(tl.trans(k), v_new, tl.float32, PRECISION)
        tl.store(final_ptr + pair * key_dim * value_dim + state_offsets, state, mask=state_mask)

    @triton.jit
    def _delta_rule_output_kernel(
        q_ptr,
        k_ptr,
        alpha_ptr,
        v_new_ptr,
        chunk_states_ptr,
        out_ptr,
        steps,
        heads,
        key_dim,
        value_dim,
        scale,
        CHUNK: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_V: tl.constexpr,
        GATED: tl.constexpr,
        PRECISION: tl.constexpr,
    ):
        chunk = tl.program_id(0)
        pair = tl.program_id(1).to(tl.int64)
        token, valid = _chunk_tokens(chunk, pair, steps, heads, CHUNK)
        rows = tl.arange(0, CHUNK)
        keys = tl.arange(0, BLOCK_K)
        key_offsets = token[:, None] * key_dim + keys[None, :]
        key_mask = valid[:, None] & (keys[None, :] < key_dim)
        q = tl.load(q_ptr + key_offsets, mask=key_mask, other=0.0)  # (C, D_k)
        k = tl.load(k_ptr + key_offsets, mask=key_mask, other=0.0)
        operand = q.dtype
        decay, cumulative_gate = _load_gates(alpha_ptr, token, valid, CHUNK, GATED)
        scores = product(q, tl.trans(k), operand, PRECISION)
        attention = tl.where(rows[:, None] >= rows[None, :], scores * decay, 0.0)  # tril(Q Kᵀ) ⊙ Γ
        state_base = (pair * tl.cdiv(steps, CHUNK) + chunk) * key_dim * value_dim
        for block in range(0, tl.cdiv(value_dim, BLOCK_V)):
            columns = block * BLOCK_V + tl.arange(0, BLOCK_V)
            state_mask = (keys[:, None] < key_dim) & (columns[None, :] < value_dim)
            state = tl.load(
                chunk_states_ptr + state_base + keys[:, None] * value_dim + columns[None, :], mask=state_mask, other=0.0
            )  # (D_k, BLOCK_V)
            value_offsets = token[:, None] * value_dim + columns[None, :]
            value_mask = valid[:, None] & (columns[None, :] < value_dim)
            v_new = tl.load(v_new_ptr + value_offsets, mask=value_mask, other=0.0)
            out = scale * (
                cumulative_gate[:, None] * product(q, state, operand, PRECISION)
                + product(attention, v_new, operand, PRECISION)
            )
            tl.store(out_ptr + value_offsets, out.to(out_ptr.dtype.element_ty), mask=value_mask)


def launch_configuration(q: torch.Tensor, v: torch.Tensor) -> LaunchConfiguration:
    """The configuration for inputs q (B, T, H, D_k) and v (B, T, H, D_v): by dtype, blocks no wider than D_v needs."""
    chosen = FLOAT32_LAUNCH if q.dtype == torch.float32 else HALF_PRECISION_LAUNCH
    if triton_mode() == "interpreter":
        chosen = chosen._replace(chunk=INTERPRETER_CHUNK)
    fitting = max(MIN_BLOCK, triton.next_power_of_2(v.shape[-1]))
    return chosen._replace(block_v=min(chosen.block_v, fitting), state_block_v=min(chosen.state_block_v, fitting))


def launch_split_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None,
    initial_state: torch.Tensor,
    scale: float,
) -> dict[str, torch.Tensor]:
    """Run the three kernels on validated inputs; every tensor they write, by name.

    ``out`` (B, T, H, D_v) in q's dtype, ``final_state`` (B, H, D_k, D_v) in float32, and the
    intermediates: ``w`` (B, T, H, D_k), ``u`` and ``v_new`` (B, T, H, D_v), ``chunk_states``
    (B, H, N, D_k, D_v), all in q's dtype.
    """
    q, k, v, beta = (x.contiguous() for x in (q, k, v, beta))
    gated = alpha is not None
    alpha_arg = alpha.contiguous() if gated else beta  # never read when not gated
    batch, steps, heads, key_dim = q.shape
    value_dim = v.shape[-1]
    chunk, block_v, state_block_v, warps, state_warps, output_stages = launch_configuration(q, v)
    chunks = triton.cdiv(steps, chunk)
    block_k = max(MIN_BLOCK, triton.next_power_of_2(key_dim))
    precision = _precision(q.dtype)
    initial = initial_state.float().contiguous()
    written = {
        "w": torch.empty_like(k),
        "u": torch.empty_like(v),
        "v_new": torch.empty_like(v),
        "chunk_states": q.new_empty(batch, heads, chunks, key_dim, value_dim),
        "final_state": torch.empty_like(initial),
        "out": torch.empty_like(v),
    }
    decay_to_end = q.new_empty(beta.shape, dtype=torch.float32) if gated else initial  # never read when not gated
    shape = dict(steps=steps, heads=heads, key_dim=key_dim, value_dim=value_dim)
    blocks = dict(CHUNK=chunk, BLOCK_K=block_k, GATED=gated, PRECISION=precision)
    with on_device_of(q):
        _delta_rule_prepare_kernel[(chunks, batch * heads)](
            k, v, beta, alpha_arg, written["w"], written["u"], decay_to_end, **shape,
            LEVELS=chunk.bit_length() - 1, BLOCK_V=block_v, num_warps=warps, **blocks,
        )  # fmt: skip
        _delta_rule_state_pass_kernel[(triton.cdiv(value_dim, state_block_v), batch * heads)](
            k, alpha_arg, written["w"], written["u"], decay_to_end, initial,
            written["v_new"], written["chunk_states"], written["final_state"], **shape,
            BLOCK_V=state_block_v, num_warps=state_warps, **blocks,
        )  # fmt: skip
        _delta_rule_output_kernel[(chunks, batch * heads)](
            q, k, alpha_arg, written["v_new"], written["chunk_states"], written["out"], **shape,
            scale=scale, BLOCK_V=block_v, num_warps=warps, num_stages=output_stages, **blocks,
        )  # fmt: skip
    return written


def chunk_delta_rule_split_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    scale: float | None = None,
    *,
    check_values: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (gated) delta rule's forward on the split kernels; the arguments and result of ``delta.chunk_delta_rule``.

    Forward only: the results carry no gradient, so inputs that ask for one are refused (use
    ``kernels.delta.chunk_delta_rule`` to train).

    Raises:
        as ``kernels.delta.chunk_delta_rule``; a RuntimeError when a gradient is asked for.
    """
    validate_delta_inputs(q, k, v, beta, alpha, initial_state, values=check_values)
    require_triton(q, _too_wide(q))
    if torch.is_grad_enabled() and any(
        x is not None and x.requires_grad for x in (q, k, v, beta, alpha, initial_state)
    ):
        raise RuntimeError(
            "chunk_delta_rule_split_forward has no backward pass: call it under torch.no_grad(), "
            "or use kernels.delta.chunk_delta_rule for gradients"
        )
    state, scale = starting_point(q, v.shape[-1], initial_state, scale)
    written = launch_split_forward(q, k, v, beta, alpha, state, scale)
    return written["out"], written["final_state"].to(state.dtype)
