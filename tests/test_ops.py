"""``ops``, the one dispatch layer: every PyTorch path it picks is exact, and ``backend=`` means what it says.

Which path is fastest is measured, not tested (no timing in tests): the module docstring of
``lrnn_course.ops`` gives the numbers behind each choice. Here: the chosen PyTorch form agrees with
the token-by-token recurrence for heads on both sides of ``LOOP_BELOW_KEY_DIM`` and chunk lengths
inside and at the ends of ``CHUNK_RANGE``; ``"auto"`` never takes Triton's interpreter; the models
run their recurrences through ``ops``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from kernel_support import needs_kernel

from lrnn_course import deltanet, deltaproduct, ops
from lrnn_course.models import build_model
from lrnn_course.scan import sequential_scan


def scan_inputs(seed=0, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    a = 2 * torch.rand(2, 21, 3, generator=generator, dtype=dtype) - 1
    return (
        a,
        torch.randn(2, 21, 3, generator=generator, dtype=dtype),
        torch.randn(2, 3, generator=generator, dtype=dtype),
    )


def delta_inputs(key_dim, n_householder=None, gated=True, steps=37, seed=0):
    """Float64 (q, k, v, β, α, S_0); with ``n_householder``, k, v and β get DeltaProduct's sub-step axis."""
    generator = torch.Generator().manual_seed(seed)
    options = {"generator": generator, "dtype": torch.float64}
    per_token = () if n_householder is None else (n_householder,)
    q = F.normalize(torch.randn(2, steps, 2, key_dim, **options), dim=-1)
    k = F.normalize(torch.randn(2, steps, *per_token, 2, key_dim, **options), dim=-1)
    v = torch.randn(2, steps, *per_token, 2, 5, **options)
    beta = 2 * torch.rand(2, steps, *per_token, 2, **options)
    alpha = torch.rand(2, steps, 2, **options) if gated else None
    return q, k, v, beta, alpha, torch.randn(2, 2, key_dim, 5, **options)


def test_the_pytorch_scan_is_the_loop():
    a, b, h0 = scan_inputs()
    assert torch.equal(ops.diagonal_scan(a, b, h0), sequential_scan(a, b, h0))
    assert torch.equal(ops.diagonal_scan(a, b, h0, backend="reference"), sequential_scan(a, b, h0))


# 4: the loop; 8, 16: chunks of 16; 40: chunks of 40; 100: chunks of 64 (more than 37 steps: one padded chunk).
@pytest.mark.parametrize("key_dim", [4, 8, 16, 40, 100])
@pytest.mark.parametrize("gated", [False, True], ids=["deltanet", "gated"])
def test_the_pytorch_delta_rule_agrees_with_the_recurrence(key_dim, gated):
    inputs = delta_inputs(key_dim, gated=gated, steps=70 if key_dim == 40 else 37)
    outputs, state = ops.chunk_delta_rule(*inputs)
    expected_outputs, expected_state = deltanet.delta_rule(*inputs)
    torch.testing.assert_close(outputs, expected_outputs, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(state, expected_state, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("key_dim", [4, 16])
def test_the_pytorch_delta_product_agrees_with_the_recurrence(key_dim):
    inputs = delta_inputs(key_dim, n_householder=3)
    outputs, state = ops.chunk_delta_product(*inputs)
    expected_outputs, expected_state = deltaproduct.delta_product(*inputs)
    torch.testing.assert_close(outputs, expected_outputs, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(state, expected_state, atol=1e-10, rtol=1e-10)


def test_gradients_flow_through_the_chunk_form():
    leaves = [x.requires_grad_(True) for x in delta_inputs(16, n_householder=2)]
    outputs, state = ops.chunk_delta_product(*leaves)
    grads = torch.autograd.grad(outputs.sum() + state.sum(), leaves)
    expected_outputs, expected_state = deltaproduct.delta_product(*leaves)
    expected = torch.autograd.grad(expected_outputs.sum() + expected_state.sum(), leaves)
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, atol=1e-9, rtol=1e-9)


def test_auto_takes_pytorch_on_cpu_tensors():
    a, _, _ = scan_inputs(dtype=torch.float32)
    q = delta_inputs(16)[0].float()
    assert ops.resolve_backend("auto", a) == "reference"
    assert ops.resolve_backend("auto", q, ops.delta_refusal) == "reference"


@needs_kernel
def test_triton_runs_the_kernel_even_on_the_cpu_where_auto_does_not():
    a, b, h0 = (x.float().requires_grad_(True) for x in scan_inputs())
    kernel_states = ops.diagonal_scan(a, b, h0, backend="triton")
    auto_states = ops.diagonal_scan(a, b, h0)
    assert type(kernel_states.grad_fn).__name__ == "_DiagonalScanFunctionBackward"
    assert type(auto_states.grad_fn).__name__ != "_DiagonalScanFunctionBackward"
    torch.testing.assert_close(kernel_states, auto_states, atol=1e-5, rtol=1e-5)


def test_unknown_backends_and_non_tensors_are_refused_with_clear_errors():
    a, b, h0 = scan_inputs()
    with pytest.raises(ValueError, match="backend must be one of 'auto', 'triton', 'reference', got 'cuda'"):
        ops.diagonal_scan(a, b, h0, backend="cuda")
    with pytest.raises(TypeError, match=r"a \(the gates\) must be a torch.Tensor"):
        ops.diagonal_scan([1.0], [1.0])
    q, k, v, beta, alpha, _ = delta_inputs(4, n_householder=2)
    for function in (ops.chunk_delta_rule, ops.chunk_delta_product):
        with pytest.raises(TypeError, match="q must be a torch.Tensor"):
            function([1.0], k, v, beta, alpha)
        with pytest.raises(ValueError, match=r"q must have 4 dimensions \(B, T, H, D_k\)"):
            function(q[0], k, v, beta, alpha)


@pytest.mark.parametrize(
    "name, options, attribute",
    [
        ("mamba", {"d_state": 2}, "scan"),
        ("deltanet", {"n_heads": 2}, "recurrence"),
        ("deltaproduct", {"n_heads": 2, "n_householder": 2}, "recurrence"),
    ],
)
def test_the_models_run_their_recurrences_through_ops(name, options, attribute):
    model = build_model(name, vocab_size=5, n_classes=2, d_model=8, **options)
    expected = ops.diagonal_scan if attribute == "scan" else ops.chunk_delta_product
    assert all(getattr(layer, attribute) is expected for layer in model.layers)


def test_the_diagonal_model_calls_ops(monkeypatch):
    calls = []
    monkeypatch.setattr(ops, "diagonal_scan", lambda a, b: calls.append(a.shape) or sequential_scan(a, b))
    build_model("diagonal", vocab_size=5, n_classes=2, d_model=8)(torch.zeros(3, 4, dtype=torch.long))
    assert calls == [torch.Size([3, 4, 8])]
