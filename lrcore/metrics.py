"""Evaluation of a fitted classifier: every number the Evaluate page shows, in one record.

All scores come from :mod:`sklearn.metrics` rather than being re-derived here, so the
dashboard reports exactly what scikit-learn would. This module only adds what a dashboard
needs around them: per-class arrays aligned with ``classes_``, one-vs-rest ROC curves, the
misclassified digits ordered most-confident mistake first, and graceful handling of a test
subset in which some class never occurs.

Works with any fitted classifier exposing ``predict_proba(X) -> (n_samples, n_classes)``
and ``classes_ (n_classes,)``; ``coef_`` is optional and only feeds :func:`sparsity`.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

__all__ = ["Evaluation", "evaluate", "sparsity"]


def sparsity(coef: np.ndarray) -> float:
    """Percentage of coefficients that are exactly zero.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features) or any shape
        Model coefficients. Only exact zeros count: L1 solvers produce true zeros, and a
        tolerance would make an L2 model with tiny weights look sparse.

    Returns
    -------
    float
        ``100 * (number of zeros) / coef.size``, between 0 and 100.

    Raises
    ------
    ValueError
        If ``coef`` is empty.
    """
    coef = np.asarray(coef)
    if coef.size == 0:
        raise ValueError("sparsity is undefined for an empty coefficient array")
    return float(100.0 * np.count_nonzero(coef == 0) / coef.size)


def _scalar(value: Any) -> Any:
    """A JSON-safe Python scalar: numpy scalars unwrapped, NaN and infinities as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(eq=False)
class Evaluation:
    """Scores of one classifier on one labelled set.

    ``eq=False``: element-wise array comparison has no single truth value.

    Per-class arrays are aligned with ``classes`` (index ``k`` is ``classes[k]``).

    Attributes
    ----------
    accuracy : float
        Fraction of correct predictions.
    log_loss : float
        Mean cross-entropy, computed with ``labels=classes``.
    precision, recall, f1 : ndarray of shape (n_classes,)
        Per-class scores; 0 where undefined (``zero_division=0``).
    support : ndarray of shape (n_classes,), int
        Number of true samples of each class.
    macro_precision, macro_recall, macro_f1 : float
        Unweighted means over all ``classes`` (an absent class contributes 0 recall).
    confusion : ndarray of shape (n_classes, n_classes), int
        ``confusion[i, j]`` = samples of true class ``classes[i]`` predicted ``classes[j]``.
    roc_auc : float
        Macro one-vs-rest ROC AUC over the classes for which it is defined (present in
        ``y`` but not the only class); NaN if it is defined for none. For two classes,
        the ordinary binary AUC.
    roc_auc_per_class : ndarray of shape (n_classes,)
        One-vs-rest AUC of each class; NaN for a class absent from ``y`` (or the only one).
    roc_curves : list of (fpr, tpr) pairs of 1-D ndarrays, one pair per class
        One-vs-rest ROC curves, with collinear points dropped. Empty arrays for a class whose
        curve is undefined.
    sparsity : float or None
        Percent of exactly-zero entries of ``coef_``; None if the model has no ``coef_``.
    misclassified : ndarray of shape (n_mistakes,), int
        Indices into ``X`` of wrong predictions, most confident mistake first (descending
        probability of the predicted class); possibly truncated by ``max_misclassified``.
    proba : ndarray of shape (n_samples, n_classes), float64
        Predicted probabilities.
    y_pred : ndarray of shape (n_samples,)
        Predicted labels, ``classes[argmax(proba)]``.
    classes : ndarray of shape (n_classes,)
        The model's ``classes_``.
    y_true : ndarray of shape (n_samples,)
        The true labels that were scored (needed by :meth:`cell_indices`).
    """

    accuracy: float
    log_loss: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    macro_precision: float
    macro_recall: float
    macro_f1: float
    confusion: np.ndarray
    roc_auc: float
    roc_auc_per_class: np.ndarray
    roc_curves: list[tuple[np.ndarray, np.ndarray]]
    sparsity: float | None
    misclassified: np.ndarray
    proba: np.ndarray
    y_pred: np.ndarray
    classes: np.ndarray
    y_true: np.ndarray

    def summary(self) -> dict[str, Any]:
        """Headline scores as JSON-safe scalars (undefined values become None).

        Returns
        -------
        dict
            Keys ``accuracy``, ``log_loss``, ``macro_precision``, ``macro_recall``,
            ``macro_f1``, ``roc_auc``, ``sparsity``.
        """
        return {
            name: _scalar(getattr(self, name))
            for name in (
                "accuracy",
                "log_loss",
                "macro_precision",
                "macro_recall",
                "macro_f1",
                "roc_auc",
                "sparsity",
            )
        }

    def per_class_table(self) -> list[dict[str, Any]]:
        """One row per class, ready for a dataframe or JSON (undefined AUC is None).

        Returns
        -------
        list of dict
            Each with keys ``class``, ``precision``, ``recall``, ``f1``, ``support``,
            ``roc_auc``, in the order of ``classes``.
        """
        return [
            {
                "class": _scalar(self.classes[k]),
                "precision": _scalar(float(self.precision[k])),
                "recall": _scalar(float(self.recall[k])),
                "f1": _scalar(float(self.f1[k])),
                "support": int(self.support[k]),
                "roc_auc": _scalar(float(self.roc_auc_per_class[k])),
            }
            for k in range(len(self.classes))
        ]

    def cell_indices(self, true_label: Any, pred_label: Any) -> np.ndarray:
        """Indices of the samples in one confusion-matrix cell, most confident first.

        Parameters
        ----------
        true_label, pred_label : label
            Members of ``classes``: the row (true) and column (predicted) of the cell.

        Returns
        -------
        ndarray of shape (confusion[i, j],), int
            Indices into the evaluated ``X``, sorted by descending probability of
            ``pred_label`` (ties keep index order).

        Raises
        ------
        ValueError
            If either label is not one of ``classes``.
        """
        for name, label in (("true_label", true_label), ("pred_label", pred_label)):
            if not np.any(self.classes == label):
                raise ValueError(
                    f"{name} must be one of the classes {self.classes.tolist()}; got {label!r}"
                )
        j = int(np.flatnonzero(self.classes == pred_label)[0])
        idx = np.flatnonzero((self.y_true == true_label) & (self.y_pred == pred_label))
        return _by_confidence(idx, self.proba[idx, j])


def _by_confidence(idx: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    # Stable sort so equal confidences keep dataset order: the page shows the same
    # gallery on every rerun.
    return idx[np.argsort(-confidence, kind="stable")].astype(np.intp, copy=False)


def _roc(
    y: np.ndarray, proba: np.ndarray, classes: np.ndarray
) -> tuple[float, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Macro AUC, per-class AUC and per-class curves, all one-vs-rest."""
    n_classes = len(classes)
    positives = np.array([np.count_nonzero(y == c) for c in classes])
    # One-vs-rest AUC needs both positives and negatives; sklearn would warn and return
    # NaN otherwise, so decide up front and keep the page free of warnings.
    defined = (positives > 0) & (positives < len(y))

    per_class = np.full(n_classes, np.nan)
    curves: list[tuple[np.ndarray, np.ndarray]] = []
    for k, c in enumerate(classes):
        if defined[k]:
            fpr, tpr, _ = skm.roc_curve(y == c, proba[:, k], drop_intermediate=True)
        else:
            fpr, tpr = np.empty(0), np.empty(0)
        curves.append((fpr, tpr))

    if n_classes == 2:
        for k, c in enumerate(classes):
            if defined[k]:
                per_class[k] = skm.roc_auc_score(y == c, proba[:, k])
        # The binary AUC is the AUC of the positive class (classes[1]); both entries are equal.
        macro = float(per_class[1])
    elif defined.all():
        per_class = np.asarray(
            skm.roc_auc_score(
                y, proba, multi_class="ovr", average=None, labels=classes
            ),
            dtype=np.float64,
        )
        macro = float(
            skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
        )
    else:
        for k in np.flatnonzero(defined):
            per_class[k] = skm.roc_auc_score(y == classes[k], proba[:, k])
        # Macro over the classes where AUC exists, rather than NaN for the whole model
        # because a small test subset happened to miss one digit.
        macro = float(np.mean(per_class[defined])) if defined.any() else math.nan
    return macro, per_class, curves


def evaluate(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    max_misclassified: int | None = None,
) -> Evaluation:
    """Score a fitted classifier on a labelled set.

    Parameters
    ----------
    model : fitted classifier
        Must have ``predict_proba(X) -> (n_samples, n_classes)`` and ``classes_
        (n_classes,)``; ``coef_ (n_classes or 1, n_features)`` is used for sparsity if
        present.
    X : array-like of shape (n_samples, n_features)
        Inputs, already in the form ``model`` expects.
    y : array-like of shape (n_samples,)
        True labels; every label must be one of ``model.classes_`` (a class may be absent).
    max_misclassified : int or None, default=None
        Keep only this many of the most confident mistakes (None keeps all).

    Returns
    -------
    Evaluation

    Raises
    ------
    ValueError
        If ``y`` is empty or has the wrong length, contains a label the model does not
        know, if ``predict_proba`` has the wrong shape, or ``max_misclassified < 0``.
    """
    classes = np.asarray(model.classes_)
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y must be a non-empty 1-D array of labels; got shape {y.shape}")
    if len(classes) < 2:
        raise ValueError(f"the model must know at least 2 classes; got {classes.tolist()}")
    unknown = np.setdiff1d(y, classes)
    if unknown.size:
        raise ValueError(
            f"y contains labels the model was not trained on: {unknown.tolist()}; "
            f"model classes are {classes.tolist()}"
        )
    if max_misclassified is not None and max_misclassified < 0:
        raise ValueError(f"max_misclassified must be >= 0 or None; got {max_misclassified}")

    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    if proba.shape != (len(y), len(classes)):
        raise ValueError(
            f"predict_proba returned shape {proba.shape}; expected "
            f"({len(y)}, {len(classes)}) for {len(y)} labels and {len(classes)} classes"
        )
    # Predictions from the same probabilities the confidences come from, so a mistake's
    # "confidence" is always the probability of the class it was predicted as.
    pred_idx = np.argmax(proba, axis=1)
    y_pred = classes[pred_idx]

    labels = classes.tolist()
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, y_pred, labels=labels, average=None, zero_division=0
    )
    macro_p, macro_r, macro_f, _ = skm.precision_recall_fscore_support(
        y, y_pred, labels=labels, average="macro", zero_division=0
    )
    with warnings.catch_warnings():
        # Only a warning about classes absent from y; NaN handling is done in _roc.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        roc_auc, roc_auc_per_class, roc_curves = _roc(y, proba, classes)

    wrong = np.flatnonzero(y_pred != y)
    misclassified = _by_confidence(wrong, proba[wrong, pred_idx[wrong]])
    if max_misclassified is not None:
        misclassified = misclassified[:max_misclassified]

    coef = getattr(model, "coef_", None)
    return Evaluation(
        accuracy=float(skm.accuracy_score(y, y_pred)),
        log_loss=float(skm.log_loss(y, proba, labels=labels)),
        precision=np.asarray(precision, dtype=np.float64),
        recall=np.asarray(recall, dtype=np.float64),
        f1=np.asarray(f1, dtype=np.float64),
        support=np.asarray(support, dtype=np.int64),
        macro_precision=float(macro_p),
        macro_recall=float(macro_r),
        macro_f1=float(macro_f),
        confusion=skm.confusion_matrix(y, y_pred, labels=labels).astype(np.int64),
        roc_auc=roc_auc,
        roc_auc_per_class=roc_auc_per_class,
        roc_curves=roc_curves,
        sparsity=None if coef is None else sparsity(coef),
        misclassified=misclassified,
        proba=proba,
        y_pred=y_pred,
        classes=classes,
        y_true=y,
    )
