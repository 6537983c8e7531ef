"""Choosing where the course's tensors live.

Glossary (code name -> meaning; no paper symbol, this is plumbing):

==============  ===========================================================================
``preference``  what the learner asked for: ``"auto"``, ``"cpu"`` or ``"cuda"``
``cuda``        an NVIDIA GPU as PyTorch sees it (``torch.cuda.is_available()``)
==============  ===========================================================================

Every lesson runs on a laptop CPU; a GPU only makes the larger experiments faster. So ``"auto"``
never fails, while ``"cuda"`` fails loudly, because a learner who asks for a GPU and silently gets
the CPU would misread every timing that follows.
"""

from __future__ import annotations

import torch

PREFERENCES = ("auto", "cpu", "cuda")


def device(preference: str = "auto") -> torch.device:
    """Return the ``torch.device`` the lessons should put their tensors on.

    Args:
        preference: ``"auto"`` (the GPU when PyTorch sees one, else the CPU), ``"cpu"`` or ``"cuda"``.

    Returns:
        ``torch.device("cuda")`` or ``torch.device("cpu")``.

    Raises:
        RuntimeError: ``"cuda"`` was asked for and PyTorch sees no CUDA GPU.
        ValueError: ``preference`` is not one of the three names above.
    """
    if preference not in PREFERENCES:
        raise ValueError(f"device preference must be one of {', '.join(map(repr, PREFERENCES))}, got {preference!r}")
    if preference == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if preference == "cuda":
        raise RuntimeError(
            "device('cuda') was asked for but PyTorch sees no CUDA GPU "
            f"(torch {torch.__version__}, built with CUDA {torch.version.cuda or 'none'}); "
            "use device('auto') to fall back to the CPU"
        )
    return torch.device("cpu")
