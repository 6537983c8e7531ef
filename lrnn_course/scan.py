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

from .validate import require_finite, require_like, require_positive_int, require_same, require_tensor

def validate_scan_inputs(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check the inputs of a diagonal scan and return ``(a, b, h0)``, with zeros for a missing h0.

    ``a`` and ``b`` must be finite floating tensors of one shape (B, T, D) with T >= 1;
    ``h0``, when given, must be (B, D) with the same dtype and device.
    """
    require_tensor(a, "a (the gates)", ndim=3, dims="(B, T, D)")
    require_tensor(b, "b (the inputs)", ndim=3, dims="(B, T, D)")
    require_same([a, b], ["b (the inputs)", "a (the gates)"][::-1])
    if a.shape[1] == 0:
        raise ValueError("a and b must hold at least one time step (T >= 1), got T = 0")
    require_finite(a, "a (the gates)")
    require_finite(b, "b (the inputs)")
    batch, _, width = a.shape
    if h0 is None:
        h0 = a.new_zeros(batch, width)
    else:
        require_tensor(h0, "h0 (the initial state)", ndim=2, dims="(B, D)")
        if h0.shape != (batch, width):
            raise ValueError(f"h0 must have shape (B, D) = {(batch, width)}, got {tuple(h0.shape)}")
        require_same([a[:, 0], h0], ["a (the gates)", "h0 (the initial state)"])
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
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
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
            raise TypeError(f"{name} must be a pair (a, b) of tensors, got {type(pair).__name__}"
                            + (f" of length {len(pair)}" if isinstance(pair, (tuple, list)) else ""))
        require_tensor(pair[0], f"{name}[0] (its gate a)")
        require_tensor(pair[1], f"{name}[1] (its input b)")
    for x, name in ((earlier[1], "earlier[1] (its input b)"), (later[0], "later[0] (its gate a)"), (later[1], "later[1] (its input b)")):
        require_like(x, name, earlier[0], "earlier[0] (its gate a)")
    try:
        torch.broadcast_shapes(earlier[0].shape, earlier[1].shape, later[0].shape, later[1].shape)
    except RuntimeError:
        raise ValueError(f"the shapes of earlier (a1, b1) and later (a2, b2) must broadcast together, e.g. all (B, T, D); got "
                         f"{tuple(earlier[0].shape)}, {tuple(earlier[1].shape)}, {tuple(later[0].shape)}, {tuple(later[1].shape)}") from None
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

    The up-sweep stores in every right child the composition of its subtree; the down-sweep
    turns those partial results into exclusive prefixes (the composition of everything earlier),
    and a last ``combine`` with each step gives the inclusive states. About 3T combines (2T in
    the sweeps, T in the last step) in 2 * ceil(log2 T) + 1 rounds, against T * ceil(log2 T)
    combines for Hillis-Steele.
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
    tree_a, tree_b = step_a, step_b
    half = 1
    while half < size:  # up-sweep: right child <- left subtree then right subtree
        right = torch.arange(2 * half - 1, size, 2 * half, device=a.device)
        new_a, new_b = combine((tree_a[:, right - half], tree_b[:, right - half]), (tree_a[:, right], tree_b[:, right]))
        tree_a, tree_b = tree_a.index_copy(1, right, new_a), tree_b.index_copy(1, right, new_b)
        half *= 2
    root = torch.tensor([size - 1], device=a.device)
    tree_a = tree_a.index_copy(1, root, torch.ones_like(tree_a[:, root]))
    tree_b = tree_b.index_copy(1, root, torch.zeros_like(tree_b[:, root]))
    while half > 1:  # down-sweep: left child <- prefix, right child <- prefix then left subtree
        half //= 2
        right = torch.arange(2 * half - 1, size, 2 * half, device=a.device)
        left = right - half
        prefix = (tree_a[:, right], tree_b[:, right])
        left_subtree = (tree_a[:, left], tree_b[:, left])
        new_a, new_b = combine(prefix, left_subtree)
        tree_a = tree_a.index_copy(1, left, prefix[0]).index_copy(1, right, new_a)
        tree_b = tree_b.index_copy(1, left, prefix[1]).index_copy(1, right, new_b)
    _, states = combine((tree_a, tree_b), (step_a, step_b))
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
    for chunk in range(n_chunks):
        entering.append(h)
        h = gate_products[:, chunk, -1] * h + local[:, chunk, -1]
    states = local + gate_products * torch.stack(entering, dim=1)[:, :, None]
    return states.reshape(batch, n_chunks * chunk_size, width)[:, :steps]
    ### END SOLUTION


def segment_sums(x: torch.Tensor) -> torch.Tensor:
    """Return S with S[..., t, s, :] = x[..., s+1, :] + ... + x[..., t, :] for s <= t, and -inf for s > t.

    ``x`` has shape (B, T, D); the result has shape (B, T, T, D). Summing each segment directly,
    instead of subtracting two cumulative sums, keeps -inf entries (log 0) from turning into NaN.
    """
    require_tensor(x, "x", ndim=3, dims="(B, T, D)")
    steps = x.shape[1]
    repeated = x[:, :, None, :].expand(-1, -1, steps, -1)  # [b, j, s] = x[b, j]
    later = torch.ones(steps, steps, dtype=torch.bool, device=x.device).tril(-1)  # j > s
    sums = torch.cumsum(repeated.masked_fill(~later[None, :, :, None], 0.0), dim=1)  # [b, t, s]
    lower = torch.ones(steps, steps, dtype=torch.bool, device=x.device).tril()
    return sums.masked_fill(~lower[None, :, :, None], -math.inf)


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
        h: shape (B, T, D); NaN wherever a negative gate was involved.
    """
    a, b, h0 = validate_scan_inputs(a, b, h0)
    log_a = torch.log(a)
    decay = torch.exp(segment_sums(log_a))  # [b, t, s, d] = a_{s+1} ... a_t
    from_h0 = torch.exp(torch.cumsum(log_a, dim=1)) * h0[:, None]
    return torch.einsum("btsd,bsd->btd", decay, b) + from_h0


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
    a, b, h0 = validate_scan_inputs(a, b, h0)
    log_magnitude = torch.log(a.abs())
    negatives = (a < 0).to(a.dtype)
    sign = 1.0 - 2.0 * torch.remainder(segment_sums(negatives).nan_to_num(neginf=0.0), 2.0)
    decay = sign * torch.exp(segment_sums(log_magnitude))
    sign_from_h0 = 1.0 - 2.0 * torch.remainder(torch.cumsum(negatives, dim=1), 2.0)
    from_h0 = sign_from_h0 * torch.exp(torch.cumsum(log_magnitude, dim=1)) * h0[:, None]
    return torch.einsum("btsd,bsd->btd", decay, b) + from_h0


def fastest_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The quickest exact scan for these tensors, for training models: the Triton kernel of
    ``lrnn_course.kernels`` on a GPU, ``hillis_steele_scan`` on the CPU (where the kernel would only
    run through Triton's interpreter, which is for reading kernels, not for training with them).
    """
    require_tensor(a, "a (the gates)")  # the scan called below checks the rest
    if a.is_cuda:
        from .kernels import diagonal_scan

        return diagonal_scan(a, b, h0)
    return hillis_steele_scan(a, b, h0)


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
