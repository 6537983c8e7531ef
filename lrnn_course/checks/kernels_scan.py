"""The exercises of kernel lessons K1 (the diagonal-scan kernel) and K2 (its backward pass).

Glossary: ``a`` = gates a_t, ``b`` = inputs b_t, ``h0`` = H_0, ``h`` = the states, all (B, T, D)
except h0 (B, D); ``grad_h`` = dL/dh_t. Expected values: ``lesson01.loop64`` (a float64 loop) for
the states, and PyTorch's autograd through that loop for the gradients. The learner's kernel runs
where the course's kernels run: compiled on a CUDA GPU, else through Triton's interpreter, in
float32 on the blocks of ``launch_scan`` (under the interpreter BLOCK_T = 16 and BLOCK_D = 16, narrowed
to the next power of two ≥ D).

Every tensor the learner's kernel receives sits inside guard bands (``check.Guarded``): a, b and h0
between NaN, which a load out of bounds carries into h, and h between ``UNWRITTEN``, a finite value,
so that a store out of bounds shows even when what it stores is a NaN loaded out of bounds. The
bands are wider than any offset the kernel can form from its indices with a wrong row stride, so a
stray store lands in them, never in memory that is not Python's (which can abort the process).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..check import (GENERAL, SPECIFIC, Case, CheckFailed, Exercise, Guarded, call_learner, call_learner_in_place,
                     expect_guards_intact, expect_tensor_close)
from ..kernels import scan as kernel_scan
from ..kernels.backend import kernel_device
from .lesson01 import STATES, loop64, random_inputs

KERNEL_TOLERANCE = 1e-5
INPUTS = ("a", "b", "h0")
# What h holds before the kernel stores: finite (see the module docstring) and far above any state here.
UNWRITTEN = 3.0e38
# Out of bounds outranks every other row: a kernel that stores outside h can fail any of them.
OUT_OF_BOUNDS = 1
# Several blocks on both axes under the interpreter (16 × 16), sizes no block divides, and T ≠ D, so
# that a row stride of T instead of D runs past the end. The narrow shape has D = 5 < BLOCK_D = 8, so
# that a row stride of BLOCK_D instead of D runs past the end too.
WIDE, NARROW = (2, 45, 37), (2, 19, 5)


def on_kernel_device(*tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    """float32 copies where Triton runs; ``CheckFailed`` when it runs nowhere here."""
    device = kernel_device()
    if device is None:
        raise CheckFailed(f"Triton cannot run on this machine ({kernel_scan.triton_mode()}); run `lrnn-course doctor`")
    return [None if x is None else x.to(device, torch.float32) for x in tensors]


def padded_sizes(a: torch.Tensor) -> tuple[int, int, int, int]:
    """(BLOCK_T, BLOCK_D, T', D') of ``launch_scan`` on ``a``: T' and D' are T and D rounded up to whole blocks."""
    _, steps, width = a.shape
    block_t, block_d = kernel_scan._block_sizes(a)
    return block_t, block_d, -(-steps // block_t) * block_t, -(-width // block_d) * block_d


def guard_size(a: torch.Tensor) -> int:
    """Entries in each guard band: more than the largest offset (b · T' + t) · max(T', D') + d a kernel forms from
    indices inside its blocks with T', D' or a block size as the row stride."""
    _, _, padded_t, padded_d = padded_sizes(a)
    return (a.shape[0] + 1) * padded_t * max(padded_t, padded_d)


def store_advice(guarded: Guarded, a: torch.Tensor) -> str:
    """What to look at, from how far past the end of h the kernel stored: each mistake below reaches a distance of its own."""
    if guarded.name != "h":
        return f"your kernel only loads from {guarded.name}_ptr; it stores into h_ptr alone"
    past_the_end = (guarded.buffer[guarded.guard + guarded.tensor.numel():] != UNWRITTEN).nonzero()
    batch, steps, width = a.shape
    block_t, block_d, padded_t, padded_d = padded_sizes(a)
    row_stride = f"check the row stride (a row of h holds D = {width} entries)"
    last_row = batch * steps - 1  # with a row stride s, its last entry lies last_row * s + D - B * T * D - 1 past the end
    reaches = {
        **{last_row * stride + width - batch * steps * width: f"where a row stride of {name} puts the last rows: {row_stride}"
           for name, stride in (("BLOCK_T", block_t), ("BLOCK_D", block_d), ("T", steps))},
        (padded_t - steps - 1) * width + padded_d: "steps past T and columns past D: check the time mask and the column mask",
        (padded_t - steps) * width: "steps past T in the last block: check the time mask",
        padded_d - width: "columns past D in the last row: check the column mask",
    }
    if not len(past_the_end):
        return "an offset came out negative: check how you compute times and offsets"
    return "that is " + reaches.get(int(past_the_end[-1]) + 1, f"where no single mistake reaches: check both masks, and {row_stride}")


def launch_guarded(kernel: Callable[..., Any], a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor,
                   nan_bands: tuple[str, ...] = INPUTS) -> torch.Tensor:
    """The learner's kernel through ``launch_scan`` on float32 copies of a, b, h0 inside guard bands (NaN, or zeros
    for inputs not in ``nan_bands``), into an h inside bands of ``UNWRITTEN``; it starts as ``UNWRITTEN`` too.
    ``CheckFailed`` names the first tensor the kernel stored outside of."""
    a, b, h0 = on_kernel_device(a, b, h0)
    guard = guard_size(a)
    # Inputs whose out-of-bounds loads should give finite values have bands of 0 (to find which input's band a
    # NaN in h came from); h's bands hold UNWRITTEN, so a NaN loaded and stored out of bounds still shows.
    inputs = [Guarded.around(name, x, guard, sentinel=None if name in nan_bands else 0.0) for name, x in zip(INPUTS, (a, b, h0))]
    h = Guarded.around("h", torch.full_like(a, UNWRITTEN), guard, sentinel=UNWRITTEN)
    call_learner_in_place(kernel_scan.launch_scan, *(item.tensor for item in inputs), kernel=kernel, out=h.tensor)
    for item in (h, *inputs):
        expect_guards_intact(item, advice=store_advice(item, a))
    return h.tensor.cpu()


def first_index(mask: torch.Tensor) -> str:
    """``[b=…, t=…, d=…]`` of the first True entry of a (B, T, D) mask."""
    return "[" + ", ".join(f"{axis}={int(i)}" for axis, i in zip("btd", mask.nonzero()[0])) + "]"


def expect_loop_states(kernel: Callable[..., Any], a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> None:
    """The learner's kernel, launched inside guard bands, stores every entry of h, each close to the float64 loop."""
    expected = loop64(a, b, h0).float()
    h = launch_guarded(kernel, a, b, h0)
    unwritten = h == UNWRITTEN
    if bool(unwritten.any()):
        raise CheckFailed(f"never stored h at {first_index(unwritten)} ({int(unwritten.sum())} of {h.numel()} entries "
                          "left unwritten): store every real step and column; check the store's mask and the block loop's range")
    expect_tensor_close(h, expected, "h", STATES, atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)


def kernel_case(name: str, batch: int, steps: int, width: int, hints: tuple[str, ...], priority: int = SPECIFIC,
                **options: Any) -> Case:
    """The learner's kernel, launched on the course's grid inside guard bands, against the float64 loop."""

    def run(kernel: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs(name, batch, steps, width, **options)
        expect_loop_states(kernel, a, b, torch.zeros(batch, width, dtype=torch.float64) if h0 is None else h0)

    return Case(name, run, hints, priority)


def exact_gates_case(kernel: Callable[..., Any]) -> None:
    """Gates of exactly 0, -1 and 1 among signed ones: a step with a = 0 forgets everything before it."""
    a, b, h0 = random_inputs("gates of exactly 0, -1 and 1", 2, 40, 3, with_h0=True)
    a[0, 3:6, 0], a[0, 10:, 1], a[1, :, 2], a[1, ::7, 0] = 0.0, -1.0, 1.0, 0.0
    expect_loop_states(kernel, a, b, h0)


def stays_in_bounds(kernel: Callable[..., Any]) -> None:
    """No store outside h (seen in the guard bands) and no load outside a, b or h0 (their NaN reaches h), on a wide
    shape and a narrow one; the NaN is traced to its band by launching again with one input's bands NaN at a time."""
    for batch, steps, width in (WIDE, NARROW):
        a, b, h0 = random_inputs(f"in bounds: {width}", batch, steps, width, with_h0=True)
        h = launch_guarded(kernel, a, b, h0)
        leaked = h.isnan()
        if bool(leaked.any()):
            # No band reproduces it: the kernel made the NaN itself, which the value rows report.
            source = next((name for name in INPUTS if bool(launch_guarded(kernel, a, b, h0, (name,)).isnan().any())), None)
            if source is not None:
                raise CheckFailed(f"read outside {source} (out of bounds): the NaN of its guard band reached h at "
                                  f"{first_index(leaked)} (B = {batch}, T = {steps}, D = {width}); check the masks and offsets "
                                  "of your loads")


def kernel_cases() -> list[Case]:
    return [
        kernel_case("one block: T = 8, D = 3", 1, 8, 3, (
            "Load a block of gates and inputs, combine them with tl.associative_scan(…, combine_fn=_compose), "
            "then h = gate_products * carry + local_states.",
            "tl.associative_scan((gates, inputs), axis=0, combine_fn=_compose) returns the pair (A_cum, B_cum).",
        )),
        kernel_case("several blocks on both axes: B = {}, T = {}, D = {}".format(*WIDE), *WIDE, (
            "Past the end of time or of the columns, load the identity step: other=1.0 for gates, 0.0 for inputs.",
            "Each program owns one column block: its columns are tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D).",
        ), GENERAL),
        Case("no load or store out of bounds", stays_in_bounds, (
            "Every load and every store needs the mask valid = (times < steps) & (columns < width), "
            "on both axes: the last time block and the last column block stick out of the tensor.",
            "Element (b, t, d) sits at (b * steps + t) * width + d: the row stride is width, not BLOCK_D or steps.",
        ), priority=OUT_OF_BOUNDS),
        # One block under the interpreter and compiled: a kernel that ignores h0 fails here, one that drops the
        # carry between blocks does not (it fails the next row).
        kernel_case("initial state and long memory", 2, 16, 3, (
            "Start the carry from h0 (it is already loaded for you) and multiply it by the block's gate products.",
        ), gates="long_memory", with_h0=True),
        # Blocks hold 16 steps under the interpreter and 64 or 128 compiled: T = 300 spans several either way.
        kernel_case("the carry crosses blocks: T = 300", 1, 300, 4, (
            "After each block the carry must become the block's last state: pick the row BLOCK_T - 1 of states "
            "with tl.where and tl.sum over axis 0.",
            "Padding steps are identity steps, so the last row of a partial block is still the last real state.",
        )),
        kernel_case("negative gates", 1, 33, 2, (
            "Nothing in the kernel may assume a_t ≥ 0: no logarithms, no square roots.",
        ), gates="signed", with_h0=True),
        Case("gates of exactly 0, -1 and 1", exact_gates_case, (
            "A gate of 0 makes the gate products 0: never divide by them; tl.associative_scan with _compose only multiplies.",
        )),
    ]


def autograd_gradients(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, grad_h: torch.Tensor) -> list[torch.Tensor]:
    """(dL/da, dL/db, dL/dh0) of L = Σ grad_h ⊙ h through the float64 loop."""
    leaves = [x.detach().clone().requires_grad_(True) for x in (a, b, h0)]
    loop64(*leaves).backward(grad_h)
    return [x.grad for x in leaves]


GRADIENTS = ("dL/da", "dL/db", "dL/dh0")


def backward_case(name: str, batch: int, steps: int, width: int, hints: tuple[str, ...], compared: tuple[str, ...] = GRADIENTS,
                  priority: int = SPECIFIC, **options: Any) -> Case:
    """The learner's backward pass against autograd through the float64 loop, on the gradients ``compared``: a row that
    names one gradient compares that one, so that a mistake in another one does not turn it red."""

    def run(scan_backward: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs(name, batch, steps, width, with_h0=True, **options)
        grad_h = torch.randn(a.shape, generator=torch.Generator().manual_seed(steps), dtype=torch.float64)
        expected = autograd_gradients(a, b, h0, grad_h)
        a32, h032, h32, grad_h32 = on_kernel_device(a, h0, loop64(a, b, h0), grad_h)
        result = call_learner(scan_backward, a32, h032, h32, grad_h32)
        if not isinstance(result, tuple) or len(result) != 3:
            raise CheckFailed(f"return a tuple (grad_a, grad_b, grad_h0), got {type(result).__name__}")
        for got, wanted, what, dims in zip(result, expected, GRADIENTS, (STATES, STATES, "(B, D)")):
            if what in compared:
                got = got.cpu() if isinstance(got, torch.Tensor) else got
                expect_tensor_close(got, wanted.float(), what, dims, atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)

    return Case(name, run, hints, priority)


def backward_cases() -> list[Case]:
    return [
        backward_case("dL/db are the adjoints: T = 9", 1, 9, 3, (
            "The adjoints obey λ_t = a_{t+1} λ_{t+1} + g_t: launch_scan(a, grad_h, zeros, reverse=True) computes them.",
            "dL/db_t = λ_t: b_t enters h_t with weight 1.",
        ), ("dL/db",)),
        # Several blocks on both axes, as for K1.
        backward_case("dL/da needs the previous states", *WIDE, (
            "dL/da_t = λ_t * h_{t-1}, where h_{-1} is h0: torch.cat((h0[:, None], h[:, :-1]), dim=1).",
        ), ("dL/da",)),
        backward_case("dL/dh0 and the carry across blocks: T = 50", 2, 50, 21, (
            "h0 enters only through the first state, h[:, 0] = a[:, 0] * h0 + b[:, 0], so dL/dh0 = a[:, 0] * λ[:, 0].",
        ), ("dL/dh0",), gates="long_memory"),
        backward_case("negative gates", 2, 20, 2, (
            "The reversed scan multiplies by a_{t+1}, whatever its sign.",
        ), priority=GENERAL, gates="signed"),
        backward_case("length 1", 3, 1, 2, (
            "With T = 1: λ_0 = g_0, so dL/da_0 = g_0 * h0, dL/db_0 = g_0 and dL/dh0 = a_0 * g_0.",
        )),
    ]


EXERCISES = [
    Exercise("K1.diagonal_scan_kernel", getattr(kernel_scan, "diagonal_scan_kernel", None), tuple(kernel_cases())),
    Exercise("K2.scan_backward", kernel_scan.scan_backward, tuple(backward_cases())),
]
