"""The experiment runner: its configs, its files, and data parallelism under torchrun (2 CPU processes, gloo)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import torch

from lrnn_course import cli, evidence, experiments, train


@pytest.mark.parametrize("name", sorted(experiments.EXPERIMENTS))
def test_every_variant_has_a_unique_label_and_the_papers_verdict(name):
    chosen = experiments.experiment(name)
    assert set(chosen.sizes) == {"small", "full"}
    for size in ("small", "full"):
        labels = [config.label for config in chosen.configs(size) if config.seed == 0]
        assert len(labels) == len(set(labels)) >= 2
        assert all(label in chosen.paper for label in labels), f"{name} {size}: {labels} vs {sorted(chosen.paper)}"
    assert [c.seed for c in chosen.configs("small", seeds=3)][:3] == [0, 1, 2]


@pytest.mark.parametrize("name", sorted(experiments.EXPERIMENTS))
@pytest.mark.parametrize("size", ["small", "full"])
def test_every_variant_draws_its_task_at_its_train_and_test_lengths(name, size):
    """Modular arithmetic has odd lengths only and the bracketed task 4 tokens at least: a config that
    asks for other lengths stops its experiment at the first batch."""
    for config in experiments.experiment(name).configs(size):
        generate = train.TASKS[config.task]
        batch = generate(2, *config.train_lengths, torch.Generator().manual_seed(0))
        assert batch.tokens.shape[0] == 2
        for length in config.test_lengths:
            assert generate(1, length, length, torch.Generator().manual_seed(0)).tokens.shape == (1, length)


def every_configuration() -> list[tuple[str, train.TrainConfig]]:
    """Each model configuration the course trains, named: every experiment's and preset's variants, both sizes."""
    configs = [
        (f"{name} {size} {config.label}", config)
        for name in sorted(experiments.EXPERIMENTS)
        for size in ("small", "full")
        for config in experiments.experiment(name).configs(size)
    ]
    return configs + [
        (f"preset {name} {size} {config.label}", config)
        for name, sizes in sorted(train.PRESETS.items())
        for size, config in sorted(sizes.items())
    ]


CONFIGURATIONS = every_configuration()


@pytest.mark.parametrize(("where", "config"), CONFIGURATIONS, ids=[where for where, _ in CONFIGURATIONS])
def test_every_configuration_takes_a_training_step_and_is_scored_at_each_test_length(where, config):
    """Two steps on a tiny batch, so that a configuration which cannot run fails here, not on the GPU host."""
    tiny = dataclasses.replace(
        config, steps=2, warmup_steps=0, batch_size=4, eval_every=2, eval_samples=2, device="cpu", max_seconds=None
    )
    result = train.train(tiny, progress=False)
    assert len(result.losses) == 2 and all(math.isfinite(loss) for loss in result.losses), where
    assert sorted(result.final.scores) == sorted(config.test_lengths), where


def test_the_small_parity_deltanets_run_on_three_seeds_whatever_is_asked_and_learn_on_each():
    """Lesson 08's parity verdict counts 3 seeds of each DeltaNet range at small; the diagonal pair runs once.
    Training the 3 seeds of DeltaNet [-1,1] (about 6 s each) checks that the PASS holds on 3 of 3."""
    chosen = experiments.experiment("parity")
    seeds = {
        label: [config.seed for config in chosen.configs("small") if config.label == label] for label in chosen.paper
    }
    assert seeds["deltanet [-1,1]"] == seeds["deltanet [0,1]"] == [0, 1, 2]
    assert seeds["diagonal [-1,1]"] == seeds["diagonal [0,1]"] == [0]
    assert [config.seed for config in chosen.configs("small", seeds=4) if config.label == "deltanet [0,1]"] == [
        0,
        1,
        2,
        3,
    ]
    negative = [config for config in chosen.configs("small", device="cpu") if config.label == "deltanet [-1,1]"]
    positive = [config for config in chosen.configs("small", device="cpu") if config.label == "deltanet [0,1]"]
    assert [dataclasses.replace(config, negative=False) for config in negative] == positive, "only the range differs"
    lowest = [min(train.train(config, progress=False).final.scores.values()) for config in negative]
    assert all(score >= 0.95 for score in lowest), lowest


def test_a_word_problem_summary_does_not_name_a_class_for_runs_at_zero():
    """Sequence accuracy on long words is 0 for a constant answer and for any run wrong once per word: the
    summary says so instead of naming a class it cannot tell."""
    config = experiments.experiment("s3").configs("small")[2]
    failed = train.TrainResult(
        config,
        None,
        [train.Evaluation(3, 1.0, 1.0, 0.0, {length: 0.0 for length in config.test_lengths})],
        "cpu",
        [1.0],
    )
    table = evidence.evidence_table([failed], reference=experiments.experiment("s3").paper)
    row = next(line for line in table.splitlines() if line.startswith(f"| {config.label} |"))
    assert "seed 0: 0, as every constant answer" in row and "class" not in row
    assert "the one seed scores 0 at every test length, as every constant answer does" in table


def test_s3_compares_one_and_two_reflections_with_both_ranges():
    labels = [config.label for config in experiments.experiment("s3").configs("full")]
    assert labels == [
        "deltaproduct n_h=2 [-1,1]",
        "deltaproduct n_h=2 [0,1]",
        "deltaproduct n_h=1 [-1,1]",
        "deltaproduct n_h=1 [0,1]",
    ]


def test_unknown_names_and_sizes_raise():
    with pytest.raises(ValueError, match="unknown experiment"):
        experiments.experiment("s7")
    with pytest.raises(ValueError, match="no size 'huge'"):
        experiments.experiment("s3").configs("huge")


def run_cli(args, tmp_path, processes=1):
    environment = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.getcwd())
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        if processes > 1
        else [sys.executable]
    )
    command = [
        *launcher,
        "-m",
        "lrnn_course",
        "experiment",
        *args,
        "--out",
        str(tmp_path),
        "--quiet",
        "--device",
        "cpu",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_the_cli_writes_a_json_record_a_plot_and_the_summary_page(tmp_path):
    output = run_cli(["s3", "--steps", "3", "--seeds", "2"], tmp_path)
    assert "| deltaproduct n_h=2 [-1,1] | 0 | 3 |" in output
    record = json.loads((tmp_path / "s3-small.json").read_text())
    assert record["command"] == f"lrnn-course experiment s3 --steps 3 --seeds 2 --out {tmp_path} --quiet --device cpu"
    assert record["world_size"] == 1 and len(record["runs"]) == 8
    assert all(len(run["losses"]) == 3 and run["metric"] == "sequence accuracy" for run in record["runs"])
    assert (tmp_path / "s3-small.png").stat().st_size > 10_000
    page = (tmp_path / "summary-small.md").read_text()
    assert "## s3" in page and experiments.experiment("s3").question in page and "8 of 8 runs" in page
    assert (
        record["summary"] in page
        and "| deltaproduct n_h=2 [-1,1] | 2 | " in record["summary"]
        and "majority class" in record["summary"]
    )


def test_two_gloo_processes_follow_the_single_process_loss_curve(tmp_path):
    run_cli(["s3", "--steps", "4"], tmp_path / "one")
    run_cli(["s3", "--steps", "4"], tmp_path / "two", processes=2)
    one = json.loads((tmp_path / "one" / "s3-small.json").read_text())
    two = json.loads((tmp_path / "two" / "s3-small.json").read_text())
    assert two["world_size"] == 2
    for single, parallel in zip(one["runs"], two["runs"]):
        assert parallel["losses"] == pytest.approx(single["losses"], rel=1e-5)
        assert parallel["losses"][-1] < parallel["losses"][0], "the loss must move, or the comparison proves nothing"


def test_runs_side_by_side_follow_the_same_loss_curves_as_one_after_another(tmp_path):
    run_cli(["s3", "--steps", "4"], tmp_path / "sequential")
    output = run_cli(["s3", "--steps", "4", "--jobs", "2"], tmp_path / "side_by_side")
    sequential = json.loads((tmp_path / "sequential" / "s3-small.json").read_text())
    side_by_side = json.loads((tmp_path / "side_by_side" / "s3-small.json").read_text())
    assert [run["label"] for run in side_by_side["runs"]] == [run["label"] for run in sequential["runs"]]
    for one, other in zip(sequential["runs"], side_by_side["runs"]):
        assert other["losses"] == pytest.approx(one["losses"], rel=1e-5)
        assert other["losses"][-1] < other["losses"][0], "the loss must move, or the comparison proves nothing"
    assert "| deltaproduct n_h=1 [0,1] | 0 | 4 |" in output


def test_terminating_the_command_stops_its_side_by_side_workers(tmp_path):
    """``timeout`` sends SIGTERM to the command only; workers left running would hold the GPU for nothing."""
    environment = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.getcwd())
    command = [
        sys.executable,
        "-m",
        "lrnn_course",
        "experiment",
        "s3",
        "--steps",
        "100000",
        "--jobs",
        "2",
        "--out",
        str(tmp_path),
        "--quiet",
        "--device",
        "cpu",
    ]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
            workers = [child for child in psutil.Process(process.pid).children() if "python" in child.name().lower()]
        assert len(workers) >= 2, "the workers never started"
        time.sleep(5)  # the workers import torch and start training
        process.terminate()
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive, f"workers still running: {alive}"
    finally:  # on failure, leave nothing training
        process.kill()
        for worker in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()


def test_a_stopped_experiment_keeps_its_finished_runs_and_resume_trains_only_the_rest(tmp_path, monkeypatch):
    original_train = experiments.train.train
    trained = []

    def train_twice_then_stop(config, progress=True):
        if len(trained) == 2:
            raise KeyboardInterrupt
        trained.append(config)
        return original_train(config, progress)

    monkeypatch.setattr(experiments.train, "train", train_twice_then_stop)
    with pytest.raises(KeyboardInterrupt):
        experiments.run_experiment("s3", out_dir=tmp_path, progress=False, steps=2)
    stopped = json.loads((tmp_path / "s3-small.json").read_text())
    assert (len(stopped["runs"]), stopped["runs_planned"]) == (2, 4)

    trained.clear()
    monkeypatch.setattr(
        experiments.train,
        "train",
        lambda config, progress=True: trained.append(config) or original_train(config, progress),
    )
    results = experiments.run_experiment("s3", out_dir=tmp_path, progress=False, resume=True, steps=2)
    labels = [
        "deltaproduct n_h=2 [-1,1]",
        "deltaproduct n_h=2 [0,1]",
        "deltaproduct n_h=1 [-1,1]",
        "deltaproduct n_h=1 [0,1]",
    ]
    assert [config.label for config in trained] == labels[2:]
    assert [result.config.label for result in results] == labels
    assert results[0].model is None and results[0].losses == stopped["runs"][0]["losses"]
    assert results[0].final.scores == {int(n): score for n, score in stopped["runs"][0]["scores"].items()}
    assert len(json.loads((tmp_path / "s3-small.json").read_text())["runs"]) == 4

    trained.clear()
    experiments.run_experiment("s3", device="cpu", out_dir=tmp_path, progress=False, resume=True, steps=2)
    assert trained == [], "runs recorded with device 'auto' are the same runs on 'cpu' (or 'cuda')"
    experiments.run_experiment("s3", out_dir=tmp_path, progress=False, resume=True, steps=3)
    assert len(trained) == 4, "a changed config must be trained again"


def test_an_experiment_trained_in_parts_by_range_keeps_every_run_in_its_record(tmp_path):
    """Lesson 08 trains parity one gate range per cell; each part rewrites the record without dropping the other."""
    negative = experiments.run_experiment("s3", out_dir=tmp_path, progress=False, resume=True, negative=True, steps=2)
    assert [result.config.label for result in negative] == ["deltaproduct n_h=2 [-1,1]", "deltaproduct n_h=1 [-1,1]"]
    positive = experiments.run_experiment("s3", out_dir=tmp_path, progress=False, resume=True, negative=False, steps=2)
    assert [result.config.negative for result in positive] == [False, False]
    record = json.loads((tmp_path / "s3-small.json").read_text())
    assert (record["runs_planned"], [run["label"] for run in record["runs"]]) == (
        4,
        [
            "deltaproduct n_h=2 [-1,1]",
            "deltaproduct n_h=2 [0,1]",
            "deltaproduct n_h=1 [-1,1]",
            "deltaproduct n_h=1 [0,1]",
        ],
    )
    everything = experiments.run_experiment("s3", out_dir=tmp_path, progress=False, resume=True, steps=2)
    assert all(result.model is None for result in everything), "both parts were read back, none trained again"


def test_the_lesson_reports_name_the_experiment_and_the_command_that_would_commit_it(monkeypatch, tmp_path):
    results = experiments.run_experiment("s5_only_swaps", out_dir=None, progress=False, steps=2)
    report = experiments.evidence_report("s5_only_swaps", "small", results)
    assert report.startswith("`s5_only_swaps` at size `small`, task `S4_only_swaps`:")
    assert "| deltanet [-1,1] |" in report and "1 layer learns it fully (Fig. 4)" in report
    monkeypatch.setattr(experiments, "COMMITTED", tmp_path)
    assert "`lrnn-course experiment s3 --size full --seeds 3" in experiments.committed_report("s3")
    record = {"command": "c", "gpu": "H100", "runs": [{}], "runs_planned": 2, "summary": "TABLE"}
    (tmp_path / "s3-full.json").write_text(json.dumps(record))
    assert experiments.committed_report("s3") == (
        "Committed full-size results (`c`, H100; 1 of its 2 runs so far), per model over its seeds:\n\nTABLE"
    )


def test_jobs_and_resume_are_checked():
    with pytest.raises(ValueError, match="jobs"):
        experiments.run_experiment("s3", out_dir=None, jobs=0)
    with pytest.raises(ValueError, match="out_dir"):
        experiments.run_experiment("s3", out_dir=None, resume=True)


def test_the_parser_lists_every_experiment():
    help_text = cli.parser().format_help()
    assert "experiment" in help_text
    with pytest.raises(SystemExit):
        cli.main(["experiment", "nonexistent"])
