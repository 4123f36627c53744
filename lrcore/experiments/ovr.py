"""One softmax over ten digits, or ten "this digit or not?" sigmoids? (``"ovr"``)"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from lrcore.data import MnistData
from lrcore.experiments.base import (Experiment, ExperimentProgress, _accuracy, _compute,
                                     _config, _data_params, _default_size, _fit, _fmt_C,
                                     _n_iter, _prepared, _Timer)
from lrcore.labels import fmt_loss, pct, pct_points, preprocess_label
from lrcore.model import SoftmaxRegression


def softmax_vs_ovr(data: MnistData, *, train_size: int | None = None, C: float = 1.0,
                   preprocess: str = "unit", max_iter: int = 300) -> Experiment:
    """One softmax over ten digits, or ten "this digit or not?" sigmoids?

    ``train_size`` None = 10,000 (or all training digits if fewer), the first rows;
    scored on all test digits. Same penalty (L2), C and preprocessing for both.

    Table columns: ``method`` ("softmax", "one-vs-rest"), ``train_accuracy``,
    ``test_accuracy``, ``test_log_loss``, ``fit_seconds``, ``n_iter``, ``converged``.
    """
    train_size = _default_size(train_size, 10000, data.n_train)
    cfg = _config(data, C=C, preprocess=preprocess, train_size=train_size, max_iter=max_iter)
    params = {"train_size": train_size, "C": cfg.C, "preprocess": preprocess,
              "max_iter": cfg.max_iter, **_data_params(data)}
    notes = [f"Both trained on the first {train_size:,} training digits ({preprocess_label(preprocess)}, L2, "
             f"C={_fmt_C(cfg.C)}), tested on all {data.n_test:,} test digits. Our one-vs-rest "
             "fits its ten sigmoids in one joint optimization, so n_iter counts them "
             "together; its probabilities are the ten sigmoids rescaled to sum to 1, as "
             "scikit-learn reports them."]

    def body(exp: Experiment) -> Iterator[ExperimentProgress]:
        X, y, Xt, yt, _ = _prepared(data, train_size, preprocess)
        for method, mc in (("softmax", "multinomial"), ("one-vs-rest", "ovr")):
            model = SoftmaxRegression(**{**cfg.model_params(), "multi_class": mc})
            yield exp._progress(f"{method}: training")
            timer = _Timer()
            yield from _fit(exp, model, X, y, method, timer)
            with _compute():
                proba = model.predict_proba(Xt)
            row = {"method": method, "train_accuracy": _accuracy(model, X, y),
                   "test_accuracy": float(np.mean(model.classes_[proba.argmax(1)] == yt)),
                   "test_log_loss": float(skm.log_loss(yt, proba, labels=model.classes_)),
                   "fit_seconds": timer.seconds, "n_iter": _n_iter(model),
                   "converged": bool(model.converged_)}
            yield exp._point(f"{method}: test accuracy {pct(row['test_accuracy'])}, log-loss "
                             f"{fmt_loss(row['test_log_loss'])}", row)

    def findings(exp: Experiment, t: pd.DataFrame) -> list[str]:
        if len(t) < 2:
            return []
        sm, ovr = t.iloc[0], t.iloc[1]
        d = sm.test_accuracy - ovr.test_accuracy
        lead = ("softmax is ahead by" if d > 0 else "one-vs-rest is ahead by" if d < 0
                else "they tie:")
        out = [f"Test accuracy: softmax {pct(sm.test_accuracy)}, one-vs-rest "
               f"{pct(ovr.test_accuracy)} ({lead} {pct_points(abs(d), signed=False)})."]
        better = "softmax" if sm.test_log_loss < ovr.test_log_loss else "one-vs-rest"
        out.append(f"Test log-loss (how good the probabilities are, lower is better): softmax "
                   f"{fmt_loss(sm.test_log_loss)}, one-vs-rest {fmt_loss(ovr.test_log_loss)}; "
                   f"{better} "
                   "gives the better-calibrated probabilities. The softmax is trained on "
                   "exactly this loss; one-vs-rest is trained on ten separate yes/no losses.")
        return out

    return Experiment("ovr", params, 2, ["method", "train_accuracy", "test_accuracy",
                                         "test_log_loss", "fit_seconds", "n_iter",
                                         "converged"], body, findings, notes)
