"""The delta rule and DeltaProduct against dense float64 matrices, hand-computed steps and each other."""

import pytest
import torch
import torch.nn.functional as F

from lrnn_course import deltanet, deltaproduct, householder
from lrnn_course.models import build_model


def random_inputs(batch=2, steps=7, heads=3, key_dim=4, value_dim=5, n_householder=None, seed=0, gated=True):
    """Unit keys, β uniform in [0, 2] with the ends 0, 1, 2 included, α in [0, 1], a random S_0; float64."""
    generator = torch.Generator().manual_seed(seed)
    per_token = (batch, steps) if n_householder is None else (batch, steps, n_householder)
    options = {"generator": generator, "dtype": torch.float64}
    q = torch.randn(batch, steps, heads, key_dim, **options)
    k = F.normalize(torch.randn(*per_token, heads, key_dim, **options), dim=-1)
    v = torch.randn(*per_token, heads, value_dim, **options)
    beta = 2 * torch.rand(*per_token, heads, **options)
    beta.view(-1)[:3] = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    alpha = torch.rand(batch, steps, heads, **options) if gated else None
    state = torch.randn(batch, heads, key_dim, value_dim, **options)
    return q, k, v, beta, alpha, state


@pytest.mark.parametrize("gated", [False, True])
def test_delta_rule_equals_the_dense_recurrence(gated):
    q, k, v, beta, alpha, state = random_inputs(gated=gated)
    fast_out, fast_state = deltanet.delta_rule(q, k, v, beta, alpha, state)
    dense_out, dense_state = deltanet.dense_delta_rule(q, k, v, beta, alpha, state)
    torch.testing.assert_close(fast_out, dense_out, rtol=0, atol=1e-12)
    torch.testing.assert_close(fast_state, dense_state, rtol=0, atol=1e-12)


def test_one_delta_step_by_hand():
    """S_0 = 0, k = e_1, v = (3, 4), β = 0.5: S_1 = 0.5 e_1 (3, 4), and q = e_1 reads 0.5 (3, 4) / √2."""
    q = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    k = q.clone()
    v = torch.tensor([3.0, 4.0]).view(1, 1, 1, 2)
    out, state = deltanet.delta_rule(q, k, v, torch.full((1, 1, 1), 0.5))
    assert torch.equal(state[0, 0], torch.tensor([[1.5, 2.0], [0.0, 0.0]]))
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([1.5, 2.0]) / 2**0.5)


def test_beta_one_overwrites_the_value_under_a_unit_key():
    """β = 1 is the exact write: afterwards Sᵀk = v, whatever the key held before."""
    q, k, v, beta, _, state = random_inputs(steps=1, gated=False)
    _, new_state = deltanet.delta_rule(q, k, v, torch.ones_like(beta), initial_state=state)
    read = torch.einsum("bhkv,bhk->bhv", new_state, k[:, 0])
    torch.testing.assert_close(read, v[:, 0], rtol=0, atol=1e-12)


def test_beta_two_reflects_the_state_along_the_key():
    """With v = 0 and β = 2 the step is S ← H(k) S, the Householder reflection."""
    q, k, v, beta, _, state = random_inputs(steps=1, gated=False)
    _, new_state = deltanet.delta_rule(q, k, torch.zeros_like(v), torch.full_like(beta, 2.0), initial_state=state)
    reflection = householder.generalized_householder(k[:, 0], 2.0)
    torch.testing.assert_close(new_state, reflection @ state, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_householder", [1, 2, 3, 4])
@pytest.mark.parametrize("gated", [False, True])
def test_delta_product_by_interleaving_equals_the_native_recurrence(n_householder, gated):
    q, k, v, beta, alpha, state = random_inputs(n_householder=n_householder, gated=gated, seed=n_householder)
    native_out, native_state = deltaproduct.delta_product(q, k, v, beta, alpha, state)
    interleaved_out, interleaved_state = deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha, state)
    torch.testing.assert_close(interleaved_out, native_out, rtol=0, atol=1e-12)
    torch.testing.assert_close(interleaved_state, native_state, rtol=0, atol=1e-12)


def test_delta_product_transition_is_the_product_of_householders():
    """With v = 0 one token maps S to α ∏_j (I - β_j k_j k_jᵀ) S, the last factor applied last (leftmost)."""
    q, k, v, beta, alpha, state = random_inputs(steps=1, n_householder=3)
    _, new_state = deltaproduct.delta_product(q, k, torch.zeros_like(v), beta, alpha, state)
    factors = householder.generalized_householder(k[:, 0], beta[:, 0])  # (B, n_h, H, D_k, D_k)
    transition = factors[:, 2] @ factors[:, 1] @ factors[:, 0]
    torch.testing.assert_close(new_state, alpha[:, 0, :, None, None] * transition @ state, rtol=0, atol=1e-12)


def test_delta_product_with_one_householder_is_deltanet():
    q, k, v, beta, alpha, state = random_inputs(n_householder=1)
    product = deltaproduct.delta_product(q, k, v, beta, alpha, state)
    delta = deltanet.delta_rule(q, k[:, :, 0], v[:, :, 0], beta[:, :, 0], alpha, state)
    torch.testing.assert_close(product, delta, rtol=0, atol=0)


def test_two_reflections_per_token_rotate_the_state():
    """DeltaProduct n_h = 2, β = 2, keys at 60° and 0°: three tokens turn the state by 360°, as Lesson 05 builds."""
    angles = torch.tensor([torch.pi / 3, 0.0], dtype=torch.float64)
    keys = torch.stack([angles.cos(), angles.sin()], dim=-1)  # (n_h, 2), applied in this order
    k = keys.flip(0).view(1, 1, 2, 1, 2).expand(1, 3, 2, 1, 2)  # H(0) acts first, then H(60°)
    state = torch.tensor([[1.0], [0.0]], dtype=torch.float64).view(1, 1, 2, 1)
    q = torch.zeros(1, 3, 1, 2, dtype=torch.float64)
    _, after_one = deltaproduct.delta_product(
        q[:, :1],
        k[:, :1],
        torch.zeros(1, 1, 2, 1, 1, dtype=torch.float64),
        torch.full((1, 1, 2, 1), 2.0, dtype=torch.float64),
        initial_state=state,
    )
    _, after_three = deltaproduct.delta_product(
        q,
        k,
        torch.zeros(1, 3, 2, 1, 1, dtype=torch.float64),
        torch.full((1, 3, 2, 1), 2.0, dtype=torch.float64),
        initial_state=state,
    )
    turned = torch.tensor([-0.5, 3**0.5 / 2], dtype=torch.float64)
    torch.testing.assert_close(after_one[0, 0, :, 0], turned, rtol=0, atol=1e-15)
    torch.testing.assert_close(after_three, state, rtol=0, atol=1e-14)


def test_gradients_of_interleaving_match_the_native_recurrence():
    inputs = [x.requires_grad_() for x in random_inputs(steps=4, n_householder=2)]
    native = torch.autograd.grad(deltaproduct.delta_product(*inputs)[0].sum(), inputs)
    interleaved = torch.autograd.grad(deltaproduct.delta_product_by_interleaving(*inputs)[0].sum(), inputs)
    for a, b in zip(native, interleaved):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name,n_householder", [("deltanet", 1), ("deltaproduct", 2)])
@pytest.mark.parametrize("negative,top", [(False, 1.0), (True, 2.0)])
def test_layers_keep_beta_in_range_and_run(name, n_householder, negative, top):
    torch.manual_seed(0)
    options = {"n_heads": 2} if name == "deltanet" else {"n_heads": 2, "n_householder": n_householder}
    model = build_model(name, vocab_size=5, n_classes=3, d_model=8, negative=negative, **options)
    layer = model.layers[0]
    x = 10 * torch.randn(2, 6, 8)
    beta = layer.betas_of(x).detach()
    assert beta.shape == (2, 6, n_householder, 2)
    assert float(beta.min()) >= 0.0 and float(beta.max()) <= top and float(beta.max()) > top / 2
    logits = model(torch.randint(5, (2, 6)))
    assert logits.shape == (2, 6, 3) and bool(torch.isfinite(logits).all())


@pytest.mark.parametrize("n_householder,negative,gated", [(1, True, False), (2, True, True), (3, False, True)])
def test_layer_forward_is_the_dense_recurrence_built_from_its_weights(n_householder, negative, gated):
    """The layer's output, recomputed from its weight matrices with dense D_k x D_k transitions in Python loops:
    q, k_j normalised per head, β_j = (2 or 1)·sigmoid, α = sigmoid, S ← α S once per token, then
    S ← (I - β_j k_j k_jᵀ) S + β_j k_j v_jᵀ for j = 1..n_h, o = Sᵀq / √D_k, and the output projection."""
    torch.manual_seed(3)
    d_model, n_heads, steps = 8, 2, 5
    head_dim = d_model // n_heads
    layer = deltaproduct.DeltaProductLayer(
        d_model, n_heads=n_heads, n_householder=n_householder, negative=negative, gated=gated
    ).double()
    x = torch.randn(2, steps, d_model, dtype=torch.float64)
    top = 2.0 if negative else 1.0
    expected = torch.zeros(2, steps, d_model, dtype=torch.float64)
    identity = torch.eye(head_dim, dtype=torch.float64)
    with torch.no_grad():
        for b in range(2):
            states = [torch.zeros(head_dim, head_dim, dtype=torch.float64) for _ in range(n_heads)]
            for t in range(steps):
                token = x[b, t]
                queries, keys = layer.query.weight @ token, layer.keys.weight @ token
                values, betas = layer.values.weight @ token, layer.betas.weight @ token + layer.betas.bias
                read = []
                for h in range(n_heads):
                    heads = slice(h * head_dim, (h + 1) * head_dim)
                    if gated:
                        states[h] = torch.sigmoid(layer.gate.weight[h] @ token + layer.gate.bias[h]) * states[h]
                    for j in range(n_householder):
                        block = slice(j * d_model + h * head_dim, j * d_model + (h + 1) * head_dim)
                        key = keys[block] / keys[block].norm()
                        beta = top * torch.sigmoid(betas[j * n_heads + h])
                        states[h] = (identity - beta * torch.outer(key, key)) @ states[h] + beta * torch.outer(
                            key, values[block]
                        )
                    query = queries[heads] / queries[heads].norm()
                    read.append(states[h].T @ query / head_dim**0.5)
                expected[b, t] = layer.out.weight @ torch.cat(read)
        torch.testing.assert_close(layer(x), expected, rtol=0, atol=1e-12)


def test_layer_is_causal():
    torch.manual_seed(0)
    layer = build_model("deltaproduct", 5, 3, d_model=8, n_heads=2, gated=True).layers[0]
    x = torch.randn(1, 6, 8)
    changed = x.clone()
    changed[:, 4:] += 1.0
    torch.testing.assert_close(layer(x)[:, :4], layer(changed)[:, :4])


@pytest.mark.parametrize(
    "call,error,match",
    [
        (
            lambda q, k, v, b: deltanet.delta_rule(q, k, v, b * 1.5 + 0.6),
            ValueError,
            r"beta must lie in \[0, 2\]; found 2\.1",
        ),
        (lambda q, k, v, b: deltanet.delta_rule(q, k, v, -b), ValueError, r"beta must lie in \[0, 2\]"),
        (lambda q, k, v, b: deltanet.delta_rule(q, k, v, b, alpha=b + 1.5), ValueError, r"alpha must lie in \[0, 1\]"),
        (lambda q, k, v, b: deltanet.delta_rule(q, k[..., :3], v, b), ValueError, "k has shape"),
        (lambda q, k, v, b: deltanet.delta_rule(q, k, v[:, :2], b), ValueError, r"v \(B, T, H, D_v\).*disagree"),
        (
            lambda q, k, v, b: deltanet.delta_rule(q, k, v.float(), b),
            TypeError,
            "v is torch.float32 on cpu but q is torch.float64",
        ),
        (
            lambda q, k, v, b: deltanet.delta_rule(
                q, k, v, b, initial_state=torch.zeros(2, 3, 4, 4, dtype=torch.float64)
            ),
            ValueError,
            r"initial_state must have shape \(B, H, D_k, D_v\)",
        ),
        (lambda q, k, v, b: deltanet.delta_rule(q, k * float("nan"), v, b), ValueError, "k has .* non-finite"),
        (lambda q, k, v, b: deltanet.delta_rule(q, k, v, b.long()), TypeError, "beta must have a floating-point dtype"),
        (
            lambda q, k, v, b: deltaproduct.delta_product(q, k, v, b),
            ValueError,
            r"k must have 5 dimensions \(B, T, n_h, H, D_k\)",
        ),
        (
            lambda q, k, v, b: deltaproduct.delta_product(q, k[:, :, None], v[:, :, None], b[:, :, None, :1]),
            ValueError,
            r"beta \(B, T, n_h, H\) disagree",
        ),
    ],
)
def test_bad_input_is_refused(call, error, match):
    q, k, v, beta, _, _ = random_inputs(gated=False)
    with pytest.raises(error, match=match):
        call(q, k, v, beta / 2)


def test_layer_refuses_heads_that_do_not_divide_the_width():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        deltaproduct.DeltaProductLayer(10, n_heads=3)


def test_layer_transitions_are_what_the_recurrence_applies():
    """The product of the layer's Householders equals the state map of one token's delta steps when v = 0."""
    torch.manual_seed(1)
    layer = deltaproduct.DeltaProductLayer(8, n_heads=2, n_householder=3).double()
    x = torch.randn(5, 8, dtype=torch.float64)
    heads = (3, 2, 4)
    keys = F.normalize(layer.keys(x).unflatten(-1, heads), dim=-1)
    state = torch.eye(4, dtype=torch.float64).expand(5, 2, 4, 4)
    for j in range(3):
        state = deltanet.delta_rule_step(
            state, keys[:, j], torch.zeros(5, 2, 4, dtype=torch.float64), layer.betas_of(x)[:, j]
        )
    torch.testing.assert_close(layer.transitions(x), state, rtol=0, atol=1e-13)


def test_reflection_threshold_makes_near_reflections_exact():
    torch.manual_seed(2)
    layer = deltaproduct.DeltaProductLayer(8, n_heads=2, n_householder=2)
    x = 10 * torch.randn(50, 8)
    with torch.no_grad():
        trained = layer.betas_of(x)
        layer.reflection_threshold = 1.9
        snapped = layer.betas_of(x)
    high = trained > 1.9
    assert bool(high.any()) and bool((~high).any())
    assert bool((snapped[high] == 2.0).all()) and torch.equal(snapped[~high], trained[~high])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_keys_must_have_unit_length(dtype):
    q, k, v, beta, _, _ = [x.to(dtype) if x is not None else None for x in random_inputs(gated=False)]
    deltanet.delta_rule(q, k, v, beta / 2)  # unit keys, rounded to dtype: accepted
    with pytest.raises(ValueError, match="L2-normalised.*length 1.1"):
        deltanet.delta_rule(q, k * 1.1, v, beta / 2)
    with pytest.raises(ValueError, match="L2-normalised"):
        deltaproduct.delta_product(q, (k * 0.5)[:, :, None], v[:, :, None], beta[:, :, None] / 2)


@pytest.mark.parametrize(
    "spoil,message",
    [
        (lambda k, v, beta: beta[:, :, 1].fill_(2.5), "beta must lie in"),
        (lambda k, v, beta: v[:, 3, 1].fill_(float("nan")), "v has"),
        (lambda k, v, beta: k[:, 2, 1].mul_(3.0), "L2-normalised"),
    ],
)
def test_every_sub_step_of_delta_product_is_checked(spoil, message):
    q, k, v, beta, alpha, state = random_inputs(n_householder=2)
    spoil(k, v, beta)
    with pytest.raises(ValueError, match=message):
        deltaproduct.delta_product(q, k, v, beta, alpha, state)


def test_delta_rules_reject_empty_sequences_bad_scales_and_no_sub_steps():
    q = F.normalize(torch.randn(1, 3, 2, 4), dim=-1)
    v, beta = torch.randn(1, 3, 2, 5), torch.rand(1, 3, 2)
    for rule in (deltanet.delta_rule, deltanet.dense_delta_rule):
        with pytest.raises(ValueError, match=r"at least one time step \(T >= 1\), got T = 0"):
            rule(q[:, :0], q[:, :0], v[:, :0], beta[:, :0])
        with pytest.raises(ValueError, match="scale must be finite"):
            rule(q, q, v, beta, scale=float("nan"))
        with pytest.raises(TypeError, match="scale must be a Python int or float"):
            rule(q, q, v, beta, scale="1")
    with pytest.raises(TypeError, match="k must be a torch.Tensor"):
        deltanet.require_unit_keys([1.0])
    k = F.normalize(torch.randn(1, 3, 2, 2, 4), dim=-1)
    with pytest.raises(ValueError, match=r"at least one sub-step per token \(n_h >= 1\)"):
        deltaproduct.delta_product(q, k[:, :, :0], torch.randn(1, 3, 0, 2, 5), torch.rand(1, 3, 0, 2))
    with pytest.raises(ValueError, match=r"x must have at least 3 dimensions"):
        deltaproduct.interleave(torch.randn(3))


def test_deltaproduct_layer_names_a_wrong_input():
    layer = deltaproduct.DeltaProductLayer(4, n_heads=2)
    with pytest.raises(ValueError, match=r"x must have 4 features"):
        layer(torch.randn(1, 5, 3))
    with pytest.raises(ValueError, match=r"x must have 3 dimensions \(batch, T, d_model\)"):
        layer(torch.randn(5, 4))
    with pytest.raises(TypeError, match="x must have a floating-point dtype"):
        layer(torch.ones(1, 5, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="x has dtype torch.float64 but the layer's weights are torch.float32"):
        layer(torch.randn(1, 5, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"x must have 4 features"):
        layer.transitions(torch.randn(2, 3))


def test_delta_rule_step_refuses_mismatched_or_integer_dtypes() -> None:
    """Per-step checks are dtype and shape only; values are checked once per sequence by delta_rule."""
    state = torch.zeros(1, 2, 3, 5)
    k, v, beta = F.normalize(torch.randn(1, 2, 3), dim=-1), torch.randn(1, 2, 5), torch.rand(1, 2)
    with pytest.raises(TypeError, match="v is torch.float64 on cpu but the state is torch.float32"):
        deltanet.delta_rule_step(state, k, v.double(), beta)
    with pytest.raises(TypeError, match="beta must have a floating-point dtype, got torch.int64"):
        deltanet.delta_rule_step(state, k, v, beta.long())
    with pytest.raises(TypeError, match="k must have a floating-point dtype, got torch.int64"):
        deltanet.delta_rule_step(state, k.long(), v, beta)
    with pytest.raises(TypeError, match="alpha is torch.float64 on cpu but the state is torch.float32"):
        deltanet.delta_rule_step(state, k, v, beta, beta.double())
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 2\]; found 3"):  # values: once per sequence
        deltanet.delta_rule(k[:, None], k[:, None], v[:, None], torch.full((1, 1, 2), 3.0))


def test_delta_product_by_interleaving_checks_its_layout_and_leaves_the_values_to_the_delta_rule():
    """Its own door checks what interleaving would hide (a gate of another dtype or shape would be cast or
    broadcast into the interleaved gates); the delta rule it runs checks the values, once."""
    q, k, v, beta, alpha, state = random_inputs(n_householder=2)
    with pytest.raises(TypeError, match="alpha is torch.float32 on cpu but q is torch.float64"):
        deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha.float(), state)
    with pytest.raises(ValueError, match=r"alpha must have shape \(B, T, H\) = \(2, 7, 3\), got \(2, 7, 1\)"):
        deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha[..., :1], state)
    beta[:, 2, 1] = 2.5
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 2\]; found 2\.5"):
        deltaproduct.delta_product_by_interleaving(q, k, v, beta, alpha, state)
