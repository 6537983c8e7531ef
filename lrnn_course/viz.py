"""Plots and widgets of the lessons; each plot is a thin layer over a pure function that tests call.

Glossary: ``gate`` = a scalar gate a (the eigenvalue of a 1x1 transition A), ``drive`` = a constant
input b, ``h`` = the states h_1..h_T of h_t = a h_{t-1} + b.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from .validate import require_in_range, require_positive_int


def gate_trajectory(gate: float, steps: int = 40, drive: float = 1.0, h0: float = 0.0) -> torch.Tensor:
    """The states h_1..h_steps of h_t = gate * h_{t-1} + drive from h_0 = h0, in float64.

    ``gate`` must lie in [-1, 1], the range of every model in this course.
    """
    gate_tensor = torch.tensor(float(gate), dtype=torch.float64)
    require_in_range(gate_tensor, "gate", -1.0, 1.0)
    require_positive_int(steps, "steps")
    for value, name in ((drive, "drive"), (h0, "h0")):
        if not torch.isfinite(torch.tensor(float(value))):
            raise ValueError(f"{name} must be finite, got {value}")
    states, h = [], float(h0)
    for _ in range(steps):
        h = float(gate) * h + float(drive)
        states.append(h)
    return torch.tensor(states, dtype=torch.float64)


def plot_trajectories(gates: Sequence[float], steps: int = 40, drive: float = 1.0, ax=None):
    """Plot the state trajectory of each gate in ``gates`` on one axis, with its fixed point."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    time = range(1, steps + 1)
    for gate in gates:
        (line,) = ax.plot(time, gate_trajectory(gate, steps, drive).numpy(), marker=".", label=f"a = {gate:+.2f}")
        if abs(gate) < 1:
            ax.axhline(drive / (1 - gate), color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_title(f"$h_t = a\\,h_{{t-1}} + {drive:g}$ for several gates $a$ (dotted: fixed point $b/(1-a)$)")
    ax.set_xlabel("step $t$")
    ax.set_ylabel("state $h_t$")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def scan_explorer(steps: int = 40):
    """An ipywidgets explorer: a slider over the gate a in [-1, 1] redraws the trajectory.

    The widget's ``result`` is the trajectory tensor of the current gate, so it can be tested
    without a browser: set ``widget.children[0].value`` and read ``widget.result``.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(gate: float, drive: float) -> torch.Tensor:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        plot_trajectories([gate], steps, drive, ax=ax)
        plt.show()
        return gate_trajectory(gate, steps, drive)

    gate_slider = widgets.FloatSlider(value=0.9, min=-1.0, max=1.0, step=0.05, description="gate a")
    drive_slider = widgets.FloatSlider(value=1.0, min=-2.0, max=2.0, step=0.25, description="input b")
    return widgets.interactive(show, gate=gate_slider, drive=drive_slider)


def plot_timings(
    lengths: Sequence[int],
    seconds: Mapping[str, Sequence[float]],
    title: str,
    ax=None,
    elements: Sequence[int] | None = None,
):
    """Log-log plot of run time against sequence length, one line per method.

    With ``elements`` (the elements processed at each length), the throughput in elements per second
    instead. The legend sits outside the axes: where the lines fall depends on the machine.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    for name, values in seconds.items():
        shown = [1e3 * s for s in values] if elements is None else [n / s for n, s in zip(elements, values)]
        ax.loglog(lengths, shown, marker="o", label=name)
    ax.set_title(title)
    ax.set_xlabel("sequence length $T$")
    ax.set_ylabel("time per call (ms)" if elements is None else "elements per second")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, which="both", alpha=0.3)
    ax.figure.tight_layout()
    return ax


def plot_forward_backward(times: Mapping[str, tuple[float, float]], title: str, ax=None):
    """Bars of forward and backward milliseconds per model, from ``{model: (forward s, forward+backward s)}``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    positions = range(len(times))
    ax.bar([p - 0.2 for p in positions], [f * 1e3 for f, _ in times.values()], width=0.4, label="forward")
    ax.bar([p + 0.2 for p in positions], [(fb - f) * 1e3 for f, fb in times.values()], width=0.4, label="backward")
    ax.set_xticks(list(positions), list(times), fontsize=8)
    ax.set_ylabel("time (ms)")
    ax.set_xlabel("model")
    ax.set_title(title)
    ax.legend()
    return ax


def plot_token_gates(gates: Mapping[str, torch.Tensor], title: str, ax=None):
    """Bars of each token's gate per state channel, from ``{token name: gate vector}``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.8 / len(gates)
    for offset, (token, gate) in enumerate(gates.items()):
        channels = torch.arange(len(gate))
        ax.bar(channels + (offset - (len(gates) - 1) / 2) * width, gate, width=width, label=f"gate for {token}")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_title(title)
    ax.set_xlabel("state channel")
    ax.set_ylabel("gate $a(x)$")
    ax.set_xticks(range(len(next(iter(gates.values())))))
    # below the axes: inside, it would hide the bars near -1
    ax.legend(loc="upper center", ncol=len(gates), bbox_to_anchor=(0.5, -0.25))
    return ax


def plot_precision_trajectories(
    gate: float,
    drive: float = 1.0,
    steps: int = 80,
    dtypes: Sequence[str] = ("float16", "bfloat16", "float32"),
    ax=None,
):
    """The state of h_k = gate * h_{k-1} + drive on 1^k in several dtypes, each with its freeze step marked."""
    import matplotlib.pyplot as plt

    from .precision import DTYPES, freeze_step, iterate

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    time = range(1, steps + 1)
    for name in dtypes:
        (line,) = ax.plot(
            time, iterate(gate, drive, steps, name).flatten().float().numpy(), marker=".", markersize=3, label=name
        )
        frozen = freeze_step(gate, drive, DTYPES[name], max_steps=steps)
        if frozen is not None and frozen[0] > 0:
            ax.axvline(frozen[0], color=line.get_color(), linestyle=":", linewidth=1)
    if abs(gate) < 1:
        ax.axhline(
            drive / (1 - gate),
            color="black",
            linestyle="--",
            linewidth=0.8,
            label=f"limit b/(1-a) = {drive / (1 - gate):g}",
        )
    ax.set_title(
        f"$h_k = {gate:g}\\,h_{{k-1}} + {drive:g}$ on $1^k$, rounded to each dtype (dotted: the state freezes)"
    )
    ax.set_xlabel("steps $k$ (number of 1s read)")
    ax.set_ylabel("state $h_k$")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def precision_explorer(steps: int = 80):
    """An ipywidgets explorer: sliders for the gate a and the dtype redraw the rounded trajectory.

    The widget's ``result`` is the trajectory (``precision.iterate``) for the current settings, so it
    can be tested without a browser: set ``widget.children[0].value`` and read ``widget.result``.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .precision import DTYPES, iterate

    def show(gate: float, dtype: str) -> torch.Tensor:
        _, ax = plt.subplots(figsize=(7, 3.5))
        plot_precision_trajectories(gate, 1.0, steps, (dtype,), ax=ax)
        plt.show()
        return iterate(gate, 1.0, steps, dtype)

    gate_slider = widgets.FloatSlider(value=0.9, min=-1.0, max=1.0, step=0.01, description="gate a")
    dtype_picker = widgets.Dropdown(options=list(DTYPES), value="float16", description="dtype")
    return widgets.interactive(show, gate=gate_slider, dtype=dtype_picker)


# Line i of a comparison: two models that score the same (both 1.0, say) stay visible apart, by
# their dashes and their hollow markers.
_LINE_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"))


def _line_style(index: int) -> dict[str, str]:
    """Matplotlib keywords for line ``index`` of a plot: its dash pattern and hollow marker, cycling."""
    linestyle, marker = _LINE_STYLES[index % len(_LINE_STYLES)]
    return {"linestyle": linestyle, "marker": marker, "fillstyle": "none"}


def plot_length_generalisation(results: Sequence, ax=None, title: str | None = None, log_lengths: bool = False):
    """The runs' metric against test length (their final evaluations); ``log_lengths`` puts length on a log₂ axis.

    One line per model: a single run as it is, several seeds as their median with the band from the
    lowest to the highest seed (eighteen crossing lines would hide the comparison).
    """
    import statistics

    import matplotlib.pyplot as plt

    from .train import by_label

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    models = by_label(results)
    for index, (label, runs) in enumerate(models.items()):
        lengths = sorted(runs[0].final.scores)
        per_length = [[run.final.scores[length] for run in runs] for length in lengths]
        if len(runs) == 1:
            ax.plot(
                lengths,
                [scores[0] for scores in per_length],
                **_line_style(index),
                label=f"{label}, seed {runs[0].config.seed}",
            )
            continue
        (line,) = ax.plot(
            lengths,
            [statistics.median(scores) for scores in per_length],
            **_line_style(index),
            label=f"{label}: median of {len(runs)} seeds, band min to max",
        )
        ax.fill_between(
            lengths,
            [min(scores) for scores in per_length],
            [max(scores) for scores in per_length],
            color=line.get_color(),
            alpha=0.2,
        )
    low, high = results[0].config.train_lengths
    ax.axvspan(low, high, color="grey", alpha=0.15, label=f"training lengths {low}-{high}")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylim(-0.3, 1.1)
    if log_lengths:
        from matplotlib.ticker import ScalarFormatter

        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(ScalarFormatter())
    metric = results[0].config.metric
    ax.set_title(title or f"{metric.capitalize()} beyond the training lengths")
    ax.set_xlabel("sequence length")
    ax.set_ylabel(metric)
    # Beyond four models the legend would cover the lines: it goes to the right of the axes.
    ax.legend(fontsize="small", **({"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)} if len(models) > 4 else {}))
    return ax


def plot_learning_curves(results: Sequence, ax=None, title: str | None = None):
    """The mean of the runs' metric over the test lengths against the training step, one line per run."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for result in results:
        ax.plot(
            [e.step for e in result.history],
            [e.mean() for e in result.history],
            marker=".",
            label=f"{result.config.label}, seed {result.config.seed}",
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylim(-0.3, 1.1)
    metric = results[0].config.metric
    ax.set_title(title or f"{metric.capitalize()} on the test lengths during training")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"mean {metric}")
    ax.legend(fontsize="small")
    return ax


def _unit_circle(ax) -> None:
    """Draw the unit circle on square axes spanning [-1.3, 1.3]²."""
    import math

    circle = torch.linspace(0, 2 * math.pi, 200)
    ax.plot(torch.cos(circle), torch.sin(circle), color="grey", linewidth=0.8, label="unit circle")
    ax.set_aspect("equal")
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)


def plot_reflection_product(first_angle: float, second_angle: float, axes=None):
    """Left: the two reflection keys and the rotation they compose; right: its eigenvalues on the unit circle."""
    import math

    import matplotlib.pyplot as plt

    from .householder import angle_of, reflection_product, unit_vector

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    plane, disc = axes
    product = reflection_product(first_angle, second_angle)
    for ax in axes:
        _unit_circle(ax)
    for angle, name, colour in ((first_angle, "k₁", "tab:blue"), (second_angle, "k₂", "tab:orange")):
        key = unit_vector(angle)
        plane.annotate(
            "", xy=(key[0].item(), key[1].item()), xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": colour}
        )
        plane.plot([], [], color=colour, label=f"key {name} at {math.degrees(angle):.0f}°")
    start = torch.tensor([1.0, 0.0], dtype=torch.float64)
    image = product @ start
    plane.plot([start[0].item()], [start[1].item()], "ko", label="e₁")
    turned = math.degrees(angle_of(image).item())
    plane.plot(
        [image[0].item()], [image[1].item()], "r*", markersize=12, label=f"H(k₁) H(k₂) e₁: turned by {turned:.0f}°"
    )
    plane.set_title("Two reflections compose a rotation")
    plane.set_xlabel("first coordinate")
    plane.set_ylabel("second coordinate")
    plane.legend(loc="lower left", fontsize="small")
    eigenvalues = torch.linalg.eigvals(product)
    disc.plot(
        eigenvalues.real.numpy(),
        eigenvalues.imag.numpy(),
        "r*",
        markersize=12,
        label="eigenvalues " + ", ".join(f"{z.real:+.2f}{z.imag:+.2f}i" for z in eigenvalues.tolist()),
    )
    disc.axhline(0, color="black", linewidth=0.5)
    disc.axvline(0, color="black", linewidth=0.5)
    disc.set_title("Eigenvalues of the product $e^{\\pm 2i(\\theta_1 - \\theta_2)}$")
    disc.set_xlabel("real part")
    disc.set_ylabel("imaginary part")
    disc.legend(loc="lower left", fontsize="small")
    return axes


def reflection_explorer():
    """An ipywidgets explorer: two key angles (degrees) -> the composed rotation and its eigenvalues.

    The widget's ``result`` is the 2x2 product for the current angles, so it can be tested headless.
    """
    import math

    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .householder import reflection_product

    def show(first_degrees: float, second_degrees: float) -> torch.Tensor:
        plot_reflection_product(math.radians(first_degrees), math.radians(second_degrees))
        plt.show()
        return reflection_product(math.radians(first_degrees), math.radians(second_degrees))

    first = widgets.FloatSlider(value=60.0, min=0.0, max=180.0, step=1.0, description="θ₁ (°)")
    second = widgets.FloatSlider(value=0.0, min=0.0, max=180.0, step=1.0, description="θ₂ (°)")
    return widgets.interactive(show, first_degrees=first, second_degrees=second)


def plot_householder_sweep(beta: torch.Tensor, along_key: torch.Tensor, norms: torch.Tensor, ax=None):
    """The spectrum of I - β k kᵀ as β sweeps: the eigenvalue along k (1 - β), the others (1), and the norm."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(beta, along_key, label="eigenvalue along k: 1 - β")
    ax.plot(beta, torch.ones_like(beta), label="the other eigenvalues: 1")
    ax.plot(beta, norms, linestyle="--", label="norm ‖I - βkkᵀ‖")
    ax.axvspan(0, 1, color="tab:blue", alpha=0.08, label="β ∈ [0, 1]")
    ax.axvspan(1, 2, color="tab:green", alpha=0.08, label="β ∈ (1, 2]: negative eigenvalue")
    ax.set_title("Spectrum of a generalized Householder matrix")
    ax.set_xlabel("β")
    ax.set_ylabel("eigenvalue / norm")
    ax.legend(fontsize="small")
    return ax


def plot_state_norms(norms: Mapping[float, Sequence[float]], ax=None):
    """‖A_t ⋯ A_1 h‖ against t on a log scale, one line per β, from ``{β: [norm after each step]}``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    for beta, values in norms.items():
        ax.semilogy(range(1, len(values) + 1), values, label=f"β = {beta}")
    ax.set_title("‖A_t ⋯ A_1 h‖ for random unit keys, no writes")
    ax.set_xlabel("step t")
    ax.set_ylabel("state norm (log scale)")
    ax.legend(fontsize="small")
    return ax


def householder_product_eigenvalues(
    first_angle: float, second_angle: float, first_beta: float, second_beta: float
) -> torch.Tensor:
    """Eigenvalues (complex, 2) of (I - β₁ k₁k₁ᵀ)(I - β₂ k₂k₂ᵀ) for plane keys at the given angles (radians)."""
    from .householder import generalized_householder, unit_vector

    product = generalized_householder(unit_vector(first_angle), first_beta) @ generalized_householder(
        unit_vector(second_angle), second_beta
    )
    return torch.linalg.eigvals(product)


def plot_householder_product_spectrum(
    first_angle: float, second_angle: float, first_beta: float, second_beta: float, ax=None
):
    """The two eigenvalues of a product of two generalized Householders in the plane, on the unit disc."""
    import math

    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    _unit_circle(ax)
    eigenvalues = householder_product_eigenvalues(first_angle, second_angle, first_beta, second_beta)
    kind = "complex" if eigenvalues.imag.abs().max() > 1e-12 else "real"
    ax.plot(
        eigenvalues.real.numpy(),
        eigenvalues.imag.numpy(),
        "r*",
        markersize=12,
        label=f"{kind}: " + ", ".join(f"{z.real:+.2f}{z.imag:+.2f}i" for z in eigenvalues.tolist()),
    )
    ax.axhline(0, color="black", linewidth=0.5)
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_title(
        f"(I - {first_beta:.2f} k₁k₁ᵀ)(I - {second_beta:.2f} k₂k₂ᵀ), "
        f"keys {math.degrees(first_angle):.0f}° and {math.degrees(second_angle):.0f}°",
        fontsize="medium",
    )
    ax.set_xlabel("real part")
    ax.set_ylabel("imaginary part")
    ax.legend(loc="lower left", fontsize="small")
    return ax


def householder_product_explorer():
    """An ipywidgets explorer: two key angles (degrees) and two βs -> the product's eigenvalues on the unit disc.

    The widget's ``result`` holds the eigenvalues for the current sliders, so it can be tested headless.
    """
    import math

    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(first_degrees: float, second_degrees: float, first_beta: float, second_beta: float) -> torch.Tensor:
        arguments = (math.radians(first_degrees), math.radians(second_degrees), first_beta, second_beta)
        plot_householder_product_spectrum(*arguments)
        plt.show()
        return householder_product_eigenvalues(*arguments)

    return widgets.interactive(
        show,
        first_degrees=widgets.FloatSlider(value=60.0, min=0.0, max=180.0, step=1.0, description="θ₁ (°)"),
        second_degrees=widgets.FloatSlider(value=0.0, min=0.0, max=180.0, step=1.0, description="θ₂ (°)"),
        first_beta=widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.05, description="β₁"),
        second_beta=widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.05, description="β₂"),
    )


CAPABILITY_COLOURS = {"yes": "#7fc97f", "no": "#f0027f", "open": "#d9d9d9"}


def plot_capability_map(
    rows: Sequence[str],
    columns: Sequence[str],
    verdicts: Sequence[Sequence[tuple[str, str]]],
    ax=None,
    title: str = "What finite-precision LRNNs can track, by theorem",
):
    """A grid of verdicts: ``verdicts[i][j] = (kind, note)``, kind "yes", "no" or "open", a short note ("Thm 3")."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Patch

    if len(verdicts) != len(rows) or any(len(row) != len(columns) for row in verdicts):
        raise ValueError("verdicts must have one row per row name and one entry per column name")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.9 * len(columns) + 3, 0.6 * len(rows) + 1.5))
    image = [[to_rgb(CAPABILITY_COLOURS[kind]) for kind, _ in row] for row in verdicts]
    ax.imshow(image, aspect="auto")
    marks = {"yes": "✓", "no": "✗", "open": "?"}
    for i, row in enumerate(verdicts):
        for j, (kind, note) in enumerate(row):
            ax.text(j, i, f"{marks[kind]} {note}", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    ax.xaxis.tick_top()
    ax.set_xlabel("task (any length, finite precision)")
    ax.xaxis.set_label_position("top")
    ax.set_ylabel("model")
    ax.set_title(title, pad=30)
    legend = [
        Patch(color=CAPABILITY_COLOURS[kind], label=label)
        for kind, label in (
            ("yes", "can: a construction exists"),
            ("no", "cannot: a theorem forbids it"),
            ("open", "open, or needs more layers or reflections than the row allows"),
        )
    ]
    ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3, fontsize="small")
    return ax


def plot_sequence_accuracy(
    curves: Mapping[str, torch.Tensor],
    train_length: int,
    ax=None,
    title: str = "Cumulative sequence accuracy along the sequence",
):
    """Cumulative sequence accuracy against position, one line per ``curves[label]`` (a (T,) tensor)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for index, (label, curve) in enumerate(curves.items()):
        ax.plot(range(1, len(curve) + 1), curve.tolist(), linestyle=_line_style(index)["linestyle"], label=label)
    ax.axvline(train_length, color="grey", linestyle="--", label=f"training length {train_length}")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(title)
    ax.set_xlabel("position t")
    ax.set_ylabel("fraction of sequences right up to t")
    ax.legend(fontsize="small")
    return ax


def plot_adder_states(states: torch.Tensor, odd: torch.Tensor, modulus: int, ax=None):
    """Layer 2's states of Theorem 6's adder on the unit circle, coloured by the parity of the position."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    _unit_circle(ax)
    points = states.reshape(-1, 2).double()
    is_odd = odd.reshape(-1)
    ax.scatter(points[~is_odd, 0], points[~is_odd, 1], s=60, label="even t: rotation by 2π s/m", zorder=3)
    ax.scatter(points[is_odd, 0], points[is_odd, 1], s=60, marker="x", label="odd t: reflected", zorder=3)
    ax.set_title(f"Theorem 6: the {2 * modulus} states of the mod-{modulus} adder")
    ax.set_xlabel("state coordinate 1")
    ax.set_ylabel("state coordinate 2")
    ax.legend(fontsize="small", loc="center")  # inside the circle: every state on it stays visible
    return ax


def plot_spectra(spectra: Mapping[str, torch.Tensor], title: str, ax=None):
    """Eigenvalues on the complex plane with the unit circle, one marker per label (any shape, flattened)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    _unit_circle(ax)
    markers = "o^sDvPX*"
    for index, (label, values) in enumerate(spectra.items()):
        values = values.reshape(-1).to(torch.complex128)
        ax.scatter(values.real, values.imag, s=40, marker=markers[index % len(markers)], label=label, zorder=3)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_title(title, fontsize="medium")
    ax.set_xlabel("real part")
    ax.set_ylabel("imaginary part")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    return ax


def plot_beta_histogram(betas: Mapping[str, torch.Tensor], title: str, ax=None):
    """Histograms of learned β values on [0, 2], one per label, with β = 1 (projection) and 2 (reflection) marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    bins = torch.linspace(0, 2, 41)
    for label, values in betas.items():
        ax.hist(values.reshape(-1).double().numpy(), bins=bins.numpy(), alpha=0.6, label=label)
    for beta, name in ((1.0, "β = 1: a projection"), (2.0, "β = 2: a reflection")):
        ax.axvline(beta, color="grey", linestyle="--", linewidth=0.8)
        ax.annotate(name, (beta, 1.0), xycoords=("data", "axes fraction"), ha="right", va="top", fontsize="small")
    ax.set_title(title, fontsize="medium")
    ax.set_xlabel("β")
    ax.set_ylabel("positions")
    ax.legend(fontsize="small")
    return ax


def automaton_edges(transitions: torch.Tensor, letters: Sequence[int]) -> list[tuple[int, int, int]]:
    """The arrows of a transition table (Q, L) for the chosen letters: (state, letter, next state), -1s left out."""
    return [
        (state, letter, int(transitions[state, letter]))
        for letter in letters
        for state in range(transitions.shape[0])
        if int(transitions[state, letter]) >= 0
    ]


def plot_automaton(
    transitions: torch.Tensor,
    letters: Mapping[int, str],
    state_names: Sequence[str],
    title: str,
    ax=None,
):
    """An automaton as a graph: states on a circle, one arrow colour per letter of ``letters`` ({letter: name}).

    Draws only the chosen letters (a group's generators keep a Cayley graph readable); unknown moves (-1) are
    not drawn.
    """
    import math

    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    count = transitions.shape[0]
    angles = torch.arange(count, dtype=torch.float64) * 2 * math.pi / count + math.pi / 2
    points = torch.stack([angles.cos(), angles.sin()], dim=1)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (letter, name) in enumerate(letters.items()):
        colour = colours[index % len(colours)]
        ax.plot([], [], color=colour, label=name)  # one legend entry per letter
        for state, _, target in automaton_edges(transitions, [letter]):
            bend = 0.15 * (1 + index)
            ax.annotate(
                "",
                xy=points[target].tolist(),
                xytext=points[state].tolist(),
                arrowprops={"arrowstyle": "-|>", "color": colour, "connectionstyle": f"arc3,rad={bend}"},
            )
    ax.scatter(points[:, 0], points[:, 1], s=500, color="white", edgecolors="black", zorder=3)
    for point, name in zip(points.tolist(), state_names):
        ax.annotate(name, point, ha="center", va="center", fontsize="x-small", zorder=4)
    ax.set_aspect("equal")
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.4, 1.4)
    ax.axis("off")
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(letters))
    return ax


def principal_plane(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean (d,) and the two leading principal directions (d, 2) of points (N, d), d >= 2."""
    points = points.double()
    mean = points.mean(dim=0)
    _, _, right = torch.linalg.svd(points - mean, full_matrices=False)
    return mean, right[:2].T


def token_steps(
    states: torch.Tensor, words: torch.Tensor, token: int, plane: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where reading ``token`` moves the states, in a plane: (before (K, 2), after (K, 2)).

    ``states`` (B, T, d) is the state after each letter of ``words`` (B, T); a step is a position t >= 1 that
    reads ``token``, from the state after t - 1 to the state after t; ``plane`` = (mean, basis) from
    ``principal_plane``.
    """
    mean, basis = plane
    reads = words[:, 1:] == token
    before, after = states[:, :-1][reads].double(), states[:, 1:][reads].double()
    return (before - mean) @ basis, (after - mean) @ basis


def plot_token_action(
    eigenvalues: torch.Tensor,
    cloud: torch.Tensor,
    before: torch.Tensor,
    after: torch.Tensor,
    name: str,
    axes=None,
    arrows: int = 60,
):
    """Left: a token's transition eigenvalues; right: the state cloud (N, 2) with ``arrows`` of its steps."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    spectrum, plane = axes
    plot_spectra({name: eigenvalues}, f"eigenvalues of A({name})", ax=spectrum)
    plane.scatter(cloud[:, 0], cloud[:, 1], s=6, color="lightgrey", label="all states")
    plane.scatter(after[:, 0], after[:, 1], s=12, color="C1", label=f"after reading {name}", zorder=3)
    for start, end in zip(before[:arrows].tolist(), after[:arrows].tolist()):
        plane.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "C0", "alpha": 0.4})
    plane.set_title(f"steps that read {name}, in the states' principal plane", fontsize="medium")
    plane.set_xlabel("principal direction 1")
    plane.set_ylabel("principal direction 2")
    plane.legend(fontsize="small")
    return axes


def token_explorer(spectra: torch.Tensor, states: torch.Tensor, words: torch.Tensor, names: Sequence[str]):
    """An ipywidgets explorer: pick a token -> its transition's eigenvalues and its steps on the state cloud.

    ``spectra`` (G, ...): the eigenvalues of each token's transition (``inspection.eigenvalues`` of its map);
    ``states`` (B, T, d) after each letter of ``words`` (B, T), tokens 0 … G - 1 named by ``names``. The
    widget's ``result`` holds (eigenvalues, before, after) for the current token, so it can be tested headless.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    flat = states.flatten(0, 1)
    plane = principal_plane(flat)
    shown = flat[:: max(1, len(flat) // 1000)]  # a thousand grey points draw the cloud; more only slow each redraw
    cloud = (shown.double() - plane[0]) @ plane[1]

    def show(token: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        before, after = token_steps(states, words, token, plane)
        plot_token_action(spectra[token], cloud, before, after, names[token])
        plt.show()
        return spectra[token], before, after

    options = [(name, token) for token, name in enumerate(names)]
    return widgets.interactive(show, token=widgets.Dropdown(options=options, value=0, description="token"))


def plot_bits_per_byte(results: Sequence, ax=None, title: str | None = None, unigram: float | None = None):
    """Validation bits per byte against the training step (Lesson 11): one colour per model, a line per seed.

    ``results``: ``language.LMRun`` or ``language.LMResult`` objects (anything with a ``config`` and a
    ``history`` of evaluations with ``step`` and ``validation_bits``, or a ``result`` holding one);
    ``unigram``: the byte-frequency baseline, drawn as a horizontal line when given.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    colours: dict[str, str] = {}
    for run in results:
        result = getattr(run, "result", run)
        label = result.config.label
        first = label not in colours
        colours.setdefault(label, f"C{len(colours)}")
        ax.plot(
            [e.step for e in result.history],
            [e.validation_bits for e in result.history],
            color=colours[label],
            marker=".",
            alpha=0.8,
            label=label if first else None,
        )
    if unigram is not None:
        ax.axhline(unigram, color="black", linestyle="--", linewidth=1, label=f"unigram baseline ({unigram:.2f})")
    ax.set_title(title or "Validation bits per byte during training")
    ax.set_xlabel("training step")
    ax.set_ylabel("bits per byte (validation)")
    ax.legend(fontsize="small")
    return ax
