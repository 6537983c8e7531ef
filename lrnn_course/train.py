"""The training harness of Lessons 04, 05 and 08: fresh samples every step, a score per test length.

Glossary (code name -> paper term, Grazzi et al. 2025, §5.1 and App. E.1):

===================  =======================================================================
``TrainConfig``      one run: task, model, optimiser (AdamW, linear warm-up then cosine decay
                     to ``min_lr``, gradient clipping) and evaluation settings
``train_lengths``    (3, 40): sequence lengths drawn uniformly for every training batch
``test_lengths``     the lengths of the extrapolation test (the paper: 40 to 256)
``metric``           what a score is: "scaled accuracy" (acc - acc_rand) / (1 - acc_rand) for
                     the formal languages (0 = chance, 1 = perfect), "sequence accuracy" (the
                     fraction of sequences right at every position) for group word problems
``answer_loss``      cross-entropy at the answer position, the only position with a target
``token_loss``       cross-entropy at every scored position (group word problems)
``Evaluation``       the score at every test length (and on training lengths) at one step
``TrainResult``      the config, the trained model, its evaluations and its loss at every step
``results_table``    one row per run; ``evidence.evidence_table`` adds baselines and seed spreads
===================  =======================================================================

For the formal languages the loss and the accuracy only look at each sequence's answer position
(the authors' targets are -1, ignored, everywhere else); group word problems are scored at every
position. Evaluation sets are drawn once from a fixed seed that does not depend on
``TrainConfig.seed``, so two runs are always scored on the same sequences.

Data parallelism: when ``torch.distributed`` is initialised (``torchrun``), every process draws
the same global batch, trains on its share of the rows, and DDP averages the gradients; with the
same number of scored positions per row this is the single-process run, step for step.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from . import tasks
from .device import PREFERENCES
from .device import device as choose_device
from .models import BASELINES, MODELS, SequenceModel, build_model, gate_range
from .progress import progress_bar
from .tasks import PROGRAM_TASKS, WORD_PROBLEMS, sequence_accuracy
from .validate import require_number, require_positive_int, require_tensor

TASKS: dict[str, Callable[..., tasks.Batch]] = (
    {
        "parity": tasks.parity,
        "modular_arithmetic": tasks.modular_arithmetic,
        "modular_arithmetic_with_brackets": tasks.modular_arithmetic_with_brackets,
        "cycle_navigation": tasks.cycle_navigation,
    }
    | WORD_PROBLEMS
    | PROGRAM_TASKS
)
EVALUATION_SEED = 2_024_11_12


def validate_optimisation(config: Any) -> None:
    """Check what every training config shares (``TrainConfig``, ``language.LMConfig``): ``steps`` (checked before),
    ``seed``, ``device``, ``warmup_steps``, ``lr``, ``min_lr``, ``weight_decay`` and ``clip_norm``; raise on the first
    invalid one."""
    for name in ("lr", "min_lr", "weight_decay"):
        require_number(getattr(config, name), name)
    if config.clip_norm is not None:
        require_number(config.clip_norm, "clip_norm")
    if isinstance(config.seed, bool) or not isinstance(config.seed, int):
        raise TypeError(f"seed must be an int, got {config.seed!r}")
    if config.device not in PREFERENCES:
        raise ValueError(f"device must be one of {', '.join(map(repr, PREFERENCES))}, got {config.device!r}")
    warmup = config.warmup_steps
    if isinstance(warmup, bool) or not isinstance(warmup, int) or not 0 <= warmup < config.steps:
        raise ValueError(f"warmup_steps must be an int in [0, steps), got {warmup!r}")
    if not 0 < config.min_lr <= config.lr:
        raise ValueError(f"need 0 < min_lr <= lr, got min_lr={config.min_lr}, lr={config.lr}")
    if config.weight_decay < 0 or (config.clip_norm is not None and config.clip_norm <= 0):
        raise ValueError("weight_decay must be >= 0 and clip_norm > 0 (or None)")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; invalid values raise when the config is created."""

    task: str = "parity"
    model: str = "diagonal"
    negative: bool = True
    d_model: int = 10
    n_layers: int = 1
    model_options: Mapping[str, Any] = field(default_factory=dict)
    steps: int = 1500
    batch_size: int = 256
    lr: float = 1e-3
    warmup_steps: int = 0
    min_lr: float = 1e-6
    weight_decay: float = 0.0
    clip_norm: float | None = 1.0
    train_lengths: tuple[int, int] = (3, 40)
    test_lengths: tuple[int, ...] = (41, 64, 128, 256)
    eval_every: int = 250
    eval_samples: int = 256
    seed: int = 0
    device: str = "auto"
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(map(repr, TASKS))}")
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(map(repr, MODELS))}")
        for name in ("d_model", "n_layers", "steps", "batch_size", "eval_every", "eval_samples"):
            require_positive_int(getattr(self, name), name)
        validate_optimisation(self)
        if self.max_seconds is not None:
            require_number(self.max_seconds, "max_seconds")
        for name in ("train_lengths", "test_lengths"):
            lengths = getattr(self, name)
            if (
                isinstance(lengths, (str, bytes))
                or not isinstance(lengths, Sequence)
                or any(isinstance(length, bool) or not isinstance(length, int) for length in lengths)
            ):
                raise TypeError(f"{name} must be a tuple of ints, got {lengths!r}")
        if len(self.train_lengths) != 2:
            raise ValueError(f"train_lengths must be (low, high), got {self.train_lengths}")
        low, high = self.train_lengths
        if not 1 <= low <= high:
            raise ValueError(f"train_lengths must be (low, high) with 1 <= low <= high, got {self.train_lengths}")
        if not self.test_lengths or any(length < 1 for length in self.test_lengths):
            raise ValueError(f"test_lengths must be a non-empty tuple of lengths >= 1, got {self.test_lengths}")
        shortest = getattr(TASKS[self.task], "shortest", 1)  # a program task needs its k assignments, query, answer
        if low < shortest or min(self.test_lengths) < shortest:
            raise ValueError(
                f"task {self.task!r} has no sequence shorter than {shortest}: train_lengths {self.train_lengths} "
                f"and test_lengths {self.test_lengths} must start at {shortest} or more"
            )
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"max_seconds must be positive (or None), got {self.max_seconds}")

    @property
    def label(self) -> str:
        """E.g. ``"diagonal [-1,1]"`` or ``"deltaproduct n_h=2 [-1,1]"``: the model and its eigenvalue range."""
        if self.model in BASELINES:
            return self.model
        householders = self.model_options.get("n_householder")
        detail = f" n_h={householders}" if householders is not None else ""
        detail += " gated" if self.model_options.get("gated") else ""
        return f"{self.model}{detail} {gate_range(self.negative)}"

    @property
    def metric(self) -> str:
        """ "sequence accuracy" for group word problems, "scaled accuracy" for the other tasks."""
        return "sequence accuracy" if self.task in WORD_PROBLEMS else "scaled accuracy"


@dataclass(frozen=True)
class Evaluation:
    """Scores at one training step: ``scores[length]`` per test length, ``train_score`` on training lengths."""

    step: int
    seconds: float
    loss: float
    train_score: float
    scores: dict[int, float]

    def mean(self, lengths: Sequence[int] | None = None) -> float:
        """The mean score over ``lengths`` (default: every test length)."""
        chosen = list(self.scores) if lengths is None else list(lengths)
        missing = [length for length in chosen if length not in self.scores]
        if missing:
            raise KeyError(f"no evaluation at lengths {missing}; evaluated {sorted(self.scores)}")
        return sum(self.scores[length] for length in chosen) / len(chosen)


@dataclass
class TrainResult:
    """A finished run: its config, the trained model, every ``Evaluation`` in step order, the loss of every step.

    ``model`` is None for a run read back from an experiment's JSON record (``experiments.result_from_record``).
    """

    config: TrainConfig
    model: SequenceModel | None
    history: list[Evaluation]
    device: str
    losses: list[float] = field(default_factory=list)

    @property
    def final(self) -> Evaluation:
        return self.history[-1]

    @property
    def steps_done(self) -> int:
        return self.final.step

    def summary(self) -> str:
        """One line: label, steps, seconds, and the final mean score."""
        final = self.final
        return (
            f"{self.config.label:<16} seed {self.config.seed}: {final.step} steps in {final.seconds:.1f} s "
            f"on {self.device}, {self.config.metric} {final.train_score:.3f} "
            f"on lengths {self.config.train_lengths[0]}-{self.config.train_lengths[1]}, "
            f"{final.mean():.3f} on {min(final.scores)}-{max(final.scores)}"
        )


def require_batch(batch: object) -> tasks.Batch:
    """``batch`` if it is a ``tasks.Batch``, else raise."""
    if not isinstance(batch, tasks.Batch):
        raise TypeError(f"batch must be a tasks.Batch, got {type(batch).__name__}")
    return batch


def answer_loss(logits: torch.Tensor, batch: tasks.Batch) -> torch.Tensor:
    """The training loss: cross-entropy at each row's answer position only, averaged over rows.

    Args:
        logits: the model's scores (N, L, n_classes) at every position of ``batch.tokens``; class k
            stands for the answer token ``batch.answer_offset + k``.
        batch: the sequences; ``batch.targets`` holds the answer token at one position per row and
            -1 everywhere else.

    Returns:
        A 0-d tensor, connected to ``logits`` by autograd.
    """
    require_batch(batch)
    require_tensor(logits, "logits", 3, "(N, L, n_classes)")
    if logits.shape != (*batch.tokens.shape, batch.n_classes):
        raise ValueError(
            f"logits must have shape (N, L, n_classes) = {(*batch.tokens.shape, batch.n_classes)}, "
            f"got {tuple(logits.shape)}"
        )
    ### BEGIN SOLUTION
    rows = torch.arange(logits.shape[0], device=logits.device)
    positions = batch.answer_positions
    answers = batch.targets[rows, positions] - batch.answer_offset
    return F.cross_entropy(logits[rows, positions], answers)
    ### END SOLUTION


def token_loss(logits: torch.Tensor, batch: tasks.Batch) -> torch.Tensor:
    """The loss of a word problem: cross-entropy at every scored position, averaged over positions."""
    require_batch(batch)
    require_tensor(logits, "logits", 3, "(N, L, n_classes)")
    if logits.shape != (*batch.tokens.shape, batch.n_classes):
        raise ValueError(
            f"logits must have shape (N, L, n_classes) = {(*batch.tokens.shape, batch.n_classes)}, "
            f"got {tuple(logits.shape)}"
        )
    return F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(), ignore_index=tasks.IGNORE)


def loss_of(logits: torch.Tensor, batch: tasks.Batch) -> torch.Tensor:
    """``token_loss`` for word problems, ``answer_loss`` for the tasks with one answer per row."""
    require_batch(batch)
    return token_loss(logits, batch) if batch.every_position else answer_loss(logits, batch)


@torch.no_grad()
def predictions_on(model: SequenceModel, batch: tasks.Batch) -> torch.Tensor:
    """The model's predicted class (answer index) at every position: LongTensor (N, L)."""
    was_training = model.training
    model.eval()
    predictions = model(batch.tokens).argmax(dim=-1)
    model.train(was_training)
    return predictions


def score_of(predictions: torch.Tensor, batch: tasks.Batch) -> float:
    """The run's metric for given predictions (LongTensor (N, L), a class per position) on one batch:
    sequence accuracy at the last position for word problems, scaled accuracy at the answer otherwise."""
    if batch.every_position:
        return sequence_accuracy(predictions.cpu(), batch.targets.cpu())[-1].item()
    rows = torch.arange(len(predictions), device=predictions.device)
    positions = batch.answer_positions
    accuracy = (
        (predictions[rows, positions] == batch.targets[rows, positions] - batch.answer_offset).float().mean().item()
    )
    return tasks.scaled_accuracy(accuracy, batch.chance_accuracy)


def scaled_accuracy_on(model: SequenceModel, batch: tasks.Batch) -> float:
    """The model's scaled accuracy on one batch of a task with one answer per row."""
    if batch.every_position:
        raise ValueError(f"{batch.task} is scored by sequence accuracy, not scaled accuracy")
    return score_of(predictions_on(model, batch), batch)


def sequence_accuracy_on(model: SequenceModel, batch: tasks.Batch) -> torch.Tensor:
    """The cumulative sequence accuracy of the model on a word-problem batch, per position: (L,), on the CPU."""
    return sequence_accuracy(predictions_on(model, batch).cpu(), batch.targets.cpu())


def score_on(model: SequenceModel, batch: tasks.Batch) -> float:
    """The run's metric on one batch: sequence accuracy at the last position, or scaled accuracy."""
    return score_of(predictions_on(model, batch), batch)


def evaluation_batches(config: TrainConfig, device: torch.device) -> tuple[tasks.Batch, dict[int, tasks.Batch]]:
    """The fixed evaluation sets: one on training lengths, one per test length."""
    generate = TASKS[config.task]
    low, high = config.train_lengths
    in_distribution = generate(config.eval_samples, low, high, torch.Generator().manual_seed(EVALUATION_SEED)).to(
        device
    )
    per_length = {
        length: generate(
            config.eval_samples, length, length, torch.Generator().manual_seed(EVALUATION_SEED + length)
        ).to(device)
        for length in config.test_lengths
    }
    return in_distribution, per_length


def learning_rate_factor(config: TrainConfig) -> Callable[[int], float]:
    """The multiplier of ``lr`` at each step: linear warm-up, then cosine decay to ``min_lr``."""
    floor = config.min_lr / config.lr

    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def data_parallel_rank() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) unless ``torch.distributed`` is initialised."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def train(config: TrainConfig, progress: bool = True) -> TrainResult:
    """Train one model on fresh samples every step; evaluate every ``eval_every`` steps and at the end.

    Under ``torchrun`` (``torch.distributed`` initialised) each of the W processes trains on
    ``batch_size / W`` rows of the same global batch and DDP averages the gradients.

    Args:
        config: the run.
        progress: show a tqdm bar (loss and latest mean score in its postfix; first process only).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    rank, world = data_parallel_rank()
    if config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} must be a multiple of the number of processes, {world}")
    share = slice(rank * config.batch_size // world, (rank + 1) * config.batch_size // world)
    device = choose_device(config.device)
    torch.manual_seed(config.seed)
    generate = TASKS[config.task]
    probe = generate(1, *config.train_lengths, torch.Generator().manual_seed(0))
    model = build_model(
        config.model,
        probe.vocab_size,
        probe.n_classes,
        config.d_model,
        config.n_layers,
        config.negative,
        **config.model_options,
    ).to(device)
    trained = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate_factor(config))
    in_distribution, per_length = evaluation_batches(config, device)
    data = torch.Generator().manual_seed(config.seed)
    history: list[Evaluation] = []
    losses: list[float] = []
    start = time.perf_counter()

    def evaluate(step: int) -> None:
        recent = losses[history[-1].step if history else 0 :]
        scores = {length: score_on(model, batch) for length, batch in per_length.items()}
        history.append(
            Evaluation(
                step, time.perf_counter() - start, sum(recent) / len(recent), score_on(model, in_distribution), scores
            )
        )

    def agreed(flag: bool) -> bool:
        """Every process stops at the same step: the flag of any one of them counts."""
        if world == 1:
            return flag
        vote = torch.tensor([float(flag)], device=device)
        torch.distributed.all_reduce(vote, op=torch.distributed.ReduceOp.MAX)
        return bool(vote.item())

    bar = progress_bar(range(1, config.steps + 1), enabled=progress and rank == 0, desc=config.label, leave=False)
    for step in bar:
        batch = generate(config.batch_size, *config.train_lengths, data).rows(share).to(device)
        loss = loss_of(trained(batch.tokens), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        optimizer.step()
        schedule.step()
        global_loss = loss.detach()
        if world > 1:
            torch.distributed.all_reduce(global_loss)
            global_loss /= world
        losses.append(global_loss.item())
        out_of_time = agreed(config.max_seconds is not None and time.perf_counter() - start > config.max_seconds)
        if step % config.eval_every == 0 or step == config.steps or out_of_time:
            evaluate(step)
            bar.set_postfix(loss=f"{history[-1].loss:.3f}", score=f"{history[-1].mean():.2f}")
        if out_of_time:
            break
    bar.close()
    return TrainResult(config, model, history, device.type, losses)


def _small_and_full(small: TrainConfig, **full: Any) -> dict[str, TrainConfig]:
    """A preset's two sizes: ``small``, and the full config that differs from it only in ``full``."""
    return {"small": small, "full": dataclasses.replace(small, **full)}


# Lesson 07: Z_5 cycle navigation (not run in the paper), trained on lengths 3-16 and tested far beyond.
_CYCLE = TrainConfig(
    task="cycle_navigation",
    steps=400,
    batch_size=128,
    lr=1e-2,
    train_lengths=(3, 16),
    test_lengths=(16, 32, 64, 128, 256, 512, 1024),
    eval_every=50,
)
_CYCLE_FULL = {"steps": 3000, "test_lengths": (16, 32, 64, 128, 256, 512, 1024, 2048, 4096), "eval_every": 250}

PRESETS: dict[str, dict[str, TrainConfig]] = {
    # The authors' Figure 1 model: 1 layer, d = 10, no residual path, batch 256, lr 1e-3 (20k steps in the paper).
    "figure1": _small_and_full(
        TrainConfig(model="diagonal", d_model=10, steps=1000, eval_every=50, model_options={"residual": False}),
        steps=20_000,
        eval_every=1000,
    ),
    # Table 3's Mamba parity row at the paper's width: 2 layers, d = 128, Mamba's Δ initialisation,
    # short convolution, warm-up. Too slow for a CPU; measured on an H100 at about 1 500 steps to loss 0.
    "mamba_parity": {
        "full": TrainConfig(
            model="mamba",
            d_model=128,
            n_layers=2,
            steps=3000,
            warmup_steps=500,
            eval_every=500,
            model_options={"d_state": 16, "expand": 2, "d_conv": 4},
        ),
    },
    # Lesson 07: a real diagonal model against two reflections per token.
    "cycle_diagonal": _small_and_full(dataclasses.replace(_CYCLE, model="diagonal", d_model=32), **_CYCLE_FULL),
    "cycle_deltaproduct": _small_and_full(
        dataclasses.replace(_CYCLE, model="deltaproduct", d_model=16, model_options={"n_heads": 1, "n_householder": 2}),
        **_CYCLE_FULL,
    ),
    # Lesson 06: Table 3's DeltaNet parity row at course scale — one layer, d = 16 in four heads of width 4
    # (the paper's head count, App. E.1.1), the naive recurrence; lr 1e-2 (at 3e-3 one head learned in
    # neither range within 1 000 steps). With one head of width 16 and 400 steps, β ∈ [0, 2] learned on
    # seed 0 only of seeds 0-2 (1 and 2 answered one class); with four heads and 200 steps on each of
    # seeds 0-2, at about 6 s a run on one CPU thread against 18 s (evaluated every 50 steps: at every 25
    # the evaluations took a quarter of a run).
    "deltanet_parity": _small_and_full(
        TrainConfig(
            model="deltanet",
            d_model=16,
            steps=200,
            batch_size=128,
            lr=1e-2,
            eval_every=50,
            model_options={"n_heads": 4},
        ),
        steps=3000,
        eval_every=250,
    ),
}
PAPER = {
    "figure1": {"diagonal [-1,1]": "1.0 (Fig. 1)", "diagonal [0,1]": "≈ 0 (Fig. 1)"},
    "mamba_parity": {
        "mamba [-1,1]": "1.000 best, 1.000 median (Tables 3, 5)",
        "mamba [0,1]": "0.000 best, 0.000 median (Tables 3, 5)",
    },
    "deltanet_parity": {
        "deltanet [-1,1]": "1.000 best, 0.999 median (Tables 3, 5)",
        "deltanet [0,1]": "0.017 best, 0.010 median (Tables 3, 5)",
    },
    "cycle_diagonal": {"diagonal [-1,1]": "not run in the paper; Theorem 2 predicts failure"},
    "cycle_deltaproduct": {"deltaproduct n_h=2 [-1,1]": "not run in the paper"},
}


def preset(name: str, size: str = "small", **changes: Any) -> TrainConfig:
    """A named experiment (``PRESETS``) at ``size`` "small" or "full", with ``changes`` applied."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(map(repr, PRESETS))}")
    if size not in PRESETS[name]:
        raise ValueError(f"preset {name!r} has no size {size!r}; it has {', '.join(map(repr, PRESETS[name]))}")
    return dataclasses.replace(PRESETS[name][size], **changes)


def _train_indexed(indexed: tuple[int, TrainConfig]) -> tuple[int, TrainResult]:
    """One run in a worker process of ``train_each``; its model travels back on the CPU."""
    index, config = indexed
    result = train(config, progress=False)
    result.model.cpu()
    return index, result


def train_each(
    configs: Sequence[TrainConfig], progress: bool = True, jobs: int = 1
) -> Iterator[tuple[int, TrainResult]]:
    """Train each config; yield (its index in ``configs``, its result) as each run finishes.

    ``jobs`` > 1 trains that many runs at once, each in a spawned process (a forked one cannot use
    CUDA), the CPU cores shared evenly among them: small models leave a GPU mostly idle while
    Python launches their kernels, so several runs share it well. Each result's model comes back to
    its run's device. When a run fails, or the caller stops early (an exception, Ctrl-C), the
    workers are terminated and the runs not finished are lost. One tqdm bar per run with ``jobs``
    = 1, one for all runs otherwise.
    """
    require_positive_int(jobs, "jobs")
    if jobs == 1:
        return ((index, train(config, progress)) for index, config in enumerate(configs))
    return _train_side_by_side(configs, progress, jobs)


def _train_side_by_side(configs: Sequence[TrainConfig], progress: bool, jobs: int) -> Iterator[tuple[int, TrainResult]]:
    threads = max(1, (os.cpu_count() or 1) // jobs)
    pool = multiprocessing.get_context("spawn").Pool(jobs, initializer=torch.set_num_threads, initargs=(threads,))
    try:
        finished = pool.imap_unordered(_train_indexed, enumerate(configs))
        for index, result in progress_bar(
            finished, enabled=progress, total=len(configs), desc=f"runs, {jobs} at a time"
        ):
            result.model.to(result.device)
            yield index, result
    finally:
        pool.terminate()  # every result is in when the loop ends; otherwise nobody is waiting for the rest
        pool.join()


def train_all(configs: Sequence[TrainConfig], progress: bool = True, jobs: int = 1) -> list[TrainResult]:
    """Train each config, ``jobs`` at a time (see ``train_each``); the results in the order of ``configs``."""
    finished = dict(train_each(configs, progress, jobs))
    return [finished[index] for index in range(len(configs))]


def variants(base: TrainConfig, **choices: Sequence[Any]) -> list[TrainConfig]:
    """Every combination of ``choices`` applied to ``base``: ``variants(c, negative=[False, True], seed=[0, 1])``."""
    configs = [base]
    for name, values in choices.items():
        configs = [dataclasses.replace(config, **{name: value}) for config in configs for value in values]
    return configs


def by_label(results: Sequence[TrainResult]) -> dict[str, list[TrainResult]]:
    """The runs of each model (its seeds), by label, in the order the labels first appear."""
    grouped: dict[str, list[TrainResult]] = {}
    for result in results:
        grouped.setdefault(result.config.label, []).append(result)
    return grouped


def tested_lengths(results: Sequence[TrainResult], table: str) -> list[int]:
    """Every test length any of ``results`` was scored at, in order (``table`` names the caller for the error)."""
    if not results:
        raise ValueError(f"{table} needs at least one TrainResult")
    return sorted({length for result in results for length in result.final.scores})


def results_table(results: Sequence[TrainResult]) -> str:
    """A Markdown table, one row per run: label, seed, steps, seconds, device, the score per test length.

    "–" marks a length a run was not tested at.

    The runs one by one; ``evidence.evidence_table`` puts them beside their baselines and a paper's numbers.
    """
    lengths = tested_lengths(results, "results_table")
    header = [
        "model",
        "seed",
        "steps",
        "seconds",
        "device",
        "score, train lengths",
        *(f"L={length}" for length in lengths),
        "mean",
    ]
    rows = []
    for result in results:
        final = result.final
        row = [
            result.config.label,
            str(result.config.seed),
            str(final.step),
            f"{final.seconds:.1f}",
            result.device,
            f"{final.train_score:.3f}",
        ]
        rows.append(
            row
            + [f"{final.scores[length]:.3f}" if length in final.scores else "–" for length in lengths]
            + [f"{final.mean():.3f}"]
        )
    return markdown_table(header, rows)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """``header`` and ``rows`` (cells already formatted) as the lines of a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
