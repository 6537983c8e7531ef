"""Every kernel compiles for an H100 and fits its shared memory, checked here without a GPU.

The interpreter tests prove the kernels compute the right thing; they cannot see what only the GPU
compiler sees. ``compile_for_hopper.py`` compiles each kernel, forward and backward, float32 and
bfloat16, gated or not, for sm_90 with the block sizes a GPU run chooses, in a process of its own
(the kernels of this one were built for the interpreter). Chunks of 64 failed here: the bfloat16
backward kernel asked for 320 KiB of shared memory.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lrnn_course._triton import triton
from lrnn_course.kernels.delta import MAX_KEY_DIM

SCRIPT = Path(__file__).with_name("compile_for_hopper.py")

pytestmark = [
    pytest.mark.skipif(
        triton is None or importlib.util.find_spec("triton.backends.nvidia") is None,
        reason="needs Triton with its NVIDIA back end",
    ),
    pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the kernel tests compile and launch the kernels"),
]


@pytest.fixture(scope="module")
def compiled() -> list[dict]:
    result = subprocess.run([sys.executable, str(SCRIPT), "--json"], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def element_type(report: dict) -> str:
    """The dtype of the kernel's first tensor: its inputs'."""
    return next(iter(report["signature"].values())).lstrip("*")


def test_every_kernel_compiles_in_every_variant(compiled):
    built = {
        (r["kernel"], element_type(r), r["constants"].get("REVERSE", r["constants"].get("GATED"))) for r in compiled
    }
    expected = {
        (kernel, dtype, flag)
        for kernel in ("diagonal_scan_kernel", "_delta_rule_forward_kernel", "_delta_rule_backward_kernel")
        for dtype in ("fp32", "bf16")
        for flag in (False, True)
    }
    assert built == expected
    scan_blocks = {
        (r["constants"]["BLOCK_T"], r["constants"]["BLOCK_D"])
        for r in compiled
        if r["kernel"] == "diagonal_scan_kernel"
    }
    assert len(scan_blocks) == 2, "the wide and the narrow blocks of the scan"


def test_the_delta_rule_is_compiled_at_its_largest_head(compiled):
    assert {r["constants"]["BLOCK_K"] for r in compiled if r["kernel"].startswith("_delta_rule")} == {MAX_KEY_DIM}


def test_each_kernel_fits_the_shared_memory_of_an_h100(compiled):
    too_large = [
        f"{r['kernel']} {element_type(r)} {r['constants']}: {r['shared']} bytes"
        for r in compiled
        if r["shared"] > r["shared_limit"]
    ]
    assert not too_large, "\n".join(too_large)
