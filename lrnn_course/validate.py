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
    # The smallest and largest entries are finite exactly when all are (NaN propagates): one pass over x, where
    # torch.isfinite(x).all() makes three and allocates, which costs more than the recurrence at some shapes.
    if x.numel() and not bool(torch.isfinite(torch.stack(torch.aminmax(x.detach()))).all()):
        raise ValueError(f"{name} has {int((~torch.isfinite(x)).sum())} non-finite value(s) (NaN or inf)")
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
        raise TypeError(
            f"{name} is {x.dtype} on {x.device} but {reference_name} is {reference.dtype} on {reference.device}"
        )
    return x


def require_broadcastable(tensors: Sequence[torch.Tensor], what: str, example: str) -> None:
    """Raise unless the shapes of ``tensors`` broadcast together; ``what`` names them, ``example`` shows good ones."""
    try:
        torch.broadcast_shapes(*(x.shape for x in tensors))
    except RuntimeError:
        shapes = ", ".join(str(tuple(x.shape)) for x in tensors)
        raise ValueError(f"the shapes of {what} must broadcast together, e.g. {example}; got {shapes}") from None


def require_in_range(x: torch.Tensor, name: str, low: float, high: float) -> torch.Tensor:
    """Raise unless every entry of ``x`` lies in the closed interval [low, high] (NaN lies outside)."""
    if not x.numel():
        return x
    smallest, largest = torch.aminmax(x.detach())  # one pass; a NaN makes both NaN, so the test below fails
    if bool((smallest >= low) & (largest <= high)):
        return x
    outside = ~((x >= low) & (x <= high))
    worst = x[outside].flatten()[0].item()
    raise ValueError(f"{name} must lie in [{low:g}, {high:g}]; found {worst:g} ({int(outside.sum())} value(s) outside)")


def require_shape(
    x: torch.Tensor, name: str, shape: tuple[int, ...], layout: str | None = None, why: str | None = None
) -> torch.Tensor:
    """Return ``x`` if its shape is ``shape``, else raise; ``layout`` names the dimensions, e.g. ``"(B, D)"``, and
    ``why`` ends the message (e.g. ``"to match the state"``)."""
    if tuple(x.shape) != tuple(shape):
        expected = f"{layout} = {tuple(shape)}" if layout else f"{tuple(shape)}"
        raise ValueError(f"{name} must have shape {expected}{' ' + why if why else ''}, got {tuple(x.shape)}")
    return x


def require_steps(x: torch.Tensor, names: str) -> torch.Tensor:
    """Raise unless ``x`` (B, T, ...) holds at least one time step; ``names`` are the arguments that share T."""
    if x.shape[1] == 0:
        raise ValueError(f"{names} must hold at least one time step (T >= 1), got T = 0")
    return x


def require_unit_keys(k: torch.Tensor) -> torch.Tensor:
    """Raise unless every key (the last dimension of ``k``) has length 1 up to the rounding of its dtype.

    The delta rule's theory (eigenvalue 1 - β along k, ‖A‖ ≤ 1 for β ≤ 2) holds for unit keys only, so the
    recurrences reject others rather than silently leaving [-1, 1]; the layers L2-normalise.
    """
    require_tensor(k, "k")
    tolerance = {torch.float64: 1e-9, torch.float32: 1e-5}.get(k.dtype, 1e-2)
    # in float32 at least: its rounding (about 1e-7 per length) is far below the tolerance of any dtype
    lengths = torch.linalg.vector_norm(k.detach(), dim=-1, dtype=torch.promote_types(k.dtype, torch.float32))
    if not lengths.numel() or bool((lengths - 1).abs().max() <= tolerance):
        return k
    off = ~((lengths - 1).abs() <= tolerance)  # a NaN length is off too
    raise ValueError(
        f"keys must be L2-normalised (‖k‖ = 1, e.g. torch.nn.functional.normalize(k, dim=-1)); "
        f"found a key of length {lengths[off].flatten()[0].item():.6g} ({int(off.sum())} such keys)"
    )


def require_number(value: object, name: str, low: float | None = None, high: float | None = None) -> float:
    """Return ``value`` as a float if it is a finite Python ``int`` or ``float`` (bools refused), in [low, high]
    when those are given, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a Python int or float, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and high is not None and not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got {value}")
    return float(value)


def require_positive_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` if it is an ``int`` (bools refused) of at least ``minimum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def require_bits(bits: object, name: str = "bits") -> torch.Tensor:
    """Return ``bits`` if it is a floating-point tensor (B, T) of zeros and ones (the inputs 0 and 1), else raise."""
    require_tensor(bits, name, 2, "(B, T)")
    if not bool(((bits == 0) | (bits == 1)).all()):
        raise ValueError(f"{name} must hold only zeros and ones")
    return bits


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
