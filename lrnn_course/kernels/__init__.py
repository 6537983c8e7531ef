"""Triton kernels of the course, each with a PyTorch reference it must agree with.

``diagonal_scan`` (reference: ``scan.sequential_scan``), ``chunk_delta_rule`` (reference:
``chunkwise.chunk_delta_rule``, itself tested against ``deltanet.delta_rule``) and
``chunk_delta_product`` (reference: ``deltaproduct.delta_product``), forward and backward. The two
delta-rule functions here are ``delta_split``'s, the kernels split as production kernels split them;
``delta`` keeps the single-kernel version that K3 and K4 teach first.

Glossary (code name -> meaning):

=================  ========================================================================
``triton_mode()``  how kernels run on this machine, decided once in ``lrnn_course._triton``:
                   ``"compiled"`` (CUDA GPU), ``"interpreter"`` (CPU, ``TRITON_INTERPRET=1``)
                   or ``"unavailable"`` (no Triton: the lessons use the PyTorch reference)
``refusal``        why a kernel cannot run some inputs (``backend.triton_refusal``): every
                   function here runs Triton or raises it, never a PyTorch fallback
=================  ========================================================================

Choosing between a kernel and PyTorch is ``lrnn_course.ops``'s job (``backend="auto"`` takes a
kernel on CUDA tensors only). Without a GPU the kernels still run, through Triton's interpreter:
the same source, executed block by block in NumPy, exact enough to test against the reference
and slow enough that the kernel notebooks keep their inputs small. Gradients flow through the
kernels: each has a backward pass.

Importing this package imports Triton and, on a machine without a CUDA GPU, sets
``TRITON_INTERPRET=1`` (see ``lrnn_course._triton``): the only place of the course that does.
"""

from .._triton import triton_mode, triton_status
from .delta_split import chunk_delta_product, chunk_delta_rule
from .scan import diagonal_scan, smoke_test

__all__ = ["chunk_delta_product", "chunk_delta_rule", "diagonal_scan", "smoke_test", "triton_mode", "triton_status"]
