"""The one place that picks how a recurrence runs: a Triton kernel or PyTorch, the fastest per device.

Glossary (code name -> meaning; the maths is that of the modules named):

=======================  ==================================================================
``backend``              ``"auto"``, ``"triton"`` or ``"reference"``: which implementation runs
``"auto"``               the fastest here: the compiled Triton kernel on CUDA tensors it takes,
                         else PyTorch (never Triton's interpreter, which is for learning)
``"triton"``             the kernel of ``lrnn_course.kernels``, compiled on a GPU or interpreted
                         on the CPU, or an error that says why it cannot run
``"reference"``          PyTorch: the fastest exact form of the lessons for these shapes
``refusal``              the exception a kernel would raise on such inputs, None when it can run
``diagonal_scan``        h_t = a_t * h_{t-1} + b_t (``scan``); PyTorch: ``sequential_scan``
``chunk_delta_rule``     the (gated) delta rule (``deltanet``); PyTorch: see ``LOOP_BELOW_KEY_DIM``
``chunk_delta_product``  (gated) DeltaProduct (``deltaproduct``), on the same choice
=======================  ==================================================================

The models (``models.build_model``) call these functions, never a kernel or a form directly, and
so do the lessons where speed matters more than the form: "fastest" is decided here once.
``lrnn_course.kernels`` is imported only when a kernel may run (CUDA tensors, or
``backend="triton"``): importing this module imports no Triton.

Measured forward+backward on one CPU thread (best of 3), which fixed the PyTorch choices:
- diagonal scan: the loop over ``unbind`` (``sequential_scan``) beats the parallel forms, which on a
  CPU only add work: 1.9 ms against 14 ms (Hillis-Steele) at (128, 40, 64), 108 ms against 496 ms
  at (4, 4096, 256);
- delta rule and DeltaProduct: with heads of width 4 (Lesson 06's DeltaNet) the token loop wins,
  13.7 ms against 16.2 ms in chunks of 16 at (128, 40, 4 heads); from width 8 on the chunk form
  wins, best with chunks about as long as the head is wide: 6.3 ms against 21.7 ms for the loop at
  (128, 40, one head of 16), 10 ms against 38 ms for Lesson 07's DeltaProduct (n_h = 2, same
  head), 40 ms (chunks of 64) against 57 ms (of 16) and 398 ms (the loop) at (2, 1024, 4 heads of 64).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from . import chunkwise
from .deltanet import delta_rule
from .deltaproduct import delta_product, delta_product_by_interleaving
from .scan import sequential_scan
from .validate import require_tensor

BACKENDS = ("auto", "triton", "reference")
LOOP_BELOW_KEY_DIM = 8
"""Heads narrower than this run the token loop on PyTorch; wider ones the chunk form."""
CHUNK_RANGE = (16, 64)
"""The chunk form's chunk length: the head's key width, clamped to this range."""
Refusal = Callable[[torch.Tensor], Exception | None]
"""Why a kernel cannot take inputs like the given tensor, as the exception it would raise; None when it can."""


def scan_refusal(a: torch.Tensor) -> Exception | None:
    """The diagonal-scan kernel's ``Refusal`` for gates like ``a``."""
    from .kernels.backend import triton_refusal  # imports Triton: only where a kernel may run

    return triton_refusal(a)


def delta_refusal(q: torch.Tensor) -> Exception | None:
    """The delta-rule kernels' ``Refusal`` for queries like ``q`` (B, T, H, D_k)."""
    from .kernels.delta import kernel_refusal  # imports Triton: only where a kernel may run

    return kernel_refusal(q)


def resolve_backend(backend: str, x: torch.Tensor, refusal: Refusal = scan_refusal) -> str:
    """Return ``"triton"`` or ``"reference"``: what ``backend`` runs for inputs like ``x``.

    ``"auto"`` takes the kernel only for CUDA tensors that it can run (``refusal(x)`` is None: a
    kernel dtype, a head it fits, Triton compiled); on the CPU it is PyTorch without asking Triton.
    ``"triton"`` raises the refusal, with its reason, wherever the kernel cannot run. ``refusal``
    says why a kernel cannot take ``x``: the diagonal scan's by default.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if backend == "reference" or (backend == "auto" and not (isinstance(x, torch.Tensor) and x.is_cuda)):
        return "reference"
    why_not = refusal(require_tensor(x, "the first input"))
    if why_not is None:
        return "triton"
    if backend == "triton":
        raise why_not
    return "reference"


def _runs_kernel(backend: str, x: torch.Tensor, refusal: Refusal) -> bool:
    """Whether ``backend`` runs the kernel; ``"triton"`` always does, so that the kernel checks its inputs
    first (a wrong shape is named as such, not as a refusal) and then raises if it cannot run them."""
    return backend == "triton" or resolve_backend(backend, x, refusal) == "triton"


def diagonal_scan(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, backend: str = "auto"
) -> torch.Tensor:
    """The states h_t = a_t * h_{t-1} + b_t, on the fastest path here (see ``resolve_backend``).

    Args:
        a: gates, shape (B, T, D); b: inputs, shape (B, T, D); h0: initial state (B, D), zeros when None.
        backend: ``"auto"``, ``"triton"`` (``kernels.diagonal_scan`` or an error saying why not)
            or ``"reference"`` (``scan.sequential_scan``).

    Returns:
        h: shape (B, T, D), dtype of ``a``; differentiable on either path.
    """
    if _runs_kernel(backend, a, scan_refusal):
        from .kernels.scan import diagonal_scan as triton_diagonal_scan

        return triton_diagonal_scan(a, b, h0)
    return sequential_scan(a, b, h0)


def _pytorch_delta_rule(key_dim: int) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """The PyTorch delta rule that is fastest for heads of ``key_dim``: the loop or chunks of about D_k."""
    if key_dim < LOOP_BELOW_KEY_DIM:
        return delta_rule
    low, high = CHUNK_RANGE
    return functools.partial(chunkwise.chunk_delta_rule, chunk_size=min(high, max(low, key_dim)))


def chunk_delta_rule(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    scale: float | None = None,
    backend: str = "auto",
    *,
    check_values: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (gated) delta rule on the fastest path here; the arguments and result of ``deltanet.delta_rule``.

    ``backend``: ``"auto"``, ``"triton"`` (``kernels.chunk_delta_rule``, the split kernels of
    ``kernels.delta_split``: heads up to ``kernels.delta.MAX_KEY_DIM`` wide, else a ValueError) or
    ``"reference"`` (the loop for heads narrower than ``LOOP_BELOW_KEY_DIM``, else
    ``chunkwise.chunk_delta_rule``). ``check_values``: the kernels' value checks
    (``kernels.delta.chunk_delta_rule`` says what they cost); PyTorch checks the values always.
    """
    if _runs_kernel(backend, q, delta_refusal):
        from .kernels.delta_split import chunk_delta_rule as triton_chunk_delta_rule

        return triton_chunk_delta_rule(q, k, v, beta, alpha, initial_state, scale, check_values=check_values)
    rule = _pytorch_delta_rule(require_tensor(q, "q", 4, "(B, T, H, D_k)").shape[-1])
    return rule(q, k, v, beta, alpha, initial_state, scale)


def chunk_delta_product(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    scale: float | None = None,
    backend: str = "auto",
    *,
    check_values: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Gated) DeltaProduct on the fastest path here; the arguments and result of ``deltaproduct.delta_product``.

    ``backend`` as for ``chunk_delta_rule``: the kernel and the chunk form run the n_h·T sub-steps
    interleaved (``deltaproduct.delta_product_by_interleaving``), the loop runs them token by token.
    ``check_values`` as for ``chunk_delta_rule``.
    """
    if _runs_kernel(backend, q, delta_refusal):
        from .kernels.delta_split import chunk_delta_product as triton_chunk_delta_product

        return triton_chunk_delta_product(q, k, v, beta, alpha, initial_state, scale, check_values=check_values)
    rule = _pytorch_delta_rule(require_tensor(q, "q", 4, "(B, T, H, D_k)").shape[-1])
    if rule is delta_rule:
        return delta_product(q, k, v, beta, alpha, initial_state, scale)
    return delta_product_by_interleaving(q, k, v, beta, alpha, initial_state, scale, delta_rule=rule)
