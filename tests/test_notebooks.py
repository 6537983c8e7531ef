"""Execute every lesson, solution and exercise notebook with papermill at SIZE=small.

Lessons and solutions must run clean with every check green; exercise notebooks must run to the
end with every check red (the stubs) but no cell error. ``LRNN_COURSE_DEVICE=cuda`` runs them on
the GPU (``make gpu-test``).
"""

from __future__ import annotations

import os

import pytest

from lrnn_course import build, course

DEVICE = os.environ.get("LRNN_COURSE_DEVICE", "cpu")
NOTEBOOKS = build.targets(build.repo_root())


pytestmark = [pytest.mark.notebooks]


@pytest.mark.parametrize("target", NOTEBOOKS, ids=[f"{t.kind}:{t.source.stem}" for t in NOTEBOOKS])
def test_notebook_executes(target, tmp_path):
    nb = course.execute(target.path, tmp_path / target.path.name, {"SIZE": "small", "DEVICE": DEVICE, "SEED": 0})
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
