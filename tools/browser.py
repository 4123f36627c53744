"""Plain helpers that drive the app in Debian's headless Chromium: the browser's launch
flags, the Streamlit server on a free port, waiting for Streamlit to be idle, clicks and
inputs by widget key, canvas strokes, and the Draw page's scores.

The Playwright tests (their fixtures are in tests/e2e/conftest.py), tests/test_deploy.py,
bench/browser.py, bench/classroom.py and docs/make_screenshots.py all use these, so a
benchmark or a screenshot drives the app exactly as the tests do. See shared/E2E.md for
why Debian's Chromium and not Playwright's own browser. Dev tooling: the app and ``lrcore``
never import it.
"""
from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Sequence

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1300}
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"
SHELL_MARKER = "Data in use"  # written by the shared sidebar on every page
# The machine is shared and busy: the first page load fetches plotly's JS (seconds), and the
# default model trains on all of MNIST when first needed (20-60 s, more under load).
TIMEOUT_MS = 120_000
MODEL_TIMEOUT_MS = 300_000


# ----------------------------------------------------------------------------- browser
def launch_args() -> dict:
    """Playwright's ``chromium.launch`` arguments for Debian's headless Chromium."""
    return {"executable_path": CHROMIUM, "headless": True, "args": list(CHROMIUM_ARGS)}


def launch_chromium(playwright):
    """Debian's headless Chromium, from a running ``sync_playwright()``."""
    return playwright.chromium.launch(**launch_args())


# ----------------------------------------------------------------------------- server
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def streamlit_command(port: int) -> list[str]:
    """``streamlit run app.py`` headless on 127.0.0.1:``port`` (run it with cwd=ROOT)."""
    return [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]


def start_app(mnist_dir: str | Path, log: IO | int = subprocess.DEVNULL,
              timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` on a free port; returns (process, URL) once it is healthy."""
    port = free_port()
    env = {**os.environ, "MNIST_DIR": str(mnist_dir)}
    proc = subprocess.Popen(streamlit_command(port), cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.1)
    stop_app(proc)
    raise RuntimeError(f"the Streamlit server did not become healthy in {timeout:g} s")


def stop_app(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM by its own PID (never by name), SIGKILL after ``timeout`` s; nothing if it
    has already exited."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------------------- page helpers
def wait_idle(page, text: str | None = None, timeout: float = TIMEOUT_MS,
              settle_ms: int = 500) -> None:
    """Wait for a marker text (if given) and for the app to be idle for ``settle_ms``.

    "Idle once" is not enough: between a page load and its first script run, and between a
    run that ends in ``st.rerun()`` and the next one, the app briefly reports
    ``notRunning`` with widgets not yet holding their values."""
    if text is not None:
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    page.evaluate("() => { window.__idleSince = null; }")
    page.wait_for_function(
        """([sel, ms]) => {
            if (!document.querySelector(sel)) { window.__idleSince = null; return false; }
            const now = performance.now();
            if (window.__idleSince === null || window.__idleSince === undefined)
                window.__idleSince = now;
            return now - window.__idleSince >= ms;
        }""", arg=[IDLE, settle_ms], polling=50, timeout=timeout)


def assert_no_error(page) -> None:
    errors = page.locator(ERRORS)
    assert errors.count() == 0, errors.first.inner_text()


def open_page(page, path: str, marker: str | None, timeout: float = TIMEOUT_MS) -> None:
    """Load a page by URL path (a new session) and wait for its marker and the idle app.

    The default page is "/" (its own url path would give a "page not found" dialog)."""
    page.goto(path)
    wait_idle(page, SHELL_MARKER, timeout)
    wait_idle(page, marker, timeout)


def nav_click(page, title: str, marker: str | None, timeout: float = TIMEOUT_MS,
              settle_ms: int = 500) -> None:
    """Switch page with the sidebar link (same session, unlike ``page.goto``)."""
    nav = page.locator("[data-testid='stSidebarNav']")
    nav.get_by_role("link", name=re.compile(rf"\b{re.escape(title)}$", re.I)).click()
    wait_idle(page, marker, timeout, settle_ms)


def click_button(page, key: str) -> None:
    """Click the button with this widget key. While a script run is in progress Streamlit
    can keep an invisible copy of an element from the previous run in the DOM, so only
    the visible one is clicked."""
    page.locator(f".st-key-{key} button >> visible=true").first.click()


def select_option(page, key: str, option: str, tries: int = 5) -> None:
    """Pick ``option`` in the selectbox with this widget key. A live page (a polling
    fragment, a live board) may rerun right then and close the list: open it again."""
    box = page.locator(f".st-key-{key} input[role='combobox'] >> visible=true").first
    options = page.get_by_role("option")
    for attempt in range(tries):
        wait_idle(page)
        box.click()
        try:
            options.first.wait_for(timeout=10_000)
            names = [o.strip() for o in options.all_inner_texts()]
            assert option in names, names
            options.nth(names.index(option)).click(timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - the list closed under us: try again
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")
    wait_idle(page)


def fill(page, key: str, value: str) -> None:
    """Type into a text or number input (by widget key) and let the app take it."""
    box = page.locator(f".st-key-{key} input >> visible=true").first
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def sample(page, js_expr: str, interval_ms: int = 100) -> None:
    """Start sampling ``js_expr`` (a JS expression giving a string) in the page every
    ``interval_ms``; :func:`samples` returns the values seen, with duplicates in a row
    dropped. In-page sampling is not slowed by Playwright round trips."""
    page.evaluate(
        """([expr, ms]) => {
            window.__samples = []; clearInterval(window.__sampler);
            const f = new Function('return (' + expr + ');');
            window.__sampler = setInterval(() => {
                let v; try { v = String(f()); } catch (e) { v = 'error: ' + e; }
                const s = window.__samples;
                if (!s.length || s[s.length - 1] !== v) s.push(v);
            }, ms);
        }""", [js_expr, interval_ms])


def samples(page, stop: bool = True) -> list[str]:
    if stop:
        page.evaluate("() => clearInterval(window.__sampler)")
    return page.evaluate("() => window.__samples || []")


# ----------------------------------------------------------------------------- canvas
CANVAS = "canvas.upper-canvas"  # fabric.js's event layer, in the component's shadow root
# The layer the strokes are painted on (the first lower-canvas is the background).
DRAWN = "canvas.dc-canvas.lower-canvas"


def draw(page, points: Sequence[tuple[float, float]]) -> None:
    """One stroke through ``points`` (pixels from the canvas's top-left corner)."""
    box = page.locator(CANVAS).bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x, y0 + y)
    page.mouse.up()
    page.mouse.move(5, 5)  # off the canvas: no hover cursor in screenshots


def vertical_stroke(size: float = 280) -> list[tuple[float, float]]:
    c = size / 2
    return [(c, c - 0.32 * size + 0.032 * size * i) for i in range(21)]


def ring(size: float = 280) -> list[tuple[float, float]]:
    """An upright ellipse closed on itself: a 0."""
    c, rx, ry = size / 2, 0.23 * size, 0.32 * size
    return [(c + rx * math.sin(2 * math.pi * k / 48), c - ry * math.cos(2 * math.pi * k / 48))
            for k in range(51)]


def ink(page) -> int:
    """Sum of the RGB values painted on the canvas (0 when empty)."""
    return page.locator(DRAWN).evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] + d[i+1] + d[i+2];
                  return s; }""")


def wait_empty_canvas(page, timeout: float = 10.0) -> None:
    """Clear puts a new canvas in place of the old one: wait until it is there and blank."""
    deadline = time.time() + timeout
    while True:
        try:
            if page.locator(DRAWN).count() == 1 and ink(page) == 0:
                return
        except Exception:  # the old canvas went away between count() and evaluate()
            pass
        if time.time() > deadline:
            raise AssertionError("the canvas still shows a drawing")
        time.sleep(0.1)


# The Draw page's DOM contract: the guess and every class's percentage (null: no scores).
SCORES_SIG_JS = """() => { const p = document.querySelector('.scores .prediction');
    return p ? p.textContent.trim() + '|' + [...document.querySelectorAll('.scores .bar')]
        .map(b => b.dataset.p).join(',') : null; }"""


def prediction(page) -> str | None:
    """The Draw page's guess, or None if no scores are shown."""
    p = page.locator(".scores .prediction")
    return p.first.inner_text().strip() if p.count() else None


def probabilities(page) -> dict[str, float]:
    """class -> percent, from the Draw page's score bars."""
    return {b.get_attribute("data-class"): float(b.get_attribute("data-p"))
            for b in page.locator(".scores").first.locator(".bar").all()}


def wait_prediction_change(page, before: str | None, timeout: float = 30_000) -> str:
    """After a mouse-up: wait until the scores show something other than ``before`` (the
    canvas sends 200 ms after the stroke, so the app is still idle right after it)."""
    page.wait_for_function(
        f"before => {{ const v = ({SCORES_SIG_JS})(); return v !== null && v !== before; }}",
        arg=before, timeout=timeout)
    page.locator(IDLE).wait_for(timeout=timeout)
    return prediction(page)


def scores_signature(page) -> str | None:
    """What :func:`wait_prediction_change` compares: guess and every probability."""
    return page.evaluate(SCORES_SIG_JS)
