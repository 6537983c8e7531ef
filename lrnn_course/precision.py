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
================  =========================================================================

Rounding model: the state is stored in ``dtype`` and every operation rounds to it, exactly as
PyTorch computes ``gate * h + drive`` for Python floats ``gate``, ``drive`` and a ``dtype`` tensor
``h``: the product is formed in float32 (PyTorch's "opmath" type for 16-bit floats) from the
unrounded gate, the drive is first rounded to ``dtype``, and each result is rounded to ``dtype``.
"""

from __future__ import annotations

import torch

from . import scan
from .validate import require_number, require_positive_int, require_tensor

DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


def _opmath(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def as_dtype(dtype: object) -> torch.dtype:
    """The torch dtype named by ``dtype`` (a name such as "float16", or the dtype itself), if it is one of ``DTYPES``."""
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
            raise ValueError(f"{name} must be a float or a 1-d tensor (one value per coordinate), got shape {tuple(value.shape)}")
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


def iterate(gate: float | torch.Tensor, drive: float | torch.Tensor, steps: int, dtype: str | torch.dtype, h0: float = 0.0) -> torch.Tensor:
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
    earlier_equal = states[:-1] == states[-1]
    steps_back = torch.arange(states.shape[0] - 1, 0, -1).unsqueeze(1)
    nearest = torch.where(earlier_equal, steps_back, states.shape[0]).min(dim=0).values
    return nearest.masked_fill(~earlier_equal.any(dim=0), 0)


def parity_machine(bits: torch.Tensor) -> torch.Tensor:
    """The one-neuron LRNN that computes parity exactly: h_t = a(x_t) h_{t-1} + b(x_t), h_0 = 0.

    With a(1) = -1, b(1) = 1 the symbol 1 flips the state between 0 and 1; with a(0) = 1, b(0) = 0
    the symbol 0 leaves it alone. So h_t is the parity of the number of ones among x_1 .. x_t.

    Args:
        bits: float tensor (B, T) of zeros and ones.

    Returns:
        Tensor (B, T), the same dtype: h_1 .. h_T, each exactly 0 or 1.
    """
    bits = require_tensor(bits, "bits", 2, "(B, T)")
    if not bool(((bits == 0) | (bits == 1)).all()):
        raise ValueError("bits must hold only zeros and ones")
    ### BEGIN SOLUTION
    gates = 1 - 2 * bits
    states = scan.hillis_steele_scan(gates.unsqueeze(-1), bits.unsqueeze(-1))
    return states.squeeze(-1)
    ### END SOLUTION
