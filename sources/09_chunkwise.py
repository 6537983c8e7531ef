# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # 09 · Chunkwise parallel training: the WY/UT form of the delta rule
#
# DeltaNet's recurrence (Lesson 06) reads and writes its state once per token: $T$ dependent
# steps, each a small matrix-vector product. Accelerators are built for large matrix-matrix
# products instead. This lesson derives the *chunkwise* form (Yang et al. 2024) that trains DeltaNet,
# Gated DeltaNet and — through interleaving — DeltaProduct at speed, checks every step of the
# derivation numerically, and measures how it behaves in float32 as $\beta \to 2$. By the end you
# will be able to say:
#
# > *Inside a chunk of $C$ tokens the delta rule's writes solve a unit lower-triangular system;
# > its inverse $T = (I + \mathrm{tril}(\mathrm{diag}(\beta) K K^\top, -1))^{-1}$ turns the chunk into a few
# > matrix products, and only $T/C$ state updates remain sequential. The result equals the
# > recurrence to rounding error, and in float32 the error grows with the state's size, which
# > $\beta = 2$ lets grow.*
#
# **Plan.** 1 · why the recurrence is slow; 2 · the pseudo-values $u_t$; 3 · the triangular system
# and the UT transform (exercise); 4 · one chunk (exercise) and the full chunked form; 5 · chunk
# size; 6 · float32 at $\beta \to 2$.

# %% [markdown] tags=["practice"]
# # Practice · Lesson 09: chunkwise parallel training
#
# Two exercises: the UT transform of a chunk, and one chunk of the (gated) delta rule in the WY/UT
# form. Replace `raise NotImplementedError()` with your code and run the `check(...)` cell below
# it; call `check(..., hint=1)` for a hint. The lesson notebook `lessons/09_chunkwise.ipynb`
# explains every step.

# %% [markdown] tags=["instructor"] minutes={"teach": 45, "practice": 35}
# ## Talking points
#
# - §1: the timings are the machine's own; on the reference CPU the chunk form is about 6 times faster at
#   T = 1024, and a GPU widens the gap. Do not promise a number.
# - §2–3 carry the lesson: the pseudo-values $u_t = \beta_t(v_t - \alpha_t S_{t-1}^\top k_t)$ make every
#   step an addition, and substituting gives the unit lower-triangular system $(I + A)U = \ldots$. Work the
#   2 × 2 case on the board: $k_1 = (1, 0)$, $k_2 = (0.6, 0.8)$, $\beta_2 = 2$ give $T_{21} = -1.2$, the
#   first check row. Pause for questions here, before the exercises.
# - §3: $|T_{ij}|$ stays at most β (`2.000` for $D_k = 4$ at β = 2.0, `1.768` for $D_k = 16$): the transform
#   is well conditioned and needs no pivoting.
# - §4: the chunked form equals the recurrence to `1.8e-15`–`2.2e-15` at T = 1000 for chunks 16, 32, 64 and
#   100, gates and a reset included. §5: on the reference CPU the curve bottoms out near chunk 64; read
#   your own.
# - §6, the sentence to leave with: the chunk form is exact algebra; in float32 its error, a few times the
#   recurrence's, grows with the state, which β = 2 lets grow: T = 4096, β = 2.0 prints output RMS `5.853`,
#   errors `9.5e-06` chunked and `1.9e-06` recurrence. §6 (float64 recurrences up to T = 4096) is the
#   slowest cell; the whole notebook takes about half a minute on a laptop CPU.
#
# ## Common mistakes
#
# - **`09.ut_transform`**: the diagonal kept (`torch.tril` without `diagonal=-1`) or β on the columns
#   (`beta[..., None, :]`): “two steps by hand” is red. Have them write $A_{21}$ for two steps: row $i$
#   carries $\beta_i$, and the diagonal is zero.
# - **`09.ut_transform`**: `decay` ignored: “with a decay Γ (Gated DeltaNet)” is red (and
#   “keeps float32 as float32”, which uses a decay). Γ multiplies $KK^\top$ before the mask.
# - **`09.delta_rule_chunk`**: $U$ without the $- W S_0$ term: “from a zero state: the chunk alone” is
#   green, “from a given state S₀” red. The state enters twice: in $U$ and in the read-out.
# - **`09.delta_rule_chunk`**: a strict mask `tril(q kᵀ, -1)` in the read-out:
#   “from a zero state: the chunk alone” is red. Ask whether $o_t$ reads the state before or after token
#   $t$'s own write.
# - **`09.delta_rule_chunk`**: gates ignored: “gated: decay Γ and cumulative gates g” is red; `scale`
#   forgotten: “a chunk of 64, scale 1/√D_k”; the state updated in place: “does not modify its inputs”.

# %% tags=["parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": about half a minute on a laptop CPU; "full": longer sequences
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
import time

import matplotlib.pyplot as plt
import torch.nn.functional as F

from lrnn_course import chunkwise, deltanet

LENGTHS = {"small": (256, 512, 1024), "full": (1024, 4096, 16384)}[SIZE]
ERROR_LENGTHS = {"small": (256, 1024, 4096), "full": (1024, 4096, 16384)}[SIZE]
generator = torch.Generator().manual_seed(SEED)


def random_inputs(batch, steps, heads, key_dim, value_dim, beta_max=2.0, dtype=torch.float64):
    """Queries, unit keys, values and β ∈ [0, beta_max] in the (B, T, H, D) layout, on the lesson's device."""
    options = {"generator": generator, "dtype": dtype}
    q = torch.randn(batch, steps, heads, key_dim, **options)
    k = F.normalize(torch.randn(batch, steps, heads, key_dim, **options), dim=-1)
    v = torch.randn(batch, steps, heads, value_dim, **options)
    beta = beta_max * torch.rand(batch, steps, heads, **options)
    return [x.to(device) for x in (q, k, v, beta)]


def seconds(fn, repeats=3):
    """The best of ``repeats`` wall-clock times of fn() (synchronising the GPU when there is one)."""
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 1 · Why the recurrence is slow
#
# `deltanet.delta_rule` loops over time: $T$ steps, each reading $S^\top k_t$ and writing a rank-one
# update — work of size $D_k D_v$ per head, far too little to fill a GPU, and every step waits for
# the previous one. The chunked form does the same arithmetic in $T/C$ sequential steps of
# matrix products. Timed side by side on this machine (4 sequences, 4 heads, $D = 32$, float32):

# %% tags=["lesson"]
for steps in LENGTHS:
    q, k, v, beta = random_inputs(4, steps, 4, 32, 32, dtype=torch.float32)
    recurrent = seconds(lambda: deltanet.delta_rule(q, k, v, beta), repeats=1)
    chunked = seconds(lambda: chunkwise.chunk_delta_rule(q, k, v, beta, chunk_size=64))
    print(f"T = {steps:>5}: recurrence {recurrent * 1e3:8.1f} ms, chunked {chunked * 1e3:7.1f} ms, "
          f"{recurrent / chunked:.1f}x faster")

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 2 · Pseudo-values: every step is a rank-one addition
#
# Write the (gated) step as an addition: $S_t = \alpha_t S_{t-1} + k_t u_t^\top$ with the
# *pseudo-value*
#
# $$u_t = \beta_t\,(v_t - \alpha_t S_{t-1}^\top k_t).$$
#
# Unrolled inside a chunk that starts from $S_0$ (and, for now, $\alpha \equiv 1$):
# $S_t = S_0 + \sum_{i \le t} k_i u_i^\top$. So once the $u_t$ are known, every state and output
# of the chunk is a sum — a matrix product. Checked against the recurrence on 6 steps:

# %% tags=["lesson", "nbval-check-output"]
q, k, v, beta = random_inputs(1, 6, 1, 4, 3)
state = torch.randn(1, 1, 4, 3, generator=generator, dtype=torch.float64).to(device)
pseudo_values, running = [], state
for t in range(6):
    u = beta[:, t, :, None] * (v[:, t] - torch.einsum("bhkv,bhk->bhv", running, k[:, t]))
    pseudo_values.append(u)
    running = running + k[:, t, :, :, None] * u[:, :, None, :]
u = torch.stack(pseudo_values, dim=1)  # (B, T, H, D_v)
_, recurrent_state = deltanet.delta_rule(q, k, v, beta, initial_state=state)
as_sum = state + torch.einsum("bthk,bthv->bhkv", k, u)
print(f"S_6 as S_0 + Σ k_i u_iᵀ vs the recurrence: largest difference {(as_sum - recurrent_state).abs().max().item():.1e}")

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 3 · A triangular system, and the UT transform
#
# Substitute the sum into the definition of $u_t$:
#
# $$u_t = \beta_t v_t - \beta_t S_0^\top k_t - \sum_{i < t} \beta_t (k_t^\top k_i)\, u_i .$$
#
# Stack the chunk's $u_t$, $k_t$, $v_t$ as rows of $U$, $K$, $V$: with the strictly lower-triangular
# $A = \mathrm{tril}(\mathrm{diag}(\beta) K K^\top, -1)$,
#
# $$(I + A)\, U = \mathrm{diag}(\beta)\, V - \mathrm{diag}(\beta)\, K S_0 .$$
#
# $I + A$ is unit lower triangular, so it is inverted by **forward substitution**, row by row: row
# $i$ of $T = (I + A)^{-1}$ is $e_i - \sum_{j < i} A_{ij} T_j$. This $T$ is the *UT transform*. With a
# gate, $k_t^\top k_i$ is multiplied by the decay $\Gamma_{ti} = \alpha_{i+1} \cdots \alpha_t$ between the
# two steps, and $S_0$ by $g_t = \alpha_1 \cdots \alpha_t$.
#
# ### Exercise 1 · The UT transform
#
# Write `ut_transform(k, beta, decay=None)`: $T = (I + \mathrm{tril}(\mathrm{diag}(\beta)(K K^\top \odot \Gamma), -1))^{-1}$
# for keys `(..., C, D_k)`, $\beta$ `(..., C)` and the decay `(..., C, C)` (or None for no gate).
# `chunkwise.forward_substitution_inverse` spells the substitution out;
# `torch.linalg.solve_triangular` does the same in one call.

# %%
#| exercise: 09.ut_transform

# %% tags=["nbval-check-output"]
check("09.ut_transform", ut_transform)

# %% [markdown] tags=["lesson"]
# Because each $u_t$ depends only on earlier ones, $T$ is lower triangular with ones on its
# diagonal, and it never needs pivoting. With $\beta = 2$ and nearly parallel keys one might fear
# large entries; measured on random unit keys, a chunk of 64 in $\mathbb{R}^{16}$ and in $\mathbb{R}^4$:

# %% tags=["lesson", "nbval-check-output"]
for key_dim in (16, 4):
    for step_size in (1.0, 1.5, 2.0):
        keys = F.normalize(torch.randn(200, 64, key_dim, generator=generator, dtype=torch.float64), dim=-1)
        transform = ut_transform(keys, torch.full((200, 64), step_size, dtype=torch.float64))
        print(f"D_k = {key_dim:>2}, β = {step_size}: largest |T_ij| over 200 chunks {transform.abs().max().item():.3f}")

# %% [markdown] tags=["lesson"]
# Small: the entries of $T$ stay below $\beta$ here. The transform itself is well conditioned.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 4 · One chunk, then all of them
#
# With $T$: $W = T\,\mathrm{diag}(\beta g) K$ and $U' = T\,\mathrm{diag}(\beta) V$ depend on the chunk alone
# (a kernel computes them for all chunks in parallel); the state enters once, $U = U' - W S_0$. Then
#
# $$O = \text{scale}\cdot\big(\mathrm{diag}(g)\, Q S_0 + (\mathrm{tril}(Q K^\top) \odot \Gamma)\, U\big), \qquad
# S_C = g_C S_0 + K^\top \mathrm{diag}(\Gamma_{C\cdot})\, U .$$
#
# The first term of $O$ reads the state the chunk inherited; the second is attention inside the
# chunk, with the pseudo-values as values.
#
# ### Exercise 2 · One chunk of the delta rule
#
# Write `delta_rule_chunk(q, k, v, beta, state, alpha=None, scale=1.0)` for one chunk in the layout
# `(B, H, C, D)`: the chunk's outputs and the state after it. `chunkwise.decay_matrix(alpha)` gives
# $\Gamma$ (exact even for $\alpha = 0$: it multiplies gates, never divides them).

# %%
#| exercise: 09.delta_rule_chunk

# %% tags=["nbval-check-output"]
check("09.delta_rule_chunk", delta_rule_chunk)

# %% [markdown] tags=["lesson"]
# `chunkwise.chunk_delta_rule` pads the sequence to a multiple of $C$ with identity steps
# ($\beta = 0$, $\alpha = 1$), cuts it into chunks, and passes the state from one
# `delta_rule_chunk` to the next. In float64 it equals the recurrence to rounding error, for any
# length and chunk size, with gates, resets ($\alpha = 0$) and an initial state:

# %% tags=["lesson", "nbval-check-output"]
q, k, v, beta = random_inputs(2, 1000, 2, 16, 8)
alpha = torch.rand(2, 1000, 2, generator=generator, dtype=torch.float64).pow(0.1).to(device)
alpha[:, 500] = 0.0  # a reset in the middle
state = torch.randn(2, 2, 16, 8, generator=generator, dtype=torch.float64).to(device)
reference, reference_state = deltanet.delta_rule(q, k, v, beta, alpha, state)
for chunk_size in (16, 32, 64, 100):
    chunked, chunked_state = chunkwise.chunk_delta_rule(q, k, v, beta, alpha, state, chunk_size=chunk_size)
    error = max((chunked - reference).abs().max().item(), (chunked_state - reference_state).abs().max().item())
    print(f"T = 1000, chunk {chunk_size:>3}: largest difference from the recurrence {error:.1e}")

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 5 · Choosing the chunk size
#
# Per chunk the work is about $C^2 D$ (the products with $T$ and the intra-chunk attention) plus
# $C D^2$ (the state terms), so the total is $T(C D + D^2)$: larger chunks add work linearly in $C$,
# but cut the sequential steps to $T/C$. Small chunks leave the hardware idle between dependent
# steps; very large ones waste arithmetic. Measured here at $T = $ the longest length above:

# %% tags=["lesson"]
chunk_sizes = (8, 16, 32, 64, 128, 256)
q, k, v, beta = random_inputs(4, LENGTHS[-1], 4, 32, 32, dtype=torch.float32)
timings = [seconds(lambda: chunkwise.chunk_delta_rule(q, k, v, beta, chunk_size=size)) for size in chunk_sizes]
for size, timing in zip(chunk_sizes, timings):
    print(f"chunk {size:>3}: {timing * 1e3:7.1f} ms")
figure, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(chunk_sizes, [t * 1e3 for t in timings], marker="o", label=f"chunk_delta_rule, T = {LENGTHS[-1]}, {device.type}")
ax.set_xscale("log", base=2)
ax.set_xticks(chunk_sizes, [str(size) for size in chunk_sizes])
ax.set_title("Chunked delta rule: time against chunk size")
ax.set_xlabel("chunk size C")
ax.set_ylabel("time (ms)")
ax.legend()
plt.show()

# %% [markdown] tags=["lesson"]
# Too small a chunk pays for many sequential steps, too large a chunk for the $C^2$ work; the best
# size depends on the machine (read it off your curve). flash-linear-attention's Triton kernels use
# $C = 64$ on GPUs — big enough for the tensor cores, small enough for a chunk's $K$, $V$,
# $T$ and the state to stay in on-chip memory.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 6 · Float32 as $\beta \to 2$
#
# Training runs in float32 or bfloat16, not float64. How far does the chunked form drift from the
# exact recurrence, and does $\beta \to 2$ hurt? Below, the error of the float32 chunked form and of
# the float32 recurrence, both against the float64 recurrence, relative to the size of the
# outputs (an RMS ratio, as fla's tests use), for growing $T$ and $\beta$ held at one value:

# %% tags=["lesson"]
betas = (1.0, 1.5, 1.9, 1.99, 2.0)
errors = {"chunked": {}, "recurrence": {}}
for steps in ERROR_LENGTHS:
    q, k, v, _ = random_inputs(1, steps, 2, 16, 16)
    q = F.normalize(q, dim=-1)
    for step_size in betas:
        beta = torch.full((1, steps, 2), step_size, dtype=torch.float64, device=device)
        exact, _ = deltanet.delta_rule(q, k, v, beta)
        single = [x.float() for x in (q, k, v, beta)]
        for name, output in (("chunked", chunkwise.chunk_delta_rule(*single)[0]), ("recurrence", deltanet.delta_rule(*single)[0])):
            errors[name][steps, step_size] = ((output.double() - exact).square().mean().sqrt() / exact.square().mean().sqrt()).item()
        print(f"T = {steps:>5}, β = {step_size:<4}: output RMS {exact.square().mean().sqrt().item():7.3f}; relative error "
              f"chunked {errors['chunked'][steps, step_size]:.1e}, recurrence {errors['recurrence'][steps, step_size]:.1e}")

# %% tags=["lesson"]
figure, ax = plt.subplots(figsize=(7, 4))
for steps, colour in zip(ERROR_LENGTHS, ("tab:blue", "tab:orange", "tab:green")):
    ax.semilogy(betas, [errors["chunked"][steps, b] for b in betas], marker="o", color=colour, label=f"chunked, T = {steps}")
    ax.semilogy(betas, [errors["recurrence"][steps, b] for b in betas], marker="s", linestyle=":", color=colour,
                label=f"recurrence, T = {steps}")
ax.set_title("float32 error against the float64 recurrence")
ax.set_xlabel("β (every step)")
ax.set_ylabel("relative RMS error")
ax.legend(fontsize="small", ncol=2)
plt.show()

# %% [markdown] tags=["lesson"]
# Both forms stay within a small multiple of float32's resolution ($6 \cdot 10^{-8}$ per rounding): from
# about $2 \cdot 10^{-7}$ to about $10^{-5}$. The chunked form is 2–5 times less accurate than the
# recurrence, because each output sums a chunk's worth of terms at once. The error grows as $\beta \to 2$: below 2 each step shrinks the old state
# along its key, so the state forgets and stays small; at $\beta = 2$ nothing is ever erased (the
# transition is a reflection, norm-preserving), the writes pile up — the output RMS column grows
# with $T$ — and the absolute rounding error grows with the numbers being rounded. The UT transform
# is not the culprit (section 3: its entries stay small). In bfloat16 the same mechanism is $2^{16}$
# times coarser, which is why the kernels keep the state in float32.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - The delta rule inside a chunk is a unit lower-triangular system for the pseudo-values
#   $u_t = \beta_t(v_t - \alpha_t S_{t-1}^\top k_t)$; its inverse, the UT transform, comes from forward
#   substitution and needs no pivoting.
# - With $T$, a chunk is a handful of matrix products ($W$, $U'$, intra-chunk attention), and only
#   $T/C$ state updates are sequential; the chunked form equals the recurrence to ~$10^{-14}$ in
#   float64, gates and resets included.
# - In float32 its error stays within a small multiple of the recurrence's, and grows as $\beta \to 2$
#   because the state, no longer erased, grows.
#
# **Next:** the kernels track (K3) writes this chunk in Triton.
