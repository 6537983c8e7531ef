"""What the generator, the instructor material and the workshop commands all read: notebook files.

Glossary (plumbing; no paper symbol):

==================  ==========================================================================
``DIRECTIVE``       ``#| exercise: 01.sequential_scan`` in a source's code cell: the exercise
                    whose solution ``lrnn-course build`` pastes there
title               a lesson's first level-1 markdown heading (``notebook_title``)
shipped notebook    one packaged with this version of lrnn_course, in ``lrnn_course/notebooks/``
                    (in a checkout: links to the generated ``exercises/``, ``solutions/``,
                    ``lessons/`` and ``kernels/``)
``SHIPPED_FOLDERS`` the folders of ``lrnn_course/notebooks/`` that hold each kind of notebook
==================  ==========================================================================

It sits below ``build``, ``instructor`` and ``workshop`` so that none of them imports another for
these few names.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nbformat

DIRECTIVE = re.compile(r"^#\|\s*exercise:\s*(?P<id>\S+)\s*$", re.MULTILINE)
# the slide type the sources give set-up cells (install, parameters, imports): no deck shows them, the site folds them
SET_UP_SLIDE_TYPE = "skip"
# the kernel lessons are lessons too
SHIPPED_FOLDERS = {"exercises": ("exercises",), "solutions": ("solutions",), "lessons": ("lessons", "kernels")}


def notebook_title(notebook: nbformat.NotebookNode) -> str:
    """A lesson's title: the first level-1 markdown heading of its source or notebook."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise ValueError("the notebook has no '# ' title heading")


def shipped_notebooks(kind: str) -> list[Path]:
    """The notebooks of ``kind`` that this version of lrnn_course ships, sorted by lesson."""
    if kind not in SHIPPED_FOLDERS:
        raise ValueError(f"kind must be one of {tuple(SHIPPED_FOLDERS)}, got {kind!r}")
    shipped = Path(str(resources.files("lrnn_course") / "notebooks"))
    notebooks = sorted(
        (path for folder in SHIPPED_FOLDERS[kind] for path in (shipped / folder).glob("*.ipynb")),
        key=lambda path: path.name,
    )
    if not notebooks:
        raise FileNotFoundError(f"no {kind} notebooks in {shipped}: in a checkout, run `lrnn-course build` first")
    return notebooks
