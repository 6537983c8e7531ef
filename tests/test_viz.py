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
    assert ax.get_lines()[0].get_ydata().tolist() == [1.0, 2.0] and ax.get_ylabel() == "time per call (ms)"


def test_timings_as_throughput_divide_the_elements_by_the_seconds():
    ax = viz.plot_timings([8, 16], {"loop": [1e-3, 2e-3]}, "rates", elements=[8, 32])
    assert ax.get_lines()[0].get_ydata().tolist() == [8000.0, 16000.0] and ax.get_ylabel() == "elements per second"


def test_forward_backward_bars_stack_no_time_twice():
    ax = viz.plot_forward_backward({"DeltaNet": (0.002, 0.005), "DeltaProduct": (0.004, 0.010)}, "kernels")
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == pytest.approx([2.0, 4.0, 3.0, 6.0])  # forward bars, then backward = total - forward
    assert [label.get_text() for label in ax.get_xticklabels()] == ["DeltaNet", "DeltaProduct"]


def test_token_gates_are_one_bar_per_token_and_channel():
    ax = viz.plot_token_gates({"bit 0": torch.tensor([1.0, 0.5]), "bit 1": torch.tensor([-1.0, 0.2])}, "gates")
    assert [patch.get_height() for patch in ax.patches] == pytest.approx([1.0, 0.5, -1.0, 0.2])
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["gate for bit 0", "gate for bit 1"]


def test_householder_sweep_and_state_norms_plot_what_they_are_given():
    beta = torch.linspace(0, 2, 3)
    ax = viz.plot_householder_sweep(beta, 1 - beta, (1 - beta).abs().clamp(min=1))
    assert ax.get_lines()[0].get_ydata().tolist() == [1.0, 0.0, -1.0] and ax.get_xlabel() == "β"
    ax = viz.plot_state_norms({2.0: [1.0, 1.0], 2.2: [1.2, 1.44]})
    assert [line.get_xdata().tolist() for line in ax.get_lines()] == [[1, 2], [1, 2]]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["β = 2.0", "β = 2.2"]


def test_precision_explorer_recomputes_for_gate_and_dtype():
    from lrnn_course import precision

    widget = viz.precision_explorer(steps=60)
    gate_slider, dtype_picker = widget.children[0], widget.children[1]
    assert widget.result.dtype == torch.float16 and widget.result[-1].item() == 9.96875
    dtype_picker.value = "bfloat16"
    assert widget.result[-1].item() == 9.75
    gate_slider.value = -1.0
    assert widget.result.flatten()[:4].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert torch.equal(widget.result, precision.iterate(-1.0, 1.0, 60, "bfloat16"))


def test_precision_plot_marks_each_freeze_step():
    ax = viz.plot_precision_trajectories(0.9, steps=160)
    freeze_lines = sorted(line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == ":")
    assert freeze_lines == [33, 53, 138]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert "limit b/(1-a) = 10" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_training_plots_draw_one_line_per_run():
    from lrnn_course import train

    config = train.TrainConfig(steps=2, eval_every=1, batch_size=4, eval_samples=4, test_lengths=(41, 64), device="cpu")
    results = train.train_all(train.variants(config, negative=[False, True]), progress=False)
    ax = viz.plot_length_generalisation(results)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["diagonal [0,1], seed 0", "diagonal [-1,1], seed 0", "training lengths 3-40"]
    assert list(ax.get_lines()[1].get_xdata()) == [41, 64]
    # two models at the same scores must not hide each other: different dashes and markers
    first, second = ax.get_lines()[:2]
    assert first.get_linestyle() != second.get_linestyle() and first.get_marker() != second.get_marker()
    assert ax.get_xscale() == "linear"
    assert viz.plot_length_generalisation(results, log_lengths=True).get_xscale() == "log"
    seeds = train.train_all(train.variants(config, negative=[True], seed=[0, 1, 2]), progress=False)
    ax = viz.plot_length_generalisation(seeds)
    assert [t.get_text() for t in ax.get_legend().get_texts()][
        0
    ] == "diagonal [-1,1]: median of 3 seeds, band min to max"
    per_length = [sorted(result.final.scores[length] for result in seeds) for length in (41, 64)]
    assert list(ax.get_lines()[0].get_ydata()) == [scores[1] for scores in per_length]
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert min(band) == min(min(scores) for scores in per_length) and max(band) == max(
        max(scores) for scores in per_length
    )
    ax = viz.plot_learning_curves(results)
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2] and ax.get_xlabel() == "training step"


def test_reflection_explorer_composes_the_rotation_for_the_slider_angles():
    import math

    from lrnn_course import householder

    widget = viz.reflection_explorer()
    assert torch.allclose(widget.result, householder.rotation(2 * math.pi / 3), atol=1e-14)
    widget.children[1].value = 30.0
    assert torch.allclose(widget.result, householder.rotation(math.pi / 3), atol=1e-14)


def test_reflection_plot_labels_the_eigenvalues():
    plane, disc = viz.plot_reflection_product(1.0, 0.0)
    assert plane.get_title() and disc.get_title() and disc.get_xlabel() == "real part"
    labels = " ".join(t.get_text() for t in disc.get_legend().get_texts())
    assert "-0.42+0.91i" in labels and "-0.42-0.91i" in labels  # e^(±2i): cos 2 = -0.416, sin 2 = 0.909
    assert "turned by 115°" in " ".join(t.get_text() for t in plane.get_legend().get_texts())


def test_householder_product_explorer_reports_real_then_complex_eigenvalues():
    widget = viz.householder_product_explorer()
    assert widget.result.imag.abs().max() < 1e-12  # β₁ = β₂ = 1: two projections, real eigenvalues (Prop. 1)
    assert widget.result.real.min() > -1e-12
    widget.children[2].value = 2.0
    widget.children[3].value = 2.0
    eigenvalues = widget.result  # two reflections 60° apart: the rotation by 120°
    assert torch.allclose(eigenvalues.abs(), torch.ones(2, dtype=torch.float64), atol=1e-12)
    assert abs(abs(eigenvalues[0].real.item()) - 0.5) < 1e-12 and eigenvalues.imag.abs().max() > 0.8


def test_householder_product_plot_names_the_kind_of_spectrum():
    ax = viz.plot_householder_product_spectrum(1.0, 0.0, 2.0, 2.0)
    assert ax.get_title() and ax.get_xlabel() == "real part"
    assert "complex" in " ".join(t.get_text() for t in ax.get_legend().get_texts())
    ax = viz.plot_householder_product_spectrum(1.0, 0.0, 0.5, 0.9)
    assert "real" in " ".join(t.get_text() for t in ax.get_legend().get_texts())


def test_gate_trajectory_refuses_a_nan_gate():
    with pytest.raises(ValueError, match=r"gate must lie in \[-1, 1\]; found nan"):
        viz.gate_trajectory(float("nan"))


def test_spectra_and_beta_plots_draw_one_series_per_label():
    ax = viz.plot_spectra({"a": torch.tensor([1 + 0j, -1 + 0j]), "b": torch.tensor([0.5j, -0.5j])}, "spectra")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["unit circle", "a", "b"]
    assert ax.collections[0].get_offsets().tolist() == [[1.0, 0.0], [-1.0, 0.0]]
    ax = viz.plot_beta_histogram({"x": torch.full((5,), 1.9), "y": torch.full((3,), 0.2)}, "β")
    heights = [sum(patch.get_height() for patch in container) for container in ax.containers]
    assert heights == [5, 3]


def test_automaton_edges_leave_out_unknown_moves_and_other_letters():
    table = torch.tensor([[1, 0], [0, -1], [-1, 2]])
    assert viz.automaton_edges(table, [0]) == [(0, 0, 1), (1, 0, 0)]
    assert viz.automaton_edges(table, [1, 0]) == [(0, 1, 0), (2, 1, 2), (0, 0, 1), (1, 0, 0)]
    ax = viz.plot_automaton(table, {0: "a", 1: "b"}, ["p", "q", "r"], "machine")
    assert len([child for child in ax.texts if child.arrow_patch is not None]) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_token_steps_follow_the_states_in_the_principal_plane():
    # states on a line in 3-D: the plane's first direction is that line, and a step moves along it
    states = torch.tensor([[0.0, 1.0, 2.0, 3.0]])[..., None] * torch.tensor([1.0, 2.0, 2.0]) / 3
    words = torch.tensor([[0, 1, 1, 0]])
    mean, basis = viz.principal_plane(states.flatten(0, 1))
    assert torch.allclose(basis[:, 0].abs(), torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64) / 3)
    before, after = viz.token_steps(states, words, 1, (mean, basis))
    assert before.shape == after.shape == (2, 2)  # positions 1 and 2 read token 1; position 0 only places a state
    assert torch.allclose((after - before)[:, 0].abs(), torch.ones(2, dtype=torch.float64))
    assert torch.allclose((after - before)[:, 1], torch.zeros(2, dtype=torch.float64), atol=1e-12)


def test_token_explorer_shows_the_chosen_tokens_spectrum_and_steps():
    spectra = torch.tensor([[1 + 0j, 1 + 0j], [-1 + 0j, 1 + 0j]])
    states = torch.randn(4, 5, 3, generator=torch.Generator().manual_seed(0))
    words = torch.tensor([[0, 1, 0, 1, 1]] * 4)
    widget = viz.token_explorer(spectra, states, words, ["keep", "flip"])
    values, before, _ = widget.result
    assert torch.equal(values, spectra[0]) and before.shape == (4, 2)  # token 0 read once per word after t = 0
    widget.children[0].value = 1
    values, before, after = widget.result
    assert torch.equal(values, spectra[1]) and before.shape == after.shape == (12, 2)
