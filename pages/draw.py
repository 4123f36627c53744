"""Draw page: draw a digit, see the current model's guess and the pixel-by-pixel reason.

The canvas (streamlit-drawable-canvas) sends its PNG 200 ms after each stroke; the rerun
turns it into a MNIST-style digit (lrcore.preprocess.canvas_to_mnist), explains the current
model's scores (lrcore.explain) and draws them. To keep up with the pen, canvas and results
are one fragment (a stroke does not rerun the app shell), the server's part takes under
10 ms up to the scores, and the scores are plain HTML that comes before the plotly figures.
"""
from __future__ import annotations

import hashlib
import io

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from lrcore.explain import explain_digit
from lrcore.figures.draw import digit_html, evidence_html, scores_html
from lrcore.labels import DEFAULT_MODEL_NAME, pct
from lrcore.preprocess import canvas_to_mnist, naive_resize
from lrcore.train import TrainedModel
from pages.board_ui import drawing_panel
from pages.common import (
    CURRENT,
    THEORY_DIGIT,
    DEFAULT_ID,
    current_id,
    current_model,
    model_label,
    require_app_shell,
    runs,
)

require_app_shell()

CANVAS_SIZE = 280
# Bumped by Clear: a canvas under a new key starts empty (the old one's state is dropped).
CANVAS_GEN = "draw_canvas_gen"
HINT = "Draw a digit… (white on the black canvas; the guess appears after each stroke)"
DEFAULT_STROKE = 20
LAST_ANSWER = "draw_last_answer"  # (key, (blocks, digit)) of the last image answered
GO_THEORY = "draw_go_theory"  # set by the Theory button's callback: switch page this run
EVIDENCE_CAPTION = (
    "Each map is the digit as the model sees it times one class's weights: red pixels vote "
    "for the class, blue against. A map's sum plus the class's bias is its logit, and the "
    "softmax of the logits gives the probabilities above.")


def canvas_key() -> str:
    return f"draw_canvas_{st.session_state.get(CANVAS_GEN, 0)}"


def _clear() -> None:
    st.session_state[CANVAS_GEN] = st.session_state.get(CANVAS_GEN, 0) + 1


def _pick_model() -> None:
    st.session_state[CURRENT] = st.session_state["draw_model"]


def model_picker() -> None:
    """Switch the current model from here too, once the session has runs of its own."""
    ids = [DEFAULT_ID, *runs()]
    if len(ids) < 2:
        return
    # Follow the current model when it was changed on another page.
    st.session_state["draw_model"] = current_id()
    st.selectbox("Model", ids, key="draw_model", on_change=_pick_model,
                 format_func=lambda r: DEFAULT_MODEL_NAME if r == DEFAULT_ID else r)


def results_html(image_png: bytes | None, model: TrainedModel,
                 naive: bool) -> tuple[list[tuple[str, str]], tuple[np.ndarray, int] | None]:
    """The results of one canvas image: (kind, content) blocks, ("info", text) for a blank
    canvas, else ("html", ...) and ("caption", ...) in page order; and (the 28x28 digit in
    [0, 1] as (784,), the predicted class), None for a blank canvas.

    Plain data from plain inputs (no Streamlit calls), so :func:`show_results` can keep the
    last answer and a test can call it with any image."""
    rgba = None if image_png is None else np.asarray(Image.open(io.BytesIO(image_png)))
    pixels = None if rgba is None else canvas_to_mnist(rgba)
    if pixels is None:
        return [("info", HINT)], None
    expl = explain_digit(model, pixels)
    if model.preprocessor.mode in ("unit", "raw"):
        seen = digit_html([(expl.features, "What the model sees (28×28)")])
    else:  # the preprocessing changes the picture: show it before and after
        seen = digit_html([(expl.image, "28×28"), (expl.features, "model input")],
                          max_width=150)
    # The scores come first in the HTML so they follow the pen; the pictures beside them.
    blocks = [
        ("html", "<div class='draw-results' style='display:flex;flex-wrap:wrap;gap:1.5rem;"
                 "align-items:flex-end'><div style='flex:3 1 18rem'>" + scores_html(expl)
                 + "</div><div style='flex:2 1 10rem;max-width:20rem'>" + seen + "</div></div>"),
        ("html", evidence_html(expl)),
        ("caption", EVIDENCE_CAPTION),
    ]
    if naive:
        blocks += naive_blocks(rgba, model, expl.predicted)
    return blocks, (pixels, int(expl.predicted))


def naive_blocks(rgba: np.ndarray, model: TrainedModel, predicted) -> list[tuple[str, str]]:
    """The counter-example: the whole canvas squashed to 28x28, no crop or centring."""
    nx = naive_resize(rgba)
    if nx is None:
        return []
    nexpl = explain_digit(model, nx, k=0)
    same = "the same answer" if nexpl.predicted == predicted else "a different answer"
    return [
        ("markdown", "**Without MNIST's preprocessing** (the whole canvas squashed to 28×28)"),
        ("html", "<div class='draw-naive' style='display:flex;flex-wrap:wrap;gap:1.5rem;"
                 "align-items:flex-end'><div style='flex:2 1 10rem;max-width:16rem'>"
                 + digit_html([(nexpl.features, "What a naive resize feeds the model")])
                 + "</div><div style='flex:3 1 18rem'>"
                 f"<p>Naive resize → the model predicts <b>{nexpl.predicted}</b> "
                 f"({100 * nexpl.confidence:.0f}%): {same}.</p>"
                 + scores_html(nexpl, bar_height=70, headline=False) + "</div></div>"),
    ]


def show_results(image_png: bytes | None, rid: str, model: TrainedModel, naive: bool) -> None:
    """Everything right of the canvas, from the canvas's PNG (None before the first stroke).

    The blocks of the last answer are kept in the session (a few KB of HTML), keyed by the
    image, the model and the toggle: a rerun that changes none of them (a slider, the
    sidebar) repeats no work."""
    acc = model.summary.get("test_accuracy")
    st.caption(f"Scoring with **{model_label(rid, model)}**"
               + (f" (test accuracy {pct(acc)})" if acc is not None else "")
               + f"; preprocessing: {model.preprocessor.describe()}")
    key = (None if image_png is None else hashlib.blake2b(image_png, digest_size=16).digest(),
           rid, id(model), naive)
    last = st.session_state.get(LAST_ANSWER)
    if last is None or last[0] != key:
        last = (key, results_html(image_png, model, naive))
        st.session_state[LAST_ANSWER] = last
    blocks, digit = last[1]
    for kind, content in blocks:
        if kind == "info":
            st.info(content)
        elif kind == "caption":
            st.caption(content)
        elif kind == "markdown":
            st.markdown(content)
        else:
            st.html(content)
    if digit is not None:
        theory_link(*digit)


def theory_link(pixels: np.ndarray, predicted: int) -> None:
    """Send the drawing to the Theory page, which takes it through the five formulas."""
    row = st.container(horizontal=True, vertical_alignment="bottom")
    row.selectbox("It is a", list(range(10)), index=int(predicted), key="draw_theory_label",
                  width=100, help="The digit you meant: the Theory page computes the loss "
                                  "and the gradient against it.")
    row.button("Follow it through the math (Theory page)", key="draw_to_theory",
               icon=":material/functions:", on_click=_send_to_theory, args=(pixels,))
    if st.session_state.pop(GO_THEORY, False):
        st.switch_page("pages/theory.py")


def _send_to_theory(pixels: np.ndarray) -> None:
    st.session_state[THEORY_DIGIT] = {
        "pixels": np.round(np.asarray(pixels) * 255).astype(np.uint8),
        "label": int(st.session_state["draw_theory_label"])}
    st.session_state["theory_source"] = "drawn"
    st.session_state[GO_THEORY] = True


@st.fragment
def drawing_area() -> None:
    """Canvas and results. A fragment: a stroke reruns only this, not the app shell and
    sidebar, which keeps the browser's work per stroke small."""
    # A row that wraps: the canvas column is as wide as the canvas, so it is never cut
    # (a [1, 2] column split left 156 of its 280 px visible on a 1024x768 projector with
    # the sidebar open); when the results do not fit beside it they go below.
    row = st.container(horizontal=True, wrap=True, gap="large")
    left = row.container(width=CANVAS_SIZE + 4)
    right = row.container(width="stretch")
    with left:
        result = st_canvas(
            stroke_width=st.session_state.get("draw_stroke", DEFAULT_STROKE),
            stroke_color="#FFFFFF",
            background_color="#000000",
            width=CANVAS_SIZE,
            height=CANVAS_SIZE,
            drawing_mode="freedraw",
            update_streamlit=True,
            return_image_data=True,
            key=canvas_key(),
        )
        st.button("Clear", key="draw_clear", on_click=_clear, icon=":material/delete:")
        st.slider("Stroke width", 8, 40, DEFAULT_STROKE, key="draw_stroke",
                  help="MNIST strokes are 2-3 pixels of a 20-pixel digit: about 20 here.")
        naive = st.toggle("Show a naive resize", key="draw_naive",
                          help="What the model would get if the canvas were simply squashed "
                               "to 28×28, without cropping, scaling and centring the digit.")
    with right:
        rid, model = current_model()
        show_results(result.image_bytes, rid, model, naive)
        drawing_panel(result.image_bytes)  # "add to my class's digits" (pages/board_ui.py)


def run() -> None:
    st.header("Draw a digit")
    # Outside the fragment: switching models reruns the whole app, so the sidebar follows.
    model_picker()
    drawing_area()


if __name__ == "__main__":  # Streamlit runs each page as __main__
    run()
