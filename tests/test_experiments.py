"""lrcore.experiments: live progress, documented tables, Stop keeps rows, CSV round trip,
cross-validation against LogisticRegressionCV, the regularization path, clear ValueErrors.

Every run here is small (at most 1,000 training digits, 3-point grids, 3 folds).
"""
from __future__ import annotations

import inspect
import io
import json

import numpy as np
import pandas as pd
import pytest

from lrcore import experiments as ex
from lrcore.experiments import base as ex_base
from lrcore.labels import pct

SMALL = {
    "size": lambda d: ex.training_size_curve(d, sizes=(200, 500), max_iter=50),
    "c-path": lambda d: ex.regularization_path(d, Cs=[0.03, 0.3], train_size=500),
    "cv": lambda d: ex.cross_validate_C(d, Cs=[1e-3, 1e-2], folds=3, train_size=600,
                                        compare_sklearn=False),
    "ovr": lambda d: ex.softmax_vs_ovr(d, train_size=500, max_iter=50),
    "binary": lambda d: ex.binary_detector(d, digit=1, train_size=500),
    "preprocess": lambda d: ex.preprocessing_comparison(d, modes=("unit", "deskew"),
                                                        train_size=500, max_iter=50),
    "models": lambda d: ex.model_comparison(d, train_size=500, test_size=300,
                                            max_slow_train=200),
}
COLUMNS = {
    "size": ["train_size", "train_accuracy", "test_accuracy", "fit_seconds", "n_iter",
             "converged"],
    "c-path": ["penalty", "C", "train_accuracy", "test_accuracy", "sparsity", "n_iter",
               "fit_seconds", "converged"],
    "cv": ["C", "mean_accuracy", "std_accuracy", "fold_1", "fold_2", "fold_3",
           "sklearn_mean_accuracy"],
    "ovr": ["method", "train_accuracy", "test_accuracy", "test_log_loss", "fit_seconds",
            "n_iter", "converged"],
    "binary": ["model", "test_accuracy", "precision", "recall", "f1"],
    "preprocess": ["preprocess", "test_accuracy", "train_accuracy", "n_iter", "fit_seconds",
                   "converged"],
    "models": ["model", "train_size_used", "test_accuracy", "fit_seconds", "predict_seconds"],
}
N_ROWS = {"size": 2, "c-path": 4, "cv": 2, "ovr": 2, "binary": 2, "preprocess": 2, "models": 5}


def _read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), comment="#")


def test_registry_names_the_constructors():
    assert set(ex.EXPERIMENTS) == set(SMALL)
    assert ex.EXPERIMENTS["c-path"] is ex.regularization_path


@pytest.mark.parametrize("name", list(SMALL))
def test_runs_with_progress_and_documented_table(mnist, name):
    exp = SMALL[name](mnist)
    assert exp.name == name and exp.state == "new"
    steps = list(exp)
    assert steps and all(s.total == exp.total for s in steps)
    done = [s.done for s in steps]
    assert done == sorted(done) and done[-1] == exp.total  # progress at least per point
    assert sum(s.row is not None for s in steps) == N_ROWS[name]
    assert all(isinstance(s.message, str) and s.message for s in steps)

    res = exp.result()
    assert res.complete and res.name == name
    assert list(res.table.columns) == COLUMNS[name]
    assert len(res.table) == N_ROWS[name]
    assert res.notes and all(isinstance(n, str) for n in res.notes)
    json.dumps(res.params)  # JSON-safe
    json.dumps(res.to_dict())
    for col in ("test_accuracy", "mean_accuracy"):
        if col in res.table:
            assert res.table[col].between(0, 1).all()

    text = res.to_csv()
    header = json.loads(text.splitlines()[0][2:])
    assert header["experiment"] == name and header["complete"] is True
    back = _read_csv(text)
    assert list(back.columns) == COLUMNS[name]
    pd.testing.assert_frame_equal(back, res.table, check_dtype=False, check_exact=False,
                                  rtol=1e-12)
    with pytest.raises(RuntimeError, match="already run"):
        iter(exp)


def test_stop_midway_keeps_finished_rows(mnist):
    exp = ex.regularization_path(mnist, Cs=[0.03, 0.1, 0.3], penalties=["l1"], train_size=500)
    it = iter(exp)
    for step in it:
        if step.done == 2:
            break
    it.close()  # what a Stop button or a rerun does
    res = exp.result()
    assert not res.complete and exp.state == "stopped"
    assert len(res.table) == 2 and list(res.table.C) == [0.03, 0.1]
    assert sorted(res.models["coef"]) == [0, 1]
    assert res.notes[0].startswith("Incomplete")
    back = _read_csv(res.to_csv())
    assert len(back) == 2
    assert json.loads(res.to_csv().splitlines()[0][2:])["complete"] is False


def test_stop_inside_a_fit_drops_only_that_point(mnist, monkeypatch):
    monkeypatch.setattr(ex_base, "PROGRESS_INTERVAL", 0.0)  # a record every iteration
    exp = ex.preprocessing_comparison(mnist, modes=("unit", "standardize"), train_size=300,
                                      max_iter=40)
    it = iter(exp)
    for step in it:
        if step.done == 1 and step.row is None and "iteration 3/" in step.message:
            break
    it.close()
    res = exp.result()
    assert list(res.table.preprocess) == ["unit"] and not res.complete


def test_result_before_running_is_empty_with_the_documented_columns(mnist):
    exp = ex.softmax_vs_ovr(mnist, train_size=300)
    res = exp.result()
    assert not res.complete and len(res.table) == 0
    assert list(res.table.columns) == COLUMNS["ovr"]
    assert len(_read_csv(res.to_csv()).columns) == len(COLUMNS["ovr"])


def test_cache_key_depends_on_settings_only(mnist):
    a = ex.binary_detector(mnist, digit=3, train_size=500)
    b = ex.binary_detector(mnist, digit=3, train_size=500)
    c = ex.binary_detector(mnist, digit=4, train_size=500)
    assert a.key == b.key != c.key and a.key.startswith("binary-")


def test_cross_validation_agrees_with_logistic_regression_cv(mnist):
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    from lrcore.preprocess import Preprocessor

    Cs = [1e-4, 1e-3, 1e-2]
    n = 1000
    res = ex.cross_validate_C(mnist, Cs=Cs, folds=3, train_size=n, seed=0).run()
    t = res.table
    assert list(t.C) == Cs
    folds = t[["fold_1", "fold_2", "fold_3"]].to_numpy()
    np.testing.assert_allclose(t.mean_accuracy, folds.mean(axis=1))
    np.testing.assert_allclose(t.std_accuracy, folds.std(axis=1))
    s = res.summary
    assert s["best_C"] == Cs[int(np.argmax(t.mean_accuracy))]
    assert 0.8 < s["test_accuracy_of_refit"] <= 1
    assert res.params["best_C"] == s["best_C"]  # also in params (the CSV header)

    # The reference, computed here: same features (standardized once on all n digits),
    # same grid, the same StratifiedKFold, accuracy.
    X_pix, y = mnist.X_train[:n], mnist.y_train[:n]
    X = Preprocessor("standardize").fit(X_pix).transform(X_pix, dtype=np.float64)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    new_api = "use_legacy_attributes" in inspect.signature(LogisticRegressionCV).parameters
    kw = dict(l1_ratios=(0.0,), use_legacy_attributes=False) if new_api else {}
    ref = LogisticRegressionCV(Cs=Cs, cv=cv, scoring="accuracy", max_iter=300, **kw)
    with threadpool_limits(1):  # two BLAS threads on a busy 2-core machine: 30x slower
        ref.fit(X, y)
    scores = ref.scores_ if new_api else next(iter(ref.scores_.values()))
    assert np.ravel(ref.C_)[0] == s["best_C"] == s["sklearn_best_C"] and s["same_choice"]
    ref_means = np.asarray(scores).reshape(3, -1).mean(axis=0)
    np.testing.assert_allclose(t.mean_accuracy, ref_means, atol=0.005)
    np.testing.assert_allclose(t.sklearn_mean_accuracy, ref_means)
    assert any("picks the same C" in note for note in res.notes)


def test_regularization_path_sparsity_and_warm_start(mnist):
    Cs = [0.03, 0.1, 0.3]
    warm = ex.regularization_path(mnist, Cs=Cs, train_size=1000).run()
    cold = ex.regularization_path(mnist, Cs=Cs, train_size=1000, warm_start=False).run()
    l1 = warm.table[warm.table.penalty == "l1"]
    assert list(l1.C) == Cs
    assert np.all(np.diff(l1.sparsity.to_numpy()) < 0)  # sparser as C decreases
    assert l1.sparsity.iloc[0] > 80
    l2 = warm.table[warm.table.penalty == "l2"]
    assert l2.sparsity.max() < l1.sparsity.min()
    # Warm starts reach the same models in fewer iterations.
    assert warm.table.n_iter.sum() < cold.table.n_iter.sum()
    np.testing.assert_allclose(warm.table.test_accuracy, cold.table.test_accuracy, atol=0.01)
    coef = warm.models["coef"]
    assert sorted(coef) == list(range(6))
    assert coef[0].shape == (10, 784) and coef[0].dtype == np.float32
    np.testing.assert_array_equal(warm.models["classes"], np.arange(10))
    assert 100 * np.mean(coef[0] == 0) == pytest.approx(l1.sparsity.iloc[0])


def test_binary_detector_baseline_is_the_base_rate(mnist):
    res = ex.binary_detector(mnist, digit=1, train_size=500).run()
    base, det = res.table.iloc[0], res.table.iloc[1]
    share = np.mean(mnist.y_test != 1)
    assert base.model == "always no" and base.test_accuracy == pytest.approx(share)
    assert base.recall == 0 and base.f1 == 0
    assert det.test_accuracy > share and det.recall > 0.8
    assert any(pct(share) in note for note in res.notes)


def test_model_comparison_says_when_it_subsamples(mnist):
    res = ex.model_comparison(mnist, train_size=500, test_size=300, max_slow_train=200).run()
    svc = res.table[res.table.model.str.contains("RBF")].iloc[0]
    assert svc.train_size_used == 200
    assert (res.table.train_size_used[~res.table.model.str.contains("RBF")] == 500).all()
    assert any("200 of the 500" in note and "60,000 would take" in note for note in res.notes)


def test_oversized_training_sizes_are_dropped_with_a_note(mnist):
    exp = ex.training_size_curve(mnist, sizes=(200, 70000))
    assert exp.params["sizes"] == [200] and exp.total == 1
    assert any("70,000 dropped" in note for note in exp.result().notes)


@pytest.mark.parametrize("make,msg", [
    (lambda d: ex.training_size_curve(d, sizes=(50, 500)), "at least 100"),
    (lambda d: ex.training_size_curve(d, sizes=(70000,)), "every training size is above"),
    (lambda d: ex.training_size_curve(d, sizes=()), "at least one"),
    (lambda d: ex.training_size_curve(d, sizes=(500.5,)), "whole number"),
    (lambda d: ex.regularization_path(d, train_size=70000), "train_size must be at most"),
    (lambda d: ex.regularization_path(d, train_size=10), "train_size must be at least 100"),
    (lambda d: ex.regularization_path(d, Cs=[0.0, 1.0]), "each C must be between"),
    (lambda d: ex.regularization_path(d, Cs=[]), "at least one value"),
    (lambda d: ex.regularization_path(d, penalties=["none"]), "needs a penalty"),
    (lambda d: ex.cross_validate_C(d, folds=1), "folds must be between 2"),
    (lambda d: ex.cross_validate_C(d, folds=6, train_size=100, Cs=[1.0]), "only 5 times"),
    (lambda d: ex.cross_validate_C(d, penalty="elasticnet"), "'l1' or 'l2'"),
    (lambda d: ex.softmax_vs_ovr(d, C=-1), "C must be greater than 0"),
    (lambda d: ex.binary_detector(d, digit=10), "digit must be between 0 and 9"),
    (lambda d: ex.preprocessing_comparison(d, modes=("blur",)), "preprocess must be one of"),
    (lambda d: ex.preprocessing_comparison(d, modes=()), "at least one"),
    (lambda d: ex.model_comparison(d, test_size=20000), "test_size must be at most"),
    (lambda d: ex.model_comparison(d, max_slow_train=5), "max_slow_train must be between"),
])
def test_bad_settings_raise_clear_value_errors(mnist, make, msg):
    with pytest.raises(ValueError, match=msg):
        make(mnist)
