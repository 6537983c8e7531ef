"""Lesson 01 in a real browser: JupyterLab from this installation, driven by Playwright in Debian's Chromium.

The test starts JupyterLab on localhost over a copy of the lesson, runs all cells from the Run menu,
waits until no cell is running, and asserts what a learner would see: no error output, rendered
figures, and a live widget (moving the gate slider redraws its plot). The screenshot goes to
``build/browser/lesson01.png``. It needs ``/usr/bin/chromium`` (Debian's ``chromium`` package:
``apt-get install chromium``) and the ``playwright`` package; without them it skips and says why.
No browser is downloaded: Playwright drives the system's Chromium. Not yet part of CI: locally it
passed 5 of 7 runs; in the others Run All stopped after cell 6 with the kernel idle and no error shown,
which is still to be understood before CI may depend on it. Under CPU load it fails
more often: all cells run, but only 2 of the 3 figures (the widget's plot missing) appear.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
LESSON = "01_diagonal_scans.ipynb"
SCREENSHOT = ROOT / "build" / "browser" / "lesson01.png"
RUN_TIMEOUT_S = 240

playwright_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs `pip install playwright`")
if not CHROMIUM.exists():
    pytest.skip(f"the browser test needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server over a folder holding a copy of Lesson 01; yields its base URL and token."""
    shutil.copy(ROOT / "lessons" / LESSON, tmp_path / LESSON)
    # Render every cell: by default JupyterLab draws only the cells in view, and the test reads them all.
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = free_port(), secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--ServerApp.allow_root=True"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"), "MPLBACKEND": "module://matplotlib_inline.backend_inline"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {server.stderr.read()[-2000:]}")
            time.sleep(0.5)
    yield base, token
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def wait_until_all_cells_ran(page, code_cells: int) -> None:
    """Until every code cell shows an execution count and none shows [*] (running or queued)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        counted = [p for p in prompts if any(ch.isdigit() for ch in p)]
        if len(counted) == code_cells and not any("*" in p for p in prompts):
            return
        errors = page.locator("[data-mime-type='application/vnd.jupyter.stderr'], [data-mime-type='application/vnd.jupyter.error']")
        if errors.count() and not any("*" in p for p in prompts):
            pytest.fail(f"a cell failed after {len(counted)} cells: {errors.last.inner_text()[-3000:]}")
        time.sleep(1)
    page.screenshot(path=str(SCREENSHOT.with_name("lesson01-timeout.png")), full_page=True)
    pytest.fail(f"cells still running after {RUN_TIMEOUT_S} s: prompts {prompts}")


def test_lesson01_runs_in_jupyterlab_with_figures_and_a_live_widget(jupyterlab):
    base, token = jupyterlab
    code_cells = sum(cell["cell_type"] == "code" for cell in json.loads((ROOT / "lessons" / LESSON).read_text())["cells"])
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/lab/tree/{LESSON}?token={token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=120_000)

        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        wait_until_all_cells_ran(page, code_cells)

        errors = page.locator("[data-mime-type='application/vnd.jupyter.error']")
        assert errors.count() == 0, errors.first.inner_text()[:2000]
        figures = page.locator(".jp-OutputArea-output img")
        assert figures.count() >= 3

        widget = page.locator(".widget-interact").last
        widget.scroll_into_view_if_needed()
        plot = widget.locator("img").first
        plot.wait_for(timeout=60_000)
        before = plot.get_attribute("src")
        handle = widget.locator(".noUi-handle").first
        handle.focus()
        for _ in range(8):
            page.keyboard.press("ArrowLeft")
        deadline = time.monotonic() + 60
        while widget.locator("img").first.get_attribute("src") == before:
            assert time.monotonic() < deadline, "moving the gate slider did not redraw the widget's plot"
            time.sleep(0.5)
        readout = widget.locator(".widget-readout").first.inner_text()
        assert readout.strip() == "0.50", f"the gate slider reads {readout!r} after 8 steps of -0.05 from 0.90"

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        widget.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOT), full_page=False)
        browser.close()
