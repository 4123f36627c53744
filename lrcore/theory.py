"""The math of the Theory page evaluated on one digit: logits, probabilities, loss, gradient.

For one sample ``x`` (the model input, i.e. the preprocessed pixels) with true class ``y``
and a fitted model ``W`` (K, d), ``b`` (K,):

- logits ``z = W x + b`` (K,);
- softmax model: ``p = softmax(z)``, loss ``l = -log p_y = logsumexp(z) - z_y``, and the
  gradient ``dl/dW = (p - e_y) x^T`` (K, d), ``dl/db = p - e_y``;
- one-vs-rest model: ``p_k = sigmoid(z_k)``, loss ``l = sum_k log(1 + exp(-s_k z_k))`` with
  ``s_k = +1`` for the true class and ``-1`` otherwise, gradient ``(sigmoid(z) - e_y) x^T``;
- binary model (K = 1 row for the positive class): one sigmoid, as one-vs-rest with one row.

Nothing is re-derived here: the loss and gradient come from :func:`lrcore.loss.loss_gradient`
on a batch of one, the exact function the solvers minimize, so what the page shows is what
training uses. The penalty part of the objective (:func:`penalty_breakdown`) is
:meth:`lrcore.loss.Penalty.value`, in scikit-learn's form (the objective is written out in
:mod:`lrcore.loss`).

No Streamlit here (STYLE.md section 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lrcore import loss as _loss
from lrcore.train import TrainedModel

__all__ = ["SampleBreakdown", "PenaltyBreakdown", "StepResult", "sample_breakdown",
           "penalty_breakdown", "gradient_step"]


@dataclass
class SampleBreakdown:
    """Everything the Theory page shows about one digit under one model.

    ``K`` below is the number of rows of ``coef_``: the number of classes, or 1 for a
    binary model.
    """

    x: np.ndarray  # (d,) model input: the preprocessed pixels, float64
    label: Any  # the true class, as in classes
    label_index: int  # its column in classes (0..n_classes-1)
    classes: np.ndarray  # (n_classes,)
    kind: str  # "multinomial", "ovr" or "binary"
    logits: np.ndarray  # (K,) z = W x + b
    proba: np.ndarray  # (n_classes,) predict_proba of the sample
    targets: np.ndarray  # (K,) one-hot e_y (binary: [1] if y is the positive class else [0])
    residual: np.ndarray  # (K,) dl/dz: p - e_y (softmax) or sigmoid(z) - e_y (sigmoids)
    loss: float  # the sample's training loss l (what grad is the gradient of)
    log_loss: float  # -log proba[label_index] (sklearn.metrics.log_loss of this sample)
    grad: np.ndarray  # (K, d) dl/dW = residual x^T
    grad_intercept: np.ndarray  # (K,) dl/db = residual
    predicted: Any  # the class predict() gives

    @property
    def correct(self) -> bool:
        return bool(self.predicted == self.label)


@dataclass
class PenaltyBreakdown:
    """The penalty term of the objective at the model's current weights."""

    penalty: str | None  # "l2", "l1", "elasticnet" or None
    C: float  # inf when penalty is None
    l1_ratio: float  # r: 0 for L2, 1 for L1
    n_train: int  # n in "C * sum_i l_i" (the training-set size)
    l2_squared: float  # ||W||_F^2 (intercepts are not penalized)
    l1: float  # ||W||_1
    value: float  # (1 - r)/2 ||W||^2 + r ||W||_1 (0 without penalty)
    per_sample: float  # value / (C n): the penalty on the scale of the mean loss
    zero_fraction: float  # share of the weights that are exactly 0


@dataclass
class StepResult:
    """The same digit after one gradient step on its own loss."""

    eta: float  # step size
    logits: np.ndarray  # (K,) logits after W <- W - eta dl/dW, b <- b - eta dl/db
    proba: np.ndarray  # (n_classes,)
    loss: float  # the sample's loss after the step


def _label_index(classes: np.ndarray, label: Any) -> int:
    hits = np.flatnonzero(classes == label)
    if hits.size == 0:
        raise ValueError(f"label {label!r} is not one of the model's classes "
                         f"{', '.join(str(c) for c in classes)}")
    return int(hits[0])


def _single_loss(coef: np.ndarray, intercept: np.ndarray, x: np.ndarray, y_idx: int,
                 kind: str, need_grad: bool) -> _loss.LossResult:
    coef_int = np.hstack([coef, intercept[:, None]]).astype(np.float64)
    y = np.array([y_idx])
    Y = _loss.targets(y, coef.shape[0], kind, np.float64)
    return _loss.loss_gradient(coef_int, x[None, :], Y, y, kind, True, need_grad=need_grad)


def sample_breakdown(model: TrainedModel, pixels: ArrayLike, label: Any) -> SampleBreakdown:
    """Logits, probabilities, loss and loss gradient of one digit under a trained model.

    Parameters
    ----------
    model : TrainedModel
        Any fitted model (softmax, one-vs-rest or binary).
    pixels : array-like of shape (784,)
        The digit on the 0-255 scale; it goes through ``model.features`` (the model's own
        preprocessing) first.
    label : class label
        The true class; must be one of ``model.classes``.

    Returns
    -------
    SampleBreakdown
        ``grad`` is the gradient of this one sample's loss (no penalty, no 1/n) with
        respect to ``coef_``, shape (K, d).
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 1:
        raise ValueError(f"pixels must have shape (784,); got {pixels.shape}")
    est = model.model
    classes = np.asarray(est.classes_)
    y_idx = _label_index(classes, label)
    kind = est.kind_
    x = model.features(pixels)[0]
    res = _single_loss(est.coef_, est.intercept_, x, y_idx, kind, need_grad=True)
    z = _loss.logits(x[None, :], est.coef_, est.intercept_)[0].astype(np.float64)
    proba = _loss.proba_from_logits(z[None, :], kind)[0]
    targets = _loss.targets(np.array([y_idx]), est.coef_.shape[0], kind, np.float64)[0]
    with np.errstate(divide="ignore"):
        log_loss = float(-np.log(max(proba[y_idx], np.finfo(np.float64).eps)))
    pred_idx = int(z[0] > 0) if kind == "binary" else int(np.argmax(z))
    return SampleBreakdown(
        x=x, label=classes[y_idx], label_index=y_idx, classes=classes, kind=kind,
        logits=z, proba=proba, targets=targets,
        # For a batch of one the intercept gradient *is* the residual dl/dz.
        residual=res.grad[:, -1].copy(), loss=res.loss, log_loss=log_loss,
        grad=res.grad[:, :-1].copy(), grad_intercept=res.grad[:, -1].copy(),
        predicted=classes[pred_idx],
    )


def gradient_step(model: TrainedModel, breakdown: SampleBreakdown, eta: float) -> StepResult:
    """The digit's logits and loss after one gradient-descent step on its own loss.

    Because ``dl/dW = r x^T`` and ``dl/db = r``, the step changes the logits by exactly
    ``-eta (||x||^2 + 1) r``: every class moves against its residual, scaled by how much
    ink (feature energy) the digit has. The loss is recomputed from the stepped weights.
    """
    eta = float(eta)
    if not (eta >= 0 and math.isfinite(eta)):
        raise ValueError(f"eta must be a non-negative number; got {eta!r}")
    est = model.model
    W = est.coef_ - eta * breakdown.grad
    b = est.intercept_ - eta * breakdown.grad_intercept
    res = _single_loss(W, b, breakdown.x, breakdown.label_index, breakdown.kind,
                       need_grad=False)
    z = _loss.logits(breakdown.x[None, :], W, b)[0].astype(np.float64)
    return StepResult(eta=eta, logits=z,
                      proba=_loss.proba_from_logits(z[None, :], breakdown.kind)[0],
                      loss=res.loss)


def penalty_breakdown(model: TrainedModel, n_train: int | None = None) -> PenaltyBreakdown:
    """The penalty term of the objective for the model's weights.

    Parameters
    ----------
    model : TrainedModel
    n_train : int, optional
        Number of training samples in ``C * sum_i l_i``; default the model's
        ``config.train_size``.
    """
    cfg = model.config
    W = np.asarray(model.coef_, dtype=np.float64)
    n = int(cfg.train_size if n_train is None else n_train)
    if n < 1:
        raise ValueError(f"n_train must be at least 1; got {n}")
    pen = _loss.make_penalty(cfg.penalty, cfg.C, cfg.l1_ratio, n)
    v = pen.value(W)
    return PenaltyBreakdown(penalty=pen.penalty, C=pen.C, l1_ratio=pen.l1_ratio, n_train=n,
                            l2_squared=v.l2_squared, l1=v.l1, value=v.value,
                            per_sample=v.mean_value,
                            zero_fraction=float(np.mean(W == 0)) if W.size else 0.0)
