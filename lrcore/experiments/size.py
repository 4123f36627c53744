"""How does accuracy grow with the number of training digits? (``"size"``)"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from lrcore.config import MIN_TRAIN_SIZE, whole_number
from lrcore.data import MnistData
from lrcore.experiments.base import (Experiment, ExperimentProgress, _accuracy, _config,
                                     _data_params, _fit, _fmt_C, _n_iter, _prepared, _Timer)
from lrcore.labels import pct, pct_points, penalty_label, preprocess_label
from lrcore.model import SoftmaxRegression


def training_size_curve(data: MnistData, sizes: Sequence[int] = (500, 1000, 2000, 5000, 10000,
                                                                 20000, 60000), *,
                        penalty: str | None = "l2", C: float = 1.0, preprocess: str = "unit",
                        max_iter: int = 200, seed: int = 0) -> Experiment:
    """How does accuracy grow with the number of training digits?

    Each size is a random subset (seeded; every subset contains the smaller ones) trained
    from scratch and scored on all test digits. Sizes above ``data.n_train`` are dropped
    with a note.

    Table columns: ``train_size``, ``train_accuracy``, ``test_accuracy``, ``fit_seconds``,
    ``n_iter``, ``converged``.
    """
    if isinstance(sizes, (int, np.integer)):
        sizes = [sizes]
    sizes = [whole_number("each training size", s, 0, 10**12) for s in sizes]
    small = [s for s in sizes if s < MIN_TRAIN_SIZE]
    if small:
        raise ValueError(f"each training size must be at least {MIN_TRAIN_SIZE}; got {small[0]}")
    if not sizes:
        raise ValueError("sizes must contain at least one training size")
    kept = sorted({s for s in sizes if s <= data.n_train})
    dropped = sorted({s for s in sizes if s > data.n_train})
    if not kept:
        raise ValueError(f"every training size is above the {data.n_train:,} training digits "
                         f"of this data; sizes must be between {MIN_TRAIN_SIZE} and "
                         f"{data.n_train}")
    cfg = _config(data, penalty=penalty, C=C, preprocess=preprocess, max_iter=max_iter,
                  seed=seed, train_size=kept[-1])
    notes = []
    if dropped:
        notes.append(f"Sizes {', '.join(f'{s:,}' for s in dropped)} dropped: this data has "
                     f"only {data.n_train:,} training digits.")
    notes.append(f"Each size is a random subset (seed {seed}) of the {data.n_train:,} training "
                 "digits, and each subset contains the smaller ones; test accuracy is on all "
                 f"{data.n_test:,} test digits. Preprocessing: "
                 f"{preprocess_label(preprocess)}; penalty "
                 f"{penalty_label(cfg.penalty)}, C={_fmt_C(cfg.C)}.")
    params = {"sizes": kept, "penalty": cfg.penalty or "none", "C": cfg.C,
              "preprocess": preprocess, "max_iter": cfg.max_iter, "seed": seed,
              **_data_params(data)}

    def body(exp: Experiment) -> Iterator[ExperimentProgress]:
        for n in kept:
            yield exp._progress(f"{n:,} digits: training")
            X, y, Xt, yt, _ = _prepared(data, n, preprocess, shuffle=True, seed=seed)
            model = SoftmaxRegression(**cfg.model_params())
            timer = _Timer()
            yield from _fit(exp, model, X, y, f"{n:,} digits", timer)
            row = {"train_size": n, "train_accuracy": _accuracy(model, X, y),
                   "test_accuracy": _accuracy(model, Xt, yt), "fit_seconds": timer.seconds,
                   "n_iter": _n_iter(model), "converged": bool(model.converged_)}
            yield exp._point(f"{n:,} digits: test accuracy {pct(row['test_accuracy'])} "
                             f"(train {pct(row['train_accuracy'])})", row)

    def findings(exp: Experiment, t: pd.DataFrame) -> list[str]:
        first, last = t.iloc[0], t.iloc[-1]
        out = [f"With {first.train_size:,} training digits: test accuracy "
               f"{pct(first.test_accuracy)}, train accuracy {pct(first.train_accuracy)}."]
        if len(t) > 1:
            gap0 = first.train_accuracy - first.test_accuracy
            gap1 = last.train_accuracy - last.test_accuracy
            out.append(f"With {last.train_size:,}: test accuracy {pct(last.test_accuracy)} "
                       f"({pct_points(last.test_accuracy - first.test_accuracy)}); the "
                       f"gap between train and test accuracy went from "
                       f"{pct_points(gap0, signed=False)} to {pct_points(gap1, signed=False)}."
                       + (" More data shrinks overfitting; what remains of the gap, and where "
                          "the test curve levels off, is the limit of a linear model."
                          if gap1 < gap0 else ""))
        slow = t.loc[~t.converged.astype(bool), "train_size"].tolist()
        if slow:
            out.append(f"Not converged within max_iter={max_iter} at sizes "
                       f"{', '.join(f'{s:,}' for s in slow)}: more iterations would change "
                       "those points slightly.")
        return out

    return Experiment("size", params, len(kept),
                      ["train_size", "train_accuracy", "test_accuracy", "fit_seconds",
                       "n_iter", "converged"], body, findings, notes)
