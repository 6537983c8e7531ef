"""Lesson 11's language model: bytes of the standard library's own source, bits per byte, a probe for state.

Glossary (code name -> term; the paper, Grazzi et al. 2025, §5.3, trains 1.3B-parameter DeltaNets on text
and reports perplexity; this is the same comparison at laptop scale):

========================  ======================================================================
``Corpus``                the ``.py`` files of this Python's standard library (``sysconfig``'s
                          "stdlib" folder), read as bytes and split BY FILE into train and validation
``in_validation``         a file goes to validation when the first 8 hex digits of the SHA-256 of its
                          path (relative, with "/") are 0 modulo ``VALIDATION_ONE_IN`` (10): stable
                          across machines and runs, unlike ``hash()``
``EXCLUDED_FOLDERS``      folders never read: ``site-packages`` and ``dist-packages`` (installed
                          packages, not the standard library), ``__pycache__``, and the test suites
                          (``test/``, ``tests/``, ``idle_test/``: ``test/``, ``unittest/test``,
                          ``ctypes/test``, ``tkinter/test``, ``sqlite3/test``, ``distutils/tests``,
                          ``lib2to3/tests``, ``idlelib/idle_test`` …): test data holds deliberately
                          odd files, and ``test/`` alone is larger than everything else; and two
                          folders of generated data rather than code: ``pydoc_data`` (the help
                          texts, one 750 kB string) and ``encodings`` (mostly codec tables)
``max_train_bytes``       the cap of a split: its files, in the order of their SHA-256 digests (a
                          stable shuffle, so that a small cap still samples the whole library rather
                          than the files whose names start with "_" or "a"), are concatenated and
                          the result cut at the cap
``byte``                  a token: ids 0..255 are the bytes themselves (no tokeniser to learn)
``context``               T, the length of a training window; a window holds T + 1 bytes (inputs
                          and their next bytes)
``bits per byte``         the mean next-byte cross-entropy in bits (nats / ln 2): log₂ of the
                          per-byte perplexity; ``uniform`` = 8 (every byte 1/256), ``unigram`` = the
                          byte frequencies of the train split scored on validation
``cross_entropy_bits``    H = mean over positions of -log₂ softmax(logits)[target], the loss in
                          bits (Lesson 11's second exercise); ``bits_per_byte`` is it on next bytes
``LMConfig``              one run: model, eigenvalue range, width, optimiser, windows, seed
``LMResult``              a trained run: its config, model, and ``LMEvaluation`` history
``quote_parity``          the parity of the number of ``"`` bytes read so far in the window
``bracket_depth``         the number of ``( [ {`` minus ``) ] }`` read so far in the window,
                          clipped to [0, 3] (it counts bytes, not syntax: brackets inside strings
                          and comments count too)
``probe``                 a linear probe (``probes``: multinomial logistic regression on frozen
                          features) of a quantity at every position; ``features`` = "states" reads
                          the recurrent states S_t of the layers (the memory itself), "outputs" h_t,
                          the vector the head reads (the final norm's output)
``PROBE_FEATURES``        what the experiment probes: the states S_t of the last layer (4 heads of
                          16 x 16 at small: 1024 numbers), on their top ``PROBE_COMPONENTS`` (64)
                          principal directions and with a class-balanced loss: the 4096 positions
                          of ``PROBE_WINDOWS`` windows cannot fit 1024 x classes weights without
                          overfitting, nor in a small run's time
``balanced_accuracy``     the mean recall over the classes present: 1 / (classes present) for any
                          constant answer, however rare the other classes are; the table's score,
                          since quote parity is 0 at most positions and plain accuracy rewards
                          answering 0 everywhere (the JSON keeps both)
``untrained``             the same network at its initialisation: what random features already give
``LMRun``                 a run with its probe scores (trained and untrained) and samples
========================  ======================================================================

The tracked quantities are computed from the bytes of the window alone, since that is all a model
that read the window could know: a window that starts inside a string or inside brackets counts from
zero. Nothing is downloaded: the corpus is whatever Python runs this code (the tests check it with
sockets blocked). Its licence is the PSF licence, in ``LICENSE.txt`` of the same folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import sysconfig
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from . import evidence, experiments, probes, train
from .device import device as choose_device
from .models import SequenceModel, build_model, gate_range
from .probes import ProbeResult
from .progress import progress_bar
from .validate import require_generator, require_number, require_positive_int

LANGUAGE_EXPERIMENT = "lm"  # its name for `lrnn-course experiment`
VOCAB = 256  # byte-level: a token id is the byte's value
EXCLUDED_FOLDERS = frozenset(
    {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test", "pydoc_data", "encodings"}
)
VALIDATION_ONE_IN = 10
LICENCE_FILE = "LICENSE.txt"
EVALUATION_SEED = 2_026_12_07  # the validation windows: the same for every run, whatever its seed
PROBE_SEED = 2_026_12_08  # the probe's windows: the same for every model
PROBE_FEATURES = "states"  # what the experiment probes: S_t (``probes.features``)
PROBE_COMPONENTS = 64  # principal directions of the states the experiment's probe reads (see probe_all)
PROBE_WINDOWS = 64  # windows to fit on, and as many to score on: 4096 positions each at context 64
SAMPLE_PROMPTS = (b"def ", b"class ", b"    if ")
SAMPLE_SEED = 11
SAMPLE_TEMPERATURE = 0.8
UNIFORM_BITS = math.log2(VOCAB)  # 8.0


# --- the corpus ---------------------------------------------------------------------------------


def file_digest(relative: str) -> str:
    """The SHA-256 hex digest of a file's path relative to the stdlib folder, with "/" separators."""
    return hashlib.sha256(relative.encode("utf-8")).hexdigest()


def in_validation(relative: str) -> bool:
    """True when the file at ``relative`` belongs to the validation split (1 file in ``VALIDATION_ONE_IN``)."""
    return int(file_digest(relative)[:8], 16) % VALIDATION_ONE_IN == 0


def stdlib_folder() -> Path:
    """The standard library's folder of the Python running this code."""
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_files(root: Path) -> tuple[str, ...]:
    """The ``.py`` files under ``root`` outside ``EXCLUDED_FOLDERS``: relative paths with "/", sorted."""
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if name not in EXCLUDED_FOLDERS]
        relative_folder = Path(folder).relative_to(root)
        found += [(relative_folder / name).as_posix() for name in names if name.endswith(".py")]
    return tuple(sorted(found))


@dataclass(frozen=True)
class Corpus:
    """The two splits as bytes, and the facts a record of them needs.

    ``train_files`` / ``validation_files``: the files whose bytes the split holds, in that order (the
    last one cut where the cap falls); ``*_available``: every file of the split and its bytes before the cap.
    """

    stdlib: str
    python: str
    licence_found: bool
    max_train_bytes: int
    max_validation_bytes: int
    train: bytes = field(repr=False)  # a notebook that shows the corpus must not print a megabyte
    validation: bytes = field(repr=False)
    train_files: tuple[str, ...] = field(repr=False)
    validation_files: tuple[str, ...] = field(repr=False)
    train_files_available: int
    validation_files_available: int
    train_bytes_available: int
    validation_bytes_available: int

    @property
    def licence(self) -> str:
        """The licence in words, and whether its text was found beside the files."""
        where = f"{LICENCE_FILE} found in {self.stdlib}" if self.licence_found else f"{LICENCE_FILE} not found"
        return f"PSF License Agreement for Python {self.python} ({where})"

    def facts(self) -> dict[str, Any]:
        """The corpus as a JSON record keeps it: where, which Python, the licence, files and bytes per split."""
        return {
            "stdlib": self.stdlib,
            "python": self.python,
            "licence": self.licence,
            "licence_found": self.licence_found,
            "excluded_folders": sorted(EXCLUDED_FOLDERS),
            "validation_one_in": VALIDATION_ONE_IN,
            **{
                f"{split}_{what}": getattr(self, f"{split}_{what}")
                for split in ("train", "validation")
                for what in ("files_available", "bytes_available")
            },
            "train_files": len(self.train_files),
            "validation_files": len(self.validation_files),
            "train_bytes": len(self.train),
            "validation_bytes": len(self.validation),
            "max_train_bytes": self.max_train_bytes,
            "max_validation_bytes": self.max_validation_bytes,
        }

    def tokens(self, split: str) -> torch.Tensor:
        """The bytes of ``split`` ("train" or "validation") as token ids: LongTensor (n_bytes,)."""
        if split not in ("train", "validation"):
            raise ValueError(f'split must be "train" or "validation", got {split!r}')
        data = getattr(self, split)
        if not data:
            return torch.zeros(0, dtype=torch.long)
        return torch.frombuffer(bytearray(data), dtype=torch.uint8).long()


def _take(root: Path, files: Sequence[str], cap: int) -> tuple[bytes, tuple[str, ...]]:
    """The files' bytes in digest order, concatenated and cut at ``cap``; the files that contributed."""
    chunks, used, size = [], [], 0
    for relative in sorted(files, key=file_digest):
        if size >= cap:
            break
        content = (root / relative).read_bytes()[: cap - size]
        chunks.append(content)
        used.append(relative)
        size += len(content)
    return b"".join(chunks), tuple(used)


def stdlib_corpus(max_train_bytes: int = 2**20, max_validation_bytes: int = 2**18) -> Corpus:
    """The standard library's ``.py`` sources, split by file, each split cut at its cap (see the glossary).

    Deterministic for a given Python installation. Reading 1 MiB takes a fraction of a second, so
    nothing is cached.
    """
    require_positive_int(max_train_bytes, "max_train_bytes")
    require_positive_int(max_validation_bytes, "max_validation_bytes")
    root = stdlib_folder()
    files = stdlib_files(root)
    validation = [relative for relative in files if in_validation(relative)]
    train_files = [relative for relative in files if not in_validation(relative)]
    if not validation or not train_files:
        raise RuntimeError(f"found {len(files)} .py files under {root}: too few for a train and a validation split")
    train_bytes, train_used = _take(root, train_files, max_train_bytes)
    validation_bytes, validation_used = _take(root, validation, max_validation_bytes)
    return Corpus(
        stdlib=str(root),
        python=platform.python_version(),
        licence_found=(root / LICENCE_FILE).is_file(),
        max_train_bytes=max_train_bytes,
        max_validation_bytes=max_validation_bytes,
        train=train_bytes,
        validation=validation_bytes,
        train_files=train_used,
        validation_files=validation_used,
        train_files_available=len(train_files),
        validation_files_available=len(validation),
        train_bytes_available=sum((root / relative).stat().st_size for relative in train_files),
        validation_bytes_available=sum((root / relative).stat().st_size for relative in validation),
    )


def require_corpus(corpus: object) -> Corpus:
    """``corpus`` if it is a ``Corpus``, else raise."""
    if not isinstance(corpus, Corpus):
        raise TypeError(f"corpus must be a Corpus (from stdlib_corpus()), got {type(corpus).__name__}")
    return corpus


def require_ids(x: object, name: str, ndim: int, dims: str, high: int | None = VOCAB) -> torch.Tensor:
    """``x`` if it is a LongTensor with ``ndim`` dimensions (named ``dims``), entries in [0, high) when
    ``high`` is given, else raise."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype != torch.long:
        raise TypeError(f"{name} must hold integer ids (torch.long), got {x.dtype}")
    if x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions {dims}, got shape {tuple(x.shape)}")
    if high is not None and x.numel() and bool(((x < 0) | (x >= high)).any()):
        raise ValueError(f"{name} must hold ids in [0, {high - 1}], got {int(x.min())}..{int(x.max())}")
    return x


def random_windows(data: torch.Tensor, count: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` windows of ``length`` consecutive tokens of ``data`` (n,) at uniform random starts: (count, length)."""
    require_ids(data, "data", 1, "(n_bytes,)")
    require_positive_int(count, "count")
    require_positive_int(length, "length")
    require_generator(generator)
    if len(data) < length:
        raise ValueError(f"a split of {len(data)} bytes holds no window of {length} bytes")
    starts = torch.randint(0, len(data) - length + 1, (count,), generator=generator)
    return data[starts[:, None] + torch.arange(length)]  # (count, length)


def validation_windows(corpus: Corpus, context: int, count: int) -> torch.Tensor:
    """The fixed validation set: ``count`` windows of ``context + 1`` bytes, the same for every run."""
    require_corpus(corpus)
    generator = torch.Generator().manual_seed(EVALUATION_SEED)
    return random_windows(corpus.tokens("validation"), count, context + 1, generator)


# --- baselines and the model's score -------------------------------------------------------------


def unigram_bits_per_byte(corpus: Corpus, smoothing: float = 1.0) -> float:
    """Bits per byte on the validation split of the byte frequencies of the train split.

    p(b) = (count_train(b) + smoothing) / (n_train + 256 · smoothing): with ``smoothing`` = 1 (Laplace) a
    byte never seen in training still gets a probability; with 0 such a byte makes the answer infinite.
    """
    require_corpus(corpus)
    require_number(smoothing, "smoothing")
    if smoothing < 0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    train_tokens, validation_tokens = corpus.tokens("train"), corpus.tokens("validation")
    if not len(train_tokens) or not len(validation_tokens):
        raise ValueError("the unigram baseline needs a non-empty train and validation split")
    counts = torch.bincount(train_tokens, minlength=VOCAB).double() + smoothing
    log_p = counts.log2() - counts.sum().log2()
    return -log_p[validation_tokens].mean().item()


def require_windows(windows: object, name: str = "windows") -> torch.Tensor:
    """``windows`` if it is a LongTensor (N, L) of byte ids with L >= 2 (inputs and next bytes), else raise."""
    require_ids(windows, name, 2, "(N, L)")
    if windows.shape[1] < 2 or not len(windows):
        raise ValueError(f"{name} must be (N, L) with N >= 1 and L >= 2, got shape {tuple(windows.shape)}")
    return windows


def _require_model(model: object) -> SequenceModel:
    if not isinstance(model, SequenceModel):
        raise TypeError(f"model must be a SequenceModel, got {type(model).__name__}")
    return model


def cross_entropy_bits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy in bits of ``targets`` under ``logits``: -log₂ softmax(logits)[target], averaged
    over every position.

    softmax(x)_v = exp(x_v) / Σ_u exp(x_u) turns a position's V scores into probabilities; the
    cross-entropy of the right class is -log₂ of its probability, the bits an ideal code spends on it.
    E.g. logits [0, 0, 0, 0] give 1/4 to every class: 2 bits, whatever the target; logits [ln 3, 0, 0, 0]
    give class 0 3/6 = 1/2 (1 bit) and each other class 1/6 (log₂ 6 = 2.585 bits).

    Args:
        logits: float tensor (..., V), the unnormalised scores of V classes at every position.
        targets: LongTensor (...), the logits' shape without V: the right class at every position, in [0, V).

    Returns:
        A 0-d tensor in the logits' dtype that autograd follows back to the logits: uniform logits give
        log₂ V (8 for V = 256 bytes).
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() < 1:
        found = f"a {logits.dtype} tensor of shape {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) else ""
        raise TypeError(f"logits must be a float tensor (..., V), got {found or type(logits).__name__}")
    if logits.shape[-1] < 1:
        raise ValueError(f"logits must score V >= 1 classes, got shape {tuple(logits.shape)}")
    require_ids(targets, "targets", logits.dim() - 1, "(...), the logits' shape without V", high=logits.shape[-1])
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets {tuple(targets.shape)} must have the logits' shape without V, {tuple(logits.shape[:-1])}"
        )
    if not targets.numel():
        raise ValueError("there is no position to score: targets is empty")
    ### BEGIN SOLUTION
    # log_softmax subtracts each position's largest logit before exp: finite for any finite logits.
    log_p = torch.log_softmax(logits, dim=-1)  # (..., V), natural logarithms
    picked = log_p.gather(-1, targets[..., None]).squeeze(-1)  # (...), log p of each right class
    return -picked.mean() / math.log(2)  # nats -> bits
    ### END SOLUTION


@torch.no_grad()
def bits_per_byte(model: SequenceModel, windows: torch.Tensor, batch_size: int = 64) -> float:
    """The mean next-byte cross-entropy of ``model`` in bits, over every position of ``windows`` (N, L).

    The model reads ``windows[:, :-1]`` and is scored on ``windows[:, 1:]`` (``cross_entropy_bits``); in
    float64, batch by batch, each batch's mean weighted by its number of positions.
    """
    _require_model(model)
    require_windows(windows)
    require_positive_int(batch_size, "batch_size")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    for batch in windows.split(batch_size):
        batch = batch.to(device)
        logits = model(batch[:, :-1]).double()  # (n, L - 1, 256)
        targets = batch[:, 1:]  # (n, L - 1)
        total += cross_entropy_bits(logits, targets).item() * targets.numel()
    model.train(was_training)
    return total / (windows.shape[0] * (windows.shape[1] - 1))


# --- configs and training -------------------------------------------------------------------------

LM_MODELS = ("deltanet", "deltaproduct")


@dataclass(frozen=True)
class LMConfig:
    """One language-model run; invalid values raise when the config is created."""

    model: str = "deltanet"
    negative: bool = True
    d_model: int = 64
    n_layers: int = 2
    model_options: Mapping[str, Any] = field(default_factory=lambda: {"n_heads": 4})
    context: int = 64
    batch_size: int = 32
    steps: int = 120
    lr: float = 1e-2
    warmup_steps: int = 12
    min_lr: float = 1e-4
    weight_decay: float = 0.0
    clip_norm: float | None = 1.0
    eval_every: int = 20
    eval_windows: int = 128
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.model not in LM_MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(map(repr, LM_MODELS))}")
        if not isinstance(self.negative, bool):
            raise TypeError(f"negative must be a bool, got {self.negative!r}")
        for name in ("d_model", "n_layers", "context", "batch_size", "steps", "eval_every", "eval_windows"):
            require_positive_int(getattr(self, name), name)
        if not isinstance(self.model_options, Mapping):
            raise TypeError(f"model_options must be a mapping, got {type(self.model_options).__name__}")
        train.validate_optimisation(self)

    @property
    def label(self) -> str:
        """E.g. ``"deltanet [-1,1]"`` or ``"deltaproduct n_h=2 [0,1]"``, as ``train.TrainConfig.label``."""
        householders = self.model_options.get("n_householder")
        detail = f" n_h={householders}" if householders is not None else ""
        detail += " gated" if self.model_options.get("gated") else ""
        return f"{self.model}{detail} {gate_range(self.negative)}"


# small: 6 runs (2 ranges x 3 seeds) in about 35 s on one CPU thread, about 6 s a run: d 64, 2 layers of 4
# heads of width 16 (the chunked delta rule), 120 steps of 32 windows of 64 bytes. Measured on the 2-core
# machine (issue 26, validation bits/byte of deltanet [-1,1] seed 0): at lr 3e-3, 150 steps of 16 windows of 128
# bytes gave 3.65 in 8.9 s; lr 1e-2 and the shorter windows, 3.33 in 5.7 s (one layer for 200 steps: 3.41 in 6.4 s).
# With these settings (lrnn-course experiment lm --seeds 3, Python 3.11.7): validation 3.34 [3.31, 3.36] bits/byte
# for [0,1], 3.33 [3.28, 3.33] for [-1,1], against 4.51 for the unigram baseline; 35 s of training for the six
# runs and 13 s of probes (of h_t) and samples on the loaded 2-core machine. Probing the states instead (the last
# layer's, 64 principal components, 64 + 64 windows; issue 26): 40 s of training and 20 s of probes and samples
# on the same machine under more load (60 s in all; with 128 + 128 windows, 25 s). full: GPU settings at course
# scale, not run yet.
LM_SIZES: dict[str, LMConfig] = {
    "small": LMConfig(),
    "full": LMConfig(
        d_model=256,
        n_layers=4,
        model_options={"n_heads": 4},
        context=512,
        batch_size=64,
        steps=5000,
        lr=1e-3,
        warmup_steps=500,
        min_lr=1e-5,
        weight_decay=0.1,
        eval_every=250,
        eval_windows=256,
    ),
}
# The corpus of each size: small reads 1 MiB of the library for training (a run sees about 0.3 MB),
# full all of it (about 11 MB of .py outside the test suites in Python 3.11).
CORPUS_SIZES: dict[str, dict[str, int]] = {
    "small": {"max_train_bytes": 2**20, "max_validation_bytes": 2**18},
    "full": {"max_train_bytes": 2**26, "max_validation_bytes": 2**22},
}
SAMPLE_BYTES = {"small": 120, "full": 300}


def _require_size(size: str) -> str:
    if size not in LM_SIZES:
        raise ValueError(f"size must be one of {', '.join(map(repr, LM_SIZES))}, got {size!r}")
    return size


def lm_configs(size: str = "small", seeds: int = 3, **changes: Any) -> list[LMConfig]:
    """[0,1] and [-1,1] DeltaNet at ``size`` (same width, steps and seed for both), for seeds 0 … seeds - 1.

    ``changes`` replace fields of every config; fewer ``steps`` than the size's warm-up (a smoke test) also
    shorten the warm-up to a tenth of them, unless ``warmup_steps`` is given too.
    """
    _require_size(size)
    require_positive_int(seeds, "seeds")
    if "steps" in changes and "warmup_steps" not in changes:
        steps = require_positive_int(changes["steps"], "steps")
        changes = {**changes, "warmup_steps": min(LM_SIZES[size].warmup_steps, steps // 10)}
    base = dataclasses.replace(LM_SIZES[size], **changes)
    return [
        dataclasses.replace(base, negative=negative, seed=seed) for negative in (False, True) for seed in range(seeds)
    ]


def build_lm(config: LMConfig) -> SequenceModel:
    """The byte-level model of ``config`` at its initialisation (draws from torch's global generator)."""
    return build_model(
        config.model, VOCAB, VOCAB, config.d_model, config.n_layers, config.negative, **config.model_options
    )


@dataclass(frozen=True)
class LMEvaluation:
    """At one step: seconds since the start, the mean training loss since the last evaluation and the
    validation loss, both in bits per byte."""

    step: int
    seconds: float
    train_bits: float
    validation_bits: float


@dataclass
class LMResult:
    """A finished run: its config, the trained model (None when read back from a record), its evaluations."""

    config: LMConfig
    model: SequenceModel | None
    history: list[LMEvaluation]
    device: str

    @property
    def final(self) -> LMEvaluation:
        return self.history[-1]


def next_byte_loss(model: SequenceModel, windows: torch.Tensor) -> torch.Tensor:
    """Cross-entropy in nats of predicting ``windows[:, 1:]`` from ``windows[:, :-1]``, mean over every position."""
    logits = model(windows[:, :-1])  # (N, T, 256)
    return F.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten())


def train_lm(config: LMConfig, corpus: Corpus, progress: bool = True) -> LMResult:
    """Train one byte-level model on random windows of the train split, fresh every step.

    AdamW with ``train.learning_rate_factor``'s warm-up and cosine decay, gradients clipped; the
    validation windows (``validation_windows``) are scored every ``eval_every`` steps and at the end.
    """
    if not isinstance(config, LMConfig):
        raise TypeError(f"config must be an LMConfig, got {type(config).__name__}")
    require_corpus(corpus)
    device = choose_device(config.device)
    torch.manual_seed(config.seed)
    model = build_lm(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, train.learning_rate_factor(config))
    train_tokens = corpus.tokens("train")
    held_out = validation_windows(corpus, config.context, config.eval_windows)
    data = torch.Generator().manual_seed(config.seed)
    history: list[LMEvaluation] = []
    losses: list[float] = []
    start = time.perf_counter()
    bar = progress_bar(range(1, config.steps + 1), enabled=progress, desc=config.label, leave=False)
    for step in bar:
        windows = random_windows(train_tokens, config.batch_size, config.context + 1, data).to(device)
        loss = next_byte_loss(model, windows)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % config.eval_every == 0 or step == config.steps:
            recent = losses[history[-1].step if history else 0 :]
            train_bits = sum(recent) / len(recent) / math.log(2)
            history.append(LMEvaluation(step, time.perf_counter() - start, train_bits, bits_per_byte(model, held_out)))
            bar.set_postfix(validation=f"{history[-1].validation_bits:.3f} bits/byte")
    bar.close()
    return LMResult(config, model, history, device.type)


# --- samples -------------------------------------------------------------------------------------


@torch.no_grad()
def sample(
    model: SequenceModel, prompt: bytes, n_bytes: int, generator: torch.Generator, temperature: float = 1.0
) -> str:
    """The prompt followed by ``n_bytes`` bytes drawn one at a time from the model, decoded as UTF-8
    (``errors="replace"``: a model can emit invalid sequences).

    Each byte is drawn from softmax(logits / temperature) at the last position, on the CPU with
    ``generator``, so the same generator state gives the same text. The model re-reads the whole
    sequence for every byte: simple, and fast enough for a few hundred bytes.
    """
    _require_model(model)
    if not isinstance(prompt, bytes) or not prompt:
        raise TypeError(f"prompt must be non-empty bytes, got {prompt!r}")
    require_positive_int(n_bytes, "n_bytes")
    require_generator(generator)
    if require_number(temperature, "temperature") <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    tokens = list(prompt)
    for _ in range(n_bytes):
        logits = model(torch.tensor([tokens], device=device))[0, -1].double().cpu()  # (256,)
        probabilities = torch.softmax(logits / temperature, dim=-1)
        tokens.append(int(torch.multinomial(probabilities, 1, generator=generator)))
    model.train(was_training)
    return bytes(tokens).decode("utf-8", errors="replace")


def samples_of(model: SequenceModel, n_bytes: int, prompts: Sequence[bytes] = SAMPLE_PROMPTS) -> list[str]:
    """One sample per prompt at ``SAMPLE_TEMPERATURE``, the i-th from a generator seeded with ``SAMPLE_SEED`` + i:
    every model gets the same random draws."""
    return [
        sample(model, prompt, n_bytes, torch.Generator().manual_seed(SAMPLE_SEED + index), SAMPLE_TEMPERATURE)
        for index, prompt in enumerate(prompts)
    ]


# --- the probe -----------------------------------------------------------------------------------


def quote_parity(tokens: torch.Tensor) -> torch.Tensor:
    """1 where an odd number of ``"`` bytes has been read so far in the row (this byte included), else 0: (N, T)."""
    require_ids(tokens, "tokens", 2, "(N, T)")
    return (tokens == ord('"')).long().cumsum(dim=1) % 2


BRACKETS_OPEN, BRACKETS_CLOSE = b"([{", b")]}"
MAX_DEPTH = 3


def bracket_depth(tokens: torch.Tensor) -> torch.Tensor:
    """The number of ``( [ {`` minus ``) ] }`` read so far in the row (this byte included), clipped to
    [0, ``MAX_DEPTH``]: (N, T) in 0..3."""
    require_ids(tokens, "tokens", 2, "(N, T)")
    opens = torch.isin(tokens, torch.tensor(list(BRACKETS_OPEN), device=tokens.device))
    closes = torch.isin(tokens, torch.tensor(list(BRACKETS_CLOSE), device=tokens.device))
    return (opens.long() - closes.long()).cumsum(dim=1).clamp(0, MAX_DEPTH)


QUANTITIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "quote_parity": quote_parity,
    "bracket_depth": bracket_depth,
}
N_CLASSES = {"quote_parity": 2, "bracket_depth": MAX_DEPTH + 1}


def probe_windows(corpus: Corpus, context: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The probe's windows: ``count`` of ``context`` bytes from the train split (to fit) and from the
    validation split (to score), from ``PROBE_SEED``: the same for every model."""
    require_corpus(corpus)
    generator = torch.Generator().manual_seed(PROBE_SEED)
    fitting = random_windows(corpus.tokens("train"), count, context, generator)
    scoring = random_windows(corpus.tokens("validation"), count, context, generator)
    return fitting, scoring


def probe(
    model: SequenceModel,
    corpus: Corpus,
    quantity: str | Sequence[str],
    context: int = 64,
    windows: int = PROBE_WINDOWS,
    steps: int = 100,
    features: str = "states",
    layers: Sequence[int] | None = None,
    balanced: bool = False,
    components: int | None = None,
) -> ProbeResult | dict[str, ProbeResult]:
    """How well a linear probe on the model's frozen ``features`` predicts ``quantity`` (one of ``QUANTITIES``).

    ``features``: ``"states"``, the recurrent states S_t of ``layers`` (default: every layer), or ``"outputs"``,
    h_t (``probes.features``). Fitted on every position of ``windows`` windows of ``context`` bytes from the
    train split, scored on as many from the validation split (``probe_windows``); the result holds the
    accuracy and balanced accuracy, and what a constant answer scores in each. ``components``: probe the
    features' top principal components instead (``probes.principal_components``); ``steps`` and ``balanced``:
    how the probe is fitted (``probes.fit_probe``). A list of quantities gives a dict of results, by
    quantity, from one pass of the model.
    """
    _require_model(model)
    probes.require_kind(features)
    names = [quantity] if isinstance(quantity, str) else list(quantity)
    unknown = [name for name in names if name not in QUANTITIES]
    if unknown or not names:
        raise ValueError(f"unknown quantity {unknown or names!r}; choose from {', '.join(map(repr, QUANTITIES))}")
    fitting, scoring = probe_windows(corpus, context, windows)
    both = probes.features(model, torch.cat([fitting, scoring]), features, layers)  # (2 windows, context, F)
    fitting_features, scoring_features = both.flatten(0, 1).chunk(2)  # each (windows * context, F)
    if components is not None:  # (windows * context, components), once for every quantity
        fitting_features, scoring_features = probes.principal_components(fitting_features, scoring_features, components)
    results = {
        name: probes.score_probe(
            fitting_features,
            QUANTITIES[name](fitting).flatten(),
            scoring_features,
            QUANTITIES[name](scoring).flatten(),
            N_CLASSES[name],
            quantity=name,
            kind=features,
            steps=steps,
            balanced=balanced,
        )
        for name in names
    }
    return results[quantity] if isinstance(quantity, str) else results


# --- the experiment ------------------------------------------------------------------------------


@dataclass
class LMRun:
    """A run of the experiment: the training result, probe scores of the trained and of the untrained
    network, by quantity, and samples."""

    result: LMResult
    probes: dict[str, ProbeResult]
    untrained_probes: dict[str, ProbeResult]
    samples: list[str]

    @property
    def config(self) -> LMConfig:
        return self.result.config


def probe_all(
    model: SequenceModel, corpus: Corpus, context: int, features: str = PROBE_FEATURES, windows: int = PROBE_WINDOWS
) -> dict[str, ProbeResult]:
    """``probe`` of ``features`` for every quantity of ``QUANTITIES``, by quantity, as the experiment probes:
    the states of the LAST layer, on their top ``PROBE_COMPONENTS`` principal components, class-balanced."""
    layers = [len(model.layers) - 1] if features == "states" else None
    return probe(
        model,
        corpus,
        list(QUANTITIES),
        context,
        windows,
        features=features,
        layers=layers,
        balanced=True,
        components=PROBE_COMPONENTS,
    )


def evaluate_run(result: LMResult, corpus: Corpus, sample_bytes: int) -> LMRun:
    """Probe the states (``PROBE_FEATURES``) of the trained model and of its untrained twin (same config and
    seed), and draw samples."""
    torch.manual_seed(result.config.seed)
    untrained = build_lm(result.config).to(next(result.model.parameters()).device)
    context = result.config.context
    return LMRun(
        result,
        probe_all(result.model, corpus, context),
        probe_all(untrained, corpus, context),
        samples_of(result.model, sample_bytes),
    )


def config_record(config: LMConfig) -> dict:
    """A config as plain JSON data (the mapping of options as a dict)."""
    return json.loads(json.dumps({**dataclasses.asdict(config), "model_options": dict(config.model_options)}))


def run_record(run: LMRun) -> dict:
    """One run as plain JSON data: config, final bits per byte, curve, probe scores, samples."""
    result = run.result
    return {
        "label": result.config.label,
        "seed": result.config.seed,
        "config": config_record(result.config),
        "device": result.device,
        "steps": result.final.step,
        "seconds": round(result.final.seconds, 2),
        "validation_bits": result.final.validation_bits,
        "history": [dataclasses.asdict(evaluation) for evaluation in result.history],
        "probes": {name: dataclasses.asdict(score) for name, score in run.probes.items()},
        "untrained_probes": {name: dataclasses.asdict(score) for name, score in run.untrained_probes.items()},
        "samples": run.samples,
    }


def run_from_record(record: Mapping) -> LMRun:
    """A run read back from its ``run_record``: everything but the model (None)."""
    result = LMResult(
        LMConfig(**record["config"]),
        None,
        [LMEvaluation(**evaluation) for evaluation in record["history"]],
        record["device"],
    )
    return LMRun(
        result,
        {name: ProbeResult(**score) for name, score in record["probes"].items()},
        {name: ProbeResult(**score) for name, score in record["untrained_probes"].items()},
        list(record["samples"]),
    )


def lm_table(runs: Sequence[LMRun], baseline: Corpus | float) -> str:
    """Markdown: per label, validation bits per byte and each probe's BALANCED accuracy as median [min, max]
    over seeds (``evidence.spread``), with the untrained network's and a constant answer's (1 / classes
    present) beside it; then the uniform and unigram baselines. Plain accuracy stays in the JSON record:
    quote parity is 0 at most positions, so it is high for a probe that always answers 0.

    ``baseline``: the corpus the runs trained on (its unigram baseline is computed), or that baseline in
    bits per byte (as a record keeps it).
    """
    if not runs:
        raise ValueError("lm_table needs at least one LMRun")
    if isinstance(baseline, Corpus):
        unigram_bits = unigram_bits_per_byte(baseline)
    elif isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        unigram_bits = float(baseline)
    else:
        raise TypeError(f"baseline must be a Corpus or the unigram bits per byte, got {type(baseline).__name__}")
    quantities = list(runs[0].probes)
    features = runs[0].probes[quantities[0]].features or "outputs"  # records before states were probed: h_t
    header = ["model", "seeds", "validation bits/byte"] + [
        f"probe of {features}: {quantity}, balanced accuracy (untrained; constant)" for quantity in quantities
    ]
    grouped: dict[str, list[LMRun]] = {}
    for run in runs:
        grouped.setdefault(run.config.label, []).append(run)
    rows = []
    for label, group in grouped.items():
        row = [label, str(len(group)), evidence.spread([run.result.final.validation_bits for run in group])]
        for quantity in quantities:
            trained = evidence.spread([run.probes[quantity].balanced_accuracy for run in group])
            untrained = evidence.spread([run.untrained_probes[quantity].balanced_accuracy for run in group])
            row.append(f"{trained} ({untrained}; {group[0].probes[quantity].constant_balanced_accuracy:.3f})")
        rows.append(row)
    dashes = ["–"] * len(quantities)
    rows.append(["uniform (every byte 1/256)", "–", f"{UNIFORM_BITS:.3f}", *dashes])
    rows.append(["unigram (byte frequencies of the train split)", "–", f"{unigram_bits:.3f}", *dashes])
    return train.markdown_table(header, rows)


LM_QUESTION = (
    "A byte-level language model on the standard library's source: do [0,1] and [-1,1] DeltaNets reach "
    "the same validation bits per byte, and does a linear probe read quote parity and bracket depth "
    "from their states?"
)


def record_stem(out_dir: Path | str, size: str) -> Path:
    """Where the experiment's record goes: ``out_dir/lm-SIZE``, with ``.json`` and ``.png`` added."""
    return experiments.record_stem(out_dir, LANGUAGE_EXPERIMENT, size)


def write_lm_record(
    runs: Sequence[LMRun], corpus: Corpus, size: str, out_dir: Path, command: str, planned: int
) -> tuple[Path, Path]:
    """Write ``out_dir/lm-SIZE.json`` (every run, the corpus, the baselines) and the curves ``lm-SIZE.png``."""
    from matplotlib.figure import Figure  # not pyplot: writing the file must not touch a notebook's backend

    from . import viz

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = record_stem(out_dir, size)
    unigram = unigram_bits_per_byte(corpus)
    record = {
        "experiment": LANGUAGE_EXPERIMENT,
        "question": LM_QUESTION,
        "size": size,
        "python": platform.python_version(),
        "corpus": corpus.facts(),
        "baselines": {"uniform_bits": UNIFORM_BITS, "unigram_bits": unigram},
        "summary": lm_table(runs, unigram),
        **experiments.record_metadata(planned, command),
        "runs": [run_record(run) for run in runs],
    }
    json_path = stem.with_suffix(".json")
    json_path.write_text(json.dumps(record, indent=1) + "\n")
    figure = Figure(figsize=(7, 3.5))
    viz.plot_bits_per_byte(runs, ax=figure.subplots(), title=f"lm ({size}): validation bits per byte", unigram=unigram)
    figure.tight_layout()
    png_path = stem.with_suffix(".png")
    figure.savefig(png_path, dpi=100)
    return json_path, png_path


def read_lm_record(path: Path | str) -> tuple[dict, list[LMRun]]:
    """A record written by ``run_lm_experiment``: the record itself and its runs (without models)."""
    record = json.loads(Path(path).read_text())
    return record, [run_from_record(run) for run in record["runs"]]


def committed_lm_report(size: str = "full") -> str:
    """Markdown: the record of ``lrnn-course experiment lm --size SIZE`` committed to ``experiments.COMMITTED``, or
    the command that would write it."""
    _require_size(size)
    path = record_stem(experiments.COMMITTED, size).with_suffix(".json")
    return experiments.report_of_record(
        LANGUAGE_EXPERIMENT, size, json.loads(path.read_text()) if path.is_file() else None
    )


def run_lm_experiment(
    size: str = "small",
    seeds: int = 3,
    device: str = "auto",
    out_dir: Path | str | None = Path("build/experiments"),
    progress: bool = True,
    command: str | None = None,
    negative: bool | None = None,
    **changes: Any,
) -> list[LMRun]:
    """Train [0,1] and [-1,1] DeltaNet for each seed, probe and sample each; write ``out_dir/lm-SIZE.json``.

    Args:
        size: "small" (a CPU, under a minute) or "full" (GPU settings).
        seeds: seeds 0 … seeds - 1 of each range.
        device: "auto", "cpu" or "cuda".
        out_dir: where the record and plot go, rewritten after every run; None writes nothing.
        progress: tqdm bars.
        command: how the run was started, for the record (the CLI passes its command line).
        negative: only the [-1,1] (True) or the [0,1] (False) runs, so that a lesson can train them in two
            cells; None, both. The record then holds the runs of this call only.
        changes: ``LMConfig`` fields to override in every run (e.g. ``steps=3`` for a smoke test).

    Returns:
        One ``LMRun`` per config of ``lm_configs`` (of the range asked for), in that order.
    """
    if negative is not None and not isinstance(negative, bool):
        raise TypeError(f"negative must be True, False or None, got {negative!r}")
    every = lm_configs(size, seeds, device=device, **changes)
    configs = [config for config in every if negative is None or config.negative == negative]
    corpus = stdlib_corpus(**CORPUS_SIZES[size])
    command = command or f"run_lm_experiment(size={size!r}, seeds={seeds}, device={device!r})"
    runs = []
    for config in configs:
        runs.append(evaluate_run(train_lm(config, corpus, progress), corpus, SAMPLE_BYTES[size]))
        if out_dir is not None:
            write_lm_record(runs, corpus, size, Path(out_dir), command, len(configs))
    return runs
