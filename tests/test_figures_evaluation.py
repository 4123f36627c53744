"""Tests for lrcore.figures.evaluation: confusion matrix, ROC, per-class bars, digit tiles
and captions."""
from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from lrcore.figures import evaluation as figs
from lrcore.metrics import evaluate


CM = np.array([[50, 2, 0], [3, 40, 7], [0, 0, 30]])


@pytest.fixture(scope="module")
def ev():
    """An Evaluation of a real classifier (sklearn's 8x8 digits, padded to 28x28)."""
    X, y = load_digits(return_X_y=True)
    X = np.pad(X.reshape(-1, 8, 8), ((0, 0), (10, 10), (10, 10))).reshape(len(X), 784) / 16
    with threadpool_limits(1):
        model = LogisticRegression(max_iter=500).fit(X[:1000], y[:1000])
    return evaluate(model, X[1000:], y[1000:]), X[1000:]


def test_confusion_heatmap_counts_and_customdata():
    classes = np.array([0, 1, 2])
    fig = figs.confusion_heatmap(CM, classes)
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
    fig = figs.confusion_heatmap(CM, np.array([0, 1, 2]), normalize=True)
    z = np.where(np.isnan(np.asarray(fig.data[0].z, float)),
                 np.asarray(fig.data[1].z, float), np.asarray(fig.data[0].z, float))
    assert_allclose(z.sum(axis=1), 1.0)
    assert np.asarray(fig.data[1].text)[1, 2] == "14.0%"


def test_confusion_heatmap_outline_and_validation():
    fig = figs.confusion_heatmap(CM, np.array([0, 1, 2]), selected=(1, 2))
    (rect,) = fig.layout.shapes
    assert (rect.x0, rect.x1, rect.y0, rect.y1) == (1.5, 2.5, 0.5, 1.5)
    assert figs.confusion_heatmap(CM, np.array([0, 1, 2]), selected=(7, 7)).layout.shapes == ()
    with pytest.raises(ValueError, match=r"shape \(4, 4\)"):
        figs.confusion_heatmap(CM, np.arange(4))


def test_confusion_cell_maps_points_back():
    classes = np.array([3, 5, 8])
    fig = figs.confusion_heatmap(CM, classes)
    cells = fig.data[2]
    for x, y, cd in zip(cells.x, cells.y, cells.customdata):
        expected = (int(classes[y]), int(classes[x]))
        # What Streamlit returns after a click (customdata survives JSON as numbers).
        point = json.loads(json.dumps({"x": x, "y": y, "customdata": list(cd)}))
        assert figs.confusion_cell(point, classes) == expected
        assert figs.confusion_cell({"x": x, "y": y}, classes) == expected
    assert figs.confusion_cell({"customdata": [3.0, 8.0]}, classes) == (3, 8)
    assert figs.confusion_cell({"x": 7, "y": 0}, classes) is None
    assert figs.confusion_cell({"customdata": [4, 8]}, classes) is None
    assert figs.confusion_cell({}, classes) is None


def test_roc_curves(ev):
    evaluation, _ = ev
    fig = figs.roc_curves(evaluation)
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
    fig = figs.roc_curves(evaluation, log_fpr=True)
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

    fig = figs.roc_curves(Ev())
    assert fig.data[1].name == "class 1 (AUC undefined)" and len(fig.data[1].x) == 0


def test_per_class_bars(ev):
    evaluation, _ = ev
    fig = figs.per_class_bars(evaluation)
    assert [tr.name for tr in fig.data] == ["precision", "recall", "F1"]
    assert_allclose(fig.data[1].y, evaluation.recall)
    # Bars start at 0: a zoomed axis would make the classes' differences look huge.
    assert list(fig.layout.yaxis.range) == [0.0, 1.0] and fig.layout.yaxis.tickformat == ".0%"
    assert all("%{y:.2%}" in tr.hovertemplate for tr in fig.data)


def test_digit_tiles_scale_and_value_ranges():
    X = np.zeros((3, 784), dtype=np.uint8)
    X[0, 0] = 255
    tiles = figs.digit_tiles(X, scale=3)
    assert len(tiles) == 3 and tiles[0].shape == (84, 84) and tiles[0].dtype == np.uint8
    assert (tiles[0][:3, :3] == 255).all() and tiles[0][3:, 3:].max() == 0
    unit = figs.digit_tiles(X / 255.0, scale=1)  # 0-1 floats are scaled up
    assert_array_equal(unit[0], X[0].reshape(28, 28))
    assert_array_equal(figs.digit_tiles(X[0].astype(float), scale=1)[0],
                       X[0].reshape(28, 28))
    with pytest.raises(ValueError, match="scale"):
        figs.digit_tiles(X, scale=0)
    with pytest.raises(ValueError, match="square"):
        figs.digit_tiles(np.zeros((2, 100 - 1)))


def test_captions(ev):
    evaluation, _ = ev
    wrong = evaluation.misclassified[:5]
    caps = figs.mistake_captions(evaluation, wrong)
    i = wrong[0]
    assert caps[0].startswith(f"{evaluation.y_true[i]} → {evaluation.y_pred[i]} · ")
    t, p = evaluation.y_true[i], evaluation.y_pred[i]
    idx = evaluation.cell_indices(t, p)
    cell = figs.cell_captions(evaluation, idx, p)
    assert len(cell) == len(idx) and cell[0].startswith(f"p({p}) ")


@pytest.mark.parametrize("p, text", [(0.97, "97%"), (0.996, "99.6%"), (0.99995, ">99.9%"),
                                     (0.5, "50%")])
def test_probabilities_never_round_to_certainty(p, text):
    assert figs._pct(p) == text
