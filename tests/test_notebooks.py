"""Execute every lesson, solution and exercise notebook at SIZE=small (``runner.run_notebook``, as ``lrnn-course run``).

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
    # Enforces CONTRIBUTING.md#rule-notebooks-run and CONTRIBUTING.md#rule-check-cell
    execution = course.execute(target.path, tmp_path / target.path.name, {"SIZE": "small", "DEVICE": DEVICE, "SEED": 0})
    assert not execution.stopped, execution.stopped
    nb = execution.notebook
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


def test_papermill_runs_a_lesson_with_its_parameters(tmp_path):
    """Instructors may run the notebooks with papermill, as the README says: its parameters cell is papermill's."""
    papermill = pytest.importorskip("papermill")
    lesson = build.repo_root() / "lessons" / "01_diagonal_scans.ipynb"
    executed = papermill.execute_notebook(
        str(lesson), str(tmp_path / lesson.name), parameters={"SIZE": "small", "DEVICE": DEVICE}, progress_bar=False
    )
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'SIZE = "small"' in injected[0].source
    tables = course.check_tables(executed)
    assert tables and all("✗" not in table and "✓" in table for table in tables), tables
