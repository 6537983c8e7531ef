"""The floor of every kernel: the bytes it moves and the FLOPs it does, counted from its code, and the time they imply.

Usage: python benchmarks/roofline.py [--out benchmarks/results/roofline.md] [--only NAME] [--check-programs]

No GPU is needed. Each kernel runs at the benchmark shapes of ``bench_kernels.py`` through
Triton's interpreter with its loads, stores and ``tl.dot``s counted, and with the launch decisions
(blocks, chunk, grid) a run on an H100 would make. Every PyTorch operation the public function
runs around its kernels (``torch.cat``, products, casts, sums of partials, validation) is counted
too, each as reading its inputs and writing its outputs once. The delta rule and DeltaProduct rows
count the split kernels ``lrnn_course.kernels`` runs (``kernels/delta_split.py``), forward and
backward; the rows "…, single kernel" count ``kernels.delta``'s single kernel at the first shape,
the baseline the split is measured against.

Glossary (code name -> meaning):

====================  ====================================================================
``Traffic``           what one kernel launch, or the PyTorch operations of a pass, cost:
                      bytes loaded and stored in global memory, FLOPs by kind
``tensor FLOPs``      2·M·N·K per ``tl.dot`` of an (M, K) and a (K, N) block, by operand
                      precision: bf16 (and fp16), tf32, or tf32x3 (three tf32 passes: 3×)
``core FLOPs``        floating-point operations off the tensor cores: elementwise ``+ - * /``
                      (an FMA counts 2) and one per input element of a sum, product, max or
                      min reduction or scan
``programs``          the kernel's grid at the full shape, beside the 4 × 132 that keep every
                      multiprocessor of an H100 busy with several programs
``floor``             max(bytes / copy bandwidth, tensor FLOPs / tensor rate, core FLOPs /
                      core rate): no kernel moving these bytes and doing these FLOPs can be
                      faster. It ignores latency: a serial loop over chunks can be far slower.
====================  ====================================================================

Only the first of each launch's programs runs, at the full shapes, so that every loop runs its
full length, and its count is multiplied by the number of programs. That is exact when every
program does the same work, which holds here because each program owns a whole block of batch
rows, heads, columns or chunks (the shapes are multiples of every block). ``--check-programs``
runs the last program too and uses the mean of the two, marking the launch "programs differ"
where they do not agree; ``tests/test_roofline.py`` checks the scaling against a run of every
program. (Every program of the delta rule's kernels at the full shapes would keep the interpreter
busy for hours; one program of each launch takes about two minutes for the whole table, with
``--check-programs`` too.)

This counts what the code asks for, not what the hardware does: a load the L2 cache serves is
still counted as global traffic, and register spills (``tests/compile_for_hopper.py``) add traffic
not counted here.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import lrnn_course._triton as course_triton
from lrnn_course.kernels import backend

RESULTS = Path(__file__).resolve().parent / "results"

# H100 SXM5. Copy bandwidth: a device-to-device copy measured on the course's H100 (issue 7, 3.02 TB/s),
# not the 3.35 TB/s of the datasheet. Rates: NVIDIA H100 datasheet, dense (no sparsity), SXM5.
COPY_BYTES_PER_S = 3.02e12
TENSOR_FLOPS_PER_S = {"bf16": 989.4e12, "fp16": 989.4e12, "tf32": 494.7e12}
CORE_FLOPS_PER_S = 66.9e12  # fp32 on the CUDA cores
H100_MULTIPROCESSORS = 132
PROGRAMS_WANTED = 4 * H100_MULTIPROCESSORS
# Reductions and scans the interpreter runs in one NumPy call; any other combine function runs
# through the builder's elementwise operations, which are counted where they happen.
LIBRARY_COMBINES = ("_sum_combine", "_prod_combine", "_elementwise_max", "_elementwise_min")

SCAN_SHAPE = (8, 4096, 2048)
DELTA_SHAPES = [(8, 2048, 16, 128), (4, 8192, 16, 128)]


@dataclass
class Traffic:
    """Global-memory bytes and FLOPs of one kernel launch (at its full grid) or of a set of PyTorch operations."""

    loaded: int = 0
    stored: int = 0
    tensor_flops: dict[str, int] = field(default_factory=dict)  # by precision: "bf16", "tf32", "tf32x3"
    core_flops: int = 0

    @property
    def bytes(self) -> int:
        return self.loaded + self.stored

    def add(self, other: Traffic, times: float = 1) -> None:
        self.loaded += round(times * other.loaded)
        self.stored += round(times * other.stored)
        self.core_flops += round(times * other.core_flops)
        for precision, flops in other.tensor_flops.items():
            self.tensor_flops[precision] = self.tensor_flops.get(precision, 0) + round(times * flops)

    def tensor_seconds(self) -> float:
        """tf32x3 multiplies three times at the tf32 rate."""
        return sum(
            flops * (3 if precision == "tf32x3" else 1) / TENSOR_FLOPS_PER_S[precision.removesuffix("x3")]
            for precision, flops in self.tensor_flops.items()
        )

    def floor_seconds(self) -> tuple[float, str]:
        """The fastest time these bytes and FLOPs allow on an H100, and which limit sets it."""
        limits = {
            "bytes": self.bytes / COPY_BYTES_PER_S,
            "tensor": self.tensor_seconds(),
            "core": self.core_flops / CORE_FLOPS_PER_S,
        }
        bound = max(limits, key=limits.get)
        return limits[bound], bound


@dataclass
class Launch:
    """One kernel launch: its name, its grid, what it moved in all, and whether its sampled programs agreed."""

    kernel: str
    grid: tuple[int, int, int]
    traffic: Traffic
    programs_agree: bool

    @property
    def programs(self) -> int:
        return self.grid[0] * self.grid[1] * self.grid[2]


class _Counter:
    """Counts what the interpreter's builder does, per program, while ``counting()`` is active."""

    def __init__(self) -> None:
        self.launches: list[Launch] = []
        self.per_program: list[Traffic] = []
        self.in_kernel = False

    def current(self) -> Traffic:
        return self.per_program[-1]


def _element_bytes(handle) -> int:
    return handle.get_element_ty().primitive_bitwidth // 8


@contextlib.contextmanager
def counting(sample: str = "first") -> Iterator[_Counter]:
    """Run Triton's interpreter with every load, store, dot and floating-point operation counted.

    ``sample`` says which programs of each launch run: "first", "ends" (the first and the last)
    or "all"; the counts of a launch are the mean of those that ran times the grid. Tied to Triton
    3.9's interpreter: its builder (``interpreter_builder``), its launcher (``GridExecutor``) and its
    reduction and scan classes.
    """
    from triton.runtime import interpreter

    builder = interpreter.interpreter_builder
    counter = _Counter()
    saved_builder = {
        name: getattr(builder, name)
        for name in (
            "create_masked_load",
            "create_masked_store",
            "create_dot",
            "create_fma",
            "create_fadd",
            "create_fsub",
            "create_fmul",
            "create_fdiv",
            "create_get_program_id",
            "create_get_num_programs",
            "set_grid_idx",
        )
    }
    saved_call = interpreter.GridExecutor.__call__
    saved_apply = {cls: cls.apply for cls in (interpreter.ReduceOps, interpreter.ScanOps)}
    sampled: dict[str, tuple] = {}  # "grid": the launch's real grid, "programs": the program ids that run

    def masked_load(ptrs, mask, other, cache_policy, is_volatile):
        counter.current().loaded += int(np.count_nonzero(mask.data)) * _element_bytes(ptrs)
        return saved_builder["create_masked_load"](ptrs, mask, other, cache_policy, is_volatile)

    def masked_store(ptrs, value, mask, cache_policy):
        counter.current().stored += int(np.count_nonzero(mask.data)) * _element_bytes(ptrs)
        return saved_builder["create_masked_store"](ptrs, value, mask, cache_policy)

    def dot(a, b, d, input_precision, max_num_imprecise_acc):
        *batch, rows, inner = a.data.shape
        flops = 2 * int(np.prod(batch, dtype=np.int64)) * rows * inner * b.data.shape[-1]
        if a.dtype.primitive_bitwidth == 16:
            precision = "bf16" if a.dtype.is_bf16() else "fp16"
        else:
            precision = "tf32x3" if "X3" in str(input_precision).upper() else "tf32"
        tensor = counter.current().tensor_flops
        tensor[precision] = tensor.get(precision, 0) + flops
        return saved_builder["create_dot"](a, b, d, input_precision, max_num_imprecise_acc)

    def elementwise(name: str, flops_each: int) -> Callable:
        def counted(*operands):
            result = saved_builder[name](*operands)
            counter.current().core_flops += flops_each * result.data.size
            return result

        return counted

    def reduce_or_scan(cls):
        def counted(self, input):
            if getattr(self.combine_fn, "__name__", "") in LIBRARY_COMBINES:
                first = input[0] if isinstance(input, tuple) else input
                counter.current().core_flops += first.handle.data.size
            return saved_apply[cls](self, input)

        return counted

    def program_id(axis):
        return interpreter.TensorHandle(np.array([sampled["programs"][builder.grid_idx[0]][axis]], np.int32), tl_int32)

    def num_programs(axis):
        return interpreter.TensorHandle(np.array([sampled["grid"][axis]], np.int32), tl_int32)

    def start_program(x, y, z):
        counter.per_program.append(Traffic())
        return saved_builder["set_grid_idx"](x, y, z)

    def sampled_launch(executor, *args, **kwargs):
        # The launcher loops over the grid it is given: give it one program per sample, and let the
        # program ids the kernel asks for be the sampled ones of the real grid.
        real_grid = executor.grid

        def grid_of_samples(arguments):
            grid = tuple(real_grid(arguments) if callable(real_grid) else real_grid)
            grid += (1,) * (3 - len(grid))
            every = [(x, y, z) for x in range(grid[0]) for y in range(grid[1]) for z in range(grid[2])]
            sampled["grid"] = grid
            sampled["programs"] = {"first": every[:1], "ends": sorted({every[0], every[-1]}), "all": every}[sample]
            return (len(sampled["programs"]), 1, 1)

        counter.per_program.clear()
        counter.in_kernel = True
        executor.grid = grid_of_samples
        try:
            saved_call(executor, *args, **kwargs)
        finally:
            executor.grid, counter.in_kernel = real_grid, False
        grid = sampled["grid"]
        programs = counter.per_program
        total = Traffic()
        for program in programs:
            total.add(program, times=grid[0] * grid[1] * grid[2] / len(programs))
        agree = all(program == programs[0] for program in programs)
        counter.launches.append(Launch(executor.fn.__name__, grid, total, agree))

    tl_int32 = interpreter.tl.int32
    replacements = {
        "create_masked_load": masked_load,
        "create_masked_store": masked_store,
        "create_dot": dot,
        "create_fma": elementwise("create_fma", 2),
        "create_get_program_id": program_id,
        "create_get_num_programs": num_programs,
        "set_grid_idx": start_program,
        **{name: elementwise(name, 1) for name in ("create_fadd", "create_fsub", "create_fmul", "create_fdiv")},
    }
    for name, replacement in replacements.items():
        setattr(builder, name, replacement)
    interpreter.GridExecutor.__call__ = sampled_launch
    for cls in saved_apply:
        cls.apply = reduce_or_scan(cls)
    try:
        with np.errstate(all="ignore"):  # programs that did not run leave their outputs uninitialised
            yield counter
    finally:
        for name in replacements:
            delattr(builder, name)  # the instance attribute hid the class's method
        interpreter.GridExecutor.__call__ = saved_call
        for cls, apply in saved_apply.items():
            cls.apply = apply


# Operations that only allocate, or only describe memory another tensor owns: no traffic.
_NO_TRAFFIC = re.compile(r"^(empty|empty_like|empty_strided|new_empty|new_empty_strided|lift_fresh|detach|alias)$")
_WRITE_ONLY = re.compile(r"^(zeros|zeros_like|ones|ones_like|full|full_like|new_zeros|new_ones|new_full|fill_|zero_)$")


class TorchTraffic(TorchDispatchMode):
    """Counts the PyTorch operations run outside kernels: each reads its tensor inputs and writes its outputs once.

    Views and allocations move nothing; ``copy_`` reads its source only; a host synchronisation
    (``.item()``, a Python ``bool`` of a tensor) is counted apart, by the operation that made it.
    """

    def __init__(self, counter: _Counter) -> None:
        super().__init__()
        self.counter = counter
        self.traffic = Traffic()
        self.operations: dict[str, int] = {}  # name -> bytes
        self.host_syncs = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if self.counter.in_kernel or func.is_view or _NO_TRAFFIC.match(name):
            return result
        if name == "_local_scalar_dense":
            self.host_syncs += 1
            return result
        inputs = [x for x in torch.utils._pytree.tree_leaves((args, kwargs)) if isinstance(x, torch.Tensor)]
        if name == "copy_":
            inputs = inputs[1:]
        elif _WRITE_ONLY.match(name):
            inputs = []
        outputs = [x for x in torch.utils._pytree.tree_leaves(result) if isinstance(x, torch.Tensor)]
        loaded = sum(x.nbytes for x in inputs)
        stored = sum(x.nbytes for x in outputs)
        self.traffic.loaded += loaded
        self.traffic.stored += stored
        self.operations[name] = self.operations.get(name, 0) + loaded + stored
        return result


@contextlib.contextmanager
def as_on_an_h100() -> Iterator[None]:
    """Let the kernels' launch code choose the blocks, chunk and grid it would choose on an H100, on CPU tensors.

    As ``tests/compile_for_hopper.py`` does: the mode reads "compiled" and the device has 132
    multiprocessors. The kernels themselves stay decorated for the interpreter, and the CPU stays
    the device the kernels accept. A kernel module that works around the interpreter at import
    (``_INTERPRETED``: Triton 3.9's interpreter multiplies bfloat16 blocks wrongly) takes its compiled
    branch, so that ``tl.dot`` sees the operand dtypes a GPU multiplies; the values are not used.
    """
    import lrnn_course.kernels

    saved = course_triton._mode, backend.kernel_device, torch.cuda.get_device_properties
    workarounds = [
        module
        for module in vars(lrnn_course.kernels).values()
        if isinstance(module, types.ModuleType) and hasattr(module, "_INTERPRETED")
    ]
    for module in workarounds:
        module._INTERPRETED = course_triton.tl.constexpr(False)
    course_triton._mode = "compiled"
    backend.kernel_device = lambda: "cpu"
    torch.cuda.get_device_properties = lambda device=None: types.SimpleNamespace(
        multi_processor_count=H100_MULTIPROCESSORS, name="H100 (counting only)"
    )
    try:
        yield
    finally:
        course_triton._mode, backend.kernel_device, torch.cuda.get_device_properties = saved
        for module in workarounds:
            module._INTERPRETED = course_triton.tl.constexpr(True)


@dataclass
class Pass:
    """What one pass (forward or backward) of a public kernel function costs: its launches and PyTorch operations."""

    launches: list[Launch]
    torch_ops: Traffic
    torch_operations: dict[str, int]
    host_syncs: int
    seconds: float

    def total(self) -> Traffic:
        total = Traffic()
        for launch in self.launches:
            total.add(launch.traffic)
        total.add(self.torch_ops)
        return total


def count_pass(run: Callable[[], object], sample: str = "first") -> tuple[object, Pass]:
    """Run ``run()`` (on CPU tensors at full size) with its kernels and PyTorch operations counted."""
    started = time.perf_counter()
    with as_on_an_h100(), counting(sample) as counter:
        mode = TorchTraffic(counter)
        with mode:
            result = run()
    return result, Pass(counter.launches, mode.traffic, mode.operations, mode.host_syncs, time.perf_counter() - started)


def count_forward_and_backward(
    function: Callable[..., torch.Tensor | tuple], inputs: list[torch.Tensor], sample: str = "first"
) -> tuple[Pass, Pass | None]:
    """The forward pass as ``bench_kernels.py`` times it and, where the inputs need gradients, the backward from
    dL/dout; a forward-only function gets inputs that need none and its backward is None."""
    result, forward = count_pass(lambda: function(*inputs), sample)
    output = result[0] if isinstance(result, tuple) else result
    if not output.requires_grad:
        return forward, None
    grad_output = torch.randn_like(output)
    _, backward = count_pass(lambda: torch.autograd.backward(output, grad_output), sample)
    return forward, backward


def scan_inputs(shape: tuple[int, int, int]) -> list[torch.Tensor]:
    batch, _, width = shape
    a = (torch.rand(shape) * 2 - 1).requires_grad_(True)
    b = torch.randn(shape).requires_grad_(True)
    return [a, b, torch.zeros(batch, width)]


def delta_inputs(
    shape: tuple[int, int, int, int], n_householder: int, gated: bool, gradients: bool = True
) -> list[torch.Tensor]:
    """q, k, v, β (and α when gated) in bfloat16, as ``bench_kernels.py`` makes them; k, v, β per Householder."""
    batch, steps, heads, dim = shape
    per_token = (n_householder,) if n_householder > 1 else ()
    q = F.normalize(torch.randn(batch, steps, heads, dim), dim=-1)
    k = F.normalize(torch.randn(batch, steps, *per_token, heads, dim), dim=-1)
    v = torch.randn(batch, steps, *per_token, heads, dim)
    beta = 2 * torch.rand(batch, steps, *per_token, heads)
    alpha = torch.rand(batch, steps, heads) * 0.1 + 0.9
    tensors = [q, k, v, beta] + ([alpha] if gated else [])
    return [x.to(torch.bfloat16).requires_grad_(gradients) for x in tensors]


def cases(only: str | None = None) -> Iterator[tuple[str, tuple, str, Callable, list[torch.Tensor]]]:
    """(name, shape, dtype, public function, inputs) of every benchmark row; inputs are made only when asked for.

    The delta-rule rows count the split kernels (``lrnn_course.kernels``); the single kernel K3 and K4 teach
    first (``kernels.delta``) is counted beside them at the first shape, as the baseline the split improves on.
    """
    from lrnn_course.kernels import chunk_delta_product, chunk_delta_rule, delta, diagonal_scan

    wanted = [("diagonal scan", SCAN_SHAPE, "float32", diagonal_scan, lambda: scan_inputs(SCAN_SHAPE))]
    for shape in DELTA_SHAPES:
        wanted += [
            ("delta rule", shape, "bfloat16", chunk_delta_rule, lambda shape=shape: delta_inputs(shape, 1, False)),
            ("gated delta rule", shape, "bfloat16", chunk_delta_rule, lambda shape=shape: delta_inputs(shape, 1, True)),
            (
                "DeltaProduct n_h=2",
                shape,
                "bfloat16",
                chunk_delta_product,
                lambda shape=shape: delta_inputs(shape, 2, False),
            ),
        ]
        if shape == DELTA_SHAPES[0]:
            wanted += [
                (
                    f"{gate}delta rule, single kernel",
                    shape,
                    "bfloat16",
                    delta.chunk_delta_rule,
                    lambda shape=shape, gated=bool(gate): delta_inputs(shape, 1, gated),
                )
                for gate in ("", "gated ")
            ]
    for name, shape, dtype, function, make_inputs in wanted:
        if only is None or only.lower() in name.lower():
            yield name, shape, dtype, function, make_inputs()


def rows_of(name: str, shape: tuple, dtype: str, forward: Pass, backward: Pass | None) -> list[dict]:
    """Table rows: per pass, one per kernel launch, one for the PyTorch operations, one for the pass in all."""
    elements = int(np.prod(shape))
    rows = []
    both = Traffic()
    passes = [("forward", forward)] + ([("backward", backward)] if backward is not None else [])
    for pass_name, counted in passes:
        for launch in counted.launches:
            rows.append(
                row(name, shape, dtype, pass_name, launch.kernel, launch.traffic, elements, launch.programs)
                | {"programs_agree": launch.programs_agree}
            )
        if counted.torch_ops.bytes or counted.host_syncs:
            by_size = sorted(counted.torch_operations.items(), key=lambda item: -item[1])
            named = [f"{op} {size / 1e6:.0f} MB" for op, size in by_size if size >= 1e6]
            small = len(by_size) - len(named)
            label = "PyTorch: " + ", ".join(named + ([f"{small} ops under 1 MB"] if small else []))
            label += f"; {counted.host_syncs} host sync(s)" if counted.host_syncs else ""
            rows.append(row(name, shape, dtype, pass_name, label, counted.torch_ops, elements, None))
        total = counted.total()
        both.add(total)
        rows.append(row(name, shape, dtype, pass_name, "**all**", total, elements, None))
    if backward is not None:
        rows.append(row(name, shape, dtype, "forward+backward", "**all**", both, elements, None))
    return rows


def row(name, shape, dtype, pass_name, what, traffic: Traffic, elements: int, programs: int | None) -> dict:
    seconds, bound = traffic.floor_seconds()
    return {
        "kernel": name,
        "shape": "×".join(map(str, shape)),
        "dtype": dtype,
        "pass": pass_name,
        "what": what,
        "programs": programs,
        "per_program": None
        if programs is None
        else (traffic.bytes / programs, sum(traffic.tensor_flops.values()) / programs, traffic.core_flops / programs),
        "bytes": traffic.bytes,
        "bytes_per_element": traffic.bytes / elements,
        "tensor_flops": dict(traffic.tensor_flops),
        "core_flops": traffic.core_flops,
        "floor_ms": 1e3 * seconds,
        "bound": bound,
    }


HEADER = (
    "| kernel | shape | dtype | pass | launch or operations | programs (/ 4×132) "
    "| per program: KB, tensor + core MFLOP | MB moved | B/element | tensor GFLOP | core GFLOP | floor (ms) "
    "| bound by |"
)


def markdown(rows: list[dict]) -> str:
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for r in rows:
        programs = "–"
        if r["programs"] is not None:
            programs = f"{r['programs']} ({r['programs'] / PROGRAMS_WANTED:.2f})"
            if not r.get("programs_agree", True):
                programs += " programs differ"
        tensor = ", ".join(f"{flops / 1e9:.1f} {precision}" for precision, flops in r["tensor_flops"].items()) or "0"
        cells = [
            r["kernel"],
            r["shape"],
            r["dtype"],
            r["pass"],
            r["what"],
            programs,
            "–"
            if r["per_program"] is None
            else "{:.0f} KB, {:.1f} + {:.1f}".format(
                r["per_program"][0] / 1e3, r["per_program"][1] / 1e6, r["per_program"][2] / 1e6
            ),
            f"{r['bytes'] / 1e6:.1f}",
            f"{r['bytes_per_element']:.2f}",
            tensor,
            f"{r['core_flops'] / 1e9:.2f}",
            f"{r['floor_ms']:.3f}",
            r["bound"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def read_floors(path: Path = RESULTS / "roofline.md") -> dict[tuple[str, str, str], float]:
    """(kernel, shape as "8×4096×2048", pass) -> floor in ms, from the "**all**" rows of a committed table."""
    floors = {}
    if not path.exists():
        return floors
    columns = None
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| kernel |"):
            columns = cells
        elif columns and len(cells) == len(columns) and not line.startswith("|---"):
            entry = dict(zip(columns, cells))
            if entry["launch or operations"] == "**all**":
                floors[(entry["kernel"], entry["shape"], entry["pass"])] = float(entry["floor (ms)"])
    return floors


PREAMBLE = """# The floor of each kernel on an H100, from its own code

`python benchmarks/roofline.py` (no GPU needed; see its docstring for how it counts). Bytes are
global-memory loads and stores of unmasked elements, counted in Triton's interpreter while the
kernel runs at the full shape with the launch configuration of an H100; PyTorch operations
around the kernels are counted as reading their inputs and writing their outputs once.
"Forward" is the pass `bench_kernels.py` times: inputs that need gradients, so the delta rule
saves its chunk states. B/element divides by the product of the shape.

The delta-rule rows count the split kernels that `lrnn_course.kernels` runs (`kernels/delta_split.py`),
forward and backward; the rows "…, single kernel" count `kernels.delta`, one serial kernel a pass, the
version K3 and K4 teach first, at the first shape only, as the baseline. The split's two serial kernels
do only the state update per chunk, no substitution on the serial path: the state pass two matrix products
of 2·C·D_k·(value block) FLOPs (v_new = U - W S_0, then S += Kᵀ v_new), the state-gradient kernel three
(K dS', Qᵀ dO, Wᵀ dv_new); `tests/test_roofline.py` checks both counts.

Assumptions (H100 SXM5): copy bandwidth {bandwidth:.2f} TB/s (a device copy measured on the
course's H100, issue 7); dense tensor cores {bf16:.1f} TFLOP/s bf16, {tf32:.1f} TFLOP/s tf32
(tf32x3 is three tf32 passes); {core:.1f} TFLOP/s fp32 on the CUDA cores (NVIDIA's H100 datasheet).
"programs" is the grid beside 4 × 132 = {wanted}: below 1.00 some multiprocessors have fewer than
four programs to switch between. "per program" is one program's share; for a kernel whose
programs walk every chunk in order (the single kernel's two, the split's state pass and
state-gradient kernel) divide it by the number of chunks, T / chunk, for the work on the serial
path per chunk. The floor is max(bytes / bandwidth, FLOPs / rate); it ignores latency, so a kernel
whose programs walk their chunks one after another can be far slower.

"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "roofline.md"))
    parser.add_argument("--only", help="only the kernels whose name contains this, e.g. 'scan'")
    parser.add_argument(
        "--check-programs", action="store_true", help="run each launch's last program too (twice as long)"
    )
    args = parser.parse_args()
    if course_triton.triton_mode() != "interpreter":
        print(
            f"roofline counts in Triton's interpreter, on a machine without a GPU (here: {course_triton.triton_mode()})"
        )
        return 2
    torch.manual_seed(0)
    rows = []
    for name, shape, dtype, function, inputs in cases(args.only):
        forward, backward = count_forward_and_backward(function, inputs, "ends" if args.check_programs else "first")
        rows += rows_of(name, shape, dtype, forward, backward)
        seconds = forward.seconds + (backward.seconds if backward is not None else 0)
        print(f"{name} {shape}: counted in {seconds:.0f} s", file=sys.stderr, flush=True)
        del inputs
    text = PREAMBLE.format(
        bandwidth=COPY_BYTES_PER_S / 1e12,
        bf16=TENSOR_FLOPS_PER_S["bf16"] / 1e12,
        tf32=TENSOR_FLOPS_PER_S["tf32"] / 1e12,
        core=CORE_FLOPS_PER_S / 1e12,
        wanted=PROGRAMS_WANTED,
    ) + markdown(rows)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
