"""What the kernel tests share: where kernels run, the GPU marker and the error measures."""

from __future__ import annotations

import pytest
import torch

from lrnn_course._triton import triton_mode, triton_status

KERNEL_DEVICE = {"compiled": "cuda", "interpreter": "cpu"}.get(triton_mode())
needs_kernel = pytest.mark.skipif(KERNEL_DEVICE is None, reason=f"Triton cannot run here: {triton_status()}")


def on_gpu(test):
    """Mark a test ``gpu`` (``make gpu-test``) and skip it without CUDA."""
    return pytest.mark.gpu(pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")(test))


def relative_max_error(result, expected):
    """Largest absolute error over the largest reference magnitude (at least 1, so zeros compare absolutely)."""
    result, expected = result.detach().double(), expected.detach()
    return float((result - expected).abs().max() / expected.abs().max().clamp(min=1.0))


def rms_relative_error(result, expected):
    """RMS of the error over the RMS of the reference: the measure fla's tests use for half precision."""
    result, expected = result.detach().double(), expected.detach()
    difference = result - expected
    return float(difference.pow(2).mean().sqrt() / expected.pow(2).mean().sqrt())
