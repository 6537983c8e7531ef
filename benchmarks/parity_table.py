"""The parity results of Lesson 04 at full size: Figure 1 (diagonal) and Table 3's Mamba row, 3 seeds each.

Usage: python benchmarks/parity_table.py [--presets figure1 mamba_parity] [--size full] [--seeds 3] [--device auto] [--jobs 1]

Writes benchmarks/results/parity-<preset>-<size>-<device>.md (a Markdown table beside the paper's
numbers, with steps, seconds and device per row) and prints it. ``--jobs N`` trains N runs at once
(``train.train_all``), one process each.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch

from lrnn_course import train

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["figure1", "mamba_parity"], choices=sorted(train.PRESETS))
    parser.add_argument("--size", default="full", choices=["small", "full"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once, one process each")
    args = parser.parse_args()
    for name in args.presets:
        base = train.preset(name, args.size, device=args.device)
        configs = train.variants(base, negative=[False, True], seed=list(range(args.seeds)))
        results = train.train_all(configs, jobs=args.jobs)
        device = results[0].device
        gpu = f" ({torch.cuda.get_device_name()})" if device == "cuda" else ""
        header = (f"# Parity, preset {name!r} at size {args.size!r}\n\n"
                  f"{base.model}, d_model {base.d_model}, {base.n_layers} layer(s), options {dict(base.model_options)}, "
                  f"batch {base.batch_size}, lr {base.lr}, warm-up {base.warmup_steps}, {base.steps} steps, "
                  f"train lengths {base.train_lengths[0]}-{base.train_lengths[1]}; device {device}{gpu}, "
                  f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads.\n\n")
        table = train.results_table(results, reference=train.PAPER[name])
        path = RESULTS / f"parity-{name}-{args.size}-{device}.md"
        path.write_text(header + table + "\n")
        print(header + table)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
