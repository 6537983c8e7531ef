"""Lesson 11's byte-level language model: the corpus, bits per byte and its baselines, the probe, the experiment."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import socket
import sysconfig
from pathlib import Path

import pytest
import torch

from lrnn_course import language, probes
from lrnn_course.language import (
    LMConfig,
    bits_per_byte,
    bracket_depth,
    quote_parity,
    stdlib_corpus,
)

TINY = {"max_train_bytes": 40_000, "max_validation_bytes": 10_000}
# The documented exclusions, restated: a test that imported them would agree with any list.
NOT_READ = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test", "pydoc_data", "encodings"}


def listed_independently() -> tuple[Path, list[str]]:
    """The stdlib folder and its .py files outside the excluded folders, walked here without the module."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if name not in NOT_READ]
        found += [Path(folder, name).relative_to(root).as_posix() for name in names if name.endswith(".py")]
    return root, sorted(found)


def digest(relative: str) -> str:
    return hashlib.sha256(relative.encode()).hexdigest()


def says_validation(relative: str) -> bool:
    return int(digest(relative)[:8], 16) % 10 == 0


def tiny_config(**changes) -> LMConfig:
    settings = dict(d_model=16, n_layers=1, context=16, batch_size=4, steps=3, warmup_steps=0, eval_every=2)
    return LMConfig(**{**settings, "eval_windows": 4, "device": "cpu", **changes})


def test_the_corpus_is_the_same_on_every_call():
    assert stdlib_corpus(**TINY) == stdlib_corpus(**TINY)


def test_the_split_is_by_file_and_the_validation_files_are_those_the_hash_picks():
    root, files = listed_independently()
    corpus = stdlib_corpus(max_train_bytes=1000, max_validation_bytes=10**9)  # every validation file fits
    assert not set(corpus.train_files) & set(corpus.validation_files)
    assert set(corpus.validation_files) == {relative for relative in files if says_validation(relative)}
    assert not any(says_validation(relative) for relative in corpus.train_files)
    assert corpus.validation_files_available == len(corpus.validation_files)
    assert corpus.train_files_available + corpus.validation_files_available == len(files)
    assert not any(set(Path(relative).parts) & NOT_READ for relative in corpus.train_files + corpus.validation_files)
    assert corpus.validation_bytes_available == len(corpus.validation)
    assert corpus.validation == b"".join((root / relative).read_bytes() for relative in corpus.validation_files)


def test_the_caps_hold_and_the_bytes_are_the_files_bytes_in_digest_order():
    root, files = listed_independently()
    corpus = stdlib_corpus(**TINY)
    assert len(corpus.train) == TINY["max_train_bytes"] and len(corpus.validation) == TINY["max_validation_bytes"]
    for split, cap in (("train", TINY["max_train_bytes"]), ("validation", TINY["max_validation_bytes"])):
        chosen = getattr(corpus, f"{split}_files")
        assert list(chosen) == sorted(chosen, key=digest)
        # the files of the split with the smallest digests, read directly and cut at the cap
        wanted = sorted(
            (relative for relative in files if says_validation(relative) == (split == "validation")), key=digest
        )
        assert list(chosen) == wanted[: len(chosen)]
        direct = b"".join((root / relative).read_bytes() for relative in chosen)
        assert getattr(corpus, split) == direct[:cap]
        assert len(direct) >= cap > len(direct) - len((root / chosen[-1]).read_bytes())
    first = corpus.train_files[0]
    assert corpus.train.startswith((root / first).read_bytes())
    assert corpus.tokens("train")[:5].tolist() == list(corpus.train[:5])


def test_the_corpus_records_its_origin_and_licence():
    facts = stdlib_corpus(**TINY).facts()
    assert facts["stdlib"] == sysconfig.get_paths()["stdlib"]
    assert facts["licence_found"] == (Path(facts["stdlib"]) / "LICENSE.txt").is_file()
    assert "PSF" in facts["licence"]
    assert facts["train_bytes"] == TINY["max_train_bytes"] and facts["train_files"] >= 1
    json.dumps(facts)


def test_nothing_is_downloaded(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("the network is blocked in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(OSError, match="blocked"):
        socket.create_connection(("example.org", 80))
    corpus = stdlib_corpus(**TINY)
    result = language.train_lm(tiny_config(), corpus, progress=False)
    assert [evaluation.step for evaluation in result.history] == [2, 3]
    assert all(math.isfinite(evaluation.validation_bits) for evaluation in result.history)


def test_random_windows_are_contiguous_slices():
    data = torch.arange(100)
    windows = language.random_windows(data, 50, 7, torch.Generator().manual_seed(0))
    assert windows.shape == (50, 7)
    assert torch.equal(windows - windows[:, :1], torch.arange(7).expand(50, 7))
    assert int(windows.max()) <= 99 and int(windows.min()) >= 0
    with pytest.raises(ValueError, match="no window"):
        language.random_windows(data[:5], 1, 7, torch.Generator())


def test_a_model_with_uniform_logits_scores_eight_bits_per_byte():
    torch.manual_seed(0)
    model = language.build_lm(tiny_config())
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    windows = torch.randint(0, 256, (5, 9))
    assert bits_per_byte(model, windows, batch_size=2) == pytest.approx(8.0, abs=1e-12)


def test_cross_entropy_bits_of_the_worked_example_and_its_gradient():
    # Position 0: uniform over 4, 2 bits; position 1: p(0) = 3 / (3 + 1 + 1 + 1) = 1/2, 1 bit.
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [math.log(3), 0.0, 0.0, 0.0]], dtype=torch.float64)
    targets = torch.tensor([2, 0])
    leaf = logits.clone().requires_grad_()
    bits = language.cross_entropy_bits(leaf, targets)
    assert bits.shape == () and bits.dtype == torch.float64
    assert bits.item() == pytest.approx(1.5, abs=1e-12)
    bits.backward()
    # d/dx of -log₂ softmax(x)_t is (softmax(x) - e_t) / ln 2, and the mean divides by the 2 positions.
    probabilities = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.5, 1 / 6, 1 / 6, 1 / 6]], dtype=torch.float64)
    expected = (probabilities - torch.eye(4, dtype=torch.float64)[targets]) / (2 * math.log(2))
    assert torch.allclose(leaf.grad, expected, atol=1e-12, rtol=0)
    as_float32 = language.cross_entropy_bits(logits.float()[None], targets[None])  # leading shape (1, 2)
    assert as_float32.dtype == torch.float32 and as_float32.item() == pytest.approx(1.5, rel=1e-6)


def test_cross_entropy_bits_stays_finite_for_logits_whose_exp_overflows():
    # p(1) = e^0 / (e^10000 + e^0): -log₂ p = (10000 + log(1 + e^-10000)) / ln 2 = 10000 / ln 2 in float32.
    logits, targets = torch.tensor([[1e4, 0.0], [1e4, 1e4]]), torch.tensor([1, 0])
    expected = (1e4 / math.log(2) + 1.0) / 2  # and 1 bit for the tie
    assert language.cross_entropy_bits(logits, targets).item() == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_bits_refuses_inputs_it_cannot_score():
    logits, targets = torch.zeros(3, 4), torch.tensor([0, 1, 3])
    with pytest.raises(TypeError, match="float tensor"):
        language.cross_entropy_bits(torch.zeros(3, 4, dtype=torch.long), targets)
    with pytest.raises(TypeError, match="torch.long"):
        language.cross_entropy_bits(logits, targets.float())
    with pytest.raises(ValueError, match="1 dimensions"):
        language.cross_entropy_bits(logits, targets[None])
    with pytest.raises(ValueError, match="the logits' shape without V"):
        language.cross_entropy_bits(logits, targets[:2])
    with pytest.raises(ValueError, match=r"ids in \[0, 3\]"):
        language.cross_entropy_bits(logits, torch.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match="no position"):
        language.cross_entropy_bits(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))


def test_bits_per_byte_is_the_mean_cross_entropy_in_bits():
    torch.manual_seed(1)
    model = language.build_lm(tiny_config()).double()
    windows = torch.randint(0, 256, (3, 6))
    with torch.no_grad():
        log_p = torch.log_softmax(model(windows[:, :-1]), dim=-1)
    expected = -sum(
        log_p[row, position, windows[row, position + 1]].item() for row in range(3) for position in range(5)
    ) / (15 * math.log(2))
    assert bits_per_byte(model, windows) == pytest.approx(expected, rel=1e-12)


def test_the_unigram_baseline_on_a_hand_made_corpus():
    corpus = stdlib_corpus(**TINY)
    # train and validation with the same frequencies: a 1/2, b 1/4, c 1/4 -> entropy 1.5 bits
    same = dataclasses.replace(corpus, train=b"aabc" * 3, validation=b"abca")
    assert language.unigram_bits_per_byte(same, smoothing=0.0) == pytest.approx(1.5, abs=1e-12)
    # Laplace: p(a) = (2 + 1) / (3 + 256), p(b) = (1 + 1) / (3 + 256)
    laplace = dataclasses.replace(corpus, train=b"aab", validation=b"ab")
    expected = -(math.log2(3 / 259) + math.log2(2 / 259)) / 2
    assert language.unigram_bits_per_byte(laplace) == pytest.approx(expected, abs=1e-12)
    assert language.unigram_bits_per_byte(dataclasses.replace(laplace, validation=b"z"), 0.0) == math.inf


def ids(text: bytes) -> torch.Tensor:
    return torch.tensor([list(text)])


def test_quote_parity_counts_the_double_quotes_read_so_far():
    assert quote_parity(ids(b'a"b"c')).tolist() == [[0, 1, 1, 0, 0]]
    assert quote_parity(ids(b'"""x"')).tolist() == [[1, 0, 1, 1, 0]]  # a docstring opener flips it once
    assert quote_parity(ids(b"'x'")).tolist() == [[0, 0, 0]]  # single quotes are not counted


def test_bracket_depth_counts_open_minus_closed_clipped_to_zero_and_three():
    assert bracket_depth(ids(b"f(a[1], {2})")).tolist() == [[0, 1, 1, 2, 2, 1, 1, 1, 2, 2, 1, 0]]
    assert bracket_depth(ids(b"((((()")).tolist() == [[1, 2, 3, 3, 3, 3]]  # 5 open: 3; 4 open: 3
    assert bracket_depth(ids(b")(")).tolist() == [[0, 0]]  # -1 clipped to 0, then 0


def test_the_probe_result_names_its_baseline():
    corpus = stdlib_corpus(**TINY)
    torch.manual_seed(5)
    model = language.build_lm(tiny_config())
    result = language.probe(model, corpus, "bracket_depth", context=16, windows=8, steps=20)
    assert result.n_positions == 8 * 16 == result.n_train_positions and result.n_classes == 4
    _, scoring = language.probe_windows(corpus, 16, 8)
    labels = bracket_depth(scoring).flatten()
    assert result.majority_baseline == torch.bincount(labels, minlength=4).max().item() / len(labels)
    assert result.classes_present == len(labels.unique()) and result.features == "states"
    both = language.probe(model, corpus, ["quote_parity", "bracket_depth"], context=16, windows=8, steps=20)
    assert both["bracket_depth"] == result and both["quote_parity"].n_classes == 2
    outputs = language.probe(model, corpus, "bracket_depth", context=16, windows=8, steps=20, features="outputs")
    assert outputs.features == "outputs" and outputs.n_positions == result.n_positions
    with pytest.raises(ValueError, match="unknown quantity"):
        language.probe(model, corpus, "indentation")
    with pytest.raises(ValueError, match="kind"):
        language.probe(model, corpus, "quote_parity", features="weights")


def test_the_experiment_probes_the_last_layers_states_on_their_principal_components(monkeypatch):
    corpus = stdlib_corpus(**TINY)
    torch.manual_seed(5)
    model = language.build_lm(tiny_config(n_layers=2))
    seen = []
    real = probes.features

    def recording(model, tokens, kind, layers=None):
        seen.append((kind, layers))
        return real(model, tokens, kind, layers)

    monkeypatch.setattr(probes, "features", recording)
    results = language.probe_all(model, corpus, 16, windows=8)
    assert seen == [("states", [1])] and set(results) == set(language.QUANTITIES)
    fitting, scoring = language.probe_windows(corpus, 16, 8)
    states = real(model, torch.cat([fitting, scoring]), "states", [1]).flatten(0, 1)
    fit_reduced, score_reduced = probes.principal_components(*states.chunk(2), language.PROBE_COMPONENTS)
    fit_labels, score_labels = quote_parity(fitting).flatten(), quote_parity(scoring).flatten()
    expected = probes.score_probe(
        fit_reduced, fit_labels, score_reduced, score_labels, 2, quantity="quote_parity", kind="states", balanced=True
    )
    assert results["quote_parity"] == expected


def test_a_sample_is_reproducible_from_its_generator():
    torch.manual_seed(6)
    model = language.build_lm(tiny_config())
    first = language.sample(model, b"def ", 30, torch.Generator().manual_seed(7))
    again = language.sample(model, b"def ", 30, torch.Generator().manual_seed(7))
    other = language.sample(model, b"def ", 30, torch.Generator().manual_seed(8))
    assert first == again != other
    assert first.startswith("def ")
    with pytest.raises(ValueError, match="temperature"):
        language.sample(model, b"x", 3, torch.Generator(), temperature=0.0)


def test_configs_are_validated_and_pair_the_ranges():
    with pytest.raises(ValueError, match="unknown model"):
        LMConfig(model="lstm")
    with pytest.raises(ValueError, match="warmup_steps"):
        LMConfig(steps=5, warmup_steps=5)
    with pytest.raises(TypeError, match="negative"):
        LMConfig(negative=1)
    configs = language.lm_configs("small", seeds=2, steps=7)
    assert [(config.label, config.seed) for config in configs] == [
        ("deltanet [0,1]", 0),
        ("deltanet [0,1]", 1),
        ("deltanet [-1,1]", 0),
        ("deltanet [-1,1]", 1),
    ]
    assert all(dataclasses.replace(config, negative=True, seed=0) == configs[2] for config in configs)
    assert configs[0].warmup_steps == 0 and configs[0].steps == 7
    assert LMConfig(model="deltaproduct", model_options={"n_householder": 2}).label == "deltaproduct n_h=2 [-1,1]"
    LMConfig(**language.config_record(language.LM_SIZES["full"]))  # the full size is a valid config


def test_the_experiment_writes_a_record_that_reads_back(tmp_path):
    runs = language.run_lm_experiment(
        "small", seeds=1, device="cpu", out_dir=tmp_path, progress=False, steps=2, eval_windows=4
    )
    assert [run.config.label for run in runs] == ["deltanet [0,1]", "deltanet [-1,1]"]
    record, read = language.read_lm_record(tmp_path / "lm-small.json")
    assert (tmp_path / "lm-small.png").is_file()
    assert record["runs_planned"] == 2 and record["corpus"]["python"] == record["python"]
    assert record["baselines"]["uniform_bits"] == 8.0
    assert record["baselines"]["unigram_bits"] == language.unigram_bits_per_byte(
        stdlib_corpus(**language.CORPUS_SIZES["small"])
    )
    for run, back in zip(runs, read):
        assert back.config == run.config and back.result.model is None
        assert back.result.history == run.result.history
        assert back.probes == run.probes and back.untrained_probes == run.untrained_probes
        assert back.samples == run.samples and len(back.samples) == 3
    table = language.lm_table(read, record["baselines"]["unigram_bits"])
    assert table == record["summary"] == language.lm_table(runs, stdlib_corpus(**language.CORPUS_SIZES["small"]))
    assert "| deltanet [-1,1] | 1 |" in table and "| uniform (every byte 1/256) | – | 8.000 |" in table


def test_the_experiment_trains_one_range_when_asked():
    quick = {"seeds": 2, "device": "cpu", "out_dir": None, "progress": False, "steps": 1, "eval_windows": 2}
    negative = language.run_lm_experiment("small", negative=True, **quick)
    assert [(run.config.label, run.config.seed) for run in negative] == [("deltanet [-1,1]", 0), ("deltanet [-1,1]", 1)]
    with pytest.raises(TypeError, match="True, False or None"):
        language.run_lm_experiment("small", negative="yes", **quick)


def test_the_bits_per_byte_plot_has_a_colour_per_model_and_a_line_per_seed():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lrnn_course import viz

    evaluations = [language.LMEvaluation(step, 0.0, 5.0, 6.0 - step) for step in (1, 2)]
    results = [
        language.LMResult(LMConfig(negative=negative, seed=seed), None, evaluations, "cpu")
        for negative in (False, True)
        for seed in (0, 1)
    ]
    ax = viz.plot_bits_per_byte(results, unigram=4.5)
    lines = ax.get_lines()
    assert len(lines) == 5  # 4 runs and the baseline
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color() == lines[3].get_color()
    assert list(lines[4].get_ydata()) == [4.5, 4.5]
    assert [text.get_text() for text in ax.get_legend().get_texts()][:2] == ["deltanet [0,1]", "deltanet [-1,1]"]
    plt.close(ax.figure)


def test_the_committed_report_shows_the_record_or_the_command_that_writes_it(monkeypatch, tmp_path):
    from lrnn_course import experiments

    monkeypatch.setattr(experiments, "COMMITTED", tmp_path)
    assert "`lrnn-course experiment lm --size full --seeds 3" in language.committed_lm_report()
    record = {"command": "c", "gpu": "H100", "runs": [{}], "runs_planned": 6, "summary": "TABLE"}
    (tmp_path / "lm-full.json").write_text(json.dumps(record))
    assert language.committed_lm_report() == (
        "Committed full-size results (`c`, H100; 1 of its 6 runs so far), per model over its seeds:\n\nTABLE"
    )
