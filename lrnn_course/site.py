"""A course site to read before running: the executed lessons as a static HTML book (``lrnn-course site``).

Glossary (workshop plumbing; no paper symbol):

==================  ==========================================================================
site                ``build/site/``: the lesson map, one page per lesson, and what they load;
                    it opens from ``file://`` and requests nothing from the network
lesson map          ``index.html``: every page's title, in course order, one line each
page                ``NN_name.html``: one executed lesson (or kernel) notebook rendered by
                    nbconvert's ``HTMLExporter`` with its JupyterLab template and
                    ``PAGE_TEMPLATE``'s blocks on top; its figures in ``NN_name_files/``
notebook copy       ``NN_name.ipynb``, beside its page: the notebook the page was made from
lab link            ``<lab_url>lessons/NN_name.ipynb``: where a running ``make lab`` (JupyterLab
                    at the checkout's root, on 127.0.0.1:8888 unless that port was taken)
                    opens the same notebook
folded cell         an exercise's reference solution (``jupyter.source_hidden``, tagged
                    ``solution``, see ``lrnn_course.build``) or a set-up cell (the ones a deck
                    skips): a closed ``<details>`` that shows the cell's first line
widget snapshot     a live widget cannot run without a kernel: its page shows the figure its
                    saved state holds and the values of its controls
==================  ==========================================================================

Why nbconvert: the lessons are executed notebooks already, and nbconvert (a dependency of the
notebook tooling the course installs anyway) renders them as JupyterLab shows them; a few template
blocks add the navigation and take out every CDN script (require.js, the widget manager, Mermaid).
MathJax comes from the npm package that ``lrnn_course.web_assets`` vendors into ``_assets/``.

Each page links to its notebook twice, because a static page cannot start a kernel: the lab link
opens it in a running ``make lab`` (a page read from ``file://`` cannot know which server runs, so
the link names the default address, ``--lab-url`` another), and the notebook copy works with any
Jupyter, the wheel's ``lrnn-course fetch lessons`` folder included.
"""

from __future__ import annotations

import copy
import html
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .build import SOLUTION_TAG, lesson_notebooks, output_folder
from .notebook_files import SET_UP_SLIDE_TYPE, notebook_title
from .version import __version__
from .web_assets import mathjax_script, relative_url, vendor

LAB_URL = "http://127.0.0.1:8888/lab/tree/"  # `make lab`'s address and the root of its file tree
STYLESHEET = "site.css"
INDEX = "index.html"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# headings of the lesson map, by the folder a notebook comes from (``notebook_files.SHIPPED_FOLDERS``)
SECTIONS = {"lessons": "Lessons", "kernels": "Kernel lessons (Triton)"}
TEMPLATE_NAME = "lrnn_site.html.j2"

# The lab template's own blocks, with what a page without network needs in place of the CDN ones.
# MathJax stays nbconvert's (resources.mathjax_url points into _assets/).
PAGE_TEMPLATE = r"""
{%- extends 'index.html.j2' -%}

{%- macro site_nav(site) -%}
<nav class="lrnn-nav">
{%- if site.previous %}<a rel="prev" href="{{ site.previous.href }}">← {{ site.previous.title | escape_html }}</a>
{%- else %}<span></span>{% endif %}
<a rel="home" href="{{ site.home }}">Course map</a>
{%- if site.next %}<a rel="next" href="{{ site.next.href }}">{{ site.next.title | escape_html }} →</a>
{%- else %}<span></span>{% endif %}
</nav>
{%- endmacro -%}

{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<link rel="stylesheet" href="{{ resources.lrnn_site.stylesheet }}">
{%- endblock html_head_css -%}

{%- block body_header -%}
{{ super() }}
{{ site_nav(resources.lrnn_site) }}
<p class="lrnn-open">Open in JupyterLab:
<a class="lrnn-lab-link" href="{{ resources.lrnn_site.lab_link }}">{{ resources.lrnn_site.lab_path }}</a>
(while <code>make lab</code> runs) · or this page's notebook,
<a class="lrnn-notebook-link" href="{{ resources.lrnn_site.notebook }}">{{ resources.lrnn_site.notebook }}</a>,
for any Jupyter.</p>
{%- endblock body_header -%}

{%- block body_footer -%}
{{ site_nav(resources.lrnn_site) }}
{{ super() }}
{%- endblock body_footer -%}

{%- block input_group -%}
{%- set folded = cell.metadata.get('jupyter', {}).get('source_hidden')
    or cell.metadata.get('slideshow', {}).get('slide_type') == resources.lrnn_site.set_up -%}
{%- if folded -%}
<details class="lrnn-folded"><summary>{{ cell.source.splitlines()[0] | escape_html }}</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock input_group -%}
"""

STYLESHEET_TEXT = """\
.lrnn-nav { display: flex; justify-content: space-between; gap: 1em; margin: 1em 0; font-family: sans-serif; }
.lrnn-open { font-family: sans-serif; font-size: 90%; }
.lrnn-nav a, .lrnn-open a { color: #1565c0; }
details.lrnn-folded > summary { cursor: pointer; font-family: monospace; color: #555; padding: 0.3em 0; }
body.lrnn-map { max-width: 50em; margin: 2em auto; padding: 0 1em; font-family: sans-serif; line-height: 1.5; }
.lrnn-map ul { list-style: none; padding-left: 0; }
"""


@dataclass(frozen=True)
class Page:
    """One lesson of the site: the notebook it comes from and the names its files get."""

    notebook_path: Path
    title: str

    @property
    def stem(self) -> str:
        return self.notebook_path.stem

    @property
    def href(self) -> str:
        return f"{self.stem}.html"

    @property
    def section(self) -> str:
        """``lessons`` or ``kernels``: the notebook's folder, in a checkout and in the wheel alike."""
        return self.notebook_path.parent.name

    @property
    def lab_path(self) -> str:
        return f"{self.section}/{self.notebook_path.name}"


def widget_snapshot(view: dict, state: dict) -> list[nbformat.NotebookNode]:
    """Outputs that stand for a live widget: a line naming its controls' saved values, then its saved outputs."""
    controls, outputs = [], []

    def visit(model_id: str) -> None:
        model = state.get(model_id)
        if model is None:
            return
        values = model["state"]
        if model["model_name"] == "OutputModel":
            outputs.extend(nbformat.from_dict(output) for output in values.get("outputs", []))
        if values.get("description") and "value" in values:
            controls.append(f"{values['description']} = {values['value']}")
        elif values.get("description") and "index" in values and values.get("_options_labels"):
            controls.append(f"{values['description']} = {values['_options_labels'][values['index']]}")
        for child in values.get("children", []):
            visit(child.removeprefix("IPY_MODEL_"))

    visit(view["model_id"])
    settings = f" ({', '.join(controls)})" if controls else ""
    note = f"*A live widget{settings}: its controls work in JupyterLab. Here, what it showed when the lesson ran.*"
    return [nbformat.v4.new_output("display_data", {"text/markdown": note}), *outputs]


def readable_copy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` for a page: folded answers keep their source, widgets become snapshots."""
    page = copy.deepcopy(notebook)
    state = page.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in page.cells:
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            # nbconvert leaves out the source of a cell marked so; the page folds it instead, as JupyterLab does
            cell.metadata.get("transient", {}).pop("remove_source", None)
        if cell.cell_type == "code":
            cell.outputs = [
                shown
                for output in cell.outputs
                for shown in (
                    widget_snapshot(output.data[WIDGET_VIEW], state)
                    if WIDGET_VIEW in output.get("data", {})
                    else [output]
                )
            ]
    return page


def page_exporter(mathjax_url: str):
    """nbconvert's HTML exporter with the lab template, ``PAGE_TEMPLATE`` and figures written as files."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ExtractOutputPreprocessor

    exporter = HTMLExporter(
        template_name="lab",
        template_file=TEMPLATE_NAME,
        extra_loaders=[DictLoader({TEMPLATE_NAME: PAGE_TEMPLATE})],
        mathjax_url=mathjax_url,
        # the template loads neither (nor the widget manager); empty, so that no CDN address is left to load
        require_js_url="",
        jquery_url="",
        widget_renderer_url="",
    )
    exporter.register_preprocessor(ExtractOutputPreprocessor(), enabled=True)
    return exporter


def write_page(
    page: Page, previous: Page | None, following: Page | None, out_dir: Path, exporter, lab_url: str
) -> Path:
    """Write ``page``'s HTML, its figures and its notebook copy into ``out_dir``; return the HTML's path."""
    figures = f"{page.stem}_files"
    shutil.rmtree(out_dir / figures, ignore_errors=True)  # figures of an earlier build of this page
    notebook = readable_copy(nbformat.read(page.notebook_path, as_version=4))
    site = {
        "home": INDEX,
        "previous": previous and {"href": previous.href, "title": previous.title},
        "next": following and {"href": following.href, "title": following.title},
        "lab_link": lab_url + page.lab_path,
        "lab_path": page.lab_path,
        "notebook": page.notebook_path.name,
        "stylesheet": STYLESHEET,
        "set_up": SET_UP_SLIDE_TYPE,
    }
    body, resources = exporter.from_notebook_node(
        notebook,
        resources={
            "metadata": {"name": page.title},
            "unique_key": page.stem,
            "output_files_dir": figures,
            "lrnn_site": site,
        },
    )
    for name, data in resources.get("outputs", {}).items():
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / name).write_bytes(data)
    shutil.copyfile(page.notebook_path, out_dir / page.notebook_path.name)
    path = out_dir / page.href
    path.write_text(body, encoding="utf-8")
    return path


def index_html(pages: list[Page]) -> str:
    """The lesson map: a heading per section, a line per page, in course order."""
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">',
        f"<title>lrnn-course {html.escape(__version__)}</title>",
        f'<link rel="stylesheet" href="{STYLESHEET}"></head>',
        '<body class="lrnn-map"><main>',
        f"<h1>lrnn-course {html.escape(__version__)}</h1>",
        "<p>The executed lessons, to read before running them: each page has its figures and folded answers, "
        "and links to open its notebook in JupyterLab (<code>make lab</code>).</p>",
    ]
    for section, heading in SECTIONS.items():
        chosen = [page for page in pages if page.section == section]
        if chosen:
            lines.append(f"<h2>{heading}</h2>\n<ul>")
            lines += [f'<li><a href="{page.href}">{html.escape(page.title)}</a></li>' for page in chosen]
            lines.append("</ul>")
    lines.append("</main></body></html>\n")
    return "\n".join(lines)


def build_site(names: Iterable[str] = (), out_dir: Path | None = None, lab_url: str = LAB_URL) -> list[Path]:
    """The site of every lesson and kernel notebook (or those whose name starts with one of ``names``).

    It goes to ``build/site`` unless ``out_dir`` says otherwise; returns the lesson map's path, then
    each page's. MathJax comes from ``web_assets``'s cache (downloaded once from the npm registry).
    """
    if not lab_url.startswith(("http://", "https://")):
        raise ValueError(f"the JupyterLab URL must start with http:// or https://, got {lab_url!r}")
    lab_url = lab_url.rstrip("/") + "/"
    pages = [Page(path, notebook_title(nbformat.read(path, as_version=4))) for path in lesson_notebooks(names)]
    out_dir = Path(out_dir or output_folder("site"))
    out_dir.mkdir(parents=True, exist_ok=True)
    mathjax = vendor(out_dir, "mathjax")["mathjax"]
    exporter = page_exporter(mathjax_script(relative_url(out_dir, mathjax)))
    (out_dir / STYLESHEET).write_text(STYLESHEET_TEXT, encoding="utf-8")
    written = []
    for index, page in enumerate(pages):
        previous = pages[index - 1] if index else None
        following = pages[index + 1] if index + 1 < len(pages) else None
        written.append(write_page(page, previous, following, out_dir, exporter, lab_url))
    (out_dir / INDEX).write_text(index_html(pages), encoding="utf-8")
    return [out_dir / INDEX, *written]
