"""lrcore.loss: the objective and its gradient against explicit formulas, finite differences
and scikit-learn's LinearModelLoss; the penalty; float32 and the blockwise refinement."""
from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lrcore import loss as L


def _toy(n=60, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    return X, y


def _explicit(coef, X, y, kind, fit_intercept, l2):
    """Mean loss and the L2-penalized smooth objective, written out from the docstring."""
    W, b = (coef[:, :-1], coef[:, -1]) if fit_intercept else (coef, np.zeros(coef.shape[0]))
    Z = X @ W.T + b
    n = X.shape[0]
    if kind == "multinomial":
        m = Z.max(axis=1)
        lse = m + np.log(np.exp(Z - m[:, None]).sum(axis=1))
        losses = lse - Z[np.arange(n), y]
    else:
        S = -np.ones_like(Z)
        if kind == "binary":
            S[y == 1, 0] = 1.0
        else:
            S[np.arange(n), y] = 1.0
        losses = np.log1p(np.exp(-S * Z)).sum(axis=1)
    mean = losses.mean()
    return mean, mean + 0.5 * l2 * np.sum(W * W)


def _rows(kind, k):
    return 1 if kind == "binary" else k


# ----------------------------------------------------------------- loss and objective


@pytest.mark.parametrize("kind,k", [("multinomial", 4), ("ovr", 4), ("binary", 2)])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_loss_and_objective_match_the_written_out_formula(kind, k, fit_intercept, l2):
    X, y = _toy(k=k)
    coef = np.random.default_rng(4).standard_normal((_rows(kind, k),
                                                     X.shape[1] + int(fit_intercept)))
    res = L.loss_gradient(coef, X, None, y, kind, fit_intercept, l2_reg_strength=l2)
    mean, objective = _explicit(coef, X, y, kind, fit_intercept, l2)
    assert res.loss == pytest.approx(mean, rel=1e-12)
    assert res.objective == pytest.approx(objective, rel=1e-12)
    # need_grad=False gives the same values without the gradient.
    res0 = L.loss_gradient(coef, X, None, y, kind, fit_intercept, need_grad=False,
                           l2_reg_strength=l2)
    assert res0.grad is None
    assert (res0.loss, res0.objective) == (res.loss, res.objective)


def test_loss_is_softmax_cross_entropy():
    X, y = _toy()
    coef = np.random.default_rng(2).standard_normal((3, 6))
    res = L.loss_gradient(coef, X, L.targets(y, 3, "multinomial", np.float64), y,
                          "multinomial", True)
    Z = X @ coef[:, :-1].T + coef[:, -1]
    P = np.exp(Z) / np.exp(Z).sum(1, keepdims=True)
    assert res.loss == pytest.approx(-np.mean(np.log(P[np.arange(len(y)), y])), rel=1e-12)
    assert res.objective == res.loss  # no L2 term
    assert res.n_correct == np.sum(Z.argmax(1) == y)


@pytest.mark.parametrize("kind,k", [("multinomial", 4), ("ovr", 4), ("binary", 2)])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_gradient_matches_finite_differences(kind, k, fit_intercept, l2):
    X, y = _toy(k=k)
    rows = _rows(kind, k)
    rng = np.random.default_rng(1)
    coef = rng.standard_normal((rows, X.shape[1] + int(fit_intercept)))
    Y = L.targets(y, rows, kind, np.float64)
    res = L.loss_gradient(coef, X, Y, y, kind, fit_intercept, l2_reg_strength=l2)
    num = np.zeros_like(coef)
    h = 1e-6
    for idx in np.ndindex(coef.shape):
        e = np.zeros_like(coef)
        e[idx] = h
        fp = L.loss_gradient(coef + e, X, Y, y, kind, fit_intercept, need_grad=False,
                             l2_reg_strength=l2).objective
        fm = L.loss_gradient(coef - e, X, Y, y, kind, fit_intercept, need_grad=False,
                             l2_reg_strength=l2).objective
        num[idx] = (fp - fm) / (2 * h)
    assert_allclose(res.grad, num, rtol=1e-6, atol=1e-8)


def test_the_intercepts_are_not_penalized():
    X, y = _toy(k=3)
    coef = np.random.default_rng(8).standard_normal((3, 6))
    a = L.loss_gradient(coef, X, None, y, "multinomial", True)
    b = L.loss_gradient(coef, X, None, y, "multinomial", True, l2_reg_strength=0.7)
    assert_allclose(b.grad[:, -1], a.grad[:, -1], rtol=0, atol=0)
    assert_allclose(b.grad[:, :-1], a.grad[:, :-1] + 0.7 * coef[:, :-1], rtol=1e-14)
    assert b.objective == pytest.approx(a.loss + 0.35 * np.sum(coef[:, :-1] ** 2), rel=1e-14)


def test_targets_made_per_block_equal_given_targets():
    X, y = _toy(n=2500, d=7, k=4, seed=9)
    coef = np.random.default_rng(9).standard_normal((4, 8)) * 0.3
    for kind, rows in (("multinomial", 4), ("ovr", 4)):
        a = L.loss_gradient(coef[:rows], X, L.targets(y, rows, kind, np.float64), y, kind, True,
                            l2_reg_strength=0.1)
        b = L.loss_gradient(coef[:rows], X, None, y, kind, True, l2_reg_strength=0.1)
        assert (a.loss, a.objective, a.n_correct) == (b.loss, b.objective, b.n_correct)
        assert_allclose(a.grad, b.grad, rtol=0, atol=0)


# ----------------------------------------------------------------- scikit-learn reference


def _sklearn_loss():
    try:
        from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:  # private modules: compare only where they exist
        return None
    return LinearModelLoss, HalfMultinomialLoss, HalfBinomialLoss


@pytest.mark.parametrize("kind,k", [("multinomial", 4), ("binary", 2)])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.25])
def test_agrees_with_sklearn_linear_model_loss(kind, k, fit_intercept, l2):
    ref = _sklearn_loss()
    X, y = _toy(n=80, d=6, k=k, seed=3)
    rows = _rows(kind, k)
    coef = np.random.default_rng(5).standard_normal((rows, X.shape[1] + int(fit_intercept)))
    ours = L.loss_gradient(coef, X, None, y, kind, fit_intercept, l2_reg_strength=l2)
    if ref is None:  # the written-out formula stands in for the reference
        assert ours.objective == pytest.approx(
            _explicit(coef, X, y, kind, fit_intercept, l2)[1], rel=1e-12)
        return
    LinearModelLoss, HalfMultinomialLoss, HalfBinomialLoss = ref
    if kind == "multinomial":
        lml = LinearModelLoss(HalfMultinomialLoss(n_classes=k), fit_intercept)
        sk_coef = coef
    else:
        lml = LinearModelLoss(HalfBinomialLoss(), fit_intercept)
        sk_coef = coef[0]
    loss, grad = lml.loss_gradient(sk_coef, X, y.astype(np.float64), l2_reg_strength=l2)
    assert ours.objective == pytest.approx(loss, rel=1e-12)
    assert_allclose(ours.grad.reshape(np.shape(grad)), grad, rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------- the penalty


@pytest.mark.parametrize("penalty,l1_ratio,r", [
    ("l2", None, 0.0), ("l2", 0.7, 0.0), ("l1", None, 1.0), ("elasticnet", 0.3, 0.3),
    (None, 0.5, 0.0),
])
def test_penalty_value_and_strengths_for_each_penalty(penalty, l1_ratio, r):
    rng = np.random.default_rng(6)
    W = rng.standard_normal((3, 7))
    W[rng.random(W.shape) < 0.3] = 0.0
    C, n = 0.2, 150
    pen = L.make_penalty(penalty, C, l1_ratio, n)
    v = pen.value(W)
    assert pen.penalty == penalty and pen.l1_ratio == r and pen.n_samples == n
    assert v.l2_squared == pytest.approx(np.sum(W ** 2), rel=1e-14)
    assert v.l1 == pytest.approx(np.abs(W).sum(), rel=1e-14)
    mean_loss = 0.8
    if penalty is None:
        assert math.isinf(pen.C)
        assert (pen.l2_strength, pen.l1_strength, v.value, v.mean_value) == (0, 0, 0, 0)
        assert pen.objective_scale == n
        assert pen.objective(mean_loss, W) == pytest.approx(n * mean_loss, rel=1e-15)
        return
    value = (1 - r) / 2 * np.sum(W ** 2) + r * np.abs(W).sum()
    assert v.value == pytest.approx(value, rel=1e-14)
    assert v.mean_value == pytest.approx(value / (C * n), rel=1e-14)
    assert pen.l2_strength == pytest.approx((1 - r) / (C * n), rel=1e-15)
    assert pen.l1_strength == pytest.approx(r / (C * n), rel=1e-15)
    assert pen.objective_scale == pytest.approx(C * n, rel=1e-15)
    # scikit-learn's objective is C n times the mean objective of the solvers.
    assert pen.objective(mean_loss, W) == pytest.approx(C * n * mean_loss + value, rel=1e-14)
    mean_objective = (mean_loss + pen.l2_strength / 2 * v.l2_squared
                      + pen.l1_strength * v.l1)
    assert pen.objective(mean_loss, W) == pytest.approx(pen.objective_scale * mean_objective,
                                                        rel=1e-13)


def test_l1_weights_leave_the_intercepts_free_and_give_the_l1_value():
    pen = L.make_penalty("elasticnet", 0.5, 0.4, 20)
    c = pen.l1_weights((3, 5), fit_intercept=True)
    assert c.shape == (15,)
    assert_allclose(c.reshape(3, 5)[:, :-1], pen.l1_strength)
    assert np.all(c.reshape(3, 5)[:, -1] == 0)
    assert_allclose(pen.l1_weights((3, 4), fit_intercept=False), pen.l1_strength)
    x = np.random.default_rng(7).standard_normal(15)
    W = x.reshape(3, 5)[:, :-1]
    assert L.l1_value(x, c) == pytest.approx(pen.l1_strength * np.abs(W).sum(), rel=1e-14)
    assert np.all(L.make_penalty("l2", 0.5, None, 20).l1_weights((3, 5), True) == 0)


def test_make_penalty_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="unknown penalty 'l3'"):
        L.make_penalty("l3", 1.0, None, 10)


# ----------------------------------------------------------------- precision and blocks


@pytest.mark.parametrize("kind,k", [("multinomial", 5), ("ovr", 5), ("binary", 2)])
def test_float32_products_agree_with_float64(kind, k):
    X, y = _toy(n=3000, d=20, k=k, seed=10)
    coef = np.random.default_rng(10).standard_normal((_rows(kind, k), 21)) * 0.1
    a = L.loss_gradient(coef, X, None, y, kind, True, l2_reg_strength=0.05)
    b = L.loss_gradient(coef, X.astype(np.float32), None, y, kind, True, l2_reg_strength=0.05)
    # float32 GEMMs, float64 sums: ~1e-7 relative, as the module docstring says.
    assert b.objective == pytest.approx(a.objective, rel=1e-6)
    assert b.grad.dtype == np.float64
    assert_allclose(b.grad, a.grad, rtol=1e-4, atol=1e-6)


def test_blocked_evaluation_equals_one_block(monkeypatch):
    X, y = _toy(n=3000, d=20, k=5)
    coef = np.random.default_rng(3).standard_normal((5, 21)) * 0.1
    Y = L.targets(y, 5, "multinomial", np.float64)
    a = L.loss_gradient(coef, X, Y, y, "multinomial", True)
    monkeypatch.setattr(L, "CHUNK_ROWS", 10_000)
    b = L.loss_gradient(coef, X, Y, y, "multinomial", True)
    assert a.loss == pytest.approx(b.loss, rel=1e-12)
    assert_allclose(a.grad, b.grad, rtol=1e-10, atol=1e-14)
    assert a.n_correct == b.n_correct


@pytest.mark.parametrize("kind,k", [("multinomial", 5), ("ovr", 5), ("binary", 2)])
def test_blockwise_refinement_equals_a_float64_copy(kind, k, monkeypatch):
    """float32 X evaluated in float64 (upcast a block at a time) gives what one evaluation
    on a float64 copy gives, up to the order of the block sums."""
    X, y = _toy(n=3000, d=20, k=k, seed=11)
    X32 = X.astype(np.float32)
    coef = np.random.default_rng(11).standard_normal((_rows(kind, k), 21)) * 0.1
    blocks = L.loss_gradient(coef, X32, None, y, kind, True, dtype=np.float64,
                             l2_reg_strength=0.05)
    assert X32.shape[0] > L.UPCAST_ROWS  # several upcast blocks
    monkeypatch.setattr(L, "CHUNK_ROWS", 10_000)
    one_shot = L.loss_gradient(coef, X32.astype(np.float64), None, y, kind, True,
                               l2_reg_strength=0.05)
    assert blocks.loss == pytest.approx(one_shot.loss, rel=1e-13)
    assert blocks.objective == pytest.approx(one_shot.objective, rel=1e-13)
    assert_allclose(blocks.grad, one_shot.grad, rtol=1e-11, atol=1e-15)
    assert blocks.n_correct == one_shot.n_correct


def test_logits_upcast_by_block_equal_a_float64_copy():
    X, _ = _toy(n=1000, d=12, k=3, seed=12)
    X32 = X.astype(np.float32)
    rng = np.random.default_rng(12)
    W, b = rng.standard_normal((3, 12)), rng.standard_normal(3)
    Z = L.logits(X32, W, b, np.float64)
    assert Z.dtype == np.float64
    assert_allclose(Z, X32.astype(np.float64) @ W.T + b, rtol=1e-13, atol=1e-13)
