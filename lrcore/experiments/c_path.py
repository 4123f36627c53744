"""What does C do? The regularization path, per penalty (``"c-path"``)."""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from lrcore.config import parse_penalty
from lrcore.data import MnistData
from lrcore.experiments.base import (Experiment, ExperimentProgress, _accuracy, _config, _Cs,
                                     _data_params, _default_size, _fit, _fmt_C, _n_iter,
                                     _prepared, _Timer)
from lrcore.labels import pct, penalty_label, preprocess_label
from lrcore.metrics import sparsity
from lrcore.model import SoftmaxRegression


def regularization_path(data: MnistData, Cs: Sequence[float] | None = None, *,
                        penalties: Sequence[str] = ("l1", "l2"), train_size: int | None = None,
                        preprocess: str = "standardize", max_iter: int = 300,
                        tol: float = 1e-4, l1_ratio: float = 0.5,
                        warm_start: bool = True) -> Experiment:
    """What does C do? The same model refitted along increasing C, per penalty.

    Each fit starts from the previous C's solution (``SoftmaxRegression(warm_start=True)``),
    which is how regularization paths are computed; ``warm_start=False`` refits each from
    zero (for comparison). ``train_size`` None = 5,000 (or all training digits if fewer),
    the first rows of the training set; scored on all test digits.

    Table columns: ``penalty``, ``C``, ``train_accuracy``, ``test_accuracy``, ``sparsity``
    (% of coefficients exactly zero), ``n_iter``, ``fit_seconds``, ``converged``.
    ``models["coef"][row]`` is that row's ``coef_`` (K, 784) float32 and
    ``models["intercept"][row]`` its ``intercept_`` (K,); ``models["classes"]`` (K,).
    """
    Cs = _Cs(Cs, np.logspace(-3, 2, 11))
    train_size = _default_size(train_size, 5000, data.n_train)
    if isinstance(penalties, str):
        penalties = [penalties]
    pens = []
    for p in penalties:
        q = parse_penalty(p)
        if q is None:
            raise ValueError("penalties must be 'l1', 'l2' or 'elasticnet': a path over C "
                             "needs a penalty")
        if q not in pens:
            pens.append(q)
    if not pens:
        raise ValueError("penalties must name at least one of 'l1', 'l2', 'elasticnet'")
    for p in pens:  # validates sizes, preprocess, max_iter, tol, l1_ratio
        cfg = _config(data, penalty=p, C=Cs[0], preprocess=preprocess, train_size=train_size,
                      max_iter=max_iter, tol=tol, l1_ratio=l1_ratio)
    params = {"Cs": Cs, "penalties": pens, "train_size": train_size, "preprocess": preprocess,
              "max_iter": cfg.max_iter, "tol": cfg.tol, "warm_start": bool(warm_start),
              **({"l1_ratio": cfg.l1_ratio} if "elasticnet" in pens else {}),
              **_data_params(data)}
    notes = [f"Trained on the first {train_size:,} training digits ({preprocess_label(preprocess)}), tested on "
             f"all {data.n_test:,} test digits. Small C = strong regularization."]

    def body(exp: Experiment) -> Iterator[ExperimentProgress]:
        exp.models["coef"], exp.models["intercept"] = {}, {}
        X, y, Xt, yt, _ = _prepared(data, train_size, preprocess)
        for p in pens:
            # One model per penalty: with warm starts each fit begins at the previous C's
            # solution; without, every fit starts from zero.
            model = SoftmaxRegression(penalty=p, C=Cs[0], max_iter=cfg.max_iter, tol=cfg.tol,
                                      l1_ratio=cfg.l1_ratio if p == "elasticnet" else None,
                                      warm_start=bool(warm_start))
            for C in Cs:
                model.set_params(C=C)
                label = f"C={_fmt_C(C)} ({penalty_label(p)})"
                yield exp._progress(f"{label}: training")
                timer = _Timer()
                yield from _fit(exp, model, X, y, label, timer)
                row = {"penalty": p, "C": C, "train_accuracy": _accuracy(model, X, y),
                       "test_accuracy": _accuracy(model, Xt, yt),
                       "sparsity": sparsity(model.coef_), "n_iter": _n_iter(model),
                       "fit_seconds": timer.seconds, "converged": bool(model.converged_)}
                i = len(exp.rows)
                exp.models["classes"] = model.classes_
                exp.models["coef"][i] = model.coef_.astype(np.float32)
                exp.models["intercept"][i] = model.intercept_.astype(np.float32)
                yield exp._point(f"{label}: test accuracy {pct(row['test_accuracy'])}, "
                                 f"{row['sparsity']:.0f}% zero weights", row)

    def findings(exp: Experiment, t: pd.DataFrame) -> list[str]:
        out = []
        for p, g in t.groupby("penalty", sort=False):
            best = g.loc[g.test_accuracy.idxmax()]
            out.append(f"{penalty_label(p)}: best test accuracy {pct(best.test_accuracy)} at "
                       f"C={_fmt_C(best.C)}; from C={_fmt_C(g.C.iloc[0])} to "
                       f"C={_fmt_C(g.C.iloc[-1])} test accuracy goes "
                       f"{pct(g.test_accuracy.iloc[0])} -> {pct(g.test_accuracy.iloc[-1])} and "
                       f"train accuracy {pct(g.train_accuracy.iloc[0])} -> "
                       f"{pct(g.train_accuracy.iloc[-1])}.")
            if p in ("l1", "elasticnet"):
                out.append(f"{penalty_label(p)} zeroes weights: {g.sparsity.iloc[0]:.0f}% of "
                           "them are "
                           f"exactly 0 at C={_fmt_C(g.C.iloc[0])}, {g.sparsity.iloc[-1]:.0f}% "
                           f"at C={_fmt_C(g.C.iloc[-1])}.")
        l2 = t[t.penalty == "l2"]
        if len(l2) and l2.sparsity.min() > 0:
            out.append(f"Even L2 has {l2.sparsity.min():.0f}% zero weights: pixels blank in "
                       "every training digit carry no signal, so their weights never move "
                       "from 0.")
        bad = t[~t.converged.astype(bool)]
        if len(bad):
            out.append(f"{len(bad)} fit(s) stopped at max_iter={max_iter} before converging "
                       f"(C={', '.join(_fmt_C(c) for c in bad.C)}).")
        out.append(("Warm starts: each fit began at the previous C's solution; "
                    if warm_start else "Cold starts: each fit began at zero; ")
                   + f"{int(t.n_iter.sum())} iterations in all.")
        return out

    return Experiment("c-path", params, len(pens) * len(Cs),
                      ["penalty", "C", "train_accuracy", "test_accuracy", "sparsity", "n_iter",
                       "fit_seconds", "converged"], body, findings, notes)
