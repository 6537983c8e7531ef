"""Progress bars for long loops: tqdm's, switched off where a notebook is executed to be saved.

Glossary: ``enabled`` = the caller wants a bar (e.g. ``progress=True`` of ``train.train``);
``TQDM_DISABLE`` = the environment variable that turns every bar off.

A bar is live feedback while a learner runs a cell. A notebook executed headless and saved
(``lrnn-course build``, ``lrnn-course run``) would keep only its first frame ("0/1000"), as if
nothing had run, so the builder sets ``TQDM_DISABLE=1`` for its kernels. tqdm itself reads that
variable only for arguments a caller leaves out, and its notebook bar always passes ``disable``;
the variable is therefore honoured here, in the one place the course makes bars.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

OFF_VALUES = ("", "0", "false", "no")


def bars_disabled() -> bool:
    """True when ``TQDM_DISABLE`` is set to anything but an empty, 0, false or no value."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in OFF_VALUES


def progress_bar(iterable: Iterable[Any] | None = None, *, enabled: bool = True, **options: Any):
    """``tqdm.auto.tqdm(iterable, **options)``, disabled when not ``enabled`` or when bars are off."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not enabled or bars_disabled(), **options)
