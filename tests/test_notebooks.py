"""Execute every lesson, solution and exercise notebook with papermill at SIZE=small.

Lessons and solutions must run clean with every check green; exercise notebooks must run to the
end with every check red (the stubs) but no cell error. ``LRNN_COURSE_DEVICE=cuda`` runs them on
the GPU (``make gpu-test``).
"""

from __future__ import annotations

import os

import nbformat
import papermill
import pytest

from lrnn_course import build, course

DEVICE = os.environ.get("LRNN_COURSE_DEVICE", "cpu")
CELL_TIMEOUT_S = 300
NOTEBOOKS = build.targets(build.repo_root())


def execute(path, tmp_path):
    output = tmp_path / path.name
    papermill.execute_notebook(str(path), str(output), parameters={"SIZE": "small", "DEVICE": DEVICE, "SEED": 0},
                               kernel_name="python3", cwd=str(path.parent), execution_timeout=CELL_TIMEOUT_S,
                               progress_bar=False)
    return nbformat.read(output, as_version=4)


pytestmark = [pytest.mark.notebooks]


@pytest.mark.parametrize("target", NOTEBOOKS, ids=[f"{t.kind}:{t.source.stem}" for t in NOTEBOOKS])
def test_notebook_executes(target, tmp_path):
    nb = execute(target.path, tmp_path)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and f'DEVICE = "{DEVICE}"' in injected[0].source
    tables = course.check_tables(nb)
    assert tables, "every practice notebook ends its exercises with check() cells"
    for table in tables:
        assert table.startswith("Checking ")
        if target.kind == "exercise":
            assert "✗" in table and "✓" not in table and "not implemented yet" in table, table
        else:
            assert "✗" not in table and "✓" in table, table
