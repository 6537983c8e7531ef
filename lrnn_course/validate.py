"""Input checks shared by every public function of the course.

Each helper raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (wrong shape,
range or non-finite values) with a message that names the argument, what was expected and what
arrived, so that a learner reading a traceback knows which line of their call to fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def require_tensor(x: object, name: str, ndim: int | None = None, dims: str | None = None) -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor with ``ndim`` dimensions, else raise.

    ``dims`` names the dimensions for the error message, e.g. ``"(B, T, D)"``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
    if ndim is not None and x.dim() != ndim:
        layout = f" {dims}" if dims else ""
        raise ValueError(f"{name} must have {ndim} dimensions{layout}, got shape {tuple(x.shape)}")
    return x


def require_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise if ``x`` holds a NaN or an infinity (and say how many)."""
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        raise ValueError(f"{name} has {int(bad.sum())} non-finite value(s) (NaN or inf)")
    return x


def require_same(tensors: Sequence[torch.Tensor], names: Sequence[str]) -> None:
    """Raise unless all tensors share shape, dtype and device."""
    first, first_name = tensors[0], names[0]
    for x, name in zip(tensors[1:], names[1:]):
        if x.shape != first.shape:
            raise ValueError(f"{name} has shape {tuple(x.shape)} but {first_name} has {tuple(first.shape)}")
        if x.dtype != first.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but {first_name} has {first.dtype}")
        if x.device != first.device:
            raise ValueError(f"{name} is on {x.device} but {first_name} is on {first.device}")


def require_like(x: torch.Tensor, name: str, reference: torch.Tensor, reference_name: str) -> torch.Tensor:
    """Return ``x`` if it has the dtype and device of ``reference`` (the tensors of one computation), else raise."""
    if x.dtype != reference.dtype or x.device != reference.device:
        raise TypeError(f"{name} is {x.dtype} on {x.device} but {reference_name} is {reference.dtype} on {reference.device}")
    return x


def require_in_range(x: torch.Tensor, name: str, low: float, high: float) -> torch.Tensor:
    """Raise unless every entry of ``x`` lies in the closed interval [low, high] (NaN lies outside)."""
    outside = ~((x >= low) & (x <= high))
    if bool(outside.any()):
        worst = x[outside].flatten()[0].item()
        raise ValueError(f"{name} must lie in [{low:g}, {high:g}]; found {worst:g} ({int(outside.sum())} value(s) outside)")
    return x


def require_number(value: object, name: str) -> float:
    """Return ``value`` as a float if it is a finite Python ``int`` or ``float`` (bools refused), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a Python int or float, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def require_positive_int(value: object, name: str) -> int:
    """Return ``value`` if it is a positive ``int`` (bools refused), else raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def require_generator(generator: object, name: str = "generator") -> torch.Generator:
    """Return ``generator`` if it is a ``torch.Generator`` (every random draw of the course is seeded), else raise."""
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator, got {type(generator).__name__}")
    return generator


def require_float_dtype(dtype: object, name: str = "dtype") -> torch.dtype:
    """Return ``dtype`` if it is a floating-point ``torch.dtype``, else raise."""
    if not isinstance(dtype, torch.dtype) or dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a floating-point torch.dtype (e.g. torch.float64), got {dtype!r}")
    return dtype
