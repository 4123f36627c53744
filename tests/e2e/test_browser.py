"""The app in a real headless Chromium: what only a browser shows (the canvas, live charts,
clicks on a plotly chart).

Each test gets a fresh browser context, i.e. a new Streamlit session; the default model
is per server process, so the first test trains it once for all. Pages are reached by URL
path (``page.goto``: a new session) or by their sidebar link (same session), never by the
files that implement them.
"""
from __future__ import annotations

import json
import re

import pytest

from tools.browser import (
    MODEL_TIMEOUT_MS,
    SHELL_MARKER,
    TIMEOUT_MS,
    VIEWPORT,
    assert_no_error,
    click_button,
    draw,
    fill,
    ink,
    nav_click,
    open_page,
    prediction,
    probabilities,
    ring,
    sample,
    samples,
    scores_signature,
    start_app,
    stop_app,
    vertical_stroke,
    wait_empty_canvas,
    wait_idle,
    wait_prediction_change,
)

# url path, sidebar title, a text only that page shows once it is drawn (None: the title).
PAGES = [
    ("/", "Home", "Ready?"),
    ("/train", "Train", "Train a model"),
    ("/weights", "Weights", "What the model learned"),
    ("/evaluate", "Evaluate", "Confusion matrix"),
    ("/draw", "Draw", "Scoring with"),
    ("/experiments", "Experiments", "Why does a linear model do so well"),
    ("/theory", "Theory", "Where the math comes from"),
]
DRAW_HINT = "Draw a digit…"


def set_train_size(page, n: int) -> None:
    """Type ``n`` into the Train page's training digits and wait until the page has taken
    it (it mirrors its settings in the URL)."""
    size = page.locator(".st-key-train_size input")
    size.fill(str(n))
    size.press("Enter")
    page.wait_for_function(f"() => location.search.includes('train_size={n}')",
                           timeout=TIMEOUT_MS)
    wait_idle(page)


def _gallery(page):
    """The images of the selected confusion cell (the container holding the two boxes)."""
    return page.locator(".st-key-eval_cell [data-testid='stImage'] img")


# ----------------------------------------------------------------------------- tests
def test_default_model_is_trained_when_first_needed(page):
    """First test on purpose: trains the default model (all of MNIST) for the others."""
    open_page(page, "/draw", "Draw a digit", MODEL_TIMEOUT_MS)
    wait_idle(page, "Scoring with", MODEL_TIMEOUT_MS)
    page.locator("canvas.upper-canvas").wait_for(timeout=TIMEOUT_MS)
    assert "default model" in page.get_by_text("Scoring with").first.inner_text()
    assert page.get_by_text(DRAW_HINT).count() == 1
    assert_no_error(page)


@pytest.mark.parametrize("path,title,marker", PAGES, ids=[p[1].lower() for p in PAGES])
def test_every_page_opens_without_error(page, path, title, marker):
    open_page(page, "/", "Ready?")
    nav = page.locator("[data-testid='stSidebarNav'] a")
    hrefs = [re.sub(r"^https?://[^/]+", "", h or "") or "/"
             for h in nav.evaluate_all("as => as.map(a => a.getAttribute('href'))")]
    assert path in hrefs, f"no sidebar link to {path}: {hrefs}"

    open_page(page, path, marker)
    main = page.locator("[data-testid='stMain']")
    main.locator("h1, h2").first.wait_for(timeout=TIMEOUT_MS)  # a title or a header
    assert page.get_by_text("Page not found").count() == 0
    # The page's own sidebar link is the highlighted one.
    active = page.locator("[data-testid='stSidebarNav'] a[aria-current='page']")
    if active.count():
        assert title in active.first.inner_text()
    # Every chart the page drew has rendered (plotly loads lazily, seconds on a busy box;
    # a chart in a closed expander is rendered but hidden).
    for chart in page.locator("[data-testid='stPlotlyChart']").all():
        chart.locator("svg.main-svg").first.wait_for(state="attached", timeout=TIMEOUT_MS)
    wait_idle(page)
    assert_no_error(page)


def test_training_updates_the_live_chart_before_it_finishes(page):
    # 20,000 digits to tol 1e-6: 10-20 s of training. Much less and it can be over before
    # the browser has loaded plotly's JS for the session's first chart (2-3 s on a busy
    # box; at the default tol, 50 iterations in ~3 s, a CI run once saw only two of them).
    open_page(page, "/train?tol=1e-06", "Train a model")
    set_train_size(page, 20000)

    # Sampled every 100 ms in the page: the iteration in the progress text, the live
    # chart's line paths, and whether the finished run's panel is there yet.
    sample(page, """JSON.stringify([
        ((document.querySelector("[data-testid='stProgress']") || {}).innerText || '')
            .match(/Iteration (\\d+)/)?.[1] ?? null,
        [...document.querySelectorAll(".st-key-train_live .scatterlayer path.js-line")]
            .map(e => e.getAttribute('d')).join(';'),
        !!document.querySelector('.st-key-train_last_chart')])""")
    click_button(page, "train_go")
    page.locator(".st-key-train_last_chart svg.main-svg").first.wait_for(timeout=MODEL_TIMEOUT_MS)
    wait_idle(page)
    seen = [json.loads(s) for s in samples(page)]

    live = [s for s in seen if not s[2]]  # before the run finished
    iterations = {int(it) for it, _, _ in live if it is not None}
    charts = {paths for _, paths, _ in live if paths}
    assert len(iterations) >= 3, f"progress seen at iterations {sorted(iterations)}"
    assert len(charts) >= 3, f"only {len(charts)} distinct live charts drawn"
    assert any(done for _, _, done in seen)

    main = page.locator("[data-testid='stMain']")
    main.get_by_text("run 1: L2, C=0.01, 20,000 digits").first.wait_for()
    assert main.locator("[data-testid='stAlertContentSuccess'], "
                        "[data-testid='stAlertContentInfo']").count() >= 1
    # The run became the current model.
    assert "run 1" in page.locator("[data-testid='stSidebar']").inner_text()
    assert_no_error(page)


def test_stop_keeps_a_usable_model(page):
    # A long run (all digits, up to 300 iterations); the settings come from the URL. Not the
    # default model's settings (C=0.01): the engine would hand back that finished run.
    open_page(page, "/train?train_size=60000&max_iter=300&C=0.02", "Train a model")
    assert page.locator(".st-key-train_size input").input_value() == "60000"
    assert page.locator(".st-key-train_max_iter input").input_value() == "300"
    click_button(page, "train_go")
    # A couple of seconds into the run: a few iterations done.
    page.wait_for_function(
        """() => { const b = document.querySelector("[data-testid='stProgress']");
                   const m = b && b.innerText.match(/Iteration (\\d+)/);
                   return m && +m[1] >= 3; }""", timeout=MODEL_TIMEOUT_MS)
    click_button(page, "train_stop")

    stopped = page.get_by_text(re.compile(r"Stopped by the user after (\d+) iterations"))
    stopped.first.wait_for(timeout=MODEL_TIMEOUT_MS)
    wait_idle(page)
    n = int(re.search(r"after (\d+) iterations", stopped.first.inner_text()).group(1))
    assert 3 <= n < 300
    assert_no_error(page)
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("run 1: L2, C=0.02, 60,000 digits").first.wait_for()
    sidebar = page.locator("[data-testid='stSidebar']").inner_text()
    assert "run 1: L2, C=0.02, 60,000 digits" in sidebar
    assert re.search(r"test accuracy \d{1,3}\.\d{2}%", sidebar)
    assert page.locator(".st-key-train_go button").is_enabled()  # ready for another run

    # Usable: the Draw page (same session) scores a stroke with it.
    nav_click(page, "Draw", "Scoring with")
    assert "run 1" in page.get_by_text("Scoring with").first.inner_text()
    draw(page, vertical_stroke())
    guess = wait_prediction_change(page, None)
    assert guess in list("0123456789")
    assert sum(probabilities(page).values()) == pytest.approx(100, abs=0.1)
    assert_no_error(page)


def test_weight_images_render(page):
    open_page(page, "/weights", "What the model learned")
    tiles = page.locator("#weights_main figure.wtile")
    tiles.nth(9).wait_for(timeout=TIMEOUT_MS)  # one tile per digit
    assert tiles.count() == 10
    for tile in tiles.all():
        img = tile.locator("img")
        box = img.bounding_box()
        assert box["width"] > 50 and box["height"] == pytest.approx(box["width"], abs=1)
        assert (img.get_attribute("src") or "").startswith("data:image/png")
    titles = {t.text_content().strip() for t in page.locator("#weights_main figcaption").all()}
    assert {f"class {d}" for d in range(10)} <= titles
    # The snapshots of the weights during training render too.
    page.locator("#weights_snapshot_chart figure.wtile img").nth(9).wait_for(
        timeout=TIMEOUT_MS)
    assert_no_error(page)


@pytest.mark.parametrize("width, height", [(390, 844), (1024, 768)])
def test_weight_tiles_are_readable_on_a_phone(browser, base_url, width, height):
    """The ten weight images wrap instead of shrinking: on a 390 px phone every tile is at
    least 100 px wide (a 28x28 image at 3.5 px per weight) and inside the screen."""
    page = browser.new_page(base_url=base_url, viewport={"width": width, "height": height})
    try:
        open_page(page, "/weights", "What the model learned", MODEL_TIMEOUT_MS)
        imgs = page.locator("#weights_main figure.wtile img")
        imgs.nth(9).wait_for(timeout=TIMEOUT_MS)
        boxes = [img.bounding_box() for img in imgs.all()]
        assert len(boxes) == 10
        for box in boxes:
            assert box["width"] >= 100, box
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, box
        rows = len({round(b["y"]) for b in boxes})
        assert rows == (4 if width < 500 else 2)  # 3 a row on the phone, 5 on a projector
        bar = page.locator("#weights_main .colorbar").bounding_box()
        assert bar["x"] >= 0 and bar["x"] + bar["width"] <= width + 1
        assert_no_error(page)
    finally:
        page.close()


def test_clicking_a_confusion_cell_shows_its_digits(page):
    open_page(page, "/evaluate", "Confusion matrix")
    chart = page.locator(".st-key-eval_confusion")
    chart.locator(".xtick text").first.wait_for(timeout=TIMEOUT_MS)
    cell_text = page.get_by_text(re.compile(r"test digits that are \d and were"))
    current = re.search(r"are (\d) and were predicted as (\d)", cell_text.first.inner_text())
    # The page opens on the most frequent mistake: click another cell.
    true, pred = ("4", "9") if current.groups() != ("4", "9") else ("7", "2")

    col = chart.locator(".xtick text").filter(has_text=re.compile(rf"^{pred}$")).bounding_box()
    row = chart.locator(".ytick text").filter(has_text=re.compile(rf"^{true}$")).bounding_box()
    page.mouse.click(col["x"] + col["width"] / 2, row["y"] + row["height"] / 2)

    cell = page.get_by_text(re.compile(rf"(\d+) test digits that are {true} and were "
                                       rf"predicted as {pred}"))
    cell.first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    count = int(re.match(r"([\d,]+)", cell.first.inner_text()).group(1).replace(",", ""))
    assert count > 0
    imgs = _gallery(page)
    imgs.first.wait_for(timeout=TIMEOUT_MS)
    assert imgs.count() == min(count, 30)
    for img in imgs.all():
        img.scroll_into_view_if_needed()
        assert img.evaluate("i => i.complete && i.naturalWidth > 0")
    # The two boxes moved to the clicked cell too.
    assert page.locator(".st-key-eval_true input").input_value() == true
    assert page.locator(".st-key-eval_pred input").input_value() == pred
    assert_no_error(page)


def test_draw_one_and_zero_then_clear(page):
    open_page(page, "/draw", "Scoring with", MODEL_TIMEOUT_MS)
    assert "default model" in page.get_by_text("Scoring with").first.inner_text()
    page.get_by_text(DRAW_HINT).first.wait_for()

    for shape, digit in ((vertical_stroke(), "1"), (ring(), "0")):
        assert prediction(page) is None and ink(page) == 0
        draw(page, shape)
        assert ink(page) > 0
        assert wait_prediction_change(page, None) == digit
        probs = probabilities(page)
        assert max(probs, key=probs.get) == digit
        assert sum(probs.values()) == pytest.approx(100, abs=0.1)
        assert_no_error(page)

        click_button(page, "draw_clear")
        page.get_by_text(DRAW_HINT).first.wait_for(timeout=TIMEOUT_MS)
        wait_idle(page)
        assert scores_signature(page) is None
        assert page.locator(".scores").count() == 0
        wait_empty_canvas(page)
    assert_no_error(page)


def test_deep_link_on_a_fresh_server(browser, mnist_dir):
    """The first visitor of a fresh server opens a page by a shared link, not "/": the page
    comes inside the app's shell (pages.common.require_app_shell) with the link's settings."""
    proc, url = start_app(mnist_dir)
    try:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(url + "/train?penalty=l1&C=0.5")
        wait_idle(page, "Train a model")
        assert page.get_by_text(SHELL_MARKER).count() == 1
        assert page.locator("[data-testid='stSidebarNav']").get_by_role(
            "link", name=re.compile(r"\bTrain$")).count() == 1
        assert page.locator(".st-key-train_C input").input_value() == "0.5"
        assert page.get_by_role("radio", name="L1").is_checked()
        page.close()
    finally:
        stop_app(proc)


# ----------------------------------------------------------------------------- experiments
def test_experiments_size_curve_runs_live_and_downloads(page):
    open_page(page, "/experiments", "Why does a linear model do so well")
    # Every question has its tab with a Run button.
    for label in ("Training-set size", "Regularization path", "Choosing C",
                  "Softmax vs one-vs-rest", "Preprocessing", "Linear vs other models"):
        page.get_by_role("tab", name=re.compile(label)).click()
        wait_idle(page)
    page.get_by_role("tab", name=re.compile("Training-set size")).click()
    fill(page, "exp_size_sizes", "300, 1000, 3000")
    sample(page, """((document.querySelector("[data-testid='stProgress']") || {}).innerText
                     || '').match(/Step \\d+ of \\d+/)?.[0] ?? ''""")
    click_button(page, "exp_size_run")
    page.get_by_text("Result: finished.").first.wait_for(timeout=MODEL_TIMEOUT_MS)
    wait_idle(page)
    steps = [s for s in samples(page) if s]
    assert len(steps) >= 2, f"progress seen: {steps}"  # live progress, not only the end
    chart = page.locator(".st-key-exp_size_chart")
    chart.locator("svg.main-svg").first.wait_for(timeout=TIMEOUT_MS)
    assert chart.locator(".scatterlayer .trace").count() >= 2  # train and test accuracy
    with page.expect_download() as dl:
        click_button(page, "exp_size_download")
    lines = open(dl.value.path()).read().splitlines()
    assert lines[0].startswith("# {") and '"sizes": [300, 1000, 3000]' in lines[0]  # settings
    rows = [ln for ln in lines if not ln.startswith("#")]
    assert "train_size" in rows[0].split(",") and "test_accuracy" in rows[0].split(",")
    assert [r.split(",")[rows[0].split(",").index("train_size")] for r in rows[1:]] == \
        ["300", "1000", "3000"]
    # Same settings again: shown at once from the session's cache.
    click_button(page, "exp_size_run")
    page.get_by_text("from this session's cache").first.wait_for(timeout=TIMEOUT_MS)
    # Bad input: a clear message, Run disabled, the result kept.
    fill(page, "exp_size_C", "-1")
    assert page.locator("[data-testid='stAlertContentError']").count() >= 1
    assert page.locator(".st-key-exp_size_run button").is_disabled()
    assert page.locator(".st-key-exp_size_chart svg.main-svg").count() >= 1
    assert page.locator("[data-testid='stException']").count() == 0


def test_regularization_path_click_opens_weights(page):
    open_page(page, "/experiments", "Why does a linear model do so well")
    page.get_by_role("tab", name=re.compile("Regularization path")).click()
    wait_idle(page)
    fill(page, "exp_reg_train_size", "500")
    fill(page, "exp_reg_points", "3")
    fill(page, "exp_reg_max_iter", "50")
    click_button(page, "exp_reg_run")
    page.get_by_text("Result: finished.").first.wait_for(timeout=MODEL_TIMEOUT_MS)
    wait_idle(page)
    chart = page.locator(".st-key-exp_reg_chart")
    points = chart.locator(".scatterlayer .trace .points path")
    points.first.wait_for(timeout=TIMEOUT_MS)
    weights = page.locator(".st-key-exp_reg_weights g.hm image")
    weights.nth(9).wait_for(timeout=TIMEOUT_MS)
    before = page.locator(".st-key-exp_reg_point input").input_value()
    # Click points until one selects another model (the first may be the one shown).
    for i in range(points.count()):
        box = points.nth(i).bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        wait_idle(page)
        after = page.locator(".st-key-exp_reg_point input").input_value()
        if after != before:
            break
    assert after != before, "clicking the path's points never changed the model shown"
    assert page.locator(".st-key-exp_reg_weights g.hm image").count() == 10
    assert_no_error(page)


def test_theory_follows_the_chosen_digit(page):
    open_page(page, "/theory", "Where the math comes from", MODEL_TIMEOUT_MS)
    text = lambda: page.get_by_text(re.compile(r"so this digit's loss is")).first.inner_text()
    first = text()
    assert page.locator("[data-testid='stMain'] .katex").count() >= 5  # the formulas
    click_button(page, "theory_next_mistake")
    page.wait_for_function(
        "() => [...document.querySelectorAll('p')].some(p => /\\(wrong\\)/.test(p.innerText))",
        timeout=TIMEOUT_MS)
    wait_idle(page)
    assert text() != first
    assert "(wrong)" in text()
    assert_no_error(page)


@pytest.mark.parametrize("width, height", [(1024, 768), (1280, 720), (390, 844)])
def test_the_draw_page_fits_a_projector_and_a_phone(browser, base_url, width, height):
    """On a classroom projector with the sidebar open the whole canvas is on screen (a
    column split once left 156 of its 280 px visible at 1024x768); on a phone the canvas fits
    the width, and once drawn, the guess, the 28x28 picture and the three evidence maps all
    stay inside the page's width."""
    page = browser.new_page(base_url=base_url, viewport={"width": width, "height": height})
    try:
        open_page(page, "/draw", "Scoring with", MODEL_TIMEOUT_MS)
        sidebar = page.locator("[data-testid='stSidebar']")
        if width >= 1024:
            assert sidebar.bounding_box()["width"] > 200  # open, as on a projector
        canvas = page.locator("canvas.upper-canvas").bounding_box()
        assert canvas["x"] >= 0 and canvas["y"] >= 0
        assert canvas["x"] + canvas["width"] <= width
        assert canvas["y"] + canvas["height"] <= height
        # Nothing the page draws is hidden under a visible sidebar.
        if width >= 1024:
            side = sidebar.bounding_box()
            assert canvas["x"] >= side["x"] + side["width"]
        draw(page, ring())
        wait_prediction_change(page, None)
        wait_idle(page)
        for sel in (".scores", ".digits img", ".evidence .evmap img", ".colorbar"):
            for box in [el.bounding_box() for el in page.locator(sel).all()]:
                assert box is not None and box["x"] >= 0, sel
                assert box["x"] + box["width"] <= width + 1, sel
        assert page.locator(".evidence .evmap img").count() == 3
        assert_no_error(page)
    finally:
        page.close()


def test_the_default_models_settings_give_its_run_at_once(page):
    """Identical settings are one training: pressing Train with exactly the default model's
    settings (all digits, the app's defaults) gets that finished run back from the engine."""
    open_page(page, "/draw", "Scoring with", MODEL_TIMEOUT_MS)  # the default model exists
    nav_click(page, "Train", "Train a model")
    set_train_size(page, 60000)
    click_button(page, "train_go")
    page.locator(".st-key-train_last_chart svg.main-svg").first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    assert page.locator("[data-testid='stProgress']").count() == 0
    main = page.locator("[data-testid='stMain']")
    assert main.get_by_text(re.compile(r"run \d+: L2, C=0\.01, 60,000 digits")).count() >= 1
    assert_no_error(page)
