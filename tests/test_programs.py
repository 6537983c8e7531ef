"""The straight-line program tasks of lrnn_course.tasks: labels recomputed by CPython itself, the layout, the
vocabulary, and ``interpret`` on hand-computed programs."""

from __future__ import annotations

import pytest
import torch

from lrnn_course import evidence, tasks
from lrnn_course.tasks import ADD, COPY, PROGRAM_TASKS, SET, SWAP, ProgramTask, interpret
from lrnn_course.train import TASKS, TrainConfig

LETTERS = "abcdefghijklmnopqrstuvwxyz"
KIND_SETS = [("set", "copy", "swap", "add"), ("swap",), ("add",), ("swap", "set"), ("set", "copy")]
# the named tasks, and every kind set again with (k, m) = (4, 7) and (2, 2)
ALL_TASKS = list(PROGRAM_TASKS.values()) + [
    ProgramTask(f"code_{k}_{m}_{'_'.join(kinds)}", n_variables=k, modulus=m, kinds=kinds)
    for k, m in ((4, 7), (2, 2))
    for kinds in KIND_SETS
]


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def python_source(statements: list[str], modulus: int) -> str:
    """A program's text as Python source: the variables are Python variables, CPython runs them."""
    lines = []
    for statement in statements:
        words = statement.split()
        if words[0] == "swap":
            lines.append(f"{words[1]}, {words[2]} = {words[2]}, {words[1]}")
        elif words[1] == "+=":
            lines.append(f"{words[0]} = ({words[0]} + {words[2]}) % {modulus}")
        else:
            lines.append(statement)
    return "\n".join(lines)


def test_the_named_tasks():
    assert PROGRAM_TASKS["code"].kinds == ("set", "copy", "swap", "add")
    assert {name: task.kinds for name, task in PROGRAM_TASKS.items() if name != "code"} == {
        "code_swaps": ("swap",),
        "code_counters": ("add",),
        "code_swaps_and_sets": ("swap", "set"),
        "code_resets": ("set", "copy"),
    }
    assert all((task.n_variables, task.modulus) == (3, 5) for task in PROGRAM_TASKS.values())
    assert tasks.STATEMENT_KINDS == ("set", "copy", "swap", "add") and (SET, COPY, SWAP, ADD) == (0, 1, 2, 3)


def test_labels_agree_with_cpython_on_10000_programs():
    checked = 0
    for number, task in enumerate(ALL_TASKS):
        k, m = task.n_variables, task.modulus
        batch = task(700, k + 2, k + 24, seeded(number))
        for row in range(len(batch.tokens)):
            text = task.text(batch, row)
            program, _, answer = text.rpartition(" -> ")
            *statements, query = program.split("; ")
            assert [statement.split()[:2] for statement in statements[:k]] == [[x, "="] for x in LETTERS[:k]]
            variables: dict[str, int] = {}
            exec(python_source(statements, m), {}, variables)
            assert query.startswith("? ")
            assert variables[query[2:]] == int(answer), text
            checked += 1
    assert checked >= 10_000


def test_the_vocabulary_is_enumerated_in_the_documented_order():
    task = ProgramTask("t", n_variables=3, modulus=3, kinds=("add", "swap", "copy"))  # the order given does not matter
    sets = [f"{x} = {c}" for x in "abc" for c in range(3)]
    copies = ["a = b", "a = c", "b = a", "b = c", "c = a", "c = b"]
    swaps = ["swap a b", "swap a c", "swap b c"]
    adds = [f"{x} += {c}" for x in "abc" for c in (1, 2)]
    assert [task.statement_text(token) for token in range(1, task.query_offset)] == sets + copies + swaps + adds
    assert (task.pad_token, task.query_offset, task.answer_offset, task.vocab_size) == (0, 25, 28, 31)
    only_swaps = ProgramTask("s", n_variables=3, modulus=3, kinds=("swap",))
    assert [only_swaps.statement_text(token) for token in range(1, only_swaps.query_offset)] == sets + swaps
    assert only_swaps.body_tokens == (10, 11, 12)
    assert task.statements[9] == (COPY, 0, 1) and task.statements[-1] == (ADD, 2, 2)
    assert (task.n_classes, task.shortest) == (3, 5)


def test_the_worked_example_of_the_docstring():
    task = PROGRAM_TASKS["code"]
    tokens = [4, 6, 15, 23, 26]
    assert "; ".join(task.statement_text(t) for t in tokens) == "a = 3; b = 0; c = 4; swap a c; a += 2"
    kinds, targets, operands = torch.tensor([task.statements[t - 1] for t in tokens]).T[:, None, :]
    assert interpret(kinds, targets, operands, torch.tensor([5]), 3, 5).tolist() == [[1, 0, 3]]
    assert (task.query_offset, task.answer_offset + 1) == (37, 41)


@pytest.mark.parametrize("task", ALL_TASKS[:5] + ALL_TASKS[-5:], ids=lambda task: task.name)
def test_layout(task):
    k, m = task.n_variables, task.modulus
    batch = task(300, k + 2, k + 12, seeded(1))
    assert batch.task == task.name and not batch.every_position and batch.chance_accuracy == 1 / m
    assert (batch.vocab_size, batch.pad_token, batch.answer_offset, batch.n_classes) == (
        task.vocab_size,
        0,
        task.answer_offset,
        m,
    )
    assert batch.tokens.dtype == batch.targets.dtype == batch.lengths.dtype == torch.long
    assert int(batch.lengths.min()) >= k + 2 and int(batch.lengths.max()) <= k + 12
    assert batch.tokens.shape[1] == int(batch.lengths.max())
    for row, length in enumerate(batch.lengths.tolist()):
        tokens, targets = batch.tokens[row].tolist(), batch.targets[row].tolist()
        assert tokens[length - 1 :] == [0] * (len(tokens) - length + 1)  # PAD at the answer position and after
        assert targets[: length - 1] == [-1] * (length - 1) and targets[length:] == [-1] * (len(targets) - length)
        assert task.answer_offset <= targets[length - 1] < task.answer_offset + m
        assert task.query_offset <= tokens[length - 2] < task.answer_offset
        # initialisations: the set tokens of a, b, … in order, whatever the body kinds
        assert all(task.statements[tokens[x] - 1][:2] == (SET, x) for x in range(k))
        assert set(tokens[k : length - 2]) <= set(task.body_tokens)
    assert batch.answer_positions.tolist() == (batch.lengths - 1).tolist()


def test_every_statement_query_and_answer_occurs_and_no_other_kind():
    for task in (PROGRAM_TASKS["code"], PROGRAM_TASKS["code_swaps_and_sets"], ALL_TASKS[-1]):
        k = task.n_variables
        batch = task(2000, 20, 20, seeded(2))
        body = batch.tokens[:, k:-2]
        assert set(body.unique().tolist()) == set(task.body_tokens)
        assert {tasks.STATEMENT_KINDS[task.statements[token - 1][0]] for token in task.body_tokens} == set(task.kinds)
        initial = batch.tokens[:, :k]
        assert set(initial.unique().tolist()) == set(range(1, 1 + k * task.modulus))  # every (x, c)
        assert set(batch.tokens[:, -2].tolist()) == set(range(task.query_offset, task.answer_offset))
        assert set(batch.targets[:, -1].tolist()) == set(range(task.answer_offset, task.vocab_size))
        # body statements uniform over the allowed ones: each within 20 % of its expected count
        counts = torch.bincount(body.flatten(), minlength=task.vocab_size)[list(task.body_tokens)].double()
        assert float((counts / counts.mean() - 1).abs().max()) < 0.2


def test_an_empty_body_and_the_shortest_length():
    task = PROGRAM_TASKS["code"]
    batch = task(50, 5, 5, seeded(3))
    values = batch.tokens[:, :3] - 1 - torch.arange(3) * 5  # c_a, c_b, c_c
    queried = batch.tokens[:, 3] - task.query_offset
    assert torch.equal(batch.targets[:, 4] - task.answer_offset, values.gather(1, queried[:, None])[:, 0])
    with pytest.raises(ValueError, match=r"min_len must be at least k \+ 2 = 5 for code"):
        task(4, 4, 10, seeded(0))
    with pytest.raises(ValueError, match="at least k \\+ 2 = 6"):
        ProgramTask("four", n_variables=4)(4, 5, 10, seeded(0))


def test_same_seed_same_batch_and_a_second_call_gives_fresh_samples():
    task = PROGRAM_TASKS["code"]
    first, again = task(64, 5, 30, seeded(7)), task(64, 5, 30, seeded(7))
    assert torch.equal(first.tokens, again.tokens) and torch.equal(first.targets, again.targets)
    generator = seeded(7)
    one, two = task(64, 5, 30, generator), task(64, 5, 30, generator)
    assert torch.equal(one.tokens, first.tokens) and not torch.equal(one.tokens[:, :5], two.tokens[:, :5])


def test_task_arguments_are_validated():
    with pytest.raises(ValueError, match="kinds must be a non-empty tuple"):
        ProgramTask("bad", kinds=("jump",))
    with pytest.raises(ValueError, match="kinds must be a non-empty tuple"):
        ProgramTask("bad", kinds=())
    with pytest.raises(ValueError, match="kinds must be a non-empty tuple"):
        ProgramTask("bad", kinds=["swap"])
    with pytest.raises(ValueError, match="make no statement"):
        ProgramTask("bad", n_variables=1, kinds=("swap",))
    with pytest.raises(ValueError, match="modulus must be at least 2"):
        ProgramTask("bad", modulus=1)
    with pytest.raises(ValueError, match="at most 26"):
        ProgramTask("bad", n_variables=27)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        PROGRAM_TASKS["code"](4, 5, 10, 0)


def test_decode_points_to_text_and_text_refuses_another_task():
    batch = PROGRAM_TASKS["code_swaps"](4, 6, 9, seeded(0))
    with pytest.raises(ValueError, match=r"PROGRAM_TASKS\['code_swaps'\]\.text\(batch, 1\)"):
        tasks.decode(batch, 1)
    with pytest.raises(ValueError, match="the batch is of 'code_swaps'"):
        PROGRAM_TASKS["code"].text(batch, 0)
    with pytest.raises(ValueError, match="index must lie in"):
        PROGRAM_TASKS["code_swaps"].text(batch, 4)
    assert tasks.decode(tasks.parity(2, 3, 3, seeded(0)), 0).endswith("]")  # the other tasks as before


def test_training_configs_and_baselines_take_the_program_tasks():
    assert set(PROGRAM_TASKS) <= set(TASKS)
    config = TrainConfig(task="code_swaps", train_lengths=(5, 12), test_lengths=(20,), eval_samples=64)
    assert config.metric == "scaled accuracy"
    constant = evidence.baselines(config)[20].constant
    assert len(constant) == 5 and abs(sum(constant)) < 1e-9  # m constant answers; their accuracies sum to 1
    with pytest.raises(ValueError, match="no sequence shorter than 5"):  # 3 assignments, the query, the answer
        TrainConfig(task="code_swaps", train_lengths=(4, 12), test_lengths=(20,))
    with pytest.raises(ValueError, match="no sequence shorter than 5"):
        TrainConfig(task="code_swaps", train_lengths=(6, 12), test_lengths=(20, 4))
    TrainConfig(task="parity", train_lengths=(2, 3), test_lengths=(2,))  # tasks without a program's minimum


# ---------------------------------------------------------------------------------------------- interpret


def run(statements: list[tuple[int, int, int]], n_variables: int = 3, modulus: int = 5, length: int | None = None):
    """interpret on one row."""
    kinds, targets, operands = torch.tensor(statements, dtype=torch.long).reshape(-1, 3).T[:, None, :]
    lengths = torch.tensor([len(statements) if length is None else length])
    return interpret(kinds, targets, operands, lengths, n_variables, modulus)[0].tolist()


def test_interpret_by_hand():
    assert run([(SET, 0, 3), (SWAP, 0, 2), (ADD, 2, 4)]) == [0, 0, 2]  # the docstring's example
    assert run([(SET, 0, 1), (SET, 1, 2), (SWAP, 0, 1), (ADD, 0, 4)]) == [1, 1, 0]  # swap, then add: 2 + 4 = 1
    assert run([(SET, 1, 2), (COPY, 0, 1), (SET, 1, 4), (COPY, 2, 1)]) == [2, 4, 4]  # a copy reads the current value
    assert run([(ADD, 1, 3), (ADD, 1, 3), (SET, 1, 1), (ADD, 1, 1)]) == [0, 2, 0]  # a set resets the counter
    assert run([(SET, 2, 1), (SWAP, 2, 0), (SWAP, 1, 0)]) == [0, 1, 0]  # a swap with the larger variable first
    assert run([(ADD, 0, 1)] * 7, n_variables=1, modulus=2) == [1]
    assert run([(SET, 0, 3), (ADD, 1, 2)], length=1) == [3, 0, 0]  # statements beyond the length are ignored


def test_interpret_rows_of_length_0_and_no_statements():
    kinds = torch.tensor([[SET, ADD], [ADD, ADD]])
    lengths = torch.tensor([0, 0])
    assert interpret(kinds, torch.zeros_like(kinds), torch.ones_like(kinds), lengths, 4, 5).tolist() == [[0] * 4] * 2
    empty = torch.zeros(3, 0, dtype=torch.long)
    assert interpret(empty, empty, empty, torch.zeros(3, dtype=torch.long), 2, 5).tolist() == [[0, 0]] * 3
    none = torch.zeros(0, 4, dtype=torch.long)
    assert interpret(none, none, none, torch.zeros(0, dtype=torch.long), 2, 5).shape == (0, 2)


def test_interpret_rows_are_independent():
    one = torch.tensor([[SET, SWAP, ADD], [ADD, COPY, SET]])
    targets = torch.tensor([[1, 0, 1], [2, 2, 0]])
    operands = torch.tensor([[4, 1, 3], [1, 0, 2]])
    together = interpret(one, targets, operands, torch.tensor([3, 2]), 3, 5).tolist()
    assert together == [[4, 3, 0], [0, 0, 0]]
    assert together[1] == run([(ADD, 2, 1), (COPY, 2, 0), (SET, 0, 2)], length=2)


def test_interpret_validates_every_statement():
    kinds, targets, operands = (torch.tensor([[SET, 9]]), torch.tensor([[0, 1]]), torch.tensor([[2, 3]]))
    with pytest.raises(
        ValueError, match=r"kinds must lie in \[0, 3\] \(SET, COPY, SWAP, ADD\); statement 1 of row 0 breaks it"
    ):
        interpret(kinds, targets, operands, torch.tensor([1]), 3, 5)  # beyond the length, but no statement
    with pytest.raises(ValueError, match="targets must be variables in"):
        interpret(torch.tensor([[ADD]]), torch.tensor([[3]]), torch.tensor([[1]]), torch.tensor([1]), 3, 5)
    with pytest.raises(ValueError, match="operands must be variables in .0, 2. for copy and swap"):
        interpret(torch.tensor([[SWAP]]), torch.tensor([[0]]), torch.tensor([[4]]), torch.tensor([1]), 3, 5)
    with pytest.raises(ValueError, match="constants in .0, 4. for set and add"):
        interpret(torch.tensor([[SET]]), torch.tensor([[0]]), torch.tensor([[5]]), torch.tensor([1]), 3, 5)
    with pytest.raises(TypeError, match="kinds must be a LongTensor"):
        interpret(torch.zeros(1, 2), torch.zeros(1, 2).long(), torch.zeros(1, 2).long(), torch.tensor([1]), 3, 5)
    with pytest.raises(ValueError, match="must have the same shape"):
        interpret(torch.zeros(1, 2).long(), torch.zeros(1, 3).long(), torch.zeros(1, 2).long(), torch.tensor([1]), 3, 5)
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 2\]"):
        interpret(*[torch.zeros(1, 2).long()] * 3, torch.tensor([3]), 3, 5)
    with pytest.raises(TypeError, match="lengths must be a LongTensor of shape"):
        interpret(*[torch.zeros(1, 2).long()] * 3, torch.tensor([1, 1]), 3, 5)
    with pytest.raises(TypeError, match="n_variables must be an int"):
        interpret(*[torch.zeros(1, 2).long()] * 3, torch.tensor([1]), 3.0, 5)


def test_statement_parts_read_each_token_as_its_statement_and_the_rest_as_a_set_of_a_to_0():
    task = PROGRAM_TASKS["code"]
    statement_tokens = torch.arange(1, 1 + len(task.statements))
    parts = torch.stack(task.statement_parts(statement_tokens[None]), dim=-1)[0]  # (statements, 3)
    assert parts.tolist() == [list(statement) for statement in task.statements]
    others = torch.tensor([[task.pad_token, task.query_offset, task.answer_offset + task.modulus - 1]])
    assert all(part.tolist() == [[0, 0, 0]] for part in task.statement_parts(others))  # kind 0 is SET: "a = 0"
