# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # 11 · Capstone: code and text
#
# The paper motivates state tracking with what it is for — evaluating code, tracking entities, following
# a game — and ends by training language models. This capstone carries Lessons 03–10 to both, at a
# scale a laptop trains in three minutes: programs whose variables a model must follow, and a language
# model on text no one in this course wrote. By the end you will be able to say:
#
# > *A straight-line program is a word problem: `swap x y` permutes the values ($S_k$), `x += c` steps
# > a counter ($\mathbb{Z}_m$), `x = c` is a reset. On programs of swaps, one DeltaNet layer with
# > β ∈ [0, 2] tracked three variables to 4 times its training length on 3 of 3 seeds (to 8 times on
# > 2), and a linear probe reads a variable's value from its state; with β ∈ [0, 1] it scored what
# > remembering the values without their places scores. On the standard library's source, small
# > byte-level language models with both ranges trained alike, and a probe of their states found no
# > more about strings and brackets than in an untrained network: at this scale, that is all the
# > evidence says.*
#
# **Plan.** 1 · programs as word problems; 2 · the interpreter behind the labels (exercise);
# 3 · five models on programs of swaps, and the other statements; 4 · a corpus every Python carries,
# and the score of a language model (exercise); 5 · two byte-level language models, [0, 1] against
# [−1, 1]; 6 · a probe for state in their matrices $S_t$; 7 · what this scale shows.

# %% [markdown] tags=["practice"]
# # Practice · Lesson 11: capstone, code and text
#
# Two exercises: the interpreter of straight-line programs, whose answers are the labels a model is
# trained on, and the bits per byte a language model is scored in. Replace `raise NotImplementedError()`
# with your code and run the `check(...)` cell below it; call `check(..., hint=1)` for a hint.
# The maths the exercises need is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the trained models, the language models and the figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 22, "practice": 18} needs=["06", "08"]
# ## Talking points
#
# - §1: a program is a word problem whose letters are statements; make the table concrete with the printed
#   programs. The state-matrix cell is the hinge of the lesson: `swap a c` is one reflection (β = 2) and `b = 2`
#   one delta-rule write (β = 1), both exact (`largest distance of an entry from 0 or 1: 2.2e-16`, rounding).
#   Ask the room which β a swap needs, and why [0, 1] cannot give it.
# - §2 is the exercise (15 minutes); the cell after it runs the learner's interpreter on 2 000 programs of the
#   `code` task: `your interpreter gives the label of 2000 of 2000 programs`.
# - §3: read the table from the bottom: the majority row (`0.014`–`0.048`), then the dotted line, the exact
#   "values without places" score `0.400`. DeltaNet [0, 1] sits on it (`0.397 [0.392, 0.406]` mean): it
#   remembers the three starting values and not where the swaps put them. DeltaNet [-1, 1]: `PASS on 3 of 3`
#   up to 64 tokens, `2 of 3` up to 128 (seed 2 `0.653` at 128). DeltaProduct n_h = 2 can do it too, and did on
#   one seed to 128 in 400 steps. The LSTM and the Transformer stay at or under the line at this budget: say it
#   is the budget, not the architecture.
# - §3.1: with all four kinds no model solves any length; the order DeltaProduct > DeltaNet [-1,1] > [0,1] >
#   LSTM > Transformer is all that run shows.
# - §4 ends with the second exercise, bits per byte (5 minutes): the worked example gives `1.5`; the mistakes to
#   expect are nats for bits and `softmax().log()`, which the row with logits of size 1e4 catches.
# - §4–5: the corpus is the interpreter's own library (nothing downloaded, split by file). The LM cell trains
#   6 runs in two cells and probes them, about a minute on a laptop CPU: start them while presenting §4. Numbers: `3.339
#   [3.306, 3.358]` ([0, 1]) and `3.327 [3.282, 3.330]` ([-1, 1]) bits per byte, unigram `4.512`; paired by seed
#   `-0.012, -0.028, -0.024`. A hint, not an effect: say so before someone else does.
# - §6: the probe is shown to work first: `PASS on 3 of 3 seeds` for DeltaNet [-1, 1] (`1.000` each, majority class
#   `0.218`), `0.515, 0.517, 0.506` for [0, 1], and DeltaProduct `1.000, 0.511, 1.000`: its seed 1 is the seed that
#   failed the task in §3. On text: quote parity `0.574` ([0, 1]) and `0.532` ([-1, 1]) balanced accuracy against
#   `0.713` and `0.573` for the untrained networks (any constant answer `0.500`); bracket depth `0.418` and `0.411`
#   against `0.522` and `0.454` (constant `0.250`). Training made them *harder* to read at this scale; ask the room
#   why a random network's state might hold the recent bytes better than a trained one's.
# - §7 is the lesson's honesty: the paper's 1.3B numbers are printed, and the lesson says why ours cannot be
#   compared with them.
#
# ## Common mistakes
#
# - **`11.interpret`**: a swap written as two assignments, `values[x] = values[y]; values[y] = values[x]`:
#   “swap x y exchanges the two values” is red (both end with y's value). Ask what the second line reads.
#   A swap applied only when the target is the smaller variable: “swap y x is swap x y: the target may be the
#   larger variable”. A swap through arithmetic or XOR, or a copy as "clear x, then add y", is right for two
#   different variables and zeroes x when both are x: “swap x x and copy x = x leave x as it is” (a learner's
#   solution that passed every other row).
# - **`11.interpret`**: the add without `% m`: “x += c wraps around mod m”; the operand of an add read as a
#   variable: “x += c adds the constant c (not the value of variable c)”; a set that writes 0 or the operand's
#   variable: “set x = c: x becomes the constant c”; a set done as an add, right from 0, fails “statements run
#   first to last”, whose programs set a variable twice. Reducing mod m only at the end is right, and passes.
# - **`11.interpret`**: the copy reading the values from before the program, or a snapshot taken before the
#   loop: “copy x = y reads the current value of y”; written the wrong way round (y = x): “copy x = y writes x
#   (y keeps its value)”.
# - **`11.interpret`**: the statements run last to first: “statements run first to last”; every column run
#   whatever the length: “statements beyond lengths[i] are ignored”; `<=` instead of `<` when masking by
#   length (one statement too many): “exactly lengths[i] statements: the last one runs, the next one does
#   not”. One too few breaks almost every row, and the set row says so first (“yours left out the last
#   statement of each row”). Ask which columns of row i are statements.
# - **`11.interpret`**: variables starting at 1, or an answer for N = 0 rows that is not (0, k): “no statement
#   to run: every variable is 0 (S = 0; N = 0)”. Float values or the transposed (k, N) result: “a LongTensor
#   (N, k)”. `kinds` masked in place to drop the padding: “does not modify its inputs”.
# - **`11.interpret`**: the last three rows compare with a Python loop on many programs (“random programs
#   (k = 3, m = 5) against a Python loop”, “every k from 1 to 6 and m from 2 to 11”) and time a large batch
#   (“2000 programs of 200 statements”): a loop over rows *and* statements that indexes one entry at a time
#   passes too (about 5 s in the library author's run, well inside the check's time limit).
# - **`11.cross_entropy_bits`**: `torch.log` is the natural logarithm: a result in nats (5.545 for V = 256) is
#   red on “in bits: uniform logits give log₂ V (8 for V = 256, 1 for V = 2)”, which names nats and log10 when
#   it sees them. `.sum()` for `.mean()`: “the mean over every position, for leading shapes (M,), (N, T) and
#   (2, 3, 4)”; a mean per row (a vector), a `.item()` or a `.double()` at the end: “a 0-d tensor in the logits'
#   dtype”. Ask what one number a batch of windows gets.
# - **`11.cross_entropy_bits`**: `logits[target]` used as a log-probability, or the softmax over `dim=0`:
#   “adding a constant to every logit of a position changes nothing” (the row says which); the first also
#   gives −43 bits on “a confident right answer gives about 0 bits, a confident wrong one about 43”: a
#   negative number of bits means no normalisation. `softmax(...).log()` or
#   `exp / sum`: right on everything but “logits of size 1e4 stay finite and exact” (inf or nan): point to
#   `torch.log_softmax`. A `.detach()`: “the gradient with respect to the logits matches autograd through a
#   float64 loop”; float32 on the way: “float64 stays float64, to float64's precision”; the last comparison,
#   “random logits (8, 25, 40) against a float64 loop over positions”, catches the rest.

# %% tags=["lesson", "parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": larger models and corpora, on a GPU
DEVICE = "auto"  # "auto", "cpu" or "cuda"
SEED = 0

# %% tags=["practice", "parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # the exercise takes seconds at any size; in the lesson, SIZE picks the models' size
DEVICE = "auto"  # "auto", "cpu" or "cuda"
SEED = 0

# %% slideshow={"slide_type": "skip"}
import torch

import lrnn_course
from lrnn_course import check, tasks

device = lrnn_course.device(DEVICE)
torch.manual_seed(SEED)
print(f"lrnn_course {lrnn_course.__version__} on {device.type}")

# %% tags=["lesson"] slideshow={"slide_type": "skip"}
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from lrnn_course import evidence, experiments, language, probes, train, viz

lrnn_course.threads_for_small_models(device)  # the trainings below run tiny operations: one CPU thread is faster

SEEDS = 3  # every model below trains on seeds 0, 1, 2
generator = torch.Generator().manual_seed(SEED)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · Programs as word problems
#
# A *straight-line program* over the variables `a`, `b`, `c` with values in $\mathbb{Z}_5$ (no loops,
# no branches) is a list of statements of four kinds:
#
# | statement | what it does to the values | as a word problem |
# |---|---|---|
# | `swap x y` | exchanges the values of x and y | a transposition: swaps generate $S_3$ (Lesson 08) |
# | `x += c` | adds c to x, modulo 5 | a step of a counter, $\mathbb{Z}_5$ (Lesson 05) |
# | `x = c` | sets x to the constant c | a reset: forgets x's past (Theorem 4, Lesson 08) |
# | `x = y` | copies y's value into x | a reset of x to whatever y holds |
#
# Every program starts by setting each variable (`a = 3; b = 0; c = 4`), runs its statements and ends
# with a query `? x`; the answer is x's final value. Each statement is **one token**, as each letter of
# a word problem is one group element: spelled character by character, a model would also have to
# parse, and the task would mix parsing with keeping state. The answer position follows the query,
# as in every task of the course (Lesson 04).

# %% tags=["lesson"]
program_tasks = {name: tasks.PROGRAM_TASKS[name] for name in ("code_swaps", "code")}
for name, task in program_tasks.items():
    batch = task(3, 8, 12, generator)
    print(f"{name}: body statements {', '.join(task.kinds)}; {task.vocab_size} tokens")
    for index in range(3):
        print("   ", task.text(batch, index))

# %% [markdown] tags=["lesson"]
# Why the first two kinds suit a DeltaNet layer (Lesson 06): keep one row of the state per variable,
# the one-hot vector of its value, $S = \sum_x e_x v_x^\top$. Then `swap x y` is the reflection
# $I - 2 u u^\top$ with $u = (e_x - e_y)/\sqrt{2}$ — one Householder with β = 2 — and `x = c` is the
# delta rule with β = 1 and key $e_x$: $S - e_x e_x^\top S + e_x v_c^\top$ removes x's old value and
# writes the new one. Neither is possible with β ∈ [0, 1] for the swap: its eigenvalue $1 - β$ would
# have to be $-1$. `x += c` permutes the *columns* of x's row, an action on the values that a
# transition, which multiplies the state from the left, does not perform directly.

# %% tags=["lesson"]
values = {"a": 3, "b": 0, "c": 4}
state = torch.eye(5, dtype=torch.float64)[list(values.values())]  # (variables, values): row x = one-hot of x
e = torch.eye(3, dtype=torch.float64)
u = (e[0] - e[2]) / 2**0.5  # swap a c
swapped = (torch.eye(3, dtype=torch.float64) - 2 * torch.outer(u, u)) @ state
k, v = e[1], torch.eye(5, dtype=torch.float64)[2]  # b = 2: key e_b, value one-hot(2)
assigned = state - torch.outer(k, k @ state) + torch.outer(k, v)
print("swap a c as a reflection: values", dict(zip(values, swapped.argmax(dim=1).tolist())))
print("b = 2 as the delta rule with β = 1: values", dict(zip(values, assigned.argmax(dim=1).tolist())))
for name, result in (("swap", swapped), ("set", assigned)):
    distance = torch.minimum(result.abs(), (result - 1).abs()).max()  # rounding: 1 - 2 (1/√2)² is not 0
    print(f"{name}: largest distance of an entry from 0 or 1: {float(distance):.1e}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · The interpreter behind the labels
#
# The labels of a program task come from an interpreter. It reads a batch of programs as three
# LongTensors of shape (N, S) — `kinds` (0 set, 1 copy, 2 swap, 3 add: `tasks.SET`, `tasks.COPY`,
# `tasks.SWAP`, `tasks.ADD`), `targets` (the variable x a statement changes) and `operands` (the
# constant c of a set or an add, the variable y of a copy or a swap, which may be x itself: `swap a a`
# and `a = a` change nothing) — and `lengths` (N,), the number of statements of each row; entries after
# a row's length are ignored (they are still valid statements, so that code working on whole columns
# may read them). Every variable starts at 0 (a task's programs then set each one: those opening
# assignments are ordinary statements), and the statements run in order, first to last; a copy reads
# the value its source has at that point of the program.

# %% [markdown]
# **Exercise 1.** Write `interpret(kinds, targets, operands, lengths, n_variables, modulus)`: the final
# values of the `n_variables` variables of every program, a LongTensor (N, n_variables) with entries in
# $[0, m)$. Worked example, one program `a = 3; b = 1; swap a b; a += 4` with m = 5: values a = 1 + 4 = 0,
# b = 3:
#
# ```python
# kinds    = [[SET, SET, SWAP, ADD]];  targets = [[0, 1, 0, 0]];  operands = [[3, 1, 1, 4]]
# lengths  = [4]   ->   [[0, 3]]
# ```

# %%
#| exercise: 11.interpret

# %% tags=["nbval-check-output"]
check("11.interpret", interpret)

# %% [markdown] tags=["lesson"]
# Your interpreter, on the tokens of a batch: `task.statement_parts` turns each statement token into
# its (kind, target, operand), and the answer must be the queried variable's final value.

# %% tags=["lesson"]
task = tasks.PROGRAM_TASKS["code"]
batch = task(2000, task.shortest, 40, generator)
rows = torch.arange(len(batch.tokens))
n_statements = batch.lengths - 2  # the query and the answer position are not statements
finals = interpret(*task.statement_parts(batch.tokens), n_statements, task.n_variables, task.modulus)  # (N, k)
queried = batch.tokens[rows, batch.lengths - 2] - task.query_offset
answers = batch.targets[rows, batch.lengths - 1] - task.answer_offset
print(f"your interpreter gives the label of {int((finals[rows, queried] == answers).sum())} of {len(rows)} programs")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Five models on programs of swaps
#
# Programs of swaps only (`code_swaps`): after the three assignments, each statement swaps two
# variables, so the answer is one of the three starting values, moved by a permutation of $S_3$.
# Trained on programs of 5–16 tokens and tested on 16 to 128 (8 times the longest training program):
# DeltaNet with β ∈ [0, 1] and [0, 2], DeltaProduct with two Householders per token and β ∈ [0, 2],
# an LSTM and a causal Transformer, one layer of width 32 each, 400 steps of 64 programs, 3 seeds —
# `lrnn-course experiment code_swaps --size small --seeds 3`, which also writes a JSON record.
# The metric is scaled accuracy at the answer (0 = chance, 1 = every answer right, Lesson 04).

# %% tags=["lesson"]
swap_results = experiments.run_experiment("code_swaps", SIZE, SEEDS, DEVICE, out_dir=None)
display(Markdown(experiments.evidence_report("code_swaps", SIZE, swap_results)))

# %% [markdown] tags=["lesson"]
# A second baseline, stronger than the majority class: a model that remembers the three starting
# values but not which variable holds which. After random swaps the queried variable holds each of
# the three starting values with probability 1/3, so its best answer is the most frequent of them.
# Averaged over the $5^3$ equally likely starts, exactly:

# %% tags=["lesson", "nbval-check-output"]
starts = torch.cartesian_prod(*[torch.arange(5)] * 3)  # (125, 3): every start of a, b, c
most_frequent = torch.stack([(starts == value).sum(dim=1) for value in range(5)]).amax(dim=0)  # (125,)
values_only = tasks.scaled_accuracy(float(most_frequent.double().mean() / 3), 1 / 5)
print(f"remembering the values but not their places: scaled accuracy {values_only:.3f}")

# %% [markdown] tags=["lesson"]
# The claims, per seed: a [−1, 1] model should score at least 0.95 at every length up to 64 and up to
# 128 (its lowest score is checked), a [0, 1] model should stay within 0.05 of that second baseline.

# %% tags=["lesson", "nbval-check-output"]
for label, runs in train.by_label(swap_results).items():
    if "[-1,1]" in label:  # a swap is one reflection: the claim is that these models track the variables
        for longest in (64, 128):  # 4 and 8 times the longest training program
            lowest = [min(score for length, score in run.final.scores.items() if length <= longest) for run in runs]
            claim = f"{label} scores >= 0.95 at every length 16-{longest} (lowest per seed)"
            print(evidence.verdict(claim, lowest, lambda score: score >= 0.95))
    elif "[0,1]" in label:  # no eigenvalue -1: the claim is that it learns the values, not the swaps
        farthest = [max(abs(score - values_only) for score in run.final.scores.values()) for run in runs]
        claim = f"{label} stays within 0.05 of the values-without-places score at every length (farthest per seed)"
        print(evidence.verdict(claim, farthest, lambda gap: gap <= 0.05))
    else:  # no claim for the LSTM and the Transformer: nothing here bounds what they learn in 400 steps
        lowest = evidence.spread([min(run.final.scores.values()) for run in runs])
        print(f"{label}: lowest score per seed {lowest} over {len(runs)} seeds")


# %% tags=["lesson"]
viz.plot_length_generalisation(swap_results, title="Programs of swaps: scaled accuracy by length", log_lengths=True)
plt.axhline(values_only, color="grey", linestyle=":", label="values without places")
plt.legend(fontsize=8)
plt.show()

# %% [markdown] tags=["lesson"]
# What the table shows, and no more. DeltaNet with β ∈ [0, 2] scored at least 0.95 at every length up
# to 64 tokens (4 times the longest training program) on each of its 3 seeds, and up to 128 on 2 of
# them. DeltaProduct with two reflections per token can do the same (a swap is one reflection, and two
# cover it), and did on 2 of 3 seeds to 64 and 1 of 3 to 128; its seed 1 did not learn the task in 400
# steps. DeltaNet with β ∈ [0, 1] scored, at every length, what remembering the values without their
# places scores (the dotted line): it learned the assignments, not the swaps, as Lesson 06 predicts for
# a layer whose eigenvalues cannot reach −1. The LSTM and the Transformer stayed near or below that
# line in 400 steps of one layer; nothing here says what they would learn with more.

# %% [markdown] tags=["lesson"]
# ### 3.1 · The other statements
#
# With all four kinds in the body (`code`: sets, copies, swaps and `+=`), the same five models at the
# same settings solved no length (`lrnn-course experiment code --size small --seeds 3`, run on
# 2026-12-07; mean scaled accuracy over the lengths 16–128, median [min, max] over seeds 0–2):
# DeltaProduct $n_h = 2$ [−1, 1] 0.572 [0.554, 0.606], DeltaNet [−1, 1] 0.534 [0.528, 0.536],
# DeltaNet [0, 1] 0.445 [0.438, 0.452], LSTM 0.330 [0.310, 0.365], Transformer 0.061 [0.053, 0.061];
# the majority class 0.056. The order follows the table of §1 — a counter step needs a rotation, two
# reflections (Lesson 05), and a copy is no reflection at all — but no model tracked these programs,
# so the order is all this run shows. The `full` experiment (two layers of width 128, 5 000 steps,
# lengths 5–40 tested to 320) is a GPU job:

# %% tags=["lesson"]
display(Markdown(experiments.committed_report("code")))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · A corpus every Python carries
#
# The paper's language models read 100 billion tokens of FineWeb; this course downloads nothing. Every
# Python installation carries a corpus of real code that no one in this course wrote: the standard
# library's own source. `language.stdlib_corpus` reads the `.py` files of the folder `sysconfig` names
# "stdlib", leaves out the test suites, installed packages, the generated help texts (`pydoc_data`) and
# the codec tables (`encodings`), and splits **by file**: a file goes to validation when the SHA-256 of
# its path says so (1 file in 10), so no validation byte comes from a file the model trained on. Bytes are
# the tokens (256 of them, no tokeniser to learn). At `small` it takes the first 1 MiB of training files
# and 256 KiB of validation files in digest order, a stable shuffle of the whole library. The text is
# Python's, under the PSF licence (`LICENSE.txt` in the same folder): reading it to train a model is
# what the licence allows, and nothing of it ships with this course.

# %% tags=["lesson"]
corpus = language.stdlib_corpus(**language.CORPUS_SIZES[SIZE])
facts = corpus.facts()
print(f"Python {facts['python']}, {facts['stdlib']}")
print(f"licence: {facts['licence']}")
print(
    f"available: {facts['train_files_available']} training files ({facts['train_bytes_available']:,} bytes), "
    f"{facts['validation_files_available']} validation files ({facts['validation_bytes_available']:,} bytes)"
)
print(
    f"used at {SIZE}: {facts['train_bytes']:,} bytes from {facts['train_files']} files for training, "
    f"{facts['validation_bytes']:,} bytes from {facts['validation_files']} files for validation"
)

# %% [markdown]
# **Exercise 2.** Write `cross_entropy_bits(logits, targets)`, the score a language model gets: `logits`
# (..., V) are a model's unnormalised scores of the V next tokens at every position (V = 256 bytes here),
# `targets` (...) the tokens that came, LongTensor ids in $[0, V)$. Return the mean over every position of
# $-\log_2 \operatorname{softmax}(\text{logits})[\text{target}]$, with
# $\operatorname{softmax}(x)_v = e^{x_v} / \sum_u e^{x_u}$: a 0-d tensor in the logits' dtype, which autograd
# follows back to the logits (training minimises it). In bits, not nats; and finite for logits as large as
# $10^4$, where $e^{x}$ overflows. Worked example, V = 4 and two positions: logits `[0, 0, 0, 0]` give every
# token 1/4, 2 bits whatever the target; logits `[ln 3, 0, 0, 0]` give token 0 the probability 3/6 = 1/2,
# 1 bit:
#
# ```python
# logits  = [[0, 0, 0, 0], [math.log(3), 0, 0, 0]];  targets = [2, 0]   ->   tensor(1.5)
# ```

# %%
#| exercise: 11.cross_entropy_bits

# %% tags=["nbval-check-output"]
check("11.cross_entropy_bits", cross_entropy_bits)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · Two byte-level language models
#
# Two models differ in one thing, the range of β: DeltaNet with β ∈ [0, 1] (eigenvalues in [0, 1]) and
# with β ∈ [0, 2] (eigenvalues in [−1, 1]), each two layers of width 64 with 4 heads, trained with the
# same seed, steps and data order on windows of 64 bytes, predicting every next byte: 120 steps of 32
# windows at `small` (about 7 s a run on one CPU thread), 3 seeds each. The score is the validation loss
# in **bits per byte**, the mean of $-\log_2 p(\text{next byte})$ over 256 fixed validation windows:
# 8 for a model that gives every byte $1/256$, and, as a baseline that reads no context at all, the byte
# frequencies of the training split. Two cells train them, one range each, and probe each model (§6)
# and sample from it; `lrnn-course experiment lm --size small --seeds 3` runs both and writes a JSON record.

# %% tags=["lesson"]
lm_runs = language.run_lm_experiment(SIZE, SEEDS, DEVICE, out_dir=None, negative=False)

# %% tags=["lesson"]
lm_runs += language.run_lm_experiment(SIZE, SEEDS, DEVICE, out_dir=None, negative=True)

# %% tags=["lesson", "nbval-check-output"]
display(Markdown(language.lm_table(lm_runs, corpus)))
bits = {run.config.label: [] for run in lm_runs}
for run in lm_runs:
    bits[run.config.label].append(run.result.final.validation_bits)
positive, negative = bits["deltanet [0,1]"], bits["deltanet [-1,1]"]
unigram = language.unigram_bits_per_byte(corpus)
for label, values in bits.items():
    claim = f"{label} below the unigram baseline {unigram:.3f} bits/byte"
    print(evidence.verdict(claim, values, lambda value: value < unigram))
differences = [minus - plus for plus, minus in zip(positive, negative)]  # same seed, same data: paired
print(
    "[-1,1] minus [0,1], paired by seed: "
    + ", ".join(f"{difference:+.3f}" for difference in differences)
    + f" bits/byte; seed-to-seed range within one model: {max(positive) - min(positive):.3f} ([0,1]), "
    f"{max(negative) - min(negative):.3f} ([-1,1])"
)

# %% tags=["lesson"]
viz.plot_bits_per_byte(lm_runs, unigram=unigram)
plt.show()

# %% [markdown] tags=["lesson"]
# Samples, 120 bytes each after three prompts (temperature 0.8), from seed `SEED` of each model:

# %% tags=["lesson"]
for run in lm_runs:
    if run.config.seed == SEED:
        print(f"--- {run.config.label}, seed {run.config.seed}")
        for text in run.samples:
            print(text)
            print("...")

# %% [markdown] tags=["lesson"]
# What these numbers show. Both models learned much more than byte frequencies (about 3.3 bits per byte
# against the unigram's 4.5) and far less than a model of Python: the samples have its shape —
# indentation, `def`, `self.`, quotes and brackets — and hardly a word of it. The [−1, 1] model ended
# lower than the [0, 1] model on each of the 3 seeds, by 0.01–0.03 bits per byte, while two seeds of one
# model differ by about 0.05: three pairs of runs that share their initial weights and their windows,
# with the same sign, is a hint at this scale, not a measured effect. Both trained alike: the negative
# range did not make training unstable, the paper's first finding about its language models.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · A probe for state
#
# Does a model *carry* a quantity? A **linear probe** answers it from outside: freeze the model, collect
# its state $S_t$ after every token (the matrices of its layers, Lesson 06, flattened into one vector),
# fit a logistic regression from those vectors to the quantity on some sequences, and score it on
# others. If the probe is right, the quantity lies in the state, linearly; if not, it is absent, or
# present in a form a linear map cannot read. `probes.probe_programs` does this on programs: the
# quantity is the current value of `a` after every body statement (computed by `interpret`), the
# probe is fitted on 128 programs and scored on 128 others, all 64 tokens long — 4 times the longest
# training program — for the three models of §3 that have a matrix state, on each seed. The majority
# class (the commonest value) is the baseline.

# %% tags=["lesson", "nbval-check-output"]
swap_task = tasks.PROGRAM_TASKS["code_swaps"]
for label, runs in train.by_label(swap_results).items():
    if runs[0].config.model not in ("deltanet", "deltaproduct"):
        continue  # the LSTM's and the Transformer's memories are not a matrix S_t
    found = [probes.probe_programs(run.model, swap_task, 128, 64, seed=SEED) for run in runs]
    majority = evidence.spread([result.majority_baseline for result in found])
    claim = f"{label}: the probe reads a's value from S_t with accuracy >= 0.95 (majority class {majority})"
    print(evidence.verdict(claim, [result.accuracy for result in found], lambda accuracy: accuracy >= 0.95))

# %% [markdown] tags=["lesson"]
# Where DeltaNet with β ∈ [0, 2] solved the task, the probe reads `a`'s value from the state at every
# statement of programs 4 times longer than any it trained on, on each of its 3 seeds; the commonest
# value alone is right about 1 time in 5. From DeltaNet with β ∈ [0, 1] the probe reads it about half
# the time. DeltaProduct's seed 1, the seed that did not learn the
# task in §3, is the one its probe fails on: seed by seed, what the probe reads is what the model
# uses. The probe works where there is a state to find.
#
# On text, §5's cells probed each language model's last-layer state (its 1 024 numbers reduced to their 64
# principal components, fewer weights to fit) for two quantities of the bytes
# read so far in a window: the **parity of `"`** (inside a double-quoted string or not, a parity like
# Lesson 03's) and the **bracket depth** (`(`, `[`, `{` minus their closings, clipped to 0–3). Nine
# bytes in ten have an even count of `"`, so plain accuracy says little: the table gives **balanced
# accuracy**, the mean over classes of the fraction of each class found, which any constant answer
# scores at 1 / (number of classes), beside the same probe on the untrained network (same initial
# weights) and that constant answer.

# %% tags=["lesson", "nbval-check-output"]
for quantity in language.QUANTITIES:
    for label in bits:
        runs = [run for run in lm_runs if run.config.label == label]
        trained = evidence.spread([run.probes[quantity].balanced_accuracy for run in runs])
        untrained = evidence.spread([run.untrained_probes[quantity].balanced_accuracy for run in runs])
        constant = runs[0].probes[quantity].constant_balanced_accuracy
        print(
            f"{quantity}, {label}: balanced accuracy {trained} trained, {untrained} untrained, "
            f"{constant:.3f} any constant answer"
        )

# %% [markdown] tags=["lesson"]
# On text the probe finds little. The trained models' states give balanced accuracies at or above a
# constant answer's for both quantities (one [−1, 1] seed at 0.499 on the parity of `"`), and medians
# *below* the same probe's on the untrained networks, for both ranges:
# a random network's state is a rich, unsorted record of the last bytes, and 120 steps of next-byte
# prediction rearranged it without making strings or brackets easier to read. Nor is the [−1, 1] model
# above the [0, 1] model on either quantity. Does the [−1, 1] range let a language model carry such a
# quantity further? Not at this scale: the probe is shown to work (on programs), and these language
# models are too small to show the difference, if there is one.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7 · What this scale shows
#
# The paper trains DeltaNets of 340M and 1.3B parameters on 100B tokens of FineWeb, with both ranges, and
# reports (§5.3 and Table 4 of the final version, arXiv v5) that training is as stable with [−1, 1] and
# perplexity competitive: on Wikitext 24.68 ([0, 1]) against 24.54 ([−1, 1]) at 340M, 18.54 against 18.57
# at 1.3B, and lower perplexity with [−1, 1] on code and maths. At `small` our models have 67 thousand
# parameters and read 0.25 MB of bytes: their bits per byte cannot be compared with a perplexity per token of another
# tokeniser, dataset and scale, and agreeing or not with the paper's numbers would mean nothing here.
# What this lesson can say:
#
# - On programs of swaps, a task that needs an eigenvalue of −1, one DeltaNet layer with β ∈ [0, 2]
#   tracked the variables far beyond its training lengths on each of 3 seeds (to 64 tokens; to 128 on 2
#   of 3), and with β ∈ [0, 1] it scored what remembering the values without their places scores. With
#   counters and copies in the programs, no model of this size solved any length.
# - On text, at this scale, the two ranges trained alike, and the probe's reading of their states is in
#   §6. Whether the [−1, 1] range helps a language model track state is a question for the `full` size
#   and beyond: `lrnn-course experiment lm --size full --seeds 3` and `lrnn-course experiment code --size
#   full --seeds 3` write the records a GPU session would commit.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A straight-line program is a word problem whose letters are statements: swaps generate $S_k$, `+=`
#   steps $\mathbb{Z}_m$, assignments reset. A swap is one reflection (β = 2) on a state with a row per
#   variable, an assignment one delta-rule write (β = 1); the labels come from an interpreter (yours).
# - Trained on programs of swaps of up to 16 tokens, DeltaNet with β ∈ [0, 2] scored ≥ 0.95 to 64 tokens
#   on 3 of 3 seeds (to 128 on 2 of 3), and a linear probe reads a variable's value from its state exactly;
#   with β ∈ [0, 1] it remembered the values but not their places (within 0.04 of that baseline's 0.400
#   at every length, on 3 of 3 seeds). With
#   counters and copies, no model of this size solved any length.
# - Byte-level DeltaNets on the standard library's own source reach about 3.3 bits per byte at `small`
#   with either range (unigram 4.5), within seed noise of each other; probes of their states find
#   strings and brackets no better than in untrained networks. The paper's claims about language models
#   are about 1.3B parameters; this lesson measures none of them.
#
# **Next:** the kernels track (K1) writes the scans of these models in Triton.
