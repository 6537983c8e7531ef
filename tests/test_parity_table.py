"""benchmarks/parity_table.py keeps a record after every run, and --resume trains only what it lacks."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

from lrnn_course import experiments, train

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "parity_table.py"


def run_script(*arguments: str) -> None:
    sys.argv = [str(SCRIPT), *arguments]
    runpy.run_path(str(SCRIPT), run_name="__main__")


def test_the_record_is_kept_and_resume_reads_it_back(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiments, "COMMITTED", tmp_path / "experiments")
    monkeypatch.setattr(sys, "argv", sys.argv)  # restored after the test
    short = train.preset
    monkeypatch.setattr(
        train,
        "preset",
        lambda name, size, **changes: short(name, size, steps=2, eval_every=1, batch_size=8, eval_samples=8, **changes),
    )
    trained = []
    original_train = train.train
    monkeypatch.setattr(
        train,
        "train",
        lambda config, progress=True: trained.append(config.label) or original_train(config, progress=False),
    )

    run_script("--presets", "figure1", "--size", "small", "--seeds", "2", "--device", "cpu")
    record = json.loads((tmp_path / "parity-figure1-small.json").read_text())
    assert (record["runs_planned"], len(record["runs"]), len(trained)) == (4, 4, 4)
    assert [run["label"] for run in record["runs"]] == [
        "diagonal [0,1]",
        "diagonal [0,1]",
        "diagonal [-1,1]",
        "diagonal [-1,1]",
    ]
    table = (tmp_path / "parity-figure1-small-cpu.md").read_text()
    assert "--presets figure1" in table and "runs so far" not in table
    assert "diagonal, d_model 10, 1 layer, residual=False, batch 8," in table, "the settings in words, not a dict"
    assert "| diagonal [-1,1] | 2 | " in table and "| majority class (best constant answer) | – |" in table, (
        "the per-model table over the two seeds, beside its baselines"
    )
    assert "4 run(s) trained, 0 read back" in capsys.readouterr().out

    trained.clear()
    run_script("--presets", "figure1", "--size", "small", "--seeds", "3", "--device", "auto", "--resume")
    assert trained == ["diagonal [0,1]", "diagonal [-1,1]"], "only seed 2 is new; the device does not count"
    assert len(json.loads((tmp_path / "parity-figure1-small.json").read_text())["runs"]) == 6
    assert "2 run(s) trained, 4 read back" in capsys.readouterr().out
