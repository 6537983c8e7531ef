"""Linear probes of frozen model features (Lesson 11): does a quantity the model should track lie, linearly, in
what the model computed?

A probe is a multinomial logistic regression trained on features of a FROZEN model (no gradient reaches the
model) to predict a label at every position, fitted on one set of sequences and scored on another. Two kinds of
feature: the recurrent state S_t itself, and the vector h_t the model's head reads.

Glossary (code name -> paper symbol or term):

========================  =========================================================================================
``hidden_states``         h_t, the vector the head reads at position t (the final norm's output): (N, T, d_model)
``recurrent_states``      S_t of each chosen recurrent layer after token t (per head D_k × D_v for DeltaNet and
                          DeltaProduct, ``inspection.read_layer``), flattened and concatenated: (N, T, F)
``features``              either of them by name: ``"states"`` (S_t) or ``"outputs"`` (h_t)
``LinearProbe``           a fitted probe: class scores = ((x - mean) / scale) W + b
``fit_probe``             the fit: full-batch L-BFGS on the mean cross-entropy + weight_decay · ‖W‖², float64;
                          optionally class-``balanced`` (each class present weighs as much in the loss)
``principal_components``  features standardised and projected on the top principal directions of the fit set
                          (``principal_directions``: a randomized range finder, seeded): fewer weights to fit
``score_probe``           fit on one set of positions, score on another: a ``ProbeResult``
``majority_baseline``     the accuracy of always answering the commonest class of the scored positions
``balanced_accuracy``     the mean recall over the classes present: 1 / (classes present) for ANY constant answer,
                          however rare the other classes are (so a 92 % majority class cannot make it look high)
``program_values``        the value of every variable after each statement of a program (Lesson 11's programs,
                          ``tasks.ProgramTask``), by running an interpreter on every prefix: (N, L, k)
``probe_programs``        a probe of one variable's current value at every body statement of programs
========================  =========================================================================================

Why probe S_t and not only h_t: in a linear RNN the memory IS the matrix S_t; h_t is one read-out of it (S_tᵀ q_t
through the output projection, the residual stream and a norm), chosen by training for the next answer, so a
quantity can be in S_t and absent from h_t. A probe on S_t asks what the layer remembers; on h_t, what the model
has made readable at that position.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .inspection import SUPPORTED_LAYERS, read_layer
from .models import SequenceModel
from .tasks import PROGRAM_TASKS, VARIABLE_NAMES, Batch, ProgramTask, interpret
from .validate import require_positive_int, require_tensor

FEATURE_KINDS = ("states", "outputs")
IGNORED = -1  # the label of a position with no value (program_values)


def _require_model(model: object) -> SequenceModel:
    if not isinstance(model, SequenceModel):
        raise TypeError(f"model must be a SequenceModel, got {type(model).__name__}")
    return model


def _require_tokens(tokens: object, model: SequenceModel) -> torch.Tensor:
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long or tokens.dim() != 2:
        found = f"a {tokens.dtype} tensor of shape {tuple(tokens.shape)}" if isinstance(tokens, torch.Tensor) else ""
        raise TypeError(f"tokens must be a LongTensor (N, T), got {found or type(tokens).__name__}")
    if tokens.numel() and bool(((tokens < 0) | (tokens >= model.vocab_size)).any()):
        raise ValueError(f"tokens must lie in [0, {model.vocab_size - 1}] (the model's vocabulary)")
    return tokens


def _require_classes(x: object, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dtype != torch.long or x.dim() != 1 or not len(x):
        found = f"a {x.dtype} tensor of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a non-empty LongTensor (M,) of classes, got {found}")
    return x


# --- features --------------------------------------------------------------------------------------


@torch.no_grad()
def hidden_states(model: SequenceModel, tokens: torch.Tensor) -> torch.Tensor:
    """h_t, the vector the head reads (the output of the final norm), at every position: (N, T, d_model).

    Frozen: computed without gradients, in eval mode; on the model's device.
    """
    _require_model(model)
    _require_tokens(tokens, model)
    captured: list[torch.Tensor] = []
    hook = model.final_norm.register_forward_hook(lambda module, inputs, output: captured.append(output))
    was_training = model.training
    model.eval()
    try:
        model(tokens.to(next(model.parameters()).device))
    finally:
        hook.remove()
        model.train(was_training)
    return captured[0]


def recurrent_states(model: SequenceModel, tokens: torch.Tensor, layers: Sequence[int] | None = None) -> torch.Tensor:
    """S_t after every token of ``tokens`` (N, T), of each layer in ``layers`` (default: all), flattened and
    concatenated in the order given: (N, T, F), float64 on the CPU.

    F = Σ over the layers of H · n · m (DeltaNet and DeltaProduct: heads × D_k × D_v; a diagonal layer: d_model).
    Read by ``inspection.read_layer`` in eval mode (no dropout), frozen. A layer without a matrix state (an LSTM,
    attention) raises: probe its ``"outputs"`` instead.
    """
    _require_model(model)
    _require_tokens(tokens, model)
    chosen = list(range(len(model.layers))) if layers is None else list(layers)
    if not chosen:
        raise ValueError("layers must name at least one layer (or be None for all)")
    for layer in chosen:
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(model.layers):
            raise ValueError(f"layers must be indices in [0, {len(model.layers) - 1}], got {layer!r}")
        if not isinstance(model.layers[layer], SUPPORTED_LAYERS):
            names = ", ".join(kind.__name__ for kind in SUPPORTED_LAYERS)
            raise TypeError(
                f"layer {layer} is a {type(model.layers[layer]).__name__}, which has no recurrent state S_t to "
                f"read (states are read from {names}); probe its features 'outputs' instead"
            )
    was_training = model.training
    model.eval()
    try:
        tokens = tokens.to(next(model.parameters()).device)
        states = [read_layer(model, tokens, layer).states.flatten(2) for layer in chosen]  # each (N, T, H·n·m)
    finally:
        model.train(was_training)
    return torch.cat(states, dim=-1)  # (N, T, F)


def features(
    model: SequenceModel, tokens: torch.Tensor, kind: str = "states", layers: Sequence[int] | None = None
) -> torch.Tensor:
    """The frozen features a probe reads at every position of ``tokens`` (N, T): (N, T, F).

    ``kind``: ``"states"``, S_t of the recurrent layers ``layers`` (default all; ``recurrent_states``), or
    ``"outputs"``, h_t (``hidden_states``), which every model has (``layers`` must then be None).
    """
    require_kind(kind)
    if kind == "outputs" and layers is not None:
        raise ValueError("layers selects recurrent states; the outputs h_t are the model's, not a layer's")
    return recurrent_states(model, tokens, layers) if kind == "states" else hidden_states(model, tokens)


def require_kind(kind: object) -> str:
    """``kind`` if it is one of ``FEATURE_KINDS``, else raise."""
    if kind not in FEATURE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, FEATURE_KINDS))}, got {kind!r}")
    return kind


# --- the probe -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearProbe:
    """A fitted linear probe: class scores = ((features - mean) / scale) @ weight + bias."""

    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """The class of each row of ``features`` (M, d): LongTensor (M,)."""
        require_tensor(features, "features", 2, "(M, d)")
        standard = (features.double().cpu() - self.mean) / self.scale
        return (standard @ self.weight + self.bias).argmax(dim=-1)


def fit_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    n_classes: int | None = None,
    steps: int = 100,
    weight_decay: float = 1e-4,
    balanced: bool = False,
) -> LinearProbe:
    """Multinomial logistic regression of ``labels`` (M,) on ``features`` (M, d), fitted by full-batch L-BFGS.

    Features are standardised with their mean and standard deviation; the loss is the mean cross-entropy plus
    ``weight_decay`` · ‖W‖². ``balanced``: weight each class by M / (classes present · its count), so that
    every class present counts as much as the others (the loss that matches ``balanced_accuracy``). Float64
    on the CPU from a zero start: deterministic.
    """
    require_tensor(features, "features", 2, "(M, d)")
    _require_classes(labels, "labels")
    if len(labels) != len(features):
        raise ValueError(
            f"labels must hold one class per row of features; got {tuple(labels.shape)} for features "
            f"{tuple(features.shape)}"
        )
    require_positive_int(steps, "steps")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    n_classes = int(labels.max()) + 1 if n_classes is None else require_positive_int(n_classes, "n_classes")
    if int(labels.min()) < 0 or int(labels.max()) >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes - 1}]")
    x = features.double().cpu()
    y = labels.cpu()
    mean, scale = x.mean(dim=0), x.std(dim=0).clamp_min(1e-8)
    x = (x - mean) / scale
    class_weights = None
    if balanced:
        counts = torch.bincount(y, minlength=n_classes).double()
        class_weights = torch.where(counts > 0, len(y) / ((counts > 0).sum() * counts.clamp_min(1)), 0.0)
    weight = torch.zeros(x.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, y, weight=class_weights) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(objective)
    return LinearProbe(mean, scale, weight.detach(), bias.detach())


PCA_SEED = 0  # the range finder's random start: the same directions on every call
POWER_ITERATIONS = 1  # enough where the spectrum decays, as a state's does; each costs two passes over x


def principal_components(
    fit_features: torch.Tensor, score_features: torch.Tensor, count: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sets of features (M, d) and (M', d), standardised with the mean and deviation of ``fit_features`` and
    projected onto the top ``count`` principal directions of the standardised ``fit_features``: (M, r), (M', r)
    with r = min(count, d), float64 on the CPU.

    A probe fitted on them is still a linear probe of the features (the projection folds into W), with fewer
    weights than a wide state (1024 numbers) has positions to fit them on; computed once, it serves every
    quantity probed on the same features.
    """
    require_tensor(fit_features, "fit_features", 2, "(M, d)")
    require_tensor(score_features, "score_features", 2, "(M', d)")
    if score_features.shape[1] != fit_features.shape[1]:
        raise ValueError(
            f"need as many columns in both, got {tuple(fit_features.shape)}, {tuple(score_features.shape)}"
        )
    require_positive_int(count, "count")
    fitting, scoring = fit_features.double().cpu(), score_features.double().cpu()
    mean, scale = fitting.mean(dim=0), fitting.std(dim=0).clamp_min(1e-8)
    fitting, scoring = (fitting - mean) / scale, (scoring - mean) / scale
    if count >= fitting.shape[1]:
        return fitting, scoring
    directions = principal_directions(fitting, count)  # (d, r)
    return fitting @ directions, scoring @ directions


def principal_directions(x: torch.Tensor, count: int) -> torch.Tensor:
    """The top ``count`` right singular vectors of ``x`` (M, d), by a randomized range finder with
    ``POWER_ITERATIONS`` power iterations (Halko, Martinsson & Tropp 2011): (d, count), orthonormal columns."""
    start = torch.randn(x.shape[1], count + 16, generator=torch.Generator().manual_seed(PCA_SEED), dtype=x.dtype)
    span = torch.linalg.qr(x @ start).Q  # (M, count + 16)
    for _ in range(POWER_ITERATIONS):
        span = torch.linalg.qr(x @ (x.T @ span)).Q
    _, _, right = torch.linalg.svd(span.T @ x, full_matrices=False)  # right (count + 16, d)
    return right[:count].T


@dataclass(frozen=True)
class ProbeResult:
    """A probe's scores on held-out positions, beside what a constant answer scores there.

    ``accuracy``: the fraction of scored positions classified right; ``majority_baseline``: the same for the
    commonest class of the scored positions. ``balanced_accuracy``: the mean over the classes present of the
    fraction of that class found (its recall); any constant answer scores 1 / ``classes_present``, whatever the
    class frequencies. ``quantity`` and ``features`` name what was predicted from what (empty when not given).
    """

    accuracy: float
    majority_baseline: float
    balanced_accuracy: float
    n_positions: int
    n_train_positions: int
    n_classes: int
    classes_present: int = 0
    quantity: str = ""
    features: str = ""

    @property
    def constant_balanced_accuracy(self) -> float:
        """What any constant answer scores in balanced accuracy: 1 / (classes present); NaN when not recorded."""
        return 1 / self.classes_present if self.classes_present else math.nan


def balanced_accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """The mean recall over the classes present in ``labels`` (M,) of the predictions ``predicted`` (M,)."""
    _require_classes(predicted, "predicted")
    _require_classes(labels, "labels")
    if predicted.shape != labels.shape:
        raise ValueError(f"need two (M,) tensors of one length, got {tuple(predicted.shape)} and {tuple(labels.shape)}")
    recalls = [(predicted[labels == k] == k).double().mean().item() for k in labels.unique().tolist()]
    return sum(recalls) / len(recalls)


def score_probe(
    fit_features: torch.Tensor,
    fit_labels: torch.Tensor,
    score_features: torch.Tensor,
    score_labels: torch.Tensor,
    n_classes: int,
    quantity: str = "",
    kind: str = "",
    **fitting: Any,
) -> ProbeResult:
    """Fit a probe on (``fit_features`` (M, d), ``fit_labels`` (M,)), score it on (``score_features`` (M', d),
    ``score_labels`` (M',)): accuracy, majority baseline and balanced accuracy of the scored positions, counts.

    ``fitting``: options of ``fit_probe`` (steps, weight_decay, balanced); ``quantity`` and
    ``kind`` only label the result.
    """
    require_tensor(score_features, "score_features", 2, "(M', d)")
    _require_classes(score_labels, "score_labels")
    if len(score_labels) != len(score_features) or score_features.shape[1] != fit_features.shape[-1]:
        raise ValueError(
            f"score_features {tuple(score_features.shape)} must have one row per score label "
            f"({len(score_labels)}) and as many columns as fit_features {tuple(fit_features.shape)}"
        )
    if int(score_labels.min()) < 0 or int(score_labels.max()) >= n_classes:
        raise ValueError(f"score_labels must lie in [0, {n_classes - 1}]")
    probe = fit_probe(fit_features, fit_labels, n_classes, **fitting)
    predicted = probe.predict(score_features)
    labels = score_labels.cpu()
    return ProbeResult(
        accuracy=(predicted == labels).double().mean().item(),
        majority_baseline=torch.bincount(labels, minlength=n_classes).max().item() / len(labels),
        balanced_accuracy=balanced_accuracy(predicted, labels),
        n_positions=len(labels),
        n_train_positions=len(fit_labels),
        n_classes=n_classes,
        classes_present=len(labels.unique()),
        quantity=quantity,
        features=kind,
    )


# --- programs --------------------------------------------------------------------------------------


def _require_program_task(task: object) -> ProgramTask:
    if isinstance(task, str) and task in PROGRAM_TASKS:
        return PROGRAM_TASKS[task]
    if not isinstance(task, ProgramTask):
        raise TypeError(f"task must be a ProgramTask or one of {', '.join(map(repr, PROGRAM_TASKS))}, got {task!r}")
    return task


def program_values(
    task: ProgramTask | str, batch: Batch, interpreter: Callable[..., torch.Tensor] = interpret
) -> torch.Tensor:
    """The value of every variable after the statement at each position of ``batch`` (of ``task``): (N, L, k).

    Row i's statements are its first lengths[i] - 2 tokens (the k initial sets, then the body); position s holds
    the values after statements 0 … s, computed as ``interpreter(kinds, targets, operands, lengths, k, m)`` (the
    signature of ``tasks.interpret``, e.g. a learner's own) on every prefix. The query, the answer position and
    the padding hold ``IGNORED`` (-1).
    """
    task = _require_program_task(task)
    if not isinstance(batch, Batch):
        raise TypeError(f"batch must be a Batch, got {type(batch).__name__}")
    if batch.task != task.name or batch.vocab_size != task.vocab_size:
        raise ValueError(f"batch is of {batch.task!r} ({batch.vocab_size} tokens), not of {task.name!r}")
    if not callable(interpreter):
        raise TypeError(f"interpreter must be callable like tasks.interpret, got {type(interpreter).__name__}")
    k, m = task.n_variables, task.modulus
    tokens = batch.tokens.cpu()
    kinds, targets, operands = task.statement_parts(tokens)  # each (N, L); non-statements never run
    statements = batch.lengths.cpu() - 2  # (N,)
    values = torch.full((*tokens.shape, k), IGNORED, dtype=torch.long)  # (N, L, k)
    for position in range(int(statements.max())):
        prefix = slice(0, position + 1)
        after = interpreter(
            kinds[:, prefix], targets[:, prefix], operands[:, prefix], statements.clamp(max=position + 1), k, m
        )  # (N, k)
        ran = position < statements
        values[ran, position] = after[ran]
    return values


def probe_programs(
    model: SequenceModel,
    task: ProgramTask | str,
    n_programs: int,
    length: int,
    variable: int = 0,
    kind: str = "states",
    seed: int = 0,
    **fitting: Any,
) -> ProbeResult:
    """How well a linear probe on the model's frozen features (``features``, ``kind``) reads the current value of
    ``variable`` at every body statement of ``task``'s programs.

    ``n_programs`` programs of ``length`` tokens (``task``'s L: answer position included) from a generator seeded
    with ``seed`` to fit, as many from ``seed + 1`` to score; the label at the body statement at position s is the
    variable's value after it (``program_values``), one of m classes. ``fitting``: options of ``fit_probe``.
    """
    _require_model(model)
    task = _require_program_task(task)
    require_positive_int(n_programs, "n_programs")
    require_positive_int(length, "length")
    if length <= task.shortest:
        raise ValueError(f"length must exceed {task.shortest} (k sets, the query, the answer) to hold a body")
    if isinstance(variable, bool) or not isinstance(variable, int) or not 0 <= variable < task.n_variables:
        raise ValueError(f"variable must be an index in [0, {task.n_variables - 1}], got {variable!r}")
    require_kind(kind)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if model.vocab_size != task.vocab_size:
        raise ValueError(f"the model reads {model.vocab_size} tokens; {task.name} has {task.vocab_size}")
    body = slice(task.n_variables, length - 2)  # the body statements' positions
    sets = []
    for offset in (0, 1):
        batch = task(n_programs, length, length, torch.Generator().manual_seed(seed + offset))
        states = features(model, batch.tokens, kind)[:, body].flatten(0, 1)  # (n_programs · body, F)
        labels = program_values(task, batch)[:, body, variable].flatten()  # (n_programs · body,)
        sets += [states, labels]
    name = f"{task.name}: value of {VARIABLE_NAMES[variable]}"
    return score_probe(*sets, n_classes=task.modulus, quantity=name, kind=kind, **fitting)
