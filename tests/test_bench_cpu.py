"""The CPU benchmark script runs end to end (--quick: tiny shapes, no timing asserted) and writes its tables."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_cpu.py"
COURSE_PATHS = (
    "scan.sequential_scan",
    "scan.hillis_steele_scan",
    "scan.blelloch_scan",
    "scan.chunked_scan",
    "mamba.selective_scan",
    "mamba.selective_scan_parallel",
    "deltanet.delta_rule",
    "deltanet.dense_delta_rule",
    "chunkwise.chunk_delta_rule",
    "deltaproduct.delta_product",
    "delta_product_by_interleaving",
    "ops.diagonal_scan (auto)",
    "ops.chunk_delta_rule (auto)",
    "ops.chunk_delta_product (auto)",
)


def table_rows(text: str, header_start: str) -> list[list[str]]:
    """The cells of the Markdown table whose header row starts with ``header_start``, header and rule left out."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_quick_run_writes_a_row_per_path_with_times_and_ratios(tmp_path, monkeypatch, capsys):
    out = tmp_path / "cpu-paths.md"
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--quick", "--out", str(out)])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    text = out.read_text(encoding="utf-8")
    assert text in capsys.readouterr().out
    assert "- Machine: " in text and "thread(s)" in text and "- Load average" in text
    header = "| family | path | forward T = 32 | forward T = 128 | ratio | forward+backward T = 32 "
    rows = table_rows(text, header)
    names = [row[1] for row in rows]
    for expected in COURSE_PATHS:
        assert sum(name == expected or name.startswith((expected + ",", expected + " ")) for name in names) == 1, (
            expected
        )
    for row in rows:
        assert len(row) == 8, row
        if not row[1].startswith("fla "):  # the course's paths are all timed, both ways, at both lengths
            assert all(float(row[i]) >= 0 for i in (2, 3, 5, 6)) and all(float(row[i]) > 0 for i in (4, 7)), row
    families = [row[0] for row in rows]
    assert families == sorted(families, key=families.index), "a family's rows stand together"
    auto = table_rows(text, "| family | T | auto, forward+backward ms |")
    assert [(row[0], row[1]) for row in auto] == [
        (family, steps) for family in ("diagonal scan", "delta rule", "DeltaProduct") for steps in ("32", "128")
    ]
