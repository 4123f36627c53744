"""SoftmaxRegression: optimum against scikit-learn, the live generator, the API.

The loss and its gradient are tested in test_loss.py, the solvers in test_solvers.py."""
from __future__ import annotations

import contextlib
import math
import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.utils.estimator_checks import check_estimator
from threadpoolctl import threadpool_limits

from lrcore.data import select_subset
from lrcore.model import SoftmaxRegression
from lrcore.preprocess import Preprocessor


def _toy(n=60, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    return X, y


# ----------------------------------------------------------------- optimum vs sklearn


@pytest.fixture(scope="module")
def mnist5k(mnist):
    """5,000 training digits standardized (as sklearn's MNIST examples do), 2,000 test."""
    s = select_subset(mnist, 5000, 2000)
    pp = Preprocessor("standardize").fit(s.X_train)
    return (pp.transform(s.X_train, dtype=np.float64), s.y_train,
            pp.transform(s.X_test, dtype=np.float64), s.y_test)


@pytest.fixture(scope="module")
def mnist5k_unit(mnist):
    s = select_subset(mnist, 5000, 2000)
    pp = Preprocessor("unit").fit(s.X_train)
    return (pp.transform(s.X_train, dtype=np.float64), s.y_train,
            pp.transform(s.X_test, dtype=np.float64), s.y_test)


def _sklearn_objective(sk, X, y, penalty, C, l1_ratio):
    ref = SoftmaxRegression.from_coef(sk.coef_, sk.intercept_, sk.classes_, penalty=penalty,
                                      C=C, l1_ratio=l1_ratio)
    return ref.objective(X, y)


def _compare(X, y, Xt, yt, penalty, C, l1_ratio, sk_kw, **ours_kw):
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = LogisticRegression(C=C, l1_ratio=l1_ratio if penalty else 0.0, **sk_kw).fit(X, y)
    ours = SoftmaxRegression(penalty=penalty, C=C,
                             l1_ratio=l1_ratio if penalty == "elasticnet" else None,
                             max_iter=5000, **ours_kw).fit(X, y)
    o_sk = _sklearn_objective(sk, X, y, penalty, C, l1_ratio if penalty == "elasticnet" else None)
    o_us = ours.objective(X, y)
    gap = (o_us - o_sk) / abs(o_sk)
    assert gap <= 1e-6, f"our objective {o_us} is {gap:.2e} above sklearn's {o_sk}"
    assert ours.score(Xt, yt) == pytest.approx(sk.score(Xt, yt), abs=1.5 / len(yt))
    return sk, ours


def test_l2_optimum_matches_sklearn(mnist5k):
    X, y, Xt, yt = mnist5k
    sk, ours = _compare(X, y, Xt, yt, "l2", 0.1, 0.0, dict(tol=1e-10, max_iter=10000), tol=1e-9)
    # Same objective to 1e-6 means the same model: coefficients agree closely too.
    assert_allclose(ours.coef_, sk.coef_, atol=2e-3)


def test_l1_optimum_matches_sklearn_saga(mnist5k_unit):
    X, y, Xt, yt = mnist5k_unit
    sk, ours = _compare(X, y, Xt, yt, "l1", 0.01, 1.0,
                        dict(solver="saga", tol=1e-5, max_iter=5000), tol=1e-8)
    # L1 gives exact zeros, at the same places as sklearn's.
    assert np.mean(ours.coef_ == 0) == pytest.approx(np.mean(sk.coef_ == 0), abs=0.01)
    assert np.mean(ours.coef_ == 0) > 0.5


def test_elasticnet_optimum_matches_sklearn_saga(mnist5k_unit):
    X, y, Xt, yt = mnist5k_unit
    _compare(X, y, Xt, yt, "elasticnet", 0.05, 0.5,
             dict(solver="saga", tol=1e-5, max_iter=5000), tol=1e-8)


def test_no_penalty_optimum_matches_sklearn(mnist):
    """5,000 digits at 784 pixels are linearly separable, and even pooled pixels have
    directions seen in one class only, so without a penalty the weights grow forever.
    Dense PCA features of the same digits have a finite unpenalized optimum: compare there."""
    from sklearn.decomposition import PCA

    s = select_subset(mnist, 5000, 2000)
    pca = PCA(30, random_state=0).fit(s.X_train / 255.0)
    _compare(pca.transform(s.X_train / 255.0), s.y_train, pca.transform(s.X_test / 255.0),
             s.y_test, None, np.inf, 0.0, dict(tol=1e-10, max_iter=10000), tol=1e-8)


def test_ovr_matches_one_vs_rest_sklearn():
    X, y = _toy(n=400, d=6, k=4, seed=5)
    C = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = OneVsRestClassifier(LogisticRegression(C=C, tol=1e-10, max_iter=10000)).fit(X, y)
    ours = SoftmaxRegression(C=C, multi_class="ovr", tol=1e-10, max_iter=10000).fit(X, y)
    coef = np.vstack([e.coef_ for e in sk.estimators_])
    icpt = np.hstack([e.intercept_ for e in sk.estimators_])
    assert_allclose(ours.coef_, coef, rtol=1e-5, atol=1e-6)
    assert_allclose(ours.intercept_, icpt, rtol=1e-5, atol=1e-6)
    assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-6)


def test_binary_is_one_sigmoid_like_sklearn():
    X, y = _toy(n=300, d=5, k=2, seed=7)
    sk = LogisticRegression(C=0.3, tol=1e-10, max_iter=10000).fit(X, y)
    ours = SoftmaxRegression(C=0.3, tol=1e-10, max_iter=10000).fit(X, y)
    assert ours.coef_.shape == (1, 5) and ours.intercept_.shape == (1,)
    assert_allclose(ours.coef_, sk.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-8)
    assert_allclose(ours.decision_function(X), sk.decision_function(X), atol=1e-6)


def test_is_it_a_one_detector(mnist5k_unit):
    X, y, Xt, yt = mnist5k_unit
    m = SoftmaxRegression(C=1.0, max_iter=500).fit(X, y == 1)
    assert m.classes_.tolist() == [False, True]
    assert m.score(Xt, yt == 1) > 0.98


def test_float32_auto_reaches_float64_optimum(mnist):
    """Large data starts in float32; a tight tol is finished in float64 (same optimum)."""
    s = select_subset(mnist, 2000)
    X = Preprocessor("unit").fit(s.X_train).transform(s.X_train, dtype=np.float64)
    X = np.hstack([X] * 2)  # 2000 x 1568 >= the float32 threshold
    a = SoftmaxRegression(C=0.05, tol=1e-8, max_iter=3000, dtype="auto").fit(X, s.y_train)
    b = SoftmaxRegression(C=0.05, tol=1e-8, max_iter=3000, dtype="float64").fit(X, s.y_train)
    assert a.objective(X, s.y_train) == pytest.approx(b.objective(X, s.y_train), rel=1e-9)


def test_refinement_of_float32_digits_reaches_the_float64_optimum(mnist):
    """float32 digits (what Training passes) start in float32; tol=1e-8 is finished in
    float64 by upcasting blocks, and lands where a fit on a float64 copy lands."""
    s = select_subset(mnist, 3000)
    X32 = Preprocessor("unit").fit(s.X_train).transform(s.X_train, dtype=np.float32)
    assert X32.size >= 1_000_000  # large enough to start in float32
    a = SoftmaxRegression(C=0.05, tol=1e-8, max_iter=3000).fit(X32, s.y_train)
    b = SoftmaxRegression(C=0.05, tol=1e-8, max_iter=3000, dtype="float64").fit(
        X32.astype(np.float64), s.y_train)
    assert a.converged_ and b.converged_
    assert a.objective(X32, s.y_train) == pytest.approx(b.objective(X32, s.y_train), rel=1e-9)
    assert_allclose(a.coef_, b.coef_, atol=1e-5)


def test_refinement_makes_no_float64_copy_of_the_data(monkeypatch):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((25000, 48)).astype(np.float32)  # 1.2M entries: float32 start
    y = rng.integers(0, 3, X.shape[0])
    X[:, 0] += y  # some signal
    from lrcore import model as M

    refined = []
    orig = M._MeanObjective.refine
    monkeypatch.setattr(M._MeanObjective, "refine",
                        lambda self: (refined.append(1), orig(self))[1])
    tracemalloc.start()
    try:
        m = SoftmaxRegression(C=1.0, tol=1e-8, max_iter=500).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refined and m.converged_
    # A float64 copy would be 2 x X.nbytes; blocks, the targets and the solver are small.
    assert peak < 0.5 * X.nbytes
    ref = SoftmaxRegression(C=1.0, tol=1e-8, max_iter=500, dtype="float64").fit(
        X.astype(np.float64), y)
    assert m.objective(X, y) == pytest.approx(ref.objective(X, y), rel=1e-10)


def test_decision_function_of_float32_input_upcasts_by_block():
    X, y = _toy(n=3000, d=20, k=4, seed=6)
    m = SoftmaxRegression(C=1.0).fit(X, y)
    X32 = X.astype(np.float32)
    assert_allclose(m.decision_function(X32),
                    X32.astype(np.float64) @ m.coef_.T + m.intercept_, rtol=1e-13)


# ----------------------------------------------------------------- live training


def test_fit_iter_reports_every_iteration_and_fit_drains_it():
    X, y = _toy(n=500, d=10, k=4, seed=3)
    Xe, ye = _toy(n=200, d=10, k=4, seed=4)
    m = SoftmaxRegression(C=1.0, tol=1e-8, max_iter=50)
    with _eval_budget(math.inf):  # evaluate every iteration, whatever it costs
        recs = list(m.fit_iter(X, y, X_eval=Xe, y_eval=ye))
    iters = [r.iteration for r in recs]
    assert iters == list(range(1, len(recs) + 1))
    for r in recs:
        assert r.elapsed >= 0 and np.isfinite(r.objective)
        assert 0 <= r.train_accuracy <= 1 and 0 <= r.test_accuracy <= 1
        assert r.coef.shape == (4, 10) and r.intercept.shape == (4,)
    objs = [r.objective for r in recs]
    assert all(b <= a + 1e-9 * abs(a) for a, b in zip(objs, objs[1:])), "objective must decrease"
    assert recs[-1].status == "converged"
    # Test metrics are those of the model at that iteration.
    last = recs[-1]
    assert last.test_accuracy == pytest.approx(m.score(Xe, ye))
    from sklearn.metrics import log_loss
    assert last.test_loss == pytest.approx(log_loss(ye, m.predict_proba(Xe)), rel=1e-6)
    assert last.train_loss == pytest.approx(log_loss(y, m.predict_proba(X)), rel=1e-6)
    m2 = SoftmaxRegression(C=1.0, tol=1e-8, max_iter=50).fit(X, y)
    assert_allclose(m2.coef_, m.coef_)
    assert len(m2.history_) == len(recs)


@contextlib.contextmanager
def _eval_budget(value: float):
    import lrcore.model as lm

    old, lm.EVAL_BUDGET = lm.EVAL_BUDGET, value
    try:
        yield
    finally:
        lm.EVAL_BUDGET = old


def test_live_test_curves_stay_within_their_time_budget():
    """With no budget only the first and the final iteration are evaluated; with the
    default one the evaluation time stays near 10% of the training time, and every
    evaluated iteration reports the model's true test metrics at that iteration."""
    X, y = _toy(n=300, d=20, k=4, seed=5)
    Xe, ye = _toy(n=20000, d=20, k=4, seed=6)  # evaluation far costlier than training
    with _eval_budget(0.0):
        recs = list(SoftmaxRegression(C=1.0, tol=1e-10, max_iter=40).fit_iter(
            X, y, X_eval=Xe, y_eval=ye))
    evaluated = [r.iteration for r in recs if r.test_accuracy is not None]
    assert evaluated == [1, recs[-1].iteration] and len(recs) > 2
    assert all((r.test_loss is None) == (r.test_accuracy is None) for r in recs)

    m = SoftmaxRegression(C=1.0, tol=1e-10, max_iter=40)
    recs = []
    for r in m.fit_iter(X, y, X_eval=Xe, y_eval=ye):
        recs.append(r)
        if r.test_accuracy is not None:  # the metrics of the model as of this iteration
            assert r.test_accuracy == pytest.approx(m.score(Xe, ye))
    n_eval = sum(r.test_accuracy is not None for r in recs)
    assert recs[0].test_accuracy is not None and recs[-1].test_accuracy is not None
    assert n_eval < len(recs)
    train_seconds = recs[-1].elapsed - m.eval_seconds_
    one_eval = m.eval_seconds_ / n_eval
    # At most the budget, plus the final evaluation and one more that may start just
    # inside it.
    assert m.eval_seconds_ <= 0.10 * train_seconds + 2 * one_eval


def test_stopping_early_keeps_a_usable_model():
    X, y = _toy(n=500, d=10, k=4, seed=3)
    m = SoftmaxRegression(C=1.0, tol=1e-10, max_iter=500)
    for p in m.fit_iter(X, y):
        if p.iteration == 3:
            break
    assert m.n_iter_[0] == 3
    assert_allclose(m.coef_, p.coef)
    assert m.predict(X).shape == (500,)
    assert m.predict_proba(X).sum(axis=1) == pytest.approx(np.ones(500))


def test_max_iter_warns_and_reports_status():
    X, y = _toy(n=500, d=10, k=4)
    m = SoftmaxRegression(tol=1e-12, max_iter=3)
    with pytest.warns(ConvergenceWarning):
        m.fit(X, y)
    assert m.history_[-1]["status"] == "max_iter" and not m.converged_


def test_warm_start_continues_from_previous_solution():
    X, y = _toy(n=500, d=10, k=4)
    m = SoftmaxRegression(C=1.0, tol=1e-8, max_iter=500, warm_start=True).fit(X, y)
    first = m.n_iter_[0]
    m.set_params(C=1.1).fit(X, y)
    assert m.n_iter_[0] < first


def test_string_labels_and_predict_log_proba():
    X, y = _toy(n=200, k=3)
    labels = np.array(["cat", "dog", "eel"])[y]
    m = SoftmaxRegression(max_iter=200).fit(X, labels)
    assert set(m.predict(X)) <= {"cat", "dog", "eel"}
    assert_allclose(np.exp(m.predict_log_proba(X)), m.predict_proba(X), rtol=1e-10)


@pytest.mark.parametrize("kw,match", [
    # The messages (and ranges) are lrcore.config's, the same as TrainConfig's.
    (dict(C=0), "C must be greater than 0; got 0"),
    (dict(C=-1), "C must be greater than 0; got -1"),
    (dict(C=float("nan")), "C must be a number; got NaN"),
    (dict(C="abc"), "C must be a number; got 'abc'"),
    (dict(C=1e9), "C must be between 1e-06 and 1e\\+08"),
    (dict(penalty="l3"), "penalty must be"),
    (dict(penalty="elasticnet"), "l1_ratio must be set"),
    (dict(penalty="elasticnet", l1_ratio=1.5), "l1_ratio must be between"),
    (dict(penalty="l1", solver="lbfgs"), "supports only"),
    (dict(solver="newton"), "solver must be one of auto, lbfgs, owlqn, fista"),
    (dict(multi_class="softmax"), "multi_class"),
    (dict(max_iter=0), "max_iter must be between 1 and 100000; got 0"),
    (dict(max_iter=5.0), "max_iter must be a whole number; got 5.0"),
    (dict(tol=0), "tol must be greater than 0"),
    (dict(dtype="float16"), "dtype must be"),
])
def test_bad_parameters_raise_clear_value_errors(kw, match):
    X, y = _toy()
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression(**kw).fit(X, y)


@pytest.mark.parametrize("estimator", [
    SoftmaxRegression(), SoftmaxRegression(penalty="l1", C=10.0),
    SoftmaxRegression(multi_class="ovr"), SoftmaxRegression(penalty=None),
], ids=["l2", "l1", "ovr", "none"])
def test_sklearn_estimator_checks(estimator):
    """Every scikit-learn estimator check passes. The array-API check only runs when
    SCIPY_ARRAY_API is set and does not apply (the estimator is numpy-only), so it is the
    one check allowed to report "skipped" here, instead of pytest skipping a test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]
    assert not failed
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {"check_array_api_input"}
    assert sum(r["status"] == "passed" for r in results) > 40
