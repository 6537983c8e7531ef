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
``tl.associative_scan`` runs the adjoint recurrence; ``_DiagonalScanFunction`` wires both
launches into autograd.

Under Triton's interpreter (no GPU) the kernel gives the same states but handles only a few
thousand (b, t, d) entries a second, since every combine of ``tl.associative_scan`` becomes a
Python call: (8, 1024, 64) takes about two minutes, and a backward pass as long again. Keep CPU
inputs small; ``ops.diagonal_scan`` runs it only when asked for (``backend="triton"``). The
interpreter of Triton 3.9 also truncates float32 to bfloat16 where a GPU rounds to nearest, so
bfloat16 outputs may differ from the GPU's by one unit in the
last place.
"""

from __future__ import annotations

import torch

from .._triton import tl, triton, triton_mode
from ..scan import sequential_scan, validate_scan_inputs
from .backend import kernel_device, on_device_of, require_triton

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
        kernel[grid](a, b, h0, h, steps, width, BLOCK_T=block_t, BLOCK_D=block_d, REVERSE=reverse)
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


class _DiagonalScanFunction(torch.autograd.Function):
    """The Triton scan with its backward pass, itself a reversed Triton scan (see the module docstring)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        h = launch_scan(a, b, h0)
        ctx.save_for_backward(a, h0, h)
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_h: torch.Tensor):
        a, h0, h = ctx.saved_tensors
        return scan_backward(a, h0, h, grad_h.contiguous())


def diagonal_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Return the states h_t = a_t * h_{t-1} + b_t from the Triton kernel, or raise saying why it cannot run.

    Args:
        a: gates, shape (B, T, D); any real value, negative ones included.
        b: inputs, shape (B, T, D), same dtype and device as ``a``.
        h0: initial state, shape (B, D); zeros when None.

    Returns:
        h: shape (B, T, D), dtype of ``a``. The kernel accumulates in float32 whatever the input
        dtype, in its backward pass too; it differentiates once (no gradients of gradients).

    Raises:
        RuntimeError or TypeError (``backend.triton_refusal``) where Triton cannot run these tensors;
        ``ops.diagonal_scan`` picks between this kernel and ``sequential_scan``.
    """
    a, b, h0 = validate_scan_inputs(a, b, h0)
    require_triton(a)
    return _DiagonalScanFunction.apply(a, b, h0)


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
