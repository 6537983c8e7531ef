"""Theorem 1 and the real half of Theorem 2, measured: rounded states freeze or flip, never count."""

from __future__ import annotations

import math

import pytest
import torch

from lrnn_course import precision, scan


@pytest.mark.parametrize(
    "dtype,expected",
    [
        (torch.float16, (53, 9.96875)),
        (torch.bfloat16, (33, 9.75)),
        (torch.float32, (138, 9.999993)),
    ],
)
def test_gate_0_9_freezes_before_its_limit_at_the_steps_the_issue_states(dtype, expected):
    step, value = precision.freeze_step(0.9, 1.0, dtype)
    assert step == expected[0] and value == pytest.approx(expected[1], abs=5e-7)
    assert value < 10.0


def test_freeze_step_agrees_with_pytorch_rounding_step_by_step():
    """The rounding model of ``iterate`` is PyTorch's own: a float16 tensor stepped with ``0.9 * h + 1.0``."""
    h, by_hand = torch.zeros((), dtype=torch.float16), []
    for _ in range(80):
        h = 0.9 * h + 1.0
        by_hand.append(h)
    assert torch.equal(precision.iterate(0.9, 1.0, 80, "float16").flatten(), torch.stack(by_hand))


def test_every_gate_in_0_1_freezes_in_float16():
    """Each (k, h_k) is the first repeat of the float16 trajectory: h_{k+1} = h_k, h_k ≠ h_{k-1}, and h_k its value."""
    grid = torch.linspace(0, 1, 101, dtype=torch.float64).tolist()
    frozen = [precision.freeze_step(gate, 1.0, torch.float16) for gate in grid]
    assert all(result is not None for result in frozen)
    longest = max(step for step, _ in frozen)
    trajectories = torch.cat(
        [
            torch.zeros(1, 101, dtype=torch.float16),  # h_0 = 0, then h_1 .. h_{longest + 1}
            precision.iterate(torch.tensor(grid, dtype=torch.float64), 1.0, longest + 1, "float16"),
        ]
    )
    for column, (gate, (step, value)) in enumerate(zip(grid, frozen)):
        h = trajectories[:, column].tolist()
        assert h[step] == value and h[step + 1] == value, (gate, step, value)
        assert step == 0 or h[step - 1] != value, (gate, step, value)
        if (
            gate < 1
        ):  # a fixed point of the rounded step: |(1 - a)(h - 1/(1 - a))| is at most one unit in the last place
            unit = 2.0 ** (math.floor(math.log2(value)) - 10)
            assert abs(value - 1 / (1 - gate)) * (1 - gate) <= unit, (gate, value)  # measured at most 0.74 units
    assert frozen[0] == (1, 1.0)  # gate 0: h_1 = 1 = h_2
    assert frozen[50] == (12, 2.0)  # gate 0.5: h_k = 2 - 2^(1-k) is exact up to k = 11; at k = 12 the tie rounds to 2
    assert precision.freeze_step(1.0, 1.0, torch.float16) == (2048, 2048.0)  # spacing 2: 2048 + 1 rounds to 2048


def test_a_gate_of_minus_one_never_freezes():
    assert precision.freeze_step(-1.0, 1.0, torch.float16, max_steps=5000) is None


def test_real_diagonal_recurrences_are_eventually_2_periodic_in_float16():
    """Theorem 2's premise: with real gates in [-1, 1] the joint state repeats with period 1 or 2."""
    generator = torch.Generator().manual_seed(3)
    gates = torch.rand(64, generator=generator, dtype=torch.float64) * 1.9 - 0.95
    gates[:4] = torch.tensor([-1.0, 1.0, 0.0, -0.5], dtype=torch.float64)
    drives = torch.randn(64, generator=generator, dtype=torch.float64)
    start, period = precision.eventual_period(precision.iterate(gates, drives, 6000, "float16"))
    assert period in (1, 2)
    assert start < 6000


def test_a_rotation_is_not_eventually_2_periodic():
    """The contrast: a 2x2 rotation by 2π/3 cycles with period 3, which no real diagonal map can."""
    angle = 2 * torch.pi / 3
    rotation = torch.tensor(
        [
            [torch.cos(torch.tensor(angle)), -torch.sin(torch.tensor(angle))],
            [torch.sin(torch.tensor(angle)), torch.cos(torch.tensor(angle))],
        ],
        dtype=torch.float64,
    )
    h, states = torch.tensor([1.0, 0.0], dtype=torch.float64), []
    for _ in range(30):
        h = rotation @ h
        states.append(h.to(torch.float16))
    start, period = precision.eventual_period(torch.stack(states))
    assert period == 3


def test_eventual_period_by_hand():
    states = torch.tensor([[5.0], [3.0], [1.0], [2.0], [1.0], [2.0]])
    assert precision.eventual_period(states) == (2, 2)
    assert precision.eventual_period(torch.tensor([[1.0], [2.0], [3.0]])) is None
    assert precision.eventual_period(torch.tensor([[1.0, 2.0], [1.0, 3.0], [1.0, 2.0]])) == (0, 2)


def test_parity_machine_is_exact_at_length_10000_in_float16():
    bits = torch.randint(2, (3, 10_000), generator=torch.Generator().manual_seed(0)).to(torch.float16)
    states = precision.parity_machine(bits)
    assert states.dtype == torch.float16
    assert torch.equal(states.long(), bits.long().cumsum(dim=1) % 2)


@pytest.mark.parametrize(
    "call,error",
    [
        (lambda: precision.iterate(0.5, 1.0, 0, "float16"), ValueError),
        (lambda: precision.iterate(0.5, 1.0, 5, "int8"), TypeError),
        (lambda: precision.iterate(float("nan"), 1.0, 5, "float16"), ValueError),
        (lambda: precision.iterate(torch.ones(3), torch.ones(2), 5, "float16"), ValueError),
        (lambda: precision.freeze_step(0.5, float("inf"), torch.float16), ValueError),
        (lambda: precision.freeze_step(torch.tensor(0.5), 1.0, torch.float16), TypeError),
        (lambda: precision.freeze_step(0.5, 1.0, "int8"), TypeError),
        (lambda: precision.parity_machine(torch.tensor([[0.0, 2.0]])), ValueError),
        (lambda: precision.parity_machine(torch.zeros(4)), ValueError),
        (lambda: precision.eventual_period(torch.zeros(4)), ValueError),
    ],
)
def test_bad_input_is_refused(call, error):
    with pytest.raises(error):
        call()


def test_parity_machine_uses_the_lesson_01_scan(monkeypatch):
    calls = []
    original = scan.hillis_steele_scan
    monkeypatch.setattr(scan, "hillis_steele_scan", lambda *args, **kw: calls.append(1) or original(*args, **kw))
    precision.parity_machine(torch.ones(1, 4))
    assert calls


def test_coordinate_periods_match_eventual_period_column_by_column():
    generator = torch.Generator().manual_seed(2)
    gates = torch.rand(40, generator=generator, dtype=torch.float64) * 2 - 1
    gates[:3] = torch.tensor([-1.0, 1.0, 0.0], dtype=torch.float64)
    drives = torch.randn(40, generator=generator, dtype=torch.float64)
    states = precision.iterate(gates, drives, 3000, "float16")
    expected = [(precision.eventual_period(states[:, j : j + 1]) or (None, 0))[1] for j in range(40)]
    assert precision.coordinate_periods(states).tolist() == expected


def test_coordinate_periods_by_hand():
    states = torch.tensor([[5.0, 1.0, 7.0], [3.0, 2.0, 8.0], [1.0, 3.0, 9.0], [3.0, 1.0, 9.0]])
    assert precision.coordinate_periods(states).tolist() == [2, 3, 1]
    assert precision.coordinate_periods(torch.tensor([[1.0], [2.0]])).tolist() == [0]
    assert precision.coordinate_periods(torch.tensor([[float("nan")], [float("nan")]])).tolist() == [0]


def test_iterate_and_coordinate_periods_reject_wrong_inputs():
    with pytest.raises(TypeError, match="h0 must be a Python int or float"):
        precision.iterate(0.5, 1.0, 3, "float16", h0=torch.ones(2))
    with pytest.raises(ValueError, match="h0 must be finite"):
        precision.iterate(0.5, 1.0, 3, "float16", h0=float("nan"))
    with pytest.raises(ValueError, match="gate must hold at least one value"):
        precision.iterate(torch.tensor([]), 1.0, 3, "float16")
    with pytest.raises(ValueError, match=r"at least one state \(K >= 1\)"):
        precision.coordinate_periods(torch.ones(0, 2))


# Matrix transitions in the three rounding models (Lessons 03 and 05).
COUNTER_A = torch.tensor([[-0.2512, -0.8628], [0.1926, -1.1172]])
COUNTER_B = torch.tensor([0.02425, 0.3479])
COUNTER_H0 = torch.tensor([-1.0713, 0.9365])


def test_per_operation_rounds_each_product_and_each_sum_by_hand():
    a, b, h = COUNTER_A.half(), COUNTER_B.half(), COUNTER_H0.half()
    by_hand = []
    for row in range(2):
        first, second = a[row, 0] * h[0], a[row, 1] * h[1]  # float16 scalars: each product rounded
        by_hand.append((first + second) + b[row])  # each sum rounded, left to right
    step = precision.iterate_linear(COUNTER_A, COUNTER_B, 1, "float16", COUNTER_H0)[0, 0]
    assert step.dtype == torch.float16 and torch.equal(step, torch.stack(by_hand))
    exact_then_cast = (a.double() @ h.double() + b.double()).half()
    assert not torch.equal(exact_then_cast, step), "this step must tell the two models apart, or the test proves less"
    assert torch.equal(
        precision.iterate_linear(COUNTER_A, COUNTER_B, 1, "float16", COUNTER_H0, "per_step")[0, 0], exact_then_cast
    )


def test_per_step_and_at_read_out_follow_their_definitions_for_many_steps():
    a, b, h = COUNTER_A.half().double(), COUNTER_B.half().double(), COUNTER_H0.half().double()
    fed_back, exact = [], []
    rounded, unrounded = h, h
    for _ in range(50):
        rounded = (a @ rounded + b).half().double()
        unrounded = a @ unrounded + b
        fed_back.append(rounded.half())
        exact.append(unrounded.half())
    assert torch.equal(
        precision.iterate_linear(COUNTER_A, COUNTER_B, 50, "float16", COUNTER_H0, "per_step")[:, 0],
        torch.stack(fed_back),
    )
    assert torch.equal(
        precision.iterate_linear(COUNTER_A, COUNTER_B, 50, "float16", COUNTER_H0, "at_read_out")[:, 0],
        torch.stack(exact),
    )


def test_in_float64_the_three_models_are_one_recurrence():
    generator = torch.Generator().manual_seed(0)
    a, b, h = (torch.randn(*shape, generator=generator, dtype=torch.float64) * 0.5 for shape in ((3, 3), (3,), (3,)))
    runs = [precision.iterate_linear(a, b, 20, "float64", h, rounding) for rounding in precision.ROUNDINGS]
    state, expected = h, []
    for _ in range(20):
        state = a @ state + b
        expected.append(state)
    for run in runs:
        torch.testing.assert_close(run[:, 0], torch.stack(expected), rtol=1e-13, atol=1e-13)


def test_the_lessons_real_eigenvalue_matrix_counts_mod_3_only_with_rounding_fed_back():
    eigenvalues = torch.linalg.eigvals(COUNTER_A.half().double())
    assert bool((eigenvalues.imag == 0).all()) and bool((eigenvalues.real < 0).all())
    verdicts = {}
    for rounding in precision.ROUNDINGS:
        orbit = precision.iterate_linear(COUNTER_A, COUNTER_B, 30_000, "float16", COUNTER_H0, rounding)
        verdicts[rounding] = (
            precision.residue_conflicts(orbit[:, 0], 3)[1],
            precision.orbit_periods(orbit[-64:]).item(),
        )
    assert verdicts["per_operation"] == (0, 3) and verdicts["per_step"] == (0, 9)
    assert verdicts["at_read_out"][0] > 0 and verdicts["at_read_out"][1] == 1


def test_orbit_periods_and_residue_conflicts_by_hand():
    cycle = torch.tensor([[0.0], [1.0], [2.0]])
    states = torch.cat([torch.tensor([[7.0], [8.0]]), cycle.repeat(4, 1)])  # a transient, then period 3
    assert precision.orbit_periods(states[:, None, :]).tolist() == [3]
    assert precision.residue_conflicts(states, 3) == (5, 0)
    assert precision.residue_conflicts(torch.tensor([[0.0], [1.0]]).repeat(6, 1), 3) == (
        2,
        2,
    )  # period 2 serves every residue
    pair = torch.stack([states, torch.full_like(states, 5.0)], dim=1)  # (K, 2, 1): a period-3 orbit and a constant one
    assert precision.orbit_periods(pair).tolist() == [3, 1]
    assert precision.orbit_periods(torch.arange(6.0).view(6, 1, 1)).tolist() == [0]


def test_random_real_spectrum_matrices_have_what_they_promise():
    generator = torch.Generator().manual_seed(1)
    full = precision.real_spectrum_matrices(4000, -1.0, 1.0, "float16", generator)
    triangular = precision.real_spectrum_matrices(1000, 0.0, 1.0, "float16", generator, triangular=True)
    assert full.dtype == torch.float16 and len(full) > 100 and len(triangular) > 100
    for matrices, low in ((full, -1.0), (triangular, 0.0)):
        eigenvalues = torch.linalg.eigvals(matrices.double())
        assert bool((eigenvalues.imag == 0).all()) and bool(((eigenvalues.real >= low) & (eigenvalues.real <= 1)).all())
    assert bool((full[:, 0, 1] != 0).all() and (full[:, 1, 0] != 0).all()) and bool((triangular[:, 1, 0] == 0).all())


def test_triangular_transitions_end_with_period_1_or_2_in_every_model_and_full_ones_not_always():
    generator = torch.Generator().manual_seed(2)
    triangular = precision.real_spectrum_matrices(1500, -1.0, 1.0, "float16", generator, triangular=True)
    full = precision.real_spectrum_matrices(4000, -1.0, 1.0, "float16", generator)
    for rounding in precision.ROUNDINGS:
        assert set(precision.period_census(triangular, 2000, "float16", rounding, generator)) <= {0, 1, 2}, rounding
    assert set(precision.period_census(full, 2000, "float16", "at_read_out", generator)) <= {0, 1, 2}
    assert max(precision.period_census(full, 2000, "float16", "per_operation", generator)) > 2


@pytest.mark.parametrize(
    "call, error",
    [
        (
            lambda: precision.iterate_linear(COUNTER_A, COUNTER_B, 3, "float16", COUNTER_H0, "rounded"),
            "rounding must be one of",
        ),
        (
            lambda: precision.iterate_linear(torch.ones(2, 3), COUNTER_B, 3, "float16", COUNTER_H0),
            r"transition must be \(D, D\)",
        ),
        (
            lambda: precision.iterate_linear(COUNTER_A, torch.ones(3), 3, "float16", COUNTER_H0),
            r"drive must be \(D,\) or \(N, D\)",
        ),
        (lambda: precision.orbit_periods(torch.ones(4, 2)), "states"),
    ],
)
def test_matrix_iteration_rejects_wrong_inputs(call, error):
    with pytest.raises((ValueError, TypeError), match=error):
        call()
