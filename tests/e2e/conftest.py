"""Real-browser tests: the app served by Streamlit, driven by Playwright in Debian's
headless Chromium (see shared/E2E.md for why not Playwright's own browser).

Only the pytest fixtures live here. The server and page helpers are plain functions in
``tools/browser.py``, so that ``bench/`` and ``docs/make_screenshots.py`` drive the app
exactly as the tests do; the tests import them from there.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import need
from tools.browser import CHROMIUM, ROOT, VIEWPORT, launch_args, start_app, stop_app


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        need("Debian's chromium (apt-get install -y chromium; tests/run.sh does it)")
    return {**browser_type_launch_args, **launch_args()}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT}


@pytest.fixture(scope="session")
def app_server(mnist_dir):
    """Start ``streamlit run app.py`` once for the session; yields its URL."""
    with open(ROOT / "tests" / "e2e" / ".server.log", "w") as log:
        try:
            proc, url = start_app(mnist_dir, log)
        except RuntimeError as e:
            pytest.fail(str(e))
        yield url
        stop_app(proc)


@pytest.fixture(scope="session")
def base_url(app_server):
    return app_server
