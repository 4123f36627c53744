"""Take the README's screenshots: every page of a freshly started app, in headless Chromium.

Run:  MNIST_DIR=../shared/mnist python docs/make_screenshots.py [--out docs/screenshots]

Each page is shown as a user would first use it: Draw with a digit drawn, Weights and
Evaluate of the default model, Train paused step by step (the live curves, the test
digits with the current guesses, the controls) and after a short run, Experiments with the
training-size curve run. ``--width 1024 --height 768`` (a projector) or ``--width 390
--height 844`` (a phone) take the same pictures at that size. Uses the Playwright helpers
of tools/browser.py.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.browser import (  # noqa: E402
    MODEL_TIMEOUT_MS,
    click_button,
    draw,
    fill,
    launch_chromium,
    nav_click,
    select_option,
    start_app,
    stop_app,
    wait_idle,
)

VIEWPORT = {"width": 1400, "height": 1000}


def _charts_drawn(page) -> None:
    for chart in page.locator("[data-testid='stMain'] [data-testid='stPlotlyChart']").all():
        if chart.is_visible():
            chart.locator("svg.main-svg").first.wait_for(state="attached")
    page.wait_for_timeout(800)  # plotly's transitions


def _three(size: float = 280) -> list[tuple[float, float]]:
    """A handwritten-looking 3: two bowls opening to the left."""
    s = size / 280
    pts = [(95, 70), (130, 55), (170, 60), (190, 85), (180, 115), (145, 135), (125, 138),
           (150, 140), (185, 155), (195, 185), (180, 215), (145, 228), (105, 220), (88, 205)]
    return [(x * s, y * s) for x, y in pts]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--width", type=int, default=VIEWPORT["width"], help="window width")
    ap.add_argument("--height", type=int, default=VIEWPORT["height"],
                    help="window height; Streamlit scrolls inside the window, so a tall "
                         "one (e.g. 5000) shows whole pages")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    proc, url = start_app(os.environ.get("MNIST_DIR", ""), timeout=120)
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_context(viewport={"width": args.width, "height": args.height},
                                       base_url=url,
                                       device_scale_factor=1).new_page()
            page.set_default_timeout(MODEL_TIMEOUT_MS)

            def shot(name: str) -> None:
                _charts_drawn(page)
                page.mouse.move(2, 2)
                page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                print("wrote", out / f"{name}.png")

            def go(title: str, path: str, marker: str) -> None:
                # A phone's sidebar is folded away: reach the page by its address there.
                if args.width < 640:
                    page.goto(path)
                    wait_idle(page, marker)
                else:
                    nav_click(page, title, marker)

            page.goto("/draw")
            wait_idle(page, "Scoring with")
            draw(page, _three())
            page.locator(".scores .prediction").first.wait_for()
            wait_idle(page)
            shot("draw")

            go("Home", "/", "Ready?")
            shot("home")

            go("Weights", "/weights", "What the model learned")
            shot("weights")

            go("Evaluate", "/evaluate", "Confusion matrix")
            shot("evaluate")

            go("Train", "/train", "Train a model")
            fill(page, "train_size", "20000")
            select_option(page, "train_speed", "Step by step")
            click_button(page, "train_go")
            page.get_by_text("Paused at iteration").first.wait_for()
            for _ in range(3):
                click_button(page, "train_step")
            page.get_by_text("Paused at iteration 4").first.wait_for()
            page.locator(".sample-predictions figure").first.wait_for()
            wait_idle(page)
            shot("train-live")
            click_button(page, "train_pause")  # Resume: the run goes on to its end
            page.locator(".st-key-train_last_chart svg.main-svg").first.wait_for()
            wait_idle(page)
            shot("train")

            go("Experiments", "/experiments", "Why does a linear model do so well")
            fill(page, "exp_size_sizes", "300, 1000, 3000, 10000, 30000, 60000")
            click_button(page, "exp_size_run")
            page.get_by_text("Result: finished.").first.wait_for()
            wait_idle(page)
            shot("experiments")

            go("Theory", "/theory", "Where the math comes from")
            shot("theory")
            browser.close()
    finally:
        stop_app(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
