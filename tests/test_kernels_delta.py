"""The Triton chunked delta rule and DeltaProduct agree with the token-by-token recurrences in float64.

On the CPU the kernels run through Triton's interpreter in chunks of 16, so T = 1, 17, 63, 64, 65
and 1000 cover one partial chunk, chunk boundaries on both sides and many chunks; D_k = 5 and
D_v = 70 (two value blocks of 64, the second nearly empty) are no multiple of any block. β takes
exactly 0, 1 and 2 among uniform values, α exactly 0 (a reset) and 1. Every gradient is checked:
q, k, v, β, α and the initial state, against autograd through the float64 reference. Both kernel
versions run these tests: the split kernels (``kernels.delta_split``, what ``ops`` runs) and the
single kernel K3 teaches first (``kernels.delta``).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from kernel_support import KERNEL_DEVICE, needs_kernel, on_gpu, relative_max_error, rms_relative_error

from lrnn_course import chunkwise, deltanet, deltaproduct, ops
from lrnn_course.kernels import delta, delta_split
from lrnn_course.kernels.delta import MAX_KEY_DIM
from lrnn_course.ops import chunk_delta_product, chunk_delta_rule

FLOAT32_TOLERANCE = 1e-5
BFLOAT16_RMS_TOLERANCE = 2e-2
# The split kernels' bfloat16 gradients: W, U and the chunk states stored in bfloat16, as in fla, cost DeltaNet's
# dK 2.6 % at T = 1000 with β up to 2 (test_kernels_delta_split.py measures it); outputs stay within 2 %.
BFLOAT16_GRADIENT_RMS_TOLERANCE = 3e-2


def delta_inputs(batch, steps, heads, key_dim, value_dim, *, gated, seed=0, per_token=()):
    """Float64 (q, k, v, β, α or None, S_0) with special values mixed in; ``per_token`` inserts an n_h axis."""
    generator = torch.Generator().manual_seed(seed)
    lead = (batch, steps, *per_token, heads)

    def uniform_with(shape, low, high, specials):
        values = low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float64)
        chosen = torch.tensor(specials, dtype=torch.float64)[torch.randint(len(specials), shape, generator=generator)]
        return torch.where(torch.rand(shape, generator=generator) < 0.3, chosen, values)

    q = torch.randn(batch, steps, heads, key_dim, generator=generator, dtype=torch.float64)
    k = F.normalize(torch.randn(*lead, key_dim, generator=generator, dtype=torch.float64), dim=-1)
    v = torch.randn(*lead, value_dim, generator=generator, dtype=torch.float64)
    beta = uniform_with(lead, 0.0, 2.0, [0.0, 1.0, 2.0])
    alpha = uniform_with((batch, steps, heads), 0.0, 1.0, [0.0, 1.0, 1.0, 1.0]) if gated else None
    initial = torch.randn(batch, heads, key_dim, value_dim, generator=generator, dtype=torch.float64)
    return q, k, v, beta, alpha, initial


def outputs_and_gradients(function, inputs, dtype, device):
    """(outputs, final state, gradients of Σ w·outputs + Σ w'·state for every input), ``inputs`` cast first.

    The weights w, w' are drawn in float64 from a fixed seed, so every call sees the same ones.
    """
    leaves = [None if x is None else x.detach().to(device, dtype).requires_grad_(True) for x in inputs]
    outputs, state = function(*leaves)
    generator = torch.Generator().manual_seed(1)
    weights = [
        torch.randn(x.shape, generator=generator, dtype=torch.float64).to(device, dtype) for x in (outputs, state)
    ]
    ((outputs * weights[0]).sum() + (state * weights[1]).sum()).backward()
    return outputs, state, [None if x is None else x.grad for x in leaves]


def compare_with_reference(
    kernel,
    reference,
    inputs,
    *,
    kernel_inputs=None,
    dtype=torch.float32,
    device=KERNEL_DEVICE,
    error=relative_max_error,
    tolerance=FLOAT32_TOLERANCE,
    gradient_tolerance=None,
):
    """The kernel in ``dtype`` against the reference in float64: outputs, final state and every gradient.

    ``kernel_inputs`` (default ``inputs``) are what the kernel gets, e.g. keys normalised again after rounding.
    Gradients are held to ``gradient_tolerance`` when given, else to ``tolerance`` as the outputs are.
    """
    expected = outputs_and_gradients(reference, inputs, torch.float64, "cpu")
    mine = outputs_and_gradients(kernel, inputs if kernel_inputs is None else kernel_inputs, dtype, device)
    names = ("outputs", "final state", "q", "k", "v", "beta", "alpha", "initial state")
    for name, result, wanted in zip(names, (mine[0], mine[1], *mine[2]), (expected[0], expected[1], *expected[2])):
        if wanted is None:
            assert result is None, name
            continue
        assert result.shape == wanted.shape and result.dtype == dtype, name
        measured = error(result.float().cpu(), wanted)
        allowed = tolerance if name in ("outputs", "final state") or gradient_tolerance is None else gradient_tolerance
        assert measured < allowed, f"{name}: {measured:.1e}"


def triton_delta_rule(*inputs):
    return chunk_delta_rule(*inputs, backend="triton")


def triton_delta_product(*inputs):
    return chunk_delta_product(*inputs, backend="triton")


KERNEL_VERSIONS = {
    "split": (triton_delta_rule, triton_delta_product),
    "single": (delta.chunk_delta_rule, delta.chunk_delta_product),
}
delta_rule_versions = pytest.mark.parametrize(
    "kernel", [rule for rule, _ in KERNEL_VERSIONS.values()], ids=KERNEL_VERSIONS.keys()
)


@needs_kernel
def test_ops_runs_the_split_kernels(monkeypatch):
    def refuse(*inputs):
        raise AssertionError("the single kernel ran")

    monkeypatch.setattr(delta._ChunkDeltaRuleFunction, "apply", refuse)
    for rule, per_token in ((triton_delta_rule, ()), (triton_delta_product, (2,))):
        inputs = [
            None if x is None else x.float() for x in delta_inputs(1, 5, 1, 4, 3, gated=True, per_token=per_token)
        ]
        outputs, state = rule(*inputs)
        assert outputs.shape == (1, 5, 1, 3) and state.shape == (1, 1, 4, 3)


@needs_kernel
@delta_rule_versions
@pytest.mark.parametrize("gated", [False, True], ids=["deltanet", "gated"])
@pytest.mark.parametrize(
    "batch, steps, heads, key_dim, value_dim",
    [(1, 1, 1, 5, 3), (3, 17, 2, 5, 7), (1, 63, 1, 16, 16), (3, 64, 1, 5, 3), (1, 65, 2, 8, 70), (1, 1000, 1, 5, 3)],
)
def test_delta_rule_matches_float64_recurrence(batch, steps, heads, key_dim, value_dim, gated, kernel):
    inputs = delta_inputs(batch, steps, heads, key_dim, value_dim, gated=gated, seed=steps)
    compare_with_reference(kernel, deltanet.delta_rule, inputs)


@needs_kernel
@pytest.mark.parametrize("kernel", [product for _, product in KERNEL_VERSIONS.values()], ids=KERNEL_VERSIONS.keys())
@pytest.mark.parametrize("gated", [False, True], ids=["deltaproduct", "gated"])
@pytest.mark.parametrize("n_householder", [2, 3])
def test_delta_product_matches_float64_recurrence(n_householder, gated, kernel):
    inputs = delta_inputs(2, 23, 2, 6, 5, gated=gated, seed=n_householder, per_token=(n_householder,))
    compare_with_reference(kernel, deltaproduct.delta_product, inputs)


@needs_kernel
@delta_rule_versions
def test_a_reset_cuts_every_gradient_before_it_exactly(kernel):
    """α = 0 at step 40 (chunk 2, row 8): nothing earlier, nor S_0, may reach a later output or the final state."""
    q, k, v, beta, alpha, initial = delta_inputs(1, 50, 1, 4, 3, gated=True, seed=3)
    alpha[:, 40] = 0.0
    leaves = [x.to(KERNEL_DEVICE, torch.float32).requires_grad_(True) for x in (q, k, v, beta, alpha, initial)]
    outputs, state = kernel(*leaves)
    (outputs[:, 40:].sum() + state.sum()).backward()
    for name, leaf in zip(("q", "k", "v", "beta", "alpha"), leaves):
        assert torch.equal(leaf.grad[:, :40], torch.zeros_like(leaf.grad[:, :40])), name
        assert leaf.grad[:, 41:].abs().sum() > 0, name
    assert torch.equal(leaves[-1].grad, torch.zeros_like(leaves[-1].grad))


@needs_kernel
def test_without_gradients_the_outputs_equal_the_chunkwise_reference():
    inputs = [x.float() for x in delta_inputs(2, 40, 3, 7, 9, gated=True, seed=5)]
    outputs, state = chunk_delta_rule(*inputs, backend="triton")
    expected_outputs, expected_state = chunk_delta_rule(*inputs, backend="reference")
    assert relative_max_error(outputs, expected_outputs.double()) < FLOAT32_TOLERANCE
    assert relative_max_error(state, expected_state.double()) < FLOAT32_TOLERANCE


def test_auto_keeps_float64_on_the_reference_and_forced_triton_says_why():
    inputs = delta_inputs(1, 9, 1, 4, 3, gated=False)
    outputs, _ = chunk_delta_rule(*inputs)
    assert torch.allclose(outputs, deltanet.delta_rule(*inputs)[0])
    with pytest.raises((TypeError, RuntimeError), match="float32, bfloat16 or float16|Triton cannot run here"):
        chunk_delta_rule(*inputs, backend="triton")


def test_a_head_wider_than_the_kernels_take_runs_on_the_reference_or_says_why():
    inputs = [None if x is None else x.float() for x in delta_inputs(1, 3, 1, MAX_KEY_DIM + 1, 2, gated=False)]
    outputs, state = chunk_delta_rule(*inputs)
    expected_outputs, expected_state = chunkwise.chunk_delta_rule(*inputs)
    assert torch.equal(outputs, expected_outputs) and torch.equal(state, expected_state)
    with pytest.raises(ValueError, match=f"D_k ≤ {MAX_KEY_DIM}, got D_k = {MAX_KEY_DIM + 1}"):
        chunk_delta_rule(*inputs, backend="triton")


def test_inputs_are_validated_before_any_kernel_runs():
    q, k, v, beta, alpha, initial = (None if x is None else x.float() for x in delta_inputs(1, 9, 1, 4, 3, gated=True))
    with pytest.raises(ValueError, match="beta"):
        chunk_delta_rule(q, k, v, beta * 3, alpha, initial)
    with pytest.raises(ValueError, match="L2-normalised"):
        chunk_delta_rule(q, 2 * k, v, beta, alpha, initial)
    with pytest.raises(ValueError, match="initial_state"):
        chunk_delta_rule(q, k, v, beta, alpha, initial[..., :2])
    with pytest.raises(ValueError, match="backend"):
        chunk_delta_rule(q, k, v, beta, alpha, initial, backend="cuda")


KERNEL_WRAPPERS = {
    "delta_rule": delta.chunk_delta_rule,
    "delta_product": delta.chunk_delta_product,
    "split_delta_rule": delta_split.chunk_delta_rule,
    "split_delta_product": delta_split.chunk_delta_product,
}


@pytest.mark.parametrize("wrapper", KERNEL_WRAPPERS.values(), ids=KERNEL_WRAPPERS.keys())
def test_kernel_paths_validate_without_reading_a_value(wrapper):
    """Tensors on the meta device have no values: reading one (.item(), bool(), what a host synchronisation
    waits for on a GPU) raises. The kernels' validation passes them and only the device refusal stops them;
    asked to check the values, it reads them and fails on the read."""
    per_token = (2,) if wrapper in (delta.chunk_delta_product, delta_split.chunk_delta_product) else ()
    q, k, v, beta, alpha, initial = (x.to("meta") for x in delta_inputs(1, 9, 2, 4, 3, gated=True, per_token=per_token))
    with pytest.raises(RuntimeError, match="backend='triton'"):
        wrapper(q, k, v, beta, alpha, initial)
    with pytest.raises(RuntimeError, match="meta tensors"):
        wrapper(q, k, v, beta, alpha, initial, check_values=True)
    with pytest.raises(ValueError, match="initial_state"):  # shapes are still checked
        wrapper(q, k, v, beta, alpha, initial[..., :2])


def loop_without_value_checks(q, k, v, beta, alpha, state, scale):
    """The recurrence step by step through ``deltanet.delta_rule_step``, which checks no value."""
    outputs = []
    for t in range(q.shape[1]):
        state = deltanet.delta_rule_step(state, k[:, t], v[:, t], beta[:, t], alpha[:, t])
        outputs.append(scale * torch.einsum("bhkv,bhk->bhv", state, q[:, t]))
    return torch.stack(outputs, dim=1), state


@needs_kernel
@pytest.mark.parametrize("wrapper", [delta.chunk_delta_rule, delta_split.chunk_delta_rule])
def test_kernels_run_the_recurrence_on_any_values_unless_asked_to_check(wrapper):
    """No value is the kernels' precondition (they divide by nothing): keys of length 1.1, β up to 2.4 and α in
    [-0.25, 1.25] give the recurrence's states, and a NaN reaches only its head's value column.
    ``check_values=True`` refuses each of those inputs as the reference does."""
    q, k, v, beta, alpha, initial = delta_inputs(1, 20, 2, 4, 3, gated=True)

    def on_kernel(*inputs, check_values=False):
        with torch.no_grad():
            return wrapper(*(x.to(KERNEL_DEVICE, torch.float32) for x in inputs), check_values=check_values)

    long_keys, wide_betas, wide_gates = 1.1 * k, 1.2 * beta, 1.5 * alpha - 0.25
    expected = loop_without_value_checks(q, long_keys, v, wide_betas, wide_gates, initial, 4**-0.5)
    result = on_kernel(q, long_keys, v, wide_betas, wide_gates, initial)
    for mine, wanted in zip(result, expected):
        assert relative_max_error(mine.cpu(), wanted) < FLOAT32_TOLERANCE
    poisoned = v.clone()
    poisoned[0, 7, 1, 2] = float("nan")
    reached = on_kernel(q, k, poisoned, beta, alpha)[0].isnan()
    assert reached[0, 7:, 1, 2].all()
    reached[0, :, 1, 2] = False  # earlier steps of its chunk may be NaN too: 0 · NaN in the chunk's products
    assert not reached.any()
    for inputs, match in [
        ((q, long_keys, v, beta, alpha), "L2-normalised"),
        ((q, k, v, wide_betas, alpha), r"beta must lie in \[0, 2\]"),
        ((q, k, v, beta, wide_gates), r"alpha must lie in \[0, 1\]"),
        ((q, k, poisoned, beta, alpha), "v has 1 non-finite"),
    ]:
        with pytest.raises(ValueError, match=match):
            on_kernel(*inputs, check_values=True)


@needs_kernel
@delta_rule_versions
def test_gradients_need_no_value_precondition_either(kernel):
    q, k, v, beta, alpha, initial = delta_inputs(2, 20, 2, 4, 3, gated=True, seed=3)
    compare_with_reference(
        kernel,
        lambda *inputs: loop_without_value_checks(*inputs, 4**-0.5),
        (q, 1.1 * k, v, 1.2 * beta, 1.5 * alpha - 0.25, initial),
    )


@on_gpu
@pytest.mark.parametrize("gated", [False, True], ids=["deltanet", "gated"])
def test_compiled_bfloat16_on_a_realistic_shape(gated):
    """(2, 1000, 4, 128, 128) in bfloat16 against float64: outputs within fla's RMS tolerance, gradients within 3 %."""
    inputs = delta_inputs(2, 1000, 4, 128, 128, gated=gated, seed=7)
    # Keys normalised again after rounding: the kernel's inputs must pass the unit-key check.
    kernel_inputs = (inputs[0], F.normalize(inputs[1].to(torch.bfloat16).double(), dim=-1), *inputs[2:])
    compare_with_reference(
        triton_delta_rule,
        deltanet.delta_rule,
        inputs,
        kernel_inputs=kernel_inputs,
        dtype=torch.bfloat16,
        device="cuda",
        error=rms_relative_error,
        tolerance=BFLOAT16_RMS_TOLERANCE,
        gradient_tolerance=BFLOAT16_GRADIENT_RMS_TOLERANCE,
    )


@on_gpu
@pytest.mark.parametrize("n_householder, gated", [(1, False), (2, True)], ids=["deltanet", "gated-deltaproduct"])
def test_a_layer_on_the_gpu_runs_the_kernels_and_matches_float64_on_the_cpu(n_householder, gated, monkeypatch):
    """DeltaProductLayer on ``ops`` takes the Triton kernels on CUDA (the PyTorch forms are made to raise) and
    agrees with the same weights in float64 on the CPU: outputs and every parameter's gradient."""
    torch.manual_seed(0)
    layer = deltaproduct.DeltaProductLayer(
        64, n_heads=2, n_householder=n_householder, gated=gated, recurrence=ops.chunk_delta_product
    ).double()
    x = torch.randn(3, 100, 64, dtype=torch.float64)
    weights = torch.randn(3, 100, 64, dtype=torch.float64)

    def outputs_and_parameter_gradients(module, inputs):
        module.zero_grad()
        outputs = module(inputs)
        (outputs * weights.to(outputs)).sum().backward()
        return outputs.detach().double().cpu(), [p.grad.double().cpu() for p in module.parameters()]

    expected = outputs_and_parameter_gradients(layer, x)
    monkeypatch.setattr(ops, "_pytorch_delta_rule", lambda key_dim: pytest.fail("the GPU layer ran PyTorch"))
    outputs, gradients = outputs_and_parameter_gradients(layer.float().cuda(), x.float().cuda())
    assert relative_max_error(outputs, expected[0]) < FLOAT32_TOLERANCE
    for (name, _), gradient, wanted in zip(layer.named_parameters(), gradients, expected[1]):
        assert relative_max_error(gradient, wanted) < FLOAT32_TOLERANCE, name


def test_chunk_delta_rule_rejects_an_empty_sequence_on_every_backend():
    q = F.normalize(torch.randn(1, 0, 2, 4), dim=-1)
    for backend in ("reference", "auto", "triton"):
        with pytest.raises(ValueError, match=r"at least one time step \(T >= 1\), got T = 0"):
            chunk_delta_rule(q, q, torch.randn(1, 0, 2, 4), torch.rand(1, 0, 2), backend=backend)
