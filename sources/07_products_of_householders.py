# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # 07 · Products of Householders and DeltaProduct
#
# One generalized Householder matrix per token (DeltaNet, Lesson 06) gives real eigenvalues only.
# This lesson multiplies several per token and measures what that buys: complex eigenvalues,
# every permutation, every orthogonal matrix. Then it builds DeltaProduct, which does exactly this,
# and the trick that runs it on any DeltaNet implementation. By the end you will be able to say:
#
# > *A product of $k$ generalized Householders has norm at most 1 for $\beta \in [0, 2]$; with
# > $k \le 2$ and $\beta \in [0, 1]$ its eigenvalues stay real in $[0, 1]$ (Proposition 1), with
# > $\beta \in [0, 2]$ they do not. Every orthogonal $n \times n$ matrix is a product of at most $n$
# > reflections, every permutation matrix $P_\sigma$ of exactly $n - c(\sigma)$. DeltaProduct with $n_h$
# > Householders per token is DeltaNet on a sequence $n_h$ times longer.*
#
# **Plan.** 1 · what a product of Householders is; 2 · Proposition 1, sampled; 3 · permutations as
# swaps (exercise) and what $n_h$ a group needs; 4 · every orthogonal matrix; 5 · DeltaProduct and
# the interleaving identity (exercise); 6 · trained on $\mathbb{Z}_5$: what gradient descent finds,
# and why it stops working at long lengths; 7 · an explorer.

# %% [markdown] tags=["notes"]
# Start from where Lesson 06 stopped: one generalized Householder per token gives DeltaNet real eigenvalues
# only, so it can flip (parity) but not rotate (counting mod 3). Ask the room how they would get a rotation out
# of reflections. Someone usually remembers that two reflections make one.
#
# This lesson needs Lessons 05 and 06. About 40 minutes of teaching, 25 of practice on two exercises. Section 6
# holds the one slow cell (two short trainings): start it early and talk while it runs.

# %% [markdown] tags=["practice"]
# # Practice · Lesson 07: products of Householders
#
# Two exercises: factor a permutation into reflections, and compute DeltaProduct by running the
# delta rule on an interleaved sequence. Replace `raise NotImplementedError()` with your code and
# run the `check(...)` cell below it; call `check(..., hint=1)` for a hint.
# The maths each exercise needs is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the experiments and figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 40, "practice": 25} needs=["05", "06"]
# ## Talking points
#
# - §1–2: a product of $k$ Householders is $I$ plus rank $\le k$, with norm $\le 1$ (`largest norm 1.000000`
#   for 1 to 4 factors). Read the Proposition 1 table row by row: two factors with β ∈ [0, 1] give `0.0%`
#   complex and `0.0%` negative; three factors `1.1%` complex; two factors with β ∈ [0, 2] `17.8%` complex
#   and `70.3%` negative; the largest |eigenvalue| is `1.000000` in every row. Then the three disc plots.
# - Pause after §2: real eigenvalues in [0, 1] are why [0,1] DeltaNet, even with two steps per token, can
#   neither flip (parity) nor rotate (mod 3).
# - §3: a permutation is $n - c(\sigma)$ swaps; the 3-cycle's eigenvalues print as `-0.500+0.866i`. $S_5$
#   has `24 elements with 4` reflections, hence $n_h = 4$. As rotations of $\mathbb{R}^3$ the cube's $S_4$
#   needs 2 (`23 elements with 2`) and $A_5$ needs 2 (`59 elements with 2`, against `24 elements with 4` as
#   5 × 5 permutation matrices): the representation, not only the group, sets $n_h$.
# - §4 can be skimmed (n = 16: `15 reflections` at determinant −1, `16` at +1, errors below `1e-15`). §5,
#   the sentence to leave with: DeltaProduct with $n_h$ Householders per token is DeltaNet on $n_h T$ steps,
#   the query at each token's last sub-step, the gate at its first; the identity prints `0.0e+00` through
#   the recurrence, for $n_h$ = 1 to 4 (Lesson 09 passes its chunked form the same way).
# - §6 holds the slow cell: two trainings on $\mathbb{Z}_5$ (the table's runs; one seed); start it, then
#   explain the task. Point at DeltaProduct's `1.000` up to L=128 and `0.438` at L=1024, at
#   $\beta \approx 1.997$ with angles `72.0303` and `72.0028` and modulus `0.997565` ("halves by T ~ 427"),
#   at the move 0 with no complex pair, and at snapping $\beta$ to 2: `0.438` to `0.644` at 1024.
# - §7: the explorer needs a live kernel with ipywidgets (the slides show it static). Set both β to 2: the
#   eigenvalues land on the unit circle at twice the angle between the keys.
#
# ## Common mistakes
#
# - **`07.permutation_reflections`**: the keys in reverse order, or swaps of neighbours
#   $(a_1 a_2), (a_2 a_3)$: “the 3-cycle 0 → 1 → 2 → 0 is two reflections, in order” is red. Have them push
#   $e_0$ through their list by hand for σ = (1, 2, 0): the first key acts first.
# - **`07.permutation_reflections`**: a swap for a fixed point, or one per cycle member:
#   “the identity needs none” is red (“… reflections, expected n - c(σ) = 0”). Ask how many swaps a cycle of
#   length $L$ needs. `swap_key(i, j, n)` without the `dtype`: “keys in the dtype asked for (float64 by default)”.
#   `torch.stack(keys)`: every row is red (“expected a list of keys”); the function returns a Python list.
# - **`07.delta_product_by_interleaving`**: the query at the first sub-step instead of the last:
#   “n_h = 1 is DeltaNet” stays green, “n_h = 2 equals the native recurrence” is red. Ask when DeltaProduct
#   reads out. The same row is red for `x.transpose(1, 2).flatten(1, 2)`: a token's sub-steps must be consecutive.
# - **`07.delta_product_by_interleaving`**: α at every sub-step, or at the last:
#   “gated, n_h = 4: α at each token's first sub-step” is red. The gate multiplies the state once per token,
#   before its first write.
# - **`07.delta_product_by_interleaving`**: `initial_state` not passed on to `delta_rule`: “n_h = 3 with an
#   initial state” is red; `scale` dropped: “scale 0.3 reaches the read-out”. `deltanet.delta_rule` called
#   instead of the argument: only “runs the delta_rule it is given” is red (“never called the delta_rule it
#   was given”); the Triton track passes its kernel there. The row passes a DeltaNet that also decays the state,
#   so calling the argument but returning something else is red too (“your result does not follow it”), and so
#   is one call per token (“lengths [2, 2, …]”). Queries written into `q` in place, or `alpha.unsqueeze_`:
#   “does not modify its inputs” (“modified its input `q`”); build new tensors. Under `torch.no_grad()`: only
#   “gradients match autograd through a float64 reference” is red.

# %% tags=["practice", "parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # unused here: the checks have fixed sizes (kept so that every notebook takes the same parameters)
DEVICE = "auto"  # "auto", "cpu" or "cuda"
SEED = 0

# %% tags=["lesson", "parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": more samples
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
# The exercises build on these helpers of the course library (`help(cycles)` says what one does).

# %% tags=["lesson"] slideshow={"slide_type": "skip"}
import dataclasses
import itertools
import math
from collections import Counter

import matplotlib.pyplot as plt
import torch.nn.functional as F
from IPython.display import Markdown, display

from lrnn_course import deltanet, deltaproduct, evidence, householder, train, viz

lrnn_course.threads_for_small_models(device)  # the loops below run tiny operations: one CPU thread is faster

SAMPLES = {"small": 4000, "full": 40_000}[SIZE]
COUNTER_STEPS = {"small": 10_000, "full": 100_000}[SIZE]
generator = torch.Generator().manual_seed(SEED)


def elements(count: int) -> str:
    return f"{count} element{'s' if count != 1 else ''}"


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · A product of Householders
#
# Write $C_i = I - \beta_i k_i k_i^\top$ with unit keys. The paper's set $\mathcal{M}^n_k(\Omega)$ holds the
# products $C_1 \cdots C_k$ whose factors have eigenvalue $1 - \beta_i \in \Omega$: DeltaNet's transitions lie
# in $\mathcal{M}^n_1([0, 1])$, DeltaNet $[-1,1]$'s in $\mathcal{M}^n_1([-1, 1])$, and DeltaProduct with $n_h$
# factors per token in $\mathcal{M}^n_{n_h}([-1, 1])$.

# %% [markdown] tags=["notes"]
# Two facts to state before any maths: a product of k Householders is the identity plus a matrix of rank at most
# k (it only acts in the span of its keys), and with beta in [0, 2] its norm never exceeds 1, so no product
# amplifies the state.
#
# The printed check: rank at most k and largest norm 1.000000 for one to four factors. Keep it short; the
# interesting part is the spectrum, next.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "-"}
# Two facts, measured on random products in $\mathbb{R}^8$: each product is the identity plus a matrix
# of rank at most $k$ (it only acts in the span of its keys), and with $\beta \in [0, 2]$ its norm
# never exceeds 1.

# %% tags=["lesson", "nbval-check-output"]
for factors in (1, 2, 3, 4):
    keys = torch.randn(SAMPLES // 10, factors, 8, generator=generator, dtype=torch.float64)
    betas = 2 * torch.rand(SAMPLES // 10, factors, generator=generator, dtype=torch.float64)
    matrices = householder.generalized_householder(keys, betas)
    product = matrices[:, 0]
    for index in range(1, factors):
        product = matrices[:, index] @ product
    ranks = torch.linalg.matrix_rank(
        product - torch.eye(8, dtype=torch.float64), atol=1e-10
    )  # absolute: small β, small entries
    largest_norm = torch.linalg.matrix_norm(product, ord=2).max().item()
    print(f"{factors} factor(s): rank of (product - I) at most {ranks.max().item()}, largest norm {largest_norm:.6f}")

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 2 · Proposition 1, sampled
#
# **Proposition 1, item 3** (Grazzi et al. 2025, §4.3). *Products of at most two generalized Householders
# with $\beta \in [0, 1]$ have only real eigenvalues in $[0, 1]$.* So DeltaNet with $\beta \in [0,1]$,
# even with two steps per token, can neither flip (parity needs an eigenvalue outside $[0, \infty)$) nor rotate
# (counting mod 3
# needs $e^{2\pi i/3}$). With $\beta \in [0, 2]$, or with three factors, the spectrum escapes the
# real line. `householder.spectrum_sample` draws random products in $\mathbb{R}^4$ and returns their
# eigenvalues:

# %% [markdown] tags=["notes"]
# Read the table row by row. One or two factors with beta in [0, 1]: no complex eigenvalue, no negative one.
# Three factors: complex pairs in about 1 % of samples, which is why the proposition says k <= 2. Two factors
# with beta in [0, 2]: about 18 % complex, 70 % with negative real part. The largest modulus is 1 in every row.
#
# Pause here and ask: what can DeltaNet [0, 1] not do, even with two steps per token? Neither flip (parity needs
# an eigenvalue below 0) nor rotate (mod 3 needs a complex one).

# %% tags=["lesson", "nbval-check-output"]
spectra = {}
print(f"{'factors':>7} {'beta range':>10} {'complex':>8} {'negative real part':>20} {'largest |eigenvalue|':>21}")
for factors, beta_max in itertools.product((1, 2, 3), (1.0, 2.0)):
    eigenvalues = householder.spectrum_sample(4, factors, beta_max, SAMPLES, generator)
    spectra[factors, beta_max] = eigenvalues
    complex_share = (eigenvalues.imag.abs() > 1e-10).any(dim=1).double().mean().item()
    negative_share = (eigenvalues.real < -1e-10).any(dim=1).double().mean().item()
    print(
        f"{factors:>7} {f'[0, {beta_max:g}]':>10} {complex_share:>8.1%} {negative_share:>20.1%} "
        f"{eigenvalues.abs().max().item():>21.6f}"
    )

# %% [markdown] tags=["lesson"]
# Read the table row by row: one or two factors with $\beta \in [0, 1]$ never leave $[0, 1]$; three
# factors already produce complex pairs in about 1 % of samples (the "$k \le 2$" in the proposition
# is needed); $\beta \in [0, 2]$ gives complex eigenvalues to about one two-factor product in six
# and eigenvalues with negative real part to most (about 70 %). The largest modulus is 1 everywhere:
# no product ever amplifies. On the unit disc:

# %% tags=["lesson"]
figure, axes = plt.subplots(1, 3, figsize=(15, 5))
for ax, (factors, beta_max) in zip(axes, ((2, 1.0), (3, 1.0), (2, 2.0))):
    eigenvalues = spectra[factors, beta_max].flatten()
    angles = torch.linspace(0, 2 * math.pi, 200)
    ax.plot(angles.cos(), angles.sin(), color="grey", linewidth=0.8, label="unit circle")
    ax.scatter(eigenvalues.real, eigenvalues.imag, s=2, alpha=0.3, label="eigenvalues of the samples")
    ax.set_aspect("equal")
    ax.set_xlim(-1.15, 1.15)
    ax.set_ylim(-1.15, 1.15)
    ax.set_title(f"{factors} factors, β ∈ [0, {beta_max:g}]")
    ax.set_xlabel("real part")
    ax.set_ylabel("imaginary part")
    ax.legend(loc="lower left", fontsize="small", markerscale=4)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Permutations are products of swaps
#
# Theorem 3 of the paper builds a one-layer LRNN for any group: map each input letter to the
# permutation matrix of its group element, start from $H_0 = (1, \dots, n)^\top$, and write nothing
# ($B \equiv 0$). Each permutation matrix must then be a product of Householders. It is: the swap
# of coordinates $i$ and $j$ is the reflection along $e_i - e_j$, and a cycle
# $(a_1\, a_2 \dots a_L)$ — $a_1 \to a_2 \to \dots \to a_L \to a_1$ — is $L - 1$ swaps: first
# $(a_1\, a_2)$, then $(a_1\, a_3)$, …, last $(a_1\, a_L)$. Over all cycles that is $n - c(\sigma)$ swaps,
# $c(\sigma)$ counting the cycles (fixed points included). No fewer reflections will do: $P_\sigma$ fixes
# exactly a $c(\sigma)$-dimensional subspace (the vectors whose coordinates are constant along each
# cycle: one free value per cycle), while a product of $r$ reflections fixes at least the intersection
# of their $r$ mirror hyperplanes, of dimension at least $n - r$; so $n - r \le c(\sigma)$.
#
# ### Exercise 1 · Factor a permutation
#
# Write `permutation_reflections(permutation, dtype=torch.float64)`. The permutation is the list
# $(\sigma(0), \dots, \sigma(n-1))$: `permutation[i]` is $\sigma(i)$. Return the list of keys
# $[k_1, \dots, k_m]$ whose reflections, $k_1$ acting first, multiply to the permutation matrix $P$ with
# $P e_i = e_{\sigma(i)}$: $P = H(k_m) \cdots H(k_2)\, H(k_1)$, so the first key of the list is the
# rightmost factor. Use `cycles(permutation)`, which lists each cycle as a tuple
# $(a_1, \sigma(a_1), \sigma^2(a_1), \dots)$ starting at its smallest element (a fixed point is a tuple of
# one), and `swap_key(i, j, n, dtype)`, the key $e_i - e_j$, from `lrnn_course.householder`.

# %% [markdown] tags=["notes"]
# On the board: the swap of i and j is the reflection along e_i - e_j, and a cycle of length L is L - 1 swaps.
# So a permutation takes n - c(sigma) reflections, and no fewer will do (the fixed-space argument on the slide).
#
# For Exercise 1, have them push e_0 through their list by hand for sigma = (1, 2, 0): the first key acts first.
# After the exercise, the counts: S5 has 24 elements that need 4 reflections, hence n_h = 4 with permutation
# matrices. As rotations of R^3, the cube's S4 and the icosahedron's A5 need only 2: the representation, not
# only the group, sets n_h.

# %%
#| exercise: 07.permutation_reflections

# %% tags=["nbval-check-output"]
check("07.permutation_reflections", permutation_reflections)

# %% [markdown] tags=["lesson"]
# The smallest interesting case, the paper's example: $v_1 = (1, -1, 0)/\sqrt{2}$ and
# $v_2 = (0, 1, -1)/\sqrt{2}$. The reflection along $v_1$ swaps the first two coordinates, the one
# along $v_2$ the last two, and their product is a 3-cycle — a rotation of $\mathbb{R}^3$ by $120°$
# about $(1, 1, 1)$, with eigenvalues $1$ and $e^{\pm 2\pi i/3}$:

# %% tags=["lesson", "nbval-check-output"]
v1 = torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64) / 2**0.5
v2 = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64) / 2**0.5
three_cycle = householder.product_of_reflections([v2, v1])  # v2 acts first
print("H(v1) H(v2) =")
print("\n".join("  " + " ".join(f"{x:+.0f}" for x in row) for row in three_cycle.tolist()))
print("eigenvalues:", ", ".join(f"{z.real:+.3f}{z.imag:+.3f}i" for z in torch.linalg.eigvals(three_cycle).tolist()))
print(
    "(H(v1) H(v2))³ = I: "
    f"{torch.allclose(torch.linalg.matrix_power(three_cycle, 3), torch.eye(3, dtype=torch.float64), atol=1e-12)}"
)

# %% [markdown] tags=["lesson"]
# How many reflections does a group need per token? The most over its elements. In $S_n$ an
# $n$-cycle needs $n - 1$, so a one-layer DeltaProduct that tracks $S_n$ by permutation matrices
# needs $n_h = n - 1$ Householders per token. Counted over every element of $S_3$, $S_4$ and $S_5$:

# %% tags=["lesson", "nbval-check-output"]
for n in (3, 4, 5):
    counts = Counter(len(permutation_reflections(list(p))) for p in itertools.permutations(range(n)))
    spread = ", ".join(f"{elements(count)} with {needed}" for needed, count in sorted(counts.items()))
    print(f"S{n}: {spread} reflections; n_h = {max(counts)} suffices")

# %% [markdown] tags=["lesson"]
# Permutation matrices are not the only way in. $S_4$ is also the group of the 24 rotations of a
# cube — signed permutation matrices of size 3 with determinant $+1$ — and every rotation of
# $\mathbb{R}^3$ is a product of two reflections. So a state of size 3 with $n_h = 2$ tracks $S_4$,
# where permutation matrices of size 4 needed $n_h = 3$. `householder.orthogonal_reflections`
# factors any orthogonal matrix into at most $n$ reflections (section 4 shows how); on the cube's
# rotations:

# %% tags=["lesson", "nbval-check-output"]
cube_rotations = []
for order in itertools.permutations(range(3)):
    for signs in itertools.product((1.0, -1.0), repeat=3):
        matrix = householder.permutation_matrix(list(order)) * torch.tensor(signs, dtype=torch.float64)
        if torch.linalg.det(matrix) > 0:
            cube_rotations.append(matrix)
needed = Counter()
worst_error = 0.0
for rotation_matrix in cube_rotations:
    keys = householder.orthogonal_reflections(rotation_matrix)
    needed[len(keys)] += 1
    worst_error = max(worst_error, (householder.product_of_reflections(keys, n=3) - rotation_matrix).abs().max().item())
print(
    f"{len(cube_rotations)} rotations of the cube; reflections needed: "
    + ", ".join(f"{elements(count)} with {k}" for k, count in sorted(needed.items()))
    + f"; largest error of the product {worst_error:.1e}"
)

# %% [markdown] tags=["lesson"]
# The same holds for $A_5$, the 60 even permutations of 5 points: it is the rotation group of the
# icosahedron. Generated below from two of its rotations — by $72°$ about a vertex $(0, 1, \varphi)$,
# $\varphi$ the golden ratio, and by $180°$ about the $z$-axis — by multiplying until nothing new
# appears. As $5 \times 5$ permutation matrices its 5-cycles need 4 reflections; as rotations of
# $\mathbb{R}^3$, every element needs at most 2. $S_5$ has no faithful 3-dimensional picture; in its
# smallest one, 4-dimensional, a 5-cycle turns two planes at once and still takes 4 reflections —
# consistent with the DeltaProduct authors' figure for $S_5$ in one layer (in their repository),
# where $n_h = 4$ is the first to track it beyond the training length.


# %% tags=["lesson", "nbval-check-output"]
def axis_rotation(axis, angle):
    """The rotation of R³ by ``angle`` about ``axis`` (Rodrigues' formula)."""
    unit = F.normalize(torch.tensor(axis, dtype=torch.float64), dim=0)
    cross = torch.tensor(
        [[0.0, -unit[2], unit[1]], [unit[2], 0.0, -unit[0]], [-unit[1], unit[0], 0.0]], dtype=torch.float64
    )
    return torch.eye(3, dtype=torch.float64) + math.sin(angle) * cross + (1 - math.cos(angle)) * cross @ cross


golden_ratio = (1 + 5**0.5) / 2
generators = (axis_rotation((0.0, 1.0, golden_ratio), 2 * math.pi / 5), axis_rotation((0.0, 0.0, 1.0), math.pi))
icosahedral, frontier = [torch.eye(3, dtype=torch.float64)], [torch.eye(3, dtype=torch.float64)]
while frontier:
    found = [g @ element for element in frontier for g in generators]
    frontier = []
    for candidate in found:
        if all((candidate - known).abs().max() > 1e-9 for known in icosahedral):
            icosahedral.append(candidate)
            frontier.append(candidate)

# %% tags=["lesson", "nbval-check-output"]
needed = Counter(len(householder.orthogonal_reflections(rotation_matrix)) for rotation_matrix in icosahedral)
even_permutations = [p for p in itertools.permutations(range(5)) if (5 - len(householder.cycles(p))) % 2 == 0]
as_permutations = Counter(len(permutation_reflections(list(p))) for p in even_permutations)
print(
    f"the icosahedron's rotations: {len(icosahedral)}; reflections needed: "
    + ", ".join(f"{elements(count)} with {k}" for k, count in sorted(needed.items()))
)
print(
    f"A5 as 5x5 permutation matrices: {len(even_permutations)}; reflections needed: "
    + ", ".join(f"{elements(count)} with {k}" for k, count in sorted(as_permutations.items()))
)

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 4 · Every orthogonal matrix
#
# The factorisation works column by column: a reflection along $e_i - q_i$ sends the current
# $i$-th column $q_i$ to $e_i$ and, because everything is orthogonal, leaves the columns already
# fixed alone; what remains after $n - 1$ columns is $\mathrm{diag}(1, \dots, 1, \pm 1)$. At most $n$
# reflections, and an even number exactly when the determinant is $+1$ (each reflection has
# determinant $-1$). Measured on random orthogonal matrices, each also with its first column negated
# to flip the sign of the determinant:

# %% [markdown] tags=["notes"]
# This section can be skimmed. The point: the same column-by-column trick factors any orthogonal matrix into at
# most n reflections, an even number exactly when the determinant is +1. The table shows n = 16 with 15
# reflections at determinant -1 and 16 at +1, errors below 1e-15.

# %% tags=["lesson", "nbval-check-output"]
for n in (2, 3, 8, 16):
    orthogonal, _ = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    flipped = orthogonal.clone()
    flipped[:, 0] = -flipped[:, 0]
    for matrix in (orthogonal, flipped):
        keys = householder.orthogonal_reflections(matrix)
        error = (householder.product_of_reflections(keys, n=n) - matrix).abs().max().item()
        count = f"{len(keys):>2} reflection{'s' if len(keys) != 1 else ''}"
        print(f"n = {n:>2}, determinant {torch.linalg.det(matrix).item():+.0f}: {count}, largest error {error:.1e}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · DeltaProduct
#
# DeltaProduct (Siems et al. 2025) gives each token $n_h$ keys, values and step sizes and runs $n_h$
# delta-rule steps before reading out:
#
# $$S_{t,j} = (I - \beta_{t,j} k_{t,j} k_{t,j}^\top)\, S_{t,j-1} + \beta_{t,j} k_{t,j} v_{t,j}^\top, \qquad S_{t,0} =
# S_{t-1},\ S_t = S_{t,n_h},$$
#
# so $A(x_t) = \prod_j (I - \beta_{t,j} k_{t,j} k_{t,j}^\top)$, a member of $\mathcal{M}^n_{n_h}([-1, 1])$. The gated
# variant multiplies by $\alpha_t$ once per token. `deltaproduct.delta_product` is this recurrence.
#
# The authors do not write a new kernel for it. They *interleave*: token $t$'s $n_h$ sub-steps
# become $n_h$ consecutive time steps of an ordinary DeltaNet, the query is zero at every sub-step
# but the last (so the other outputs are zero and discarded), the gate is $\alpha_t$ at the first
# sub-step and 1 at the others, and every $n_h$-th output is kept.
#
# ### Exercise 2 · DeltaProduct by interleaving
#
# Write `delta_product_by_interleaving(q, k, v, beta, alpha=None, initial_state=None, scale=None, *,
# delta_rule=deltanet.delta_rule)`
# with `interleave` (which turns `(B, T, n_h, ...)` into `(B, T·n_h, ...)`) and the function
# `delta_rule` it receives: `deltanet.delta_rule` unless the caller passes another implementation,
# as the Triton track does with its kernel. Any of them is called as
# `delta_rule(q, k, v, beta, alpha=None, initial_state=None, scale=None)` with q, k `(B, T, H, D_k)`,
# v `(B, T, H, D_v)`, beta and alpha `(B, T, H)`, initial_state `(B, H, D_k, D_v)`, and returns the pair
# `(outputs (B, T, H, D_v), final_state (B, H, D_k, D_v))`.

# %% [markdown] tags=["notes"]
# The sentence to leave with: DeltaProduct with n_h Householders per token is DeltaNet on a sequence n_h times
# longer, with the query only at each token's last sub-step and the gate only at its first. So it needs no
# kernel of its own; every fast DeltaNet, Lesson 09's chunked form and the Triton kernel of K4 included, runs
# it.
#
# For Exercise 2, ask when DeltaProduct reads out (after the last sub-step) and when the gate acts (once, before
# the first write). The identity prints 0.0e+00 for n_h = 1 to 4.

# %%
#| exercise: 07.delta_product_by_interleaving

# %% tags=["nbval-check-output"]
check("07.delta_product_by_interleaving", delta_product_by_interleaving)

# %% [markdown] tags=["lesson"]
# The identity holds to rounding error for any $n_h$: below, the interleaved sequence runs through
# the recurrence `deltanet.delta_rule` of Lesson 06. Any other implementation of DeltaNet can be
# passed as `delta_rule` the same way (Lesson 09's chunked form, the Triton track's kernel in K4),
# so DeltaProduct inherits every fast implementation of DeltaNet:

# %% tags=["lesson", "nbval-check-output"]
implementations = {"deltanet.delta_rule": deltanet.delta_rule}
for n_householder in (1, 2, 3, 4):
    q = torch.randn(2, 40, 2, 8, generator=generator, dtype=torch.float64)
    k = F.normalize(torch.randn(2, 40, n_householder, 2, 8, generator=generator, dtype=torch.float64), dim=-1)
    v = torch.randn(2, 40, n_householder, 2, 8, generator=generator, dtype=torch.float64)
    beta = 2 * torch.rand(2, 40, n_householder, 2, generator=generator, dtype=torch.float64)
    alpha = torch.rand(2, 40, 2, generator=generator, dtype=torch.float64)
    native, _ = deltaproduct.delta_product(q, k, v, beta, alpha)
    differences = []
    for name, implementation in implementations.items():
        interleaved, _ = delta_product_by_interleaving(q, k, v, beta, alpha, delta_rule=implementation)
        differences.append(f"{name} {(native - interleaved).abs().max().item():.1e}")
    print(f"n_h = {n_householder}: native vs interleaved, largest difference through " + ", through ".join(differences))

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 6 · Trained: does gradient descent find the rotation?
#
# Lesson 05 showed that two reflections compose a rotation, and that a rotation counts mod $m$, while
# real diagonal transitions cannot (Theorem 2). That is about what a finite-precision model can
# *represent*, not about what training finds.
# So train both kinds on **cycle navigation** on $\mathbb{Z}_5$: start at node 0 of a 5-cycle,
# read moves $-1$, $0$, $+1$, answer the final node (chance: 1 in 5). The paper did not run this
# task with these models; the theory predicts that a real diagonal model must fail at long lengths
# while two reflections per token can succeed.
#
# - **diagonal [−1,1]**: the one-layer diagonal LRNN of Lesson 04 (tanh gates), with a residual
#   path, width 32;
# - **DeltaProduct [−1,1]**: one layer, width 16, one head, $n_h = 2$ generalized Householder
#   factors per token with $\beta = 2\,\sigma(\cdot) \in [0, 2]$ (section 5).
#
# Both train on lengths 3–16 with the same data, steps and learning rate, and are tested on
# lengths up to 64 times longer.

# %% [markdown] tags=["notes"]
# Start the training cell first, then explain the task while it runs: cycle navigation on Z5, moves -1, 0, +1,
# answer the final node; chance is 1 in 5.
#
# Then read the results: the diagonal model does not even fit the training lengths; DeltaProduct is exact to
# about length 128 and fades after. Inside it: both betas just below 2, angles of about 72 degrees, modulus
# about 0.9976, so the start's signal halves by T of about 426. Snapping beta to 2 recovers part of the loss at
# 1024 (about 0.44 to 0.64). Ask what training would have to do to find beta = 2 exactly.

# %% tags=["lesson"]
diagonal_result = train.train(train.preset("cycle_diagonal", SIZE, device=DEVICE, seed=SEED))

# %% tags=["lesson"]
product_result = train.train(train.preset("cycle_deltaproduct", SIZE, device=DEVICE, seed=SEED))
cycle_results = [diagonal_result, product_result]
display(Markdown(evidence.evidence_table(cycle_results)))

# %% tags=["lesson", "nbval-check-output"]
near, far = (16, 32, 64, 128, 256), (64, 128, 256)
product_score, diagonal_score = product_result.final.mean(near), diagonal_result.final.mean(far)
print(
    evidence.verdict(
        "DeltaProduct [-1,1] reaches mean scaled accuracy >= 0.95 on lengths 16-256",
        [product_score],
        lambda score: score >= 0.95,
    )
)
print(evidence.verdict("diagonal [-1,1] stays <= 0.5 on lengths 64-256", [diagonal_score], lambda score: score <= 0.5))

# %% tags=["lesson"]
figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4))
viz.plot_length_generalisation(
    cycle_results, ax=left, title="Z5 cycle navigation: scaled accuracy by length", log_lengths=True
)
viz.plot_learning_curves(cycle_results, ax=right, title="Z5 cycle navigation: mean over the test lengths")
plt.show()

# %% [markdown] tags=["lesson"]
# The diagonal model does not even fit the training lengths, and what it learns fades with length.
# DeltaProduct is exact to length 128 or so and then degrades. Why not forever? Look inside: the
# layer reads a move through the product of its two Householder matrices,
# $A(x) = (I - \beta_2 k_2 k_2^\top)(I - \beta_1 k_1 k_1^\top)$, which is the identity except in the
# plane of the two keys. There it has a pair of eigenvalues $r e^{\pm i\varphi}$: a rotation by
# $\varphi$ that also shrinks by $r$. A perfect counter has $\varphi$ a multiple of $72° = 360°/5$
# and $r = 1$.

# %% tags=["lesson"]
layer = product_result.model.layers[0]
move_tokens = {"-1": 1, "0": 2, "+1": 3}
measured = {}  # per move: its two β, and the two eigenvalues of A(x) in the plane of its keys
with torch.no_grad():
    for move, token in move_tokens.items():
        x = product_result.model.first_layer_input([token])
        eigenvalues = torch.linalg.eigvals(layer.transitions(x)[0, 0].double().cpu())
        # Off the keys' plane A(x) is the identity, so the plane's two eigenvalues are those farthest from 1.
        in_plane = eigenvalues[(eigenvalues - 1).abs().argsort(descending=True)[:2]]
        measured[move] = (layer.betas_of(x)[0, :, 0].tolist(), in_plane)

# %% tags=["lesson"]
print(f"{'move':>4} {'beta_1':>7} {'beta_2':>7} {'angle phi (deg)':>16} {'modulus r':>10}")
rotation_of = {}
for move, (betas, in_plane) in measured.items():
    row = f"{move:>4} {betas[0]:>7.4f} {betas[1]:>7.4f}"
    if in_plane.imag.abs().max() < 1e-6:
        real_pair = ", ".join(f"{value:.3f}" for value in sorted(in_plane.real.tolist()))
        print(f"{row}   no complex pair; in-plane eigenvalues {real_pair}")
    else:
        rotation_of[move] = (math.degrees(abs(in_plane[0].angle().item())), abs(in_plane[0]).item())
        print(f"{row} {rotation_of[move][0]:>16.4f} {rotation_of[move][1]:>10.6f}")

# %% [markdown] tags=["lesson"]
# Gradient descent found the construction of Lesson 05's section 5: for $\pm 1$ both $\beta$ sit just below 2
# (two near-reflections) and compose a rotation by almost exactly $72°$. The move 0 rotates nothing;
# it shrinks its own key plane (two real eigenvalues, printed above, well below 1); for the counter to
# survive, that plane has to lie mostly away from the plane the counter turns in. Two small defects remain, and each
# predicts a length
# where counting must fail:
#
# - the **angle** misses $72°$ by $\varepsilon$; after $c$ moves the error is about $c\,\varepsilon$, fatal
#   at half a step, $36°$;
# - the **modulus** $r$ is below 1, because $\beta = 2\sigma(z)$ reaches 2 only as $z \to \infty$ and the
#   training lengths never asked for more: $r^{16}$ is already close to 1. The memory of the start
#   fades as $r^c$ while every token keeps writing new values, so the signal drowns.
#
# Each move type is a third of the tokens. A move's angle error adds up over that move only, so
# $c \approx T/3$ for the angle; the modulus of both $\pm 1$ moves is about the same, so it shrinks
# the start's signal over $c \approx 2T/3$ moves.

# %% tags=["lesson"]
for move, (angle, modulus) in rotation_of.items():
    error = abs(angle - 72 * round(angle / 72))
    angle_limit = 3 * 36 / error if error else float("inf")
    half_life = 1.5 * math.log(0.5) / math.log(modulus)
    print(
        f"move {move}: angle error {error:.4f} deg -> wrong after T ~ {angle_limit:,.0f}; "
        f"modulus {modulus:.6f} -> the start's signal halves by T ~ {half_life:,.0f}"
    )

# %% [markdown] tags=["lesson"]
# The measured accuracy starts to drop at a few hundred tokens — where the modulus, not the angle,
# runs out. A recipe follows: push $\beta$ to exactly 2 where it is already close, which sets
# $r = 1$ (a product of two exact reflections is a rotation). Here done after training, on the
# trained model, with nothing retrained:

# %% tags=["lesson"]
_, long_batches = train.evaluation_batches(
    dataclasses.replace(product_result.config, test_lengths=(256, 512, 1024)), device
)
before = {length: train.scaled_accuracy_on(product_result.model, batch) for length, batch in long_batches.items()}
# every β above 1.99 becomes exactly 2 in the forward pass: an exact reflection, and r = 1
layer.reflection_threshold = 1.99
after = {length: train.scaled_accuracy_on(product_result.model, batch) for length, batch in long_batches.items()}
layer.reflection_threshold = None
for length in long_batches:
    print(
        f"length {length:>5}: scaled accuracy {before[length]:.3f} as trained, {after[length]:.3f} with beta snapped "
        "to 2"
    )

# %% [markdown] tags=["lesson"]
# Snapping $\beta$ helps. The angle error alone would allow thousands of tokens (printed above),
# so at 1024 what remains is that error together with the values every token writes into the
# state. Another recipe, tried while writing this lesson and not run here, failed: training on
# lengths 3–64 from the first step (same 400 steps) learned nothing at all, not even the training
# lengths (scaled accuracy 0.04).
# Long sequences make the early gradient useless; a curriculum from short to long lengths, or a
# penalty pulling $\beta$ toward 0 or 2 during training, are the next things to try.
#
# The hand-built counter has neither defect: the same DeltaProduct recurrence with
# hand-set keys at $0°$ and $36°$ ($\pm 72°$ rotations), $\beta = 2$ for $\pm 1$ and $\beta = 0$ for 0,
# and no writes, is exact for all the random moves below, in float32.

# %% tags=["lesson", "nbval-check-output"]
moves = torch.randint(-1, 2, (1, COUNTER_STEPS), generator=torch.Generator().manual_seed(SEED))
# A move reads keys at angles (θ₁, θ₂), θ₁ acting first: H(θ₂) H(θ₁) turns by 2 (θ₂ - θ₁) = ±72°.
angles = torch.where(moves[..., None] < 0, torch.tensor([math.pi / 5, 0.0]), torch.tensor([0.0, math.pi / 5]))
keys = torch.stack([angles.cos(), angles.sin()], dim=-1).unsqueeze(3)  # (1, T, n_h = 2, 1 head, 2)
betas = 2.0 * (moves != 0).float()[..., None, None].expand(1, COUNTER_STEPS, 2, 1)
# S_0 = I and the query e₁ read out the first row of the accumulated rotation, (cos θ_t, -sin θ_t).
read_out, _ = deltaproduct.delta_product(
    torch.tensor([1.0, 0.0]).expand(1, COUNTER_STEPS, 1, 2),
    keys,
    torch.zeros(1, COUNTER_STEPS, 2, 1, 2),
    betas,
    initial_state=torch.eye(2).view(1, 1, 2, 2),
    scale=1.0,
)
nodes = torch.round(-householder.angle_of(read_out[:, :, 0].double()) / (2 * math.pi / 5)).long() % 5
exact = torch.equal(nodes, moves.cumsum(dim=1) % 5)
print(f"hand-built DeltaProduct counter, float32, {COUNTER_STEPS:,} random moves: every node right = {exact}")

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 7 · Explore
#
# Two keys in the plane, two step sizes. With both $\beta \le 1$ the eigenvalues stay on the real
# segment $[0, 1]$ however you turn the keys (Proposition 1). Push both $\beta$ towards 2 and they
# leave the real line as a complex pair; at $\beta_1 = \beta_2 = 2$ they sit on the unit circle at
# twice the angle between the keys — Lesson 05's rotation.

# %% [markdown] tags=["notes"]
# The explorer needs a live kernel with ipywidgets; on the slides it is static. In the notebook, set both betas
# to 2: the eigenvalues land on the unit circle at twice the angle between the keys, which is Lesson 05's
# rotation. Then lower one beta below 1 and watch the pair fall back to the real line.

# %% tags=["lesson", "widget"]
viz.householder_product_explorer()

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A product of $k$ generalized Householders is the identity plus rank $\le k$, with norm $\le 1$
#   for $\beta \in [0, 2]$ (measured up to $k = 4$ in $\mathbb{R}^8$).
# - Proposition 1, sampled: $k \le 2$ factors with $\beta \in [0, 1]$ never gave a complex or negative
#   eigenvalue; three factors gave complex pairs in about 1 % of samples, two factors with
#   $\beta \in [0, 2]$ in about one in six.
# - A permutation matrix $P_\sigma$ is exactly $n - c(\sigma)$ reflections (swaps suffice, and no fewer
#   will do), so one-layer DeltaProduct tracks $S_n$ by permutation matrices with $n_h = n - 1$; as
#   rotations of $\mathbb{R}^3$ (the cube's, the icosahedron's), $S_4$ and $A_5$ need only $n_h = 2$,
#   while $S_5$ needs 4. Every orthogonal matrix is at most $n$ reflections.
# - DeltaProduct with $n_h$ Householders per token equals DeltaNet on the interleaved sequence of
#   $n_h T$ steps (zero queries but the last, the gate at the first sub-step).
# - Trained on $\mathbb{Z}_5$ cycle navigation (lengths 3–16, one seed), a real diagonal model does not
#   even fit the training lengths; DeltaProduct with two Householders per token learns two
#   near-reflections composing a $72°$ rotation and stays exact to length 128 (0.990 at 256). It then
#   fades because $\beta < 2$ leaves the rotation's modulus $r < 1$; snapping $\beta$ to 2 recovers part
#   of the loss, and the hand-built counter with exact reflections is right at every one of 10 000 moves.
#
# **Next:** Lesson 08 puts these constructions to work on group word problems, by hand and by
# training; Lesson 09 makes DeltaNet — and so DeltaProduct — fast with the chunkwise form.

# %% [markdown] tags=["notes"]
# Ask someone to say why DeltaProduct can count mod 5 and DeltaNet [0, 1] cannot, in one sentence: two
# reflections compose a rotation; one generalized Householder with beta in [0, 1] has real eigenvalues in [0, 1]
# only.
#
# Then practice: two exercises (permutation_reflections, delta_product_by_interleaving). Lesson 08 puts these
# constructions to work on group word problems.
