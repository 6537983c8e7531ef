"""Compile every Triton kernel of the course for an H100 (sm_90) on a machine without a GPU.

Triton's interpreter runs the kernels on the CPU, but it checks nothing that only the GPU compiler
checks: a construct the compiler rejects, or a kernel that needs more shared memory than an H100
has (the launch would then raise ``OutOfResources`` on the GPU alone). Triton's wheel carries the
whole NVIDIA tool chain (``ptxas`` included), so the kernels can be compiled to GPU machine code
here. This script does that through the course's own launch code, with the block sizes and chunk a
GPU run would use, and reports what each compiled kernel needs.

Glossary (code name -> meaning):

===================  ====================================================================
``CompiledKernel``   one specialisation of a kernel: its dtypes and ``tl.constexpr`` values
``shared``           bytes of shared memory one program needs; an H100 grants at most
                     ``H100_SHARED_MEMORY`` per program
``registers``        registers per thread (255 at most); ``spilled`` bytes per thread that did
                     not fit in registers and live in (slow) local memory instead
===================  ====================================================================

Usage: ``python tests/compile_for_hopper.py [--json]``. It takes a few minutes of one core;
``TRITON_CACHE_DIR`` says where Triton keeps the results between runs.
"""

from __future__ import annotations

import os

# Kernels are decorated for the compiler or the interpreter at import; this process wants the compiler.
os.environ["TRITON_INTERPRET"] = "0"

import argparse  # noqa: E402 - after the variable above, like every import that may load triton
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

import lrnn_course._triton as course_triton  # noqa: E402

H100_SHARED_MEMORY = 232_448  # bytes a program may use on sm_90 (227 KiB)
H100_MULTIPROCESSORS = 132
HOPPER = (90, 32)  # compute capability 9.0, 32 threads a warp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per compiled kernel, for tests")
    arguments = parser.parse_args()
    if course_triton.triton is None:
        print(f"cannot compile: {course_triton.triton_status()}", file=sys.stderr)
        return 2
    reports = compile_all()
    for report in reports:
        print(json.dumps(report) if arguments.json else describe(report))
    return 0


def compile_all() -> list[dict]:
    """Compile the scan's and the delta rule's kernels (single and split; the split for DeltaProduct n_h = 2 too)."""
    from triton.runtime.jit import JITFunction

    from lrnn_course.kernels import delta, delta_split, scan

    reports: list[dict] = []
    pretend_to_be_an_h100()
    original_run = JITFunction.run

    def compile_instead_of_launching(kernel, *args, grid, warmup, **kwargs):
        started = time.perf_counter()
        compiled = original_run(kernel, *args, grid=grid, warmup=True, **kwargs)
        reports.append(report(kernel.__name__, compiled, kwargs, time.perf_counter() - started))
        return compiled

    JITFunction.run = compile_instead_of_launching
    try:
        for dtype in (torch.float32, torch.bfloat16):
            # 8 x 4096 columns make enough programs for the wide blocks and one chunk (the forward is K1's kernel);
            # 1 x 64 too few: narrow blocks and 1000 steps in chunks (pass 1, K1's kernel over the chunks, pass 3).
            for batch, steps, width, chunked in ((8, 3, 4096, False), (1, 1000, 64, True)):
                a, b = (torch.rand(batch, steps, width, dtype=dtype, requires_grad=True) for _ in range(2))
                h0 = torch.zeros(batch, width, dtype=dtype, requires_grad=True)
                scan._DiagonalScanFunction.apply(a, b, h0, None).sum().backward()
                # The lessons' kernel reversed (K2), and forward on these blocks where chunks replace it (K1).
                scan.launch_scan(a, b, h0, reverse=True, dtype=torch.float32)
                if chunked:
                    scan.launch_scan(a, b, h0)
            for gated in (False, True):
                # The largest head the kernels take makes the largest blocks.
                dim = delta.MAX_KEY_DIM
                q, k, v = (torch.randn(1, 3, 1, dim, dtype=dtype, requires_grad=True) for _ in range(3))
                beta = torch.rand(1, 3, 1, dtype=dtype, requires_grad=True)
                alpha = torch.rand(1, 3, 1, dtype=dtype, requires_grad=True) if gated else None
                state = torch.zeros(1, 1, dim, dim, requires_grad=True)
                out, final = delta._ChunkDeltaRuleFunction.apply(q, k, v, beta, alpha, state, dim**-0.5)
                (out.float().sum() + final.sum()).backward()
                # The split kernels for DeltaNet and, in bfloat16 (the benchmark's dtype), DeltaProduct n_h = 2:
                # k, v and β per sub-step, (1, 2·3, 1, D).
                for substeps in (1, 2) if dtype == torch.bfloat16 else (1,):
                    per_step = [x.detach().repeat_interleave(substeps, dim=1).requires_grad_() for x in (k, v, beta)]
                    out, final = delta_split._SplitDeltaRuleFunction.apply(
                        q, *per_step, alpha, state, dim**-0.5, substeps
                    )
                    (out.float().sum() + final.sum()).backward()
    finally:
        JITFunction.run = original_run
    return reports


def pretend_to_be_an_h100() -> None:
    """Make Triton compile for sm_90 and the course choose the blocks it would choose on an H100."""
    from triton.backends.compiler import GPUTarget
    from triton.runtime.driver import driver

    class HopperWithoutDevice:
        """What Triton asks its driver before compiling; nothing is ever launched."""

        def get_current_device(self):
            return 0

        def get_current_stream(self, device):
            return 0

        def get_current_target(self):
            return GPUTarget("cuda", *HOPPER)

    driver.set_active(HopperWithoutDevice())
    course_triton._mode = "compiled"
    torch.cuda.get_device_properties = lambda device=None: types.SimpleNamespace(
        multi_processor_count=H100_MULTIPROCESSORS, name="H100 (compiling only)"
    )


def report(name: str, compiled, options: dict, seconds: float) -> dict:
    """What one compiled kernel needs, with the ``tl.constexpr`` values and dtypes it was built for."""
    constants = {
        key: value if isinstance(value, (bool, int, str)) else getattr(value, "__name__", str(value))
        for key, value in options.items()
        if key.isupper()
    }
    return {
        "kernel": name,
        "signature": {key: value for key, value in compiled.src.signature.items() if value.startswith("*")},
        "constants": constants,
        "seconds": round(seconds, 1),
        "shared": compiled.metadata.shared,
        "shared_limit": H100_SHARED_MEMORY,
        **resource_usage(compiled.asm["cubin"]),
    }


def resource_usage(cubin: bytes) -> dict:
    """Registers and spilled bytes per thread, read from the machine code by ``cuobjdump`` (empty without it)."""
    import triton

    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    tool = tool if tool.exists() else shutil.which("cuobjdump")
    if tool is None:
        return {}
    with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
        file.write(cubin)
        file.flush()
        listing = subprocess.run([str(tool), "--dump-resource-usage", file.name], capture_output=True, text=True).stdout
    found = dict(re.findall(r"\b(REG|STACK|LOCAL):(\d+)", listing))
    if "REG" not in found:
        return {}
    return {"registers": int(found["REG"]), "spilled": int(found.get("STACK", 0)) + int(found.get("LOCAL", 0))}


def describe(report: dict) -> str:
    dtypes = "/".join(sorted({value.lstrip("*") for value in report["signature"].values()}))
    constants = ", ".join(f"{key}={value}" for key, value in report["constants"].items())
    verdict = "fits" if report["shared"] <= report["shared_limit"] else "TOO MUCH"
    registers = (
        f", {report['registers']} registers, {report['spilled']} bytes spilled a thread"
        if "registers" in report
        else ""
    )
    return (
        f"{report['kernel']} [{dtypes}; {constants}]: {report['seconds']:.1f} s, "
        f"{report['shared'] / 1024:.0f} KiB shared ({verdict}){registers}"
    )


if __name__ == "__main__":
    sys.exit(main())
