"""Finite precision: why a state with positive eigenvalues freezes, and why real ones only flip.

The negative results of Grazzi et al. (2025) (Theorem 1: parity, Theorem 2: counting mod m) are
about a recurrence whose state is rounded to a fixed, finite set of numbers after every step. This
module runs such recurrences on the input 1^k, in the dtypes a GPU uses, and measures what the
theorems predict: the state stops moving (``freeze_step``) or becomes periodic (``eventual_period``).

Glossary (code name -> paper symbol or term):

================  =========================================================================
``gate``          a = a(1), the eigenvalue of the transition A(1) for the input symbol 1
``drive``         b = B(1), the input term of the same symbol
``dtype``         the finite set of representable numbers; every operation rounds to it
                  (the paper's ``cast``)
``states``        h_1 .. h_k, the states on the input 1^k from h_0
``freeze_step``   the k from which the rounded state is constant: h_k = h_{k+1} = ...
``period``        the smallest p with h_{t+p} = h_t for every t from some step on
``parity_machine``  the one-neuron LRNN of §4.1: a(1) = -1, b(1) = 1, a(0) = 1, b(0) = 0
``transition``    A(1), a D x D matrix (``iterate_linear``), for a state that is a vector
``rounding``      where rounding happens: "per_operation", "per_step" or "at_read_out"
================  =========================================================================

Rounding models. A negative result holds in a stated model of rounding; three are offered here.

- ``"per_operation"`` (``iterate``, and ``iterate_linear``'s default): the state is stored in
  ``dtype`` and every product and every sum is rounded to it, as PyTorch computes in a loop. For
  ``iterate``: exactly as PyTorch computes ``gate * h + drive`` for Python floats ``gate``,
  ``drive`` and a ``dtype`` tensor ``h`` (the product formed in float32, PyTorch's "opmath" type for
  16-bit floats, from the unrounded gate; the drive first rounded to ``dtype``).
- ``"per_step"``: each step ``A h + b`` is evaluated exactly and the new state is cast to ``dtype``
  once (float64 evaluates it: a product of two 16-bit numbers is exact in float64, and the sums of a
  2x2 step lose nothing a 16-bit cast could see, barring a tie).
- ``"at_read_out"``: the states are those of exact arithmetic (float64 stands in for it) and are
  cast only where a decoder reads them, never fed back. The paper's proofs (App. B) argue on the
  exact states - sums of terms binom(k, m) lambda^(k-m) - and their cast: this is that model.

In every model a diagonal or triangular transition on 1^k ends with period 1 or 2 (each coordinate
is a monotone map of a finite set, or the square of an order-reversing one, driven by coordinates
that already repeat). Only ``"at_read_out"`` extends that to every real spectrum; with rounding fed
back, a non-triangular matrix with real eigenvalues can cycle with period 3 (Lesson 05).
"""

from __future__ import annotations

from collections import Counter

import torch

from . import scan
from .validate import require_bits, require_number, require_positive_int, require_tensor

DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


def _opmath(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def as_dtype(dtype: object) -> torch.dtype:
    """The torch dtype named by ``dtype`` (a name such as "float16", or the dtype itself), if one of ``DTYPES``."""
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    raise TypeError(f"dtype must be one of {', '.join(DTYPES)} (a name or a torch.dtype), got {dtype!r}")


def _as_vector(value: object, name: str) -> torch.Tensor:
    """A float or a 1-d tensor of per-coordinate values, as a float64 vector with finite entries."""
    if isinstance(value, torch.Tensor):
        require_tensor(value, name)
        if value.dim() > 1:
            raise ValueError(
                f"{name} must be a float or a 1-d tensor (one value per coordinate), got shape {tuple(value.shape)}"
            )
        vector = value.detach().to(torch.float64).reshape(-1).cpu()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        vector = torch.tensor([float(value)], dtype=torch.float64)
    else:
        raise TypeError(f"{name} must be a float or a 1-d tensor, got {type(value).__name__}")
    if vector.numel() == 0:
        raise ValueError(f"{name} must hold at least one value, got an empty tensor")
    if not bool(torch.isfinite(vector).all()):
        raise ValueError(f"{name} must be finite, got {vector.tolist()}")
    return vector


def iterate(
    gate: float | torch.Tensor, drive: float | torch.Tensor, steps: int, dtype: str | torch.dtype, h0: float = 0.0
) -> torch.Tensor:
    """The states h_1 .. h_steps of h_k = gate * h_{k-1} + drive, rounded to ``dtype`` after each operation.

    Args:
        gate: a(1), a float or a 1-d tensor (one gate per state coordinate: a diagonal A(1)).
        drive: b(1), a float or a 1-d tensor of the same length as ``gate``.
        steps: k, how many times the symbol 1 is read.
        dtype: "float16", "bfloat16", "float32" or "float64" (or the torch dtype).
        h0: the initial state (every coordinate).

    Returns:
        Tensor (steps, D) in ``dtype``, D being the number of coordinates (1 for float gates).
    """
    dtype = as_dtype(dtype)
    require_positive_int(steps, "steps")
    gates, drives = _as_vector(gate, "gate"), _as_vector(drive, "drive")
    if gates.shape != drives.shape and gates.numel() != 1 and drives.numel() != 1:
        raise ValueError(f"gate and drive must have the same length, got {gates.numel()} and {drives.numel()}")
    width = max(gates.numel(), drives.numel())
    opmath = _opmath(dtype)
    gates, drives = gates.expand(width).to(opmath), drives.expand(width).to(dtype)
    h = torch.tensor(require_number(h0, "h0"), dtype=torch.float64).expand(width).to(dtype)
    states = torch.empty(steps, width, dtype=dtype)
    for k in range(steps):
        h = (gates * h.to(opmath)).to(dtype) + drives
        states[k] = h
    return states


def freeze_step(gate: float, drive: float, dtype: torch.dtype, max_steps: int = 100_000) -> tuple[int, float] | None:
    """The step k after which the rounded state of h_k = gate * h_{k-1} + drive (h_0 = 0) stops moving.

    Returns ``(k, h_k)`` for the smallest k in 0, 1, …, ``max_steps`` (both ends included) with
    h_{k+1} = h_k, or ``None`` when there is none: ``max_steps = 53`` still finds the example's step 53,
    ``max_steps = 52`` gives ``None``. The step is deterministic, so once h_{k+1} = h_k the state stays
    at h_k forever. Example: gate 0.9, drive 1 (limit 10) in float16 gives ``(53, 9.96875)``.

    Args:
        gate, drive: Python floats, a(1) and b(1).
        dtype: the torch dtype the state is stored in (float16, bfloat16, float32 or float64).
        max_steps: the largest k to report.
    """
    dtype = as_dtype(dtype)
    gate, drive = require_number(gate, "gate"), require_number(drive, "drive")
    require_positive_int(max_steps, "max_steps")
    ### BEGIN SOLUTION
    state = torch.zeros((), dtype=dtype)
    for step in range(max_steps + 1):
        following = gate * state + drive
        if following == state:
            return step, float(state)
        state = following
    return None
    ### END SOLUTION


def eventual_period(states: torch.Tensor) -> tuple[int, int] | None:
    """Where a sequence of rounded states starts repeating, and with which period.

    ``states`` is (K, D): K states of a deterministic recurrence on a constant input. As soon as a
    state equals an earlier one, the sequence repeats from there on. Returns ``(start, period)``,
    0-based: states[start + period] == states[start], and nothing before ``start`` repeats; ``None``
    when no state repeats within the K given.
    """
    states = require_tensor(states, "states", 2, "(K, D)")
    seen: dict[bytes, int] = {}
    for k, state in enumerate(states.detach().cpu()):
        key = state.numpy().tobytes() if state.dtype != torch.bfloat16 else state.view(torch.int16).numpy().tobytes()
        if key in seen:
            return seen[key], k - seen[key]
        seen[key] = k
    return None


def _periods_at_last_state(earlier_equal: torch.Tensor) -> torch.Tensor:
    """From (K-1, N) flags "state k equals the last state": per column, how many steps back the
    nearest equal one lies (the period, for a deterministic map), 0 where none does."""
    steps_back = torch.arange(earlier_equal.shape[0], 0, -1).unsqueeze(1)
    nearest = torch.where(earlier_equal, steps_back, earlier_equal.shape[0] + 1).min(dim=0).values
    return nearest.masked_fill(~earlier_equal.any(dim=0), 0)


def coordinate_periods(states: torch.Tensor) -> torch.Tensor:
    """The period each coordinate has reached by the last of K states; 0 where it has not repeated yet.

    Each coordinate of a diagonal recurrence on a constant input is its own deterministic map, so
    once its last value occurred before, it cycles from there, and the most recent earlier
    occurrence is exactly one period back. Vectorised over coordinates, unlike
    ``eventual_period``, which asks when the whole state vector first repeats.

    Args:
        states: (K, D) rounded states, e.g. from ``iterate`` with D gates.

    Returns:
        Long tensor (D,): the period of each coordinate, 0 if its last value is new.
    """
    states = require_tensor(states, "states", 2, "(K, D)")
    if states.shape[0] == 0:
        raise ValueError("states must hold at least one state (K >= 1), got K = 0")
    return _periods_at_last_state(states[:-1] == states[-1])


def orbit_periods(states: torch.Tensor) -> torch.Tensor:
    """The period each of N orbits of state vectors has reached by the last of K states; 0 where not yet.

    Like ``coordinate_periods``, for recurrences whose coordinates are coupled (a matrix transition):
    the whole vector must repeat. Args: states (K, N, D), e.g. from ``iterate_linear``. Returns (N,).
    """
    states = require_tensor(states, "states", 3, "(K, N, D)")
    if states.shape[0] == 0:
        raise ValueError("states must hold at least one state (K >= 1), got K = 0")
    return _periods_at_last_state((states[:-1] == states[-1]).all(dim=-1))


ROUNDINGS = ("per_operation", "per_step", "at_read_out")


def _rounded_step(transition: torch.Tensor, drive: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """A h + b for N states at once, every product and every sum rounded to the dtype of the three."""
    # (N, D, D) * (N, 1, D): the products a_ij h_j, each rounded; then summed left to right, each sum rounded
    products = transition * h.unsqueeze(1)
    total = products[..., 0]
    for j in range(1, products.shape[-1]):
        total = total + products[..., j]
    return total + drive


def iterate_linear(
    transition: torch.Tensor,
    drive: torch.Tensor,
    steps: int,
    dtype: str | torch.dtype,
    h0: torch.Tensor,
    rounding: str = "per_operation",
) -> torch.Tensor:
    """The states h_1 .. h_steps of h_k = A h_{k-1} + b on the input 1^k, for N systems at once, in a rounding model.

    ``transition``, ``drive`` and ``h0`` are first rounded to ``dtype``: the numbers a model in that
    dtype holds. Then (see the module docstring) ``"per_operation"`` rounds every product and sum,
    ``"per_step"`` rounds each new state once, ``"at_read_out"`` keeps exact (float64) states and
    rounds only the returned copies.

    Args:
        transition: A(1), (D, D) or (N, D, D).
        drive: b(1), (D,) or (N, D).
        steps: k, how many times the symbol 1 is read.
        dtype: "float16", "bfloat16", "float32" or "float64" (or the torch dtype).
        h0: the initial state, (D,) or (N, D).
        rounding: one of ``ROUNDINGS``.

    Returns:
        Tensor (steps, N, D) in ``dtype`` (N = 1 when nothing has a batch dimension).
    """
    dtype = as_dtype(dtype)
    require_positive_int(steps, "steps")
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {', '.join(map(repr, ROUNDINGS))}, got {rounding!r}")
    transition = require_tensor(transition, "transition")
    if transition.dim() not in (2, 3) or transition.shape[-1] != transition.shape[-2]:
        raise ValueError(f"transition must be (D, D) or (N, D, D), got shape {tuple(transition.shape)}")
    width = transition.shape[-1]
    vectors = []
    for value, name in ((drive, "drive"), (h0, "h0")):
        value = require_tensor(value, name)
        if value.dim() not in (1, 2) or value.shape[-1] != width:
            raise ValueError(f"{name} must be (D,) or (N, D) with D = {width}, got shape {tuple(value.shape)}")
        vectors.append(value)
    count = max(
        transition.shape[0] if transition.dim() == 3 else 1, *(v.shape[0] if v.dim() == 2 else 1 for v in vectors)
    )
    transition = transition.detach().cpu().to(dtype).expand(count, width, width)
    drive, h = (v.detach().cpu().to(dtype).expand(count, width) for v in vectors)
    if rounding != "per_operation":  # exact evaluation of the rounded numbers, in float64
        transition, drive, h = transition.double(), drive.double(), h.double()
    states = torch.empty(steps, count, width, dtype=dtype)
    for k in range(steps):
        if rounding == "per_operation":
            h = _rounded_step(transition, drive, h)
        else:
            h = torch.einsum("nij,nj->ni", transition, h) + drive
            if rounding == "per_step":
                h = h.to(dtype).double()
        states[k] = h
    return states


def residue_conflicts(states: torch.Tensor, modulus: int) -> tuple[int, int]:
    """Can a lookup decoder read k mod ``modulus`` off these states h_1 .. h_K of one orbit on 1^k?

    Returns ``(distinct, conflicting)``: how many distinct states occur, and how many of them occur
    at two lengths k with different residues mod ``modulus`` (a decoder must be wrong at one). A
    counter mod ``modulus`` on 1^k for k <= K exists exactly when ``conflicting`` is 0.

    Args:
        states: (K, D), one orbit (e.g. ``iterate_linear(...)[:, n]``).
        modulus: m >= 2.
    """
    states = require_tensor(states, "states", 2, "(K, D)")
    require_positive_int(modulus, "modulus")
    residues: dict[bytes, set[int]] = {}
    for k, state in enumerate(states.detach().cpu().to(torch.float64).numpy(), start=1):
        residues.setdefault(state.tobytes(), set()).add(k % modulus)
    return len(residues), sum(len(seen) > 1 for seen in residues.values())


def period_census(
    transitions: torch.Tensor,
    steps: int,
    dtype: str | torch.dtype,
    rounding: str,
    generator: torch.Generator,
    window: int = 64,
) -> dict[int, int]:
    """How many of N systems h_k = A h_{k-1} + b end in each period on 1^k, in one rounding model.

    Each matrix of ``transitions`` (N, D, D) gets a random drive b ~ N(0, 0.5^2) and start h_0 ~
    N(0, 1) from ``generator``; after ``steps`` steps, ``orbit_periods`` over the last ``window``
    states reads each period (0: no repeat within the window, i.e. not settled or a longer cycle).

    Returns:
        {period: how many systems}, sorted by period.
    """
    transitions = require_tensor(transitions, "transitions", 3, "(N, D, D)")
    require_positive_int(window, "window")
    count, width = transitions.shape[0], transitions.shape[-1]
    drives = torch.randn(count, width, generator=generator, dtype=torch.float64) * 0.5
    starts = torch.randn(count, width, generator=generator, dtype=torch.float64)
    states = iterate_linear(transitions, drives, steps, dtype, starts, rounding)
    periods = orbit_periods(states[-min(window, steps) :])
    return dict(sorted(Counter(periods.tolist()).items()))


def real_spectrum_matrices(
    count: int, low: float, high: float, dtype: str | torch.dtype, generator: torch.Generator, triangular: bool = False
) -> torch.Tensor:
    """Random 2 x 2 matrices in ``dtype`` whose eigenvalues (of the rounded matrix) are real and in [low, high].

    Entries are drawn uniformly from [-1.5, 1.5] and the matrices that qualify are kept, so fewer than
    ``count`` come back. ``triangular=False`` keeps only non-triangular ones (both off-diagonal entries
    non-zero); ``triangular=True`` zeroes the lower-left entry of every draw.

    Returns:
        Tensor (N, 2, 2) in ``dtype``, N <= count.
    """
    dtype = as_dtype(dtype)
    require_positive_int(count, "count")
    low, high = require_number(low, "low"), require_number(high, "high")
    matrices = (torch.rand(count, 2, 2, generator=generator, dtype=torch.float64) * 3 - 1.5).to(dtype)
    if triangular:
        matrices[:, 1, 0] = 0
    eigenvalues = torch.linalg.eigvals(matrices.double())
    real = eigenvalues.imag.abs().amax(dim=1) == 0
    inside = ((eigenvalues.real >= low) & (eigenvalues.real <= high)).all(dim=1)
    kept = real & inside
    if not triangular:
        kept &= (matrices[:, 0, 1] != 0) & (matrices[:, 1, 0] != 0)
    return matrices[kept]


def parity_machine(bits: torch.Tensor) -> torch.Tensor:
    """The one-neuron LRNN that computes parity exactly: h_t = a(x_t) h_{t-1} + b(x_t), h_0 = 0.

    With a(1) = -1, b(1) = 1 the symbol 1 flips the state between 0 and 1; with a(0) = 1, b(0) = 0
    the symbol 0 leaves it alone. So h_t is the parity of the number of ones among x_1 .. x_t.

    Args:
        bits: float tensor (B, T) of zeros and ones.

    Returns:
        Tensor (B, T), the same dtype: h_1 .. h_T, each exactly 0 or 1.
    """
    require_bits(bits)
    ### BEGIN SOLUTION
    gates = 1 - 2 * bits
    states = scan.hillis_steele_scan(gates.unsqueeze(-1), bits.unsqueeze(-1))
    return states.squeeze(-1)
    ### END SOLUTION
