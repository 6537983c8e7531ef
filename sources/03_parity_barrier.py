# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # 03 · The parity barrier (Theorem 1)
#
# Parity asks whether a bit string holds an odd number of ones. A one-line program solves it, yet
# Mamba, GLA and DeltaNet — as published — cannot represent it at every length in finite precision,
# and in the paper's experiments Mamba and DeltaNet did not learn it beyond the training lengths.
# This lesson shows why, with numbers rather than words. By the end you will be able to say:
#
# > *In finite precision, a diagonal or triangular recurrence whose eigenvalues lie in $[0, 1]$
# > freezes on the input $1^k$ in any rounding model, and every such recurrence does in the theorem's;
# > so no decoder can read the alternating parity off it, at any depth. One eigenvalue of $-1$ is
# > enough to solve parity exactly (the paper's §4.1 construction).*
#
# This is Theorem 1 of Grazzi et al. (ICLR 2025), which generalises Theorem 2 of Sarrof et al. (2024).
#
# **Plan.** 1 · the statement; 2 · the state freezes, measured in three dtypes; 3 · why no decoder
# can help; 4 · why depth does not help, and where the rounding model matters; 5 · a negative
# eigenvalue and the one-neuron parity machine; 6 · an explorer.

# %% [markdown] tags=["practice"]
# # Practice · Lesson 03: the parity barrier
#
# Two exercises on the scalar recurrence $h_k = a\,h_{k-1} + b$ read in finite precision. Replace
# `raise NotImplementedError()` with your code and run the `check(...)` cell below it; call
# `check(..., hint=1)` for a hint.
# The maths each exercise needs is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the experiments and figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 35, "practice": 25} needs=["01"]
# ## Talking points
#
# - The sentence to leave with: *in finite precision, eigenvalues in $[0, 1]$ make the state freeze on
#   $1^k$, so no decoder and no depth can follow the alternating parity; one eigenvalue $-1$ solves it.*
# - Section 1: read the theorem slowly; "finite precision" and "at every length" are the two
#   conditions learners push back on. Pause for questions here.
# - Section 2: the freeze table: float16 after `53` steps at `9.968750`, bfloat16 `33` at `9.750000`,
#   float32 `138` at `9.999993`, float64 `328`. Even $a = 1$ freezes: "the latest freezes after 2048
#   steps", where float16's spacing becomes 2.
# - Section 4's census: triangular matrices with eigenvalues in $[0, 1]$ always freeze; non-triangular
#   ones end in period 2 in `38` (per operation) and `51` (per step) of `902` cases, and never with exact
#   states rounded at read-out. Theorem 1 holds in its rounding model; say which one a claim uses.
# - Sections 3–4: `53` distinct states, and the best possible decoder scores `0.981 on k <= 53, 0.500
#   on k > 53`; its one early miss is $k = 53$, whose state is already the frozen one. The second
#   layer repeats from step 191 with period 1, as the first does from step 53: depth only delays
#   the freeze.
# - Section 5: the negative gates printed end with period 2 (gate −0.99 from step 338), but between two values
#   only `4.9e-04` (gate −0.5) to `2.1e-02` (gate −0.99) apart in float16, far less in float32; only
#   −1 swings the full way. The one-neuron machine gets `40000 of 40000` states right in float16.
#   The explorer of section 6 suits live questions: move the gate below 0 and the frozen line
#   splits in two.
# - No slow cell: the 201-gate sweep takes well under a second.
#
# ## Common mistakes
#
# - **`03.freeze_step`**: iterating in Python floats (float64) whatever the dtype: the float16,
#   bfloat16 and float32 rows all report `yours (step 328, value 9.999999999999995)`. Ask where their
#   loop rounds to the dtype; the state must live in a 0-d tensor of `dtype`.
# - **`03.freeze_step`**: off by one, returning the step at which the repeat is noticed: the report
#   explains "drive 0: frozen from the start (step 0)" (`yours (step 1, value 0.0)`), and "gate 0: frozen
#   after one step" shows `yours (step 2, value 3.0), expected (step 1, value 3.0)`. Work it by hand:
#   $h_1 = 3$, $h_2 = 3$, so $k = 1$.
# - **`03.freeze_step`**: rounding the gate to the dtype first (`torch.tensor(gate, dtype=dtype)`)
#   freezes one step early in float16 and bfloat16: `yours (step 52, value 9.953125)`. The exercise
#   text asks for Python-float gates; `check(..., hint=3)` says why.
# - **`03.freeze_step`**: computing the step in float32 or float64 and rounding once
#   (`torch.tensor(gate * float(state) + drive, dtype=dtype)`) can pass the gate-0.9 rows, but fails "each
#   operation rounds: gate 0.3, drive 1 (float16 step 6, bfloat16 step 4)" (`yours (step 7, value
#   1.4287109375)`): PyTorch rounds the product to the dtype before adding the drive.
# - **`03.freeze_step`**: returning tensors fails every row that expects a pair (`return plain
#   numbers`). A `while True` loop that ignores `max_steps` never ends on "gate -1 never freezes:
#   None": if the check cell hangs, interrupt the kernel and point at `max_steps`. `for k in
#   range(max_steps)` stops one comparison short and fails "max_steps = k finds step k, max_steps = k
#   - 1 does not": $k$ runs up to `max_steps` included. A closed form for $k$ (from the gap to the
#   limit) lands a step late in float32 (`yours (step 139, ...)`): only the rounded iteration decides.
# - **`03.parity_machine`**: gate $+1$ for the bit 1 counts instead of flipping: "all ones: 1 0 1 0 ..."
#   shows `yours 2.000000, expected 0.000000` at `t=1`; ask which affine map sends $h$ to $1 - h$.
#   Gates built from `1 - bits` swap the symbols: "all zeros: the state stays 0" goes red.
# - **`03.parity_machine`**: `.float()` on the bits fails "keeps bfloat16" (and the float16 row) with a
#   dtype message; `bits.mul_(...)` fails "does not modify its input".
# - **`03.parity_machine`**: a running count, `bits.cumsum(1) % 2`, fails "exact at length
#   10 000 in float16" (`first mismatch at [b=0, t=4091]`): above 2048 float16 has no odd whole numbers,
#   while the machine's states stay exactly 0 and 1. Ask which of the two is the LRNN of the lesson.
#   A count in integers, a product of the gates or a loop of their own fails "runs a scan of Lesson 01
#   on the gates and inputs" (`never ran a scan of Lesson 01`): the check swaps the scan for one that
#   starts from $h_0 = 1$ and the states must follow it. Gates `-bits` ($a(0) = 0$) fail "a zero bit
#   keeps the state".

# %% tags=["parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": longer sweeps
DEVICE = "auto"  # "auto", "cpu" or "cuda"
SEED = 0

# %% slideshow={"slide_type": "skip"}
import torch

import lrnn_course
from lrnn_course import check

device = lrnn_course.device(DEVICE)
torch.manual_seed(SEED)
print(f"lrnn_course {lrnn_course.__version__} on {device.type}")

# %% tags=["lesson"] slideshow={"slide_type": "skip"}
import matplotlib.pyplot as plt

from lrnn_course import precision, viz

GRID_POINTS = {"small": 201, "full": 2001}[SIZE]

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · The statement
#
# Take any LRNN layer $H_t = A(x_t) H_{t-1} + B(x_t)$ and feed it the word $1^k$ (the symbol 1,
# $k$ times). Every step applies the same map, so
#
# $$H_k = \sum_{i=0}^{k-1} A(1)^i B(1) + A(1)^k H_0 .$$
#
# For a diagonal $A(1)$ and $H_0 = 0$ each coordinate is a geometric sum
# $h_k = b\,(1 + a + \dots + a^{k-1})$.
# The parity of $1^k$ is $k \bmod 2$: the right output alternates $1, 0, 1, 0, \dots$ forever.
#
# **Theorem 1** (Grazzi et al. 2025). *A finite-precision LRNN with finitely many layers can
# recognise parity at every length only if, in some layer and for some input $x$, $A(x)$ has an
# eigenvalue that is not a non-negative real number.*
#
# "Finite precision" means a fixed finite set of numbers, the ones a dtype like `float16` holds, that
# does not grow with the length. *Where* the rounding happens is part of the statement, so this course
# names it. The paper's proofs (App. B) evaluate products and sums exactly and then cast, a
# simplification they take from Merrill et al. (2024); their argument reasons on the exact states —
# for $1^k$ the sums of terms $\binom{k}{m}\lambda^{k-m}$ that the Jordan form of $A(1)$ gives — and
# rounds those, which is the model this course calls `at_read_out` (exact states, rounded where
# they are read). Section 4 shows why the distinction matters: with the cast fed back at every step,
# the argument no longer covers every matrix. The demonstrations below round **every
# operation** instead, as PyTorch does in a `float16` loop (`precision.iterate`): each product and each
# sum, fed back into the next step. For a diagonal gate the two models agree, for the reason section 2
# gives; section 4 shows where they part. Mamba's gates $\exp(-\Delta\,e^{w})$, GLA's sigmoid gates and
# DeltaNet's $I - \beta k k^\top$ with $\beta \in [0, 1]$ (Lesson 06) all have eigenvalues in $[0, 1]$:
# the theorem applies to all three.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · The state freezes
#
# With $0 \le a < 1$ the geometric sum climbs monotonically towards its limit $b / (1 - a)$ and its
# steps shrink like $a^k$. In exact arithmetic it never arrives. In a dtype, the step eventually
# becomes smaller than half the gap between two representable numbers next to the state: the
# rounded sum $a h + b$ is then $h$ itself, and since each step is the same deterministic map, the
# state stays there forever. We say it **freezes**. Rounding to the nearest number is monotone
# ($x \le y$ gives $\mathrm{round}(x) \le \mathrm{round}(y)$), so the rounded step $h \mapsto
# \mathrm{round}(\mathrm{round}(a h) + b)$ is a monotone map, as the exact one is: whether the rounding
# is fed back at every operation or applied once where the state is read, the state freezes.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "-"}
# The plot iterates $h \leftarrow 0.9\,h + 1$ (limit 10) in three dtypes, exactly as PyTorch rounds
# `0.9 * h + 1.0` for a tensor `h` of that dtype. On the left the curves look alike until bfloat16
# stops at 9.75; the right panel shows the distance to the limit on a log scale, where each dtype stops at its own
# plateau.

# %% tags=["lesson"]
FREEZE_STEPS = 160
fig, (ax, gap_ax) = plt.subplots(1, 2, figsize=(12, 4))
viz.plot_precision_trajectories(0.9, 1.0, steps=FREEZE_STEPS, ax=ax)
ax.set_title("$h_k = 0.9\\,h_{k-1} + 1$ on $1^k$ (dotted: the state freezes)")
for name in ("float16", "bfloat16", "float32"):
    states = precision.iterate(0.9, 1.0, FREEZE_STEPS, name).flatten().double()
    gap_ax.semilogy(range(1, FREEZE_STEPS + 1), 10 - states, marker=".", markersize=3, label=name)
gap_ax.set_title("Distance to the limit: each dtype stops at its own gap")
gap_ax.set_xlabel("steps $k$ (number of 1s read)")
gap_ax.set_ylabel("$10 - h_k$ (log scale)")
gap_ax.legend()
plt.show()

# %% [markdown]
# ### Exercise 1 · Find the freeze step
#
# Write `freeze_step(gate, drive, dtype)`: iterate $h_k = a\,h_{k-1} + b$ from $h_0 = 0$ with the
# state held in a tensor of `dtype`, and return `(k, h_k)` for the first $k$ with $h_{k+1} = h_k$,
# trying $k = 0, 1, \dots,$ `max_steps` (both ends included) — or `None` if none of them repeats.
# With gate 0.9 and drive 1 in float16 that is `(53, 9.96875)` for `max_steps=53` and `None` for
# `max_steps=52`. Return plain Python numbers (`int`, `float`), not tensors.
#
# Keep `gate` and `drive` as Python floats and compute `gate * state + drive` on a 0-d tensor `state`
# of `dtype`. PyTorch rounds each result to `dtype`; do not round the gate itself.

# %%
#| exercise: 03.freeze_step

# %% tags=["nbval-check-output"]
check("03.freeze_step", freeze_step)

# %% [markdown] tags=["lesson"]
# The freeze steps of $a = 0.9$, $b = 1$ in each dtype, beside the exact limit 10. The coarser the
# dtype, the sooner and the further from the limit the state stops: `bfloat16` keeps 8 significant
# bits, `float16` 11, `float32` 24. The exact frozen value depends on how each operation rounds: a
# gate rounded to `float16` first ($0.9 \to 0.89990234375$) stops at 9.953 instead.

# %% tags=["lesson", "nbval-check-output"]
for name, dtype in precision.DTYPES.items():
    step, value = freeze_step(0.9, 1.0, dtype)
    print(f"{name:>9}: frozen after {step:>3} steps at {value:.6f} (limit 10, gap {10 - value:.1e})")

# %% [markdown] tags=["lesson"]
# Not only $0.9$: **every** gate in $[0, 1]$ freezes. A sweep over a grid of gates in `float16`,
# with $b = 1$. Even $a = 1$, which counts $1, 2, 3, \dots$, freezes: at 2048, where `float16`'s
# spacing becomes 2 and adding 1 rounds back to the same number.

# %% tags=["lesson", "nbval-check-output"]
gate_grid = torch.linspace(0, 1, GRID_POINTS, dtype=torch.float64).tolist()
freezes = [freeze_step(gate, 1.0, torch.float16) for gate in gate_grid]
never = sum(result is None for result in freezes)
latest = max(result[0] for result in freezes if result is not None)
print(f"{len(gate_grid)} gates in [0, 1], float16: {never} never freeze; the latest freezes after {latest} steps")

# %% tags=["lesson"]
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.semilogy(gate_grid, [result[0] for result in freezes], marker=".", linestyle="none", label="float16, drive b = 1")
ax.set_title("Every gate in [0, 1] freezes: the step after which $h_k$ stops moving")
ax.set_xlabel("gate $a$")
ax.set_ylabel("freeze step $k$ (log scale)")
ax.legend()
plt.show()

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 3 · Why no decoder can help
#
# The layer's output is $\hat y_k = \mathrm{dec}(H_k, x_k)$ for an arbitrary function dec — an MLP,
# a lookup table, anything. Past the freeze step both arguments are constant ($H_k$ is frozen and
# $x_k = 1$), so $\hat y_k$ is constant too, while the parity keeps alternating. Whatever the
# decoder, it is wrong on every second length from then on: at most 50 % accuracy. The paper scores
# tasks by the **scaled accuracy** $(\text{acc} - \text{acc}_{\rm rand}) / (1 - \text{acc}_{\rm rand})$,
# with $\text{acc}_{\rm rand}$ the accuracy of guessing ($\tfrac12$ for parity): 0 is chance, 1 is
# perfect, and 50 % accuracy scores 0. Below, the *best possible* decoder — a lookup table from each frozen state to the
# majority
# parity seen with it — scored on lengths 1 to 4096 for $a = 0.9$ in float16.

# %% tags=["lesson", "nbval-check-output"]
states = precision.iterate(0.9, 1.0, 4096, "float16").flatten()
lengths = torch.arange(1, 4097)
parities = lengths % 2
table = {}
for state, parity in zip(states.tolist(), parities.tolist()):
    table.setdefault(state, []).append(parity)
best_guess = {state: round(sum(seen) / len(seen)) for state, seen in table.items()}
correct = torch.tensor([best_guess[s] == p for s, p in zip(states.tolist(), parities.tolist())])
print(f"distinct states on 1^k, k = 1..4096: {len(table)}")
print(
    f"best decoder: accuracy {correct[:53].float().mean().item():.3f} on k <= 53, "
    f"{correct[53:].float().mean().item():.3f} on k > 53"
)
frozen = table[states[52].item()]
print(
    f"the state at k = 53, {states[52].item():.5f}, is the frozen one: seen at {len(frozen)} lengths, "
    f"{sum(frozen)} of them odd; the table guesses {best_guess[states[52].item()]}"
)

# %% [markdown] tags=["lesson"]
# The one miss at $k \le 53$ is $k = 53$ itself: its state is already the frozen state, which every
# later length shares. Half of those lengths are odd and half even, so whatever the table answers
# for that state, it is wrong on half of them — here on $k = 53$ as well.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 4 · Why depth does not help
#
# Stack a second layer on the first: its input at step $k$ is the first layer's output. Past the
# first layer's freeze step that input is constant, so the second layer is again reading a constant
# word and freezes in turn — and so on, by induction, for any finite number of layers. Here is a
# second layer whose gate *and* input depend on the first layer's state (a sigmoid gate, as in GLA),
# all in float16.

# %% tags=["lesson", "nbval-check-output"]
first = precision.iterate(0.9, 1.0, 400, "float16").flatten()
second, h2 = [], torch.zeros((), dtype=torch.float16)
for h1 in first:
    gate = torch.sigmoid(0.7 * h1 - 3.0)  # in [0, 1], depends on the layer below
    h2 = gate * h2 + 0.25 * h1
    second.append(h2)
second = torch.stack(second)
layer1 = precision.eventual_period(first[:, None])
layer2 = precision.eventual_period(second[:, None])
print(f"layer 1 repeats from step {layer1[0] + 1} with period {layer1[1]}")
print(f"layer 2 repeats from step {layer2[0] + 1} with period {layer2[1]}")

# %% [markdown] tags=["lesson"]
# Both layers end with period 1: constant. Parity needs period 2.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ### Beyond diagonal gates: the rounding model decides
#
# A diagonal state is a set of independent scalar recurrences, and each freezes by the monotone
# argument of section 2. A *triangular* $A(1)$ (zeros below the diagonal) is almost as simple: its
# last coordinate is a scalar recurrence, and each coordinate above is one more, driven by coordinates
# that already repeat, so it freezes in turn. A full $2 \times 2$ matrix mixes its coordinates, and then
# the rounding model matters. In exact arithmetic the states converge whatever the matrix, and their
# rounded copies freeze: that is the paper's model, in which Theorem 1 covers every matrix with
# eigenvalues in $[0, 1]$. With rounding fed back at every step the rounded map need not be monotone
# any more, and its orbit through the finite set of states may end in any cycle.
#
# A census in `float16`: random $2 \times 2$ matrices whose eigenvalues are real and in $[0, 1]$, each
# with a random input term and start, iterated 3 000 times on $1^k$ in the three rounding models of
# `precision.iterate_linear`: `per_operation` (every product and sum rounded, PyTorch's), `per_step`
# (each step exact, the new state rounded once) and `at_read_out` (exact states, rounded only where
# they are read: the paper's). The table counts the period each orbit ends in (0: not settled within
# the last 64 steps).

# %% tags=["lesson", "nbval-check-output"]
census_generator = torch.Generator().manual_seed(SEED)
families = {
    "non-triangular": precision.real_spectrum_matrices(40_000, 0.0, 1.0, "float16", census_generator),
    "triangular": precision.real_spectrum_matrices(8_000, 0.0, 1.0, "float16", census_generator, triangular=True),
}
print(f"{'matrices':>15} {'count':>6} {'rounding':>14}  periods (period: how many)")
for family, matrices in families.items():
    for rounding in precision.ROUNDINGS:
        periods = precision.period_census(matrices, 3000, "float16", rounding, census_generator)
        print(f"{family:>15} {len(matrices):>6} {rounding:>14}  " + ", ".join(f"{p}: {n}" for p, n in periods.items()))

# %% [markdown] tags=["lesson"]
# Triangular matrices freeze in every model, as the argument says (a count under period 0 is an orbit
# still settling after 3 000 steps). Exact states rounded at read-out freeze too, for every matrix, as
# Theorem 1 says in its model. But with rounding fed back, about 4 to 6 % of the non-triangular
# matrices end in a 2-cycle (and a few more in cycles of length 4 or 6): a rounded state that
# alternates on $1^k$, from which a lookup decoder reads parity, although both eigenvalues lie in
# $[0, 1]$. The cycle
# is made by rounding: in exact arithmetic the same orbits converge to a point (the `at_read_out`
# rows). So Theorem 1, read exactly: in the paper's rounding model it
# covers every transition with eigenvalues in $[0, 1]$; in PyTorch's, the freeze is guaranteed for
# diagonal and triangular transitions, and for a full matrix only most of the time. A model that
# must count robustly cannot rely on such cycles: they depend on the dtype, the matrix and the start.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · A negative eigenvalue solves parity
#
# With $a = -1$ the geometric sum is $b\,(1 - 1 + 1 - \dots)$: it alternates between $b$ and 0 and
# never settles — exactly the signal parity needs. Section 4.1 of the paper turns this into a
# machine with one neuron: $h_t = a(x_t)\,h_{t-1} + b(x_t)$, $h_0 = 0$, with
#
# $$a(1) = -1,\; b(1) = 1 \quad(h \mapsto 1 - h), \qquad a(0) = 1,\; b(0) = 0 \quad(h \mapsto h).$$
#
# Every state is 0 or 1, so rounding never happens, in any dtype, at any length.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "-"}
# Gates strictly between $-1$ and 0 zig-zag towards their limit. In exact arithmetic the swing dies
# out. In `float16` the rounded state ends in a 2-cycle or at a fixed point, which is what Lemma 1 of
# the paper describes (the even and odd steps converge separately, possibly to the same value). The
# gates below end in 2-cycles, but the two values of each cycle lie close together — at most a few
# hundredths apart — and the gap shrinks as the precision grows. Only $a = -1$
# keeps a full-size swing between $b$ and 0.


# %% tags=["lesson", "nbval-check-output"]
def final_cycle(gate, dtype):
    """Where the rounded states on 1^k start repeating, and the values they then cycle through."""
    states = precision.iterate(gate, 1.0, 5000, dtype)
    start, period = precision.eventual_period(states)
    return start, states[start : start + period].flatten().tolist()


for gate in (-0.5, -0.9, -0.99, -1.0):
    start, cycle = final_cycle(gate, "float16")
    _, cycle32 = final_cycle(gate, "float32")
    print(
        f"gate {gate:+.2f}, float16: repeats from step {start + 1} with period {len(cycle)}, "
        f"values {' / '.join(f'{value:.5f}' for value in cycle)}; gap {max(cycle) - min(cycle):.1e} "
        f"(float32: {max(cycle32) - min(cycle32):.1e})"
    )

# %% [markdown]
# ### Exercise 2 · The parity machine
#
# Write `parity_machine(bits)`: for a `(B, T)` tensor of zeros and ones, return the states
# $h_1, \dots, h_T$ of the one-neuron machine $a(1) = -1,\ b(1) = 1,\ a(0) = 1,\ b(0) = 0$ (section
# 5), shape `(B, T)`, in the dtype of `bits`. Build the gates and inputs from the bits and
# run a scan from Lesson 01 (`from lrnn_course.scan import hillis_steele_scan`, which takes
# `(B, T, D)` tensors).

# %%
#| exercise: 03.parity_machine

# %% tags=["nbval-check-output"]
check("03.parity_machine", parity_machine)

# %% [markdown] tags=["lesson"]
# The machine on 4 sequences of 10 000 random bits, in float16: every state is exact.

# %% tags=["lesson", "nbval-check-output"]
generator = torch.Generator().manual_seed(SEED)
bits = torch.randint(2, (4, 10_000), generator=generator).to(torch.float16)
states = parity_machine(bits)
truth = bits.long().cumsum(dim=1) % 2
print(
    f"{int((states.long() == truth).sum())} of {truth.numel()} states equal the running parity "
    f"(distinct values: {sorted(set(states.flatten().tolist()))})"
)

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 6 · Explore
#
# Move the gate below 0 and watch the frozen line split into two; move it to exactly $-1$ and the
# two branches never meet. Switch the dtype to see the freeze step move.

# %% tags=["lesson", "widget"]
viz.precision_explorer()

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - On $1^k$, a gate in $[0, 1]$ makes the state monotone; rounded, it freezes (after 53 steps for
#   $a = 0.9$ in float16, 33 in bfloat16, 138 in float32), so every decoder's output is eventually
#   constant while parity alternates.
# - Depth does not help: a frozen layer feeds a constant word to the next one.
# - The rounding model is part of the theorem. In the paper's (exact states, rounded where read) every
#   transition with eigenvalues in $[0, 1]$ freezes; with PyTorch's per-operation rounding, diagonal and
#   triangular ones always do, while about 4 to 6 % of non-triangular $2 \times 2$ matrices end in a
#   rounding-made 2-cycle (the census above).
# - A gate of $-1$ alternates forever; the one-neuron machine $a(1) = -1$, $b(1) = 1$ computes parity
#   exactly at any length and in any dtype.
#
# **Next:** Lesson 04 changes the range of a trained model's gate — a sigmoid into a tanh — and
# measures parity beyond the training lengths, against what a model that ignores its input scores.
