"""The chunked (gated) delta rule with β ∈ [0, 2] as one Triton kernel a pass, forward and backward, and DeltaProduct.

The single kernel K3 teaches and learners complete first: every stage of a chunk inside one serial walk
over the chunks. ``kernels.delta_split`` splits the same maths into parallel and serial kernels and is what
``ops`` and ``lrnn_course.kernels`` run; this module stays as the stepping stone, tested against the same
float64 references, and holds the helpers both share (``chunk_gates``, ``gate_gradient``). Compiled for an
H100 at D_k = 128, every variant here spills registers (``tests/test_kernels_compile.py``): a chunk's Q, K, V,
T, W, U and state block all live in one program at once, which is what K3 §7 shows it for.

Glossary (code name -> paper symbol; the chunk form is that of ``lrnn_course.chunkwise``):

====================  ====================================================================
``q, k, v``           q_t, k_t, v_t, layout (B, T, H, D) as in flash-linear-attention
``beta``              β_t ∈ [0, 2]; ``alpha`` α_t ∈ [0, 1], the gate of Gated DeltaNet (None: 1)
``state``             S (D_k × D_v), the memory; ``initial_state`` S_0, ``final_state`` S_T
``CHUNK``             C, the tokens one chunk holds
``decay``             Γ, Γ_{ti} = α_{i+1} ⋯ α_t (lower triangular, ones on the diagonal)
``cumulative_gate``   g_t = α_1 ⋯ α_t inside the chunk
``transform``         T = (I + A)⁻¹ with A = strictly-lower(diag(β) (K Kᵀ ⊙ Γ)): the UT transform
``w``, ``u``          W = T diag(β g) K and U = T diag(β) V - W S_0: the chunk's pseudo-values
``chunk_states``      the state entering each chunk, saved by the forward pass for the backward
``grad_*``            dL/d(that quantity); ``grad_state`` is the adjoint of the state carried back
====================  ====================================================================

One program owns one (batch row, head) pair and ``BLOCK_V`` columns of the state. The columns of
S over the values never mix (every operation acts on S from the left), so the value dimension is
split across programs; the key dimension is not. Each program walks its chunks in order:

    O = scale · (diag(g) Q S_0 + (tril(Q Kᵀ) ⊙ Γ) U),     S_C = g_C S_0 + Kᵀ diag(Γ_{C·}) U.

Γ and g come from cumulative products (``tl.cumprod``), never from dividing them, so a gate of
exactly 0 — a reset — stays exact, in the gradient as well. T comes from forward substitution, row
by row: no pivoting and no division, as in ``chunkwise.forward_substitution_inverse``.

The backward kernel walks the chunks in reverse. From the saved S_0 of a chunk it recomputes the
chunk's forward quantities, then applies the chain rule through each product above, with
dA = -Tᵀ dT Tᵀ for the inverse and, for the gates, dL/dα_s = Σ_{t ≥ s > i} dΓ_{ti} Γ_{ts} Γ_{s-1,i}
plus g_{s-1} Σ_{t ≥ s} Γ_{ts} dL/dg_t, both products again. The state's adjoint passes to the
previous chunk as g_C dS_C + scale Qᵀ diag(g) dO - Wᵀ dU. Gradients of q, k, β and α sum over the
value blocks, which each program writes separately; PyTorch adds them.

DeltaProduct runs on the same kernels through the interleaving identity of
``deltaproduct.delta_product_by_interleaving``: n_h Householders per token are n_h delta-rule steps.
"""

from __future__ import annotations

import torch

from .._triton import tl, triton, triton_mode
from ..deltanet import starting_point, validate_delta_inputs
from ..deltaproduct import delta_product_by_interleaving, validate_product_inputs
from .backend import FP_FUSION, on_device_of, require_triton, triton_refusal

# Chunk C and value block. tl.dot needs every side ≥ 16 when compiled; the interpreter makes one
# NumPy call per row of the forward substitution, so it keeps chunks short. Compiled for an H100
# (tests/compile_for_hopper.py), chunks of 64 made the backward kernel ask for 320 KiB of shared
# memory in bfloat16, more than the 227 KiB a program may have; chunks of 32 need at most 96 KiB.
INTERPRETER_CHUNK = 16
COMPILED_CHUNK = 32
MIN_BLOCK = 16
MAX_BLOCK_V = 64
# Warps per program. Compiled for an H100, both kernels reach 255 registers a thread and spill, whatever
# the warps, chunk and value block (chunks of 16, blocks of 16 or 32, 8 warps: 88 B to 8.8 KB a thread):
# these are Triton's default warps and the larger block.
NUM_WARPS = 4
# A program holds all D_k rows of its state block, so shared memory grows with D_k; the compile
# test proves the largest blocks fit at this size, which is the head size of the benchmarks.
MAX_KEY_DIM = 128

if triton is not None:

    @triton.jit
    def forward_substitution(strictly_lower, CHUNK: tl.constexpr):
        """T = (I + A)⁻¹, a float32 block, for a strictly lower-triangular (CHUNK, CHUNK) block A, without division.

        Row i of T is e_i - Σ_{j<i} A_ij T_j and needs only the rows above it. A Triton block has no
        row indexing: row i is selected with a mask and summed out, and written back with tl.where.
        """
        rows = tl.arange(0, CHUNK)
        ### BEGIN SOLUTION
        transform = tl.where(rows[:, None] == rows[None, :], 1.0, 0.0)
        for i in range(1, CHUNK):
            row_of_a = tl.sum(tl.where(rows[:, None] == i, strictly_lower, 0.0), axis=0)
            new_row = tl.where(rows == i, 1.0, 0.0) - tl.sum(row_of_a[:, None] * transform, axis=0)
            transform = tl.where(rows[:, None] == i, new_row[None, :], transform)
        return transform
        ### END SOLUTION

    @triton.jit
    def chunk_gates(alpha, CHUNK: tl.constexpr):
        """(Γ, g) of one chunk's gates α (CHUNK,): Γ_ti = α_{i+1} ⋯ α_t for t ≥ i (else 0), g_t = α_1 ⋯ α_t.

        In code, time counts from 0: decay[t, i] = alpha[i+1] ⋯ alpha[t] and cumulative_gate[t] = alpha[0] ⋯ alpha[t].
        Cumulative products only: dividing g_t by g_i would turn a reset (α = 0) into 0 / 0.
        """
        rows = tl.arange(0, CHUNK)
        ### BEGIN SOLUTION
        later = rows[:, None] > rows[None, :]
        decay = tl.where(rows[:, None] >= rows[None, :], tl.cumprod(tl.where(later, alpha[:, None], 1.0), axis=0), 0.0)
        return decay, tl.cumprod(alpha, axis=0)
        ### END SOLUTION

    @triton.jit
    def gate_gradient(grad_decay, grad_gate, decay, alpha_before, CHUNK: tl.constexpr, PRECISION: tl.constexpr):
        """dL/dα (CHUNK,) of one chunk from dL/dΓ (CHUNK, CHUNK), dL/dg (CHUNK,), Γ and α_{s-1} (1 at s = 0).

        dL/dα_s = Σ_{t ≥ s > i} dΓ_{ti} Γ_{ts} Γ_{s-1,i} + g_{s-1} Σ_{t ≥ s} Γ_{ts} dL/dg_t; Γ_{s-1,i} and g_{s-1}
        by the same cumulative products as Γ and g. Only dΓ below the diagonal counts: Γ_tt = 1 is no function of α.
        """
        rows = tl.arange(0, CHUNK)
        later = rows[:, None] > rows[None, :]
        decay_before = tl.where(
            later, tl.cumprod(tl.where(rows[:, None] > rows[None, :] + 1, alpha_before[:, None], 1.0), axis=0), 0.0
        )
        gate_before = tl.cumprod(alpha_before, axis=0)
        grad_alpha = tl.sum(
            decay * tl.dot(tl.where(later, grad_decay, 0.0), tl.trans(decay_before), input_precision=PRECISION), axis=0
        )
        return grad_alpha + gate_before * tl.sum(decay * grad_gate[:, None], axis=0)

    @triton.jit
    def _chunk_quantities(
        q_ptr,
        k_ptr,
        v_ptr,
        beta_ptr,
        alpha_ptr,
        state,
        start,
        steps,
        batch,
        head,
        heads,
        key_dim,
        value_dim,
        value_columns,
        CHUNK: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_V: tl.constexpr,
        GATED: tl.constexpr,
        PRECISION: tl.constexpr,
        SUBSTITUTE: tl.constexpr,
        GATES: tl.constexpr,
    ):
        """Load one chunk (zeros, β = 0 and α = 1 past the end: identity steps) and compute, from the state S_0
        it starts with, what both passes need: Γ, g and their last row, T, X, Y, W, U and the masked scores."""
        rows = tl.arange(0, CHUNK)
        times = start + rows
        valid = times < steps
        keys = tl.arange(0, BLOCK_K)
        token = (batch * steps + times) * heads + head
        key_mask = valid[:, None] & (keys[None, :] < key_dim)
        value_mask = valid[:, None] & (value_columns[None, :] < value_dim)
        q = tl.load(q_ptr + token[:, None] * key_dim + keys[None, :], mask=key_mask, other=0.0).to(tl.float32)
        k = tl.load(k_ptr + token[:, None] * key_dim + keys[None, :], mask=key_mask, other=0.0).to(tl.float32)
        v = tl.load(v_ptr + token[:, None] * value_dim + value_columns[None, :], mask=value_mask, other=0.0).to(
            tl.float32
        )
        beta = tl.load(beta_ptr + token, mask=valid, other=0.0).to(tl.float32)
        later = rows[:, None] > rows[None, :]
        if GATED:
            alpha = tl.load(alpha_ptr + token, mask=valid, other=1.0).to(tl.float32)
            # α_{s-1}, 1 before the chunk: builds Γ_{s-1,i} and g_{s-1} for the gate's gradient.
            previous = (batch * steps + times - 1) * heads + head
            alpha_before = tl.load(alpha_ptr + previous, mask=valid & (rows > 0), other=1.0).to(tl.float32)
        else:
            alpha = tl.full([CHUNK], 1.0, tl.float32)
            alpha_before = alpha
        decay, cumulative_gate = GATES(alpha, CHUNK)
        gram = tl.dot(k, tl.trans(k), input_precision=PRECISION)
        strictly_lower = tl.where(later, beta[:, None] * gram * decay, 0.0)
        transform = SUBSTITUTE(strictly_lower, CHUNK)
        scaled_values = beta[:, None] * v  # X = diag(β) V
        scaled_keys = (beta * cumulative_gate)[:, None] * k  # Y = diag(β g) K
        w = tl.dot(transform, scaled_keys, input_precision=PRECISION)
        u = tl.dot(transform, scaled_values, input_precision=PRECISION) - tl.dot(w, state, input_precision=PRECISION)
        scores = tl.where(
            rows[:, None] >= rows[None, :], tl.dot(q, tl.trans(k), input_precision=PRECISION), 0.0
        )  # tril(Q Kᵀ)
        last = rows == CHUNK - 1  # padded steps have α = 1: the last row is Γ_{C·}
        last_decay = tl.sum(tl.where(last[:, None], decay, 0.0), axis=0)
        last_gate = tl.sum(tl.where(last, cumulative_gate, 0.0), axis=0)
        return (
            q,
            k,
            v,
            beta,
            alpha_before,
            decay,
            cumulative_gate,
            last_decay,
            last_gate,
            gram,
            transform,
            scaled_values,
            scaled_keys,
            w,
            u,
            scores,
            token,
            valid,
            key_mask,
            value_mask,
        )

    @triton.jit
    def _delta_rule_forward_kernel(
        q_ptr,
        k_ptr,
        v_ptr,
        beta_ptr,
        alpha_ptr,
        initial_ptr,
        out_ptr,
        final_ptr,
        chunk_states_ptr,
        steps,
        heads,
        key_dim,
        value_dim,
        scale,
        CHUNK: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_V: tl.constexpr,
        GATED: tl.constexpr,
        SAVE_STATES: tl.constexpr,
        PRECISION: tl.constexpr,
        SUBSTITUTE: tl.constexpr,
        GATES: tl.constexpr,
    ):
        value_columns = tl.program_id(0) * BLOCK_V + tl.arange(0, BLOCK_V)
        pair = tl.program_id(1).to(tl.int64)  # int64: offsets of B * T * H * D may pass 2**31
        batch = pair // heads
        head = pair % heads
        keys = tl.arange(0, BLOCK_K)
        state_mask = (keys[:, None] < key_dim) & (value_columns[None, :] < value_dim)
        state_offsets = keys[:, None] * value_dim + value_columns[None, :]
        state = tl.load(initial_ptr + pair * key_dim * value_dim + state_offsets, mask=state_mask, other=0.0).to(
            tl.float32
        )
        chunks = tl.cdiv(steps, CHUNK)
        for n in range(0, chunks):
            if SAVE_STATES:
                tl.store(
                    chunk_states_ptr + (pair * chunks + n) * key_dim * value_dim + state_offsets, state, mask=state_mask
                )
            (
                q,
                k,
                v,
                beta,
                alpha_before,
                decay,
                cumulative_gate,
                last_decay,
                last_gate,
                gram,
                transform,
                scaled_values,
                scaled_keys,
                w,
                u,
                scores,
                token,
                valid,
                key_mask,
                value_mask,
            ) = _chunk_quantities(
                q_ptr,
                k_ptr,
                v_ptr,
                beta_ptr,
                alpha_ptr,
                state,
                n * CHUNK,
                steps,
                batch,
                head,
                heads,
                key_dim,
                value_dim,
                value_columns,
                CHUNK,
                BLOCK_K,
                BLOCK_V,
                GATED,
                PRECISION,
                SUBSTITUTE,
                GATES,
            )
            out = scale * (
                cumulative_gate[:, None] * tl.dot(q, state, input_precision=PRECISION)
                + tl.dot(scores * decay, u, input_precision=PRECISION)
            )
            tl.store(
                out_ptr + token[:, None] * value_dim + value_columns[None, :],
                out.to(out_ptr.dtype.element_ty),
                mask=value_mask,
            )
            state = last_gate * state + tl.dot(tl.trans(k), last_decay[:, None] * u, input_precision=PRECISION)
        tl.store(final_ptr + pair * key_dim * value_dim + state_offsets, state, mask=state_mask)

    @triton.jit
    def _delta_rule_backward_kernel(
        q_ptr,
        k_ptr,
        v_ptr,
        beta_ptr,
        alpha_ptr,
        chunk_states_ptr,
        grad_out_ptr,
        grad_final_ptr,
        grad_q_ptr,
        grad_k_ptr,
        grad_v_ptr,
        grad_beta_ptr,
        grad_alpha_ptr,
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
        PRECISION: tl.constexpr,
        SUBSTITUTE: tl.constexpr,
        GATES: tl.constexpr,
    ):
        value_block = tl.program_id(0)
        value_columns = value_block * BLOCK_V + tl.arange(0, BLOCK_V)
        pair = tl.program_id(1).to(tl.int64)
        batch = pair // heads
        head = pair % heads
        # Gradients shared by all value blocks go to this block's own slice, summed afterwards.
        partial = value_block.to(tl.int64) * (tl.num_programs(1) * steps)
        rows = tl.arange(0, CHUNK)
        keys = tl.arange(0, BLOCK_K)
        later = rows[:, None] > rows[None, :]
        last = rows == CHUNK - 1
        state_mask = (keys[:, None] < key_dim) & (value_columns[None, :] < value_dim)
        state_offsets = keys[:, None] * value_dim + value_columns[None, :]
        grad_state = tl.load(
            grad_final_ptr + pair * key_dim * value_dim + state_offsets, mask=state_mask, other=0.0
        ).to(tl.float32)
        chunks = tl.cdiv(steps, CHUNK)
        for reversed_n in range(0, chunks):
            n = chunks - 1 - reversed_n
            state = tl.load(
                chunk_states_ptr + (pair * chunks + n) * key_dim * value_dim + state_offsets, mask=state_mask, other=0.0
            )
            (
                q,
                k,
                v,
                beta,
                alpha_before,
                decay,
                cumulative_gate,
                last_decay,
                last_gate,
                gram,
                transform,
                scaled_values,
                scaled_keys,
                w,
                u,
                scores,
                token,
                valid,
                key_mask,
                value_mask,
            ) = _chunk_quantities(
                q_ptr,
                k_ptr,
                v_ptr,
                beta_ptr,
                alpha_ptr,
                state,
                n * CHUNK,
                steps,
                batch,
                head,
                heads,
                key_dim,
                value_dim,
                value_columns,
                CHUNK,
                BLOCK_K,
                BLOCK_V,
                GATED,
                PRECISION,
                SUBSTITUTE,
                GATES,
            )
            attention = scores * decay
            grad_out = tl.load(
                grad_out_ptr + token[:, None] * value_dim + value_columns[None, :], mask=value_mask, other=0.0
            ).to(tl.float32)

            # Outputs O = scale (diag(g) Q S + P U) and new state S' = g_C S + Kᵀ diag(Γ_C) U.
            keys_times_grad_state = tl.dot(k, grad_state, input_precision=PRECISION)  # K dS'
            grad_u = (
                scale * tl.dot(tl.trans(attention), grad_out, input_precision=PRECISION)
                + last_decay[:, None] * keys_times_grad_state
            )
            grad_attention = scale * tl.dot(grad_out, tl.trans(u), input_precision=PRECISION)
            grad_scores = grad_attention * decay  # zero above the diagonal, since Γ is
            grad_q = scale * cumulative_gate[:, None] * tl.dot(
                grad_out, tl.trans(state), input_precision=PRECISION
            ) + tl.dot(grad_scores, k, input_precision=PRECISION)
            grad_k = tl.dot(tl.trans(grad_scores), q, input_precision=PRECISION) + last_decay[:, None] * tl.dot(
                u, tl.trans(grad_state), input_precision=PRECISION
            )
            grad_decay = grad_attention * scores + tl.where(
                last[:, None], tl.sum(keys_times_grad_state * u, axis=1)[None, :], 0.0
            )
            grad_gate = scale * tl.sum(grad_out * tl.dot(q, state, input_precision=PRECISION), axis=1)
            grad_gate += tl.where(last, tl.sum(tl.sum(state * grad_state, axis=1), axis=0), 0.0)
            previous_grad_state = (
                last_gate * grad_state
                + scale * tl.dot(tl.trans(q), cumulative_gate[:, None] * grad_out, input_precision=PRECISION)
                - tl.dot(tl.trans(w), grad_u, input_precision=PRECISION)
            )

            # U = T X - W S with W = T Y.
            grad_w = -tl.dot(grad_u, tl.trans(state), input_precision=PRECISION)
            grad_transform = tl.dot(grad_u, tl.trans(scaled_values), input_precision=PRECISION) + tl.dot(
                grad_w, tl.trans(scaled_keys), input_precision=PRECISION
            )
            grad_scaled_values = tl.dot(tl.trans(transform), grad_u, input_precision=PRECISION)
            grad_scaled_keys = tl.dot(tl.trans(transform), grad_w, input_precision=PRECISION)
            grad_v = beta[:, None] * grad_scaled_values
            grad_beta = tl.sum(grad_scaled_values * v, axis=1)
            grad_k += (beta * cumulative_gate)[:, None] * grad_scaled_keys
            grad_beta_gate = tl.sum(grad_scaled_keys * k, axis=1)
            grad_beta += cumulative_gate * grad_beta_gate
            grad_gate += beta * grad_beta_gate

            # T = (I + A)⁻¹: dA = -Tᵀ dT Tᵀ, kept where A lives (strictly below the diagonal).
            transform_t = tl.trans(transform)
            grad_a = tl.where(
                later,
                -tl.dot(
                    tl.dot(transform_t, grad_transform, input_precision=PRECISION),
                    transform_t,
                    input_precision=PRECISION,
                ),
                0.0,
            )
            grad_beta += tl.sum(grad_a * gram * decay, axis=1)
            grad_gram = beta[:, None] * grad_a * decay
            grad_decay += beta[:, None] * grad_a * gram
            grad_k += tl.dot(grad_gram + tl.trans(grad_gram), k, input_precision=PRECISION)

            tl.store(grad_q_ptr + (partial + token[:, None]) * key_dim + keys[None, :], grad_q, mask=key_mask)
            tl.store(grad_k_ptr + (partial + token[:, None]) * key_dim + keys[None, :], grad_k, mask=key_mask)
            tl.store(
                grad_v_ptr + token[:, None] * value_dim + value_columns[None, :],
                grad_v.to(grad_v_ptr.dtype.element_ty),
                mask=value_mask,
            )
            tl.store(grad_beta_ptr + partial + token, grad_beta, mask=valid)
            if GATED:
                grad_alpha = gate_gradient(grad_decay, grad_gate, decay, alpha_before, CHUNK, PRECISION)
                tl.store(grad_alpha_ptr + partial + token, grad_alpha, mask=valid)
            grad_state = previous_grad_state
        tl.store(grad_initial_ptr + pair * key_dim * value_dim + state_offsets, grad_state, mask=state_mask)


def _launch_shape(q: torch.Tensor, v: torch.Tensor) -> tuple[int, int, int, tuple[int, int]]:
    """(chunk, key block, value block, grid) for inputs (B, T, H, D_k) and (B, T, H, D_v)."""
    batch, _, heads, key_dim = q.shape
    value_dim = v.shape[-1]
    chunk = INTERPRETER_CHUNK if triton_mode() == "interpreter" else COMPILED_CHUNK
    block_k = max(MIN_BLOCK, triton.next_power_of_2(key_dim))
    block_v = min(MAX_BLOCK_V, max(MIN_BLOCK, triton.next_power_of_2(value_dim)))
    return chunk, block_k, block_v, (triton.cdiv(value_dim, block_v), batch * heads)


def _precision(dtype: torch.dtype) -> str:
    """How ``tl.dot`` multiplies on tensor cores: float32 inputs in three TF32 passes (about float32's accuracy;
    exact "ieee" products compile to tens of thousands of FMA instructions and take ptxas over ten
    minutes), half-precision ones in one. The interpreter multiplies in float32 whatever this says."""
    return "tf32x3" if dtype == torch.float32 else "tf32"


def launch_delta_rule_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None,
    initial_state: torch.Tensor,
    scale: float,
    *,
    save_states: bool = False,
    substitute=None,
    gates=None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the forward kernel on validated inputs: ``(outputs, final_state, chunk_states)``, the state in float32.

    ``chunk_states`` (B, H, N, D_k, D_v) holds the state entering each of the N chunks when
    ``save_states``, else nothing. ``substitute`` and ``gates`` let a learner's Triton helpers, with
    the signatures of ``forward_substitution`` and ``chunk_gates``, run inside the course's kernel.
    """
    q, k, v, beta = (x.contiguous() for x in (q, k, v, beta))
    alpha_arg = beta if alpha is None else alpha.contiguous()  # never read when not gated
    batch, steps, heads, key_dim = q.shape
    value_dim = v.shape[-1]
    chunk, block_k, block_v, grid = _launch_shape(q, v)
    initial = initial_state.float().contiguous()
    out = torch.empty_like(v)
    final_state = torch.empty_like(initial)
    chunks = triton.cdiv(steps, chunk) if save_states else 0
    chunk_states = initial.new_empty(batch, heads, chunks, key_dim, value_dim)
    with on_device_of(q):
        _delta_rule_forward_kernel[grid](
            q,
            k,
            v,
            beta,
            alpha_arg,
            initial,
            out,
            final_state,
            chunk_states,
            steps,
            heads,
            key_dim,
            value_dim,
            scale,
            CHUNK=chunk,
            BLOCK_K=block_k,
            BLOCK_V=block_v,
            GATED=alpha is not None,
            SAVE_STATES=save_states,
            PRECISION=_precision(q.dtype),
            SUBSTITUTE=substitute or forward_substitution,
            GATES=gates or chunk_gates,
            num_warps=NUM_WARPS,
            enable_fp_fusion=FP_FUSION,
        )
    return out, final_state, chunk_states


class _ChunkDeltaRuleFunction(torch.autograd.Function):
    """The forward kernel, saving each chunk's entering state, and the backward kernel that replays the chunks."""

    @staticmethod
    def forward(ctx, q, k, v, beta, alpha, initial_state, scale: float):
        # Contiguous once, here: the launch then takes these as they are, and backward reuses them.
        q, k, v, beta = (x.contiguous() for x in (q, k, v, beta))
        alpha = None if alpha is None else alpha.contiguous()
        # The state entering each chunk, for the backward pass: only kept when a gradient will be asked for.
        out, final_state, chunk_states = launch_delta_rule_forward(
            q, k, v, beta, alpha, initial_state, scale, save_states=any(ctx.needs_input_grad)
        )
        ctx.save_for_backward(q, k, v, beta, beta if alpha is None else alpha, chunk_states)
        ctx.gated, ctx.scale, ctx.state_dtype = alpha is not None, scale, initial_state.dtype
        return out, final_state.to(initial_state.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out, grad_final_state):
        q, k, v, beta, alpha_arg, chunk_states = ctx.saved_tensors
        batch, steps, heads, key_dim = q.shape
        value_dim = v.shape[-1]
        chunk, block_k, block_v, grid = _launch_shape(q, v)
        value_blocks = grid[0]
        # Autograd materialises unused outputs' gradients as zeros, so both arrive as tensors.
        grad_out = grad_out.contiguous()
        grad_final = grad_final_state.float().contiguous()
        partial_q = q.new_empty((value_blocks,) + q.shape, dtype=torch.float32)
        partial_k = torch.empty_like(partial_q)
        partial_beta = q.new_empty((value_blocks,) + beta.shape, dtype=torch.float32)
        partial_alpha = (
            torch.empty_like(partial_beta) if ctx.gated else partial_beta
        )  # written at every step when gated
        grad_v = torch.empty_like(v)
        grad_initial = torch.empty_like(grad_final)
        with on_device_of(q):
            _delta_rule_backward_kernel[grid](
                q,
                k,
                v,
                beta,
                alpha_arg,
                chunk_states,
                grad_out,
                grad_final,
                partial_q,
                partial_k,
                grad_v,
                partial_beta,
                partial_alpha,
                grad_initial,
                steps,
                heads,
                key_dim,
                value_dim,
                ctx.scale,
                CHUNK=chunk,
                BLOCK_K=block_k,
                BLOCK_V=block_v,
                GATED=ctx.gated,
                PRECISION=_precision(q.dtype),
                SUBSTITUTE=forward_substitution,
                GATES=chunk_gates,
                num_warps=NUM_WARPS,
                enable_fp_fusion=FP_FUSION,
            )
        grad_alpha = partial_alpha.sum(0).to(q.dtype) if ctx.gated else None
        return (
            partial_q.sum(0).to(q.dtype),
            partial_k.sum(0).to(q.dtype),
            grad_v,
            partial_beta.sum(0).to(q.dtype),
            grad_alpha,
            grad_initial.to(ctx.state_dtype),
            None,
        )


def _too_wide(q: torch.Tensor) -> str | None:
    """Why heads of q (B, T, H, D_k) are too wide for the kernels, or None when they fit."""
    key_dim = q.shape[-1]
    return None if key_dim <= MAX_KEY_DIM else f"the kernels take D_k ≤ {MAX_KEY_DIM}, got D_k = {key_dim}"


def kernel_refusal(q: torch.Tensor) -> Exception | None:
    """Why the delta-rule kernels cannot run on inputs like q (B, T, H, D_k), as the exception; None when they can."""
    return triton_refusal(q, _too_wide(q))


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
    """The (gated) delta rule on the Triton kernels, or an error saying why they cannot run.

    Args:
        q, k: (B, T, H, D_k), unit keys, D_k ≤ ``MAX_KEY_DIM``; v: (B, T, H, D_v); beta: (B, T, H)
        in [0, 2]; alpha: (B, T, H) in [0, 1] or None; initial_state: (B, H, D_k, D_v) or None for
        zeros; scale: read-out factor, None for 1/√D_k.
        check_values: raise on a non-finite input, a key not of unit length, β outside [0, 2] or α
            outside [0, 1] (``deltanet.validate_delta_inputs``). Off by default: shapes, dtypes and devices
            are always checked, but the values cost ≈ 9 bytes per element read again and 6–9 host
            synchronisations. None of them is the kernels' precondition: they build Γ from cumulative
            products and (I + A)⁻¹ without dividing, so any real keys, β and α give the recurrence's states,
            and a NaN flows into what its chunk's products reach, as in PyTorch. They are the theory's:
            unit keys with β ∈ [0, 2] and α ∈ [0, 1] keep ‖A_t‖ ≤ 1, so the states stay bounded.

    Returns:
        ``(outputs, final_state)`` as ``deltanet.delta_rule`` returns them, in q's dtype. The
        kernels accumulate in float32 and differentiate once (no gradients of gradients).

    Raises:
        ``kernel_refusal(q)`` where the kernels cannot run (a ValueError for a head too wide);
        ``ops.chunk_delta_rule`` picks between these kernels and PyTorch.
    """
    validate_delta_inputs(q, k, v, beta, alpha, initial_state, values=check_values)
    require_triton(q, _too_wide(q))
    state, scale = starting_point(q, v.shape[-1], initial_state, scale)
    return _ChunkDeltaRuleFunction.apply(q, k, v, beta, alpha, state, scale)


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
    """(Gated) DeltaProduct on the delta-rule kernels, by interleaving; the arguments of ``deltaproduct.delta_product``.

    Args:
        q: (B, T, H, D_k); k: (B, T, n_h, H, D_k), unit keys; v: (B, T, n_h, H, D_v);
        beta: (B, T, n_h, H) in [0, 2]; alpha: (B, T, H) in [0, 1] or None.
        check_values: as for ``chunk_delta_rule``; the values are checked once, here, not again on the
            interleaved sequence.

    Raises:
        as ``chunk_delta_rule``, which runs the n_h·T interleaved steps.
    """
    validate_product_inputs(q, k, v, beta, alpha, initial_state, values=check_values)
    require_triton(q, _too_wide(q))
    return delta_product_by_interleaving(q, k, v, beta, alpha, initial_state, scale, delta_rule=chunk_delta_rule)
