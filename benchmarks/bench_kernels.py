"""The course's Triton kernels against the memory-bandwidth limit and flash-linear-attention (fla), side by side.

Usage: python benchmarks/bench_kernels.py [--out benchmarks/results/h100.json] [--smoke] [--launch-sweep]

On a CUDA GPU it times, in one run, on the shapes of issue 7:
  - the diagonal scan at (8, 4096, 2048) float32, forward and forward+backward, against a device copy
    of the same bytes and fla's ``chunk_hgrn``;
  - the chunked delta rule in bfloat16 at (8, 2048, 16, 128) and (4, 8192, 16, 128), β ∈ [0, 2],
    against fla's ``chunk_delta_rule``; Gated DeltaNet and DeltaProduct n_h = 2 against fla's gated kernels.
    These run the split kernels (``kernels.delta_split``, what ``lrnn_course.kernels`` exports); at the
    first shape the single kernel K3 and K4 teach first (``kernels.delta``) runs beside them, so one run
    compares split, single kernel and fla.
Every time is the fastest of several calls after a warm-up; the script prints ratios and achieved
bandwidth and never asserts a time. Beside each time stands the floor ``roofline.py`` committed
(results/roofline.md): the least time the kernel's own bytes and FLOPs allow on an H100. The JSON
records the GPU and the torch, triton and fla versions. fla is optional: where it is missing or
refuses a call, its column says why. ``--smoke`` runs tiny shapes wherever Triton runs (the
interpreter on a CPU), to check the script itself.
``--launch-sweep`` adds our delta rule in bfloat16 at every pair of value blocks in ``SWEEP``, to choose
``kernels.delta_split.HALF_PRECISION_LAUNCH``'s ``state_block_v`` (the serial kernels' programs) and
``block_v`` (the parallel kernels' tiles). Only the default configuration is checked not to spill
registers on an H100 (``tests/test_kernels_compile.py``): a faster one must pass that check before it
becomes the default.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

import lrnn_course
from lrnn_course._triton import triton, triton_mode
from lrnn_course.bench import best_seconds
from lrnn_course.kernels import chunk_delta_product, chunk_delta_rule, delta, delta_split, diagonal_scan

RESULTS = Path(__file__).resolve().parent / "results"
FULL = {"scan": (8, 4096, 2048), "delta": [(8, 2048, 16, 128), (4, 8192, 16, 128)]}
SMOKE = {"scan": (1, 20, 16), "delta": [(1, 17, 1, 16)]}
# (state_block_v, block_v) of delta_split.HALF_PRECISION_LAUNCH
SWEEP = [(state_block_v, block_v) for state_block_v in (16, 32) for block_v in (32, 64)]


def roofline_floors() -> dict[tuple[str, str, str], float]:
    """(kernel, shape as "8×4096×2048", pass) -> floor in ms, from the table ``roofline.py`` committed."""
    spec = importlib.util.spec_from_file_location("roofline", Path(__file__).with_name("roofline.py"))
    roofline = importlib.util.module_from_spec(spec)
    sys.modules["roofline"] = roofline  # its dataclasses look their module up
    spec.loader.exec_module(roofline)
    return roofline.read_floors(RESULTS / "roofline.md")


def fla_function(path: str) -> Callable | str:
    """An fla function by dotted path, or the reason it cannot be had."""
    module_name, _, name = path.rpartition(".")
    try:
        module = __import__(module_name, fromlist=[name])
        return getattr(module, name)
    except Exception as error:  # noqa: BLE001 - any failure of the optional dependency is reported, not raised
        return f"unavailable ({type(error).__name__}: {str(error).splitlines()[0][:120]})"


def timed(fn: Callable[[], object], repeats: int) -> float | str:
    """Median milliseconds of fn(), or why it failed."""
    try:
        return 1e3 * best_seconds(fn, repeats=repeats, warmup=2)
    except Exception as error:  # noqa: BLE001 - fla refusing a call is a result to record
        return f"refused ({type(error).__name__}: {str(error).splitlines()[0][:120]})"


def forward_backward(fn: Callable[[], tuple | torch.Tensor], leaves: list[torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        for leaf in leaves:
            leaf.grad = None
        result = fn()
        output = result[0] if isinstance(result, tuple) else result
        output.float().sum().backward()

    return run


def scan_rows(shape: tuple[int, int, int], device: str, repeats: int) -> list[dict]:
    batch, steps, width = shape
    a = (torch.rand(batch, steps, width, device=device) * 2 - 1).requires_grad_(True)
    b = torch.randn(batch, steps, width, device=device).requires_grad_(True)
    h0 = torch.zeros(batch, width, device=device)
    moved = 3 * a.numel() * a.element_size()  # read a, b; write h
    source = torch.empty(moved // 4 // 2, device=device)
    copy_ms = timed(lambda: source.clone(), repeats)  # reads and writes the same number of bytes
    rows = [
        {
            "kernel": "diagonal scan",
            "shape": list(shape),
            "dtype": "float32",
            "pass": "copy of the same bytes",
            "ms": copy_ms,
        }
    ]
    ours = {
        "forward": timed(lambda: diagonal_scan(a, b, h0), repeats),
        "forward+backward": timed(forward_backward(lambda: diagonal_scan(a, b, h0), [a, b]), repeats),
    }
    hgrn = fla_function("fla.ops.hgrn.chunk_hgrn")
    positive_log_gates = torch.log(a.detach().abs().clamp(min=1e-3)).requires_grad_(True)  # fla's gates are exp(g) > 0
    theirs = {
        "forward": hgrn if isinstance(hgrn, str) else timed(lambda: hgrn(b, positive_log_gates), repeats),
        "forward+backward": hgrn
        if isinstance(hgrn, str)
        else timed(forward_backward(lambda: hgrn(b, positive_log_gates), [b, positive_log_gates]), repeats),
    }
    for name in ours:
        row = {
            "kernel": "diagonal scan",
            "shape": list(shape),
            "dtype": "float32",
            "pass": name,
            "ms": ours[name],
            "fla_ms": theirs[name],
        }
        if isinstance(ours[name], float) and isinstance(copy_ms, float):
            # The least traffic each pass needs: forward reads a, b and writes h; backward reads a, h and
            # dL/dh and writes dL/da and dL/db, so forward+backward moves 8 tensors where forward moves 3.
            bytes_moved = moved * (1 if name == "forward" else 8 / 3)
            row["bandwidth_fraction"] = (bytes_moved / (ours[name] * 1e-3)) / (moved / (copy_ms * 1e-3))
        rows.append(row)
    return rows


def delta_inputs(shape: tuple[int, int, int, int], device: str, dtype: torch.dtype, n_householder: int = 1):
    batch, steps, heads, dim = shape
    per_token = (n_householder,) if n_householder > 1 else ()
    q = F.normalize(torch.randn(batch, steps, heads, dim, device=device), dim=-1)
    k = F.normalize(torch.randn(batch, steps, *per_token, heads, dim, device=device), dim=-1)
    v = torch.randn(batch, steps, *per_token, heads, dim, device=device)
    beta = 2 * torch.rand(batch, steps, *per_token, heads, device=device)
    alpha = torch.rand(batch, steps, heads, device=device) * 0.1 + 0.9
    return [x.to(dtype).requires_grad_(True) for x in (q, k, v, beta, alpha)]


def delta_rows(
    shape: tuple[int, int, int, int], device: str, dtype: torch.dtype, repeats: int, single_kernel: bool = False
) -> list[dict]:
    """Ours (the split kernels and, with ``single_kernel``, ``kernels.delta`` too) and fla, each pass timed."""
    rows = []
    q, k, v, beta, alpha = delta_inputs(shape, device, dtype)
    fla_delta = fla_function("fla.ops.delta_rule.chunk_delta_rule")
    fla_gated = fla_function("fla.ops.gated_delta_rule.chunk_gated_delta_rule")
    versions = [("", chunk_delta_rule)] + ([(", single kernel", delta.chunk_delta_rule)] if single_kernel else [])
    variants = {}
    for suffix, ours in versions:
        variants[f"delta rule{suffix}"] = (
            lambda ours=ours: ours(q, k, v, beta),
            [q, k, v, beta],
            fla_delta if isinstance(fla_delta, str) else (lambda: fla_delta(q, k, v, beta)),
            [q, k, v, beta],
        )
        variants[f"gated delta rule{suffix}"] = (
            lambda ours=ours: ours(q, k, v, beta, alpha),
            [q, k, v, beta, alpha],
            fla_gated if isinstance(fla_gated, str) else (lambda: fla_gated(q, k, v, torch.log(alpha), beta)),
            [q, k, v, beta, alpha],
        )
    pq, pk, pv, pbeta, palpha = delta_inputs(shape, device, dtype, n_householder=2)
    fla_product = fla_function("fla.ops.gated_delta_product.chunk_gated_delta_product")
    variants["DeltaProduct n_h=2"] = (
        lambda: chunk_delta_product(pq, pk, pv, pbeta),
        [pq, pk, pv, pbeta],
        fla_product
        if isinstance(fla_product, str)
        else (
            lambda: fla_product(
                pq, pk.flatten(1, 2), pv.flatten(1, 2), torch.zeros_like(palpha), pbeta.flatten(1, 2), num_householder=2
            )
        ),
        [pq, pk, pv, pbeta],
    )
    for name, (ours, our_leaves, theirs, their_leaves) in variants.items():
        for pass_name in ("forward", "forward+backward"):
            mine = timed(ours if pass_name == "forward" else forward_backward(ours, our_leaves), repeats)
            if isinstance(theirs, str):
                fla_ms = theirs
            else:
                fla_ms = timed(theirs if pass_name == "forward" else forward_backward(theirs, their_leaves), repeats)
            rows.append(
                {
                    "kernel": name,
                    "shape": list(shape),
                    "dtype": str(dtype).removeprefix("torch."),
                    "pass": pass_name,
                    "ms": mine,
                    "fla_ms": fla_ms,
                }
            )
    return rows


def launch_sweep_rows(shapes: list[tuple[int, int, int, int]], device: str, repeats: int) -> list[dict]:
    """Our delta rule in bfloat16, forward+backward, at each (state_block_v, block_v) of ``SWEEP``, the default first.

    Each row also gives the largest difference of its outputs from the default's, so a launch that
    computes something else cannot win.
    """
    default = delta_split.HALF_PRECISION_LAUNCH
    chosen = (default.state_block_v, default.block_v)
    rows = []
    for shape in shapes:
        q, k, v, beta, _ = delta_inputs(shape, device, torch.bfloat16)
        expected = None
        for state_block_v, block_v in [chosen, *(blocks for blocks in SWEEP if blocks != chosen)]:
            delta_split.HALF_PRECISION_LAUNCH = default._replace(state_block_v=state_block_v, block_v=block_v)
            try:
                with torch.no_grad():
                    outputs = chunk_delta_rule(q, k, v, beta)[0].float()
                expected = outputs if expected is None else expected
                ms = timed(
                    forward_backward(lambda: chunk_delta_rule(q, k, v, beta), [q, k, v, beta]),
                    repeats,
                )
                difference = float((outputs - expected).abs().max())
            except Exception as error:  # noqa: BLE001 - a launch that does not compile is a result to record
                ms, difference = f"failed ({type(error).__name__}: {str(error).splitlines()[0][:120]})", None
            finally:
                delta_split.HALF_PRECISION_LAUNCH = default
            rows.append(
                {
                    "kernel": "delta rule",
                    "shape": list(shape),
                    "dtype": "bfloat16",
                    "pass": "forward+backward",
                    "state_block_v": state_block_v,
                    "block_v": block_v,
                    "ms": ms,
                    "max_difference_from_default": difference,
                }
            )
    return rows


def sweep_table(rows: list[dict]) -> str:
    lines = [
        "| shape | serial value block | value block | forward+backward (ms) | / default "
        "| max difference from default |",
        "|---|---|---|---|---|---|",
    ]
    defaults = {}
    for row in rows:
        shape = "×".join(map(str, row["shape"]))
        defaults.setdefault(shape, row["ms"])
        mine, default = row["ms"], defaults[shape]
        ratio = f"{mine / default:.2f}" if isinstance(mine, float) and isinstance(default, float) else "–"
        difference = "–" if row["max_difference_from_default"] is None else f"{row['max_difference_from_default']:.1e}"
        shown = mine if isinstance(mine, str) else f"{mine:.3f}"
        lines.append(f"| {shape} | {row['state_block_v']} | {row['block_v']} | {shown} | {ratio} | {difference} |")
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = [
        "| kernel | shape | dtype | pass | ours (ms) | floor (ms) | ours / floor | fla (ms) | ours / fla "
        "| of copy bandwidth |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        mine, theirs, floor = row["ms"], row.get("fla_ms", "–"), row.get("floor_ms")
        ratio = f"{mine / theirs:.2f}" if isinstance(mine, float) and isinstance(theirs, float) else "–"
        above_floor = f"{mine / floor:.2f}" if isinstance(mine, float) and floor else "–"
        bandwidth = f"{row['bandwidth_fraction']:.0%}" if "bandwidth_fraction" in row else "–"
        cells = [
            row["kernel"],
            "×".join(map(str, row["shape"])),
            row["dtype"],
            row["pass"],
            f"{mine:.3f}" if isinstance(mine, float) else mine,
            f"{floor:.3f}" if floor else "–",
            above_floor,
            f"{theirs:.3f}" if isinstance(theirs, float) else theirs,
            ratio,
            bandwidth,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "h100.json"))
    parser.add_argument("--smoke", action="store_true", help="tiny shapes wherever Triton runs, to test the script")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--launch-sweep",
        action="store_true",
        help="also time the bfloat16 delta rule at serial value blocks of 16 and 32 and value blocks of 32 and 64",
    )
    args = parser.parse_args()
    if triton_mode() != "compiled" and not args.smoke:
        print(
            f"bench_kernels needs a CUDA GPU with compiled Triton (here: {triton_mode()}); use --smoke to test the "
            "script"
        )
        return 2
    device = "cuda" if triton_mode() == "compiled" else "cpu"
    shapes, dtype = (SMOKE, torch.float32) if args.smoke else (FULL, torch.bfloat16)
    rows = scan_rows(shapes["scan"], device, args.repeats)
    for shape in shapes["delta"]:
        rows += delta_rows(shape, device, dtype, args.repeats, single_kernel=shape == shapes["delta"][0])
    floors = roofline_floors()
    for row in rows:
        row["floor_ms"] = floors.get((row["kernel"], "×".join(map(str, row["shape"])), row["pass"]))
    record = {
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "triton": triton.__version__,
        "fla": fla_function("fla.__version__"),
        "lrnn_course": lrnn_course.__version__,
        "mode": triton_mode(),
        "repeats": args.repeats,
        "rows": rows,
    }
    if args.launch_sweep:
        record["launch_sweep"] = launch_sweep_rows(shapes["delta"], device, args.repeats)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"{record['device']}, torch {record['torch']}, triton {record['triton']}, fla {record['fla']}")
    print(table(rows))
    if args.launch_sweep:
        print(sweep_table(record["launch_sweep"]))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
