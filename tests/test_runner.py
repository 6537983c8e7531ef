"""The one notebook runner of build, run and progress: parameters, limits, errors, a dying kernel."""

from __future__ import annotations

import nbformat

from lrnn_course import runner


def notebook(*sources: str, parameters: str | None = 'SIZE = "full"\nSEED = 0') -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_markdown_cell("# A title")]
    if parameters is not None:
        cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": [runner.PARAMETERS_TAG]}))
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return nbformat.v4.new_notebook(cells=cells)


def test_parameters_are_injected_after_the_parameters_cell_for_the_names_it_declares():
    given = notebook("print(SIZE, SEED)")
    injected = runner.with_parameters(given, {"SIZE": "small", "SEED": 3, "JOBS": 2})
    assert len(given.cells) == 3, "the notebook given is not changed"
    assert injected.cells[2].metadata["tags"] == [runner.INJECTED_TAG]
    assert injected.cells[2].source == '# Parameters of this run\nSIZE = "small"\nSEED = 3'
    assert runner.with_parameters(notebook("1", parameters=None), {"SIZE": "small"}).cells[1].source == "1"
    nbformat.validate(injected)


def test_a_run_executes_in_order_with_its_parameters_and_stops_at_the_first_error(tmp_path):
    started = []
    execution = runner.run_notebook(
        notebook("import os\nprint(SIZE, os.getcwd())", "undefined_name", "print('never')"),
        tmp_path,
        {"SIZE": "small"},
        before_cell=lambda index, cell: started.append(index),
    )
    assert started == [1, 2, 3, 4], "markdown cells are not run"
    assert execution.notebook.cells[3].outputs[0].text == f"small {tmp_path}\n"
    assert [cell.index for cell in execution.cells] == [1, 2, 3, 4]
    assert execution.cells[-1].error == "NameError: name 'undefined_name' is not defined"
    assert execution.stopped == "cell 4 raised NameError: name 'undefined_name' is not defined"
    assert "print('never')" in execution.notebook.cells[5].source and not execution.notebook.cells[5].outputs
    assert "NameError" in runner.traceback_of(execution.notebook.cells[4])
    assert execution.slowest is not None and execution.slowest.seconds >= 0


def test_keep_going_reports_each_failure_and_an_overrun_and_a_dead_kernel_stops_the_run(tmp_path):
    execution = runner.run_notebook(
        notebook(
            "1 / 0",
            "import time\ntime.sleep(30)",
            "import sys\nsys.exit(3)",
            "print('after')",
            "import os\nos._exit(1)",
            "2",
        ),
        tmp_path,
        limit_s=3,
        keep_going=True,
    )
    assert [cell.error for cell in execution.cells] == [
        "",
        "ZeroDivisionError: division by zero",
        "TimeoutError: did not finish within 3 s",
        "SystemExit: 3",
        "",
    ]
    assert execution.notebook.cells[5].outputs[0].text == "after\n"
    assert not execution.notebook.cells[7].outputs
    assert execution.stopped == "the kernel died while running cell 6"
