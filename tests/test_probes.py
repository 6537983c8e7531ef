"""Linear probes of frozen features (Lesson 11): the features read, the fit and its scores, the program values."""

from __future__ import annotations

import pytest
import torch

from lrnn_course import probes, tasks
from lrnn_course.deltaproduct import delta_product
from lrnn_course.models import build_model
from lrnn_course.probes import balanced_accuracy, fit_probe, program_values, score_probe


def tiny_model(kind: str = "deltaproduct", n_layers: int = 2, vocab: int = 7, **options):
    torch.manual_seed(2)
    if kind in ("deltaproduct", "deltanet"):
        options = {"n_heads": 2, **options}
    return build_model(kind, vocab, 3, 8, n_layers, True, **options)


def test_hidden_states_are_what_the_head_reads():
    model = tiny_model()
    tokens = torch.randint(0, 7, (2, 10))
    states = probes.hidden_states(model, tokens)
    assert states.shape == (2, 10, 8) and not states.requires_grad
    with torch.no_grad():
        assert torch.allclose(model.head(states), model(tokens), atol=1e-6)


def layer_inputs(model, tokens) -> list[torch.Tensor]:
    """What every layer reads, captured by hooks on a plain forward pass."""
    captured = []
    hooks = [layer.register_forward_hook(lambda m, inputs, out: captured.append(inputs[0])) for layer in model.layers]
    with torch.no_grad():
        model(tokens)
    for hook in hooks:
        hook.remove()
    return captured


def test_recurrent_states_are_the_delta_product_states_of_every_prefix():
    model = tiny_model(n_householder=2, gated=True)
    tokens = torch.randint(0, 7, (3, 6))
    states = probes.recurrent_states(model, tokens)
    per_layer = 2 * 4 * 4  # heads x D_k x D_v (d_model 8 over 2 heads)
    assert states.shape == (3, 6, 2 * per_layer) and states.dtype == torch.float64
    for layer, x in enumerate(layer_inputs(model, tokens)):
        with torch.no_grad():
            q, k, v, beta, alpha = model.layers[layer].recurrence_inputs(x)
            for t in range(6):
                prefix = slice(0, t + 1)
                _, state = delta_product(q[:, prefix], k[:, prefix], v[:, prefix], beta[:, prefix], alpha[:, prefix])
                columns = slice(layer * per_layer, (layer + 1) * per_layer)
                assert torch.allclose(states[:, t, columns], state.double().flatten(1), atol=1e-5)
    assert torch.equal(probes.recurrent_states(model, tokens, layers=[1]), states[..., per_layer:])
    assert torch.equal(probes.features(model, tokens, "states"), states)
    assert torch.equal(probes.features(model, tokens, "outputs"), probes.hidden_states(model, tokens))


def test_states_need_a_recurrent_layer_and_outputs_do_not():
    lstm = tiny_model("lstm", n_layers=1)
    tokens = torch.randint(0, 7, (2, 5))
    with pytest.raises(TypeError, match="LSTMLayer.*'outputs'"):
        probes.features(lstm, tokens, "states")
    assert probes.features(lstm, tokens, "outputs").shape == (2, 5, 8)
    model = tiny_model()
    with pytest.raises(ValueError, match="kind"):
        probes.features(model, tokens, "weights")
    with pytest.raises(ValueError, match="layers"):
        probes.recurrent_states(model, tokens, layers=[2])
    with pytest.raises(ValueError, match="tokens must lie"):
        probes.recurrent_states(model, tokens + 7)


def test_the_probe_recovers_a_planted_linear_rule():
    generator = torch.Generator().manual_seed(3)
    features = torch.randn(3000, 6, generator=generator) * 3 + 1
    rule = torch.randn(6, 3, generator=generator)
    scores = features @ rule
    top2 = scores.topk(2, dim=1).values
    features = features[top2[:, 0] - top2[:, 1] > 3.0]  # a margin, so that a fitted rule can be exact
    labels = (features @ rule).argmax(dim=1)
    assert len(labels) > 1000 and len(labels.unique()) == 3
    half = len(labels) // 2
    fitted = fit_probe(features[:half], labels[:half], 3, steps=500, weight_decay=0.0)
    assert torch.equal(fitted.predict(features[:half]), labels[:half])
    assert torch.equal(fitted.predict(features[half:]), labels[half:])
    assert balanced_accuracy(fitted.predict(features[half:]), labels[half:]) == 1.0


def test_balanced_accuracy_is_the_mean_recall_of_the_classes_present():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 3])
    predicted = torch.tensor([0, 0, 0, 1, 1, 0, 0])
    assert balanced_accuracy(predicted, labels) == pytest.approx((3 / 4 + 1 / 2 + 0) / 3, abs=1e-15)


def test_the_probe_scores_the_majority_on_noise():
    generator = torch.Generator().manual_seed(4)
    features = torch.randn(4000, 8, generator=generator)
    labels = (torch.rand(4000, generator=generator) < 0.2).long()  # class 0 on about 80%
    result = score_probe(features[:2000], labels[:2000], features[2000:], labels[2000:], 3, quantity="noise")
    held_out = labels[2000:]
    assert result.accuracy == result.majority_baseline == (held_out == 0).double().mean().item()
    assert result.balanced_accuracy == 0.5 == result.constant_balanced_accuracy
    assert (result.n_positions, result.n_train_positions, result.n_classes, result.classes_present) == (
        2000,
        2000,
        3,
        2,
    )
    assert result.quantity == "noise"


def test_a_balanced_fit_finds_the_rare_class_that_plain_cross_entropy_gives_up():
    generator = torch.Generator().manual_seed(9)
    labels = (torch.rand(40000, generator=generator) < 0.1).long()  # class 1 on about 10%
    features = labels[:, None].double() + torch.randn(40000, 1, generator=generator, dtype=torch.float64)
    fit, score = slice(0, 20000), slice(20000, None)
    plain = score_probe(features[fit], labels[fit], features[score], labels[score], 2)
    balanced = score_probe(features[fit], labels[fit], features[score], labels[score], 2, balanced=True)
    # Two unit Gaussians one apart: the balanced rule's threshold is 1/2, each recall Φ(1/2) = 0.69.
    assert balanced.balanced_accuracy == pytest.approx(0.69, abs=0.02)
    assert plain.balanced_accuracy < 0.56 and plain.accuracy > balanced.accuracy


def test_principal_components_keep_the_planted_subspace():
    generator = torch.Generator().manual_seed(10)
    loadings = torch.randn(3, 40, generator=generator, dtype=torch.float64)
    fit = torch.randn(500, 3, generator=generator, dtype=torch.float64) @ loadings
    score = torch.randn(200, 3, generator=generator, dtype=torch.float64) @ loadings
    fit_reduced, score_reduced = probes.principal_components(fit, score, 3)
    assert fit_reduced.shape == (500, 3) and score_reduced.shape == (200, 3)
    mean, scale = fit.mean(dim=0), fit.std(dim=0)
    for original, reduced in (((fit - mean) / scale, fit_reduced), ((score - mean) / scale, score_reduced)):
        # rank 3: the projection onto the top 3 directions loses nothing (distances and norms are kept)
        assert torch.allclose(reduced @ reduced.T, original @ original.T, atol=1e-8)
    _, _, right = torch.linalg.svd((fit - mean) / scale, full_matrices=False)
    assert torch.allclose(fit_reduced.abs(), (((fit - mean) / scale) @ right[:3].T).abs(), atol=1e-8)
    wide, _ = probes.principal_components(fit, score, 50)
    assert torch.allclose(wide, (fit - mean) / scale)  # more components than columns: standardised only


def python_values(task: tasks.ProgramTask, row: list[int], n_statements: int) -> list[list[int]]:
    """The variables after each statement, by a plain loop over the statement table."""
    values, after = [0] * task.n_variables, []
    for token in row[:n_statements]:
        kind, target, operand = task.statements[token - 1]
        if kind == tasks.SET:
            values[target] = operand
        elif kind == tasks.COPY:
            values[target] = values[operand]
        elif kind == tasks.SWAP:
            values[target], values[operand] = values[operand], values[target]
        else:
            values[target] = (values[target] + operand) % task.modulus
        after.append(list(values))
    return after


def test_program_values_agree_with_a_python_loop():
    task = tasks.PROGRAM_TASKS["code"]
    batch = task(40, 5, 14, torch.Generator().manual_seed(5))
    values = program_values(task, batch)
    assert values.shape == (40, 14, 3)
    for row, length in zip(range(40), batch.lengths.tolist()):
        expected = python_values(task, batch.tokens[row].tolist(), length - 2)
        assert values[row, : length - 2].tolist() == expected
        assert (values[row, length - 2 :] == probes.IGNORED).all()
        answer = int(batch.targets[row, length - 1]) - task.answer_offset
        queried = int(batch.tokens[row, length - 2]) - task.query_offset
        assert values[row, length - 3, queried] == answer  # the last statement's values answer the query
    calls = []

    def counting(*arguments):
        calls.append(arguments[0].shape[1])
        return tasks.interpret(*arguments)

    assert torch.equal(program_values("code", batch, counting), values) and calls == list(range(1, 13))
    with pytest.raises(ValueError, match="not of 'code_swaps'"):
        program_values("code_swaps", batch)


def test_a_probe_reads_the_values_from_a_hand_set_delta_rule_that_swaps_rows():
    """Variable x's value c as row x of S = one-hot(c): a set writes the row (β = 1, k = e_x, v = e_c), a swap is
    the reflection in (e_x - e_y)/√2 (β = 2, v = 0), which exchanges rows x and y. A linear probe reads it exactly."""
    task = tasks.PROGRAM_TASKS["code_swaps"]
    k, m = task.n_variables, task.modulus

    def hand_set_states(batch: tasks.Batch) -> torch.Tensor:
        statements = batch.tokens[:, :-2]  # (N, L - 2): equal lengths, so the query and answer are the last two
        kinds, targets, operands = torch.tensor([(0, 0, 0), *task.statements])[statements].unbind(-1)
        basis = torch.eye(k, dtype=torch.float64)
        is_swap = kinds == tasks.SWAP
        keys = torch.where(
            is_swap[..., None],
            (basis[targets] - basis[operands.clamp(max=k - 1)]) / 2**0.5,
            basis[targets],
        )
        values = torch.where(is_swap[..., None], 0.0, torch.eye(m, dtype=torch.float64)[operands.clamp(max=m - 1)])
        betas = torch.where(is_swap, 2.0, 1.0).double()
        n, length = statements.shape
        states = []
        for t in range(length):
            step = slice(0, t + 1)
            _, state = delta_product(
                torch.zeros(n, t + 1, 1, k, dtype=torch.float64),
                keys[:, step, None, None],
                values[:, step, None, None],
                betas[:, step, None, None],
            )  # state (N, 1, k, m)
            states.append(state.flatten(1))
        return torch.stack(states, dim=1)  # (N, L - 2, k m)

    body = slice(k, 10)
    sets = []
    for seed in (6, 7):
        batch = task(60, 12, 12, torch.Generator().manual_seed(seed))
        sets += [hand_set_states(batch)[:, body].flatten(0, 1), program_values(task, batch)[:, body, 0].flatten()]
    result = score_probe(*sets, n_classes=m, steps=300)
    assert result.accuracy == 1.0 == result.balanced_accuracy and result.classes_present == m
    assert result.majority_baseline < 0.5


def test_probe_programs_scores_every_body_statement_of_fresh_programs():
    task = tasks.PROGRAM_TASKS["code_swaps"]
    torch.manual_seed(8)
    model = build_model("deltanet", task.vocab_size, task.n_classes, 8, 1, True, n_heads=2)
    result = probes.probe_programs(model, "code_swaps", 10, 9, variable=1, steps=10, seed=3)
    assert (result.n_positions, result.n_train_positions, result.n_classes) == (10 * 4, 10 * 4, 5)
    assert result.features == "states" and result.quantity == "code_swaps: value of b"
    assert probes.probe_programs(model, task, 10, 9, variable=1, steps=10, seed=3) == result
    assert probes.probe_programs(model, task, 10, 9, kind="outputs", steps=10).features == "outputs"
    with pytest.raises(ValueError, match="variable"):
        probes.probe_programs(model, task, 10, 9, variable=3)
    with pytest.raises(ValueError, match="length"):
        probes.probe_programs(model, task, 10, 5)
    lstm = build_model("lstm", task.vocab_size, task.n_classes, 8, 1, False)
    with pytest.raises(TypeError, match="no recurrent state"):
        probes.probe_programs(lstm, task, 10, 9)
