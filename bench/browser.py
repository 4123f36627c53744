"""Browser benchmark: how the app feels, measured in headless Chromium (not a test).

Run:  MNIST_DIR=../shared/mnist python bench/browser.py [--strokes 12] [--screenshots DIR]

Starts a fresh ``streamlit run app.py`` and prints:

- cold start: process start -> server healthy -> first page drawn ("/" idle);
- default model ready: first visit of the Draw page on that fresh server -> the canvas and
  "Scoring with default model" shown (it trains on the data in use, once per process);
- page switch: sidebar click -> the new page drawn and idle (median over several switches);
- mouse-up -> updated scores on the Draw page: from the stroke's mouse-up (recorded in the
  page, so Playwright's round trips do not count) to the moment the ten scores on screen
  change; median and spread over ``--strokes`` strokes. streamlit-drawable-canvas itself
  waits 200 ms after the mouse-up before it sends the drawing (its debounce), so that is
  the floor.

Uses the same helpers as the Playwright tests (tools/browser.py) and Debian's
chromium at /usr/bin/chromium (CHROMIUM=... to change). Timings are wall-clock on a shared
machine: run it alone, and read the medians.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.browser import (  # noqa: E402
    MODEL_TIMEOUT_MS,
    SCORES_SIG_JS,
    VIEWPORT,
    click_button,
    draw,
    launch_chromium,
    nav_click,
    ring,
    start_app,
    stop_app,
    vertical_stroke,
    wait_empty_canvas,
    wait_idle,
)

# Records the time of the last mouse-up and of the first change of the scores after it,
# both with performance.now(), from inside the page.
WATCH_JS = """() => {
    const sig = """ + SCORES_SIG_JS + """;
    window.__sig = sig(); window.__up = null; window.__changed = null;
    if (!window.__watching) {
        window.__watching = true;
        // The canvas lives in a shadow root; mouse events are composed, so they reach here.
        document.addEventListener('mouseup', () => { window.__up = performance.now(); }, true);
        const tick = () => {
            if (window.__up !== null && window.__changed === null && sig() !== window.__sig)
                window.__changed = performance.now();
            requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
    }
}"""


def _ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    s = sorted(values)
    return (f"median {statistics.median(s):6.0f} ms  (min {s[0]:.0f}, max {s[-1]:.0f}, "
            f"n={len(s)})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strokes", type=int, default=12, help="strokes to time (>= 10)")
    ap.add_argument("--switches", type=int, default=3, help="rounds of page switches")
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_DIR"),
                    help="IDX folder (default: $MNIST_DIR; else the app's own choice)")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    rows: list[tuple[str, str]] = []
    t0 = time.perf_counter()
    proc, url = start_app(args.data_dir or "", timeout=120)
    t_healthy = time.perf_counter() - t0
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_context(viewport=VIEWPORT, base_url=url).new_page()
            page.set_default_timeout(MODEL_TIMEOUT_MS)
            page.goto("/")
            wait_idle(page, "Ready?", settle_ms=0)
            t_first = time.perf_counter() - t0
            rows.append(("cold start: server healthy", f"{t_healthy:6.1f} s"))
            rows.append(("cold start: first page drawn", f"{t_first:6.1f} s"))

            t1 = time.perf_counter()
            nav_click(page, "Draw", "Scoring with", MODEL_TIMEOUT_MS)
            page.locator("canvas.upper-canvas").wait_for()
            rows.append(("default model ready (Draw page)",
                         f"{time.perf_counter() - t1:6.1f} s   "
                         f"({page.get_by_text('Scoring with').first.inner_text().strip()})"))

            switches = []
            for _ in range(args.switches):
                for title, marker in (("Weights", "What the model learned"),
                                      ("Evaluate", "Confusion matrix"),
                                      ("Train", "Train a model"), ("Home", "Ready?"),
                                      ("Draw", "Scoring with")):
                    t = time.perf_counter()
                    # The marker is only on the new page: once it is there and the run is
                    # over, the page is drawn (no settling time counted).
                    nav_click(page, title, marker, settle_ms=0)
                    switches.append((time.perf_counter() - t) * 1000)
            rows.append(("page switch (sidebar click -> idle)", _ms(switches)))

            page.locator("canvas.upper-canvas").wait_for()
            latencies, guesses = [], []
            shapes = (vertical_stroke(), ring())
            for i in range(max(args.strokes, 10)):
                page.evaluate(WATCH_JS)
                draw(page, shapes[i % 2])
                page.wait_for_function("() => window.__changed !== null")
                up, changed = page.evaluate("() => [window.__up, window.__changed]")
                latencies.append(changed - up)
                wait_idle(page, settle_ms=100)
                guesses.append(page.locator(".scores .prediction").first.inner_text().strip())
                click_button(page, "draw_clear")
                wait_idle(page, "Draw a digit…", settle_ms=100)
                wait_empty_canvas(page)
            rows.append(("mouse-up -> updated scores (Draw)", _ms(latencies)))
            rows.append(("  guesses (stroke, ring alternating)", " ".join(guesses)))
            browser.close()
    finally:
        stop_app(proc)

    width = max(len(k) for k, _ in rows)
    print(f"Browser benchmark  (headless Chromium, {os.cpu_count()} cores, "
          f"data: {args.data_dir or 'app default'})")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print("  target: mouse-up -> scores <= 300 ms; the canvas's own debounce is 200 ms.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
