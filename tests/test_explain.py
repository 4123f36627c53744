"""Tests for lrcore.explain: the per-pixel account of a prediction (its pictures are
tested in tests/test_figures_draw.py)."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from PIL import Image, ImageDraw

from lrcore.config import TrainConfig
from lrcore.explain import explain_digit
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
