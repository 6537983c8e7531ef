"""pytest hooks shared by the test suite and the nbval runs of the notebooks (``make test``)."""

from __future__ import annotations

import os

NBVAL_OUTPUT_TIMEOUT_S = 60

# nbval reads a kernel's iopub channel only after a cell has finished. Meanwhile every message waits
# in ZeroMQ queues that hold about a thousand, and a full PUB queue drops what comes next, the
# kernel's final "idle" included; nbval then waits for it in vain ("Timeout of 60 seconds exceeded
# waiting for output"). A tqdm widget bar sends about 20 messages a second by default: measured,
# 8 000 of them lost the idle message, and Lesson 08's parity cell on a loaded CI machine comes
# near that. One refresh every 5 s keeps a 300 s cell under 200 messages. The kernels inherit this
# environment; a learner's JupyterLab, which reads iopub as it comes, keeps tqdm's default.
os.environ.setdefault("TQDM_MININTERVAL", "5")


def pytest_collection_modifyitems(items) -> None:
    """Let every notebook cell wait up to a minute for each output message after it has finished.

    nbval's default is 5 s, which a loaded 2-core CI machine has exceeded for the last messages of
    a training cell. The cell's own limit is unchanged (``--nbval-cell-timeout``).
    """
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval's IPyNbCell
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT_S
