"""Tests for lrcore.figures.weights: the weight images carry the right traces, shapes,
scales and data."""
from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lrcore.figures.style import WEIGHT_COLORSCALE
from lrcore.figures.weights import weight_difference, weight_images, weight_table


CLASSES = np.arange(10)


@pytest.fixture(scope="module")
def coef():
    rng = np.random.default_rng(0)
    c = rng.normal(size=(10, 784))
    c[3] *= 0.1  # one faint class, to tell shared and per-class scales apart
    return c


def test_weight_images_grid_shared_symmetric_scale(coef):
    fig = weight_images(coef, CLASSES)
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
    assert WEIGHT_COLORSCALE == "RdBu_r"


def test_weight_images_axes_upright_square_and_bare(coef):
    layout = weight_images(coef, CLASSES).to_plotly_json()["layout"]
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
    fig = weight_images(coef, CLASSES, symmetric=False)
    for k, tr in enumerate(fig.data):
        m_k = np.abs(coef[k]).max()
        assert tr.zmax == pytest.approx(m_k) and tr.zmin == pytest.approx(-m_k)
        assert tr.zmid == 0
    assert fig.data[3].zmax < 0.5 * fig.data[0].zmax  # the faint class got its own range


def test_weight_images_fixed_zmax_and_titles(coef):
    fig = weight_images(coef, CLASSES, zmax=10.0, titles=list("abcdefghij"))
    assert all(tr.zmax == 10.0 and tr.zmin == -10.0 for tr in fig.data)
    assert fig.layout.xaxis.title.text == "a"
    with pytest.raises(ValueError, match="titles must have 10"):
        weight_images(coef, CLASSES, titles=["a"])


def test_weight_images_binary_model_is_one_image():
    w = np.linspace(-1, 2, 784)[None, :]
    fig = weight_images(w, np.array([3, 8]))
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
        weight_images(bad, classes)


def test_all_zero_weights_still_have_a_valid_scale():
    fig = weight_images(np.zeros((10, 784)), CLASSES)
    assert fig.data[0].zmax == 1.0 and fig.data[0].zmin == -1.0


def test_weight_difference(coef):
    other = coef * 0.5
    fig = weight_difference(coef, other, CLASSES, ["L1 run", "L2 run"])
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
        weight_difference(coef, coef[:, :196], CLASSES, ["a", "b"])
    with pytest.raises(ValueError, match="does not fit"):
        weight_difference(coef, coef[:9], CLASSES, ["a", "b"])
    with pytest.raises(ValueError, match="two models"):
        weight_difference(coef, coef, CLASSES, ["a"])


def test_weight_table(coef):
    c = coef.copy()
    c[2, :392] = 0.0
    rows = weight_table(c, np.arange(10) * 0.1, CLASSES)
    assert len(rows) == 10
    assert rows[2]["zero weights (%)"] == pytest.approx(50.0)
    assert rows[4]["intercept"] == pytest.approx(0.4)
    assert rows[0]["most positive"] == pytest.approx(c[0].max())
    assert rows[0]["L2 norm"] == pytest.approx(np.linalg.norm(c[0]))
    json.dumps(rows)  # plain Python values
    with pytest.raises(ValueError, match="intercept must have 10"):
        weight_table(c, np.zeros(3), CLASSES)


# ----------------------------------------------------------------------------- HTML tiles


def _tile_attrs(html: str) -> list[tuple[str, float]]:
    import re

    return [(c, float(v)) for c, v in
            re.findall(r"<figure class='wtile' data-class='([^']*)' data-vmax='([^']+)'", html)]


def _decode(url: str) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
                      .convert("RGB")).astype(int)


def test_weight_tiles_html_shared_scale_red_positive_and_wrapping_grid(coef):
    import re

    from lrcore.figures.weights import TILE_MIN_PX, weight_tiles_html

    html = weight_tiles_html(coef, CLASSES)
    attrs = _tile_attrs(html)
    m = np.abs(coef).max()
    assert [c for c, _ in attrs] == [str(c) for c in range(10)]
    assert all(v == pytest.approx(m, rel=1e-5) for _, v in attrs)
    urls = re.findall(r"<img src='([^']+)'", html)
    assert len(urls) == 10
    for k, url in enumerate(urls):
        px = _decode(url)
        assert px.shape == (28, 28, 3)
        w = coef[k].reshape(28, 28)
        hi, lo = np.unravel_index(w.argmax(), w.shape), np.unravel_index(w.argmin(), w.shape)
        if w.max() > 0.5 * m:
            assert px[hi][0] > px[hi][2] + 60  # positive = red
        if w.min() < -0.5 * m:
            assert px[lo][2] > px[lo][0] + 60  # negative = blue
    # Square pixels, and a grid that wraps: never narrower than TILE_MIN_PX, at most 5 a row.
    assert "pixelated" in html and "display:grid" in html and "auto-fill" in html
    assert f"max({TILE_MIN_PX}px, calc((100% - 4 * 0.6rem) / 5))" in html
    assert html.count("class='colorbar'") == 1 and "red: evidence for the class" in html


def test_weight_tiles_html_per_class_fixed_and_binary(coef):
    from lrcore.figures.weights import weight_tiles_html

    per = _tile_attrs(weight_tiles_html(coef, CLASSES, symmetric=False))
    assert [v for _, v in per] == pytest.approx(np.abs(coef).max(axis=1).tolist(), rel=1e-5)
    fixed = _tile_attrs(weight_tiles_html(coef, CLASSES, zmax=50.0))
    assert {v for _, v in fixed} == {50.0}
    binary = weight_tiles_html(np.linspace(-1, 1, 784), [3, 8])
    assert _tile_attrs(binary) == [("8 vs 3", 1.0)]
    assert "red: evidence for 8, blue: evidence for 3" in binary
    with pytest.raises(ValueError, match="zmax"):
        weight_tiles_html(coef, CLASSES, zmax=0.0)
    with pytest.raises(ValueError, match="square"):
        weight_tiles_html(np.ones((10, 780)), CLASSES)
