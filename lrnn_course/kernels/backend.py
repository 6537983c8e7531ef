"""Where the course's Triton kernels can run, and why not where they cannot.

Glossary (code name -> meaning):

=================  ========================================================================
``kernel device``  where Triton's kernels take their tensors: ``cuda`` when compiled, ``cpu``
                   under the interpreter, none when Triton is unavailable
``refusal``        the exception a kernel function raises for inputs it cannot run, with the
                   reason; ``lrnn_course.ops`` asks for it to choose a path before running one
=================  ========================================================================
"""

from __future__ import annotations

import contextlib

import torch

from .._triton import triton_mode, triton_status

KERNEL_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
# FMA contraction, set at every launch: Triton 3.9 fuses a * x + y by default and warns that 3.10 will not.
# Fused, a * x + y rounds once instead of twice, as accurate or more, in one instruction; stating it keeps
# the compiled code the same from one Triton release to the next.
FP_FUSION = True


def kernel_device() -> str | None:
    """The device type Triton's kernels accept in the current mode, or None when they cannot run."""
    return {"compiled": "cuda", "interpreter": "cpu"}.get(triton_mode())


def triton_refusal(x: torch.Tensor, beyond_the_kernel: str | None = None) -> Exception | None:
    """Why a kernel cannot run on inputs like ``x``, as the exception to raise; None when it can.

    ``x`` speaks for all inputs: the callers' validation already made them share dtype and device.
    ``beyond_the_kernel`` says why valid inputs are still too large for a kernel (None when they
    are not), e.g. a head size.
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


def require_triton(x: torch.Tensor, beyond_the_kernel: str | None = None) -> None:
    """Raise ``triton_refusal(x, beyond_the_kernel)`` if there is one: a kernel function runs Triton or says why not."""
    refusal = triton_refusal(x, beyond_the_kernel)
    if refusal is not None:
        raise refusal


def on_device_of(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """Make ``x``'s GPU current: Triton launches on the current CUDA device, not on the tensors' own."""
    return torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()
