"""What the lessons measure with: timing loops (their call pattern; no time is asserted), random delta-rule
inputs, relative errors and input gradients."""

from __future__ import annotations

import gc

import pytest
import torch
import torch.nn.functional as F

from lrnn_course import bench, deltanet


def test_seconds_by_length_makes_inputs_once_per_length_and_times_every_contender_on_them():
    made, seen = [], []

    def inputs_at(length):
        made.append(length)
        return (torch.zeros(length),)

    timings = bench.seconds_by_length(
        (2, 5),
        inputs_at,
        {"first": lambda x: seen.append(("first", len(x))), "second": lambda x: seen.append(("second", len(x)))},
        repeats=2,
    )
    assert made == [2, 5]
    assert list(timings) == ["first", "second"] and all(len(seconds) == 2 for seconds in timings.values())
    assert all(seconds > 0 for values in timings.values() for seconds in values)
    # 1 warm-up and 2 timed calls each, on the inputs of their length
    assert seen == [("first", 2)] * 3 + [("second", 2)] * 3 + [("first", 5)] * 3 + [("second", 5)] * 3


def test_interleaved_best_seconds_calls_each_function_once_per_round_in_turn_after_one_warm_up():
    calls = []
    seconds = bench.interleaved_best_seconds({"a": lambda: calls.append("a"), ("b", 1): lambda: calls.append("b")}, 3)
    assert set(seconds) == {"a", ("b", 1)} and all(value > 0 for value in seconds.values())
    assert calls == ["a", "a", "b", "b", "a", "b", "a", "b"]
    with pytest.raises(ValueError, match="rounds"):
        bench.interleaved_best_seconds({"a": lambda: None}, 0)


def test_without_grad_runs_the_function_without_building_a_graph():
    weight = torch.ones(3, requires_grad=True)
    assert (weight * 2).requires_grad and not bench.without_grad(lambda: weight * 2)().requires_grad


def test_delta_inputs_have_the_layout_ranges_and_draw_order_of_the_lessons():
    inputs = bench.delta_inputs(2, 5, 3, 4, 6, torch.Generator().manual_seed(0), with_state=True, beta_max=1.5)
    q, k, v, beta, alpha, state = inputs
    assert (q.shape, k.shape, v.shape, beta.shape, state.shape) == (
        (2, 5, 3, 4),
        (2, 5, 3, 4),
        (2, 5, 3, 6),
        (2, 5, 3),
        (2, 3, 4, 6),
    )
    assert alpha is None and q.dtype == torch.float64
    assert (
        torch.allclose(k.norm(dim=-1), torch.ones(2, 5, 3, dtype=torch.float64))
        and 0 <= beta.min()
        and beta.max() <= 1.5
    )
    # the draws come in the order the lessons drew them by hand, so their printed numbers stay put
    generator = torch.Generator().manual_seed(0)
    options = {"generator": generator, "dtype": torch.float64}
    by_hand = (
        torch.randn(2, 5, 3, 4, **options),
        F.normalize(torch.randn(2, 5, 3, 4, **options), dim=-1),
        torch.randn(2, 5, 3, 6, **options),
        1.5 * torch.rand(2, 5, 3, **options),
        torch.randn(2, 3, 4, 6, **options),
    )
    assert all(torch.equal(mine, expected) for mine, expected in zip((q, k, v, beta, state), by_hand))
    # the arguments of every delta-rule function, in order
    outputs, final = deltanet.delta_rule(*inputs)
    assert outputs.shape == (2, 5, 3, 6) and final.shape == (2, 3, 4, 6)


def test_delta_inputs_for_deltaproduct_have_n_h_keys_per_token_and_gates_when_asked():
    q, k, v, beta, alpha, state = bench.delta_inputs(1, 7, 2, 4, 3, torch.Generator(), householders=3, gated=True)
    assert (k.shape, v.shape, beta.shape, alpha.shape) == ((1, 7, 3, 2, 4), (1, 7, 3, 2, 3), (1, 7, 3, 2), (1, 7, 2))
    assert state is None and 0 <= alpha.min() and alpha.max() <= 1
    cast = bench.DeltaInputs(q, k, v, beta, alpha, state).to(torch.float32)
    assert cast.q.dtype == torch.float32 and cast.initial_state is None


def test_relative_error_is_the_largest_difference_over_the_largest_expected_value():
    expected = torch.tensor([1.0, -4.0], dtype=torch.float64)
    assert bench.relative_error(torch.tensor([1.5, -4.0]), expected) == pytest.approx(0.125)


def test_input_gradients_differentiate_the_loss_through_fn_and_leave_the_inputs_alone():
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 5.0])
    grad_x, grad_y, grad_none = bench.input_gradients(
        lambda a, b, _: (a * b, b.sum()), (x, y, None), lambda product, total: product.sum() + 2 * total
    )
    assert torch.equal(grad_x, y) and torch.equal(grad_y, x + 2) and grad_none is None
    assert x.grad is None and not x.requires_grad


def test_best_seconds_times_with_the_garbage_collector_off_and_restores_it():
    seen = []
    bench.best_seconds(lambda: seen.append(gc.isenabled()), repeats=3, warmup=1)
    assert seen == [True, False, False, False]  # the warm-up runs as the caller left it; timed calls without
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        bench.best_seconds(lambda: 1 / 0, repeats=2, warmup=0)
    assert gc.isenabled()  # restored after a failing call too
