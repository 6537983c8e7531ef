"""Every PyTorch path of the course on the CPU, at T = 1 024 and 4 096, forward and forward+backward, side by side.

Usage: python benchmarks/bench_cpu.py [--out benchmarks/results/cpu-paths.md] [--threads 1] [--repeats 3]
                                      [--quick] [--no-fla] [--slow-references]

Each cell is the fastest of ``--repeats`` calls or more (up to 25 for a quick path, about 2 s of calls)
after one warm-up (``lrnn_course.bench.best_seconds``); "forward" with inputs that require gradients
(the forward of a training step), "forward+backward" with the backward of the sum of the outputs. The
ratio columns divide the time at the longer T by the time at the shorter: a path linear in T shows
about 4 (issue 22 asks at most 5 of every course path's forward+backward). A second table sets
``ops``' ``backend="auto"`` beside the fastest course path of its family. flash-linear-attention's
naive PyTorch references (``fla-core``, the ``bench`` extra) join the table when they import; the
recurrent ones index ``x[:, i]`` in their loop, so their backward is quadratic in T (about a minute a
call at 4 096): their forward+backward at the longer T runs only with ``--slow-references``. The
log-space scans are left out: they build a T × T matrix per channel by design. ``--quick`` runs tiny
shapes with one call each, to check the script itself (tests/test_bench_cpu.py). The default run
takes about five minutes on one thread.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from lrnn_course import chunkwise, deltanet, deltaproduct, mamba, scan
from lrnn_course.bench import best_seconds

try:  # the dispatch layer: its "auto" choice is measured beside the paths it chooses between
    from lrnn_course import ops
except ImportError:  # an older checkout: the table has no "auto" rows
    ops = None

RESULTS = Path(__file__).resolve().parent / "results"
# glibc's malloc hands large freed blocks back to the system and maps fresh pages for the next call: time per
# byte that the longer T pays more of and that would read as a cost of the algorithm (PyTorch's CPU tuning guide
# swaps the allocator for the same reason). The script runs with these settings, which keep freed memory in the
# process; it re-runs itself with them when they are missing, as glibc reads them only when a process starts.
KEEP_FREED_MEMORY = {
    "MALLOC_TRIM_THRESHOLD_": "4000000000",
    "MALLOC_MMAP_THRESHOLD_": "4000000000",
    "MALLOC_TOP_PAD_": "268435456",
}
# The diagonal scan is wide enough (4 096 numbers per step) that a step's arithmetic, not Python's cost per
# operation, is what grows with T.
FULL = {"lengths": (1024, 4096), "scan": (4, 1024), "selective": (1, 64, 16), "delta": (2, 4, 64), "chunk": 64}
QUICK = {"lengths": (32, 128), "scan": (2, 8), "selective": (1, 4, 2), "delta": (1, 2, 8), "chunk": 16}
FLA_CHUNK = 32  # fla's delta_rule_chunkwise default chunk length
CELL_SECONDS, MOST_CALLS = 2.0, 25  # a quick path gets more calls (up to 25, about 2 s): on a shared machine a
# busy moment inflates a 10 ms call more often than a 3 s one, and only the fastest call counts
NOT_LINEAR = "indexes x[:, i] in its loop: quadratic backward; --slow-references runs it"


@dataclass(frozen=True)
class Implementation:
    """One path of a family: ``inputs(T)`` makes its leaves (requiring gradients), ``run(*leaves)`` computes."""

    family: str
    name: str
    inputs: Callable[[int], list[torch.Tensor]]
    run: Callable[..., object]
    source: str = "course"  # "course", "auto" (ops) or "fla"
    quadratic_backward: bool = False
    log_factor: bool = False  # T·log2(T) work by design (Hillis-Steele): 4.8x, not 4x, from T = 1 024 to 4 096


def leaves(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [x.requires_grad_() for x in tensors]


def output_of(result: object) -> torch.Tensor:
    return result[0] if isinstance(result, tuple) else result


def shapes(sizes: dict) -> dict[str, str]:
    """The shape each family is timed at, by family."""
    batch, width = sizes["scan"]
    sel_batch, channels, states = sizes["selective"]
    d_batch, heads, dim = sizes["delta"]
    return {
        "diagonal scan": f"(B, T, D) = ({batch}, T, {width})",
        "selective scan": f"(B, T, E, N) = ({sel_batch}, T, {channels}, {states})",
        "delta rule": f"(B, T, H, D) = ({d_batch}, T, {heads}, {dim}), β ∈ [0, 2], no gate",
        "DeltaProduct": f"n_h = 2, (B, T, H, D) = ({d_batch}, T, {heads}, {dim})",
    }


def paths(sizes: dict, fla: dict[str, Callable]) -> list[Implementation]:
    """The course's PyTorch paths, ops' auto path and fla's naive references, family by family."""
    batch, width = sizes["scan"]
    sel_batch, channels, states = sizes["selective"]
    d_batch, heads, dim = sizes["delta"]
    chunk = sizes["chunk"]

    def scan_inputs(steps: int) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        return leaves(torch.rand(batch, steps, width, generator=g), torch.randn(batch, steps, width, generator=g))

    def selective_inputs(steps: int) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(1)
        u, B, C = (torch.randn(sel_batch, steps, n, generator=g) for n in (channels, states, states))
        delta = F.softplus(torch.randn(sel_batch, steps, channels, generator=g))
        return leaves(u, delta, torch.randn(channels, states, generator=g), B, C)

    def delta_inputs(steps: int, n_householder: int | None = None) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(2)
        sub = () if n_householder is None else (n_householder,)
        q = F.normalize(torch.randn(d_batch, steps, heads, dim, generator=g), dim=-1)
        k = F.normalize(torch.randn(d_batch, steps, *sub, heads, dim, generator=g), dim=-1)
        v = torch.randn(d_batch, steps, *sub, heads, dim, generator=g)
        return leaves(q, k, v, 2 * torch.rand(d_batch, steps, *sub, heads, generator=g))

    def product_inputs(steps: int) -> list[torch.Tensor]:
        return delta_inputs(steps, n_householder=2)

    def heads_first(steps: int) -> list[torch.Tensor]:  # fla's naive delta rule: (B, H, T, D)
        return leaves(*(x.detach().transpose(1, 2).contiguous() for x in delta_inputs(steps)))

    def product_interleaved(steps: int) -> list[torch.Tensor]:  # fla's naive DeltaProduct: sub-steps in time
        q, k, v, beta = (x.detach() for x in product_inputs(steps))
        return leaves(q, *(deltaproduct.interleave(x) for x in (k, v, beta)))

    scans, selective, delta, product = shapes(sizes)
    found = [
        Implementation(scans, "scan.sequential_scan", scan_inputs, scan.sequential_scan),
        Implementation(
            scans, "scan.hillis_steele_scan (T·log2 T combines)", scan_inputs, scan.hillis_steele_scan, log_factor=True
        ),
        Implementation(scans, "scan.blelloch_scan", scan_inputs, scan.blelloch_scan),
        Implementation(
            scans,
            f"scan.chunked_scan, C = {chunk}",
            scan_inputs,
            lambda a, b: scan.chunked_scan(a, b, chunk_size=chunk),
        ),
        Implementation(selective, "mamba.selective_scan", selective_inputs, mamba.selective_scan),
        Implementation(selective, "mamba.selective_scan_parallel", selective_inputs, mamba.selective_scan_parallel),
        Implementation(delta, "deltanet.delta_rule", delta_inputs, deltanet.delta_rule),
        Implementation(delta, "deltanet.dense_delta_rule", delta_inputs, deltanet.dense_delta_rule),
        Implementation(
            delta,
            f"chunkwise.chunk_delta_rule, C = {chunk}",
            delta_inputs,
            lambda *x: chunkwise.chunk_delta_rule(*x, chunk_size=chunk),
        ),
        Implementation(product, "deltaproduct.delta_product", product_inputs, deltaproduct.delta_product),
        Implementation(
            product,
            f"delta_product_by_interleaving, chunk_delta_rule C = {chunk}",
            product_inputs,
            lambda *x: deltaproduct.delta_product_by_interleaving(
                *x, delta_rule=lambda *y: chunkwise.chunk_delta_rule(*y, chunk_size=chunk)
            ),
        ),
    ]
    if ops is not None:
        found += [
            Implementation(scans, "ops.diagonal_scan (auto)", scan_inputs, ops.diagonal_scan, "auto"),
            Implementation(delta, "ops.chunk_delta_rule (auto)", delta_inputs, ops.chunk_delta_rule, "auto"),
            Implementation(product, "ops.chunk_delta_product (auto)", product_inputs, ops.chunk_delta_product, "auto"),
        ]
    if "hgrn" in fla:  # h = exp(g) * h + x: the diagonal scan with the gates as logarithms
        found.append(
            Implementation(
                scans, "fla naive_recurrent_hgrn", scan_inputs, lambda a, b: fla["hgrn"](b, a.log()), "fla", True
            )
        )
    if "delta" in fla:
        found += [
            Implementation(delta, "fla delta_rule_recurrence", heads_first, fla["delta"], "fla", True),
            Implementation(
                delta,
                f"fla delta_rule_chunkwise, C = {FLA_CHUNK}",
                heads_first,
                lambda *x: fla["delta_chunk"](*x, chunk_size=FLA_CHUNK),
                "fla",
            ),
        ]
    if "product" in fla:
        found.append(
            Implementation(
                product,
                "fla naive_recurrent_gated_delta_product",
                product_interleaved,
                lambda q, k, v, beta: fla["product"](q, k, v, None, beta, dim**-0.5, num_householder=2),
                "fla",
                True,
            )
        )
    return found


def fla_references() -> tuple[dict[str, Callable], str]:
    """fla's naive references by short name, and a line saying which version (or why none)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fla warns that Triton has no GPU here: its naive code is plain PyTorch
            import fla
            from fla.ops.delta_rule.naive import delta_rule_chunkwise, delta_rule_recurrence
            from fla.ops.gated_delta_product.naive import naive_recurrent_gated_delta_product
            from fla.ops.hgrn.naive import naive_recurrent_hgrn
    except Exception as error:  # noqa: BLE001 - the optional dependency missing or broken is reported, not raised
        return {}, f"not importable ({type(error).__name__}: {str(error).splitlines()[0][:100]})"
    functions = {
        "hgrn": naive_recurrent_hgrn,
        "delta": delta_rule_recurrence,
        "delta_chunk": delta_rule_chunkwise,
        "product": naive_recurrent_gated_delta_product,
    }
    return functions, f"fla-core {fla.__version__} (naive PyTorch references)"


def fastest_ms(fn: Callable[[], object], repeats: int, quick: bool) -> float:
    """Milliseconds of the fastest call of ``fn``: ``repeats`` calls, or more for a quick ``fn``, after one warm-up
    call (timed, to count the calls); one call and no warm-up when ``quick``."""
    if quick:
        return 1e3 * best_seconds(fn, repeats=1, warmup=0)
    start = time.perf_counter()
    fn()
    calls = max(repeats, min(MOST_CALLS, math.ceil(CELL_SECONDS / (time.perf_counter() - start))))
    return 1e3 * best_seconds(fn, repeats=calls, warmup=0)


def timings(path: Implementation, steps: int, repeats: int, quick: bool, slow: bool) -> tuple[float | str, float | str]:
    """(forward ms, forward+backward ms) of ``path`` at ``steps``, or "skipped" where ``slow`` is False and the
    path's backward pass is quadratic (the caller asks that only at the longer T)."""
    inputs = path.inputs(steps)

    def forward_backward() -> None:
        for leaf in inputs:
            leaf.grad = None
        output_of(path.run(*inputs)).sum().backward()

    forward = fastest_ms(lambda: path.run(*inputs), repeats, quick)
    if path.quadratic_backward and not slow:
        return forward, "skipped"
    return forward, fastest_ms(forward_backward, repeats, quick)


def cell(value: float | str) -> str:
    if not isinstance(value, float):
        return value
    return f"{value:.1f}" if value >= 1 else f"{value:.3f}"


def ratio(long: float | str, short: float | str) -> str:
    return f"{long / short:.1f}" if isinstance(long, float) and isinstance(short, float) else "–"


def machine_note(threads: int, fla_line: str, load_before: tuple[float, ...]) -> list[str]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")  # Linux: the CPU's name, which platform.processor() leaves empty there
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cpu = names[0] if names else cpu
    load_after = os.getloadavg()
    return [
        f"- Machine: {cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, torch {torch.__version__}, {threads} thread(s) "
        f"(`torch.set_num_threads`), float32.",
        f"- Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)} (other work on the machine only ever adds time).",
        f"- flash-linear-attention: {fla_line}.",
        f"- Run on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.",
    ]


def auto_table(rows: list[tuple[Implementation, list]], lengths: tuple[int, int]) -> list[str]:
    """For each family: ops' auto path against the fastest course path, forward+backward at each length."""
    lines = [
        "| family | T | auto, forward+backward ms | fastest course path | its ms | auto / fastest |",
        "|---|---|---|---|---|---|",
    ]
    for family in dict.fromkeys(path.family for path, _ in rows):
        auto = [cells for path, cells in rows if path.family == family and path.source == "auto"]
        course = [(path.name, cells) for path, cells in rows if path.family == family and path.source == "course"]
        for cells in auto:
            for index, steps in enumerate(lengths):
                best, name = min((c[index][1], name) for name, c in course if isinstance(c[index][1], float))
                auto_ms = cells[index][1]
                lines.append(
                    f"| {family} | {steps} | {cell(auto_ms)} | {name} | {cell(best)} | {ratio(auto_ms, best)} |"
                )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "cpu-paths.md")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: comparable across machines)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny shapes, one call each: checks the script only")
    parser.add_argument("--no-fla", action="store_true", help="leave out flash-linear-attention's references")
    parser.add_argument("--slow-references", action="store_true", help="also time the quadratic backward passes")
    args = parser.parse_args()
    load_before = os.getloadavg()
    torch.set_num_threads(args.threads)
    sizes = QUICK if args.quick else FULL
    fla, fla_line = ({}, "left out (--no-fla)") if args.no_fla else fla_references()
    short, long = sizes["lengths"]
    rows = []
    families = list(shapes(sizes))
    for path in sorted(paths(sizes, fla), key=lambda path: families.index(path.family)):  # a family's rows together
        cells = [
            timings(path, short, args.repeats, args.quick, slow=True),
            timings(path, long, args.repeats, args.quick, slow=args.slow_references or args.quick),
        ]
        rows.append((path, cells))
        print(f"{path.name}: {cells}", flush=True)
    lines = [
        f"# The course's PyTorch paths on the CPU, T = {short} and {long}",
        "",
        "Written by `benchmarks/bench_cpu.py`"
        + (" --quick (tiny shapes, one call: the times mean nothing)" if args.quick else "")
        + f". Milliseconds, the fastest of {1 if args.quick else args.repeats} call(s) or more: a path gets up to "
        f"{MOST_CALLS} calls, about {CELL_SECONDS:g} s of them, after a warm-up, with Python's garbage collector off "
        f"during the timed calls (as `timeit` has it); ratio = time at T = {long} / time at "
        f"T = {short} (linear in T: about {long // short}).",
        "",
        *machine_note(args.threads, fla_line, load_before),
        "- Left out: `scan.log_space_scan` and `signed_log_space_scan`, which build a T × T matrix per channel by "
        "design (O(T² D) memory: 64 GiB at T = 4 096 here).",
        f"- skipped: {NOT_LINEAR}.",
        "- Shapes: " + "; ".join(f"{family} {shape}" for family, shape in shapes(sizes).items()) + ". "
        "glibc's malloc keeps freed memory in the process ("
        + ", ".join(f"{name}={value}" for name, value in KEEP_FREED_MEMORY.items())
        + "): by default it maps fresh pages for every large allocation, a cost per byte that the longer T pays "
        "more of (sequential and Blelloch scans at (4, T, 1024): 5.2x and 6.2x by default, 4.4x and 4.3x so).",
        "",
        f"| family | path | forward T = {short} | forward T = {long} | ratio | forward+backward T = {short} "
        f"| forward+backward T = {long} | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path, ((forward_short, both_short), (forward_long, both_long)) in rows:
        lines.append(
            f"| {path.family} | {path.name} | {cell(forward_short)} | {cell(forward_long)} "
            f"| {ratio(forward_long, forward_short)} | {cell(both_short)} | {cell(both_long)} "
            f"| {ratio(both_long, both_short)} |"
        )
    growth = {path.name: cells[1][1] / cells[0][1] for path, cells in rows if path.source != "fla"}
    by_design = long / short * math.log2(long) / math.log2(short)
    over = [
        f"{path.name} ({growth[path.name]:.1f}" + (f"; {by_design:.1f} by design)" if path.log_factor else ")")
        for path, _ in rows
        if growth.get(path.name, 0) > 5
    ]
    lines += [
        "",
        "Course paths (auto included) whose forward+backward grows more than 5x: " + (", ".join(over) or "none") + ".",
        "",
        '## `backend="auto"` against the fastest course path of its family',
        "",
        *(auto_table(rows, (short, long)) if ops is not None else ["(`lrnn_course.ops` is not in this checkout.)"]),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


def keep_freed_memory() -> None:
    """Re-run this script with ``KEEP_FREED_MEMORY`` set, unless it is (or the C library is not glibc)."""
    if platform.libc_ver()[0] != "glibc" or all(os.environ.get(k) == v for k, v in KEEP_FREED_MEMORY.items()):
        return
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **KEEP_FREED_MEMORY})


if __name__ == "__main__":
    if "--quick" not in sys.argv:  # a quick run checks the script, in the caller's process (a test's)
        keep_freed_memory()
    main()
