# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # K4 · DeltaProduct and gating kernels, and where the time goes
#
# K3's kernel runs DeltaNet. Two extensions make it the kernel of the paper's stronger models:
# **DeltaProduct**, with $n_h$ generalized Householders per token (Lesson 07), and a scalar
# **gate** $\alpha_t \in [0, 1]$ (Gated DeltaNet), which can forget the state, exactly, when
# $\alpha_t = 0$. This lesson adds both without writing a new kernel for DeltaProduct, builds the
# gates' decay matrix inside the kernel without a single division, and measures where the kernel
# spends its time. By the end you will be able to say:
#
# > *DeltaProduct with $n_h$ Householders is the delta rule on a sequence $n_h$ times longer, read
# > out at every $n_h$-th step, so it costs $n_h$ times the work. The gates enter a chunk as
# > $\Gamma_{ti} = \alpha_{i+1} \cdots \alpha_t$, built by cumulative products: a quotient of
# > cumulative gates would turn a reset into $0/0$. Inside a chunk the serial part is the forward
# > substitution; the rest is matrix products.*
#
# **Plan.** 1 · DeltaProduct by interleaving; 2 · gates without division (exercise); 3 · resets in
# the gradient; 4 · where the time goes.

# %% [markdown] tags=["practice"]
# # Practice · K4: the chunk's gates in Triton
#
# One exercise: `chunk_gates`, the Triton helper that builds a chunk's decay matrix $\Gamma$ and
# cumulative gates $g$ from its gates $\alpha$. The check runs your helper inside the course's
# delta-rule kernel and compares the kernel's outputs with the float64 recurrence, resets included.
# Replace `raise NotImplementedError()` with your code and run the `check(...)` cell below it; call
# `check(..., hint=1)` for a hint.
# The maths each exercise needs is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the experiments and figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 35, "practice": 20} needs=["07", "K3"]
# ## Talking points
#
# - §1: DeltaProduct reuses K3's kernel by interleaving (Lesson 07's identity), e.g.
#   `n_h = 3, gated    : relative error 1.9e-07 (63 delta-rule steps for 21 tokens)`.
# - §2, pause here, it motivates the exercise: with a reset, division and log space both print `nan`
#   (`595 of 4096` entries wrong); with α = 0.1 division fails by underflow (`680 of 4096`) and log space
#   survives; column products are right in both cases (`0 of 4096`).
# - §3: a reset cuts the gradient exactly, `0 of 704 gradients before it are nonzero`, and all six gradients
#   match float64 autograd (relative errors `9.3e-08` to `2.9e-07`).
# - §4: in the split kernels `ops` runs, the serial path is only the state update (two products a chunk
#   forward, three backward), `20 %` of the multiply-adds and all of it on tensor cores; $T$ comes from
#   recursive doubling, in parallel. Whether the bytes the split adds cost more than the parallelism buys
#   takes a GPU (`bench_kernels.py`); no GPU has timed it yet. Measured here, cost grows about
#   linearly in $n_h$ (forward roughly 2× and 3× DeltaNet for $n_h$ = 2 and 3) and the gate costs little;
#   the exact ratios vary from run to run. The sentence to leave with: DeltaProduct needs no kernel of its
#   own, and gates enter a chunk as products of the gates in between, never as quotients.
# - Slow cells under the interpreter: §3's gradients and §4's timings (the notebook takes about a minute on
#   a laptop CPU); the profiler cell runs only on a GPU.
#
# ## Common mistakes
#
# - **`K4.chunk_gates`**: $\Gamma_{ti} = g_t / g_i$, a quotient of cumulative products, or the same in log
#   space (`exp` of differences of `cumsum(log(alpha))`): the rows that read Γ whole outrank the forward rows,
#   and “Γ read whole: Γ[t, i] = alpha[i+1] ⋯ alpha[t] below the diagonal” is red with a non-finite value.
#   With the gates clamped before the logarithm (`tl.maximum(alpha, 1e-6)`) every value is within the tolerance,
#   and “Γ and g exactly 0 after a reset (α = 0)” is red: Γ is tiny there, not 0. Point back to §2's table: what
#   is $g_t$ after a reset?
# - **`K4.chunk_gates`**: the own step included, $\Gamma_{ti} = \alpha_i \cdots \alpha_t$ (α on the
#   diagonal), or the product taken along rows (`axis=1`): “gates of exactly 1: Γ is all ones below the
#   diagonal” may stay green, “Γ read whole: Γ[t, i] = …” is red and names the entry, e.g. Γ[t=0, i=0].
#   Ask what $\Gamma_{tt}$ must be.
# - **`K4.chunk_gates`**: Γ not zeroed above the diagonal (the cumulative product without its `tl.where`):
#   every forward row stays green, since the forward kernel masks Γ, but the backward kernel multiplies by
#   it unmasked and its gradients come out 40–140 % off. “Γ read whole: zero above the diagonal, chunks of
#   16 and 32” is red: “Γ above the diagonal is not 0”.
# - **`K4.chunk_gates`**: a cumulative gate $g$ that skips the first gate (shifted like Γ):
#   “g read whole: g[t] = alpha[0] ⋯ alpha[t]” is red at t = 0. $g_t$ multiplies every gate from the first
#   to the $t$-th.

# %% tags=["parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": GPU-sized timings
DEVICE = "auto"  # ignored: kernels run where Triton runs (compiled on a CUDA GPU, else the interpreter on the CPU)
SEED = 0

# %% slideshow={"slide_type": "skip"}
import torch

import lrnn_course
from lrnn_course import check
from lrnn_course.kernels import triton_mode, triton_status

kernel_device = torch.device("cuda" if triton_mode() == "compiled" else "cpu")
torch.manual_seed(SEED)
print(f"lrnn_course {lrnn_course.__version__}; Triton {triton_status()}")

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 1 · DeltaProduct by interleaving
#
# DeltaProduct's state update per token is a product of $n_h$ generalized Householders, each with
# its own key, value and $\beta$ (Lesson 07):
# $S_t = (I - \beta_{t,n_h} k_{t,n_h} k_{t,n_h}^\top) \cdots (I - \beta_{t,1} k_{t,1} k_{t,1}^\top)\, S_{t-1} + \ldots$,
# applied one after the other, $j = 1$ first. That is exactly what the delta rule does with $n_h$
# consecutive tokens. So DeltaProduct runs on the delta-rule kernels over $n_h T$ steps, the $n_h$ keys,
# values and $\beta$s of each token side by side in time (`deltaproduct.interleave`), with every $n_h$-th
# output kept: queries are read out only at the last sub-step, and the gate $\alpha_t$ acts once per token,
# on its first sub-step. `kernels.delta.chunk_delta_product` builds exactly those interleaved tensors (zero
# queries, unit gates) around K3's kernel; `kernels.chunk_delta_product`, which `ops` runs, passes $n_h$ to
# the split kernels instead: $(B, T, n_h, H, D)$ keys already are $(B, n_h T, H, D)$ in memory, and each
# kernel reads a token's query and gate at the sub-step that uses them, so nothing is copied. Against the
# float64 token-by-token DeltaProduct of Lesson 07:

# %% tags=["lesson"]
import matplotlib.pyplot as plt

from lrnn_course import bench, deltanet, deltaproduct, viz
from lrnn_course.ops import chunk_delta_product, chunk_delta_rule

generator = torch.Generator().manual_seed(SEED)
# the largest |difference| over the largest |expected|: the scale-free error of a float32 kernel
relative_error = bench.relative_error


def product_inputs(batch, steps, householders, heads, key_dim, value_dim, gated):
    """Float64 DeltaProduct inputs: n_h unit keys, values and β ∈ [0, 2] per token, gates α ∈ [0, 1] or None."""
    inputs = bench.delta_inputs(
        batch, steps, heads, key_dim, value_dim, generator, householders=householders, gated=gated
    )
    return inputs[:5]  # q, k, v, β, α: no initial state


def on_kernel_device(*tensors):
    return [None if x is None else x.to(kernel_device, torch.float32) for x in tensors]


# %% tags=["lesson"]
for householders in (2, 3):
    for gated in (False, True):
        inputs = product_inputs(2, 21, householders, 2, 8, 6, gated)
        expected_outputs, expected_state = deltaproduct.delta_product(*inputs)
        outputs, final_state = chunk_delta_product(*on_kernel_device(*inputs), backend="triton")
        error = max(relative_error(outputs, expected_outputs), relative_error(final_state, expected_state))
        print(
            f"n_h = {householders}, {'gated    ' if gated else 'not gated'}: relative error {error:.1e} "
            f"({householders * 21} delta-rule steps for 21 tokens)"
        )
        assert error < 1e-5

# %% [markdown] tags=["lesson"]
# The other route, a native kernel, would load the $n_h$ keys of a token together and never
# materialise the longer sequence; it does the same arithmetic. Interleaving reuses a tested kernel
# and its backward pass for free, at the price of one copy of the inputs (`interleave`) and of
# computing outputs at the $n_h - 1$ sub-steps nobody reads.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · Gates without division
#
# With gates, a chunk needs $g_t = \alpha_1 \cdots \alpha_t$ and the decay
# $\Gamma_{ti} = \alpha_{i+1} \cdots \alpha_t$ between any two of its steps. The tempting formula is
# the quotient $\Gamma_{ti} = g_t / g_i$. It breaks in two cases a model meets in practice: a
# **reset** ($\alpha = 0$ makes $g$ zero from there on, and $0/0$ is NaN), and strong gating in
# float32, where $g_t$ **underflows** to 0 long before the decay between nearby steps does. Log space,
# $\exp(G_t - G_i)$ with $G = \mathrm{cumsum}(\log \alpha)$, survives the underflow but not the reset
# ($-\infty - (-\infty)$ is NaN). A cumulative product *down each column* of the matrix that holds
# $\alpha_s$ for $i < s \le t$ (and 1 elsewhere) multiplies only the gates between $i$ and $t$ and never
# divides. All three on a chunk of 64 gates in float32, against the float64 `chunkwise.decay_matrix`
# (an entry counts as right within a relative 10⁻⁴, or an absolute 10⁻³⁰ for the tiniest):

# %% tags=["nbval-check-output"]
from lrnn_course import chunkwise

size = 64
rows = torch.arange(size)
later = rows[:, None] > rows[None, :]


def by_division(alpha):
    cumulative = torch.cumprod(alpha, dim=0)
    return torch.tril(cumulative[:, None] / cumulative[None, :])


def in_log_space(alpha):
    logs = torch.cumsum(torch.log(alpha), dim=0)
    return torch.tril(torch.exp(logs[:, None] - logs[None, :]))


def by_column_products(alpha):
    return torch.tril(torch.cumprod(torch.where(later, alpha[:, None], 1.0), dim=0))


# %% tags=["nbval-check-output"]
reset = 0.5 + 0.5 * torch.rand(size, generator=torch.Generator().manual_seed(SEED))
reset[30] = 0.0  # a reset at step 31
strong = torch.full((size,), 0.1)  # g_64 = 1e-64: far below float32's smallest number
for name, alpha in (("a reset at step 31", reset), ("α = 0.1 everywhere", strong)):
    exact = chunkwise.decay_matrix(alpha.double())
    print(f"{name}: Γ between steps 60 and 64 is {exact[63, 59].item():.3g}")
    for method in (by_division, in_log_space, by_column_products):
        decay = method(alpha)
        wrong = ~torch.isclose(decay.double(), exact, rtol=1e-4, atol=1e-30)
        print(
            f"  {method.__name__:18s}: {decay[63, 59].item():.3g}; "
            f"entries wrong or NaN: {int(wrong.sum())} of {size * size}"
        )

# %% [markdown] tags=["lesson"]
# Inside the kernel $\alpha$ is a block of `CHUNK` gates, and the same construction takes three
# Triton calls: `tl.where` builds the matrix of gates, `tl.cumprod(..., axis=0)` multiplies down its
# columns, and a second `tl.where` zeroes everything above the diagonal. `tl.cumprod` is itself an
# associative scan, run on each column in parallel. Past the end of time the kernel loads
# $\alpha = 1$, so a padded step never decays anything.

# %% [markdown]
# ### Exercise · `chunk_gates`
#
# Complete the Triton helper: from the chunk's gates `alpha` (a block of `CHUNK` numbers) return
# the pair `(decay, cumulative_gate)`: $\Gamma$ as a `CHUNK × CHUNK` block with
# $\Gamma_{ti} = \alpha_{i+1} \cdots \alpha_t$ for $t \ge i$ (so 1 on the diagonal) and 0 above it, and
# $g_t = \alpha_1 \cdots \alpha_t$. In the code time counts from 0: `decay[t, i]` = `alpha[i+1] ⋯ alpha[t]` and
# `cumulative_gate[t]` = `alpha[0] ⋯ alpha[t]`, the first gate included. Use
# cumulative products only: the check puts resets in the gates, and after one Γ and g must be exactly 0.

# %%
#| exercise: K4.chunk_gates

# %% tags=["nbval-check-output"]
check("K4.chunk_gates", chunk_gates)

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 3 · Resets in the gradient
#
# A reset must also cut the gradient: if $\alpha_s = 0$, nothing before step $s$ can influence the
# state after it, so the gradient of a loss on the final state must be **exactly** zero for every
# input before $s$ — not $10^{-7}$, which a quotient of tiny cumulative gates could leave behind.
# The backward kernel builds the gates' derivative from cumulative products too
# ($\partial L/\partial \alpha_s$ sums $\Gamma_{ts}\,\Gamma_{s-1,i}$ terms, never $\Gamma_{ti}/\alpha_s$). Below,
# $\alpha_{20} = 0$ and the loss is the sum of the final state: the gradients of the first 19 steps'
# keys, values, $\beta$ and $\alpha$, and of $S_0$, are counted, and the gated kernel's gradients of all inputs are
# compared
# with float64 autograd through the recurrence.

# %% tags=["lesson"]
steps, reset_step = 40, 20
q, k, v, beta, alpha = product_inputs(1, steps, 1, 2, 8, 6, gated=True)
q, k, v, beta = q, k[:, :, 0], v[:, :, 0], beta[:, :, 0]  # one Householder per token: Gated DeltaNet
alpha[:, reset_step - 1] = 0.0
state = torch.randn(1, 2, 8, 6, generator=generator, dtype=torch.float64)
names = ("q", "k", "v", "beta", "alpha", "S_0")


def by_recurrence(q, k, v, beta, alpha, state):
    return deltanet.delta_rule(q, k, v, beta, alpha, state)


def by_kernel(q, k, v, beta, alpha, state):
    return chunk_delta_rule(q, k, v, beta, alpha, state, backend="triton")


# %% tags=["lesson"]
def final_state_only(outputs, final):
    return final.sum()


grad_q, grad_k, grad_v, grad_beta, grad_alpha, grad_state = bench.input_gradients(
    by_kernel, on_kernel_device(q, k, v, beta, alpha, state), final_state_only
)
before = slice(0, reset_step - 1)
nonzero = sum(int(g[:, before].count_nonzero()) for g in (grad_k, grad_v, grad_beta, grad_alpha)) + int(
    grad_state.count_nonzero()
)
total = sum(g[:, before].numel() for g in (grad_k, grad_v, grad_beta, grad_alpha)) + grad_state.numel()
print(f"loss on the final state, reset at step {reset_step}: {nonzero} of {total} gradients before it are nonzero")
assert nonzero == 0

# %% tags=["lesson"]
weights = torch.randn(1, steps, 2, 6, generator=generator, dtype=torch.float64)


def weighted_outputs(outputs, final):
    return (outputs * weights.to(outputs)).sum() + final.sum()


expected = bench.input_gradients(by_recurrence, (q, k, v, beta, alpha, state), weighted_outputs)
got = bench.input_gradients(by_kernel, on_kernel_device(q, k, v, beta, alpha, state), weighted_outputs)
for name, mine, reference in zip(names, got, expected):
    print(f"dL/d{name:5s}: relative error {relative_error(mine, reference):.1e}")
    assert relative_error(mine, reference) < 1e-5

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 4 · Where the time goes
#
# First on paper. `ops`, and so every model of the course, runs the split kernels of K3 §7
# (`lrnn_course/kernels/delta_split.py`), with the gates of §2 and DeltaProduct by §1's interleaving on
# top. Count the multiply-adds of their matrix products for one chunk of $C$ tokens and one head of width
# $D$ (as they are compiled for a GPU), and mark the ones on the serial path, where chunk $n + 1$ waits for
# chunk $n$. The triangular inverse $T$ is built by recursive doubling ($\log_2 C$ levels of two
# $C \times C$ products), not by K3's row-by-row substitution, so it too runs on tensor cores.

# %% tags=["lesson"]
from lrnn_course.kernels import delta_split
from lrnn_course.kernels.delta import MAX_KEY_DIM

launch = delta_split.HALF_PRECISION_LAUNCH  # as compiled for a GPU in bfloat16
work = delta_split.multiply_adds_per_chunk(launch, MAX_KEY_DIM)  # one chunk of one head, D_k = D_v = 128
total = sum(kernel.multiply_adds for kernel in work)
figure, axes = plt.subplots(figsize=(7, 3.8))
axes.barh(
    [kernel.products for kernel in work],
    [100 * kernel.multiply_adds / total for kernel in work],
    color=["tab:red" if kernel.serial else "tab:blue" for kernel in work],
)
axes.invert_yaxis()
axes.set_xlabel("share of a chunk's multiply-adds, forward and backward (%)")
axes.set_ylabel("kernel")
axes.set_title(f"Split kernels, C = {launch.chunk}, D = {MAX_KEY_DIM}: serial (red) and parallel (blue) work")
plt.show()
for kernel in work:
    share, path = 100 * kernel.multiply_adds / total, "  serial" if kernel.serial else ""
    print(f"{kernel.products:46s}: {kernel.multiply_adds:10,d} multiply-adds ({share:4.1f} %){path}")
serial_share = sum(kernel.multiply_adds for kernel in work if kernel.serial) / total
print(f"on the serial path: {100 * serial_share:.0f} % of the multiply-adds, every one of them in a matrix product")

# %% [markdown] tags=["lesson"]
# About a fifth of the arithmetic waits for the previous chunk, and all of it is matrix products of the
# state: nothing on the serial path builds $T$, substitutes or touches $C \times C$ blocks. K3's single
# kernel put every stage on that path, once per block of value columns, with the row-by-row substitution
# among them. The split pays in memory traffic instead: $W$, $v_\text{new}$, the chunk states and their
# gradients go out to memory and come back (`benchmarks/results/roofline.md` counts the bytes of every
# launch from the kernels' own loads and stores). Which side wins on a GPU only a GPU can say;
# `benchmarks/bench_kernels.py` times the split, the single kernel and flash-linear-attention side by side.
#
# Now measured, on this machine: forward, and forward plus backward, for the delta rule, its gated
# version and DeltaProduct with 2 and 3 Householders, on the same tokens. The variants take turns,
# several rounds, and each keeps its fastest call: a busy spell on a shared machine then slows all
# of them alike instead of one.

# %% tags=["lesson"]
BATCH, STEPS, HEADS, WIDTH = {"small": (1, 32, 1, 16), "full": (8, 2048, 16, 128)}[SIZE]
KERNEL_DTYPE = torch.float32 if triton_mode() == "interpreter" else torch.bfloat16
variants = {
    "DeltaNet": (1, False),
    "Gated DeltaNet": (1, True),
    "DeltaProduct n_h = 2": (2, False),
    "DeltaProduct n_h = 3": (3, False),
}


def passes(householders, gated):
    """The forward pass (no graph) and forward+backward of one variant, on fixed random inputs in the kernel's dtype."""
    q, k, v, beta, alpha = (
        None if x is None else x.to(kernel_device, KERNEL_DTYPE).requires_grad_(True)
        for x in product_inputs(BATCH, STEPS, householders, HEADS, WIDTH, WIDTH, gated)
    )

    def forward():
        if householders == 1:
            return chunk_delta_rule(q, k[:, :, 0], v[:, :, 0], beta[:, :, 0], alpha, backend="triton")
        return chunk_delta_product(q, k, v, beta, alpha, backend="triton")

    def forward_backward():
        outputs, final = forward()
        (outputs.float().sum() + final.float().sum()).backward()

    return bench.without_grad(forward), forward_backward


# %% tags=["lesson"]
timed = {}
for name, (householders, gated) in variants.items():
    timed[name, "forward"], timed[name, "forward+backward"] = passes(householders, gated)
# 7 rounds, each timing every pass once: a load that comes and goes slows every variant alike
seconds = bench.interleaved_best_seconds(timed, rounds=7)
times = {name: (seconds[name, "forward"], seconds[name, "forward+backward"]) for name in variants}
viz.plot_forward_backward(
    times, f"Kernel time, B = {BATCH}, T = {STEPS}, H = {HEADS}, D = {WIDTH} ({triton_mode()} Triton)"
)
plt.show()
base_forward, base_total = times["DeltaNet"]
for name, (forward_seconds, total_seconds) in times.items():
    print(
        f"{name:22s}: forward {forward_seconds * 1e3:8.2f} ms ({forward_seconds / base_forward:.2f}× DeltaNet), "
        f"backward {(total_seconds - forward_seconds) * 1e3:8.2f} ms, "
        f"forward+backward {total_seconds / base_total:.2f}× DeltaNet"
    )

# %% [markdown] tags=["lesson"]
# DeltaProduct's cost grows with $n_h$ about linearly, as interleaving predicts: $n_h T$ steps. The
# gate adds little: a few elementwise products per chunk and one more gradient. Under the
# interpreter these timings are dominated by Python overhead, a fixed number of NumPy calls per
# chunk, so they count chunks more than arithmetic; on a GPU (at any SIZE; `"full"` for realistic
# shapes) the same cell measures the compiled kernels, and the cell below splits the time between
# the kernels with PyTorch's profiler.

# %% tags=["lesson"]
if triton_mode() == "compiled":
    from torch.profiler import ProfilerActivity, profile

    _, forward_backward = passes(1, False)
    forward_backward()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as profiler:
        forward_backward()
        torch.cuda.synchronize()
    print(profiler.key_averages().table(sort_by="self_device_time_total", row_limit=8))
else:
    print("The interpreter runs kernels as Python on the CPU: a profile would time NumPy calls, so it is skipped here.")

# %% [markdown] tags=["lesson"]
# **What to remember.** DeltaProduct needs no kernel of its own: $n_h$ Householders per token are
# $n_h$ delta-rule steps, and the cost scales with $n_h$. Gates enter a chunk as products of the
# gates between two steps, never as quotients, so resets and strong decays stay exact in the outputs
# and in the gradients. The split kernels leave only the state update on the serial path, as matrix
# products; whether the bytes they add cost more than the parallelism buys is for a GPU to say.
