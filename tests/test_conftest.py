"""The project's pytest hook gives notebook cells a longer wait for their output messages."""

from __future__ import annotations

from types import SimpleNamespace

import conftest


def test_notebook_cells_wait_a_minute_for_output_and_other_items_are_untouched():
    cell, plain = SimpleNamespace(output_timeout=5), SimpleNamespace(name="test_something")
    conftest.pytest_collection_modifyitems([cell, plain])
    assert cell.output_timeout == conftest.NBVAL_OUTPUT_TIMEOUT_S == 60
    assert not hasattr(plain, "output_timeout")
