# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # 02 · Selective state-space models (Mamba)
#
# Mamba is a diagonal linear recurrence whose gates depend on the input. This lesson builds its
# recurrence from the continuous-time model it comes from and shows the consequence the rest of the
# course is about. By the end you will be able to say:
#
# > *Mamba's gates are $\exp(-\Delta_t e^{w})$, so every eigenvalue of its transition lies in
# > $(0, 1]$; the paper's remap $2a - 1$ stretches them to $(-1, 1]$. In the maths and in PyTorch that
# > is one line, with the same parameters and the same scan; Mamba's fast CUDA kernels compute the
# > gate inside the kernel, so there the forward and the backward kernel had to change too.*
#
# **Plan.** 1 · from a continuous SSM to gates; 2 · selectivity: Δ, B and C depend on the input;
# 3 · the eigenvalues and the remap; 4 · the selective scan; 5 · the Mamba block and its Δ
# initialisation; 6 · what the remap buys: parity by hand.

# %% [markdown] tags=["practice"]
# # Practice · Lesson 02: selective state-space models
#
# Two exercises on Mamba's selective scan: its gates and its recurrence. Shapes follow Mamba's
# code: `u` and `delta` are `(batch, T, E)` (E channels), `A_log` is `(E, N)` (N states per channel),
# `B` and `C` are `(batch, T, N)`. Replace `raise NotImplementedError()` with your code and run the
# `check(...)` cell below it; call `check(..., hint=1)` for a hint.
# The maths each exercise needs is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the experiments and figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 35, "practice": 25} needs=["01"]
# ## Talking points
#
# - The sentence to leave with: *Mamba's gates are $\exp(-\Delta_t e^{w})$, so its eigenvalues lie in
#   $(0, 1]$; the remap $2a - 1$ stretches them to $(-1, 1]$: one line of maths, no new parameters.*
#   Expect "so the change is free?": in PyTorch, yes up to one multiply-add per gate; a fused kernel
#   that computes the gate inside (Mamba's CUDA scan) must be changed in its forward and backward pass,
#   which the authors did (the paper's appendix, Fig. 12). K1 and K3 show what a fast kernel needs.
# - Section 1: whatever the step, the eigenvalues stay in $(0, 1]$: `[0.9544, 0.9989]` at Δ = 0.01,
#   `[5.269e-21, 0.3225]` at Δ = 10.0. A small Δ remembers; a large Δ forgets and takes the new input.
# - Sections 2–3: softplus keeps Δ > 0, so the gate never leaves $(0, 1)$; the dashed curve is the
#   remap. The histogram uses `block.gates(x)`, the gates the block's forward pass applies: both
#   ranges crowd near 1 at initialisation (`[0.344, 0.999]` and `[-0.312, 0.998]`), so negative
#   gates have to be learned (Lesson 04). Pause for questions on the shape `(batch, T, E, N)` before
#   exercise 1.
# - Section 4 times forward + backward of both scans with both gate ranges, five times each, the two
#   ranges back to back (a few seconds on a laptop CPU), and prints the ratio's median and range over
#   the five repeats. On the 2-core machine that builds the course single ratios ranged from 0.6 to 2.4
#   and the median moved between reruns (committed notebooks printed 1.22 and 0.89, a rerun 1.34 and
#   0.72): do not read a cost into it. What is exact: the remap adds one multiply-add per gate forward
#   and one multiplication by 2 backward; the scan is unchanged. Which of the two scans is faster depends
#   on the machine (on a CPU the loop can win at this size).
# - Section 5: the block has 9920 parameters with and without the remap, and it is causal.
# - Section 6 bridges to Lesson 03: one hand-set channel follows the parity at `100.0%` of 2000 steps
#   with the remap (deviation `9.5e-11`), at `50.6%` with Mamba's own gates.
#
# ## Common mistakes
#
# - **`02.selective_gates`**: `exp(-Δ·A_log)`, forgetting that `A_log` stores the logarithm of the
#   decay rate, fails "matches exp(-Δ·exp(A_log))", and "gates lie in [0, 1]" reports gates far above
#   1. Ask what $A$ is in terms of `A_log`.
# - **`02.selective_gates`**: `-g` instead of `2g - 1` for `negative=True` fails "negative=True gives
#   2·exp(-Δ·exp(A_log)) - 1" and "Δ = 0 keeps the state (gate 1)" (`yours -1.000000, expected
#   1.000000`): ask which gate a step of length zero must give, in both ranges. Converting to float64
#   fails "keeps float32 as float32"; gates computed in numpy or under `torch.no_grad()` fail
#   "connected to autograd". Clamping the gates "for stability" fails "matches exp(-Δ·exp(A_log))"
#   with `the gates differ only near the ends of [0, 1]`.
# - **`02.selective_scan`**: an input term $B_t u_t$ without $\Delta_t$ turns "matches the float64
#   loop" and almost every other value row red; have them compare their drive with the formula.
# - **`02.selective_scan`**: reading $y_t$ out of $H_{t-1}$, before the update, fails "length 1" (and
#   "matches the float64 loop" already at `t=0`): with one step the output must see the input.
# - **`02.selective_scan`**: not passing `negative` on to `selective_gates` fails "negative=True
#   uses the [-1, 1] gates" (and the rows that use the remap: the gradient, bfloat16, gates exactly
#   −1); adding `u` when `D` is `None` fails only "D = None: no skip term", and leaving out `D * u`
#   (or adding `D` alone) fails "the skip term is D · u".
# - **`02.selective_scan`**: a state made with `torch.zeros(batch, E, N)` fails only "keeps bfloat16
#   as bfloat16"; states written into a preallocated tensor and read back fail "connected to autograd"
#   (`modified by an inplace operation`); a closed form dividing by `cumprod` of the gates is NaN in
#   "gates exactly 0, 1 and -1 (Δ = 0 or huge)".
# - **`02.selective_scan`**: returning `mamba.selective_scan_parallel(...)`, or gates computed inline,
#   fails "computes with your selective_gates" (`never called selective_gates`, or `computes its gates
#   another way`): the check swaps their `selective_gates` for a stand-in and `y` must follow it. A
#   scan of Lesson 01 on `(batch, T, E·N)` instead of the loop passes.

# %% tags=["parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": longer sequences for the timings
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
import statistics

import matplotlib.pyplot as plt
import torch.nn.functional as F

from lrnn_course import evidence, mamba
from lrnn_course.bench import best_seconds

TIMING_SHAPE = {"small": (4, 512, 64, 16), "full": (8, 4096, 256, 16)}[SIZE]  # batch, T, E, N

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · From a continuous-time model to gates
#
# A state-space model (S4, Mamba) starts from a linear ODE for each channel's state $h(\tau) \in \mathbb{R}^N$,
#
# $$\dot h(\tau) = A\,h(\tau) + B\,u(\tau), \qquad y(\tau) = C^\top h(\tau),$$
#
# with a diagonal $A = -\mathrm{Diag}(e^{w})$: every entry negative, so the state decays. Sampling it
# with a step $\Delta > 0$ and holding the input constant over the step (*zero-order hold*) gives the
# exact discrete recurrence
#
# $$h_t = e^{\Delta A} h_{t-1} + (\Delta A)^{-1}(e^{\Delta A} - I)\,\Delta B\,u_t \;\approx\; e^{\Delta A} h_{t-1} +
# \Delta B\,u_t .$$
#
# Mamba keeps the exact gate $e^{\Delta A}$ and the simpler input term $\Delta B u_t$ (the paper's
# Table 1). Since $A$ is diagonal, so is $e^{\Delta A}$: its entries
#
# $$a = \exp(-\Delta\, e^{w}) \in (0, 1]$$
#
# are the gates of Lesson 01 and the **eigenvalues** of the transition.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "-"}
# Below, the zero-order hold computed with a dense matrix exponential — no shortcut — for a random
# negative diagonal $A$.

# %% tags=["lesson", "nbval-check-output"]
generator = torch.Generator().manual_seed(SEED)
w = torch.randn(6, generator=generator, dtype=torch.float64)
A = -torch.diag(w.exp())
for step in (0.01, 0.1, 1.0, 10.0):
    transition = torch.linalg.matrix_exp(step * A)
    eigenvalues = torch.linalg.eigvals(transition).real
    same = torch.allclose(transition, torch.diag(torch.exp(-step * w.exp())), atol=1e-9, rtol=0)
    print(
        f"Δ = {step:>5}: eigenvalues of exp(ΔA) in [{eigenvalues.min().item():.4g}, {eigenvalues.max().item():.4g}], "
        f"equal to Diag(exp(-Δ e^w)) to 1e-9: {same}"
    )

# %% [markdown] tags=["lesson"]
# However large or small the step, the eigenvalues stay in $(0, 1]$: the exponential of a real number
# is positive. A small $\Delta$ gives gates near 1 (remember for a long time), a large $\Delta$ gates
# near 0 (forget and take the new input).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · Selectivity
#
# S4 fixes $\Delta$, $B$ and $C$. Mamba computes them from the input at every step — this is what
# *selective* means:
#
# $$\Delta_t = \mathrm{softplus}(W_\Delta x_t + b_\Delta), \qquad B_t = W_B x_t, \qquad C_t = W_C x_t .$$
#
# Each of the $E$ channels has its own $\Delta_t$ and its own row of $N$ decay rates $e^{w}$
# (`A_log` in code), so the gates form a `(batch, T, E, N)` tensor.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "-"}
# The plot shows the gate as a function of the pre-activation of $\Delta$ for three decay rates:
# softplus keeps $\Delta > 0$, so the gate sweeps $(0, 1)$ and never leaves it.

# %% tags=["lesson"]
pre_activation = torch.linspace(-8, 8, 400, dtype=torch.float64)
fig, ax = plt.subplots(figsize=(7, 3.5))
for rate in (1, 4, 16):
    ax.plot(pre_activation, torch.exp(-F.softplus(pre_activation) * rate), label=f"$e^{{w}}$ = {rate} (Mamba)")
ax.plot(
    pre_activation,
    2 * torch.exp(-F.softplus(pre_activation) * 4) - 1,
    linestyle="--",
    label="$e^{w}$ = 4, remapped $2a - 1$",
)
ax.axhline(0, color="black", linewidth=0.8)
ax.set_title("Mamba's gate $a = \\exp(-\\mathrm{softplus}(z)\\,e^{w})$ against the pre-activation $z$")
ax.set_xlabel("pre-activation $z$ of the step size $\\Delta$")
ax.set_ylabel("gate $a$ (an eigenvalue)")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · The eigenvalues, and the remap
#
# Every gate is an eigenvalue in $(0, 1]$ — so by Lesson 03's Theorem 1, Mamba as published cannot
# recognise parity at arbitrary lengths in finite precision (Lesson 04 shows the failure beyond the
# training lengths in practice). The paper's fix maps each gate to
#
# $$a' = 2a - 1 \in (-1, 1] .$$
#
# The largest gate stays 1 (a perfect memory is still possible), the range doubles to reach $-1$, and
# $|a'| \le 1$ keeps the recurrence stable. Nothing else in the model changes, and in PyTorch the
# change is one line, `2 * gates - 1`. A fast GPU kernel is another matter: Mamba's CUDA selective scan
# computes the gates inside the kernel, so the authors changed its forward and its backward kernel (the
# paper's appendix, Fig. 12). The kernels track of this course shows what such a kernel needs: K1's
# diagonal scan takes no logarithm of the gates, and K3 runs DeltaNet with $\beta \in [0, 2]$.

# %% [markdown]
# ### Exercise 1 · The gates
#
# Write `selective_gates(delta, A_log, negative=False)`: the gates $\exp(-\Delta_t\, e^{w})$ for every
# step, channel and state, shape `(batch, T, E, N)`, and $2\exp(-\Delta_t\, e^{w}) - 1$ when
# `negative=True`. Broadcasting does the work: `delta` needs one more axis at the end.

# %%
#| exercise: 02.selective_gates

# %% tags=["nbval-check-output"]
check("02.selective_gates", selective_gates)

# %% [markdown] tags=["lesson"]
# The eigenvalues of a Mamba block at initialisation, on random input, with and without the remap.
# `block.gates(x)` returns the gates that the block's forward pass applies to `x` — after the
# projection, the convolution, SiLU and $\Delta$ — so the histogram shows what the model computes.
# Both blocks start from the same seed: their weights are equal, and only the remap differs.

# %% tags=["lesson"]
x = torch.randn(8, 64, 16, generator=torch.Generator().manual_seed(SEED))
fig, ax = plt.subplots(figsize=(7, 3.5))
for negative, colour in ((False, "tab:blue"), (True, "tab:red")):
    torch.manual_seed(SEED)
    block = mamba.MambaBlock(16, d_state=8, negative=negative)
    with torch.no_grad():
        gates = block.gates(x).flatten()
    ax.hist(
        gates.numpy(),
        bins=80,
        range=(-1, 1),
        color=colour,
        alpha=0.6,
        label=f"negative={negative}: range [{gates.min().item():.3f}, {gates.max().item():.3f}]",
    )
ax.set_title("Gates of a freshly initialised Mamba block (8 x 64 tokens, 32 channels, 8 states)")
ax.set_xlabel("gate value (an eigenvalue of $A(x_t)$)")
ax.set_ylabel("count")
ax.legend()
plt.show()

# %% [markdown] tags=["lesson"]
# Both distributions crowd near 1: Mamba initialises the bias of $\Delta$ so that $\Delta$ starts
# between about $10^{-3}$ and $10^{-1}$ (the input adds a small term), so most gates start as long
# memories, with the remap too ($2 \cdot 0.99 - 1 = 0.98$). To reach $-1$ a trained model must push
# $\Delta\, e^{w}$ up — a gate near 0 before the remap. Training does that when the task rewards it
# (Lesson 04).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · The selective scan
#
# Per channel $e$ the state $H_t[e] \in \mathbb{R}^N$ follows the diagonal recurrence of Lesson 01,
# and the channel's output reads it with $C_t$ and adds a skip term:
#
# $$H_t[e] = a_t[e] \odot H_{t-1}[e] + \Delta_t[e]\, B_t\, u_t[e], \qquad
# y_t[e] = \langle H_t[e], C_t \rangle + D[e]\, u_t[e], \qquad H_0 = 0 .$$

# %% [markdown]
# ### Exercise 2 · The selective scan, one step at a time
#
# Write `selective_scan(u, delta, A_log, B, C, D=None, negative=False)` as a loop over time, using
# your `selective_gates`. It is the reference that the parallel version, `mamba.selective_scan_parallel`,
# must equal. The check swaps your `selective_gates` for a stand-in and expects `y` to follow it.

# %%
#| exercise: 02.selective_scan

# %% tags=["nbval-check-output"]
check("02.selective_scan", selective_scan)

# %% [markdown] tags=["lesson"]
# Each of the $E \cdot N$ recurrences is an independent diagonal scan, so the whole selective scan is
# one call of a parallel scan from Lesson 01 on a `(batch, T, E·N)` tensor (on a GPU: the Triton
# kernel of the kernels track). `mamba.selective_scan_parallel` does exactly that; it agrees with
# your loop to float64 round-off, for both gate ranges. Timed below is what training pays per
# step — forward and backward — for both versions and both gate ranges: five repeats, each timing
# one call with $[0, 1]$ gates and one with $[-1, 1]$ back to back, and the ratio of the two.

# %% tags=["lesson", "nbval-check-output"]
batch, steps, channels, states = TIMING_SHAPE
g = torch.Generator().manual_seed(SEED)
inputs = (
    torch.randn(batch, steps, channels, generator=g),
    F.softplus(torch.randn(batch, steps, channels, generator=g)),
    torch.randn(channels, states, generator=g).clamp(-2, 2),
    torch.randn(batch, steps, states, generator=g),
    torch.randn(batch, steps, states, generator=g),
    torch.randn(channels, generator=g),
)
as_float64 = [x.double() for x in inputs]
for negative in (False, True):
    error = (
        (mamba.selective_scan_parallel(*as_float64, negative=negative) - selective_scan(*as_float64, negative=negative))
        .abs()
        .max()
        .item()
    )
    print(f"negative={negative}: largest difference, parallel vs loop, float64: {error:.1e}")

# %% tags=["lesson"]
inputs = [x.to(device).requires_grad_() for x in inputs]


def forward_and_backward(fn, negative):
    fn(*inputs, negative=negative).square().mean().backward()


REPEATS = 5
print(
    f"forward + backward, shape (batch, T, E, N) = {TIMING_SHAPE} on {device.type}, {REPEATS} repeats: "
    "median [min, max]"
)
for name, fn in (("loop", selective_scan), ("parallel", mamba.selective_scan_parallel)):
    seconds = {False: [], True: []}
    for repeat in range(REPEATS):
        # The two ranges back to back, in alternating order: a busy moment of a shared machine then
        # slows both calls of a repeat rather than always the same range.
        for negative in (False, True) if repeat % 2 == 0 else (True, False):
            seconds[negative].append(
                best_seconds(lambda: forward_and_backward(fn, negative), repeats=1, warmup=int(repeat == 0))
            )
    ratios = [with_remap / without for with_remap, without in zip(seconds[True], seconds[False])]
    print(
        f"{name:>8}: {1e3 * statistics.median(seconds[False]):7.1f} ms with [0, 1] gates, "
        f"{1e3 * statistics.median(seconds[True]):7.1f} ms with [-1, 1]; ratio {evidence.spread(ratios)}"
    )

# %% [markdown] tags=["lesson"]
# Read the ratios with their range: where the range printed above contains 1, this measurement cannot
# tell the two gate ranges apart, and on a shared CPU the range moves from one run of the cell to the
# next (run it again). What does not depend on the machine is the work: the remap adds one
# multiply-add per gate to the forward pass and one multiplication by 2 to the backward pass
# ($\mathrm d(2a - 1)/\mathrm da = 2$), beside a scan that is the same. The remap also keeps the scan
# *linear*, so every parallel algorithm of Lesson 01 still applies — except the log-space trick, which
# needs positive gates. That is why the paper changes Mamba and DeltaNet, whose kernels never take a
# logarithm of the gates, and leaves Mamba-2, GLA and mLSTM for later.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 5 · The Mamba block
#
# A Mamba layer wraps the selective scan: project the input to $2E$ channels (one half $u$ for the
# scan, one half $z$ for a gate), mix neighbouring tokens with a short causal depthwise convolution
# followed by SiLU, compute $\Delta_t, B_t, C_t$ from the result, scan, multiply by $\mathrm{SiLU}(z)$,
# project back.
# `mamba.MambaBlock(d_model, negative=...)` builds one; `negative` is the only difference between the
# two versions, and the parameter count is the same.

# %% tags=["lesson", "nbval-check-output"]
for negative in (False, True):
    torch.manual_seed(SEED)
    block = mamba.MambaBlock(32, d_state=16, negative=negative)
    x = torch.randn(2, 50, 32)
    changed = x.clone()
    changed[:, 30:] = torch.randn(2, 20, 32)
    causal = torch.equal(block(changed)[:, :30], block(x)[:, :30])
    print(
        f"negative={negative}: {sum(p.numel() for p in block.parameters())} parameters, "
        f"output shape {tuple(block(x).shape)}, outputs before step 30 unaffected by later input: {causal}"
    )

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 6 · What the remap buys: parity by hand
#
# Lesson 03 proves that parity needs an eigenvalue outside $[0, \infty)$, and that a gate of $-1$ solves it. With the
# remap, a single selective
# channel can produce it. Take `A_log` = 0 (so $e^{w} = 1$) and $B_t = C_t = 1$. On the bit $x_t = 1$
# choose a large step $\Delta_t = 30$ (gate $2e^{-30} - 1 \approx -1$) and the input $u_t = 1/30$ (so
# $\Delta_t B_t u_t = 1$); on $x_t = 0$ choose $\Delta_t = 0$ (gate exactly 1, no input). That is the
# parity machine $h \mapsto 1 - h$, $h \mapsto h$.
# The same settings with Mamba's own gates give a gate $e^{-30} \approx 0$ on each 1: the state is
# set to 1 instead of flipped.

# %% tags=["lesson", "nbval-check-output"]
bits = torch.randint(2, (1, 2000), generator=torch.Generator().manual_seed(SEED)).double()
step_size = (30 * bits)[..., None]
drive_input = (bits / 30)[..., None]
ones = torch.ones(1, bits.shape[1], 1, dtype=torch.float64)
parity = bits.cumsum(dim=1) % 2
for negative in (False, True):
    # A_log = 0: the decay rate e^w is 1, so the gate is exp(-Δ) (2 exp(-Δ) - 1 with the remap)
    y = selective_scan(drive_input, step_size, torch.zeros(1, 1, dtype=torch.float64), ones, ones, negative=negative)[
        ..., 0
    ]
    accuracy = ((y > 0.5).double() == parity).double().mean().item()
    print(
        f"negative={negative}: thresholded output matches the running parity at {accuracy:.1%} of 2000 steps, "
        f"largest deviation from it {(y - parity).abs().max().item():.1e}"
    )

# %% [markdown] tags=["lesson"]
# With $[0, 1]$ gates the first 1 sets the state to 1 and nothing ever lowers it again, so the output
# matches the parity only about half the time; with the remap it follows the parity exactly, up to
# the $2e^{-30}$ by which the gate misses $-1$, accumulated over 2000 steps.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Mamba's gates $\exp(-\Delta_t e^{w})$ come from discretising a stable diagonal ODE; every
#   eigenvalue of its transition lies in $(0, 1]$, whatever the input.
# - The paper's change, $2a - 1$, gives eigenvalues in $(-1, 1]$: one line of maths, the same
#   parameters and the same scan, plus one multiply-add per gate (the timing above prints the ratio's
#   spread over 5 repeats). A fused kernel that computes the gates (Mamba's CUDA scan) must make the
#   change inside, forward and backward.
# - The selective scan is $E \cdot N$ independent diagonal recurrences: a loop for reference and a
#   parallel scan (the form GPU kernels take), equal to round-off.
# - With the remap, one channel can implement the parity machine; without it, it cannot.
#
# **Next:** Lesson 03 proves the negative half — why positive eigenvalues fail at parity in finite
# precision, at any depth.
