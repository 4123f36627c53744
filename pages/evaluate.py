"""Evaluate page: test-set scores of the current model, its confusion matrix (click a cell to
see those digits), its most confident mistakes and its ROC curves."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from lrcore.data import MnistData, select_subset
from lrcore.figures.evaluation import (
    cell_captions,
    confusion_cell,
    confusion_heatmap,
    digit_tiles,
    mistake_captions,
    per_class_bars,
    roc_curves,
)
from lrcore.labels import pct
from lrcore.metrics import Evaluation
from lrcore.train import TrainedModel
from pages.common import (DEFAULT_ID, current_model, get_data, model_heading,
                          require_app_shell)

require_app_shell()

EVAL_CACHE = "eval_cache"  # session state: run id -> (model, Evaluation)
_MAX_CACHED_RUNS = 4  # each Evaluation holds ~1 MB of probabilities for 10,000 digits
GALLERY_MAX = 30
CONFUSION_WIDTH = 500  # px: ten columns of cells wide enough for a 4-digit count


def _test_rows(tm: TrainedModel, data: MnistData) -> tuple[np.ndarray, np.ndarray, str]:
    """The test digits the model was scored on during training (same rows, same order).

    A model loaded from a file may ask for more digits than the data at hand (e.g. trained
    on full MNIST, evaluated on the bundled sample): then all available test digits are used
    and a note says so.
    """
    cfg = tm.config
    if cfg.test_size <= data.n_test:
        sub = select_subset(data, min(cfg.train_size, data.n_train), cfg.test_size,
                            shuffle=cfg.shuffle, seed=cfg.seed)
        return sub.X_test, sub.y_test, ""
    return data.X_test, data.y_test, (
        f"This model was evaluated on {cfg.test_size:,} test digits during training, but the "
        f"data in use has only {data.n_test:,}: these scores use all of them.")


def _evaluate(tm: TrainedModel) -> tuple[Evaluation, np.ndarray, str]:
    X, y, note = _test_rows(tm, get_data())
    return tm.evaluate(X, y), X, note


@st.cache_resource(show_spinner="Evaluating the default model on the test digits…",
                   max_entries=2)
def _default_evaluation(key: str, _tm: TrainedModel) -> tuple[Evaluation, np.ndarray, str]:
    # Shared by all sessions, like the default model itself; ``key`` names the model object
    # (the leading underscore keeps Streamlit from hashing the model).
    return _evaluate(_tm)


def evaluation(run_id: str, tm: TrainedModel) -> tuple[Evaluation, np.ndarray, str]:
    """(Evaluation, test pixels, note) of a model, computed once per model object."""
    if run_id == DEFAULT_ID:
        return _default_evaluation(f"{DEFAULT_ID}:{id(tm)}", tm)
    cache: dict = st.session_state.setdefault(EVAL_CACHE, {})
    hit = cache.get(run_id)
    if hit is not None and hit[0] is tm:  # same run id, same model: still valid
        return hit[1]
    with st.spinner("Evaluating on the test digits…"):
        result = _evaluate(tm)
    cache.pop(run_id, None)
    cache[run_id] = (tm, result)
    while len(cache) > _MAX_CACHED_RUNS:
        cache.pop(next(iter(cache)))
    return result


def gallery(X: np.ndarray, idx: np.ndarray, captions: list[str]) -> None:
    if len(idx) == 0:
        st.caption("No digits here.")
        return
    st.image(digit_tiles(X[idx], scale=3), caption=captions, width=84)


def _fmt(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def _scores(ev: Evaluation) -> None:
    """The summary metrics and the per-class scores."""
    s = ev.summary()

    # A row that wraps, each number as wide as it needs: six equal columns cut "91.88%" to
    # "91.…" at 1024 px with the sidebar open.
    row = st.container(horizontal=True, wrap=True, gap="small")
    for label, key, spec, help_ in (
            ("Accuracy", "accuracy", ".2%", "Fraction of test digits classified correctly."),
            ("Log-loss", "log_loss", ".4f", "Mean −log p(true class): punishes confident "
             "mistakes; what training minimizes (lower is better)."),
            ("Macro precision", "macro_precision", ".2%", "Of the digits called c, the "
             "fraction that really are c; averaged over classes."),
            ("Macro recall", "macro_recall", ".2%", "Of the true c's, the fraction found; "
             "averaged over classes."),
            ("Macro F1", "macro_f1", ".2%", "Harmonic mean of precision and recall, averaged "
             "over classes."),
            ("ROC AUC (macro)", "roc_auc", ".4f", "One-vs-rest: the chance that a random c "
             "scores higher for c than a random non-c.")):
        row.metric(label, _fmt(s[key], spec), width="content", help=help_)

    with st.expander("Per-class scores", expanded=False):
        left, right = st.columns([2, 3])
        # Rates as percentages with two decimals, like every rate in the app (lrcore.labels):
        # a Styler shows them so, the table's values stay fractions.
        table = pd.DataFrame(ev.per_class_table()).style.format(
            pct, subset=["precision", "recall", "f1"])
        left.dataframe(table, hide_index=True, width="stretch",
                       column_config={
                           "f1": st.column_config.NumberColumn("F1"),
                           "roc_auc": st.column_config.NumberColumn("ROC AUC", format="%.4f"),
                       })
        right.plotly_chart(per_class_bars(ev), width="stretch", key="eval_bars")


def _confusion(ev: Evaluation, X_test: np.ndarray) -> None:
    """The clickable confusion matrix and the digits of the chosen cell."""
    st.header("Confusion matrix")
    st.markdown("Rows are the **true** digit, columns what the model **predicted**. Green = "
                "correct, red = mistakes (each on its own scale, so that rare mistakes stay "
                "visible). **Click a cell** (or pick one with the two boxes) to see its digits.")
    classes = ev.classes.tolist()
    normalize = st.toggle("Show each row as % of that digit", value=False, key="eval_normalize")

    # Initial cell: the most frequent mistake, the most instructive one to look at first.
    off = np.where(np.eye(len(classes), dtype=bool), -1, ev.confusion)
    i0, j0 = np.unravel_index(int(np.argmax(off)), off.shape)
    for key, default in (("eval_true", classes[i0]), ("eval_pred", classes[j0])):
        if st.session_state.get(key) not in classes:
            st.session_state[key] = default

    # A row that wraps: the matrix keeps room for its counts ("1,109" in a cell); when the
    # digits do not fit beside it (1024 px with the sidebar open, a phone) they go below.
    row = st.container(horizontal=True, wrap=True, gap="medium")
    chart_col = row.container(width=CONFUSION_WIDTH)
    cell_col = row.container(width="stretch", key="eval_cell")
    with chart_col:
        event = st.plotly_chart(
            confusion_heatmap(ev.confusion, classes, normalize=normalize,
                              selected=(st.session_state["eval_true"],
                                        st.session_state["eval_pred"])),
            width="stretch", on_select="rerun", selection_mode="points", key="eval_confusion",
            config={"displayModeBar": False})
    # A new click moves the two selectboxes to that cell (set before they are drawn); the
    # selectboxes keep working on their own, so the page works without clicking too.
    points = (event.selection.points if event is not None and event.selection else []) or []
    clicked = confusion_cell(points[0], classes) if points else None
    if clicked is not None and clicked != st.session_state.get("eval_last_click"):
        st.session_state["eval_true"], st.session_state["eval_pred"] = clicked
        st.session_state["eval_last_click"] = clicked
        st.rerun()  # redraw the chart with the outline on the clicked cell
    if clicked is None:
        st.session_state.pop("eval_last_click", None)

    with cell_col:
        c1, c2 = st.columns(2)
        t = c1.selectbox("True digit", classes, key="eval_true")
        p = c2.selectbox("Predicted as", classes, key="eval_pred")
        idx = ev.cell_indices(t, p)
        verb = "correctly recognised" if t == p else f"predicted as {p}"
        st.markdown(f"**{len(idx):,}** test digits that are **{t}** and were {verb}"
                    + (f" (showing the {GALLERY_MAX} most confident)" if len(idx) > GALLERY_MAX
                       else "") + ":")
        shown = idx[:GALLERY_MAX]
        gallery(X_test, shown, cell_captions(ev, shown, p))


def _mistakes(ev: Evaluation, X_test: np.ndarray) -> None:
    """The test digits the model got wrong, most confident first."""
    st.header("Most confident mistakes")
    st.markdown("Test digits the model got wrong, the ones it was **most sure about** first "
                "(caption: true → predicted · probability of the prediction). Some are "
                "genuinely ambiguous or mislabelled; others show what a linear model cannot "
                "see, such as a slanted stroke or a digit drawn off-centre.")
    n_wrong = len(ev.misclassified)
    if n_wrong == 0:
        st.success("No mistakes on these test digits.")
    else:
        n_show = st.slider("How many", 10, 100, 30, step=10, key="eval_n_mistakes")
        st.caption(f"{n_wrong:,} mistakes in total.")
        wrong = ev.misclassified[:n_show]
        gallery(X_test, wrong, mistake_captions(ev, wrong))


def _roc(ev: Evaluation) -> None:
    """One-vs-rest ROC curves."""
    st.header("ROC curves (one digit against the rest)")
    st.markdown("For each digit, rank all test digits by the probability the model gives that "
                "digit and sweep a threshold: the curve plots the true c's found against the "
                "other digits wrongly let in. A perfect model reaches the top-left corner; the "
                "dashed diagonal is guessing.")
    log_fpr = st.toggle("Logarithmic false-positive axis (zoom into the corner)", value=False,
                        key="eval_roc_log")
    st.plotly_chart(roc_curves(ev, log_fpr=log_fpr), width="stretch", key="eval_roc")


def run() -> None:
    rid, tm = current_model()
    st.title("How good is the model?")
    try:
        ev, X_test, note = evaluation(rid, tm)
    except ValueError as e:  # e.g. a loaded model whose classes do not match these digits
        st.error(f"This model cannot be evaluated on the data in use: {e}")
        return
    st.caption(f"{model_heading(rid, tm)} · scored on {len(ev.y_true):,} test digits it "
               "never saw during training.")
    if note:
        st.warning(note)
    _scores(ev)
    _confusion(ev, X_test)
    _mistakes(ev, X_test)
    _roc(ev)


if __name__ == "__main__":  # Streamlit runs each page as __main__
    run()
