"""The kernel benchmark script runs end to end (tiny shapes, no timing asserted) and records what it measured."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest
from kernel_support import needs_kernel

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_kernels.py"


@needs_kernel
def test_smoke_run_writes_a_row_per_kernel_and_pass(tmp_path, monkeypatch, capsys):
    from lrnn_course.kernels import delta_split

    default = delta_split.HALF_PRECISION_LAUNCH
    out = tmp_path / "bench.json"
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--smoke", "--launch-sweep", "--repeats", "1", "--out", str(out)])
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert stop.value.code == 0
    record = json.loads(out.read_text())
    assert {"device", "torch", "triton", "fla", "rows"} <= set(record)
    measured = {
        (row["kernel"], row["pass"]) for row in record["rows"] if isinstance(row["ms"], float) and row["ms"] > 0
    }
    kernels = ("delta rule", "gated delta rule", "DeltaProduct n_h=2", "diagonal scan")
    single_kernels = ("delta rule, single kernel", "gated delta rule, single kernel")  # beside the split
    for kernel in kernels + single_kernels:
        assert {(kernel, "forward"), (kernel, "forward+backward")} <= measured
    printed = capsys.readouterr().out
    assert "| kernel | shape |" in printed and "| shape | serial value block | value block |" in printed
    assert "| ours (ms) | floor (ms) | ours / floor |" in printed  # roofline.py's committed floors beside the times
    sweep = record["launch_sweep"]
    swept = [(row["state_block_v"], row["block_v"]) for row in sweep]
    assert swept[0] == (default.state_block_v, default.block_v), "the default first, the baseline of the others"
    assert set(swept) >= {(16, 32), (16, 64), (32, 32), (32, 64)} and len(set(swept)) == len(swept)
    assert delta_split.HALF_PRECISION_LAUNCH == default, "the sweep puts the default launch back"
    assert all(isinstance(row["ms"], float) and row["max_difference_from_default"] == 0.0 for row in sweep)
