"""What the lessons measure with: timing helpers for their cost plots and the benchmark scripts (no
timing is asserted in a test), and the random inputs and gradients their kernel comparisons use.

Glossary: ``fn`` = the function timed, ``repeats`` = timed calls, ``warmup`` = untimed calls first
(caches, lazy initialisation, Triton compilation), ``contenders`` = the functions a plot compares,
by name; ``DeltaInputs`` = (q, k, v, β, α, S_0), the arguments of every delta-rule function.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from .validate import require_positive_int


def best_seconds(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Fewest wall-clock seconds of ``fn()`` over ``repeats`` calls, waiting for the GPU when there is one.

    The minimum, not the median: on a shared machine other work only ever adds time, so the fastest
    call is the one closest to what the code itself costs. Python's garbage collector is off during
    the timed calls, as ``timeit`` has it: its full collections walk every live object, the tensors
    and autograd nodes of a long graph included, which would charge a cost growing with T to a
    recurrence whose own cost is linear in T.
    """
    require_positive_int(repeats, "repeats")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative int, got {warmup!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    synchronize = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    synchronize()
    samples = []
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            synchronize()
            samples.append(time.perf_counter() - start)
    finally:
        if collecting:
            gc.enable()
    return min(samples)


def seconds_by_length(
    lengths: Sequence[int],
    inputs_at: Callable[[int], Sequence[Any]],
    contenders: Mapping[str, Callable[..., Any]],
    repeats: int = 5,
) -> dict[str, list[float]]:
    """``{name: [best seconds of fn(*inputs_at(T)) for T in lengths]}``: the lines of a cost-against-length plot.

    Every contender runs on the same inputs at each length, made once by ``inputs_at(T)``.
    """
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for length in lengths:
        inputs = inputs_at(length)
        for name, fn in contenders.items():
            timings[name].append(best_seconds(lambda: fn(*inputs), repeats))
    return timings


def interleaved_best_seconds(fns: Mapping[Hashable, Callable[[], Any]], rounds: int = 7) -> dict[Hashable, float]:
    """Fewest seconds of each ``fn()`` over ``rounds`` rounds, each round calling every ``fn`` once in turn.

    Interleaved, not one function after the other: a load that comes and goes on a shared machine
    then slows every function alike, so the ratios between them hold. Each is called once untimed
    first (its set-up: caches, compilation).
    """
    require_positive_int(rounds, "rounds")
    samples: dict[Hashable, list[float]] = {name: [] for name in fns}
    for round_index in range(rounds):
        for name, fn in fns.items():
            samples[name].append(best_seconds(fn, repeats=1, warmup=1 if round_index == 0 else 0))
    return {name: min(seconds) for name, seconds in samples.items()}


def without_grad(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` called under ``torch.no_grad()``: a forward pass timed without building its graph."""

    def call() -> Any:
        with torch.no_grad():
            return fn()

    return call


class DeltaInputs(NamedTuple):
    """The arguments of every delta-rule function, in their order: ``delta_rule(*inputs)``."""

    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    beta: torch.Tensor
    alpha: torch.Tensor | None = None
    initial_state: torch.Tensor | None = None

    def to(self, *args: Any) -> DeltaInputs:
        """Every tensor moved or cast (``Tensor.to(*args)``), None kept."""
        return DeltaInputs(*(None if x is None else x.to(*args) for x in self))


def delta_inputs(
    batch: int,
    steps: int,
    heads: int,
    key_dim: int,
    value_dim: int,
    generator: torch.Generator,
    householders: int | None = None,
    gated: bool = False,
    with_state: bool = False,
    beta_max: float = 2.0,
    dtype: torch.dtype = torch.float64,
) -> DeltaInputs:
    """Random delta-rule inputs in fla's (B, T, H, D) layout, drawn from ``generator`` in a fixed order.

    Queries, unit keys, values, β ∈ [0, ``beta_max``]; gates α ∈ [0, 1] if ``gated``; a state S_0
    (B, H, D_k, D_v) if ``with_state``. ``householders`` = n_h gives DeltaProduct's n_h keys, values
    and β per token, (B, T, n_h, H, D); None, the delta rule's one.
    """
    options = {"generator": generator, "dtype": dtype}
    per_token = (batch, steps) if householders is None else (batch, steps, householders)
    q = torch.randn(batch, steps, heads, key_dim, **options)
    k = F.normalize(torch.randn(*per_token, heads, key_dim, **options), dim=-1)
    v = torch.randn(*per_token, heads, value_dim, **options)
    beta = beta_max * torch.rand(*per_token, heads, **options)
    alpha = torch.rand(batch, steps, heads, **options) if gated else None
    state = torch.randn(batch, heads, key_dim, value_dim, **options) if with_state else None
    return DeltaInputs(q, k, v, beta, alpha, state)


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    """Largest |difference| over the largest |expected|: the scale-free error of a float32 kernel (on the CPU)."""
    expected = expected.double().cpu()
    return ((got.double().cpu() - expected).abs().max() / expected.abs().max()).item()


def input_gradients(
    fn: Callable[..., Any], inputs: Sequence[torch.Tensor | None], loss: Callable[..., torch.Tensor]
) -> list[torch.Tensor | None]:
    """dL/d(input) for every tensor of ``inputs``, with L = ``loss(*fn(*inputs))``; None where an input is None.

    The inputs are copied as fresh leaves, so the caller's tensors gather no gradient.
    """
    leaves = [None if x is None else x.detach().clone().requires_grad_(True) for x in inputs]
    loss(*fn(*leaves)).backward()
    return [None if leaf is None else leaf.grad for leaf in leaves]
