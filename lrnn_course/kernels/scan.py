"""A Triton kernel for the diagonal scan h_t = a_t * h_{t-1} + b_t (forward only).

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
===================  ======================================================================

One program owns one batch row and ``BLOCK_D`` columns and walks over time in blocks of
``BLOCK_T`` steps: ``tl.associative_scan`` turns the block's steps (a_t, b_t) into prefix
compositions (A_cum, B_cum) in log2(BLOCK_T) parallel rounds, and h = A_cum * carry + B_cum.
This is ``chunked_scan`` of Lesson 01 with the chunks visited in order by a single program.

Gradients do not flow through the kernel yet (the autograd Function comes in a later lesson):
``diagonal_scan`` sends inputs that need gradients to the PyTorch reference under ``"auto"``.

Under Triton's interpreter (no GPU) the kernel gives the same states but handles only a few
thousand (b, t, d) entries a second, since every combine of ``tl.associative_scan`` becomes a
Python call: (8, 1024, 64) takes about two minutes. Keep CPU inputs small, or pass
``backend="reference"``. The interpreter of Triton 3.9 also truncates float32 to bfloat16
where a GPU rounds to nearest, so bfloat16 outputs may differ from the GPU's by one unit in the
last place.
"""

from __future__ import annotations

import contextlib

import torch

from .._triton import tl, triton, triton_mode, triton_status
from ..scan import sequential_scan, validate_scan_inputs

BACKENDS = ("auto", "triton", "reference")
KERNEL_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
# (BLOCK_T, BLOCK_D). The interpreter makes a Python call per combine, so small blocks keep the
# masked-off padding cheap. On a GPU each program walks its columns through time alone: with many
# programs, wide blocks keep the memory bus busy; with fewer than two per multiprocessor, narrower
# column blocks make more programs and longer time blocks make fewer trips round the serial loop
# (H100, (4, 4096, 512) float32: about 85 us against 133 us for the wide blocks).
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
    def _diagonal_scan_forward_kernel(
        a_ptr,
        b_ptr,
        h0_ptr,
        h_ptr,
        steps,
        width,
        BLOCK_T: tl.constexpr,
        BLOCK_D: tl.constexpr,
    ):
        batch = tl.program_id(0).to(tl.int64)  # int64: B * T * D may exceed 2**31 on a large GPU
        columns = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
        column_mask = columns < width
        block_times = tl.arange(0, BLOCK_T)
        carry = tl.load(h0_ptr + batch * width + columns, mask=column_mask, other=0.0).to(tl.float32)
        for block_start in range(0, steps, BLOCK_T):
            times = block_start + block_times
            mask = (times[:, None] < steps) & column_mask[None, :]
            offsets = (batch * steps + times[:, None]) * width + columns[None, :]
            # Padding with the identity step (1, 0) leaves the states, and so the last row, unchanged.
            gates = tl.load(a_ptr + offsets, mask=mask, other=1.0).to(tl.float32)
            inputs = tl.load(b_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
            gate_products, local_states = tl.associative_scan((gates, inputs), axis=0, combine_fn=_compose)
            states = gate_products * carry[None, :] + local_states
            tl.store(h_ptr + offsets, states.to(h_ptr.dtype.element_ty), mask=mask)
            carry = tl.sum(tl.where(block_times[:, None] == BLOCK_T - 1, states, 0.0), axis=0)


def _kernel_device() -> str | None:
    """The device type Triton's kernels accept in the current mode, or None when they cannot run."""
    return {"compiled": "cuda", "interpreter": "cpu"}.get(triton_mode())


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(x.requires_grad for x in tensors)


def _triton_refusal(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> Exception | None:
    """Why the kernel should not run on these inputs, as the exception to raise; None when it can."""
    kernel_device = _kernel_device()
    if kernel_device is None:
        return RuntimeError(f"backend='triton': Triton cannot run here ({triton_status()})")
    if a.device.type != kernel_device:
        return RuntimeError(
            f"backend='triton': Triton is in {triton_mode()} mode, which runs on {kernel_device} tensors, "
            f"but the inputs are on {a.device}"
        )
    if a.dtype not in KERNEL_DTYPES:
        return TypeError(f"backend='triton': the kernel takes float32, bfloat16 or float16 inputs, got {a.dtype}")
    if _needs_grad(a, b, h0):
        return RuntimeError(
            "backend='triton': the kernel is forward-only and would cut the autograd graph; "
            "detach the inputs, run under torch.no_grad(), or use backend='auto'"
        )
    return None


def resolve_backend(backend: str, a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> str:
    """Return ``"triton"`` or ``"reference"``: what ``diagonal_scan`` will run for these inputs.

    ``"auto"`` takes Triton only where it runs natively: CUDA tensors when kernels are compiled,
    CPU tensors under the interpreter, float32/bfloat16/float16 inputs, and no gradient needed
    (the kernel has no backward yet, so autograd would silently stop at its output).
    ``"triton"`` raises, with the reason, wherever ``"auto"`` would fall back to the reference.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if backend == "reference":
        return "reference"
    refusal = _triton_refusal(a, b, h0)
    if refusal is None:
        return "triton"
    if backend == "triton":
        raise refusal
    return "reference"


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


def _launch(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    a, b, h0 = a.contiguous(), b.contiguous(), h0.contiguous()
    batch, steps, width = a.shape
    block_t, block_d = _block_sizes(a)
    h = torch.empty_like(a)
    grid = (batch, triton.cdiv(width, block_d))
    # Triton launches on the current CUDA device, which need not be the one holding the tensors.
    on_their_device = torch.cuda.device(a.device) if a.is_cuda else contextlib.nullcontext()
    with on_their_device:
        _diagonal_scan_forward_kernel[grid](a, b, h0, h, steps, width, BLOCK_T=block_t, BLOCK_D=block_d)
    return h


def diagonal_scan(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, backend: str = "auto"
) -> torch.Tensor:
    """Return the states h_t = a_t * h_{t-1} + b_t, on Triton where it can run, else in PyTorch.

    Args:
        a: gates, shape (B, T, D); any real value, negative ones included.
        b: inputs, shape (B, T, D), same dtype and device as ``a``.
        h0: initial state, shape (B, D); zeros when None.
        backend: ``"auto"`` (Triton when it runs natively on these tensors, see
            ``resolve_backend``), ``"triton"`` (Triton or a RuntimeError/TypeError saying why
            not) or ``"reference"`` (``sequential_scan``).

    Returns:
        h: shape (B, T, D), dtype of ``a``. The Triton path accumulates in float32 whatever the
        input dtype and returns a tensor without autograd history.
    """
    a, b, h0 = validate_scan_inputs(a, b, h0)
    if resolve_backend(backend, a, b, h0) == "reference":
        return sequential_scan(a, b, h0)
    return _launch(a, b, h0)


def smoke_test() -> tuple[bool, str]:
    """Run ``diagonal_scan`` on a small awkward input and compare it with ``sequential_scan`` in float64.

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
        device = torch.device(_kernel_device() or "cpu")
        a, b, h0 = (x.to(device, torch.float32) for x in (gates, inputs, initial))
        backend = resolve_backend("auto", a, b, h0)
        states = diagonal_scan(a, b, h0, backend=backend).to("cpu", torch.float64)
        error = float((states - expected).abs().max() / expected.abs().max().clamp(min=1.0))
    except Exception as failure:  # noqa: BLE001 - the doctor reports any failure instead of crashing
        return False, f"diagonal_scan smoke test raised {type(failure).__name__}: {failure}"
    ok = error <= SMOKE_TOLERANCE
    verdict = "passed" if ok else "FAILED"
    details = f"max relative error {error:.1e} (tolerance {SMOKE_TOLERANCE:.0e})"
    return ok, f"{verdict} on {backend} ({device.type}): {details}"
