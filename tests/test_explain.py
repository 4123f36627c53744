"""Tests for lrcore.explain: the per-pixel account of a prediction, and its figures."""
from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose
from PIL import Image, ImageDraw

from lrcore.config import TrainConfig
from lrcore.explain import (
    OTHER_COLOR,
    WINNER_COLOR,
    digit_html,
    evidence_html,
    evidence_indices,
    explain_digit,
    gray_indices,
    proba_bars,
    scores_html,
)
from lrcore.model import SoftmaxRegression
from lrcore.preprocess import Preprocessor, canvas_to_mnist
from lrcore.train import TrainedModel, train


def random_model(mode: str = "unit", n_classes: int = 10, seed: int = 0,
                 multi_class: str = "multinomial") -> TrainedModel:
    """A TrainedModel with random weights and a preprocessor fitted on random pixels."""
    rng = np.random.default_rng(seed)
    rows = 1 if n_classes == 2 else n_classes
    est = SoftmaxRegression.from_coef(rng.normal(0, 0.3, (rows, 784)), rng.normal(0, 1, rows),
                                      np.arange(n_classes), multi_class=multi_class)
    pre = Preprocessor(mode).fit(rng.integers(0, 256, (50, 784)).astype(np.uint8))
    return TrainedModel(model=est, preprocessor=pre, config=TrainConfig(preprocess=mode))


def random_digit(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((28, 28))
    x[6:22, 10:18] = rng.uniform(0.3, 1.0, (16, 8))
    return x.ravel()


@pytest.mark.parametrize("mode", ["unit", "standardize", "deskew", "raw"])
def test_evidence_plus_bias_is_the_logit(mode):
    model = random_model(mode)
    x = random_digit()
    e = explain_digit(model, x)
    feats = model.features(x * 255)
    assert_allclose(e.logits, model.model.decision_function(feats)[0], rtol=1e-10, atol=1e-10)
    assert_allclose(e.proba, model.model.predict_proba(feats)[0], rtol=1e-12)
    assert_allclose(e.proba.sum(), 1.0, rtol=1e-12)
    assert e.evidence.shape == (3, 28, 28)
    for i, k in enumerate(e.evidence_idx):
        assert_allclose(e.evidence[i].sum() + e.intercept[k], e.logits[k], rtol=1e-10,
                        atol=1e-10)
    assert_allclose(e.features.ravel(), feats[0])
    assert_allclose(e.image.ravel(), x)


def test_top_classes_sorted_and_prediction_matches_model():
    model = random_model()
    x = random_digit(3)
    e = explain_digit(model, x)
    assert (np.diff(e.proba[e.top]) <= 0).all()
    assert sorted(e.top.tolist()) == list(range(10))
    assert e.predicted == model.model.predict(model.features(x * 255))[0]
    assert e.confidence == pytest.approx(e.proba.max())
    assert list(e.evidence_idx) == list(e.top[:3])
    assert list(e.top_classes) == list(e.classes[e.top])


def test_two_class_model_gets_a_zero_row_for_the_negative_class():
    model = random_model(n_classes=2)
    e = explain_digit(model, random_digit(), k=2)
    assert e.evidence.shape == (2, 28, 28)
    assert_allclose(e.proba, model.predict_proba_pixels(random_digit()[None] * 255)[0])
    for i, k in enumerate(e.evidence_idx):
        assert_allclose(e.evidence[i].sum() + e.intercept[k], e.logits[k], atol=1e-10)


def test_ovr_model_identity_holds():
    model = random_model(multi_class="ovr")
    e = explain_digit(model, random_digit())
    assert_allclose(e.proba.sum(), 1.0)
    i, k = 0, e.evidence_idx[0]
    assert_allclose(e.evidence[i].sum() + e.intercept[k], e.logits[k], atol=1e-10)


@pytest.mark.parametrize("bad", [np.zeros(783), np.full(784, 2.0), np.full(784, np.nan)])
def test_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="pixels01"):
        explain_digit(random_model(), bad)


def test_accepts_28x28_and_k_zero():
    e = explain_digit(random_model(), random_digit().reshape(28, 28), k=0)
    assert e.evidence.shape == (0, 28, 28)


# ----------------------------------------------------------------------------- figures


def test_proba_bars_highlights_the_winner():
    e = explain_digit(random_model(), random_digit())
    fig = proba_bars(e)
    (bar,) = fig.data
    assert list(bar.x) == [str(c) for c in range(10)]
    assert_allclose(bar.y, 100 * e.proba)
    colors = list(bar.marker.color)
    assert colors[int(e.top[0])] == WINNER_COLOR
    assert colors.count(WINNER_COLOR) == 1
    assert colors.count(OTHER_COLOR) == 9
    assert bar.text[int(e.top[0])].endswith("%")


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


def decode(url: str) -> np.ndarray:
    """The pixels of a ``data:image/png;base64`` URL, (28, 28, 3) uint8."""
    head, data = url.split(",", 1)
    assert head == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def img_urls(html: str) -> list[str]:
    return re.findall(r"<img src='([^']+)'", html)


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


# ----------------------------------------------------------------------------- real digits


def canvas(draw) -> np.ndarray:
    """A 280x280 RGBA canvas as the app's st_canvas returns it: white ink on opaque black."""
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw(ImageDraw.Draw(img))
    return np.asarray(img)


@pytest.fixture(scope="module")
def real_model(mnist) -> TrainedModel:
    return train(TrainConfig(train_size=5000, max_iter=100), mnist)


def test_vertical_stroke_is_a_one(real_model):
    rgba = canvas(lambda d: d.line([(140, 50), (140, 230)], fill=(255, 255, 255, 255), width=20))
    e = explain_digit(real_model, canvas_to_mnist(rgba))
    assert e.predicted == 1
    assert e.confidence > 0.5


@pytest.mark.parametrize("box", [(80, 45, 200, 235), (60, 60, 220, 220)], ids=["oval", "round"])
def test_ring_is_a_zero(real_model, box):
    # The page's default 20-pixel brush. (With a much thinner brush, 14 pixels, a ring this
    # size becomes faint and thin after the scaling to 20x20 and reads as a 2 or a 3:
    # MNIST's strokes are 2-3 pixels wide, which is why the default is 20.)
    rgba = canvas(lambda d: d.ellipse(box, outline=(255, 255, 255, 255), width=20))
    e = explain_digit(real_model, canvas_to_mnist(rgba))
    assert e.predicted == 0
    # The evidence for the winner outweighs the runner-up's: that is why it won.
    assert e.logits[e.evidence_idx[0]] > e.logits[e.evidence_idx[1]]
