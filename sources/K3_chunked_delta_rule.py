# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # K3 · The chunked delta-rule kernel
#
# Lesson 09 turned DeltaNet's token-by-token recurrence into a few matrix products per chunk of $C$
# tokens: the WY/UT form. This lesson follows those PyTorch lines into one Triton kernel, the one
# behind `lrnn_course.kernels.chunk_delta_rule`, with $\beta \in [0, 2]$ throughout. By the end you
# will be able to say:
#
# > *One program owns one (batch row, head) pair and a block of the state's value columns, and
# > walks its chunks in order. Per chunk it builds $A = \mathrm{tril}(\mathrm{diag}(\beta)(KK^\top \odot \Gamma), -1)$,
# > inverts $I + A$ by forward substitution with masks (Triton has no row indexing), forms the
# > pseudo-values $U$, writes the outputs and passes the state on. The backward kernel replays
# > each chunk from the state the forward pass saved at its start.*
#
# **Plan.** 1 · the chunk form, as the kernel computes it; 2 · splitting the work between programs;
# 3 · forward substitution without row indexing (exercise); 4 · the whole kernel on awkward shapes;
# 5 · the backward pass and what it stores; 6 · what the chunks buy; 7 · why production kernels split it.

# %% [markdown] tags=["practice"]
# # Practice · K3: forward substitution in Triton
#
# One exercise: `forward_substitution`, the Triton helper that inverts $I + A$ for a strictly
# lower-triangular block $A$, row by row. The check runs your helper inside the course's delta-rule
# kernel and compares the kernel's outputs with the float64 recurrence. Replace
# `raise NotImplementedError()` with your code and run the `check(...)` cell below it; call
# `check(..., hint=1)` for a hint.
# The maths each exercise needs is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the experiments and figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 40, "practice": 25} needs=["09", "K2"]
# ## Talking points
#
# - §1: the chunk equations are Lesson 09's, in the kernel's names (`decay`, `transform`, `w`, `u`); in
#   float64 they match the recurrence to `1.8e-15`.
# - §2: programs split batch, heads and value columns, never keys: the delta rule acts on $S$ from the left,
#   so value columns never mix (`0.0e+00` for the two halves). The price: each value block recomputes $T$.
# - §3, pause here before the exercise: a Triton block has no row indexing, so row $i$ is selected with a
#   mask and `tl.sum`, and written back with `tl.where`. The PyTorch cell just above the exercise uses
#   exactly those operations (`1.9e-16`); the exercise is its translation.
# - §4: awkward shapes (T = 37, $D_k$ = 5, $D_v$ = 70, β exactly 0, 1 and 2) pass at `4.1e-07`: padding is
#   identity steps. §5, the sentence to leave with: the backward pass recomputes each chunk from one saved
#   state per chunk, `512 MiB` instead of `16 GiB` for B = 8, T = 2048, H = 16, D = 128.
# - §6: under the interpreter the kernel is the slowest line (over a hundred milliseconds at T = 128, the
#   PyTorch chunk form about a millisecond or less): NumPy calls, not a GPU; `benchmarks/bench_kernels.py`
#   measures an H100. §5, §6 and the `check` cell are the slow ones; the notebook takes about a minute on a
#   laptop CPU.
# - §7: after the exercise, not before: the single kernel is the stepping stone, the split kernels are what
#   `ops` runs. Only the state pass is serial (two products a chunk forward, three backward); the split agrees
#   with the single kernel to about `1e-06`, gradients included. It moves more bytes (148.8 against 113.0
#   B/element forward and backward, a model) for 16× the programs and no spills. No GPU has timed it yet: say so.
#
# ## Common mistakes
#
# - **`K3.forward_substitution`**: `+` instead of `-` in $e_i - \sum_j A_{ij} T_j$:
#   “two steps by hand: T₂₁ = -β₂ k₂ᵀk₁ = -1.2” is red. Ask for $T_{21}$ of a 2 × 2 block by hand.
# - **`K3.forward_substitution`**: `range(1, CHUNK - 1)`, the last row skipped. “two steps by hand” and
#   “one chunk: T = 12, β ∈ [0, 2]” stay green (no full chunk); the report explains
#   “T read whole at chunks of 16 and 32 (a GPU's)”: “only the last row, i = 15, is wrong”. Ask which rows of a
#   full chunk their loop visits.
# - **`K3.forward_substitution`**: rows in reverse order, a combination over columns (`axis=1`), `A` itself as
#   the combination, or a truncated series $I - A + A^2$: the whole-T row explains them all by the first wrong
#   row, e.g. “rows 0 to 1 are right, row 2 is not”. Ask what row 2 needs that row 1 does not.
# - **`K3.forward_substitution`**: T cast to float16 on the way: the forward kernel's `tl.dot` refuses to mix
#   dtypes; “returns a float32 block” is red and explains it.
# - **`K3.forward_substitution`**: a fixed `range(1, 16)`: right under the interpreter, whose chunks hold
#   16 steps, wrong on a GPU (32). Only “T read whole at chunks of 16 and 32 (a GPU's)” is red, which runs
#   the helper on both chunk sizes and compares the whole T. `CHUNK` is the size to loop to.
# - **`K3.forward_substitution`**: starting from zeros instead of the identity: every row is red. Indexing a
#   block (`transform[i] = ...`) fails inside the kernel. Point back to the PyTorch mirror of §3.

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
# ## 1 · The chunk form, as the kernel computes it
#
# A chunk starts from the state $S_0$ ($D_k \times D_v$) and holds $C$ tokens as rows: $Q, K$
# ($C \times D_k$), $V$ ($C \times D_v$), $\beta$ and the gates $\alpha$ ($C$). With the decay
# $\Gamma_{ti} = \alpha_{i+1} \cdots \alpha_t$ and $g_t = \alpha_1 \cdots \alpha_t$ (all ones without a
# gate; K4 builds them), Lesson 09 derived
#
# $$A = \mathrm{tril}\big(\mathrm{diag}(\beta)\,(K K^\top \odot \Gamma),\,-1\big), \qquad T = (I + A)^{-1},$$
# $$W = T\,\mathrm{diag}(\beta g)\,K, \qquad U = T\,\mathrm{diag}(\beta)\,V - W S_0,$$
# $$O = \text{scale}\cdot\big(\mathrm{diag}(g)\,Q S_0 + (\mathrm{tril}(Q K^\top) \odot \Gamma)\,U\big), \qquad S_C = g_C
# S_0 + K^\top \mathrm{diag}(\Gamma_{C\cdot})\,U .$$
#
# Every line is a product of blocks of at most $64 \times 128$ numbers: what `tl.dot` computes on a
# GPU's tensor cores. The kernel's names follow the glossary of `lrnn_course/kernels/delta.py`:
# `decay` Γ, `cumulative_gate` g, `transform` T, `w` W, `u` U, `scores` $\mathrm{tril}(QK^\top)$.
# First, the equations once more, for one chunk in float64 against the recurrence of Lesson 06:

# %% tags=["lesson"]
import matplotlib.pyplot as plt

from lrnn_course import bench, chunkwise, deltanet, viz
from lrnn_course.kernels.delta import chunk_delta_rule  # the single kernel of this lesson; §7 shows the split one

generator = torch.Generator().manual_seed(SEED)


def random_inputs(batch, steps, heads, key_dim, value_dim, dtype=torch.float64):
    """Queries, unit keys, values, β ∈ [0, 2] and a state S_0, in fla's (B, T, H, D) layout."""
    q, k, v, beta, _, state = bench.delta_inputs(
        batch, steps, heads, key_dim, value_dim, generator, with_state=True, dtype=dtype
    )
    return q, k, v, beta, state


# %% tags=["lesson"]
q, k, v, beta, state = random_inputs(1, 8, 1, 4, 3)
rows = [x[0, :, 0] for x in (q, k, v)]  # one (batch, head) pair: rows are tokens
Q, K, V, betas = rows[0], rows[1], rows[2], beta[0, :, 0]
S0 = state[0, 0]
A = torch.tril(betas[:, None] * (K @ K.T), diagonal=-1)
transform = torch.linalg.inv(torch.eye(8, dtype=torch.float64) + A)  # T of the equations
W = transform @ (betas[:, None] * K)
U = transform @ (betas[:, None] * V) - W @ S0
O = Q @ S0 + torch.tril(Q @ K.T) @ U  # noqa: E741 (the equations' O, the chunk's outputs)
S8 = S0 + K.T @ U
expected_outputs, expected_state = deltanet.delta_rule(q, k, v, beta, initial_state=state, scale=1.0)
print(f"outputs O: largest difference from the recurrence {(O - expected_outputs[0, :, 0]).abs().max().item():.1e}")
print(f"state S_C: largest difference from the recurrence {(S8 - expected_state[0, 0]).abs().max().item():.1e}")
assert torch.allclose(O, expected_outputs[0, :, 0]) and torch.allclose(S8, expected_state[0, 0])

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 2 · Splitting the work between programs
#
# A kernel needs independent pieces of work for its programs. Batch rows and heads are independent.
# So are the **columns of the state over the values**: a delta-rule step
# $S \leftarrow (I - \beta k k^\top) S + \beta k v^\top$ acts on $S$ from the left, so column $j$ of
# $S$ only ever meets column $j$ of the values. The key dimension is not independent (the
# Householder mixes all its rows). So the grid is $(\lceil D_v / 64 \rceil,\; B \cdot H)$: each program
# owns up to 64 value columns of one head's state and walks through all of that head's chunks. Run
# the recurrence on two halves of the values and compare with the whole:

# %% tags=["lesson"]
q, k, v, beta, state = random_inputs(2, 50, 3, 8, 10)
whole_outputs, whole_state = deltanet.delta_rule(q, k, v, beta, initial_state=state)
halves = [
    deltanet.delta_rule(q, k, v[..., part], beta, initial_state=state[..., part])
    for part in (slice(0, 5), slice(5, 10))
]
joined_outputs = torch.cat([outputs for outputs, _ in halves], dim=-1)
joined_state = torch.cat([final for _, final in halves], dim=-1)
difference = max((joined_outputs - whole_outputs).abs().max().item(), (joined_state - whole_state).abs().max().item())
print(f"values split into two column blocks, run apart and joined: largest difference {difference:.1e}")
assert difference < 1e-12

# %% [markdown] tags=["lesson"]
# The price: every value block recomputes the chunk's $T$ and $W$, which depend on keys and $\beta$
# only. With $D_v = 128$ that is two programs per head doing the same $C \times C$ work; in exchange a
# program's state block ($D_k \times 64$ floats) and its chunk mostly fit on chip (the compiled
# kernels still spill registers; see `benchmarks/results/compile-sm90-*.txt`), and there are twice
# as many programs to keep the GPU's multiprocessors busy.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Forward substitution without row indexing
#
# $T = (I + A)^{-1}$ comes from forward substitution, as in Lesson 09: row $i$ of $T$ is
# $e_i - \sum_{j<i} A_{ij} T_j$ and needs only the rows above it. No pivoting and no division, which
# matters at $\beta = 2$, where $I + A$ is far from the identity. In PyTorch one writes `T[i] = ...`.
# A Triton block has **no row indexing**: a program holds the whole $C \times C$ block in registers
# and can only compute with it elementwise, reduce it along an axis, or combine it with `tl.where`.
# So row $i$ is *selected* by a mask and summed out, and the new row is *written back* with
# `tl.where` — the same trick K1 used for the carry.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "-"}
# In PyTorch with exactly those operations:

# %% tags=["lesson"]
size = 5
positions = torch.arange(size)
strictly_lower = torch.tril(torch.randn(size, size, generator=generator, dtype=torch.float64), diagonal=-1)
transform = torch.where(positions[:, None] == positions[None, :], 1.0, 0.0).double()
for i in range(1, size):
    row_of_a = torch.where(positions[:, None] == i, strictly_lower, 0.0).sum(dim=0)  # A[i], by a mask
    new_row = torch.where(positions == i, 1.0, 0.0) - (row_of_a[:, None] * transform).sum(dim=0)
    transform = torch.where(positions[:, None] == i, new_row[None, :], transform)  # T[i] = new_row
identity_error = (
    (transform @ (torch.eye(size, dtype=torch.float64) + strictly_lower) - torch.eye(size)).abs().max().item()
)
print(f"T (I + A) - I, largest entry: {identity_error:.1e}")
assert identity_error < 1e-12

# %% [markdown] tags=["lesson"]
# Each row costs $O(C^2)$ and the $C$ rows are sequential, so a chunk's substitution is $O(C^3)$ with
# $C$ dependent steps: with $C = 32$ it is cheap next to the $C^2 D$ products, but it is the part of
# the chunk that does not run in parallel. (fla inverts $16 \times 16$ diagonal blocks this way and
# joins them with matrix products; see K4.)

# %% [markdown]
# ### Exercise · `forward_substitution`
#
# Complete the Triton helper: given the strictly lower-triangular block `strictly_lower`
# ($C \times C$, zeros on and above the diagonal) return $T = (I + A)^{-1}$. Start from the identity;
# for each row $i$ from 1 to `CHUNK - 1`, select row $i$ of $A$ with a mask and `tl.sum`, form the
# new row $e_i - \sum_j A_{ij} T_j$, and write it into row $i$ with `tl.where`. Use only `tl.where`,
# `tl.sum` and arithmetic: a Triton block cannot be indexed by a row. Return $T$ as a float32 block, the
# dtype of the identity you start from: the kernel multiplies it with float32 blocks.

# %%
#| exercise: K3.forward_substitution

# %% tags=["nbval-check-output"]
check("K3.forward_substitution", forward_substitution)

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 4 · The whole kernel, on awkward shapes
#
# With $T$ in hand the chunk's remaining lines are `tl.dot`s, in the order of section 1:
#
# ```python
# w = tl.dot(transform, scaled_keys)                                # W = T diag(β g) K
# u = tl.dot(transform, scaled_values) - tl.dot(w, state)           # U = T diag(β) V - W S_0
# out = scale * (cumulative_gate[:, None] * tl.dot(q, state) + tl.dot(scores * decay, u))
# state = last_gate * state + tl.dot(tl.trans(k), last_decay[:, None] * u)
# ```
#
# `tl.dot` needs every side of a block to be at least 16, so $D_k = 5$ is padded to a block of 16
# with zero keys and the chunk's last rows, past the end of time, with identity steps: $\beta = 0$,
# $\alpha = 1$, zero $k$, $v$ and $q$. An identity step writes nothing and reads nothing, so padding
# never changes a real output. Under the interpreter a chunk holds 16 tokens (every row of the
# substitution is a NumPy call); compiled, 32. Chunks of 64 would halve the sequential steps
# between chunks, but the backward pass then holds so many blocks at once that it asks for 320 KiB
# of shared memory in bfloat16, and an H100 gives one program at most 227 KiB (measured once by
# compiling with $C = 64$; `tests/compile_for_hopper.py`, which compiles every kernel for an H100
# without one, now reports the $C = 32$ kernels: at most 96 KiB).
# Below: $T = 37$ (no multiple of 16), $D_k = 5$, $D_v = 70$ (two value blocks, the second almost
# empty) and $\beta$ exactly 0, 1 and 2 at chosen steps, in float32, against the float64 recurrence.

# %% tags=["lesson"]
q, k, v, beta, state = random_inputs(2, 37, 2, 5, 70)
beta[:, :3] = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)[None, :, None]
expected_outputs, expected_state = deltanet.delta_rule(q, k, v, beta, initial_state=state)
on_device = [x.to(kernel_device, torch.float32) for x in (q, k, v, beta, state)]
outputs, final_state = chunk_delta_rule(*on_device[:4], initial_state=on_device[4])
# the largest |difference| over the largest |expected|: the scale-free error of a float32 kernel
relative_error = bench.relative_error
print(f"outputs    : relative error {relative_error(outputs, expected_outputs):.1e}")
print(f"final state: relative error {relative_error(final_state, expected_state):.1e}")
assert relative_error(outputs, expected_outputs) < 1e-5 and relative_error(final_state, expected_state) < 1e-5

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 5 · The backward pass, and what it stores
#
# The backward kernel walks the chunks in reverse, like the reverse scan of K2, carrying the
# adjoint of the state, $\partial L / \partial S$, from chunk to chunk:
# $dS_0 = g_C\, dS_C + \text{scale}\; Q^\top \mathrm{diag}(g)\, dO - W^\top dU$. Inside a chunk it needs the
# chunk's $T$, $W$, $U$: rather than store them, it **recomputes** them from the state $S_0$ the
# forward pass saved at the start of each chunk (the same `_chunk_quantities` helper runs in both
# passes). The inverse is differentiated with $dA = -T^\top\, dT\, T^\top$. Gradients of all five
# inputs (no gate here; K4 adds it), against PyTorch's autograd through the float64 recurrence:

# %% tags=["lesson"]
q, k, v, beta, state = random_inputs(1, 40, 2, 8, 12)
weights = torch.randn(1, 40, 2, 12, generator=generator, dtype=torch.float64)
names = ("q", "k", "v", "beta", "S_0")


def loss(outputs, final):
    """L = Σ weights ⊙ outputs + Σ final state: every output and the final state reach the gradients."""
    return (outputs * weights.to(outputs)).sum() + final.sum()


def by_recurrence(q, k, v, beta, state):
    return deltanet.delta_rule(q, k, v, beta, initial_state=state)


def by_kernel(q, k, v, beta, state):
    return chunk_delta_rule(q, k, v, beta, initial_state=state)


expected = bench.input_gradients(by_recurrence, (q, k, v, beta, state), loss)
got = bench.input_gradients(by_kernel, [x.to(kernel_device, torch.float32) for x in (q, k, v, beta, state)], loss)
for name, mine, reference in zip(names, got, expected):
    print(f"dL/d{name:4s}: relative error {relative_error(mine, reference):.1e}")
    assert relative_error(mine, reference) < 1e-5

# %% [markdown] tags=["lesson"]
# Recomputing instead of storing is what makes training long sequences affordable. Autograd through
# the recurrence keeps at least one state per token; the kernel keeps one state per chunk. For a
# typical layer in float32:

# %% tags=["lesson", "nbval-check-output"]
from lrnn_course.kernels.delta import COMPILED_CHUNK

batch, steps, heads, key_dim, value_dim, chunk = 8, 2048, 16, 128, 128, COMPILED_CHUNK
state_bytes = batch * heads * key_dim * value_dim * 4
print(
    f"B = {batch}, T = {steps}, H = {heads}, D_k = D_v = {key_dim}: one state for every head is "
    f"{state_bytes / 2**20:.0f} MiB"
)
print(
    f"states kept by autograd through the recurrence: {steps} × {state_bytes / 2**20:.0f} MiB = "
    f"{steps * state_bytes / 2**30:.0f} GiB"
)
print(
    f"states kept by the chunked kernel (C = {chunk}): {steps // chunk} × {state_bytes / 2**20:.0f} MiB = "
    f"{steps // chunk * state_bytes / 2**20:.0f} MiB"
)

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 6 · What the chunks buy
#
# The recurrence makes $T$ dependent steps; the kernel makes $T / C$ of them, each a handful of
# matrix products. On a GPU that is the difference between a loop of tiny launches and one kernel
# that keeps the tensor cores busy; `benchmarks/bench_kernels.py` measures it against
# flash-linear-attention (run it on a GPU; it writes `benchmarks/results/h100.json`). Under the interpreter every
# `tl.dot` is a NumPy call, so it shows only how the work grows, not how fast a GPU runs it. Here,
# the forward pass alone, on this machine:

# %% tags=["lesson"]
LENGTHS = {"small": (16, 32, 64, 128), "full": (512, 1024, 2048, 4096)}[SIZE]
BATCH, HEADS, DIM = {"small": (1, 1, 16), "full": (8, 16, 128)}[SIZE]


def forward_inputs(steps):
    """q, k, v, β in float32 on the kernel's device, with no gradient: the forward pass alone is timed."""
    return [x.to(kernel_device, torch.float32) for x in random_inputs(BATCH, steps, HEADS, DIM, DIM)[:4]]


with torch.no_grad():
    timings = bench.seconds_by_length(
        LENGTHS,
        forward_inputs,
        {
            "Triton kernel": chunk_delta_rule,
            "PyTorch chunk form (Lesson 09)": chunkwise.chunk_delta_rule,
            "PyTorch recurrence (Lesson 06)": deltanet.delta_rule,
        },
    )
viz.plot_timings(LENGTHS, timings, f"Delta rule forward, B = {BATCH}, H = {HEADS}, D = {DIM} ({triton_mode()} Triton)")
plt.show()
for label, seconds in timings.items():
    print(f"{label:32s}: {seconds[-1] * 1e3:8.2f} ms at T = {LENGTHS[-1]}")

# %% [markdown] tags=["lesson"]
# The kernel and the recurrence grow linearly in $T$; at these sizes the chunk form's time is mostly
# fixed overhead, so its line stays nearly flat. The chunk form does $O(T(C^2 + CD + D^2))$ work
# (the $C^2$ from building each chunk's UT transform $\mathcal T$): $1 + C/D + C^2/D^2$ times the recurrence's $O(T
# D^2)$.
# Even so, on this CPU the chunk form's matrix products beat the token loop; a GPU rewards them far
# more.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 7 · Why production kernels split it
#
# The kernel you completed does everything on its walk through the chunks: $A$, the substitution,
# $W$, $U$, the outputs. Yet only the state passes from chunk to chunk. Write §1's $U$ as
# $v_\text{new} = \tilde U - W S_0$ with $\tilde U = T\,\mathrm{diag}(\beta)\,V$: then
#
# - **parallel, every chunk at once** (no state needed): $A$, $T$, $W$, $\tilde U$;
# - **serial, chunk after chunk**: only $v_\text{new} = \tilde U - W S_0$ and
#   $S_C = g_C S_0 + K^\top \mathrm{diag}(\Gamma_{C\cdot})\, v_\text{new}$, two matrix products, storing
#   each $S_0$ and $v_\text{new}$;
# - **parallel again**: each chunk's outputs $O$ from its stored $S_0$ and $v_\text{new}$.
#
# The backward pass splits the same way. Only the state's gradient passes from chunk to chunk, backwards:
# with $P = \mathrm{tril}(QK^\top) \odot \Gamma$,
# $dv_\text{new} = \text{scale}\, P^\top dO + \mathrm{diag}(\Gamma_{C\cdot}) K\, dS_C$ and
# $dS_0 = g_C\, dS_C + \text{scale}\, Q^\top \mathrm{diag}(g)\, dO - W^\top dv_\text{new}$: three products a
# chunk on the serial path. $P^\top dO$ comes before it, in parallel; after it, in parallel again, one
# kernel takes every sum over the values at once ($dQ$, $dW = -dv_\text{new} S_0^\top$ and $K$'s share) and
# another goes back through $U$, $W$ and $T$ ($dA = -T^\top dT\, T^\top$) to $K$, $V$, $\beta$ and the gates.
#
# `lrnn_course.kernels.delta_split` is that split: three kernels forward, four backward. It is what
# `lrnn_course.ops` and the models run; this lesson's single kernel is the stepping stone. Same inputs, both
# paths, in float32, outputs and every gradient:

# %% tags=["lesson"]
from lrnn_course.kernels import delta_split


def by_split_kernels(q, k, v, beta, state):
    return delta_split.chunk_delta_rule(q, k, v, beta, initial_state=state)


inputs = [x.to(kernel_device, torch.float32) for x in random_inputs(1, 40, 2, 8, 12)]
with torch.no_grad():
    single = by_kernel(*inputs)
    split = by_split_kernels(*inputs)
for name, one, other in zip(("outputs", "final state"), single, split):
    print(f"{name:11s}: single kernel against split, largest difference {(one - other).abs().max().item():.1e}")
    assert torch.allclose(one, other, atol=1e-5)
single_gradients = bench.input_gradients(by_kernel, inputs, loss)
split_gradients = bench.input_gradients(by_split_kernels, inputs, loss)
for name, one, other in zip(names, single_gradients, split_gradients):
    print(f"dL/d{name:4s}: single kernel against split, relative difference {relative_error(other, one):.1e}")
    assert relative_error(other, one) < 1e-5

# %% [markdown] tags=["lesson"]
# What the split buys and costs at B = 8, T = 2048, H = 16, $D_k = D_v = 128$ in bfloat16. Every number
# is a count or a model, none a timing: programs from the grids, spills from compiling for an H100
# without one (`benchmarks/results/compile-sm90-triton3.9.txt`), bytes from the kernels' own loads and
# stores (`benchmarks/results/roofline.md`).
#
# | | single kernel | split |
# |---|---|---|
# | programs forward (an H100 has 132 multiprocessors) | 256 | 4096 / 512 / 4096 |
# | programs backward | 256 | 4096 / 512 / 8192 / 4096 |
# | serial path, per chunk | 64 chunks of 32: everything, substitution too | 32 chunks of 64: 2 products, 3 backward |
# | registers spilled a thread (forward / backward) | 1120 / 3568 bytes | 0 in every kernel |
# | bytes moved per element, forward + backward | 29.4 + 83.6 = 113.0 | 45.4 + 103.4 = 148.8 |
# | of which PyTorch around the kernels | 0.9 + 37.0 (sums of per-block partial gradients) | 0.9 + 0.9 |
#
# The price is the bytes: $W$, $\tilde U$, $v_\text{new}$, the chunk states and their gradients go out to
# memory and come back, and the serial kernels read $W$, $K$ (and $Q$ backward) once per block of value
# columns. The buy is the rest: 16 times the programs in the parallel kernels, twice in the serial ones, a
# serial path of matrix products of the state only, nothing spilled. No GPU has timed the split yet; only
# timing both on an H100 (`benchmarks/bench_kernels.py` runs both beside flash-linear-attention) will say
# which side wins.
#
# **What to remember.** The kernel is Lesson 09's chunk form, line by line: programs split batch,
# heads and value columns, which never mix; masks pad time and keys with identity steps; the
# triangular inverse is a masked forward substitution, the rest is `tl.dot`. The backward pass
# saves one state per chunk and recomputes the rest. Production kernels split the work, forward and
# backward: only the state pass is serial. K4 adds the gates and DeltaProduct and asks where the time goes.
