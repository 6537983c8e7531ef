"""The chunked (gated) delta rule split as production kernels split it, forward (two parallel kernels around a
serial one) and backward (three parallel kernels around a serial one). What ``ops`` and ``kernels`` run.

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
``grad_*``            dL/d(that quantity); ``state_grads`` dS' = dL/dS_C of every chunk, (B, H, N, D_k, D_v)
``grad_v_local``      scale Pᵀ dO with P = tril(Q Kᵀ) ⊙ Γ: v_new's gradient from its own chunk's outputs
``SUBSTEPS``          n_h, DeltaProduct's Householders a token, each one step of the rule (DeltaNet: 1)
``token``             a step's row in k, v, β (B, n_h·T, H) and all the kernels write per step
``token_of_step``     the row of the step's token in q, O and α (B, T, H); ``has_query``: its last
                      sub-step (q and O), ``has_gate``: its first (α); other sub-steps see q = 0, α = 1
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

The backward (``launch_split_backward``) in the same shapes. Only dS' passes from chunk to chunk,
backwards: dv_new = scale Pᵀ dO + diag(Γ_{C·}) K dS' and dS_0 = g_C dS' + scale Qᵀ diag(g) dO - Wᵀ dv_new.

4. ``_delta_rule_local_value_grad_kernel``, grid (N, B·H): scale Pᵀ dO, which needs no state.
5. ``_delta_rule_state_grad_kernel``, grid (⌈D_v / BLOCK_V⌉, B·H): the serial part, in reverse: three
   matrix products a chunk (K dS', Qᵀ diag(g) dO, Wᵀ dv_new); stores every dS' and dv_new.
6. ``_delta_rule_query_key_grad_kernel``, grid (N, B·H, ⌈D_k / BLOCK_K⌉): every sum over the values at
   once, the value blocks in turn inside one program: dQ (final), K's gradient through O and S', dW =
   -dv_new S_0ᵀ and, gated, α's gradient through O and S' (one partial per key block).
7. ``_delta_rule_transform_grad_kernel``, grid (N, B·H): rebuilds T as kernel 1 does, then through
   U = T diag(β) V and W = T diag(β g) K: dT = dv_new (diag(β) V)ᵀ + dW (diag(β g) K)ᵀ, dA = -Tᵀ dT Tᵀ,
   and writes dK, dV, dβ and dα once each, final, adding kernel 6's parts.
No gradient is written as partial sums over value blocks for PyTorch to add (``kernels.delta``'s
backward writes dQ, dK, dβ and dα once per value block); the forward keeps W, v_new, the chunk states
and, gated, Γ_{C·} for the backward, not T, which kernel 7 rebuilds.

Gradients in bfloat16 against float64 (interpreter; ``tests/test_kernels_delta_split.py``): 1.2 % RMS
on gated shapes; DeltaNet at T = 1000 with β up to 2, dK 2.6 % and dβ 2.3 %, mostly inherited from W and
U stored in bfloat16 (both in float32: 1.8 %, for 1.3 KB more traffic a token and head at D = 128). The
backward's own intermediates: scale Pᵀ dO, dW, dv_new and dS' in the input dtype too (as in fla; float32
for the first two: dK 2.5 %, 6 B an element more), K's and α's partial gradients in float32.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._triton import tl, triton, triton_mode
from ..deltanet import starting_point, validate_delta_inputs
from ..deltaproduct import validate_product_inputs
from .backend import FP_FUSION, on_device_of, require_triton
from .delta import _precision, _too_wide


class LaunchConfiguration(NamedTuple):
    """Block sizes, warps and pipeline stages per kernel: what ``@triton.autotune`` would pick on a GPU, chosen
    here, without one, as the largest that compile for an H100 without spilling registers."""

    chunk: int  # C, every kernel
    block_v: int  # value columns per tile in the parallel kernels, which loop over the value blocks
    state_block_v: int  # value columns per program of the serial kernels (their grid's first axis)
    warps: int  # per program: prepare, output and local-dv kernels
    state_warps: int  # per program: the two serial kernels
    output_stages: int  # tiles loaded ahead in the output kernel's loop over value blocks
    state_grad_stages: int  # the same in the backward's serial kernel, over chunks
    grad_block_k: int  # key columns per program of the query-key gradient kernel (its grid's third axis)
    transform_block_k: int  # key columns per step of the transform-gradient kernel's loops over the keys
    grad_warps: int  # per program: the query-key and transform gradient kernels


# Compiled for an H100 at D_k = D_v = 128 (tests/compile_for_hopper.py), half-precision inputs take chunks
# of 64, as flash-linear-attention (half the serial steps of chunks of 32); 32 value columns a serial
# program make 4 · B·H programs at D_v = 128, and its float32 (TF32) products need 8 warps not to spill.
# float32 operands multiplied in three TF32 passes need about three times the registers: chunks of 32 or
# 64 spill 0.1-2.3 KB a thread whatever the warps and blocks; chunks of 16, blocks of 16 and 8 warps
# spill nothing in the first two kernels; the output kernel spills 8 (16 gated) bytes a thread when it loads
# tiles ahead (Triton's default 3 stages; 176-184 B with 2), none when it loads each tile as it needs it.
# Backward, bfloat16: with 4 warps the query-key kernel spilled 280-432 bytes a thread (gated) and the
# transform kernel 0.7-1.6 KB; with 8 warps, key steps of 32 and the loops ordered so that few (C, C)
# blocks are live at once (see the kernel), neither spills. The serial kernel spills 72 bytes (gated)
# loading three tiles ahead, none with two. float32, gated: the query-key kernel spills 112 bytes with
# key blocks of 32, none with 16; the serial kernel 24 bytes with two stages, none with one or three.
HALF_PRECISION_LAUNCH = LaunchConfiguration(
    chunk=64,
    block_v=64,
    state_block_v=32,
    warps=4,
    state_warps=8,
    output_stages=3,
    state_grad_stages=2,
    grad_block_k=64,
    transform_block_k=32,
    grad_warps=8,
)
FLOAT32_LAUNCH = LaunchConfiguration(
    chunk=16,
    block_v=16,
    state_block_v=16,
    warps=8,
    state_warps=8,
    output_stages=1,
    state_grad_stages=3,
    grad_block_k=16,
    transform_block_k=32,
    grad_warps=8,
)
# The interpreter makes a NumPy call per block operation: short chunks keep the tests quick.
INTERPRETER_CHUNK = 16
MIN_BLOCK = 16  # tl.dot's smallest side

if triton is not None:
    from .delta import chunk_gates, gate_gradient  # Triton helpers: defined only where Triton is

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
    def _token_rows(times, pair, steps, heads, SUBSTEPS: tl.constexpr):
        """(token index, reads its query, reads its gate) of the steps ``times`` of a (batch·head) pair: for q, O, α.

        DeltaProduct's n_h = SUBSTEPS Householders of a token are n_h consecutive steps (kernels.delta's
        interleaving, without building the interleaved tensors): k, v and β are read per step (their (B, T, n_h,
        H, D) layout is already (B, n_h·T, H, D)), the token's query at its last sub-step and its gate at its
        first; the other steps see q = 0 and α = 1 and write no output. DeltaNet: SUBSTEPS = 1.
        """
        valid = (times >= 0) & (times < steps)
        token = ((pair // heads) * (steps // SUBSTEPS) + times // SUBSTEPS) * heads + pair % heads
        return token, valid & (times % SUBSTEPS == SUBSTEPS - 1), valid & (times % SUBSTEPS == 0)

    @triton.jit
    def _state_tile(key_dim, value_dim, BLOCK_K: tl.constexpr, BLOCK_V: tl.constexpr):
        """A serial kernel's program: BLOCK_V value columns of one (batch·head) pair's state, all its key rows.
        (pair, value columns, key rows, offsets within a (D_k, D_v) state, mask)."""
        columns = tl.program_id(0) * BLOCK_V + tl.arange(0, BLOCK_V)
        keys = tl.arange(0, BLOCK_K)
        mask = (keys[:, None] < key_dim) & (columns[None, :] < value_dim)
        return tl.program_id(1).to(tl.int64), columns, keys, keys[:, None] * value_dim + columns[None, :], mask

    @triton.jit
    def _chunk_rows(chunk, pair, steps, heads, CHUNK: tl.constexpr, SUBSTEPS: tl.constexpr):
        """(step index, in range, token of each step, reads its query, reads its gate) of the CHUNK rows of a chunk."""
        token, valid = _chunk_tokens(chunk, pair, steps, heads, CHUNK)
        times = chunk * CHUNK + tl.arange(0, CHUNK)
        token_of_step, has_query, has_gate = _token_rows(times, pair, steps, heads, SUBSTEPS)
        return token, valid, token_of_step, has_query, has_gate

    @triton.jit
    def _load_gates(alpha_ptr, gate_token, gated_row, CHUNK: tl.constexpr, GATED: tl.constexpr):
        """(Γ, g) of one chunk; α = 1 past the end, on sub-steps without a gate, and when not gated."""
        if GATED:
            alpha = tl.load(alpha_ptr + gate_token, mask=gated_row, other=1.0).to(tl.float32)
        else:
            alpha = tl.full([CHUNK], 1.0, tl.float32)
        return chunk_gates(alpha, CHUNK)

    @triton.jit
    def _chunk_transform(gram, beta, decay, CHUNK: tl.constexpr, LEVELS: tl.constexpr, PRECISION: tl.constexpr):
        """T = (I + A)⁻¹ of one chunk in float32 from K Kᵀ (C, C), β (C,) and Γ (C, C)."""
        rows = tl.arange(0, CHUNK)
        strictly_lower = tl.where(rows[:, None] > rows[None, :], beta[:, None] * gram * decay, 0.0)
        return unit_lower_inverse(strictly_lower, CHUNK, LEVELS, PRECISION)

    @triton.jit
    def _load_alpha_before(alpha_ptr, token_of_step, has_gate, CHUNK: tl.constexpr):
        """α_{s-1} for the rows s of one chunk, 1 at its first row (the gate gradient's Γ_{s-1,i} and g_{s-1}): the
        chunk's gates moved one row down, by a masked sum, so that no second set of addresses is formed."""
        rows = tl.arange(0, CHUNK)
        alpha = tl.load(alpha_ptr + token_of_step, mask=has_gate, other=1.0).to(tl.float32)
        moved = tl.sum(tl.where(rows[:, None] == rows[None, :] + 1, alpha[None, :], 0.0), axis=1)
        return tl.where(rows == 0, 1.0, moved)

    @triton.jit
    def _load_rows(ptr, token, valid, columns, width):
        """Rows ``token`` (C,) of a (B, T, H, width) tensor at ``columns``, as stored; zero past either end."""
        mask = valid[:, None] & (columns[None, :] < width)
        return tl.load(ptr + token[:, None] * width + columns[None, :], mask=mask, other=0.0)

    @triton.jit
    def _load_queries_keys(q_ptr, k_ptr, step, valid, query_token, has_query, keys, key_dim):
        """q and k (C, BLOCK_K) of one chunk at key columns ``keys``, in the input dtype (zero past either end, and
        q zero on sub-steps without a query)."""
        return _load_rows(q_ptr, query_token, has_query, keys, key_dim), _load_rows(k_ptr, step, valid, keys, key_dim)

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
        SUBSTEPS: tl.constexpr,
        PRECISION: tl.constexpr,
    ):
        chunk = tl.program_id(0)
        pair = tl.program_id(1).to(tl.int64)  # int64: offsets of B * T * H * D may pass 2**31
        token, valid, token_of_step, has_query, has_gate = _chunk_rows(chunk, pair, steps, heads, CHUNK, SUBSTEPS)
        rows = tl.arange(0, CHUNK)
        keys = tl.arange(0, BLOCK_K)
        key_offsets = token[:, None] * key_dim + keys[None, :]
        key_mask = valid[:, None] & (keys[None, :] < key_dim)
        k = tl.load(k_ptr + key_offsets, mask=key_mask, other=0.0)  # (C, D_k), input dtype
        operand = k.dtype
        beta = tl.load(beta_ptr + token, mask=valid, other=0.0).to(tl.float32)
        decay, cumulative_gate = _load_gates(alpha_ptr, token_of_step, has_gate, CHUNK, GATED)
        transform = _chunk_transform(product(k, tl.trans(k), operand, PRECISION), beta, decay, CHUNK, LEVELS, PRECISION)
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
        SUBSTEPS: tl.constexpr,
        PRECISION: tl.constexpr,
    ):
        pair, columns, keys, state_offsets, state_mask = _state_tile(key_dim, value_dim, BLOCK_K, BLOCK_V)
        state = tl.load(initial_ptr + pair * key_dim * value_dim + state_offsets, mask=state_mask, other=0.0)
        chunks = tl.cdiv(steps, CHUNK)
        for n in range(0, chunks):
            tl.store(
                chunk_states_ptr + (pair * chunks + n) * key_dim * value_dim + state_offsets,
                state.to(chunk_states_ptr.dtype.element_ty),
                mask=state_mask,
            )
            token, valid, token_of_step, has_query, has_gate = _chunk_rows(n, pair, steps, heads, CHUNK, SUBSTEPS)
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
                alpha = tl.load(alpha_ptr + token_of_step, mask=has_gate, other=1.0).to(tl.float32)
                chunk_gate = tl.sum(tl.where(tl.arange(0, CHUNK) == 0, alpha * decay_to_end, 0.0), axis=0)  # α_1 Γ_{C1}
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
        SUBSTEPS: tl.constexpr,
        PRECISION: tl.constexpr,
    ):
        chunk = tl.program_id(0)
        pair = tl.program_id(1).to(tl.int64)
        token, valid, token_of_step, has_query, has_gate = _chunk_rows(chunk, pair, steps, heads, CHUNK, SUBSTEPS)
        rows = tl.arange(0, CHUNK)
        keys = tl.arange(0, BLOCK_K)
        q, k = _load_queries_keys(q_ptr, k_ptr, token, valid, token_of_step, has_query, keys, key_dim)  # (C, D_k)
        operand = q.dtype
        decay, cumulative_gate = _load_gates(alpha_ptr, token_of_step, has_gate, CHUNK, GATED)
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
            output_mask = has_query[:, None] & (columns[None, :] < value_dim)
            tl.store(
                out_ptr + token_of_step[:, None] * value_dim + columns[None, :],
                out.to(out_ptr.dtype.element_ty),
                mask=output_mask,
            )

    # The backward pass, in the same shapes. With dO the outputs' gradient and dS' that of the state leaving
    # a chunk: dv_new = scale Pᵀ dO + diag(Γ_{C·}) K dS' (P = tril(Q Kᵀ) ⊙ Γ), and the state entering it gets
    # dS = g_C dS' + scale Qᵀ diag(g) dO - Wᵀ dv_new. Only K dS', Qᵀ diag(g) dO and Wᵀ dv_new need the running
    # dS; Pᵀ dO does not, and is computed before, in parallel.

    @triton.jit
    def _delta_rule_local_value_grad_kernel(
        q_ptr,
        k_ptr,
        alpha_ptr,
        grad_out_ptr,
        grad_v_local_ptr,
        steps,
        heads,
        key_dim,
        value_dim,
        scale,
        CHUNK: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_V: tl.constexpr,
        GATED: tl.constexpr,
        SUBSTEPS: tl.constexpr,
        PRECISION: tl.constexpr,
    ):
        chunk = tl.program_id(0)
        pair = tl.program_id(1).to(tl.int64)
        token, valid, token_of_step, has_query, has_gate = _chunk_rows(chunk, pair, steps, heads, CHUNK, SUBSTEPS)
        rows = tl.arange(0, CHUNK)
        keys = tl.arange(0, BLOCK_K)
        q, k = _load_queries_keys(q_ptr, k_ptr, token, valid, token_of_step, has_query, keys, key_dim)  # (C, D_k)
        operand = q.dtype
        decay, _ = _load_gates(alpha_ptr, token_of_step, has_gate, CHUNK, GATED)
        transposed_scores = product(k, tl.trans(q), operand, PRECISION)  # K Qᵀ
        transposed_attention = tl.where(rows[:, None] <= rows[None, :], transposed_scores * tl.trans(decay), 0.0)  # Pᵀ
        for block in range(0, tl.cdiv(value_dim, BLOCK_V)):
            columns = block * BLOCK_V + tl.arange(0, BLOCK_V)
            value_offsets = token[:, None] * value_dim + columns[None, :]
            value_mask = valid[:, None] & (columns[None, :] < value_dim)
            grad_out = _load_rows(grad_out_ptr, token_of_step, has_query, columns, value_dim)
            grad_v_local = scale * product(transposed_attention, grad_out, operand, PRECISION)
            tl.store(
                grad_v_local_ptr + value_offsets, grad_v_local.to(grad_v_local_ptr.dtype.element_ty), mask=value_mask
            )

    @triton.jit
    def _delta_rule_state_grad_kernel(
        q_ptr,
        k_ptr,
        alpha_ptr,
        w_ptr,
        decay_to_end_ptr,
        grad_out_ptr,
        grad_v_local_ptr,
        grad_final_ptr,
        grad_v_new_ptr,
        state_grads_ptr,
        grad_initial_ptr,
        steps,
        heads,
        key_dim,
        value_dim,
        scale,
        CHUNK: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_V: tl.constexpr,
        GATED: tl.constexpr,
        SUBSTEPS: tl.constexpr,
        PRECISION: tl.constexpr,
    ):
        pair, columns, keys, state_offsets, state_mask = _state_tile(key_dim, value_dim, BLOCK_K, BLOCK_V)
        rows = tl.arange(0, CHUNK)
        grad_state = tl.load(grad_final_ptr + pair * key_dim * value_dim + state_offsets, mask=state_mask, other=0.0)
        chunks = tl.cdiv(steps, CHUNK)
        for reversed_n in range(0, chunks):
            n = chunks - 1 - reversed_n
            tl.store(
                state_grads_ptr + (pair * chunks + n) * key_dim * value_dim + state_offsets,
                grad_state.to(state_grads_ptr.dtype.element_ty),
                mask=state_mask,
            )  # dS' of chunk n, (D_k, BLOCK_V)
            token, valid, token_of_step, has_query, has_gate = _chunk_rows(n, pair, steps, heads, CHUNK, SUBSTEPS)
            q, k = _load_queries_keys(q_ptr, k_ptr, token, valid, token_of_step, has_query, keys, key_dim)  # (C, D_k)
            w = _load_rows(w_ptr, token, valid, keys, key_dim)
            value_offsets = token[:, None] * value_dim + columns[None, :]
            value_mask = valid[:, None] & (columns[None, :] < value_dim)
            grad_out = _load_rows(grad_out_ptr, token_of_step, has_query, columns, value_dim).to(tl.float32)
            grad_v_new = tl.load(grad_v_local_ptr + value_offsets, mask=value_mask, other=0.0).to(
                tl.float32
            )  # (C, BLOCK_V)
            keys_times_grad_state = product(k, grad_state, tl.float32, PRECISION)  # K dS'
            if GATED:
                decay_to_end = tl.load(decay_to_end_ptr + token, mask=valid, other=1.0)
                alpha = tl.load(alpha_ptr + token_of_step, mask=has_gate, other=1.0).to(tl.float32)
                cumulative_gate = tl.cumprod(alpha, axis=0)  # g; α = 1 past the end, so its last entry is g_C
                grad_v_new += decay_to_end[:, None] * keys_times_grad_state
                chunk_gate = tl.sum(tl.where(rows == CHUNK - 1, cumulative_gate, 0.0), axis=0)
                grad_state = chunk_gate * grad_state + scale * product(
                    tl.trans(q), cumulative_gate[:, None] * grad_out, tl.float32, PRECISION
                )
            else:
                grad_v_new += keys_times_grad_state
                grad_state += scale * product(tl.trans(q), grad_out, tl.float32, PRECISION)
            tl.store(grad_v_new_ptr + value_offsets, grad_v_new.to(grad_v_new_ptr.dtype.element_ty), mask=value_mask)
            grad_state -= product(tl.trans(w), grad_v_new, tl.float32, PRECISION)  # dS of the state entering chunk n
        tl.store(grad_initial_ptr + pair * key_dim * value_dim + state_offsets, grad_state, mask=state_mask)

    @triton.jit
    def _delta_rule_query_key_grad_kernel(
        q_ptr,
        k_ptr,
        alpha_ptr,
        v_new_ptr,
        grad_v_new_ptr,
        chunk_states_ptr,
        state_grads_ptr,
        grad_out_ptr,
        grad_q_ptr,
        grad_k_ptr,
        grad_w_ptr,
        grad_alpha_ptr,
        steps,
        heads,
        key_dim,
        value_dim,
        scale,
        CHUNK: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_V: tl.constexpr,
        GATED: tl.constexpr,
        SUBSTEPS: tl.constexpr,
        PRECISION: tl.constexpr,
    ):
        """dQ, K's gradient through O and S', dW and, gated, α's gradient through them, for BLOCK_K key columns:
        every sum over the values is taken here, over the value blocks in turn, so nothing is summed afterwards
        over value blocks; the gate's sums over keys come in one partial per key block."""
        chunk = tl.program_id(0)
        pair = tl.program_id(1).to(tl.int64)
        key_block = tl.program_id(2)
        token, valid, token_of_step, has_query, has_gate = _chunk_rows(chunk, pair, steps, heads, CHUNK, SUBSTEPS)
        rows = tl.arange(0, CHUNK)
        keys = key_block * BLOCK_K + tl.arange(0, BLOCK_K)
        q, k = _load_queries_keys(q_ptr, k_ptr, token, valid, token_of_step, has_query, keys, key_dim)  # (C, BLOCK_K)
        operand = q.dtype
        decay, cumulative_gate = _load_gates(alpha_ptr, token_of_step, has_gate, CHUNK, GATED)
        grad_out_states = tl.zeros([CHUNK, BLOCK_K], tl.float32)  # dO Sᵀ
        values_state_grads = tl.zeros([CHUNK, BLOCK_K], tl.float32)  # v_new dS'ᵀ
        grad_v_new_states = tl.zeros([CHUNK, BLOCK_K], tl.float32)  # dv_new Sᵀ = -dW
        grad_out_values = tl.zeros([CHUNK, CHUNK], tl.float32)  # dO v_newᵀ
        state_times_grad = 0.0  # Σ S ⊙ dS' over this key block: dL/dg_C
        state_base = (pair * tl.cdiv(steps, CHUNK) + chunk) * key_dim * value_dim
        for block in range(0, tl.cdiv(value_dim, BLOCK_V)):
            columns = block * BLOCK_V + tl.arange(0, BLOCK_V)
            state_offsets = state_base + keys[:, None] * value_dim + columns[None, :]
            state_mask = (keys[:, None] < key_dim) & (columns[None, :] < value_dim)
            state = tl.load(chunk_states_ptr + state_offsets, mask=state_mask, other=0.0)  # (BLOCK_K, BLOCK_V)
            grad_state = tl.load(state_grads_ptr + state_offsets, mask=state_mask, other=0.0)
            value_offsets = token[:, None] * value_dim + columns[None, :]
            value_mask = valid[:, None] & (columns[None, :] < value_dim)
            v_new = tl.load(v_new_ptr + value_offsets, mask=value_mask, other=0.0)  # (C, BLOCK_V)
            grad_v_new = tl.load(grad_v_new_ptr + value_offsets, mask=value_mask, other=0.0)
            grad_out = _load_rows(grad_out_ptr, token_of_step, has_query, columns, value_dim)
            grad_out_states += product(grad_out, tl.trans(state), operand, PRECISION)
            values_state_grads += product(v_new, tl.trans(grad_state), operand, PRECISION)
            grad_v_new_states += product(grad_v_new, tl.trans(state), operand, PRECISION)
            grad_out_values += product(grad_out, tl.trans(v_new), operand, PRECISION)
            if GATED:
                state_times_grad += tl.sum(tl.sum(state.to(tl.float32) * grad_state.to(tl.float32), axis=1), axis=0)
        last = rows == CHUNK - 1  # α = 1 past the end: the last row of Γ is Γ_{C·}
        decay_to_end = tl.sum(tl.where(last[:, None], decay, 0.0), axis=0)
        grad_attention = scale * grad_out_values
        grad_scores = grad_attention * decay  # zero above the diagonal, where Γ is
        grad_q = scale * cumulative_gate[:, None] * grad_out_states + product(grad_scores, k, operand, PRECISION)
        grad_k = product(tl.trans(grad_scores), q, operand, PRECISION) + decay_to_end[:, None] * values_state_grads
        key_offsets = token[:, None] * key_dim + keys[None, :]
        key_mask = valid[:, None] & (keys[None, :] < key_dim)
        query_mask = has_query[:, None] & (keys[None, :] < key_dim)
        tl.store(
            grad_q_ptr + token_of_step[:, None] * key_dim + keys[None, :],
            grad_q.to(grad_q_ptr.dtype.element_ty),
            mask=query_mask,
        )
        tl.store(grad_k_ptr + key_offsets, grad_k, mask=key_mask)
        tl.store(grad_w_ptr + key_offsets, (-grad_v_new_states).to(grad_w_ptr.dtype.element_ty), mask=key_mask)
        if GATED:
            scores = product(q, tl.trans(k), operand, PRECISION)  # this key block's share of Q Kᵀ
            grad_decay = grad_attention * scores
            grad_decay += tl.where(last[:, None], tl.sum(k.to(tl.float32) * values_state_grads, axis=1)[None, :], 0.0)
            grad_gate = scale * tl.sum(q.to(tl.float32) * grad_out_states, axis=1)
            grad_gate += tl.where(last, state_times_grad, 0.0)
            alpha_before = _load_alpha_before(alpha_ptr, token_of_step, has_gate, CHUNK)
            grad_alpha = gate_gradient(grad_decay, grad_gate, decay, alpha_before, CHUNK, PRECISION)
            partial = key_block.to(tl.int64) * (tl.num_programs(1) * steps)  # (key blocks, B, T, H)
            tl.store(grad_alpha_ptr + partial + token, grad_alpha, mask=valid)

    @triton.jit
    def _delta_rule_transform_grad_kernel(
        k_ptr,
        v_ptr,
        beta_ptr,
        alpha_ptr,
        grad_v_new_ptr,
        grad_w_ptr,
        partial_grad_k_ptr,
        partial_grad_alpha_ptr,
        grad_k_ptr,
        grad_v_ptr,
        grad_beta_ptr,
        grad_alpha_ptr,
        alpha_partials,
        steps,
        heads,
        key_dim,
        value_dim,
        CHUNK: tl.constexpr,
        LEVELS: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_V: tl.constexpr,
        KEY_STEPS: tl.constexpr,
        GATED: tl.constexpr,
        SUBSTEPS: tl.constexpr,
        PRECISION: tl.constexpr,
    ):
        """Through U = T diag(β) V and W = T diag(β g) K to K, V, β and α: T rebuilt as the prepare kernel builds
        it, dT = dU Xᵀ + dW Yᵀ summed over the value blocks and key blocks, then dA = -Tᵀ dT Tᵀ. Adds what the
        previous kernel wrote for K and α, so each of dK, dV, dβ and dα is stored once, final.

        Only (C, C) blocks stay live; keys are visited BLOCK_K columns at a time, three times (K Kᵀ for T; dT
        and dY's share of dβ; dK), so that no (C, D_k) block in float32 is held across the value loop: holding
        them spilled 0.3-1.6 KB a thread on sm_90."""
        chunk = tl.program_id(0)
        pair = tl.program_id(1).to(tl.int64)
        token, valid, token_of_step, has_query, has_gate = _chunk_rows(chunk, pair, steps, heads, CHUNK, SUBSTEPS)
        rows = tl.arange(0, CHUNK)
        beta = tl.load(beta_ptr + token, mask=valid, other=0.0).to(tl.float32)
        decay, cumulative_gate = _load_gates(alpha_ptr, token_of_step, has_gate, CHUNK, GATED)
        operand = k_ptr.dtype.element_ty
        gram = tl.zeros([CHUNK, CHUNK], tl.float32)
        for key_block in range(0, KEY_STEPS):
            k = _load_rows(k_ptr, token, valid, key_block * BLOCK_K + tl.arange(0, BLOCK_K), key_dim)
            gram += product(k, tl.trans(k), operand, PRECISION)
        transform_t = tl.trans(_chunk_transform(gram, beta, decay, CHUNK, LEVELS, PRECISION))
        # K Kᵀ is needed again after the loops: rebuilt there (Γ, rebuilt too, spilled 300 bytes a thread).
        grad_transform = tl.zeros([CHUNK, CHUNK], tl.float32)
        grad_beta = tl.zeros([CHUNK], tl.float32)
        for block in range(0, tl.cdiv(value_dim, BLOCK_V)):
            columns = block * BLOCK_V + tl.arange(0, BLOCK_V)
            v = _load_rows(v_ptr, token, valid, columns, value_dim).to(tl.float32)  # (C, BLOCK_V)
            grad_u = _load_rows(grad_v_new_ptr, token, valid, columns, value_dim)  # dU = dv_new
            grad_transform += product(grad_u, tl.trans(beta[:, None] * v), operand, PRECISION)
            grad_scaled_values = product(transform_t, grad_u, tl.float32, PRECISION)  # dX
            value_mask = valid[:, None] & (columns[None, :] < value_dim)
            tl.store(
                grad_v_ptr + token[:, None] * value_dim + columns[None, :],
                (beta[:, None] * grad_scaled_values).to(grad_v_ptr.dtype.element_ty),
                mask=value_mask,
            )
            grad_beta += tl.sum(grad_scaled_values * v, axis=1)
        scaled_keys_gate = beta * cumulative_gate  # Y = diag(β g) K
        grad_beta_gate = tl.zeros([CHUNK], tl.float32)  # Σ_j dY ⊙ K: dL/d(β g)
        gram = tl.zeros([CHUNK, CHUNK], tl.float32)
        for key_block in range(0, KEY_STEPS):
            keys = key_block * BLOCK_K + tl.arange(0, BLOCK_K)
            k = _load_rows(k_ptr, token, valid, keys, key_dim)
            gram += product(k, tl.trans(k), operand, PRECISION)
            grad_w = _load_rows(grad_w_ptr, token, valid, keys, key_dim).to(tl.float32)
            grad_transform += product(
                grad_w, tl.trans(scaled_keys_gate[:, None] * k.to(tl.float32)), operand, PRECISION
            )
            grad_scaled_keys = product(transform_t, grad_w, tl.float32, PRECISION)  # dY
            grad_beta_gate += tl.sum(grad_scaled_keys * k.to(tl.float32), axis=1)
            # dK's share through Y = diag(β g) K, added in place to kernel 6's: the loop below then needs no Tᵀ.
            partial_offsets = token[:, None] * key_dim + keys[None, :]
            key_mask = valid[:, None] & (keys[None, :] < key_dim)
            partial_grad_k = tl.load(partial_grad_k_ptr + partial_offsets, mask=key_mask, other=0.0)
            partial_grad_k += scaled_keys_gate[:, None] * grad_scaled_keys
            tl.store(partial_grad_k_ptr + partial_offsets, partial_grad_k, mask=key_mask)
        grad_beta += cumulative_gate * grad_beta_gate
        # T = (I + A)⁻¹: dA = -Tᵀ dT Tᵀ, kept where A lives (strictly below the diagonal).
        grad_a = tl.where(
            rows[:, None] > rows[None, :],
            -product(product(transform_t, grad_transform, tl.float32, PRECISION), transform_t, tl.float32, PRECISION),
            0.0,
        )
        grad_beta += tl.sum(grad_a * gram * decay, axis=1)
        tl.store(grad_beta_ptr + token, grad_beta.to(grad_beta_ptr.dtype.element_ty), mask=valid)
        grad_gram = beta[:, None] * grad_a * decay
        grad_gram += tl.trans(grad_gram)  # K Kᵀ is symmetric
        if GATED:
            grad_decay = beta[:, None] * grad_a * gram  # A's share of dL/dΓ; the rest came from kernel 6
        for key_block in range(0, KEY_STEPS):
            keys = key_block * BLOCK_K + tl.arange(0, BLOCK_K)
            k = _load_rows(k_ptr, token, valid, keys, key_dim)
            grad_k = product(grad_gram, k, operand, PRECISION) + _load_rows(
                partial_grad_k_ptr, token, valid, keys, key_dim
            )
            key_mask = valid[:, None] & (keys[None, :] < key_dim)
            tl.store(
                grad_k_ptr + token[:, None] * key_dim + keys[None, :],
                grad_k.to(grad_k_ptr.dtype.element_ty),
                mask=key_mask,
            )
        if GATED:  # after the key loop, where A's (C, C) blocks are no longer live
            alpha_before = _load_alpha_before(alpha_ptr, token_of_step, has_gate, CHUNK)
            grad_alpha = gate_gradient(grad_decay, beta * grad_beta_gate, decay, alpha_before, CHUNK, PRECISION)
            partial_stride = tl.num_programs(1).to(tl.int64) * steps  # (key blocks, B, T, H)
            for key_block in range(0, alpha_partials):
                grad_alpha += tl.load(partial_grad_alpha_ptr + key_block * partial_stride + token, mask=valid)
            tl.store(grad_alpha_ptr + token_of_step, grad_alpha.to(grad_alpha_ptr.dtype.element_ty), mask=has_gate)


def launch_configuration(q: torch.Tensor, v: torch.Tensor) -> LaunchConfiguration:
    """The configuration for inputs q (B, T, H, D_k) and v (B, T, H, D_v): by dtype, blocks no wider than D_v needs."""
    chosen = FLOAT32_LAUNCH if q.dtype == torch.float32 else HALF_PRECISION_LAUNCH
    if triton_mode() == "interpreter":  # the tests' heads of 40 take three key blocks and two key steps
        chosen = chosen._replace(chunk=INTERPRETER_CHUNK, grad_block_k=MIN_BLOCK, transform_block_k=2 * MIN_BLOCK)
    fitting = max(MIN_BLOCK, triton.next_power_of_2(v.shape[-1]))
    key_fitting = max(MIN_BLOCK, triton.next_power_of_2(q.shape[-1]))
    return chosen._replace(
        block_v=min(chosen.block_v, fitting),
        state_block_v=min(chosen.state_block_v, fitting),
        grad_block_k=min(chosen.grad_block_k, key_fitting),
        transform_block_k=min(chosen.transform_block_k, key_fitting),
    )


class KernelWork(NamedTuple):
    """One kernel's matrix products for one chunk of one head, and whether the next chunk waits for them."""

    kernel: str
    products: str
    serial: bool
    multiply_adds: int


def multiply_adds_per_chunk(launch: LaunchConfiguration, width: int) -> list[KernelWork]:
    """The multiply-adds of every kernel's ``tl.dot``s, forward and backward, for one chunk of C tokens of one
    DeltaNet head with D_k = D_v = ``width`` (a multiple of the blocks): the model K4 §4 plots, checked against
    the products the kernels run in tests/test_roofline.py."""
    chunk = launch.chunk
    key_blocks = width // launch.grad_block_k  # the query-key kernel forms dO v_newᵀ once per key block
    cube, square, state = chunk**3, chunk**2 * width, chunk * width * width  # (C×C)(C×C), (C×C)(C×D), (C×D)(D×D)
    inverse = 2 * (chunk.bit_length() - 1) * cube  # recursive doubling: log₂ C levels of two (C×C)(C×C)
    return [
        KernelWork("_delta_rule_prepare_kernel", "forward · K Kᵀ, T by doubling, W, U", False, 3 * square + inverse),
        KernelWork("_delta_rule_state_pass_kernel", "forward · state pass: W S₀, Kᵀ v_new", True, 2 * state),
        KernelWork("_delta_rule_output_kernel", "forward · outputs: Q Kᵀ, Q S₀, P v_new", False, 2 * square + state),
        KernelWork("_delta_rule_local_value_grad_kernel", "backward · Pᵀ dO (with Q Kᵀ)", False, 2 * square),
        KernelWork("_delta_rule_state_grad_kernel", "backward · state pass: K dS, Qᵀ dO, Wᵀ dv_new", True, 3 * state),
        KernelWork(
            "_delta_rule_query_key_grad_kernel",
            "backward · dQ, dW, K's share",
            False,
            3 * state + (key_blocks + 2) * square,
        ),
        KernelWork(
            "_delta_rule_transform_grad_kernel", "backward · through U, W and T", False, 7 * square + inverse + 2 * cube
        ),
    ]


def launch_split_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None,
    initial_state: torch.Tensor,
    scale: float,
    substeps: int = 1,
) -> dict[str, torch.Tensor]:
    """Run the three forward kernels on validated, contiguous inputs; every tensor they write, by name.

    q (B, T, H, D_k) and α (B, T, H) per token; k (B, S, H, D_k), v (B, S, H, D_v) and β (B, S, H) per step,
    S = ``substeps`` · T (DeltaProduct's n_h Householders of a token are its sub-steps; DeltaNet: S = T).
    ``out`` (B, T, H, D_v) in q's dtype, ``final_state`` (B, H, D_k, D_v) in float32, and the
    intermediates: ``w`` (B, S, H, D_k), ``u`` and ``v_new`` (B, S, H, D_v), ``chunk_states``
    (B, H, N, D_k, D_v), all in q's dtype, and, gated, ``decay_to_end`` (B, S, H) in float32.
    """
    gated = alpha is not None
    alpha_arg = alpha if gated else beta  # never read when not gated
    batch, steps, heads, key_dim = k.shape
    value_dim = v.shape[-1]
    launch = launch_configuration(q, v)
    chunks = triton.cdiv(steps, launch.chunk)
    initial = initial_state.float().contiguous()
    written = {
        "w": torch.empty_like(k),
        "u": torch.empty_like(v),
        "v_new": torch.empty_like(v),
        "chunk_states": q.new_empty(batch, heads, chunks, key_dim, value_dim),
        "final_state": torch.empty_like(initial),
        "out": v.new_empty(q.shape[:-1] + (value_dim,)),
    }
    if gated:
        written["decay_to_end"] = q.new_empty(beta.shape, dtype=torch.float32)
    decay_to_end = written.get("decay_to_end", initial)  # never read when not gated
    shape = dict(steps=steps, heads=heads, key_dim=key_dim, value_dim=value_dim)
    blocks = _blocks(q, launch, gated, substeps)
    with on_device_of(q):
        _delta_rule_prepare_kernel[(chunks, batch * heads)](
            k, v, beta, alpha_arg, written["w"], written["u"], decay_to_end, **shape,
            LEVELS=launch.chunk.bit_length() - 1, BLOCK_V=launch.block_v, num_warps=launch.warps, **blocks,
        )  # fmt: skip
        _delta_rule_state_pass_kernel[(triton.cdiv(value_dim, launch.state_block_v), batch * heads)](
            k, alpha_arg, written["w"], written["u"], decay_to_end, initial,
            written["v_new"], written["chunk_states"], written["final_state"], **shape,
            BLOCK_V=launch.state_block_v, num_warps=launch.state_warps, **blocks,
        )  # fmt: skip
        _delta_rule_output_kernel[(chunks, batch * heads)](
            q, k, alpha_arg, written["v_new"], written["chunk_states"], written["out"], **shape,
            scale=scale, BLOCK_V=launch.block_v, num_warps=launch.warps, num_stages=launch.output_stages, **blocks,
        )  # fmt: skip
    return written


def _blocks(q: torch.Tensor, launch: LaunchConfiguration, gated: bool, substeps: int) -> dict:
    """The compile-time arguments every kernel here takes, for inputs like q (B, T, H, D_k), and FMA contraction."""
    block_k = max(MIN_BLOCK, triton.next_power_of_2(q.shape[-1]))
    return dict(
        CHUNK=launch.chunk,
        BLOCK_K=block_k,
        GATED=gated,
        SUBSTEPS=substeps,
        PRECISION=_precision(q.dtype),
        enable_fp_fusion=FP_FUSION,
    )


def launch_split_backward(
    saved: dict[str, torch.Tensor],
    grad_out: torch.Tensor,
    grad_final: torch.Tensor,
    scale: float,
) -> dict[str, torch.Tensor]:
    """Run the four backward kernels; the gradients by input name (``alpha`` only when gated), ``initial_state``
    in float32, the others in their input's dtype.

    ``saved`` holds the forward's inputs ``q, k, v, beta`` and ``alpha`` (None when not gated), its
    ``substeps``, and what ``launch_split_forward`` wrote: ``w``, ``v_new``, ``chunk_states`` and, gated,
    ``decay_to_end``.
    """
    q, k, v, beta, alpha = (saved[name] for name in ("q", "k", "v", "beta", "alpha"))
    gated = alpha is not None
    alpha_arg = alpha if gated else beta  # never read when not gated
    batch, steps, heads, key_dim = k.shape
    value_dim = v.shape[-1]
    launch = launch_configuration(q, v)
    chunks = triton.cdiv(steps, launch.chunk)
    key_blocks = triton.cdiv(key_dim, launch.grad_block_k)
    grad_out = grad_out.contiguous()
    grad_final = grad_final.float().contiguous()
    grad_v_local = torch.empty_like(v)  # scale Pᵀ dO
    grad_v_new = torch.empty_like(v)
    state_grads = torch.empty_like(saved["chunk_states"])  # dS' of every chunk
    partial_grad_k = torch.empty_like(k, dtype=torch.float32)  # through O and S'; the rest through T, W and U
    grad_w = torch.empty_like(k)
    # Gated: α's gradient through O and S', one partial per key block; the last kernel adds them to its own.
    partial_grad_alpha = beta.new_empty((key_blocks,) + beta.shape, dtype=torch.float32) if gated else grad_w
    grads = {
        "q": torch.empty_like(q),
        "k": torch.empty_like(k),
        "v": torch.empty_like(v),
        "beta": torch.empty_like(beta),
        "alpha": torch.empty_like(alpha) if gated else None,
        "initial_state": torch.empty_like(grad_final),
    }
    decay_to_end = saved.get("decay_to_end", grad_final)  # never read when not gated
    shape = dict(steps=steps, heads=heads, key_dim=key_dim, value_dim=value_dim)
    blocks = _blocks(q, launch, gated, saved["substeps"])
    with on_device_of(q):
        _delta_rule_local_value_grad_kernel[(chunks, batch * heads)](
            q, k, alpha_arg, grad_out, grad_v_local, **shape, scale=scale,
            BLOCK_V=launch.block_v, num_warps=launch.warps, **blocks,
        )  # fmt: skip
        _delta_rule_state_grad_kernel[(triton.cdiv(value_dim, launch.state_block_v), batch * heads)](
            q, k, alpha_arg, saved["w"], decay_to_end, grad_out, grad_v_local, grad_final,
            grad_v_new, state_grads, grads["initial_state"], **shape, scale=scale,
            BLOCK_V=launch.state_block_v, num_warps=launch.state_warps, num_stages=launch.state_grad_stages, **blocks,
        )  # fmt: skip
        _delta_rule_query_key_grad_kernel[(chunks, batch * heads, key_blocks)](
            q, k, alpha_arg, saved["v_new"], grad_v_new, saved["chunk_states"], state_grads, grad_out,
            grads["q"], partial_grad_k, grad_w, partial_grad_alpha, **shape, scale=scale,
            BLOCK_V=launch.block_v, num_warps=launch.grad_warps, **dict(blocks, BLOCK_K=launch.grad_block_k),
        )  # fmt: skip
        _delta_rule_transform_grad_kernel[(chunks, batch * heads)](
            k, v, beta, alpha_arg, grad_v_new, grad_w, partial_grad_k, partial_grad_alpha,
            grads["k"], grads["v"], grads["beta"], grads["alpha"] if gated else grad_w, key_blocks, **shape,
            LEVELS=launch.chunk.bit_length() - 1, BLOCK_V=launch.block_v, num_warps=launch.grad_warps,
            KEY_STEPS=triton.cdiv(key_dim, launch.transform_block_k), **dict(blocks, BLOCK_K=launch.transform_block_k),
        )  # fmt: skip
    return grads


class _SplitDeltaRuleFunction(torch.autograd.Function):
    """The three forward kernels, keeping what the backward reads, and the four backward kernels."""

    @staticmethod
    def forward(ctx, q, k, v, beta, alpha, initial_state, scale: float, substeps: int):
        q, k, v, beta = (x.contiguous() for x in (q, k, v, beta))
        alpha = None if alpha is None else alpha.contiguous()
        written = launch_split_forward(q, k, v, beta, alpha, initial_state, scale, substeps)
        if any(ctx.needs_input_grad):
            ctx.saved = dict(q=q, k=k, v=v, beta=beta, alpha=alpha, substeps=substeps, **written)
            del ctx.saved["u"], ctx.saved["out"], ctx.saved["final_state"]
        ctx.scale, ctx.state_dtype = scale, initial_state.dtype
        return written["out"], written["final_state"].to(initial_state.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out, grad_final_state):
        # Autograd materialises unused outputs' gradients as zeros, so both arrive as tensors.
        grads = launch_split_backward(ctx.saved, grad_out, grad_final_state, ctx.scale)
        del ctx.saved
        grads["initial_state"] = grads["initial_state"].to(ctx.state_dtype)
        names = ("q", "k", "v", "beta", "alpha", "initial_state")
        return (*(grads[name] if ctx.needs_input_grad[i] else None for i, name in enumerate(names)), None, None)


def chunk_delta_rule(
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
    """The (gated) delta rule on the split kernels, forward and backward; the arguments and result of
    ``kernels.delta.chunk_delta_rule`` (which documents them and ``check_values``).

    Raises:
        as ``kernels.delta.chunk_delta_rule``.
    """
    validate_delta_inputs(q, k, v, beta, alpha, initial_state, values=check_values)
    require_triton(q, _too_wide(q))
    state, scale = starting_point(q, v.shape[-1], initial_state, scale)
    return _SplitDeltaRuleFunction.apply(q, k, v, beta, alpha, state, scale, 1)


def chunk_delta_product(
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
    """(Gated) DeltaProduct on the split kernels; arguments as ``kernels.delta.chunk_delta_product``.

    The n_h Householders of a token run as n_h consecutive delta-rule steps
    (``deltaproduct.delta_product_by_interleaving``), but the kernels read the query and the gate of each token
    where its sub-steps need them instead of building zero queries, unit gates and n_h·T outputs.

    Raises:
        as ``kernels.delta.chunk_delta_product``.
    """
    validate_product_inputs(q, k, v, beta, alpha, initial_state, values=check_values)
    require_triton(q, _too_wide(q))
    batch, steps, substeps, heads, key_dim = k.shape
    state, scale = starting_point(q, v.shape[-1], initial_state, scale)
    by_step = (batch, steps * substeps, heads)  # (B, T, n_h, H, ·) is (B, n_h·T, H, ·), the sub-steps in order
    return _SplitDeltaRuleFunction.apply(
        q,
        k.reshape(*by_step, key_dim),
        v.reshape(*by_step, v.shape[-1]),
        beta.reshape(by_step),
        alpha,
        state,
        scale,
        substeps,
    )
