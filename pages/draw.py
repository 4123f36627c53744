"""Draw page: draw a digit, see the current model's guess and the pixel-by-pixel reason.

The canvas (streamlit-drawable-canvas) sends its PNG 200 ms after each stroke; the rerun
turns it into a MNIST-style digit (lrcore.preprocess.canvas_to_mnist), explains the current
model's scores (lrcore.explain) and draws them. To keep up with the pen, canvas and results
are one fragment (a stroke does not rerun the app shell), the server's part takes under
10 ms up to the scores, and the scores are plain HTML that comes before the plotly figures.
"""
from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from lrcore.explain import digit_image, evidence_maps, explain_digit, scores_html
from lrcore.preprocess import canvas_to_mnist, naive_resize
from lrcore.train import TrainedModel
from pages.common import (
    CURRENT,
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
PLOT_CONFIG = {"displayModeBar": False}
DEFAULT_STROKE = 20


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
                 format_func=lambda r: "default model" if r == DEFAULT_ID else r)


def show_results(rgba: np.ndarray | None, rid: str, model: TrainedModel, naive: bool) -> None:
    """Everything right of the canvas, from the canvas image (None before the first stroke).

    A plain function of its inputs, so a test can call it with any image too."""
    acc = model.summary.get("test_accuracy")
    st.caption(f"Scoring with **{model_label(rid, model)}**"
               + (f" (test accuracy {acc:.3f})" if acc is not None else "")
               + f"; preprocessing: {model.preprocessor.describe()}")
    pixels = None if rgba is None else canvas_to_mnist(rgba)
    if pixels is None:
        st.info(HINT)
        return
    expl = explain_digit(model, pixels)
    scores, seen = st.columns([3, 2])
    # Plain HTML, not a chart: it shows up as soon as the rerun reaches the browser, so the
    # scores follow the pen; the plotly figures below take the browser longer to draw.
    scores.markdown(scores_html(expl), unsafe_allow_html=True)
    if model.preprocessor.mode in ("unit", "raw"):
        seen.plotly_chart(digit_image(expl.features, title="What the model sees (28×28)",
                                      height=230), key="draw_seen", config=PLOT_CONFIG)
    else:  # the preprocessing changes the picture: show it before and after
        a, b = seen.columns(2)
        a.plotly_chart(digit_image(expl.image, title="28×28", height=200),
                       key="draw_seen_raw", config=PLOT_CONFIG)
        b.plotly_chart(digit_image(expl.features, title="model input", height=200),
                       key="draw_seen", config=PLOT_CONFIG)
    st.plotly_chart(evidence_maps(expl), key="draw_evidence", config=PLOT_CONFIG)
    st.caption("Each map is the digit as the model sees it times one class's weights: red "
               "pixels vote for the class, blue against. A map's sum plus the class's bias is "
               "its logit, and the softmax of the logits gives the probabilities above.")
    if naive:
        show_naive(rgba, model, expl.predicted)


def show_naive(rgba: np.ndarray, model: TrainedModel, predicted) -> None:
    """The counter-example: the whole canvas squashed to 28x28, no crop or centring."""
    nx = naive_resize(rgba)
    if nx is None:
        return
    nexpl = explain_digit(model, nx, k=0)
    st.markdown("**Without MNIST's preprocessing** (the whole canvas squashed to 28×28)")
    img, scores = st.columns([2, 3])
    img.plotly_chart(digit_image(nexpl.features, title="What a naive resize feeds the model",
                                 height=240), key="draw_naive_seen", config=PLOT_CONFIG)
    with scores:
        same = "the same answer" if nexpl.predicted == predicted else "a different answer"
        st.markdown(f"Naive resize → the model predicts **{nexpl.predicted}** "
                    f"({100 * nexpl.confidence:.0f}%): {same}.")
        st.markdown(scores_html(nexpl, bar_height=70, headline=False), unsafe_allow_html=True)


@st.fragment
def drawing_area() -> None:
    """Canvas and results. A fragment: a stroke reruns only this, not the app shell and
    sidebar, which keeps the browser's work per stroke small."""
    left, right = st.columns([1, 2], gap="large")
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
        show_results(result.image_data, rid, model, naive)


st.header("Draw a digit")
# Outside the fragment: switching models reruns the whole app, so the sidebar follows.
model_picker()
drawing_area()
