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
