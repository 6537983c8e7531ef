"""Slides from the lessons: one reveal.js deck per executed lesson notebook (``lrnn-course slides``).

Glossary (no paper symbols; this is workshop plumbing):

==================  ==========================================================================
slide boundary      a cell whose metadata says ``slideshow.slide_type == "slide"``; the sources
                    mark the title and every numbered section so (``lrnn_course.build``)
set-up cell         ``slide_type == "skip"``: the install, parameter and import cells, left out
solution cell       a lesson's exercise cell (tagged ``solution``) and the line before it that
                    says where to try it (``try-first``): left out, so no deck shows an answer
deck                ``build/slides/NN_name.slides.html``, written by ``jupyter nbconvert --to slides``
==================  ==========================================================================

Within a section, every further markdown cell opens a sub-slide (reveal.js's vertical slides), and
a code cell stays on the slide of the prose before it, with its output: a learner's screen shows
one idea, its code and its figure. The decks come from the committed lesson notebooks (from an
installed wheel: the lesson notebooks it ships), so their figures are the ones that the tests compare
(nbval), and building needs no kernel.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path

import nbformat

from .build import SOLUTION_TAG, TRY_FIRST_TAG, lesson_notebooks, output_folder
from .notebook_files import notebook_title

SLIDE, SUBSLIDE, CONTINUE, SKIP = "slide", "subslide", "-", "skip"
LEFT_OUT_TAGS = {SOLUTION_TAG, TRY_FIRST_TAG}


def slide_type(cell: nbformat.NotebookNode) -> str | None:
    """The ``slide_type`` a cell declares, or None."""
    return cell.metadata.get("slideshow", {}).get("slide_type")


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
            cell.metadata["slideshow"] = {"slide_type": SUBSLIDE if cell.cell_type == "markdown" else CONTINUE}
    return deck


def write_deck(lesson: Path, out_dir: Path, reveal_prefix: str | None = None) -> Path:
    """Write the reveal.js deck of the executed lesson notebook at ``lesson`` into ``out_dir``; return its path.

    ``reveal_prefix`` is where the deck loads reveal.js from (a CDN by default); MathJax and
    require.js come from nbconvert's CDN links either way.
    """
    from nbconvert import SlidesExporter

    notebook = with_slide_types(nbformat.read(lesson, as_version=4))
    # Long derivations and tall figures scroll inside their slide instead of being cut off.
    exporter = SlidesExporter(reveal_scroll=True, reveal_number="c/t")
    if reveal_prefix:
        exporter.reveal_url_prefix = reveal_prefix
    html, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": notebook_title(notebook)}})
    out_dir.mkdir(parents=True, exist_ok=True)
    deck = out_dir / f"{lesson.stem}.slides.html"
    deck.write_text(html, encoding="utf-8")
    return deck


def build_slides(
    names: Iterable[str] = (), out_dir: Path | None = None, reveal_prefix: str | None = None
) -> list[Path]:
    """Decks for every lesson and kernel notebook (or those whose name starts with one of ``names``).

    They go to ``build/slides`` unless ``out_dir`` says otherwise.
    """
    out_dir = out_dir or output_folder("slides")
    return [write_deck(lesson, out_dir, reveal_prefix) for lesson in lesson_notebooks(names)]
