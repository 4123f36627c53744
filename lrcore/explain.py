"""Why did the model say that? One digit through a trained model, taken apart.

A softmax regression scores class ``k`` with a logit that is a plain sum over pixels:

    logit_k = sum_j x_j * coef_[k, j] + intercept_[k]

where ``x`` is the digit *as the model sees it* (after its preprocessing). So the product
``x * coef_[k]``, shown as a 28x28 picture, is an exact account of the decision: every
pixel's vote for (positive) or against (negative) class ``k``, which add up, with the
intercept, to the logit; the softmax of the logits gives the probabilities. Nothing is
approximated, unlike saliency methods for deep networks.

:func:`explain_digit` computes that account. The Draw page redraws it after every stroke,
for every student of a class on one server; :mod:`lrcore.figures.draw` draws it (this
module computes, that one draws).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lrcore.preprocess import N_PIXELS, SIDE
from lrcore.train import TrainedModel

# Top classes whose evidence maps are computed (and drawn by default).
N_EVIDENCE = 3


@dataclass(frozen=True)
class Explanation:
    """A digit's scores under one model, with the per-pixel account of its top classes.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        The model's class labels (``classes_``), in the order of every per-class array.
    proba : ndarray of shape (n_classes,)
        ``predict_proba`` of the digit (sums to 1).
    logits : ndarray of shape (n_classes,)
        ``decision_function`` of the digit: ``features @ coef_.T + intercept_``.
    intercept : ndarray of shape (n_classes,)
        The bias of each class's logit.
    top : ndarray of shape (n_classes,)
        Class *indices* by decreasing probability; ``top[0]`` is the prediction.
    image : ndarray of shape (28, 28)
        The digit in [0, 1] (white ink on black), before the model's preprocessing.
    features : ndarray of shape (28, 28)
        The digit exactly as the model sees it: its preprocessing applied, reshaped.
    evidence_idx : ndarray of shape (k,)
        Class indices of the evidence maps: ``top[:k]``.
    evidence : ndarray of shape (k, 28, 28)
        ``features * coef_[evidence_idx[i]]``: each pixel's contribution to that class's
        logit. ``evidence[i].sum() + intercept[evidence_idx[i]] == logits[evidence_idx[i]]``.
    preprocess : str
        The model's preprocessing in words (for captions).
    """

    classes: np.ndarray
    proba: np.ndarray
    logits: np.ndarray
    intercept: np.ndarray
    top: np.ndarray
    image: np.ndarray
    features: np.ndarray
    evidence_idx: np.ndarray
    evidence: np.ndarray
    preprocess: str

    @property
    def predicted(self):
        """The predicted class label (``classes[top[0]]``)."""
        return self.classes[self.top[0]]

    @property
    def confidence(self) -> float:
        """Probability of the predicted class."""
        return float(self.proba[self.top[0]])

    @property
    def top_classes(self) -> np.ndarray:
        """Class labels by decreasing probability."""
        return self.classes[self.top]


def _class_weights(model: TrainedModel) -> tuple[np.ndarray, np.ndarray]:
    """(W (n_classes, 784), b (n_classes,)) with ``logits = x @ W.T + b`` for every class.

    A two-class model stores one row (the positive class's score ``z``); its probabilities
    are ``softmax([0, z])``, so the negative class gets a zero row and a zero bias.
    """
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    if coef.shape[0] == 1 and len(model.classes) == 2:
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    return coef, intercept


def explain_digit(model: TrainedModel, pixels01: ArrayLike, k: int = N_EVIDENCE) -> Explanation:
    """Score one digit and account for the scores pixel by pixel.

    Parameters
    ----------
    model : TrainedModel
        Any trained model (its preprocessing is applied here).
    pixels01 : array-like of shape (784,) or (28, 28)
        The digit in [0, 1], white ink on black, as :func:`lrcore.preprocess.canvas_to_mnist`
        returns it (MNIST's 0-255 pixels divided by 255).
    k : int, default=3
        Number of top classes to compute evidence maps for (at most n_classes).

    Returns
    -------
    explanation : Explanation
    """
    x = np.asarray(pixels01, dtype=np.float64)
    if x.size != N_PIXELS:
        raise ValueError(f"pixels01 must have {N_PIXELS} values (a 28x28 digit); got shape {x.shape}")
    x = x.reshape(N_PIXELS)
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError("pixels01 must hold finite values in [0, 1] (pixels / 255)")
    feats = model.features(x * 255.0)  # (1, 784) float64: the model's own preprocessing
    W, b = _class_weights(model)
    # The logits straight from the weights (not decision_function), so that the identity
    # evidence.sum() + intercept == logit is exact by construction, for two classes too.
    logits = feats[0] @ W.T + b
    proba = model.model.predict_proba(feats)[0]
    top = np.argsort(-proba, kind="stable")
    k = max(0, min(int(k), len(proba)))
    ev_idx = top[:k]
    evidence = (feats[0] * W[ev_idx]).reshape(k, SIDE, SIDE)
    return Explanation(
        classes=np.asarray(model.classes),
        proba=proba,
        logits=logits,
        intercept=b,
        top=top,
        image=x.reshape(SIDE, SIDE),
        features=feats[0].reshape(SIDE, SIDE),
        evidence_idx=ev_idx,
        evidence=evidence,
        preprocess=model.preprocessor.describe(),
    )
