"""The generator: committed notebooks match their sources, and hand edits are caught."""

from __future__ import annotations

import ast
import functools
import inspect
import os
import re
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest
import torch
from answer_support import answer_lines, visible_text

import lrnn_course
from lrnn_course import build, runner, scan, tasks
from lrnn_course.checks import EXERCISES

ROOT = build.repo_root()
TARGETS = build.targets(ROOT)
SOURCES = sorted({target.source for target in TARGETS})


def notebook(kind: str, stem: str = "01_diagonal_scans") -> nbformat.NotebookNode:
    path = next(t.path for t in TARGETS if t.kind == kind and t.source.stem == stem)  # kernel lessons live in kernels/
    return nbformat.read(path, as_version=4)


def code_cells(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def test_committed_notebooks_match_their_sources():
    # Enforces CONTRIBUTING.md#rule-generated-notebooks
    assert build.build(check_only=True) == []


@pytest.mark.parametrize("kind", build.KINDS)
def test_a_hand_edited_notebook_is_caught(tmp_path, kind):
    target = next(t for t in TARGETS if t.kind == kind)
    edited = tmp_path / target.path.name
    shutil.copy(target.path, edited)
    nb = nbformat.read(edited, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "check(" in c.source)
    cell.source += "\nprint('edited by hand')"
    nbformat.write(nb, edited)
    assert "differs from what" in build.drift(build.Target(target.source, kind, edited))


def test_a_lesson_not_executed_top_to_bottom_is_caught(tmp_path):
    target = next(t for t in TARGETS if t.kind == "lesson")
    nb = nbformat.read(target.path, as_version=4)
    next(c for c in nb.cells if c.cell_type == "code").execution_count = 42
    edited = tmp_path / target.path.name
    nbformat.write(nb, edited)
    assert "not executed top to bottom" in build.drift(build.Target(target.source, "lesson", edited))


STEMS = sorted(path.stem for path in (ROOT / "sources").glob("*.py"))


def exercises_of(stem: str) -> list:
    return [exercise for exercise in EXERCISES.values() if exercise.id.split(".")[0] == stem.split("_")[0]]


# A lesson cell calls and explains; logic longer than this lives in the package, with tests.
LOGIC_LIMIT = 15


def logic_lines(code: str) -> int:
    """The statements of a cell: each simple statement and each compound statement's header counts one.

    Not counted: imports, docstrings, comments, blank lines and IPython ``%``/``!`` lines; a call the
    formatter wraps over several lines is one statement, so the count does not depend on line length.
    """
    python = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())
    return sum(
        isinstance(node, ast.stmt)
        and not isinstance(node, (ast.Import, ast.ImportFrom))
        and not (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        )
        for node in ast.walk(ast.parse(python))
    )


def test_logic_lines_count_statements_not_wrapped_lines():
    code = textwrap.dedent(
        """\
        import torch


        def f(x):
            \"\"\"Doc.\"\"\"
            # why
            return g(
                x,
                1,
            )


        %timeit f(1)
        for i in range(3):
            f(i)
        """
    )
    assert logic_lines(code) == 4  # def, return, for, the call in the loop


@pytest.mark.parametrize("source", SOURCES, ids=[source.stem for source in SOURCES])
def test_no_lesson_cell_holds_more_than_fifteen_lines_of_logic(source):
    # Enforces CONTRIBUTING.md#rule-cell-logic
    """Exercise cells (``#| exercise:``, the learner's function pasted in) are the exception."""
    too_long = [
        f"{source.name}, cell {index} ({cell.source.splitlines()[0][:60]!r}…): {count} lines of logic"
        for index, cell in enumerate(build.source_cells(source))
        if cell.cell_type == "code"
        and not build.DIRECTIVE.search(cell.source)
        and (count := logic_lines(cell.source)) > LOGIC_LIMIT
    ]
    assert not too_long, f"more than {LOGIC_LIMIT} lines of logic; move it into lrnn_course: " + "; ".join(too_long)


def test_every_exercise_belongs_to_a_lesson():
    # Enforces CONTRIBUTING.md#rule-exercise-count
    assert sum(len(exercises_of(stem)) for stem in STEMS) == len(EXERCISES)


@pytest.mark.parametrize("stem", STEMS)
def test_exercise_notebooks_have_stubs_and_no_outputs(stem):
    # Enforces CONTRIBUTING.md#rule-exercise-count
    nb = notebook("exercise", stem)
    assert all(not cell.outputs and cell.execution_count is None for cell in nb.cells if cell.cell_type == "code")
    sources = "\n".join(code_cells(nb))
    # A numbered lesson has two exercises at least; a kernel lesson one, the kernel (or its backward pass).
    assert sources.count("raise NotImplementedError()") == len(exercises_of(stem)) >= (1 if stem.startswith("K") else 2)
    assert "### BEGIN SOLUTION" not in sources


@pytest.mark.parametrize("stem", STEMS)
def test_solution_notebook_becomes_the_exercise_notebook_under_nbgrader_rules(stem):
    # Enforces CONTRIBUTING.md#rule-exercise-cells
    """nbgrader's ClearSolutions: the region between the markers becomes the stub, indentation kept."""
    region = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION$", re.MULTILINE | re.DOTALL)
    cleared = [
        region.sub(r"\g<indent># YOUR CODE HERE\n\g<indent>raise NotImplementedError()", source)
        for source in code_cells(notebook("solution", stem))
    ]
    exercise_sources = code_cells(notebook("exercise", stem))

    # imports differ where the solution uses helpers the stub does not; compare the function bodies
    def strip_imports(source: str) -> str:
        return "\n".join(line for line in source.splitlines() if not line.startswith(("import ", "from "))).strip()

    assert [strip_imports(s) for s in cleared] == [strip_imports(s) for s in exercise_sources]


@pytest.mark.parametrize("stem", STEMS)
def test_lesson_shows_the_solutions_without_markers(stem):
    # Enforces CONTRIBUTING.md#rule-exercise-cells and CONTRIBUTING.md#rule-check-cell
    sources = "\n".join(code_cells(notebook("lesson", stem)))
    assert "### BEGIN SOLUTION" not in sources and "NotImplementedError" not in sources
    for exercise in exercises_of(stem):
        assert f"def {exercise.solution.__name__}(" in sources
        assert f'check("{exercise.id}", {exercise.solution.__name__})' in sources


@functools.cache
def rendered(stem: str, kind: str) -> nbformat.NotebookNode:
    """The notebook of ``kind`` as the generator makes it now (the committed one equals it: see the drift test)."""
    return build.render(ROOT / "sources" / f"{stem}.py", kind)


def exercise_ids(stem: str) -> list[str]:
    return build.DIRECTIVE.findall((ROOT / "sources" / f"{stem}.py").read_text(encoding="utf-8"))


def folded_cells(lesson: nbformat.NotebookNode) -> list[int]:
    return [index for index, cell in enumerate(lesson.cells) if build.SOLUTION_TAG in cell.metadata.get("tags", [])]


@pytest.mark.parametrize("stem", STEMS)
def test_a_lesson_folds_every_answer_and_says_where_to_try_it_first(stem):
    # Enforces CONTRIBUTING.md#rule-answers-folded
    lesson, practice = rendered(stem, "lesson"), rendered(stem, "exercise")
    ids, folded = exercise_ids(stem), folded_cells(lesson)
    assert len(folded) == len(ids) >= 1
    for exercise_id, index in zip(ids, folded):
        cell, note = lesson.cells[index], lesson.cells[index - 1]
        assert f"def {build.solution_function(exercise_id).__name__}(" in cell.source
        # JupyterLab folds the cell and shows its first line instead; nbconvert's exports leave its source out
        assert cell.metadata["jupyter"] == {"source_hidden": True} and cell.metadata["transient"] == {
            "remove_source": True
        }
        assert cell.source.startswith(f"# The reference solution of {exercise_id}, folded")
        assert note.cell_type == "markdown" and note.metadata["tags"] == [build.TRY_FIRST_TAG]
        assert all(
            where in note.source
            for where in (f"`{stem}.ipynb`", "`lrnn-course fetch exercises`", f"`lrnn-course reveal {exercise_id}`")
        )
    shown = {
        line.strip()
        for index, cell in enumerate(lesson.cells)
        if index not in folded
        for line in cell.source.splitlines()
    }
    for exercise_id in ids:
        answer = answer_lines(exercise_id, practice)
        assert answer, f"{exercise_id}: its solution has no line that the stub lacks"
        assert shown.isdisjoint(answer), f"{exercise_id}: a cell that is not folded shows its answer"


@pytest.fixture(scope="module")
def html_exporter():
    from nbconvert import HTMLExporter

    return HTMLExporter()


@pytest.mark.parametrize("stem", STEMS)
def test_the_html_export_of_a_lesson_shows_no_answer(html_exporter, stem):
    # Enforces CONTRIBUTING.md#rule-answers-folded
    """What `jupyter nbconvert --to html` makes of a lesson, with no option: the notes, no answer line."""
    page = visible_text(html_exporter.from_notebook_node(rendered(stem, "lesson"))[0])
    solved = visible_text(html_exporter.from_notebook_node(rendered(stem, "solution"))[0])
    for exercise_id in exercise_ids(stem):
        answer = answer_lines(exercise_id, rendered(stem, "exercise"))
        assert all(line in solved for line in answer), "a page of the solved notebook shows every answer line"
        assert [line for line in answer if line in page] == []
        assert f"lrnn-course reveal {exercise_id}" in page


@pytest.mark.parametrize("stem", STEMS)
def test_a_practice_notebook_carries_the_statement_maths_and_spec_of_each_exercise(stem):
    # Enforces CONTRIBUTING.md#rule-practice-notebook
    """A learner with only the wheel has the practice notebook: what the lesson says to set an exercise is there."""
    lesson, practice = rendered(stem, "lesson"), rendered(stem, "exercise")
    prose = [cell.source for cell in practice.cells if cell.cell_type == "markdown"]
    assert not [text for text in prose if re.search(r"\b(lessons|kernels)/", text)], (
        "it sends the learner to a lesson file"
    )
    code = "\n".join(cell.source for cell in practice.cells if cell.cell_type == "code")
    for exercise_id, index in zip(exercise_ids(stem), folded_cells(lesson)):
        before = [
            cell
            for cell in lesson.cells[:index]
            if cell.cell_type == "markdown" and build.TRY_FIRST_TAG not in cell.metadata.get("tags", [])
        ]
        statement = before[-1]
        section = next(
            cell for cell in reversed(before) if cell.metadata.get("slideshow", {}).get("slide_type") == "slide"
        )
        assert "Exercise" in statement.source and statement.source in prose, f"{exercise_id}: its statement"
        assert section.source in prose, f"{exercise_id}: the section that sets it, {section.source.splitlines()[0]!r}"
        docstring = inspect.getdoc(build.solution_function(exercise_id)) or ""
        assert all(line.strip() in code for line in docstring.splitlines()), f"{exercise_id}: its docstring"


@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("kind", build.KINDS)
def test_the_install_cell_then_the_parameters_open_every_notebook(kind, stem):
    # Enforces CONTRIBUTING.md#rule-parameters-cell
    install, parameters = [cell for cell in notebook(kind, stem).cells if cell.cell_type == "code"][:2]
    assert install.source == build.install_cell_source()
    assert install.metadata["slideshow"] == {"slide_type": "skip"} and install.metadata["jupyter"]["source_hidden"]
    assert parameters.metadata.get("tags") == ["parameters"]
    assert (
        'SIZE = "small"' in parameters.source
        and 'DEVICE = "auto"' in parameters.source
        and "SEED = 0" in parameters.source
    )


def run_install_cell(source: str | None = None) -> subprocess.CompletedProcess:
    """Run the cell in a new interpreter, outside the checkout (whose lrnn_course would be importable from there).

    Where the course is installed, as here; tests/test_first_cell.py runs it in a kernel without the course.
    """
    return subprocess.run(
        [sys.executable, "-c", source or build.install_cell_source()],
        cwd=ROOT.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_install_cell_reports_the_installed_version():
    done = run_install_cell()
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"lrnn_course {lrnn_course.__version__} is installed\n"


def test_the_install_cell_says_when_the_notebook_is_from_another_version():
    older = build.install_cell_source().replace(
        f'COURSE_VERSION = "{lrnn_course.__version__}"', 'COURSE_VERSION = "0.0.1"'
    )
    done = run_install_cell(source=older)
    assert "but this notebook is from 0.0.1: `lrnn-course fetch` gives matching notebooks" in done.stdout


def test_instructor_cells_reach_no_notebook():
    # Enforces CONTRIBUTING.md#rule-instructor-minutes
    for target in TARGETS:
        text = target.path.read_text(encoding="utf-8")
        assert "## Talking points" not in text and "## Common mistakes" not in text, target.path


def test_imports_are_generated_for_what_a_solution_uses():
    code = build.function_source(scan.chunked_scan, "solution")
    assert build.import_lines(scan.chunked_scan, code, {"torch"}) == [
        "import math",
        "import torch.nn.functional as F",
        "from lrnn_course.scan import hillis_steele_scan",
        "from lrnn_course.scan import validate_scan_inputs",
        "from lrnn_course.validate import require_positive_int",
    ]
    stub = build.function_source(scan.chunked_scan, "exercise")
    assert build.import_lines(scan.chunked_scan, stub, {"torch", "validate_scan_inputs"}) == [
        "from lrnn_course.validate import require_positive_int"
    ]


def test_constants_are_imported_from_the_module_of_the_solution():
    code = build.function_source(tasks.sequence_accuracy, "solution")
    assert build.import_lines(tasks.sequence_accuracy, code, {"torch"}) == ["from lrnn_course.tasks import IGNORE"]


def test_a_solution_without_markers_is_refused():
    def no_markers(x):
        return x

    with pytest.raises(ValueError, match="BEGIN SOLUTION"):
        build.function_source(no_markers, "exercise")


def test_an_unknown_exercise_directive_is_refused(tmp_path):
    source = tmp_path / "99_bad.py"
    source.write_text("# %%\n#| exercise: 99.nothing\n")
    with pytest.raises(KeyError, match=r"99_bad.py, `#\| exercise: 99.nothing`: unknown exercise id '99.nothing'"):
        build.render(source, "lesson")


def test_stubbed_function_keeps_signature_and_docstring():
    namespace: dict = {"torch": torch}
    code = build.function_source(scan.sequential_scan, "exercise")
    exec("\n".join(build.import_lines(scan.sequential_scan, code, {"torch"})) + "\n" + code, namespace)
    stub = namespace["sequential_scan"]
    assert stub.__doc__ == scan.sequential_scan.__doc__
    with pytest.raises(NotImplementedError):
        stub(torch.rand(1, 2, 1), torch.rand(1, 2, 1))


def test_exactly_the_cells_that_show_a_widget_are_tagged_widget_and_get_a_minute():
    # Enforces CONTRIBUTING.md#rule-widgets
    tagged, showing = set(), set()
    for target in TARGETS:
        if target.kind != "lesson":
            continue
        for index, cell in enumerate(nbformat.read(target.path, as_version=4).cells):
            if runner.WIDGET_TAG in cell.metadata.get("tags", []):
                tagged.add((target.path.name, index))
            # an interactive explorer, not a tqdm bar (also a widget, but drawn with no Output widget)
            if any(
                "application/vnd.jupyter.widget-view+json" in output.get("data", {})
                and output["data"].get("text/plain", "").startswith("interactive(")
                for output in cell.get("outputs", [])
            ):
                showing.add((target.path.name, index))
    assert len(showing) == 5 and tagged == showing
    limit = runner.cell_timeout(300)
    widget_cell = nbformat.v4.new_code_cell("viz.scan_explorer()", metadata={"tags": [runner.WIDGET_TAG]})
    assert (limit(widget_cell), limit(nbformat.v4.new_code_cell("train()"))) == (runner.WIDGET_CELL_TIMEOUT_S, 300)


PROGRESS_FRAME = re.compile(r"\d+%\|")  # a tqdm bar as text: "  0%|          | 0/1000 [00:00<?, ?it/s]"


def test_executed_notebooks_keep_no_frozen_progress_bar():
    # Enforces CONTRIBUTING.md#rule-progress-bars
    """A saved bar keeps its first frame ("0/1000"), as if nothing had trained; builds turn tqdm off."""
    frozen = []
    for target in TARGETS:
        if target.kind != "lesson":
            continue
        for index, cell in enumerate(nbformat.read(target.path, as_version=4).cells):
            for output in cell.get("outputs", []):
                texts = [output.get("text", ""), output.get("data", {}).get("text/plain", "")]
                if any(PROGRESS_FRAME.search("".join(text) if isinstance(text, list) else text) for text in texts):
                    frozen.append((target.path.name, index))
    assert frozen == []


def test_kernels_started_by_the_builder_draw_inline_and_show_no_bars(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    # the notebook bar, as a kernel draws it (tqdm.notebook always passes ``disable`` on, so tqdm's own
    # reading of TQDM_DISABLE would not turn it off)
    draw = (
        "from unittest import mock\nimport tqdm.auto, tqdm.notebook\n"
        "with mock.patch.object(tqdm.auto, 'tqdm', tqdm.notebook.tqdm):\n"
        "    from lrnn_course.progress import progress_bar\n"
        "    bar = progress_bar(range(3))\n"
        "    print(bar.disable)"
    )
    with runner.kernel_environment():
        assert (os.environ["MPLBACKEND"], os.environ["TQDM_DISABLE"]) == (runner.INLINE_BACKEND, "1")
        drawn = subprocess.run([sys.executable, "-c", draw], capture_output=True, text=True, timeout=120)
        assert drawn.returncode == 0 and drawn.stdout == "True\n", drawn.stderr
    assert os.environ["MPLBACKEND"] == "Agg" and "TQDM_DISABLE" not in os.environ
