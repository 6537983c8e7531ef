"""The headless Chromium that the browser tests drive through Playwright (no browser is downloaded).

``tests/test_browser.py`` (Lesson 01 in JupyterLab), ``tests/test_slides_browser.py`` (every deck)
and ``tests/test_site.py`` (three pages of the course site) find it here and skip, saying why, where
it or Playwright is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Debian's package first; Google's Chrome, as preinstalled on GitHub's Ubuntu runners, is the same engine.
CHROMIUM_CANDIDATES = (Path("/usr/bin/chromium"), Path("/usr/bin/google-chrome"))
CHROMIUM = next((path for path in CHROMIUM_CANDIDATES if path.exists()), CHROMIUM_CANDIDATES[0])
NO_CHROMIUM = f"the browser test needs Debian's Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
NO_PLAYWRIGHT = "the browser test needs `pip install playwright`"


def playwright_or_skip(module_level: bool = False):
    """``playwright.sync_api``, or a skip (of the whole module with ``module_level``) naming what is missing."""
    api = pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM, allow_module_level=module_level)
    return api


def launch_chromium(playwright):
    """The system's Chromium, headless (root in a container needs --no-sandbox)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
