"""What a learner must not see before trying an exercise, and the text a page shows (tests of lessons and slides)."""

from __future__ import annotations

import html
import re

import nbformat

from lrnn_course import build


def answer_lines(exercise_id: str, practice: nbformat.NotebookNode) -> list[str]:
    """The lines of the reference solution of ``exercise_id`` that its practice notebook does not show.

    Its signature, docstring and the given code (input checks, helpers) are in the practice
    notebook too, so they are no secret; what remains is the answer. Lines of a dozen characters or
    fewer (``else:``, ``return h``) say nothing on their own and are left out.
    """
    shown = "\n".join(cell.source for cell in practice.cells)
    solution = build.function_source(build.solution_function(exercise_id), "lesson")
    return sorted(
        {line.strip() for line in solution.splitlines() if len(line.strip()) > 12}
        - {line.strip() for line in shown.splitlines()}
    )


def visible_text(page: str) -> str:
    """The text an HTML page shows: tags dropped, entities decoded (code highlighting splits a line into spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))
