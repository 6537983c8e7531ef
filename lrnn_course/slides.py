"""Slides from the lessons: one offline reveal.js deck per executed lesson notebook (``lrnn-course slides``).

Glossary (no paper symbols; this is workshop plumbing):

==================  ==========================================================================
slide boundary      a cell whose metadata says ``slideshow.slide_type == "slide"``; the sources
                    mark the title and every numbered section so (``lrnn_course.build``)
set-up cell         ``slide_type == "skip"``: the install, parameter and import cells, left out
solution cell       a lesson's exercise cell (tagged ``solution``) and the line before it that
                    says where to try it (``try-first``): left out, so no deck shows an answer
frame               what one reveal.js slide shows: the cells from one slide or sub-slide start
                    to the next, on a canvas of ``CANVAS_WIDTH`` x ``CANVAS_HEIGHT`` pixels
speaker notes       ``slideshow.notes`` of a cell (markdown), which a source's ``tags=["notes"]``
                    cell sets on the cell before it; shown in the speaker view (press ``s``)
excerpt             the first lines of a longer code cell or text output (``EXCERPTS``: as many
                    as fit the slide); the whole of it goes to the slide's speaker notes
deck                ``build/slides/NN_name.slides.html``, beside ``build/slides/_assets/`` that
                    holds reveal.js and MathJax (``lrnn_course.web_assets``); no page loads
                    anything from the network, so a deck works offline, opened as ``file://``
==================  ==========================================================================

Within a section, every further markdown cell opens a sub-slide (reveal.js's vertical slides), and
a code cell stays on the slide of the prose before it, with its output: a learner's screen shows
one idea, its code and its figure. The decks come from the committed lesson notebooks (from an
installed wheel: the lesson notebooks it ships), so their figures are the ones that the tests compare
(nbval), and building needs no kernel.

Every frame fits the canvas without scrolling. Before the export, each frame's height is estimated
from its cells (``estimated_height``: lines of prose and code, display equations, table rows, figures
at their pixel size, in the sizes ``DECK_CSS`` sets), and a frame over ``FRAME_BUDGET`` is split
into sub-slides headed "<section>, continued": between cells, and inside prose and a code cell's
markdown output (the results tables) at paragraphs, list items and table rows (``markdown_parts``).
A code cell that still does not fit gets its figures scaled down (to ``MIN_FIGURE_SCALE``), then
shorter excerpts. Warnings on stderr and widget views (which need a kernel) are left out. The
estimate is checked where it matters, in a browser: ``tests/test_slides_browser.py`` measures every
slide of every deck.

Speaker notes, the source rule: a markdown cell ``# %% [markdown] tags=["notes"]`` right after a cell
holds the notes for that cell's slide (its text is written to the cell's ``slideshow.notes``; no
notebook shows it as a cell). Write what the instructor says or asks there, not the slide again.
"""

from __future__ import annotations

import base64
import copy
import html
import math
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .build import SOLUTION_TAG, TRY_FIRST_TAG, lesson_notebooks, output_folder
from .notebook_files import SET_UP_SLIDE_TYPE, notebook_title
from .web_assets import mathjax_script, relative_url, vendor

SLIDE, SUBSLIDE, CONTINUE, SKIP, NOTES = "slide", "subslide", "-", SET_UP_SLIDE_TYPE, "notes"
LEFT_OUT_TAGS = {SOLUTION_TAG, TRY_FIRST_TAG}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

CANVAS_WIDTH, CANVAS_HEIGHT = 1280, 720
# What the estimate may fill: the canvas less the slide's padding (24) and a margin for the estimate's
# error (at most 33 pixels over all decks when this was written; the browser test measures every slide).
FRAME_BUDGET = 656
# (code lines, output lines) of the excerpts of a code cell, tried in turn until the cell fits its slide
EXCERPTS = ((14, 18), (10, 12), (7, 8))

# The sizes that DECK_CSS sets, in canvas pixels, which the estimate counts in.
PROSE_FONT, PROSE_LINE, PROSE_CHARS_PER_LINE, PARAGRAPH_GAP = 24, 33, 104, 14
CODE_LINE, CODE_CHARS_PER_LINE, CODE_BLOCK_PADDING = 22, 118, 16
HEADING_HEIGHT = {1: 72, 2: 60, 3: 48}
# a display equation of one line; with fractions or matrices; with sums or products that have limits
DISPLAY_MATH_HEIGHT, TALL_DISPLAY_MATH_HEIGHT, TALLER_DISPLAY_MATH_HEIGHT = 56, 84, 130
TABLE_FONT, TABLE_LINE, TABLE_CHARS_PER_LINE, TABLE_ROW_PADDING = 16, 20, 120, 9
CELL_GAP = 10
CONTINUED_HEIGHT = 26 + 2 * CELL_GAP
MIN_FIGURE_SCALE = 0.6  # smaller, a figure's labels are unreadable: better a shorter excerpt of its code

DECK_CSS = f"""
.reveal {{ font-size: {PROSE_FONT}px; }}
.reveal .slides section {{ padding: 12px 0; }}
.reveal .jp-RenderedMarkdown, .reveal .jp-RenderedHTMLCommon {{
  font-family: var(--r-main-font); font-size: {PROSE_FONT}px; line-height: {PROSE_LINE}px; padding-right: 0;
}}
.reveal .jp-RenderedHTMLCommon h1, .reveal .jp-RenderedHTMLCommon h2, .reveal .jp-RenderedHTMLCommon h3 {{
  font-family: var(--r-heading-font); text-transform: none; font-weight: 600;
}}
.reveal .jp-RenderedHTMLCommon p, .reveal .jp-RenderedHTMLCommon ul, .reveal .jp-RenderedHTMLCommon ol,
.reveal .jp-RenderedHTMLCommon blockquote, .reveal .jp-RenderedHTMLCommon table {{
  margin: 0 0 {PARAGRAPH_GAP}px 0;
}}
.reveal .jp-RenderedHTMLCommon li {{ margin: 0; }}
.reveal .jp-RenderedHTMLCommon table {{ font-size: {TABLE_FONT}px; line-height: {TABLE_LINE}px; }}
.reveal .jp-RenderedHTMLCommon td, .reveal .jp-RenderedHTMLCommon th {{ padding: 4px 6px; }}
.reveal .jp-RenderedHTMLCommon h1 {{ font-size: 44px; margin: 0 0 18px 0; line-height: 54px; }}
.reveal .jp-RenderedHTMLCommon h2 {{ font-size: 36px; margin: 0 0 16px 0; line-height: 44px; }}
.reveal .jp-RenderedHTMLCommon h3 {{ font-size: 28px; margin: 8px 0 10px 0; line-height: 36px; }}
.reveal .jp-RenderedHTMLCommon blockquote {{ padding: 4px 16px; width: 100%; box-sizing: border-box; }}
.reveal .jp-Cell {{ margin: 0 0 {CELL_GAP}px 0; padding: 0; }}
.reveal div.highlight > pre, .reveal div.jp-OutputArea-output > pre {{
  font-size: 17px; line-height: {CODE_LINE}px; white-space: pre-wrap; word-break: break-word;
  width: 100%; box-sizing: border-box; padding: 6px 8px; margin: 0;
}}
.reveal section img {{ max-width: 100%; margin: 0 auto; display: block; }}
.reveal .jp-RenderedImage {{ padding: 0; }}
.reveal p.continued {{ font-size: 20px; line-height: 26px; color: #777; margin: 0 0 10px 0; }}
.reveal .jp-InputPrompt, .reveal .jp-OutputPrompt {{ display: none; }}
"""

# nbconvert's reveal template, with reveal.js, its notes plugin and MathJax loaded from the vendored
# folder, and without require.js, jQuery, mermaid and the widget manager (all from CDNs there).
DECK_TEMPLATE = "lrnn_course_deck.html.j2"
DECK_TEMPLATE_SOURCE = """{%- extends 'index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_css %}<style type="text/css">{{ resources.deck_css }}</style>{% endblock html_head_css %}
{% block footer_js %}
<script src="{{ reveal_url_prefix }}/dist/reveal.js"></script>
<script src="{{ reveal_url_prefix }}/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({
    controls: true,
    progress: true,
    hash: true,
    center: false,
    transition: "{{ reveal_transition }}",
    slideNumber: "{{ reveal_number }}",
    plugins: [RevealNotes],
    width: {{ reveal_width }},
    height: {{ reveal_height }},
    // every slide laid out from the start (reveal.js hides those further than 3 away): MathJax measures
    // the maths of all of them right when it typesets the page once
    viewDistance: 1000,
});
</script>
{% endblock footer_js %}
"""


def slide_type(cell: nbformat.NotebookNode) -> str | None:
    """The ``slide_type`` a cell declares, or None."""
    return cell.metadata.get("slideshow", {}).get("slide_type")


def set_slide_type(cell: nbformat.NotebookNode, kind: str) -> None:
    cell.metadata.setdefault("slideshow", {})["slide_type"] = kind


def with_slide_types(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` without its set-up and solution cells, every other cell with a slide type.

    The type is the one the cell declares, or the one the rule above gives.
    """
    deck = copy.deepcopy(notebook)
    # reveal.js would hide skipped cells but still carry them in the page: set-up code is of no use in
    # a deck, and an answer must not be one view-source away
    deck.cells = [
        cell
        for cell in deck.cells
        if slide_type(cell) != SKIP and not LEFT_OUT_TAGS & set(cell.metadata.get("tags", []))
    ]
    if not deck.cells or slide_type(deck.cells[0]) != SLIDE:
        raise ValueError(
            "the first cell shown must open a slide (mark the title cell slide_type 'slide' in the source)"
        )
    for cell in deck.cells:
        if slide_type(cell) is None:
            set_slide_type(cell, SUBSLIDE if cell.cell_type == "markdown" else CONTINUE)
    return deck


# ---- the height a cell takes on the canvas (an estimate in canvas pixels) ----

INLINE_MATH = re.compile(r"\$[^$]+\$")
INLINE_CODE = re.compile(r"`[^`]+`")
MARKUP = re.compile(r"[*_]|\[([^\]]*)\]\([^)]*\)")
INLINE_CODE_WIDTH = 1.5  # a character of inline code (monospace, on a padded background) in prose characters
TALL_MATH = re.compile(r"\\(frac|begin|binom|left|Big)")
TALLER_MATH = re.compile(r"\\(sum|prod|int)_")


def prose_lines(text: str) -> int:
    """Lines that a paragraph of markdown wraps to: inline TeX counted at half its source length."""
    shown = INLINE_MATH.sub(lambda match: "x" * (len(match.group()) // 2), text)
    shown = INLINE_CODE.sub(lambda match: "x" * round(len(match.group()) * INLINE_CODE_WIDTH), shown)
    shown = MARKUP.sub(lambda match: match.group(1) or "", shown)
    return max(1, math.ceil(len(" ".join(shown.split())) / PROSE_CHARS_PER_LINE))


def markdown_blocks(source: str) -> list[str]:
    """The paragraphs of a markdown cell, split at blank lines outside display maths and fenced code."""
    blocks, current, open_math, open_fence = [], [], False, False
    for line in source.splitlines():
        if not line.strip() and not open_math and not open_fence:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        open_math ^= line.count("$$") % 2 == 1
        open_fence ^= line.lstrip().startswith("```")
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def list_items(block: str) -> list[str]:
    """The top-level items of a markdown list block (one item if the block is no list)."""
    items: list[list[str]] = []
    for line in block.splitlines():
        if re.match(r"([-*+]|\d+\.) ", line) or not items:
            items.append([line])
        else:
            items[-1].append(line)
    return ["\n".join(item) for item in items]


def block_height(block: str) -> float:
    """The height of one markdown paragraph, heading, list, table, quote or display equation."""
    first = block.lstrip()
    heading = re.match(r"(#{1,6}) ", first)
    if heading:
        return HEADING_HEIGHT.get(len(heading.group(1)), HEADING_HEIGHT[3])
    if first.startswith("|"):
        return sum(table_row_height(line) for line in block.splitlines()) + PARAGRAPH_GAP
    if first.startswith("```"):
        return code_height(block.splitlines()[1:-1]) + PARAGRAPH_GAP
    height = 0.0
    # display equations inside a paragraph take their own lines
    for index, part in enumerate(re.split(r"\$\$(.*?)\$\$", block, flags=re.DOTALL)):
        if index % 2:
            height += (
                TALLER_DISPLAY_MATH_HEIGHT
                if TALLER_MATH.search(part)
                else TALL_DISPLAY_MATH_HEIGHT
                if TALL_MATH.search(part)
                else DISPLAY_MATH_HEIGHT
            )
        elif part.strip():
            if first.startswith(">"):
                part = part.replace("\n>", "\n").lstrip("> ")
            height += sum(prose_lines(item) for item in list_items(part)) * PROSE_LINE
    return height + PARAGRAPH_GAP


def table_row_height(line: str) -> float:
    """The height of one row of a markdown table (none for the line under its header)."""
    if set(line) <= set("|-: "):
        return 0.0
    shown = sum(len(" ".join(entry.split())) for entry in line.strip().strip("|").split("|"))
    return max(1, math.ceil(shown / TABLE_CHARS_PER_LINE)) * TABLE_LINE + TABLE_ROW_PADDING


def markdown_height(source: str) -> float:
    return sum(block_height(block) for block in markdown_blocks(source))


def code_height(lines: list[str]) -> float:
    wrapped = sum(max(1, math.ceil(len(line) / CODE_CHARS_PER_LINE)) for line in lines)
    return wrapped * CODE_LINE + CODE_BLOCK_PADDING


def png_size(data: str) -> tuple[int, int]:
    """Width and height of a base64 PNG, from its header."""
    header = base64.b64decode(data[:44])
    return struct.unpack(">II", header[16:24])


def figure_size(output: nbformat.NotebookNode) -> tuple[float, float]:
    """The size a PNG output shows at: the size its metadata sets, else its pixels, no wider than the canvas."""
    pixels_wide, pixels_high = png_size(output.data["image/png"])
    shown = output.get("metadata", {}).get("image/png", {})
    width = shown.get("width", pixels_wide)
    height = shown.get("height", pixels_high * width / pixels_wide)  # a width alone keeps the aspect ratio
    scale = min(1.0, CANVAS_WIDTH / width)
    return width * scale, height * scale


def output_height(output: nbformat.NotebookNode) -> float:
    if output.output_type == "stream":
        return code_height(output.text.splitlines())
    data = output.get("data", {})
    if "image/png" in data:
        return figure_size(output)[1] + CELL_GAP
    if "text/markdown" in data:
        return markdown_height(data["text/markdown"])
    if "text/plain" in data:
        return code_height(data["text/plain"].splitlines())
    return 0.0


def estimated_height(cell: nbformat.NotebookNode) -> float:
    """The canvas pixels ``cell`` takes on its slide, inputs and outputs (speaker notes take none)."""
    if slide_type(cell) == NOTES:
        return 0.0
    if cell.cell_type == "markdown":
        return markdown_height(cell.source) + CELL_GAP
    return code_height(cell.source.splitlines()) + sum(map(output_height, cell.outputs)) + CELL_GAP


# ---- fitting the cells to frames ----


@dataclass
class Piece:
    """What a frame may break around: one paragraph (or list item) of a markdown cell, or a whole code cell."""

    cell: nbformat.NotebookNode  # the cell it comes from
    text: str | None  # the markdown of the piece; None for a code cell
    joiner: str  # what joins it to the piece before it from the same cell: one newline within a list
    notes: list[str]
    height: float
    table_header: str = ""  # for a table row: the table's header, repeated where the row opens a slide
    whole: nbformat.NotebookNode | None = None  # for a code cell: the cell before excerpts, to cut it anew
    speaker_notes: list[str] = field(default_factory=list)  # the notes of the source, beside those of excerpts


def notes_cell(markdown: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(markdown, metadata={"slideshow": {"slide_type": NOTES}})


def fenced(text: str, language: str = "") -> str:
    return f"```{language}\n{text}\n```"


def excerpt(
    whole: nbformat.NotebookNode, code_lines: int, output_lines: int
) -> tuple[nbformat.NotebookNode, list[str]]:
    """A copy of the code cell ``whole`` with its code and text outputs cut to at most so many lines, and the
    notes that hold in full what was cut."""
    cell, notes = copy.deepcopy(whole), []
    lines = cell.source.splitlines()
    if len(lines) > code_lines:
        cell.source = "\n".join(
            [*lines[: code_lines - 1], f"# … {len(lines) - code_lines + 1} more lines in the notes"]
        )
        notes.append("The whole cell:\n\n" + fenced(whole.source, "python"))
    for output in cell.outputs:
        text = output.text if output.output_type == "stream" else output.get("data", {}).get("text/plain")
        if text is None or "image/png" in output.get("data", {}) or len(text.splitlines()) <= output_lines:
            continue
        text_lines = text.splitlines()
        cut = "\n".join(
            [*text_lines[: output_lines - 1], f"… {len(text_lines) - output_lines + 1} more lines in the notes"]
        )
        if output.output_type == "stream":
            output.text = cut
        else:
            output.data = {"text/plain": cut}
        notes.append("The whole output:\n\n" + fenced(text))
    return cell, notes


def figures(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [output for output in cell.outputs if "image/png" in output.get("data", {})]


def fit_code(piece: Piece, room: float) -> None:
    """Make the code cell of ``piece`` fit ``room`` pixels: its figures scaled down to ``MIN_FIGURE_SCALE``, then
    shorter excerpts (``EXCERPTS``, in turn), the figures at their smallest last."""
    for code_lines, output_lines in EXCERPTS:
        cell, notes = excerpt(piece.whole, code_lines, output_lines)
        figure_height = sum(figure_size(output)[1] for output in figures(cell))
        rest = estimated_height(cell) - figure_height
        scale = min(1.0, (room - rest) / figure_height) if figure_height else float(rest <= room)
        if scale >= MIN_FIGURE_SCALE:
            break
    if scale < 1.0:
        for output in figures(cell):
            width, height = figure_size(output)
            scaled = max(scale, MIN_FIGURE_SCALE)
            output.setdefault("metadata", {})["image/png"] = {
                "width": round(width * scaled),
                "height": round(height * scaled),
            }
    piece.cell, piece.notes, piece.height = cell, piece.speaker_notes + notes, estimated_height(cell)


def is_table(block: str) -> bool:
    return block.lstrip().startswith("|")


def introduces(text: str) -> bool:
    """Whether a part of markdown must stay with the part after it: a heading, or a sentence ending in : or ,."""
    return bool(re.match(r"#{1,6} ", text.splitlines()[-1])) or text.endswith((":", ","))


def markdown_parts(source: str) -> list[tuple[str, str, str]]:
    """The parts a frame may break between: ``(joiner, text, table header)`` per paragraph, list item or table row.

    ``joiner`` joins a part to the one before it when both stay on one slide; ``table header`` is what a
    table row needs above it when it opens a slide.
    """
    parts: list[tuple[str, str, str]] = []
    for block in markdown_blocks(source):
        header = ""
        if is_table(block):
            lines = block.splitlines()
            header = "\n".join(lines[:2])
            items = ["\n".join(lines[:3]), *lines[3:]]
        else:
            items = list_items(block)
        for index, item in enumerate(items):
            joiner = "\n" if index else "\n\n"
            if parts and introduces(parts[-1][1]):
                parts[-1] = (parts[-1][0], parts[-1][1] + joiner + item, parts[-1][2])
            else:
                parts.append((joiner, item, header if index else ""))
    return parts or [("", source, "")]


def markdown_pieces(cell: nbformat.NotebookNode, source: str, notes: list[str]) -> list[Piece]:
    return [
        Piece(
            cell,
            text,
            joiner,
            notes if index == 0 else [],
            markdown_height(text) + (CELL_GAP if index == 0 else 0),
            header,
        )
        for index, (joiner, text, header) in enumerate(markdown_parts(source))
    ]


def coalesced(outputs: list) -> list:
    """The outputs with consecutive prints to one stream joined, as a notebook front end shows them."""
    joined: list = []
    for output in outputs:
        if (
            output.output_type == "stream"
            and joined
            and joined[-1].output_type == "stream"
            and joined[-1].name == output.name
        ):
            joined[-1].text += output.text
        else:
            joined.append(output)
    return joined


def pieces(cell: nbformat.NotebookNode) -> list[Piece]:
    """``cell`` as the deck shows it, in pieces, with its speaker notes on the first.

    Widget views, which need a kernel, are dropped; long code and text outputs are cut to excerpts; a
    markdown cell comes apart at its paragraphs, list items and table rows (``markdown_parts``), and so
    does a code cell's markdown output (the results tables), shown after the cell's other outputs.
    """
    slideshow = cell.metadata.get("slideshow", {})
    notes = [slideshow.pop("notes")] if "notes" in slideshow else []
    if cell.cell_type == "markdown":
        return markdown_pieces(cell, cell.source, notes)
    # a widget view needs a kernel; a warning on stderr is the machine's, not the lesson's
    outputs = coalesced(
        [
            output
            for output in cell.outputs
            if WIDGET_VIEW not in output.get("data", {}) and output.get("name") != "stderr"
        ]
    )
    reports = [output.data["text/markdown"] for output in outputs if "text/markdown" in output.get("data", {})]
    cell.outputs = [output for output in outputs if "text/markdown" not in output.get("data", {})]
    code = Piece(cell, None, "", notes, 0.0, whole=cell, speaker_notes=notes)
    fit_code(code, math.inf)
    return [
        code,
        *(piece for report in reports for piece in markdown_pieces(nbformat.v4.new_markdown_cell(report), report, [])),
    ]


def paginated(frame: list[Piece]) -> list[list[Piece]]:
    """The pieces of one frame on as many pages as fit, in order, each within ``FRAME_BUDGET``."""
    pages: list[list[Piece]] = [[]]

    def room() -> float:
        return FRAME_BUDGET - (CONTINUED_HEIGHT if len(pages) > 1 else 0)

    for piece in frame:
        page = pages[-1]
        if page and sum(p.height for p in page) + piece.height > room():
            # the sentence that introduces a code cell moves with it, where both fit
            carry = (
                piece.text is None
                and len(page) > 1
                and page[-1].text is not None
                and page[-1].height + piece.height <= FRAME_BUDGET - CONTINUED_HEIGHT
            )
            pages.append([page.pop()] if carry else [])
            page = pages[-1]
        if not page and piece.table_header:  # the header is repeated above the row
            piece.height += block_height(piece.table_header)
        page.append(piece)
        if piece.text is None and sum(p.height for p in page) > room():
            fit_code(piece, room() - sum(p.height for p in page[:-1]))
    return pages


def section_title(cell: nbformat.NotebookNode) -> str:
    """The first heading of a markdown cell, without its ``#`` marks."""
    return next((line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")), "")


def continued_cell(section: str) -> nbformat.NotebookNode:
    shown = html.escape(section.replace("`", ""), quote=False)
    return nbformat.v4.new_markdown_cell(
        f'<p class="continued">{shown}, continued</p>', metadata={"slideshow": {"slide_type": SUBSLIDE}}
    )


def page_cells(page: list[Piece]) -> list[nbformat.NotebookNode]:
    """The cells of one page: consecutive pieces of one markdown cell joined again, each cell's notes after it."""
    shown: list[tuple[nbformat.NotebookNode, list[str]]] = []
    previous: Piece | None = None
    for piece in page:
        if piece.text is None:
            shown.append((piece.cell, []))
        elif previous is not None and previous.cell is piece.cell:
            shown[-1][0].source += piece.joiner + piece.text
        else:
            text = f"{piece.table_header}\n{piece.text}" if piece.table_header else piece.text
            shown.append((nbformat.v4.new_markdown_cell(text, metadata=copy.deepcopy(piece.cell.metadata)), []))
        shown[-1][1].extend(piece.notes)
        previous = piece
    return [each for cell, notes in shown for each in (cell, *map(notes_cell, notes))]


def fitted(deck: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``deck`` (cells with slide types) with every frame split, cut and scaled to fit the canvas."""
    frames: list[list[nbformat.NotebookNode]] = []
    for cell in deck.cells:
        if slide_type(cell) in (SLIDE, SUBSLIDE) or not frames:
            frames.append([])
        frames[-1].append(cell)
    cells: list[nbformat.NotebookNode] = []
    section = ""
    for frame in frames:
        opening = slide_type(frame[0])
        if opening == SLIDE:
            section = section_title(frame[0])
        for number, page in enumerate(paginated([piece for cell in frame for piece in pieces(cell)])):
            shown = page_cells(page)
            for cell in shown:
                if slide_type(cell) != NOTES:
                    set_slide_type(cell, CONTINUE)
            if number:
                shown.insert(0, continued_cell(section))
            else:
                set_slide_type(shown[0], opening)
            cells += shown
    fitted_deck = copy.copy(deck)
    fitted_deck.cells = cells
    return fitted_deck


# ---- the deck ----


def deck_exporter(out_dir: Path, assets: dict[str, Path]):
    """nbconvert's slides exporter with this module's template, at the canvas size, loading the vendored assets."""
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter

    return SlidesExporter(
        extra_loaders=[DictLoader({DECK_TEMPLATE: DECK_TEMPLATE_SOURCE})],
        template_file=DECK_TEMPLATE,
        reveal_url_prefix=relative_url(out_dir, assets["reveal.js"]),
        mathjax_url=mathjax_script(relative_url(out_dir, assets["mathjax"])),
        reveal_theme="white",
        reveal_number="c/t",
        reveal_width=str(CANVAS_WIDTH),
        reveal_height=str(CANVAS_HEIGHT),
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def write_deck(lesson: Path, out_dir: Path, exporter) -> Path:
    """Write the deck of the executed lesson notebook at ``lesson`` into ``out_dir``; return its path."""
    notebook = nbformat.read(lesson, as_version=4)
    deck_notebook = fitted(with_slide_types(notebook))
    deck_notebook.metadata.pop("widgets", None)  # their state needs the widget manager from a CDN
    html_text, _ = exporter.from_notebook_node(
        deck_notebook, resources={"metadata": {"name": notebook_title(notebook)}, "deck_css": DECK_CSS}
    )
    deck = out_dir / f"{lesson.stem}.slides.html"
    deck.write_text(html_text, encoding="utf-8")
    return deck


def build_slides(names: Iterable[str] = (), out_dir: Path | None = None) -> list[Path]:
    """Decks for every lesson and kernel notebook (or those whose name starts with one of ``names``).

    They go to ``build/slides`` unless ``out_dir`` says otherwise, with reveal.js and MathJax in its
    ``_assets`` folder (downloaded once from the npm registry; see ``lrnn_course.web_assets``).
    """
    lessons = lesson_notebooks(names)
    out_dir = Path(out_dir or output_folder("slides"))
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = deck_exporter(out_dir, vendor(out_dir, "reveal.js", "mathjax"))
    return [write_deck(lesson, out_dir, exporter) for lesson in lessons]
