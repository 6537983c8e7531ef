"""The experiments of Lessons 08 and 11, by name, at two sizes; ``lrnn-course experiment NAME`` runs one.

Glossary (code name -> paper term):

=================  =======================================================================
``Experiment``     one of the paper's comparisons: the configs of every variant at a size,
                   and the paper's number for each variant (where the paper reports one)
``EXPERIMENTS``    "parity", "arithmetic", "arithmetic_brackets" (Table 3 rows), "s5_only_swaps"
                   (Fig. 4), "s3" (the DeltaProduct README's one-layer S₃ prediction) and
                   "cycle" (Z₅ cycle navigation, not run in the paper); Lesson 11's straight-line programs
                   "code_swaps" (swaps only) and "code" (every kind of statement), not run in the paper
``size``           "small": a 2-core CPU in minutes; "full": GPU settings at course scale (not the
                   paper's 100k steps), whose records a GPU session writes to ``COMMITTED``
                   (``benchmarks/results/experiments/``; empty until one has run)
``least_seeds``    variants that run on more seeds than asked for at a size (the small parity
                   DeltaNets: 3, since whether one run learns depends on its seed)
``run_experiment`` every variant × seed; the JSON file and the length-generalisation plot are
                   rewritten after each finished run, so a stopped experiment keeps its runs
``resume``         reuse the runs of the JSON file whose settings (all but the device) are unchanged;
                   train only the rest
``train_or_read_back``  that reuse for any list of configs (``benchmarks/parity_table.py``, Lesson 04)
``jobs``           how many runs train side by side, each in its own process
=================  =======================================================================

Under ``torchrun --nproc_per_node N -m lrnn_course experiment NAME`` the processes share each
step's global batch (``train.train`` under DDP); the first process writes the files. ``jobs``
instead trains whole runs in parallel: small models leave a GPU mostly idle while Python launches
their kernels, so several of them share it well.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from . import evidence, train
from .train import Evaluation, TrainConfig, TrainResult
from .validate import require_positive_int

COMMITTED = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "experiments"


@dataclass(frozen=True)
class Experiment:
    """A named comparison: ``sizes[size]`` lists its variants (seed 0); ``paper`` maps a label to the paper's number.

    ``least_seeds[size][label]``: that variant runs on at least this many seeds at ``size``, whatever
    ``seeds`` asks for: a cheap run whose outcome depends on its seed is reported over several.
    """

    name: str
    question: str
    sizes: Mapping[str, tuple[TrainConfig, ...]]
    paper: Mapping[str, str]
    least_seeds: Mapping[str, Mapping[str, int]] = dataclasses.field(default_factory=dict)

    def seeds_of(self, config: TrainConfig, size: str, seeds: int) -> int:
        """How many seeds ``config`` (a variant at ``size``) runs on when ``seeds`` are asked for."""
        return max(seeds, self.least_seeds.get(size, {}).get(config.label, 1))

    def configs(
        self, size: str = "small", seeds: int = 1, negative: bool | None = None, **changes
    ) -> list[TrainConfig]:
        """Every variant at ``size`` for seeds 0 … seeds - 1 (or its ``least_seeds``), with ``changes`` applied to each.

        ``negative``: only the variants with gates in [-1, 1] (True) or in [0, 1] (False); None, all.
        """
        if size not in self.sizes:
            raise ValueError(
                f"experiment {self.name!r} has no size {size!r}; it has {', '.join(map(repr, self.sizes))}"
            )
        require_positive_int(seeds, "seeds")
        return [
            run
            for config in self.sizes[size]
            if negative is None or config.negative == negative
            for run in train.variants(
                dataclasses.replace(config, **changes), seed=range(self.seeds_of(config, size, seeds))
            )
        ]


def _ranges(config: TrainConfig, **options) -> tuple[TrainConfig, TrainConfig]:
    """The [0,1] and [-1,1] versions of ``config`` (with ``model_options`` replaced by ``options`` if given)."""
    if options:
        config = dataclasses.replace(config, model_options=options)
    return tuple(train.variants(config, negative=[False, True]))


# Table 3's Chomsky-hierarchy tasks: course-scale GPU settings (2 layers, width 128, 4 heads).
_FORMAL_FULL = TrainConfig(
    d_model=128,
    n_layers=2,
    steps=5000,
    batch_size=256,
    lr=1e-3,
    warmup_steps=500,
    weight_decay=0.1,
    eval_every=500,
    eval_samples=512,
    test_lengths=(41, 64, 128, 256),
)
_MAMBA_FULL = {"d_state": 16, "expand": 2, "d_conv": 4}
_DELTANET_FULL = {"n_heads": 4}


# Lengths each task can be drawn at: an arithmetic expression without brackets has odd length
# (digit, operator, …, digit, '=', answer), and a bracketed one needs 4 tokens ("d = answer PAD").
_TASK_LENGTHS = {
    "modular_arithmetic": {"test_lengths": (41, 63, 127, 255)},
    "modular_arithmetic_with_brackets": {"train_lengths": (4, 40)},
}


def _formal_full(task: str) -> tuple[TrainConfig, ...]:
    base = dataclasses.replace(_FORMAL_FULL, task=task, **_TASK_LENGTHS.get(task, {}))
    return (
        *_ranges(dataclasses.replace(base, model="mamba"), **_MAMBA_FULL),
        *_ranges(dataclasses.replace(base, model="deltanet"), **_DELTANET_FULL),
        dataclasses.replace(base, model="lstm", negative=False),
        dataclasses.replace(base, model="transformer", negative=False, model_options={"n_heads": 4}),
    )


def _baselines(transformer: str, slstm: str) -> dict[str, str]:
    return {"transformer": f"{transformer} best (Table 3)", "lstm": f"not run; sLSTM {slstm} best (Table 3)"}


def _formal_small(task: str) -> tuple[TrainConfig, ...]:
    """Lesson 06's DeltaNet parity preset on ``task``, both ranges."""
    return _ranges(
        dataclasses.replace(
            train.preset("deltanet_parity", "small"), task=task, eval_every=100, **_TASK_LENGTHS.get(task, {})
        )
    )


# Parity at small: Lesson 06's one-layer DeltaNet, 4 heads of width 4 (the paper's head count, App. E.1.1),
# 200 steps. With one head of width 16 (400 steps), seeds 1 and 2 of 0-2 gave a constant answer; with 4
# heads each of seeds 0-8 scored >= 0.99 at every test length, and the [0,1] runs (seeds 0-2) a constant
# answer. Both ranges run on 3 seeds: a run is cheap (about 6 s on one CPU thread), its outcome depends on the seed.
_PARITY_DELTANET_SMALL = _formal_small("parity")


def _table3_column(
    name: str, task: str, question: str, numbers: Mapping[str, tuple[str, str]], baselines: tuple[str, str]
) -> Experiment:
    """A column of Table 3: ``numbers[label]`` = the paper's (best, median); ``baselines``: Transformer, sLSTM best."""
    paper = {label: f"{best} best, {median} median (Tables 3, 5)" for label, (best, median) in numbers.items()}
    return Experiment(
        name, question, {"small": _formal_small(task), "full": _formal_full(task)}, paper | _baselines(*baselines)
    )


# Group word problems at fixed length, tested at 2x, 4x and 8x: one layer, as in the paper's and the
# DeltaProduct README's claims about what a single layer can do.
_WORDS_SMALL = TrainConfig(
    d_model=32,
    steps=300,
    batch_size=128,
    lr=3e-3,
    train_lengths=(16, 16),
    test_lengths=(16, 32, 64),
    eval_every=50,
    eval_samples=256,
    model_options={"n_heads": 2},
)
_WORDS_FULL = TrainConfig(
    d_model=128,
    steps=1500,
    batch_size=512,
    lr=1e-3,
    warmup_steps=100,
    train_lengths=(32, 32),
    test_lengths=(32, 64, 128, 256),
    eval_every=250,
    eval_samples=512,
    model_options={"n_heads": 4},
)


def _householder_variants(base: TrainConfig) -> tuple[TrainConfig, ...]:
    """DeltaProduct n_h = 1 and 2, each with β ∈ [0, 1] and [0, 2]."""
    heads = base.model_options["n_heads"]
    return tuple(
        config
        for n_householder in (2, 1)
        for config in reversed(
            _ranges(dataclasses.replace(base, model="deltaproduct"), n_heads=heads, n_householder=n_householder)
        )
    )


# Straight-line programs (Lesson 11, ``tasks.ProgramTask``): trained on programs of up to 16 tokens, tested to
# 8 times that. At small, one layer of width 32 and 400 steps of 64 programs (about 3 s a run on one CPU thread):
# on swaps only, DeltaNet [-1,1] scored >= 0.95 to length 64 on seeds 0-2 (to 128 on 2 of them) and [0,1] stayed
# near 0.4, what remembering the values without their places scores.
_CODE_SMALL = TrainConfig(
    d_model=32,
    steps=400,
    batch_size=64,
    lr=5e-3,
    warmup_steps=20,
    train_lengths=(5, 16),
    test_lengths=(16, 32, 64, 128),
    eval_every=400,
    eval_samples=256,
)
_CODE_FULL = TrainConfig(
    d_model=128,
    n_layers=2,
    steps=5000,
    batch_size=256,
    lr=1e-3,
    warmup_steps=500,
    weight_decay=0.1,
    train_lengths=(5, 40),
    test_lengths=(40, 80, 160, 320),
    eval_every=500,
    eval_samples=512,
)


def _code(base: TrainConfig, task: str, heads: int, both_products: bool) -> tuple[TrainConfig, ...]:
    """DeltaNet with both ranges, DeltaProduct n_h = 2 ([-1,1], and [0,1] if ``both_products``), an LSTM and a
    causal Transformer, on the program task ``task``."""
    base = dataclasses.replace(base, task=task)
    products = _ranges(dataclasses.replace(base, model="deltaproduct"), n_heads=heads, n_householder=2)
    return (
        *_ranges(dataclasses.replace(base, model="deltanet"), n_heads=heads),
        *(products if both_products else products[1:]),
        dataclasses.replace(base, model="lstm", negative=False),
        dataclasses.replace(base, model="transformer", negative=False, model_options={"n_heads": heads}),
    )


def _code_experiment(name: str, task: str, question: str) -> Experiment:
    sizes = {"small": _code(_CODE_SMALL, task, 2, False), "full": _code(_CODE_FULL, task, 4, True)}
    not_run = f"{evidence.NOT_IN_PAPER} (its introduction names evaluating code as a use of state tracking)"
    return Experiment(
        name, question, sizes, {config.label: not_run for configs in sizes.values() for config in configs}
    )


EXPERIMENTS: dict[str, Experiment] = {
    experiment.name: experiment
    for experiment in (
        Experiment(
            "parity",
            "Does extending the eigenvalue range to [-1, 1] let Mamba and DeltaNet learn parity (Table 3)?",
            {
                # On a CPU the diagonal layer of Figure 1 stands in for Mamba (a CPU cannot train Mamba blocks
                # that learn; Lesson 04): the same gate range, one layer. Evaluated every 250 steps, not 50:
                # only the final scores are reported, and they do not depend on how often a run is evaluated.
                "small": (*_ranges(train.preset("figure1", "small", eval_every=250)), *_PARITY_DELTANET_SMALL),
                "full": _formal_full("parity"),
            },
            train.PAPER["figure1"]
            | train.PAPER["mamba_parity"]
            | train.PAPER["deltanet_parity"]
            | _baselines("0.022", "1.000"),
            least_seeds={"small": {config.label: 3 for config in _PARITY_DELTANET_SMALL}},
        ),
        _table3_column(
            "arithmetic",
            "modular_arithmetic",
            "Modular arithmetic without brackets (mod 5, '*' binding tighter): which models extrapolate (Table 3)?",
            {
                "mamba [0,1]": ("0.095", "0.066"),
                "mamba [-1,1]": ("0.241", "0.214"),
                "deltanet [0,1]": ("0.314", "0.214"),
                "deltanet [-1,1]": ("0.971", "0.826"),
            },
            ("0.031", "0.787"),
        ),
        _table3_column(
            "arithmetic_brackets",
            "modular_arithmetic_with_brackets",
            "Modular arithmetic with brackets: hard for every LRNN (Table 3)?",
            {
                "mamba [0,1]": ("0.123", "0.116"),
                "mamba [-1,1]": ("0.116", "0.098"),
                "deltanet [0,1]": ("0.194", "0.162"),
                "deltanet [-1,1]": ("0.260", "0.227"),
            },
            ("0.067", "0.178"),
        ),
        Experiment(
            "s5_only_swaps",
            "Swaps only (S4 on a CPU, S5 on a GPU): does one DeltaNet layer learn it with β ∈ [0, 2] "
            "and not with [0, 1] (Fig. 4)?",
            {
                "small": _ranges(dataclasses.replace(_WORDS_SMALL, task="S4_only_swaps", model="deltanet")),
                "full": _ranges(dataclasses.replace(_WORDS_FULL, task="S5_only_swaps", model="deltanet")),
            },
            {
                "deltanet [-1,1]": "1 layer learns it fully (Fig. 4)",
                "deltanet [0,1]": "5 layers barely extrapolate (Fig. 4)",
            },
        ),
        Experiment(
            "s3",
            "S3 with one layer: does DeltaProduct need two reflections per token and negative eigenvalues?",
            {
                "small": _householder_variants(dataclasses.replace(_WORDS_SMALL, task="S3")),
                "full": _householder_variants(dataclasses.replace(_WORDS_FULL, task="S3")),
            },
            {
                "deltaproduct n_h=2 [-1,1]": "expected to train successfully (DeltaProduct README)",
                "deltaproduct n_h=1 [-1,1]": "not expected to converge (DeltaProduct README)",
                "deltaproduct n_h=2 [0,1]": "not expected to converge (DeltaProduct README)",
                "deltaproduct n_h=1 [0,1]": "not expected to converge (DeltaProduct README)",
            },
        ),
        Experiment(
            "cycle",
            "Z5 cycle navigation: does a diagonal [-1,1] model fail at long lengths where two reflections succeed?",
            {
                "small": (train.preset("cycle_diagonal", "small"), train.preset("cycle_deltaproduct", "small")),
                "full": tuple(
                    train.preset(name, "full", train_lengths=(3, 40))
                    for name in ("cycle_diagonal", "cycle_deltaproduct")
                ),
            },
            train.PAPER["cycle_diagonal"] | train.PAPER["cycle_deltaproduct"],
        ),
        _code_experiment(
            "code_swaps",
            "code_swaps",
            "Programs of swaps (S3 on the places of three values): which models track the variables to 8 times "
            "the training length?",
        ),
        _code_experiment(
            "code",
            "code",
            "Programs of assignments, copies, swaps and += (mod 5): which models track the variables?",
        ),
    )
}


def experiment(name: str) -> Experiment:
    """The experiment called ``name`` (one of ``EXPERIMENTS``)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(map(repr, EXPERIMENTS))}")
    return EXPERIMENTS[name]


def evidence_report(name: str, size: str, results: Sequence[TrainResult]) -> str:
    """Markdown: the experiment, size and tasks of ``results``, then their evidence table beside the paper's numbers."""
    tasks = ", ".join(f"`{task}`" for task in dict.fromkeys(result.config.task for result in results))
    table = evidence.evidence_table(results, reference=experiment(name).paper)
    return f"`{name}` at size `{size}`, task {tasks}:\n\n{table}"


def committed_report(name: str) -> str:
    """Markdown: the full-size evidence table committed for experiment ``name``, or the command that would write it."""
    return report_of_record(name, "full", committed(name, "full"))


def report_of_record(name: str, size: str, record: Mapping | None) -> str:
    """Markdown: a committed record's command, GPU and summary, or, for None, the command that would write it
    (``committed_report``, and ``language.committed_lm_report`` for ``lrnn-course experiment lm``)."""
    if record is None:
        return (
            f"No {size}-size results for `{name}` are committed yet: "
            f"`lrnn-course experiment {name} --size {size} --seeds 3 --out benchmarks/results/experiments`"
        )
    runs, planned = len(record["runs"]), record.get("runs_planned", len(record["runs"]))
    so_far = "" if runs == planned else f"; {runs} of its {planned} runs so far"
    return (
        f"Committed {size}-size results (`{record['command']}`, {record['gpu'] or 'CPU'}{so_far}), "
        f"per model over its seeds:\n\n{record['summary']}"
    )


def record_stem(out_dir: Path | str, name: str, size: str) -> Path:
    """Where an experiment's record goes: ``out_dir/NAME-SIZE``, with ``.json`` and ``.png`` added."""
    return Path(out_dir) / f"{name}-{size}"


def preset_record(preset: str, size: str) -> Path:
    """The JSON record that ``benchmarks/parity_table.py`` keeps for a ``train.PRESETS`` entry at ``size``."""
    return COMMITTED.parent / f"parity-{preset}-{size}.json"


def committed(name: str, size: str = "full") -> dict | None:
    """The record of ``lrnn-course experiment NAME --size SIZE --out benchmarks/results/experiments``, or None."""
    experiment(name)
    path = record_stem(COMMITTED, name, size).with_suffix(".json")
    return json.loads(path.read_text()) if path.is_file() else None


def start_data_parallel() -> int:
    """Join the process group when launched by ``torchrun`` (gloo on the CPU, NCCL on GPUs); return the rank."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1 or torch.distributed.is_initialized():
        return train.data_parallel_rank()[0]
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    torch.distributed.init_process_group(backend)
    return torch.distributed.get_rank()


def config_record(config: TrainConfig) -> dict:
    """A config as the JSON record stores it (tuples become lists): two configs are equal iff their records are."""
    fields = {
        key: value if not isinstance(value, Mapping) else dict(value)
        for key, value in dataclasses.asdict(config).items()
    }
    return json.loads(json.dumps(fields))


def result_record(result: TrainResult) -> dict:
    """One run as plain JSON data: the config, the final scores, the loss of every step, the evaluations."""
    final = result.final
    return {
        "label": result.config.label,
        "task": result.config.task,
        "seed": result.config.seed,
        "config": config_record(result.config),
        "device": result.device,
        "steps": final.step,
        "seconds": round(final.seconds, 2),
        "metric": result.config.metric,
        "train_score": final.train_score,
        "scores": {str(length): score for length, score in final.scores.items()},
        "mean": final.mean(),
        "losses": result.losses,
        "history": [
            {
                "step": e.step,
                "seconds": round(e.seconds, 2),
                "loss": e.loss,
                "train_score": e.train_score,
                "scores": {str(length): score for length, score in e.scores.items()},
            }
            for e in result.history
        ],
    }


def result_from_record(run: Mapping) -> TrainResult:
    """A run read back from its ``result_record``: everything but the trained model (None)."""
    config = TrainConfig(
        **{key: tuple(value) if isinstance(value, list) else value for key, value in run["config"].items()}
    )
    history = [
        Evaluation(
            e["step"], e["seconds"], e["loss"], e["train_score"], {int(n): score for n, score in e["scores"].items()}
        )
        for e in run["history"]
    ]
    return TrainResult(config, None, history, run["device"], list(run["losses"]))


def settings_key(fields: Mapping) -> str:
    """A ``config_record`` as one string, without its device: where a run trained ("auto", "cuda") changes nothing."""
    return json.dumps({key: value for key, value in fields.items() if key != "device"}, sort_keys=True)


def finished_runs(path: Path, configs: Sequence[TrainConfig]) -> dict[int, TrainResult]:
    """The runs of the record at ``path`` whose settings are those of one of ``configs``, by that config's index."""
    if not path.is_file():
        return {}
    wanted = {settings_key(config_record(config)): index for index, config in enumerate(configs)}
    found = {}
    for run in json.loads(path.read_text())["runs"]:
        index = wanted.get(settings_key(run["config"]))
        if index is not None:
            found[index] = result_from_record(run)
    return found


def train_or_read_back(
    configs: Sequence[TrainConfig],
    record: Path | None,
    progress: bool = True,
    jobs: int = 1,
    after_each: Callable[[list[TrainResult]], object] | None = None,
) -> list[TrainResult]:
    """Read back the runs of the JSON ``record`` (written from ``result_record``s) with these settings; train the rest.

    Args:
        configs: every run wanted.
        record: a JSON file with a ``runs`` list, or None (or a missing file): train everything.
        progress, jobs: as in ``train.train_each``.
        after_each: called with the runs finished so far (in ``configs`` order) after each one
            trained here, e.g. to rewrite the record, so a stopped command keeps them.

    Returns:
        One ``TrainResult`` per config, in order; those read back have no model (None).
    """
    finished = finished_runs(record, configs) if record is not None else {}
    pending = [index for index in range(len(configs)) if index not in finished]
    for position, result in train.train_each([configs[index] for index in pending], progress, jobs):
        finished[pending[position]] = result
        if after_each is not None:
            after_each([finished[index] for index in sorted(finished)])
    return [finished[index] for index in range(len(configs))]


def run_experiment(
    name: str,
    size: str = "small",
    seeds: int = 1,
    device: str = "auto",
    out_dir: Path | str | None = Path("build/experiments"),
    progress: bool = True,
    command: str | None = None,
    jobs: int = 1,
    resume: bool = False,
    negative: bool | None = None,
    **changes,
) -> list[TrainResult]:
    """Train every variant of an experiment for each seed; the first process writes ``NAME-SIZE.json`` and ``.png``.

    Args:
        name, size, seeds: which experiment, "small" or "full", and how many seeds (0, 1, …).
        device: "auto", "cpu" or "cuda".
        out_dir: where the files go, rewritten after every finished run; None writes nothing.
        progress: tqdm bars.
        command: how the run was started, for the JSON record (the CLI passes its command line).
        jobs: runs trained at once, each in its own process (``train.train_each``).
        resume: keep the runs already in ``out_dir``'s record whose settings (all but the device) are
            unchanged, train the rest.
        negative: only the variants of one gate range (``Experiment.configs``), so that a lesson can
            train an experiment in parts; the record keeps the other variants' runs it already holds.
        changes: config fields to override in every run (e.g. ``steps=5`` for a smoke test).

    Returns:
        One ``TrainResult`` per variant and seed, in the experiment's order.
    """
    chosen = experiment(name)
    every = chosen.configs(size, seeds, device=device, **changes)
    configs = [config for config in every if negative is None or config.negative == negative]
    if resume and out_dir is None:
        raise ValueError("resume=True reads the runs of an earlier record: give out_dir")
    rank = start_data_parallel()
    if train.data_parallel_rank()[1] > 1 and (jobs > 1 or resume):
        raise ValueError("under torchrun every process trains the same run: jobs and resume need a single process")
    command = command or f"run_experiment({name!r}, size={size!r}, seeds={seeds}, device={device!r})"
    record = record_stem(out_dir, chosen.name, size).with_suffix(".json") if resume else None
    rewrite = None
    if rank == 0 and out_dir is not None:
        # a part of the experiment: the runs of the other variants that the record holds stay in it
        others = {
            index: run
            for index, run in finished_runs(record_stem(out_dir, chosen.name, size).with_suffix(".json"), every).items()
            if every[index] not in configs
        }
        position = [every.index(config) for config in configs]

        def rewrite(done: list[TrainResult]) -> None:
            runs = others | {position[index]: result for index, result in enumerate(done)}
            write_results(chosen, size, [runs[index] for index in sorted(runs)], Path(out_dir), command, len(every))

    return train_or_read_back(configs, record, progress, jobs, after_each=rewrite)


def record_metadata(planned: int, command: str) -> dict:
    """What every JSON record of runs holds besides its runs (``runs_record``, ``language.write_lm_record``): the
    command, the GPU, torch, when the last run finished and how many runs there will be."""
    return {
        "command": command,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "runs_planned": planned,
    }


def runs_record(results: Sequence[TrainResult], planned: int, command: str) -> dict:
    """What every JSON record of runs holds (``write_results``, ``benchmarks/parity_table.py``): its
    ``record_metadata`` and the runs."""
    return {**record_metadata(planned, command), "runs": [result_record(result) for result in results]}


def write_results(
    chosen: Experiment, size: str, results: Sequence[TrainResult], out_dir: Path, command: str, planned: int
) -> tuple[Path, Path]:
    """Write the JSON record and the length-generalisation plot of finished runs; return both paths.

    ``planned`` is how many runs the experiment has in all; the record keeps both counts.
    """
    from matplotlib.figure import Figure  # not pyplot: writing the file must not touch a notebook's backend

    from . import viz

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = record_stem(out_dir, chosen.name, size)
    record = {
        "experiment": chosen.name,
        "question": chosen.question,
        "size": size,
        "world_size": train.data_parallel_rank()[1],
        "python": platform.python_version(),
        "paper": dict(chosen.paper),
        "summary": evidence.evidence_table(results, reference=chosen.paper),
        "table": train.results_table(results),
        **runs_record(results, planned, command),
    }
    json_path = stem.with_suffix(".json")
    json_path.write_text(json.dumps(record, indent=1) + "\n")
    figure = Figure(figsize=(8, 4))
    axis = figure.subplots()
    viz.plot_length_generalisation(
        results, ax=axis, title=f"{chosen.name} ({size}): {results[0].config.metric} by length", log_lengths=True
    )
    figure.tight_layout()
    png_path = stem.with_suffix(".png")
    figure.savefig(png_path, dpi=100, bbox_inches="tight")  # the legend of many models sits right of the axes
    write_summary_page(out_dir, size)
    return json_path, png_path


def write_summary_page(out_dir: Path, size: str) -> Path:
    """``out_dir/summary-SIZE.md``: every experiment recorded there, as one page of per-model tables."""
    sections = [
        f"# State-tracking experiments at size {size!r}",
        "",
        f"Rewritten by `lrnn-course experiment NAME --size {size}` after every finished run, from the records in this "
        "folder. Per model: the median and range over seeds at each test length, beside the majority-class and chance "
        f"baselines, and what agreeing with the paper's number means; `NAME-{size}.json` holds every run.",
    ]
    for name in EXPERIMENTS:
        path = record_stem(out_dir, name, size).with_suffix(".json")
        if not path.is_file():
            continue
        record = json.loads(path.read_text())
        sections += [
            "",
            f"## {name}",
            "",
            record["question"],
            "",
            f"`{record['command']}` on {record['gpu'] or 'a CPU'}, torch {record['torch']}: "
            f"{len(record['runs'])} of {record['runs_planned']} runs, the last finished {record['finished']}.",
            "",
            record["summary"],
        ]
    page = record_stem(out_dir, "summary", size).with_suffix(".md")
    page.write_text("\n".join(sections) + "\n")
    return page
