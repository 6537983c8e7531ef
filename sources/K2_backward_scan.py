# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # K2 · The backward scan and autograd
#
# Training needs gradients, and PyTorch cannot differentiate through a Triton kernel by itself: the
# kernel is a black box to autograd. This lesson derives the backward pass of the diagonal scan,
# finds that it is **another diagonal scan, run backwards in time**, and wires both into
# `torch.autograd.Function`. By the end you will be able to say:
#
# > *The adjoint $\lambda_t = \partial L / \partial h_t$ obeys $\lambda_t = a_{t+1} \lambda_{t+1} + g_t$,
# > a scan over reversed time with the gates shifted one step later; then
# > $\partial L/\partial b_t = \lambda_t$, $\partial L/\partial a_t = \lambda_t h_{t-1}$ and
# > $\partial L/\partial h_0 = a_1 \lambda_1$.*
#
# **Plan.** 1 · the adjoint recurrence, checked against autograd; 2 · a reverse scan in Triton;
# 3 · the gradients (exercise); 4 · `autograd.Function`; 5 · how far gradients reach back.

# %% [markdown] tags=["practice"]
# # Practice · K2: the backward pass of the scan
#
# One exercise: `scan_backward`, the three gradients of the diagonal scan from its inputs, its
# states and the gradient arriving from above. Replace `raise NotImplementedError()` with your code
# and run the `check(...)` cell below it; call `check(..., hint=1)` for a hint.
# The maths each exercise needs is in this notebook; the lesson notebook (`lrnn-course fetch lessons`)
# adds the experiments and figures around it.

# %% [markdown] tags=["instructor"] minutes={"teach": 25, "practice": 15} needs=["K1"]
# ## Talking points
#
# - §1: derive $\lambda_t = g_t + a_{t+1}\lambda_{t+1}$ on the board for three steps before showing code;
#   the loop matches autograd exactly (`0.0e+00` for all three gradients). Pause for questions here.
# - Warn about indexing: the prose counts steps from 1 ($\partial L/\partial h_0 = a_1\lambda_1$), the code
#   from 0 (`a[:, 0] * adjoints[:, 0]`, with `h0` the initial state).
# - §2: the reverse scan is K1's kernel with `REVERSE=True` (time indices flipped, the gate shifted one step
#   later), not `tl.associative_scan(reverse=True)`, which some Triton releases got wrong; `3.2e-07` against
#   the loop.
# - §4, the sentence to leave with: the backward pass of a linear recurrence is the same recurrence,
#   transposed and run backwards. In an `autograd.Function` the kernel trains like any op (`4.3e-07` for
#   dL/da against float64 autograd); the adjoints stay float32 even for bfloat16 inputs.
# - §5: with a = −1 the gradient keeps its size, `|a| = 1.00: |dL/db_0| = 1 after 63 steps back`, while
#   |a| < 1 fades geometrically; the sign of a gate flips the gradient's sign, not its size (a and −a
#   differ by `0.0e+00`). No cell is slow.
#
# ## Common mistakes
#
# - **`K2.scan_backward`**: $\partial L/\partial a_t = \lambda_t h_t$, the current state:
#   “dL/db are the adjoints: T = 9” stays green, “dL/da needs the previous states” is red. Ask what $a_t$
#   multiplied in the forward step, and what that is at the first step.
# - **`K2.scan_backward`**: $\partial L/\partial h_0 = \lambda_0$, the first gate forgotten:
#   “dL/dh0 and the carry across blocks: T = 50” is red. Ask through which step `h0` enters the states.
# - **`K2.scan_backward`**: the adjoints from a forward launch (no `reverse=True`): every row but “length 1”
#   is red, and “dL/db are the adjoints: T = 9” is the one the report explains. Have them write out the
#   adjoints of two steps by hand (the loop of the lesson's §1).
# - **`K2.scan_backward`**: the adjoints launched without `dtype=torch.float32`, so rounded to bfloat16 before the
#   products, or results left in float32: right in float32, red on “bfloat16 gates, float32 h0: dtypes kept,
#   adjoints in float32” (dL/dh0 in float32 shows the second rounding at once) or on its float16 twin.
# - **`K2.scan_backward`**: the adjoints by a Python loop, or autograd through a float64 re-run of the forward
#   pass: every value row is green, “the adjoints come from launch_scan” is red (“never called launch_scan”). The
#   check stands in for `launch_scan` with a scan of the gates 0.5·a and sees whether the gradients follow it.
# - **`K2.scan_backward`**: the previous states built by shifting `h` in place: the values are right, the
#   automatic row “does not modify its inputs” is red (“modified its input `h`”).

# %% tags=["parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": longer sequences
DEVICE = "auto"  # ignored: kernels run where Triton runs (compiled on a CUDA GPU, else the interpreter on the CPU)
SEED = 0

# %% slideshow={"slide_type": "skip"}
import torch

import lrnn_course
from lrnn_course import check
from lrnn_course.kernels import triton_mode, triton_status
from lrnn_course.kernels.scan import launch_scan

kernel_device = torch.device("cuda" if triton_mode() == "compiled" else "cpu")
torch.manual_seed(SEED)
print(f"lrnn_course {lrnn_course.__version__}; Triton {triton_status()}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · The adjoint recurrence
#
# Let the loss depend on every state, with $g_t = \partial L / \partial h_t$ its *direct* gradient
# (what arrives from the layers above). A state $h_t$ also reaches the loss through the next one,
# $h_{t+1} = a_{t+1} h_t + b_{t+1}$, so its total gradient — the **adjoint** — is
#
# $$\lambda_t = g_t + a_{t+1} \lambda_{t+1}, \qquad \lambda_T = g_T .$$
#
# Every input touches exactly one step, so the gradients follow from the adjoints elementwise:
# $\partial L/\partial b_t = \lambda_t$, $\partial L/\partial a_t = \lambda_t\, h_{t-1}$ (with
# $h_0$ the initial state) and $\partial L/\partial h_0 = a_1 \lambda_1$. (In code time counts from
# 0: the first step is index 0.)

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "-"}
# A Python loop of exactly these formulas, against PyTorch's autograd through the sequential scan of
# Lesson 01, in float64:

# %% tags=["lesson"]
import matplotlib.pyplot as plt

from lrnn_course import scan
from lrnn_course.ops import diagonal_scan


def adjoints_by_loop(a, grad_h):
    """λ_t = g_t + a_{t+1} λ_{t+1}, from the last step back to the first."""
    adjoints = torch.zeros_like(grad_h)
    carried = torch.zeros_like(grad_h[:, 0])
    for t in reversed(range(grad_h.shape[1])):
        next_gate = a[:, t + 1] if t + 1 < a.shape[1] else torch.zeros_like(carried)
        carried = grad_h[:, t] + next_gate * carried
        adjoints[:, t] = carried
    return adjoints


# %% tags=["lesson"]
generator = torch.Generator().manual_seed(SEED)
a = 2 * torch.rand(2, 30, 4, generator=generator, dtype=torch.float64) - 1
b = torch.randn(2, 30, 4, generator=generator, dtype=torch.float64)
h0 = torch.randn(2, 4, generator=generator, dtype=torch.float64)
grad_h = torch.randn(2, 30, 4, generator=generator, dtype=torch.float64)

leaves = [x.clone().requires_grad_(True) for x in (a, b, h0)]
states = scan.sequential_scan(*leaves)
states.backward(grad_h)
adjoints = adjoints_by_loop(a, grad_h)
previous_states = torch.cat((h0[:, None], states.detach()[:, :-1]), dim=1)
by_formula = {"dL/da": adjoints * previous_states, "dL/db": adjoints, "dL/dh0": a[:, 0] * adjoints[:, 0]}
for (name, formula), leaf in zip(by_formula.items(), leaves):
    error = (formula - leaf.grad).abs().max().item()
    print(f"{name:7s}: adjoint formula against autograd, largest difference {error:.1e}")
    assert error < 1e-12

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · A reverse scan in Triton
#
# The adjoint recurrence is a diagonal scan: gates $a_{t+1}$, inputs $g_t$, run from the end. The
# kernel of K1 runs it with `REVERSE=True`: each block maps its positions to times counted from the
# end, $t = T - 1 - s$, and loads the gate of step $t + 1$ (the identity gate 1 past the end, where it
# multiplies the zero the adjoint starts from). So the ordinary forward `tl.associative_scan` walks
# the recurrence backwards. Why not `tl.associative_scan(..., reverse=True)`? Some Triton releases
# computed reversed scans wrongly for non-commutative combines; reversing the indices is correct on
# every version, and the course's tests compare it with a loop on every run.

# %% tags=["lesson"]
a32, grad_h32 = (x.to(kernel_device, torch.float32) for x in (a, grad_h))
zero_start = torch.zeros(2, 4, device=kernel_device)
reversed_by_kernel = launch_scan(a32, grad_h32, zero_start, reverse=True, dtype=torch.float32).double().cpu()
error = (reversed_by_kernel - adjoints).abs().max().item()
print(f"reverse kernel against the adjoint loop: largest difference {error:.1e}")
assert error < 1e-5

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · The gradients
#
# `scan_backward` puts sections 1 and 2 together: one reverse launch for the adjoints, then three
# elementwise products. It is the exercise of this lesson.

# %% [markdown]
# ### Exercise · `scan_backward`
#
# Given the gates `a`, the initial state `h0`, the states `h` that the forward pass returned and
# `grad_h` $= \partial L/\partial h$, return `(grad_a, grad_b, grad_h0)`. Compute the adjoints
# $\lambda_t = a_{t+1}\lambda_{t+1} + g_t$ (with $g_t$ = `grad_h[:, t]`) by
# `launch_scan(a, grad_h, no_adjoint_from_beyond_the_end, reverse=True, dtype=torch.float32)`, then
# the three gradients, with time counted from 0 as in the code: $\partial L/\partial b_t = \lambda_t$,
# $\partial L/\partial a_t = \lambda_t h_{t-1}$ (where $h_{-1}$ is `h0`, the initial state) and
# $\partial L/\partial$`h0` $= a_0 \lambda_0$. Return them in the dtypes of `a` and `h0`.

# %%
#| exercise: K2.scan_backward

# %% tags=["nbval-check-output"]
check("K2.scan_backward", scan_backward)

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 4 · `torch.autograd.Function`
#
# `kernels.diagonal_scan` runs a forward kernel built like K1's inside a `torch.autograd.Function` whose
# `forward` saves $a$, $h_0$ and the states, and whose `backward` computes what `scan_backward`
# does, fused into one reverse kernel (`kernels.scan.fused_scan_backward`): while it walks back in
# time it also reads $h_{t-1}$ and writes $\partial L/\partial a_t$ and $\partial L/\partial b_t$ itself,
# 20 bytes an element in float32 where the reverse launch, `torch.cat` and the product move 32.
# The adjoints stay in float32 even for bfloat16 inputs: rounding them before the products would
# add a second rounding to every gradient. With it, the kernel trains like any PyTorch operation:

# %% tags=["lesson"]
leaves32 = [x.to(kernel_device, torch.float32).requires_grad_(True) for x in (a, b, h0)]
diagonal_scan(*leaves32, backend="triton").backward(grad_h.to(kernel_device, torch.float32))
for name, mine, reference in zip(("dL/da", "dL/db", "dL/dh0"), leaves32, leaves):
    error = (mine.grad.double().cpu() - reference.grad).abs().max().item()
    print(f"{name:7s}: Triton backward against float64 autograd, largest difference {error:.1e}")
    assert error < 1e-5

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 5 · How far back a gradient reaches
#
# Unrolled, $\lambda_t$ holds $g_s \prod_{r=t+1}^{s} a_r$ for every later $s$: the gradient of a late
# loss reaching an early step is a product of gates. With $|a| < 1$ it fades geometrically; with
# $a = -1$ — the reflection that solves parity — its magnitude is kept forever and only its sign
# alternates. Below, only the last state is in the loss ($g_T = 1$, all other $g_t = 0$), and the
# kernel's reverse scan gives $|\partial L/\partial b_t|$ for constant gates. Each dashed line
# (a negative gate) runs inside the wide line of the same colour, the positive gate of the same
# $|a|$: the sign alternates, the size does not.

# %% tags=["lesson"]
STEPS = {"small": 64, "full": 1024}[SIZE]
last_only = torch.zeros(1, STEPS, 1, device=kernel_device)
last_only[:, -1] = 1.0
SIZES = (0.9, 0.99, 1.0)
reach = {}  # per gate: |dL/db_t| for every step t
for gate in (sign * size for size in SIZES for sign in (1, -1)):
    constant = torch.full((1, STEPS, 1), gate, device=kernel_device)
    adjoints = launch_scan(
        constant, last_only, torch.zeros(1, 1, device=kernel_device), reverse=True, dtype=torch.float32
    )
    reach[gate] = adjoints[0, :, 0].abs().cpu()

# %% tags=["lesson"]
figure, axes = plt.subplots(figsize=(7, 4))
for colour, size in enumerate(SIZES):
    for gate in (size, -size):
        # Wide, pale solid lines, so that the dashed ones drawn on top of them stay visible.
        style = {"linestyle": "--"} if gate < 0 else {"linewidth": 5, "alpha": 0.4}
        axes.plot(range(STEPS), reach[gate], color=f"C{colour}", label=f"a = {gate:+.2f}", **style)
axes.set_yscale("log")
axes.set_xlabel("step t")
axes.set_ylabel("|dL/db_t| with the loss on the last state only")
axes.set_title("Gradients fade as |a|^(T - 1 - t); a = -1 keeps them whole")
axes.legend()
plt.show()
for size in SIZES:
    print(
        f"|a| = {size:.2f}: |dL/db_0| = {reach[-size][0].item():.3g} after {STEPS - 1} steps back; "
        f"a = ±{size:.2f} differ by at most {(reach[size] - reach[-size]).abs().max().item():.1e}"
    )

# %% [markdown] tags=["lesson"]
# **What to remember.** The backward pass of a linear recurrence is the same recurrence, transposed
# and run backwards: for a diagonal scan, the same kernel with `REVERSE=True`. The gradients of the
# inputs are elementwise products of the adjoints with what each input multiplied. The chunked
# delta rule of K3 follows the same plan, with matrices in place of numbers.
