"""The exercises of Lesson 03 (the parity barrier) and the properties ``check()`` tests them on.

Glossary: ``gate`` = a(1), ``drive`` = b(1), ``dtype`` = the finite number set the state lives in,
``bits`` = the input word x_1..x_T in {0, 1}. Expected freeze steps come from ``freeze64``, a
loop over the states that ``lrnn_course.precision.iterate`` rounds (written apart from the
solution); expected parities from ``cumsum % 2`` in integers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import ops, precision, scan
from ..checker import (
    GENERAL,
    SPECIFIC,
    Case,
    CheckFailed,
    Exercise,
    call_learner,
    call_learner_in_place,
    expect_tensor_close,
    expect_unchanged,
    generator_for,
    substituted,
)
from .lesson01 import loop64

BITS = "(B, T)"


def freeze64(gate: float, drive: float, dtype: torch.dtype, max_steps: int) -> tuple[int, float] | None:
    """The first k with h_{k+1} = h_k, found by listing the rounded states (in growing windows)."""
    window = 256
    while True:
        window = min(window, max_steps + 1)
        states = [0.0] + precision.iterate(gate, drive, window, dtype).flatten().tolist()
        found = next(((k, states[k]) for k in range(window) if states[k + 1] == states[k]), None)
        if found is not None or window == max_steps + 1:
            return found
        window *= 8


LATE_HINTS = (
    "Your value is the frozen state, but your k comes after the first repeat: k is the first step with h_{k+1} = h_k. "
    "Iterate, compare each new state with the current one, and return the current step and state at the first repeat.",
    "A formula for k (from the gap to the limit, or from logarithms) can be a step off: only the rounded iteration "
    "decides.",
)


def expect_freeze(got: Any, expected: tuple[int, float] | None, what: str, explain_late: bool = False) -> None:
    """``got`` is ``expected``; with ``explain_late``, the frozen value at a later step gets ``LATE_HINTS`` (on rows
    whose own hints are about how each step rounds, which such a mistake does not concern)."""
    if expected is None:
        if got is not None:
            raise CheckFailed(f"{what}: expected None (the state never stops moving), got {got!r}")
        return
    if not isinstance(got, tuple) or len(got) != 2:
        raise CheckFailed(f"{what}: expected a pair (step, value) like {expected}, got {got!r}")
    step, value = got
    if isinstance(step, torch.Tensor) or isinstance(value, torch.Tensor):
        raise CheckFailed(f"{what}: return plain numbers (int(k), float(h)), got tensors {got!r}")
    if step != expected[0] or value != expected[1]:
        late = explain_late and value == expected[1] and isinstance(step, int) and step > expected[0]
        raise CheckFailed(
            f"{what}: yours (step {step}, value {value}), expected (step {expected[0]}, value {expected[1]!r})",
            LATE_HINTS if late else (),
        )


def freeze_case(
    name: str,
    gate: float,
    drive: float,
    dtype: torch.dtype,
    hints: tuple[str, ...],
    max_steps: int = 100_000,
    priority: int = SPECIFIC,
) -> Case:
    def run(fn: Callable[..., Any]) -> None:
        got = call_learner(fn, gate, drive, dtype, max_steps=max_steps)
        expect_freeze(
            got,
            freeze64(gate, drive, dtype, max_steps),
            f"gate {gate}, drive {drive}, {dtype}",
            explain_late=priority != EDGE,
        )

    return Case(name, run, hints, priority)


# The edge rows (frozen at once, after one step, never, cut off by max_steps) name one mistake each, an
# off-by-one or a missing None, which also breaks every row at gate 0.9: they are the rows to explain.
EDGE = SPECIFIC + 1


def freeze_cases() -> list[Case]:
    def each_operation_rounds(fn: Callable[..., Any]) -> None:
        # Rounding gate * h + drive once per step (computed in float64 or float32) lands one (float16) or two
        # (bfloat16) steps off here.
        for dtype in (torch.float16, torch.bfloat16):
            got = call_learner(fn, 0.3, 1.0, dtype, max_steps=1_000)
            expect_freeze(got, freeze64(0.3, 1.0, dtype, 1_000), f"gate 0.3, drive 1.0, {dtype}", explain_late=True)

    def grid(fn: Callable[..., Any]) -> None:
        rng = generator_for("freeze grid")
        for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
            for gate, drive in torch.rand(4, 2, generator=rng).tolist():
                got = call_learner(fn, gate, 4 * drive, dtype, max_steps=600)
                expect_freeze(
                    got,
                    freeze64(gate, 4 * drive, dtype, 600),
                    f"gate {gate:.4f}, drive {4 * drive:.4f}, {dtype}",
                    explain_late=True,
                )

    def last_step_tried(fn: Callable[..., Any]) -> None:
        # Judged against the learner's own freeze step k (53 for gate 0.9, drive 1 in float16), so that a step computed
        # wrongly, which the rows above explain, does not break this row: max_steps = k is just enough, k - 1 too few.
        found = call_learner(fn, 0.9, 1.0, torch.float16, max_steps=100_000)
        if not (isinstance(found, tuple) and len(found) == 2 and isinstance(found[0], int) and found[0] > 0):
            return
        step = found[0]
        for max_steps, expected in ((step - 1, None), (step, found), (step + 1, found)):
            got = call_learner(fn, 0.9, 1.0, torch.float16, max_steps=max_steps)
            if got != expected:
                raise CheckFailed(
                    f"gate 0.9, drive 1.0, float16: your function finds {found} with max_steps = 100000, but "
                    f"with max_steps = {max_steps} it returns {got!r}, expected {expected!r}"
                )

    def negative_gates(fn: Callable[..., Any]) -> None:
        # With a gate in (-1, 0) the rounded state can hop between two values for ever; a "freeze" judged by a tolerance
        # (|h_{k+1} - h_k| ≤ eps·|h_k|) stops the first of these at step 7.
        for gate, drive, dtype in (
            (-0.46387236489050476, -2.9193853673321595, torch.bfloat16),
            (-0.7, 1.5, torch.float16),
            (-0.3, -1.0, torch.float16),
            (-0.5, -3.0, torch.float16),
        ):
            got = call_learner(fn, gate, drive, dtype, max_steps=1_000)
            expect_freeze(got, freeze64(gate, drive, dtype, 1_000), f"gate {gate}, drive {drive}, {dtype}")

    return [
        freeze_case(
            "float16, gate 0.9, drive 1: step 53 at 9.96875",
            0.9,
            1.0,
            torch.float16,
            (
                "Keep the state as a 0-d tensor of the dtype: state = torch.zeros((), dtype=dtype); "
                "then state = gate * state + drive.",
                "Before each step compute the next state; if it equals the current one, return (step, float(state)).",
                "Keep gate and drive as Python floats: PyTorch rounds each result to the dtype, but a gate rounded "
                "first (0.9 is 0.89990234375 in float16) stops the state at a different step and value.",
            ),
        ),
        freeze_case(
            "bfloat16 freezes sooner (step 33)",
            0.9,
            1.0,
            torch.bfloat16,
            ("bfloat16 has 8 significant bits, float16 11: the coarser grid stops the state earlier.",),
        ),
        freeze_case(
            "float32 freezes at step 138",
            0.9,
            1.0,
            torch.float32,
            (
                "Do not compute in Python floats (float64): every step must round to the dtype.",
                "Compute with PyTorch exactly as written, state = gate * state + drive with state a 0-d tensor of the "
                "dtype: PyTorch multiplies by the Python gate in its own way (in float32 for these dtypes), which "
                "rounding by hand does not reproduce.",
            ),
        ),
        freeze_case(
            "drive 0: frozen from the start (step 0)",
            0.5,
            0.0,
            torch.float16,
            ("h_0 = 0 and 0.5 · 0 + 0 = 0: the state never moves, so k = 0 and the value is 0.0.",),
            priority=EDGE,
        ),
        freeze_case(
            "gate 0: frozen after one step",
            0.0,
            3.0,
            torch.float16,
            ("h_1 = 3 and h_2 = 0 · 3 + 3 = 3: k = 1.",),
            priority=EDGE,
        ),
        freeze_case(
            "gate -1 never freezes: None",
            -1.0,
            1.0,
            torch.float16,
            (
                "The state alternates 1, 0, 1, 0: after max_steps steps without a repeat of the same value, return "
                "None.",
            ),
            max_steps=1_000,
            priority=EDGE,
        ),
        freeze_case(
            "respects max_steps",
            0.9,
            1.0,
            torch.float32,
            ("Stop after max_steps steps: float32 needs 138, so with max_steps = 100 the answer is None.",),
            max_steps=100,
            priority=EDGE,
        ),
        Case(
            "each operation rounds: gate 0.3, drive 1 (float16 step 6, bfloat16 step 4)",
            each_operation_rounds,
            (
                "Compute gate * state + drive with state a 0-d tensor of dtype: PyTorch rounds the product to the "
                "dtype, then the sum.",
                "Computing the step in float64 or float32 and rounding once "
                "(torch.tensor(gate * float(state) + drive, dtype=dtype)) skips the rounding of the product: in "
                "float16 the state then stops at step 7 instead of 6.",
            ),
        ),
        # After the rows about rounding: a step found wrongly is the first thing to fix.
        Case(
            "max_steps = k finds step k, max_steps = k - 1 does not",
            last_step_tried,
            (
                "k runs from 0 to max_steps, both included: compare h_{k+1} with h_k for k = 0, 1, ..., max_steps, "
                "that is for k in range(max_steps + 1), and return None only when none of them repeats.",
            ),
            SPECIFIC,
        ),
        Case(
            "negative gates and drives: some states hop between two values for ever (None)",
            negative_gates,
            (
                "The state is frozen only when the next state equals it exactly: compare h_{k+1} == h_k, no "
                "tolerance. A rounded state that hops between two neighbouring values never freezes.",
            ),
            SPECIFIC,
        ),
        Case(
            "random gates in [0, 1], four dtypes",
            grid,
            ("Theorem 1: with a gate in [0, 1] every state freezes.",),
            GENERAL,
        ),
    ]


# The scans of Lesson 01, by their names in lrnn_course.scan, and ops.diagonal_scan, which runs one of them (or the
# kernel): whichever the learner runs, the check can swap it.
LESSON01_SCANS = (
    "sequential_scan",
    "hillis_steele_scan",
    "blelloch_scan",
    "chunked_scan",
    "log_space_scan",
    "signed_log_space_scan",
)
MACHINE_HINTS = (
    "The machine: a(1) = -1, b(1) = 1 (h -> 1 - h) and a(0) = 1, b(0) = 0 (h -> h), so gates = 1 - 2 * bits and "
    "inputs = bits.",
    "Every state is exactly 0 or 1, in any dtype: a running count of the ones (cumsum) is not, past 256 in bfloat16.",
)


def runs_a_scan(fn: Callable[..., Any]) -> None:
    """The states come from a scan of Lesson 01: swapped for one that starts from h_0 = 1 instead of 0, a machine built
    on it returns 1 - parity (still 0s and 1s, so that rounding or casting them changes nothing), whatever scan it
    ran."""
    bits = (torch.rand(3, 40, generator=generator_for("runs a scan")) < 0.5).float()
    calls = []

    def scan_from_one(
        a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        calls.append(1)
        return loop64(a, b, (torch.zeros_like(a[:, 0]) if h0 is None else h0) + 1).to(a.dtype)

    with substituted(
        fn,
        scan_from_one,
        names=(*LESSON01_SCANS, "diagonal_scan"),
        originals=[*(getattr(scan, name) for name in LESSON01_SCANS), ops.diagonal_scan],
        modules=[scan, ops],
    ):
        got = call_learner(fn, bits)
    if not calls:
        raise CheckFailed(
            "your function never ran a scan of Lesson 01 (sequential_scan, hillis_steele_scan or chunked_scan "
            "from lrnn_course.scan): build the gates and inputs from the bits and run one on them"
        )
    try:
        expect_tensor_close(got, 1 - (bits.long().cumsum(dim=1) % 2).float(), "h", BITS, atol=0, rtol=0)
    except CheckFailed as mismatch:
        raise CheckFailed(
            "with the scan of Lesson 01 swapped for one that starts from h_0 = 1 (the states become 1 - parity), "
            f"your states should follow it, and do not: they are not what the scan returns. {mismatch}"
        ) from None


def parity_cases() -> list[Case]:
    def matches(
        name: str,
        batch: int,
        steps: int,
        dtype: torch.dtype,
        hints: tuple[str, ...],
        priority: int = SPECIFIC,
        value_hints: tuple[str, ...] = (),
    ) -> Case:
        """Random bits in ``dtype``; ``value_hints`` replace ``hints`` when the dtype is right and the values are
        not."""

        def run(fn: Callable[..., Any]) -> None:
            bits = (torch.rand(batch, steps, generator=generator_for(name)) < 0.5).to(dtype)
            expected = (bits.long().cumsum(dim=1) % 2).to(dtype)
            got = call_learner(fn, bits)
            try:
                expect_tensor_close(got, expected, "h", BITS, atol=0, rtol=0)
            except CheckFailed as mismatch:
                values_wrong = isinstance(got, torch.Tensor) and got.shape == expected.shape and got.dtype == dtype
                raise CheckFailed(str(mismatch), value_hints if values_wrong else ()) from None

        return Case(name, run, hints, priority)

    def all_ones(fn: Callable[..., Any]) -> None:
        ones = torch.ones(1, 8)
        expect_tensor_close(
            call_learner(fn, ones),
            torch.tensor([[1.0, 0, 1, 0, 1, 0, 1, 0]]),
            "h on 1 1 1 1 1 1 1 1",
            BITS,
            atol=0,
            rtol=0,
        )

    def all_zeros(fn: Callable[..., Any]) -> None:
        zeros = torch.zeros(2, 5)
        expect_tensor_close(call_learner(fn, zeros), torch.zeros(2, 5), "h on 0 0 0 0 0", BITS, atol=0, rtol=0)

    def zeros_between_ones(fn: Callable[..., Any]) -> None:
        bits = torch.tensor([[1.0, 0, 0, 1, 0, 1, 1, 0, 0, 0]])
        expect_tensor_close(
            call_learner(fn, bits),
            torch.tensor([[1.0, 1, 1, 0, 0, 1, 0, 0, 0, 0]]),
            "h on 1 0 0 1 0 1 1 0 0 0",
            BITS,
            atol=0,
            rtol=0,
        )

    def unchanged(fn: Callable[..., Any]) -> None:
        bits = (torch.rand(2, 9, generator=generator_for("unchanged")) < 0.5).float()
        original = bits.clone()
        call_learner_in_place(fn, bits)
        expect_unchanged([original], [bits], ["bits"])

    return [
        Case(
            "all ones: 1 0 1 0 ...",
            all_ones,
            (
                "The symbol 1 uses the gate a(1) = -1 and the input b(1) = 1: h -> 1 - h.",
                "gates = 1 - 2 * bits and inputs = bits give exactly a(1) = -1, b(1) = 1, a(0) = 1, b(0) = 0.",
            ),
        ),
        Case("all zeros: the state stays 0", all_zeros, ("The symbol 0 uses a(0) = 1, b(0) = 0: h -> h.",)),
        Case(
            "a zero bit keeps the state: 1 0 0 1 0 1 1 0 0 0",
            zeros_between_ones,
            (
                "a(0) = 1, b(0) = 0: a zero bit leaves the state alone (h -> h); a gate of 0 would reset it to 0.",
                "gates = 1 - 2 * bits gives a(1) = -1 and a(0) = 1; -bits gives a(0) = 0.",
            ),
        ),
        matches(
            "matches the running parity",
            3,
            40,
            torch.float32,
            ("Run the scan of Lesson 01 on gates (B, T, 1) and inputs (B, T, 1), then drop the last dimension.",),
            GENERAL,
        ),
        matches(
            "keeps bfloat16",
            1,
            300,
            torch.bfloat16,
            ("Do not convert the bits: compute in their dtype.",),
            value_hints=MACHINE_HINTS,
        ),
        matches(
            "exact at length 10 000 in float16",
            2,
            10_000,
            torch.float16,
            (
                "Every state is exactly 0 or 1, so no rounding can ever happen — in any dtype.",
                "A Python loop over 10 000 steps works too, but the parallel scan of Lesson 01 is much faster.",
                "A running count of the ones in float16 (bits.cumsum(1) % 2) is not the machine, and stops being "
                "exact at 2048: after that float16 has no odd whole numbers.",
            ),
        ),
        Case("does not modify its input", unchanged, ("Compute new tensors from bits instead of writing into it.",)),
        # Last: a machine wrong in other ways does not follow the swapped scan either, and the rows above explain it.
        Case(
            "runs a scan of Lesson 01 on the gates and inputs",
            runs_a_scan,
            (
                "The exercise is the LRNN itself: gates = 1 - 2 * bits and inputs = bits, (B, T, 1) each, through a "
                "scan of Lesson 01 (from lrnn_course.scan import hillis_steele_scan); the states are what the scan "
                "returns.",
                "A count of the ones, a product of the gates or a loop of your own computes the parity without the "
                "machine: the check swaps the scan for one that starts from h_0 = 1 and expects your states to follow "
                "it.",
            ),
            GENERAL,
        ),
    ]


EXERCISES = [
    Exercise("03.freeze_step", precision.freeze_step, tuple(freeze_cases())),
    Exercise("03.parity_machine", precision.parity_machine, tuple(parity_cases())),
]
