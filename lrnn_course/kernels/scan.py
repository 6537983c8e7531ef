"""A Triton kernel for the diagonal scan h_t = a_t * h_{t-1} + b_t, forward and backward.

Glossary (code name -> paper symbol, Grazzi et al. 2025, eq. 1 with diagonal A):

===================  ======================================================================
``a``                the diagonal of the state-transition matrix A(x_t) = Diag(a_t); (B, T, D)
``b``                the input term B(x_t); (B, T, D)
``h0``               the initial state H_0; (B, D)
``h``                the states H_1 ... H_T; (B, T, D)
``BLOCK_T``          time steps one program scans at once (a chunk, as in ``chunked_scan``)
``BLOCK_D``          state columns one program owns; columns never interact in a diagonal scan
``gate_products``    A_cum: a_{s+1} ... a_t inside the block, what the carried state is multiplied by
``local_states``     B_cum: the states of the block when it is entered with state zero
``carry``            the state entering the current block, h_{t0 - 1}
``REVERSE``          run time backwards: the adjoint recurrence of the backward pass
``grad_h``           g_t = dL/dh_t, the gradient arriving from above; (B, T, D)
``adjoints``         lambda_t = dL/dh_t through every later step: the total gradient of h_t
``chunk``            ``chunk_steps`` consecutive time steps that one program of the chunk-parallel
                     kernels walks (a whole number of ``BLOCK_T`` blocks)
``chunk_gates``      A_c: the product of the gates of chunk c (B, chunks, D), float32
``chunk_inputs``     B_c: the state chunk c ends in when entered with zero (B, chunks, D), float32
``chunk_ends``       h at the last step of each chunk (B, chunks, D): pass 2 of the forward
``chunk_starts``     lambda at the first step of each chunk (B, chunks, D): pass 2 of the backward
===================  ======================================================================

One program owns one batch row and ``BLOCK_D`` columns and walks over time in blocks of
``BLOCK_T`` steps: ``tl.associative_scan`` turns the block's steps (a_t, b_t) into prefix
compositions (A_cum, B_cum) in log2(BLOCK_T) parallel rounds, and h = A_cum * carry + B_cum.
This is ``chunked_scan`` of Lesson 01 with the chunks visited in order by a single program.

The backward pass is the same kernel run backwards in time. A state h_t reaches the loss
directly (g_t) and through h_{t+1} = a_{t+1} h_t + b_{t+1}, so its adjoint obeys

    lambda_t = a_{t+1} * lambda_{t+1} + g_t,    lambda_{T-1} = g_{T-1},

a diagonal scan over reversed time with the gates shifted one step later. Then
dL/db_t = lambda_t, dL/da_t = lambda_t * h_{t-1} and dL/dh0 = a_0 * lambda_0. With ``REVERSE``
each block maps its positions to times counted from the end, so the ordinary forward
``tl.associative_scan`` runs the adjoint recurrence.

``diagonal_scan_kernel`` and ``scan_backward`` are what Lessons K1 and K2 build: one program per
(batch row, column block), and a backward of a reverse launch followed by PyTorch products. The
library's autograd path (``_DiagonalScanFunction``) runs two kernels shaped for speed instead:

- ``_backward_chunk_kernel``, fused: it reads the gates shifted one step, g and h_{t-1} (h0 at
  t = 0) and writes dL/db = lambda and dL/da = lambda * h_{t-1} directly, and dL/dh0 = a_0 * lambda_0
  from the program that ends at t = 0. The forward is K1's kernel while there are enough programs.
- With few (batch row, column block) programs (B = 1, D = 512 makes 32 on narrow blocks) time is
  split into chunks, one program each: pass 1 (``CHUNK_TOTALS``) scans every chunk from zero and
  keeps only its composition (A_c, B_c); pass 2 is a diagonal scan over the chunks themselves
  (``launch_scan`` on (B, chunks, D)); pass 3 rescans every chunk from the state (``_forward_chunk_kernel``)
  or adjoint (``_backward_chunk_kernel``) that enters it.

Bytes each element moves, counted from the loads and stores below (float32; bfloat16 halves them):

===========================  ==========================  =======================================
path                         forward                     backward
===========================  ==========================  =======================================
one chunk (enough programs)  12: reads a, b; writes h    20: reads a (shifted), g, h; writes da, db
chunk-parallel               20: pass 1 reads a, b too   28: pass 1 reads a, g too
K2's ``scan_backward``       12 (``launch_scan``)        32: reverse launch 12 (a, g, lambda),
                                                         torch.cat 8, the product 12
===========================  ==========================  =======================================

(The chunk compositions add 6 float32 loads and stores per chunk and column, 24 * chunks / T bytes an element.)

Under Triton's interpreter (no GPU) the kernel gives the same states but handles only a few
thousand (b, t, d) entries a second, since every combine of ``tl.associative_scan`` becomes a
Python call: (8, 1024, 64) takes about two minutes, and a backward pass as long again. Keep CPU
inputs small; ``ops.diagonal_scan`` runs it only when asked for (``backend="triton"``). The
interpreter of Triton 3.9 also truncates float32 to bfloat16 where a GPU rounds to nearest, so
bfloat16 outputs may differ from the GPU's by one unit in the
last place.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._triton import tl, triton, triton_mode
from ..scan import sequential_scan, validate_scan_inputs
from .backend import FP_FUSION, kernel_device, on_device_of, require_triton

# (BLOCK_T, BLOCK_D). The interpreter makes a Python call per combine, so small blocks keep the
# masked-off padding cheap. On a GPU each program walks its columns through time alone: with many
# programs, wide blocks keep the memory bus busy; with fewer than two per multiprocessor, narrower
# column blocks make more programs and longer time blocks make fewer trips round the serial loop
# (an early H100 measurement on (4, 4096, 512) float32 favoured them; it was not kept under
# benchmarks/results, so treat it as unconfirmed).
INTERPRETER_BLOCKS = (16, 16)
COMPILED_WIDE_BLOCKS = (64, 32)
COMPILED_NARROW_BLOCKS = (128, 16)
PROGRAMS_PER_MULTIPROCESSOR = 2
# Below PROGRAMS_PER_MULTIPROCESSOR programs a multiprocessor even on narrow blocks, the chunk kernels split
# time into chunks until there are this many: pass 1 costs 8 more bytes an element, so only where the bus idles.
CHUNKED_PROGRAMS_PER_MULTIPROCESSOR = 4
SMOKE_TOLERANCE = 1e-5

if triton is not None:

    @triton.jit
    def _compose(gate_earlier, input_earlier, gate_later, input_later):
        # Not commutative: the step that acts first must come first.
        return gate_earlier * gate_later, gate_later * input_earlier + input_later

    @triton.jit
    def diagonal_scan_kernel(
        a_ptr,
        b_ptr,
        h0_ptr,
        h_ptr,
        steps,
        width,
        BLOCK_T: tl.constexpr,
        BLOCK_D: tl.constexpr,
        REVERSE: tl.constexpr,
    ):
        batch = tl.program_id(0).to(tl.int64)  # int64: B * T * D may exceed 2**31 on a large GPU
        columns = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
        column_mask = columns < width
        block_times = tl.arange(0, BLOCK_T)
        carry = tl.load(h0_ptr + batch * width + columns, mask=column_mask, other=0.0).to(tl.float32)
        ### BEGIN SOLUTION
        for block_start in range(0, steps, BLOCK_T):
            # Reversed, the block runs from late to early time, so the same forward scan walks the
            # recurrence backwards (no reverse=True, which some Triton versions got wrong).
            scan_order = block_start + block_times
            valid = (scan_order[:, None] < steps) & column_mask[None, :]
            if REVERSE:
                times = steps - 1 - scan_order
                gate_times = times + 1  # the adjoint of step t is carried back by a_{t+1}
                gate_valid = valid & (gate_times[:, None] < steps)
            else:
                times = scan_order
                gate_times = times
                gate_valid = valid
            row_offsets = (batch * steps + times[:, None]) * width + columns[None, :]
            gate_offsets = (batch * steps + gate_times[:, None]) * width + columns[None, :]
            # Padding with the identity step (1, 0) leaves the states, and so the last row, unchanged.
            # Reversed, step T - 1 has no successor gate: the 1 loaded there multiplies the zero
            # carry the adjoint starts from, so nothing flows back from beyond the sequence.
            gates = tl.load(a_ptr + gate_offsets, mask=gate_valid, other=1.0).to(tl.float32)
            inputs = tl.load(b_ptr + row_offsets, mask=valid, other=0.0).to(tl.float32)
            gate_products, local_states = tl.associative_scan((gates, inputs), axis=0, combine_fn=_compose)
            states = gate_products * carry[None, :] + local_states
            tl.store(h_ptr + row_offsets, states.to(h_ptr.dtype.element_ty), mask=valid)
            carry = tl.sum(tl.where(block_times[:, None] == BLOCK_T - 1, states, 0.0), axis=0)
        ### END SOLUTION

    @triton.jit
    def _scan_block(gates, inputs, carry, BLOCK_T: tl.constexpr):
        """The states of one block entered with ``carry``, its last state and the product of its gates (BLOCK_D,)."""
        gate_products, local_states = tl.associative_scan((gates, inputs), axis=0, combine_fn=_compose)
        states = gate_products * carry[None, :] + local_states
        last_row = tl.arange(0, BLOCK_T)[:, None] == BLOCK_T - 1
        last_state = tl.sum(tl.where(last_row, states, 0.0), axis=0)
        return states, last_state, tl.sum(tl.where(last_row, gate_products, 0.0), axis=0)

    @triton.jit
    def _chunk_program(steps, width, chunk_steps, BLOCK_D: tl.constexpr):
        """Where a program of grid (B, ⌈D/BLOCK_D⌉, chunks) works: (batch, columns, column mask, chunk, chunks,
        the chunk as a (BLOCK_D,) vector, the chunk's first step, one past its last)."""
        batch = tl.program_id(0).to(tl.int64)
        columns = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
        chunk, chunks = tl.program_id(2), tl.num_programs(2)
        # A vector, for the callers' masks: Triton 3.9's interpreter refuses a vector mask & a scalar condition.
        chunk_of_columns = tl.zeros([BLOCK_D], dtype=tl.int32) + chunk
        chunk_start = chunk * chunk_steps
        chunk_end = tl.minimum(chunk_start + chunk_steps, steps)
        return batch, columns, columns < width, chunk, chunks, chunk_of_columns, chunk_start, chunk_end

    @triton.jit
    def _forward_chunk_kernel(
        a_ptr,
        b_ptr,
        h0_ptr,
        chunk_ends_ptr,
        h_ptr,
        chunk_gates_ptr,
        chunk_inputs_ptr,
        steps,
        width,
        chunk_steps,
        BLOCK_T: tl.constexpr,
        BLOCK_D: tl.constexpr,
        CHUNK_TOTALS: tl.constexpr,
    ):
        """h of chunk ``program_id(2)``, or with ``CHUNK_TOTALS`` only the chunk's composition (A_c, B_c)."""
        batch, columns, column_mask, chunk, chunks, chunk_of_columns, chunk_start, chunk_end = _chunk_program(
            steps, width, chunk_steps, BLOCK_D
        )
        if CHUNK_TOTALS:
            carry = tl.zeros([BLOCK_D], dtype=tl.float32)
        else:  # chunk 0 is entered with h0, chunk c with the state that ends chunk c - 1 (pass 2)
            carry = tl.load(h0_ptr + batch * width + columns, mask=column_mask & (chunk_of_columns == 0), other=0.0)
            previous_end = chunk_ends_ptr + (batch * chunks + chunk - 1) * width + columns
            carry = carry.to(tl.float32) + tl.load(previous_end, mask=column_mask & (chunk_of_columns > 0), other=0.0)
        gate_total = tl.full([BLOCK_D], 1.0, tl.float32)
        for block_start in range(chunk_start, chunk_end, BLOCK_T):
            times = block_start + tl.arange(0, BLOCK_T)
            valid = (times[:, None] < chunk_end) & column_mask[None, :]
            offsets = (batch * steps + times[:, None]) * width + columns[None, :]
            gates = tl.load(a_ptr + offsets, mask=valid, other=1.0).to(tl.float32)  # 4 B (float32)
            inputs = tl.load(b_ptr + offsets, mask=valid, other=0.0).to(tl.float32)  # 4 B
            states, carry, block_gate = _scan_block(gates, inputs, carry, BLOCK_T)
            if CHUNK_TOTALS:
                gate_total *= block_gate
            else:
                tl.store(h_ptr + offsets, states.to(h_ptr.dtype.element_ty), mask=valid)  # 4 B
        if CHUNK_TOTALS:
            total_offsets = (batch * chunks + chunk) * width + columns
            tl.store(chunk_gates_ptr + total_offsets, gate_total, mask=column_mask)
            tl.store(chunk_inputs_ptr + total_offsets, carry, mask=column_mask)

    @triton.jit
    def _backward_chunk_kernel(
        a_ptr,
        grad_h_ptr,
        h_ptr,
        h0_ptr,
        chunk_starts_ptr,
        grad_a_ptr,
        grad_b_ptr,
        grad_h0_ptr,
        chunk_gates_ptr,
        chunk_inputs_ptr,
        steps,
        width,
        chunk_steps,
        BLOCK_T: tl.constexpr,
        BLOCK_D: tl.constexpr,
        CHUNK_TOTALS: tl.constexpr,
    ):
        """dL/da, dL/db of chunk ``program_id(2)`` (and dL/dh0 from chunk 0), walking it backwards in time;
        with ``CHUNK_TOTALS`` only the chunk's composition of the adjoint recurrence."""
        batch, columns, column_mask, chunk, chunks, chunk_of_columns, chunk_start, chunk_end = _chunk_program(
            steps, width, chunk_steps, BLOCK_D
        )
        if CHUNK_TOTALS:
            carry = tl.zeros([BLOCK_D], dtype=tl.float32)
        else:  # the adjoint at the first step of the next chunk (pass 2); none beyond the last chunk
            next_start = chunk_starts_ptr + (batch * chunks + chunk + 1) * width + columns
            carry = tl.load(next_start, mask=column_mask & (chunk_of_columns + 1 < chunks), other=0.0).to(tl.float32)
            h0 = tl.load(h0_ptr + batch * width + columns, mask=column_mask, other=0.0)
        gate_total = tl.full([BLOCK_D], 1.0, tl.float32)
        for scan_start in range(0, chunk_end - chunk_start, BLOCK_T):
            times = chunk_end - 1 - scan_start - tl.arange(0, BLOCK_T)  # late to early, as in REVERSE above
            valid = (times[:, None] >= chunk_start) & column_mask[None, :]
            gate_valid = valid & (times[:, None] + 1 < steps)
            offsets = (batch * steps + times[:, None]) * width + columns[None, :]
            # The gate one step later carries lambda_{t+1} back to t; past the end it is 1 times a zero carry.
            gates = tl.load(a_ptr + offsets + width, mask=gate_valid, other=1.0).to(tl.float32)  # 4 B
            grad_h = tl.load(grad_h_ptr + offsets, mask=valid, other=0.0).to(tl.float32)  # 4 B
            adjoints, carry, block_gate = _scan_block(gates, grad_h, carry, BLOCK_T)
            if CHUNK_TOTALS:
                gate_total *= block_gate
            else:
                has_previous = valid & (times[:, None] > 0)
                previous = tl.load(h_ptr + offsets - width, mask=has_previous, other=0.0)  # 4 B
                previous = tl.where(times[:, None] == 0, h0[None, :], previous).to(tl.float32)
                tl.store(grad_b_ptr + offsets, adjoints.to(grad_b_ptr.dtype.element_ty), mask=valid)  # 4 B
                grad_a = adjoints * previous
                tl.store(grad_a_ptr + offsets, grad_a.to(grad_a_ptr.dtype.element_ty), mask=valid)  # 4 B
        if CHUNK_TOTALS:
            # Pass 2 runs the reversed launch_scan over chunks, which carries lambda back to chunk c with the
            # gate stored one chunk later: chunk c's product goes to slot c + 1 (none for the last chunk).
            total_offsets = (batch * chunks + chunk) * width + columns
            tl.store(
                chunk_gates_ptr + total_offsets + width, gate_total, mask=column_mask & (chunk_of_columns + 1 < chunks)
            )
            tl.store(chunk_inputs_ptr + total_offsets, carry, mask=column_mask)
        else:  # the walk of chunk 0 ends at t = 0 holding lambda_0; dL/dh0 = a_0 * lambda_0
            first_gate = tl.load(
                a_ptr + batch * steps * width + columns, mask=column_mask & (chunk_of_columns == 0), other=0.0
            )
            grad_h0 = first_gate.to(tl.float32) * carry
            tl.store(
                grad_h0_ptr + batch * width + columns,
                grad_h0.to(grad_h0_ptr.dtype.element_ty),
                mask=column_mask & (chunk_of_columns == 0),
            )


def _block_sizes(a: torch.Tensor) -> tuple[int, int]:
    batch, _, width = a.shape
    if triton_mode() == "interpreter":
        block_t, block_d = INTERPRETER_BLOCKS
    else:
        block_t, block_d = COMPILED_WIDE_BLOCKS
        multiprocessors = torch.cuda.get_device_properties(a.device).multi_processor_count
        if batch * triton.cdiv(width, block_d) < PROGRAMS_PER_MULTIPROCESSOR * multiprocessors:
            block_t, block_d = COMPILED_NARROW_BLOCKS
    # Narrow states would leave most of a wide block masked off.
    return block_t, min(block_d, triton.next_power_of_2(width))


def launch_scan(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor,
    *,
    reverse: bool = False,
    dtype: torch.dtype | None = None,
    kernel=None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run a scan kernel (``diagonal_scan_kernel`` when None) into a new (B, T, D) tensor of ``dtype`` (``a``'s
    when None).

    Forward it holds the states h from ``h0``; with ``reverse``, ``b`` holds the gradients g, ``h0``
    must be zero and the result holds the adjoints lambda. ``kernel`` lets a learner's kernel, with
    the signature of ``diagonal_scan_kernel``, run on the same blocks and grid. ``out``, a contiguous
    (B, T, D) tensor, receives the result instead of a new one: the checks pass a view inside guard bands.
    """
    a, b, h0 = a.contiguous(), b.contiguous(), h0.contiguous()
    batch, steps, width = a.shape
    block_t, block_d = _block_sizes(a)
    h = torch.empty_like(a, dtype=dtype) if out is None else out
    grid = (batch, triton.cdiv(width, block_d))
    kernel = diagonal_scan_kernel if kernel is None else kernel
    with on_device_of(a):
        kernel[grid](
            a, b, h0, h, steps, width, BLOCK_T=block_t, BLOCK_D=block_d, REVERSE=reverse, enable_fp_fusion=FP_FUSION
        )
    return h


def scan_backward(
    a: torch.Tensor, h0: torch.Tensor, h: torch.Tensor, grad_h: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The gradients (dL/da, dL/db, dL/dh0) of the scan, from its inputs, its states and dL/dh.

    Args:
        a: gates (B, T, D); h0: initial state (B, D); h: the states the forward pass returned,
            (B, T, D); grad_h: dL/dh_t for every t, (B, T, D).

    Returns:
        Tensors shaped like ``a``, ``a`` and ``h0``, in their dtypes.
    """
    # float32 adjoints, like the forward's states: rounding them to bfloat16 before the products
    # below would add a second rounding to every gradient.
    no_adjoint_from_beyond_the_end = h0.new_zeros(h0.shape, dtype=torch.float32)
    ### BEGIN SOLUTION
    adjoints = launch_scan(a, grad_h, no_adjoint_from_beyond_the_end, reverse=True, dtype=torch.float32)
    previous_states = torch.cat((h0[:, None], h[:, :-1]), dim=1)
    grad_a = (adjoints * previous_states).to(a.dtype)
    grad_b = adjoints.to(a.dtype)
    grad_h0 = (a[:, 0] * adjoints[:, 0]).to(h0.dtype)
    return grad_a, grad_b, grad_h0
    ### END SOLUTION


class _ChunkPlan(NamedTuple):
    """How the chunk kernels cover (B, T, D): their grid (B, column blocks, chunks) and blocks."""

    grid: tuple[int, int, int]
    chunk_steps: int
    block_t: int
    block_d: int

    @classmethod
    def for_inputs(cls, a: torch.Tensor, min_programs: int | None) -> _ChunkPlan:
        """Whole time blocks per chunk, enough chunks to make ``min_programs`` programs if T has that many blocks
        (all of T in one chunk when the columns make that many); ``min_programs`` None: ``default_min_programs``."""
        batch, steps, width = a.shape
        block_t, block_d = _block_sizes(a)
        column_programs = batch * triton.cdiv(width, block_d)
        if min_programs is None:
            min_programs = default_min_programs(a, column_programs)
        blocks = triton.cdiv(steps, block_t)
        chunks_wanted = max(1, min(triton.cdiv(min_programs, column_programs), blocks))
        chunk_steps = block_t * (blocks // chunks_wanted)  # rounded down: at least chunks_wanted chunks
        return cls((batch, triton.cdiv(width, block_d), triton.cdiv(steps, chunk_steps)), chunk_steps, block_t, block_d)

    @property
    def chunks(self) -> int:
        return self.grid[2]

    def chunk_totals(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Empty float32 (B, chunks, D) tensors for the chunks' (A_c, B_c), which pass 1 fills."""
        shape = (a.shape[0], self.chunks, a.shape[2])
        return a.new_empty(shape, dtype=torch.float32), a.new_empty(shape, dtype=torch.float32)

    def launch(self, kernel, *tensors: torch.Tensor, chunk_totals: bool) -> None:
        """Run ``kernel`` on the plan's grid: ``tensors`` are its pointer arguments in order, the first (B, T, D);
        a pass hands any tensor for the pointers it never touches."""
        _, steps, width = tensors[0].shape
        with on_device_of(tensors[0]):
            kernel[self.grid](
                *tensors,
                steps,
                width,
                self.chunk_steps,
                BLOCK_T=self.block_t,
                BLOCK_D=self.block_d,
                CHUNK_TOTALS=chunk_totals,
                enable_fp_fusion=FP_FUSION,
            )


def default_min_programs(a: torch.Tensor, column_programs: int) -> int:
    """The programs the chunk kernels should launch at least: 1 (never split time) under the interpreter or
    where the columns alone make ``PROGRAMS_PER_MULTIPROCESSOR`` programs a multiprocessor, else
    ``CHUNKED_PROGRAMS_PER_MULTIPROCESSOR`` a multiprocessor."""
    if triton_mode() == "interpreter":
        return 1
    multiprocessors = torch.cuda.get_device_properties(a.device).multi_processor_count
    if column_programs >= PROGRAMS_PER_MULTIPROCESSOR * multiprocessors:
        return 1
    return CHUNKED_PROGRAMS_PER_MULTIPROCESSOR * multiprocessors


def scan_forward(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, min_programs: int | None = None) -> torch.Tensor:
    """The states h (B, T, D) of contiguous ``a``, ``b`` and ``h0``: K1's kernel, or the chunk-parallel passes.

    ``min_programs`` splits time into chunks until the kernels launch that many programs (None: the GPU's
    ``default_min_programs``); the tests force the chunk-parallel path at tiny shapes with it.
    """
    plan = _ChunkPlan.for_inputs(a, min_programs)
    if plan.chunks == 1:  # K1's kernel, on the same blocks: one program walks all of T
        return launch_scan(a, b, h0)
    h = torch.empty_like(a)
    chunk_gates, chunk_inputs = plan.chunk_totals(a)
    # Pass 1 reads no chunk_ends and writes no h: h0 and h stand in.
    plan.launch(_forward_chunk_kernel, a, b, h0, h0, h, chunk_gates, chunk_inputs, chunk_totals=True)
    chunk_ends = launch_scan(chunk_gates, chunk_inputs, h0, dtype=torch.float32)  # (B, chunks, D)
    # Pass 3 writes no chunk totals: h stands in.
    plan.launch(_forward_chunk_kernel, a, b, h0, chunk_ends, h, h, h, chunk_totals=False)
    return h


def fused_scan_backward(
    a: torch.Tensor, h0: torch.Tensor, h: torch.Tensor, grad_h: torch.Tensor, min_programs: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``scan_backward``'s (dL/da, dL/db, dL/dh0) from the fused reverse kernel, of contiguous tensors.

    ``min_programs`` as for ``scan_forward``. The adjoints stay float32 inside the kernel: only the three
    results are rounded to the inputs' dtype.
    """
    plan = _ChunkPlan.for_inputs(a, min_programs)
    grad_a, grad_b, grad_h0 = torch.empty_like(a), torch.empty_like(a), torch.empty_like(h0)
    chunk_starts = h0  # read only by chunks before the last
    if plan.chunks > 1:
        chunk_gates, chunk_inputs = plan.chunk_totals(a)
        totals = (chunk_gates, chunk_inputs)
        # Pass 1 reads no chunk_starts (h0 stands in) and writes no gradient.
        plan.launch(_backward_chunk_kernel, a, grad_h, h, h0, h0, grad_a, grad_b, grad_h0, *totals, chunk_totals=True)
        no_adjoint_from_beyond_the_end = h0.new_zeros(h0.shape, dtype=torch.float32)
        chunk_starts = launch_scan(*totals, no_adjoint_from_beyond_the_end, reverse=True, dtype=torch.float32)
    gradients = (grad_a, grad_b, grad_h0)
    # Pass 3 (the only pass with one chunk) writes no chunk totals: a stands in.
    plan.launch(_backward_chunk_kernel, a, grad_h, h, h0, chunk_starts, *gradients, a, a, chunk_totals=False)
    return gradients


class _DiagonalScanFunction(torch.autograd.Function):
    """The Triton scan with its backward pass, the fused reverse kernel (see the module docstring)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, min_programs: int | None) -> torch.Tensor:
        a, b, h0 = a.contiguous(), b.contiguous(), h0.contiguous()
        h = scan_forward(a, b, h0, min_programs)
        ctx.save_for_backward(a, h0, h)
        ctx.min_programs = min_programs
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_h: torch.Tensor):
        a, h0, h = ctx.saved_tensors
        return (*fused_scan_backward(a, h0, h, grad_h.contiguous(), ctx.min_programs), None)


def diagonal_scan(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    check_finite: bool = False,
    min_programs: int | None = None,
) -> torch.Tensor:
    """Return the states h_t = a_t * h_{t-1} + b_t from the Triton kernel, or raise saying why it cannot run.

    Args:
        a: gates, shape (B, T, D); any real value, negative ones included.
        b: inputs, shape (B, T, D), same dtype and device as ``a``.
        h0: initial state, shape (B, D); zeros when None.
        check_finite: raise on a NaN or an infinity in the inputs. Off by default: looking costs a pass over
            the inputs and, on a GPU, a wait for every kernel queued before (a host synchronisation); without
            it a NaN flows into the states it reaches, as in PyTorch.
        min_programs: at least this many programs, splitting time into chunks (``scan_forward``); None lets
            the GPU decide. For tests and benchmarks.

    Returns:
        h: shape (B, T, D), dtype of ``a``. The kernel accumulates in float32 whatever the input
        dtype, in its backward pass too; it differentiates once (no gradients of gradients).

    Raises:
        RuntimeError or TypeError (``backend.triton_refusal``) where Triton cannot run these tensors;
        ``ops.diagonal_scan`` picks between this kernel and ``sequential_scan``.
    """
    a, b, h0 = validate_scan_inputs(a, b, h0, finite=check_finite)
    require_triton(a)
    return _DiagonalScanFunction.apply(a, b, h0, min_programs)


def smoke_test() -> tuple[bool, str]:
    """Run ``diagonal_scan`` on a small awkward input and compare it with ``sequential_scan`` in float64.

    Where Triton cannot run, ``sequential_scan`` in float32 takes the kernel's place: the path the
    lessons take then.

    The input has T = 37 and D = 5 (neither a multiple of a block) and gates of exactly -1, 0
    and 1 among uniform ones in [-1, 1]. Never raises: a failure becomes ``(False, reason)``.

    Returns:
        ``(ok, message)``, the message naming the backend used and the largest error relative
        to the largest state.
    """
    try:
        generator = torch.Generator().manual_seed(0)
        gates = torch.rand(2, 37, 5, generator=generator, dtype=torch.float64) * 2 - 1
        gates[0, :3, 0] = torch.tensor([-1.0, 1.0, 0.0], dtype=torch.float64)
        gates[1, :, 4] = -1.0
        inputs = torch.randn(2, 37, 5, generator=generator, dtype=torch.float64)
        initial = torch.randn(2, 5, generator=generator, dtype=torch.float64)
        expected = sequential_scan(gates, inputs, initial)
        device = torch.device(kernel_device() or "cpu")
        a, b, h0 = (x.to(device, torch.float32) for x in (gates, inputs, initial))
        runs_triton = kernel_device() is not None
        backend = "triton" if runs_triton else "reference"
        states = (diagonal_scan if runs_triton else sequential_scan)(a, b, h0).to("cpu", torch.float64)
        error = float((states - expected).abs().max() / expected.abs().max().clamp(min=1.0))
    except Exception as failure:  # noqa: BLE001 - the doctor reports any failure instead of crashing
        return False, f"diagonal_scan smoke test raised {type(failure).__name__}: {failure}"
    ok = error <= SMOKE_TOLERANCE
    verdict = "passed" if ok else "FAILED"
    details = f"max relative error {error:.1e} (tolerance {SMOKE_TOLERANCE:.0e})"
    return ok, f"{verdict} on {backend} ({device.type}): {details}"
