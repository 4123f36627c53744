"""The one place the math lives: the objective a linear model is fitted to, and its gradient.

For samples ``x_i`` (rows of ``X``, i = 1..n), coefficients ``W`` (K, d) and intercepts ``b``
(K,), the logits are ``z_i = W x_i + b``. Three losses share this module:

- ``"multinomial"`` (softmax): ``l_i = logsumexp(z_i) - z_{i, y_i}``;
- ``"ovr"`` (K independent sigmoids, one per class, class k against the rest):
  ``l_i = sum_k log(1 + exp(-s_ik z_ik))`` with ``s_ik = +1`` if ``y_i = k`` else ``-1``;
- ``"binary"`` (one sigmoid, K = 1 column for the positive class): as "ovr" with one column.

The objective, exactly as scikit-learn's ``LogisticRegression`` states it (intercepts are
not penalized)::

    C * sum_i l_i  +  (1 - r) / 2 * ||W||_F^2  +  r * ||W||_1

with ``r = l1_ratio`` (``penalty="l2"``: r = 0, ``"l1"``: r = 1, ``"elasticnet"``: the given
``l1_ratio``); ``penalty=None`` is C infinite: just ``sum_i l_i``. The solvers minimize it
divided by ``C * n``, the *mean* objective::

    F(W, b) = (1/n) sum_i l_i  +  l2 / 2 * ||W||_F^2  +  l1 * ||W||_1
    l2 = (1 - r) / (C n),   l1 = r / (C n)        (both 0 for penalty=None)

so that ``tol`` means what scikit-learn's lbfgs ``tol`` means (the largest entry of the
(pseudo-)gradient of ``F``). :func:`loss_gradient` returns the smooth part of ``F`` (mean
loss plus the L2 term, given its strength ``l2_reg_strength`` as scikit-learn's
``LinearModelLoss.loss_gradient`` takes it) and its gradient; the L1 term is not smooth and
is handled by the solvers (:mod:`lrcore.solvers`) from the weights :meth:`Penalty.l1_weights`
and the value :func:`l1_value`. :func:`make_penalty` is the one place ``r``, ``l2`` and
``l1`` are derived from (penalty, C, l1_ratio, n), and :meth:`Penalty.value` /
:meth:`Penalty.objective` give the penalty and the objective in scikit-learn's scale.

Speed: everything is two GEMMs (``X @ W.T`` and ``R.T @ X``, done block by block, see
``CHUNK_ROWS``) plus elementwise work on the (n, K) logits. ``X`` may be float32: the GEMMs
then run twice as fast and the (n, K) work too, while the sums that make up the loss are
accumulated in float64 so that the objective is still good to ~1e-7 relative (enough for
the line search and for sklearn's tol=1e-4).

Memory: ``loss_gradient`` allocates nothing of size n x d. Its temporaries are one block's
logits (CHUNK_ROWS x K) and, when asked for more precision than ``X`` is stored in
(``dtype=np.float64`` on a float32 ``X``: the final refinement of a tight ``tol``), one
UPCAST_ROWS x d float64 block that each block of ``X`` is upcast into in turn: 1.6 MB on
MNIST instead of the 376 MB of a float64 copy of all 60,000 digits. The upcast values are
exactly those of such a copy, so the refinement computes the same numbers up to the order
of the float64 block sums (1e-16 relative); the upcast makes a float64 evaluation about
10% slower than on a copy (194 against 178 ms on full MNIST, one thread), paid only in the
refinement iterations. ``Y`` may be None: the one-hot targets are then made
per block from ``y_idx`` (identical values, and no n x K array kept for the whole fit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class LossResult:
    """Mean loss, the smooth objective, its gradient and by-products of the same pass."""

    loss: float  # mean log-loss (1/n) sum_i l_i, no penalty
    objective: float  # loss + l2_reg_strength / 2 * ||W||_F^2 (= loss without L2)
    grad: np.ndarray | None  # (K, d + fit_intercept) float64, gradient of ``objective``
    n_correct: int  # training samples whose argmax logit is the true class


@dataclass(frozen=True)
class PenaltyValue:
    """The penalty at some weights ``W``, in scikit-learn's scale and in the mean one."""

    l2_squared: float  # ||W||_F^2
    l1: float  # ||W||_1
    value: float  # (1 - r) / 2 * ||W||_F^2 + r * ||W||_1 (0 without penalty)
    mean_value: float  # value / (C n): the same on the scale of the mean loss


@dataclass(frozen=True)
class Penalty:
    """The penalty of one objective (see the module docstring), built by :func:`make_penalty`."""

    penalty: str | None  # "l2", "l1", "elasticnet" or None
    C: float  # inf when penalty is None
    l1_ratio: float  # r: 0 for "l2" and None, 1 for "l1"
    n_samples: int  # n in C * sum_i l_i
    l2_strength: float  # (1 - r) / (C n): the mean objective's L2 weight (0 without penalty)
    l1_strength: float  # r / (C n): the mean objective's L1 weight (0 without penalty)

    @property
    def objective_scale(self) -> float:
        """Factor from the mean objective to scikit-learn's: ``C n`` (``n`` without penalty)."""
        return self.C * self.n_samples if self.penalty is not None else float(self.n_samples)

    def value(self, W: np.ndarray) -> PenaltyValue:
        """The penalty at ``W`` of shape (K, d) (the coefficients, without intercepts)."""
        W = np.asarray(W, dtype=np.float64)
        l2 = float(np.sum(W * W))
        l1 = float(np.abs(W).sum())
        if self.penalty is None:
            return PenaltyValue(l2, l1, 0.0, 0.0)
        r = self.l1_ratio
        value = 0.5 * (1.0 - r) * l2 + r * l1
        return PenaltyValue(l2, l1, value, value / (self.C * self.n_samples))

    def objective(self, mean_loss: float, W: np.ndarray) -> float:
        """scikit-learn's objective ``C * sum_i l_i + penalty`` from the mean loss at ``W``."""
        if self.penalty is None:
            return mean_loss * self.n_samples
        return self.C * self.n_samples * mean_loss + self.value(W).value

    def l1_weights(self, shape: tuple[int, int], fit_intercept: bool) -> np.ndarray:
        """Flat L1 weights ``c`` of the solvers' ``sum_j c_j |x_j|`` for parameters of
        ``shape`` (K, d + fit_intercept): ``l1_strength``, 0 on the intercept column."""
        mask = np.ones(shape)
        if fit_intercept:
            mask[:, -1] = 0.0
        return self.l1_strength * mask.ravel()


def make_penalty(penalty: str | None, C: float, l1_ratio: float | None,
                 n_samples: int) -> Penalty:
    """The :class:`Penalty` of (penalty, C, l1_ratio) on ``n_samples`` samples.

    Expects validated values (see :mod:`lrcore.config`); ``l1_ratio`` is read for
    ``"elasticnet"`` only, ``C`` is ignored (infinite) for ``penalty=None``.
    """
    if penalty is None:
        return Penalty(None, math.inf, 0.0, n_samples, 0.0, 0.0)
    r = {"l2": 0.0, "l1": 1.0}.get(penalty)
    if r is None:
        if penalty != "elasticnet":
            raise ValueError(f"unknown penalty {penalty!r}")
        r = float(l1_ratio)
    C = float(C)
    scale = 1.0 / (C * n_samples)
    return Penalty(penalty, C, r, n_samples, (1.0 - r) * scale, r * scale)


def l1_value(x: np.ndarray, c: np.ndarray) -> float:
    """The L1 term ``sum_j c_j |x_j|`` of the mean objective (``c`` from
    :meth:`Penalty.l1_weights`), as the L1 solvers add it to the smooth part."""
    return float(c @ np.abs(x))


def split_coef(coef_int: np.ndarray, fit_intercept: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Split a (K, d + 1) parameter block into ``W`` (K, d) and ``b`` (K,) (or None)."""
    if fit_intercept:
        return coef_int[:, :-1], coef_int[:, -1]
    return coef_int, None


def logits(X: np.ndarray, W: np.ndarray, b: np.ndarray | None,
           dtype: np.dtype | None = None) -> np.ndarray:
    """Logits ``X @ W.T + b`` (n, K), computed in ``dtype`` (default: ``X``'s dtype).

    A ``dtype`` other than ``X``'s converts ``X`` one block of rows at a time, so a
    float64 result from a float32 ``X`` never needs a float64 copy of ``X``.
    """
    dtype = X.dtype if dtype is None else np.dtype(dtype)
    Wt = W.T.astype(dtype, copy=False)
    if X.dtype == dtype:
        Z = X @ Wt
    else:
        Z = np.empty((X.shape[0], W.shape[0]), dtype=dtype)
        for lo in range(0, X.shape[0], UPCAST_ROWS):
            np.matmul(X[lo:lo + UPCAST_ROWS].astype(dtype), Wt, out=Z[lo:lo + UPCAST_ROWS])
    if b is not None:
        Z += b.astype(dtype, copy=False)
    return Z


def proba_from_logits(Z: np.ndarray, kind: str) -> np.ndarray:
    """Class probabilities (n, n_classes) as ``predict_proba`` reports them.

    Multinomial: softmax. One-vs-rest: the K sigmoids normalized to sum to 1 (what
    scikit-learn's one-vs-rest logistic regression reports). Binary: [1 - p, p].
    """
    Z = np.asarray(Z, dtype=np.float64)
    if kind == "multinomial":
        Z = Z - Z.max(axis=1, keepdims=True)
        E = np.exp(Z)
        return E / E.sum(axis=1, keepdims=True)
    P = _sigmoid(Z)
    if kind == "binary":
        return np.hstack([1.0 - P, P])
    s = P.sum(axis=1, keepdims=True)
    # All K sigmoids can underflow to 0 far from the data; fall back to uniform there.
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(s > 0, P / np.where(s > 0, s, 1.0), 1.0 / P.shape[1])
    return out


def log_loss_from_logits(Z: np.ndarray, y_idx: np.ndarray, kind: str) -> float:
    """Mean log-loss of ``predict_proba`` (what sklearn.metrics.log_loss reports).

    For "ovr" this is the loss of the normalized probabilities, not the sum of the K
    binary losses that "ovr" minimizes, so that softmax and one-vs-rest curves compare.
    """
    n = Z.shape[0]
    if kind == "multinomial":
        Zm = Z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(Z - Zm).sum(axis=1, dtype=np.float64)) + Zm[:, 0]
        return float((lse - Z[np.arange(n), y_idx]).sum(dtype=np.float64) / n)
    P = proba_from_logits(Z, kind)
    eps = np.finfo(np.float64).eps  # sklearn's log_loss clips the same way
    p_true = np.clip(P[np.arange(n), y_idx], eps, 1.0)
    return float(-np.log(p_true).mean())


def accuracy_from_logits(Z: np.ndarray, y_idx: np.ndarray, kind: str) -> int:
    """Number of samples whose predicted class (as ``predict`` decides) is the true one."""
    if kind == "binary":
        pred = (Z[:, 0] > 0).astype(np.int64)
    else:
        pred = Z.argmax(axis=1)
    return int(np.count_nonzero(pred == y_idx))


def _sigmoid(Z: np.ndarray) -> np.ndarray:
    # exp of a negative argument only, so large |z| never overflows.
    out = np.empty_like(Z)
    pos = Z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-Z[pos]))
    ez = np.exp(Z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def targets(y_idx: np.ndarray, n_classes: int, kind: str, dtype: np.dtype) -> np.ndarray:
    """Target matrix for ``loss_gradient``: one-hot (n, K), or (n, 1) 0/1 for "binary"."""
    if kind == "binary":
        return (y_idx == 1).astype(dtype)[:, None]
    Y = np.zeros((y_idx.shape[0], n_classes), dtype=dtype)
    Y[np.arange(y_idx.shape[0]), y_idx] = 1
    return Y


# Rows per block in loss_gradient. The two GEMMs are tall and skinny (K = 10 columns), so
# they are limited by reading X from memory, not by arithmetic. Doing both products on a
# block of rows while it is still in cache reads X once per evaluation instead of twice:
# on full MNIST (float32) 51 ms instead of 83 ms per gradient here. 1024 rows x 785
# float32 = 3.2 MB fits the L2/L3 caches of common CPUs; 512-2048 measured the same.
CHUNK_ROWS = 1024
# Rows per block when X is upcast (float32 stored, float64 computed): the float64 copy of
# a block is the largest temporary of the refinement, so it is kept at 256 x 785 x 8 =
# 1.6 MB (a 1024-row one, 6.4 MB, was a visible share of the 250 MB budget of a full-MNIST
# training); the GEMMs on 256 rows are as fast.
UPCAST_ROWS = 256


def loss_gradient(
    coef_int: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray | None,
    y_idx: np.ndarray,
    kind: str,
    fit_intercept: bool,
    *,
    need_grad: bool = True,
    dtype: np.dtype | None = None,
    l2_reg_strength: float = 0.0,
) -> LossResult:
    """Mean log-loss, the smooth objective with its L2 term, and its gradient.

    The smooth part of the mean objective ``F`` of the module docstring::

        objective = (1/n) sum_i l_i  +  l2_reg_strength / 2 * ||W||_F^2

    Parameters
    ----------
    coef_int : ndarray of shape (K, d + 1) if ``fit_intercept`` else (K, d)
        Coefficients with the intercept as last column (float64).
    X : ndarray of shape (n, d)
        Features, float32 or float64 (the GEMMs run in this dtype).
    Y : ndarray of shape (n, K) or None
        Targets from :func:`targets`, float32 or float64 (exact either way); None makes
        them block by block from ``y_idx``.
    y_idx : ndarray of shape (n,)
        Class index of each sample (the accuracy count; the targets if ``Y`` is None).
    kind : {"multinomial", "ovr", "binary"}
    fit_intercept : bool
    need_grad : bool
        False skips the second GEMM.
    dtype : floating dtype or None
        Precision of the products; None: ``X``'s dtype. A wider one than ``X``'s (float64
        on a float32 ``X``) upcasts ``X`` and ``Y`` block by block, never all of ``X``.
    l2_reg_strength : float, default=0.0
        ``l2`` of the mean objective (:attr:`Penalty.l2_strength`); the intercepts are not
        penalized.

    Returns
    -------
    LossResult
        ``loss`` (mean log-loss), ``objective`` (with the L2 term), ``grad`` of
        ``objective``, shaped like ``coef_int`` (float64), ``n_correct``.
    """
    n = X.shape[0]
    dtype = X.dtype if dtype is None else np.dtype(dtype)
    W, b = split_coef(coef_int, fit_intercept)
    Wt = np.ascontiguousarray(W.T, dtype=dtype)
    bt = None if b is None else b.astype(dtype)
    loss = 0.0
    n_correct = 0
    gW = np.zeros((coef_int.shape[0], X.shape[1]), dtype=np.float64) if need_grad else None
    gb = np.zeros(coef_int.shape[0], dtype=np.float64) if need_grad else None
    # One reused block instead of a converted copy of X (see the module docstring).
    step = CHUNK_ROWS if X.dtype == dtype else UPCAST_ROWS
    buf = None if X.dtype == dtype else np.empty((min(step, n), X.shape[1]), dtype)
    for lo in range(0, n, step):
        Xc = X[lo:lo + step]
        if buf is not None:
            Xc = buf[:Xc.shape[0]]
            np.copyto(Xc, X[lo:lo + step])
        if Y is None:
            Yc = targets(y_idx[lo:lo + step], coef_int.shape[0], kind, dtype)
        else:
            Yc = Y[lo:lo + step]
            if Yc.dtype != dtype:
                Yc = Yc.astype(dtype)
        Z = Xc @ Wt
        if bt is not None:
            Z += bt
        n_correct += accuracy_from_logits(Z, y_idx[lo:lo + step], kind)
        if kind == "multinomial":
            Z -= Z.max(axis=1, keepdims=True)
            E = np.exp(Z)
            s = E.sum(axis=1, keepdims=True)
            # sum_i [log s_i - (z_iy - max_i)], accumulated in float64.
            loss += np.log(s[:, 0]).sum(dtype=np.float64) - (Z * Yc).sum(dtype=np.float64)
            if need_grad:
                E /= s
                E -= Yc  # residual P - Y, reusing the buffer
                R = E
        else:
            # log(1 + exp(-s z)) with s = 2y - 1, written without overflow.
            loss += np.logaddexp(0, (1 - 2 * Yc) * Z).sum(dtype=np.float64)
            if need_grad:
                R = _sigmoid(Z) - Yc
        if need_grad:
            gW += R.T @ Xc  # the second GEMM, on the block still in cache
            gb += R.sum(axis=0, dtype=np.float64)
    mean_loss = float(loss / n)
    objective = mean_loss
    if l2_reg_strength:
        # W is a view of the float64 coef_int: the L2 term is exact in float64 whatever
        # the precision of the products.
        objective += 0.5 * l2_reg_strength * float(np.sum(W * W))
    if not need_grad:
        return LossResult(mean_loss, objective, None, n_correct)
    grad = np.empty(coef_int.shape, dtype=np.float64)
    if fit_intercept:
        grad[:, :-1] = gW
        grad[:, -1] = gb
    else:
        grad[:] = gW
    grad /= n
    if l2_reg_strength:
        grad[:, :W.shape[1]] += l2_reg_strength * W
    return LossResult(mean_loss, objective, grad, n_correct)
