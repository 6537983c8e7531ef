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
    for kernel in ("delta rule", "gated delta rule", "DeltaProduct n_h=2", "diagonal scan"):
        assert {(kernel, "forward"), (kernel, "forward+backward")} <= measured
    printed = capsys.readouterr().out
    assert "| kernel | shape |" in printed and "| shape | value block | warps |" in printed
    assert "| ours (ms) | floor (ms) | ours / floor |" in printed  # roofline.py's committed floors beside the times
    sweep = record["launch_sweep"]
    assert [(row["block_v"], row["num_warps"]) for row in sweep] == [(64, 4), (32, 4), (32, 8), (64, 8)]
    assert all(isinstance(row["ms"], float) and row["max_difference_from_default"] == 0.0 for row in sweep)
