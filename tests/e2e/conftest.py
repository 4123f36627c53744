"""Real-browser tests: the app served by Streamlit, driven by Playwright in Debian's
headless Chromium (see shared/E2E.md for why not Playwright's own browser)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        need("Debian's chromium (apt-get install -y chromium; tests/run.sh does it)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1300}}


@pytest.fixture(scope="session")
def app_server(mnist_dir):
    """Start ``streamlit run app.py`` once for the session; yields its URL."""
    port = _free_port()
    env = {**os.environ, "MNIST_DIR": str(mnist_dir)}
    log = open(ROOT / "tests" / "e2e" / ".server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.terminate()
        pytest.fail("the Streamlit server did not become healthy in 60 s")
    yield url
    proc.terminate()  # by its own PID, never by name
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def base_url(app_server):
    return app_server


def wait_idle(page, text: str | None = None, timeout: float = 120_000) -> None:
    """Wait for a marker text (if given) and for the script to finish its run."""
    if text is not None:
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    page.locator(IDLE).wait_for(timeout=timeout)


def assert_no_error(page) -> None:
    errors = page.locator("[data-testid='stException'], [data-testid='stAlertContentError']")
    assert errors.count() == 0, errors.first.inner_text()
