"""``lrnn-course new-lesson NN slug``: a new numbered lesson that meets every rule of ``CONTRIBUTING.md`` at once.

Glossary (contributor plumbing; no paper symbols):

==========  ==========================================================================
number      the lesson's two digits, ``"10"``; its exercise ids start with them
            (``10.running_sum``) and its check module is ``checks/lesson10.py``
slug        the lesson's name in files and code, ``"gated_sums"``: ``sources/10_gated_sums.py``,
            the package module ``lrnn_course/gated_sums.py``, ``tests/test_gated_sums.py``
stem        ``NN_slug``, the name of the source and of its three notebooks
template    the five files written: a working two-exercise lesson on h_t = g h_{t-1} + x_t
            (its source, its package module, its check module, their tests and its
            mutants), which the author replaces part by part with the lesson's own
==========  ==========================================================================

Nothing is written unless every file is new, and no other file of the checkout is edited: what lists the
lessons by hand (the README's lesson map, the 1-day workshop, the course timings) is named in ``next_steps``.
The check module is found by the registry (``lrnn_course.checks``) by its name alone.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path

NUMBER = re.compile(r"\d\d")
SLUG = re.compile(r"[a-z][a-z0-9_]*")
MAX_SLUG, MAX_TITLE = 30, 60  # so that every generated line stays within ruff's 120 characters
# A title shows in a markdown heading, an HTML deck and Python docstrings: letters, digits and punctuation
# that none of them reads as markup.
TITLE_PUNCTUATION = " ,.:;()?!+/=-"
TEMPLATE_FIELD = re.compile(r"\{\{(NN|slug|title)\}\}")


class ScaffoldRefused(ValueError):
    """Why a lesson cannot be written; nothing was written."""


@dataclass(frozen=True)
class NewLesson:
    """A lesson to write: its number, slug and title (see the glossary)."""

    number: str
    slug: str
    title: str

    @property
    def stem(self) -> str:
        return f"{self.number}_{self.slug}"

    def files(self, root: Path) -> dict[Path, str]:
        """Every file the lesson needs, under the checkout ``root``, with its text."""
        fields = {"NN": self.number, "slug": self.slug, "title": self.title}

        def filled(template: str) -> str:
            return TEMPLATE_FIELD.sub(lambda match: fields[match.group(1)], template)

        return {
            root / "sources" / f"{self.stem}.py": filled(SOURCE),
            root / "lrnn_course" / f"{self.slug}.py": filled(MODULE),
            root / "lrnn_course" / "checks" / f"lesson{self.number}.py": filled(CHECKS),
            root / "tests" / f"test_{self.slug}.py": filled(MODULE_TESTS),
            root / "tests" / f"test_mutants_{self.number}.py": filled(MUTANTS),
        }


def package_names() -> set[str]:
    """What ``lrnn_course`` exports (``check``, ``device``...): a module of the same name would replace it."""
    import lrnn_course

    return set(lrnn_course.__all__)


def planned_lesson(root: Path, number: str, slug: str, title: str | None = None) -> NewLesson:
    """The lesson ``number``/``slug`` in the checkout ``root``; ``ScaffoldRefused`` says why it cannot be written."""
    if not NUMBER.fullmatch(number) or number == "00":
        raise ScaffoldRefused(
            f"the lesson number must be two digits from 01 to 99, e.g. 10, not {number!r} "
            "(the kernel lessons K1-K4 need a Triton template and are written by hand)"
        )
    taken = sorted((root / "sources").glob(f"{number}_*.py"))
    if taken:
        raise ScaffoldRefused(f"lesson {number} exists already: {taken[0].relative_to(root)}; choose another number")
    if not SLUG.fullmatch(slug) or len(slug) > MAX_SLUG or keyword.iskeyword(slug) or slug.startswith("mutants"):
        raise ScaffoldRefused(
            f"the slug must be a lower-case Python name of at most {MAX_SLUG} letters, digits and underscores, "
            f"starting with a letter (and not a keyword), e.g. gated_sums, not {slug!r}: it names the lesson's "
            "package module"
        )
    module = root / "lrnn_course" / slug
    if module.exists() or module.with_suffix(".py").exists() or slug in package_names():
        raise ScaffoldRefused(f"lrnn_course.{slug} exists already: choose a slug that names the new lesson's module")
    title = title if title is not None else slug.replace("_", " ").capitalize()
    odd = sorted({char for char in title if not (char.isalnum() or char in TITLE_PUNCTUATION)})
    if not title.strip() or len(title) > MAX_TITLE or odd:
        reason = f"it holds {' '.join(odd)}" if odd else f"it has {len(title)} characters"
        raise ScaffoldRefused(
            f"the title must be 1 to {MAX_TITLE} letters, digits, spaces or any of {TITLE_PUNCTUATION.strip()} "
            f"(it goes into a heading, a slide deck and docstrings); {reason}"
        )
    lesson = NewLesson(number, slug, title.strip())
    existing = [path.relative_to(root).as_posix() for path in lesson.files(root) if path.exists()]
    if existing:
        raise ScaffoldRefused(f"refusing to overwrite {', '.join(existing)}; nothing was written")
    return lesson


def write_lesson(root: Path, number: str, slug: str, title: str | None = None) -> tuple[NewLesson, list[Path]]:
    """Write the lesson's files into the checkout ``root``: the lesson and the paths written, in order."""
    lesson = planned_lesson(root, number, slug, title)
    files = lesson.files(root)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return lesson, list(files)


def next_steps(lesson: NewLesson) -> str:
    """What the author does next: build, test, replace the template, and the lists kept by hand."""
    number, stem, slug = lesson.number, lesson.stem, lesson.slug
    return f"""
Next steps (CONTRIBUTING.md lists every rule a lesson meets, and the test that enforces it):
  1. lrnn-course build {number}        # the lesson, exercise and solution notebooks, and instructor/
  2. pytest tests/test_{slug}.py tests/test_mutants_{number}.py
     pytest tests -k "{stem} or {number}. or test_instructor or test_every_exercise" \\
       lessons/{stem}.ipynb --nbval-lax --nbval-current-env --nbval-sanitize-with nbval.cfg
  3. Replace the template part by part, building and testing in between: the prose and cells of
     sources/{stem}.py, the functions of lrnn_course/{slug}.py, their rows in lrnn_course/checks/lesson{number}.py,
     the mistakes in tests/test_mutants_{number}.py and the instructor cell's common mistakes.
  4. Lists kept by hand: a row for {number} in README.md's lesson map; lrnn_course.{slug} in the maths layer
     and the maths' forbidden contract of [tool.importlinter] in pyproject.toml (lint-imports checks only
     the modules they name); the 1-day workshop's lessons (WORKSHOPS in lrnn_course/instructor.py) if it
     belongs there; the "Next:" line of the lesson before it; benchmarks/results/course-cpu-small.md
     (lrnn-course run); a line in CHANGELOG.md.
  5. Commit the source, lessons/{stem}.ipynb, exercises/{stem}.ipynb, solutions/{stem}.ipynb, instructor/,
     the package and check modules and the two test files.
"""


# ---------------------------------------------------------------------------------------------- templates
# Each is filled by replacing {{NN}}, {{slug}} and {{title}}. The row names of the check module, the
# common mistakes of the instructor cell and the mutants name the same rows: change them together.

SOURCE = """# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# # {{NN}} · {{title}}
#
# The simplest linear recurrences: a running sum, then a sum whose state a gate scales at every step. By the
# end you will be able to say:
#
# > *A running sum is the recurrence $h_t = g\\,h_{t-1} + x_t$ with $g = 1$; a gate $|g| < 1$ forgets old
# > inputs geometrically, and a negative gate flips the sign of the state at every step.*
#
# (`lrnn-course new-lesson` wrote this lesson as a working template: replace its prose, exercises, checks
# and figure part by part with the lesson's own; `CONTRIBUTING.md` lists the rules each part meets.)
#
# **Plan.** 1 · the running sum; 2 · a gate; 3 · what the gate does over time.

# %% [markdown] tags=["practice"]
# # Practice · Lesson {{NN}}: {{title}}
#
# Two exercises on the recurrence $h_t = g\\,h_{t-1} + x_t$ from $h_0 = 0$, where the inputs `x` and the
# returned states `h` have shape `(B, T, D)` (batch, time, channels). Each gives you a function's signature
# and docstring: replace `raise NotImplementedError()` with your code and run the `check(...)` cell below
# it, which prints a table of the properties your function has. Call `check(..., hint=1)` for a hint.

# %% [markdown] tags=["instructor"] minutes={"teach": 20, "practice": 20} needs=["01"]
# ## Talking points
#
# - The sentence to leave with: *a running sum is the recurrence with gate 1; a gate below 1 in magnitude
#   forgets, a negative gate flips the sign of the state at every step.*
# - Section 2: gate 1 against the running sum prints a difference at the level of float64 rounding.
# - Section 3: on a constant input the state climbs to $1/(1 - g)$ for $0 < g < 1$, counts for $g = 1$
#   and zig-zags for $g < 0$.
#
# ## Common mistakes
#
# - **`{{NN}}.running_sum`**: `torch.cumsum(x, dim=1) - x` (the states before each step) fails
#   “one step: h_1 = x_1” (`yours 0.000000`); a sum over the last dimension fails “sums over time (dim 1),
#   not over channels”. A `.double()` on the way fails “keeps float32 and bfloat16”, a `.detach()`
#   “gradient matches autograd”, and adding into `x` in place “does not modify its inputs”.
# - **`{{NN}}.decayed_sum`**: `state + gate * step` fails “the gate multiplies the earlier state, not the
#   input” (`yours 0.500000`); the closed form $g^t \\sum_s x_s / g^s$ fails “gate exactly 0 keeps only the
#   last input” (a non-finite value); `abs(gate)` fails “gate -1 flips the sign of the state at every
#   step”. A state started from `torch.zeros(B, D)` fails “keeps float32 and bfloat16” (float32 for
#   bfloat16 inputs), and a state detached at each step “gradient matches autograd”.

# %% tags=["parameters"] slideshow={"slide_type": "skip"}
SIZE = "small"  # "small": <measured time>; "full": the same here (this lesson trains nothing)
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

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · The running sum
#
# The simplest linear recurrence adds each input to the state, $h_t = h_{t-1} + x_t$ from $h_0 = 0$, so that
# $h_t = x_1 + \\dots + x_t$. In code `x` and `h` have shape `(B, T, D)` and the sum runs over time,
# dimension 1: each of the $D$ channels keeps its own sum.

# %% [markdown]
# ### Exercise 1 · The running sum
#
# Return all the states `h`, shape `(B, T, D)`. The input check is done for you.

# %%
#| exercise: {{NN}}.running_sum

# %% tags=["nbval-check-output"]
check("{{NN}}.running_sum", running_sum)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · A gate
#
# Multiplying the state by a gate $g$ before each input is added gives $h_t = g\\,h_{t-1} + x_t$, whose
# closed form is $h_t = \\sum_{s \\le t} g^{t-s} x_s$: $g = 1$ is the running sum, $|g| < 1$ forgets old inputs
# geometrically, $g = 0$ keeps only the last input and $g = -1$ flips the sign of the state at every step.
#
# ### Exercise 2 · The decayed sum
#
# Return the states for a gate `gate` (a Python number). Loop over the steps of `x.unbind(dim=1)` and
# `torch.stack` the states: the check also tries `gate = 0`, `gate = -1` and 2 000 steps in float32.

# %%
#| exercise: {{NN}}.decayed_sum

# %% tags=["nbval-check-output"]
check("{{NN}}.decayed_sum", decayed_sum)

# %% [markdown] tags=["lesson"]
# With $g = 1$ the decayed sum is the running sum, up to float64's rounding:

# %% tags=["lesson", "nbval-check-output"]
inputs = torch.randn(2, 50, 3, dtype=torch.float64)
difference = (decayed_sum(inputs, 1.0) - running_sum(inputs)).abs().max().item()
print(f"gate 1 against the running sum: largest difference {difference:.1e}")

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## 3 · What the gate does over time
#
# A constant input $x_t = 1$ for 30 steps: the state climbs to the fixed point $1/(1 - g)$ when $0 < g < 1$,
# counts when $g = 1$, and zig-zags when $g < 0$.

# %% tags=["lesson"]
constant = torch.ones(1, 30, 1)
figure, axes = plt.subplots(figsize=(6, 3))
for gate in (0.5, 0.9, 1.0, -0.9):
    axes.plot(decayed_sum(constant, gate)[0, :, 0], marker=".", label=f"g = {gate}")
axes.set(xlabel="step t", ylabel="state", title="h_t = g h_(t-1) + 1")
axes.legend()
plt.show()

# %% [markdown] tags=["lesson"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A running sum is the linear recurrence $h_t = h_{t-1} + x_t$: it sums over time, one sum per channel.
# - A gate scales the state before each input: $|g| < 1$ forgets, $g = 0$ keeps the last input, $g < 0$
#   flips the sign of the state at every step.
"""

MODULE = '''"""Lesson {{NN}}, {{title}}: the functions its exercises ask for.

Glossary (the lesson's symbols and their names in code):

========  ==========================================================================
``x``     the inputs x_1 … x_T, shape (B, T, D): batch, time, channels
``gate``  g, a Python number: each step scales the state by it, then adds x_t
``h``     the states h_1 … h_T, shape (B, T, D), from h_0 = 0: h_t = g h_{t-1} + x_t
========  ==========================================================================

Written by ``lrnn-course new-lesson`` as a working template, for the lesson's author to replace. A function that
an exercise asks for checks its inputs first (the practice notebook keeps those lines) and holds its answer
between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (the practice notebook gets a stub there).
"""

from __future__ import annotations

import torch

from .validate import require_number, require_tensor


def running_sum(x: torch.Tensor) -> torch.Tensor:
    """The states h_t = h_{t-1} + x_t from h_0 = 0 for inputs ``x`` of shape (B, T, D), shape (B, T, D)."""
    require_tensor(x, "x", ndim=3, dims="(B, T, D)")
    ### BEGIN SOLUTION
    return torch.cumsum(x, dim=1)
    ### END SOLUTION


def decayed_sum(x: torch.Tensor, gate: float) -> torch.Tensor:
    """The states h_t = gate · h_{t-1} + x_t from h_0 = 0 for inputs ``x`` of shape (B, T, D), shape (B, T, D).

    ``gate`` is a Python number: 0, 1 and negative gates included.
    """
    require_tensor(x, "x", ndim=3, dims="(B, T, D)")
    gate = require_number(gate, "gate")
    ### BEGIN SOLUTION
    state = torch.zeros_like(x[:, 0])
    states = []
    for step in x.unbind(dim=1):  # not x[:, t]: indexing inside the loop makes the backward pass quadratic in T
        state = gate * state + step
        states.append(state)
    return torch.stack(states, dim=1)
    ### END SOLUTION
'''

CHECKS = '''"""The exercises of Lesson {{NN}} and the properties ``check()`` tests them on.

Glossary: ``x`` = the inputs, (B, T, D); ``gate`` = g; ``h`` = the states, (B, T, D), from h_0 = 0. Expected
values come from ``loop64``, a float64 loop written here independently of the solutions in
``lrnn_course.{{slug}}``, and expected gradients from autograd through it.

Each ``Case`` is one row of the table: a name that states a property, a function that raises ``CheckFailed``
when the learner's function breaks it, hints of increasing strength, and a priority. The report explains the
first failing row of the highest priority: rows that compare values, which many mistakes break, are
``GENERAL``; a row built so that one mistake alone breaks it is ``SPECIFIC``. A tensor-taking exercise gets
the row "does not modify its inputs" by itself. Written by ``lrnn-course new-lesson``: replace these rows with
the properties of the lesson's own exercises, and ``tests/test_mutants_{{NN}}.py`` with the mistakes they name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import {{slug}}
from ..checker import (
    GENERAL,
    SPECIFIC,
    Case,
    Exercise,
    call_learner,
    expect_gradients,
    expect_tensor_close,
    generator_for,
)

STATES = "(B, T, D)"
# bfloat16 keeps 8 bits: each of a dozen steps rounds by up to 2**-9 of the state, well inside 5e-2.
HALF, HALF_TOLERANCE = torch.bfloat16, 5e-2
Call = Callable[[Callable[..., Any], torch.Tensor], Any]  # how a row calls the learner's function on x


def loop64(x: torch.Tensor, gate: float) -> torch.Tensor:
    """h_t = gate · h_{t-1} + x_t from h_0 = 0, in float64: the oracle of both exercises."""
    state, states = torch.zeros_like(x[:, 0], dtype=torch.float64), []
    for step in x.double().unbind(dim=1):
        state = gate * state + step
        states.append(state)
    return torch.stack(states, dim=1)


def random_x(name: str, batch: int, steps: int, width: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Inputs seeded from ``name``: every run of a row sees the same."""
    return torch.randn(batch, steps, width, generator=generator_for(name), dtype=torch.float64).to(dtype)


def values_case(
    name: str,
    call: Call,
    gate: float,
    x: torch.Tensor,
    hints: tuple[str, ...],
    priority: int = GENERAL,
    tolerance: tuple[float, float] = (1e-9, 1e-7),
) -> Case:
    """A row that compares the learner's states on ``x`` with ``loop64``'s, in ``x``'s dtype."""

    def run(fn: Callable[..., Any]) -> None:
        expect_tensor_close(call_learner(call, fn, x), loop64(x, gate).to(x.dtype), "h", STATES, *tolerance)

    return Case(name, run, hints, priority)


def dtype_case(call: Call, gate: float) -> Case:
    """The row that runs float32 and bfloat16 inputs: the states keep their dtype and their values."""

    def run(fn: Callable[..., Any]) -> None:
        for dtype, tolerance in ((torch.float32, 1e-5), (HALF, HALF_TOLERANCE)):
            x = random_x("keeps float32 and bfloat16", 2, 12, 3, dtype)
            got, expected = call_learner(call, fn, x), loop64(x, gate).to(dtype)
            expect_tensor_close(got, expected, f"h for {dtype} inputs", STATES, tolerance, tolerance)

    hints = ("Compute in the inputs' dtype: a .double() or .float() on the way, or a tensor made without dtype=.",)
    return Case("keeps float32 and bfloat16", run, hints, GENERAL)


def gradient_case(call: Call, gate: float) -> Case:
    """The row that backpropagates through the states: the gradient with respect to x, against autograd's."""

    def run(fn: Callable[..., Any]) -> None:
        x = random_x("gradient matches autograd", 2, 5, 3).requires_grad_()
        expect_gradients(call_learner(call, fn, x), loop64(x, gate), [x], ["x"], [STATES])

    hints = ("Keep every step in torch: a .detach(), .item() or numpy on the way cuts the graph autograd follows.",)
    return Case("gradient matches autograd", run, hints, GENERAL)


def running_sum_cases() -> tuple[Case, ...]:
    def call(fn: Callable[..., Any], x: torch.Tensor) -> Any:
        return fn(x)

    return (
        values_case(
            "matches the float64 loop",
            call,
            1.0,
            random_x("matches the float64 loop", 2, 6, 3),
            ("h_t = h_{t-1} + x_t: the state after step t holds x_1 + ... + x_t.",),
        ),
        values_case(
            "one step: h_1 = x_1",
            call,
            1.0,
            random_x("one step", 2, 1, 1),
            ("The first state already holds the first input: h_1 = h_0 + x_1 with h_0 = 0.",),
            SPECIFIC,
        ),
        values_case(
            "sums over time (dim 1), not over channels",
            call,
            1.0,
            torch.arange(6.0, dtype=torch.float64).reshape(1, 2, 3),
            ("x has shape (B, T, D): time is dimension 1, and each channel keeps a sum of its own.",),
            SPECIFIC,
        ),
        dtype_case(call, 1.0),
        gradient_case(call, 1.0),
    )


def decayed_sum_cases() -> tuple[Case, ...]:
    def with_gate(gate: float) -> Call:
        return lambda fn, x: fn(x, gate)

    return (
        values_case(
            "matches the float64 loop: gate 0.7",
            with_gate(0.7),
            0.7,
            random_x("matches the float64 loop: gate 0.7", 2, 6, 3),
            ("h_t = gate * h_(t-1) + x_t, from h_0 = 0, one step after another.",),
        ),
        values_case(
            "the gate multiplies the earlier state, not the input",
            with_gate(0.5),
            0.5,
            torch.ones(1, 3, 1, dtype=torch.float64),
            ("The gate scales what the state held before the step; the new input is added as it is.",),
            SPECIFIC,
        ),
        values_case(
            "gate exactly 0 keeps only the last input",
            with_gate(0.0),
            0.0,
            random_x("gate exactly 0", 1, 5, 2),
            ("A closed form that divides by powers of the gate divides by zero here: loop over the steps instead.",),
        ),
        values_case(
            "gate -1 flips the sign of the state at every step",
            with_gate(-1.0),
            -1.0,
            torch.ones(1, 6, 1, dtype=torch.float64),
            ("Use the gate as it is given, sign included: the states of gate -1 alternate 1, 0, 1, 0.",),
        ),
        values_case(
            "long float32 sequence: T = 2000, gate 0.99",
            with_gate(0.99),
            0.99,
            random_x("long float32 sequence", 1, 2000, 2, torch.float32),
            ("Powers of the gate over 2000 steps overflow or cancel in float32: loop over the steps.",),
            tolerance=(1e-3, 1e-4),
        ),
        dtype_case(with_gate(0.7), 0.7),
        gradient_case(with_gate(0.7), 0.7),
    )


EXERCISES = [
    Exercise("{{NN}}.running_sum", {{slug}}.running_sum, running_sum_cases()),
    Exercise("{{NN}}.decayed_sum", {{slug}}.decayed_sum, decayed_sum_cases()),
]
'''

MODULE_TESTS = '''"""Lesson {{NN}}'s functions (``lrnn_course.{{slug}}``) against the course's scan, and their refusals.

Written by ``lrnn-course new-lesson``. The checker's rows (``lrnn_course/checks/lesson{{NN}}.py``) test the same
functions as exercises, against a float64 loop of their own.
"""

from __future__ import annotations

import pytest
import torch

from lrnn_course import {{slug}} as lesson
from lrnn_course.scan import sequential_scan


def inputs(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("gate", [0.0, 0.5, 1.0, -1.0])
def test_the_decayed_sum_is_the_course_scan_with_a_constant_gate(gate):
    x = inputs(2, 9, 3)
    expected = sequential_scan(torch.full_like(x, gate), x)
    torch.testing.assert_close(lesson.decayed_sum(x, gate), expected, rtol=0, atol=1e-12)


def test_the_running_sum_is_the_decayed_sum_with_gate_one():
    x = inputs(2, 9, 3)
    torch.testing.assert_close(lesson.running_sum(x), lesson.decayed_sum(x, 1.0), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: lesson.running_sum(torch.ones(2, 3)), ValueError, "x must have 3 dimensions"),
        (lambda: lesson.running_sum([1.0, 2.0]), TypeError, "x must be a torch.Tensor"),
        (lambda: lesson.decayed_sum(torch.ones(1, 2, 1), float("nan")), ValueError, "gate must be finite"),
        (lambda: lesson.decayed_sum(torch.ones(1, 2, 1), torch.tensor(0.5)), TypeError, "gate must be a Python"),
    ],
)
def test_bad_inputs_are_refused_with_a_message_that_names_them(call, error, message):
    with pytest.raises(error, match=message):
        call()
'''

MUTANTS = '''"""Plausible wrong solutions of Lesson {{NN}}'s exercises, each failing on the row that names its
mistake, and correct solutions in other styles, which pass.

Written by ``lrnn-course new-lesson``: replace them with the mistakes learners make in the lesson's own exercises
(the common mistakes of its instructor cell name the same rows).
"""

from __future__ import annotations

import pytest
import torch
from check_support import expect_fails_on_row

from lrnn_course.checks import check_quietly
from lrnn_course.scan import sequential_scan


def states_of(x, update, start=None):
    """The states of h_t = update(h_{t-1}, x_t) from ``start`` (zeros like one step of x by default)."""
    state, states = torch.zeros_like(x[:, 0]) if start is None else start, []
    for step in x.unbind(dim=1):
        state = update(state, step)
        states.append(state)
    return torch.stack(states, dim=1)


def running_sum_before_each_step(x):
    return torch.cumsum(x, dim=1) - x


def running_sum_over_channels(x):
    return torch.cumsum(x, dim=-1)


def running_sum_in_float64(x):
    return torch.cumsum(x.double(), dim=1)


def running_sum_detached(x):
    return torch.cumsum(x.detach(), dim=1)


def running_sum_into_x(x):
    for t in range(1, x.shape[1]):
        x[:, t] += x[:, t - 1]
    return x


def decayed_sum_gating_the_input(x, gate):
    return states_of(x, lambda state, step: state + gate * step)


def decayed_sum_by_its_closed_form(x, gate):
    """h_t = g^t (x_1 / g + ... + x_t / g^t): exact on paper, a division by zero at g = 0."""
    powers = gate ** torch.arange(1, x.shape[1] + 1, dtype=x.dtype)[:, None]
    return powers * torch.cumsum(x / powers, dim=1)


def decayed_sum_of_the_gate_made_positive(x, gate):
    return sequential_scan(torch.full_like(x, abs(gate)), x)


def decayed_sum_from_float32_zeros(x, gate):
    return states_of(x, lambda state, step: gate * state + step, torch.zeros(x.shape[0], x.shape[2]))


def decayed_sum_detaching_the_state(x, gate):
    return states_of(x, lambda state, step: (gate * state + step).detach())


MUTANTS = [
    ("{{NN}}.running_sum", running_sum_before_each_step, "one step: h_1 = x_1", "yours 0.000000"),
    ("{{NN}}.running_sum", running_sum_over_channels, "sums over time (dim 1), not over channels", "first mismatch"),
    ("{{NN}}.running_sum", running_sum_in_float64, "keeps float32 and bfloat16", "dtype torch.float64"),
    ("{{NN}}.running_sum", running_sum_detached, "gradient matches autograd", "not connected to autograd"),
    ("{{NN}}.running_sum", running_sum_into_x, "does not modify its inputs", "modified its input `x`"),
    (
        "{{NN}}.decayed_sum",
        decayed_sum_gating_the_input,
        "the gate multiplies the earlier state, not the input",
        "yours 0.500000",
    ),
    ("{{NN}}.decayed_sum", decayed_sum_by_its_closed_form, "gate exactly 0 keeps only the last input", "non-finite"),
    (
        "{{NN}}.decayed_sum",
        decayed_sum_of_the_gate_made_positive,
        "gate -1 flips the sign of the state at every step",
        "first mismatch",
    ),
    ("{{NN}}.decayed_sum", decayed_sum_from_float32_zeros, "keeps float32 and bfloat16", "dtype torch.float32"),
    ("{{NN}}.decayed_sum", decayed_sum_detaching_the_state, "gradient matches autograd", "not connected to autograd"),
]


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
    # The report explains that row: its message and its hints are about this mistake.
    assert check_quietly(exercise_id, mutant).diagnosis.name == row_name


def running_sum_by_a_loop(x):
    return states_of(x, lambda state, step: state + step)


def decayed_sum_by_the_course_scan(x, gate):
    return sequential_scan(torch.full_like(x, gate), x)


ALTERNATIVES = [("{{NN}}.running_sum", running_sum_by_a_loop), ("{{NN}}.decayed_sum", decayed_sum_by_the_course_scan)]


@pytest.mark.parametrize("exercise_id,solution", ALTERNATIVES, ids=[a[1].__name__ for a in ALTERNATIVES])
def test_correct_solutions_in_other_styles_pass(exercise_id, solution):
    result = check_quietly(exercise_id, solution)
    assert result.passed, result.report()
'''
