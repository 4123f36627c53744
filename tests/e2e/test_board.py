"""The class board in a real browser: a teacher creates a class, two students (two browser
contexts, i.e. two Streamlit sessions) join by link and by code, publish runs and add
drawings from the Draw page; every board shows both without a reload (the version poll);
the teacher hides one and the students' boards drop it on their own.

Its own server: a small default model (LR_DEFAULT_TRAIN_SIZE=2000), a fresh data directory
and board database, and a 1 s poll so the live refresh is seen quickly.
"""
from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

import pytest

from tools.browser import (
    select_option,
    MODEL_TIMEOUT_MS,
    TIMEOUT_MS,
    VIEWPORT,
    assert_no_error,
    click_button,
    draw,
    fill,
    nav_click,
    ring,
    start_app,
    stop_app,
    vertical_stroke,
    wait_idle,
)

LIVE_MS = 30_000  # a change must reach another session's board by itself within this


@pytest.fixture(scope="module")
def board_server(mnist_dir):
    tmp = Path(tempfile.mkdtemp(prefix="lr-board-e2e-"))
    with pytest.MonkeyPatch.context() as mp, \
            open(tmp / "server.log", "w") as log:  # beside the board's database
        mp.setenv("LR_DEFAULT_TRAIN_SIZE", "2000")
        mp.setenv("LR_DEFAULT_MAX_ITER", "40")
        mp.setenv("LR_DATA_DIR", str(tmp / "data"))
        mp.setenv("LR_BOARD_DB", f"sqlite:///{tmp / 'board.sqlite'}")
        mp.setenv("LR_BOARD_POLL_S", "1")
        try:
            proc, url = start_app(mnist_dir, log)
        except RuntimeError as e:
            pytest.fail(str(e))
    try:
        yield url
    finally:
        stop_app(proc)


def _context(browser, url):
    return browser.new_context(base_url=url, viewport=VIEWPORT)


def open_weights_from_chart(page, tries: int = 4) -> None:
    """Click a point of the board's chart until that run's weights show. A live rerun
    (another student published) can redraw the chart under the first click."""
    points = page.locator(".st-key-board_chart .scatterlayer .points path")
    for attempt in range(tries):
        wait_idle(page)
        points.nth(attempt % max(points.count(), 1)).click(force=True)
        try:
            wait_idle(page, "Weights of #", 15_000)
            return
        except Exception:  # noqa: BLE001 - try again, the last time let it fail
            if attempt == tries - 1:
                raise


def wait_runs(page, text: str, timeout: float = LIVE_MS) -> None:
    page.locator("h3", has_text=text).first.wait_for(timeout=timeout)


def publish(page, nickname: str) -> None:
    fill(page, "board_nickname", nickname)
    click_button(page, "board_publish")
    wait_idle(page, f"Published as {nickname}", MODEL_TIMEOUT_MS)


def add_drawing(page, stroke, label: str) -> None:
    nav_click(page, "Draw", "Scoring with", MODEL_TIMEOUT_MS)
    page.locator("canvas.upper-canvas").wait_for(timeout=TIMEOUT_MS)
    draw(page, stroke)
    page.locator(".st-key-board_draw_panel").wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    select_option(page, "board_draw_label", label)
    click_button(page, "board_draw_add")
    wait_idle(page, f"Added your {label}")


def test_a_class_in_three_browsers(browser, board_server):
    contexts = [_context(browser, board_server) for _ in range(3)]
    teacher, ada, bo = (c.new_page() for c in contexts)
    try:
        # The teacher opens a class with a sparsity challenge.
        teacher.goto("/board")
        wait_idle(teacher, "Start a class", MODEL_TIMEOUT_MS)
        fill(teacher, "board_new_title", "Period 3")
        fill(teacher, "board_new_sparsity", "0")
        fill(teacher, "board_new_challenge", "Best test accuracy, any sparsity")
        click_button(teacher, "board_create")
        wait_idle(teacher, "Links to share", MODEL_TIMEOUT_MS)
        code = teacher.locator("[data-testid='stMetricValue']").first.inner_text().strip()
        assert re.fullmatch(r"[A-Z2-9]{6}", code), code
        links = [c.inner_text() for c in teacher.locator("[data-testid='stCode'] code").all()]
        student_link = next(x for x in links if "t=" not in x)
        assert f"class={code}" in student_link and any("t=" in x for x in links)

        # Ada follows the student link; Bo types the code.
        ada.goto(student_link)
        wait_idle(ada, "Publish your current model", MODEL_TIMEOUT_MS)
        assert ada.locator(".st-key-board_close").count() == 0  # no moderation
        bo.goto("/board")
        wait_idle(bo, "Join a class", MODEL_TIMEOUT_MS)
        fill(bo, "board_join_code", code.lower())
        click_button(bo, "board_join")
        wait_idle(bo, "Publish your current model", MODEL_TIMEOUT_MS)

        publish(ada, "Ada")
        publish(bo, "Bo")
        wait_runs(ada, "Runs (2)")  # Bo's run reached Ada's board by itself
        wait_runs(teacher, "Runs (2)")
        # Clicking a point of the chart opens that run's weights.
        open_weights_from_chart(ada)
        ada.locator(".st-key-board_weights_1, .st-key-board_weights_2").first.wait_for(
            timeout=TIMEOUT_MS)
        add_drawing(ada, vertical_stroke(), "1")
        add_drawing(bo, ring(), "0")

        # The teacher's board (never reloaded) shows both runs and both digits.
        teacher.locator("h3", has_text="Our own digits (2)").wait_for(timeout=LIVE_MS)
        wait_idle(teacher)
        assert teacher.locator("[data-testid='stImage'] img").count() >= 2
        assert "MNIST test accuracy vs accuracy on our digits" in teacher.inner_text("body")

        # The teacher hides Ada's run; Bo's board drops it on its own.
        nav_click(bo, "Class board", "Publish your current model")
        wait_runs(bo, "Runs (2)")
        select_option(teacher, "board_mod_entry", "#1 Ada")
        click_button(teacher, "board_hide")
        wait_runs(teacher, "1 hidden", TIMEOUT_MS)
        wait_runs(bo, "Runs (1)")
        wait_idle(bo)
        assert "Ada" not in bo.locator("[data-testid='stMarkdown']").all_inner_texts().__str__()
        # The teacher's CSV has both runs, Ada's marked hidden.
        with teacher.expect_download(timeout=TIMEOUT_MS) as dl:
            click_button(teacher, "board_csv")
        rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
        assert {r["nickname"]: r["hidden"] for r in rows} == {"Ada": "1", "Bo": "0"}
        for p in (teacher, ada, bo):
            assert_no_error(p)
    finally:
        for c in contexts:
            c.close()
