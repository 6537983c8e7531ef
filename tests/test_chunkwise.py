"""The chunked (WY/UT) delta rule against the token-by-token recurrence, in float64 and float32."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from lrnn_course import chunkwise, deltanet


def inputs(steps, gated, with_state, dtype=torch.float64, seed=0, key_dim=8, value_dim=6):
    """Unit keys, β ∈ [0, 2] with exact 0, 1 and 2 among them, gates in [0, 1] with an exact 0 (a reset)."""
    generator = torch.Generator().manual_seed(seed)
    options = {"generator": generator, "dtype": dtype}
    q = torch.randn(2, steps, 2, key_dim, **options)
    k = F.normalize(torch.randn(2, steps, 2, key_dim, **options), dim=-1)
    v = torch.randn(2, steps, 2, value_dim, **options)
    beta = 2 * torch.rand(2, steps, 2, **options)
    beta.view(-1)[: min(3, beta.numel())] = torch.tensor([0.0, 1.0, 2.0], dtype=dtype)[: min(3, beta.numel())]
    alpha = None
    if gated:
        alpha = torch.rand(2, steps, 2, **options) ** 0.1  # mostly near 1, so the memory lasts
        alpha.view(-1)[steps // 2] = 0.0
    state = torch.randn(2, 2, key_dim, value_dim, **options) if with_state else None
    return q, k, v, beta, alpha, state


@pytest.mark.parametrize(
    "steps,chunk_size,gated,with_state",
    list(itertools.product([1, 63, 64, 65, 1000], [16, 32, 64], [False, True], [False, True])),
)
def test_chunked_equals_the_recurrence_in_float64(steps, chunk_size, gated, with_state):
    args = inputs(steps, gated, with_state, seed=steps + chunk_size)
    expected_out, expected_state = deltanet.delta_rule(*args)
    out, state = chunkwise.chunk_delta_rule(*args, chunk_size=chunk_size)
    assert out.shape == expected_out.shape and state.shape == expected_state.shape
    torch.testing.assert_close(out, expected_out, rtol=0, atol=1e-10)
    torch.testing.assert_close(state, expected_state, rtol=0, atol=1e-10)


@pytest.mark.parametrize("gated", [False, True])
def test_gradients_equal_autograd_of_the_recurrence(gated):
    args = [x.requires_grad_() if x is not None else None for x in inputs(70, gated, with_state=True, seed=5)]
    leaves = [x for x in args if x is not None]
    weights = torch.randn(2, 70, 2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(9))

    def loss(out_and_state):
        out, state = out_and_state
        return (out * weights).sum() + state.square().sum()

    expected = torch.autograd.grad(loss(deltanet.delta_rule(*args)), leaves)
    found = torch.autograd.grad(loss(chunkwise.chunk_delta_rule(*args, chunk_size=16)), leaves)
    for name, e, f in zip(
        ["q", "k", "v", "beta", "alpha", "initial_state"] if gated else ["q", "k", "v", "beta", "initial_state"],
        expected,
        found,
    ):
        torch.testing.assert_close(f, e, rtol=0, atol=1e-8, msg=lambda m, name=name: f"gradient of {name}: {m}")


def test_float32_at_length_4096_stays_close_to_float64():
    """β ∈ [0, 2], unit keys and queries: the chunked float32 error, relative to the outputs' RMS, stays small."""
    generator = torch.Generator().manual_seed(3)
    options = {"generator": generator, "dtype": torch.float64}
    q = F.normalize(torch.randn(1, 4096, 2, 16, **options), dim=-1)
    k = F.normalize(torch.randn(1, 4096, 2, 16, **options), dim=-1)
    v = torch.randn(1, 4096, 2, 16, **options)
    beta = 2 * torch.rand(1, 4096, 2, **options)
    reference, _ = deltanet.delta_rule(q, k, v, beta)
    single, _ = chunkwise.chunk_delta_rule(q.float(), k.float(), v.float(), beta.float(), chunk_size=64)
    relative_rms = ((single.double() - reference).square().mean().sqrt() / reference.square().mean().sqrt()).item()
    assert relative_rms < 5e-6  # measured 5e-7; float32 rounding alone is 6e-8 per operation


def test_forward_substitution_inverts_unit_lower_triangular_matrices():
    generator = torch.Generator().manual_seed(1)
    lower = torch.tril(torch.randn(3, 10, 10, generator=generator, dtype=torch.float64), diagonal=-1)
    inverse = chunkwise.forward_substitution_inverse(lower)
    torch.testing.assert_close(
        inverse, torch.linalg.inv(torch.eye(10, dtype=torch.float64) + lower), rtol=0, atol=1e-10
    )
    assert torch.equal(torch.triu(inverse, diagonal=1), torch.zeros_like(inverse))


def test_decay_matrix_by_brute_force():
    alpha = torch.tensor([0.5, 0.0, 0.25, 0.8], dtype=torch.float64)
    expected = torch.zeros(4, 4, dtype=torch.float64)
    for t in range(4):
        for i in range(t + 1):
            expected[t, i] = torch.prod(alpha[i + 1 : t + 1])
    assert torch.equal(chunkwise.decay_matrix(alpha), expected)


def test_ut_transform_of_one_step_pair_by_hand():
    """Two steps with k₁ = k₂ = e₁, β₂ = 2: A₂₁ = β₂ k₂ᵀk₁ = 2, so T = [[1, 0], [-2, 1]]."""
    k = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    transform = chunkwise.ut_transform(k, torch.tensor([0.5, 2.0], dtype=torch.float64))
    assert torch.equal(transform, torch.tensor([[1.0, 0.0], [-2.0, 1.0]], dtype=torch.float64))


@pytest.mark.parametrize(
    "call,error,match",
    [
        (
            lambda q, k, v, b: chunkwise.chunk_delta_rule(q, k, v, b, chunk_size=0),
            ValueError,
            "chunk_size must be at least 1",
        ),
        (
            lambda q, k, v, b: chunkwise.chunk_delta_rule(q, k, v, b, chunk_size=16.0),
            TypeError,
            "chunk_size must be an int",
        ),
        (lambda q, k, v, b: chunkwise.chunk_delta_rule(q, k, v, b + 2.5), ValueError, r"beta must lie in \[0, 2\]"),
        (lambda q, k, v, b: chunkwise.chunk_delta_rule(q, k[:, :3], v, b), ValueError, "k has shape .* but q has"),
        (
            lambda q, k, v, b: chunkwise.forward_substitution_inverse(torch.ones(3, 3)),
            ValueError,
            "strictly_lower must be zero on and above the diagonal",
        ),
        (
            lambda q, k, v, b: chunkwise.forward_substitution_inverse(torch.zeros(3, 4)),
            ValueError,
            "strictly_lower must be square",
        ),
        (lambda q, k, v, b: chunkwise.ut_transform(k, b[..., :1]), ValueError, r"need k \(\.\.\., C, D_k\) and beta"),
    ],
)
def test_bad_input_is_refused(call, error, match):
    q, k, v, beta, _, _ = inputs(5, gated=False, with_state=False)
    with pytest.raises(error, match=match):
        call(q, k, v, beta)


def test_one_chunk_by_hand():
    """Two steps, D_k = D_v = 1, k = 1, S_0 = 0, β = (1, 0.5), v = (2, 6), q = 1, α = (1, 0.5).

    Step 1: S = 0 + 1·(2 - 0) = 2. Step 2: S = 0.5·(1 - 0.5)·2 + 0.5·6 = 3.5. Outputs 2, 3.5.
    """
    ones = torch.ones(1, 1, 2, 1, dtype=torch.float64)
    outputs, state = chunkwise.delta_rule_chunk(
        ones,
        ones,
        torch.tensor([2.0, 6.0], dtype=torch.float64).view(1, 1, 2, 1),
        torch.tensor([1.0, 0.5], dtype=torch.float64).view(1, 1, 2),
        torch.zeros(1, 1, 1, 1, dtype=torch.float64),
        torch.tensor([1.0, 0.5], dtype=torch.float64).view(1, 1, 2),
    )
    assert torch.equal(outputs.flatten(), torch.tensor([2.0, 3.5], dtype=torch.float64))
    assert state.item() == 3.5


def test_one_chunk_refuses_mismatched_shapes():
    q = torch.zeros(1, 2, 4, 3)
    with pytest.raises(ValueError, match="beta must have shape"):
        chunkwise.delta_rule_chunk(q, q, q, torch.zeros(1, 2, 5), torch.zeros(1, 2, 3, 3))


def test_helpers_reject_wrong_inputs_with_clear_errors():
    with pytest.raises(ValueError, match=r"strictly_lower must be square"):
        chunkwise.forward_substitution_inverse(torch.tensor(1.0))
    with pytest.raises(ValueError, match="strictly_lower has 1 non-finite"):
        chunkwise.forward_substitution_inverse(torch.tensor([[0.0, 0.0], [float("nan"), 0.0]]))
    with pytest.raises(TypeError, match="alpha must have a floating-point dtype"):
        chunkwise.decay_matrix(torch.ones(3, dtype=torch.long))
    with pytest.raises(TypeError, match="alpha must be a torch.Tensor"):
        chunkwise.decay_matrix([0.5, 0.5])
    with pytest.raises(ValueError, match="alpha must have at least one dimension"):
        chunkwise.decay_matrix(torch.tensor(0.5))


def test_chunk_delta_rule_rejects_an_empty_sequence_and_a_nan_scale():
    q = F.normalize(torch.randn(1, 4, 2, 3), dim=-1)
    v, beta = torch.randn(1, 4, 2, 5), torch.rand(1, 4, 2)
    with pytest.raises(ValueError, match=r"at least one time step \(T >= 1\)"):
        chunkwise.chunk_delta_rule(q[:, :0], q[:, :0], v[:, :0], beta[:, :0])
    with pytest.raises(ValueError, match="scale must be finite"):
        chunkwise.chunk_delta_rule(q, q, v, beta, scale=float("nan"))


def test_ut_transform_refuses_mismatched_dtypes_bad_betas_and_non_tensor_decay() -> None:
    k, beta = F.normalize(torch.randn(2, 4, 3), dim=-1), torch.rand(2, 4)
    with pytest.raises(TypeError, match="beta is torch.float64 on cpu but k is torch.float32"):
        chunkwise.ut_transform(k, beta.double())
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 2\]; found nan"):
        chunkwise.ut_transform(k, torch.full_like(beta, float("nan")))
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 2\]; found 5"):
        chunkwise.ut_transform(k, beta + 5)
    with pytest.raises(TypeError, match="decay must be a torch.Tensor, got list"):
        chunkwise.ut_transform(k, beta, [[1.0] * 4] * 4)
    with pytest.raises(TypeError, match="decay is torch.float64 on cpu but k is torch.float32"):
        chunkwise.ut_transform(k, beta, torch.ones(2, 4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"decay must have shape \(\.\.\., C, C\) = \(2, 4, 4\)"):
        chunkwise.ut_transform(k, beta, torch.ones(2, 4, 3))


def test_delta_rule_chunk_refuses_mismatched_or_integer_dtypes_and_bad_gates() -> None:
    batch, heads, size, key_dim, value_dim = 1, 2, 4, 3, 5
    q = F.normalize(torch.randn(batch, heads, size, key_dim), dim=-1)
    k = F.normalize(torch.randn(batch, heads, size, key_dim), dim=-1)
    v, beta = torch.randn(batch, heads, size, value_dim), torch.rand(batch, heads, size)
    state = torch.zeros(batch, heads, key_dim, value_dim)
    with pytest.raises(TypeError, match="v is torch.float64 on cpu but the state is torch.float32"):
        chunkwise.delta_rule_chunk(q, k, v.double(), beta, state)
    with pytest.raises(TypeError, match="beta must have a floating-point dtype, got torch.int64"):
        chunkwise.delta_rule_chunk(q, k, v, beta.long(), state)
    with pytest.raises(TypeError, match="k must have a floating-point dtype, got torch.int64"):
        chunkwise.delta_rule_chunk(q, k.long(), v, beta, state)
    with pytest.raises(TypeError, match="alpha is torch.float64 on cpu but the state is torch.float32"):
        chunkwise.delta_rule_chunk(q, k, v, beta, state, beta.double())
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 2\]; found 3"):
        chunkwise.delta_rule_chunk(q, k, v, beta + 3, state)
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 2\]; found nan"):
        chunkwise.delta_rule_chunk(q, k, v, beta * float("nan"), state)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]; found 3"):
        chunkwise.delta_rule_chunk(q, k, v, beta, state, beta + 3)
