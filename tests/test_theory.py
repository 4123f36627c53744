"""lrcore.theory: one digit's logits, probabilities, loss and gradient, checked against
independent references (sklearn's log_loss, decision_function, finite differences)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import log_loss

from lrcore.config import TrainConfig
from lrcore.model import SoftmaxRegression
from lrcore.preprocess import Preprocessor
from lrcore.theory import gradient_step, penalty_breakdown, sample_breakdown
from lrcore.train import TrainedModel

D = 784


def make_model(kind: str, *, seed: int = 0, scale: float = 0.05, penalty="l2", C=0.5,
               preprocess: str = "unit", train_size: int = 200) -> tuple[TrainedModel, np.ndarray]:
    """A 'trained' model with random weights (no fitting: fast and any kind) and pixels."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(50, D)).astype(np.uint8)
    pixels[:, rng.random(D) < 0.3] = 0  # some pixels never inked, like MNIST borders
    classes = np.array([3, 7]) if kind == "binary" else np.arange(10)
    K = 1 if kind == "binary" else 10
    coef = rng.normal(scale=scale, size=(K, D))
    if penalty == "l1":
        coef[rng.random(coef.shape) < 0.5] = 0.0
    est = SoftmaxRegression.from_coef(coef, rng.normal(size=K), classes,
                                      multi_class="ovr" if kind == "ovr" else "multinomial",
                                      penalty=penalty, C=C)
    cfg = TrainConfig(penalty=penalty, C=C, preprocess=preprocess, train_size=train_size,
                      multi_class="ovr" if kind == "ovr" else "multinomial")
    pre = Preprocessor(preprocess).fit(pixels)
    return TrainedModel(model=est, preprocessor=pre, config=cfg), pixels


def sample_loss(model: TrainedModel, pixels: np.ndarray, label, coef=None, intercept=None):
    """Independent loss of one sample, written out from the formulas in the docstring."""
    est = model.model
    W = est.coef_ if coef is None else coef
    b = est.intercept_ if intercept is None else intercept
    x = model.features(pixels)[0]
    z = W @ x + b
    classes = est.classes_
    if est.kind_ == "multinomial":
        p = np.exp(z - z.max())
        p /= p.sum()
        return log_loss([label], p[None, :], labels=classes)
    if est.kind_ == "binary":
        s = 1.0 if label == classes[1] else -1.0
        return float(np.log1p(np.exp(-s * z[0])))
    s = np.where(classes == label, 1.0, -1.0)
    return float(np.sum(np.log1p(np.exp(-s * z))))


@pytest.mark.parametrize("kind", ["multinomial", "ovr", "binary"])
def test_logits_proba_and_prediction_match_the_estimator(kind):
    model, pixels = make_model(kind)
    label = model.classes[1]
    bd = sample_breakdown(model, pixels[4], label)
    X = model.features(pixels[4:5])
    z = np.atleast_2d(model.model.decision_function(X))
    assert_allclose(bd.logits, z[0] if z.shape[0] == 1 else z[:, 0], rtol=1e-10)
    assert_allclose(bd.proba, model.model.predict_proba(X)[0], rtol=1e-10)
    assert bd.predicted == model.model.predict(X)[0]
    assert bd.kind == kind
    assert bd.x.shape == (D,) and bd.grad.shape == (1 if kind == "binary" else 10, D)
    assert_allclose(bd.x, X[0])


@pytest.mark.parametrize("kind", ["multinomial", "ovr", "binary"])
@pytest.mark.parametrize("preprocess", ["unit", "standardize"])
def test_loss_matches_the_formula_and_sklearn_log_loss(kind, preprocess):
    model, pixels = make_model(kind, preprocess=preprocess, seed=1)
    for i, label in [(0, model.classes[0]), (7, model.classes[-1])]:
        bd = sample_breakdown(model, pixels[i], label)
        assert bd.loss == pytest.approx(sample_loss(model, pixels[i], label), rel=1e-9)
        # The log-loss of predict_proba, what sklearn reports (= the training loss for
        # softmax and binary, not for one-vs-rest whose K sigmoids are renormalized).
        ref = log_loss([label], bd.proba[None, :], labels=model.classes)
        assert bd.log_loss == pytest.approx(ref, rel=1e-9)
        if kind != "ovr":
            assert bd.loss == pytest.approx(bd.log_loss, rel=1e-9)


@pytest.mark.parametrize("kind", ["multinomial", "ovr", "binary"])
def test_gradient_matches_finite_differences(kind):
    model, pixels = make_model(kind, seed=2)
    label = model.classes[-1]
    px = pixels[3]
    bd = sample_breakdown(model, px, label)
    W, b = model.model.coef_, model.model.intercept_
    rng = np.random.default_rng(0)
    inked = np.flatnonzero(bd.x != 0)
    h = 1e-6
    for _ in range(25):
        k = int(rng.integers(W.shape[0]))
        j = int(rng.choice(inked))
        Wp, Wm = W.copy(), W.copy()
        Wp[k, j] += h
        Wm[k, j] -= h
        fd = (sample_loss(model, px, label, coef=Wp) - sample_loss(model, px, label, coef=Wm)) \
            / (2 * h)
        assert bd.grad[k, j] == pytest.approx(fd, rel=1e-5, abs=1e-8)
    for k in range(W.shape[0]):
        bp, bm = b.copy(), b.copy()
        bp[k] += h
        bm[k] -= h
        fd = (sample_loss(model, px, label, intercept=bp)
              - sample_loss(model, px, label, intercept=bm)) / (2 * h)
        assert bd.grad_intercept[k] == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_softmax_gradient_is_residual_outer_x_and_sums_to_zero():
    model, pixels = make_model("multinomial", seed=3)
    bd = sample_breakdown(model, pixels[0], 4)
    onehot = np.eye(10)[4]
    assert_allclose(bd.targets, onehot)
    assert_allclose(bd.residual, bd.proba - onehot, atol=1e-12)
    assert_allclose(bd.grad, np.outer(bd.proba - onehot, bd.x), atol=1e-12)
    # Probabilities sum to 1, so the ten gradient images add up to zero pixel by pixel.
    assert_allclose(bd.grad.sum(axis=0), 0.0, atol=1e-12)
    # Only the true class is pushed up (negative gradient = ink added to its template).
    assert bd.residual[4] < 0 and np.all(np.delete(bd.residual, 4) > 0)


def test_gradient_is_zero_where_there_is_no_ink():
    model, pixels = make_model("multinomial", seed=4)
    bd = sample_breakdown(model, pixels[0], 0)
    blank = bd.x == 0
    assert blank.any()
    assert np.all(bd.grad[:, blank] == 0)


@pytest.mark.parametrize("kind", ["multinomial", "ovr", "binary"])
def test_gradient_step_moves_logits_against_the_residual_and_lowers_the_loss(kind):
    model, pixels = make_model(kind, seed=5)
    label = model.classes[0]
    bd = sample_breakdown(model, pixels[2], label)
    eta = 1e-4
    st = gradient_step(model, bd, eta)
    expected = bd.logits - eta * (bd.x @ bd.x + 1.0) * bd.residual
    assert_allclose(st.logits, expected, rtol=1e-9, atol=1e-12)
    assert st.loss < bd.loss
    assert gradient_step(model, bd, 0.0).loss == pytest.approx(bd.loss, rel=1e-12)
    with pytest.raises(ValueError, match="eta"):
        gradient_step(model, bd, -1.0)


def test_label_must_be_a_class_and_pixels_one_digit():
    model, pixels = make_model("binary")
    with pytest.raises(ValueError, match="not one of the model's classes"):
        sample_breakdown(model, pixels[0], 5)
    with pytest.raises(ValueError, match="shape"):
        sample_breakdown(model, pixels[:2], 3)


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_penalty_breakdown_completes_the_objective(penalty):
    """C * sum(loss) + penalty value = the estimator's own objective on the same data."""
    model, pixels = make_model("multinomial", penalty=penalty, C=0.3, seed=6)
    y = np.arange(50) % 10
    pb = penalty_breakdown(model, n_train=50)
    assert penalty_breakdown(model).n_train == model.config.train_size == 200
    losses = sum(sample_breakdown(model, p, lab).loss for p, lab in zip(pixels, y))
    expected = model.model.objective(model.features(pixels), y)
    assert 0.3 * losses + pb.value == pytest.approx(expected, rel=1e-9)
    assert pb.per_sample == pytest.approx(pb.value / (0.3 * 50))
    W = model.model.coef_
    assert pb.l2_squared == pytest.approx(np.sum(W ** 2))
    assert pb.l1 == pytest.approx(np.abs(W).sum())
    assert pb.zero_fraction == pytest.approx(np.mean(W == 0))
    if penalty == "l1":
        assert pb.zero_fraction > 0.3


def test_penalty_breakdown_without_penalty():
    model, _ = make_model("multinomial", penalty=None)
    pb = penalty_breakdown(model)
    assert pb.value == 0 and pb.per_sample == 0 and math.isinf(pb.C)
    with pytest.raises(ValueError, match="n_train"):
        penalty_breakdown(model, n_train=0)
