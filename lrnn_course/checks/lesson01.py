"""The exercises of Lesson 01 (diagonal scans) and the properties ``check()`` tests them on.

Glossary: ``a`` = gates a_t (the diagonal of A(x_t)), ``b`` = inputs b_t = B(x_t), ``h0`` = H_0,
``h`` = states H_1..H_T, all (B, T, D) except h0 (B, D). Expected values come from
``loop64``, a float64 loop written here independently of the solutions in ``lrnn_course.scan``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .. import scan
from ..check import Case, CheckFailed, Exercise, call_learner, call_learner_in_place, first_line, expect_tensor_close, expect_unchanged, generator_for

ScanCall = Callable[[Callable[..., Any], torch.Tensor, torch.Tensor, torch.Tensor | None], Any]
STATES = "(B, T, D)"


def loop64(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t in float64, the oracle every scan is compared with."""
    h = torch.zeros_like(a[:, 0], dtype=torch.float64) if h0 is None else h0.double()
    states = []
    for t in range(a.shape[1]):
        h = a[:, t].double() * h + b[:, t].double()
        states.append(h)
    return torch.stack(states, dim=1)


def random_inputs(
    name: str, batch: int, steps: int, width: int, gates: str = "signed", with_h0: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Seeded float64 inputs. ``gates``: "positive" in (0, 1), "signed" in (-1, 1), or "long_memory":
    random signs and magnitudes in [1 - 2/T, 1], so that inputs from the first step still weigh
    about exp(-1) at the last one and a scan that drops distant steps cannot hide in the tolerance.
    """
    rng = generator_for(name)
    uniform = torch.rand(batch, steps, width, generator=rng, dtype=torch.float64)
    signs = torch.where(torch.rand(batch, steps, width, generator=rng) < 0.5, -1.0, 1.0).double()
    a = {"positive": uniform, "signed": 2 * uniform - 1, "long_memory": signs * (1 - 2 * uniform / steps)}[gates]
    b = torch.randn(batch, steps, width, generator=rng, dtype=torch.float64)
    h0 = torch.randn(batch, width, generator=rng, dtype=torch.float64) if with_h0 else None
    return a, b, h0


def matches_loop(
    name: str, call: ScanCall, batch: int, steps: int, width: int, hints: tuple[str, ...] | None = None, **options: Any
) -> Case:
    """A case comparing the learner's scan with ``loop64`` on seeded inputs (``options`` go to ``random_inputs``)."""

    def run(fn: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs(name, batch, steps, width, **options)
        expected = loop64(a, b, h0)  # before the call, so that a function writing into its inputs cannot move it
        expect_tensor_close(call_learner(call, fn, a, b, h0), expected, "h", STATES)

    return Case(name, run, HINTS.get(name, ()) if hints is None else hints)


def exact_case(name: str, call: ScanCall, a: torch.Tensor, b: torch.Tensor, hints: tuple[str, ...]) -> Case:
    """A case on hand-made inputs whose states are exact in float64."""

    def run(fn: Callable[..., Any]) -> None:
        expect_tensor_close(call_learner(call, fn, a.clone(), b.clone(), None), loop64(a, b), "h", STATES, atol=0, rtol=0)

    return Case(name, run, hints)


HINTS: dict[str, tuple[str, ...]] = {
    "returns h of shape (B, T, D)": (
        "Return every state, not only the last one: h[:, t] is the state after step t.",
        "Collect the states of each step in a list and torch.stack(..., dim=1) them.",
    ),
    "matches the float64 loop": (
        "Each step is h = a[:, t] * h + b[:, t], starting from h0 (zeros when h0 is None).",
        "Check the order: multiply the previous state by this step's gate, then add this step's input.",
    ),
    "length 1": ("With T = 1 the only state is a[:, 0] * h0 + b[:, 0].",),
    "odd length 63": ("Nothing in the recurrence needs T to be even or a power of two.",),
    "uses the initial state h0": (
        "h0 is the state before the first step: the first state is a[:, 0] * h0 + b[:, 0].",
    ),
    "negative gates": (
        "A negative gate flips the sign of the state; nothing may take abs() or log() of a gate.",
    ),
    "gates exactly ±1": ("With a = ±1 and integer inputs every state is an exact integer.",),
    "batch of 3": ("Batch items never mix: index a[:, t], not a[0, t].",),
    "keeps float32 as float32": ("Do not convert the inputs; new tensors should follow a.dtype.",),
    "does not modify its inputs": ("Build new tensors (h = a[:, t] * h + b[:, t]) instead of writing into b or a.",),
    "gradient matches autograd": (
        "Writing states into a preallocated tensor and reading them back breaks autograd.",
        "Keep the states in a Python list and torch.stack them at the end.",
    ),
    "long sequence T = 1000": ("A round must combine with the step `offset` positions earlier, for offsets 1, 2, 4, ...",),
}


def scan_cases(call: ScanCall) -> list[Case]:
    """The properties every diagonal scan must have, whatever its algorithm."""

    def shape(fn: Callable[..., Any]) -> None:
        a, b, _ = random_inputs("shape", 2, 5, 3)
        got = call_learner(call, fn, a, b, None)
        if not isinstance(got, torch.Tensor) or got.shape != a.shape:
            found = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise CheckFailed(f"expected h of shape {tuple(a.shape)} {STATES}, got {found}")

    def float32(fn: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs("float32", 2, 17, 4, with_h0=True)
        got = call_learner(call, fn, a.float(), b.float(), h0.float())
        expect_tensor_close(got, loop64(a.float(), b.float(), h0.float()).float(), "h", STATES, atol=1e-5, rtol=1e-5)

    def unchanged(fn: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs("unchanged", 2, 9, 3, with_h0=True)
        originals = [a.clone(), b.clone(), h0.clone()]
        call_learner_in_place(call, fn, a, b, h0)
        expect_unchanged(originals, [a, b, h0], ["a", "b", "h0"])

    def gradient(fn: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs("gradient", 2, 11, 3, with_h0=True)
        weights = torch.randn(a.shape, generator=generator_for("weights"), dtype=torch.float64)
        inputs = [x.clone().requires_grad_() for x in (a, b, h0)]
        got = call_learner(call, fn, *inputs)
        if not isinstance(got, torch.Tensor) or not got.requires_grad:
            raise CheckFailed("h is not connected to the inputs' autograd graph (no .detach(), .item() or numpy)")
        try:
            yours = torch.autograd.grad((got * weights).sum(), inputs, allow_unused=True)
        except RuntimeError as error:
            raise CheckFailed(f"backward failed: {first_line(error)}") from error
        expected = torch.autograd.grad((loop64(*inputs) * weights).sum(), inputs)
        for name, mine, want in zip(["a", "b", "h0"], yours, expected):
            if mine is None:
                raise CheckFailed(f"h does not depend on {name} through autograd")
            expect_tensor_close(mine, want, f"the gradient for {name}", STATES if name != "h0" else "(B, D)")

    exact_a = torch.tensor([1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0] * 8).reshape(1, 64, 1)
    exact_b = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0] * 8).reshape(1, 64, 1)
    return [
        Case("returns h of shape (B, T, D)", shape, HINTS["returns h of shape (B, T, D)"]),
        matches_loop("matches the float64 loop", call, 2, 17, 4, gates="positive"),
        matches_loop("length 1", call, 2, 1, 3, with_h0=True),
        matches_loop("odd length 63", call, 1, 63, 3, gates="long_memory"),
        matches_loop("uses the initial state h0", call, 2, 9, 3, with_h0=True),
        matches_loop("negative gates", call, 2, 33, 3),
        exact_case("gates exactly ±1", call, exact_a.double(), exact_b.double(), HINTS["gates exactly ±1"]),
        matches_loop("batch of 3", call, 3, 12, 2),
        Case("keeps float32 as float32", float32, HINTS["keeps float32 as float32"]),
        Case("does not modify its inputs", unchanged, HINTS["does not modify its inputs"]),
        Case("gradient matches autograd", gradient, HINTS["gradient matches autograd"]),
    ]


def combine_cases() -> list[Case]:
    """Properties of the scan operator (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2)."""

    def as_pair(value: Any) -> tuple[Any, Any]:
        if not isinstance(value, tuple) or len(value) != 2:
            raise CheckFailed(f"expected a pair (a, b), got {type(value).__name__}")
        return value

    def pairs(name: str, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        rng = generator_for(name)
        return [(2 * torch.rand(2, 6, 3, generator=rng, dtype=torch.float64) - 1,
                 torch.randn(2, 6, 3, generator=rng, dtype=torch.float64)) for _ in range(count)]

    def expect_pair(got: Any, want: tuple[torch.Tensor, torch.Tensor], dims: str = STATES) -> None:
        got_a, got_b = as_pair(got)
        expect_tensor_close(got_a, want[0], "the gate part (first element)", dims)
        expect_tensor_close(got_b, want[1], "the input part (second element)", dims)

    def definition(fn: Callable[..., Any]) -> None:
        (a1, b1), (a2, b2) = pairs("definition", 2)
        expect_pair(call_learner(fn, (a1, b1), (a2, b2)), (a1 * a2, a2 * b1 + b2))

    def order(fn: Callable[..., Any]) -> None:
        earlier, later = (torch.tensor([2.0]), torch.tensor([3.0])), (torch.tensor([5.0]), torch.tensor([7.0]))
        expect_pair(call_learner(fn, earlier, later), (torch.tensor([10.0]), torch.tensor([22.0])), "")

    def associative(fn: Callable[..., Any]) -> None:
        x, y, z = pairs("associative", 3)
        left_first = call_learner(fn, as_pair(call_learner(fn, x, y)), z)
        right_first = call_learner(fn, x, as_pair(call_learner(fn, y, z)))
        expect_pair(left_first, right_first)
        expect_pair(left_first, (x[0] * y[0] * z[0], z[0] * (y[0] * x[1] + y[1]) + z[1]))

    def identity(fn: Callable[..., Any]) -> None:
        (a, b), = pairs("identity", 1)
        one = (torch.ones_like(a), torch.zeros_like(b))
        expect_pair(call_learner(fn, one, (a, b)), (a, b))
        expect_pair(call_learner(fn, (a, b), one), (a, b))

    def matches_scan(fn: Callable[..., Any]) -> None:
        (a, b), = pairs("matches_scan", 1)
        state = (torch.ones_like(a[:, 0]), torch.zeros_like(b[:, 0]))
        for t in range(a.shape[1]):
            state = as_pair(call_learner(fn, state, (a[:, t], b[:, t])))
        expect_tensor_close(state[1], loop64(a, b)[:, -1], "the input part after folding all steps", "(B, D)")

    return [
        Case("matches (a1·a2, a2·b1 + b2)", definition, (
            "Apply (a1, b1) first: h -> a1 h + b1, then (a2, b2): h -> a2 (a1 h + b1) + b2. Expand.",
        )),
        Case("the earlier step acts first", order, (
            "combine is not commutative: the later gate a2 multiplies the earlier input b1.",
            "The answer is (a1 * a2, a2 * b1 + b2), not (a1 * a2, a1 * b2 + b1).",
        )),
        Case("is associative", associative, ("Return exactly the pair of the composed map, no extra terms.",)),
        Case("(1, 0) is the identity", identity, ("Composing with h -> 1 h + 0 must change nothing.",)),
        Case("folding all steps gives the last state", matches_scan, (
            "Folding combine over the steps from (1, 0) gives the map h0 -> h_T; its input part is h_T for h0 = 0.",
        )),
    ]


def rounds_case(call: ScanCall) -> Case:
    """Hillis-Steele must be built on the learner's ``combine``, in ceil(log2 T) rounds."""

    def run(fn: Callable[..., Any]) -> None:
        namespace = getattr(fn, "__globals__", {})
        original, calls = namespace.get("combine"), []

        def counting_combine(earlier: Any, later: Any) -> Any:
            calls.append(1)
            return original(earlier, later)

        a, b, _ = random_inputs("rounds", 1, 63, 2)
        if original is not None:
            namespace["combine"] = counting_combine
        try:
            call_learner(call, fn, a, b, None)
        finally:
            if original is not None:
                namespace["combine"] = original
        rounds = math.ceil(math.log2(63))
        if not calls:
            raise CheckFailed("your scan never called combine; build it from your combine")
        if len(calls) > rounds + 1:
            raise CheckFailed(f"combine was called {len(calls)} times for T = 63; the parallel scan needs {rounds} rounds")

    return Case("uses ⌈log2 T⌉ rounds of combine", run, (
        "Call combine once per round on whole shifted tensors, not once per position.",
        "Round k pairs position t with position t - 2**k; positions t < 2**k pair with the identity (1, 0).",
    ))


def chunk_cases() -> list[Case]:
    """Properties specific to the chunked scan."""

    def with_chunk(size: int) -> ScanCall:
        return lambda fn, a, b, h0: fn(a, b, h0, chunk_size=size)

    pulse = torch.zeros(1, 12, 1, dtype=torch.float64)
    pulse[0, 0, 0] = 1.0
    return [
        matches_loop("chunk size that does not divide T (T = 63, chunk 16)", with_chunk(16), 1, 63, 3, gates="long_memory", hints=(
            "Pad the last chunk with identity steps (a = 1, b = 0) and drop the padding at the end.",
        )),
        matches_loop("chunk size 1", with_chunk(1), 2, 7, 2, with_h0=True),
        matches_loop("one chunk (chunk size > T)", with_chunk(100), 2, 9, 2, with_h0=True),
        exact_case("state carried across chunks", with_chunk(4), torch.ones_like(pulse), pulse, (
            "The state leaving chunk c is the state entering chunk c + 1.",
            "Walk over the chunks in order, keeping the last state of each.",
        )),
        exact_case("entering state scaled by the gate products", with_chunk(4), torch.full_like(pulse, 0.5), pulse, (
            "Inside a chunk the entering state is multiplied by every gate up to t: torch.cumprod of a.",
        )),
    ]


def sequential_call(fn: Callable[..., Any], a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> Any:
    """Call a scan as a learner would: without h0 when there is none."""
    return fn(a, b) if h0 is None else fn(a, b, h0)


def chunked_call(fn: Callable[..., Any], a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> Any:
    """Call a chunked scan with chunks of 4, so that the default cases span several chunks."""
    return fn(a, b, h0, chunk_size=4)


EXERCISES = [
    Exercise("01.sequential_scan", scan.sequential_scan, tuple(scan_cases(sequential_call))),
    Exercise("01.combine", scan.combine, tuple(combine_cases())),
    Exercise(
        "01.hillis_steele_scan",
        scan.hillis_steele_scan,
        (*scan_cases(sequential_call), matches_loop("long sequence T = 1000", sequential_call, 1, 1000, 2, gates="long_memory"), rounds_case(sequential_call)),
    ),
    Exercise("01.chunked_scan", scan.chunked_scan, (*scan_cases(chunked_call), *chunk_cases())),
]
