"""Models and the training harness: shapes, refusals, the schedule, and a short run end to end."""

from __future__ import annotations

import math

import pytest
import torch

from lrnn_course import models, scan, tasks, train


def test_diagonal_layer_is_the_figure_1_recurrence():
    torch.manual_seed(0)
    layer = models.DiagonalRecurrence(5, negative=True).double()
    x = torch.randn(2, 7, 5, dtype=torch.float64)
    gates = torch.tanh(10 * (x @ layer.gate_proj.weight.T + layer.gate_proj.bias))
    drive = (x @ layer.input_proj.weight.T + layer.input_proj.bias) * x
    assert torch.allclose(layer(x), scan.sequential_scan(gates, drive), atol=1e-12)


@pytest.mark.parametrize("negative,low,high", [(True, -1.0, 1.0), (False, 0.0, 1.0)])
def test_diagonal_gates_span_their_range(negative, low, high):
    layer = models.DiagonalRecurrence(4, negative=negative)
    gates = layer.gates(100 * torch.randn(1, 500, 4))
    assert gates.min().item() == pytest.approx(low, abs=1e-6) and gates.max().item() == pytest.approx(high, abs=1e-6)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_models_score_every_position_and_refuse_bad_tokens(name):
    torch.manual_seed(0)
    model = models.build_model(name, vocab_size=3, n_classes=2, d_model=8, n_layers=2)
    assert model(torch.randint(3, (4, 11))).shape == (4, 11, 2)
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        model(torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match="LongTensor of shape"):
        model(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="LongTensor of shape"):
        model(torch.zeros(5, dtype=torch.long))


def test_first_layer_input_is_the_normalised_embedding_of_each_token():
    torch.manual_seed(0)
    model = models.build_model("deltanet", vocab_size=4, n_classes=2, d_model=8, n_layers=2)
    expected = model.norms[0](model.embedding(torch.tensor([3, 1])))
    assert torch.equal(model.first_layer_input([3, 1]), expected)
    with pytest.raises(ValueError, match=r"ids in \[0, 3\]"):
        model.first_layer_input([4])


def test_unknown_model_or_task_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown task 'parityy'; choose one of 'parity'"):
        train.TrainConfig(task="parityy")
    with pytest.raises(ValueError, match="unknown model 'gru'"):
        train.TrainConfig(model="gru")
    with pytest.raises(ValueError, match="warmup_steps"):
        train.TrainConfig(steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="train_lengths"):
        train.TrainConfig(train_lengths=(0, 5))


def test_schedule_warms_up_linearly_then_decays_to_min_lr():
    config = train.TrainConfig(steps=110, warmup_steps=10, lr=1e-3, min_lr=1e-5)
    factor = train.learning_rate_factor(config)
    assert [factor(step) for step in range(3)] == pytest.approx([0.1, 0.2, 0.3])
    assert factor(10) == pytest.approx(1.0)
    assert factor(60) == pytest.approx(0.01 + 0.99 * 0.5)
    assert factor(110) == pytest.approx(0.01)


def test_a_short_run_records_evaluations_and_a_table():
    config = train.TrainConfig(
        steps=6, eval_every=3, batch_size=8, eval_samples=16, test_lengths=(41, 64), device="cpu"
    )
    result = train.train(config, progress=False)
    assert [e.step for e in result.history] == [3, 6]
    assert set(result.final.scores) == {41, 64}
    assert all(-1.0 <= value <= 1.0 for value in result.final.scores.values())
    assert all(math.isfinite(e.loss) for e in result.history)
    header, rule, row = train.results_table([result]).splitlines()
    assert header.split(" | ")[-3:] == ["L=41", "L=64", "mean |"]
    assert row.startswith("| diagonal [-1,1] | 0 | 6 |") and row.endswith(f"| {result.final.mean():.3f} |")


def test_runs_side_by_side_come_back_in_order_with_the_same_trained_models():
    base = train.TrainConfig(steps=12, eval_every=6, batch_size=16, eval_samples=16, test_lengths=(41,), device="cpu")
    configs = train.variants(base, negative=[False, True], seed=[0, 1])
    one_after_another = train.train_all(configs, progress=False)
    side_by_side = train.train_all(configs, progress=False, jobs=2)
    assert [result.config for result in side_by_side] == configs
    for sequential, parallel in zip(one_after_another, side_by_side):
        assert parallel.losses == pytest.approx(sequential.losses, rel=1e-5)
        assert parallel.losses[-1] != parallel.losses[0], "the loss must move, or the comparison proves nothing"
        for name, weight in sequential.model.state_dict().items():
            torch.testing.assert_close(parallel.model.state_dict()[name], weight, rtol=1e-5, atol=1e-6, msg=name)
    with pytest.raises(ValueError, match="jobs"):
        train.train_all(configs, jobs=0)


def test_max_seconds_stops_a_run_early():
    config = train.TrainConfig(
        steps=10_000, batch_size=4, eval_samples=4, test_lengths=(41,), max_seconds=0.05, device="cpu"
    )
    result = train.train(config, progress=False)
    assert result.steps_done < 10_000


def test_scaled_accuracy_of_a_perfect_model_is_one():
    batch = tasks.parity(32, 5, 9, torch.Generator().manual_seed(0))

    class Oracle(torch.nn.Module):
        def forward(self, tokens):
            answers = (batch.targets - batch.answer_offset).clamp(min=0)  # other positions hold padding
            return torch.nn.functional.one_hot(answers, 2).float()

    assert train.scaled_accuracy_on(Oracle(), batch) == 1.0


def test_variants_cover_every_combination():
    configs = train.variants(train.TrainConfig(), negative=[False, True], seed=[0, 1, 2])
    assert sorted((c.negative, c.seed) for c in configs) == [(n, s) for n in (False, True) for s in range(3)]


def test_presets_hold_the_papers_settings_and_refuse_unknown_names():
    figure1 = train.preset("figure1", "full")
    assert (figure1.d_model, figure1.n_layers, figure1.batch_size, figure1.lr, figure1.steps) == (
        10,
        1,
        256,
        1e-3,
        20_000,
    )
    assert figure1.train_lengths == (3, 40) and dict(figure1.model_options) == {"residual": False}
    assert train.preset("figure1", "small", seed=2).seed == 2
    with pytest.raises(ValueError, match="unknown preset"):
        train.preset("figure2")
    with pytest.raises(ValueError, match="has no size 'small'"):
        train.preset("mamba_parity", "small")
    assert set(train.PAPER) == set(train.PRESETS)


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_baselines_are_causal(name):
    torch.manual_seed(0)
    model = models.build_model(name, vocab_size=5, n_classes=3, d_model=8, n_layers=2, negative=False)
    tokens = torch.randint(5, (2, 9))
    changed = tokens.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 5
    assert torch.allclose(model(tokens)[:, :6], model(changed)[:, :6], atol=1e-6)
    assert not torch.allclose(model(tokens)[:, 6:], model(changed)[:, 6:])


def test_token_loss_is_the_mean_cross_entropy_over_scored_positions():
    batch = tasks.WORD_PROBLEMS["S3"](4, 3, 6, torch.Generator().manual_seed(0))
    logits = torch.randn(*batch.tokens.shape, 6, generator=torch.Generator().manual_seed(1))
    terms = [
        torch.nn.functional.cross_entropy(logits[i, t], batch.targets[i, t])
        for i in range(4)
        for t in range(batch.tokens.shape[1])
        if batch.targets[i, t] >= 0
    ]
    assert train.token_loss(logits, batch).item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-6)


def test_a_perfect_model_of_a_word_problem_scores_one_and_a_wrong_one_zero():
    batch = tasks.WORD_PROBLEMS["S3"](16, 8, 8, torch.Generator().manual_seed(0))

    class Oracle(torch.nn.Module):
        def __init__(self, shift):
            super().__init__()
            self.shift = shift

        def forward(self, tokens):
            return torch.nn.functional.one_hot((batch.targets.clamp(min=0) + self.shift) % 6, 6).float()

    assert train.score_on(Oracle(0), batch) == 1.0 and train.score_on(Oracle(1), batch) == 0.0


def test_a_word_problem_trains_with_the_sequence_accuracy_metric():
    config = train.TrainConfig(
        task="S3",
        model="deltaproduct",
        d_model=8,
        model_options={"n_householder": 2},
        steps=4,
        eval_every=2,
        batch_size=8,
        eval_samples=8,
        train_lengths=(6, 6),
        test_lengths=(6, 12),
        device="cpu",
    )
    result = train.train(config, progress=False)
    assert config.metric == "sequence accuracy" and config.label == "deltaproduct n_h=2 [-1,1]"
    assert len(result.losses) == 4 and [e.step for e in result.history] == [2, 4]
    assert result.history[0].loss == pytest.approx(sum(result.losses[:2]) / 2)
    assert "sequence accuracy" in result.summary()


def test_layers_and_models_reject_wrong_inputs():
    with pytest.raises(ValueError, match="sharpness must be finite"):
        models.DiagonalRecurrence(4, sharpness=float("nan"))
    with pytest.raises(TypeError, match="sharpness must be a Python int or float"):
        models.DiagonalRecurrence(4, sharpness="10")
    for layer in (models.LSTMLayer(4), models.CausalTransformerLayer(4, 2)):
        with pytest.raises(ValueError, match=r"x must have 3 dimensions \(batch, T, d_model\)"):
            layer(torch.randn(5, 4))
        with pytest.raises(ValueError, match="x must have 4 features"):
            layer(torch.randn(1, 5, 3))
    model = models.build_model("diagonal", vocab_size=3, n_classes=2, d_model=4)
    with pytest.raises(TypeError, match="tokens must be integer ids"):
        model.first_layer_input([0.5])


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"lr": float("inf")}, ValueError, "lr must be finite"),
        ({"weight_decay": float("nan")}, ValueError, "weight_decay must be finite"),
        ({"clip_norm": float("nan")}, ValueError, "clip_norm must be finite"),
        ({"max_seconds": float("nan")}, ValueError, "max_seconds must be finite"),
        ({"lr": "0.001"}, TypeError, "lr must be a Python int or float"),
        ({"train_lengths": (2.5, 4)}, TypeError, "train_lengths must be a tuple of ints"),
        ({"train_lengths": (2, 4, 5)}, ValueError, r"train_lengths must be \(low, high\)"),
        ({"test_lengths": (41.5,)}, TypeError, "test_lengths must be a tuple of ints"),
        ({"seed": "a"}, TypeError, "seed must be an int"),
        ({"device": "gpu"}, ValueError, "device must be one of 'auto', 'cpu', 'cuda'"),
    ],
)
def test_train_config_rejects_non_finite_and_mistyped_settings(changes, error, message):
    with pytest.raises(error, match=message):
        train.TrainConfig(**changes)


def test_losses_name_a_batch_that_is_not_one():
    with pytest.raises(TypeError, match="batch must be a tasks.Batch, got int"):
        train.loss_of(torch.randn(2, 4, 2), 3)
    with pytest.raises(TypeError, match="batch must be a tasks.Batch, got int"):
        train.token_loss(torch.randn(2, 4, 2), 3)


def test_figure1_gates_refuses_non_finite_weights_bad_sharpness_and_mixed_dtypes() -> None:
    x, weight, bias = torch.randn(2, 3), torch.randn(4, 3), torch.randn(4)
    with pytest.raises(ValueError, match=r"weight has 12 non-finite value\(s\)"):
        models.figure1_gates(x, weight * float("nan"), bias, True)
    with pytest.raises(ValueError, match=r"bias has 4 non-finite value\(s\)"):
        models.figure1_gates(x, weight, bias * float("nan"), True)
    with pytest.raises(ValueError, match="sharpness must be finite, got nan"):
        models.figure1_gates(x, weight, bias, True, float("nan"))
    with pytest.raises(TypeError, match="sharpness must be a Python int or float, got str"):
        models.figure1_gates(x, weight, bias, True, "10")
    with pytest.raises(TypeError, match="weight has dtype torch.float64 on cpu, but x has dtype torch.float32"):
        models.figure1_gates(x, weight.double(), bias, True)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast mixes dtypes on purpose
        assert models.figure1_gates(x.bfloat16(), weight, bias, False).shape == (2, 4)


def test_answer_loss_refuses_anything_but_a_batch() -> None:
    with pytest.raises(TypeError, match="batch must be a tasks.Batch, got dict"):
        train.answer_loss(torch.randn(2, 3, 4), {"tokens": torch.zeros(2, 3, dtype=torch.long)})
