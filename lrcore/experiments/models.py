"""How does softmax regression compare with other classifiers? (``"models"``)"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import pandas as pd

from lrcore.config import MIN_TRAIN_SIZE, whole_number
from lrcore.data import MnistData
from lrcore.experiments.base import (Experiment, ExperimentProgress, _config,
                                     _data_params, _default_size, _fit, 
                                     _predict, _prepared, _sklearn_fit, _Timer)
from lrcore.labels import pct
from lrcore.model import SoftmaxRegression


_CANDIDATES = ("softmax regression (ours)", "k-nearest neighbours (k=5)",
               "linear SVM (LinearSVC)", "RBF-kernel SVM (SVC)", "decision tree")


def _candidate(i: int) -> Any:
    """The i-th model of the comparison, unfitted (None = ours, fitted by _fit)."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC, LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    return [None, KNeighborsClassifier(n_neighbors=5), LinearSVC(C=1.0, random_state=0),
            SVC(kernel="rbf", C=1.0, gamma="scale"), DecisionTreeClassifier(random_state=0)][i]


def model_comparison(data: MnistData, *, train_size: int | None = None,
                     test_size: int | None = None, max_slow_train: int = 5000) -> Experiment:
    """How does softmax regression compare with other classifiers?

    Ours against k-nearest neighbours, a linear SVM, an RBF-kernel SVM and a decision
    tree, all on pixels / 255, the first ``train_size`` training digits (None = 10,000 or
    all if fewer) and the first ``test_size`` test digits (None = 2,000 or all if fewer).
    The RBF SVM, whose training time grows about with the square of the digits, gets at
    most ``max_slow_train`` of them; the notes say so and estimate the full-data time.

    Table columns: ``model``, ``train_size_used``, ``test_accuracy``, ``fit_seconds``,
    ``predict_seconds``.
    """
    train_size = _default_size(train_size, 10000, data.n_train)
    test_size = _default_size(test_size, 2000, data.n_test)
    cfg = _config(data, train_size=train_size, test_size=test_size)
    max_slow_train = whole_number("max_slow_train", max_slow_train, MIN_TRAIN_SIZE, 10**9)
    slow_n = min(train_size, max_slow_train)
    params = {"train_size": train_size, "test_size": cfg.test_size,
              "max_slow_train": max_slow_train, **_data_params(data)}
    notes = [f"All models see pixels / 255, the first {train_size:,} of the {data.n_train:,} "
             f"training digits and the first {cfg.test_size:,} test digits; default settings "
             "(softmax: L2, C=1; k-NN: k=5; SVMs: C=1)."]

    def body(exp: Experiment) -> Iterator[ExperimentProgress]:
        X, y, Xt, yt, _ = _prepared(data, train_size, "unit", test_size=cfg.test_size)
        for i, name in enumerate(_CANDIDATES):
            n = slow_n if i == 3 else train_size  # the RBF SVM gets at most max_slow_train
            yield exp._progress(f"{name}: training on {n:,} digits")
            est = _candidate(i)
            if est is None:
                est = SoftmaxRegression(C=1.0, max_iter=300)
                timer = _Timer()
                yield from _fit(exp, est, X[:n], y[:n], name, timer)
                fit_s = timer.seconds
            else:
                fit_s = _sklearn_fit(est, X[:n], y[:n])
            yield exp._progress(f"{name}: predicting {len(yt):,} digits")
            pred, pred_s = _predict(est, Xt)
            row = {"model": name, "train_size_used": n,
                   "test_accuracy": float(np.mean(pred == yt)), "fit_seconds": fit_s,
                   "predict_seconds": pred_s}
            if n < train_size:
                full = fit_s * (data.n_train / n) ** 2
                exp.notes.append(
                    f"{name} trained on {n:,} of the {train_size:,} digits the others used "
                    f"(max_slow_train={max_slow_train:,}): its training time grows roughly with the "
                    f"square of the number of digits, so all {data.n_train:,} would take "
                    f"~{_duration(full)} here (it took {fit_s:.1f} s on {n:,}).")
            yield exp._point(f"{name}: test accuracy {pct(row['test_accuracy'])} "
                             f"(fit {fit_s:.1f} s, predict {pred_s:.1f} s)", row)

    def findings(exp: Experiment, t: pd.DataFrame) -> list[str]:
        best = t.loc[t.test_accuracy.idxmax()]
        ours = t[t.model.str.contains("ours")]
        out = [f"Most accurate here: {best.model} ({pct(best.test_accuracy)})."]
        if len(ours):
            o = ours.iloc[0]
            out.append(f"Softmax regression: {pct(o.test_accuracy)}, predicting "
                       f"{exp.params['test_size']:,} digits in {o.predict_seconds:.3f} s: one "
                       "matrix product, where k-NN compares every test digit with every "
                       "training digit.")
        return out

    return Experiment("models", params, 5,
                      ["model", "train_size_used", "test_accuracy", "fit_seconds",
                       "predict_seconds"], body, findings, notes)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
