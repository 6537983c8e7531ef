"""``threads_for_small_models``: one PyTorch thread for the lessons' small training loops on a CPU, said in one line;
the user's own setting and a GPU left alone; and every lesson that trains calls it before training."""

from __future__ import annotations

import re

import pytest
import torch

import lrnn_course
from lrnn_course import build
from lrnn_course.device import SMALL_MODEL_THREADS, THREAD_SETTINGS, thread_choice, threads_for_small_models

ROOT = build.repo_root()
# What trains, or runs a long loop of tiny operations (the 10 000-step counters of Lessons 05 and 07), in a cell.
SMALL_OPERATION_LOOPS = re.compile(
    r"\b(train\.train|train\.train_all|experiments\.run_experiment|experiments\.train_or_read_back)\(|"
    r"\bCOUNTER_STEPS\b(?!\s*=)"
)
SETS_THREADS = "lrnn_course.threads_for_small_models(device)"


@pytest.fixture
def threads_restored(monkeypatch):
    """Two threads to start from, no thread variable in the environment, and the test's count restored after."""
    for name in THREAD_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_on_a_cpu_it_sets_one_thread_and_says_how_to_undo_it(threads_restored, capsys):
    assert threads_for_small_models(torch.device("cpu")) == SMALL_MODEL_THREADS == 1
    assert torch.get_num_threads() == 1
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1
    assert printed.startswith("PyTorch threads: 1 (was 2), tiny models train faster on one core")
    assert "torch.set_num_threads(2) undoes this" in printed


def test_a_second_call_changes_nothing_and_says_so(threads_restored, capsys):
    threads_for_small_models(torch.device("cpu"))
    capsys.readouterr()
    assert threads_for_small_models(torch.device("cpu")) == 1
    assert (
        capsys.readouterr().out
        == "PyTorch threads: 1, tiny models train faster on one core than split across several\n"
    )


@pytest.mark.parametrize("variable", THREAD_SETTINGS)
def test_a_thread_count_the_user_set_in_the_environment_wins(threads_restored, monkeypatch, capsys, variable):
    monkeypatch.setenv(variable, "2")
    assert threads_for_small_models(torch.device("cpu")) == 2
    assert torch.get_num_threads() == 2
    assert capsys.readouterr().out == f"PyTorch threads: 2, as {variable}=2 asks\n"


def test_an_empty_variable_is_no_setting(threads_restored, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", " ")
    assert threads_for_small_models(torch.device("cpu")) == 1


def test_on_a_gpu_the_threads_are_left_alone(threads_restored, capsys):
    # A torch.device names a GPU without needing one: nothing here touches CUDA.
    assert threads_for_small_models(torch.device("cuda")) == 2
    assert torch.get_num_threads() == 2
    assert capsys.readouterr().out == "PyTorch threads: 2, left as they are on cuda: the GPU does the training\n"


def test_anything_but_a_device_is_refused():
    with pytest.raises(TypeError, match="where must be a torch.device .* got str"):
        thread_choice("cpu")


def test_the_package_exports_it():
    assert lrnn_course.threads_for_small_models is threads_for_small_models


def cell_sources(source_text: str) -> list[str]:
    return re.split(r"^# %%.*$", source_text, flags=re.MULTILINE)


@pytest.mark.parametrize("source", sorted((ROOT / "sources").glob("[0-9K]*.py")), ids=lambda path: path.stem)
def test_every_lesson_that_trains_sets_its_threads_before_training(source):
    # Enforces CONTRIBUTING.md#rule-training-threads
    cells = cell_sources(source.read_text(encoding="utf-8"))
    loops = [index for index, cell in enumerate(cells) if SMALL_OPERATION_LOOPS.search(cell)]
    setting = [index for index, cell in enumerate(cells) if SETS_THREADS in cell]
    if not loops:
        assert not setting, f"{source.name} has no small-operation loop, so no reason to set the threads"
        return
    assert setting and setting[0] < loops[0], f"{source.name} trains before it calls {SETS_THREADS}"
