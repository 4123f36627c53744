"""Tests for lrcore.figures.training: the training curves, the runs overlay, the live strip."""
from __future__ import annotations

import numpy as np
import pytest

from lrcore.figures.training import objective_scale, runs_overlay, training_curves


def _history(n: int, with_test: bool = True) -> list[dict]:
    return [dict(iteration=i, train_loss=1.0 / i, test_loss=(1.1 / i) if with_test else None,
                 train_accuracy=1 - 0.5 / i,
                 test_accuracy=(1 - 0.6 / i) if with_test else None, status="running")
            for i in range(1, n + 1)]


def test_training_curves_traces_and_axes():
    h = _history(40)
    fig = training_curves(h)
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
    assert fig.layout.uirevision == training_curves(_history(3)).layout.uirevision
    assert "loss" in fig.layout.yaxis.title.text and "accuracy" in fig.layout.yaxis2.title.text


def test_training_curves_without_test_and_empty():
    fig = training_curves(_history(5, with_test=False))
    assert [tr.name for tr in fig.data] == ["train", "train"]
    empty = training_curves([])
    assert all(len(tr.x) == 0 for tr in empty.data)
    gap = _history(3)
    gap[1]["test_loss"] = None
    assert list(training_curves(gap).data[2].y) == [gap[0]["test_loss"], None,
                                                           gap[2]["test_loss"]]


def test_training_curves_show_the_minimized_objective():
    h = _history(10)
    for r in h:
        r["objective"] = 50.0 * (2.0 + 1.0 / r["iteration"])
    fig = training_curves(h, objective_scale=100.0)
    (obj,) = [tr for tr in fig.data if tr.legendgroup == "objective"]
    assert obj.yaxis == "y" and list(obj.y) == [r["objective"] / 100.0 for r in h]
    assert "minimizes" in obj.name
    assert not [tr for tr in training_curves(h).data if tr.legendgroup == "objective"]


def test_objective_scale_puts_the_objective_on_the_loss_scale():
    from lrcore.config import TrainConfig

    assert objective_scale(TrainConfig(C=0.5, train_size=1000)) == 500.0
    assert objective_scale(TrainConfig(penalty="none", train_size=1000)) == 1000.0


def test_runs_overlay_one_line_per_run():
    a, b = _history(10), _history(20)
    fig = runs_overlay({"run 1": a, "run 2": b}, "test_accuracy")
    assert [tr.name for tr in fig.data] == ["run 1", "run 2"]
    assert list(fig.data[1].y) == [r["test_accuracy"] for r in b]
    assert fig.data[0].mode == "lines+markers"  # test values: dots where evaluated
    assert runs_overlay({"a": a}, "train_loss").data[0].mode == "lines"
    assert "accuracy" in fig.layout.yaxis.title.text
    with pytest.raises(ValueError, match="metric must be one of"):
        runs_overlay({"a": a}, "bogus")


def test_axis_titles_stay_clear_of_the_ticks_and_the_other_panel():
    from lrcore.figures.style import AXIS_TITLE_STANDOFF

    lay = training_curves(_history(10)).layout
    assert lay.yaxis2.side == "right" and lay.xaxis.domain[1] < lay.xaxis2.domain[0]
    for ax in (lay.xaxis, lay.yaxis, lay.xaxis2, lay.yaxis2):
        assert ax.automargin is True and ax.title.standoff == AXIS_TITLE_STANDOFF
    over = runs_overlay({"a": _history(5)}).layout
    assert over.yaxis.automargin is True and over.yaxis.title.standoff == AXIS_TITLE_STANDOFF


def test_the_live_strip_shows_each_digit_with_its_guess(mnist):
    from lrcore.data import sample_indices
    from lrcore.figures.training import predictions_html

    idx = sample_indices(mnist.y_test, 2)
    assert len(idx) == 20
    assert list(mnist.y_test[idx[:10]]) == list(range(10))  # every class before repeats
    assert list(mnist.y_test[idx[10:]]) == list(range(10))
    X, y = mnist.X_test[idx], mnist.y_test[idx]
    classes = np.arange(10)
    proba = np.full((20, 10), 0.01)
    proba[np.arange(20), y] = 0.91  # right everywhere ...
    proba[0] = 0.01
    proba[0, (y[0] + 1) % 10] = 0.91  # ... but the first
    out = predictions_html(proba, classes, X, y)
    assert out.count("<figure") == 20
    assert out.count("data-right='1'") == 19 and out.count("data-right='0'") == 1
    assert "19 of 20 test digits read right" in out
    assert f"(is {y[0]})" in out and "91%" in out
