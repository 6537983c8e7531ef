"""Which implementation a kernel function runs: a Triton kernel of this package or its PyTorch reference.

Glossary (code name -> meaning):

=================  ========================================================================
``backend``        ``"triton"``, ``"reference"`` (the lesson's PyTorch code) or ``"auto"``
``"auto"``         Triton where it runs natively on the given tensors, else the reference
``kernel device``  where Triton's kernels take their tensors: ``cuda`` when compiled, ``cpu``
                   under the interpreter, none when Triton is unavailable
=================  ========================================================================
"""

from __future__ import annotations

import contextlib

import torch

from .._triton import triton_mode, triton_status

BACKENDS = ("auto", "triton", "reference")
KERNEL_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def kernel_device() -> str | None:
    """The device type Triton's kernels accept in the current mode, or None when they cannot run."""
    return {"compiled": "cuda", "interpreter": "cpu"}.get(triton_mode())


def _triton_refusal(x: torch.Tensor, beyond_the_kernel: str | None) -> Exception | None:
    """Why a kernel should not run on these inputs, as the exception to raise; None when it can.

    ``x`` speaks for all inputs: the callers' validation already made them share dtype and device.
    """
    if beyond_the_kernel is not None:
        return ValueError(f"backend='triton': {beyond_the_kernel}")
    device = kernel_device()
    if device is None:
        return RuntimeError(f"backend='triton': Triton cannot run here ({triton_status()})")
    if x.device.type != device:
        return RuntimeError(
            f"backend='triton': Triton is in {triton_mode()} mode, which runs on {device} tensors, "
            f"but the inputs are on {x.device}"
        )
    if x.dtype not in KERNEL_DTYPES:
        return TypeError(f"backend='triton': the kernels take float32, bfloat16 or float16 inputs, got {x.dtype}")
    return None


def resolve_backend(backend: str, x: torch.Tensor, beyond_the_kernel: str | None = None) -> str:
    """Return ``"triton"`` or ``"reference"``: what a kernel function will run for inputs like ``x``.

    ``"auto"`` takes Triton only where it runs natively: CUDA tensors when kernels are compiled,
    CPU tensors under the interpreter, and float32/bfloat16/float16 inputs. Whether gradients are
    needed does not matter: every Triton path has its own backward pass. ``beyond_the_kernel`` says
    why valid inputs are still too large for a kernel (None when they are not), e.g. a head size.
    ``"triton"`` raises, with the reason, wherever ``"auto"`` would fall back to the reference.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if backend == "reference":
        return "reference"
    refusal = _triton_refusal(x, beyond_the_kernel)
    if refusal is None:
        return "triton"
    if backend == "triton":
        raise refusal
    return "reference"


def on_device_of(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """Make ``x``'s GPU current: Triton launches on the current CUDA device, not on the tensors' own."""
    return torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()
