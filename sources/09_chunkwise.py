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
# > its inverse $\mathcal T = (I + \mathrm{tril}(\mathrm{diag}(\beta) K K^\top, -1))^{-1}$ turns the chunk into a
# > few matrix products, and only $T/C$ state updates remain sequential. The result equals the
# > recurrence to rounding error; in float32, at $\beta = 2$, where the transitions preserve norms
# > and no rounding error is ever damped, its relative error grows about as $\sqrt T$.*
#
# **Plan.** 1 · why the recurrence is slow; 2 · the pseudo-values $u_t$; 3 · the triangular system
# and the UT transform (exercise); 4 · one chunk (exercise), the name "WY", and all the chunks
# (exercise); 5 · chunk size; 6 · float32 at $\beta \to 2$.

# %% [markdown] tags=["practice"]
# # Practice · Lesson 09: chunkwise parallel training
#
# Three exercises: the UT transform of a chunk, one chunk of the (gated) delta rule in the WY/UT
# form, and the driver that carries the state from chunk to chunk. Replace `raise NotImplementedError()` with your code
# and run the `check(...)` cell below
# it; call `check(..., hint=1)` for a hint.
# The maths each exercise needs is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the experiments and figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 45, "practice": 45} needs=["06"]
# ## Talking points
#
# - §1: the timings are the machine's own; the chunk form already wins on a CPU, and a GPU widens the
#   gap. Do not promise a number.
# - §2–3 carry the lesson: the pseudo-values $u_t = \beta_t(v_t - \alpha_t S_{t-1}^\top k_t)$ make every
#   step an addition, and substituting gives the unit lower-triangular system $(I + A)U = \ldots$. Work the
#   2 × 2 case on the board: $k_1 = (1, 0)$, $k_2 = (0.6, 0.8)$, $\beta_2 = 2$ give $\mathcal T_{21} = -1.2$, the
#   first check row. Pause for questions here, before the exercises.
# - §3: no off-diagonal $|\mathcal T_{ij}|$ exceeds β, by a theorem: $\mathcal T_{ij} = -\beta_i k_i^\top G_{i-1} \cdots
#   G_{j+1} k_j$,
#   and a product of generalized Householders has norm at most 1. So no pivoting, whatever the keys. The
#   condition number is not small (thousands at β = 2 with nearly parallel keys), only bounded.
# - §4, "WY": the chunk's update with $V = 0$ is $(I - K^\top W) S_0$, the recurrence's $G_C \cdots G_1 S_0$; so a
#   product of Householders is identity minus a thin product (Bischof & Van Loan's WY representation; the
#   UT transform is its compact triangular form). The cell prints a difference of `2.2e-16` in float64, and
#   `4.7e-01` for the product in the other order. Exercise 3 (the driver across chunks) takes about ten
#   of the practice minutes.
# - §4: the chunked form equals the recurrence to `2.2e-15`–`2.9e-15` at T = 1000 for chunks 16, 32, 64 and
#   100, gates and a reset included. §5: the cost is $T(C^2 + CD + D^2)$, the $C^2$ from building
#   $\mathcal T$; read the best chunk size off your own curve.
# - §6, the sentence to leave with: the chunk form is exact algebra; in float32 its error is a few times
#   the recurrence's, and relative to the outputs it keeps growing with T only near β = 2. At β = 2
#   reflections preserve norms and no rounding error decays: the recurrence prints `5.2e-07`, `1.0e-06`,
#   `2.0e-06` for T = 256, 1024, 4096, about ×2 per ×4 in T, a random walk. §6 (float64 recurrences up to
#   T = 4096) is the slowest cell.
#
# ## Common mistakes
#
# - **`09.ut_transform`**: the diagonal kept (`torch.tril` without `diagonal=-1`) or β on the columns
#   (`beta[..., None, :]`): “two steps by hand” is red. Have them write $A_{21}$ for two steps: row $i$
#   carries $\beta_i$, and the diagonal is zero.
# - **`09.ut_transform`**: `decay` ignored or transposed: “with a decay Γ and a reset (Gated DeltaNet)” is
#   red. Γ multiplies $KK^\top$ before the mask. (Multiplying $\mathcal T$ by Γ *after* inverting is right:
#   $\Gamma_{ij} = c_i / c_j$ for the cumulative gates $c$, so it is a similarity transform.)
# - **`09.ut_transform`**: the formula $(\mathrm{diag}(1/\beta) + L)^{-1}\,\mathrm{diag}(1/\beta)$: only
#   “β = 0 on some steps: their rows of T are rows of I” is red (NaN). The series $\sum_n (-A)^n$ or the
#   product $(I - A)(I + A^2)(I + A^4)\cdots$: exact on paper, but “nearly parallel keys, β = 2
#   (ill-conditioned)” is red with errors near `1e-2` in float64 — large powers of $A$ cancel. Forward
#   substitution meets no entry larger than β.
# - **`09.ut_transform`**: $\mathcal T$ filled row by row into a preallocated tensor: “gradient matches
#   autograd” says backward failed (an in-place write); into `torch.zeros(shape)` without `dtype=`:
#   “keeps float64 as float64”; numpy or `.detach()`: “gradient matches autograd”, not connected.
# - **`09.ut_transform`**: the keys normalised inside (“DeltaNet keys are unit vectors”): every row with unit
#   keys is green, “keys of any length: K as given” red. The formula takes $K$ as given. `decay.mul_(…)`: the
#   automatic row “does not modify its inputs”. `forward_substitution_inverse` of $A^\top$, transposed back:
#   the helper refuses an upper-triangular matrix on every row, and the report explains “two steps by hand”.
# - **`09.delta_rule_chunk`**: $U$ without the $- W S_0$ term: “from a zero state: the chunk alone” is
#   green, “from a given state S₀” red. The state enters twice: in $U$ and in the read-out.
# - **`09.delta_rule_chunk`**: a strict mask `tril(q kᵀ, -1)` in the read-out:
#   “one token from a zero state: o₁ = β₁(q₁·k₁)v₁” is red (it reads 0). Ask whether $o_t$ reads the state
#   before or after token $t$'s own write.
# - **`09.delta_rule_chunk`**: gates ignored, or the new state decayed by $g_C$ alone: “gated: decay Γ and
#   cumulative gates g” is red; Γ as $g_t / g_i$: only “gates at their edges: α = 0 (a reset), α = 1, β = 0,
#   β = 2” (NaN after a reset); `scale` forgotten: “a chunk of 64, scale 1/√D_k”; gates made with
#   `torch.ones(beta.shape)`: “keeps float64 as float64”; the state updated in place: “does not modify its
#   inputs”; $\mathcal T$ `.detach()`ed as “a constant of the chunk”: “gradient matches autograd”.
# - **`09.delta_rule_chunk`**: the recurrence token by token (`delta_rule_step` in a loop), or the new state as
#   $C$ rank-one updates: every number right, but “the WY form: the state enters a fixed number of times,
#   whatever C” counts the operations on tensors shaped like the state and finds more for 16 steps than for 8.
#   Keys normalised inside: “keys of any length: K as given”.
# - **`09.chunk_delta_rule`**: `range(T // C)` (no chunk at all when C > T), the outputs of the padding
#   kept, padding by repeating the last step (the final state is then the padded step's), or a scale of its
#   own: “one chunk: chunk_size ≥ T (T = 10, C = 64)”. So do a layout mixed up (`reshape(B, H, T, D)` for a
#   transpose, or the heads put first, which `delta_rule_chunk` refuses as B ≠ H) and the state it returns
#   dropped (`o, _ = delta_rule_chunk(...)`: the message says the final state is the one the sequence started
#   from, and the hint to keep it). Every chunk started from the initial state: “T = 48
#   in chunks of 16: the state carries across chunks”, which says the first chunk is right and the mismatch
#   is at t = 16. Full chunks only, the last one aligned to the end (steps run twice): “T = 40 in chunks of
#   16: the last chunk has 8 steps”. Padding α with 0 (`F.pad`'s default) resets the
#   state: “gated, T = 37 in chunks of 16: padding changes nothing”. A state of zeros instead of `state`:
#   “from an initial state S₀”; `alpha` not passed on: “gated, with a reset (α = 0)”; `scale` not passed
#   on (the chunk's default is 1): “scale=None means 1/√D_k in every chunk”.
# - **`09.chunk_delta_rule`**: “works chunk by chunk through delta_rule_chunk” swaps in a chunk function
#   that halves the state it returns and records its calls: calling `deltanet.delta_rule` (never called),
#   one call on the whole sequence (chunk_size ignored) or `torch.chunk` into unequal pieces (the result
#   does not follow) are red there though every number is right. `state.detach()` between chunks:
#   “gradient matches autograd”; outputs in `torch.zeros(...)`: “keeps float64 as float64”.

# %% tags=["practice", "parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # unused here: the checks have fixed sizes (kept so that every notebook takes the same parameters)
DEVICE = "auto"  # "auto", "cpu" or "cuda"
SEED = 0

# %% tags=["lesson", "parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": longer sequences
DEVICE = "auto"  # "auto", "cpu" or "cuda"
SEED = 0

# %% slideshow={"slide_type": "skip"}
import torch

import lrnn_course
from lrnn_course import check

device = lrnn_course.device(DEVICE)
torch.manual_seed(SEED)
print(f"lrnn_course {lrnn_course.__version__} on {device.type}")

# %% tags=["practice"]
# The exercises build on these helpers of the course library (`help(decay_matrix)` says what one does).

# %% tags=["lesson"] slideshow={"slide_type": "skip"}
import matplotlib.pyplot as plt
import torch.nn.functional as F

from lrnn_course import chunkwise, deltanet
from lrnn_course.bench import best_seconds, delta_inputs

LENGTHS = {"small": (256, 512, 1024), "full": (1024, 4096, 16384)}[SIZE]
ERROR_LENGTHS = {"small": (256, 1024, 4096), "full": (1024, 4096, 16384)}[SIZE]
generator = torch.Generator().manual_seed(SEED)


def random_inputs(batch, steps, heads, key_dim, value_dim, beta_max=2.0, dtype=torch.float64):
    """Queries, unit keys, values and β ∈ [0, beta_max] in the (B, T, H, D) layout, on the lesson's device."""
    inputs = delta_inputs(batch, steps, heads, key_dim, value_dim, generator, beta_max=beta_max, dtype=dtype)
    return [x.to(device) for x in inputs[:4]]


# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 1 · Why the recurrence is slow
#
# `deltanet.delta_rule` loops over time: $T$ steps, each reading $S^\top k_t$ and writing a rank-one
# update — work of size $D_k D_v$ per head, far too little to fill a GPU, and every step waits for
# the previous one. The chunked form computes the same result in $T/C$ sequential steps of
# matrix products. Timed side by side on this machine (4 sequences, 4 heads, $D = 32$, float32, the
# best of 3 runs each):

# %% tags=["lesson"]
for steps in LENGTHS:
    q, k, v, beta = random_inputs(4, steps, 4, 32, 32, dtype=torch.float32)
    recurrent = best_seconds(lambda: deltanet.delta_rule(q, k, v, beta))
    chunked = best_seconds(lambda: chunkwise.chunk_delta_rule(q, k, v, beta, chunk_size=64))
    print(
        f"T = {steps:>5}: recurrence {recurrent * 1e3:8.1f} ms, chunked {chunked * 1e3:7.1f} ms, "
        f"{recurrent / chunked:.1f}x faster"
    )

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · Pseudo-values: every step is a rank-one addition
#
# Write the (gated) step as an addition: $S_t = \alpha_t S_{t-1} + k_t u_t^\top$ with the
# *pseudo-value*
#
# $$u_t = \beta_t\,(v_t - \alpha_t S_{t-1}^\top k_t).$$
#
# Unrolled inside a chunk that starts from $S_0$ (and, for now, $\alpha \equiv 1$):
# $S_t = S_0 + \sum_{i \le t} k_i u_i^\top$. So once the $u_t$ are known, every state and output
# of the chunk is a sum — a matrix product.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "-"}
# Checked against the recurrence on 6 steps:

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
print(
    f"S_6 as S_0 + Σ k_i u_iᵀ vs the recurrence: largest difference {(as_sum - recurrent_state).abs().max().item():.1e}"
)

# %% [markdown] slideshow={"slide_type": "slide"}
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
# $i$ of $\mathcal T = (I + A)^{-1}$ is $e_i - \sum_{j < i} A_{ij} \mathcal T_j$. This $\mathcal T$ is the *UT
# transform*. With a
# gate, $k_t^\top k_i$ is multiplied by the decay $\Gamma_{ti} = \alpha_{i+1} \cdots \alpha_t$ between the
# two steps, and $S_0$ by $g_t = \alpha_1 \cdots \alpha_t$.
#
# ### Exercise 1 · The UT transform
#
# Write `ut_transform(k, beta, decay=None)`: $\mathcal T = (I + \mathrm{tril}(\mathrm{diag}(\beta)(K K^\top \odot
# \Gamma), -1))^{-1}$
# for keys `(..., C, D_k)` (as given, of any length: the layers normalise them, not this function), $\beta$ `(..., C)`
# and the decay `(..., C, C)` (or None for no gate).
# `chunkwise.forward_substitution_inverse` spells the substitution out;
# `torch.linalg.solve_triangular` does the same in one call.

# %%
#| exercise: 09.ut_transform

# %% tags=["nbval-check-output"]
check("09.ut_transform", ut_transform)

# %% [markdown] tags=["lesson"]
# Because each $u_t$ depends only on earlier ones, $\mathcal T$ is lower triangular with ones on its
# diagonal. Its off-diagonal entries have a meaning. With $S_0 = 0$ and the transitions
# $G_m = I - \beta_m k_m k_m^\top$, step $j$ writes $\beta_j k_j v_j^\top$, the steps in between multiply
# that write by $G_{j+1}$, …, $G_{i-1}$, and step $i$ reads it with $k_i$, so for $j < i$
#
# $$\mathcal T_{ij} = -\beta_i\, k_i^\top G_{i-1} \cdots G_{j+1}\, k_j .$$
#
# Checked on a chunk of 8 with random $\beta \in [0, 2]$, building $k_i^\top G_{i-1} \cdots G_{j+1}$ one
# factor at a time:

# %% tags=["lesson", "nbval-check-output"]
keys = F.normalize(torch.randn(8, 4, generator=generator, dtype=torch.float64), dim=-1)
betas = 2 * torch.rand(8, generator=generator, dtype=torch.float64)
transform = ut_transform(keys, betas)
worst = 0.0
for i in range(8):
    carried = keys[i]  # k_iᵀ G_{i-1} ⋯ G_{j+1}: no factor yet for j = i - 1
    for j in range(i - 1, -1, -1):
        worst = max(worst, (transform[i, j] + betas[i] * carried @ keys[j]).abs().item())
        carried = carried - betas[j] * (carried @ keys[j]) * keys[j]  # one more factor: times G_j
print(f"𝒯_ij against -β_i k_iᵀ G_(i-1) ⋯ G_(j+1) k_j: largest difference {worst:.1e}")

# %% [markdown] tags=["lesson"]
# Unit keys and $\beta \le 2$ make each $G_m$ a matrix of norm at most 1, and so their product
# (Lesson 07): no off-diagonal entry of $\mathcal T$ exceeds $\beta$, whatever the keys. That is a
# theorem, not luck, and it is why forward substitution needs no pivoting: it meets no large numbers.
# Measured on 200 chunks of 64 random unit keys in $\mathbb{R}^{16}$ and in $\mathbb{R}^4$, and on keys
# that are nearly parallel (a shared direction plus 10 % noise), with the largest condition number
# $\|\mathcal T\|\,\|\mathcal T^{-1}\|$ beside it:

# %% tags=["lesson", "nbval-check-output"]
direction = torch.randn(200, 1, 16, generator=generator, dtype=torch.float64)
key_sets = {
    "random, D_k = 16": torch.randn(200, 64, 16, generator=generator, dtype=torch.float64),
    "random, D_k = 4": torch.randn(200, 64, 4, generator=generator, dtype=torch.float64),
    "nearly parallel": direction + 0.1 * torch.randn(200, 64, 16, generator=generator, dtype=torch.float64),
}
for name, raw_keys in key_sets.items():
    keys = F.normalize(raw_keys, dim=-1)
    smallest_cosine = (keys @ keys.transpose(-1, -2)).abs().min().item()
    print(f"{name} keys (smallest |cos| between two keys of a chunk {smallest_cosine:.2f}):")
    for beta_value in (1.0, 1.5, 2.0):
        transform = ut_transform(keys, torch.full((200, 64), beta_value, dtype=torch.float64))
        off_diagonal = torch.tril(transform, diagonal=-1).abs().max().item()
        condition = torch.linalg.cond(transform).max().item()
        print(
            f"  β = {beta_value}: largest off-diagonal |𝒯_ij| {off_diagonal:.3f}, largest condition number "
            f"{condition:7.1f}"
        )

# %% [markdown] tags=["lesson"]
# The bound holds in every row; in $\mathbb{R}^4$ and for nearly parallel keys the largest entry comes
# within 0.002 of it. The condition number is another matter: it grows with $\beta$ and with aligned
# keys, into the thousands. It is bounded too — every entry of $\mathcal T$ and of $I + A$ is at most
# $\max(1, \beta)$ in size, so each norm is at most $\max(1, \beta)\,C$ and the condition number at most
# $(2 \cdot 64)^2 \approx 1.6 \cdot 10^4$ for these chunks — but it is not small. Section 6 measures what
# it costs in float32.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · One chunk, then all of them
#
# With $\mathcal T$: $W = \mathcal T\,\mathrm{diag}(\beta g) K$ and $U' = \mathcal T\,\mathrm{diag}(\beta) V$ depend on
# the chunk alone
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
# `(B, H, C, D)`: the chunk's outputs and the state after it, with the formulas above — the state enters
# through $W S_0$, $Q S_0$ and $g_C S_0$ only, never token by token — and the keys as given (any length).
# `chunkwise.decay_matrix(alpha)` gives $\Gamma$ (exact even for $\alpha = 0$: it multiplies gates, never
# divides them).

# %%
#| exercise: 09.delta_rule_chunk

# %% tags=["nbval-check-output"]
check("09.delta_rule_chunk", delta_rule_chunk)

# %% [markdown] tags=["lesson"]
# ### Where the name "WY" comes from
#
# Take a chunk with no gate and no values ($V = 0$). Its formulas give $U = -W S_0$ and
# $S_C = S_0 + K^\top U = (I - K^\top W)\, S_0$; the recurrence gives $S_C = G_C \cdots G_2 G_1 S_0$, with
# Lesson 06's generalized Householders $G_t = I - \beta_t k_t k_t^\top$ and $G_1$ acting first. Both
# hold for every $S_0$, so
#
# $$G_C \cdots G_2\, G_1 = I - K^\top W, \qquad W = \mathcal T\,\mathrm{diag}(\beta)\, K :$$
#
# a product of $C$ Householders is the identity minus one product of a $D_k \times C$ and a $C \times D_k$
# matrix. Bischof and Van Loan (1987) found this form for products of Householder *reflections*, writing
# it $I + W Y^\top$ with two tall matrices $W$ and $Y$: the **WY representation**. It lets a blocked QR
# factorisation apply many reflections as two matrix products instead of one rank-one update each —
# the reason the chunked form is fast here, too. Schreiber and Van Loan (1989) made it compact,
# $I + Y S Y^\top$ with a small triangular $S$, and Joffrain, Low, Quintana-Ortí, van de Geijn and Van Zee
# (2006) read that triangular factor straight off the Gram matrix $Y^\top Y$ — a diagonal plus its
# strictly triangular part, inverted — and called it the **UT transform**. Here $K^\top$ plays $Y$, and for
# $\beta_t \ne 0$ the factor $\mathcal T\,\mathrm{diag}(\beta) = (\mathrm{diag}(\beta)^{-1} + \mathrm{tril}(K K^\top,
# -1))^{-1}$
# is built exactly so, lower instead of upper triangular because the first key acts first. The
# generalized Householders of DeltaNet ($\beta \in [0, 2]$, not only reflections at $\beta = 2$) keep the form.
# Checked on a chunk of 8 keys in $\mathbb{R}^5$, with the product built one factor at a time:

# %% tags=["lesson", "nbval-check-output"]
wy_generator = torch.Generator().manual_seed(SEED)  # a stream of its own: the cells below draw what they drew before
wy_keys = F.normalize(torch.randn(8, 5, generator=wy_generator, dtype=torch.float64), dim=-1)
wy_betas = 2 * torch.rand(8, generator=wy_generator, dtype=torch.float64)
w = ut_transform(wy_keys, wy_betas) @ (wy_betas[:, None] * wy_keys)  # W = 𝒯 diag(β) K, (C, D_k)
identity = torch.eye(5, dtype=torch.float64)
in_order, other_order = identity, identity
for key, b in zip(wy_keys, wy_betas):
    householder = identity - b * torch.outer(key, key)
    in_order = householder @ in_order  # G_t after G_1, …, G_(t-1), as the recurrence applies them
    other_order = other_order @ householder
wy_form = identity - wy_keys.T @ w
print(f"G_8 ⋯ G_1 against I - Kᵀ W: largest difference {(in_order - wy_form).abs().max().item():.1e}")
print(
    f"G_1 ⋯ G_8 against I - Kᵀ W: largest difference {(other_order - wy_form).abs().max().item():.1e} (the order "
    "matters)"
)

# %% [markdown]
# ### Exercise 3 · All the chunks: the state passes from chunk to chunk
#
# Write `chunk_delta_rule(q, k, v, beta, alpha=None, initial_state=None, scale=None, chunk_size=64)`: the
# whole sequence, in the layout `(B, T, H, D)` of `deltanet.delta_rule` and with its result
# `(outputs, final_state)` — the outputs `(B, T, H, D_v)` and the state after step $T$, `(B, H, D_k, D_v)`.
# Chunk $n$ holds steps $nC, \dots, nC + C - 1$; when $C$ does not divide $T$ the last chunk is shorter:
# slice it, or pad it at its end with steps that change nothing ($\beta = 0$, $\alpha = 1$) and drop their
# outputs. Call `delta_rule_chunk` once per chunk, in its layout `(B, H, C, D)`: the first chunk starts
# from the initial state, every later one from the state the previous call returned. The stub has
# already checked the inputs and set `state` ($S_0$, zeros when `initial_state` is None) and `scale`
# ($1/\sqrt{D_k}$ when None). It calls your `delta_rule_chunk` from Exercise 2; if that one does not pass
# yet, run `from lrnn_course.chunkwise import delta_rule_chunk` first.

# %%
#| exercise: 09.chunk_delta_rule

# %% tags=["nbval-check-output"]
check("09.chunk_delta_rule", chunk_delta_rule)

# %% [markdown] tags=["lesson"]
# The library's `chunkwise.chunk_delta_rule` is this function: it pads the sequence to a multiple of $C$
# with identity steps ($\beta = 0$, $\alpha = 1$), cuts it into chunks, and passes the state from one
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
# Per chunk the work is about $C^3$ to build $\mathcal T$ (`solve_triangular` against the $C \times C$
# identity), $C^2 D$ for the products with $\mathcal T$ and the intra-chunk attention, and $C D^2$ for
# the state terms. Over $T/C$ chunks the total is $T(C^2 + C D + D^2)$: larger chunks add work,
# quadratically in $C$ once $C$ exceeds $D$, but cut the sequential steps to $T/C$. Small chunks
# leave the hardware idle between dependent steps; very large ones waste arithmetic. Measured here
# at the longest length above ($T = 1024$ at `SIZE = "small"`):

# %% tags=["lesson"]
chunk_sizes = (8, 16, 32, 64, 128, 256)
q, k, v, beta = random_inputs(4, LENGTHS[-1], 4, 32, 32, dtype=torch.float32)
timings = [best_seconds(lambda: chunkwise.chunk_delta_rule(q, k, v, beta, chunk_size=size)) for size in chunk_sizes]
for size, timing in zip(chunk_sizes, timings):
    print(f"chunk {size:>3}: {timing * 1e3:7.1f} ms")
figure, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(
    chunk_sizes, [t * 1e3 for t in timings], marker="o", label=f"chunk_delta_rule, T = {LENGTHS[-1]}, {device.type}"
)
ax.set_xscale("log", base=2)
ax.set_xticks(chunk_sizes, [str(size) for size in chunk_sizes])
ax.set_title("Chunked delta rule: time against chunk size")
ax.set_xlabel("chunk size C")
ax.set_ylabel("time (ms)")
ax.legend()
plt.show()

# %% [markdown] tags=["lesson"]
# Too small a chunk pays for many sequential steps, too large a chunk for the $T C^2$ work; the best
# size depends on the machine (read it off your curve). flash-linear-attention's Triton kernels use
# $C = 64$ on GPUs — big enough for the tensor cores, small enough for a chunk's $K$, $V$,
# $\mathcal T$ and the state to stay in on-chip memory.

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
    for beta_value in betas:
        beta = torch.full((1, steps, 2), beta_value, dtype=torch.float64, device=device)
        exact, _ = deltanet.delta_rule(q, k, v, beta)
        single = [x.float() for x in (q, k, v, beta)]
        for name, output in (
            ("chunked", chunkwise.chunk_delta_rule(*single)[0]),
            ("recurrence", deltanet.delta_rule(*single)[0]),
        ):
            errors[name][steps, beta_value] = (
                (output.double() - exact).square().mean().sqrt() / exact.square().mean().sqrt()
            ).item()
        print(
            f"T = {steps:>5}, β = {beta_value:<4}: output RMS {exact.square().mean().sqrt().item():7.3f}; relative "
            "error "
            f"chunked {errors['chunked'][steps, beta_value]:.1e}, recurrence "
            f"{errors['recurrence'][steps, beta_value]:.1e}"
        )

# %% tags=["lesson"]
# Evenly spaced categories, not a β axis: 1.9, 1.99 and 2.0 would overlap on a linear one.
positions = range(len(betas))
figure, ax = plt.subplots(figsize=(7, 4))
for steps, colour in zip(ERROR_LENGTHS, ("tab:blue", "tab:orange", "tab:green")):
    ax.semilogy(
        positions, [errors["chunked"][steps, b] for b in betas], marker="o", color=colour, label=f"chunked, T = {steps}"
    )
    ax.semilogy(
        positions,
        [errors["recurrence"][steps, b] for b in betas],
        marker="s",
        linestyle=":",
        color=colour,
        label=f"recurrence, T = {steps}",
    )
ax.set_xticks(positions, [f"{b:g}" for b in betas])
ax.set_title("float32 error against the float64 recurrence")
ax.set_xlabel("β (every step; evenly spaced, not to scale)")
ax.set_ylabel("relative RMS error")
ax.legend(fontsize="small", ncol=2)
plt.show()

# %% [markdown] tags=["lesson"]
# Both forms stay within a small multiple of float32's resolution ($6 \cdot 10^{-8}$ per rounding): from
# about $2 \cdot 10^{-7}$ to about $10^{-5}$. The chunked form is 2–5 times less accurate than the
# recurrence — the price of computing a chunk at once, through $\mathcal T$ and sums over the chunk —
# and that factor changes little with $T$ (about 3.5 to 4.5 in the rows with $\beta \ge 1.99$).
#
# The errors are relative to the output RMS, so rounding errors that merely scaled with the numbers
# being rounded would cancel in the ratio; what makes them grow is memory. Below $\beta = 2$ each step
# shrinks the state along its key, old rounding errors decay with the old state, and the relative
# error levels off as $T$ grows (flat in the β = 1.0 and 1.5 rows, level after $T = 1024$ at β = 1.9;
# at β = 1.99 the state forgets so slowly that the error still grows across these lengths). At
# $\beta = 2$ every transition is a reflection and preserves norms: every rounding error is carried
# forward undamped, the errors add up like a random walk, and the relative error grows about as
# $\sqrt T$ — ×2 for each ×4 in $T$ in the β = 2 rows. (The output RMS grows as $\sqrt T$ there too:
# nothing written is ever erased.) The chunked form's error grows at the same rate, so the growth
# comes from the state carried from chunk to chunk, not from the work inside each chunk. In bfloat16
# the same mechanism starts from a rounding $2^{16}$ times coarser, which is why the kernels keep the
# state in float32.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - The delta rule inside a chunk is a unit lower-triangular system for the pseudo-values
#   $u_t = \beta_t(v_t - \alpha_t S_{t-1}^\top k_t)$; its inverse, the UT transform, comes from forward
#   substitution and needs no pivoting.
# - With $\mathcal T$, a chunk is a handful of matrix products ($W$, $U'$, intra-chunk attention), and
#   only $T/C$ state updates are sequential; the chunked form equals the recurrence to a few times
#   $10^{-15}$ in float64 (at most $3 \cdot 10^{-15}$ in section 4), gates and resets included. No
#   off-diagonal entry of $\mathcal T$ exceeds $\beta$, whatever the keys.
# - In float32 its error stays within a small multiple of the recurrence's. Relative to the outputs,
#   it levels off as $T$ grows for $\beta < 2$, where old rounding errors decay; at $\beta = 2$ the
#   transitions preserve norms, the errors accumulate undamped, and it grows about as $\sqrt T$.
#
# **Next:** Lesson 10 opens the trained networks of Lessons 04–08; the kernels track (K3) writes this chunk
# in Triton.
