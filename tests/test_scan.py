"""Every scan in lrnn_course.scan against brute force in float64, over awkward shapes and gates."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lrnn_course import scan

SCANS = {
    "sequential": scan.sequential_scan,
    "hillis_steele": scan.hillis_steele_scan,
    "blelloch": scan.blelloch_scan,
    "chunked_c16": lambda a, b, h0=None: scan.chunked_scan(a, b, h0, chunk_size=16),
    "chunked_c7": lambda a, b, h0=None: scan.chunked_scan(a, b, h0, chunk_size=7),
    "signed_log_space": scan.signed_log_space_scan,
}


def brute_force(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The closed form h_t = sum_s (prod_{j>s} a_j) b_s + (prod_j a_j) h0, entry by entry in Python floats."""
    batch, steps, width = a.shape
    out = torch.zeros(batch, steps, width, dtype=torch.float64)
    for i in range(batch):
        for d in range(width):
            gates, inputs = a[i, :, d].tolist(), b[i, :, d].tolist()
            start = 0.0 if h0 is None else float(h0[i, d])
            for t in range(steps):
                total, product = 0.0, 1.0
                for s in range(t, -1, -1):
                    total += product * inputs[s]
                    product *= gates[s]
                out[i, t, d] = total + product * start
    return out


def gates_of(kind: str, shape: tuple[int, ...], rng: torch.Generator) -> torch.Tensor:
    uniform = torch.rand(shape, generator=rng, dtype=torch.float64)
    if kind == "signed":
        return 2 * uniform - 1
    values = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    return values[torch.randint(0, 3, shape, generator=rng)]


@pytest.mark.parametrize("name", SCANS)
@pytest.mark.parametrize("batch,steps,width", [(1, 1, 1), (3, 1, 2), (1, 63, 3), (3, 64, 2), (3, 65, 1)])
@pytest.mark.parametrize("gates", ["signed", "exact_minus1_0_1"])
@pytest.mark.parametrize("with_h0", [False, True])
def test_scans_match_brute_force(name, batch, steps, width, gates, with_h0):
    rng = torch.Generator().manual_seed(steps * 100 + width)
    a = gates_of(gates, (batch, steps, width), rng)
    b = torch.randn(batch, steps, width, generator=rng, dtype=torch.float64)
    h0 = torch.randn(batch, width, generator=rng, dtype=torch.float64) if with_h0 else None
    torch.testing.assert_close(SCANS[name](a, b, h0), brute_force(a, b, h0), atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("name", SCANS)
def test_long_sequence_t1000(name):
    rng = torch.Generator().manual_seed(1000)
    a = 2 * torch.rand(3, 1000, 2, generator=rng, dtype=torch.float64) - 1
    b = torch.randn(3, 1000, 2, generator=rng, dtype=torch.float64)
    h0 = torch.randn(3, 2, generator=rng, dtype=torch.float64)
    # The O(T) recurrence h_t = a_t h_{t-1} + b_t in Python floats: independent of every scan (sequential included).
    expected = torch.empty_like(a)
    for i in range(3):
        for d in range(2):
            h = float(h0[i, d])
            for t, (gate, drive) in enumerate(zip(a[i, :, d].tolist(), b[i, :, d].tolist())):
                h = gate * h + drive
                expected[i, t, d] = h
    torch.testing.assert_close(SCANS[name](a, b, h0), expected, atol=1e-12, rtol=1e-12)


def test_gates_exactly_minus_one_alternate_exactly_for_ten_thousand_steps():
    h = scan.chunked_scan(torch.full((1, 10_000, 1), -1.0), torch.ones(1, 10_000, 1), chunk_size=128)
    assert torch.equal(h.flatten(), torch.arange(10_000).remainder(2).eq(0).float())


@settings(max_examples=40, deadline=None)
@given(
    steps=st.integers(1, 40),
    width=st.integers(1, 3),
    chunk_size=st.integers(1, 50),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_all_scans_agree(steps, width, chunk_size, seed):
    rng = torch.Generator().manual_seed(seed)
    a = 2 * torch.rand(2, steps, width, generator=rng, dtype=torch.float64) - 1
    b = torch.randn(2, steps, width, generator=rng, dtype=torch.float64)
    h0 = torch.randn(2, width, generator=rng, dtype=torch.float64)
    expected = brute_force(a, b, h0)
    for result in (
        scan.hillis_steele_scan(a, b, h0),
        scan.blelloch_scan(a, b, h0),
        scan.chunked_scan(a, b, h0, chunk_size=chunk_size),
        scan.signed_log_space_scan(a, b, h0),
    ):
        torch.testing.assert_close(result, expected, atol=1e-11, rtol=1e-11)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(-1, 1), st.floats(-3, 3)), min_size=3, max_size=3))
def test_property_combine_is_associative_and_composes_maps(pairs):
    (a1, b1), (a2, b2), (a3, b3) = [
        (torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)) for a, b in pairs
    ]
    left = scan.combine(scan.combine((a1, b1), (a2, b2)), (a3, b3))
    right = scan.combine((a1, b1), scan.combine((a2, b2), (a3, b3)))
    torch.testing.assert_close(left, right, atol=1e-12, rtol=1e-12)
    h = torch.tensor(0.7, dtype=torch.float64)
    torch.testing.assert_close(left[0] * h + left[1], a3 * (a2 * (a1 * h + b1) + b2) + b3, atol=1e-12, rtol=1e-12)


def test_combine_is_not_commutative():
    earlier, later = (torch.tensor(2.0), torch.tensor(3.0)), (torch.tensor(5.0), torch.tensor(7.0))
    assert scan.combine(earlier, later)[1].item() == 22.0
    assert scan.combine(later, earlier)[1].item() == 17.0


def test_log_space_scan_is_nan_after_a_negative_gate_and_exact_before():
    a = torch.full((1, 6, 1), 0.5, dtype=torch.float64)
    a[0, 3, 0] = -0.5
    b = torch.ones(1, 6, 1, dtype=torch.float64)
    h = scan.log_space_scan(a, b)
    assert not h[0, :3].isnan().any() and h[0, 3:].isnan().all()
    torch.testing.assert_close(h[0, :3], scan.sequential_scan(a, b)[0, :3])
    torch.testing.assert_close(scan.signed_log_space_scan(a, b), scan.sequential_scan(a, b))


@pytest.mark.parametrize("log_space", [scan.log_space_scan, scan.signed_log_space_scan])
def test_log_space_gradients_are_the_loops_at_gates_of_exactly_zero(log_space):
    """log 0 = -inf gives the right states but, by itself, the gradient inf * 0 = NaN; the scans must give the
    loop's gradients: along a lone zero gate the product of the others, zero where a segment holds two zeros."""
    rng = torch.Generator().manual_seed(5)
    a = torch.rand(2, 12, 3, generator=rng, dtype=torch.float64) * 0.9 + 0.05
    if log_space is scan.signed_log_space_scan:
        a = a * torch.where(torch.rand(a.shape, generator=rng) < 0.5, -1.0, 1.0).double()
    a[0, 0, 0] = 0.0  # the first gate: the state forgets h0
    a[0, 5, 1] = 0.0  # a lone zero in the middle
    a[1, 3, 2] = a[1, 7, 2] = 0.0  # two zeros: every segment over both is 0 with derivative 0
    a[1, 11, 0] = 0.0  # the last gate
    b = torch.randn(2, 12, 3, generator=rng, dtype=torch.float64)
    h0 = torch.randn(2, 3, generator=rng, dtype=torch.float64)
    weights = torch.randn(2, 12, 3, generator=rng, dtype=torch.float64)

    def states_and_gradients(function):
        leaves = [x.clone().requires_grad_() for x in (a, b, h0)]
        states = function(*leaves)
        return states, torch.autograd.grad((states * weights).sum(), leaves)

    states, gradients = states_and_gradients(log_space)
    expected_states, expected_gradients = states_and_gradients(scan.sequential_scan)
    torch.testing.assert_close(states, expected_states, rtol=0, atol=1e-13)
    for got, expected, name in zip(gradients, expected_gradients, ("a", "b", "h0")):
        assert bool(torch.isfinite(got).all()), name
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12, msg=name)
    assert gradients[0][0, 5, 1] != 0 and gradients[0][0, 0, 0] != 0  # the true derivative, not a masked 0


def test_segment_sums_by_hand():
    x = torch.tensor([1.0, 2.0, 4.0]).reshape(1, 3, 1)
    sums = scan.segment_sums(x)[0, :, :, 0]
    inf = float("inf")
    assert sums.tolist() == [[0.0, -inf, -inf], [2.0, 0.0, -inf], [6.0, 4.0, 0.0]]


@pytest.mark.parametrize("steps", [1, 2, 8, 63, 1000])
@pytest.mark.parametrize(
    "name,algorithm", [("hillis_steele", scan.hillis_steele_scan), ("blelloch", scan.blelloch_scan)]
)
def test_scan_cost_counts_the_combines_the_implementation_does(steps, name, algorithm):
    assert scan.scan_cost(steps, name) == scan.measure_cost(algorithm, steps)
    assert scan.combine.__name__ == "combine"  # restored after counting


def test_measure_cost_counts_a_sequential_fold_by_hand():
    def fold(a, b):
        state = (a[:, 0], b[:, 0])
        for t in range(1, a.shape[1]):
            state = scan.combine(state, (a[:, t : t + 1], b[:, t : t + 1]))
        return state[1]

    assert scan.measure_cost(fold, 8) == (7, 7)


def test_scan_cost_by_hand():
    assert scan.scan_cost(8, "sequential") == (7, 7)
    assert scan.scan_cost(8, "hillis_steele") == (24, 3)
    assert scan.scan_cost(8, "blelloch") == (22, 7)
    assert scan.scan_cost(8, "chunked", chunk_size=4) == (2 * 8 + 2 + 8, 2 + 2 + 1)
    with pytest.raises(ValueError, match="algorithm"):
        scan.scan_cost(8, "bogus")


@pytest.mark.parametrize(
    "function",
    [
        scan.sequential_scan,
        scan.hillis_steele_scan,
        scan.blelloch_scan,
        scan.chunked_scan,
        scan.log_space_scan,
        scan.signed_log_space_scan,
    ],
)
def test_bad_inputs_raise_clear_errors(function):
    good = torch.rand(2, 5, 3)
    with pytest.raises(ValueError, match=r"3 dimensions \(B, T, D\)"):
        function(torch.rand(5, 3), torch.rand(5, 3))
    with pytest.raises(ValueError, match="shape"):
        function(good, torch.rand(2, 4, 3))
    with pytest.raises(TypeError, match="dtype"):
        function(good, good.double())
    with pytest.raises(TypeError, match="floating-point"):
        function(good.int(), good.int())
    with pytest.raises(TypeError, match="torch.Tensor"):
        function(good.tolist(), good)
    with pytest.raises(ValueError, match="non-finite"):
        function(torch.full((2, 5, 3), float("nan")), good)
    with pytest.raises(ValueError, match="T >= 1"):
        function(torch.rand(2, 0, 3), torch.rand(2, 0, 3))
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, D\)"):
        function(good, good, torch.rand(2, 4))


def test_chunk_size_must_be_a_positive_int():
    a = torch.rand(1, 4, 1)
    with pytest.raises(ValueError, match="at least 1"):
        scan.chunked_scan(a, a, chunk_size=0)
    with pytest.raises(TypeError, match="int"):
        scan.chunked_scan(a, a, chunk_size=2.0)


@pytest.mark.parametrize("function", [scan.hillis_steele_scan, scan.blelloch_scan, scan.chunked_scan])
def test_gradients_match_the_loop(function):
    rng = torch.Generator().manual_seed(7)
    inputs = [
        2 * torch.rand(2, 19, 3, generator=rng, dtype=torch.float64) - 1,
        torch.randn(2, 19, 3, generator=rng, dtype=torch.float64),
        torch.randn(2, 3, generator=rng, dtype=torch.float64),
    ]
    inputs = [x.requires_grad_() for x in inputs]
    weights = torch.randn(2, 19, 3, generator=rng, dtype=torch.float64)
    expected = torch.autograd.grad((scan.sequential_scan(*inputs) * weights).sum(), inputs)
    got = torch.autograd.grad((function(*inputs) * weights).sum(), inputs)
    for mine, want in zip(got, expected):
        torch.testing.assert_close(mine, want, atol=1e-10, rtol=1e-10)


def test_segment_sums_rejects_wrong_inputs():
    with pytest.raises(ValueError, match=r"x must have 3 dimensions \(B, T, D\)"):
        scan.segment_sums(torch.randn(3, 4))
    with pytest.raises(TypeError, match="x must have a floating-point dtype"):
        scan.segment_sums(torch.ones(2, 3, 4, dtype=torch.long))


def test_combine_refuses_non_pairs_and_mismatched_tensors() -> None:
    a, b = torch.rand(2, 3), torch.randn(2, 3)
    with pytest.raises(TypeError, match=r"earlier must be a pair \(a, b\) of tensors, got Tensor"):
        scan.combine(a, (a, b))
    with pytest.raises(TypeError, match=r"later must be a pair \(a, b\) of tensors, got tuple of length 3"):
        scan.combine((a, b), (a, b, a))
    with pytest.raises(TypeError, match=r"later\[1\] \(its input b\) must be a torch.Tensor"):
        scan.combine((a, b), (a, 1.0))
    with pytest.raises(TypeError, match=r"earlier\[0\] \(its gate a\) must have a floating-point dtype"):
        scan.combine((a.long(), b), (a, b))
    with pytest.raises(
        ValueError,
        match=r"earlier \(a1, b1\) and later \(a2, b2\) must broadcast together"
        r".*got \(2, 3\), \(2, 3\), \(4, 3\), \(4, 3\)",
    ):
        scan.combine((a, b), (torch.rand(4, 3), torch.rand(4, 3)))
    with pytest.raises(
        TypeError,
        match=r"later\[0\] \(its gate a\) is torch.float64 on cpu but earlier\[0\] \(its gate a\) is torch.float32",
    ):
        scan.combine((a, b), (a.double(), b.double()))
    got_a, got_b = scan.combine([a, b], [a[:, :1], b])  # lists are pairs too, and shapes broadcast
    torch.testing.assert_close(got_b, a[:, :1] * b + b)
