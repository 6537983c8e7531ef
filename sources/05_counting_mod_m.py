# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # 05 · Counting mod m (Theorem 2)
#
# Lessons 03 and 04 showed that one negative eigenvalue is enough for parity — counting modulo 2.
# What about counting modulo 3? This lesson shows that real diagonal and triangular transitions cannot
# do it, that a full matrix with real eigenvalues can only by an accident of rounding, and that two
# reflections can, robustly. By the end you will be able to say:
#
# > *On the word $1^k$ a real diagonal or triangular state in finite precision ends up with period 1
# > or 2, whatever the rounding model, so it cannot count mod 3; a rotation by $2\pi/m$ counts mod $m$,
# > its eigenvalues $e^{\pm 2\pi i/m}$ are complex, and the product of two reflections is such a
# > rotation.*
#
# **Plan.** 1 · the statement; 2 · real diagonal states end 1- or 2-periodic, measured; 3 · a full
# matrix with real eigenvalues, and why the rounding model matters; 4 · a rotation counts; 5 · two
# reflections make a rotation; 6 · the counter, and what finite precision does to it; 7 · an exact
# counter from swaps; 8 · an explorer. (Lesson 07 trains models on this task.)

# %% [markdown] tags=["practice"]
# # Practice · Lesson 05: counting mod m
#
# Two exercises: compose two reflections into a rotation, and count the ones of a bit string mod m
# with it. Replace `raise NotImplementedError()` with your code and run the `check(...)` cell below
# it; call `check(..., hint=1)` for a hint.
# The maths each exercise needs is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the experiments and figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 45, "practice": 25} needs=["03"]
# ## Talking points
#
# - The sentence to leave with: *real diagonal or triangular transitions leave a state on $1^k$ with
#   period 1 or 2 in any rounding model, so they cannot count mod 3; a rotation by $2\pi/m$ counts mod
#   $m$, and two reflections ($\beta = 2$) make it.*
# - Section 1: Theorem 2 as the final version's abstract words it, "non-triangular matrices are
#   needed to count modulo 3", and why the earlier "complex eigenvalues" was looser (products over
#   tokens can rotate). Name the rounding model: the proof's is exact states, rounded where read.
# - Section 2: the sweep prints only `period 1: 1514 of 2001 gates` and `period 2: 487 of 2001 gates`.
# - Section 3 is the surprise: a full real-eigenvalue matrix counts $1^k$ mod 3 for 30 000 steps when
#   rounding is fed back (`per_operation` and `per_step` rows: no state at two residues), not with exact
#   states (`at_read_out`). The census: triangular matrices never end in a multiple of 3. Ask the room
#   why a training run would not find or keep such a counter.
# - Section 4: the rotation's orbit `0 120 240 0 120 240 0` has period 3, its eigenvalues are
#   `-0.5000+0.8660i` and `-0.5000-0.8660i`.
# - Section 5: two reflections rotate by twice the angle between their keys; this is the line between
#   one Householder per token (real eigenvalues) and DeltaProduct (Lesson 07). Pause for questions
#   before the exercises.
# - Sections 6–7: float16 fails after `885` ones read, against `886` predicted; bfloat16 has the smaller
#   step error yet fails first (step `710`, `370` ones) because every product is rounded; float32 would
#   last `11,740,768` ones. The counter built from swaps stays exact in float16 (`True`).
# - Section 8: at $\theta_1 - \theta_2 = 90°$ the product is $-I$: parity again.
#
# ## Common mistakes
#
# - **`05.reflection_product`**: multiplying in the other order, $H(\theta_2) H(\theta_1)$, fails
#   "matches H(θ₁) H(θ₂), entry by entry" and "the order matters: H(1.3) H(0.4)" with the off-diagonal
#   sign flipped (`yours -0.973848, expected 0.973848`): it rotates the other way. Point at the docstring.
# - **`05.reflection_product`**: projections $I - uu^\top$ instead of reflections fail "is the rotation
#   by 2(θ₁ - θ₂)" and the eigenvalue row (`+0.0000+0.0000i, +0.2500+0.0000i`): ask where
#   $I - \beta uu^\top$ sends $u$ for $\beta = 1$ and $\beta = 2$. A float64 result whatever `dtype`
#   fails "dtype=torch.float32 gives float32"; a `torch.eye(2)` without `dtype` fails only
#   "dtype=torch.float16 gives float16" (`dtype torch.float32`). Keys from `torch.tensor([cos, sin])`
#   without `dtype` (float32) then `.to(dtype)`: every entry-by-entry row is red, and the report explains
#   "the default dtype, float64, to float64's precision" (`… about float32's rounding`).
# - **`05.mod_counter`**: a count of the ones — `bits.long().cumsum(1) % m`, a Python counter,
#   `np.cumsum`, a matmul with a triangular matrix of ones, or angles $2\pi/m$ added up and turned into
#   cos/sin — gets every value row right but fails "counts by rotating the state: transition = the
#   rotation by 4π/3 reads 2c mod 3" (`yours are the counts c mod 3`): the check hands the counter another
#   $A(1)$ and its readings must follow. Adding up the angle of `transition` instead of rotating the state
#   fails "counts by rotating the state: a transition that is not a rotation". A counter without the
#   `transition` argument fails both with `unexpected keyword argument 'transition'`. These two rows rank
#   below the rows with the default $A(1)$: they explain only a counter whose readings are right.
# - **`05.mod_counter`**: a machine that reads wrong is explained by "all ones, m = 3: 1 2 0 1 2 0 1", with
#   what its readings have in common: `h @ A` for a row vector $h$ (multiplying by $A^\top$) or
#   `reflection_product(2π/m, 0)` gives `yours are (-c) mod 3`; `torch.floor` `one below the count at some
#   steps`; `acos` `read a state at angle -θ as the one at θ`; no `% m` `yours hold -1, outside 0 .. 2`;
#   the reading taken before the step `the readings before each step`; $A(1)$ applied at a 0 too fails
#   "random bits, m = 3" (`yours advance at every step, at a 0 too`). Readings as floats or `int32`:
#   "returns whole numbers as torch.long".
# - **`05.mod_counter`**: a step that rotates by $\pi/m$ instead of $2\pi/m$ fails "all ones, m = 3:
#   1 2 0 1 2 0 1" (`yours 0.000000, expected 1.000000` at `t=0`): ask by how much
#   $H(\theta_1) H(\theta_2)$ rotates. Writing `3` for the modulus fails "m = 5".
# - **`05.mod_counter`**: writing into `bits` turns "does not modify its input" red; the value rows
#   give the counter copies, so they stay right about the answer.

# %% tags=["parameters", "lesson"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": 100 000 counter steps
DEVICE = "auto"  # "auto", "cpu" or "cuda"
SEED = 0

# %% tags=["parameters", "practice"] slideshow={"slide_type": "skip"}
SIZE = "small"  # the exercises are the same at every size; only the lesson notebook trains
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
import math
from collections import Counter

import matplotlib.pyplot as plt

from lrnn_course import householder, precision, viz

lrnn_course.threads_for_small_models(device)  # the loops below run tiny operations: one CPU thread is faster

COUNTER_STEPS = {"small": 10_000, "full": 100_000}[SIZE]

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 1 · The statement
#
# Counting the ones of a bit string modulo $m$ is the simplest task beyond parity: the answer after
# $1^k$ is $k \bmod m$, which cycles with period $m$.
#
# **Theorem 2** (Grazzi et al., ICLR 2025). The final version of the paper (arXiv 2411.12537v5)
# summarises it in its abstract as: *"non-triangular matrices are needed to count modulo 3"*. The
# theorem itself is stated for an $L$-layer finite-precision LRNN and the word $(1^m)^*$, $m$ not a
# power of two: it can be recognised only if, in some layer $i$, a product $A(x_1) \cdots A(x_{2^{i-1}})$
# of $2^{i-1}$ consecutive transition matrices has an eigenvalue that is not real. A real triangular
# matrix has its diagonal entries as eigenvalues, and products of triangular matrices stay
# triangular, so real diagonal and triangular transitions never qualify, at any depth — hence the
# abstract's wording. (An earlier version of the abstract said "complex eigenvalues are needed". Our
# reading of the change: the condition is on products of transitions, and a product of matrices with
# real eigenvalues can have complex ones — section 5 composes two reflections into a rotation.)
#
# Like Theorem 1 (Lesson 03), the theorem is proved in a rounding model: exact states, rounded where
# they are read. For diagonal and triangular transitions the mechanism holds in every rounding model,
# and it is Lesson 03's. On $1^k$ a diagonal layer runs the same map over and over. Each coordinate
# $h_k = a h_{k-1} + b$ with $a \in [0, 1]$ is monotone and freezes; with $a \in [-1, 0)$ one step
# reverses the order and two steps restore it, so the even and odd steps are monotone separately and
# the coordinate ends in a 2-cycle or at a fixed point. (Rounding to the nearest number is monotone,
# so these orders survive it.) In a triangular matrix each coordinate is such a recurrence driven by
# coordinates that already repeat. Layer 1's state ends with period 1 or 2, and so does any decoder's
# output. Layer 2 reads a 2-periodic input, so over two steps it applies one fixed product
# $A(x_2) A(x_1)$ (again real triangular), and its period divides 4; by induction layer $L$'s divides
# $2^L$. Powers of two never give mod 3.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 2 · Real diagonal states end 1- or 2-periodic
#
# A sweep: 2 001 gates from $-1$ to $1$, each with a random input, iterated together on $1^k$ in
# float16 with every operation rounded (PyTorch's per-operation model, `precision.iterate`) — one
# coordinate per gate, a diagonal layer 2 001 wide — for 5 000 steps.
# `precision.coordinate_periods` then reads off the period each coordinate has settled into.

# %% tags=["lesson", "nbval-check-output"]
generator = torch.Generator().manual_seed(SEED)
gates = torch.linspace(-1, 1, 2001, dtype=torch.float64)
drives = torch.randn(2001, generator=generator, dtype=torch.float64)
periods = precision.coordinate_periods(precision.iterate(gates, drives, 5000, "float16"))
for period, count in sorted(Counter(periods.tolist()).items()):
    label = "not repeating yet" if period == 0 else f"period {period}"
    print(f"{label}: {count} of {len(gates)} gates")

# %% [markdown] tags=["lesson"]
# Only periods 1 and 2. With the whole state as one vector the joint period is the least common
# multiple of the coordinates' periods — still 1 or 2. Counting mod 3 needs the answer to cycle
# through three values, so from the step where the state starts repeating, any decoder is wrong on
# at least one length in every three.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 3 · A full matrix with real eigenvalues: the rounding model decides
#
# The monotone argument needs a diagonal or triangular matrix. Take a full $2 \times 2$ one instead,
# with real eigenvalues, both negative:
#
# $$A = \begin{pmatrix} -0.2512 & -0.8628 \\ 0.1926 & -1.1172 \end{pmatrix}, \quad
# b = \begin{pmatrix} 0.02425 \\ 0.3479 \end{pmatrix}, \quad
# h_0 = \begin{pmatrix} -1.0713 \\ 0.9365 \end{pmatrix},$$
#
# all rounded to `float16`, and read $1^k$ for 30 000 steps ($A(0) = I$, $b(0) = 0$: a 0 leaves the
# state alone) in the three rounding models of `precision.iterate_linear`: `per_operation` (every
# product and sum rounded and fed back, as PyTorch computes), `per_step` (each step exact, the new
# state rounded once and fed back) and `at_read_out` (exact states, rounded only where they are
# read: the model of the paper's proofs). `precision.residue_conflicts` asks whether a lookup decoder
# can read $k \bmod 3$ off the states: it counts the distinct states and those seen at two lengths
# with different residues.

# %% tags=["lesson", "nbval-check-output"]
A = torch.tensor([[-0.2512, -0.8628], [0.1926, -1.1172]])
b = torch.tensor([0.02425, 0.3479])
h0 = torch.tensor([-1.0713, 0.9365])
eigenvalues = torch.linalg.eigvals(A.to(torch.float16).double())
print("eigenvalues of A in float16:", ", ".join(f"{z.real:+.4f}{z.imag:+.4f}i" for z in eigenvalues.tolist()))
print(f"{'rounding':>14} {'distinct states':>16} {'states at two residues':>23} {'ends in period':>15}")
for rounding in precision.ROUNDINGS:
    orbit = precision.iterate_linear(A, b, 30_000, "float16", h0, rounding)  # (30 000, 1, 2)
    distinct, conflicting = precision.residue_conflicts(orbit[:, 0], 3)
    period = precision.orbit_periods(orbit[-64:]).item()
    print(f"{rounding:>14} {distinct:>16} {conflicting:>23} {period:>15}")

# %% [markdown] tags=["lesson"]
# With rounding fed back, the state of this real-eigenvalue matrix falls into a cycle whose length
# is a multiple of 3, and no state is seen at two residues: a lookup decoder counts $1^k$ mod 3
# exactly, for every $k$ up to 30 000, and, since the cycle repeats, beyond. With exact states the
# orbit converges (both eigenvalues have modulus below 1), its rounded copies end constant, and some
# states must serve two residues: no counter. So the period-3 cycle is made by rounding — by where
# the map's rounding errors happen to send the state near its fixed point — not by the matrix.
#
# How common is it? A census of random non-triangular matrices with real eigenvalues in $[-1, 1]$,
# against triangular ones, each with a random input term and start, 3 000 steps, the period each
# orbit ends in (0: not settled within the last 64 steps):

# %% tags=["lesson", "nbval-check-output"]
census_generator = torch.Generator().manual_seed(SEED)
families = {
    "non-triangular": precision.real_spectrum_matrices(8_000, -1.0, 1.0, "float16", census_generator),
    "triangular": precision.real_spectrum_matrices(3_000, -1.0, 1.0, "float16", census_generator, triangular=True),
}
print(f"{'matrices':>15} {'count':>6} {'rounding':>14} {'a multiple of 3':>16}  periods (period: how many)")
for family, matrices in families.items():
    for rounding in precision.ROUNDINGS:
        periods = precision.period_census(matrices, 3000, "float16", rounding, census_generator)
        threes = sum(count for period, count in periods.items() if period and period % 3 == 0)
        print(
            f"{family:>15} {len(matrices):>6} {rounding:>14} {threes:>16}  "
            + ", ".join(f"{p}: {n}" for p, n in periods.items())
        )

# %% [markdown] tags=["lesson"]
# Triangular matrices end with period 1 or 2 in every model, as the argument says; exact states
# rounded at read-out do so for every matrix, as Theorem 2 says in its model. With rounding fed back,
# about 1 to 2 % of the non-triangular matrices of this census end in cycles whose length is a
# multiple of 3. Such a
# counter is an accident: it depends on the dtype, the matrix and the start, and nothing in training
# would find or keep it. A **rotation** counts mod $m$ for a reason that does not depend on rounding:
# its eigenvalues are complex, so even in exact arithmetic its orbit cycles. The rest of the lesson
# builds one, and measures how long rounding lets it count.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 4 · A rotation counts
#
# Leave the diagonal. In the plane, the rotation by $2\pi/3$
#
# $$R = \begin{pmatrix} \cos\frac{2\pi}{3} & -\sin\frac{2\pi}{3} \\ \sin\frac{2\pi}{3} & \cos\frac{2\pi}{3}
# \end{pmatrix}$$
#
# sends $e_1$ around three points of the unit circle: $R^3 = I$, period 3. Its eigenvalues are the
# complex numbers $e^{\pm 2\pi i/3}$ — no real matrix with real eigenvalues has this orbit.

# %% tags=["lesson", "nbval-check-output"]
R = householder.rotation(2 * math.pi / 3)
eigenvalues = torch.linalg.eigvals(R)
print("eigenvalues of R:", ", ".join(f"{z.real:+.4f}{z.imag:+.4f}i" for z in eigenvalues.tolist()))
orbit = [torch.linalg.matrix_power(R, k) @ torch.tensor([1.0, 0.0], dtype=torch.float64) for k in range(7)]
# modulo 360: R^3 e1 lands a rounding error below 2π, which would print as 360
print(
    "angle of R^k e1 in degrees, k = 0..6:",
    " ".join(f"{round(math.degrees(householder.angle_of(v).item())) % 360}" for v in orbit),
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · Two reflections make a rotation
#
# The matrix $I - \beta\,k k^\top$ with a unit vector $k$ (a *generalized Householder* matrix; Lesson 06
# shows it is DeltaNet's transition) has eigenvalue $1 - \beta$ along $k$ and 1 on the directions
# orthogonal to $k$: always real. With $\beta = 2$ it is a **reflection** $H(k) = I - 2kk^\top$,
# eigenvalue $-1$. One reflection cannot rotate, but two can: in the plane, with $k$ at angles
# $\theta_1, \theta_2$,
#
# $$H(\theta_1)\,H(\theta_2) = \text{rotation by } 2(\theta_1 - \theta_2).$$
#
# So a layer that multiplies two such matrices per token can count mod 3 (Lesson 07 builds it:
# DeltaProduct), while one layer with one real-eigenvalue matrix per token cannot do it robustly.
#
# ### Exercise 1 · Compose two reflections
#
# Write `reflection_product(first_angle, second_angle, dtype=torch.float64)`: the $2 \times 2$ matrix
# $H(\theta_1) H(\theta_2)$ with $H(\theta) = I - 2uu^\top$, $u = (\cos\theta, \sin\theta)$.

# %%
#| exercise: 05.reflection_product

# %% tags=["nbval-check-output"]
check("05.reflection_product", reflection_product)

# %% [markdown] tags=["lesson"]
# The keys $\theta_1 = 60°$ and $\theta_2 = 0°$ give the rotation by $120°$ of section 4 (the widget
# at the end lets you move both keys):

# %% tags=["lesson"]
viz.plot_reflection_product(math.pi / 3, 0.0)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · The counter
#
# A two-dimensional LRNN without input term: $h_t = A(x_t)\,h_{t-1}$, $h_0 = e_1$, with
# $A(1) = H(\pi/m)\,H(0)$ (the rotation by $2\pi/m$) and $A(0) = I$. After reading $c$ ones the state
# sits at the angle $2\pi c/m$; the decoder rounds the angle to the nearest multiple of $2\pi/m$.
#
# ### Exercise 2 · Count mod m
#
# Write `mod_counter(bits, modulus, transition=None)`: for a `(B, T)` tensor of zeros and ones, return
# the counts $c_t \bmod m$ of ones in every prefix, shape `(B, T)`, as a LongTensor (`torch.int64`) —
# computed by this LRNN with the state in the dtype of `bits`, each count read off the state $h_t$ by
# rounding its angle to the nearest multiple of $2\pi/m$. `transition` is $A(1)$: by default
# $H(\pi/m)\,H(0)$ from your `reflection_product`; given a $2 \times 2$ matrix, use it instead. The check
# hands your counter other transitions and expects the readings of the states they produce, so a count
# of the ones (a cumulative sum, a Python counter) that never looks at the state does not pass.

# %%
#| exercise: 05.mod_counter

# %% tags=["nbval-check-output"]
check("05.mod_counter", mod_counter)

# %% [markdown] tags=["lesson"]
# In exact arithmetic the counter is exact forever. In a dtype its angle drifts; the decoder
# tolerates an angle error up to $\pi/m$, so the counter stays exact until the drift reaches that.
# The drift has two sources. The *systematic* one: the step matrix itself is rounded, so each 1 rotates
# by $2\pi/m + \varepsilon$ instead of $2\pi/m$, and after $c$ ones the angle is off by $c\varepsilon$ —
# wrong once $c\,|\varepsilon| > \pi/m$. The *random* one: every product $A h$ is rounded again.
# Measured below for $m = 3$ on random bits: $\varepsilon$ per dtype, the number of ones the
# systematic drift alone would allow, and the first step (and ones read by then) where the count
# is actually wrong.

# %% tags=["lesson", "nbval-check-output"]
bits = torch.randint(2, (1, COUNTER_STEPS), generator=torch.Generator().manual_seed(SEED))
truth = bits.cumsum(dim=1) % 3
print(f"{'dtype':>9} {'step angle error':>17} {'ones until π/3':>16} {'first wrong step':>17} {'ones read':>10}")
for name in ("float16", "bfloat16", "float32", "float64"):
    dtype = precision.DTYPES[name]
    one_step = householder.reflection_product(math.pi / 3, 0.0, dtype) @ torch.tensor([1.0, 0.0], dtype=dtype)
    angle_error = householder.angle_of(one_step.double()).item() - 2 * math.pi / 3
    allowed = f"{math.pi / 3 / abs(angle_error):,.0f}" if angle_error else "never"
    wrong = (mod_counter(bits.to(dtype), 3) != truth).nonzero()
    if len(wrong):
        first = wrong[0, 1].item()
        measured = f"{first + 1:>17} {bits[0, : first + 1].sum().item():>10}"
    else:
        measured = f"{f'none in {COUNTER_STEPS:,}':>17} {'':>10}"
    print(f"{name:>9} {angle_error:>+17.2e} {allowed:>16} {measured}")

# %% [markdown] tags=["lesson"]
# float16 fails where its systematic error predicts (885 ones read, against 886 predicted).
# bfloat16 has the *smaller* step error here, yet fails first: with 8 significant bits every
# product is rounded by up to $2^{-9} \approx 2 \cdot 10^{-3}$, and those random errors dominate.
# float32 would need more than ten million ones. Section 3's real-eigenvalue counter came from
# rounding; this one counts because it rotates, in exact arithmetic forever — and in 16 bits for
# a while.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 7 · An exact counter from swaps
#
# Reflections need not be rotations of the plane. In $\mathbb{R}^3$ the swap of coordinates $i$ and
# $j$ is the reflection $H(k) = I - 2kk^\top$ with $k = (e_i - e_j)/\sqrt2$, and two swaps compose the
# cyclic permutation $e_1 \to e_2 \to e_3 \to e_1$: a counter mod 3 whose matrices hold only 0 and 1,
# so nothing is ever rounded. (`generalized_householder` divides by $\|k\|^2$, so the code passes the
# unnormalised $e_i - e_j$ and the entries stay exact.) Theorem 3 (Lessons 07 and 08) builds any group this
# way, with at most one reflection fewer per letter than the number of states that letter moves; a
# permutation $\sigma$ of $n$ points needs exactly $n - c(\sigma)$, $c$ counting its cycles.

# %% tags=["lesson", "nbval-check-output"]
first_swap = householder.generalized_householder(torch.tensor([1.0, -1.0, 0.0]), 2.0)
second_swap = householder.generalized_householder(torch.tensor([0.0, 1.0, -1.0]), 2.0)
cycle = first_swap @ second_swap
print("H(k1) H(k2) =")
print("\n".join("  " + " ".join(f"{v:+.0f}" for v in row) for row in cycle.tolist()))
print("eigenvalues:", ", ".join(f"{z.real:+.3f}{z.imag:+.3f}i" for z in torch.linalg.eigvals(cycle.double()).tolist()))
state = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float16)
cycle16, exact = cycle.to(torch.float16), True
for step, bit in enumerate(bits[0].tolist(), start=1):
    state = cycle16 @ state if bit else state
    exact &= int(state.argmax()) == truth[0, step - 1].item()
print(f"float16 permutation counter exact for all {COUNTER_STEPS:,} steps: {exact}")

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 8 · Explore
#
# Move the two keys. The product is always a rotation, by twice the angle between the keys; its
# eigenvalues walk around the unit circle. At $\theta_1 - \theta_2 = 90°$ it is $-I$ (eigenvalue $-1$
# twice: parity again), at $0°$ the identity.

# %% tags=["lesson", "widget"]
viz.reflection_explorer()

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Theorem 2, as the final version's abstract words it: *non-triangular matrices are needed to count
#   modulo 3*.
#   With real diagonal or triangular transitions a finite-precision state on $1^k$ ends up with
#   period 1 or 2 in every rounding model (measured on 2 001 gates and 3 000 triangular matrices), and
#   $L$ such layers reach only periods dividing $2^L$.
# - The theorem's rounding model (exact states, rounded where read) extends this, in one layer, to every
#   transition with real eigenvalues (deeper, to every product of transitions with real eigenvalues). With rounding fed
#   back, as PyTorch computes, 1 to 2 % of non-triangular
#   real-eigenvalue matrices end in a cycle of length a multiple of 3 (one counted $1^k$ mod 3 for all
#   30 000 steps): a rounding accident, not a mechanism.
# - A rotation by $2\pi/m$ counts mod $m$ for a reason rounding does not give or take: its eigenvalues
#   $e^{\pm 2\pi i/m}$ are complex. Two reflections ($\beta = 2$ generalized Householder matrices)
#   compose any plane rotation.
# - In finite precision a rotation counter drifts: the rounded step's angle error $\varepsilon$ allows
#   about $\pi/(m|\varepsilon|)$ ones (886 in float16; it failed after 885), and bfloat16's rounding of
#   every product fails sooner (after 370). Permutations built from swaps are exact in any dtype.
#
# **Next:** Lesson 06 builds DeltaNet, whose transition is one generalized Householder matrix.
