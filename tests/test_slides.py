"""The slide decks: one per lesson and kernel notebook, each with its title, its sections and every figure."""

from __future__ import annotations

import html
import re

import nbformat
import pytest
from answer_support import answer_lines, visible_text

from lrnn_course import build, notebook_files, slides

ROOT = build.repo_root()
TARGETS = build.targets(ROOT)
LESSONS = [target.path for target in TARGETS if target.kind == "lesson"]


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> dict[str, str]:
    out_dir = tmp_path_factory.mktemp("slides")
    written = slides.build_slides(out_dir=out_dir)
    assert sorted(deck.name for deck in written) == sorted(f"{path.stem}.slides.html" for path in LESSONS)
    return {deck.name.removesuffix(".slides.html"): deck.read_text(encoding="utf-8") for deck in written}


def shown_cells(notebook: nbformat.NotebookNode) -> list:
    return [cell for cell in notebook.cells if slides.slide_type(cell) != slides.SKIP]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_each_deck_has_the_title_every_section_and_every_figure(decks, lesson):
    # Enforces CONTRIBUTING.md#rule-slides
    notebook = nbformat.read(lesson, as_version=4)
    deck = decks[lesson.stem]
    assert f"<title>{html.escape(notebook_files.notebook_title(notebook), quote=False)}" in deck
    sections = [cell.source.splitlines()[0] for cell in notebook.cells if slides.slide_type(cell) == slides.SLIDE]
    assert len(sections) >= 4, "a lesson marks its title and its numbered sections as slides"
    for heading in sections:
        rendered = re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(heading.lstrip("# "), quote=False))
        assert rendered in deck, heading
    figures = [
        output.data["image/png"]
        for cell in shown_cells(notebook)
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert figures, f"{lesson.name} shows no figure"
    for figure in figures:
        assert figure.strip()[:400] in deck, "a figure of the lesson is missing from its deck"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_no_deck_shows_an_answer(decks, lesson):
    # Enforces CONTRIBUTING.md#rule-answers-folded
    """The lesson folds each exercise's solution; its deck leaves the cell out, and the line that says how to unfold
    it."""
    source = ROOT / "sources" / f"{lesson.stem}.py"
    practice = nbformat.read(next(t.path for t in TARGETS if t.kind == "exercise" and t.source == source), as_version=4)
    shown = visible_text(decks[lesson.stem])
    for exercise_id in build.DIRECTIVE.findall(source.read_text(encoding="utf-8")):
        answer = answer_lines(exercise_id, practice)
        assert answer and [line for line in answer if line in shown] == [], exercise_id
        assert f'check("{exercise_id}"' in shown, "the check's table stays: it shows what the function must do"
    assert "lrnn-course reveal" not in shown


def test_set_up_cells_stay_out_of_the_deck(decks):
    skipped = [cell for cell in nbformat.read(LESSONS[0], as_version=4).cells if slides.slide_type(cell) == slides.SKIP]
    assert skipped[0].source.startswith("# Colab or Binder") and "SEED = 0" in skipped[1].source
    assert "LRNN_COURSE_PIP" not in decks[LESSONS[0].stem] and "SEED = 0" not in decks[LESSONS[0].stem]


def test_unmarked_cells_get_sub_slides_for_prose_and_stay_with_it_for_code():
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Title", metadata={"slideshow": {"slide_type": "slide"}}),
            nbformat.v4.new_markdown_cell("more prose"),
            nbformat.v4.new_code_cell("1 + 1"),
            nbformat.v4.new_code_cell("setup()", metadata={"slideshow": {"slide_type": "skip"}}),
        ]
    )
    typed = slides.with_slide_types(notebook)
    assert [slides.slide_type(cell) for cell in typed.cells] == ["slide", "subslide", "-"], "set-up cells are dropped"


def test_solution_cells_and_their_notes_are_left_out():
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Title", metadata={"slideshow": {"slide_type": "slide"}}),
            nbformat.v4.new_markdown_cell("try it first", metadata={"tags": [build.TRY_FIRST_TAG]}),
            nbformat.v4.new_code_cell("def answer(): ...", metadata={"tags": [build.SOLUTION_TAG], **build.FOLDED}),
            nbformat.v4.new_code_cell('check("01.combine", answer)'),
        ]
    )
    assert [cell.source for cell in slides.with_slide_types(notebook).cells] == [
        "# Title",
        'check("01.combine", answer)',
    ]
    assert slides.slide_type(notebook.cells[1]) is None, "the lesson itself is not changed"


def test_a_notebook_whose_first_shown_cell_opens_no_slide_is_refused():
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("setup()", metadata={"slideshow": {"slide_type": "skip"}}),
            nbformat.v4.new_markdown_cell("# Title"),
        ]
    )
    with pytest.raises(ValueError, match="must open a slide"):
        slides.with_slide_types(notebook)


def test_the_command_writes_decks_that_load_reveal_js_from_where_it_is_told(tmp_path, capsys):
    from lrnn_course.cli import main

    assert main(["slides", "02", "--out", str(tmp_path), "--reveal-prefix", "reveal-js-copy"]) == 0
    deck = tmp_path / "02_selective_ssms.slides.html"
    assert f"wrote {deck}" in capsys.readouterr().out
    text = deck.read_text(encoding="utf-8")
    assert "reveal-js-copy/dist/reveal.js" in text and "reveal-js-copy/dist/reveal.css" in text
    assert "unpkg.com" not in text, "reveal.js is no longer loaded from its default CDN"
