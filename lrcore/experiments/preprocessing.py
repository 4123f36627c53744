"""Does preprocessing matter? The same L2 softmax on differently prepared pixels
(``"preprocess"``)."""
from __future__ import annotations

from typing import Iterator, Sequence

import pandas as pd

from lrcore.config import PREPROCESS_MODES
from lrcore.data import MnistData
from lrcore.experiments.base import (Experiment, ExperimentProgress, _accuracy, _config,
                                     _data_params, _default_size, _fit, _fmt_C, _n_iter,
                                     _prepared, _Timer)
from lrcore.labels import pct, pct_points, preprocess_label
from lrcore.model import SoftmaxRegression


def preprocessing_comparison(data: MnistData,
                             modes: Sequence[str] = ("raw", "unit", "standardize", "deskew"), *,
                             train_size: int | None = None, C: float = 1.0,
                             max_iter: int = 300) -> Experiment:
    """Does preprocessing matter? The same L2 softmax on differently prepared pixels.

    ``train_size`` None = 10,000 (or all training digits if fewer), the first rows;
    scored on all test digits.

    Table columns: ``preprocess``, ``test_accuracy``, ``train_accuracy``, ``n_iter``,
    ``fit_seconds``, ``converged``.
    """
    if isinstance(modes, str):
        modes = [modes]
    modes = list(dict.fromkeys(modes))
    if not modes:
        raise ValueError(f"modes must name at least one of {', '.join(PREPROCESS_MODES)}")
    train_size = _default_size(train_size, 10000, data.n_train)
    for m in modes:
        cfg = _config(data, C=C, preprocess=m, train_size=train_size, max_iter=max_iter)
    params = {"modes": modes, "train_size": train_size, "C": cfg.C, "max_iter": cfg.max_iter,
              **_data_params(data)}
    notes = [f"L2 softmax, C={_fmt_C(cfg.C)}, max_iter={cfg.max_iter}, on the first "
             f"{train_size:,} training digits; tested on all {data.n_test:,} test digits. "
             f"{preprocess_label('raw')}: as they are; {preprocess_label('unit')}; "
             f"{preprocess_label('standardize')}: mean 0 / std 1 per pixel; "
             f"{preprocess_label('deskew')}: each slanted digit straightened, then / 255."]

    def body(exp: Experiment) -> Iterator[ExperimentProgress]:
        for m in modes:
            yield exp._progress(f"{preprocess_label(m)}: preparing pixels")
            X, y, Xt, yt, _ = _prepared(data, train_size, m)
            model = SoftmaxRegression(**cfg.model_params())
            timer = _Timer()
            yield from _fit(exp, model, X, y, m, timer)
            row = {"preprocess": m, "test_accuracy": _accuracy(model, Xt, yt),
                   "train_accuracy": _accuracy(model, X, y), "n_iter": _n_iter(model),
                   "fit_seconds": timer.seconds, "converged": bool(model.converged_)}
            yield exp._point(f"{preprocess_label(m)}: test accuracy "
                             f"{pct(row['test_accuracy'])} after "
                             f"{row['n_iter']} iterations", row)

    def findings(exp: Experiment, t: pd.DataFrame) -> list[str]:
        best = t.loc[t.test_accuracy.idxmax()]
        out = [f"Best: {preprocess_label(best.preprocess)} with {pct(best.test_accuracy)} "
               "test accuracy."]
        by = t.set_index("preprocess")
        if "deskew" in by.index and "unit" in by.index:
            d = by.test_accuracy["deskew"] - by.test_accuracy["unit"]
            out.append(f"Deskewing changes test accuracy by {pct_points(d)} against "
                       f"{preprocess_label('unit')}: "
                       "a linear model cannot straighten a slanted digit itself.")
        if "raw" in by.index:
            r = by.loc["raw"]
            if not r.converged:
                out.append(f"{preprocess_label('raw')} did not converge in {int(r.n_iter)} "
                           "iterations "
                           f"(test accuracy {pct(r.test_accuracy)}): pixels 255x larger make "
                           "the same C a far weaker penalty and the problem badly "
                           "conditioned, so the optimizer crawls.")
            else:
                out.append(f"{preprocess_label('raw')}: {pct(r.test_accuracy)} after "
                           f"{int(r.n_iter)} "
                           "iterations. Pixels 255x larger make the same C a far weaker "
                           "penalty (like C x 65,025 on /255 pixels), so the model is "
                           "barely regularized.")
        slow = [m for m in by.index if m != "raw" and not by.converged[m]]
        if slow:
            out.append(f"Not converged within max_iter={max_iter}: "
                       f"{', '.join(preprocess_label(m) for m in slow)}.")
        return out

    return Experiment("preprocess", params, len(modes),
                      ["preprocess", "test_accuracy", "train_accuracy", "n_iter",
                       "fit_seconds", "converged"], body, findings, notes)
