# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # K1 · Triton from zero to the diagonal scan
#
# Lesson 01 showed that the recurrence $h_t = a_t \odot h_{t-1} + b_t$ is an associative scan, and
# computed it three ways in PyTorch. This lesson writes it as a **Triton kernel**: a function that
# runs as many parallel *programs* as you ask for, each owning a block of the data. By the end you
# will be able to say:
#
# > *One program owns one batch row and a block of columns; it walks through time in blocks, turns
# > each block's steps into prefix compositions with `tl.associative_scan`, and carries the last
# > state into the next block. Nothing in it assumes $a_t \ge 0$.*
#
# **Plan.** 1 · where kernels run; 2 · programs, blocks and masks; 3 · one block as an associative
# scan; 4 · the kernel (exercise); 5 · how fast, and what limits it.
#
# Without a GPU every kernel here runs through Triton's *interpreter*: the same source, executed
# block by block with NumPy on the CPU. Results are the same; speed is not, so the inputs stay small.

# %% [markdown] tags=["practice"]
# # Practice · K1: the diagonal-scan kernel
#
# One exercise: the block loop of the Triton kernel for $h_t = a_t \odot h_{t-1} + b_t$. Replace
# `raise NotImplementedError()` with your code and run the `check(...)` cell below it; call
# `check(..., hint=1)` for a hint.
# The maths each exercise needs is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the experiments and figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 35, "practice": 30} needs=["01"]
# ## Talking points
#
# - §1: have everyone read their mode line (a laptop prints `Triton interpreter: ...`). `lrnn_course` must
#   be imported before `triton`, since `@triton.jit` reads `TRITON_INTERPRET` when it decorates.
# - §2: one program, one block, a mask:
#   `3 programs of 4 lanes; the last has 2 real lanes and 2 masked ones`. `BLOCK` is a `tl.constexpr` power
#   of two; `length` is an ordinary argument.
# - §3, pause here: the combine is not commutative. Two steps from h = 0 give `h = 2.00` in the right order
#   and `h = 1.00` swapped; inside a kernel the swap is a silent wrong answer, not an error.
# - §4, the sentence to leave with: one program owns a batch row and a column block, scans each time block
#   with `tl.associative_scan`, pads with the identity step (1, 0), and carries the block's last state into
#   the next. Against the float64 loop (T = 37, D = 5, gates −1, 0 and 1 mixed in): `1.4e-06`.
# - §5 is the slow cell under the interpreter (a Python call per combine): the PyTorch loop runs about
#   two hundred times as many elements/s as the kernel, `a + b` over a hundred thousand times as many (orders of
#   magnitude; the rates themselves vary from machine to machine). The interpreter is for correctness;
#   `benchmarks/bench_kernels.py` measures a GPU. Each `check` takes seconds on a laptop.
#
# ## Common mistakes
#
# - **`K1.diagonal_scan_kernel`**: `tl.associative_scan((inputs, gates), ...)`: “one block: T = 8, D = 3” is
#   red, with the rest. Ask in which order `_compose` expects gate and input.
# - **`K1.diagonal_scan_kernel`**: the carry never updated after a block: “one block: T = 8, D = 3” and
#   “initial state and long memory” (one block) stay green, “the carry crosses blocks: T = 300” is the row
#   the report explains. The carry not applied to the states at all: “initial state and long memory” explains
#   it. Ask what state the second block starts from; `hint=1` on the carry row shows how to pick one row
#   without row indexing. T = 300 spans several blocks compiled too (64 or 128 steps per block on a GPU).
# - **`K1.diagonal_scan_kernel`**: a mask missing on one axis, a store without the load's mask, `times <= steps`,
#   or a row stride of `BLOCK_D` or `steps` instead of `width`: the kernel stores out of bounds. Every tensor it
#   gets sits between guard bands, so nothing crashes; “no load or store out of bounds” is red and says which
#   tensor and which mistake touches exactly those elements, e.g. “wrote 11 elements past the end of h (out of
#   bounds): that is columns past D in the last row: check the column mask of the store”, or “that is one step
#   past T”. Under the interpreter every load is watched by its address, so a load without its mask is red even
#   when its value is never stored: “read 111 elements past the end of b (out of bounds): that is steps past T
#   in the last block: check the time mask of the load” (the h0 load too). Compiled on a GPU, only a load whose
#   NaN reaches h shows: “read outside a (out of bounds)”. Have them write the offset of element (b, t, d) on paper.
# - **`K1.diagonal_scan_kernel`**: a time mask that stops a step early (`< steps - 1`): “never stored h at
#   [b=0, t=7, d=0] … inside a block of 16 steps”. A block loop that stops early (`range(0, steps - 1, BLOCK_T)`):
#   “a last block of one step: T = 257” is the only red row. A batch offset of one row (`(batch + times) * width`):
#   “batch rows apart: B = 3, T = 8, D = 3” says batch row 0 is stored whole, the others are not.
# - **`K1.diagonal_scan_kernel`**: loads without `.to(tl.float32)`: right in float32, red on
#   “float16 and bfloat16 inputs: the scan runs in float32” (a float16 scan is off by 1e-2 at T = 100).
# - **`K1.diagonal_scan_kernel`**: every row red with “Triton cannot run in this Python process”: the learner's
#   file or notebook imported `triton` before `lrnn_course.kernels`, so Triton's library was built for a GPU that
#   is not there. `import lrnn_course.kernels` first, then restart Python.
# - **`K1.diagonal_scan_kernel`**: anything that assumes $a_t \ge 0$ (logarithms, square roots) fails
#   “negative gates”; dividing by the gate products (the closed form) fails “gates of exactly 0, -1 and 1”.
#   `REVERSE` may be ignored: the check runs the forward direction only.

# %% tags=["parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": GPU-sized timings
DEVICE = "auto"  # ignored: kernels run where Triton runs (compiled on a CUDA GPU, else the interpreter on the CPU)
SEED = 0

# %% slideshow={"slide_type": "skip"}
import torch

import lrnn_course
from lrnn_course import check
from lrnn_course.kernels import triton_mode, triton_status

# Triton's kernels take their tensors where Triton runs: on the GPU when compiled, else on the CPU.
kernel_device = torch.device("cuda" if triton_mode() == "compiled" else "cpu")
torch.manual_seed(SEED)
print(f"lrnn_course {lrnn_course.__version__}; Triton {triton_status()}")

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 1 · Where kernels run
#
# `lrnn_course` decides once, when it is imported, how kernels run: compiled for a CUDA GPU, or
# through the interpreter (it sets `TRITON_INTERPRET=1` before `triton` is first imported, because
# `@triton.jit` reads that variable when it decorates a function). That is why every notebook of
# this track imports `lrnn_course` before `triton`. The line above says which mode you are in.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · Programs, blocks and masks
#
# A Triton kernel is written for **one program**. Launched on a *grid*, say `(4,)`, it runs as four
# programs; each asks `tl.program_id(0)` which one it is and works on its own block of
# `BLOCK` elements, loaded as a whole with `tl.load` and stored with `tl.store`. The last block
# usually hangs over the end of the data: a **mask** says which lanes are real, `other=` says what a
# masked-off load returns, and a masked store writes nothing.

# %% tags=["lesson"]
import matplotlib.pyplot as plt
import triton
import triton.language as tl

from lrnn_course import scan
from lrnn_course.kernels.scan import launch_scan
from lrnn_course.ops import diagonal_scan


@triton.jit
def scale_kernel(x_ptr, out_ptr, length, factor, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    inside = offsets < length
    x = tl.load(x_ptr + offsets, mask=inside, other=0.0)
    tl.store(out_ptr + offsets, factor * x, mask=inside)


x = torch.arange(10, dtype=torch.float32, device=kernel_device)
out = torch.full_like(x, -1.0)
block = 4
scale_kernel[(triton.cdiv(len(x), block),)](x, out, len(x), 3.0, BLOCK=block)
print("x      :", " ".join(f"{value:4.0f}" for value in x.tolist()))
print("3 · x  :", " ".join(f"{value:4.0f}" for value in out.tolist()))
print(
    f"{triton.cdiv(len(x), block)} programs of {block} lanes; the last has {len(x) % block} real lanes and "
    f"{block - len(x) % block} masked ones"
)

# %% [markdown] tags=["lesson"]
# `BLOCK` is a `tl.constexpr`: a compile-time constant, a power of two, fixed for each compiled
# version of the kernel. `length` is an ordinary argument and may change freely.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · One block of time as an associative scan
#
# Step $t$ is the affine map $h \mapsto a_t h + b_t$, which we write as the pair $(a_t, b_t)$. Doing
# step $(a, b)$ first and $(a', b')$ second is again such a step:
#
# $$(a', b') \circ (a, b) = (a' a,\; a' b + b').$$
#
# This composition is associative, so `tl.associative_scan` can combine a block of $B_T$ steps in
# $\log_2 B_T$ parallel rounds into the prefix compositions $(A^{\mathrm{cum}}_t, B^{\mathrm{cum}}_t)$:
# the map from the block's entering state to $h_t$. It is **not commutative**: the combine function
# receives the earlier step first, and swapping its arguments is a classic bug that gives wrong
# states without any error.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "-"}
# Both orders, on two steps:


# %% tags=["lesson"]
def compose(earlier, later):
    """(a_later, b_later) ∘ (a_earlier, b_earlier): the step that acts first comes first."""
    (gate_earlier, input_earlier), (gate_later, input_later) = earlier, later
    return gate_earlier * gate_later, gate_later * input_earlier + input_later


first, second = (-1.0, 2.0), (0.5, 1.0)
state = 0.0
for gate, drive in (first, second):
    state = gate * state + drive
right = compose(first, second)
wrong = compose(second, first)
print(f"two steps from h = 0, one after the other: h = {state:.2f}")
print(f"compose(first, second) applied to 0      : h = {right[1]:.2f}  (matches)")
print(f"compose(second, first) applied to 0      : h = {wrong[1]:.2f}  (the swapped order)")
assert right[1] == state and wrong[1] != state

# %% [markdown]
# Inside the kernel the same function is `_compose`, decorated with `@triton.jit` and applied to
# whole blocks of gates and inputs at once. The states of a block entered with the carried state
# $h_{\text{in}}$ are then $h_t = A^{\mathrm{cum}}_t h_{\text{in}} + B^{\mathrm{cum}}_t$, and the last of
# them is the carry for the next block — `chunked_scan` of Lesson 01, with the chunks visited in
# order by one program.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · The kernel
#
# One program owns batch row `tl.program_id(0)` and the `BLOCK_D` columns of block
# `tl.program_id(1)`; columns never interact in a diagonal scan. The layout is row-major
# `(B, T, D)`, so element $(b, t, d)$ sits at `(b * steps + t) * width + d`.

# %% [markdown]
# ### Exercise · the block loop
#
# Complete the loop over time blocks of `diagonal_scan_kernel`. For each block: compute the
# times it covers and a mask (time inside the sequence and column inside the state); load gates
# with `other=1.0` and inputs with `other=0.0` (a padded step is the identity step $(1, 0)$), and convert both
# to float32 with `.to(tl.float32)` (the inputs may be float16 or bfloat16: the scan runs in float32 all the same);
# combine them with `tl.associative_scan((gates, inputs), axis=0, combine_fn=_compose)`; form the
# states from the carry; store them; make the block's last row the new carry. Every load and every store
# takes its mask, the h0 load too: nothing may be read or written outside the tensors. `REVERSE` runs time
# backwards for the backward pass of K2: you may ignore it here (the check runs `REVERSE=False`).

# %%
# The combine function of lesson K1, section 3, as a Triton function, for the kernel's tl.associative_scan.

# %%
#| exercise: K1.diagonal_scan_kernel

# %% tags=["nbval-check-output"]
check("K1.diagonal_scan_kernel", diagonal_scan_kernel)

# %% [markdown] tags=["lesson"]
# `launch_scan` runs a kernel with this signature on the course's blocks (`BLOCK_T = 16` and
# `BLOCK_D` up to 16 under the interpreter, narrowed to the next power of two ≥ $D$; larger on a GPU: `BLOCK_T` 64 or
# 128, `BLOCK_D` 32 or 16,
# narrowed the same way)
# and grid `(B, ⌈D / BLOCK_D⌉)`. On an awkward shape — $T = 37$ is no multiple of 16, $D = 5$ fills
# five of its column block's eight lanes — with gates of exactly $-1$, $0$ and $1$ mixed in, the
# kernel above agrees with the float64 loop of Lesson 01:

# %% tags=["lesson"]
generator = torch.Generator().manual_seed(SEED)
gates = 2 * torch.rand(2, 37, 5, generator=generator, dtype=torch.float64) - 1
gates[0, :3, 0] = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
gates[1, :, 4] = -1.0  # a column that flips sign at every step
inputs = torch.randn(2, 37, 5, generator=generator, dtype=torch.float64)
initial = torch.randn(2, 5, generator=generator, dtype=torch.float64)
expected = scan.sequential_scan(gates, inputs, initial)
a, b, h0 = (x.to(kernel_device, torch.float32) for x in (gates, inputs, initial))
states = launch_scan(a, b, h0, kernel=diagonal_scan_kernel).double().cpu()
error = (states - expected).abs().max().item()
print(
    f"largest error against the float64 loop: {error:.1e} (float32 rounding is about "
    f"{torch.finfo(torch.float32).eps:.0e})"
)
assert error < 1e-5

# %% [markdown] tags=["lesson"]
# The library's `kernels.diagonal_scan(a, b, h0)` wraps the same kernel with input checks and a
# backward pass (K2), and raises where Triton cannot run. `ops.diagonal_scan(a, b, h0, backend=...)`,
# which the models call, chooses: `"auto"` takes the kernel on a CUDA GPU and the PyTorch loop
# elsewhere (the interpreter is for learning, not for speed); `"triton"`, as below, asks for the kernel.

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 5 · How fast, and what limits it
#
# The scan does two multiply-adds per element and moves 12 bytes per element in float32 (read
# $a_t$ and $b_t$, write $h_t$). Arithmetic is negligible: on a GPU the kernel is bound by memory
# bandwidth, and the yardstick is an elementwise `a + b`, which moves the same bytes with no
# dependence along time. `benchmarks/bench_kernels.py` measures the kernel against a device copy
# side by side on a GPU (bytes moved per second, and fla's scan on the same shape). Under the
# interpreter the question is different: every combine is a Python call, so the interpreter is a
# tool for correctness, not speed. The plot measures whichever of the two this machine runs.

# %% tags=["lesson"]
from lrnn_course import bench, viz

LENGTHS = {"small": (16, 64, 256), "full": (1024, 4096, 16384)}[SIZE]
WIDTH = {"small": 16, "full": 2048}[SIZE]
BATCH = {"small": 1, "full": 8}[SIZE]


def scan_inputs(steps):
    """Gates in [-1, 1], inputs and a zero state, (B, T, D) on the kernel's device."""
    a = torch.rand(BATCH, steps, WIDTH, device=kernel_device) * 2 - 1
    b = torch.randn(BATCH, steps, WIDTH, device=kernel_device)
    return a, b, torch.zeros(BATCH, WIDTH, device=kernel_device)


timings = bench.seconds_by_length(
    LENGTHS,
    scan_inputs,
    {
        "Triton kernel": lambda a, b, h0: diagonal_scan(a, b, h0, backend="triton"),
        "PyTorch loop (Lesson 01)": scan.sequential_scan,
        # Reads a and b and writes one tensor, as the scan does: the memory-bound ceiling, meaningful on a GPU.
        "a + b (same bytes, no recurrence)": lambda a, b, h0: torch.add(a, b),
    },
)
elements = [BATCH * steps * WIDTH for steps in LENGTHS]
title = f"Diagonal scan throughput, B = {BATCH}, D = {WIDTH} ({triton_mode()} Triton)"
viz.plot_timings(LENGTHS, timings, title, elements=elements)
plt.show()
for label, seconds in timings.items():
    print(f"{label:34s}: {elements[-1] / seconds[-1]:.3g} elements/s at T = {LENGTHS[-1]}")

# %% [markdown] tags=["lesson"]
# Under the interpreter the kernel is the slowest line by far: it is there to be read, stepped
# through and tested, not timed. Compiled, the same source is measured against the bandwidth
# ceiling by `benchmarks/bench_kernels.py` (run it on a GPU; it writes `benchmarks/results/h100.json`).
#
# **What to remember.** A kernel is written for one program and its block; masks make the blocks
# fit any shape, with padding chosen to be the identity step; `tl.associative_scan` composes a
# block's steps in parallel, in the right order; a carried state joins the blocks. K2 runs the same
# kernel backwards to differentiate it.
