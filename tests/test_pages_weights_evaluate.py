"""The Weights and Evaluate pages through Streamlit's AppTest, on the genuine MNIST.

A click on the confusion matrix needs a browser (plotly selections are JavaScript); here the
selection is covered through its fallback selectboxes, and
lrcore.figures.evaluation.confusion_cell (which maps a clicked point back to its cell) is
tested in tests/test_figures_evaluation.py.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lrcore.config import TrainConfig
from lrcore.model import SoftmaxRegression
from lrcore.preprocess import Preprocessor
from lrcore.train import TrainedModel, train
from tests.apptest import figures, open_page

RUNS, CURRENT = "runs", "current_run"


@pytest.fixture(autouse=True)
def env(monkeypatch, mnist_dir):
    monkeypatch.setenv("MNIST_DIR", str(mnist_dir))
    monkeypatch.setenv("LR_DEFAULT_TRAIN_SIZE", "2000")
    monkeypatch.setenv("LR_DEFAULT_MAX_ITER", "30")


@pytest.fixture(scope="module")
def l1_run(mnist) -> TrainedModel:
    """A tiny, sparse second model to compare with the default one."""
    cfg = TrainConfig(penalty="l1", C=0.05, train_size=300, test_size=500, max_iter=8)
    return train(cfg, mnist)


def heatmaps(fig: dict) -> list[dict]:
    return [t for t in fig["data"] if t["type"] == "heatmap"]


def tiles(at: AppTest, block: str) -> list[dict] | None:
    """The weight tiles (lrcore.figures.weights.weight_tiles_html) of the st.html block
    ``<div id='block'>``, each {"class", "vmax"} in order; None if there is no such block."""
    for el in at.get("html"):
        body = el.proto.body
        if body.startswith(f"<div id='{block}'>"):
            return [{"class": c, "vmax": float(v)} for c, v in
                    re.findall(r"<figure class='wtile' data-class='([^']*)' data-vmax='([^']+)'",
                               body)]
    return None


# ----------------------------------------------------------------------------- weights


def test_weights_page_shows_ten_images_and_toggle_changes_scale():
    at = open_page("pages/weights.py")
    main = tiles(at, "weights_main")
    assert [t["class"] for t in main] == [str(c) for c in range(10)]
    assert len({t["vmax"] for t in main}) == 1  # one shared scale
    block = next(el.proto.body for el in at.get("html") if "id='weights_main'" in el.proto.body)
    assert block.count("class='colorbar'") == 1 and "red: evidence for the class" in block
    labels = [m.label for m in at.metric]
    assert "Weights exactly zero" in labels
    assert at.dataframe  # intercepts and weight statistics
    assert any("Red" in m.value and "blue" in m.value for m in at.markdown)

    at.toggle(key="weights_symmetric").set_value(False).run()
    assert not at.exception
    per_class = tiles(at, "weights_main")
    assert len({t["vmax"] for t in per_class}) == 10  # one scale per class
    assert max(t["vmax"] for t in per_class) == pytest.approx(main[0]["vmax"], rel=1e-5)


def test_weights_compare_needs_two_models():
    at = open_page("pages/weights.py")
    assert "weights_compare" not in figures(at)
    assert any("Only one model" in i.value for i in at.info)


def test_weights_compare_two_runs(l1_run):
    at = open_page("pages/weights.py", {RUNS: {"run 1": l1_run}})
    a, b = at.selectbox(key="weights_cmp_a"), at.selectbox(key="weights_cmp_b")
    # The default model is cached per process: another test module may have trained it on a
    # different size first, so only its kind is pinned here.
    assert len(a.options) == 2
    assert a.options[0].startswith("default model: L2, C=0.01, ")
    assert a.options[1] == "run 1: L1, C=0.05, 300 digits"
    assert a.value != b.value
    fig = figures(at)["weights_compare"]
    assert len(heatmaps(fig)) == 30
    lay = fig["layout"]
    assert lay["coloraxis"]["cmin"] == -lay["coloraxis"]["cmax"]
    assert lay["coloraxis2"]["cmin"] == -lay["coloraxis2"]["cmax"]
    zero = {m.label: m.value for m in at.metric}
    assert "A: weights exactly zero" in zero and "B: weights exactly zero" in zero
    # One set of units: accuracies in % with two decimals, differences in percentage points.
    deltas = {m.label: m.proto.delta for m in at.metric}
    assert deltas["B: weights exactly zero"].endswith(" percentage points")
    assert re.fullmatch(r"\d+\.\d\d%", zero["B: test accuracy"])
    assert re.fullmatch(r"[+-]\d+\.\d\d percentage points", deltas["B: test accuracy"])

    # Swap the order: the difference flips sign, the scale of A and B does not change.
    # Options are [default, run 1] (format_func labels them; AppTest selects by index).
    at.selectbox(key="weights_cmp_a").select_index(1)
    at.selectbox(key="weights_cmp_b").select_index(0).run()
    assert not at.exception
    swapped = figures(at)["weights_compare"]["layout"]
    assert swapped["coloraxis"]["cmax"] == pytest.approx(lay["coloraxis"]["cmax"])
    assert swapped["coloraxis2"]["cmax"] == pytest.approx(lay["coloraxis2"]["cmax"])
    annotations = " ".join(a["text"] for a in figures(at)["weights_compare"]["layout"]
                           ["annotations"])
    assert annotations.index("A: run 1") < annotations.index("B: default")

    # The same model twice is not compared.
    at.selectbox(key="weights_cmp_b").select_index(1).run()
    assert "weights_compare" not in figures(at)
    assert any("two different models" in i.value for i in at.info)


def test_weights_snapshot_slider_steps_through_training(l1_run):
    at = open_page("pages/weights.py", {RUNS: {"run 1": l1_run}, CURRENT: "run 1"})
    slider = at.select_slider(key="weights_snapshot")
    iters = [int(i) for i in l1_run.snapshot_iters]
    assert slider.options == [str(i) for i in iters]
    assert slider.value == iters[-1]
    final = tiles(at, "weights_snapshot_chart")
    assert len(final) == 10
    assert final[0]["vmax"] == pytest.approx(float(np.abs(l1_run.snapshot_coef[-1]).max()),
                                             rel=1e-5)

    slider.set_value(iters[0]).run()
    assert not at.exception
    first = tiles(at, "weights_snapshot_chart")
    assert first[0]["vmax"] == pytest.approx(float(np.abs(l1_run.snapshot_coef[0]).max()),
                                             rel=1e-5)
    assert first[0]["vmax"] != final[0]["vmax"]
    assert any(c.value.startswith(f"iteration {iters[0]} ·") for c in at.caption)

    # The final model's scale for every snapshot: the weights visibly grow.
    at.toggle(key="weights_snapshot_fixed").set_value(True).run()
    fixed = tiles(at, "weights_snapshot_chart")
    assert fixed[0]["vmax"] == pytest.approx(float(np.abs(l1_run.snapshot_coef[-1]).max()),
                                             rel=1e-5)


def test_weights_page_binary_model(mnist):
    pre = Preprocessor("unit").fit(mnist.X_train[:100])
    est = SoftmaxRegression.from_coef(np.linspace(-1, 1, 784)[None, :], np.zeros(1),
                                      np.array([3, 8]))
    cfg = TrainConfig(train_size=100, test_size=100)
    binary = TrainedModel(model=est, preprocessor=pre, config=cfg)
    at = open_page("pages/weights.py", {RUNS: {"run 1": binary}, CURRENT: "run 1"})
    assert tiles(at, "weights_main") == [{"class": "8 vs 3", "vmax": 1.0}]
    assert any("no weight snapshots" in i.value for i in at.info)
    # Its classes do not match the default model's: compared as a warning, not a crash.
    assert any("cannot be compared" in w.value for w in at.warning)
    # The Evaluate page explains why it cannot score it on all ten digits.
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception
    assert any("cannot be evaluated" in e.value for e in at.error)


# ----------------------------------------------------------------------------- evaluate


def test_evaluate_metrics_table_and_charts():
    at = open_page("pages/evaluate.py")
    metrics = {m.label: m.value for m in at.metric}
    for label in ("Accuracy", "Log-loss", "Macro precision", "Macro recall", "Macro F1",
                  "ROC AUC (macro)"):
        assert label in metrics
    assert 0.5 < float(metrics["Accuracy"].rstrip("%")) / 100 <= 1
    for label in ("Accuracy", "Macro precision", "Macro recall", "Macro F1"):
        assert re.fullmatch(r"\d+\.\d\d%", metrics[label])  # one unit on every page
    assert re.search(r"test accuracy \d+\.\d\d%", " ".join(m.value for m in at.sidebar.markdown))
    table = at.dataframe[0].value
    assert list(table["class"]) == list(range(10))
    assert table["support"].sum() == 10_000  # the default model's canonical test set
    figs = figures(at)
    assert len(figs["eval_roc"]["data"]) == 11
    cells = figs["eval_confusion"]["data"][2]
    assert sum(c[2] for c in cells["customdata"]) == 10_000


def _cell_count(at: AppTest, true: int, pred: int) -> int:
    cells = figures(at)["eval_confusion"]["data"][2]
    return next(c[2] for c in cells["customdata"] if (c[0], c[1]) == (true, pred))


def _cell_gallery(at: AppTest):
    text = next(m.value for m in at.markdown if "test digits that are" in m.value)
    n = int(re.search(r"\*\*([\d,]+)\*\*", text).group(1).replace(",", ""))
    return n, at.get("image")[0]


def test_confusion_fallback_selectboxes_show_the_cell():
    at = open_page("pages/evaluate.py")
    # Starts on the most frequent mistake.
    t, p = at.selectbox(key="eval_true").value, at.selectbox(key="eval_pred").value
    assert t != p
    counts = figures(at)["eval_confusion"]["data"][2]["customdata"]
    worst = max((c for c in counts if c[0] != c[1]), key=lambda c: c[2])
    assert (t, p) == (worst[0], worst[1])

    at.selectbox(key="eval_true").set_value(4)
    at.selectbox(key="eval_pred").set_value(9).run()
    assert not at.exception
    n, gallery = _cell_gallery(at)
    assert n == _cell_count(at, 4, 9)
    assert len(gallery.proto.imgs) == min(n, 30)
    assert all(c.startswith("p(9) ") for c in gallery.captions)
    # The chart outlines the chosen cell.
    (rect,) = figures(at)["eval_confusion"]["layout"]["shapes"]
    assert (rect["x0"], rect["y0"]) == (8.5, 3.5)

    # A diagonal cell: the correctly recognised digits.
    at.selectbox(key="eval_pred").set_value(4).run()
    n, gallery = _cell_gallery(at)
    assert n == _cell_count(at, 4, 4) and n > 100
    assert len(gallery.proto.imgs) == 30


def test_confusion_normalize_toggle():
    at = open_page("pages/evaluate.py")
    at.toggle(key="eval_normalize").set_value(True).run()
    assert not at.exception
    diag = figures(at)["eval_confusion"]["data"][0]
    assert all(diag["text"][i][i].endswith("%") for i in range(10))


def test_misclassified_gallery_most_confident_first():
    at = open_page("pages/evaluate.py")
    gallery = at.get("image")[1]
    assert len(gallery.proto.imgs) == 30
    probs = [c.rsplit("· ", 1)[1] for c in gallery.captions]
    for cap in gallery.captions:
        true, pred = re.match(r"(\d) → (\d) · ", cap).groups()
        assert true != pred
    assert probs[0].startswith(">") or float(probs[0].rstrip("%")) >= float(
        probs[-1].rstrip("%"))
    at.slider(key="eval_n_mistakes").set_value(50).run()
    assert len(at.get("image")[1].proto.imgs) == 50


def test_roc_log_toggle():
    at = open_page("pages/evaluate.py")
    at.toggle(key="eval_roc_log").set_value(True).run()
    assert not at.exception
    assert figures(at)["eval_roc"]["layout"]["xaxis"]["type"] == "log"


def test_run_evaluation_is_cached_per_model(l1_run, mnist):
    at = open_page("pages/evaluate.py", {RUNS: {"run 1": l1_run}, CURRENT: "run 1"})
    assert any("scored on 500 test digits" in c.value for c in at.caption)
    cached = at.session_state["eval_cache"]["run 1"]
    assert cached[0] is l1_run
    ev = cached[1][0]
    np.testing.assert_array_equal(ev.y_true, mnist.y_test[:500])  # canonical split
    assert ev.accuracy == pytest.approx(l1_run.summary["test_accuracy"])

    at.toggle(key="eval_normalize").set_value(True).run()  # a rerun: no recomputation
    assert at.session_state["eval_cache"]["run 1"][1][0] is ev

    # Another model under the same run id (e.g. retrained): evaluated afresh.
    other = train(TrainConfig(penalty="l2", C=0.1, train_size=300, test_size=400,
                              max_iter=5), mnist)
    at.session_state[RUNS] = {"run 1": other}
    at.run()
    assert not at.exception
    fresh = at.session_state["eval_cache"]["run 1"]
    assert fresh[0] is other and len(fresh[1][0].y_true) == 400
