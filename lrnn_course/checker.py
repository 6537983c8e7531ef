"""The grading core: an exercise's named properties, run on a learner's function, as rows of a table.

Glossary:

=================  ==========================================================================
``Exercise``       one exercise: its id (``"01.sequential_scan"``), the library function that
                   solves it, and its cases
``Case``           one named property ("negative gates", "gradient matches autograd"), a
                   function that raises ``CheckFailed`` when the learner's function breaks it,
                   hints of increasing strength, and a ``priority``: rows that name one
                   specific mistake rank above rows that many mistakes break
``Guarded``        a tensor handed to a learner's kernel as a view inside a larger buffer whose
                   guard bands hold sentinels, so a write or read out of bounds is seen
``CheckResult``    the rows of one ``check()`` call; truthy when every row passed
=================  ==========================================================================

The checker never lets a learner's bug escape: an exception, a wrong type, shape or dtype, a NaN,
a broken autograd graph, each becomes a red row with a message naming the first mismatch.
Learner functions get copies of their inputs (``call_learner``), so expected values computed from
the originals stay pristine whatever the learner writes; the rows that look for in-place writes
hand over the originals themselves (``call_learner_in_place``, then ``expect_unchanged``).

This module knows no exercise. They live in :mod:`lrnn_course.checks`, one module per lesson, which
also grades one by id (``check_quietly``); :func:`lrnn_course.grade.check`, what a learner calls,
runs the cases in a child process with a time limit (:mod:`lrnn_course.isolation`), so learner code
that crashes, hangs or exits becomes a red row and the notebook lives on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import traceback
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

PASS_MARK, FAIL_MARK = "✓", "✗"
EXCEPTION_MESSAGES = (
    "raised ",
    "not implemented yet",
    "not judged",
)  # describe_exception's, and the rows they leave unjudged


class CheckFailed(Exception):
    """Raised by a case when the learner's function breaks its property; the text is shown.

    ``hints`` replace the case's own hints for this failure, where the way the row failed says more
    about the mistake than the row does (a graph cut by ``.detach()`` against one broken by an in-place write).
    """

    def __init__(self, message: str, hints: tuple[str, ...] = ()):
        super().__init__(message)
        self.hints = hints


@dataclass(frozen=True)
class Case:
    """A named property of an exercise; ``run(fn)`` raises ``CheckFailed`` when ``fn`` breaks it."""

    name: str
    run: Callable[[Callable[..., Any]], None]
    hints: tuple[str, ...] = ()
    # The report explains the failing row of highest priority (the first of them): a row that names
    # one mistake ("state carried across chunks", SPECIFIC) beats one that many mistakes break
    # ("matches the float64 loop", GENERAL), so the hint shown is about the mistake made.
    priority: int = 0


GENERAL, SPECIFIC = -1, 0


@dataclass(frozen=True)
class Exercise:
    """An exercise: its id, the library function that solves it, and its cases."""

    id: str
    solution: Callable[..., Any]
    cases: tuple[Case, ...]


@dataclass
class Row:
    """The outcome of one case."""

    name: str
    passed: bool
    message: str = ""
    hints: tuple[str, ...] = ()
    priority: int = 0


@dataclass
class CheckResult:
    """All rows of one ``check()`` call. ``bool(result)`` is True when every row passed.

    ``note`` says how the check ran when that is not the usual way (e.g. in this process, because a
    child process cannot use an initialised CUDA).
    """

    exercise: str
    rows: list[Row] = field(default_factory=list)
    note: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(row.passed for row in self.rows)

    @property
    def n_passed(self) -> int:
        return sum(row.passed for row in self.rows)

    @property
    def diagnosis(self) -> Row | None:
        """The failing row the report explains: the first one of the highest priority.

        When that row's function raised (or is still a stub), the exception is the mistake, not the
        property the row is about. Then the earliest row that failed on its values explains it (a
        shape mistake that small square inputs hide shows there as wrong values); without such a
        row, the earliest row that raised the very same exception does (a function that raises on
        every input is explained on the first).
        """
        failing = [row for row in self.rows if not row.passed]
        if not failing:
            return None
        chosen = max(failing, key=lambda row: row.priority)
        if not chosen.message.startswith(EXCEPTION_MESSAGES):
            return chosen
        on_values = [row for row in failing if not row.message.startswith(EXCEPTION_MESSAGES)]
        return on_values[0] if on_values else next(row for row in failing if row.message == chosen.message)

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        verdict = "all passed" if self.passed else "not yet"
        return f"{self.exercise}: {self.n_passed}/{len(self.rows)} checks passed ({verdict})"

    def report(self, hint: int = 0, summary: bool = True, ask_for_hint: str = "check(..., hint={level})") -> str:
        """One line per property, the summary, then the row that names the mistake and ``hint`` of its hints.

        ``check()`` leaves the summary out: in a notebook the returned result displays it.
        ``ask_for_hint`` is how the caller asks for more hints (the command line says ``--hint {level}``).
        """
        lines = [f"Checking {self.exercise}"] + ([f"({self.note})"] if self.note else [])
        lines += [f"  {PASS_MARK if row.passed else FAIL_MARK} {row.name}" for row in self.rows]
        if summary:
            lines.append(self.summary())
        failure = self.diagnosis
        if failure is not None:
            lines.append(f"Look at {failure.name}: {failure.message}")
            shown = failure.hints[: max(hint, 0)]
            lines += [f"Hint {level}: {text}" for level, text in enumerate(shown, start=1)]
            if len(failure.hints) > len(shown):
                lines.append(f"Stuck? {ask_for_hint.format(level=len(shown) + 1)} shows a hint for this row.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def describe_exception(error: BaseException) -> str:
    """Say what a learner's function raised, and where in their code (the innermost frame)."""
    # Triton's interpreter wraps what a kernel raised in its own InterpreterError: report the original.
    while type(error).__name__ == "InterpreterError" and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, NotImplementedError):
        return "not implemented yet (the function still raises NotImplementedError)"
    package = str(Path(__file__).resolve().parent)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(package)]
    where = ""
    if frames:
        frame = frames[-1]
        code = f": {frame.line.strip()}" if frame.line else ""
        where = f" (line {frame.lineno} of {frame.name}{code})"
    return f"raised {type(error).__name__}: {first_line(error)}{where}"


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, without PyTorch's trailing debugging advice."""
    text = str(error)
    return text.splitlines()[0].split(" Hint: ")[0] if text else ""


def copy_of(value: Any) -> Any:
    """``value`` with every tensor in it cloned (inside tuples, lists, dicts and dataclasses too).

    A clone of a tensor that requires grad stays on the autograd graph, so gradients computed
    through the learner's result still reach the original leaves.
    """
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, (tuple, list)):
        return type(value)(copy_of(item) for item in value)
    if isinstance(value, dict):
        return {key: copy_of(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # e.g. a task's Batch
        return dataclasses.replace(
            value, **{f.name: copy_of(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        )
    return value


def call_learner(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function on copies of its tensor arguments; anything it raises becomes ``CheckFailed``.

    The copies keep the caller's tensors pristine: expected values computed from them, before or
    after the call, are right even when the learner writes into its inputs (a row of its own,
    through ``call_learner_in_place``, says so).
    """
    given, given_keywords = copy_of(args), copy_of(kwargs)
    try:
        result = call_learner_in_place(fn, *given, **given_keywords)
    finally:  # a write before an exception is a write too
        INPUT_WRITES.note(fn, args, kwargs, given, given_keywords)
    INPUT_WRITES.returned += 1
    return result


@dataclass
class InputWrites:
    """What the learner's calls of the running check did to their inputs: the names of those written into, and how
    many calls returned. The automatic row "does not modify its inputs" (``INPUTS_ROW``) reads it, for exercises
    without a row of their own; ``cases_of`` clears it, as a check starts there."""

    names: list[str] = field(default_factory=list)
    returned: int = 0

    def clear(self) -> None:
        self.names.clear()
        self.returned = 0

    def note(self, fn: Callable[..., Any], args: tuple, kwargs: dict, given: tuple, given_keywords: dict) -> None:
        """Note each argument whose copy the learner's call changed, by its parameter name."""
        try:
            names = list(inspect.signature(fn).bind(*args, **kwargs).arguments)
        except (TypeError, ValueError):  # a builtin, or arguments that do not bind: number them
            names = [f"argument {i + 1}" for i in range(len(args))] + list(kwargs)
        values = list(zip(args, given)) + [(kwargs[key], given_keywords[key]) for key in kwargs]
        for name, (original, copy) in zip(names, values):
            if not same_values(original, copy) and name not in self.names:
                self.names.append(name)


INPUT_WRITES = InputWrites()
INPUTS_ROW = "does not modify its inputs"


def inputs_unchanged(fn: Callable[..., Any]) -> None:
    """The automatic row: no call of this check (all made before this row) wrote into an input, and one returned
    at least."""
    if not INPUT_WRITES.returned and not INPUT_WRITES.names:
        raise CheckFailed(
            "not judged: no call of your function returned (not implemented yet, or it raised every time), "
            "so what it does to its inputs is not known"
        )
    expect_none_written(INPUT_WRITES.names)


def expect_none_written(names: Sequence[str]) -> None:
    """Raise ``CheckFailed`` naming the inputs the learner's function wrote into, if any."""
    if names:
        raise CheckFailed(
            f"your function modified its input{'s' if len(names) > 1 else ''} "
            f"{', '.join(f'`{name}`' for name in names)} in place; compute new tensors instead"
        )


def exit_call(error: SystemExit) -> str:
    """How the learner's code ended the program, as they wrote it: ``sys.exit(0)``, ``sys.exit()``."""
    return f"sys.exit({'' if error.code is None else error.code})"


def call_learner_in_place(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function on the very tensors given: for rows about in-place writes, and for kernels
    whose arguments are views inside guard bands (:class:`Guarded`)."""
    try:
        return fn(*args, **kwargs)
    except SystemExit as error:  # sys.exit() or exit() in a learner's function ends nothing but this row
        raise CheckFailed(
            f"called {exit_call(error)}: a function returns its result instead of ending the program"
        ) from error
    except Exception as error:  # a learner's bug of any kind becomes a red row
        raise CheckFailed(describe_exception(error)) from error


def same_values(before: Any, after: Any) -> bool:
    """True when two values (tensors, or tuples, lists, dicts and dataclasses of them) hold the same entries; NaN
    equals NaN."""
    if isinstance(before, torch.Tensor):
        return (
            isinstance(after, torch.Tensor)
            and before.shape == after.shape
            and bool(
                torch.equal(before, after)
                or torch.equal(before.isnan(), after.isnan())
                and torch.equal(before.nan_to_num(), after.nan_to_num())
            )
        )
    if isinstance(before, (tuple, list)):
        return len(before) == len(after) and all(same_values(x, y) for x, y in zip(before, after))
    if isinstance(before, dict):
        return before.keys() == after.keys() and all(same_values(before[key], after[key]) for key in before)
    if dataclasses.is_dataclass(before) and not isinstance(before, type):
        return all(same_values(getattr(before, f.name), getattr(after, f.name)) for f in dataclasses.fields(before))
    return True


@dataclass
class Guarded:
    """A tensor placed inside a larger buffer, between two guard bands of ``guard`` sentinel entries.

    ``tensor`` is the contiguous view the learner's kernel receives. A kernel that stores past an
    edge of it writes into a guard band, where ``expect_guards_intact`` sees it, instead of into
    memory that is not Python's (which can abort the whole process); a kernel that loads past an edge
    reads the sentinel (NaN for floats by default), which leaks into its output. An output's bands
    are better finite: a NaN loaded out of bounds and stored out of bounds would not show in NaN.
    """

    name: str
    buffer: torch.Tensor
    guard: int
    tensor: torch.Tensor
    sentinel: float

    @classmethod
    def around(cls, name: str, values: torch.Tensor, guard: int = 4096, sentinel: float | None = None) -> Guarded:
        """``values`` copied into the middle of a buffer with ``guard`` sentinels on each side."""
        if sentinel is None:
            sentinel = float("nan") if values.dtype.is_floating_point else -(2**30)
        buffer = torch.full((values.numel() + 2 * guard,), sentinel, dtype=values.dtype, device=values.device)
        tensor = buffer[guard : guard + values.numel()].view(values.shape)
        tensor.copy_(values)
        return cls(name, buffer, guard, tensor, sentinel)

    def out_of_bounds_writes(self) -> tuple[int, int]:
        """How many guard entries before the tensor and after it no longer hold the sentinel."""
        before, after = self.buffer[: self.guard], self.buffer[self.guard + self.tensor.numel() :]

        def changed(band: torch.Tensor) -> int:
            return int((~band.isnan()).sum()) if math.isnan(self.sentinel) else int((band != self.sentinel).sum())

        return changed(before), changed(after)


def expect_guards_intact(*guarded: Guarded, advice: str = "check the masks of your loads and stores") -> None:
    """Raise ``CheckFailed`` naming the first tensor whose guard bands a kernel wrote into."""
    for item in guarded:
        before, after = item.out_of_bounds_writes()
        if before or after:
            where = " and ".join(
                part
                for part in (
                    f"{after} element{'s' if after > 1 else ''} past the end" if after else "",
                    f"{before} element{'s' if before > 1 else ''} before the start" if before else "",
                )
                if part
            )
            raise CheckFailed(f"wrote {where} of {item.name} (out of bounds): {advice}")


def generator_for(name: str) -> torch.Generator:
    """A torch RNG seeded from the case name: every run of a case sees the same inputs."""
    return torch.Generator().manual_seed(zlib.crc32(name.encode()))


def _format_index(index: Sequence[int], dims: str) -> str:
    """`` at [b=0, t=3, d=1]`` for an entry of a tensor with dimensions ``dims``; "" for a 0-d tensor."""
    if not index:
        return ""
    names = [part.strip() for part in dims.strip("()").split(",")] if dims else []
    if len(names) != len(index):
        return " at [" + ", ".join(str(i) for i in index) + "]"
    return " at [" + ", ".join(f"{n.lower()}={i}" for n, i in zip(names, index)) + "]"


def shown_apart(yours: float, expected: float) -> tuple[str, str]:
    """Two numbers to six places, or to twelve significant digits where six places show them equal."""
    shown = f"{yours:.6f}", f"{expected:.6f}"
    return (f"{yours:.12g}", f"{expected:.12g}") if shown[0] == shown[1] else shown


def expect_tensor_close(
    got: Any,
    expected: torch.Tensor,
    what: str = "the result",
    dims: str = "",
    atol: float = 1e-9,
    rtol: float = 1e-7,
) -> None:
    """Raise ``CheckFailed`` unless ``got`` is a tensor like ``expected`` (shape, dtype, values).

    ``dims`` names the dimensions (e.g. ``"(B, T, D)"``) so a mismatch reads ``[b=0, t=3, d=1]``.
    """
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{what} is a {type(got).__name__}, expected a torch.Tensor of shape {tuple(expected.shape)}")
    if got.shape != expected.shape:
        layout = f" {dims}" if dims else ""
        raise CheckFailed(f"{what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}{layout}")
    if got.dtype != expected.dtype:
        raise CheckFailed(f"{what} has dtype {got.dtype}, expected {expected.dtype} (keep the inputs' dtype)")
    got = got.detach()
    finite = torch.isfinite(got)
    if not bool(finite.all()):
        index = tuple(int(i) for i in (~finite).nonzero()[0])
        raise CheckFailed(f"{what} holds a non-finite value{_format_index(index, dims)}: {got[index].item():g}")
    close = torch.isclose(got, expected, atol=atol, rtol=rtol)
    if not bool(close.all()):
        index = tuple(int(i) for i in (~close).nonzero()[0])
        worst = (got - expected).abs().max().item()
        yours, wanted = shown_apart(got[index].item(), expected[index].item())
        # entry by entry: a clamp at 1e-6 is a large error on a small value, not float32's rounding on a large one
        relative = ((got - expected).abs() / expected.abs().clamp_min(1e-30)).max().item()
        rounding = (
            " — about float32's rounding: is part of it computed in float32?"
            if expected.dtype == torch.float64 and 1e-9 < relative < 1e-5
            else ""
        )
        raise CheckFailed(
            f"{what}: first mismatch{_format_index(index, dims)}: yours {yours}, "
            f"expected {wanted} (largest error {worst:.1e}){rounding}"
        )


@contextlib.contextmanager
def substituted(
    fn: Callable[..., Any],
    stand_in: Callable[..., Any],
    names: Iterable[str] = (),
    originals: Iterable[Any] = (),
    modules: Iterable[ModuleType] = (),
) -> Iterator[None]:
    """Meanwhile, the function a learner's ``fn`` builds on means ``stand_in``: in ``fn``'s globals (a notebook's, or a
    module's) and in each of ``modules``, every name in ``names`` and every name bound to one of ``originals``.

    A structure row runs ``fn`` inside and sees whether its result follows the stand-in (a different operator, other
    valid gates): that judges what ``fn`` computes with, whatever it calls it.
    """
    wanted, bound = set(names), {id(original) for original in originals}
    spaces = {id(space): space for space in (getattr(fn, "__globals__", {}), *map(vars, modules))}
    saved = [
        (space, name, value)
        for space in spaces.values()
        for name, value in list(space.items())
        if name in wanted or id(value) in bound
    ]
    for space, name, _ in saved:
        space[name] = stand_in
    try:
        yield
    finally:
        for space, name, value in saved:
            space[name] = value


@dataclass(frozen=True)
class Operation:
    """One torch operation a learner's code called: its name and the shapes of the tensors it took and returned."""

    name: str
    inputs: tuple[tuple[int, ...], ...]
    outputs: tuple[tuple[int, ...], ...]


class OperationLog(TorchFunctionMode):
    """Inside it, every torch operation the Python code calls (not what they run inside), in order, as an ``Operation``.

    Structure rows judge what a function computes with from this log: how the number of operations grows with T, the
    shapes it builds (a D_k × D_k matrix), the operations that touch a tensor shaped like the state. Attribute reads
    such as ``.shape`` are operations too (named ``__get__``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.operations: list[Operation] = []

    def __torch_function__(
        self, func: Callable[..., Any], types: Any, args: Sequence[Any] = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        returned = result if isinstance(result, (tuple, list)) else (result,)
        self.operations.append(
            Operation(
                getattr(func, "__name__", str(func)),
                tuple(tuple(x.shape) for x in tree_leaves((args, kwargs)) if isinstance(x, torch.Tensor)),
                tuple(tuple(x.shape) for x in returned if isinstance(x, torch.Tensor)),
            )
        )
        return result


PRECISION_HINTS = (
    "Compute in the inputs' dtype from start to end: a .float() or .half() on the way, or a tensor created without "
    "dtype= (torch.tensor([...]), torch.eye(n) and torch.zeros(...) are float32), rounds every value to fewer digits.",
)


def expect_float64_precision(got: Any, expected: torch.Tensor, what: str, dims: str = "", loose: float = 1e-3) -> None:
    """The test of a row about precision alone: ``got`` has ``expected``'s dtype (float64) and, where it is within
    ``loose`` of it at all, matches it to float64's precision. A result further off, or not a tensor of the expected
    shape, is another row's mistake: this row lets it pass."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or not got.is_floating_point():
        return
    if got.dtype != expected.dtype:
        raise CheckFailed(f"{what}: dtype {got.dtype} for {expected.dtype} inputs; keep the inputs' dtype")
    if bool(torch.allclose(got.detach(), expected, atol=loose, rtol=loose)):
        expect_tensor_close(got, expected, what, dims, atol=1e-12, rtol=1e-9)


def precision_case(name: str, run: Callable[[Callable[..., Any]], None]) -> Case:
    """A row whose ``run`` fails only through ``expect_float64_precision``: it names one mistake whatever else is
    wrong, so it ranks above the rows that name one mistake each."""
    return Case(name, run, PRECISION_HINTS, SPECIFIC + 1)


DETACHED = (
    "a .detach(), .item(), .tolist(), float(), numpy, torch.tensor(...) of a result or torch.no_grad() on the way?"
)
# Hints by the way the gradient failed: each points at its own cause, whatever row it happens on.
CUT_GRAPH_HINTS = (
    "Autograd follows only torch operations on the tensors you were given: a .detach(), .item(), .tolist(), float(), "
    "numpy, torch.tensor(x) of a tensor or a torch.no_grad() block on the way cuts the graph.",
    "Keep every step in torch, from the inputs to the result; build new tensors from them rather than from Python "
    "numbers.",
)
IN_PLACE_GRAPH_HINTS = (
    "Autograd saved a tensor that your function overwrote afterwards (x[...] = …, x += …, x.mul_(…)), typically states "
    "written into a preallocated tensor and read back.",
    "Keep the pieces in a Python list and torch.stack / torch.cat them at the end, or compute new tensors out of "
    "place.",
)
# The hint of every row that compares a learner's gradients with autograd's (lessons 06, 07, 10, 11).
GRADIENT_HINTS = (
    "Compute with torch operations on the tensors you were given, so that autograd can follow them: no .detach(), "
    ".item(), .numpy() or torch.tensor(x) of a tensor, and no torch.no_grad().",
)
MISSING_GRADIENT_HINTS = (
    "An input that gets no gradient does not reach your result through torch operations: either it is left out of "
    "the formula, or it went through numpy, .item() or .detach() on its way.",
)


def learner_gradients(
    got: Any,
    reference: Any,
    leaves: Sequence[torch.Tensor],
    names: Sequence[str],
    parts: Sequence[str] = ("your result",),
) -> tuple[tuple[torch.Tensor | None, ...], tuple[torch.Tensor | None, ...]]:
    """The gradients, with respect to each of ``leaves``, of one random weighting of the learner's ``got`` and of
    ``reference``.

    ``got`` and ``reference`` (a float64 expression written in the checker, computed from the same
    ``leaves``) are a tensor or a sequence of tensors named ``parts``; the same random weights make
    every entry count. ``CheckFailed`` when ``got`` is not such tensors, is not connected to autograd,
    its backward pass raises, or a leaf that ``reference`` depends on gets no gradient from it.
    """
    got_parts = list(got) if isinstance(got, (tuple, list)) else [got]
    reference_parts = list(reference) if isinstance(reference, (tuple, list)) else [reference]
    if len(got_parts) != len(reference_parts):
        raise CheckFailed(f"expected {len(reference_parts)} result(s) ({', '.join(parts)}), got {len(got_parts)}")
    for part, mine, want in zip(parts, got_parts, reference_parts):
        if not isinstance(mine, torch.Tensor):
            raise CheckFailed(
                f"{part}: got a {type(mine).__name__}, not a tensor that autograd can follow back to the inputs "
                f"({DETACHED})",
                CUT_GRAPH_HINTS,
            )
        if mine.shape != want.shape:
            raise CheckFailed(f"{part} has shape {tuple(mine.shape)}, expected {tuple(want.shape)}")
        if not mine.requires_grad:
            raise CheckFailed(
                f"{part} is not connected to autograd: no gradient can flow back to the inputs ({DETACHED})",
                CUT_GRAPH_HINTS,
            )
    generator = generator_for("gradient weights")
    weights = [torch.randn(want.shape, generator=generator, dtype=torch.float64) for want in reference_parts]
    try:
        # retain_graph: the reference may share the part of the graph built before the learner's call
        yours = torch.autograd.grad(
            sum((mine * weight).sum() for mine, weight in zip(got_parts, weights)),
            leaves,
            allow_unused=True,
            retain_graph=True,
        )
    except RuntimeError as error:  # e.g. a tensor autograd saved was overwritten in place
        hints = IN_PLACE_GRAPH_HINTS if "inplace operation" in str(error) else ()
        raise CheckFailed(
            f"backpropagating through {' and '.join(parts)} raised RuntimeError: {first_line(error)}", hints
        ) from error
    expected = torch.autograd.grad(
        sum((want * weight).sum() for want, weight in zip(reference_parts, weights)), leaves, allow_unused=True
    )
    missing = ", ".join(name for name, mine, want in zip(names, yours, expected) if mine is None and want is not None)
    if missing:
        raise CheckFailed(
            f"no gradient reaches {missing}: the gradient with respect to {missing} is not connected to autograd "
            f"({DETACHED})",
            MISSING_GRADIENT_HINTS,
        )
    return yours, expected


def expect_gradients(
    got: Any,
    reference: Any,
    leaves: Sequence[torch.Tensor],
    names: Sequence[str],
    dims: Sequence[str],
    parts: Sequence[str] = ("your result",),
    atol: float = 1e-9,
    rtol: float = 1e-7,
) -> None:
    """``learner_gradients``, then each gradient of ``got`` close to the reference's (``dims`` name each leaf's
    dimensions)."""
    yours, expected = learner_gradients(got, reference, leaves, names, parts)
    for name, layout, leaf, mine, want in zip(names, dims, leaves, yours, expected):
        zeros = torch.zeros_like(leaf)
        expect_tensor_close(
            zeros if mine is None else mine,
            zeros if want is None else want,
            f"the gradient with respect to {name}",
            layout,
            atol=atol,
            rtol=rtol,
        )


def expect_unchanged(before: Sequence[torch.Tensor], after: Sequence[torch.Tensor], names: Sequence[str]) -> None:
    """Raise ``CheckFailed`` naming the inputs the learner's function wrote into (call it through
    ``call_learner_in_place``)."""
    expect_none_written([name for original, now, name in zip(before, after, names) if not same_values(original, now)])


# Seconds a whole ``check()`` may take before it is stopped and reported.
DEFAULT_TIMEOUT_S = 60.0


def run_case(case: Case, fn: Callable[..., Any]) -> Row:
    """One case on ``fn``, as a row: passed, or red with the message and the case's own hints."""
    try:
        case.run(fn)
    except CheckFailed as failure:
        return Row(case.name, False, str(failure), failure.hints or case.hints, case.priority)
    except Exception as error:  # a learner's object misbehaving outside call_learner
        return Row(case.name, False, describe_exception(error), case.hints, case.priority)
    return Row(case.name, True, priority=case.priority)


def takes_tensors(solution: Callable[..., Any] | None) -> bool:
    """Whether a solution's signature takes a tensor (so a learner's version could write into one), by its annotations.

    A Triton kernel (or no solution, where Triton is missing) is launched on guarded tensors, never through copies.
    """
    if solution is None or hasattr(solution, "fn"):
        return False
    return any("Tensor" in str(parameter.annotation) for parameter in inspect.signature(solution).parameters.values())
