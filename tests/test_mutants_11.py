"""Plausible wrong solutions of Lesson 11's exercises (the interpreter, the cross-entropy in bits), each failing on the
row that names its mistake, and correct ones written in other styles, which pass."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from check_support import expect_fails_on_row

from lrnn_course.checker import INPUTS_ROW
from lrnn_course.checks import check_quietly
from lrnn_course.checks.lesson11 import run_statement as right_statement
from lrnn_course.language import cross_entropy_bits
from lrnn_course.tasks import ADD, COPY, SET, SWAP

TYPE = "a LongTensor (N, k)"
NOTHING = "no statement to run: every variable is 0 (S = 0; N = 0)"
SETS = "set x = c: x becomes the constant c"
ADD_CONSTANT = "x += c adds the constant c (not the value of variable c)"
ADD_WRAPS = "x += c wraps around mod m"
ORDER = "statements run first to last"
COPY_DIRECTION = "copy x = y writes x (y keeps its value)"
COPY_CURRENT = "copy x = y reads the current value of y"
SWAPS = "swap x y exchanges the two values"
SWAP_EITHER_WAY = "swap y x is swap x y: the target may be the larger variable"
SELF = "swap x x and copy x = x leave x as it is"
BEYOND = "statements beyond lengths[i] are ignored"
EXACTLY = "exactly lengths[i] statements: the last one runs, the next one does not"


def row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement, start=0, order=None, running=None):
    """A Python loop over rows and statements; ``statement(values, kind, x, y, modulus)`` runs one statement, and
    the mutants below change it, the start value, the order or which statements run."""
    finals = []
    rows = zip(kinds.tolist(), targets.tolist(), operands.tolist(), lengths.tolist())
    for row_kinds, row_targets, row_operands, length in rows:
        values = [start] * n_variables
        steps = range(len(row_kinds)) if running is None else running(length, len(row_kinds))
        for s in steps if order is None else order(steps):
            statement(values, row_kinds[s], row_targets[s], row_operands[s], modulus)
        finals.append(values)
    return torch.tensor(finals, dtype=torch.long).reshape(len(finals), n_variables)


def within(length, width):
    return range(length)


# --- wrong interpreters --------------------------------------------------------------------------------------------


def interpret_swapping_by_two_copies(kinds, targets, operands, lengths, n_variables, modulus):
    def statement(values, kind, x, y, modulus):
        if kind == SWAP:
            values[x] = values[y]
            values[y] = values[x]  # x already holds y's value
        else:
            right_statement(values, kind, x, y, modulus)

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement, running=within)


def interpret_swapping_by_arithmetic(kinds, targets, operands, lengths, n_variables, modulus):
    """x = x + y; y = x - y; x = x - y: right for two variables, 0 for swap x x (a learner found it passing)."""

    def statement(values, kind, x, y, modulus):
        if kind == SWAP:
            values[x] = (values[x] + values[y]) % modulus
            values[y] = (values[x] - values[y]) % modulus
            values[x] = (values[x] - values[y]) % modulus
        else:
            right_statement(values, kind, x, y, modulus)

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement, running=within)


def interpret_copying_by_clearing_then_adding(kinds, targets, operands, lengths, n_variables, modulus):
    """x = 0; x += y: right for another variable, 0 for x = x."""

    def statement(values, kind, x, y, modulus):
        if kind == COPY:
            values[x] = 0
            values[x] = (values[x] + values[y]) % modulus
        else:
            right_statement(values, kind, x, y, modulus)

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement, running=within)


def interpret_setting_by_adding(kinds, targets, operands, lengths, n_variables, modulus):
    """x += c for x = c: right from 0, wrong once x already holds a value (a learner's mistake): the order row's
    programs set a variable twice."""

    def statement(values, kind, x, y, modulus):
        right_statement(values, ADD if kind == SET else kind, x, y, modulus)

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement, running=within)


def interpret_adding_without_mod(kinds, targets, operands, lengths, n_variables, modulus):
    def statement(values, kind, x, y, modulus):
        if kind == ADD:
            values[x] = values[x] + y
        else:
            right_statement(values, kind, x, y, modulus)

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement, running=within)


def interpret_copying_the_initial_value(kinds, targets, operands, lengths, n_variables, modulus):
    """Vectorised over rows; the copies read the values the program started with."""
    rows = torch.arange(len(kinds))
    initial = torch.zeros(len(kinds), n_variables, dtype=torch.long)
    values = initial.clone()
    for step, (kind, target, operand) in enumerate(zip(kinds.unbind(1), targets.unbind(1), operands.unbind(1))):
        active = step < lengths
        index = operand.clamp(max=n_variables - 1)
        current = values[rows, target]
        new = torch.where(kind == SET, operand, (current + operand) % modulus)
        new = torch.where(kind == COPY, initial[rows, index], new)
        new = torch.where(kind == SWAP, values[rows, index], new)
        updated = values.clone()
        updated[rows, target] = new
        swapping = (kind == SWAP) & active
        updated[rows[swapping], operand[swapping]] = current[swapping]
        values = torch.where(active[:, None], updated, values)
    return values


def interpret_last_statement_first(kinds, targets, operands, lengths, n_variables, modulus):
    return row_by_row(
        kinds, targets, operands, lengths, n_variables, modulus, right_statement, order=reversed, running=within
    )


def interpret_ignoring_lengths(kinds, targets, operands, lengths, n_variables, modulus):
    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, right_statement)


def interpret_one_statement_too_many(kinds, targets, operands, lengths, n_variables, modulus):
    def running(length, width):
        return range(min(length + 1, width))

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, right_statement, running=running)


def interpret_one_statement_too_few(kinds, targets, operands, lengths, n_variables, modulus):
    def running(length, width):
        return range(length - 1)

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, right_statement, running=running)


def interpret_starting_at_one(kinds, targets, operands, lengths, n_variables, modulus):
    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, right_statement, 1, running=within)


def interpret_resetting_to_zero(kinds, targets, operands, lengths, n_variables, modulus):
    def statement(values, kind, x, y, modulus):
        if kind == SET:
            values[x] = 0
        else:
            right_statement(values, kind, x, y, modulus)

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement, running=within)


def interpret_adding_a_variable(kinds, targets, operands, lengths, n_variables, modulus):
    """The operand read as a variable for every kind but set."""

    def statement(values, kind, x, y, modulus):
        if kind == ADD:
            values[x] = (values[x] + values[y]) % modulus
        else:
            right_statement(values, kind, x, y, modulus)

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement, running=within)


def interpret_copying_the_wrong_way(kinds, targets, operands, lengths, n_variables, modulus):
    def statement(values, kind, x, y, modulus):
        if kind == COPY:
            values[y] = values[x]
        else:
            right_statement(values, kind, x, y, modulus)

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement, running=within)


def interpret_swapping_only_upwards(kinds, targets, operands, lengths, n_variables, modulus):
    """Written for the task's tokens, whose swaps all have x < y."""

    def statement(values, kind, x, y, modulus):
        if kind == SWAP:
            if x < y:
                values[x], values[y] = values[y], values[x]
        else:
            right_statement(values, kind, x, y, modulus)

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement, running=within)


def interpret_masking_the_inputs(kinds, targets, operands, lengths, n_variables, modulus):
    """Blanks the statements beyond the lengths in the caller's tensor, to skip them in the loop."""
    kinds[torch.arange(kinds.shape[1]) >= lengths[:, None]] = -1

    def statement(values, kind, x, y, modulus):
        if kind >= 0:
            right_statement(values, kind, x, y, modulus)

    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement)


def interpret_in_floats(kinds, targets, operands, lengths, n_variables, modulus):
    return interpret_row_by_row(kinds, targets, operands, lengths, n_variables, modulus).float()


def interpret_variables_by_rows(kinds, targets, operands, lengths, n_variables, modulus):
    return interpret_row_by_row(kinds, targets, operands, lengths, n_variables, modulus).T


# --- wrong cross-entropies in bits ---------------------------------------------------------------------------------

BITS_TYPE = "a 0-d tensor in the logits' dtype"
SHIFT = "adding a constant to every logit of a position changes nothing"
MEAN = "the mean over every position, for leading shapes (M,), (N, T) and (2, 3, 4)"
UNIFORM = "in bits: uniform logits give log₂ V (8 for V = 256, 1 for V = 2)"
HUGE = "logits of size 1e4 stay finite and exact"
PRECISION = "float64 stays float64, to float64's precision"
GRADIENT = "the gradient with respect to the logits matches autograd through a float64 loop"


def picked(log_p, targets):
    """log_p (..., V) at each position's target: (...)."""
    return log_p.gather(-1, targets[..., None]).squeeze(-1)


def bits_in_nats(logits, targets):
    return -picked(torch.log_softmax(logits, dim=-1), targets).mean()


def bits_in_log10(logits, targets):
    return -picked(torch.log_softmax(logits, dim=-1), targets).mean() / math.log(10)


def bits_by_softmax_then_log(logits, targets):
    return -picked(torch.softmax(logits, dim=-1).log(), targets).mean() / math.log(2)


def bits_summed(logits, targets):
    return -picked(torch.log_softmax(logits, dim=-1), targets).sum() / math.log(2)


def bits_per_row(logits, targets):
    """The mean of each row of positions: a vector (N,) rather than one number."""
    bits = -picked(torch.log_softmax(logits, dim=-1), targets) / math.log(2)  # (...)
    return bits.reshape(len(bits), -1).mean(dim=1)


def bits_of_raw_logits(logits, targets):
    return -picked(logits, targets).mean() / math.log(2)


def bits_over_the_first_axis(logits, targets):
    return -picked(torch.log_softmax(logits, dim=0), targets).mean() / math.log(2)


def bits_as_a_float(logits, targets):
    return (-picked(torch.log_softmax(logits, dim=-1), targets).mean() / math.log(2)).item()


def bits_in_float64(logits, targets):
    return -picked(torch.log_softmax(logits.double(), dim=-1), targets).mean() / math.log(2)


def bits_detached(logits, targets):
    return cross_entropy_bits(logits.detach(), targets)


def bits_in_float32(logits, targets):
    return cross_entropy_bits(logits.float(), targets).to(logits.dtype)


MUTANTS = [
    ("11.interpret", interpret_swapping_by_two_copies, SWAPS, "expected a = 2, b = 1"),
    ("11.interpret", interpret_swapping_by_arithmetic, SELF, "yours a = 0"),
    ("11.interpret", interpret_copying_by_clearing_then_adding, SELF, "yours a = 0, b = 1"),
    ("11.interpret", interpret_setting_by_adding, ORDER, "yours a = 3"),
    ("11.interpret", interpret_adding_without_mod, ADD_WRAPS, "yours a = 7"),
    ("11.interpret", interpret_copying_the_initial_value, COPY_CURRENT, "yours a = 0, b = 4"),
    ("11.interpret", interpret_last_statement_first, ORDER, "yours ran the statements last to first"),
    ("11.interpret", interpret_ignoring_lengths, BEYOND, "yours also ran the statements beyond lengths[i]"),
    ("11.interpret", interpret_one_statement_too_many, EXACTLY, "yours ran one statement more than lengths[i]"),
    ("11.interpret", interpret_one_statement_too_few, SETS, "yours left out the last statement of each row"),
    ("11.interpret", interpret_starting_at_one, NOTHING, "3 programs of S = 0 statements, row 0"),
    ("11.interpret", interpret_resetting_to_zero, SETS, "yours a = 0, b = 0, c = 0; expected a = 3, b = 4"),
    ("11.interpret", interpret_adding_a_variable, ADD_CONSTANT, "`b = 2; a += 1`"),
    ("11.interpret", interpret_copying_the_wrong_way, COPY_DIRECTION, "yours a = 3, b = 3, c = 0"),
    ("11.interpret", interpret_swapping_only_upwards, SWAP_EITHER_WAY, "`a = 1; b = 2; swap b a`"),
    ("11.interpret", interpret_masking_the_inputs, INPUTS_ROW, "modified its input `kinds` in place"),
    ("11.interpret", interpret_in_floats, TYPE, "returned a torch.float32 tensor, expected torch.long"),
    ("11.interpret", interpret_variables_by_rows, TYPE, "returned shape (3, 5), expected (N, k) = (5, 3)"),
    ("11.cross_entropy_bits", bits_in_nats, UNIFORM, "yours 5.545177 bits, expected 8.000000 — that is the cross"),
    ("11.cross_entropy_bits", bits_in_log10, UNIFORM, "yours 2.408240 bits, expected 8.000000 — that is log10"),
    ("11.cross_entropy_bits", bits_by_softmax_then_log, HUGE, "yours inf bits"),
    ("11.cross_entropy_bits", bits_summed, MEAN, "(= 12 × that: the sum, not the mean)"),
    ("11.cross_entropy_bits", bits_per_row, BITS_TYPE, "returned shape (2,), expected a 0-d tensor ()"),
    ("11.cross_entropy_bits", bits_of_raw_logits, SHIFT, "-logits[target] / ln 2: the logits were never normalised"),
    ("11.cross_entropy_bits", bits_over_the_first_axis, SHIFT, "the softmax over axis 0 (positions)"),
    ("11.cross_entropy_bits", bits_as_a_float, BITS_TYPE, "returned a float, expected a 0-d tensor"),
    ("11.cross_entropy_bits", bits_in_float64, BITS_TYPE, "returned a torch.float64 tensor for torch.float32 logits"),
    ("11.cross_entropy_bits", bits_detached, GRADIENT, "your result is not connected to autograd"),
    ("11.cross_entropy_bits", bits_in_float32, PRECISION, "about float32's rounding"),
]


@pytest.mark.parametrize("exercise_id,mutant,row_name,message", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_plausible_wrong_solutions_fail_on_the_row_that_names_the_mistake(exercise_id, mutant, row_name, message):
    expect_fails_on_row(exercise_id, mutant, row_name, message)
    diagnosis = check_quietly(exercise_id, mutant).diagnosis
    assert diagnosis is not None and diagnosis.name == row_name, (
        f"the report explains {diagnosis.name!r}, not {row_name!r}"
    )


# --- correct interpreters in other styles --------------------------------------------------------------------------


def interpret_row_by_row(kinds, targets, operands, lengths, n_variables, modulus):
    """Pure Python on lists, one row at a time."""
    return row_by_row(kinds, targets, operands, lengths, n_variables, modulus, right_statement, running=within)


def interpret_by_where_per_step(kinds, targets, operands, lengths, n_variables, modulus):
    """All rows at once: one-hot masks of the target and the operand select what each statement writes."""
    values = torch.zeros(len(kinds), n_variables, dtype=torch.long)  # (N, k)
    for step, (kind, target, operand) in enumerate(zip(kinds.unbind(1), targets.unbind(1), operands.unbind(1))):
        variable = operand.clamp(max=n_variables - 1)[:, None]  # (N, 1), read only by copy and swap
        is_target = F.one_hot(target, n_variables).bool()  # (N, k)
        is_operand = F.one_hot(variable[:, 0], n_variables).bool()
        current, other = values.gather(1, target[:, None]), values.gather(1, variable)  # (N, 1) each
        constant, kind = operand[:, None], kind[:, None]
        new = torch.where(kind == SET, constant, torch.where(kind == ADD, (current + constant) % modulus, other))
        updated = torch.where(is_target, new, values)
        updated = torch.where((kind == SWAP) & is_operand, current, updated)
        values = torch.where((step < lengths)[:, None], updated, values)
    return values


def statement_matrices(n_variables, modulus):
    """The map of every statement on the one-hot state (value v of x at x·m + v, then a constant 1): (4, k, r, D, D)
    with r = max(k, m) operands; entry [i, j] = 1 where entry i of the new state is entry j of the old."""
    k, m = n_variables, modulus
    size = k * m + 1
    one = k * m
    matrices = torch.zeros(4, k, max(k, m), size, size)
    for kind in (SET, COPY, SWAP, ADD):
        for x in range(k):
            for y in range(k if kind in (COPY, SWAP) else m):
                matrix = matrices[kind, x, y]
                matrix[one, one] = 1
                for z in range(k):
                    for v in range(m):
                        if z == x and kind == SET:
                            matrix[z * m + v, one] = float(v == y)
                        elif z == x and kind in (COPY, SWAP):
                            matrix[z * m + v, y * m + v] = 1
                        elif z == y and kind == SWAP:
                            matrix[z * m + v, x * m + v] = 1
                        elif z == x and kind == ADD:
                            matrix[z * m + (v + y) % m, z * m + v] = 1
                        else:
                            matrix[z * m + v, z * m + v] = 1
    return matrices


def interpret_by_matrix_products(kinds, targets, operands, lengths, n_variables, modulus):
    """Every statement is a 0/1 matrix acting on the one-hot state: the program is their product."""
    matrices = statement_matrices(n_variables, modulus)
    state = torch.zeros(len(kinds), n_variables * modulus + 1, 1)  # (N, D, 1): every variable 0, and the 1
    state[:, torch.arange(n_variables) * modulus] = 1
    state[:, -1] = 1
    for step, (kind, target, operand) in enumerate(zip(kinds.unbind(1), targets.unbind(1), operands.unbind(1))):
        moved = matrices[kind, target, operand] @ state  # (N, D, D) @ (N, D, 1)
        state = torch.where((step < lengths)[:, None, None], moved, state)
    return state[:, :-1, 0].reshape(len(kinds), n_variables, modulus).argmax(dim=-1)


def interpret_reducing_at_the_end(kinds, targets, operands, lengths, n_variables, modulus):
    """Sums kept in Z (copies and swaps move them unchanged); one % m at the end gives the same values."""

    def statement(values, kind, x, y, modulus):
        if kind == ADD:
            values[x] = values[x] + y
        else:
            right_statement(values, kind, x, y, modulus)

    values = row_by_row(kinds, targets, operands, lengths, n_variables, modulus, statement, running=within)
    return values % modulus


def bits_by_library_cross_entropy(logits, targets):
    """PyTorch's cross-entropy (in nats) on the flattened positions, converted to bits."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)) / math.log(2)


def bits_by_logsumexp(logits, targets):
    """log Σ exp x - x_target at every position, in log₂ by torch.log2 of e."""
    nats = torch.logsumexp(logits, dim=-1) - picked(logits, targets)  # (...)
    return nats.mean() * math.log2(math.e)


def bits_by_negative_log_likelihood(logits, targets):
    """log_softmax in bits first (log₂ p = ln p / ln 2), then the mean of the picked entries over every position."""
    log2_p = torch.log_softmax(logits, dim=-1) / math.log(2)
    return -(log2_p * F.one_hot(targets, logits.shape[-1]).to(logits.dtype)).sum(dim=-1).mean()


ALTERNATIVES = [
    ("11.cross_entropy_bits", bits_by_library_cross_entropy),
    ("11.cross_entropy_bits", bits_by_logsumexp),
    ("11.cross_entropy_bits", bits_by_negative_log_likelihood),
    ("11.interpret", interpret_row_by_row),
    ("11.interpret", interpret_by_where_per_step),
    ("11.interpret", interpret_by_matrix_products),
    ("11.interpret", interpret_reducing_at_the_end),
]


@pytest.mark.parametrize("exercise_id,alternative", ALTERNATIVES, ids=[a[1].__name__ for a in ALTERNATIVES])
def test_correct_solutions_in_other_styles_pass(exercise_id, alternative):
    result = check_quietly(exercise_id, alternative)
    assert result.passed, result.report()
