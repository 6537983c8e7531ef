"""Diagonal linear recurrences and the scans that compute them (Lesson 01).

Glossary (code name -> paper symbol, Grazzi et al. 2025, eq. 1 with diagonal A):

==============  ===========================================================================
``a``           the diagonal of the state-transition matrix, A(x_t) = Diag(a_t); shape (B, T, D)
``b``           the input term B(x_t); same shape as ``a``
``h0``          the initial state H_0; shape (B, D), zeros when omitted
``h``           the states H_1 ... H_T, with h_t = a_t * h_{t-1} + b_t; shape (B, T, D)
``B, T, D``     batch size, sequence length, state width
``(a, b)``      one step of the recurrence viewed as the affine map h -> a * h + b
``combine``     composition of two such maps, earlier one first: the scan operator
==============  ===========================================================================

Every scan here returns the same ``h`` as :func:`sequential_scan`, the reference loop; they differ
in how much work they do and how many steps must run one after another (``scan_cost``).
Functions whose bodies sit between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are the
solutions of Lesson 01's exercises: the notebook generator pastes them, or stubs them out.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .validate import (
    require_broadcastable,
    require_finite,
    require_like,
    require_positive_int,
    require_same,
    require_shape,
    require_steps,
    require_tensor,
)


def validate_scan_inputs(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, finite: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check the inputs of a diagonal scan and return ``(a, b, h0)``, with zeros for a missing h0.

    ``a`` and ``b`` must be finite floating tensors of one shape (B, T, D) with T >= 1;
    ``h0``, when given, must be (B, D) with the same dtype and device. With ``finite=False`` no value
    is read, only shapes, dtypes and devices: on a GPU, reading one waits for every queued kernel.
    """
    require_tensor(a, "a (the gates)", ndim=3, dims="(B, T, D)")
    require_tensor(b, "b (the inputs)", ndim=3, dims="(B, T, D)")
    require_same([a, b], ["a (the gates)", "b (the inputs)"])
    require_steps(a, "a and b")
    if finite:
        require_finite(a, "a (the gates)")
        require_finite(b, "b (the inputs)")
    if h0 is None:
        return a, b, a.new_zeros(a.shape[0], a.shape[2])
    require_tensor(h0, "h0 (the initial state)", ndim=2, dims="(B, D)")
    require_shape(h0, "h0", (a.shape[0], a.shape[2]), "(B, D)")
    require_like(h0, "h0 (the initial state)", a, "a (the gates)")
    if finite:
        require_finite(h0, "h0 (the initial state)")
    return a, b, h0


def sequential_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Run h_t = a_t * h_{t-1} + b_t one step at a time and return every state.

    Args:
        a: gates, shape (B, T, D); any real value, negative ones included.
        b: inputs, shape (B, T, D).
        h0: initial state, shape (B, D); zeros when None.

    Returns:
        h: shape (B, T, D), where h[:, t] is the state after reading step t.
    """
    a, b, h = validate_scan_inputs(a, b, h0)
    ### BEGIN SOLUTION
    states = []
    # unbind, not a[:, t]: the backward pass of each index op writes a gradient as large as the whole
    # tensor, so the backward pass of a T-step loop over a[:, t] would cost T^2 instead of T
    for a_t, b_t in zip(a.unbind(1), b.unbind(1)):
        h = a_t * h + b_t
        states.append(h)
    return torch.stack(states, dim=1)
    ### END SOLUTION


def combine(
    earlier: tuple[torch.Tensor, torch.Tensor], later: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compose two steps of the recurrence: first ``earlier``, then ``later``.

    Each step is the affine map h -> a * h + b, given as the pair (a, b). Applying (a1, b1)
    and then (a2, b2) gives h -> a2 * (a1 * h + b1) + b2 = (a1 * a2) * h + (a2 * b1 + b2).

    Args:
        earlier: the pair (a1, b1) of the step that acts first.
        later: the pair (a2, b2) of the step that acts second.

    Returns:
        The pair (a1 * a2, a2 * b1 + b2); tensors broadcast elementwise (one dtype and device).
    """
    for pair, name in ((earlier, "earlier"), (later, "later")):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(
                f"{name} must be a pair (a, b) of tensors, got {type(pair).__name__}"
                + (f" of length {len(pair)}" if isinstance(pair, (tuple, list)) else "")
            )
        for x, role in zip(pair, (f"{name}[0] (its gate a)", f"{name}[1] (its input b)")):
            require_like(require_tensor(x, role), role, earlier[0], "earlier[0] (its gate a)")
    require_broadcastable([*earlier, *later], "earlier (a1, b1) and later (a2, b2)", "all (B, T, D)")
    ### BEGIN SOLUTION
    a1, b1 = earlier
    a2, b2 = later
    return a1 * a2, a2 * b1 + b2
    ### END SOLUTION


def hillis_steele_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The same states as ``sequential_scan``, in ceil(log2 T) rounds of ``combine``.

    In round k every position t combines its running pair with the one 2**k steps earlier
    (positions t < 2**k combine with the identity (1, 0)), so after the rounds each position
    holds the composition of all steps up to it. Fold ``h0`` into the first step before the rounds.

    Args:
        a: gates, shape (B, T, D).
        b: inputs, shape (B, T, D).
        h0: initial state, shape (B, D); zeros when None.

    Returns:
        h: shape (B, T, D).
    """
    a, b, h0 = validate_scan_inputs(a, b, h0)
    ### BEGIN SOLUTION
    b = torch.cat([a[:, :1] * h0[:, None] + b[:, :1], b[:, 1:]], dim=1)
    offset = 1
    while offset < a.shape[1]:
        earlier_a = torch.cat([torch.ones_like(a[:, :offset]), a[:, :-offset]], dim=1)
        earlier_b = torch.cat([torch.zeros_like(b[:, :offset]), b[:, :-offset]], dim=1)
        a, b = combine((earlier_a, earlier_b), (a, b))
        offset *= 2
    return b
    ### END SOLUTION


def blelloch_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The work-efficient scan of Blelloch (1990): an up-sweep and a down-sweep over a tree.

    The up-sweep builds the tree level by level: each node is the composition of its two children,
    left first. The down-sweep hands every node the composition of everything earlier (its exclusive
    prefix): a left child gets its parent's, a right child its parent's followed by its left sibling.
    A last ``combine`` with each step gives the inclusive states. About 3T combines (2T in the
    sweeps, T in the last step) in 2 * ceil(log2 T) + 1 rounds, against T * ceil(log2 T) combines for
    Hillis-Steele; each level is half the size of the one below, so the memory traffic is O(T) too.
    The sequence is padded with identity steps (1, 0) to a power of two.

    Args:
        a: gates, shape (B, T, D).
        b: inputs, shape (B, T, D).
        h0: initial state, shape (B, D); zeros when None.

    Returns:
        h: shape (B, T, D).
    """
    a, b, h0 = validate_scan_inputs(a, b, h0)
    steps = a.shape[1]
    size = 1 << (steps - 1).bit_length()
    b = torch.cat([a[:, :1] * h0[:, None] + b[:, :1], b[:, 1:]], dim=1)
    step_a = F.pad(a, (0, 0, 0, size - steps), value=1.0)
    step_b = F.pad(b, (0, 0, 0, size - steps), value=0.0)
    levels = [(step_a, step_b)]
    while levels[-1][0].shape[1] > 1:  # up-sweep: a parent is its left child, then its right child
        level_a, level_b = levels[-1]
        levels.append(combine((level_a[:, 0::2], level_b[:, 0::2]), (level_a[:, 1::2], level_b[:, 1::2])))
    prefix_a, prefix_b = torch.ones_like(levels[-1][0]), torch.zeros_like(levels[-1][1])  # nothing precedes the root
    for level_a, level_b in reversed(levels[:-1]):  # down-sweep: the prefixes of the level below
        right_a, right_b = combine((prefix_a, prefix_b), (level_a[:, 0::2], level_b[:, 0::2]))
        prefix_a = torch.stack([prefix_a, right_a], dim=2).flatten(1, 2)
        prefix_b = torch.stack([prefix_b, right_b], dim=2).flatten(1, 2)
    _, states = combine((prefix_a, prefix_b), (step_a, step_b))
    return states[:, :steps]


def chunked_scan(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, chunk_size: int = 64
) -> torch.Tensor:
    """Scan inside chunks of ``chunk_size`` steps in parallel, then carry the state across chunks.

    1. Split the sequence into chunks (pad the last one with identity steps a=1, b=0).
    2. In every chunk at once, compute the states started from zero and the running product
       of the gates (what the state entering the chunk gets multiplied by).
    3. Walk over the chunks in order: the state entering chunk c+1 is the last state of chunk c.
    4. Add (gate product) * (entering state) to the local states.

    Args:
        a: gates, shape (B, T, D).
        b: inputs, shape (B, T, D).
        h0: initial state, shape (B, D); zeros when None.
        chunk_size: steps per chunk, a positive int (need not divide T).

    Returns:
        h: shape (B, T, D).
    """
    a, b, h0 = validate_scan_inputs(a, b, h0)
    require_positive_int(chunk_size, "chunk_size")
    ### BEGIN SOLUTION
    batch, steps, width = a.shape
    n_chunks = math.ceil(steps / chunk_size)
    pad = n_chunks * chunk_size - steps
    a_chunks = F.pad(a, (0, 0, 0, pad), value=1.0).reshape(batch * n_chunks, chunk_size, width)
    b_chunks = F.pad(b, (0, 0, 0, pad), value=0.0).reshape(batch * n_chunks, chunk_size, width)
    local = hillis_steele_scan(a_chunks, b_chunks).reshape(batch, n_chunks, chunk_size, width)
    gate_products = torch.cumprod(a_chunks, dim=1).reshape(batch, n_chunks, chunk_size, width)
    entering, h = [], h0
    for gate_product, last in zip(gate_products[:, :, -1].unbind(1), local[:, :, -1].unbind(1)):
        entering.append(h)
        h = gate_product * h + last
    states = local + gate_products * torch.stack(entering, dim=1)[:, :, None]
    return states.reshape(batch, n_chunks * chunk_size, width)[:, :steps]
    ### END SOLUTION


def segment_sums(x: torch.Tensor) -> torch.Tensor:
    """Return S with S[..., t, s, :] = x[..., s+1, :] + ... + x[..., t, :] for s <= t, and -inf for s > t.

    ``x`` has shape (B, T, D); the result has shape (B, T, T, D). Summing each segment directly,
    instead of subtracting two cumulative sums, keeps -inf entries (log 0) from turning into NaN.
    """
    return _segment_sums(require_tensor(x, "x", ndim=3, dims="(B, T, D)"))


def _segment_sums(x: torch.Tensor) -> torch.Tensor:
    """``segment_sums`` of a checked ``x``."""
    steps = x.shape[1]
    repeated = x[:, :, None, :].expand(-1, -1, steps, -1)  # [b, j, s] = x[b, j]
    later = torch.ones(steps, steps, dtype=torch.bool, device=x.device).tril(-1)  # j > s
    sums = torch.cumsum(repeated.masked_fill(~later[None, :, :, None], 0.0), dim=1)  # [b, t, s]
    lower = torch.ones(steps, steps, dtype=torch.bool, device=x.device).tril()
    return sums.masked_fill(~lower[None, :, :, None], -math.inf)


def with_start_step(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The steps 0, 1, ..., T of a scan from zero whose states from step 1 on are those from ``h0``.

    h0 becomes the input of a step 0 (its gate, 1, is in no product a_{s+1} ... a_t), so that
    h_t = sum_{s=0}^{t} a_{s+1} ... a_t b_s covers the initial state too: (B, T + 1, D) each.
    """
    return torch.cat([torch.ones_like(a[:, :1]), a], dim=1), torch.cat([h0[:, None], b], dim=1)


def products_through_logs(a: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """exp(log m_{s+1} + ... + log m_t) for s <= t (0 for s > t), m the ``magnitude`` of the gates ``a``: (B, T, T, D).

    A gate of exactly 0 stays out of the logarithm: log 0 = -inf gives the right product, exp(-inf) = 0,
    but the derivative 1/0 meets it as inf * 0 = NaN. Instead the zeros of each segment are counted: with
    none it is the exp of the sum; with one it is 0, and its derivative along that gate is the product of
    the others; with two or more it is 0 and so are its derivatives: the true values and derivatives.
    """
    zero = a == 0
    logs = torch.log(torch.where(zero, 1.0, magnitude))
    zeros = _segment_sums(zero.to(a.dtype))  # how many zero gates each segment holds
    lone_zero = _segment_sums(torch.where(zero, a, 0.0))  # 0, with derivative 1 along each zero gate
    zero_factor = torch.where(zeros == 0, 1.0, torch.where(zeros == 1, lone_zero, 0.0))
    return torch.exp(_segment_sums(logs)) * zero_factor


def log_space_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The parallel form production kernels use: h_t = sum_s exp(log a_{s+1} + ... + log a_t) * b_s.

    Mamba-2, GLA and mLSTM store the gates as logarithms and turn products into sums, which
    only works for positive gates: log of a negative gate is NaN and so is every state after it.
    Costs O(T^2 D) memory; meant for teaching-sized T.

    Args:
        a: gates, shape (B, T, D); must be >= 0 for a finite answer.
        b: inputs, shape (B, T, D).
        h0: initial state, shape (B, D); zeros when None.

    Returns:
        h: shape (B, T, D); NaN wherever a negative gate was involved. A gate of exactly 0 gives the right
        states and gradients (see ``products_through_logs``).
    """
    a, b = with_start_step(*validate_scan_inputs(a, b, h0))
    decay = products_through_logs(a, a)  # [b, t, s, d] = a_{s+1} ... a_t
    return torch.einsum("btsd,bsd->btd", decay, b)[:, 1:]


def signed_log_space_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """``log_space_scan`` repaired for negative gates by splitting each gate into sign and magnitude.

    a_{s+1} ... a_t = (-1)^(number of negative gates in s+1..t) * exp(log|a_{s+1}| + ... + log|a_t|):
    the magnitudes go through log space as before, and the sign is the parity of a count,
    which is itself a segment sum.

    Args:
        a: gates, shape (B, T, D); any real value.
        b: inputs, shape (B, T, D).
        h0: initial state, shape (B, D); zeros when None.

    Returns:
        h: shape (B, T, D).
    """
    a, b = with_start_step(*validate_scan_inputs(a, b, h0))
    negatives = (a < 0).to(a.dtype)
    sign = 1.0 - 2.0 * torch.remainder(_segment_sums(negatives).nan_to_num(neginf=0.0), 2.0)
    decay = sign * products_through_logs(a, a.abs())
    return torch.einsum("btsd,bsd->btd", decay, b)[:, 1:]


def scan_cost(steps: int, algorithm: str, chunk_size: int = 64) -> tuple[int, int]:
    """Return (work, depth) of a scan over ``steps`` positions, counted in elementwise combines.

    Work is the total number of combines; depth is the number of rounds that must run one after
    another (the rest of each round can run in parallel). ``algorithm`` is one of
    ``"sequential"``, ``"hillis_steele"``, ``"blelloch"``, ``"chunked"``.
    """
    require_positive_int(steps, "steps")
    require_positive_int(chunk_size, "chunk_size")
    rounds = math.ceil(math.log2(steps)) if steps > 1 else 0
    if algorithm == "sequential":
        return steps - 1, steps - 1
    if algorithm == "hillis_steele":
        # every round combines all positions; the first 2**k of round k combine with the identity
        return steps * rounds, rounds
    if algorithm == "blelloch":
        size = 2**rounds
        # up-sweep and down-sweep each touch size - 1 tree nodes; a final combine per position
        return 2 * (size - 1) + size, 2 * rounds + 1
    if algorithm == "chunked":
        n_chunks = math.ceil(steps / chunk_size)
        inner_work, inner_depth = scan_cost(chunk_size, "hillis_steele")
        # chunks in parallel, then one carry per chunk in order, then one fix-up per position
        return n_chunks * inner_work + n_chunks + n_chunks * chunk_size, inner_depth + n_chunks + 1
    raise ValueError(f"algorithm must be sequential, hillis_steele, blelloch or chunked, got {algorithm!r}")


def measure_cost(algorithm: Callable[..., torch.Tensor], steps: int) -> tuple[int, int]:
    """Run a scan of this module on ``steps`` positions and count its combines: (work, depth).

    Work is the number of positions passed to ``combine`` in all calls together, depth the number
    of calls (each call is one round of elementwise work). The scan must look ``combine`` up in
    this module, as the library's scans do; ``scan_cost`` gives the same counts by formula.
    """
    require_positive_int(steps, "steps")
    module, original = sys.modules[__name__], combine
    counts = {"work": 0, "depth": 0}

    def counting_combine(earlier: tuple[torch.Tensor, torch.Tensor], later: tuple[torch.Tensor, torch.Tensor]):
        counts["work"] += later[0].shape[1]
        counts["depth"] += 1
        return original(earlier, later)

    module.combine = counting_combine
    try:
        algorithm(torch.ones(1, steps, 1), torch.zeros(1, steps, 1))
    finally:
        module.combine = original
    return counts["work"], counts["depth"]
