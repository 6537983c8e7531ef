"""The parity results of Lesson 04 at full size: Figure 1 (diagonal) and Table 3's Mamba row, 3 seeds each.

Usage: python benchmarks/parity_table.py [--presets figure1 mamba_parity] [--size full] [--seeds 3] [--device auto]
                                         [--jobs 1] [--resume]

For each preset it writes, after every finished run, benchmarks/results/parity-<preset>-<size>.json
(every run's config, scores and losses, as ``lrnn-course experiment`` records them) and
parity-<preset>-<size>-<device>.md (Markdown tables beside the paper's numbers: per model over its
seeds, then every run with its steps, seconds and device), and prints the first. ``--jobs N``
trains N runs at once, one process each; ``--resume`` keeps the runs of the JSON record whose
settings are unchanged and trains only the others (Lesson 04 at full size reads the Mamba row back
from it the same way).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import torch

from lrnn_course import evidence, experiments, train

RESULTS = experiments.COMMITTED.parent


def plural(count: int, noun: str) -> str:
    """``1 layer``, ``2 layers``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def settings_line(config: train.TrainConfig, device: str, gpu: str | None) -> str:
    """The model, training and machine settings of a table, in words (model options as ``key=value``)."""
    options = "".join(f", {key}={value}" for key, value in config.model_options.items())
    return (
        f"{config.model}, d_model {config.d_model}, {plural(config.n_layers, 'layer')}{options}, "
        f"batch {config.batch_size}, lr {config.lr}, warm-up {config.warmup_steps}, {config.steps} steps, "
        f"train lengths {config.train_lengths[0]}-{config.train_lengths[1]}; "
        f"device {device}{f' ({gpu})' if gpu else ''}, torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {plural(torch.get_num_threads(), 'thread')}."
    )


def write(name: str, size: str, results: list[train.TrainResult], planned: int, command: str) -> None:
    """Rewrite the preset's JSON record and Markdown table from the runs finished so far."""
    device = results[0].device
    gpu = torch.cuda.get_device_name() if device == "cuda" and torch.cuda.is_available() else None
    so_far = "" if len(results) == planned else f" {len(results)} of {planned} runs so far."
    header = (
        f"# Parity, preset {name!r} at size {size!r}\n\n{settings_line(results[0].config, device, gpu)}"
        f"{so_far}\n\n`{command}`\n\n"
    )
    table = (
        "Per model over its seeds:\n\n"
        f"{evidence.evidence_table(results, reference=train.PAPER[name])}\n\nEvery run:\n\n"
        f"{train.results_table(results)}"
    )
    (RESULTS / f"parity-{name}-{size}-{device}.md").write_text(header + table + "\n")
    record = {"preset": name, "size": size, **experiments.runs_record(results, planned, command)}
    experiments.preset_record(name, size).write_text(json.dumps(record, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["figure1", "mamba_parity"], choices=sorted(train.PRESETS))
    parser.add_argument("--size", default="full", choices=["small", "full"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once, one process each")
    parser.add_argument("--resume", action="store_true", help="keep the recorded runs whose settings are unchanged")
    args = parser.parse_args()
    command = "python benchmarks/parity_table.py " + " ".join(sys.argv[1:])
    for name in args.presets:
        configs = train.variants(
            train.preset(name, args.size, device=args.device), negative=[False, True], seed=list(range(args.seeds))
        )

        def rewrite(done: list[train.TrainResult], name: str = name, planned: int = len(configs)) -> None:
            write(name, args.size, done, planned, command)

        record = experiments.preset_record(name, args.size) if args.resume else None
        results = experiments.train_or_read_back(configs, record, jobs=args.jobs, after_each=rewrite)
        print(evidence.evidence_table(results, reference=train.PAPER[name]))
        trained = sum(result.model is not None for result in results)
        print(
            f"{trained} run(s) trained, {len(results) - trained} read back from "
            f"{experiments.preset_record(name, args.size)}"
        )


if __name__ == "__main__":
    main()
