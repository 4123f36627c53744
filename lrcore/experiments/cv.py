"""Which C should I use? k-fold cross-validation against scikit-learn's
LogisticRegressionCV (``"cv"``), with the shims that keep that comparison working across
scikit-learn versions."""
from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from lrcore.config import parse_penalty, whole_number
from lrcore.data import MnistData
from lrcore.experiments.base import (Experiment, ExperimentProgress, _accuracy, _config, _Cs,
                                     _data_params, _default_size, _fit, _fmt_C, _prepared,
                                     _sklearn_fit, _Timer)
from lrcore.labels import pct, pct_points, preprocess_label
from lrcore.model import SoftmaxRegression

MAX_FOLDS = 20


def _sklearn_cv(Cs: list[float], cv: Any, penalty: str, max_iter: int, tol: float):
    """LogisticRegressionCV on the same grid and folds, across scikit-learn versions."""
    import inspect

    from sklearn.linear_model import LogisticRegressionCV

    kw: dict[str, Any] = dict(Cs=Cs, cv=cv, scoring="accuracy", max_iter=max_iter, tol=tol,
                              solver="saga" if penalty == "l1" else "lbfgs", refit=True)
    sig = inspect.signature(LogisticRegressionCV).parameters
    if "l1_ratios" in sig and "use_legacy_attributes" in sig:  # scikit-learn >= 1.8
        kw.update(l1_ratios=(1.0 if penalty == "l1" else 0.0,), use_legacy_attributes=False)
    else:
        kw.update(penalty=penalty)
    return LogisticRegressionCV(**kw)


def _sklearn_cv_scores(lrcv: Any) -> tuple[float, np.ndarray]:
    """(best C, mean accuracy per C) from a fitted LogisticRegressionCV, any version."""
    scores = lrcv.scores_
    if isinstance(scores, dict):  # legacy: {class: (n_folds, n_cs)}, all equal
        scores = next(iter(scores.values()))
    scores = np.asarray(scores, dtype=np.float64).reshape(scores.shape[0], -1)
    return float(np.ravel(lrcv.C_)[0]), scores.mean(axis=0)


def cross_validate_C(data: MnistData, Cs: Sequence[float] | None = None, *, folds: int = 5,
                     train_size: int | None = None, penalty: str = "l2",
                     preprocess: str = "standardize", seed: int = 0, max_iter: int = 300,
                     tol: float = 1e-4, compare_sklearn: bool = True) -> Experiment:
    """Which C should I use? k-fold cross-validation on the training digits only.

    Folds: ``StratifiedKFold(folds, shuffle=True, random_state=seed)``. Along increasing C
    each fold's model starts from its previous solution (as LogisticRegressionCV does).
    The preprocessing (e.g. the per-pixel mean/std of ``standardize``) is fitted once on
    all ``train_size`` training digits and the same features go to our folds and to
    scikit-learn's ``LogisticRegressionCV`` (same Cs, same ``StratifiedKFold`` object,
    ``scoring="accuracy"``), so the two choices are comparable; that statistic is
    label-free, so the leak into the validation folds is slight. The best C (highest mean
    accuracy, the smallest C on ties) is refitted on all ``train_size`` digits and tested
    on the test set, which the choice never saw.

    Table columns: ``C``, ``mean_accuracy``, ``std_accuracy``, ``fold_1`` ..
    ``fold_<folds>``, ``sklearn_mean_accuracy`` (NaN until scikit-learn has run, or
    without ``compare_sklearn``). ``models["summary"]``, also merged into
    ``result.params``: ``best_C``, ``best_mean_accuracy``, ``test_accuracy_of_refit``,
    ``sklearn_best_C``, ``sklearn_test_accuracy``, ``same_choice``,
    ``max_accuracy_difference``, ``sklearn_seconds``.
    """
    Cs = _Cs(Cs, np.logspace(-3, 1, 9))
    train_size = _default_size(train_size, 5000, data.n_train)
    p = parse_penalty(penalty)
    if p not in ("l1", "l2"):
        raise ValueError(f"penalty must be 'l1' or 'l2' for cross-validating C; got {penalty!r}")
    cfg = _config(data, penalty=p, C=Cs[0], preprocess=preprocess, train_size=train_size,
                  max_iter=max_iter, tol=tol, seed=seed)
    folds = whole_number("folds", folds, 2, MAX_FOLDS)
    counts = np.bincount(data.y_train[:train_size], minlength=10)
    smallest = int(counts[counts > 0].min())
    if folds > smallest:
        raise ValueError(f"folds must be at most {smallest} here: the rarest digit appears "
                         f"only {smallest} times in the first {train_size:,} training digits")
    params = {"Cs": Cs, "folds": folds, "train_size": train_size, "penalty": p,
              "preprocess": preprocess, "seed": seed, "max_iter": cfg.max_iter, "tol": cfg.tol,
              "compare_sklearn": bool(compare_sklearn), **_data_params(data)}
    fold_cols = [f"fold_{k + 1}" for k in range(folds)]
    notes = [f"{folds}-fold stratified cross-validation (shuffled, seed {seed}) on the first "
             f"{train_size:,} training digits; the test digits are used only once, to score "
             f"the refitted best C. Preprocessing ({preprocess_label(preprocess)}) fitted once on all "
             f"{train_size:,} training digits, the same features for us and for scikit-learn."]

    def body(exp: Experiment) -> Iterator[ExperimentProgress]:
        from sklearn.model_selection import StratifiedKFold

        X, y, Xt, yt, _ = _prepared(data, train_size, preprocess, dtype=np.float64)
        skf = StratifiedKFold(folds, shuffle=True, random_state=seed)
        splits = list(skf.split(X, y))
        models = [SoftmaxRegression(penalty=p, C=Cs[0], max_iter=cfg.max_iter, tol=cfg.tol,
                                    warm_start=True) for _ in splits]
        summary: dict[str, Any] = {}
        exp.models["summary"] = summary
        for C in Cs:
            scores = []
            for k, (tr, va) in enumerate(splits):
                m = models[k]
                m.set_params(C=C)
                label = f"C={_fmt_C(C)}, fold {k + 1}/{folds}"
                yield from _fit(exp, m, X[tr], y[tr], label, _Timer())
                scores.append(_accuracy(m, X[va], y[va]))
                if k < folds - 1:  # the last fold's point is the row below
                    yield exp._point(f"{label}: validation accuracy {pct(scores[-1])}")
            row = {"C": C, "mean_accuracy": float(np.mean(scores)),
                   "std_accuracy": float(np.std(scores)),
                   **{c: s for c, s in zip(fold_cols, scores)},
                   "sklearn_mean_accuracy": math.nan}
            yield exp._point(f"C={_fmt_C(C)}: mean validation accuracy "
                             f"{pct(row['mean_accuracy'])} ± {pct(row['std_accuracy'])}", row)

        means = np.array([r["mean_accuracy"] for r in exp.rows])
        best = int(np.argmax(means))  # first maximum = smallest C, as LogisticRegressionCV
        best_C = Cs[best]
        summary.update(best_C=best_C, best_mean_accuracy=float(means[best]))
        yield exp._progress(f"refitting C={_fmt_C(best_C)} on all {train_size:,} digits")
        final = SoftmaxRegression(penalty=p, C=best_C, max_iter=cfg.max_iter, tol=cfg.tol)
        yield from _fit(exp, final, X, y, f"refit C={_fmt_C(best_C)}", _Timer())
        summary["test_accuracy_of_refit"] = _accuracy(final, Xt, yt)
        yield exp._point(f"best C={_fmt_C(best_C)}: test accuracy "
                         f"{pct(summary['test_accuracy_of_refit'])}")

        if compare_sklearn:
            yield exp._progress("scikit-learn LogisticRegressionCV on the same Cs and folds "
                                "(no progress until it finishes)")
            lrcv = _sklearn_cv(Cs, skf, p, cfg.max_iter, cfg.tol)
            seconds = _sklearn_fit(lrcv, X, y)
            sk_C, sk_means = _sklearn_cv_scores(lrcv)
            for r, s in zip(exp.rows, sk_means):
                r["sklearn_mean_accuracy"] = float(s)
            summary.update(
                sklearn_best_C=sk_C,
                sklearn_test_accuracy=_accuracy(lrcv, Xt, yt),
                same_choice=bool(np.isclose(sk_C, best_C)),
                max_accuracy_difference=float(np.max(np.abs(sk_means - means))),
                sklearn_seconds=seconds,
            )
            yield exp._point(f"scikit-learn picks C={_fmt_C(sk_C)} "
                             f"({'same' if summary['same_choice'] else 'different'})")

    def findings(exp: Experiment, t: pd.DataFrame) -> list[str]:
        s = exp.models.get("summary", {})
        out = []
        if "best_C" in s:
            out.append(f"Best C = {_fmt_C(s['best_C'])}: mean validation accuracy "
                       f"{pct(s['best_mean_accuracy'])} over {folds} folds.")
        if "test_accuracy_of_refit" in s:
            out.append(f"Refitted with C={_fmt_C(s['best_C'])} on all {train_size:,} training "
                       f"digits: test accuracy {pct(s['test_accuracy_of_refit'])}.")
        if "sklearn_best_C" in s:
            solver = "saga" if p == "l1" else "lbfgs"
            if s["same_choice"]:
                out.append(f"scikit-learn's LogisticRegressionCV ({solver}, same Cs, same "
                           f"folds, scoring='accuracy') picks the same C="
                           f"{_fmt_C(s['sklearn_best_C'])}; its mean fold accuracies differ "
                           "from ours by at most "
                           f"{pct_points(s['max_accuracy_difference'], signed=False)} (different "
                           "solvers stop at slightly different points).")
            else:
                out.append(f"scikit-learn's LogisticRegressionCV ({solver}, same Cs and folds) "
                           f"picks C={_fmt_C(s['sklearn_best_C'])}, ours C="
                           f"{_fmt_C(s['best_C'])}: the mean accuracies differ by at most "
                           f"{pct_points(s['max_accuracy_difference'], signed=False)}, so the "
                           "top Cs are within "
                           "solver tolerance of each other; either choice is as good.")
        return out

    total = len(Cs) * folds + 1 + int(bool(compare_sklearn))
    return Experiment("cv", params, total,
                      ["C", "mean_accuracy", "std_accuracy", *fold_cols,
                       "sklearn_mean_accuracy"], body,
                      findings, notes)
