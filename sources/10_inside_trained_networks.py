# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # 10 · Inside the trained networks
#
# Lessons 04, 06 and 08 trained linear RNNs that track state — parity, swaps, $S_3$ — and measured
# that they work. This lesson opens them and asks *how*: did gradient descent find the constructions
# of the paper (a gate of $-1$, reflections with $\beta \approx 2$, a representation of the group),
# or something else? Each model is read with `lrnn_course.inspection`, which computes every
# transition $A(x_t)$ and state $S_t$ with the layer's own projections. By the end you will be able
# to say:
#
# > *A trained layer can be read token by token: its transitions' spectra say which eigenvalues it
# > uses, the group's relations say whether its maps compose like the group, and clustering its
# > states gives the automaton it runs. On $S_3$ at course scale, one DeltaProduct layer with two
# > reflections per token and $\beta \in [0, 2]$ used eigenvalues near $-1$ and $e^{\pm 2\pi i/3}$
# > (in one head, on the seed read) and ran the automaton of the Cayley graph on 3 of 3 seeds; its
# > maps satisfy the group's relations only roughly, and the same layer with $\beta \in [0, 1]$ ran
# > thousands of states instead of six.*
#
# **Plan.** 1 · Figure 1's diagonal model on parity; 2 · DeltaNet on parity; 3 · DeltaProduct on
# $S_3$: per-token transitions (exercise) and their spectra; 4 · the group's relations (exercise);
# 5 · the automaton in the states (exercise); 6 · what training did not find, and an explorer.

# %% [markdown] tags=["practice"]
# # Practice · Lesson 10: inside the trained networks
#
# Three exercises: the transition a DeltaProduct layer applies for one token, how far per-token maps
# are from composing like a group, and the transition table of an automaton read off clustered
# states. Replace `raise NotImplementedError()` with your code and run the `check(...)` cell below
# it; call `check(..., hint=1)` for a hint.
# The maths each exercise needs is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the trained models and figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 40, "practice": 25} needs=["04", "06", "08"]
# ## Talking points
#
# - §1: Figure 1's diagonal model is the easiest to read: its gates depend on the token alone (`largest
#   change of a gate with the context: 0.0e+00`). Two of its ten channels are Lesson 03's machine,
#   `channel 2: a(bit 0) = +0.9999, a(bit 1) = -1.0000` and `channel 7`; the others have gates of one sign
#   for both bits, or decay, and the readout can ignore them.
# - §2: in DeltaNet, the bit 1 is a reflection in two heads (`head 3: … for bit 1 2.000`, eigenvalue
#   `-1.000`; head 0 `-0.991`), but the bit 0 is not "keep": β `1.719` and `1.524` there, eigenvalues `-0.719`,
#   `-0.524`, which shrink and flip the direction of their key. A trained model need not be the textbook
#   construction to solve parity; ask the room why this still works (the key of the bit 0 differs).
# - §3: seed 0, head 0: transpositions `-0.99+0.02j, -0.99-0.02j` and `-0.98+0.00j`, 3-cycles
#   `-0.50+0.86j, -0.50-0.86j`: the standard representation's $-1$ and $e^{\pm 2\pi i/3}$. Head 1 has the
#   transpositions' `-0.98`, `-0.99` but not the 3-cycles' pair, and the identity's map is not the identity
#   (`e: eigenvalues per head -0.49+0.73j, -0.49-0.73j`). The [0, 1] model: every eigenvalue real, in
#   $[0, 0.61]$, mean β `0.80`–`1.00`.
# - §4: the relations are not close to exact on the states' rank-12 span: worst composition residuals
#   `0.47`–`0.82` for the [-1, 1] models, and `0.32`–`0.58` for the [0, 1] model, which has learned nothing.
#   Say it plainly: this measure does not separate the working models from the failing one.
# - §5 is the sentence to leave with: `6 states`, `transitions agreeing 1.000`, `equals the Cayley graph:
#   yes` on each of seeds 0, 1, 2, against `3106 states (3493 clusters), transitions agreeing 0.860` for
#   the [0, 1] model. The agreement is measured on these 128 words: on other words, seed 1's machine had
#   19 states in the library author's run, one wrong prediction splitting states.
# - The two trainings of §1–2 and the four of §3 take most of the lesson's time; start the lesson's cells
#   while introducing §1.
#
# ## Common mistakes
#
# - **`10.token_transitions`**: the factors multiplied in the opposite order (the first factor leftmost,
#   or the product transposed): “n_h = 2: the first factor acts first, so it stands rightmost” is red.
#   Ask which factor touches the state first. The corrections summed, $I - \sum_j \beta_j k_j k_j^\top$
#   (the first-order part of the product), fail on the same row; only the first factor: the same row.
# - **`10.token_transitions`**: the gate applied to every factor ($\alpha^{n_h}$ in all) or only to the identity:
#   “the gate α scales the whole product once”. The gate through its logarithm: “a gate of 0 gives A = 0,
#   with finite gradients”. Computed in NumPy: “gradients with respect to keys, β and α match autograd
#   through a float64 reference”. A loop over a fixed number of factors (two): “n_h = 3: every factor, in order”.
# - **`10.token_transitions`**: float64 returned for float32 keys, or the gate broadcast over the wrong axis:
#   “shape (..., H, D, D) in the keys' dtype”; one leading dimension assumed: “any leading shape: 1, 0 or 3
#   dimensions before (n_h, H, D)”.
# - **`10.composition_residuals`**: "a, then b" as $M(a) M(b)$: “'a, then b' is M(b) M(a): S3's exact maps
#   give 0 everywhere” is red. Entry [b, a] for the pair (a, b): “entry [a, b] is the pair (a, b), not (b, a)”.
# - **`10.composition_residuals`**: the gap not divided, divided by the wanted map's norm only, by the smaller
#   or the mean norm, or measured in the spectral norm or squared: “relative, in Frobenius norms: rotations of
#   R^4 (every norm is 2)” or “divided by the larger of the two norms”. 0/0 left as NaN: “0 where both are 0:
#   a map of zeros”. Float64 returned, or float32 cast back for float64 maps: “a (G, G) tensor in the maps'
#   dtype”, “float64 stays float64, to float64's precision”.
# - **`10.transition_table`**: column 0 (the state before the word) dropped, or the moves read backwards:
#   “move t goes from column t to column t + 1: the first move counts”. The first or last move seen instead of
#   the majority: “the majority of the moves, not the first or the last one seen”; ties to the largest id:
#   “ties go to the smallest state id”.
# - **`10.transition_table`**: 0 where a move was never seen, or keys made letter by letter
#   (`letter * n_states + state`): “a move never observed is -1”; keys made as `state * n_states + letter`:
#   “(state, letter) pairs kept apart: 3 states, 5 letters”; the letters counted from `words.max() + 1`
#   instead of `n_letters`: “a LongTensor (n_states, n_letters) and a float”. The consistency per
#   table entry, over distinct moves, or as a tensor: “consistency: the fraction of all observed moves that the
#   table predicts”, “a LongTensor (n_states, n_letters) and a float”.

# %% tags=["lesson", "parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": larger models, on a GPU
DEVICE = "auto"  # "auto", "cpu" or "cuda"
SEED = 0

# %% tags=["practice", "parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # the exercises take seconds at any size; in the lesson, SIZE picks the models' size
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

from lrnn_course import automata, experiments, groups, householder, inspection, train, viz

lrnn_course.threads_for_small_models(device)  # the trainings below run tiny operations: one CPU thread is faster

S3_SEEDS = 3  # DeltaProduct [-1, 1] on S3: seeds 0, 1, 2; the [0, 1] model on SEED only
WORDS = {"small": 128, "full": 512}[SIZE]  # random S3 words of 32 letters that every model is read on
generator = torch.Generator().manual_seed(SEED)
bits = torch.randint(1, 3, (64, 40), generator=generator)  # parity words: token 1 is the bit 0, token 2 the bit 1

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 1 · Figure 1's model: a gate per token
#
# Lesson 03 built parity by hand: one channel with gate $a(0) = +1$ (keep the state) and
# $a(1) = -1$ (flip it). Lesson 04 trained Figure 1's model — one diagonal layer of 10 channels,
# gates $a(x) = \tanh(\cdot) \in [-1, 1]$ — and it extrapolated. Train it again (seed `SEED`) and
# read its gates back: the first layer reads the token alone, so each token has exactly one gate
# vector, whatever the context.

# %% tags=["lesson"]
diagonal = train.train(train.preset("figure1", SIZE, negative=True, seed=SEED, device=DEVICE))
diagonal_reading = inspection.read_layer(diagonal.model, bits.to(diagonal.model.embedding.weight.device))
gates = inspection.values_by_token(diagonal_reading.gates, bits)  # {token: (positions, channels)}
gate_of = {"bit 0": gates[1].mean(dim=0), "bit 1": gates[2].mean(dim=0)}
spread = max(float((gates[token] - gates[token].mean(dim=0)).abs().max()) for token in (1, 2))
print(f"largest change of a gate with the context: {spread:.1e}")
print("Lesson 03's machine: a(bit 0) = +1, a(bit 1) = -1")
for channel, (keep, flip) in enumerate(zip(gate_of["bit 0"].tolist(), gate_of["bit 1"].tolist())):
    machine = "  <- Lesson 03's machine" if keep > 0.95 and flip < -0.95 else ""
    print(f"channel {channel}: a(bit 0) = {keep:+.4f}, a(bit 1) = {flip:+.4f}{machine}")
viz.plot_token_gates(gate_of, "Figure 1's model, trained: gates per channel")
plt.show()

# %% [markdown] tags=["lesson"]
# The channels marked are the parity machine, found by gradient descent; the others keep or decay
# the state whatever the bit (gates of one sign for both), and the readout can ignore them.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 2 · DeltaNet on parity: the learned β
#
# A DeltaNet layer multiplies its state by $I - \beta(x)\, k(x) k(x)^\top$ for a unit key $k$: its
# eigenvalues are 1 (on the directions orthogonal to $k$) and $1 - \beta$ (along $k$). Parity needs
# $1 - \beta \approx -1$ for the bit 1, so $\beta \approx 2$ — a reflection (Lesson 06). Train
# Lesson 06's model (4 heads of width 4, $\beta \in [0, 2]$) and read its β and its transitions.

# %% tags=["lesson"]
deltanet = train.train(train.preset("deltanet_parity", SIZE, negative=True, seed=SEED, device=DEVICE))
deltanet_reading = inspection.read_layer(deltanet.model, bits.to(deltanet.model.embedding.weight.device))
betas = inspection.values_by_token(deltanet_reading.betas, bits)  # {token: (positions, 1, heads)}
maps, context_spread = inspection.token_maps(deltanet_reading.transitions, bits, [1, 2])  # (2, heads, 4, 4)
spectra = inspection.eigenvalues(maps)  # (2, heads, 4), the eigenvalue farthest from 1 first
print(f"largest relative change of a map with the context: {float(context_spread.max()):.1e}")
for head in range(maps.shape[1]):
    print(
        f"head {head}: mean β for bit 0 {float(betas[1][:, 0, head].mean()):.3f}, for bit 1 "
        f"{float(betas[2][:, 0, head].mean()):.3f}; eigenvalue farthest from 1: bit 0 "
        f"{spectra[0, head, 0].real:+.3f}, bit 1 {spectra[1, head, 0].real:+.3f}"
    )
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
viz.plot_beta_histogram({"bit 0": betas[1], "bit 1": betas[2]}, "DeltaNet on parity: learned β per position", ax=left)
viz.plot_spectra({"bit 0": spectra[0], "bit 1": spectra[1]}, "eigenvalues of each head's transition", ax=right)
fig.tight_layout()
plt.show()

# %% [markdown] tags=["lesson"]
# Two heads reflect on the bit 1 (β near 2, an eigenvalue near $-1$), as Lesson 06's construction
# does. The bit 0 is not the construction's "keep" (β near 0): in those heads its β is well above 1,
# an eigenvalue between $-1$ and 0 that shrinks and flips the direction of its own key, a different
# direction from the bit 1's. Training found a reflection for the 1s, not the textbook machine for the 0s.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · DeltaProduct on $S_3$: one transition per token
#
# A DeltaProduct layer with $n_h$ Householders per token multiplies each head's state by
#
# $$A(x) = \alpha(x)\,(I - \beta_{n_h} k_{n_h} k_{n_h}^\top) \cdots (I - \beta_1 k_1 k_1^\top),$$
#
# unit keys $k_j(x)$, $\beta_j(x) \in [0, 2]$ (or $[0, 1]$), and a gate $\alpha(x)$ where the layer has one
# ($\alpha = 1$ otherwise). The first factor is rightmost: it acts first, since the layer applies the
# $n_h$ steps of the delta rule one after the other. Every factor leaves the directions orthogonal to its
# key alone, so $A(x)$ is $\alpha$ times the identity plus a matrix of rank at most $n_h$. By Theorem 3
# (Lesson 08) one layer with $n_h = 2$ can run the automaton of $S_3$: a transposition is one
# reflection (eigenvalues $-1$ and 1), a 3-cycle two (a rotation by $\pm 2\pi/3$, eigenvalues
# $e^{\pm 2\pi i/3}$).

# %% [markdown]
# **Exercise 1.** Write `token_transitions(keys, betas, gates=None)`: keys (..., n_h, H, D) of unit
# length, betas (..., n_h, H) and gates (..., H) or None give the transitions (..., H, D, D) above, one per
# head, the first factor rightmost.

# %%
#| exercise: 10.token_transitions

# %% tags=["nbval-check-output"]
check("10.token_transitions", token_transitions)

# %% [markdown] tags=["lesson"]
# Train the layer on $S_3$ — Lesson 08's `s3` experiment with $n_h = 2$, 2 heads, $d = 32$ — with
# $\beta \in [0, 2]$ on 3 seeds and with $\beta \in [0, 1]$ on seed `SEED`, then check that your
# function gives the transitions the layer itself computes (`DeltaProductLayer.transitions`).

# %% tags=["lesson"]
configs = [
    config
    for config in experiments.experiment("s3").configs(SIZE, seeds=S3_SEEDS, device=DEVICE)
    if config.model_options["n_householder"] == 2 and (config.negative or config.seed == SEED)
]
runs = train.train_all(configs)
s3 = groups.group("S3")
for run in runs:
    layer = run.model.layers[0]
    with torch.no_grad():
        x = run.model.first_layer_input(range(s3.order))[None]  # (1, 6, d): the six elements as tokens
        _, keys, _, betas_s3, gate = layer.recurrence_inputs(x)
        gap = (token_transitions(keys, betas_s3, gate) - layer.transitions(x)).abs().max()
    print(
        f"{run.config.label}, seed {run.config.seed}: {run.config.metric} {run.final.train_score:.3f} (0 = chance); "
        f"your transitions against the layer's: largest difference {gap:.1e}"
    )

# %% [markdown] tags=["lesson"]
# Read every model on the same random words and print, for seed `SEED`, the two eigenvalues of each
# element's transition farthest from 1 (per head) and its mean β.


# %% tags=["lesson"]
def cycle_notation(element: tuple[int, ...]) -> str:
    """σ as its cycles of length 2 or more, e.g. "(0 1 2)"; "e" for the identity."""
    moved = [cycle for cycle in householder.cycles(element) if len(cycle) > 1]
    return "".join(f"({' '.join(map(str, cycle))})" for cycle in moved) or "e"


# %% tags=["lesson"]
words = torch.randint(s3.order, (WORDS, 32), generator=generator)
names = [cycle_notation(element) for element in s3.elements]
inspections = [
    inspection.inspect_word_problem(run.model, s3, words.to(run.model.embedding.weight.device)) for run in runs
]
for run, inspected in zip(runs, inspections):
    if run.config.seed != SEED:
        continue
    maps, _ = inspection.token_maps(inspected.reading.transitions, words, range(s3.order))
    top = inspection.eigenvalues(maps)[..., :2]  # (6, heads, 2)
    betas_s3 = inspection.values_by_token(inspected.reading.betas, words)
    print(f"{run.config.label}, seed {run.config.seed}")
    for element, name in enumerate(names):
        heads = "; ".join(", ".join(f"{complex(z):.2f}" for z in head) for head in top[element])
        print(f"  {name:>8}: eigenvalues per head {heads}; mean β {float(betas_s3[element].mean()):.2f}")

# %% [markdown] tags=["lesson"]
# In one head of the [-1, 1] model the transpositions have an eigenvalue near $-1$ and the 3-cycles
# a pair near $-0.5 \pm 0.87i = e^{\pm 2\pi i/3}$: the eigenvalues of $S_3$'s standard representation,
# which Theorem 3's permutation matrices have too. The other head has the transpositions' $-1$ but not
# the 3-cycles' pair, and in neither head is the identity's map the identity. With β ∈ [0, 1] every
# eigenvalue is real and lies in $[0, 1)$, as it must with two factors: each is symmetric with eigenvalues
# in $[0, 1]$, and a product $PQ$ of two such matrices has the eigenvalues of $P^{1/2} Q P^{1/2}$, real and in
# $[0, 1]$. The same spectra on the complex plane, the elements grouped by kind:

# %% tags=["lesson"]
kinds = {"identity": [0], "transpositions": [1, 2, 5], "3-cycles": [3, 4]}
first_seed = [(run, inspected) for run, inspected in zip(runs, inspections) if run.config.seed == SEED]
fig, axes = plt.subplots(1, len(first_seed), figsize=(12, 4.5))
for ax, (run, inspected) in zip(axes, first_seed):
    maps, _ = inspection.token_maps(inspected.reading.transitions, words, range(s3.order))
    top = inspection.eigenvalues(maps)[..., :2]
    viz.plot_spectra({kind: top[members] for kind, members in kinds.items()}, f"S3, {run.config.label}", ax=ax)
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · Do the maps compose like the group?
#
# If a layer runs the group, its maps should satisfy the group's relations: reading $a$ then $b$ is
# reading the element $a \cdot b$, so $M(b)\,M(a) \approx M(a \cdot b)$. The states fill only part of
# their space, so the test is made there: with $U$ an orthonormal basis of the span of the states'
# differences (rank $r$), each map is restricted to $M(g) = U^\top A(g)\, U$ ($r \times r$). The
# relative residual of the pair $(a, b)$ is
#
# $$\rho(a, b) = \frac{\lVert M(b) M(a) - M(t_{ab}) \rVert_F}
# {\max(\lVert M(b) M(a) \rVert_F,\ \lVert M(t_{ab}) \rVert_F)}, \qquad t_{ab} = \texttt{table[a, b]} = a \cdot b,$$
#
# 0 where both norms are 0: 0 for an exact representation, at most 2.

# %% [markdown]
# **Exercise 2.** Write `composition_residuals(restricted, table)`: restricted maps (G, r, r) and a
# table (G, G) give the residuals $\rho$ (G, G), row $a$, column $b$.

# %%
#| exercise: 10.composition_residuals

# %% tags=["nbval-check-output"]
check("10.composition_residuals", composition_residuals)

# %% [markdown] tags=["lesson"]
# Lesson 08's Theorem 3 construction (permutation matrices) is a representation: its residuals are 0.
# Then the trained layers, per element $g$ and head: the worst $\rho(g, b)$ over $b$, and the order
# residual of $M(g)^{\mathrm{ord}\, g}$ against $I$.

# %% tags=["lesson", "nbval-check-output"]
construction = automata.GroupAutomaton(s3, torch.float64)
exact = inspection.relation_residuals(construction.transitions, construction.states(words).flatten(0, 1), s3.table)
print(f"Theorem 3's construction: rank {exact.rank}, worst residual {exact.worst:.1e}")

# %% tags=["lesson"]
for run, inspected in zip(runs, inspections):
    print(f"{run.config.label}, seed {run.config.seed}:")
    for head, relations in enumerate(inspected.relations):
        rows = ", ".join(
            f"{name} {float(relations.composition[element].max()):.2f}/{float(relations.order[element]):.2f}"
            for element, name in enumerate(names)
        )
        print(f"  head {head} (rank {relations.rank}), worst composition / order residual: {rows}")

# %% [markdown] tags=["lesson"]
# Read the worst values: on the span of the states, no trained model's maps compose like the group to
# better than tens of percent, although the [-1, 1] models answer right — and the failing [0, 1] model
# scores no worse. Per element, the order residuals of the transpositions and 3-cycles are small in some
# heads (a few hundredths): $M(g)^2 \approx I$ or $M(g)^3 \approx I$ there; the identity's never is. The
# relations test the linear maps on the *whole* span, including directions the readout never looks at;
# a model need only keep the six classes of states apart, which the next section tests directly.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · The automaton in the states
#
# Cluster the states (leader clustering: a state farther than a radius from every leader starts a new
# cluster), label each position with its cluster, and read off where each cluster goes on each letter.
# `state_of` (N, T + 1) holds the cluster of the state before each word (column 0) and after each of its
# T letters; word $n$'s letter $t$ moves it from `state_of[n, t]` to `state_of[n, t + 1]`. The transition
# table gives each (cluster, letter) the cluster most of its moves reach (ties to the smallest id, $-1$ if
# the pair never occurs); its consistency is the fraction of all observed moves that agree with it.
# Minimising the table (Moore's algorithm) then merges clusters no observed word tells apart, and the
# result is compared with the Cayley graph of $S_3$: state $y$, letter $g$, next state $y \cdot g$.

# %% [markdown]
# **Exercise 3.** Write `transition_table(state_of, words, n_states, n_letters)` as its docstring
# specifies: the majority table (n_states, n_letters) and its consistency.

# %%
#| exercise: 10.transition_table

# %% tags=["nbval-check-output"]
check("10.transition_table", transition_table)

# %% [markdown] tags=["lesson"]
# The construction's states give the Cayley graph exactly. For each trained model: the number of
# automaton states, the fraction of its transitions the true automaton makes, and whether it *is* the
# Cayley graph (6 states, complete, every transition right).

# %% tags=["lesson"]
labels = groups.prefix_products(s3.table, words)
built = inspection.extract_automaton(construction.states(words), words, labels, s3.order)
built_match = inspection.compare_automata(built, labels, s3.table)
print(f"Theorem 3's construction: {built_match.n_states} states, equals the Cayley graph: {built_match.isomorphic}")
for run, inspected in zip(runs, inspections):
    match = inspected.match
    print(
        f"{run.config.label}, seed {run.config.seed}: {match.n_states} states ({inspected.automaton.n_clusters} "
        f"clusters), transitions agreeing {match.transition_agreement:.3f}, purity {match.purity:.3f}, "
        f"equals the Cayley graph: {'yes' if match.isomorphic else 'no'}"
    )
negative = [inspected.match for run, inspected in zip(runs, inspections) if run.config.negative]
counts, agreements = [m.n_states for m in negative], [m.transition_agreement for m in negative]
print(
    f"[-1,1] over {len(negative)} seeds: {min(counts)}-{max(counts)} states, agreement "
    f"{min(agreements):.3f}-{max(agreements):.3f}, equal to the Cayley graph on "
    f"{sum(m.isomorphic for m in negative)} of {len(negative)}"
)

# %% [markdown] tags=["lesson"]
# The Cayley graph drawn with two generators, a transposition and a 3-cycle (the other letters are
# products of these), beside the automaton extracted from the construction and from the trained model
# of seed `SEED` (each state named by the element most of its positions hold).

# %% tags=["lesson"]
letters = {2: "(0 1)", 3: "(0 1 2)"}
trained = next(
    inspected for run, inspected in zip(runs, inspections) if run.config.negative and run.config.seed == SEED
)
panels = {
    "Cayley graph of S3": (s3.table, names),
    "extracted: Theorem 3's construction": (built.transitions, [names[i] for i in built_match.label_of]),
    f"extracted: trained, seed {SEED}": (trained.automaton.transitions, [names[i] for i in trained.match.label_of]),
}
fig, axes = plt.subplots(1, 3, figsize=(15, 5.5))
for ax, (title, (table, state_names)) in zip(axes, panels.items()):
    viz.plot_automaton(table, letters, state_names, title, ax=ax)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · What training did not find
#
# The numbers above, read as a verdict on the constructions of the paper:
#
# - **Found**: gates of $\pm 1$ for parity (§1); β near 2 for the bit 1 (§2); eigenvalues near $-1$ for
#   transpositions and near $e^{\pm 2\pi i/3}$ for 3-cycles in one head (§3, the seed printed there), and
#   the Cayley graph as the automaton of the states on each of the 3 [-1, 1] seeds (§5).
# - **Not found**: maps that compose like the group on the whole span of the states (§4: worst residuals
#   of tens of percent on every seed, the identity's map not the identity), and, in DeltaNet, the
#   construction's "keep" for the bit 0 (§2).
# - **Not representable**: with $\beta \in [0, 1]$ every eigenvalue stays real and in $[0, 1)$, no state
#   flips, and the extracted machine has thousands of states with agreement well below 1 (§5).
#
# These are 3 seeds of one small model, read on one set of 128 words: the automaton's agreement is
# measured on the moves those words make, and another set of words can split a state that one wrong
# prediction reaches.

# %% [markdown] tags=["lesson"]
# Pick an element below: left, the eigenvalues of its transition (head 0, the [-1, 1] model of seed
# `SEED`); right, the states of that head in their principal plane, and where reading the element
# moves them.

# %% tags=["lesson", "widget"]
head_maps, _ = inspection.token_maps(trained.reading.transitions, words, range(s3.order))
head_states = trained.reading.states[:, :, 0].flatten(2)  # (words, T, D_k·D_v): head 0
viz.token_explorer(inspection.eigenvalues(head_maps[:, 0])[:, :2], head_states, words, names)

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A trained layer can be read: its transitions per token, their spectra, the learned β and gates.
#   Figure 1's model found Lesson 03's parity channel; DeltaNet found a reflection (β near 2).
# - On $S_3$, DeltaProduct with $n_h = 2$ and $\beta \in [0, 2]$ used the standard representation's
#   eigenvalues in one head and ran an automaton equal to the Cayley graph on 3 of 3 seeds (on the
#   words read here); its maps satisfy the group's relations only to tens of percent on the states'
#   span.
# - With $\beta \in [0, 1]$ the same layer has real eigenvalues in $[0, 1]$ and thousands of states:
#   the tools show what it could not represent.
#
# **Next:** Lesson 11, the capstone, takes these models to programs whose variables they must follow and to a
# language model on the standard library's source.
