"""The pure functions behind Lesson 01's plots and widget, driven headless."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from lrnn_course import viz  # noqa: E402


def test_gate_trajectory_by_hand():
    assert viz.gate_trajectory(-1.0, steps=4).tolist() == [1.0, 0.0, 1.0, 0.0]
    assert viz.gate_trajectory(1.0, steps=3, drive=2.0).tolist() == [2.0, 4.0, 6.0]
    assert viz.gate_trajectory(0.5, steps=3, h0=4.0).tolist() == [3.0, 2.5, 2.25]


def test_positive_gate_climbs_monotonically_and_freezes_at_the_fixed_point_in_float64():
    h = viz.gate_trajectory(0.9, steps=400)
    assert bool((h[1:] >= h[:-1]).all()) and abs(h[-1].item() - 10.0) < 1e-12
    assert h[-1].item() == h[-2].item()  # Theorem 1's frozen state, already in float64


@pytest.mark.parametrize("bad", [{"gate": 1.5}, {"gate": -1.01}, {"steps": 0}, {"drive": float("nan")}])
def test_gate_trajectory_refuses_bad_input(bad):
    kwargs = {"gate": 0.5, **bad}
    with pytest.raises((ValueError, TypeError)):
        viz.gate_trajectory(**kwargs)


def test_explorer_widget_recomputes_when_the_slider_moves():
    widget = viz.scan_explorer(steps=6)
    gate_slider, drive_slider = widget.children[0], widget.children[1]
    assert torch.equal(widget.result, viz.gate_trajectory(0.9, 6))
    gate_slider.value = -1.0
    assert widget.result.tolist() == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    drive_slider.value = 2.0
    assert widget.result.tolist() == [2.0, 0.0, 2.0, 0.0, 2.0, 0.0]


def test_plots_have_titles_labels_and_legends():
    ax = viz.plot_trajectories([0.5, -1.0], steps=5)
    assert ax.get_title() and ax.get_xlabel() == "step $t$" and ax.get_ylabel() == "state $h_t$"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a = +0.50", "a = -1.00"]
    ax = viz.plot_timings([8, 16], {"loop": [1e-3, 2e-3]}, "timings")
    assert ax.get_title() == "timings" and ax.get_legend() is not None and ax.get_xlabel()
