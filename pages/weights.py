"""Weights page: each class's 784 weights drawn as a 28x28 image, compared across runs and
watched as they form during training."""
from __future__ import annotations

import numpy as np
import streamlit as st

from lrcore.figures.weights import weight_difference, weight_table, weight_tiles_html
from lrcore.labels import pct, pct_points, preprocess_label
from lrcore.metrics import sparsity
from pages.common import (
    DEFAULT_ID,
    config_label,
    current_model,
    default_model,
    model_heading,
    model_label,
    require_app_shell,
    runs,
    session_job,
)

require_app_shell()


def _model(run_id: str):
    return default_model() if run_id == DEFAULT_ID else runs()[run_id]


def _label(run_id: str) -> str:
    return model_label(run_id, _model(run_id))


def _images(rid: str, tm) -> None:
    """The ten weight images of the current model and their statistics."""
    coef, classes = tm.coef_, tm.classes
    st.title("What the model learned: one weight image per digit")
    st.markdown(
        "The model scores a digit for class *c* by adding up **pixel × weight** over all 784 "
        "pixels (plus an intercept), so each class's weights can be drawn as a 28×28 image. "
        "**Red** pixels vote *for* the class when they contain ink, **blue** pixels vote "
        "*against* it, white ones do not matter. Look for the faint outline of each digit "
        "in red, and for blue where *other* digits put their ink (the hole of a 0, the gap "
        "of a 4). If the images look like noise, the model is barely regularized: train one "
        "with a smaller C (e.g. 0.01) and compare below."
    )
    st.caption(f"{model_heading(rid, tm)} · preprocessing: {tm.preprocessor.describe()}")

    symmetric = st.toggle(
        "One colour scale for all ten digits", value=True, key="weights_symmetric",
        help="On: colours compare across digits (same red = same weight). Off: every image "
             "uses its own range, which shows the shape of digits with small weights.")
    # An HTML grid of tiny PNGs, not a plotly figure: the tiles wrap onto more rows on a
    # narrow screen (a phone gets three ~110 px tiles per row instead of ten 60 px ones).
    st.html("<div id='weights_main'>"
            f"{weight_tiles_html(coef, classes, symmetric=symmetric)}</div>")

    # A row that wraps, each number as wide as it needs: equal columns cut "-2.37 … 1.77"
    # to "-2.37 … 1…" at 1024 px with the sidebar open.
    row = st.container(horizontal=True, wrap=True, gap="small")
    row.metric("Weights exactly zero", f"{sparsity(coef):.1f}%", width="content",
               help="L1 regularization sets many weights to exactly 0; L2 only shrinks them.")
    row.metric("Largest |weight|", f"{abs(coef).max():.3g}", width="content")
    b = tm.intercept_
    row.metric("Intercepts range", f"{b.min():.2f} … {b.max():.2f}", width="content")
    with st.expander("Intercepts and weight statistics per class"):
        st.dataframe(weight_table(coef, tm.intercept_, classes), hide_index=True,
                     width="stretch", key="weights_table")


def _compare(rid: str) -> None:
    """Two models' weights side by side and their difference."""
    st.header("Compare two runs")
    all_runs = {DEFAULT_ID: None, **runs()}
    if len(all_runs) < 2:
        st.info("Only one model so far. Train another run on the **Train** page (for example "
                "L1 with a small C, against this L2 model) and compare their weights here.")
        return
    # Options are the labels themselves (not ids with a format_func), so the selection in
    # session state is what is shown; AppTest cannot replay a format_func.
    ids_by_label = {_label(i): i for i in all_runs}
    labels = list(ids_by_label)
    # Sensible first choice: the current model against the first other one.
    st.session_state.setdefault("weights_cmp_a", _label(rid))
    st.session_state.setdefault("weights_cmp_b",
                                next(lab for lab in labels if ids_by_label[lab] != rid))
    for key in ("weights_cmp_a", "weights_cmp_b"):
        if st.session_state[key] not in labels:  # a run was removed meanwhile
            st.session_state[key] = labels[0]
    ca, cb = st.columns(2)
    a_id = ids_by_label[ca.selectbox("Model A", labels, key="weights_cmp_a")]
    b_id = ids_by_label[cb.selectbox("Model B", labels, key="weights_cmp_b")]
    ma, mb = _model(a_id), _model(b_id)
    if a_id == b_id:
        st.info("Choose two different models.")
        return
    try:
        fig = weight_difference(ma.coef_, mb.coef_, ma.classes,
                                [_label(a_id), _label(b_id)])
    except ValueError as e:
        st.warning(f"These two models cannot be compared pixel by pixel: {e}")
        return
    if ma.preprocessor.mode != mb.preprocessor.mode or list(ma.classes) != list(mb.classes):
        st.warning("The two models use different preprocessing "
                   f"({preprocess_label(ma.preprocessor.mode)} vs "
                   f"{preprocess_label(mb.preprocessor.mode)}): their weights multiply "
                   "different inputs, so compare shapes, not values.")
    st.plotly_chart(fig, width="stretch", key="weights_compare")
    za, zb = sparsity(ma.coef_), sparsity(mb.coef_)
    ma_acc = ma.summary.get("test_accuracy")
    mb_acc = mb.summary.get("test_accuracy")
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("A: weights exactly zero", f"{za:.1f}%")
    k2.metric("B: weights exactly zero", f"{zb:.1f}%", delta=pct_points((zb - za) / 100, 1),
              delta_color="off")
    if ma_acc is not None:
        k3.metric("A: test accuracy", pct(ma_acc))
    if mb_acc is not None:
        k4.metric("B: test accuracy", pct(mb_acc),
                  delta=None if ma_acc is None else pct_points(mb_acc - ma_acc))
    st.caption("Both models share one colour scale (top two rows), so you can see which one "
               "has larger weights. An L1 model keeps a few strong pixels and sets the rest "
               "to exactly zero (speckled images); an L2 model uses every pixel a little: "
               "smooth strokes when C is small, noise when C is large (weak regularization "
               "fits the training digits' quirks).")


# ----------------------------------------------------------------------------- formation
@st.fragment(run_every=1.0)
def live_weights() -> None:
    """The weights of this session's training while it runs on the engine (they arrive
    about once a second), redrawn in place; when it ends the page reruns with the run."""
    job = session_job()
    if job is None or not job.active:
        st.rerun()
    coef = job.latest_coef
    st.markdown(f"**Your training is running** ({config_label(job.config)}): "
                + (f"the weights as of iteration {coef[0]}, updated about once a second."
                   if coef else f"{job.describe()}; the weights appear once it starts."))
    if coef is not None:
        # A training on MNIST's digits: one row per digit, 0-9 in order.
        st.html("<div id='weights_live_chart'>"
                f"{weight_tiles_html(coef[1], np.arange(coef[1].shape[0]))}</div>")


def _formation(tm) -> None:
    """The weights of this session's training as they arrive, and the stored model's
    snapshots during its training."""
    classes = tm.classes
    st.header("Watch the weights form")
    if session_job() is not None:
        live_weights()
        st.divider()
    iters = [int(i) for i in tm.snapshot_iters]
    if not iters or tm.snapshot_coef.shape[0] != len(iters):
        st.info("This model has no weight snapshots (it was loaded from a file saved "
                "without them). Train a run on the Train page to watch its weights form.")
    else:
        st.markdown(
            "Snapshots of the weights during training (more of them early, where they change "
            "fastest). Early on, the images are blurry averages of the digits; later the "
            "optimizer sharpens the pixels that *separate* similar digits.")
        if st.session_state.get("weights_snapshot") not in iters:
            st.session_state["weights_snapshot"] = iters[-1]
        it = st.select_slider("Iteration", options=iters, key="weights_snapshot")
        fixed = st.toggle("Colour scale of the final model", value=False,
                          key="weights_snapshot_fixed",
                          help="On: every snapshot uses the final weights' scale, so you "
                               "see the weights grow. Off: each snapshot uses its own scale, "
                               "so you see its shape.")
        snap = tm.snapshot_coef[iters.index(it)]
        zmax = float(abs(tm.snapshot_coef[-1]).max()) if fixed else None
        if zmax == 0.0:
            zmax = None
        st.html("<div id='weights_snapshot_chart'>"
                f"{weight_tiles_html(snap, classes, zmax=zmax)}</div>")
        hist = {h.get("iteration"): h for h in tm.history}
        h = hist.get(it, {})
        parts = [f"iteration {it}", f"largest |weight| {abs(snap).max():.3g}"]
        if h.get("train_accuracy") is not None:
            parts.append(f"train accuracy {pct(h['train_accuracy'])}")
        if h.get("test_accuracy") is not None:
            parts.append(f"test accuracy {pct(h['test_accuracy'])}")
        st.caption(" · ".join(parts))


def run() -> None:
    rid, tm = current_model()
    _images(rid, tm)
    _compare(rid)
    _formation(tm)


if __name__ == "__main__":  # Streamlit runs each page as __main__
    run()
