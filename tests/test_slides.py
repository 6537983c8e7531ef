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
    assert skipped[0].source == build.install_cell_source() and "SEED = 0" in skipped[1].source
    install_comment = skipped[0].source.splitlines()[0]
    assert install_comment not in decks[LESSONS[0].stem] and "SEED = 0" not in decks[LESSONS[0].stem]


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


def test_the_command_writes_decks_that_load_only_their_local_copies_of_reveal_js_and_mathjax(tmp_path, capsys):
    from lrnn_course.cli import main

    assert main(["slides", "02", "--out", str(tmp_path)]) == 0
    deck = tmp_path / "02_selective_ssms.slides.html"
    assert f"wrote {deck}" in capsys.readouterr().out
    text = deck.read_text(encoding="utf-8")
    loaded = [url for url in re.findall(r'(?:src|href)="([^"#][^"]*)"', text) if not url.startswith("data:")]
    assert {url.split("?")[0] for url in loaded} == {
        "_assets/reveal.js/dist/reveal.css",
        "_assets/reveal.js/dist/theme/white.css",
        "_assets/reveal.js/dist/reveal.js",
        "_assets/reveal.js/plugin/notes/notes.js",
        "_assets/mathjax/MathJax.js",
    }, "relative URLs only, so that the folder works anywhere it is copied"
    assert all((tmp_path / url.split("?")[0]).is_file() for url in loaded)
    assert (tmp_path / "_assets" / "reveal.js" / "LICENSE").is_file() and (
        tmp_path / "_assets" / "mathjax" / "LICENSE"
    ).is_file()
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", text) and "require(" not in text


def deck_cells(*cells) -> list:
    """The cells of a deck made from a notebook of ``cells``, after fitting, with their slide types."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Title", metadata={"slideshow": {"slide_type": "slide"}}), *cells]
    )
    return slides.fitted(slides.with_slide_types(notebook)).cells


def frames(cells: list) -> list[list]:
    """The cells of each slide of a deck, in order (speaker notes included, on the slide they belong to)."""
    shown: list[list] = []
    for cell in cells:
        if slides.slide_type(cell) in (slides.SLIDE, slides.SUBSLIDE):
            shown.append([])
        shown[-1].append(cell)
    return shown


def test_long_code_shows_an_excerpt_and_the_whole_cell_goes_to_the_speaker_notes():
    code = "\n".join(f"value_{line} = {line}" for line in range(40))
    cell = nbformat.v4.new_code_cell(code, outputs=[nbformat.v4.new_output("stream", text="ok\n" * 30)])
    (page,) = [page for page in frames(deck_cells(cell)) if any(cell.cell_type == "code" for cell in page)]
    (shown,) = [cell for cell in page if cell.cell_type == "code"]
    notes = [cell.source for cell in page if slides.slide_type(cell) == slides.NOTES]
    excerpt, output = shown.source.splitlines(), shown.outputs[0].text.splitlines()
    assert (len(excerpt), len(output)) in slides.EXCERPTS, "one of the excerpts, the longest that fits"
    assert excerpt[:-1] == code.splitlines()[: len(excerpt) - 1]
    assert excerpt[-1] == f"# … {40 - len(excerpt) + 1} more lines in the notes"
    assert output[-1] == f"… {30 - len(output) + 1} more lines in the notes"
    assert len(notes) == 2 and code in notes[0] and "ok\n" * 30 in notes[1]
    assert sum(slides.estimated_height(cell) for cell in page) <= slides.FRAME_BUDGET


def test_long_prose_continues_on_sub_slides_split_between_paragraphs():
    paragraphs = [f"Paragraph {index}: " + "words that fill the slide " * 30 for index in range(8)]
    cells = deck_cells(
        nbformat.v4.new_markdown_cell(
            "## 1 · A long section\n\n" + "\n\n".join(paragraphs), metadata={"slideshow": {"slide_type": "slide"}}
        )
    )
    pages = frames(cells)[1:]
    assert len(pages) > 1, "eight long paragraphs do not fit one slide"
    assert pages[0][0].source.startswith("## 1 · A long section\n\nParagraph 0"), "the heading stays with its text"
    for page in pages[1:]:
        assert page[0].source == '<p class="continued">1 · A long section, continued</p>'
    shown = "\n\n".join(cell.source for page in pages for cell in page[1 if page is not pages[0] else 0 :])
    assert shown == "## 1 · A long section\n\n" + "\n\n".join(paragraphs), "every paragraph once, whole, in order"
    for page in pages:
        assert sum(slides.estimated_height(cell) for cell in page) <= slides.FRAME_BUDGET


def test_a_sentence_that_introduces_an_equation_stays_with_it():
    filler = "\n\n".join("A paragraph of some length that takes its lines. " * 8 for _ in range(6))
    intro, equation = "The closed form reads,", "$$h_t = \\sum_{s=1}^{t} \\Big(\\prod_{j=s+1}^{t} a_j\\Big) b_s$$"
    cells = deck_cells(nbformat.v4.new_markdown_cell(f"## 1 · Maths\n\n{filler}\n\n{intro}\n\n{equation}"))
    assert any(f"{intro}\n\n{equation}" in cell.source for cell in cells)


def test_a_tall_figure_is_scaled_down_to_fit_its_slide():
    figure = nbformat.v4.new_output("display_data", data={"image/png": TALL_PNG, "text/plain": "<Figure>"})
    cells = deck_cells(nbformat.v4.new_code_cell("plot()", outputs=[figure]))
    (shown,) = [cell for cell in cells if cell.cell_type == "code"]
    size = shown.outputs[0].metadata["image/png"]
    assert size["height"] < 900 and size["width"] / size["height"] == pytest.approx(400 / 900, rel=0.01)
    assert slides.estimated_height(shown) <= slides.FRAME_BUDGET


def png(width: int, height: int) -> str:
    """A base64 PNG header of that size (enough for the deck's size estimate)."""
    import base64
    import struct

    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", width, height) + bytes(5)
    return base64.b64encode(header + bytes(16)).decode("ascii")


TALL_PNG = png(400, 900)


def test_notes_cells_of_a_source_become_the_speaker_notes_of_the_cell_before(tmp_path):
    source = tmp_path / "01_tiny.py"
    source.write_text(
        '# %% [markdown] slideshow={"slide_type": "slide"}\n# # 01 · Tiny\n\n'
        '# %% [markdown] tags=["notes"]\n# Ask the room first.\n\n'
        '# %% [markdown] tags=["notes"]\n# Then draw it.\n\n'
        "# %%\nx = 1\n",
        encoding="utf-8",
    )
    lesson, practice = build.render(source, "lesson"), build.render(source, "exercise")
    (title,) = [cell for cell in lesson.cells if cell.source.startswith("# 01")]
    assert title.metadata["slideshow"] == {"slide_type": "slide", "notes": "Ask the room first.\n\nThen draw it."}
    for notebook in (lesson, practice):
        assert not [cell for cell in notebook.cells if "Ask the room" in cell.source], (
            "no notebook shows them as a cell"
        )
    assert "notes" not in next(c for c in practice.cells if c.source.startswith("# 01")).metadata.get("slideshow", {})


@pytest.mark.parametrize("lesson", ["01_diagonal_scans", "07_products_of_householders"])
def test_the_title_and_every_section_of_lessons_01_and_07_have_speaker_notes_in_their_decks(decks, lesson):
    notebook = nbformat.read(next(path for path in LESSONS if path.stem == lesson), as_version=4)
    section_cells = [cell for cell in notebook.cells if slides.slide_type(cell) == slides.SLIDE]
    assert all(cell.metadata["slideshow"].get("notes") for cell in section_cells), "a section without notes"
    asides = re.findall(r'<aside class="notes">(.*?)</aside>', decks[lesson], flags=re.DOTALL)
    shown = [" ".join(visible_text(aside).split()) for aside in asides]
    for cell in section_cells:
        first_sentence = " ".join(cell.metadata["slideshow"]["notes"].replace("`", "").split(". ")[0].split())
        assert any(first_sentence in notes for notes in shown), first_sentence
