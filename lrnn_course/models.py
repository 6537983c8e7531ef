"""The small models the lessons train: a token embedding, recurrent layers, a classifier head.

Glossary (code name -> paper symbol, Grazzi et al. 2025):

=====================  =====================================================================
``figure1_gates``       a_t = act(sharpness · (W_a x_t + b_a)), the gates of Figure 1's layer
``DiagonalRecurrence``  the one-layer diagonal LRNN of Figure 1 (the authors' ``simple_recurrent``):
                        a_t = act(10 (W_a x_t + b_a)), b_t = W_b x_t + c, h_t = a_t ⊙ h_{t-1} + b_t ⊙ x_t
``negative``            the eigenvalue range: False -> [0, 1] (act = sigmoid, Mamba's exp(-Δ exp(w)));
                        True -> [-1, 1] (act = tanh, 2 exp(-Δ exp(w)) - 1), eq. 2
``sharpness``           the factor 10 inside act, which lets a gate reach ±1 within float32
``SequenceModel``       embedding -> layers (pre-norm, residual) -> norm -> head; the head scores
                        the task's answers only, so chance accuracy is 1 / n_classes
``MODELS``              the names ``build_model`` accepts: "diagonal", "mamba", "deltanet",
                        "deltaproduct" (options such as ``n_heads``, ``n_householder``, ``gated``
                        go to the layer) and the baselines "lstm" and "transformer"
``LSTMLayer``           the non-linear RNN baseline of Table 3 (an LSTM; sLSTM is its modern kin)
``CausalTransformerLayer``  the Transformer baseline: causal self-attention and an MLP, no position
                        encoding (causal attention can still tell positions apart)
=====================  =====================================================================

Every recurrence of these models runs through ``lrnn_course.ops``, which takes the Triton kernel on
a GPU and the fastest PyTorch form on a CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import ops
from .deltaproduct import DeltaProductLayer
from .mamba import MambaBlock
from .validate import require_finite, require_number, require_positive_int, require_tensor


def gate_range(negative: bool) -> str:
    """The label of an eigenvalue range, as the paper writes it: "[0,1]" or "[-1,1]"."""
    return "[-1,1]" if negative else "[0,1]"


def figure1_gates(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, negative: bool, sharpness: float = 10.0
) -> torch.Tensor:
    """The gates of the Figure 1 layer: act(sharpness · (x Wᵀ + b)), act = tanh if ``negative`` else sigmoid.

    Args:
        x: inputs (..., d_in).
        weight: W_a, shape (d_out, d_in).
        bias: b_a, shape (d_out,).
        negative: True for tanh (gates in [-1, 1]), False for the sigmoid (gates in [0, 1]).
        sharpness: the factor in front of the pre-activation (10 in the paper's code).

    Returns:
        Tensor (..., d_out), in the dtype of ``x``.
    """
    require_tensor(x, "x")
    require_tensor(weight, "weight", 2, "(d_out, d_in)")
    require_tensor(bias, "bias", 1, "(d_out,)")
    if x.dim() == 0 or x.shape[-1] != weight.shape[1] or bias.shape[0] != weight.shape[0]:
        raise ValueError(
            f"need x (..., d_in), weight (d_out, d_in), bias (d_out,); got {tuple(x.shape)}, "
            f"{tuple(weight.shape)}, {tuple(bias.shape)}"
        )
    for param, name in ((weight, "weight"), (bias, "bias")):
        if (param.dtype != x.dtype and not torch.is_autocast_enabled(x.device.type)) or param.device != x.device:
            raise TypeError(
                f"{name} has dtype {param.dtype} on {param.device}, but x has dtype {x.dtype} on {x.device}"
            )
    require_finite(x, "x")
    require_finite(weight, "weight")
    require_finite(bias, "bias")
    require_number(sharpness, "sharpness")
    ### BEGIN SOLUTION
    activation = torch.tanh if negative else torch.sigmoid
    return activation(sharpness * F.linear(x, weight, bias))
    ### END SOLUTION


def require_layer_input(x: object, d_model: int) -> torch.Tensor:
    """``x`` if it is a floating tensor (batch, T, d_model), the input of every layer, else raise."""
    require_tensor(x, "x", 3, "(batch, T, d_model)")
    if x.shape[-1] != d_model:
        raise ValueError(f"x must have {d_model} features (batch, T, d_model), got shape {tuple(x.shape)}")
    return x


class DiagonalRecurrence(nn.Module):
    """The diagonal LRNN layer of the paper's Figure 1, width ``d_model``, state width ``d_model``."""

    def __init__(self, d_model: int, negative: bool = True, sharpness: float = 10.0) -> None:
        super().__init__()
        require_positive_int(d_model, "d_model")
        self.negative, self.sharpness = bool(negative), require_number(sharpness, "sharpness")
        self.gate_proj = nn.Linear(d_model, d_model)
        self.input_proj = nn.Linear(d_model, d_model)

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """a_t = tanh(10 (W_a x_t + b_a)) in [-1, 1], or the sigmoid in [0, 1]; shape of ``x``."""
        return figure1_gates(x, self.gate_proj.weight, self.gate_proj.bias, self.negative, self.sharpness)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, T, d_model) -> the states h_1..h_T, (batch, T, d_model)."""
        return ops.diagonal_scan(self.gates(x), self.input_proj(x) * x)


class SequenceModel(nn.Module):
    """Tokens (batch, T) -> answer logits (batch, T, n_classes), one score vector per position.

    Args:
        vocab_size: number of input tokens.
        n_classes: number of answers the head scores.
        d_model: width of the embedding and of every layer.
        make_layer: builds one recurrent layer mapping (batch, T, d_model) to the same shape.
        n_layers: how many layers, each ``x + layer(norm(x))``.
        residual: False drops the ``x +`` (the authors' one-layer Figure 1 model has no skip path).
    """

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        d_model: int,
        make_layer: Callable[[], nn.Module],
        n_layers: int = 1,
        residual: bool = True,
    ) -> None:
        super().__init__()
        for value, name in (
            (vocab_size, "vocab_size"),
            (n_classes, "n_classes"),
            (d_model, "d_model"),
            (n_layers, "n_layers"),
        ):
            require_positive_int(value, name)
        self.vocab_size, self.residual = vocab_size, bool(residual)
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        self.layers = nn.ModuleList(make_layer() for _ in range(n_layers))
        self.final_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def first_layer_input(self, tokens: Sequence[int]) -> torch.Tensor:
        """What the first layer reads for each token id, norm(embedding(token)): (len(tokens), d_model), on the
        model's device."""
        if isinstance(tokens, torch.Tensor):
            if tokens.dtype.is_floating_point or tokens.dtype.is_complex:
                raise TypeError(f"tokens must be integer ids, got a {tokens.dtype} tensor")
        elif any(isinstance(token, bool) or not isinstance(token, int) for token in tokens):
            raise TypeError(f"tokens must be integer ids, got {tokens!r}")
        ids = torch.as_tensor(tokens, dtype=torch.long, device=self.embedding.weight.device)
        if ids.dim() != 1 or bool(((ids < 0) | (ids >= self.vocab_size)).any()):
            raise ValueError(f"tokens must be a sequence of ids in [0, {self.vocab_size - 1}], got {tokens!r}")
        return self.norms[0](self.embedding(ids))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long or tokens.dim() != 2:
            found = (
                f"{tokens.dtype} tensor of shape {tuple(tokens.shape)}"
                if isinstance(tokens, torch.Tensor)
                else type(tokens).__name__
            )
            raise ValueError(f"tokens must be a LongTensor of shape (batch, T), got {found}")
        if bool(((tokens < 0) | (tokens >= self.vocab_size)).any()):
            raise ValueError(
                f"tokens must lie in [0, {self.vocab_size - 1}] (the vocabulary), got "
                f"{int(tokens.min())}..{int(tokens.max())}"
            )
        x = self.embedding(tokens)
        for norm, layer in zip(self.norms, self.layers):
            x = x + layer(norm(x)) if self.residual else layer(norm(x))
        return self.head(self.final_norm(x))


class LSTMLayer(nn.Module):
    """An LSTM of width ``d_model``: (batch, T, d_model) -> its hidden states, same shape."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        require_positive_int(d_model, "d_model")
        self.lstm = nn.LSTM(d_model, d_model, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        require_layer_input(x, self.lstm.input_size)
        return self.lstm(x)[0]


class CausalTransformerLayer(nn.Module):
    """Causal multi-head self-attention plus an MLP; with the stack's residual path, a pre-norm Transformer block."""

    def __init__(self, d_model: int, n_heads: int = 4) -> None:
        super().__init__()
        require_positive_int(d_model, "d_model")
        require_positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.attention = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        require_layer_input(x, self.attention.embed_dim)
        steps = x.shape[1]
        future = torch.triu(torch.ones(steps, steps, dtype=torch.bool, device=x.device), diagonal=1)
        attended = self.attention(x, x, x, attn_mask=future, need_weights=False)[0]
        return attended + self.mlp(self.norm(x + attended))


def _diagonal(d_model: int, negative: bool, **options: Any) -> Callable[[], nn.Module]:
    return lambda: DiagonalRecurrence(d_model, negative, **options)


def _mamba(d_model: int, negative: bool, **options: Any) -> Callable[[], nn.Module]:
    return lambda: MambaBlock(d_model, negative=negative, scan=ops.diagonal_scan, **options)


def _deltanet(d_model: int, negative: bool, **options: Any) -> Callable[[], nn.Module]:
    return lambda: DeltaProductLayer(
        d_model, negative=negative, n_householder=1, recurrence=ops.chunk_delta_product, **options
    )


def _deltaproduct(d_model: int, negative: bool, **options: Any) -> Callable[[], nn.Module]:
    return lambda: DeltaProductLayer(d_model, negative=negative, recurrence=ops.chunk_delta_product, **options)


# The baselines have no eigenvalue range: ``negative`` does not apply to them and is ignored.
def _lstm(d_model: int, negative: bool) -> Callable[[], nn.Module]:
    return lambda: LSTMLayer(d_model)


def _transformer(d_model: int, negative: bool, **options: Any) -> Callable[[], nn.Module]:
    return lambda: CausalTransformerLayer(d_model, **options)


MODELS: dict[str, Callable[..., Callable[[], nn.Module]]] = {
    "diagonal": _diagonal,
    "mamba": _mamba,
    "deltanet": _deltanet,
    "deltaproduct": _deltaproduct,
    "lstm": _lstm,
    "transformer": _transformer,
}
BASELINES = ("lstm", "transformer")


def build_model(
    name: str,
    vocab_size: int,
    n_classes: int,
    d_model: int,
    n_layers: int = 1,
    negative: bool = True,
    residual: bool = True,
    **options: Any,
) -> SequenceModel:
    """A ``SequenceModel`` whose layers are ``name`` (one of ``MODELS``); ``options`` go to the layer."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(map(repr, MODELS))}")
    return SequenceModel(vocab_size, n_classes, d_model, MODELS[name](d_model, negative, **options), n_layers, residual)
