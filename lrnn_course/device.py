"""Choosing where the course's tensors live, and how many CPU threads the lessons' training uses.

Glossary (code name -> meaning; no paper symbol, this is plumbing):

==================  ===========================================================================
``preference``      what the learner asked for: ``"auto"``, ``"cpu"`` or ``"cuda"``
``cuda``            an NVIDIA GPU as PyTorch sees it (``torch.cuda.is_available()``)
``threads``         PyTorch's intra-op thread count (``torch.get_num_threads()``)
``THREAD_SETTINGS`` the environment variables by which a user fixes that count before Python starts
==================  ===========================================================================

Every lesson runs on a laptop CPU; a GPU only makes the larger experiments faster. So ``"auto"``
never fails, while ``"cuda"`` fails loudly, because a learner who asks for a GPU and silently gets
the CPU would misread every timing that follows.

The lessons train tiny models (widths of 10 to 16, a few hundred short sequences per batch): each
operation is microseconds of arithmetic, so splitting it across cores saves less than waking the
other threads costs, and a thread that waits for a core held by another process (the Jupyter
server, the browser drawing progress bars, a second kernel) stalls every operation. Measured on 2
cores (issue 23): one Figure 1 training run of Lesson 04 took 61 s with PyTorch's default of 2
threads beside a process busy on one core, 8 s with one thread; in JupyterLab, Lesson 06 ran in
180 s with 2 threads and 47 s with one (36 s in the committed benchmark). So before their training
loops the lessons call ``threads_for_small_models``, which on a CPU sets one thread, unless the user
fixed the count in the environment.
"""

from __future__ import annotations

import os

import torch

PREFERENCES = ("auto", "cpu", "cuda")
SMALL_MODEL_THREADS = 1
# PyTorch sizes its thread pool from these at start-up; a user who set one chose the count on purpose.
THREAD_SETTINGS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


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


def thread_choice(where: torch.device) -> tuple[int, str]:
    """The thread count ``threads_for_small_models`` picks for training on ``where``, and why, in words.

    Returns:
        ``(threads, reason)``: ``SMALL_MODEL_THREADS`` on a CPU; the current count on a GPU (its kernels
        do the work) or when a variable of ``THREAD_SETTINGS`` is set (the user's choice wins).
    """
    if not isinstance(where, torch.device):
        raise TypeError(f"where must be a torch.device (as lrnn_course.device() returns), got {type(where).__name__}")
    current = torch.get_num_threads()
    if where.type != "cpu":
        return current, f"left as they are on {where.type}: the GPU does the training"
    chosen = [f"{name}={os.environ[name]}" for name in THREAD_SETTINGS if os.environ.get(name, "").strip()]
    if chosen:
        return current, f"as {' and '.join(chosen)} asks"
    return SMALL_MODEL_THREADS, "tiny models train faster on one core than split across several"


def threads_for_small_models(where: torch.device) -> int:
    """Set PyTorch's thread count for the lessons' small training loops on ``where``; print one line saying so.

    On a CPU this is ``SMALL_MODEL_THREADS`` (see the module's docstring for why), unless ``OMP_NUM_THREADS``
    or ``MKL_NUM_THREADS`` is set; on a GPU the count is left alone. The printed line says how to undo it.

    Args:
        where: the device the lesson trains on, ``lrnn_course.device(DEVICE)``.

    Returns:
        The thread count in effect afterwards.

    Raises:
        TypeError: ``where`` is not a ``torch.device``.
    """
    threads, reason = thread_choice(where)
    previous = torch.get_num_threads()
    if threads == previous:
        print(f"PyTorch threads: {threads}, {reason}")
        return threads
    torch.set_num_threads(threads)
    print(f"PyTorch threads: {threads} (was {previous}), {reason}; torch.set_num_threads({previous}) undoes this")
    return threads
