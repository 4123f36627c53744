"""``SoftmaxRegression``: a scikit-learn compatible multinomial logistic regression.

It minimizes exactly scikit-learn's ``LogisticRegression`` objective, written out in
:mod:`lrcore.loss` (the one place the objective and its gradient are computed)::

    C * sum_i loss_i(W, b)  +  (1 - r) / 2 * ||W||_F^2  +  r * ||W||_1

``loss_i`` is the softmax cross-entropy (``multi_class="multinomial"``), the sum of K
one-vs-rest sigmoid log-losses (``"ovr"``), or one sigmoid for two classes (then ``coef_``
has one row, as in scikit-learn). The solvers minimize this divided by ``C * n``, so
``tol`` means what scikit-learn's lbfgs ``tol`` means.

Training is the generator :meth:`SoftmaxRegression.fit_iter`; :meth:`fit` drains it. After
every iteration the estimator's attributes hold the current iterate, so a caller that
stops early still has a usable model.

Memory: ``fit_iter`` works on ``X`` as given when it is C-contiguous float32 or float64
(a float64 ``X`` is copied once to float32 when large, for speed); the only other array
growing with n is the labels (int64): the one-hot targets are made per block. The
refinement to float64 never copies ``X`` (see :class:`_MeanObjective`). Nothing of size n
outlives the generator: the estimator keeps coefficients and a history of scalars, and
each :class:`Progress` a copy of the coefficients only.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Iterator

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from lrcore import loss as _loss
from lrcore import solvers as _solvers
from lrcore import config as _config

# Data at least this large (n * d) starts in float32: the GEMMs dominate and halve in cost.
FLOAT32_MIN_SIZE = 1_000_000
# The live test curves may cost at most this share of the training time: an iteration's
# evaluation is skipped (its test values are None) while the evaluations so far have cost
# more than EVAL_BUDGET x the training time so far. On full MNIST (10,000 test digits
# against 60,000 training digits) every iteration is evaluated; with 5,000 training digits
# about one in ten. The first and the final iteration are always evaluated.
EVAL_BUDGET = 0.10


@dataclass
class Progress:
    """One iteration of training, small enough to keep for every iteration."""

    iteration: int
    elapsed: float  # seconds since fit_iter started
    objective: float  # C * sum(loss) + penalty (sum(loss) when penalty is None)
    train_loss: float  # mean log-loss of predict_proba on the training data
    train_accuracy: float
    test_loss: float | None  # on the evaluation set, when one is given
    test_accuracy: float | None
    grad_max: float  # optimality measure compared with tol
    status: str  # "running", "converged", "max_iter", "stalled", "stopped"
    message: str
    n_evals: int  # objective evaluations so far (line-search trials included)
    coef: np.ndarray  # (K, d) current coefficients (a copy)
    intercept: np.ndarray  # (K,)

    def record(self) -> dict:
        """JSON-safe dict without the arrays (for histories and tables)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("coef", "intercept")}


class _MeanObjective:
    """Mean-scaled smooth objective in float32 or float64, with float64 refinement.

    ``X`` is what the caller passed (float32 from :class:`lrcore.train.Training`). It is
    copied only to go down to float32 (a float64 ``X`` that starts in float32); the
    refinement to float64 never copies it: a float64 ``X`` is used as it is, a float32 one
    is upcast block by block inside :func:`lrcore.loss.loss_gradient`, which yields the
    numbers a float64 copy would, without its n x d x 8 bytes (376 MB on MNIST).
    """

    def __init__(self, X, y_idx, n_classes, kind, fit_intercept, l2, dtype):
        self.X_src, self.y_idx, self.kind = X, y_idx, kind
        self.fit_intercept = fit_intercept
        self.l2 = l2  # l2_reg_strength of lrcore.loss.loss_gradient
        self.n_rows = n_classes if kind != "binary" else 1
        self.shape = (self.n_rows, X.shape[1] + int(fit_intercept))
        # The one-hot targets are made per block inside the loss (an n x K array would be
        # 2.4 MB of a full-MNIST training's 250 MB for what y_idx already says).
        self.Y = None
        self._set_dtype(dtype)
        self.last = None

    def _set_dtype(self, dtype):
        self.dtype = np.dtype(dtype)
        if self.X_src.dtype.itemsize > self.dtype.itemsize:
            self.X = np.ascontiguousarray(self.X_src, dtype=self.dtype)
        else:
            self.X = np.ascontiguousarray(self.X_src)
        self.can_refine = self.dtype != np.float64

    def refine(self) -> None:
        self._set_dtype(np.float64)

    def __call__(self, x, need_grad=True):
        res = _loss.loss_gradient(x.reshape(self.shape), self.X, self.Y, self.y_idx, self.kind,
                                  self.fit_intercept, need_grad=need_grad, dtype=self.dtype,
                                  l2_reg_strength=self.l2)
        self.last = res
        return res.objective, None if res.grad is None else res.grad.ravel(), res


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Multinomial (softmax) or one-vs-rest logistic regression with L2, L1, elastic-net or
    no penalty, minimizing exactly scikit-learn's ``LogisticRegression`` objective.

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet", None}, default="l2"
    C : float, default=1.0
        Inverse regularization strength, from 1e-6 to 1e8 (:data:`lrcore.config.C_MIN`,
        ``C_MAX``); ignored when ``penalty`` is None.
    l1_ratio : float or None, default=None
        Elastic-net mixing in [0, 1]; required for ``penalty="elasticnet"``.
    multi_class : {"multinomial", "ovr"}, default="multinomial"
        One softmax over the classes, or one sigmoid per class (one against the rest).
    tol : float, default=1e-4
        Stop when the largest (pseudo-)gradient entry of the mean objective is below it;
        greater than 0 and at most 1.
    max_iter : int, default=100
        Iteration budget, from 1 to 100000.
    fit_intercept : bool, default=True
    solver : {"auto", "lbfgs", "owlqn", "fista"}, default="auto"
        "auto": L-BFGS for L2/no penalty, OWL-QN for L1/elastic-net.
    dtype : {"auto", "float32", "float64"}, default="auto"
        Precision of the data products. "auto": float32 for large data, switching to
        float64 when tol asks for more than float32 can deliver (see lrcore.solvers).
    warm_start : bool, default=False
        Start from the previous solution when refitting (regularization paths).

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features), or (1, n_features) for two classes
    intercept_ : ndarray of shape (n_classes,) or (1,)
    classes_ : ndarray of shape (n_classes,)
    n_iter_ : ndarray of shape (1,)
        Iterations run (as scikit-learn reports it).
    n_features_in_ : int
    converged_ : bool
    history_ : list of dict
        One :meth:`Progress.record` per iteration of the last fit.
    eval_seconds_ : float
        Seconds the last fit spent on its live curves (the evaluation set, and the train
        log-loss of the sigmoid losses), included in the elapsed times it reports.
    """

    def __init__(
        self,
        penalty: str | None = "l2",
        C: float = 1.0,
        l1_ratio: float | None = None,
        multi_class: str = "multinomial",
        tol: float = 1e-4,
        max_iter: int = 100,
        fit_intercept: bool = True,
        solver: str = "auto",
        dtype: str = "auto",
        warm_start: bool = False,
    ) -> None:
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.multi_class = multi_class
        self.tol = tol
        self.max_iter = max_iter
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.dtype = dtype
        self.warm_start = warm_start

    # ------------------------------------------------------------------ validation
    def _resolved(self) -> tuple[str | None, float, float, str, float, int]:
        """Validated (penalty, C, l1_ratio, solver, tol, max_iter); raises ValueError.

        The rules and messages are :mod:`lrcore.config`'s, the ones a TrainConfig obeys
        (e.g. C in [1e-6, 1e8], max_iter from 1 to 100000), checked at fit time as
        scikit-learn does. What is the estimator's own: ``l1_ratio=None`` (scikit-learn's
        "not given") is required to be set for elastic-net, ignored otherwise; C is not
        read without a penalty; ``max_iter`` must be an int (not 5.0 or "5"); ``dtype``.
        ``max_iter=0``, which scikit-learn accepts, is refused as TrainConfig refuses it:
        nothing in lrcore asks for it (stored coefficients are loaded with ``from_coef``).
        """
        penalty = _config.check_penalty(self.penalty)
        C = math.inf if penalty is None else _config.check_C(self.C, penalty)
        if penalty == "elasticnet":
            if self.l1_ratio is None:
                raise ValueError("l1_ratio must be set (between 0 and 1) for penalty='elasticnet'")
            r = _config.check_l1_ratio(self.l1_ratio)
        else:
            r = 1.0 if penalty == "l1" else 0.0
        _config.check_multi_class(self.multi_class)
        max_iter = _config.check_max_iter(self.max_iter, exact=True)
        tol = _config.check_tol(self.tol)
        solver = _config.check_solver(self.solver, penalty)
        if solver == "auto":
            solver = "owlqn" if r > 0 else "lbfgs"
        if self.dtype not in ("auto", "float32", "float64"):
            raise ValueError(f"dtype must be 'auto', 'float32' or 'float64'; got {self.dtype!r}")
        return penalty, C, r, solver, tol, max_iter

    # ------------------------------------------------------------------ training
    def fit(self, X, y) -> "SoftmaxRegression":
        """Fit on ``X`` (n_samples, n_features) and labels ``y`` (n_samples,)."""
        for _ in self.fit_iter(X, y):
            pass
        return self

    def fit_iter(self, X, y, *, X_eval=None, y_eval=None) -> Iterator[Progress]:
        """Train, yielding a :class:`Progress` after every iteration.

        ``fit`` drains this same generator. Closing it early (``break``, a Stop button, a
        rerun) leaves the estimator fitted with the last iterate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        X_eval, y_eval : optional evaluation set for the live test curves. Its cost is one
            small GEMM per iteration (n_eval / n_train of one of the two training GEMMs),
            kept under :data:`EVAL_BUDGET` of the training time: when the set is large
            next to the training set, some iterations are not evaluated and report
            ``test_loss = test_accuracy = None`` (never the first or the final one).
        """
        penalty, C, r, solver, tol, max_iter = self._resolved()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C")
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                "This problem needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {classes[0]!r}"
            )
        kind = "binary" if classes.size == 2 else (
            "multinomial" if self.multi_class == "multinomial" else "ovr")
        n, d = X.shape
        if self.dtype == "auto":
            dtype = np.float32 if n * d >= FLOAT32_MIN_SIZE else np.float64
        else:
            dtype = np.dtype(self.dtype)
        # The mean objective: loss/n + penalty/(C n) (lrcore.loss).
        pen = _loss.make_penalty(penalty, C, r, n)
        fun = _MeanObjective(X, y_idx, classes.size, kind, self.fit_intercept,
                             l2=pen.l2_strength, dtype=dtype)
        l1 = pen.l1_weights(fun.shape, self.fit_intercept)

        x0 = np.zeros(fun.shape)
        if self.warm_start and getattr(self, "coef_", None) is not None and \
                np.array_equal(getattr(self, "classes_", None), classes) and \
                self.coef_.shape == (fun.shape[0], d):
            x0[:, :d] = self.coef_
            if self.fit_intercept:
                x0[:, -1] = self.intercept_
        x0 = x0.ravel()

        eval_set = None
        if X_eval is not None:
            X_eval = validate_data(self, X_eval, reset=False, dtype=[np.float64, np.float32])
            lookup = {c: i for i, c in enumerate(classes.tolist())}
            try:
                ye_idx = np.array([lookup[v] for v in np.asarray(y_eval).tolist()], dtype=np.int64)
            except KeyError as e:
                raise ValueError(f"y_eval has a label not seen in training: {e.args[0]!r}") from None
            eval_set = (np.ascontiguousarray(X_eval, dtype=dtype), ye_idx)

        self.classes_ = classes
        self._kind = kind
        self.history_ = []

        if solver == "lbfgs":
            states = _solvers.lbfgs(fun, x0, tol=tol, max_iter=max_iter)
        elif solver == "owlqn":
            states = _solvers.owlqn(fun, x0, l1, tol=tol, max_iter=max_iter)
        else:
            states = _solvers.fista(fun, x0, l1, tol=tol, max_iter=max_iter)

        t0 = time.perf_counter()
        self.eval_seconds_ = 0.0
        last = None
        try:
            for state in states:
                coef_int = state.x.reshape(fun.shape)
                self._set_coef(coef_int, d)
                self.n_iter_ = np.array([state.iteration], dtype=np.int32)
                self.converged_ = state.status == "converged"
                res = state.aux
                t_report = time.perf_counter()
                # For multinomial the optimized loss is the reported log-loss; for the
                # sigmoid losses report the log-loss of predict_proba (comparable curves).
                if kind == "multinomial":
                    train_loss = res.loss
                else:
                    train_loss = _loss.log_loss_from_logits(
                        self._raw_logits(fun.X, fun.dtype), y_idx, kind)
                test_loss = test_acc = None
                train_seconds = (t_report - t0) - self.eval_seconds_
                if eval_set is not None and (
                        state.iteration <= 1 or state.status != "running"
                        or self.eval_seconds_ <= EVAL_BUDGET * train_seconds):
                    Z = self._raw_logits(eval_set[0])
                    test_loss = _loss.log_loss_from_logits(Z, eval_set[1], kind)
                    test_acc = _loss.accuracy_from_logits(Z, eval_set[1], kind) / Z.shape[0]
                # What the live curves cost on top of training (bench/train_vs_sklearn.py).
                self.eval_seconds_ += time.perf_counter() - t_report
                prog = Progress(
                    iteration=state.iteration,
                    elapsed=time.perf_counter() - t0,
                    objective=state.F * pen.objective_scale,
                    train_loss=float(train_loss),
                    train_accuracy=res.n_correct / n,
                    test_loss=test_loss,
                    test_accuracy=test_acc,
                    grad_max=state.opt,
                    status=state.status,
                    message=state.message,
                    n_evals=state.n_evals,
                    coef=self.coef_.copy(),
                    intercept=self.intercept_.copy(),
                )
                self.history_.append(prog.record())
                last = prog
                yield prog
        finally:
            fun.X = fun.X_src = fun.Y = None  # do not keep a float copy of the data alive
        if last is not None and last.status == "max_iter":
            warnings.warn(
                f"SoftmaxRegression did not converge in max_iter={max_iter} iterations "
                f"(largest gradient {last.grad_max:.2g} > tol {tol:g}); "
                "increase max_iter or tol.",
                ConvergenceWarning,
            )

    def _set_coef(self, coef_int: np.ndarray, d: int) -> None:
        self.coef_ = np.array(coef_int[:, :d], dtype=np.float64)
        if self.fit_intercept:
            self.intercept_ = np.array(coef_int[:, d], dtype=np.float64)
        else:
            self.intercept_ = np.zeros(coef_int.shape[0])

    def _raw_logits(self, X: np.ndarray, dtype=None) -> np.ndarray:
        return _loss.logits(X, self.coef_, self.intercept_, dtype)

    # ------------------------------------------------------------------ prediction
    @property
    def kind_(self) -> str:
        """The loss actually used: "multinomial", "ovr" or "binary"."""
        check_is_fitted(self, "coef_")
        if self.classes_.size == 2:
            return "binary"
        return getattr(self, "_kind", None) or self.multi_class

    def decision_function(self, X) -> np.ndarray:
        """Logits ``X @ coef_.T + intercept_``: (n_samples, n_classes), or (n_samples,) for
        two classes (the positive class's score, as scikit-learn)."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        # float64 logits; a float32 X is upcast a block at a time (logits), not copied.
        Z = _loss.logits(X, self.coef_, self.intercept_, np.float64)
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in ``classes_`` order."""
        Z = self.decision_function(X)
        if Z.ndim == 1:
            Z = Z[:, None]
        return _loss.proba_from_logits(Z, self.kind_)

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba` (computed stably for the softmax)."""
        Z = self.decision_function(X)
        if self.kind_ == "multinomial":
            Zm = Z.max(axis=1, keepdims=True)
            return Z - Zm - np.log(np.exp(Z - Zm).sum(axis=1, keepdims=True))
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class of each sample."""
        Z = self.decision_function(X)
        if Z.ndim == 1:
            return self.classes_[(Z > 0).astype(np.int64)]
        return self.classes_[np.argmax(Z, axis=1)]

    # ------------------------------------------------------------------ helpers
    def objective(self, X, y) -> float:
        """The objective in scikit-learn's form (C * sum loss + penalty) at the current fit."""
        check_is_fitted(self, "coef_")
        penalty, C, r = self._resolved()[:3]
        X = np.asarray(X, dtype=np.float64)
        y_idx = np.searchsorted(self.classes_, np.asarray(y))
        coef_int = np.hstack([self.coef_, self.intercept_[:, None]])
        fun = _MeanObjective(X, y_idx, self.classes_.size, self.kind_, True, 0.0, np.float64)
        f, _, _ = fun(coef_int.ravel(), need_grad=False)
        return _loss.make_penalty(penalty, C, r, X.shape[0]).objective(f, self.coef_)

    @classmethod
    def from_coef(cls, coef, intercept, classes, *, multi_class: str = "multinomial",
                  **params) -> "SoftmaxRegression":
        """A fitted estimator from stored arrays (model files, snapshots)."""
        m = cls(multi_class=multi_class, **params)
        m.coef_ = np.array(coef, dtype=np.float64)
        m.intercept_ = np.array(intercept, dtype=np.float64)
        m.classes_ = np.asarray(classes)
        m.n_features_in_ = m.coef_.shape[1]
        m.n_iter_ = np.array([0], dtype=np.int32)
        m.converged_ = True
        m.history_ = []
        if m.classes_.size == 2:
            m._kind = "binary"
        else:
            m._kind = multi_class
        if m.coef_.shape != (1 if m.classes_.size == 2 else m.classes_.size, m.n_features_in_):
            raise ValueError(
                f"coef has shape {m.coef_.shape}, which does not fit {m.classes_.size} classes"
            )
        return m

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
