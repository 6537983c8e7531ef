"""pytest hooks shared by the test suite and the nbval runs of the notebooks (``make test``)."""

from __future__ import annotations

NBVAL_OUTPUT_TIMEOUT_S = 60


def pytest_collection_modifyitems(items) -> None:
    """Let every notebook cell wait up to a minute for each output message.

    nbval waits only 5 s per iopub message once a cell has finished. On a loaded 2-core CI machine
    the last messages of a training cell (its tqdm updates, then the kernel going idle) arrived
    later than that, and a cell that had succeeded was reported as "Timeout of 5 seconds exceeded
    waiting for output". The cell's own limit is unchanged (``--nbval-cell-timeout``).
    """
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval's IPyNbCell
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT_S
