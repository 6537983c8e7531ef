"""Baselines, seed spreads and verdicts: checked against counts done by hand on the test sets."""

import dataclasses

import pytest
import torch

from lrnn_course import evidence, train


def run(config: train.TrainConfig, scores: dict[int, float], seed: int = 0) -> train.TrainResult:
    """A finished run with these final scores (no model), as ``experiments`` reads one back."""
    return train.TrainResult(
        dataclasses.replace(config, seed=seed), None, [train.Evaluation(100, 1.0, 0.1, 1.0, scores)], "cpu", [0.1]
    )


CONFIG = train.TrainConfig(test_lengths=(41, 64), eval_samples=256)


def test_the_baselines_are_the_class_balance_of_each_test_set():
    _, per_length = train.evaluation_batches(CONFIG, torch.device("cpu"))
    found = evidence.baselines(CONFIG)
    for length, batch in per_length.items():
        answers = batch.targets[torch.arange(len(batch.targets)), batch.answer_positions] - batch.answer_offset
        odd = answers.float().mean().item()  # the fraction of rows whose answer is class 1
        # always answering 0 is right on the even rows: accuracy 1 - odd, scaled 2 (1 - odd) - 1 = 1 - 2 odd
        assert found[length].constant == pytest.approx((1 - 2 * odd, 2 * odd - 1), abs=1e-12)
        assert found[length].majority == pytest.approx(abs(1 - 2 * odd), abs=1e-12)
        assert odd != 0.5, "a balanced test set would make both constant answers 0 and the test weaker"


def test_a_run_that_scores_like_a_constant_answer_is_named_and_a_learned_one_is_not():
    found = evidence.baselines(CONFIG)
    always_one = {length: baseline.constant[1] for length, baseline in found.items()}
    mixed = {41: found[41].constant[1], 64: found[64].constant[0]}  # class 1 at one length, class 0 at the other
    assert evidence.constant_answer(run(CONFIG, always_one), found) == 1
    assert evidence.constant_answer(run(CONFIG, mixed), found) is None
    assert evidence.constant_answer(run(CONFIG, {41: 1.0, 64: 1.0}), found) is None


def test_spread_is_the_median_and_range_over_seeds():
    assert evidence.spread([0.25]) == "0.250"
    assert evidence.spread([1.0, 0.0, 0.5]) == "0.500 [0.000, 1.000]"
    assert evidence.spread([1.0, 1.0]) == "1.000 (all 2)"
    with pytest.raises(ValueError, match="at least one"):
        evidence.spread([])


def test_a_verdict_counts_the_seeds_it_holds_on():
    assert evidence.verdict("reaches >= 0.95", [1.0, 0.2, 0.99], lambda score: score >= 0.95) == (
        "FAIL on 2 of 3 seeds: reaches >= 0.95 (measured 1.000, 0.200, 0.990)"
    )
    assert evidence.verdict("reaches >= 0.95", [1.0, 0.2, 0.99], lambda score: score >= 0.95, needed=2).startswith(
        "PASS on 2 of 3 seeds"
    )
    assert (
        evidence.verdict("stays <= 0.2", [0.1], lambda score: score <= 0.2)
        == "PASS on 1 of 1 seed: stays <= 0.2 (measured 0.100)"
    )


def test_the_table_puts_each_model_beside_its_baselines_and_explains_a_paper_number():
    found = evidence.baselines(CONFIG)
    constant = {length: baseline.constant[0] for length, baseline in found.items()}
    negative, positive = dataclasses.replace(CONFIG, negative=True), dataclasses.replace(CONFIG, negative=False)
    results = [
        run(negative, {41: 1.0, 64: 1.0}, seed=0),
        run(negative, {41: 1.0, 64: 0.5}, seed=1),
        run(positive, constant, seed=0),
        run(positive, constant, seed=1),
    ]
    table = evidence.evidence_table(results, reference={"diagonal [0,1]": "0.017 (Table 3)"})
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert rows["diagonal [-1,1]"].startswith(
        "| diagonal [-1,1] | 2 | 1.000 (all 2) | 0.750 [0.500, 1.000] | 0.875 [0.750, 1.000] | 1 of 2 | none |"
    )
    assert "seed 0: class 0, seed 1: class 0" in rows["diagonal [0,1]"] and rows["diagonal [0,1]"].endswith(
        "| 0.017 (Table 3) |"
    )
    assert rows["majority class (best constant answer)"].startswith(
        f"| majority class (best constant answer) | – | {found[41].majority:.3f} |"
    )
    assert "chance" in rows
    note = table.splitlines()[-1]
    assert note.startswith("- diagonal [0,1]: paper 0.017 (Table 3).") and "neither learned the task" in note
    with pytest.raises(ValueError, match="at least one"):
        evidence.evidence_table([])


def test_a_model_the_paper_did_not_run_shows_so_and_gets_no_note_on_agreeing():
    solved = run(dataclasses.replace(CONFIG, negative=True), {41: 1.0, 64: 1.0})
    reference = {"diagonal [-1,1]": f"{evidence.NOT_IN_PAPER}; Theorem 2 predicts failure"}
    table = evidence.evidence_table([solved], reference=reference)
    assert table.splitlines()[-1].startswith("| chance |"), "no note under the table: nothing to agree with"
    assert f"| {evidence.NOT_IN_PAPER}; Theorem 2 predicts failure |" in table
    with_number = evidence.evidence_table([solved], reference={"diagonal [-1,1]": "1.0 (Fig. 1)"})
    assert with_number.splitlines()[-1].startswith("- diagonal [-1,1]: paper 1.0 (Fig. 1).")


def test_a_word_problem_baseline_is_sequence_accuracy_of_a_constant_answer():
    config = train.TrainConfig(
        task="S3", model="deltaproduct", train_lengths=(8, 8), test_lengths=(1, 8), eval_samples=600
    )
    found = evidence.baselines(config)
    # at length 1 a constant answer is right where the one element is that answer: about 1 in 6 of the rows
    assert all(abs(score - 1 / 6) < 0.05 for score in found[1].constant) and sum(found[1].constant) == pytest.approx(
        1.0
    )
    assert max(found[8].constant) < 0.01  # one answer right at all 8 prefixes: (1/6)^8 of the rows
