"""Tests for lrcore.plots: the figures carry the right traces, shapes, scales and data."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from lrcore import plots
from lrcore.metrics import evaluate

CLASSES = np.arange(10)


@pytest.fixture(scope="module")
def coef():
    rng = np.random.default_rng(0)
    c = rng.normal(size=(10, 784))
    c[3] *= 0.1  # one faint class, to tell shared and per-class scales apart
    return c


@pytest.fixture(scope="module")
def ev():
    """An Evaluation of a real classifier (sklearn's 8x8 digits, padded to 28x28)."""
    X, y = load_digits(return_X_y=True)
    X = np.pad(X.reshape(-1, 8, 8), ((0, 0), (10, 10), (10, 10))).reshape(len(X), 784) / 16
    with threadpool_limits(1):
        model = LogisticRegression(max_iter=500).fit(X[:1000], y[:1000])
    return evaluate(model, X[1000:], y[1000:]), X[1000:]


def test_core_does_not_import_streamlit():
    code = "import lrcore.plots, sys; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- weights


def test_weight_images_grid_shared_symmetric_scale(coef):
    fig = plots.weight_images(coef, CLASSES)
    assert len(fig.data) == 10
    m = np.abs(coef).max()
    for k, tr in enumerate(fig.data):
        assert tr.type == "heatmap"
        assert np.shape(tr.z) == (28, 28)
        assert_allclose(np.asarray(tr.z), coef[k].reshape(28, 28))
        assert tr.zmin == pytest.approx(-m) and tr.zmax == pytest.approx(m)
        assert tr.zmid == 0
        assert tr.colorscale is not None
        assert f"class {k}" in tr.hovertemplate
        for word in ("row", "col", "weight"):
            assert word in tr.hovertemplate
    # One colour bar, explained.
    assert [tr.showscale for tr in fig.data].count(True) == 1
    assert "evidence" in fig.data[0].colorbar.title.text
    # Positive = red: the reversed RdBu puts red at the top of the scale.
    assert plots.WEIGHT_COLORSCALE == "RdBu_r"


def test_weight_images_axes_upright_square_and_bare(coef):
    layout = plots.weight_images(coef, CLASSES).to_plotly_json()["layout"]
    yaxes = [v for k, v in layout.items() if k.startswith("yaxis")]
    xaxes = [v for k, v in layout.items() if k.startswith("xaxis")]
    assert len(yaxes) == len(xaxes) == 10
    for k, y in enumerate(yaxes):
        assert y["autorange"] == "reversed"
        assert y["scaleanchor"].startswith("x") and y["scaleratio"] == 1
        assert y["showticklabels"] is False
    titles = [x["title"]["text"] for x in xaxes]
    assert titles == [f"class {k}" for k in range(10)]
    # 2 rows x 5 columns: five distinct column domains, two distinct row domains.
    assert len({tuple(x["domain"]) for x in xaxes}) == 5
    assert len({tuple(y["domain"]) for y in yaxes}) == 2


def test_weight_images_per_class_scales(coef):
    fig = plots.weight_images(coef, CLASSES, symmetric=False)
    for k, tr in enumerate(fig.data):
        m_k = np.abs(coef[k]).max()
        assert tr.zmax == pytest.approx(m_k) and tr.zmin == pytest.approx(-m_k)
        assert tr.zmid == 0
    assert fig.data[3].zmax < 0.5 * fig.data[0].zmax  # the faint class got its own range


def test_weight_images_fixed_zmax_and_titles(coef):
    fig = plots.weight_images(coef, CLASSES, zmax=10.0, titles=list("abcdefghij"))
    assert all(tr.zmax == 10.0 and tr.zmin == -10.0 for tr in fig.data)
    assert fig.layout.xaxis.title.text == "a"
    with pytest.raises(ValueError, match="titles must have 10"):
        plots.weight_images(coef, CLASSES, titles=["a"])


def test_weight_images_binary_model_is_one_image():
    w = np.linspace(-1, 2, 784)[None, :]
    fig = plots.weight_images(w, np.array([3, 8]))
    assert len(fig.data) == 1
    tr = fig.data[0]
    assert tr.zmin == -2 and tr.zmax == 2 and tr.zmid == 0
    assert "8 vs 3" in tr.hovertemplate
    assert "for 8" in tr.colorbar.title.text and "for 3" in tr.colorbar.title.text


@pytest.mark.parametrize("bad, classes, match", [
    (np.zeros((10, 783)), CLASSES, "square images"),
    (np.zeros((9, 784)), CLASSES, "does not fit 10 classes"),
    (np.zeros((0, 784)), CLASSES, "shape"),
])
def test_weight_images_rejects_bad_shapes(bad, classes, match):
    with pytest.raises(ValueError, match=match):
        plots.weight_images(bad, classes)


def test_all_zero_weights_still_have_a_valid_scale():
    fig = plots.weight_images(np.zeros((10, 784)), CLASSES)
    assert fig.data[0].zmax == 1.0 and fig.data[0].zmin == -1.0


def test_weight_difference(coef):
    other = coef * 0.5
    fig = plots.weight_difference(coef, other, CLASSES, ["L1 run", "L2 run"])
    assert len(fig.data) == 30
    assert all(np.shape(tr.z) == (28, 28) for tr in fig.data)
    # Rows: A, B, then A - B.
    assert_allclose(np.asarray(fig.data[0].z), coef[0].reshape(28, 28))
    assert_allclose(np.asarray(fig.data[10].z), other[0].reshape(28, 28))
    assert_allclose(np.asarray(fig.data[27].z), (coef[7] - other[7]).reshape(28, 28))
    assert {tr.coloraxis for tr in fig.data[:20]} == {"coloraxis"}
    assert {tr.coloraxis for tr in fig.data[20:]} == {"coloraxis2"}
    ca, cb = fig.layout.coloraxis, fig.layout.coloraxis2
    assert ca.cmin == -ca.cmax and ca.cmid == 0 and ca.cmax == pytest.approx(np.abs(coef).max())
    assert cb.cmin == -cb.cmax and cb.cmax == pytest.approx(np.abs(coef - other).max())
    names = " ".join(a.text for a in fig.layout.annotations)
    assert "L1 run" in names and "L2 run" in names and "A − B" in names
    for k in range(30):
        suffix = "" if k == 0 else str(k + 1)
        assert fig.layout[f"yaxis{suffix}"].autorange == "reversed"


def test_weight_difference_rejects_mismatch(coef):
    with pytest.raises(ValueError, match="different shapes"):
        plots.weight_difference(coef, coef[:, :196], CLASSES, ["a", "b"])
    with pytest.raises(ValueError, match="does not fit"):
        plots.weight_difference(coef, coef[:9], CLASSES, ["a", "b"])
    with pytest.raises(ValueError, match="two models"):
        plots.weight_difference(coef, coef, CLASSES, ["a"])


def test_weight_table(coef):
    c = coef.copy()
    c[2, :392] = 0.0
    rows = plots.weight_table(c, np.arange(10) * 0.1, CLASSES)
    assert len(rows) == 10
    assert rows[2]["zero weights (%)"] == pytest.approx(50.0)
    assert rows[4]["intercept"] == pytest.approx(0.4)
    assert rows[0]["most positive"] == pytest.approx(c[0].max())
    assert rows[0]["L2 norm"] == pytest.approx(np.linalg.norm(c[0]))
    json.dumps(rows)  # plain Python values
    with pytest.raises(ValueError, match="intercept must have 10"):
        plots.weight_table(c, np.zeros(3), CLASSES)


# ----------------------------------------------------------------------------- training


def _history(n: int, with_test: bool = True) -> list[dict]:
    return [dict(iteration=i, train_loss=1.0 / i, test_loss=(1.1 / i) if with_test else None,
                 train_accuracy=1 - 0.5 / i,
                 test_accuracy=(1 - 0.6 / i) if with_test else None, status="running")
            for i in range(1, n + 1)]


def test_training_curves_traces_and_axes():
    h = _history(40)
    fig = plots.training_curves(h)
    T = "test (dots: evaluated)"
    assert [(tr.name, tr.yaxis) for tr in fig.data] == [
        ("train", "y"), ("train", "y2"), (T, "y"), (T, "y2")]
    # Test values exist only where the test set was scored: those carry a marker.
    assert [tr.mode for tr in fig.data] == ["lines", "lines", "lines+markers", "lines+markers"]
    assert list(fig.data[0].x) == list(range(1, 41))
    assert list(fig.data[1].y) == [r["train_accuracy"] for r in h]
    assert list(fig.data[2].y) == [r["test_loss"] for r in h]
    # One legend entry per split; the accuracy twin shares its group.
    assert [tr.showlegend for tr in fig.data] == [True, False, True, False]
    assert fig.data[0].legendgroup == fig.data[1].legendgroup == "train"
    assert fig.layout.uirevision == plots.training_curves(_history(3)).layout.uirevision
    assert "loss" in fig.layout.yaxis.title.text and "accuracy" in fig.layout.yaxis2.title.text


def test_training_curves_without_test_and_empty():
    fig = plots.training_curves(_history(5, with_test=False))
    assert [tr.name for tr in fig.data] == ["train", "train"]
    empty = plots.training_curves([])
    assert all(len(tr.x) == 0 for tr in empty.data)
    gap = _history(3)
    gap[1]["test_loss"] = None
    assert list(plots.training_curves(gap).data[2].y) == [gap[0]["test_loss"], None,
                                                           gap[2]["test_loss"]]


def test_training_curves_show_the_minimized_objective():
    h = _history(10)
    for r in h:
        r["objective"] = 50.0 * (2.0 + 1.0 / r["iteration"])
    fig = plots.training_curves(h, objective_scale=100.0)
    (obj,) = [tr for tr in fig.data if tr.legendgroup == "objective"]
    assert obj.yaxis == "y" and list(obj.y) == [r["objective"] / 100.0 for r in h]
    assert "minimizes" in obj.name
    assert not [tr for tr in plots.training_curves(h).data if tr.legendgroup == "objective"]


def test_objective_scale_puts_the_objective_on_the_loss_scale():
    from lrcore.config import TrainConfig

    assert plots.objective_scale(TrainConfig(C=0.5, train_size=1000)) == 500.0
    assert plots.objective_scale(TrainConfig(penalty="none", train_size=1000)) == 1000.0


# ----------------------------------------------------------------------------- confusion

CM = np.array([[50, 2, 0], [3, 40, 7], [0, 0, 30]])
def test_confusion_heatmap_counts_and_customdata():
    classes = np.array([0, 1, 2])
    fig = plots.confusion_heatmap(CM, classes)
    diag, off, cells = fig.data
    assert (diag.type, off.type, cells.type) == ("heatmap", "heatmap", "scatter")
    zd, zo = np.asarray(diag.z, dtype=float), np.asarray(off.z, dtype=float)
    assert_array_equal(np.diag(zd), [50, 40, 30])
    assert np.isnan(zd[0, 1]) and np.isnan(np.diag(zo)).all()
    assert zo[1, 2] == 7
    # Every cell knows its (true, pred).
    cd = np.asarray(diag.customdata)
    assert cd.shape == (3, 3, 2)
    assert_array_equal(cd[1, 2], [1, 2])
    # Counts written in the cells; zero mistakes left blank.
    text = np.asarray(off.text)
    assert text[1, 2] == "7" and text[0, 2] == "" and np.asarray(diag.text)[0, 0] == "50"
    # The clickable layer: one point per cell, x = predicted, y = true.
    assert len(cells.x) == 9
    k = list(zip(cells.y, cells.x)).index((1, 2))
    assert list(cells.customdata[k]) == [1, 2, 7, pytest.approx(7 / 50)]
    # Rows = true label, first class on top.
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]
    assert "true" in fig.layout.yaxis.title.text
    assert "predicted" in fig.layout.xaxis.title.text
    assert list(fig.layout.xaxis.ticktext) == ["0", "1", "2"]


def test_confusion_heatmap_normalized_rows():
    fig = plots.confusion_heatmap(CM, np.array([0, 1, 2]), normalize=True)
    z = np.where(np.isnan(np.asarray(fig.data[0].z, float)),
                 np.asarray(fig.data[1].z, float), np.asarray(fig.data[0].z, float))
    assert_allclose(z.sum(axis=1), 1.0)
    assert np.asarray(fig.data[1].text)[1, 2] == "14.0%"


def test_confusion_heatmap_outline_and_validation():
    fig = plots.confusion_heatmap(CM, np.array([0, 1, 2]), selected=(1, 2))
    (rect,) = fig.layout.shapes
    assert (rect.x0, rect.x1, rect.y0, rect.y1) == (1.5, 2.5, 0.5, 1.5)
    assert plots.confusion_heatmap(CM, np.array([0, 1, 2]), selected=(7, 7)).layout.shapes == ()
    with pytest.raises(ValueError, match=r"shape \(4, 4\)"):
        plots.confusion_heatmap(CM, np.arange(4))


def test_confusion_cell_maps_points_back():
    classes = np.array([3, 5, 8])
    fig = plots.confusion_heatmap(CM, classes)
    cells = fig.data[2]
    for x, y, cd in zip(cells.x, cells.y, cells.customdata):
        expected = (int(classes[y]), int(classes[x]))
        # What Streamlit returns after a click (customdata survives JSON as numbers).
        point = json.loads(json.dumps({"x": x, "y": y, "customdata": list(cd)}))
        assert plots.confusion_cell(point, classes) == expected
        assert plots.confusion_cell({"x": x, "y": y}, classes) == expected
    assert plots.confusion_cell({"customdata": [3.0, 8.0]}, classes) == (3, 8)
    assert plots.confusion_cell({"x": 7, "y": 0}, classes) is None
    assert plots.confusion_cell({"customdata": [4, 8]}, classes) is None
    assert plots.confusion_cell({}, classes) is None


# ----------------------------------------------------------------------------- ROC, bars


def test_roc_curves(ev):
    evaluation, _ = ev
    fig = plots.roc_curves(evaluation)
    assert len(fig.data) == 11
    for k in range(10):
        fpr, tpr = evaluation.roc_curves[k]
        assert_allclose(fig.data[k].x, fpr)
        assert_allclose(fig.data[k].y, tpr)
        assert fig.data[k].name == f"class {k} (AUC {evaluation.roc_auc_per_class[k]:.4f})"
    assert len({tr.line.color for tr in fig.data[:10]}) == 10
    chance = fig.data[10]
    assert list(chance.x) == [0.0, 1.0] and list(chance.y) == [0.0, 1.0]
    assert f"{evaluation.roc_auc:.4f}" in fig.layout.title.text


def test_roc_curves_log_axis_drops_zero_fpr(ev):
    evaluation, _ = ev
    fig = plots.roc_curves(evaluation, log_fpr=True)
    assert fig.layout.xaxis.type == "log"
    assert all(min(tr.x) > 0 for tr in fig.data[:10] if len(tr.x))


def test_roc_curves_undefined_class():
    class Ev:
        classes = np.array([0, 1, 2])
        roc_curves = [(np.array([0, 0.5, 1]), np.array([0, 0.9, 1])),
                      (np.empty(0), np.empty(0)),
                      (np.array([0, 1.0]), np.array([0, 1.0]))]
        roc_auc_per_class = np.array([0.9, np.nan, 0.5])
        roc_auc = 0.7

    fig = plots.roc_curves(Ev())
    assert fig.data[1].name == "class 1 (AUC undefined)" and len(fig.data[1].x) == 0


def test_per_class_bars(ev):
    evaluation, _ = ev
    fig = plots.per_class_bars(evaluation)
    assert [tr.name for tr in fig.data] == ["precision", "recall", "F1"]
    assert_allclose(fig.data[1].y, evaluation.recall)


# ----------------------------------------------------------------------------- galleries


def test_digit_tiles_scale_and_value_ranges():
    X = np.zeros((3, 784), dtype=np.uint8)
    X[0, 0] = 255
    tiles = plots.digit_tiles(X, scale=3)
    assert len(tiles) == 3 and tiles[0].shape == (84, 84) and tiles[0].dtype == np.uint8
    assert (tiles[0][:3, :3] == 255).all() and tiles[0][3:, 3:].max() == 0
    unit = plots.digit_tiles(X / 255.0, scale=1)  # 0-1 floats are scaled up
    assert_array_equal(unit[0], X[0].reshape(28, 28))
    assert_array_equal(plots.digit_tiles(X[0].astype(float), scale=1)[0],
                       X[0].reshape(28, 28))
    with pytest.raises(ValueError, match="scale"):
        plots.digit_tiles(X, scale=0)
    with pytest.raises(ValueError, match="square"):
        plots.digit_tiles(np.zeros((2, 100 - 1)))


def test_digit_grid_layout():
    X = np.full((13, 784), 200, dtype=np.uint8)
    g = plots.digit_grid(X, ncols=5, scale=2, pad=1, background=7)
    assert g.shape == (3 * (56 + 1) + 1, 5 * (56 + 1) + 1)
    assert g[0, 0] == 7 and g[1, 1] == 200
    assert g[-2, -2] == 7  # unused tiles of the last row stay background


def test_captions(ev):
    evaluation, _ = ev
    wrong = evaluation.misclassified[:5]
    caps = plots.mistake_captions(evaluation, wrong)
    i = wrong[0]
    assert caps[0].startswith(f"{evaluation.y_true[i]} → {evaluation.y_pred[i]} · ")
    t, p = evaluation.y_true[i], evaluation.y_pred[i]
    idx = evaluation.cell_indices(t, p)
    cell = plots.cell_captions(evaluation, idx, p)
    assert len(cell) == len(idx) and cell[0].startswith(f"p({p}) ")


@pytest.mark.parametrize("p, text", [(0.97, "97%"), (0.996, "99.6%"), (0.99995, ">99.9%"),
                                     (0.5, "50%")])
def test_probabilities_never_round_to_certainty(p, text):
    assert plots._pct(p) == text


def test_runs_overlay_one_line_per_run():
    a, b = _history(10), _history(20)
    fig = plots.runs_overlay({"run 1": a, "run 2": b}, "test_accuracy")
    assert [tr.name for tr in fig.data] == ["run 1", "run 2"]
    assert list(fig.data[1].y) == [r["test_accuracy"] for r in b]
    assert fig.data[0].mode == "lines+markers"  # test values: dots where evaluated
    assert plots.runs_overlay({"a": a}, "train_loss").data[0].mode == "lines"
    assert "accuracy" in fig.layout.yaxis.title.text
    with pytest.raises(ValueError, match="metric must be one of"):
        plots.runs_overlay({"a": a}, "bogus")
