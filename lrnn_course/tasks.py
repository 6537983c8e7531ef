"""Seeded generators of the formal-language tasks of Grazzi et al. (2025), §5.1 and App. E.1.

Glossary (code name -> paper symbol or term):

====================  =====================================================================
``tokens``            the input words x_1 ... x_t, one row per sequence; shape (N, L)
``targets``           the label of each position: the answer at the answer position, -1
                      (ignored by the loss) everywhere else; shape (N, L)
``lengths``           t, the length of each sequence, answer position included; shape (N,)
``chance_accuracy``   acc_rand, the accuracy of guessing the answer uniformly at random
``scaled_accuracy``   (acc - acc_rand) / (1 - acc_rand), the metric of Tables 3 and 5
``MODULUS``           m = 5, the modulus of both arithmetic tasks and the size of the cycle
``n_classes``         the number of possible answers (2 for parity, 5 for the others)
``answer_offset``     the token of answer 0; answer k is the token answer_offset + k
``WordProblem``       a group word problem (Lesson 08, ``groups``) as a task: a group, the input
                      alphabet (all of G or a subset, e.g. the swaps) and the tokens that spell
                      one element (1, or 4 in the paper's "4 tokens per transition" S₅ variant)
``WORD_PROBLEMS``     the named word problems: ``"S3"``, ``"S5_only_swaps"``, ``"A4_x_Z5"`` …
``sequence_accuracy`` cumulative sequence accuracy at t, the metric of the word problems: the
                      fraction of sequences whose predictions are all right up to position t
                      (the DeltaProduct code's ``cumulative_sequence_accuracies``)
``ProgramTask``       straight-line programs over k variables in Z_m (statements set, copy, swap,
                      add; one token each), then a query ``? x``: the answer is x's final value
``interpret``         the programs' meaning, the final values of the variables (Lesson 11)
``PROGRAM_TASKS``     the named program tasks: ``"code"``, ``"code_swaps"``, ``"code_counters"`` …
====================  =====================================================================

Layout shared by every task (the authors' data pipeline, reference notes §3.1): the row of a
sample holds its input words, then an *answer position*. The input at the answer position is
replaced by the PAD token and the target there is the answer; every other target is -1. A causal
model's output at the answer position is scored, after it has read every word the answer depends
on. Rows shorter than the longest of the batch are filled with PAD after ``lengths[i]``.
The authors feed the same rows with ``shift=1`` (next-token prediction): inputs ``tokens[:, :-1]``
and targets ``targets[:, 1:]``, so the answer is emitted while reading the last word instead of
the PAD after it; both views carry the same information.

Tokens per task, k being the answer (parity bit, value mod 5 or final node; worked examples in
each generator's docstring):

================================  =====  ===================================================  ======
task                              vocab  tokens                                               answer
================================  =====  ===================================================  ======
parity                            3      0 PAD, 1 bit 0, 2 bit 1                              1 + k
modular_arithmetic                10     0 PAD, 1 +, 2 -, 3 *, 4 =, 5-9 digits 0-4            5 + k
modular_arithmetic_with_brackets  12     0-4 digits, 5 +, 6 -, 7 *, 8 (, 9 ), 10 =, 11 PAD    k
cycle_navigation                  9      0 PAD, 1 step -1, 2 step 0, 3 step +1, 4-8 node 0-4  4 + k
code (a ``ProgramTask``)          45     0 PAD, 1-36 statements, 37-39 queries ? a, ? b, ? c  40 + k
================================  =====  ===================================================  ======

All randomness comes from the ``torch.Generator`` passed in (a CPU one): the same seed gives the
same batch, and a second call on the same generator gives fresh samples.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from .groups import Group, group, moved_points, prefix_products
from .validate import require_generator, require_positive_int

MODULUS = 5
IGNORE = -1  # the target of every position the loss skips (``ignore_index`` of cross-entropy)

PARITY_SYMBOLS = {0: "_", 1: "0", 2: "1"}
ARITHMETIC_SYMBOLS = {0: "_", 1: "+", 2: "-", 3: "*", 4: "="} | {5 + d: str(d) for d in range(MODULUS)}
BRACKETS_SYMBOLS = {d: str(d) for d in range(MODULUS)} | {5: "+", 6: "-", 7: "*", 8: "(", 9: ")", 10: "=", 11: "_"}
CYCLE_SYMBOLS = {0: "_", 1: "-1", 2: "0", 3: "+1"} | {4 + node: str(node) for node in range(MODULUS)}
SYMBOLS = {
    "parity": PARITY_SYMBOLS,
    "modular_arithmetic": ARITHMETIC_SYMBOLS,
    "modular_arithmetic_with_brackets": BRACKETS_SYMBOLS,
    "cycle_navigation": CYCLE_SYMBOLS,
}

ARITHMETIC_PLUS, ARITHMETIC_MINUS, ARITHMETIC_TIMES, ARITHMETIC_EQUALS, ARITHMETIC_DIGIT_0 = 1, 2, 3, 4, 5
BRACKETS_PLUS, BRACKETS_MINUS, BRACKETS_TIMES, BRACKETS_OPEN, BRACKETS_CLOSE, BRACKETS_EQUALS, BRACKETS_PAD = (
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)
CYCLE_STEP_MINUS_ONE, CYCLE_NODE_0 = 1, 4


@dataclass(frozen=True)
class Batch:
    """A batch of one task's sequences, padded to the longest; see the module docstring for the layout.

    Attributes:
        task: the generator's name, e.g. ``"parity"``; ``decode`` reads it.
        tokens: LongTensor (N, L), input words, PAD at each answer position and after each length.
        targets: LongTensor (N, L), the answer token at each answer position, -1 elsewhere.
        lengths: LongTensor (N,), words per sequence, answer position (and trailing PAD) included.
        vocab_size: number of distinct tokens (embedding rows a model needs).
        pad_token: the PAD token.
        answer_offset: the token of answer 0; answers are answer_offset ... answer_offset + n_classes - 1.
        n_classes: number of possible answers.
        chance_accuracy: acc_rand = 1 / n_classes.
        every_position: False for the tasks above (one answer per row); True for the group word
            problems of ``groups``, scored at every position before the padding.
    """

    task: str
    tokens: torch.Tensor
    targets: torch.Tensor
    lengths: torch.Tensor
    vocab_size: int
    pad_token: int
    answer_offset: int
    n_classes: int
    chance_accuracy: float
    every_position: bool = False

    @property
    def answer_positions(self) -> torch.Tensor:
        """LongTensor (N,): the index of the one scored position of each row (tasks with one answer only)."""
        if self.every_position:
            raise ValueError(f"{self.task} is scored at every position; it has no single answer position")
        return (self.targets != IGNORE).long().argmax(dim=1)

    def to(self, device: torch.device | str) -> Batch:
        """The same batch with its three tensors on ``device`` (generation always runs on the CPU)."""
        return dataclasses.replace(
            self, tokens=self.tokens.to(device), targets=self.targets.to(device), lengths=self.lengths.to(device)
        )

    def rows(self, selected: slice) -> Batch:
        """The batch of the ``selected`` rows (one process's share under data parallelism)."""
        return dataclasses.replace(
            self, tokens=self.tokens[selected], targets=self.targets[selected], lengths=self.lengths[selected]
        )


def validate_task_inputs(n: object, min_len: object, max_len: object, generator: object, shortest: int) -> None:
    """Check the arguments every generator shares; ``shortest`` is the task's smallest sequence length."""
    require_positive_int(n, "n (the number of sequences)")
    require_positive_int(min_len, "min_len")
    require_positive_int(max_len, "max_len")
    if min_len < shortest:
        raise ValueError(f"min_len must be at least {shortest} for this task, got {min_len}")
    if min_len > max_len:
        raise ValueError(f"min_len must not exceed max_len, got min_len={min_len} > max_len={max_len}")
    require_generator(generator)
    if generator.device.type != "cpu":
        raise ValueError(f"generator must be a CPU generator (move the batch with Batch.to), got {generator.device}")


def uniform_lengths(n: int, min_len: int, max_len: int, generator: torch.Generator, step: int = 1) -> torch.Tensor:
    """Draw n lengths uniformly from min_len, min_len + step, ... up to max_len."""
    for value, name in ((n, "n"), (min_len, "min_len"), (max_len, "max_len"), (step, "step")):
        require_positive_int(value, name)
    if min_len > max_len:
        raise ValueError(f"min_len must not exceed max_len, got min_len={min_len} > max_len={max_len}")
    choices = (max_len - min_len) // step + 1
    return min_len + step * torch.randint(choices, (n,), generator=generator)


def assemble(
    task: str,
    words: torch.Tensor,
    lengths: torch.Tensor,
    answer_positions: torch.Tensor,
    answer_tokens: torch.Tensor,
    pad_token: int,
    vocab_size: int,
    answer_offset: int,
    n_classes: int,
) -> Batch:
    """Cut ``words`` to the batch's longest length, put PAD at and after the answer, and build targets."""
    width = int(lengths.max())
    columns = torch.arange(width)
    tokens = words[:, :width].clone()
    tokens[columns >= answer_positions[:, None]] = pad_token
    targets = torch.full_like(tokens, IGNORE)
    rows = torch.arange(len(tokens))
    targets[rows, answer_positions] = answer_tokens
    return Batch(task, tokens, targets, lengths, vocab_size, pad_token, answer_offset, n_classes, 1.0 / n_classes)


def parity(n: int, min_len: int, max_len: int, generator: torch.Generator) -> Batch:
    """Parity: is the number of 1 bits odd? Lengths ~ U[min_len, max_len], bits uniform.

    A sequence of length L is L - 1 bits (tokens 1 and 2 for bits 0 and 1) then the answer position
    L - 1, whose input is PAD 0 and whose target is (number of 1 bits) % 2 + 1. Worked example,
    bits 1 0 1 1 (L = 5, three ones, parity 1):

        tokens  = [ 2,  1,  2,  2, 0]
        targets = [-1, -1, -1, -1, 2]

    Args:
        n: number of sequences.
        min_len, max_len: bounds on L, answer position included; min_len >= 2 (one bit at least).
        generator: CPU torch.Generator, the only source of randomness.
    """
    validate_task_inputs(n, min_len, max_len, generator, shortest=2)
    lengths = uniform_lengths(n, min_len, max_len, generator)
    bits = torch.randint(2, (n, max_len), generator=generator)
    is_bit = torch.arange(max_len) < (lengths - 1)[:, None]
    answers = (bits * is_bit).sum(dim=1) % 2
    return assemble("parity", bits + 1, lengths, lengths - 1, answers + 1, 0, 3, 1, 2)


def evaluate_modular_arithmetic(expressions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Value mod 5 of bracket-free expressions in the tokens of ``modular_arithmetic``, '*' before '+'/'-'.

    Args:
        expressions: LongTensor (N, K); row i holds digit, operator, digit, ... in its first
            lengths[i] entries, the rest is ignored.
        lengths: LongTensor (N,), odd, between 1 and K.

    Returns:
        LongTensor (N,) with values in [0, 5). E.g. the tokens of 2 - 3 - 3 * 2 give 3.
    """
    if not isinstance(expressions, torch.Tensor) or expressions.dtype != torch.long or expressions.dim() != 2:
        raise TypeError("expressions must be a 2-D LongTensor (N, K)")
    if not isinstance(lengths, torch.Tensor) or lengths.dtype != torch.long:
        raise TypeError("lengths must be a LongTensor")
    if lengths.shape != expressions.shape[:1]:
        raise ValueError(f"lengths must have shape ({expressions.shape[0]},), got {tuple(lengths.shape)}")
    if bool((lengths % 2 == 0).any() | (lengths < 1).any() | (lengths > expressions.shape[1]).any()):
        raise ValueError(f"lengths must be odd and within [1, {expressions.shape[1]}]")
    digit_positions = torch.arange(0, expressions.shape[1], 2)
    operator_positions = torch.arange(1, expressions.shape[1], 2)
    digits = expressions[:, digit_positions] - ARITHMETIC_DIGIT_0
    operators = expressions[:, operator_positions]
    digits_needed = digit_positions < lengths[:, None]
    operators_needed = operator_positions < lengths[:, None]
    digits_known = (digits >= 0) & (digits < MODULUS)
    operators_known = (operators >= ARITHMETIC_PLUS) & (operators <= ARITHMETIC_TIMES)
    if not bool((digits_known | ~digits_needed).all() and (operators_known | ~operators_needed).all()):
        raise ValueError("expressions must alternate digit tokens 5-9 and operator tokens 1-3 within their lengths")
    # Left to right with one pending product: 'a - b * c' must not subtract b before it meets c.
    total = torch.zeros_like(lengths)
    term = digits[:, 0]
    for k in range(digits.shape[1] - 1):
        active = operators_needed[:, k]
        operator, digit = operators[:, k], digits[:, k + 1]
        times = term * digit
        new_term = torch.where(operator == ARITHMETIC_MINUS, -digit, digit)
        total = torch.where(active & (operator != ARITHMETIC_TIMES), total + term, total) % MODULUS
        term = torch.where(active, torch.where(operator == ARITHMETIC_TIMES, times, new_term), term) % MODULUS
    return (total + term) % MODULUS


def modular_arithmetic(n: int, min_len: int, max_len: int, generator: torch.Generator) -> Batch:
    """Modular arithmetic without brackets: digits 0-4 joined by + - *, value mod 5, '*' binding tighter.

    Lengths L are drawn uniformly from the odd numbers in [min_len, max_len]. A sequence is an
    expression of L - 2 words (digit, operator, digit, ..., digits and operators uniform), then '='
    at L - 2, then the answer position L - 1 with input PAD 0 and target 5 + value. Worked example,
    the paper's 2 - 3 - 3 * 2 = 3 (L = 9; 2 - 3 - 6 = -7 = 3 mod 5):

        tokens  = [ 7,  2,  8,  2,  8,  3,  7,  4, 0]
        targets = [-1, -1, -1, -1, -1, -1, -1, -1, 8]

    Args:
        n: number of sequences.
        min_len, max_len: bounds on L; min_len >= 3 and the range must hold an odd number.
        generator: CPU torch.Generator, the only source of randomness.
    """
    validate_task_inputs(n, min_len, max_len, generator, shortest=3)
    shortest_odd, longest_odd = min_len | 1, max_len - 1 + max_len % 2
    if shortest_odd > longest_odd:
        raise ValueError(f"modular_arithmetic needs odd lengths, but [{min_len}, {max_len}] holds none")
    lengths = uniform_lengths(n, shortest_odd, longest_odd, generator, step=2)
    words = torch.empty(n, longest_odd, dtype=torch.long)
    words[:, 0::2] = ARITHMETIC_DIGIT_0 + torch.randint(MODULUS, words[:, 0::2].shape, generator=generator)
    words[:, 1::2] = ARITHMETIC_PLUS + torch.randint(3, words[:, 1::2].shape, generator=generator)
    values = evaluate_modular_arithmetic(words, lengths - 2)
    words[torch.arange(n), lengths - 2] = ARITHMETIC_EQUALS
    return assemble("modular_arithmetic", words, lengths, lengths - 1, ARITHMETIC_DIGIT_0 + values, 0, 10, 5, MODULUS)


def random_bracketed_expression(length: int, generator: torch.Generator, mult: bool) -> tuple[list[int], int]:
    """One random expression of exactly ``length`` tokens and its value mod 5 (Deletang et al. 2023).

    Lengths 1-4 are the only shapes that cannot split into two operands: d, -d, (d), (-d).
    Longer ones are (left op right) with a uniform split of the length - 3 inner tokens.
    """
    require_positive_int(length, "length")
    require_generator(generator)
    digit = int(torch.randint(MODULUS, (1,), generator=generator))
    if length == 1:
        return [digit], digit
    if length == 2:
        return [BRACKETS_MINUS, digit], -digit % MODULUS
    if length == 3:
        return [BRACKETS_OPEN, digit, BRACKETS_CLOSE], digit
    if length == 4:
        return [BRACKETS_OPEN, BRACKETS_MINUS, digit, BRACKETS_CLOSE], -digit % MODULUS
    left_length = int(torch.randint(1, length - 3, (1,), generator=generator))
    left, left_value = random_bracketed_expression(left_length, generator, mult)
    right, right_value = random_bracketed_expression(length - 3 - left_length, generator, mult)
    operator = BRACKETS_PLUS + int(torch.randint(3 if mult else 2, (1,), generator=generator))
    value = {
        BRACKETS_PLUS: left_value + right_value,
        BRACKETS_MINUS: left_value - right_value,
        BRACKETS_TIMES: left_value * right_value,
    }[operator] % MODULUS
    return [BRACKETS_OPEN, *left, operator, *right, BRACKETS_CLOSE], value


def modular_arithmetic_with_brackets(
    n: int, min_len: int, max_len: int, generator: torch.Generator, mult: bool = False
) -> Batch:
    """Modular arithmetic with brackets and unary minus, value mod 5; + and - only unless ``mult``.

    Lengths L ~ U[min_len, max_len]. A sequence is a random expression of L - 3 tokens
    (``random_bracketed_expression``), then '=' at L - 3, the answer position L - 2 (input PAD 11,
    target = value, since answers 0-4 are the digit tokens) and one trailing PAD 11 at L - 1, as
    in the authors' generator ("= result PAD"). Worked example, ( 1 + ( 2 ) ) = 3 with L = 10:

        tokens  = [ 8,  1,  5,  8,  2,  9,  9, 10, 11, 11]
        targets = [-1, -1, -1, -1, -1, -1, -1, -1,  3, -1]

    Args:
        n: number of sequences.
        min_len, max_len: bounds on L; min_len >= 4 (an expression of one digit).
        generator: CPU torch.Generator, the only source of randomness.
        mult: also draw '*' (token 7), as Deletang et al. do; the paper's runs use the default False.
    """
    validate_task_inputs(n, min_len, max_len, generator, shortest=4)
    if not isinstance(mult, bool):
        raise TypeError(f"mult must be a bool, got {type(mult).__name__}")
    lengths = uniform_lengths(n, min_len, max_len, generator)
    words = torch.full((n, max_len), BRACKETS_PAD, dtype=torch.long)
    values = torch.empty(n, dtype=torch.long)
    for row, length in enumerate(lengths.tolist()):
        expression, values[row] = random_bracketed_expression(length - 3, generator, mult)
        words[row, : length - 2] = torch.tensor([*expression, BRACKETS_EQUALS])
    return assemble(
        "modular_arithmetic_with_brackets", words, lengths, lengths - 2, values, BRACKETS_PAD, 12, 0, MODULUS
    )


def cycle_navigation(n: int, min_len: int, max_len: int, generator: torch.Generator) -> Batch:
    """Cycle navigation on Z_5: start at node 0, take steps -1, 0 or +1, answer the final node.

    Lengths L ~ U[min_len, max_len]. A sequence is L - 1 uniform steps (tokens 1, 2, 3 for steps
    -1, 0, +1) then the answer position L - 1, input PAD 0, target 4 + final node. Worked example,
    steps -1 -1 0 (L = 4; 0 -> 4 -> 3 -> 3):

        tokens  = [ 1,  1,  2, 0]
        targets = [-1, -1, -1, 7]

    Args:
        n: number of sequences.
        min_len, max_len: bounds on L; min_len >= 2 (one step at least).
        generator: CPU torch.Generator, the only source of randomness.
    """
    validate_task_inputs(n, min_len, max_len, generator, shortest=2)
    lengths = uniform_lengths(n, min_len, max_len, generator)
    steps = torch.randint(3, (n, max_len), generator=generator) - 1
    is_step = torch.arange(max_len) < (lengths - 1)[:, None]
    nodes = (steps * is_step).sum(dim=1) % MODULUS
    words = steps + 1 + CYCLE_STEP_MINUS_ONE
    return assemble("cycle_navigation", words, lengths, lengths - 1, CYCLE_NODE_0 + nodes, 0, 9, CYCLE_NODE_0, MODULUS)


def scaled_accuracy(acc: float, chance: float) -> float:
    """(acc - chance) / (1 - chance): 0 at chance level, 1 when every answer is right, negative below chance."""
    for value, name in ((acc, "acc"), (chance, "chance")):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    if not 0.0 <= acc <= 1.0:
        raise ValueError(f"acc must lie in [0, 1], got {acc}")
    if not 0.0 <= chance < 1.0:
        raise ValueError(f"chance must lie in [0, 1), got {chance}")
    return (acc - chance) / (1.0 - chance)


def decode(batch: Batch, index: int) -> str:
    """Sequence ``index`` of ``batch`` as text, the answer in brackets at the answer position.

    E.g. ``"2 - 3 - 3 * 2 = [3]"``, ``"1 0 1 1 [1]"`` (parity), ``"( 1 + ( 2 ) ) = [3] _"``
    (``_`` is PAD), ``"-1 -1 0 [3]"`` (cycle navigation).
    """
    if not isinstance(batch, Batch):
        raise TypeError(f"batch must be a Batch, got {type(batch).__name__}")
    require_positive_int(len(batch.tokens), "the batch size")
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
    if not 0 <= index < len(batch.tokens):
        raise ValueError(f"index must lie in [0, {len(batch.tokens) - 1}], got {index}")
    if batch.task in PROGRAM_TASKS:
        raise ValueError(
            f"decode does not read program batches ({batch.task!r}): the batch does not say the task's variables "
            "and modulus; use the text method of the ProgramTask that made it, e.g. "
            f"PROGRAM_TASKS[{batch.task!r}].text(batch, {index})"
        )
    if batch.task not in SYMBOLS or batch.every_position:
        raise ValueError(f"decode reads batches of {', '.join(SYMBOLS)}, got a batch of {batch.task!r}")
    symbols = SYMBOLS[batch.task]
    length = int(batch.lengths[index])
    words = [symbols[token] for token in batch.tokens[index, :length].tolist()]
    answer_position = int(batch.answer_positions[index])
    words[answer_position] = f"[{symbols[int(batch.targets[index, answer_position])]}]"
    return " ".join(words)


def sequence_accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cumulative sequence accuracy: entry t is the fraction of rows right at every position ≤ t.

    Args:
        predictions: LongTensor (N, T), the predicted class at every position.
        targets: LongTensor (N, T), the right class, or -1 where nothing is scored (padding);
            unscored positions count as right.

    Returns:
        float32 tensor (T,), non-increasing in t.
    """
    for x, name in ((predictions, "predictions"), (targets, "targets")):
        if not isinstance(x, torch.Tensor) or x.dtype != torch.long or x.dim() != 2:
            raise TypeError(f"{name} must be a LongTensor (N, T)")
    if predictions.shape != targets.shape:
        raise ValueError(
            f"predictions {tuple(predictions.shape)} and targets {tuple(targets.shape)} must have the same shape"
        )
    if predictions.shape[0] == 0:
        raise ValueError("need at least one sequence")
    ### BEGIN SOLUTION
    right = (predictions == targets) | (targets == IGNORE)
    return right.long().cumprod(dim=1).float().mean(dim=0)
    ### END SOLUTION


@dataclass(frozen=True)
class WordProblem:
    """A word-problem task: a group, the elements that may appear as inputs, tokens per element.

    With ``tokens_per_element`` = k > 1 each input element is followed by k - 1 copies of a blank
    token (index |G|) and the target at position t is the product of the elements read up to
    position t - (k - 1) (the identity before): the model gets k steps to apply each element.
    """

    name: str
    group: Group
    alphabet: tuple[int, ...]
    tokens_per_element: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.group, Group):
            raise TypeError(f"group must be a Group, got {type(self.group).__name__}")
        require_positive_int(self.tokens_per_element, "tokens_per_element")
        if not self.alphabet or any(
            isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.group.order for i in self.alphabet
        ):
            raise ValueError(
                f"alphabet must be a non-empty tuple of element indices in [0, {self.group.order - 1}], "
                f"got {self.alphabet!r}"
            )

    @property
    def blank_token(self) -> int:
        return self.group.order

    @property
    def pad_token(self) -> int:
        return self.group.order + 1

    @property
    def vocab_size(self) -> int:
        return self.group.order + 2

    def __call__(self, n: int, min_len: int, max_len: int, generator: torch.Generator) -> Batch:
        """N sequences of lengths U[min_len, max_len], PAD (target -1) after each length.

        Worked example, S3 (elements in lexicographic order, 1 = (0 2 1), 2 = (1 0 2)), words 1 2 2:
        tokens = [1, 2, 2], targets = [1, 3, 1] (1 then 2 is element 3 = (1 2 0)).
        """
        validate_task_inputs(n, min_len, max_len, generator, shortest=1)
        lengths = uniform_lengths(n, min_len, max_len, generator)
        alphabet = torch.tensor(self.alphabet)
        k = self.tokens_per_element
        elements = alphabet[torch.randint(len(alphabet), (n, -(-max_len // k)), generator=generator)]
        products = prefix_products(self.group.table, elements)
        tokens = torch.full((n, elements.shape[1] * k), self.blank_token, dtype=torch.long)
        tokens[:, ::k] = elements
        # Position t is scored on the elements read by t - (k - 1), the identity (index 0) before.
        elements_read = (torch.arange(tokens.shape[1]) - (k - 1)) // k
        targets = torch.where(elements_read >= 0, products[:, elements_read.clamp(min=0)], 0)
        tokens, targets = tokens[:, :max_len], targets[:, :max_len]
        beyond = torch.arange(max_len) >= lengths[:, None]
        tokens[beyond], targets[beyond] = self.pad_token, IGNORE
        width = int(lengths.max())
        return Batch(
            self.name,
            tokens[:, :width],
            targets[:, :width],
            lengths,
            self.vocab_size,
            self.pad_token,
            0,
            self.group.order,
            1.0 / self.group.order,
            every_position=True,
        )


def word_problem(
    group_name: str, max_moved: int | None = None, tokens_per_element: int = 1, name: str | None = None
) -> WordProblem:
    """The word problem of ``group_name``; inputs only the elements moving ≤ ``max_moved`` points if given."""
    if max_moved is not None and (isinstance(max_moved, bool) or not isinstance(max_moved, int) or max_moved < 0):
        raise ValueError(f"max_moved must be a non-negative int or None, got {max_moved!r}")
    chosen = group(group_name)
    alphabet = tuple(
        i for i, element in enumerate(chosen.elements) if max_moved is None or moved_points(element) <= max_moved
    )
    return WordProblem(name or group_name, chosen, alphabet, tokens_per_element)


WORD_PROBLEMS: dict[str, WordProblem] = {
    problem.name: problem
    for problem in (
        word_problem("S3"),
        word_problem("S4"),
        word_problem("S5"),
        word_problem("A4"),
        word_problem("A5"),
        word_problem("Z5"),
        word_problem("Z60"),
        word_problem("A4_x_Z5"),
        word_problem("S4", max_moved=2, name="S4_only_swaps"),
        word_problem("S5", max_moved=2, name="S5_only_swaps"),
        word_problem("S5", max_moved=3, name="S5_swaps_and_3_cycles"),
        word_problem("S5", tokens_per_element=4, name="S5_4_tokens"),
    )
}


# ---------------------------------------------------------------------------------------------- straight-line programs
#
# The names of the program tasks (``ProgramTask``, ``interpret`` and ``PROGRAM_TASKS`` in the module's glossary):
#
# ``STATEMENT_KINDS``   the four statements: ``set`` x = c (a reset), ``copy`` x = y, ``swap`` x y (a
#                       transposition of two variables), ``add`` x += c mod m (a Z_m counter)
# ``n_variables``       k, the variables a, b, c, … (``VARIABLE_NAMES``)
# ``modulus``           m: every value lies in Z_m = {0, …, m - 1}
# ``statements``        the (kind, target, operand) of each statement token; operand is the constant c
#                       of ``set`` and ``add``, the variable y of ``copy`` and ``swap``

STATEMENT_KINDS = ("set", "copy", "swap", "add")
SET, COPY, SWAP, ADD = range(4)
VARIABLE_NAMES = "abcdefghijklmnopqrstuvwxyz"


def interpret(
    kinds: torch.Tensor,
    targets: torch.Tensor,
    operands: torch.Tensor,
    lengths: torch.Tensor,
    n_variables: int,
    modulus: int,
) -> torch.Tensor:
    """Run straight-line programs and return the final value of every variable.

    Statement s of row i (for s < lengths[i]) is the kind kinds[i, s] (SET, COPY, SWAP or ADD) acting on
    the variable targets[i, s] with operand operands[i, s]:

    ====  =================  ==================================================
    kind  written            effect
    ====  =================  ==================================================
    SET   ``x = c``          x becomes the constant c
    COPY  ``x = y``          x becomes the current value of y
    SWAP  ``swap x y``       x and y exchange their current values
    ADD   ``x += c``         x becomes (x + c) mod m
    ====  =================  ==================================================

    Every variable starts at 0; statements run first to last; those at s >= lengths[i] are ignored (but
    must be valid statements too, so that every column can be read). E.g. with k = 3, m = 5, the program
    ``a = 3; swap a c; c += 4`` gives a = 0, b = 0, c = 2.

    Args:
        kinds, targets, operands: LongTensor (N, S).
        lengths: LongTensor (N,), the number of statements of each row, in [0, S].
        n_variables: k >= 1; targets (and the operands of copy and swap) lie in [0, k).
        modulus: m >= 1; the constants of set and add lie in [0, m).

    Returns:
        LongTensor (N, k), the final values, each in [0, m).
    """
    require_positive_int(n_variables, "n_variables")
    require_positive_int(modulus, "modulus")
    for x, name in ((kinds, "kinds"), (targets, "targets"), (operands, "operands")):
        if not isinstance(x, torch.Tensor) or x.dtype != torch.long or x.dim() != 2:
            found = f"a {x.dtype} tensor of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"{name} must be a LongTensor (N, S), got {found}")
    if not (kinds.shape == targets.shape == operands.shape):
        raise ValueError(
            f"kinds {tuple(kinds.shape)}, targets {tuple(targets.shape)} and operands {tuple(operands.shape)} "
            "must have the same shape (N, S)"
        )
    if not isinstance(lengths, torch.Tensor) or lengths.dtype != torch.long or lengths.shape != kinds.shape[:1]:
        raise TypeError(f"lengths must be a LongTensor of shape ({kinds.shape[0]},)")
    if bool(((lengths < 0) | (lengths > kinds.shape[1])).any()):
        raise ValueError(f"lengths must lie in [0, {kinds.shape[1]}] (S, the statements per row)")
    takes_variable = (kinds == COPY) | (kinds == SWAP)
    operand_limit = torch.where(takes_variable, n_variables, modulus)
    problems = (
        ((kinds < SET) | (kinds > ADD), f"kinds must lie in [{SET}, {ADD}] (SET, COPY, SWAP, ADD)"),
        ((targets < 0) | (targets >= n_variables), f"targets must be variables in [0, {n_variables - 1}]"),
        (
            (operands < 0) | (operands >= operand_limit),
            f"operands must be variables in [0, {n_variables - 1}] for copy and swap, constants in "
            f"[0, {modulus - 1}] for set and add",
        ),
    )
    for wrong, message in problems:
        if bool(wrong.any()):
            row, statement = wrong.nonzero()[0].tolist()
            raise ValueError(f"{message}; statement {statement} of row {row} breaks it")
    ### BEGIN SOLUTION
    rows = torch.arange(kinds.shape[0])
    values = torch.zeros(kinds.shape[0], n_variables, dtype=torch.long)  # (N, k)
    columns = zip(kinds.unbind(1), targets.unbind(1), operands.unbind(1))
    for step, (kind, target, operand) in enumerate(columns):  # each (N,)
        current = values[rows, target]
        # The value of the operand's variable; a constant is clamped to a valid index, and not used.
        other = values[rows, operand.clamp(max=n_variables - 1)]
        new = torch.where(kind == SET, operand, (current + operand) % modulus)
        new = torch.where((kind == COPY) | (kind == SWAP), other, new)
        updated = values.clone()
        updated[rows, target] = new
        swapping = kind == SWAP
        updated[rows[swapping], operand[swapping]] = current[swapping]
        values = torch.where((step < lengths)[:, None], updated, values)
    return values
    ### END SOLUTION


@dataclass(frozen=True)
class ProgramTask:
    """Straight-line programs over k variables in Z_m: after the program, a query ``? x`` asks x's final value.

    One token per statement: each token is one transformation of the variables, as each letter of a
    word problem is one group element (a swap is a transposition, an add a step of a Z_m counter, a set
    a reset). Spelled character by character, the model would have to parse the statements as well, and
    the task would mix parsing with keeping state; one token per statement leaves the state alone.

    Tokens: 0 PAD; then each statement of ``statements``, enumerated kind by kind in the order set, copy,
    swap, add, then by target x, then by operand:

    - ``x = c`` for every x and c (always present: the initialisations use them),
    - ``x = y`` for y != x, if copy is a body kind,
    - ``swap x y`` for x < y, one token per pair, if swap is a body kind,
    - ``x += c`` for c in 1 … m - 1, if add is a body kind;

    then the k queries ``? a``, ``? b``, … from ``query_offset``, then the m answers (values 0 … m - 1)
    from ``answer_offset``.

    A row of length L is the k initialisations ``a = c_a; b = c_b; …`` (c uniform), L - k - 2 body
    statements drawn uniformly from the statements of the body kinds, the query ``? x`` (x uniform), and
    the answer position (input PAD, target the answer token of x's final value), so L >= k + 2.
    """

    name: str
    n_variables: int = 3
    modulus: int = 5
    kinds: tuple[str, ...] = STATEMENT_KINDS

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, got {self.name!r}")
        require_positive_int(self.n_variables, "n_variables")
        if self.n_variables > len(VARIABLE_NAMES):
            raise ValueError(f"n_variables must be at most {len(VARIABLE_NAMES)} (a … z), got {self.n_variables}")
        require_positive_int(self.modulus, "modulus", minimum=2)
        if (
            not isinstance(self.kinds, tuple)
            or not self.kinds
            or any(kind not in STATEMENT_KINDS for kind in self.kinds)
            or len(set(self.kinds)) != len(self.kinds)
        ):
            raise ValueError(
                f"kinds must be a non-empty tuple of distinct kinds from {STATEMENT_KINDS}, got {self.kinds!r}"
            )
        if not self.body_tokens:
            raise ValueError(f"kinds {self.kinds} make no statement with n_variables={self.n_variables}")

    @property
    def statements(self) -> tuple[tuple[int, int, int], ...]:
        """(kind, target, operand) of the tokens 1, 2, …, in the order of the class docstring."""
        k, m = self.n_variables, self.modulus
        made = [(SET, x, c) for x in range(k) for c in range(m)]
        if "copy" in self.kinds:
            made += [(COPY, x, y) for x in range(k) for y in range(k) if y != x]
        if "swap" in self.kinds:
            made += [(SWAP, x, y) for x in range(k) for y in range(x + 1, k)]
        if "add" in self.kinds:
            made += [(ADD, x, c) for x in range(k) for c in range(1, m)]
        return tuple(made)

    @property
    def body_tokens(self) -> tuple[int, ...]:
        """The tokens the body statements are drawn from: those of the task's kinds."""
        return tuple(
            token for token, (kind, _, _) in enumerate(self.statements, start=1) if STATEMENT_KINDS[kind] in self.kinds
        )

    @property
    def pad_token(self) -> int:
        return 0

    @property
    def query_offset(self) -> int:
        """The token of ``? a``; ``? x`` for variable x is query_offset + x."""
        return 1 + len(self.statements)

    @property
    def answer_offset(self) -> int:
        """The token of answer 0; answer v is answer_offset + v."""
        return self.query_offset + self.n_variables

    @property
    def n_classes(self) -> int:
        return self.modulus

    @property
    def vocab_size(self) -> int:
        return self.answer_offset + self.modulus

    @property
    def shortest(self) -> int:
        """The shortest row: k initialisations, the query and the answer position (an empty body)."""
        return self.n_variables + 2

    def __call__(self, n: int, min_len: int, max_len: int, generator: torch.Generator) -> Batch:
        """N programs of lengths L ~ U[min_len, max_len] (answer position included), labelled by ``interpret``.

        Worked example, the task ``"code"`` (k = 3, m = 5: tokens 1-15 the sets a = 0 … c = 4, 16-21 the
        copies, 22-24 the swaps, 25-36 the adds a += 1 … c += 4, 37-39 the queries, 40-44 the answers), the
        row ``a = 3; b = 0; c = 4; swap a c; a += 2; ? a`` (L = 7; a ends at 4 + 2 = 1 mod 5):

            tokens  = [ 4,  6, 15, 23, 26, 37,  0]
            targets = [-1, -1, -1, -1, -1, -1, 41]

        Args:
            n: number of sequences.
            min_len, max_len: bounds on L; min_len >= k + 2.
            generator: CPU torch.Generator, the only source of randomness.
        """
        validate_task_inputs(n, min_len, max_len, generator, shortest=1)
        if min_len < self.shortest:
            raise ValueError(
                f"min_len must be at least k + 2 = {self.shortest} for {self.name} (k = {self.n_variables} "
                f"initialisations, the query and the answer position), got {min_len}"
            )
        k, m = self.n_variables, self.modulus
        lengths = uniform_lengths(n, min_len, max_len, generator)
        initial = torch.randint(m, (n, k), generator=generator)
        body_tokens = torch.tensor(self.body_tokens)
        body = body_tokens[torch.randint(len(body_tokens), (n, max_len - k - 2), generator=generator)]
        queried = torch.randint(k, (n,), generator=generator)
        # The set token of (x, c) is 1 + x m + c (the sets come first, x by x).
        words = torch.cat([1 + torch.arange(k) * m + initial, body, torch.zeros(n, 2, dtype=torch.long)], dim=1)
        program = words[:, : max_len - 2]  # (N, max_len - 2): statements, the body's unused tail beyond
        values = interpret(*self.statement_parts(program), lengths - 2, k, m)  # (N, k)
        rows = torch.arange(n)
        words[rows, lengths - 2] = self.query_offset + queried
        answers = values[rows, queried]
        return assemble(
            self.name,
            words,
            lengths,
            lengths - 1,
            self.answer_offset + answers,
            0,
            self.vocab_size,
            self.answer_offset,
            m,
        )

    def statement_parts(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``interpret``'s kinds, targets and operands of a LongTensor of tokens, each of its shape. Tokens that are
        no statement (PAD, queries, answers) read as ``a = 0``: valid, and never run when they lie beyond a row's
        length."""
        meaning = torch.zeros(self.vocab_size, 3, dtype=torch.long)  # (vocab, 3): kind, target, operand
        meaning[1 : 1 + len(self.statements)] = torch.tensor(self.statements)
        kinds, targets, operands = meaning[tokens].unbind(-1)
        return kinds, targets, operands

    def statement_text(self, token: int) -> str:
        """The text of one statement token, e.g. ``"swap a c"``."""
        kind, target, operand = self.statements[token - 1]
        x = VARIABLE_NAMES[target]
        if kind == SET:
            return f"{x} = {operand}"
        if kind == COPY:
            return f"{x} = {VARIABLE_NAMES[operand]}"
        if kind == SWAP:
            return f"swap {x} {VARIABLE_NAMES[operand]}"
        return f"{x} += {operand}"

    def text(self, batch: Batch, index: int) -> str:
        """Row ``index`` of a batch of this task as a program and its answer.

        E.g. ``"a = 3; b = 0; c = 4; swap a c; a += 2; ? a -> 1"``.
        """
        if not isinstance(batch, Batch):
            raise TypeError(f"batch must be a Batch, got {type(batch).__name__}")
        if batch.task != self.name or batch.vocab_size != self.vocab_size:
            raise ValueError(
                f"this is the task {self.name!r} with {self.vocab_size} tokens; the batch is of {batch.task!r} "
                f"with {batch.vocab_size}"
            )
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not 0 <= index < len(batch.tokens):
            raise ValueError(f"index must lie in [0, {len(batch.tokens) - 1}], got {index}")
        length = int(batch.lengths[index])
        tokens = batch.tokens[index, : length - 2].tolist()
        query = int(batch.tokens[index, length - 2]) - self.query_offset
        answer = int(batch.targets[index, length - 1]) - self.answer_offset
        statements = "; ".join(self.statement_text(token) for token in tokens)
        return f"{statements}; ? {VARIABLE_NAMES[query]} -> {answer}"


PROGRAM_TASKS: dict[str, ProgramTask] = {
    task.name: task
    for task in (
        ProgramTask("code"),
        ProgramTask("code_swaps", kinds=("swap",)),
        ProgramTask("code_counters", kinds=("add",)),
        ProgramTask("code_swaps_and_sets", kinds=("swap", "set")),
        ProgramTask("code_resets", kinds=("set", "copy")),
    )
}
