"""Timing helpers for the lessons' cost plots and the benchmark scripts (never used in tests).

Glossary: ``fn`` = the function timed, ``repeats`` = timed calls, ``warmup`` = untimed calls first
(caches, lazy initialisation, Triton compilation).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from .validate import require_positive_int


def best_seconds(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Fewest wall-clock seconds of ``fn()`` over ``repeats`` calls, waiting for the GPU when there is one.

    The minimum, not the median: on a shared machine other work only ever adds time, so the fastest
    call is the one closest to what the code itself costs.
    """
    require_positive_int(repeats, "repeats")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative int, got {warmup!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    synchronize = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    synchronize()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize()
        samples.append(time.perf_counter() - start)
    return min(samples)
