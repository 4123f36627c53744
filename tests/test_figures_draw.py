"""Tests for lrcore.figures.draw: the Draw page's scores and 28x28 pictures as HTML."""
from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose
from PIL import Image

from lrcore.explain import explain_digit
from lrcore.figures.draw import digit_html, evidence_html, scores_html
from lrcore.figures.style import WINNER_COLOR, evidence_indices, gray_indices
from tests.test_explain import random_digit, random_model


def decode(url: str) -> np.ndarray:
    """The pixels of a ``data:image/png;base64`` URL, (28, 28, 3) uint8."""
    head, data = url.split(",", 1)
    assert head == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def img_urls(html: str) -> list[str]:
    return re.findall(r"<img src='([^']+)'", html)


def test_scores_html_has_one_bar_per_class_and_highlights_the_winner():
    import re

    e = explain_digit(random_model(), random_digit())
    html = scores_html(e)
    p = [float(v) for v in re.findall(r"data-p='([0-9.]+)'", html)]
    assert_allclose(p, 100 * e.proba, atol=0.005)
    assert re.findall(r"data-class='(\d)'", html) == [str(c) for c in range(10)]
    assert re.search(r"class='prediction'[^>]*>(\d)<", html).group(1) == str(e.predicted)
    heights = [int(h) for h in re.findall(r"height:(\d+)px;background", html)]
    colors = re.findall(r"px;background:(#[0-9a-f]{6})", html)
    assert colors[int(e.top[0])] == WINNER_COLOR and colors.count(WINNER_COLOR) == 1
    assert heights[int(e.top[0])] == max(heights)
    assert "class='prediction'" not in scores_html(e, headline=False)


def test_digit_html_is_upright_and_on_a_fixed_grey_scale():
    img = np.zeros((28, 28))
    img[0, :] = 1.0  # top row lit
    img[27, 0] = 0.5
    html = digit_html([(img, "What the model sees")])
    (url,) = img_urls(html)
    px = decode(url)
    assert px.shape == (28, 28, 3)
    assert (px[0] == 255).all() and (px[1:27] == 0).all()  # row 0 is drawn on top
    assert px[27, 0, 0] == 128
    assert "What the model sees" in html and "pixelated" in html
    # Standardized features are outside [0, 1]: stretched to their own range.
    z = np.linspace(-2, 3, 784)
    px = decode(img_urls(digit_html([(z, "t")]))[0])
    assert px[0, 0, 0] == 0 and px[27, 27, 0] == 255
    assert_allclose(gray_indices(z).ravel(), np.round((z + 2) / 5 * 255))
    two = digit_html([(img, "a"), (z, "b")])
    assert two.count("class='digit'") == 2 and len(img_urls(two)) == 2


def test_digit_html_escapes_titles():
    html = digit_html([(np.zeros(784), "<b>x</b>")])
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_evidence_html_titles_colours_and_symmetric_scale():
    e = explain_digit(random_model(), random_digit())
    html = evidence_html(e)
    vmax = float(re.search(r"data-vmax='([^']+)'", html).group(1))
    assert vmax == pytest.approx(np.abs(e.evidence).max(), rel=1e-5)
    figs = re.findall(r"<figure class='evmap' data-class='(\d)' data-logit='([^']+)'", html)
    assert [int(c) for c, _ in figs] == [int(e.classes[k]) for k in e.evidence_idx]
    urls = img_urls(html)
    assert len(urls) == 3
    for i, k in enumerate(e.evidence_idx):
        assert float(figs[i][1]) == pytest.approx(e.logits[k], abs=1e-4)
        assert f"evidence for {int(e.classes[k])}</b>: logit {e.logits[k]:.1f}" in html
        px = decode(urls[i]).astype(int)
        ev = e.evidence[i]
        # The strongest vote for is red, the strongest against blue, no vote near white.
        hi, lo = np.unravel_index(ev.argmax(), ev.shape), np.unravel_index(ev.argmin(), ev.shape)
        if ev.max() > 0.5 * vmax:
            assert px[hi][0] > px[hi][2] + 60
        if ev.min() < -0.5 * vmax:
            assert px[lo][2] > px[lo][0] + 60
        zero = np.unravel_index(np.abs(ev).argmin(), ev.shape)
        if abs(ev[zero]) < 0.02 * vmax:
            assert (px[zero] > 230).all()
    assert_allclose(evidence_indices(np.array([-vmax, 0, vmax]).repeat(262)[:784], vmax)
                    .ravel()[[0, 300, 783]], [0, 128, 255], atol=1)
    assert html.count("class='evmap'") == 3 and "class='colorbar'" in html
    assert evidence_html(e, k=1).count("class='evmap'") == 1


def test_evidence_html_of_an_empty_digit_has_a_usable_scale():
    e = explain_digit(random_model(), np.zeros(784))
    html = evidence_html(e)  # every map is zero: no division by zero, all white
    for url in img_urls(html):
        assert (decode(url) > 230).all()
