"""Tests for lrcore.metrics: every score against a direct sklearn.metrics call."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import metrics as skm
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from lrcore.metrics import Evaluation, evaluate, sparsity


def _fit(X, y, **params) -> LogisticRegression:
    # One BLAS thread: on small machines shared with other jobs, multithreaded BLAS on
    # these tiny problems is over ten times slower than a single thread.
    with threadpool_limits(1):
        return LogisticRegression(max_iter=2000, **params).fit(X, y)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X[:1000], y[:1000], X[1000:], y[1000:]


@pytest.fixture(scope="module")
def fitted(digits):
    X_train, y_train, X_test, y_test = digits
    model = _fit(X_train, y_train)
    return model, X_test, y_test, evaluate(model, X_test, y_test)


class FixedProba:
    """A 'fitted classifier' whose probabilities are given, to test exact expectations."""

    def __init__(self, proba, classes):
        self.proba = np.asarray(proba, dtype=float)
        self.classes_ = np.asarray(classes)

    def predict_proba(self, X):
        return self.proba


def test_scores_match_sklearn(fitted):
    model, X, y, ev = fitted
    proba = model.predict_proba(X)
    labels = model.classes_
    assert isinstance(ev, Evaluation)
    assert_array_equal(ev.classes, labels)
    assert_array_equal(ev.y_pred, model.predict(X))
    assert_allclose(ev.proba, proba)
    assert ev.accuracy == pytest.approx(skm.accuracy_score(y, model.predict(X)))
    assert ev.log_loss == pytest.approx(skm.log_loss(y, proba, labels=labels))
    p, r, f, s = skm.precision_recall_fscore_support(
        y, model.predict(X), labels=labels, zero_division=0
    )
    assert_allclose(ev.precision, p)
    assert_allclose(ev.recall, r)
    assert_allclose(ev.f1, f)
    assert_array_equal(ev.support, s)
    mp, mr, mf, _ = skm.precision_recall_fscore_support(
        y, model.predict(X), labels=labels, average="macro", zero_division=0
    )
    assert (ev.macro_precision, ev.macro_recall, ev.macro_f1) == pytest.approx((mp, mr, mf))
    assert_array_equal(ev.confusion, skm.confusion_matrix(y, model.predict(X), labels=labels))
    assert ev.confusion.dtype.kind == "i" and ev.confusion.shape == (10, 10)
    assert ev.roc_auc == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    )
    for k, c in enumerate(labels):
        assert ev.roc_auc_per_class[k] == pytest.approx(skm.roc_auc_score(y == c, proba[:, k]))
        fpr, tpr, _ = skm.roc_curve(y == c, proba[:, k], drop_intermediate=True)
        assert_allclose(ev.roc_curves[k][0], fpr)
        assert_allclose(ev.roc_curves[k][1], tpr)
    assert len(ev.roc_curves) == 10
    assert ev.sparsity == pytest.approx(100.0 * np.mean(model.coef_ == 0))


def test_confusion_rows_are_true_labels():
    # Sample 0 is a true 0 predicted as 1; sample 3 is a true 2 predicted as 1.
    proba = [[0.2, 0.7, 0.1], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.6, 0.3], [0.1, 0.1, 0.8]]
    y = np.array([0, 0, 1, 2, 2])
    ev = evaluate(FixedProba(proba, [0, 1, 2]), np.zeros((5, 1)), y)
    expected = np.array([[1, 1, 0], [0, 1, 0], [0, 1, 1]])
    assert_array_equal(ev.confusion, expected)
    assert_array_equal(ev.confusion.sum(axis=1), ev.support)
    assert_array_equal(ev.misclassified, [0, 3])  # 0.7 before 0.6
    assert_array_equal(ev.cell_indices(0, 1), [0])
    assert_array_equal(ev.cell_indices(2, 1), [3])
    assert_array_equal(ev.cell_indices(1, 0), np.array([], dtype=int))


def test_misclassified_sorted_by_confidence(fitted):
    model, X, y, ev = fitted
    wrong = np.flatnonzero(model.predict(X) != y)
    assert wrong.size > 10
    assert sorted(ev.misclassified.tolist()) == wrong.tolist()
    confidence = ev.proba[ev.misclassified].max(axis=1)
    assert np.all(np.diff(confidence) <= 0)
    # The most confident mistake really is the most confident one.
    assert confidence[0] == pytest.approx(ev.proba[wrong].max())

    top = evaluate(model, X, y, max_misclassified=5)
    assert_array_equal(top.misclassified, ev.misclassified[:5])
    assert evaluate(model, X, y, max_misclassified=0).misclassified.size == 0


def test_cell_indices(fitted):
    _, _, y, ev = fitted
    total = 0
    for i, ci in enumerate(ev.classes):
        for j, cj in enumerate(ev.classes):
            idx = ev.cell_indices(ci, cj)
            assert idx.size == ev.confusion[i, j]
            assert np.all(y[idx] == ci) and np.all(ev.y_pred[idx] == cj)
            assert np.all(np.diff(ev.proba[idx, j]) <= 0)
            total += idx.size
    assert total == len(y)
    with pytest.raises(ValueError, match="true_label must be one of the classes"):
        ev.cell_indices(10, 0)
    with pytest.raises(ValueError, match="pred_label"):
        ev.cell_indices(0, -1)


def test_binary(digits):
    X_train, y_train, X_test, y_test = digits
    train, test = np.isin(y_train, [3, 8]), np.isin(y_test, [3, 8])
    model = _fit(X_train[train], y_train[train], C=0.05)
    X, y = X_test[test], y_test[test]
    ev = evaluate(model, X, y)
    proba = model.predict_proba(X)
    pred = model.predict(X)
    assert model.coef_.shape == (1, 64) and proba.shape == (len(y), 2)
    assert_array_equal(ev.classes, [3, 8])
    assert_array_equal(ev.confusion, skm.confusion_matrix(y, pred, labels=[3, 8]))
    assert ev.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert ev.log_loss == pytest.approx(skm.log_loss(y, proba, labels=[3, 8]))
    auc = skm.roc_auc_score(y == 8, proba[:, 1])
    assert ev.roc_auc == pytest.approx(auc)
    assert ev.roc_auc == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
    assert_allclose(ev.roc_auc_per_class, [auc, auc])
    assert ev.macro_f1 == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert len(ev.roc_curves) == 2
    assert ev.misclassified.size == np.count_nonzero(pred != y) > 0
    assert ev.sparsity == pytest.approx(100.0 * np.mean(model.coef_ == 0))


def test_class_absent_from_y(fitted):
    model, X, y, _ = fitted
    keep = y != 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UndefinedMetricWarning reaches the page
        ev = evaluate(model, X[keep], y[keep])
    proba = model.predict_proba(X[keep])
    yk = y[keep]
    assert ev.support[5] == 0
    assert ev.recall[5] == 0.0
    assert np.isnan(ev.roc_auc_per_class[5])
    assert ev.roc_curves[5][0].size == 0 and ev.roc_curves[5][1].size == 0
    present = [k for k in range(10) if k != 5]
    expected = [skm.roc_auc_score(yk == k, proba[:, k]) for k in present]
    assert_allclose(ev.roc_auc_per_class[present], expected)
    assert ev.roc_auc == pytest.approx(np.mean(expected))
    assert ev.confusion.shape == (10, 10) and ev.confusion[5].sum() == 0
    assert ev.log_loss == pytest.approx(skm.log_loss(yk, proba, labels=model.classes_))
    _, _, f, _ = skm.precision_recall_fscore_support(
        yk, model.predict(X[keep]), labels=model.classes_, average="macro", zero_division=0
    )
    assert ev.macro_f1 == pytest.approx(f)
    row = ev.per_class_table()[5]
    assert row["class"] == 5 and row["support"] == 0 and row["roc_auc"] is None
    json.dumps(ev.per_class_table(), allow_nan=False)
    json.dumps(ev.summary(), allow_nan=False)


def test_single_class_present_gives_nan_auc():
    proba = [[0.9, 0.1], [0.4, 0.6]]
    ev = evaluate(FixedProba(proba, [0, 1]), np.zeros((2, 1)), np.array([0, 0]))
    assert np.isnan(ev.roc_auc) and np.all(np.isnan(ev.roc_auc_per_class))
    assert ev.summary()["roc_auc"] is None
    assert ev.summary()["sparsity"] is None  # FixedProba has no coef_
    assert_array_equal(ev.misclassified, [1])


def test_sparsity(digits):
    assert sparsity(np.array([[0.0, 1.0], [0.0, -2.0]])) == 50.0
    assert sparsity(np.zeros((3, 4))) == 100.0
    assert sparsity(np.full(5, 1e-300)) == 0.0  # only exact zeros count
    with pytest.raises(ValueError, match="empty"):
        sparsity(np.empty((0, 3)))
    X_train, y_train, X_test, y_test = digits
    model = _fit(X_train, y_train, l1_ratio=1.0, solver="saga", C=0.05)
    ev = evaluate(model, X_test, y_test)
    assert ev.sparsity == pytest.approx(100.0 * np.mean(model.coef_ == 0))
    assert ev.sparsity > 50


def test_summary_and_table(fitted):
    _, _, y, ev = fitted
    summary = ev.summary()
    assert set(summary) == {
        "accuracy", "log_loss", "macro_precision", "macro_recall", "macro_f1",
        "roc_auc", "sparsity",
    }
    assert all(type(v) is float for v in summary.values())
    assert summary["accuracy"] == ev.accuracy
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    table = ev.per_class_table()
    assert [row["class"] for row in table] == list(range(10))
    assert sum(row["support"] for row in table) == len(y)
    assert set(table[0]) == {"class", "precision", "recall", "f1", "support", "roc_auc"}
    assert table[3]["f1"] == pytest.approx(ev.f1[3])
    json.dumps(table, allow_nan=False)


def test_input_errors(fitted):
    model, X, y, _ = fitted
    with pytest.raises(ValueError, match="labels the model was not trained on: \\[11\\]"):
        evaluate(model, X[:3], np.array([1, 2, 11]))
    with pytest.raises(ValueError, match="predict_proba returned shape"):
        evaluate(model, X[:3], y[:4])
    with pytest.raises(ValueError, match="non-empty"):
        evaluate(model, X[:0], y[:0])
    with pytest.raises(ValueError, match="max_misclassified"):
        evaluate(model, X, y, max_misclassified=-1)


def test_genuine_mnist(mnist):
    X_train = mnist.X_train[:2000] / 255.0
    X_test = mnist.X_test[:2000] / 255.0
    y_train, y_test = mnist.y_train[:2000], mnist.y_test[:2000]
    model = _fit(X_train, y_train)
    ev = evaluate(model, X_test, y_test, max_misclassified=50)
    pred = model.predict(X_test)
    assert ev.accuracy == pytest.approx(skm.accuracy_score(y_test, pred))
    assert ev.accuracy > 0.8  # a sanity floor, not a benchmark
    assert ev.roc_auc == pytest.approx(
        skm.roc_auc_score(y_test, model.predict_proba(X_test), multi_class="ovr")
    )
    assert ev.confusion.sum() == 2000 and ev.misclassified.size == 50
    assert np.all(np.diff(ev.proba[ev.misclassified].max(axis=1)) <= 0)
