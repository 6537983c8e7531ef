"""The exercise of kernel lesson K2: the backward pass of the diagonal-scan kernel.

Glossary: ``a`` = gates a_t, ``b`` = inputs b_t, ``h0`` = H_0, ``h`` = the states, all (B, T, D)
except h0 (B, D); ``grad_h`` = dL/dh_t. Expected values: ``lesson01.loop64`` (a float64 loop) for
the states, and PyTorch's autograd through that loop for the gradients. The learner's kernel runs
where the course's kernels run: compiled on a CUDA GPU, else through Triton's interpreter, in
float32 (or in a half type, into a float32 h) on the blocks of ``launch_scan`` (under the interpreter
BLOCK_T = 16 and BLOCK_D = 16, narrowed to the next power of two ≥ D).

The learner's ``scan_backward`` runs on guarded tensors as K1's kernel does (``lessonK1``).

K2's row "the adjoints come from launch_scan" stands in for ``launch_scan`` with a scan of the gates
``STAND_IN_SCALE`` · a, a different but valid linear recurrence: gradients computed by a Python loop or
by autograd do not follow it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..checker import (
    GENERAL,
    SPECIFIC,
    Case,
    CheckFailed,
    Exercise,
    call_learner,
    expect_tensor_close,
    substituted,
)
from ..kernels import scan as kernel_scan
from .lesson01 import STATES, loop64, random_inputs
from .lessonK1 import HALF_TYPES, KERNEL_TOLERANCE, WIDE, on_kernel_device

GRADIENTS = ("dL/da", "dL/db", "dL/dh0")
GRADIENT_DIMS = (STATES, STATES, "(B, D)")


def autograd_gradients(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, grad_h: torch.Tensor) -> list[torch.Tensor]:
    """(dL/da, dL/db, dL/dh0) of L = Σ grad_h ⊙ h through the float64 loop."""
    leaves = [x.detach().clone().requires_grad_(True) for x in (a, b, h0)]
    loop64(*leaves).backward(grad_h)
    return [x.grad for x in leaves]


def given_gradients(
    a: torch.Tensor, h0: torch.Tensor, h: torch.Tensor, grad_h: torch.Tensor, gate_scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dL/da, dL/db, dL/dh0) in float64 from exactly what ``scan_backward`` is given (h as given, rounded or not):
    adjoints λ_t = gate_scale · a_{t+1} λ_{t+1} + g_t by the float64 loop over reversed time, then λ_t h_{t-1}, λ_t
    and a_0 λ_0."""
    a, h0, h, grad_h = (x.double().cpu() for x in (a, h0, h, grad_h))
    later_gates = torch.cat((gate_scale * a[:, 1:], torch.zeros_like(a[:, :1])), dim=1)  # a_{t+1}; nothing after T
    adjoints = loop64(later_gates.flip(1), grad_h.flip(1)).flip(1)
    previous_states = torch.cat((h0[:, None], h[:, :-1]), dim=1)
    return adjoints * previous_states, adjoints, a[:, 0] * adjoints[:, 0]


def as_gradients(result: Any) -> tuple[Any, Any, Any]:
    if not isinstance(result, tuple) or len(result) != 3:
        raise CheckFailed(f"return a tuple (grad_a, grad_b, grad_h0), got {type(result).__name__}")
    return tuple(x.cpu() if isinstance(x, torch.Tensor) else x for x in result)


def backward_case(
    name: str,
    batch: int,
    steps: int,
    width: int,
    hints: tuple[str, ...],
    compared: tuple[str, ...] = GRADIENTS,
    priority: int = SPECIFIC,
    **options: Any,
) -> Case:
    """The learner's backward pass against autograd through the float64 loop, on the gradients ``compared``: a row that
    names one gradient compares that one, so that a mistake in another one does not turn it red."""

    def run(scan_backward: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs(name, batch, steps, width, with_h0=True, **options)
        grad_h = torch.randn(a.shape, generator=torch.Generator().manual_seed(steps), dtype=torch.float64)
        expected = autograd_gradients(a, b, h0, grad_h)
        result = as_gradients(call_learner(scan_backward, *on_kernel_device(a, h0, loop64(a, b, h0), grad_h)))
        for got, wanted, what, dims in zip(result, expected, GRADIENTS, GRADIENT_DIMS):
            if what in compared:
                expect_tensor_close(got, wanted.float(), what, dims, atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)

    return Case(name, run, hints, priority)


def half_backward_case(name: str, gate_dtype: torch.dtype, h0_dtype: torch.dtype) -> Case:
    """Gates, inputs, states and dL/dh in ``gate_dtype``, h0 in ``h0_dtype``: the gradients come back in the dtypes of a
    and h0, each within half a unit in the last place of its dtype (plus float32's 1e-5) of the float64 value: what
    float32 adjoints rounded once at the end reach, and adjoints rounded to the gates' dtype do not."""

    def run(scan_backward: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs(name, 2, 100, 3, gates="long_memory", with_h0=True)
        a, b, h0 = a.to(gate_dtype), b.to(gate_dtype), h0.to(h0_dtype)
        h = loop64(a, b, h0).to(gate_dtype)  # the states the forward kernel returns
        grad_h = torch.randn(a.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(gate_dtype)
        expected = given_gradients(a, h0, h, grad_h)
        result = as_gradients(call_learner(scan_backward, *on_kernel_device(a, h0, h, grad_h, dtype=None)))
        dtypes = (gate_dtype, gate_dtype, h0_dtype)
        for got, what, dtype in zip(result, GRADIENTS, dtypes):
            if isinstance(got, torch.Tensor) and got.dtype != dtype:
                raise CheckFailed(
                    f"{what} has dtype {got.dtype} for {gate_dtype} gates and a {h0_dtype} h0: return grad_a and "
                    f"grad_b in the dtype of a, grad_h0 in the dtype of h0"
                )
        for got, wanted, what, dims, dtype in zip(result, expected, GRADIENTS, GRADIENT_DIMS, dtypes):
            rtol = KERNEL_TOLERANCE + (torch.finfo(dtype).eps / 2 if dtype in HALF_TYPES else 0.0)
            got = got.double() if isinstance(got, torch.Tensor) else got
            expect_tensor_close(
                got, wanted, f"{what} ({str(dtype).removeprefix('torch.')})", dims, atol=KERNEL_TOLERANCE, rtol=rtol
            )

    return Case(
        name,
        run,
        (
            "Compute the adjoints in float32, launch_scan(..., dtype=torch.float32), and round only the three results: "
            "grad_a and grad_b with .to(a.dtype), grad_h0 with .to(h0.dtype).",
            "Adjoints rounded to the gates' dtype before the products add a second rounding to every gradient; grad_h0 "
            "in float32 shows it at once.",
        ),
    )


# The scale of the gates in the stand-in for launch_scan, and the launch_scan it stands in for (captured here,
# before any row replaces the module's attribute).
STAND_IN_SCALE = 0.5
LIBRARY_LAUNCH = kernel_scan.launch_scan if kernel_scan.triton is not None else None


def follows_launch_scan(scan_backward: Callable[..., Any]) -> None:
    """With ``launch_scan`` replaced by a scan of the gates STAND_IN_SCALE · a, dL/db must be that scan's adjoints:
    computed with the kernel, the gradients follow it; computed by a loop or autograd, they do not."""
    a, b, h0 = random_inputs("the adjoints come from launch_scan", 2, 12, 3, with_h0=True)
    grad_h = torch.randn(a.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    given = on_kernel_device(a, h0, loop64(a, b, h0), grad_h)
    launches = []

    def stand_in(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, **options: Any) -> torch.Tensor:
        launches.append(a.shape)
        return LIBRARY_LAUNCH(STAND_IN_SCALE * a, b, h0, **options)

    with substituted(scan_backward, stand_in, originals=[LIBRARY_LAUNCH], modules=[kernel_scan]):
        result = as_gradients(call_learner(scan_backward, *given))
    if not launches:
        raise CheckFailed(
            "never called launch_scan: compute the adjoints on the kernel, launch_scan(a, grad_h, zeros, "
            "reverse=True, dtype=torch.float32), not with a Python loop or autograd"
        )
    expected = given_gradients(*given, gate_scale=STAND_IN_SCALE)[1]
    try:
        expect_tensor_close(result[1], expected.float(), "dL/db", STATES, atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)
    except CheckFailed as failure:
        raise CheckFailed(
            f"with launch_scan replaced by a stand-in that scans the gates {STAND_IN_SCALE}·a, dL/db should be "
            f"the stand-in's adjoints, but it did not follow it: compute the adjoints with launch_scan, not a "
            f"loop or autograd ({failure})"
        ) from failure


def backward_cases() -> list[Case]:
    return [
        backward_case(
            "dL/db are the adjoints: T = 9",
            1,
            9,
            3,
            (
                "The adjoints obey λ_t = a_{t+1} λ_{t+1} + g_t: launch_scan(a, grad_h, zeros, reverse=True) computes "
                "them.",
                "dL/db_t = λ_t: b_t enters h_t with weight 1.",
            ),
            ("dL/db",),
        ),
        # Several blocks on both axes, as for K1.
        backward_case(
            "dL/da needs the previous states",
            *WIDE,
            ("dL/da_t = λ_t * h_{t-1}, where h_{-1} is h0: torch.cat((h0[:, None], h[:, :-1]), dim=1).",),
            ("dL/da",),
        ),
        backward_case(
            "dL/dh0 and the carry across blocks: T = 50",
            2,
            50,
            21,
            (
                "h0 enters only through the first state, h[:, 0] = a[:, 0] * h0 + b[:, 0], so dL/dh0 = a[:, 0] * λ[:, "
                "0].",
            ),
            ("dL/dh0",),
            gates="long_memory",
        ),
        backward_case(
            "negative gates",
            2,
            20,
            2,
            ("The reversed scan multiplies by a_{t+1}, whatever its sign.",),
            priority=GENERAL,
            gates="signed",
        ),
        backward_case(
            "length 1",
            3,
            1,
            2,
            ("With T = 1: λ_0 = g_0, so dL/da_0 = g_0 * h0, dL/db_0 = g_0 and dL/dh0 = a_0 * g_0.",),
        ),
        half_backward_case(
            "bfloat16 gates, float32 h0: dtypes kept, adjoints in float32", torch.bfloat16, torch.float32
        ),
        half_backward_case("float16 gates and h0: dtypes kept, adjoints in float32", torch.float16, torch.float16),
        Case(
            "the adjoints come from launch_scan",
            follows_launch_scan,
            (
                "The adjoints are one reversed scan on the kernel: launch_scan(a, grad_h, zeros, reverse=True, "
                "dtype=torch.float32). A Python loop over time, or autograd through a re-run of the forward pass, is "
                "what the kernel is there to replace.",
            ),
        ),
    ]


EXERCISES = [
    Exercise("K2.scan_backward", kernel_scan.scan_backward, tuple(backward_cases())),
]
