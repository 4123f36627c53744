"""AppTest of the Draw page: blank hint, a drawing injected into the canvas, Clear, models.

streamlit-drawable-canvas 0.13 is a v2 component: its value lives in session state under
its key as ``{"drawing": {"raw": <fabric json>, "data": <PNG data URL>}, "backgroundFit":
...}``, and ``CanvasResult.image_data`` simply decodes ``data``. Setting that before a run
is exactly what the browser's send does, so the page's whole image -> results path runs.
"""
from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from lrcore.config import TrainConfig
from lrcore.data import load_mnist
from lrcore.train import train

HINT = "Draw a digit…"


@pytest.fixture
def at(mnist_dir, monkeypatch) -> AppTest:
    monkeypatch.setenv("MNIST_DIR", str(mnist_dir))
    monkeypatch.setenv("LR_DEFAULT_TRAIN_SIZE", "5000")
    monkeypatch.setenv("LR_DEFAULT_MAX_ITER", "60")
    app = AppTest.from_file("../app.py", default_timeout=60)
    app.run()
    app.switch_page("pages/draw.py")
    app.run()
    assert not app.exception
    return app


def png_url(draw) -> str:
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw(ImageDraw.Draw(img))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def stroke(d):
    d.line([(140, 50), (140, 230)], fill=(255, 255, 255, 255), width=20)


def canvas_key(at: AppTest) -> str:
    """The canvas's current key (pages/draw.py bumps the number on Clear)."""
    gen = at.session_state["draw_canvas_gen"] if "draw_canvas_gen" in at.session_state else 0
    return f"draw_canvas_{gen}"


def inject(at: AppTest, draw) -> None:
    at.session_state[canvas_key(at)] = {
        "drawing": {"raw": {"objects": [{"type": "path"}]}, "data": png_url(draw)},
        "backgroundFit": None,
    }
    at.run()
    assert not at.exception


def html_blocks(at: AppTest) -> list[str]:
    """The bodies of the page's st.html elements, in order."""
    return [el.proto.body for el in at.get("html")]


def scores(at: AppTest) -> list[str]:
    """The score blocks (lrcore.figures.draw.scores_html) on the page, in order: the HTML from
    each block's start to the next one's."""
    marker = "<div class='scores'>"
    return [marker + part for b in html_blocks(at) for part in b.split(marker)[1:]]


def prediction(at: AppTest) -> str | None:
    """The big predicted digit, or None when the page shows none."""
    blocks = scores(at)
    if not blocks:
        return None
    return re.search(r"class='prediction'[^>]*>([^<]*)<", blocks[0]).group(1)


def proba_of(at: AppTest) -> np.ndarray:
    """The percentages behind the bars of the (first) score block."""
    return np.array([float(p) for p in re.findall(r"data-p='([0-9.]+)'", scores(at)[0])])


def pictures(at: AppTest) -> dict[str, int]:
    """Pictures on the page by kind: "seen" (the 28x28 digit the model gets), "raw" (the
    digit before a preprocessing that changes it), "evidence" (maps), "naive"; each kind
    -> the number of 28x28 PNG images of that kind."""
    out: dict[str, int] = {}
    for b in html_blocks(at):
        if "class='draw-naive'" in b:
            out["naive"] = b.count("<img ")
            continue
        if "class='evidence'" in b:
            out["evidence"] = b.count("class='evmap'")
        n_digits = b.count("class='digit'")
        if n_digits:
            out["seen"] = 1
            if n_digits == 2:
                out["raw"] = 1
    return out


def hint_shown(at: AppTest) -> bool:
    return any(HINT in i.value for i in at.info)


def test_blank_canvas_shows_hint_and_no_guess(at):
    assert hint_shown(at)
    assert prediction(at) is None
    assert not pictures(at)
    assert "default model" in " ".join(c.value for c in at.caption)
    assert at.slider(key="draw_stroke").value == 20
    # An all-black image (e.g. after the toolbar's reset) is blank too.
    inject(at, lambda d: None)
    assert hint_shown(at) and prediction(at) is None


def test_drawing_shows_prediction_pictures_and_clear_empties(at):
    inject(at, stroke)
    assert not hint_shown(at)
    assert prediction(at) == "1"
    assert pictures(at) == {"seen": 1, "evidence": 3}
    assert any("Each map is the digit" in c.value for c in at.caption)
    p = proba_of(at)
    assert len(p) == 10 and p.sum() == pytest.approx(100.0, abs=0.1)
    assert p.argmax() == 1
    old_key = canvas_key(at)
    at.button(key="draw_clear").click().run()
    assert canvas_key(at) != old_key  # a fresh, empty canvas
    assert hint_shown(at) and prediction(at) is None


def test_naive_toggle_shows_what_naive_resize_predicts(at):
    inject(at, stroke)
    assert "naive" not in pictures(at)
    at.toggle(key="draw_naive").set_value(True).run()
    assert pictures(at)["naive"] == 1
    assert any("Naive resize → the model predicts" in b for b in html_blocks(at))
    assert len(scores(at)) == 2  # the drawing's scores and the naive resize's


def test_switching_the_current_model_updates_the_scores(at, mnist_dir):
    inject(at, stroke)
    before = proba_of(at)
    other = train(TrainConfig(train_size=300, test_size=500, max_iter=5, preprocess="standardize"),
                  load_mnist("idx", mnist_dir))
    at.session_state["runs"] = {"run 1": other}
    at.session_state["current_run"] = "run 1"
    at.run()
    assert not at.exception
    assert "run 1" in " ".join(c.value for c in at.caption)
    after = proba_of(at)
    assert not np.allclose(before, after)
    # A preprocessing that changes the picture shows it before and after.
    assert pictures(at)["raw"] == 1
    # The page's own picker switches back to the default model.
    at.selectbox(key="draw_model").set_value("default").run()
    assert at.session_state["current_run"] == "default"
    assert np.allclose(proba_of(at), before, atol=0.01)


def test_an_unchanged_image_is_not_answered_again(at):
    """A rerun that changes neither the drawing, the model nor the toggle (here the stroke
    width slider) reuses the last answer instead of decoding and explaining again."""
    inject(at, stroke)
    first = at.session_state["draw_last_answer"]
    at.slider(key="draw_stroke").set_value(30).run()
    assert at.session_state["draw_last_answer"] is first
    inject(at, lambda d: d.ellipse((80, 45, 200, 235), outline=(255, 255, 255, 255), width=20))
    assert at.session_state["draw_last_answer"] is not first
    assert prediction(at) == "0"


def test_a_drawing_goes_to_the_theory_page(at):
    inject(at, stroke)
    assert at.selectbox(key="draw_theory_label").value == 1  # the guess, by default
    at.selectbox(key="draw_theory_label").set_value(7).run()
    at.button(key="draw_to_theory").click().run()
    assert not at.exception
    sent = at.session_state["theory_drawn_digit"]
    assert sent["label"] == 7 and sent["pixels"].dtype == np.uint8 and sent["pixels"].max() > 200
    at.switch_page("pages/theory.py").run()
    assert not at.exception
    assert at.radio(key="theory_source").value == "drawn"
    text = " ".join(m.value for m in at.markdown)
    assert "the true class 7 a probability" in text  # the drawing, with the label given
