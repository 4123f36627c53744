""""Is it a d?": one sigmoid against the always-"no" baseline (``"binary"``)."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from lrcore.config import whole_number
from lrcore.data import MnistData
from lrcore.experiments.base import (Experiment, ExperimentProgress, _config, _data_params,
                                     _default_size, _fit, _fmt_C, _predict, _prepared, _Timer)
from lrcore.labels import pct, preprocess_label
from lrcore.model import SoftmaxRegression


def binary_detector(data: MnistData, digit: int = 1, *, train_size: int | None = None,
                    C: float = 1.0, preprocess: str = "unit", max_iter: int = 300) -> Experiment:
    """"Is it a d?": one sigmoid against the always-"no" baseline.

    ``train_size`` None = 10,000 (or all training digits if fewer), the first rows.

    Table columns: ``model`` ("always no", "logistic detector"), ``test_accuracy``,
    ``precision``, ``recall``, ``f1`` (of the answer "yes, it is a d").
    """
    digit = whole_number("digit", digit, 0, 9)
    train_size = _default_size(train_size, 10000, data.n_train)
    cfg = _config(data, C=C, preprocess=preprocess, train_size=train_size, max_iter=max_iter)
    params = {"digit": digit, "train_size": train_size, "C": cfg.C, "preprocess": preprocess,
              "max_iter": cfg.max_iter, **_data_params(data)}
    share = float(np.mean(data.y_test != digit))
    notes = [f"{pct(share)} of the {data.n_test:,} test digits are not {digit}s, so a "
             f"'detector' that always answers no is {pct(share)} accurate while finding none "
             f"of the {digit}s (recall 0): accuracy alone hides that. Precision = share of "
             f"'yes' answers that are {digit}s; recall = share of {digit}s found.",
             f"The detector is a single sigmoid (L2, C={_fmt_C(cfg.C)}, {preprocess_label(preprocess)}) trained "
             f"on the first {train_size:,} training digits labelled {digit} / not {digit}."]

    def scores(name: str, pred: np.ndarray, truth: np.ndarray) -> dict:
        p, r, f, _ = skm.precision_recall_fscore_support(truth, pred, average="binary",
                                                         zero_division=0)
        return {"model": name, "test_accuracy": float(np.mean(pred == truth)),
                "precision": float(p), "recall": float(r), "f1": float(f)}

    def body(exp: Experiment) -> Iterator[ExperimentProgress]:
        X, y, Xt, yt, _ = _prepared(data, train_size, preprocess)
        y_bin, yt_bin = (y == digit).astype(np.int64), (yt == digit).astype(np.int64)
        row = scores("always no", np.zeros_like(yt_bin), yt_bin)
        yield exp._point(f"always no: test accuracy {pct(row['test_accuracy'])}, recall 0", row)
        model = SoftmaxRegression(**cfg.model_params())
        yield exp._progress(f"is it a {digit}? training")
        yield from _fit(exp, model, X, y_bin, f"is it a {digit}?", _Timer())
        pred, _ = _predict(model, Xt)
        row = scores("logistic detector", pred, yt_bin)
        yield exp._point(f"logistic detector: test accuracy {pct(row['test_accuracy'])}, "
                         f"precision {pct(row['precision'])}, recall {pct(row['recall'])}", row)

    def findings(exp: Experiment, t: pd.DataFrame) -> list[str]:
        if len(t) < 2:
            return []
        det = t.iloc[1]
        return [f"The detector is {pct(det.test_accuracy)} accurate: it finds {pct(det.recall)} "
                f"of the {digit}s, and {pct(det.precision)} of its 'yes' answers are right "
                f"(F1 {det.f1:.3f}); the baseline's F1 is 0."]

    return Experiment("binary", params, 2,
                      ["model", "test_accuracy", "precision", "recall", "f1"], body,
                      findings, notes)
