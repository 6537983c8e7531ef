"""Selective state-space models (Mamba): input-dependent gates, and the range of their eigenvalues.

Glossary (code name -> paper symbol, Grazzi et al. 2025, Table 1 and eq. 2):

=============  =============================================================================
``u``          x_t, the scan's input channels; shape (batch, T, E)
``delta``      Δ_t = softplus(W_Δ x_t + dt_bias), the step size; shape (batch, T, E), > 0
``A_log``      w_1, with A = -exp(A_log) the continuous-time decay; shape (E, N)
``gates``      exp(-Δ_t exp(w_1)) in (0, 1): the diagonal of A(x_t), one per (channel, state)
``negative``   the paper's change: gates 2 exp(-Δ_t exp(w_1)) - 1 in (-1, 1)
``B``, ``C``   B_t (input projection, the paper's k_t) and C_t (read-out, q_t); (batch, T, N)
``D``          the skip weight w_2 in dec(H_t, x_t); shape (E,)
``state``      H_t, one N-vector per channel; shape (batch, E, N)
``E``, ``N``   expand * d_model channels, d_state states per channel
=============  =============================================================================

Each channel e runs its own diagonal recurrence over N states,
H_t[e] = gates_t[e] * H_{t-1}[e] + Δ_t[e] B_t u_t[e], and reads y_t[e] = <H_t[e], C_t> + D[e] u_t[e].
``selective_scan`` is the loop (the reference); ``selective_scan_parallel`` computes the same with
a parallel scan; ``MambaBlock`` wraps it with Mamba's projections, causal convolution and gate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .scan import blelloch_scan, sequential_scan
from .validate import require_finite, require_number, require_positive_int, require_shape, require_steps, require_tensor


def validate_selective_inputs(
    u: torch.Tensor, delta: torch.Tensor, A_log: torch.Tensor, B: torch.Tensor, C: torch.Tensor, D: torch.Tensor | None
) -> None:
    """Raise a clear error unless the selective scan's inputs have matching shapes, one dtype and device, and
    finite values; the values of delta and A_log are checked by ``selective_gates``, which every scan calls."""
    require_tensor(u, "u", 3, "(batch, T, E)")
    require_tensor(delta, "delta", 3, "(batch, T, E)")
    require_tensor(A_log, "A_log", 2, "(E, N)")
    require_tensor(B, "B", 3, "(batch, T, N)")
    require_tensor(C, "C", 3, "(batch, T, N)")
    require_steps(u, "u")
    require_shape(delta, "delta", u.shape, "(batch, T, E)")
    if A_log.shape[0] != u.shape[2]:
        raise ValueError(f"A_log must have shape (E, N) with E = {u.shape[2]} channels of u, got {tuple(A_log.shape)}")
    for name, x in (("B", B), ("C", C)):
        require_shape(x, name, (*u.shape[:2], A_log.shape[1]), "(batch, T, N)")
    if D is not None:
        require_shape(require_tensor(D, "D", 1, "(E,)"), "D", u.shape[2:], "(E,)")
    for name, x in (("u", u), ("delta", delta), ("A_log", A_log), ("B", B), ("C", C), ("D", D)):
        if x is not None and (x.dtype != u.dtype or x.device != u.device):
            raise TypeError(
                f"{name} has dtype {x.dtype} on {x.device}, but u has dtype {u.dtype} on {u.device}; "
                "use one dtype and device"
            )
    for name, x in (("u", u), ("B", B), ("C", C), ("D", D)):
        if x is not None:
            require_finite(x, name)


def selective_gates(delta: torch.Tensor, A_log: torch.Tensor, negative: bool = False) -> torch.Tensor:
    """The gates exp(-Δ_t exp(A_log)) of every (step, channel, state), optionally remapped to 2g - 1.

    Args:
        delta: Δ, shape (batch, T, E), non-negative.
        A_log: shape (E, N).
        negative: False for Mamba's range (0, 1]; True for the paper's (-1, 1].

    Returns:
        Tensor (batch, T, E, N).
    """
    require_tensor(delta, "delta", 3, "(batch, T, E)")
    require_tensor(A_log, "A_log", 2, "(E, N)")
    if A_log.shape[0] != delta.shape[-1]:
        raise ValueError(f"A_log must have shape (E, N) with E = {delta.shape[-1]}, got {tuple(A_log.shape)}")
    if A_log.dtype != delta.dtype or A_log.device != delta.device:
        raise TypeError(
            f"A_log has dtype {A_log.dtype} on {A_log.device}, but delta has dtype {delta.dtype} on {delta.device}; "
            "use one dtype and device"
        )
    require_finite(delta, "delta")
    require_finite(A_log, "A_log")
    if bool((delta < 0).any()):
        raise ValueError("delta must be non-negative (it is a softplus output); found a negative step size")
    ### BEGIN SOLUTION
    gates = torch.exp(-delta.unsqueeze(-1) * torch.exp(A_log))
    return 2 * gates - 1 if negative else gates
    ### END SOLUTION


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A_log: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    negative: bool = False,
) -> torch.Tensor:
    """Mamba's selective scan, one step at a time: the reference every faster version must equal.

    H_t = gates_t * H_{t-1} + Δ_t B_t u_t (per channel, H_0 = 0), y_t = <H_t, C_t> + D u_t.

    Args:
        u: inputs (batch, T, E).  delta: step sizes Δ (batch, T, E).  A_log: (E, N).
        B, C: input and read-out projections (batch, T, N).  D: skip weights (E,), or None.
        negative: use the gates 2 exp(-Δ exp(A_log)) - 1 (eigenvalues in (-1, 1]).

    Returns:
        y: (batch, T, E).
    """
    validate_selective_inputs(u, delta, A_log, B, C, D)
    ### BEGIN SOLUTION
    gates = selective_gates(delta, A_log, negative)
    drive = (delta * u).unsqueeze(-1) * B.unsqueeze(2)
    state = torch.zeros_like(gates[:, 0])
    outputs = []
    # unbind, not gates[:, t]: the backward pass of each index op writes a gradient as large as the
    # whole tensor, so the backward pass of a T-step loop would cost T^2 instead of T
    for gate, push, read in zip(gates.unbind(1), drive.unbind(1), C.unbind(1)):
        state = gate * state + push
        outputs.append((state * read.unsqueeze(1)).sum(-1))
    y = torch.stack(outputs, dim=1)
    return y if D is None else y + D * u
    ### END SOLUTION


def selective_scan_parallel(
    u: torch.Tensor,
    delta: torch.Tensor,
    A_log: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    negative: bool = False,
    scan: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = blelloch_scan,
) -> torch.Tensor:
    """``selective_scan`` through one diagonal scan over the E * N recurrences at once.

    ``scan(a, b)`` runs them on (batch, T, E * N) gates and inputs: Blelloch's parallel scan by default,
    whose work grows like T (Hillis-Steele's like T log T); ``MambaBlock`` passes the scan it was built with.
    """
    validate_selective_inputs(u, delta, A_log, B, C, D)
    batch, steps, channels = u.shape
    gates = selective_gates(delta, A_log, negative)
    drive = (delta * u).unsqueeze(-1) * B.unsqueeze(2)
    states = scan(gates.reshape(batch, steps, -1), drive.reshape(batch, steps, -1))
    y = torch.einsum("btdn,btn->btd", states.reshape(gates.shape), C)
    return y if D is None else y + D * u


def inverse_softplus(x: torch.Tensor) -> torch.Tensor:
    """The y with softplus(y) = x, for x > 0 (used to place Δ's initial values)."""
    require_tensor(x, "x")
    if not bool((x > 0).all()):
        raise ValueError("x must be positive (and not NaN): softplus takes only positive values")
    return x + torch.log(-torch.expm1(-x))


class MambaBlock(nn.Module):
    """A Mamba(-1) mixer in plain PyTorch: in-projection, causal depthwise convolution, selective scan, gate.

    Args:
        d_model: width of the residual stream.
        d_state: N, the states per channel.
        expand: E = expand * d_model channels.
        d_conv: kernel size of the causal convolution; 0 leaves it out.
        negative: the paper's [-1, 1] gates (2 exp(-Δ exp(A_log)) - 1) instead of [0, 1].
        dt_min, dt_max: Mamba's initial Δ range, log-uniform; decisive for learning, see Lesson 02.
        scan: the diagonal scan ``scan(a, b)`` over the E * N recurrences: ``sequential_scan`` (the
            fastest on a CPU) unless given; ``models.build_model`` passes ``ops.diagonal_scan``,
            which also takes the Triton kernel on a GPU.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        expand: int = 2,
        d_conv: int = 4,
        negative: bool = False,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        scan: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = sequential_scan,
    ) -> None:
        super().__init__()
        self.scan = scan
        for value, name in ((d_model, "d_model"), (d_state, "d_state"), (expand, "expand")):
            require_positive_int(value, name)
        if isinstance(d_conv, bool) or not isinstance(d_conv, int) or d_conv < 0:
            raise ValueError(f"d_conv must be a non-negative int (0 = no convolution), got {d_conv!r}")
        require_number(dt_min, "dt_min")
        require_number(dt_max, "dt_max")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")
        channels, self.d_state, self.negative = expand * d_model, d_state, bool(negative)
        self.dt_rank = math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * channels, bias=False)
        self.conv = nn.Conv1d(channels, channels, d_conv, groups=channels, padding=d_conv - 1) if d_conv else None
        self.x_proj = nn.Linear(channels, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, channels)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(channels, 1))
        self.D = nn.Parameter(torch.ones(channels))
        self.out_proj = nn.Linear(channels, d_model, bias=False)
        with torch.no_grad():
            nn.init.uniform_(self.dt_proj.weight, -(self.dt_rank**-0.5), self.dt_rank**-0.5)
            log_dt = torch.empty(channels).uniform_(math.log(dt_min), math.log(dt_max))
            self.dt_proj.bias.copy_(inverse_softplus(log_dt.exp()))

    def _scan_inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """u, z, Δ, B, C for the input x (batch, T, d_model): what the selective scan and the output gate read."""
        require_tensor(x, "x", 3, "(batch, T, d_model)")
        if x.shape[-1] != self.in_proj.in_features:
            raise ValueError(f"x must have {self.in_proj.in_features} features, got shape {tuple(x.shape)}")
        require_steps(x, "x")
        if x.dtype != self.in_proj.weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(f"x has dtype {x.dtype} but the block's weights are {self.in_proj.weight.dtype}")
        u, z = self.in_proj(x).chunk(2, dim=-1)
        if self.conv is not None:
            u = self.conv(u.transpose(1, 2))[..., : x.shape[1]].transpose(1, 2)
        u = F.silu(u)
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        return u, z, delta, B, C

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """The gates (eigenvalues of A(x_t)) that ``forward(x)`` applies: (batch, T, E, N).

        Computed along forward's own path (projection, convolution, SiLU, Δ), so they are in (0, 1],
        or in (-1, 1] for a block with ``negative=True``.
        """
        _, _, delta, _, _ = self._scan_inputs(x)
        return selective_gates(delta, self.A_log, self.negative)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, T, d_model) -> (batch, T, d_model)."""
        u, z, delta, B, C = self._scan_inputs(x)
        y = selective_scan_parallel(u, delta, self.A_log, B, C, self.D, self.negative, self.scan)
        return self.out_proj(y * F.silu(z))
