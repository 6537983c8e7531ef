"""The exercises of Lesson 01 (diagonal scans) and the properties ``check()`` tests them on.

Glossary: ``a`` = gates a_t (the diagonal of A(x_t)), ``b`` = inputs b_t = B(x_t), ``h0`` = H_0,
``h`` = states H_1..H_T, all (B, T, D) except h0 (B, D). Expected values come from
``loop64``, a float64 loop written here independently of the solutions in ``lrnn_course.scan``, and
expected gradients from autograd through it.

Rows that compare values, which many different mistakes break, are ``GENERAL`` and come in order from
the most basic to the most particular, so that the first of them to fail is the nearest to the
mistake. Rows built so that one mistake alone breaks them (h0 ignored, an input written in place, a
graph autograd cannot go back through, a scan that does not work chunk by chunk) outrank them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import scan
from ..checker import (
    GENERAL,
    SPECIFIC,
    Case,
    CheckFailed,
    Exercise,
    OperationLog,
    call_learner,
    call_learner_in_place,
    expect_gradients,
    expect_tensor_close,
    expect_unchanged,
    generator_for,
    learner_gradients,
    substituted,
)

ScanCall = Callable[[Callable[..., Any], torch.Tensor, torch.Tensor, torch.Tensor | None], Any]
STATES = "(B, T, D)"
# A chunked scan without the carry, or without the gate products, breaks many rows at once (h0 enters the
# first chunk as the carry does): the two chunk rows, which only those mistakes break, win the report.
CHUNKS = SPECIFIC + 1
# The half type of the dtype rows. bfloat16 keeps 8 bits: every step of a scan rounds by up to 2**-9 of
# the state, and a dozen steps in any order of operations stay well inside 5e-2.
HALF, HALF_TOLERANCE = torch.bfloat16, 5e-2


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


def reversed_prefixes(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The states of the steps composed the other way round, the last one acting first: h_t = sum over s <= t of
    (a_1 ... a_{s-1}) b_s, with h0 folded into the first step (b_1 -> a_1 h0 + b_1), in float64."""
    a, b = a.double(), b.double()
    if h0 is not None:
        b = torch.cat([a[:, :1] * h0.double()[:, None] + b[:, :1], b[:, 1:]], dim=1)
    gate, total, states = torch.ones_like(a[:, 0]), torch.zeros_like(b[:, 0]), []
    for t in range(a.shape[1]):
        total = total + gate * b[:, t]
        gate = gate * a[:, t]
        states.append(total)
    return torch.stack(states, dim=1)


def expect_states(
    got: Any,
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None,
    tolerance: tuple[float, float],
    order_hints: tuple[str, ...] = (),
) -> None:
    """``got`` against ``loop64`` in the inputs' dtype. With ``order_hints``, a mismatch whose states are those of the
    steps composed in the opposite order (a scan calling combine(later, earlier)) says so and gets those hints."""
    try:
        expect_tensor_close(got, loop64(a, b, h0).to(a.dtype), "h", STATES, *tolerance)
    except CheckFailed as mismatch:
        if (
            order_hints
            and isinstance(got, torch.Tensor)
            and got.shape == a.shape
            and bool(torch.allclose(got.detach().double(), reversed_prefixes(a, b, h0), rtol=1e-3, atol=1e-3))
        ):
            raise CheckFailed(
                f"{mismatch}; yours are the states of the steps composed in the opposite order, the later "
                "step acting first",
                order_hints,
            ) from None
        raise


def matches_loop(
    name: str,
    call: ScanCall,
    batch: int,
    steps: int,
    width: int,
    hints: tuple[str, ...] | None = None,
    dtype: torch.dtype = torch.float64,
    tolerance: tuple[float, float] = (1e-9, 1e-7),
    order_hints: tuple[str, ...] = (),
    **options: Any,
) -> Case:
    """A value row: the learner's scan against ``loop64`` on seeded inputs in ``dtype`` (``options`` go to
    ``random_inputs``)."""

    def run(fn: Callable[..., Any]) -> None:
        a, b, h0 = (None if x is None else x.to(dtype) for x in random_inputs(name, batch, steps, width, **options))
        expect_states(call_learner(call, fn, a, b, h0), a, b, h0, tolerance, order_hints)

    return Case(name, run, HINTS.get(name, ()) if hints is None else hints, GENERAL)


def exact_case(
    name: str,
    call: ScanCall,
    a: torch.Tensor,
    b: torch.Tensor,
    hints: tuple[str, ...],
    h0: torch.Tensor | None = None,
    priority: int = GENERAL,
    order_hints: tuple[str, ...] = (),
) -> Case:
    """A row on hand-made float64 inputs whose states are exact, compared with tolerance 0."""

    def run(fn: Callable[..., Any]) -> None:
        expect_states(call_learner(call, fn, a, b, h0), a, b, h0, (0, 0), order_hints)

    return Case(name, run, hints, priority)


def gradient_cases(
    output: str,
    inputs: dict[str, str],
    make: Callable[[], Sequence[torch.Tensor]],
    call: Callable[..., Any],
    reference: Callable[..., Any],
    connected_hints: tuple[str, ...],
    parts: Callable[[Any], Sequence[Any]] = lambda value: [value],
    tolerance: tuple[float, float] = (1e-9, 1e-7),
) -> list[Case]:
    """The rows of an exercise whose ``output`` a learner backpropagates through.

    ``make()`` gives float64 inputs named and laid out as ``inputs`` says ({name: dims}); ``call(fn, *inputs)``
    calls the learner's function, ``reference(*inputs)`` is a float64 expression written in the checker, and
    ``parts`` splits an output into its tensors. "connected to autograd" fails only when the graph is cut on the
    way to the output (a ``.detach()``, numpy, ``torch.no_grad()``: ``check.learner_gradients`` names the input
    that gets no gradient) or the backward pass raises, so it outranks the values; "gradient matches autograd"
    compares the gradients of a random weighted sum of the output with autograd through ``reference``.
    """

    def learner_and_reference(fn: Callable[..., Any]) -> tuple[Any, Any, list[torch.Tensor]]:
        leaves = [x.clone().requires_grad_() for x in make()]
        return parts(call_learner(call, fn, *leaves)), parts(reference(*leaves)), leaves

    def connected(fn: Callable[..., Any]) -> None:
        got, wanted, leaves = learner_and_reference(fn)
        learner_gradients(got, wanted, leaves, list(inputs), [output] * len(wanted))

    def matches(fn: Callable[..., Any]) -> None:
        got, wanted, leaves = learner_and_reference(fn)
        expect_gradients(got, wanted, leaves, list(inputs), list(inputs.values()), [output] * len(wanted), *tolerance)

    return [
        Case("connected to autograd", connected, connected_hints, SPECIFIC),
        Case(
            "gradient matches autograd",
            matches,
            (
                "With wrong values the gradients are wrong too: fix the value rows first.",
                "With the right values, an input that gets no gradient, or a wrong one, went through something "
                "autograd cannot follow on its way to the result: numpy, .item(), .tolist() or .detach().",
            ),
            GENERAL,
        ),
    ]


HINTS: dict[str, tuple[str, ...]] = {
    "returns h of shape (B, T, D)": (
        "Return every state, not only the last one: h[:, t] is the state after step t.",
        "Collect the states of each step in a list and torch.stack(..., dim=1) them.",
    ),
    "uses the initial state h0": (
        "h0 is the state before the first step: the first state is a[:, 0] * h0 + b[:, 0].",
        "Here T = 1, the gate is 0.5 and the input 0, so the only state is h0 / 2.",
    ),
    "matches the float64 loop": (
        "Each step is h = a[:, t] * h + b[:, t], starting from h0 (zeros when h0 is None).",
        "Check the order: multiply the previous state by this step's gate, then add this step's input.",
    ),
    "negative gates": ("A negative gate flips the sign of the state; nothing may take abs() or log() of a gate.",),
    "gates exactly ±1": ("With a = ±1 and integer inputs every state is an exact integer.",),
    "gates exactly 0": (
        "A gate of 0 forgets everything: the state after it is b_t alone. Nothing may divide by a gate or a product "
        "of gates (b / cumprod(a) is b / 0 there).",
        "Carry the state forward, h = a_t * h + b_t, instead of undoing earlier gates.",
    ),
    "length 1": ("With T = 1 the only state is a[:, 0] * h0 + b[:, 0].",),
    "odd length 63": ("Nothing in the recurrence needs T to be even or a power of two.",),
    "batch of 3": ("Batch items never mix: index a[:, t], not a[0, t].",),
    "long float32 sequence T = 2000": (
        "A product of a few hundred gates below 1 underflows to 0 in float32 (and its inverse overflows): a form that "
        "divides by cumprod(a), or subtracts cumulative sums of log|a|, breaks down long before T = 2000.",
        "Carry the state forward, h = a_t * h + b_t: every number stays the size of a state.",
    ),
    "keeps float32 as float32": ("Do not convert the inputs; new tensors should follow a.dtype.",),
    "keeps bfloat16 as bfloat16": (
        "A tensor made without a dtype is float32: use torch.zeros_like(a[:, 0]) or a.new_zeros(...) for the "
        "starting state, so that it follows a.dtype.",
    ),
    "does not modify its inputs": (
        "Build new tensors (h = a[:, t] * h + b[:, t]) instead of writing into a, b or h0: in-place methods end in "
        "an underscore (mul_, add_), and h = h0 followed by h.mul_(...) writes into h0.",
    ),
    "connected to autograd": (
        "Autograd must be able to go back from h to a, b and h0: compute h with torch operations on the tensors you "
        "are given.",
        "Try it yourself: call your scan on tensors made with requires_grad=True, then .sum().backward() on what it "
        "returns.",
    ),
    "keeps float64 as float64": (
        "A tensor made without a dtype (torch.zeros(a.shape), torch.tensor([...])) is float32, and so is a numpy array "
        "made from .float(): make new tensors with torch.zeros_like(a), a.new_zeros(...) or dtype=a.dtype.",
        "Compute in torch and in the inputs' dtype from start to end: a float32 step cast back to float64 keeps "
        "float32's rounding, about 1e-7 of the states.",
    ),
    "long sequence T = 1000": (
        "A round must combine with the step `offset` positions earlier, for offsets 1, 2, 4, ...",
    ),
}


def float32_error(got: torch.Tensor, expected: torch.Tensor) -> float | None:
    """The relative error of float64 ``got`` when it is float32's rounding (between 1e-12 and 1e-5 of the largest
    state: float64 in any order of operations is a thousand times closer), else None."""
    error = (got.detach() - expected).abs().max().item() / max(expected.abs().max().item(), 1e-30)
    return error if 1e-12 < error < 1e-5 else None


def keeps_float64_case(call: ScanCall) -> Case:
    """A scan of float64 inputs returns float64 states, as precise as float64: a float32 tensor on the way (one made
    without a dtype, numpy's float32) shows in the dtype or in float32's rounding, whatever else the scan does."""

    def run(fn: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs("keeps float64", 2, 9, 3, with_h0=True)
        got = call_learner(call, fn, a, b, h0)
        if not isinstance(got, torch.Tensor):
            raise CheckFailed(f"expected a tensor h, got {type(got).__name__}")
        if got.dtype != torch.float64:
            raise CheckFailed(f"h has dtype {got.dtype} for float64 inputs; keep the inputs' dtype")
        error = float32_error(got, loop64(a, b, h0)) if got.shape == a.shape else None
        if error is not None:
            raise CheckFailed(
                f"h is float64 but only as precise as float32: it differs from the float64 loop by {error:.1e} "
                "of the largest state; part of it is computed in float32"
            )

    return Case("keeps float64 as float64", run, HINTS["keeps float64 as float64"], SPECIFIC)


def scan_cases(call: ScanCall, chunk_size: int | None = None, order_hints: tuple[str, ...] = ()) -> list[Case]:
    """The properties every diagonal scan must have, whatever its algorithm. ``chunk_size``: the one ``call`` passes to
    a chunked scan, for the shape row to recognise a last chunk dropped or left padded; ``order_hints``: for the value
    rows of a scan built on combine, when its states are those of the steps composed the other way round."""

    def shape(fn: Callable[..., Any]) -> None:
        a, b, _ = random_inputs("shape", 2, 5, 3)
        got = call_learner(call, fn, a, b, None)
        if not isinstance(got, torch.Tensor) or got.shape != a.shape:
            found = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            message = f"expected h of shape {tuple(a.shape)} {STATES}, got {found}"
            steps = a.shape[1]
            if (
                chunk_size
                and isinstance(got, torch.Tensor)
                and got.ndim == 3
                and got.shape[1] in (steps - steps % chunk_size, -(-steps // chunk_size) * chunk_size)
            ):
                raise CheckFailed(
                    f"{message}: T = {steps} is not a multiple of chunk_size = {chunk_size}, and your states "
                    f"{'stop at the last whole chunk' if got.shape[1] < steps else 'still hold the padding'}",
                    (
                        "There are ceil(T / chunk_size) chunks, the last one shorter: pad it with identity steps "
                        "(a = 1, b = 0) to chunk_size, scan, and drop the padding at the end with [:, :T].",
                    ),
                )
            raise CheckFailed(message)

    def unchanged(fn: Callable[..., Any]) -> None:
        a, b, h0 = random_inputs("unchanged", 2, 9, 3, with_h0=True)
        originals = [a.clone(), b.clone(), h0.clone()]
        call_learner_in_place(call, fn, a, b, h0)
        expect_unchanged(originals, [a, b, h0], ["a", "b", "h0"])

    # One step, gate 0.5 and no input: only what happens to h0 shows, not the rounds of a parallel scan or a
    # carry across chunks, so that their mistakes do not break this row.
    halves = torch.full((2, 1, 3), 0.5, dtype=torch.float64)
    initial = torch.randn(2, 3, generator=generator_for("uses the initial state h0"), dtype=torch.float64)
    exact_a = torch.tensor([1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0] * 8).reshape(1, 64, 1)
    exact_b = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0] * 8).reshape(1, 64, 1)
    # Gates 0 among halves and ±1, integer inputs (zero ones too, where b / 0 is NaN), three channels shifted.
    zero_a = torch.tensor([0.5, 0.0, -1.0, 1.0, 0.0, -0.5, 1.0, 1.0, 0.0, -1.0, 0.5, 0.0, 1.0, -1.0, 0.0, 0.5])
    zero_b = torch.tensor([1.0, 2.0, 0.0, -1.0, 0.0, 0.0, -2.0, 1.0, 1.0, 0.0, -1.0, 2.0, 0.0, 1.0, -1.0, 1.0])
    zero_a, zero_b = (
        torch.stack([x.roll(shift) for shift in (0, 5, 11)], dim=-1)[None].double() for x in (zero_a, zero_b)
    )
    order = {"order_hints": order_hints}
    return [
        Case("returns h of shape (B, T, D)", shape, HINTS["returns h of shape (B, T, D)"], SPECIFIC),
        # Before the h0 row: a float32 tensor on the way breaks it too, and this row says why.
        keeps_float64_case(call),
        exact_case(
            "uses the initial state h0",
            call,
            halves,
            torch.zeros_like(halves),
            HINTS["uses the initial state h0"],
            h0=initial,
            priority=SPECIFIC,
        ),
        matches_loop("matches the float64 loop", call, 2, 17, 4, gates="positive", **order),
        matches_loop("negative gates", call, 2, 33, 3, **order),
        exact_case("gates exactly ±1", call, exact_a.double(), exact_b.double(), HINTS["gates exactly ±1"], **order),
        exact_case("gates exactly 0", call, zero_a, zero_b, HINTS["gates exactly 0"], **order),
        matches_loop("length 1", call, 2, 1, 3, with_h0=True, **order),
        matches_loop("odd length 63", call, 1, 63, 3, gates="long_memory", **order),
        matches_loop("batch of 3", call, 3, 12, 2, with_h0=True, **order),
        Case("does not modify its inputs", unchanged, HINTS["does not modify its inputs"], SPECIFIC),
        *gradient_cases(
            "h",
            {"a": STATES, "b": STATES, "h0": "(B, D)"},
            lambda: random_inputs("gradient", 2, 11, 3, with_h0=True),
            call,
            loop64,
            HINTS["connected to autograd"],
        ),
        # After the gradient: numpy has no bfloat16, and a function computing in numpy is told about its graph first.
        matches_loop(
            "keeps float32 as float32", call, 2, 17, 4, dtype=torch.float32, tolerance=(1e-5, 1e-5), with_h0=True
        ),
        matches_loop(
            "keeps bfloat16 as bfloat16", call, 2, 12, 3, dtype=HALF, tolerance=(HALF_TOLERANCE, HALF_TOLERANCE)
        ),
        matches_loop("long float32 sequence T = 2000", call, 1, 2000, 2, dtype=torch.float32, tolerance=(1e-5, 1e-4)),
    ]


COMMUTATIVE_HINTS = (
    "combine is not commutative: the later gate a2 multiplies the earlier input b1.",
    "The answer is (a1 * a2, a2 * b1 + b2), not (a1 * a2, a1 * b2 + b1).",
)


def combine_cases() -> list[Case]:
    """Properties of the scan operator (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2)."""

    def as_pair(value: Any) -> tuple[Any, Any]:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise CheckFailed(f"expected a pair (a, b), got {type(value).__name__}")
        return value

    def pairs(
        name: str,
        count: int,
        gate_shape: tuple[int, ...] = (2, 6, 3),
        input_shape: tuple[int, ...] | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        rng = generator_for(name)
        return [
            (
                (2 * torch.rand(gate_shape, generator=rng, dtype=torch.float64) - 1).to(dtype),
                torch.randn(input_shape or gate_shape, generator=rng, dtype=torch.float64).to(dtype),
            )
            for _ in range(count)
        ]

    def expect_pair(
        got: Any, want: tuple[torch.Tensor, torch.Tensor], dims: str = STATES, tolerance: float = 1e-9
    ) -> None:
        got_a, got_b = as_pair(got)
        expect_tensor_close(got_a, want[0], "the gate part (first element)", dims, tolerance, tolerance)
        expect_tensor_close(got_b, want[1], "the input part (second element)", dims, tolerance, tolerance)

    def expect_composition(
        fn: Callable[..., Any],
        earlier: tuple[torch.Tensor, torch.Tensor],
        later: tuple[torch.Tensor, torch.Tensor],
        dims: str = STATES,
        tolerance: float = 1e-9,
    ) -> None:
        (a1, b1), (a2, b2) = earlier, later
        expect_pair(call_learner(fn, earlier, later), (a1 * a2, a2 * b1 + b2), dims, tolerance)

    def definition(fn: Callable[..., Any]) -> None:
        (a1, b1), (a2, b2) = earlier, later = pairs("definition", 2)
        got = call_learner(fn, earlier, later)
        got_b = as_pair(got)[1]
        if isinstance(got_b, torch.Tensor) and got_b.shape == b1.shape and torch.allclose(got_b, a1 * b2 + b1):
            # The most common mistake gets the hints about order, on the row every wrong combine fails first.
            raise CheckFailed(
                "the input part is a1·b2 + b1: the later step acted first (h -> a2 h + b2, then a1 h + b1)",
                COMMUTATIVE_HINTS,
            )
        expect_pair(got, (a1 * a2, a2 * b1 + b2))

    def unchanged(fn: Callable[..., Any]) -> None:
        (a1, b1), (a2, b2) = pairs("unchanged", 2)
        originals = [x.clone() for x in (a1, b1, a2, b2)]
        call_learner_in_place(fn, (a1, b1), (a2, b2))
        expect_unchanged(originals, [a1, b1, a2, b2], ["a1", "b1", "a2", "b2"])

    def any_shape(fn: Callable[..., Any]) -> None:
        # The scans call combine on (B, T, D) tensors, on their slices and on (B, D) states: it works entry by entry.
        for shape, dims in (((2, 3), "(B, D)"), ((5,), "(D,)"), ((2, 3, 2, 4), "")):
            expect_composition(fn, *pairs(f"any shape {shape}", 2, shape), dims)

    def broadcasts(fn: Callable[..., Any]) -> None:
        # A state entering a chunk, (B, 1, D), composed with every step of the chunk; one gate per step for all D
        # channels.
        expect_composition(fn, *pairs("entering state", 1, (2, 1, 3)), *pairs("chunk", 1, (2, 6, 3)))
        expect_composition(fn, *pairs("shared gates", 2, (2, 6, 1), (2, 6, 3)))

    def keeps_dtype(fn: Callable[..., Any]) -> None:
        for dtype, tolerance in ((torch.float32, 1e-6), (HALF, HALF_TOLERANCE)):
            expect_composition(fn, *pairs(f"dtype {dtype}", 2, dtype=dtype), tolerance=tolerance)

    def order(fn: Callable[..., Any]) -> None:
        def pair(a: float, b: float) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.full((1, 1, 1), a, dtype=torch.float64), torch.full((1, 1, 1), b, dtype=torch.float64)

        expect_pair(call_learner(fn, pair(2.0, 3.0), pair(5.0, 7.0)), pair(10.0, 22.0))

    def associative(fn: Callable[..., Any]) -> None:
        x, y, z = pairs("associative", 3)
        left_first = call_learner(fn, as_pair(call_learner(fn, x, y)), z)
        right_first = call_learner(fn, x, as_pair(call_learner(fn, y, z)))
        expect_pair(left_first, right_first)
        expect_pair(left_first, (x[0] * y[0] * z[0], z[0] * (y[0] * x[1] + y[1]) + z[1]))

    def identity(fn: Callable[..., Any]) -> None:
        ((a, b),) = pairs("identity", 1)
        one = (torch.ones_like(a), torch.zeros_like(b))
        expect_pair(call_learner(fn, one, (a, b)), (a, b))
        expect_pair(call_learner(fn, (a, b), one), (a, b))

    def matches_scan(fn: Callable[..., Any]) -> None:
        ((a, b),) = pairs("matches_scan", 1)
        state = (torch.ones_like(a[:, 0]), torch.zeros_like(b[:, 0]))
        for t in range(a.shape[1]):
            state = as_pair(call_learner(fn, state, (a[:, t], b[:, t])))
        expect_tensor_close(state[1], loop64(a, b)[:, -1], "the input part after folding all steps", "(B, D)")

    return [
        Case(
            "matches (a1·a2, a2·b1 + b2)",
            definition,
            ("Apply (a1, b1) first: h -> a1 h + b1, then (a2, b2): h -> a2 (a1 h + b1) + b2. Expand.",),
            SPECIFIC,
        ),  # the definition: any wrong combine breaks it first, and the report explains it, not the gradient
        # Before the broadcasting row, where a1.mul_(a2) raises as it cannot grow a1: the in-place write is the mistake.
        Case(
            "does not modify its inputs",
            unchanged,
            (
                "Return new tensors, a1 * a2 and a2 * b1 + b2: a1.mul_(a2) or b1 += … write into the caller's pairs, "
                "which a scan still needs (the same pair is combined again in the next round).",
            ),
            SPECIFIC,
        ),
        # Next, before the rows that call combine on (B, D) states: a combine for (B, T, D) alone fails here first.
        Case(
            "works on tensors of any shape: (B, D), (D,), 4-D",
            any_shape,
            (
                "combine works entry by entry: a1 * a2 and a2 * b1 + b2 need no names for the dimensions.",
                "An einsum or a matmul with fixed dimensions (btd), or indexing such as a1[:, t], only fits one "
                "shape; the scans also call combine on (B, D) states.",
            ),
            SPECIFIC,
        ),
        Case(
            "broadcasts: a (B, 1, D) pair with a (B, T, D) pair, gates (B, T, 1)",
            broadcasts,
            (
                "Write the formula with * and + and let PyTorch broadcast: the results have the broadcast shape, here "
                "(B, T, D), and the gate part keeps (B, T, 1) when both gates are (B, T, 1).",
                "Reshaping or expanding a result to the shape of one input breaks as soon as the inputs differ in "
                "shape.",
            ),
            SPECIFIC,
        ),
        Case("the earlier step acts first", order, COMMUTATIVE_HINTS, GENERAL),
        Case("is associative", associative, ("Return exactly the pair of the composed map, no extra terms.",), GENERAL),
        Case("(1, 0) is the identity", identity, ("Composing with h -> 1 h + 0 must change nothing.",), GENERAL),
        Case(
            "folding all steps gives the last state",
            matches_scan,
            ("Folding combine over the steps from (1, 0) gives the map h0 -> h_T; its input part is h_T for h0 = 0.",),
            GENERAL,
        ),
        *gradient_cases(
            "the pair",
            {"a1": STATES, "b1": STATES, "a2": STATES, "b2": STATES},
            lambda: [x for pair in pairs("gradient", 2) for x in pair],
            lambda fn, a1, b1, a2, b2: fn((a1, b1), (a2, b2)),
            lambda a1, b1, a2, b2: (a1 * a2, a2 * b1 + b2),
            (
                "Compute with torch operations on the tensors you are given: a scan built on this combine is trained "
                "through it.",
            ),
            parts=as_pair,
        ),
        Case(
            "keeps float32 and bfloat16",
            keeps_dtype,
            ("Do not convert the inputs: a1 * a2 and a2 * b1 + b2 already have their dtype.",),
            GENERAL,
        ),
    ]


def learners_combine(fn: Callable[..., Any], call: ScanCall, a: torch.Tensor, b: torch.Tensor) -> Callable[..., Any]:
    """The ``combine`` that ``fn`` calls; ``CheckFailed`` when there is none where ``fn`` is defined (after running
    ``fn``, so that a function that raises, a stub included, is reported for what it raises)."""
    learner_combine = getattr(fn, "__globals__", {}).get("combine")
    if learner_combine is None:
        call_learner(call, fn, a, b, None)
        raise CheckFailed(
            "there is no function named combine where your scan is defined: "
            "define combine (exercise 2) above it and build the scan from it"
        )
    return learner_combine


def reversed_combine(earlier: Any, later: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The steps composed the other way round, (a1 a2, a1 b2 + b1): associative too, with the same identity (1, 0)."""
    (a1, b1), (a2, b2) = earlier, later
    return a1 * a2, a1 * b2 + b1


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def ceil_log2(steps: int) -> int:
    """⌈log2 T⌉, the rounds of a Hillis-Steele scan of T steps: 0 for T = 1."""
    return (steps - 1).bit_length()


def rounds_case(call: ScanCall) -> Case:
    """Hillis-Steele must be built on the learner's ``combine``, in exactly ⌈log2 T⌉ rounds: at T = 63, at a power of
    two (T = 64, where ``while offset <= T`` runs one round too many) and at T = 1 (no round at all).

    A round is a call of combine that does not carry h0's values: the spec folds h0 into the first step before the
    rounds, and a learner may do that with one more combine, ((1, h0), (a_1, b_1)). A scan that puts h0 in front as
    one more step scans T + 1 steps (its arguments show it) and may take ⌈log2 (T + 1)⌉ rounds."""

    def rounds_of(fn: Callable[..., Any], original: Callable[..., Any], steps: int) -> tuple[int, int]:
        """The rounds of combine the learner's scan runs for T = ``steps``, and the most steps one of its arguments
        holds."""
        a, b, h0 = random_inputs(f"rounds {steps}", 1, steps, 3, with_h0=True)
        rounds, longest = 0, 0

        def counting_combine(earlier: Any, later: Any) -> Any:
            nonlocal rounds, longest
            tensors = [
                x
                for pair in (earlier, later)
                if isinstance(pair, (tuple, list))
                for x in pair
                if isinstance(x, torch.Tensor)
            ]
            rounds += not any(
                x.numel() == h0.numel() and torch.equal(x.reshape(h0.shape).to(h0.dtype), h0) for x in tensors
            )
            longest = max([longest, *(x.numel() // h0.numel() for x in tensors)])
            return original(earlier, later)

        with substituted(fn, counting_combine, names=["combine"]):
            call_learner(call, fn, a, b, h0)
        return rounds, longest

    def run(fn: Callable[..., Any]) -> None:
        original = learners_combine(fn, call, *random_inputs("rounds 63", 1, 63, 3)[:2])
        for steps in (63, 64, 1):
            rounds, longest = rounds_of(fn, original, steps)
            needed = ceil_log2(steps)
            if not rounds and steps > 1:
                raise CheckFailed("your scan never called combine on the steps; build it from your combine")
            if rounds == needed or longest > steps and rounds == ceil_log2(longest):
                continue
            offsets = ", ".join(str(2**k) for k in range(needed))
            if rounds > needed:
                raise CheckFailed(
                    f"your scan ran {plural(rounds, 'round')} of combine for T = {steps} (calls that fold in h0 not "
                    "counted); "
                    + (
                        f"the parallel scan needs {needed}, for offsets {offsets}"
                        if needed
                        else "T = 1 needs no round at all: the only state is a_1 h0 + b_1"
                    )
                    + (": one round too many, stop once offset reaches T" if rounds == needed + 1 else "")
                )
            raise CheckFailed(
                f"your scan ran {plural(rounds, 'round')} of combine for T = {steps}; the parallel scan needs "
                f"{needed}, for offsets {offsets}"
            )

    return Case(
        "uses ⌈log2 T⌉ rounds of combine",
        run,
        (
            "Call combine once per round on whole shifted tensors, not once per position.",
            "Round k pairs position t with position t - 2**k; positions t < 2**k pair with the identity (1, 0).",
            "Go on while offset < T: that is ⌈log2 T⌉ rounds, one more than int(math.log2(T)) when T is not a power "
            "of two, and none at T = 1; `while offset <= T` runs one round too many when T is a power of two.",
        ),
        SPECIFIC,
    )


def identity_padding_case(call: ScanCall) -> Case:
    """In round k, positions t < 2**k have no step 2**k earlier and combine with the identity (1, 0). Gates 1 and inputs
    2**t make each state the sum of the inputs it composed, in any order: a wrong padding (torch.roll wrapping the last
    steps around, (1, 1) taken for the identity) adds inputs that do not belong, and nothing else shows."""
    steps = 16
    a = torch.ones(1, steps, 1, dtype=torch.float64)
    b = (2.0 ** torch.arange(steps, dtype=torch.float64)).reshape(1, steps, 1)

    def run(fn: Callable[..., Any]) -> None:
        got = call_learner(call, fn, a, b, None)
        expect_tensor_close(got, loop64(a, b), "h for gates 1 and inputs 1, 2, 4, ..., 2**15", STATES, atol=0, rtol=0)

    return Case(
        "positions t < 2^k combine with the identity (1, 0)",
        run,
        (
            "In round k the shifted pair of position t is the pair 2**k steps earlier; positions t < 2**k have none, "
            "and take the identity (1, 0): pad the shifted gates with ones and the shifted inputs with zeros.",
            "torch.roll wraps the last steps around to the front; padding the inputs with ones is not the identity "
            "either.",
        ),
        SPECIFIC,
    )


ORDER_HINTS = (
    "In each round call combine(shifted, running): the shifted pair holds the earlier steps, so it is `earlier`, and "
    "the running pair is `later`.",
    "combine is not commutative: combine(running, shifted) applies the later steps first.",
)


def follows_combine_case(call: ScanCall) -> Case:
    """Hillis-Steele must compute its states from what ``combine`` returns: with ``combine`` swapped for
    ``reversed_combine`` (as valid an operator), a scan built on it returns that operator's prefixes.

    A scan wrong in other ways misses them too, so the row is ``GENERAL`` and comes last: the value rows
    explain such a scan, and this row explains one whose values are right without combine's results."""

    def run(fn: Callable[..., Any]) -> None:
        a, b, _ = random_inputs("follows combine", 2, 37, 2)
        learners_combine(fn, call, a, b)
        with substituted(fn, reversed_combine, names=["combine"]):
            got = call_learner(call, fn, a, b, None)
        try:
            expect_tensor_close(got, reversed_prefixes(a, b), "h", STATES)
        except CheckFailed as mismatch:
            if (
                isinstance(got, torch.Tensor)
                and got.shape == a.shape
                and bool(torch.allclose(got.double(), loop64(a, b)))
            ):
                # Swapped arguments undo the swap of the operator: the learner's own combine tells them apart.
                own = call_learner(call, fn, a, b, None)
                if (
                    isinstance(own, torch.Tensor)
                    and own.shape == a.shape
                    and bool(torch.allclose(own.double(), reversed_prefixes(a, b)))
                ):
                    raise CheckFailed(
                        "your scan calls combine with its arguments the other way round: with your combine its "
                        "states are those of the later steps acting first",
                        ORDER_HINTS,
                    ) from None
                raise CheckFailed(
                    "with combine swapped for another associative operator, your scan still returned the "
                    "loop's states: it does not compute its states from what combine returns"
                ) from None
            raise CheckFailed(
                "with combine swapped for (a1·a2, a1·b2 + b1), another associative operator with identity "
                f"(1, 0), your scan did not return that operator's prefixes: {mismatch}"
            ) from None

    return Case(
        "computes with the results of combine",
        run,
        (
            "The check swaps combine for another associative operator: a scan that builds every state from the pairs "
            "combine returns follows it; one that computes the states another way does not.",
            "Each round replaces the running pairs with what combine((earlier_a, earlier_b), (a, b)) returns; the "
            "states are the input parts after the last round.",
        ),
        GENERAL,
    )


def chunk_by_chunk_case() -> Case:
    """A chunked scan works on pieces of ``chunk_size`` steps, and its sequential part takes one step per chunk:
    doubling T adds some operations per chunk (up to about 350 for the library's Hillis–Steele scan run on each
    chunk), where a loop over the time steps adds at least one per step; the line is 0.75 per step, 750 per chunk.
    The chunk size, 1000, is neither a power of two nor T minus one (the pieces a parallel scan of the whole
    sequence slices), so a scan that ignores it never makes a piece that long."""
    short, long, size = 2000, 4000, 1000

    def run(fn: Callable[..., Any]) -> None:
        logs = []
        for steps in (short, long):
            a, b, _ = random_inputs("works chunk by chunk", 1, steps, 2)
            logs.append(OperationLog())
            with logs[-1]:
                call_learner(fn, a, b, None, chunk_size=size)
        if not any(size in shape for operation in logs[0].operations for shape in operation.outputs):
            raise CheckFailed(
                f"none of the tensors your function computed has {size} steps for chunk_size = {size}: "
                "it ignores chunk_size"
            )
        extra = len(logs[1].operations) - len(logs[0].operations)
        if extra > 0.75 * (long - short):
            raise CheckFailed(
                f"from T = {short} to T = {long} with chunk_size = {size}, your function ran {extra} more torch "
                f"operations, {extra / (long - short):.1f} per extra step: it works one time step after another, "
                f"where a chunked scan adds the same work for each of the {long // size - short // size} more chunks, "
                "whatever their length"
            )

    return Case(
        "works chunk by chunk",
        run,
        (
            "Scan inside all the chunks at once: pad T to a multiple of chunk_size with identity steps (a = 1, b = 0) "
            "and reshape to (B * n_chunks, chunk_size, D); loop over the chunks only to carry the state.",
            "A Python loop over the time steps, in the whole sequence or in each chunk, is the sequential scan again.",
        ),
        SPECIFIC,
    )


def chunk_cases() -> list[Case]:
    """Properties specific to the chunked scan."""

    def with_chunk(size: int) -> ScanCall:
        return lambda fn, a, b, h0: fn(a, b, h0, chunk_size=size)

    # Gates 1 and inputs 1 count the steps, 1, 2, 3, ...: the carry shows, and gate products (all 1) do not. Gates
    # 0.5 and one input at the start halve it at every step: the gate products show.
    pulse = torch.zeros(1, 12, 1, dtype=torch.float64)
    pulse[0, 0, 0] = 1.0
    return [
        matches_loop(
            "chunk size that does not divide T (T = 63, chunk 16)",
            with_chunk(16),
            1,
            63,
            3,
            gates="long_memory",
            hints=("Pad the last chunk with identity steps (a = 1, b = 0) and drop the padding at the end.",),
        ),
        matches_loop("chunk size 1", with_chunk(1), 2, 7, 2, with_h0=True),
        matches_loop("one chunk (chunk size > T)", with_chunk(100), 2, 9, 2, with_h0=True),
        exact_case(
            "state carried across chunks",
            with_chunk(4),
            torch.ones_like(pulse),
            torch.ones_like(pulse),
            (
                "The state leaving chunk c is the state entering chunk c + 1.",
                "Walk over the chunks in order, keeping the last state of each.",
            ),
            priority=CHUNKS,
        ),
        exact_case(
            "entering state scaled by the gate products",
            with_chunk(4),
            torch.full_like(pulse, 0.5),
            pulse,
            ("Inside a chunk the entering state is multiplied by every gate up to t: torch.cumprod of a.",),
            priority=CHUNKS,
        ),
        chunk_by_chunk_case(),
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
        (
            *scan_cases(sequential_call, order_hints=ORDER_HINTS),
            matches_loop(
                "long sequence T = 1000", sequential_call, 1, 1000, 2, gates="long_memory", order_hints=ORDER_HINTS
            ),
            rounds_case(sequential_call),
            identity_padding_case(sequential_call),
            follows_combine_case(sequential_call),
        ),
    ),
    Exercise("01.chunked_scan", scan.chunked_scan, (*scan_cases(chunked_call, chunk_size=4), *chunk_cases())),
]
