"""The split forward of the chunked delta rule agrees with the float64 recurrence and with today's kernels.

In the interpreter chunks hold 16 steps, so T = 1, 17, 33 and 65 cover a partial chunk and chunk
boundaries; D_k = 5 and D_v = 70 are no multiple of any block (float32: five blocks of 16;
bfloat16: two of 64 in the parallel kernels, three of 32 in the serial one, the last nearly empty).
β takes exactly 0, 1 and 2, α exactly 0 (a reset) and 1 (``test_kernels_delta.delta_inputs``).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from kernel_support import KERNEL_DEVICE, needs_kernel, relative_max_error, rms_relative_error
from test_kernels_delta import BFLOAT16_RMS_TOLERANCE, FLOAT32_TOLERANCE, delta_inputs

from lrnn_course import chunkwise, deltanet
from lrnn_course.kernels import delta, delta_split

SHAPES = [(1, 1, 1, 5, 3), (2, 17, 2, 5, 7), (1, 33, 1, 16, 16), (1, 65, 2, 8, 70)]


def on_kernel_device(inputs, dtype):
    return [None if x is None else x.to(KERNEL_DEVICE, dtype) for x in inputs]


def assert_matches_the_recurrence(inputs, dtype, error, tolerance):
    """The split forward of float64 ``inputs`` run in ``dtype``: outputs and final state in ``dtype``, each within
    ``tolerance`` of the float64 recurrence by ``error``."""
    expected = deltanet.delta_rule(*inputs)
    outputs = delta_split.chunk_delta_rule_split_forward(*on_kernel_device(inputs, dtype))
    for result, wanted in zip(outputs, expected):
        assert result.dtype == dtype
        assert error(result.cpu(), wanted) < tolerance


@needs_kernel
@pytest.mark.parametrize("gated", [False, True], ids=["deltanet", "gated"])
@pytest.mark.parametrize("batch, steps, heads, key_dim, value_dim", SHAPES)
def test_float32_matches_the_float64_recurrence(batch, steps, heads, key_dim, value_dim, gated):
    inputs = delta_inputs(batch, steps, heads, key_dim, value_dim, gated=gated, seed=steps)
    assert_matches_the_recurrence(inputs, torch.float32, relative_max_error, FLOAT32_TOLERANCE)


@needs_kernel
@pytest.mark.parametrize("gated", [False, True], ids=["deltanet", "gated"])
@pytest.mark.parametrize("batch, steps, heads, key_dim, value_dim", [(2, 65, 2, 16, 70), (1, 1000, 2, 64, 32)])
def test_bfloat16_matches_the_float64_recurrence_within_fla_tolerance(batch, steps, heads, key_dim, value_dim, gated):
    """bfloat16 W, U, v_new and chunk states, float32 sums and running state: within 2 % even where β = 2 steps
    keep every rounding error for good (DeltaNet, T = 1000; 2.5 % with bfloat16 operands in the serial kernel)."""
    inputs = list(delta_inputs(batch, steps, heads, key_dim, value_dim, gated=gated, seed=11))
    inputs[1] = F.normalize(inputs[1].to(torch.bfloat16).double(), dim=-1)  # unit keys after rounding
    assert_matches_the_recurrence(inputs, torch.bfloat16, rms_relative_error, BFLOAT16_RMS_TOLERANCE)


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("gated", [False, True], ids=["deltanet", "gated"])
def test_equals_the_forward_of_todays_kernels(gated, dtype):
    inputs = on_kernel_device(delta_inputs(2, 40, 3, 7, 9, gated=gated, seed=5), dtype)
    if dtype == torch.bfloat16:
        inputs[1] = F.normalize(inputs[1].float(), dim=-1).to(dtype)
    split = delta_split.chunk_delta_rule_split_forward(*inputs)
    monolithic = delta.chunk_delta_rule(*inputs)
    # Today's kernel keeps U and the states in float32 where the split one rounds them to bfloat16.
    error, tolerance = (
        (relative_max_error, FLOAT32_TOLERANCE)
        if dtype == torch.float32
        else (rms_relative_error, BFLOAT16_RMS_TOLERANCE)
    )
    for result, wanted in zip(split, monolithic):
        assert error(result.cpu(), wanted.cpu().double()) < tolerance


@needs_kernel
def test_chunk_states_and_pseudo_values_are_the_chunkwise_ones():
    """What the backward will read: S_0 of every chunk, and v_new = U - W S_0, against the float64 chunk form."""
    q, k, v, beta, alpha, initial = delta_inputs(1, 40, 2, 6, 5, gated=True, seed=2)
    kernel_inputs = on_kernel_device((q, k, v, beta, alpha, initial), torch.float32)
    chunk = delta_split.launch_configuration(kernel_inputs[0], kernel_inputs[2]).chunk
    written = delta_split.launch_split_forward(*kernel_inputs, scale=1.0)
    for n in range(written["chunk_states"].shape[2]):
        before = slice(0, n * chunk)
        state = (
            deltanet.delta_rule(q[:, before], k[:, before], v[:, before], beta[:, before], alpha[:, before], initial)[1]
            if n
            else initial
        )
        assert relative_max_error(written["chunk_states"][:, :, n].cpu(), state) < FLOAT32_TOLERANCE
        within = slice(n * chunk, (n + 1) * chunk)
        decay = chunkwise.decay_matrix(alpha[:, within].transpose(1, 2))  # (B, H, C, C)
        transform = chunkwise.ut_transform(k[:, within].transpose(1, 2), beta[:, within].transpose(1, 2), decay)
        gate = torch.cumprod(alpha[:, within].transpose(1, 2), dim=-1)
        w = transform @ ((beta[:, within].transpose(1, 2) * gate)[..., None] * k[:, within].transpose(1, 2))
        u = transform @ (beta[:, within].transpose(1, 2)[..., None] * v[:, within].transpose(1, 2))
        v_new = u - w @ state
        for name, wanted in (("w", w), ("u", u), ("v_new", v_new)):
            result = written[name][:, within].transpose(1, 2).cpu()
            assert relative_max_error(result, wanted) < FLOAT32_TOLERANCE, name


@needs_kernel
def test_beta_two_on_one_repeated_key_stays_accurate():
    """β = 2 and every key equal: A's powers grow like 2^j · binomials, T does not; doubling never forms a power."""
    q, k, v, _, _, initial = delta_inputs(1, 33, 1, 8, 4, gated=False, seed=4)
    k = k[:, :1].expand_as(k).contiguous()
    beta = torch.full(k.shape[:-1], 2.0, dtype=torch.float64)
    expected = deltanet.delta_rule(q, k, v, beta, None, initial)
    outputs = delta_split.chunk_delta_rule_split_forward(
        *on_kernel_device((q, k, v, beta, None, initial), torch.float32)
    )
    for result, wanted in zip(outputs, expected):
        assert relative_max_error(result.cpu(), wanted) < FLOAT32_TOLERANCE


@needs_kernel
def test_inputs_asking_for_gradients_are_refused_and_accepted_without_grad():
    inputs = on_kernel_device(delta_inputs(1, 5, 1, 4, 3, gated=False), torch.float32)
    inputs[0].requires_grad_(True)
    with pytest.raises(RuntimeError, match="no backward pass"):
        delta_split.chunk_delta_rule_split_forward(*inputs)
    with torch.no_grad():
        outputs, _ = delta_split.chunk_delta_rule_split_forward(*inputs)
    assert outputs.grad_fn is None
