"""Tests for lrcore.figures.theory: one digit's logits, probabilities and gradient."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lrcore.figures.style import TEST_COLOR
from lrcore.figures.theory import gradient_images, logit_bars, proba_bars


GREY = "#9aa5b1"  # the colour of a class that is not the true one (logit_bars, proba_bars)


def test_logit_bars_highlight_truth_and_step_outline():
    z = np.array([1.0, -2.0, 3.0])
    fig = logit_bars(z, [0, 1, 2], label=2)
    (bars,) = fig.data
    assert bars.type == "bar" and list(bars.x) == ["0", "1", "2"]
    assert_allclose(bars.y, z)
    assert list(bars.marker.color) == [GREY, GREY, TEST_COLOR]
    assert list(bars.text) == ["1.00", "-2.00", "3.00"]
    assert fig.layout.showlegend is False
    lo, hi = fig.layout.yaxis.range
    assert lo < -2 and hi > 3

    after = np.array([0.5, -2.5, 4.0])
    fig = logit_bars(z, [0, 1, 2], label=2, after=after)
    assert len(fig.data) == 2 and fig.layout.showlegend is True
    assert_allclose(fig.data[1].y, after)
    assert fig.layout.yaxis.range[0] < -2.5 and fig.layout.yaxis.range[1] > 4.0

    positive = logit_bars([2.0, 5.0], [0, 1]).layout.yaxis.range
    assert positive[0] <= 0  # bars start at 0, so 0 stays in view


def test_logit_bars_binary_model_has_one_bar():
    fig = logit_bars([1.5], [3, 8], label=8)
    assert list(fig.data[0].x) == ["8 vs 3"]
    assert list(fig.data[0].marker.color) == [TEST_COLOR]
    assert list(logit_bars([1.5], [3, 8], label=3).data[0].marker.color) == [GREY]


def test_proba_bars():
    p = np.array([0.95, 0.00005, 0.04995])
    fig = proba_bars(p, [0, 1, 2], label=1)
    (bars,) = fig.data
    assert_allclose(bars.y, p)
    assert list(bars.text) == ["95.0%", "5e-05", "5.0%"]  # a tiny p is not shown as 0.0%
    assert list(bars.marker.color) == [GREY, TEST_COLOR, GREY]
    assert list(fig.layout.yaxis.range) == [0, 1.12] and fig.layout.yaxis.tickformat == ".0%"


def test_gradient_images_shared_symmetric_scale_and_titles():
    rng = np.random.default_rng(0)
    G = rng.normal(size=(10, 784))
    r = np.linspace(-0.9, 0.1, 10)
    fig = gradient_images(G, np.arange(10), residual=r)
    assert len(fig.data) == 10
    m = np.abs(G).max()
    for k, tr in enumerate(fig.data):
        assert tr.type == "heatmap"
        # The step -G is drawn: red (positive) = the step raises the weight, as on Weights.
        assert_allclose(np.asarray(tr.z), -G[k].reshape(28, 28))
        assert tr.zmin == pytest.approx(-m) and tr.zmax == pytest.approx(m) and tr.zmid == 0
        assert tr.showscale is (k == 0)
        assert f"class {k}" in tr.hovertemplate
    assert "red: the step<br>raises w" in fig.data[0].colorbar.title.text
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0] == "class 0<br>-0.900" and titles[9] == "class 9<br>+0.100"
    lay = fig.layout
    # Two rows of five: the rows do not overlap, and each image keeps its aspect.
    top, bottom = lay.yaxis.domain, lay.yaxis6.domain
    assert bottom[1] <= top[0]
    assert lay.yaxis.scaleanchor == "x" and lay.yaxis.autorange == "reversed"
    assert lay.xaxis5.domain[1] <= 1.0


def test_gradient_images_binary_zero_and_bad_shape():
    fig = gradient_images(np.ones(784), [3, 8], residual=[1e-5])
    assert len(fig.data) == 1
    assert fig.layout.annotations[0].text == "class 8 vs 3<br>+1e-05"
    zero = gradient_images(np.zeros((2, 784)), [0, 1])  # a perfectly classified digit
    assert zero.data[0].zmax == 1.0 and zero.data[0].zmin == -1.0
    assert [a.text for a in zero.layout.annotations] == ["class 0", "class 1"]
    with pytest.raises(ValueError, match="square number of columns"):
        gradient_images(np.ones((10, 780)), np.arange(10))


def test_proba_bars_of_a_drawn_digit_highlight_the_prediction():
    # The one proba_bars serves the Draw page's explanation too: label = the prediction.
    from lrcore.explain import explain_digit
    from lrcore.figures.style import OTHER_COLOR
    from tests.test_explain import random_digit, random_model

    e = explain_digit(random_model(), random_digit())
    (bar,) = proba_bars(e.proba, e.classes, label=e.predicted).data
    assert list(bar.x) == [str(c) for c in range(10)]
    assert_allclose(bar.y, e.proba)
    colors = list(bar.marker.color)
    assert colors[int(e.top[0])] == TEST_COLOR and colors.count(TEST_COLOR) == 1
    assert colors.count(OTHER_COLOR) == 9
    assert bar.text[int(e.top[0])].endswith("%")
