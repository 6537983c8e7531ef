"""The course site (``lrnn-course site``): a page per lesson, linked in course order, that loads nothing from the web.

The site is built once for the module (every lesson and kernel notebook: a few seconds), and the tests read its
HTML. The browser test opens three of its pages in headless Chromium with every request that is not a
``file://`` one aborted, and checks what a reader sees: the next-lesson link, the figures, typeset maths and a
folded answer that opens on a click. It needs ``/usr/bin/chromium`` (or Google's Chrome) and the ``playwright``
package, like tests/test_browser.py; without them it skips and says why.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from answer_support import answer_lines
from browser_support import launch_chromium, playwright_or_skip

from lrnn_course import build, cli, site
from lrnn_course.notebook_files import notebook_title

ROOT = build.repo_root()
TARGETS = build.targets(ROOT)
LESSONS = [target.path for target in TARGETS if target.kind == "lesson"]
# a scheme (http:, https:, ftp:, ...) or a protocol-relative //host: whatever would leave the site's folder
REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
LOCAL_SCHEMES = ("data:", "file:")
# attributes that make a browser fetch something (an <a>'s href is followed only on a click)
LOADING_ATTRIBUTES = {("script", "src"), ("img", "src"), ("link", "href"), ("iframe", "src"), ("source", "src")}
LOADING_ATTRIBUTES |= {("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data"), ("track", "src")}


class PageParts(HTMLParser):
    """What the tests read from a page: its URLs, its folded cells and the text outside them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.loaded: list[str] = []  # URLs the page fetches as it loads
        self.links: list[tuple[dict, bool]] = []  # each <a>'s attributes, and whether it sits in rendered prose
        self.folded: list[dict] = []  # each <details>: open?, its summary, its text
        self.outside_folds: list[str] = []
        self.styles: list[str] = []
        self.in_style = False
        self.divs: list[bool] = []  # for each open <div>: is it rendered markdown?
        self.details_depth = 0
        self.in_summary = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for element, attribute in LOADING_ATTRIBUTES:
            if tag == element and attributes.get(attribute):
                self.loaded.append(attributes[attribute])
        if tag == "a":
            self.links.append((attributes, any(self.divs)))
        elif tag == "div":
            self.divs.append("jp-RenderedMarkdown" in (attributes.get("class") or "").split())
        elif tag == "details":
            self.details_depth += 1
            self.folded.append({"open": "open" in attributes, "summary": "", "text": ""})
        elif tag == "summary":
            self.in_summary = True
        elif tag == "style":
            self.in_style = True

    def handle_endtag(self, tag):
        if tag == "div" and self.divs:
            self.divs.pop()
        elif tag == "details":
            self.details_depth -= 1
        elif tag == "summary":
            self.in_summary = False
        elif tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_style:
            self.styles.append(data)
        elif self.in_summary:
            self.folded[-1]["summary"] += data
        elif self.details_depth:
            self.folded[-1]["text"] += data
        else:
            self.outside_folds.append(data)


def parts(page: Path) -> PageParts:
    parser = PageParts()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def resolves(page: Path, href: str) -> bool:
    """Whether a relative link of ``page`` names a file beside it (a #fragment alone names the page itself)."""
    target = href.split("#", 1)[0].split("?", 1)[0]
    return not REMOTE.match(href) and (not target or (page.parent / target).is_file())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[Path]]:
    out_dir = tmp_path_factory.mktemp("site")
    return out_dir, site.build_site(out_dir=out_dir)


def test_the_lesson_map_lists_every_lesson_in_course_order_one_line_each(built):
    out_dir, written = built
    assert written[0] == out_dir / "index.html"
    assert [page.name for page in written[1:]] == [f"{path.stem}.html" for path in LESSONS]
    index = (out_dir / "index.html").read_text(encoding="utf-8")
    entries = re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', index)
    titles = [notebook_title(nbformat.read(path, as_version=4)) for path in LESSONS]
    assert [href for href, _ in entries] == [f"{path.stem}.html" for path in LESSONS]
    assert [title.replace("&#x27;", "'").replace("&amp;", "&") for _, title in entries] == titles
    assert index.index("01_") < index.index("<h2>Kernel lessons") < index.index("K1_")


def test_next_links_walk_the_course_in_order_and_every_navigation_link_resolves(built):
    out_dir, written = built
    pages = written[1:]
    walked, page = [], pages[0]
    while page is not None:
        walked.append(page.name)
        links = {attributes.get("rel"): attributes["href"] for attributes, _ in parts(page).links}
        assert links["home"] == "index.html"
        for rel in ("prev", "next"):
            assert rel not in links or resolves(page, links[rel]), (page.name, links[rel])
        assert ("prev" in links) == (page != pages[0]) and ("next" in links) == (page != pages[-1])
        page = out_dir / links["next"] if "next" in links else None
    assert walked == [page.name for page in pages]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_a_page_loads_only_files_of_the_site_and_links_its_notebook_two_ways(built, lesson):
    out_dir, _ = built
    page = out_dir / f"{lesson.stem}.html"
    found = parts(page)
    remote = [url for url in found.loaded if REMOTE.match(url) and not url.startswith(LOCAL_SCHEMES)]
    assert remote == [], f"{page.name} loads from the network"
    assert [url for url in found.loaded if not url.startswith(LOCAL_SCHEMES) and not resolves(page, url)] == []
    assert any(url.startswith("_assets/mathjax/MathJax.js?config=") for url in found.loaded)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", "".join(found.styles)), "CSS that fetches from the web"
    lab_links = [attributes["href"] for attributes, _ in found.links if "lrnn-lab-link" in attributes.get("class", "")]
    assert lab_links == [f"{site.LAB_URL}{lesson.parent.name}/{lesson.name}"]
    # every other link leaves the site only from the lesson's prose (a citation), never from the page's furniture
    for attributes, in_prose in found.links:
        href = attributes.get("href", "")
        if "lrnn-lab-link" not in attributes.get("class", "") and not in_prose:
            assert resolves(page, href), (page.name, href)
    notebook_links = [
        attributes["href"] for attributes, _ in found.links if "lrnn-notebook-link" in attributes.get("class", "")
    ]
    assert notebook_links == [lesson.name] and (out_dir / lesson.name).read_bytes() == lesson.read_bytes()


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_a_page_has_every_figure_as_a_file_and_each_widget_as_its_saved_snapshot(built, lesson):
    out_dir, _ = built
    notebook = nbformat.read(lesson, as_version=4)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    widgets = sum(site.WIDGET_VIEW in output.get("data", {}) for output in outputs)
    figures = sum("image/png" in output.get("data", {}) for output in outputs)
    page = out_dir / f"{lesson.stem}.html"
    images = [url for url in parts(page).loaded if url.endswith(".png")]
    assert figures and len(images) >= figures + widgets, "a figure (or a widget's saved figure) is missing"
    assert all(url.startswith(f"{lesson.stem}_files/") and resolves(page, url) for url in images)
    text = page.read_text(encoding="utf-8")
    assert text.count("A live widget") == widgets and "application/vnd.jupyter.widget" not in text


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_each_answer_is_on_its_page_only_inside_a_closed_fold(built, lesson):
    # Enforces CONTRIBUTING.md#rule-answers-folded
    out_dir, _ = built
    source = ROOT / "sources" / f"{lesson.stem}.py"
    practice = nbformat.read(next(t.path for t in TARGETS if t.kind == "exercise" and t.source == source), as_version=4)
    found = parts(out_dir / f"{lesson.stem}.html")
    assert found.folded and not any(fold["open"] for fold in found.folded), "every fold starts closed"
    outside = "".join(found.outside_folds)
    for exercise_id in build.DIRECTIVE.findall(source.read_text(encoding="utf-8")):
        (fold,) = [
            fold for fold in found.folded if fold["summary"].startswith(f"# The reference solution of {exercise_id},")
        ]
        answer = answer_lines(exercise_id, practice)
        assert answer and all(line in fold["text"] for line in answer), exercise_id
        assert [line for line in answer if line in outside] == [], exercise_id


def test_the_command_builds_chosen_lessons_with_another_lab_address_and_refuses_a_bad_one(tmp_path, capsys):
    assert cli.main(["site", "K1", "--out", str(tmp_path), "--lab-url", "http://127.0.0.1:8890/lab/tree"]) == 0
    assert f"open {tmp_path / 'index.html'}" in capsys.readouterr().out
    assert sorted(path.name for path in tmp_path.glob("*.html")) == ["K1_triton_diagonal_scan.html", "index.html"]
    page = (tmp_path / "K1_triton_diagonal_scan.html").read_text(encoding="utf-8")
    assert 'href="http://127.0.0.1:8890/lab/tree/kernels/K1_triton_diagonal_scan.ipynb"' in page
    assert 'rel="prev"' not in page and 'rel="next"' not in page, "a site of one lesson links to no other"

    assert cli.main(["site", "K1", "--out", str(tmp_path), "--lab-url", "127.0.0.1:8888"]) == 2
    assert "must start with http:// or https://, got '127.0.0.1:8888'" in capsys.readouterr().err
    assert cli.main(["site", "Z9", "--out", str(tmp_path)]) == 2
    assert "starts with Z9" in capsys.readouterr().err


# Typeset: MathJax 2 puts its rendering (a .MathJax_SVG span, or a .MathJax_SVG_Display div) just before the
# <script type="math/tex"> that keeps each formula's TeX; a TeX error would show up as .noError or merror.
MATHS_JS = """() => {
    const formulas = Array.from(document.querySelectorAll('script[type^="math/tex"]'));
    const rendered = formulas.filter(s => {
        const frame = s.previousElementSibling;
        return frame && /MathJax_SVG/.test(frame.className) && frame.getBoundingClientRect().width > 0;
    });
    const prose = Array.from(document.querySelectorAll('.jp-RenderedMarkdown')).map(e => e.innerText).join('\\n');
    return {
        formulas: formulas.length,
        rendered: rendered.length,
        errors: document.querySelectorAll('.noError, .merror').length,
        delimiters: prose.match(/\\$|\\\\\\(|\\\\\\[|\\\\begin\\{/g) || [],
    };
}"""
IMAGES_JS = "() => Array.from(document.images).map(image => [image.getAttribute('src'), image.naturalWidth])"


def check_page(page, lesson: Path) -> None:
    """The page of ``lesson`` is open: its title, figures that loaded and every formula typeset."""
    assert page.locator("h1").first.inner_text().strip().rstrip("¶").strip() == notebook_title(
        nbformat.read(lesson, as_version=4)
    )
    page.wait_for_function("() => window.MathJax && MathJax.isReady", timeout=60_000)
    page.evaluate("() => new Promise(done => MathJax.Hub.Queue(done))")  # after the typesetting queued at start
    maths = page.evaluate(MATHS_JS)
    assert maths["formulas"] > 0 and maths["rendered"] == maths["formulas"], maths
    assert maths["errors"] == 0 and maths["delimiters"] == [], maths
    page.wait_for_function("() => Array.from(document.images).every(image => image.complete)")
    images = page.evaluate(IMAGES_JS)
    assert images and all(width > 0 for _, width in images), images


def test_three_pages_work_in_chromium_with_the_network_blocked(built):
    playwright_api = playwright_or_skip()
    out_dir, _ = built
    allowed: list[str] = []
    blocked: list[str] = []

    def only_files(route):
        if route.request.url.startswith("file://"):
            allowed.append(route.request.url)
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_files)
            page.goto((out_dir / f"{LESSONS[0].stem}.html").as_uri())
            check_page(page, LESSONS[0])
            fold = page.locator("details.lrnn-folded", has_text="# The reference solution of").first
            assert fold.evaluate("element => element.open") is False
            answer = fold.locator(".jp-InputArea")
            assert not answer.is_visible()
            fold.locator("summary").click()
            assert answer.is_visible(), "a click on the fold's first line shows the answer"

            page.locator("a[rel=next]").first.click()
            page.wait_for_url(f"**/{LESSONS[1].stem}.html")
            check_page(page, LESSONS[1])

            kernel = next(path for path in LESSONS if path.parent.name == "kernels")
            page.locator("a[rel=home]").first.click()
            page.wait_for_url("**/index.html")
            page.get_by_role("link", name=notebook_title(nbformat.read(kernel, as_version=4))).click()
            page.wait_for_url(f"**/{kernel.stem}.html")
            check_page(page, kernel)
        finally:
            browser.close()
    assert blocked == [], "the pages asked the network for these"
    assert any("/_assets/mathjax/" in url for url in allowed), "every request passes the filter (MathJax's did)"
