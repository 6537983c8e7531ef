"""The exercises of kernel lessons K1 (the diagonal-scan kernel) and K2 (its backward pass).

Glossary: ``a`` = gates a_t, ``b`` = inputs b_t, ``h0`` = H_0, ``h`` = the states, all (B, T, D)
except h0 (B, D); ``grad_h`` = dL/dh_t. Expected values: ``lesson01.loop64`` (a float64 loop) for
the states, and PyTorch's autograd through that loop for the gradients. The learner's kernel runs
where the course's kernels run: compiled on a CUDA GPU, else through Triton's interpreter, in
float32 on the blocks of ``launch_scan`` (under the interpreter BLOCK_T = 16 and BLOCK_D = 16, narrowed
to the next power of two ≥ D).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..check import Case, CheckFailed, Exercise, call_learner, expect_tensor_close
from ..kernels import scan as kernel_scan
from ..kernels.backend import kernel_device
from .lesson01 import STATES, loop64, random_inputs

KERNEL_TOLERANCE = 1e-5


def on_kernel_device(*tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    """float32 copies where Triton runs; ``CheckFailed`` when it runs nowhere here."""
    device = kernel_device()
    if device is None:
        raise CheckFailed(f"Triton cannot run on this machine ({kernel_scan.triton_mode()}); run `lrnn-course doctor`")
    return [None if x is None else x.to(device, torch.float32) for x in tensors]


def kernel_case(name: str, batch: int, steps: int, width: int, hints: tuple[str, ...], **options: Any) -> Case:
    """The learner's kernel, launched on the course's grid, against the float64 loop."""

    def run(kernel: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs(name, batch, steps, width, **options)
        h0 = torch.zeros(batch, width, dtype=torch.float64) if h0 is None else h0
        expected = loop64(a, b, h0).float()
        states = call_learner(kernel_scan.launch_scan, *on_kernel_device(a, b, h0), kernel=kernel)
        expect_tensor_close(states.cpu() if isinstance(states, torch.Tensor) else states, expected, "h", STATES,
                            atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)

    return Case(name, run, hints)


def kernel_cases() -> list[Case]:
    return [
        kernel_case("one block: T = 8, D = 3", 1, 8, 3, (
            "Load a block of gates and inputs, combine them with tl.associative_scan(…, combine_fn=_compose), "
            "then h = gate_products * carry + local_states.",
            "tl.associative_scan((gates, inputs), axis=0, combine_fn=_compose) returns the pair (A_cum, B_cum).",
        )),
        kernel_case("masks on both axes: T = 37, D = 5", 2, 37, 5, (
            "Past the end of time or of the columns, load the identity step: other=1.0 for gates, 0.0 for inputs.",
            "Store with the same mask you loaded with, so nothing is written outside h.",
        )),
        # Blocks hold 16 steps under the interpreter and 64 or 128 compiled: T = 300 spans several either way.
        kernel_case("the carry crosses blocks: T = 300", 1, 300, 4, (
            "After each block the carry must become the block's last state: pick the row BLOCK_T - 1 of states "
            "with tl.where and tl.sum over axis 0.",
            "Padding steps are identity steps, so the last row of a partial block is still the last real state.",
        )),
        kernel_case("initial state and long memory", 2, 40, 3, (
            "Start the carry from h0 (it is already loaded for you) and multiply it by the block's gate products.",
        ), gates="long_memory", with_h0=True),
        kernel_case("negative gates", 1, 33, 2, (
            "Nothing in the kernel may assume a_t ≥ 0: no logarithms, no square roots.",
        ), gates="signed", with_h0=True),
    ]


def autograd_gradients(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, grad_h: torch.Tensor) -> list[torch.Tensor]:
    """(dL/da, dL/db, dL/dh0) of L = Σ grad_h ⊙ h through the float64 loop."""
    leaves = [x.detach().clone().requires_grad_(True) for x in (a, b, h0)]
    loop64(*leaves).backward(grad_h)
    return [x.grad for x in leaves]


def backward_case(name: str, batch: int, steps: int, width: int, hints: tuple[str, ...], **options: Any) -> Case:
    def run(scan_backward: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs(name, batch, steps, width, with_h0=True, **options)
        grad_h = torch.randn(a.shape, generator=torch.Generator().manual_seed(steps), dtype=torch.float64)
        expected = autograd_gradients(a, b, h0, grad_h)
        a32, h032, h32, grad_h32 = on_kernel_device(a, h0, loop64(a, b, h0), grad_h)
        result = call_learner(scan_backward, a32, h032, h32, grad_h32)
        if not isinstance(result, tuple) or len(result) != 3:
            raise CheckFailed(f"return a tuple (grad_a, grad_b, grad_h0), got {type(result).__name__}")
        for got, wanted, what, dims in zip(result, expected, ("dL/da", "dL/db", "dL/dh0"), (STATES, STATES, "(B, D)")):
            got = got.cpu() if isinstance(got, torch.Tensor) else got
            expect_tensor_close(got, wanted.float(), what, dims, atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)

    return Case(name, run, hints)


def backward_cases() -> list[Case]:
    return [
        backward_case("dL/db are the adjoints: T = 9", 1, 9, 3, (
            "The adjoints obey λ_t = a_{t+1} λ_{t+1} + g_t: launch_scan(a, grad_h, zeros, reverse=True) computes them.",
            "dL/db_t = λ_t: b_t enters h_t with weight 1.",
        )),
        backward_case("dL/da needs the previous states", 2, 37, 5, (
            "dL/da_t = λ_t * h_{t-1}, where h_{-1} is h0: torch.cat((h0[:, None], h[:, :-1]), dim=1).",
        )),
        backward_case("dL/dh0 and the carry across blocks: T = 50", 1, 50, 4, (
            "h0 enters only through the first state, h[:, 0] = a[:, 0] * h0 + b[:, 0], so dL/dh0 = a[:, 0] * λ[:, 0].",
        ), gates="long_memory"),
        backward_case("negative gates", 2, 20, 2, (
            "The reversed scan multiplies by a_{t+1}, whatever its sign.",
        ), gates="signed"),
        backward_case("length 1", 3, 1, 2, (
            "With T = 1: λ_0 = g_0, so dL/da_0 = g_0 * h0, dL/db_0 = g_0 and dL/dh0 = a_0 * g_0.",
        )),
    ]


EXERCISES = [
    Exercise("K1.diagonal_scan_kernel", getattr(kernel_scan, "diagonal_scan_kernel", None), tuple(kernel_cases())),
    Exercise("K2.scan_backward", kernel_scan.scan_backward, tuple(backward_cases())),
]
