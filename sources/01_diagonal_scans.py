# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # 01 · Linear recurrences and diagonal scans
#
# Every model in this course — Mamba, DeltaNet, DeltaProduct — updates a state with a **linear
# recurrence**. This lesson is about the simplest one, where the state is a vector and each step
# multiplies it elementwise by a gate and adds an input. By the end you will be able to say:
#
# > *A linear recurrence is an associative scan, so it can run in parallel; the log-space trick
# > that fast libraries use to run it only works when every gate is positive.*
#
# That last clause is why the paper this course is built around (Grazzi et al., ICLR 2025) could
# give Mamba and DeltaNet negative eigenvalues with one line of code, but not Mamba-2, GLA or mLSTM.
#
# **Plan.** 1 · the recurrence and its closed form; 2 · the scan operator; 3 · a parallel scan
# (Hillis–Steele) and a work-efficient one (Blelloch); 4 · the chunked scan that GPU kernels use;
# 5 · log space and negative gates; 6 · what it all costs; 7 · an explorer.

# %% [markdown] tags=["notes"]
# Read the sentence in the quote aloud and say that we will come back to it at the end: by then every word of it
# should be justified.
#
# Ask the room who has used Mamba or another state-space model, and who has written an RNN by hand. Most know
# RNNs; few know why these models train in parallel over time. That is this lesson.
#
# Timing: about 40 minutes of teaching, then 40 of practice on the four exercises. The practice notebook
# (`lrnn-course fetch exercises`) has them with their checks.

# %% [markdown] tags=["practice"]
# # Practice · Lesson 01: linear recurrences and diagonal scans
#
# Four exercises on the diagonal linear recurrence $h_t = a_t \odot h_{t-1} + b_t$, where `a` (the
# gates), `b` (the inputs) and the returned states `h` have shape `(B, T, D)` and `h0` has shape
# `(B, D)`. Each gives you a function's signature and docstring: replace
# `raise NotImplementedError()` with your code and run the `check(...)` cell below it, which prints
# a table of the properties your function has. Call `check(..., hint=1)` (or `hint=2`) for hints.
#
# The maths each exercise needs is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the experiments and figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 40, "practice": 40} needs=[]
# ## Talking points
#
# - The sentence to leave with: *a linear recurrence is an associative scan, so it runs in parallel;
#   the log-space trick only works when every gate is positive.* Say it at the start and at the end.
# - Section 1: the closed form equals the loop (`2.2e-16`); the rows `1 0 1 0 1 0 1 0` ($a = -1$) and
#   `1 2 3 4 5 6 7 8` ($a = +1$) preview Lessons 03–05. Pause for questions on the shapes `(B, T, D)`
#   and `(B, D)` before exercise 1.
# - Section 2: stress *not commutative*: `3.5e+00` against `2.2e-16` for associativity. The later gate
#   multiplies the earlier input; every scan in the course rests on this.
# - Section 3: read the table at T = 4096: Hillis–Steele 49152 combines in 12 rounds, Blelloch 12286
#   in 25, the loop 4095 in 4095; the measured columns equal the formulas.
# - Sections 4–5: at T = 300, chunk 64 costs work 2245 at depth 12. Then the punchline: one negative
#   gate gives `6 of 20 states are NaN` in log space, and the sign/magnitude split repairs it
#   (`6.7e-16` with 160 negative gates). That is why the paper could not patch Mamba-2, GLA or mLSTM.
# - No slow cell: the timing sweep of section 6 takes a few seconds on a laptop CPU. Its numbers depend
#   on the machine; discuss the slopes, not the values.
#
# ## Common mistakes
#
# - **`01.sequential_scan`**: starting from zeros even when `h0` is given turns "uses the initial
#   state h0" red (the row the report explains); ask what the state is before the first step.
#   Returning only the last state fails "returns h of shape (B, T, D)" (`got (2, 3)`).
# - **`01.sequential_scan`**: writing the states into `torch.zeros_like(a)` and reading them back
#   passes every value row but fails "connected to autograd" (`modified by an inplace operation`):
#   keep a list and `torch.stack(..., dim=1)`. `h = h0` then `h.mul_(...)` turns only "does not
#   modify its inputs" red (naming `h0`): the value rows run on copies of the inputs. Writing into `b`
#   turns it red too, and the gradient rows with it. A loop in numpy or on `.item()` values fails
#   "connected to autograd". A float32 tensor on the way (`torch.zeros(a.shape)`, numpy's `.float()`
#   cast back) fails "keeps float64 as float64", by its dtype or by float32's rounding (`only as
#   precise as float32`).
# - **`01.sequential_scan`** (and the other scans): the closed form `cumprod(a) * (h0 +
#   cumsum(b / cumprod(a)))`, or the same in log space, is NaN at a zero gate and overflows in float32
#   long before T = 2000: "gates exactly 0" and "long float32 sequence T = 2000" report a non-finite
#   value. A starting state made with `torch.zeros(B, D)` fails only "keeps bfloat16 as bfloat16".
# - **`01.combine`**: `(a1 * a2, a1 * b2 + b1)` fails "the earlier step acts first" with `yours
#   17.000000, expected 22.000000`: have them apply $(2, 3)$, then $(5, 7)$, to $h = 0$ on paper.
#   Returning only the input part fails every row with `expected a pair (a, b)`. `a1.mul_(a2)` fails
#   "does not modify its inputs"; an `einsum("btd,btd->btd", ...)` fails "works on tensors of any
#   shape"; a result reshaped to `b1.shape` fails "broadcasts".
# - **`01.hillis_steele_scan`**: calling `combine` once per position in a Python loop gives the right
#   states but fails "uses ⌈log2 T⌉ rounds of combine" (`ran 62 rounds`): one call per round, on
#   whole shifted tensors. `range(int(math.log2(T)))` does one round too few unless $T$ is a power of
#   two: the same row explains it (`ran 5 rounds`), with small errors from `t=16` or `t=32` in the
#   value rows; `while offset <= T` does one too many at $T = 64$ (`ran 7 rounds`). A loop that also
#   calls `combine` and ignores its results fails "computes with the results of combine": the check
#   swaps `combine` for another associative operator and the states must follow it.
#   `combine(running, shifted)` reports, on "matches the float64 loop", states `composed in the
#   opposite order`; `torch.roll`, or $(1, 1)$ taken for the identity, fails "positions t < 2^k
#   combine with the identity (1, 0)".
# - **`01.chunked_scan`**: no carry between chunks fails "state carried across chunks" (`yours
#   1.000000, expected 5.000000` at `t=4`); a carry added without the gate products fails "entering
#   state scaled by the gate products" (0.125 against 0.0625): point at `torch.cumprod`. A `reshape`
#   that assumes the chunk size divides $T$ raises on almost every row, and `T // chunk_size` chunks
#   fail "returns h of shape (B, T, D)" (`T = 5 is not a multiple of chunk_size = 4`): pad with
#   identity steps $(1, 0)$.
#   Calling a scan of the whole sequence, or looping over the steps inside each chunk, fails "works
#   chunk by chunk" (`it ignores chunk_size`, or `it works one time step after another`).

# %% tags=["parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": longer sequences (GPU recommended)
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

from lrnn_course import scan, viz
from lrnn_course.bench import best_seconds
from lrnn_course.progress import progress_bar

TIMING_LENGTHS = {"small": [64, 256, 1024, 4096], "full": [64, 256, 1024, 4096, 16384, 65536]}[SIZE]
TIMING_WIDTH = {"small": 64, "full": 1024}[SIZE]

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · The linear recurrence
#
# A linear RNN (LRNN) layer reads inputs $x_1, \dots, x_T$ and keeps a state $H_t$ (the paper's eq. 1):
#
# $$H_t = A(x_t)\,H_{t-1} + B(x_t), \qquad \hat y_t = \mathrm{dec}(H_t, x_t).$$
#
# The state is *linear* in the past: the transition matrix $A(x_t)$ and the input term $B(x_t)$
# depend on the current input only, never on $H_{t-1}$. All the non-linearity sits in the decoder.
# When $A(x_t)$ is diagonal, $A(x_t) = \mathrm{Diag}(a_t)$, each coordinate of the state evolves on
# its own and the recurrence reads
#
# $$h_t = a_t \odot h_{t-1} + b_t .$$
#
# Mamba and GLA are of this kind; the gates $a_t$ are the **eigenvalues** of the transition. In code,
# `a` and `b` have shape `(B, T, D)` (batch, time, state width) and the result `h` too.
#
# Unrolling the recurrence gives a closed form: the state is a sum of past inputs, each multiplied
# by the product of the gates that came after it,
#
# $$h_t = \sum_{s=1}^{t} \Big(\prod_{j=s+1}^{t} a_j\Big) b_s + \Big(\prod_{j=1}^{t} a_j\Big) h_0 .$$
#
# Products of gates are the whole story of this course: if every $|a_j| < 1$ old inputs fade; a gate
# of exactly $1$ keeps them; a gate of $-1$ flips their sign at every step.

# %% [markdown] tags=["notes"]
# Before the closed form, unroll three steps on the board: h1 = a1 h0 + b1, h2 = a2 a1 h0 + a2 b1 + b2, and so
# on. Point at the product of gates in front of each input: everything later in the course is about that
# product.
#
# Ask: with every gate at 0.9, what happens to an input from 50 steps ago? With one gate exactly 0? With gates
# of -1? (It fades; it is erased; its sign flips at every step.) The last answer returns in Lessons 03 to 05.
#
# Pause for questions on the shapes before Exercise 1: a, b and h are (B, T, D), h0 is (B, D). After the check,
# the closed form matches the loop to about 2e-16, and the printed rows 1 0 1 0 ... and 1 2 3 4 ... preview
# parity and counting.

# %% [markdown]
# ### Exercise 1 · The sequential scan
#
# Write the reference loop: start from `h0` (zeros when it is `None`), apply one step at a time and
# return all the states, shape `(B, T, D)`. The input checks are done for you.

# %%
#| exercise: 01.sequential_scan

# %% tags=["nbval-check-output"]
check("01.sequential_scan", sequential_scan)

# %% [markdown] tags=["lesson"]
# Now the closed form, computed literally — a double loop over products of gates, in float64 — and
# compared with the loop. The gates are drawn from $[-1, 1]$, negative ones included.

# %% tags=["lesson", "nbval-check-output"]
gates = 2 * torch.rand(2, 12, 3, dtype=torch.float64) - 1
inputs = torch.randn(2, 12, 3, dtype=torch.float64)
initial = torch.randn(2, 3, dtype=torch.float64)

closed_form = torch.stack(
    [
        sum(torch.prod(gates[:, s + 1 : t + 1], dim=1) * inputs[:, s] for s in range(t + 1))
        + torch.prod(gates[:, : t + 1], dim=1) * initial
        for t in range(gates.shape[1])
    ],
    dim=1,
)
loop = sequential_scan(gates, inputs, initial)
print(f"largest |closed form - loop| over {loop.numel()} states: {(closed_form - loop).abs().max().item():.1e}")

# %% [markdown] tags=["lesson"]
# The same scan with gates exactly $\pm 1$ and inputs in $\{0, 1\}$ gives exact integers — a first
# hint of what negative eigenvalues can do. With $a = -1$ and $b = 1$ the state alternates $1, 0, 1, 0$:
# a one-number memory of whether it has seen an odd number of steps. Lesson 03 proves that no gate
# in $[0, 1]$ can do that.

# %% tags=["lesson", "nbval-check-output"]
flip = sequential_scan(torch.full((1, 8, 1), -1.0), torch.ones(1, 8, 1))
print("a = -1, b = 1:", " ".join(f"{v:.0f}" for v in flip.flatten().tolist()))
count = sequential_scan(torch.ones(1, 8, 1), torch.ones(1, 8, 1))
print("a = +1, b = 1:", " ".join(f"{v:.0f}" for v in count.flatten().tolist()))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · The scan operator
#
# The loop is inherently sequential: step $t$ needs $h_{t-1}$. The way out is to stop passing
# *states* and start composing *steps*. One step is the affine map $h \mapsto a h + b$, written as
# the pair $(a, b)$. Doing $(a_1, b_1)$ and then $(a_2, b_2)$ gives
#
# $$h \mapsto a_2 (a_1 h + b_1) + b_2 = (a_1 a_2)\, h + (a_2 b_1 + b_2),$$
#
# so we define the **combine** operator $(a_1, b_1) \circ (a_2, b_2) = (a_1 a_2,\; a_2 b_1 + b_2)$.
# It is **associative** — composing maps is — so any bracketing of $x_1 \circ x_2 \circ \dots \circ x_t$
# gives the same map, and the input part of that map is $h_t$ (for $h_0 = 0$).
# It is **not commutative**: the later gate $a_2$ multiplies the earlier input $b_1$, never the other
# way round.
#
# ### Exercise 2 · combine
#
# `earlier` and `later` are pairs of tensors; return the pair of the composed step. The tensors may
# have any shape, and shapes that broadcast together (a `(B, 1, D)` pair with a `(B, T, D)` pair):
# compute entry by entry and let PyTorch broadcast.

# %% [markdown] tags=["notes"]
# The idea of the lesson: stop passing states, compose steps. Work one example on the board: apply (2, 3) and
# then (5, 7) to h = 0. First 3, then 5 * 3 + 7 = 22.
#
# Then ask how combine should order its arguments. The usual mistake, (a1 a2, a1 b2 + b1), gives 17 on that
# example, and the check's row "the earlier step acts first" says so.
#
# Associative, yes (about 2e-16 on random pairs); commutative, no (about 3.5). Every parallel scan in the course
# relies on associativity alone.

# %%
#| exercise: 01.combine

# %% tags=["nbval-check-output"]
check("01.combine", combine)

# %% [markdown] tags=["lesson"]
# Associative, not commutative — numerically, on random pairs with shape `(2, 6, 3)`:


# %% tags=["lesson", "nbval-check-output"]
def random_step():
    return 2 * torch.rand(2, 6, 3, dtype=torch.float64) - 1, torch.randn(2, 6, 3, dtype=torch.float64)


x, y, z = random_step(), random_step(), random_step()
left_first, right_first = combine(combine(x, y), z), combine(x, combine(y, z))
x_then_y, y_then_x = combine(x, y), combine(y, x)
print(f"associative:     max |((x∘y)∘z) - (x∘(y∘z))| = {(left_first[1] - right_first[1]).abs().max().item():.1e}")
print(f"not commutative: max |(x∘y) - (y∘x)|         = {(x_then_y[1] - y_then_x[1]).abs().max().item():.1e}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Parallel scans
#
# **Hillis–Steele** (1986) computes every prefix in $\lceil \log_2 T \rceil$ rounds. Keep a running pair per
# position, starting with the step itself. In round $k$, every position $t$ combines the pair of
# position $t - 2^k$ (the earlier one) with its own; positions $t < 2^k$ combine with the identity
# $(1, 0)$. After round $k$, position $t$ holds the composition of the last $2^{k+1}$ steps up to $t$,
# so after $\lceil \log_2 T \rceil$ rounds it holds all of them. Each round is one vectorised `combine`
# on whole tensors: on a parallel machine, a round takes one time step whatever $T$ is.
#
# Fold $h_0$ in first by replacing the first input with $a_1 h_0 + b_1$.
#
# ### Exercise 3 · The Hillis–Steele scan
#
# Use your `combine`; the check counts how often you call it: one call per round, $\lceil\log_2 T\rceil$
# rounds (none when $T = 1$), plus at most one call that folds `h0` into the first step.

# %% [markdown] tags=["notes"]
# Draw Hillis–Steele for T = 8 as three rows of arrows, at offsets 1, 2 and 4: every position combines with the
# one that far back, and after log2 T rounds each holds the composition of its whole prefix.
#
# Read the table at T = 4096: Hillis–Steele does 49 152 combines in 12 rounds, Blelloch 12 286 in 25, the loop
# 4095 in 4095. Ask which one they would run on a GPU with thousands of lanes, and which on one CPU core. There
# is no single answer, which is why the next section mixes them.

# %%
#| exercise: 01.hillis_steele_scan

# %% tags=["nbval-check-output"]
check("01.hillis_steele_scan", hillis_steele_scan)

# %% [markdown] tags=["lesson"]
# Hillis–Steele does $T$ combines in each of its $\lceil\log_2 T\rceil$ rounds: $O(T \log T)$ work, more than
# the loop's $T - 1$. **Blelloch**'s scan (1990) is *work-efficient*: an up-sweep builds a binary tree
# of partial compositions, a down-sweep turns them into the composition of everything earlier than each
# position, and one last combine per position gives the states — about $3T$ combines in
# $2\lceil\log_2 T\rceil + 1$ rounds. It lives in the library as `scan.blelloch_scan`; it must agree with the
# loop on an awkward length:

# %% tags=["lesson", "nbval-check-output"]
gates = 2 * torch.rand(3, 1000, 4, dtype=torch.float64) - 1
inputs = torch.randn(3, 1000, 4, dtype=torch.float64)
reference = sequential_scan(gates, inputs)
for algorithm in (hillis_steele_scan, scan.blelloch_scan):
    error = (algorithm(gates, inputs) - reference).abs().max().item()
    print(f"{algorithm.__name__:<20} T = 1000, max |error| vs loop = {error:.1e}")

# %% [markdown] tags=["lesson"]
# **Work and depth.** *Work* is the number of elementwise combines in total; *depth* is the number of
# rounds that must run one after another. `scan.scan_cost` gives both from the formulas above, and
# `scan.measure_cost` *measures* them by counting what the library's scans actually pass to `combine`.

# %% tags=["lesson", "nbval-check-output"]
print(f"{'T':>6} {'algorithm':<14} {'work':>8} {'measured':>9} {'depth':>6} {'measured':>9}")
for steps in (8, 1000, 4096):
    for name, algorithm in (("hillis_steele", scan.hillis_steele_scan), ("blelloch", scan.blelloch_scan)):
        work, depth = scan.scan_cost(steps, name)
        measured_work, measured_depth = scan.measure_cost(algorithm, steps)
        print(f"{steps:>6} {name:<14} {work:>8} {measured_work:>9} {depth:>6} {measured_depth:>9}")
    work, depth = scan.scan_cost(steps, "sequential")
    print(f"{steps:>6} {'sequential':<14} {work:>8} {'':>9} {depth:>6}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · The chunked scan
#
# GPU kernels use neither pure form. They cut the sequence into **chunks** of $C$ steps and:
#
# 1. scan inside every chunk *in parallel*, starting from a zero state, and also keep the running
#    product of the chunk's gates $\prod_{j \le t} a_j$ (how much the state entering the chunk is
#    scaled by at position $t$);
# 2. walk over the chunks *in order*, carrying the state: the state entering chunk $c+1$ is the last
#    state of chunk $c$;
# 3. add (gate product) × (entering state) to every local state.
#
# Step 2 is sequential but only $T / C$ long; steps 1 and 3 are embarrassingly parallel. Lesson 09 uses
# the same plan with matrices instead of gates, and the Triton kernels (K1, K3) with one chunk per
# block of a GPU program. Pad the last chunk with identity steps $(1, 0)$ when $C$ does not divide $T$.
#
# ### Exercise 4 · The chunked scan

# %% [markdown] tags=["notes"]
# This is the plan of the Triton kernels (K1, K3) and of Lesson 09: a parallel scan inside every chunk of C
# steps, a short sequential walk over the chunks carrying the state, and one multiply-add per position to bring
# the carried state in.
#
# Ask what C = 1 and C = T turn it into (the sequential loop, with T carries; one parallel scan, with none). The
# printed table says where between them to sit: at T = 300, chunks of 64 cost 2245 combines at depth 12, against
# 600 at depth 301 for C = 1.

# %%
#| exercise: 01.chunked_scan

# %% tags=["nbval-check-output"]
check("01.chunked_scan", chunked_scan)

# %% [markdown] tags=["lesson"]
# The chunk size trades parallel work for sequential steps. `scan.scan_cost` counts a Hillis–Steele
# scan inside each chunk, one carry per chunk and one fix-up per position, padded positions included:
#
# $$\text{work} = \lceil T/C \rceil \big(C \lceil\log_2 C\rceil + C + 1\big), \qquad
# \text{depth} = \lceil\log_2 C\rceil + \lceil T/C \rceil + 1 .$$
#
# $C = 1$ is the loop plus one fix-up per step; $C \ge T$ is a single parallel scan, and a chunk
# larger than $T$ pays for its padding (chunk 512 costs more work than chunk 300 below). Every choice
# gives the same states:

# %% tags=["lesson", "nbval-check-output"]
gates = 2 * torch.rand(2, 300, 4, dtype=torch.float64) - 1
inputs = torch.randn(2, 300, 4, dtype=torch.float64)
reference = sequential_scan(gates, inputs)
for chunk_size in (1, 7, 64, 300, 512):
    work, depth = scan.scan_cost(300, "chunked", chunk_size)
    error = (chunked_scan(gates, inputs, chunk_size=chunk_size) - reference).abs().max().item()
    print(f"chunk {chunk_size:>3}: work {work:>6}, depth {depth:>3}, max |error| vs loop = {error:.1e}")

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 5 · Log space, and why it forbids negative gates
#
# Mamba-2, GLA and mLSTM do not scan pairs. They store each gate as a logarithm and turn the products
# in the closed form into sums, $\prod_{j=s+1}^{t} a_j = \exp\big(\sum_{j=s+1}^{t} \log a_j\big)$. All the
# segment sums form a $T \times T$ matrix, so the whole sequence becomes one matrix product with the
# inputs: fast on tensor cores, and stable, because a sum of logarithms never underflows the way a
# product of many small gates does. `scan.log_space_scan` is that computation, written plainly.
#
# The catch: $\log a$ is only real for $a > 0$. One negative gate makes $\log a$ NaN, and the NaN spreads
# into every state that depends on it. This is precisely the limitation the paper points out in §6:
# the remap $a \mapsto 2a - 1$ that gives Mamba negative eigenvalues costs nothing in Mamba's own scan,
# but cannot be applied to models whose kernels work in log space.

# %% [markdown] tags=["notes"]
# The punchline. Mamba-2, GLA and mLSTM compute products of gates as the exponential of a sum of logs. One
# negative gate at t = 4 makes 6 of the 20 states NaN, from t = 4 on.
#
# This is the paper's section 6: the remap a -> 2a - 1 that gives Mamba negative eigenvalues costs nothing in
# Mamba's own scan, but cannot be applied to a kernel that works in log space. The sign/magnitude split repairs
# it to rounding error; the paper leaves it as future work.

# %% tags=["lesson", "nbval-check-output"]
positive = torch.rand(1, 10, 2, dtype=torch.float64) * 0.9 + 0.05
inputs = torch.randn(1, 10, 2, dtype=torch.float64)
error = (scan.log_space_scan(positive, inputs) - sequential_scan(positive, inputs)).abs().max().item()
print(f"positive gates: max |log-space - loop| = {error:.1e}")

one_negative = positive.clone()
one_negative[0, 4, 0] = -0.5
states = scan.log_space_scan(one_negative, inputs)
print(
    f"one negative gate at t = 4: {int(states.isnan().sum())} of {states.numel()} states are NaN, "
    f"first at t = {int(states[0, :, 0].isnan().nonzero()[0])}"
)

# %% [markdown] tags=["lesson"]
# A repair is to split each gate into a **sign** and a **magnitude**. The magnitudes go through log space
# as before; the sign of $\prod_{j=s+1}^{t} a_j$ is $(-1)^{n}$ where $n$ counts the negative gates in the
# segment — and that count is itself a segment sum. The paper mentions this split as future work for
# log-space models; `scan.signed_log_space_scan` implements it:

# %% tags=["lesson", "nbval-check-output"]
signed = 2 * torch.rand(2, 50, 3, dtype=torch.float64) - 1
inputs = torch.randn(2, 50, 3, dtype=torch.float64)
repaired = scan.signed_log_space_scan(signed, inputs)
error = (repaired - sequential_scan(signed, inputs)).abs().max().item()
print(f"{int((signed < 0).sum())} negative gates: max |sign/magnitude log-space - loop| = {error:.1e}")

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 6 · What it costs on this machine
#
# Time per call of each scan for growing $T$, with `D = TIMING_WIDTH` channels and a batch of 4 (the
# fastest of 5 calls). The numbers depend on your machine and are not checked; look at the *slopes*
# and at what sets them. The loop launches a few small PyTorch operations for each of its $T$ steps,
# so its time grows like $T$ with a large constant per step. The parallel scans launch $O(\log T)$
# operations on large tensors, so their time follows their work: $T \lceil\log_2 T\rceil$ combines for
# Hillis–Steele, about $3T$ for Blelloch (plus its index bookkeeping). Which wins depends on those
# constants and on how much parallel hardware there is; on a GPU (`DEVICE="cuda"`) the plot also
# shows the Triton kernel of lesson K1, which keeps each chunk in fast on-chip memory.

# %% [markdown] tags=["notes"]
# The numbers depend on the machine and are not checked: discuss the slopes, not the values. The loop grows like
# T with a large cost per step (several small PyTorch calls each); the parallel scans follow their work. On a
# GPU the Triton kernel of K1 appears as well.
#
# The cell takes a few seconds on a laptop CPU; run it while you explain the plot's axes.

# %% tags=["lesson"]
from lrnn_course import ops

timings = {}
for steps in progress_bar(TIMING_LENGTHS, desc="timing scans"):
    gates = 2 * torch.rand(4, steps, TIMING_WIDTH, device=device) - 1
    inputs = torch.randn(4, steps, TIMING_WIDTH, device=device)
    calls = {
        "loop": lambda: sequential_scan(gates, inputs),
        "Hillis–Steele": lambda: hillis_steele_scan(gates, inputs),
        "Blelloch": lambda: scan.blelloch_scan(gates, inputs),
        "chunked (C = 64)": lambda: chunked_scan(gates, inputs, chunk_size=64),
    }
    if ops.resolve_backend("auto", gates) == "triton":  # a CUDA GPU, with Triton compiling for it
        calls["Triton kernel"] = lambda: ops.diagonal_scan(gates, inputs, backend="triton")
    for name, call in calls.items():
        timings.setdefault(name, []).append(best_seconds(call, repeats=5))

viz.plot_timings(TIMING_LENGTHS, timings, f"Diagonal scans on {device.type}, batch 4, D = {TIMING_WIDTH}")
plt.show()

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 7 · Explore: one gate, one state
#
# A single channel with a constant input, $h_t = a h_{t-1} + b$, already shows the four regimes:
# $0 < a < 1$ climbs monotonically to the fixed point $b/(1-a)$; $-1 < a < 0$ zig-zags towards it;
# $a = 1$ counts (the `1 2 3 4 ...` printed in section 1); $a = -1$ alternates forever. Monotone convergence is the
# reason positive gates cannot
# compute parity in finite precision (Lesson 03); the alternation is the fix (Lesson 04).

# %% [markdown] tags=["notes"]
# Use the four curves to recap: 0 < a < 1 climbs to b / (1 - a), -1 < a < 0 zig-zags towards it, a = 1 counts, a
# = -1 alternates. Monotone convergence is why positive gates cannot compute parity (Lesson 03); the alternation
# is the fix (Lesson 04).
#
# The explorer needs a live kernel: in the notebook, move the gate slider to -1 and back to 0.9.

# %% tags=["lesson"]
viz.plot_trajectories([0.9, 0.5, -0.5, -1.0], steps=30)
plt.show()

# %% [markdown] tags=["lesson"]
# Move the sliders (in a live notebook) to see the trajectory for any gate in $[-1, 1]$:

# %% tags=["lesson", "widget"]
viz.scan_explorer()

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A diagonal LRNN is $h_t = a_t \odot h_{t-1} + b_t$; its states are sums of inputs times products of gates.
# - The steps compose with an associative, non-commutative operator, so the recurrence is a **scan**:
#   $\lceil\log_2 T\rceil$ rounds (Hillis–Steele), $O(T)$ work (Blelloch), or chunks with a short sequential carry.
# - Log-space implementations need positive gates; a sign/magnitude split removes that restriction.
#
# **Next:** Lesson 02 builds Mamba's input-dependent gates, shows why its eigenvalues live in $[0, 1]$,
# and remaps them to $[-1, 1]$ for free.

# %% [markdown] tags=["notes"]
# Say the sentence from the title slide again and ask someone to justify each half: why the recurrence runs in
# parallel (associativity of combine) and when the log-space trick breaks (a single negative gate).
#
# Then hand over to practice: four exercises in the practice notebook. `check(..., hint=1)` and `hint=2` give
# hints; the instructor notes list the common mistakes and the rows they turn red.
