"""The exercise of kernel lesson K1: the diagonal-scan kernel.

Glossary: ``a`` = gates a_t, ``b`` = inputs b_t, ``h0`` = H_0, ``h`` = the states, all (B, T, D)
except h0 (B, D); ``grad_h`` = dL/dh_t. Expected values: ``lesson01.loop64`` (a float64 loop) for
the states, and PyTorch's autograd through that loop for the gradients. The learner's kernel runs
where the course's kernels run: compiled on a CUDA GPU, else through Triton's interpreter, in
float32 (or in a half type, into a float32 h) on the blocks of ``launch_scan`` (under the interpreter
BLOCK_T = 16 and BLOCK_D = 16, narrowed to the next power of two ≥ D).

Every tensor the learner's kernel receives sits inside guard bands (``check.Guarded``): a, b and h0
between NaN, which a load out of bounds carries into h, and h between ``UNWRITTEN``, a finite value,
so that a store out of bounds shows even when what it stores is a NaN loaded out of bounds. The
bands are wider than any offset the kernel can form from its indices with a wrong row stride, so a
stray store lands in them, never in memory that is not Python's (which can abort the process).
Under the interpreter the row about bounds also records the address of every lane of every load
(``loads_recorded``), so a load out of bounds shows even where its NaN never reaches h. Which mistake
put an access where it is comes from replaying the usual mistakes of masks and offsets on the same
grid (``candidate_accesses``) and keeping the one that touches exactly the same elements.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import torch

from .._triton import triton_mode, triton_status
from ..checker import (
    GENERAL,
    SPECIFIC,
    Case,
    CheckFailed,
    Exercise,
    Guarded,
    call_learner_in_place,
    expect_guards_intact,
    expect_tensor_close,
)
from ..kernels import scan as kernel_scan
from ..kernels.backend import kernel_device
from .lesson01 import STATES, loop64, random_inputs

KERNEL_TOLERANCE = 1e-5
INPUTS = ("a", "b", "h0")
HALF_TYPES = (torch.float16, torch.bfloat16)
# What h holds before the kernel stores: finite (see the module docstring) and far above any state here.
UNWRITTEN = 3.0e38
# Out of bounds outranks every other row: a kernel that stores outside h can fail any of them.
OUT_OF_BOUNDS = 1
# Several blocks on both axes under the interpreter (16 × 16), sizes no block divides, and T ≠ D, so
# that a row stride of T instead of D runs past the end. The narrow shape has D = 5 < BLOCK_D = 8, so
# that a row stride of BLOCK_D instead of D runs past the end too.
WIDE, NARROW = (2, 45, 37), (2, 19, 5)
# One more than a multiple of every BLOCK_T (16 under the interpreter, 64 or 128 compiled): the last block holds
# one step.
ONE_STEP_LAST_BLOCK = 257


def on_kernel_device(
    *tensors: torch.Tensor | None, dtype: torch.dtype | None = torch.float32
) -> list[torch.Tensor | None]:
    """Copies in ``dtype`` (None: their own) where Triton runs; ``CheckFailed`` when it runs nowhere in this process."""
    device = kernel_device()
    if device is None:
        advice = (
            ""
            if kernel_scan.triton is None
            else (
                "; the usual cause is `import triton` (or a @triton.jit definition) before `import "
                "lrnn_course.kernels`: put `import lrnn_course.kernels` first, restart Python (in a notebook: restart "
                "the kernel) and check again"
            )
        )
        raise CheckFailed(
            f"Triton cannot run in this Python process{advice} ({triton_status()})",
            ("`lrnn-course doctor` says how Triton runs on this machine and why.",),
        )
    return [None if x is None else x.to(device, dtype or x.dtype) for x in tensors]


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


# The usual mistakes of masks and offsets, as (what it does, what to check); "{access}" is "load" or "store".
NO_TIME_MASK = ("steps past T in the last block", "check the time mask of the {access}")
ONE_STEP_PAST_T = ("one step past T", "the time mask of the {access} is `times < steps`, not `times <= steps`")
NO_COLUMN_MASK = ("columns past D in the last row", "check the column mask of the {access}")


def row_stride_mistake(stride: str, per_batch_row: bool) -> tuple[str, str]:
    where = "inside each batch row puts its last rows" if per_batch_row else "puts the last rows"
    return (
        f"where a row stride of {stride} {where}",
        "check the row stride (a row of {tensor} holds D = {width} entries)",
    )


def candidate_accesses(
    tensor: torch.Tensor, a: torch.Tensor
) -> Iterator[tuple[tuple[tuple[str, str], ...], torch.Tensor]]:
    """(mistakes, offsets): for each combination of the usual mistakes, the offsets into ``tensor`` (shaped like a, or
    (B, D) for h0) that a kernel making them touches, replayed on the blocks of ``launch_scan`` on ``a``."""
    batch, steps, width = a.shape
    block_t, block_d, padded_t, padded_d = padded_sizes(a)
    if tensor.dim() == 2:  # h0, loaded once by each program
        rows, columns = torch.meshgrid(torch.arange(batch), torch.arange(padded_d), indexing="ij")
        offsets = rows * width + columns
        yield (), offsets[columns < width]
        yield (NO_COLUMN_MASK,), offsets.flatten()
        return
    rows, times, columns = torch.meshgrid(
        torch.arange(batch), torch.arange(padded_t), torch.arange(padded_d), indexing="ij"
    )
    time_masks = {(): times < steps, (NO_TIME_MASK,): times >= 0, (ONE_STEP_PAST_T,): times <= steps}
    column_masks = {(): columns < width, (NO_COLUMN_MASK,): columns >= 0}
    offsets = {(): (rows * steps + times) * width + columns}
    for name, stride in (("BLOCK_T", block_t), ("BLOCK_D", block_d), ("T", steps)):
        offsets[(row_stride_mistake(name, False),)] = (rows * steps + times) * stride + columns
        offsets[(row_stride_mistake(name, True),)] = rows * steps * width + times * stride + columns
    for (time_mistake, time_mask), (column_mistake, column_mask), (offset_mistake, offset) in itertools.product(
        time_masks.items(), column_masks.items(), offsets.items()
    ):
        yield time_mistake + column_mistake + offset_mistake, offset[time_mask & column_mask]


def out_of_bounds_advice(name: str, tensor: torch.Tensor, outside: torch.Tensor, a: torch.Tensor, access: str) -> str:
    """What to look at, from the elements outside ``tensor`` (offsets from its start) that the kernel touched: the
    combination of the usual mistakes that touches exactly those, replayed on the same grid."""
    observed = set(outside.tolist())
    for mistakes, offsets in candidate_accesses(tensor, a):
        if mistakes and set(offsets[(offsets < 0) | (offsets >= tensor.numel())].tolist()) == observed:
            does = " and ".join(what for what, _ in mistakes)
            checks = "; ".join(check.format(access=access, tensor=name, width=a.shape[-1]) for _, check in mistakes)
            return f"that is {does}: {checks}"
    if min(observed) < 0:
        return "an offset came out negative: check how you compute times and offsets"
    return (
        f"that is where no single mistake reaches: check both masks of the {access}, and check the row stride "
        f"(a row of {name} holds D = {a.shape[-1]} entries)"
    )


def how_far(outside: torch.Tensor, numel: int) -> str:
    """ "3 elements past the end and 1 element before the start" for offsets outside a tensor of ``numel`` elements."""
    after, before = int((outside >= numel).sum()), int((outside < 0).sum())
    return " and ".join(
        f"{count} element{'s' if count > 1 else ''} {where}"
        for count, where in ((after, "past the end"), (before, "before the start"))
        if count
    )


def store_advice(guarded: Guarded, a: torch.Tensor) -> str:
    """What to look at when the kernel stored into the guard bands of ``guarded``."""
    if guarded.name != "h":
        return f"your kernel only loads from {guarded.name}_ptr; it stores into h_ptr alone"
    changed = guarded.buffer.cpu() != UNWRITTEN  # h's bands hold UNWRITTEN, a finite sentinel
    changed[guarded.guard : guarded.guard + guarded.tensor.numel()] = False
    return out_of_bounds_advice("h", guarded.tensor, changed.nonzero().flatten() - guarded.guard, a, "store")


@contextlib.contextmanager
def loads_recorded() -> Iterator[list[np.ndarray] | None]:
    """Meanwhile, the address of every active lane of every load Triton's interpreter runs (its builder's
    ``create_masked_load``, which plain loads go through too); None where loads cannot be watched: compiled on a GPU,
    or a Triton whose interpreter is laid out differently."""
    builder = None
    if triton_mode() == "interpreter":
        try:
            from triton.runtime.interpreter import interpreter_builder as builder
        except ImportError:
            pass
    load = getattr(builder, "create_masked_load", None)
    if load is None:
        yield None
        return
    addresses: list[np.ndarray] = []

    def recorded(pointers, mask, *args, **kwargs):
        lanes = np.broadcast_to(np.asarray(mask.data, dtype=bool), np.shape(pointers.data))
        addresses.append(np.asarray(pointers.data)[lanes].astype(np.int64))
        return load(pointers, mask, *args, **kwargs)

    builder.create_masked_load = recorded
    try:
        yield addresses
    finally:
        del builder.create_masked_load  # the class's method again


def loaded_outside(guarded: Guarded, addresses: np.ndarray) -> torch.Tensor:
    """Offsets, from the start of ``guarded.tensor``, of the loaded ``addresses`` that fall in its guard bands."""
    size = guarded.buffer.element_size()
    start, first, last = (
        guarded.tensor.data_ptr(),
        guarded.buffer.data_ptr(),
        guarded.buffer.data_ptr() + guarded.buffer.nbytes,
    )
    in_buffer = addresses[(addresses >= first) & (addresses < last)]
    offsets = np.unique((in_buffer - start) // size)
    return torch.from_numpy(offsets[(offsets < 0) | (offsets >= guarded.tensor.numel())])


class Launch(NamedTuple):
    h: torch.Tensor
    block_t: int  # the steps a time block holds on this launch
    # Per input, the offsets outside it that the kernel loaded; None where loads cannot be watched.
    loaded_outside: dict[str, torch.Tensor] | None


def launch_guarded(
    kernel: Callable[..., Any],
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor,
    nan_bands: tuple[str, ...] = INPUTS,
    dtype: torch.dtype = torch.float32,
) -> Launch:
    """The learner's kernel through ``launch_scan`` on copies of a, b, h0 in ``dtype`` inside guard bands (NaN, or
    zeros for inputs not in ``nan_bands``), into a float32 h inside bands of ``UNWRITTEN``; it starts as ``UNWRITTEN``
    too. ``CheckFailed`` names the first tensor the kernel stored outside of."""
    a, b, h0 = on_kernel_device(a, b, h0, dtype=dtype)
    guard = guard_size(a)
    # Inputs whose out-of-bounds loads should give finite values have bands of 0 (to find which input's band a
    # NaN in h came from); h's bands hold UNWRITTEN, so a NaN loaded and stored out of bounds still shows.
    inputs = [
        Guarded.around(name, x, guard, sentinel=None if name in nan_bands else 0.0)
        for name, x in zip(INPUTS, (a, b, h0))
    ]
    h = Guarded.around("h", torch.full_like(a, UNWRITTEN, dtype=torch.float32), guard, sentinel=UNWRITTEN)
    with loads_recorded() as addresses:
        call_learner_in_place(kernel_scan.launch_scan, *(item.tensor for item in inputs), kernel=kernel, out=h.tensor)
    for item in (h, *inputs):
        if any(item.out_of_bounds_writes()):
            expect_guards_intact(item, advice=store_advice(item, a))
    loaded = None
    if addresses is not None:
        everything = np.concatenate(addresses) if addresses else np.zeros(0, dtype=np.int64)
        loaded = {item.name: loaded_outside(item, everything) for item in inputs}
    return Launch(h.tensor.cpu(), padded_sizes(a)[0], loaded)


def first_index(mask: torch.Tensor) -> str:
    """``[b=…, t=…, d=…]`` of the first True entry of a (B, T, D) mask."""
    return "[" + ", ".join(f"{axis}={int(i)}" for axis, i in zip("btd", mask.nonzero()[0])) + "]"


BATCH_OFFSET = "check the batch offset: batch row b starts b * steps * width entries in"


def expect_loop_states(
    kernel: Callable[..., Any], a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, dtype: torch.dtype = torch.float32
) -> None:
    """The learner's kernel, launched inside guard bands on inputs in ``dtype``, stores every entry of a float32 h,
    each close to the float64 loop of the inputs rounded to ``dtype``."""
    a, b, h0 = (x.to(dtype) for x in (a, b, h0))
    expected = loop64(a, b, h0).float()
    h, block_t, _ = launch_guarded(kernel, a, b, h0, dtype=dtype)
    unwritten = h == UNWRITTEN
    if bool(unwritten.any()):
        never = (
            f"never stored h at {first_index(unwritten)} ({int(unwritten.sum())} of {h.numel()} entries left unwritten)"
        )
        first_step = int(unwritten.any(dim=2).any(dim=0).nonzero()[0])
        if h.shape[0] > 1 and not bool(unwritten[0].any()):
            raise CheckFailed(f"{never}, while batch row 0 is stored whole: {BATCH_OFFSET}")
        if first_step > 0 and bool(unwritten[:, first_step:].all()):
            if first_step % block_t == 0:
                raise CheckFailed(
                    f"{never}: no step from t = {first_step} on is stored, as if the block loop stopped "
                    "there; it must visit every block, range(0, steps, BLOCK_T)"
                )
            raise CheckFailed(
                f"{never}: no step from t = {first_step} on is stored, inside a block of {block_t} steps: "
                "the time mask of the store is times < steps"
            )
        raise CheckFailed(
            f"{never}: store every real step and column; check the store's mask and the block loop's range"
        )
    what = "h" if dtype == torch.float32 else f"h from {str(dtype).removeprefix('torch.')} inputs"
    close = torch.isclose(h, expected, atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE).flatten(1).all(dim=1)
    note = ""
    if len(close) > 1 and bool(close[0]) and not bool(close.all()):
        note = f"batch row 0 is right, batch row {int((~close).nonzero()[0])} is not: {BATCH_OFFSET}. "
    try:
        expect_tensor_close(h, expected, what, STATES, atol=KERNEL_TOLERANCE, rtol=KERNEL_TOLERANCE)
    except CheckFailed as failure:
        raise CheckFailed(note + str(failure)) from failure


def kernel_case(
    name: str, batch: int, steps: int, width: int, hints: tuple[str, ...], priority: int = SPECIFIC, **options: Any
) -> Case:
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


def half_precision_case(kernel: Callable[..., Any]) -> None:
    """float16 and bfloat16 gates, inputs and h0 into a float32 h, against the float64 loop of those rounded inputs:
    at T = 100 with long memory a float32 scan is off by about 1e-6, a scan in the half type by 1e-3 or more."""
    a, b, h0 = random_inputs("half-precision inputs", 1, 100, 3, gates="long_memory", with_h0=True)
    for dtype in HALF_TYPES:
        expect_loop_states(kernel, a, b, h0, dtype)


def stays_in_bounds(kernel: Callable[..., Any]) -> None:
    """No store outside h (seen in the guard bands) and no load outside a, b or h0, on a wide shape and a narrow one.
    Loads are seen by their addresses under the interpreter (``loads_recorded``), elsewhere by the NaN of the bands
    reaching h, traced to its band by launching again with one input's bands NaN at a time."""
    for batch, steps, width in (WIDE, NARROW):
        a, b, h0 = random_inputs(f"in bounds: {width}", batch, steps, width, with_h0=True)
        launch = launch_guarded(kernel, a, b, h0)
        if launch.loaded_outside is not None:
            for name, tensor in zip(INPUTS, (a, b, h0)):
                outside = launch.loaded_outside[name]
                if len(outside):
                    raise CheckFailed(
                        f"read {how_far(outside, tensor.numel())} of {name} (out of bounds): "
                        f"{out_of_bounds_advice(name, tensor, outside, a, 'load')}"
                    )
        leaked = launch.h.isnan()
        if bool(leaked.any()):
            # No band reproduces it: the kernel made the NaN itself, which the value rows report.
            source = next(
                (name for name in INPUTS if bool(launch_guarded(kernel, a, b, h0, (name,)).h.isnan().any())), None
            )
            if source is not None:
                unwatched = (
                    ""
                    if launch.loaded_outside is not None
                    else (" (loads cannot be watched one by one here, so only those whose NaN reaches h show)")
                )
                raise CheckFailed(
                    f"read outside {source} (out of bounds): the NaN of its guard band reached h at "
                    f"{first_index(leaked)} (B = {batch}, T = {steps}, D = {width}); check the masks and offsets "
                    f"of your loads{unwatched}"
                )


def kernel_cases() -> list[Case]:
    return [
        kernel_case(
            "one block: T = 8, D = 3",
            1,
            8,
            3,
            (
                "Load a block of gates and inputs, combine them with tl.associative_scan(…, combine_fn=_compose), "
                "then h = gate_products * carry + local_states.",
                "tl.associative_scan((gates, inputs), axis=0, combine_fn=_compose) returns the pair (A_cum, B_cum).",
            ),
        ),
        # One block in time and columns, h0 = 0: only where each batch row's elements lie can go wrong here.
        kernel_case(
            "batch rows apart: B = 3, T = 8, D = 3",
            3,
            8,
            3,
            (
                "Each program owns batch row tl.program_id(0): element (b, t, d) sits at (b * steps + t) * width + d, "
                "so batch row b starts b * steps * width entries in, for a, b and h alike.",
            ),
        ),
        kernel_case(
            "several blocks on both axes: B = {}, T = {}, D = {}".format(*WIDE),
            *WIDE,
            (
                "Past the end of time or of the columns, load the identity step: other=1.0 for gates, 0.0 for inputs.",
                "Each program owns one column block: its columns are tl.program_id(1) * BLOCK_D + tl.arange(0, "
                "BLOCK_D).",
            ),
            GENERAL,
        ),
        Case(
            "no load or store out of bounds",
            stays_in_bounds,
            (
                "Every load and every store needs the mask valid = (times < steps) & (columns < width), "
                "on both axes: the last time block and the last column block stick out of the tensor; so does the h0 "
                "load.",
                "Element (b, t, d) sits at (b * steps + t) * width + d: the row stride is width, not BLOCK_D or steps.",
            ),
            priority=OUT_OF_BOUNDS,
        ),
        # One block under the interpreter and compiled: a kernel that ignores h0 fails here, one that drops the
        # carry between blocks does not (it fails the next row).
        kernel_case(
            "initial state and long memory",
            2,
            16,
            3,
            ("Start the carry from h0 (it is already loaded for you) and multiply it by the block's gate products.",),
            gates="long_memory",
            with_h0=True,
        ),
        # Blocks hold 16 steps under the interpreter and 64 or 128 compiled: T = 300 spans several either way.
        kernel_case(
            "the carry crosses blocks: T = 300",
            1,
            300,
            4,
            (
                "After each block the carry must become the block's last state: pick the row BLOCK_T - 1 of states "
                "with tl.where and tl.sum over axis 0.",
                "Padding steps are identity steps, so the last row of a partial block is still the last real state.",
            ),
        ),
        kernel_case(
            f"a last block of one step: T = {ONE_STEP_LAST_BLOCK}",
            1,
            ONE_STEP_LAST_BLOCK,
            2,
            (
                f"The block loop must visit every block, range(0, steps, BLOCK_T): with T = {ONE_STEP_LAST_BLOCK} the "
                f"last block holds the single step t = {ONE_STEP_LAST_BLOCK - 1}, which a loop stopping at steps - 1 "
                "never reaches.",
            ),
        ),
        kernel_case(
            "negative gates",
            1,
            34,
            2,
            ("Nothing in the kernel may assume a_t ≥ 0: no logarithms, no square roots.",),
            gates="signed",
            with_h0=True,
        ),
        Case(
            "gates of exactly 0, -1 and 1",
            exact_gates_case,
            (
                "A gate of 0 makes the gate products 0: never divide by them; tl.associative_scan with _compose only "
                "multiplies.",
            ),
        ),
        Case(
            "float16 and bfloat16 inputs: the scan runs in float32",
            half_precision_case,
            (
                "Convert what you load to float32 before the scan: tl.load(...).to(tl.float32), for gates and inputs "
                "alike; h is stored in its own dtype by states.to(h_ptr.dtype.element_ty).",
                "A scan in float16 loses about 1e-3 of every state per step it carries, and bfloat16 more: over T = "
                "100 steps of long memory that is far above float32's 1e-6.",
            ),
        ),
    ]


EXERCISES = [
    Exercise("K1.diagonal_scan_kernel", getattr(kernel_scan, "diagonal_scan_kernel", None), tuple(kernel_cases())),
]
