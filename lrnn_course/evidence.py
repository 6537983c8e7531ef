"""What a trained result shows: the baselines beside it, its spread over seeds, and verdicts that count seeds.

A score means something only beside what a model scores without learning anything. On a test set
of 256 parity sequences with 122 odd ones, always answering "even" is right on 134 of 256: scaled
accuracy +0.047, not 0. A model that learned nothing reaches exactly such a number; Lesson 04's
sigmoid model does. So every results table here prints, per test length, the best score of a
constant answer (the majority class) and chance (0 for scaled accuracy), every cell as the median
and the range over seeds, and it names the runs whose scores are exactly those of a constant
answer. A paper's number appears only with a sentence on what agreeing with it means here.

Glossary (code name -> term):

=====================  ======================================================================
``Baseline``           the scores of the constant answers on one test set (one test length)
``majority``           the best of them: the majority class of that test set
``chance``             the metric's chance level: 0 for scaled accuracy; for sequence accuracy
                       (every prefix right) guessing is 0 up to the printed precision
``constant_answer``    the class a run's scores match at every test length, if any: the run
                       behaves like a model that ignores its input
``zero_as_constant``   a run at 0 on test sets where every constant answer scores 0 too
                       (sequence accuracy on long words): its scores cannot tell it from one
``spread``             "median [min, max]" over seeds (one value for one seed)
``verdict``            a PASS/FAIL line that says on how many of how many seeds a claim holds
=====================  ======================================================================
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from . import train
from .train import TrainConfig, TrainResult

# Two scores on the same test set are equal when they count the same right answers; a float64
# computation of (acc - chance) / (1 - chance) differs between equal counts by far less than this.
SAME_SCORE = 1e-9
SOLVED = 0.95  # the score from which a run counts as having solved a length in the tables
# A reference that starts so names no result of the paper: the table shows it, and no note compares with it.
NOT_IN_PAPER = "not run in the paper"


@dataclass(frozen=True)
class Baseline:
    """What a model scores on one test set without reading its input: ``constant[c]`` is always answering c."""

    length: int
    constant: tuple[float, ...]

    @property
    def majority(self) -> float:
        """The best constant answer's score: the majority class of this test set."""
        return max(self.constant)


def baselines(config: TrainConfig) -> dict[int, Baseline]:
    """The baseline of every test length of ``config``, computed on the run's own fixed evaluation sets."""
    _, per_length = train.evaluation_batches(config, torch.device("cpu"))
    return {
        length: Baseline(
            length,
            tuple(train.score_of(torch.full_like(batch.tokens, answer), batch) for answer in range(batch.n_classes)),
        )
        for length, batch in per_length.items()
    }


def constant_answer(result: TrainResult, baseline: Mapping[int, Baseline]) -> int | None:
    """The class whose constant answer scores exactly what ``result`` scores at every test length, or None.

    Scores alone decide, so this works for runs read back without their model; a run that learned
    something and still matches one constant answer on every test set is not plausible at 256
    sequences per length. A constant answer that scores 0 at every test length (sequence accuracy on
    long words) is never named: every run that errs somewhere in each sequence scores 0 too
    (``zero_as_constant`` tells that case).
    """
    scores = result.final.scores
    n_classes = len(next(iter(baseline.values())).constant)
    for answer in range(n_classes):
        if all(abs(baseline[length].constant[answer]) < SAME_SCORE for length in scores):
            continue
        if all(abs(scores[length] - baseline[length].constant[answer]) < SAME_SCORE for length in scores):
            return answer
    return None


def zero_as_constant(result: TrainResult, baseline: Mapping[int, Baseline]) -> bool:
    """Whether ``result`` scores 0 at every test length where every constant answer scores 0 too:
    its scores cannot tell it from a constant answer, nor say which class it would be."""
    return all(
        abs(result.final.scores[length]) < SAME_SCORE and baseline[length].majority < SAME_SCORE
        for length in result.final.scores
    )


def spread(values: Sequence[float]) -> str:
    """``"0.500 [0.250, 1.000]"``: the median and the range over seeds; one value for one seed or when all agree."""
    if not values:
        raise ValueError("spread needs at least one value")
    if len(values) == 1:
        return f"{values[0]:.3f}"
    if min(values) == max(values):
        return f"{values[0]:.3f} (all {len(values)})"
    return f"{statistics.median(values):.3f} [{min(values):.3f}, {max(values):.3f}]"


def verdict(claim: str, scores: Sequence[float], holds: Callable[[float], bool], needed: int | None = None) -> str:
    """One checked line: PASS when ``holds`` is true for at least ``needed`` (default: all) of the seeds' scores.

    Example: ``PASS on 3 of 3 seeds: DeltaNet [-1,1] reaches >= 0.95 (measured 1.000, 0.998, 1.000)``.
    """
    if not scores:
        raise ValueError("verdict needs the score of at least one seed")
    held = sum(bool(holds(score)) for score in scores)
    needed = len(scores) if needed is None else needed
    seeds = "seed" if len(scores) == 1 else "seeds"
    measured = ", ".join(f"{score:.3f}" for score in scores)
    return f"{'PASS' if held >= needed else 'FAIL'} on {held} of {len(scores)} {seeds}: {claim} (measured {measured})"


def _agreement(
    runs: Sequence[TrainResult], constants: Sequence[int | None], zeros: Sequence[bool], lengths: Sequence[int]
) -> str:
    """What a match between these runs and a paper's number can mean (``zeros``: ``zero_as_constant`` per run)."""
    if all(answer is not None for answer in constants):
        return (
            "every seed gives one constant answer at every test length, so its scores are the class balance of "
            "the test sets (the majority row); agreeing with the paper says only that neither learned the task"
        )
    if all(zeros):
        who = "the one seed scores" if len(runs) == 1 else "every seed scores"
        return (
            f"{who} 0 at every test length, as every constant answer does; agreeing with the paper "
            "says only that neither learned the task"
        )
    worst = min(min(run.final.scores[length] for length in lengths if length in run.final.scores) for run in runs)
    if worst >= SOLVED:
        who = "the one seed scores" if len(runs) == 1 else f"all {len(runs)} seeds score"
        return (
            f"{who} >= {SOLVED} at every test length up to {max(lengths)}: the outcome the "
            "paper reports, measured under this table's settings"
        )
    which = "the one seed stays" if len(runs) == 1 else "the seeds differ or stay"
    return (
        f"{which} below the solved level; the paper's number comes from its own settings, "
        "so compare this row with the majority row rather than with the paper"
    )


def evidence_table(results: Sequence[TrainResult], reference: Mapping[str, str] | None = None) -> str:
    """A Markdown table, one row per model over its seeds, with the baselines and what a paper number means.

    Per test length: the median and range over seeds; then the mean over lengths, the seeds at or
    above ``SOLVED`` on every length, and the seeds that give a constant answer. Two rows follow: the
    majority class (the best constant answer) and chance. ``reference`` maps a label to a paper's
    number; each such number gets a note under the table that says what agreeing with it means (a
    reference starting with ``NOT_IN_PAPER`` gets none: there is nothing to agree with).
    """
    lengths = train.tested_lengths(results, "evidence_table")
    metric = results[0].config.metric
    baseline: dict[int, Baseline] = {}
    for result in results:
        # The test sets depend on the task and the length, not on the seed: draw them again only for new lengths.
        if not baseline.keys() >= result.final.scores.keys():
            baseline |= {length: found for length, found in baselines(result.config).items() if length not in baseline}
    header = [
        "model",
        "seeds",
        *(f"L={length}" for length in lengths),
        "mean",
        f"seeds >= {SOLVED} everywhere",
        "constant answer",
    ]
    rows, notes = [], []
    for label, runs in train.by_label(results).items():
        constants = [constant_answer(run, baseline) for run in runs]
        zeros = [zero_as_constant(run, baseline) for run in runs]
        per_length = [[run.final.scores[length] for run in runs if length in run.final.scores] for length in lengths]
        cells = [spread(values) if values else "–" for values in per_length]
        solved = sum(min(run.final.scores.values()) >= SOLVED for run in runs)
        constant = ", ".join(
            f"seed {run.config.seed}: class {answer}"
            if answer is not None
            else f"seed {run.config.seed}: 0, as every constant answer"
            for run, answer, zero in zip(runs, constants, zeros)
            if answer is not None or zero
        )
        paper = reference.get(label) if reference else None
        rows.append(
            [
                label,
                str(len(runs)),
                *cells,
                spread([run.final.mean() for run in runs]),
                f"{solved} of {len(runs)}",
                constant or "none",
            ]
            + ([paper or ""] if reference is not None else [])
        )
        if paper and not paper.startswith(NOT_IN_PAPER):
            notes.append(
                f"- {label}: paper {paper}. Ours over {len(runs)} seed{'s' * (len(runs) > 1)}: "
                f"{_agreement(runs, constants, zeros, lengths)}."
            )
    extra = [""] if reference is not None else []
    rows.append(
        [
            "majority class (best constant answer)",
            "–",
            *(f"{baseline[length].majority:.3f}" for length in lengths),
            f"{statistics.mean(baseline[length].majority for length in lengths):.3f}",
            "–",
            "–",
        ]
        + extra
    )
    rows.append(["chance", "–", *("0" for _ in lengths), "0", "–", "–"] + extra)
    if reference is not None:
        header.append("paper")
    intro = (
        f"{metric} per test length, median [min, max] over seeds; the last two rows score without reading the input."
    )
    return "\n".join([intro, "", train.markdown_table(header, rows), *([""] + notes if notes else [])])
