"""Tests for lrcore.figures.experiments: every figure draws full, partial and empty result
tables."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from lrcore.figures import experiments as xp
from lrcore.figures.style import PENALTY_COLORS, TEST_COLOR, TRAIN_COLOR


SIZE_COLS = ["train_size", "train_accuracy", "test_accuracy", "fit_seconds", "n_iter",
             "converged"]


PATH_COLS = ["penalty", "C", "train_accuracy", "test_accuracy", "sparsity", "n_iter",
             "fit_seconds", "converged"]


def size_table() -> pd.DataFrame:
    # Deliberately not sorted by size: the curve must be.
    return pd.DataFrame({
        "train_size": [2000, 500, 60000, 1000],
        "train_accuracy": [0.99, 1.0, 0.94, 1.0],
        "test_accuracy": [0.89, 0.84, 0.926, 0.87],
        "fit_seconds": [0.7, 0.4, 30.0, 0.38],
        "n_iter": [83, 63, 162, 54],
        "converged": [True, True, True, True],
    })


def path_table(index=None) -> pd.DataFrame:
    """A regularization path: L1 then L2, each along increasing C (as the experiment runs)."""
    return pd.DataFrame({
        "penalty": ["l1", "l1", "l1", "l2", "l2", "l2"],
        "C": [0.001, 0.01, 0.1, 0.001, 0.01, 0.1],
        "train_accuracy": [0.11, 0.85, 0.97, 0.88, 0.95, 0.99],
        "test_accuracy": [0.11, 0.83, 0.88, 0.86, 0.89, 0.88],
        "sparsity": [100.0, 88.0, 60.0, 8.5, 8.5, 8.5],
        "n_iter": [3, 40, 90, 20, 30, 45],
        "fit_seconds": [0.01, 0.1, 0.3, 0.05, 0.05, 0.07],
        "converged": [True] * 6,
    }, index=index)


def cv_table(sklearn: bool = True) -> pd.DataFrame:
    folds = np.array([[0.58, 0.60, 0.59], [0.80, 0.81, 0.805], [0.84, 0.85, 0.845]])
    return pd.DataFrame({
        "C": [1e-4, 1e-3, 1e-2],
        "mean_accuracy": folds.mean(axis=1),
        "std_accuracy": folds.std(axis=1),
        "fold_1": folds[:, 0], "fold_2": folds[:, 1], "fold_3": folds[:, 2],
        "sklearn_mean_accuracy": folds.mean(axis=1) + 0.001 if sklearn else [math.nan] * 3,
    })


def traces_by_name(fig) -> dict:
    return {t.name: t for t in fig.data}


def test_size_curve_sorted_by_size_on_log_axes():
    t = size_table()
    fig = xp.size_curve(t)
    tr = traces_by_name(fig)
    assert list(tr) == ["train accuracy", "test accuracy", "fit time"]
    order = np.argsort(t.train_size.to_numpy())
    for name, col in (("train accuracy", "train_accuracy"), ("test accuracy", "test_accuracy"),
                      ("fit time", "fit_seconds")):
        assert_array_equal(tr[name].x, t.train_size.to_numpy()[order])
        assert_allclose(tr[name].y, t[col].to_numpy()[order])
    # Accuracies on the left panel, time on the right one.
    assert tr["test accuracy"].xaxis in (None, "x") and tr["fit time"].xaxis == "x2"
    assert tr["fit time"].yaxis == "y2"
    lay = fig.layout
    assert lay.xaxis.type == lay.xaxis2.type == lay.yaxis2.type == "log"
    assert lay.yaxis.type != "log"
    # Ticks at the sizes that were run, labelled as people say them.
    assert list(lay.xaxis.tickvals) == [500, 1000, 2000, 60000]
    assert list(lay.xaxis.ticktext) == ["500", "1k", "2k", "60k"]
    # The accuracy axis zooms in on the data but never leaves [0, 1] by much.
    lo, hi = lay.yaxis.range
    assert 0 <= lo < 0.84 and 1.0 <= hi <= 1.01
    assert lay.xaxis.domain[1] < lay.xaxis2.domain[0]  # two panels side by side


def test_size_curve_partial_empty_and_nan_tables():
    fig = xp.size_curve(size_table().iloc[:1])  # stopped after the first size
    assert len(fig.data) == 3 and list(fig.data[1].x) == [2000]
    empty = xp.size_curve(pd.DataFrame(columns=SIZE_COLS))
    assert len(empty.data) == 3 and all(len(t.x) == 0 for t in empty.data)
    assert empty.layout.xaxis.type == "log"
    assert list(empty.layout.yaxis.range) == [0.0, 1.0]
    t = size_table()
    t.loc[0, "test_accuracy"] = math.nan
    lo, hi = xp.size_curve(t).layout.yaxis.range
    assert math.isfinite(lo) and math.isfinite(hi) and lo < 0.84


def test_regularization_path_traces_per_penalty_sorted_by_C():
    t = path_table()
    fig = xp.regularization_path(t)
    tr = traces_by_name(fig)
    assert list(tr) == ["L1 test accuracy", "L1 train accuracy", "L1 zero weights",
                        "L2 test accuracy", "L2 train accuracy", "L2 zero weights"]
    for pen in ("L1", "L2"):
        rows = t.index[t.penalty == pen.lower()].to_numpy()
        for name in ("test accuracy", "train accuracy", "zero weights"):
            trace = tr[f"{pen} {name}"]
            assert_array_equal(trace.customdata, rows)  # rows, for a click
            assert_allclose(trace.x, t.C[rows])
            assert trace.line.color == PENALTY_COLORS[pen.lower()]
        assert_allclose(tr[f"{pen} test accuracy"].y, t.test_accuracy[rows])
        assert_allclose(tr[f"{pen} train accuracy"].y, t.train_accuracy[rows])
        assert_allclose(tr[f"{pen} zero weights"].y, t.sparsity[rows])  # already in %
        assert tr[f"{pen} zero weights"].xaxis == "x2"
        assert tr[f"{pen} test accuracy"].line.dash == "solid"
        assert tr[f"{pen} train accuracy"].line.dash == "dot"
    lay = fig.layout
    assert lay.xaxis.type == lay.xaxis2.type == "log"
    assert list(lay.xaxis.tickvals) == [0.001, 0.01, 0.1]
    assert list(lay.yaxis2.range) == [-3, 103]
    assert "select" in lay.clickmode


def test_regularization_path_customdata_are_positions_whatever_the_index():
    t = path_table(index=[10, 11, 12, 13, 14, 15]).sample(frac=1.0, random_state=0)
    fig = xp.regularization_path(t)
    positions = t.reset_index(drop=True)
    for trace in fig.data:
        rows = np.asarray(trace.customdata)
        assert_allclose(trace.x, positions.C.to_numpy()[rows])
        assert np.all(np.diff(trace.x) > 0)  # each line runs along increasing C
    # A click on any point maps back to its table row, the key of models["coef"].
    l2 = traces_by_name(fig)["L2 test accuracy"]
    row = xp.point_row({"points": [{"customdata": int(l2.customdata[1])}]})
    assert positions.loc[row, "penalty"] == "l2" and positions.loc[row, "C"] == 0.01


def test_regularization_path_shows_fractions_in_percent():
    t = path_table()
    t["sparsity"] = t["sparsity"] / 100
    tr = traces_by_name(xp.regularization_path(t))
    assert_allclose(tr["L1 zero weights"].y, [100.0, 88.0, 60.0])


def test_regularization_path_partial_and_empty_tables():
    fig = xp.regularization_path(path_table().iloc[:2])  # stopped during L1
    assert [t.name for t in fig.data] == ["L1 test accuracy", "L1 train accuracy",
                                          "L1 zero weights"]
    empty = xp.regularization_path(pd.DataFrame(columns=PATH_COLS))
    assert len(empty.data) == 0
    assert empty.layout.xaxis.type == empty.layout.xaxis2.type == "log"
    assert list(empty.layout.yaxis.range) == [0.0, 1.0]


def test_regularization_path_many_Cs_gets_decade_ticks():
    Cs = np.logspace(-4, 2, 13)
    t = pd.DataFrame({"penalty": "l2", "C": Cs, "train_accuracy": 0.9, "test_accuracy": 0.88,
                      "sparsity": 8.5})
    lay = xp.regularization_path(t).layout
    assert lay.xaxis.dtick == 1 and lay.xaxis.tickvals is None


@pytest.mark.parametrize("selection, row", [
    (None, None),
    ({}, None),
    ({"points": []}, None),
    ({"points": None}, None),
    ({"points": [{"customdata": 3}]}, 3),
    ({"points": [{"customdata": 3.0}]}, 3),
    ({"points": [{"customdata": np.int64(4)}]}, 4),
    ({"points": [{"customdata": [5]}]}, 5),
    ({"points": [{"customdata": (6, "extra")}]}, 6),
    ({"points": [{"customdata": 1}, {"customdata": 2}]}, 2),  # the last point clicked
    ({"points": [{"customdata": 1}, {"x": 0.1, "y": 0.8}]}, 1),  # a point without rows
    ({"points": [{"customdata": 1}, {"customdata": []}]}, 1),
    ({"points": [{"customdata": 1}, {"customdata": None}]}, 1),
    ({"points": [{"customdata": "abc"}]}, None),
    ({"points": [{"customdata": math.nan}]}, None),
    ({"points": [{"x": 1}], "box": [], "lasso": []}, None),
])
def test_point_row(selection, row):
    assert xp.point_row(selection) == row


def test_cv_curve_folds_mean_sklearn_refit_and_best_C():
    t = cv_table().iloc[::-1]  # unsorted: drawn along increasing C
    fig = xp.cv_curve(t, best_C=1e-2, test_accuracy={1e-2: 0.84})
    names = [tr.name for tr in fig.data]
    assert names == ["single folds"] * 3 + ["mean of the folds ± 1 std",
                                            "scikit-learn LogisticRegressionCV (mean)",
                                            "test accuracy of the refit"]
    assert [tr.showlegend for tr in fig.data[:3]] == [True, False, False]
    s = cv_table()
    mean = fig.data[3]
    assert_allclose(mean.x, s.C)
    assert_allclose(mean.y, s.mean_accuracy)
    assert_allclose(mean.error_y.array, s.std_accuracy)
    assert_allclose(fig.data[0].y, s.fold_1)
    assert_allclose(fig.data[4].y, s.sklearn_mean_accuracy)
    star = fig.data[5]
    assert list(star.x) == [1e-2] and list(star.y) == [0.84]
    lay = fig.layout
    assert lay.xaxis.type == "log"
    # A shape on a log axis takes data values, an annotation takes log10 (plotly.js).
    (line,) = lay.shapes
    assert line.x0 == line.x1 == 1e-2 and line.yref == "paper"
    (note,) = lay.annotations
    assert note.x == pytest.approx(-2.0) and "best C = 0.01" in note.text
    lo, hi = lay.yaxis.range
    assert lo < 0.58 and hi > 0.85 and hi <= 1.01


def test_cv_curve_without_sklearn_or_best_C_and_empty():
    fig = xp.cv_curve(cv_table(sklearn=False))  # scikit-learn has not run (NaN column)
    assert "scikit-learn LogisticRegressionCV (mean)" not in [t.name for t in fig.data]
    assert not fig.layout.shapes and not fig.layout.annotations
    assert not xp.cv_curve(cv_table(), best_C=math.nan).layout.shapes
    empty = xp.cv_curve(cv_table().iloc[:0], best_C=0.01)
    assert not empty.layout.shapes  # nothing to mark on an empty chart
    assert [t.name for t in empty.data if len(t.x)] == []
    assert empty.layout.xaxis.type == "log" and list(empty.layout.yaxis.range) == [0.0, 1.0]


def test_dot_comparison_one_trace_per_present_metric():
    t = pd.DataFrame({"method": ["softmax", "one-vs-rest"], "test_accuracy": [0.92, 0.915],
                      "train_accuracy": [0.93, 0.925]})
    fig = xp.dot_comparison(t, "method", {"test_accuracy": "test accuracy",
                                          "train_accuracy": "train accuracy",
                                          "missing": "skipped"})
    assert [tr.name for tr in fig.data] == ["test accuracy", "train accuracy"]
    test = fig.data[0]
    assert list(test.y) == ["softmax", "one-vs-rest"]
    assert_allclose(test.x, [0.92, 0.915])
    assert list(test.text) == ["92.00%", "91.50%"]
    assert test.marker.color == TEST_COLOR and fig.data[1].marker.color == TRAIN_COLOR
    lay = fig.layout
    lo, hi = lay.xaxis.range  # zoomed on the data, within [0, 1]
    assert 0.85 < lo < 0.915 and 0.93 < hi <= 1.01
    assert lay.xaxis.tickformat == ".1%"
    assert lay.yaxis.type == "category" and lay.yaxis.autorange == "reversed"


def test_dot_comparison_plain_numbers_nan_and_empty():
    t = pd.DataFrame({"method": ["a", "b"], "test_log_loss": [0.31, math.nan]})
    fig = xp.dot_comparison(t, "method", {"test_log_loss": "log-loss"}, percent=False,
                            x_title="test log-loss")
    assert list(fig.data[0].text) == ["0.31", "nan"]
    assert fig.layout.xaxis.range is None and fig.layout.xaxis.tickformat is None
    assert fig.layout.xaxis.title.text == "test log-loss"
    t = pd.DataFrame({"m": ["a", "b"], "test_accuracy": [0.9, math.nan]})
    lo, hi = xp.dot_comparison(t, "m", {"test_accuracy": "test"}).layout.xaxis.range
    assert math.isfinite(lo) and math.isfinite(hi) and lo < 0.9 < hi
    empty = xp.dot_comparison(pd.DataFrame(columns=["m", "test_accuracy"]), "m",
                              {"test_accuracy": "test"})
    assert len(empty.data[0].x) == 0 and list(empty.layout.xaxis.range) == [0.0, 1.0]
    # Taller with more rows.
    many = pd.DataFrame({"m": list("abcdefg"), "test_accuracy": np.linspace(0.8, 0.9, 7)})
    assert xp.dot_comparison(many, "m", {"test_accuracy": "t"}).layout.height > \
        empty.layout.height


def test_time_bars_log_axis_and_labels():
    t = pd.DataFrame({"model": ["softmax", "k-NN"], "fit_seconds": [0.05, 0.002],
                      "predict_seconds": [0.001, 2.5]})
    fig = xp.time_bars(t, "model", {"fit_seconds": "fit", "predict_seconds": "predict"})
    assert [tr.type for tr in fig.data] == ["bar", "bar"]
    assert [tr.name for tr in fig.data] == ["fit", "predict"]
    assert all(tr.orientation == "h" for tr in fig.data)
    assert list(fig.data[1].y) == ["softmax", "k-NN"]
    assert list(fig.data[1].text) == ["0.001 s", "2.5 s"]
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.dtick == 1
    assert fig.layout.barmode == "group"

    counts = xp.time_bars(pd.DataFrame({"p": ["raw", "unit"], "n_iter": [1500, 80]}), "p",
                          {"n_iter": "iterations"}, x_title="solver iterations", log=False)
    assert list(counts.data[0].text) == ["1,500", "80"]
    assert counts.layout.xaxis.type is None and counts.layout.xaxis.dtick is None
    assert counts.layout.xaxis.title.text == "solver iterations"


def test_codes_are_shown_by_their_names():
    t = pd.DataFrame({"preprocess": ["raw", "unit", "standardize", "deskew"],
                      "test_accuracy": [0.9, 0.91, 0.92, 0.95], "n_iter": [300, 80, 60, 70]})
    names = ["raw pixels 0-255", "pixels / 255", "standardized per pixel", "deskewed, / 255"]
    assert list(xp.dot_comparison(t, "preprocess", {"test_accuracy": "test"}).data[0].y) == names
    assert list(xp.time_bars(t, "preprocess", {"n_iter": "iterations"}).data[0].y) == names
    path = path_table()
    path.loc[path.penalty == "l1", "penalty"] = "elasticnet"
    fig = xp.regularization_path(path)
    assert "elastic-net test accuracy" in traces_by_name(fig)


def test_two_panel_titles_stay_clear_of_the_other_panel():
    """The right panel's y axis sits on its right (in the gap between the panels its title
    overlapped the left panel at 1024 px); every title keeps a standoff from its ticks and
    pushes the margins (automargin) instead of overlapping them."""
    from lrcore.figures.style import AXIS_TITLE_STANDOFF

    for fig in (xp.size_curve(size_table()), xp.regularization_path(path_table())):
        lay = fig.layout
        assert lay.yaxis2.side == "right" and lay.yaxis.side in (None, "left")
        assert lay.xaxis.domain[1] < lay.xaxis2.domain[0]
        for ax in (lay.xaxis, lay.yaxis, lay.xaxis2, lay.yaxis2):
            assert ax.automargin is True and ax.title.standoff == AXIS_TITLE_STANDOFF
    cv = xp.cv_curve(cv_table()).layout
    assert cv.yaxis.automargin is True and cv.yaxis.title.standoff == AXIS_TITLE_STANDOFF


def test_x_titles_of_side_by_side_panels_fit_a_phone():
    # Two lines each: one-line titles wider than a phone's ~150 px panels overlapped.
    for fig in (xp.size_curve(size_table()), xp.regularization_path(path_table())):
        for ax in (fig.layout.xaxis, fig.layout.xaxis2):
            assert all(len(line) <= 20 for line in ax.title.text.split("<br>"))
