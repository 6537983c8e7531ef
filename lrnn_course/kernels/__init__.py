"""Triton kernels of the course, each with a PyTorch reference it must agree with.

``diagonal_scan`` (reference: ``scan.sequential_scan``), ``chunk_delta_rule`` (reference:
``chunkwise.chunk_delta_rule``, itself tested against ``deltanet.delta_rule``) and
``chunk_delta_product`` (reference: ``deltaproduct.delta_product``), forward and backward.

Glossary (code name -> meaning):

=================  ========================================================================
``backend``        which implementation runs: ``"triton"`` (a kernel of this package) or
                   ``"reference"`` (the PyTorch loop of the lesson, e.g. ``sequential_scan``)
``"auto"``         Triton where it runs natively on the given tensors, else the reference
``triton_mode()``  how kernels run on this machine, decided once in ``lrnn_course._triton``:
                   ``"compiled"`` (CUDA GPU), ``"interpreter"`` (CPU, ``TRITON_INTERPRET=1``)
                   or ``"unavailable"`` (no Triton: everything uses the reference)
=================  ========================================================================

Without a GPU the kernels still run, through Triton's interpreter: the same source, executed
block by block in NumPy, exact enough to test against the reference and slow enough that the
lessons keep their inputs small. Gradients flow through the kernels: each has a backward pass,
so ``"auto"`` picks Triton for training as well as for inference.
"""

from .._triton import triton_mode, triton_status
from .delta import chunk_delta_product, chunk_delta_rule
from .scan import diagonal_scan, smoke_test

__all__ = ["chunk_delta_product", "chunk_delta_rule", "diagonal_scan", "smoke_test", "triton_mode", "triton_status"]
