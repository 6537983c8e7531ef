"""The selective scan: loop reference, parallel form, gate ranges, and the block around it."""

from __future__ import annotations

import math

import pytest
import torch

from lrnn_course import mamba


def inputs(batch=2, steps=9, channels=3, states=4, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)

    def make(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    return (
        make(batch, steps, channels),
        torch.nn.functional.softplus(make(batch, steps, channels)),
        make(channels, states),
        make(batch, steps, states),
        make(batch, steps, states),
        make(channels),
    )


def dense_reference(u, delta, A_log, B, C, D, negative):
    """Each (channel, state) pair as its own scalar recurrence, in Python floats."""
    batch, steps, channels = u.shape
    y = torch.zeros_like(u)
    for b in range(batch):
        for e in range(channels):
            for n in range(A_log.shape[1]):
                h = 0.0
                for t in range(steps):
                    gate = math.exp(-delta[b, t, e].item() * math.exp(A_log[e, n].item()))
                    gate = 2 * gate - 1 if negative else gate
                    h = gate * h + delta[b, t, e].item() * B[b, t, n].item() * u[b, t, e].item()
                    y[b, t, e] += h * C[b, t, n].item()
    return y + D * u


@pytest.mark.parametrize("negative", [False, True])
def test_loop_equals_scalar_recurrences_and_parallel_equals_loop(negative):
    args = inputs()
    loop = mamba.selective_scan(*args, negative=negative)
    assert torch.allclose(loop, dense_reference(*args, negative), atol=1e-12, rtol=0)
    assert torch.allclose(mamba.selective_scan_parallel(*args, negative=negative), loop, atol=1e-12, rtol=0)


def test_gates_lie_in_their_ranges_and_hit_the_ends():
    delta = torch.tensor([[[0.0], [1e-3], [50.0]]], dtype=torch.float64)
    A_log = torch.zeros(1, 2, dtype=torch.float64)
    positive = mamba.selective_gates(delta, A_log)
    negative = mamba.selective_gates(delta, A_log, negative=True)
    assert positive[0, 0, 0].tolist() == [1.0, 1.0] and negative[0, 0, 0].tolist() == [1.0, 1.0]
    assert negative[0, 2, 0].tolist() == pytest.approx([-1.0, -1.0], abs=1e-15)
    assert torch.equal(negative, 2 * positive - 1)
    random = mamba.selective_gates(inputs()[1], inputs()[2], negative=True)
    assert bool((random >= -1).all() and (random <= 1).all()) and bool((random < 0).any())


def test_mamba_block_keeps_shape_and_is_causal():
    torch.manual_seed(0)
    block = mamba.MambaBlock(8, d_state=4, negative=True).double()
    x = torch.randn(2, 12, 8, dtype=torch.float64)
    y = block(x)
    assert y.shape == x.shape
    changed = x.clone()
    changed[:, 7:] += 1.0
    assert torch.allclose(block(changed)[:, :7], y[:, :7], atol=1e-12)
    assert not torch.allclose(block(changed)[:, 7:], y[:, 7:])


@pytest.mark.parametrize("negative", [False, True])
def test_mamba_block_gates_are_the_gates_forward_applies(monkeypatch, negative):
    torch.manual_seed(0)
    block = mamba.MambaBlock(8, d_state=4, negative=negative).double()
    x = torch.randn(2, 12, 8, dtype=torch.float64)
    original, applied = mamba.selective_gates, []

    def recording_gates(*args, **kwargs):
        applied.append(original(*args, **kwargs))
        return applied[-1]

    monkeypatch.setattr(mamba, "selective_gates", recording_gates)
    block(x)
    assert len(applied) == 1
    gates = block.gates(x)
    assert gates.shape == (2, 12, 16, 4)
    assert torch.equal(gates, applied[0])
    assert bool((gates > (-1.0 if negative else 0.0)).all() and (gates <= 1).all())


def test_mamba_initial_step_sizes_lie_in_dt_range():
    block = mamba.MambaBlock(16, dt_min=1e-3, dt_max=1e-1)
    dt = torch.nn.functional.softplus(block.dt_proj.bias)
    assert bool((dt >= 1e-3 * 0.999).all() and (dt <= 1e-1 * 1.001).all())
    assert torch.allclose(torch.nn.functional.softplus(mamba.inverse_softplus(dt)), dt, rtol=1e-5)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda a: (a[0][..., :2],) + a[1:], "shape"),
        (lambda a: (a[0], -a[1]) + a[2:], "non-negative"),
        (lambda a: (a[0].float(),) + a[1:], "dtype"),
        (lambda a: (a[0].clone().fill_(float("nan")),) + a[1:], "finite"),
    ],
)
def test_selective_scan_refuses_bad_input(change, message):
    with pytest.raises((ValueError, TypeError), match=message):
        mamba.selective_scan(*change(inputs()))


def test_mamba_block_refuses_wrong_width_and_bad_config():
    with pytest.raises(ValueError, match="features"):
        mamba.MambaBlock(8)(torch.randn(1, 4, 6))
    with pytest.raises(ValueError):
        mamba.MambaBlock(8, d_conv=-1)
    with pytest.raises(ValueError):
        mamba.MambaBlock(8, dt_min=0.2, dt_max=0.1)


def test_wrong_inputs_raise_clear_errors():
    u, delta, A_log, B = torch.randn(1, 5, 4), torch.rand(1, 5, 4), torch.randn(4, 3), torch.randn(1, 5, 3)
    for scan in (mamba.selective_scan, mamba.selective_scan_parallel):
        with pytest.raises(ValueError, match=r"at least one time step \(T >= 1\)"):
            scan(u[:, :0], delta[:, :0], A_log, B[:, :0], B[:, :0])
    with pytest.raises(ValueError, match="x must be positive"):
        mamba.inverse_softplus(torch.tensor([-1.0, 1.0]))
    with pytest.raises(TypeError, match="x must have a floating-point dtype"):
        mamba.inverse_softplus(torch.tensor([1]))
    with pytest.raises(ValueError, match="dt_max must be finite"):
        mamba.MambaBlock(4, dt_max=float("inf"))
    with pytest.raises(TypeError, match="dt_min must be a Python int or float"):
        mamba.MambaBlock(4, dt_min="0.001")
    block = mamba.MambaBlock(4)
    with pytest.raises(TypeError, match="x has dtype torch.float64 but the block's weights are torch.float32"):
        block(torch.randn(1, 5, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"x must hold at least one time step"):
        block(torch.randn(1, 0, 4))


def block_reference(block, x):
    """MambaBlock's output rebuilt in float64 from its parameters, one step and one kernel tap at a time."""

    def silu(v):
        return v * torch.sigmoid(v)

    def softplus(v):
        return torch.log1p(torch.exp(v))

    W_in, W_x, W_dt, b_dt = block.in_proj.weight, block.x_proj.weight, block.dt_proj.weight, block.dt_proj.bias
    channels, rank, states = W_in.shape[0] // 2, block.dt_rank, block.d_state
    batch, steps, _ = x.shape
    projected = x @ W_in.T
    u, z = projected[..., :channels], projected[..., channels:]
    kernel, bias = block.conv.weight[:, 0, :], block.conv.bias  # (E, K): tap K-1 reads the current step
    taps = kernel.shape[1]
    conv = torch.zeros_like(u)
    for t in range(steps):
        conv[:, t] = bias
        for k in range(taps):
            source = t - (taps - 1) + k  # left zero-padding: earlier than step 0 reads zero
            if source >= 0:
                conv[:, t] += kernel[:, k] * u[:, source]
    u = silu(conv)
    xp = u @ W_x.T
    dt, B, C = xp[..., :rank], xp[..., rank : rank + states], xp[..., rank + states :]
    delta = softplus(dt @ W_dt.T + b_dt)  # (batch, T, E)
    A = torch.exp(block.A_log)  # (E, N)
    y = torch.zeros(batch, steps, channels, dtype=x.dtype)
    all_gates = []
    for b in range(batch):
        h = torch.zeros(channels, states, dtype=x.dtype)
        for t in range(steps):
            a = torch.exp(-delta[b, t][:, None] * A)  # (E, N)
            if block.negative:
                a = 2 * a - 1
            all_gates.append(a)
            h = a * h + (delta[b, t] * u[b, t])[:, None] * B[b, t][None, :]
            y[b, t] = (h * C[b, t][None, :]).sum(-1) + block.D * u[b, t]
    return (y * silu(z)) @ block.out_proj.weight.T, torch.stack(all_gates)


@pytest.mark.parametrize("negative", [False, True])
def test_mamba_block_equals_independent_float64_reference(negative):
    torch.manual_seed(1)
    block = mamba.MambaBlock(20, d_state=3, expand=2, d_conv=4, negative=negative).double()
    assert block.dt_rank == 2
    with torch.no_grad():  # move off the init so Δ is large enough for negative gates, and the bias/D matter
        for p in block.parameters():
            p.add_(0.5 * torch.randn_like(p))
        block.dt_proj.bias.add_(1.0)
    x = torch.randn(2, 11, 20, dtype=torch.float64)  # T = 11 > kernel 4
    with torch.no_grad():
        expected, gates = block_reference(block, x)
        got = block(x)
    if negative:
        assert bool((gates < 0).any())  # the remap 2a - 1 actually changes signs here
    assert got.shape == expected.shape == x.shape
    assert torch.allclose(got, expected, atol=1e-10, rtol=0), (got - expected).abs().max()


def test_selective_gates_refuses_non_finite_values_and_mixed_dtypes() -> None:
    delta, A_log = torch.rand(2, 3, 4), torch.randn(4, 5)
    with pytest.raises(ValueError, match=r"delta has 24 non-finite value\(s\)"):
        mamba.selective_gates(delta * float("nan"), A_log)
    bad_A_log = A_log.clone()
    bad_A_log[0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"A_log has 1 non-finite value\(s\)"):
        mamba.selective_gates(delta, bad_A_log)
    with pytest.raises(TypeError, match="A_log has dtype torch.float64 on cpu, but delta has dtype torch.float32"):
        mamba.selective_gates(delta, A_log.double())
