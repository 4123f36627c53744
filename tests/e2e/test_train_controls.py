"""The Train page's Playground controls in a real browser: a run started step by step
waits at iteration 1, Step advances it by one, Resume lets it run, Stop keeps it; the test
digits with the model's current guesses appear beside the curves; the controls fit a
projector (1024x768 with the sidebar open) and a phone."""
from __future__ import annotations

import re

import pytest

from tools.browser import (
    MODEL_TIMEOUT_MS,
    assert_no_error,
    click_button,
    open_page,
    select_option,
    wait_idle,
)

# Long on purpose (tiny tol, many iterations): it runs until the test stops it.
LONG = "/train?train_size=3000&max_iter=5000&tol=1e-08&C=0.03"


def paused_at(page) -> int:
    text = page.get_by_text(re.compile(r"Paused at iteration \d+")).first
    text.wait_for(timeout=MODEL_TIMEOUT_MS)
    return int(re.search(r"iteration (\d+)", text.inner_text()).group(1))


def wait_paused_at(page, n: int) -> None:
    page.get_by_text(f"Paused at iteration {n}.", exact=False).first.wait_for(
        timeout=MODEL_TIMEOUT_MS)


def inside(page, selector: str) -> None:
    """Every element matching ``selector`` is visible and within the viewport's width."""
    width = page.viewport_size["width"]
    found = page.locator(f"{selector} >> visible=true")
    found.first.wait_for(timeout=MODEL_TIMEOUT_MS)
    for box in [el.bounding_box() for el in found.all()]:
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, \
            f"{selector} sticks out of a {width} px wide window: {box}"


@pytest.mark.parametrize("viewport", [{"width": 1024, "height": 768},
                                      {"width": 390, "height": 844}])
def test_step_by_step_then_resume_and_stop(page, viewport):
    page.set_viewport_size(viewport)
    open_page(page, LONG, "Train a model")
    select_option(page, "train_speed", "Step by step")
    click_button(page, "train_go")
    assert paused_at(page) == 1
    strip = page.locator(".sample-predictions figure")
    strip.first.wait_for(timeout=MODEL_TIMEOUT_MS)
    assert strip.count() == 20
    assert "test digits read right" in page.locator(".sample-predictions").inner_text()
    for selector in (".st-key-train_pause button", ".st-key-train_step button",
                     ".st-key-train_stop button", ".st-key-train_live_speed"):
        inside(page, selector)
    click_button(page, "train_step")
    wait_paused_at(page, 2)
    click_button(page, "train_step")
    wait_paused_at(page, 3)
    click_button(page, "train_pause")  # Resume
    page.wait_for_function(
        """() => { const b = document.querySelector("[data-testid='stProgress']");
                   const m = b && b.innerText.match(/Iteration (\\d+)/);
                   return m && +m[1] >= 10; }""", timeout=MODEL_TIMEOUT_MS)
    click_button(page, "train_stop")
    stopped = page.get_by_text(re.compile(r"Stopped by the user after (\d+) iterations"))
    stopped.first.wait_for(timeout=MODEL_TIMEOUT_MS)
    wait_idle(page)
    assert int(re.search(r"after (\d+)", stopped.first.inner_text()).group(1)) >= 10
    inside(page, ".st-key-train_continue button")
    assert_no_error(page)
