"""Every deck in a real browser, offline: styled slides, typeset maths, no slide larger than the canvas, notes.

The decks of all lessons are built into a temporary folder (reveal.js and MathJax vendored beside them)
and opened one after another in one page of headless Chromium (Debian's, driven by Playwright as in
``tests/test_browser.py``), as ``file://`` URLs, with every request that is not for a local file
aborted and counted: none may leave. In each deck the test waits until reveal.js is ready and MathJax
has typeset the page, checks that the theme's stylesheet and reveal.css apply, then walks every slide
through reveal.js's API (``Reveal.getSlides``, ``Reveal.slide``) and measures it: its content
(``scrollHeight`` and ``scrollWidth`` of its ``section``) must fit the 1280 x 720 canvas, no code block,
table or equation may be cut off inside its box, MathJax must have rendered maths and reported no error,
and no TeX may be left as text in its prose. A second test opens the speaker view (key ``s``) of Lesson
01, a window of its own, and finds the title slide's notes from the source there.

Screenshots of the title and of the first slide with a displayed equation of Lessons 01 and 07 go to
``build/browser/slides/`` (``SLIDE_SCREENSHOTS=<folder>`` puts them elsewhere:
``benchmarks/results/slides`` regenerates the committed ones), with ``heights.md``: per deck, its
number of slides and its tallest slide.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from browser_support import launch_chromium, playwright_or_skip

from lrnn_course import build, slides

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT_DECKS = ("01_diagonal_scans", "07_products_of_householders")
SCREENSHOTS = Path(os.environ.get("SLIDE_SCREENSHOTS") or ROOT / "build" / "browser" / "slides")
LOAD_TIMEOUT_S = 60
# TeX that MathJax should have replaced: $...$, \( or \[, or a control word in prose
RAW_TEX = re.compile(r"\$[^$\n]+\$|\\[(\[]|\\(frac|sum|prod|mathbb|mathrm|beta|alpha|odot|top)\b")

playwright_api = playwright_or_skip(module_level=True)

# Resolves when MathJax has done everything queued so far (typesetting the page, re-rendering a slide).
MATHJAX_IDLE_JS = "() => new Promise(resolve => MathJax.Hub.Queue(resolve))"

DECK_STATE_JS = """() => {
    const reveal = document.querySelector(".reveal");
    const style = getComputedStyle(reveal);
    return {
        width: Reveal.getConfig().width,
        height: Reveal.getConfig().height,
        font: style.fontFamily,
        // set by the theme's stylesheet, and by reveal.css
        theme_background: getComputedStyle(document.documentElement).getPropertyValue("--r-background-color").trim(),
        slides_position: getComputedStyle(document.querySelector(".reveal .slides")).position,
        slides: Reveal.getTotalSlides(),
    };
}"""

# Shows each slide in turn (without transition) and measures it once MathJax has re-rendered it.
WALK_JS = """async () => {
    Reveal.configure({transition: "none", backgroundTransition: "none"});
    const measured = [];
    for (const slide of Reveal.getSlides()) {
        const {h, v} = Reveal.getIndices(slide);
        Reveal.slide(h, v);
        await new Promise(resolve => MathJax.Hub.Queue(resolve));
        const prose = Array.from(slide.querySelectorAll(".jp-RenderedMarkdown"))
            .filter(element => !element.closest("aside.notes"))  // the speaker notes' code is not prose
            .map(element => element.innerText).join("\\n");
        measured.push({
            h, v,
            present: slide.classList.contains("present"),
            height: slide.scrollHeight,
            width: slide.scrollWidth,
            // a code block, table or equation wider than its box scrolls or is cut off inside it
            clipped: Array.from(slide.querySelectorAll("pre, table, .MathJax_SVG_Display"))
                .filter(element => element.scrollWidth > element.clientWidth + 1).length,
            maths: slide.querySelectorAll(".MathJax_SVG, .MathJax_SVG_Display").length,
            displayed_maths: slide.querySelectorAll(".MathJax_SVG_Display").length,
            errors: slide.querySelectorAll(".MathJax_Error, [data-mjx-error], .merror").length,
            prose: prose,
            notes: slide.querySelectorAll("aside.notes").length,
        });
    }
    return measured;
}"""


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> list[Path]:
    return slides.build_slides(out_dir=tmp_path_factory.mktemp("decks"))


@pytest.fixture(scope="module")
def offline_page():
    """One page of headless Chromium whose context (the speaker view's window included) lets only file://
    requests through, and the list of the others."""
    left: list[str] = []
    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": slides.CANVAS_WIDTH, "height": slides.CANVAS_HEIGHT})
            context.set_default_timeout(LOAD_TIMEOUT_S * 1000)
            context.route(re.compile(r"^(?!file:|data:)"), lambda route: route.abort())
            context.on(
                "request",
                lambda request: None if request.url.startswith(("file:", "data:")) else left.append(request.url),
            )
            yield context.new_page(), left
        finally:
            browser.close()


def open_deck(page, deck: Path) -> dict:
    page.goto(deck.as_uri())
    page.wait_for_function("() => window.Reveal && Reveal.isReady() && window.MathJax && MathJax.isReady")
    page.evaluate(MATHJAX_IDLE_JS)
    return page.evaluate(DECK_STATE_JS)


def test_every_deck_renders_offline_styled_typeset_and_within_the_canvas(decks, offline_page):
    # Enforces CONTRIBUTING.md#rule-slides-fit
    page, left = offline_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    report = ["| deck | slides | tallest slide (px) |", "|---|---:|---:|"]
    too_big, raw_tex, maths_errors = [], [], []
    for deck in decks:
        name = deck.name.removesuffix(".slides.html")
        state = open_deck(page, deck)
        assert (state["width"], state["height"]) == (slides.CANVAS_WIDTH, slides.CANVAS_HEIGHT), state
        styled = (state["font"].startswith('"Source Sans Pro"'), state["theme_background"], state["slides_position"])
        assert styled == (True, "#fff", "absolute"), (
            f"{name}: the theme (white.css) or reveal.css does not apply: {state}"
        )
        measured = page.evaluate(WALK_JS)
        assert len(measured) == state["slides"] and all(slide["present"] for slide in measured)
        assert sum(slide["maths"] for slide in measured) > 0, f"{name}: MathJax typeset nothing"
        too_big += [
            f"{name} {s['h']}.{s['v']}: {s['width']} x {s['height']} px, {s['clipped']} boxes cut"
            for s in measured
            if s["height"] > state["height"] or s["width"] > state["width"] or s["clipped"]
        ]
        raw_tex += [
            f"{name} {s['h']}.{s['v']}: {RAW_TEX.search(s['prose'])}" for s in measured if RAW_TEX.search(s["prose"])
        ]
        maths_errors += [f"{name} {s['h']}.{s['v']}" for s in measured if s["errors"]]
        report.append(f"| {name} | {len(measured)} | {max(s['height'] for s in measured)} |")
        if name in SCREENSHOT_DECKS:
            assert measured[0]["notes"], f"{name}: its title slide has no speaker notes"
            page.evaluate("() => Reveal.slide(0, 0)")
            page.evaluate(MATHJAX_IDLE_JS)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-title.png"))
            first_maths = next(s for s in measured if s["displayed_maths"])
            page.evaluate(f"() => Reveal.slide({first_maths['h']}, {first_maths['v']})")
            page.evaluate(MATHJAX_IDLE_JS)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-maths.png"))
    (SCREENSHOTS / "heights.md").write_text("\n".join(report) + "\n", encoding="utf-8")
    assert left == [], f"requests that would have left the machine: {sorted(set(left))[:10]}"
    assert too_big == [], f"slides larger than {slides.CANVAS_WIDTH} x {slides.CANVAS_HEIGHT} pixels: {too_big}"
    assert raw_tex == [], f"TeX left untypeset: {raw_tex}"
    assert maths_errors == [], f"MathJax errors on slides: {maths_errors}"


def test_the_speaker_view_shows_the_notes_of_the_sources_offline(decks, offline_page):
    """reveal.js's notes plugin opens the speaker view (key ``s``) in a window of its own, from the deck's files."""
    page, left = offline_page
    deck = next(deck for deck in decks if deck.name.startswith("01_"))
    open_deck(page, deck)
    page.evaluate("() => Reveal.slide(0, 0)")
    with page.expect_popup() as opened:
        page.keyboard.press("s")
    speaker_view = opened.value
    notes = speaker_view.locator(".speaker-controls-notes .value")
    speaker_view.wait_for_function(
        "() => (document.querySelector('.speaker-controls-notes .value') || {innerText: ''}).innerText.length > 0"
    )
    lesson = nbformat.read(build.lesson_notebooks(["01"])[0], as_version=4)
    title_notes = next(cell for cell in lesson.cells if slides.slide_type(cell) == slides.SLIDE).metadata["slideshow"]
    first_paragraph = " ".join(title_notes["notes"].split("\n\n")[0].split())
    assert first_paragraph in " ".join(notes.inner_text().split()), "the title slide's notes, from the source"
    speaker_view.close()
    assert left == [], f"requests that would have left the machine: {sorted(set(left))[:10]}"
