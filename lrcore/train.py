"""A training run end to end: config -> data subset -> preprocessing -> live fit -> metrics.

:class:`Training` is what the Train page, the CLI and the experiments iterate over. It
yields the model's :class:`~lrcore.model.Progress` records and, at every moment, can hand
out the model trained so far (:meth:`Training.result`), so a Stop, a rerun or a closed
browser tab never loses more than the iteration in flight.

:class:`TrainedModel` bundles what prediction needs (preprocessor + estimator) with what
the pages show (config, history, weight snapshots, metrics), and converts to and from the
pickle-free model file of :mod:`lrcore.persist`.

Memory of one training on all 60,000 digits, on top of the uint8 data already loaded
(bench/memory.py measures it: a peak of 221-242 MB for every penalty, preprocessing and
tol down to 1e-8, against 264 MB for deskew and 616-626 MB for tol < 1e-5 before): the
float32 design matrix (188 MB, the only array of the size of the data;
:meth:`Preprocessor.transform` fills it block by block), the float32 evaluation set for
the live curves (31 MB), the labels (0.5 MB), the solver's memory (L-BFGS: 160 pairs of
7,850 float64, 20 MB; OWL-QN 40 pairs, 5 MB) and per-block temporaries in the loss (the
float64 refinement of a tight ``tol`` upcasts 256 rows at a time, 1.6 MB, instead of
copying X: 376 MB). :meth:`Training.result` computes its test metrics from the pixels in
1,024-digit blocks (6.4 MB of float64 features at a time, not 63 MB), so even a result
taken mid-training, while the run still holds X, stays within the training's peak. All of
that lives in the training generator's frame and in the model's objective and goes when
the iteration ends or is stopped; what outlives it is small: the subset (views of the
loaded data; copies only for a shuffled subset), the latest :class:`Progress`, 20 weight
snapshots (0.6 MB) and the history.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, TypedDict

import numpy as np

from lrcore import persist
from lrcore.config import TrainConfig
from lrcore.data import MnistData, select_subset
from lrcore.metrics import Evaluation, evaluate
from lrcore.model import Progress, SoftmaxRegression
from lrcore.plain import pack_array, unpack_array
from lrcore.preprocess import Preprocessor

N_SNAPSHOTS = 20


class RunSummary(TypedDict, total=False):
    """What :attr:`TrainedModel.summary` holds: scalars only (it is stored in the model
    file as JSON, and shown in the runs table).

    The training's own numbers come from its last iteration; the ``test_*`` metrics, F1,
    AUC and sparsity from :func:`metrics_on_test` on the test digits. A model rebuilt from
    streamed weights (a lost worker, a snapshot of a shared run) has no test metrics until
    :meth:`TrainedModel.rescore` computes them (``metrics_computed`` says which).
    """

    n_iter: int  # iterations done (a continued run counts the earlier ones too)
    fit_seconds: float  # training time, pauses left out
    objective: float  # the objective minimized (lrcore.loss), at the last iterate
    train_accuracy: float
    train_log_loss: float
    converged: bool
    status: str  # "converged", "max_iter", "stalled", "stopped"
    message: str  # the status in words
    train_size: int
    test_size: int  # test digits the metrics were computed on
    test_accuracy: float | None
    test_log_loss: float | None
    macro_f1: float | None
    roc_auc: float | None
    sparsity: float  # % of the weights exactly 0
    metrics_computed: bool  # False: the test metrics above are missing


def metrics_on_test(ev: Evaluation) -> dict[str, Any]:
    """The test metrics of :class:`RunSummary` from an evaluation on test digits (the one
    place ``Evaluation.summary()``'s names become the run's ``test_*`` names)."""
    s = ev.summary()
    return {"test_accuracy": s["accuracy"], "test_log_loss": s["log_loss"],
            "macro_f1": s["macro_f1"], "roc_auc": s["roc_auc"], "sparsity": s["sparsity"],
            "metrics_computed": True}
# Digits per block when evaluating on pixels: 1024 x 784 float64 features = 6.4 MB at a
# time instead of 63 MB for the 10,000 test digits at once.
EVAL_CHUNK = 1024


class _PixelClassifier:
    """A fitted estimator seen through its preprocessing, for :func:`lrcore.metrics.evaluate`.

    ``predict_proba`` takes pixels and computes the float64 features a block of rows at a
    time, so evaluating never holds the features of the whole set; every row gets exactly
    the numbers ``model.predict_proba(preprocessor.transform(X, dtype=np.float64))`` gives.
    """

    def __init__(self, model: SoftmaxRegression, preprocessor: Preprocessor) -> None:
        self.model, self.preprocessor = model, preprocessor
        self.classes_ = model.classes_
        self.coef_ = model.coef_

    def predict_proba(self, pixels: np.ndarray) -> np.ndarray:
        pixels = np.atleast_2d(np.asarray(pixels))
        out = np.empty((pixels.shape[0], self.classes_.size), dtype=np.float64)
        for lo in range(0, pixels.shape[0], EVAL_CHUNK):
            feats = self.preprocessor.transform(pixels[lo:lo + EVAL_CHUNK], dtype=np.float64)
            out[lo:lo + EVAL_CHUNK] = self.model.predict_proba(feats)
        return out


@dataclass
class TrainedModel:
    """A fitted estimator with its preprocessing and the story of its training."""

    model: SoftmaxRegression
    preprocessor: Preprocessor
    config: TrainConfig
    history: list[dict] = field(default_factory=list)  # Progress.record() per iteration
    # Weight snapshots for "watch the weights form": iterations (S,), coef (S, K, d).
    snapshot_iters: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    snapshot_coef: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), np.float32))
    summary: RunSummary = field(default_factory=dict)  # type: ignore[assignment]
    data_source: str = ""
    name: str = ""

    # -------------------------------------------------------------- prediction
    def features(self, pixels: np.ndarray) -> np.ndarray:
        """Model input (n, 784) float64 from pixels on the 0-255 scale (n, 784) or (784,)."""
        X = np.atleast_2d(np.asarray(pixels))
        return self.preprocessor.transform(X, dtype=np.float64)

    def predict_proba_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Class probabilities (n, n_classes) for pixels on the 0-255 scale."""
        return self.model.predict_proba(self.features(pixels))

    def evaluate(self, X_pixels: np.ndarray, y: np.ndarray) -> Evaluation:
        """Full evaluation (lrcore.metrics) on pixels on the 0-255 scale."""
        return evaluate(_PixelClassifier(self.model, self.preprocessor), X_pixels, y)

    @property
    def classes(self) -> np.ndarray:
        return self.model.classes_

    @property
    def coef_(self) -> np.ndarray:
        """The estimator's weights (n_classes, 784), on the model's input (features)."""
        return self.model.coef_

    @property
    def intercept_(self) -> np.ndarray:
        return self.model.intercept_

    def rescore(self, X_pixels: np.ndarray, y: np.ndarray) -> "TrainedModel":
        """Replace the test metrics in :attr:`summary` by ones computed here on these test
        digits (what a model file or a snapshot says about itself is never shown)."""
        self.summary.update(metrics_on_test(self.evaluate(X_pixels, y)), test_size=len(y))
        if self.summary.get("message", "").endswith(" (metrics not computed)"):
            self.summary["message"] = self.summary["message"][:-len(" (metrics not computed)")]
        return self

    # -------------------------------------------------------------- files
    def to_bytes(self) -> bytes:
        """The model as a safe ``.npz`` file (see lrcore.persist)."""
        buf = io.BytesIO()
        self.save(buf)
        return buf.getvalue()

    def save(self, file: str | Path | io.BytesIO) -> None:
        params = self.model.get_params()
        params["C"] = float(params["C"]) if params["penalty"] is not None else math.inf
        persist.save_model(
            file,
            coef=self.model.coef_,
            intercept=self.model.intercept_,
            classes=np.asarray(self.model.classes_, dtype=np.int64),
            model_params=params,
            preprocess_mode=self.preprocessor.mode,
            preprocess_state=self.preprocessor.get_state(),
            config=self.config.to_dict(),
            metrics=self.summary,
            extra_arrays={
                "snapshot_iters": np.asarray(self.snapshot_iters, dtype=np.int64),
                "snapshot_coef": np.asarray(self.snapshot_coef, dtype=np.float32),
            },
            extra_meta={"history": self.history, "data_source": self.data_source,
                        "name": self.name},
        )

    @classmethod
    def load(cls, file: Any) -> "TrainedModel":
        """Read a model file (path, bytes or file-like); ``ValueError`` if it is not valid."""
        mf = persist.load_model(file)
        params = dict(mf.model_params)
        allowed = set(SoftmaxRegression().get_params())
        params = {k: v for k, v in params.items() if k in allowed}
        multi_class = params.pop("multi_class", "multinomial")
        try:
            model = SoftmaxRegression.from_coef(mf.coef, mf.intercept, mf.classes,
                                                multi_class=multi_class, **params)
            model._resolved()  # the stored parameters must be valid too
            pre = Preprocessor.from_state(mf.preprocess_mode, mf.preprocess_state)
            config = TrainConfig.from_dict(mf.config or {})
        except (TypeError, ValueError) as e:
            raise ValueError(f"not a valid model file: {e}") from None
        extra = mf.extra_arrays
        snap_iters = extra.get("snapshot_iters", np.zeros(0, dtype=np.int64))
        snap_coef = extra.get("snapshot_coef", np.zeros((0, 0, 0), np.float32))
        if snap_coef.size and (snap_coef.ndim != 3 or snap_coef.shape[1:] != mf.coef.shape
                               or snap_coef.shape[0] != snap_iters.shape[0]):
            raise ValueError("not a valid model file: weight snapshots have the wrong shape")
        history = mf.extra_meta.get("history", [])
        if not isinstance(history, list):
            raise ValueError("not a valid model file: history must be a list")
        return cls(
            model=model, preprocessor=pre, config=config, history=history,
            snapshot_iters=snap_iters, snapshot_coef=snap_coef,
            summary=dict(mf.metrics or {}),
            data_source=str(mf.extra_meta.get("data_source", "")),
            name=str(mf.extra_meta.get("name", "")),
        )


def snapshot_schedule(max_iter: int, n: int = N_SNAPSHOTS) -> set[int]:
    """Iterations at which to keep weights: geometric, dense early where change is fast."""
    if max_iter <= n:
        return set(range(1, max_iter + 1))
    pts = np.unique(np.round(np.geomspace(1, max_iter, n)).astype(int))
    return set(int(p) for p in pts)


@dataclass
class WarmStart:
    """Where a continued training starts: the coefficients of an earlier run on the same
    objective, and the story so far (its history and weight snapshots), so that the
    continued run's iterations, curves and snapshots carry on from there.

    Build it with :meth:`from_model`; :meth:`to_plain` / :meth:`from_plain` ship it to a
    training engine worker as msgpack-safe data.
    """

    coef: np.ndarray  # (K, d)
    intercept: np.ndarray  # (K,)
    classes: np.ndarray  # (n_classes,)
    history: list[dict] = field(default_factory=list)
    snapshot_iters: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    snapshot_coef: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), np.float32))

    @classmethod
    def from_model(cls, model: "TrainedModel") -> "WarmStart":
        return cls(coef=np.asarray(model.model.coef_), intercept=np.asarray(model.model.intercept_),
                   classes=np.asarray(model.model.classes_), history=list(model.history),
                   snapshot_iters=np.asarray(model.snapshot_iters, dtype=np.int64),
                   snapshot_coef=np.asarray(model.snapshot_coef, dtype=np.float32))

    @property
    def n_iter(self) -> int:
        """Iterations already done (0 for a model without history, e.g. an upload)."""
        return int(self.history[-1]["iteration"]) if self.history else 0

    @property
    def elapsed(self) -> float:
        return float(self.history[-1].get("elapsed", 0.0)) if self.history else 0.0

    def digest(self) -> str:
        """A short hash of the starting point (part of a continued job's engine key)."""
        import hashlib

        h = hashlib.sha256()
        for a in (self.coef, self.intercept, self.classes):
            a = np.ascontiguousarray(a)
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(a.tobytes())
        h.update(str(self.n_iter).encode())
        return h.hexdigest()[:16]

    def to_plain(self) -> dict:
        return {"coef": pack_array(self.coef), "intercept": pack_array(self.intercept),
                "classes": pack_array(self.classes), "history": self.history,
                "snapshot_iters": pack_array(self.snapshot_iters),
                "snapshot_coef": pack_array(self.snapshot_coef)}

    @classmethod
    def from_plain(cls, d: dict) -> "WarmStart":
        return cls(**{k: np.array(unpack_array(d[k])) for k in
                      ("coef", "intercept", "classes", "snapshot_iters", "snapshot_coef")},
                   history=list(d.get("history") or []))


class Training:
    """One training run that can be iterated (live progress) and stopped at any time.

    Parameters
    ----------
    config : TrainConfig
    data : MnistData
        Raises ``ValueError`` at construction if the sizes exceed the data.
    evaluate_test : bool
        Compute test loss/accuracy every iteration (live curves).
    warm_start : WarmStart, optional
        Continue an earlier run: the solver starts from its coefficients (the objective
        is the same: same settings, same digits) and the iterations are numbered on from
        its last one. ``config.max_iter`` counts them all, so the solver has
        ``config.max_iter - warm_start.n_iter`` iterations left (``ValueError`` if none).
        The solver's own memory (L-BFGS curvature pairs) starts empty: the path differs
        from an uninterrupted run's, the optimum does not.
    """

    def __init__(self, config: TrainConfig, data: MnistData, *, evaluate_test: bool = True,
                 name: str = "", warm_start: WarmStart | None = None) -> None:
        config.check_sizes(data.n_train, data.n_test)
        self.config = config
        self.data_source = data.source
        self.name = name
        self.subset = select_subset(data, config.train_size, config.test_size,
                                    shuffle=config.shuffle, seed=config.seed)
        self.preprocessor = Preprocessor(config.preprocess).fit(self.subset.X_train)
        self.model = SoftmaxRegression(**config.model_params())
        self.warm = warm_start
        self.it0, self.t0 = 0, 0.0
        if warm_start is not None:
            self.it0, self.t0 = warm_start.n_iter, warm_start.elapsed
            left = config.max_iter - self.it0
            if left < 1:
                raise ValueError(f"max_iter must be above the {self.it0} iterations already "
                                 f"done to continue; got {config.max_iter}")
            classes = np.unique(self.subset.y_train)
            coef = np.asarray(warm_start.coef)
            if not np.array_equal(np.asarray(warm_start.classes), classes) or \
                    coef.shape[1] != self.subset.X_train.shape[1]:
                raise ValueError("the model to continue was trained on other classes or "
                                 "pixels than these digits")
            self.model.set_params(max_iter=left, warm_start=True)
            self.model.classes_ = classes
            self.model.coef_ = np.array(coef, dtype=np.float64)
            self.model.intercept_ = np.array(warm_start.intercept, dtype=np.float64)
        self.evaluate_test = evaluate_test
        self.latest: Progress | None = None
        self.schedule = {i for i in snapshot_schedule(config.max_iter) if i > self.it0}
        self._snap_iters: list[int] = []
        self._snap_coef: list[np.ndarray] = []

    def __iter__(self) -> Iterator[Progress]:
        X = self.preprocessor.transform(self.subset.X_train, dtype=np.float32)
        X_eval = y_eval = None
        if self.evaluate_test:
            X_eval = self.preprocessor.transform(self.subset.X_test, dtype=np.float32)
            y_eval = self.subset.y_test
        for prog in self.model.fit_iter(X, self.subset.y_train, X_eval=X_eval, y_eval=y_eval):
            if self.it0:  # a continued run: its iterations and time carry on
                prog = replace(prog, iteration=prog.iteration + self.it0,
                               elapsed=prog.elapsed + self.t0)
            self.latest = prog
            if prog.iteration in self.schedule or prog.status != "running":
                if not self._snap_iters or self._snap_iters[-1] != prog.iteration:
                    self._snap_iters.append(prog.iteration)
                    self._snap_coef.append(prog.coef.astype(np.float32))
            yield prog

    def result(self, *, with_metrics: bool = True) -> TrainedModel:
        """The model as of the last finished iteration (usable mid-training).

        Raises ``RuntimeError`` if no iteration has finished yet.
        """
        if self.latest is None:
            raise RuntimeError("no iteration has finished yet")
        last = self.latest
        status = last.status if last.status != "running" else "stopped"
        history = list(self.model.history_)
        if self.it0:
            history = list(self.warm.history) + [
                {**r, "iteration": r["iteration"] + self.it0, "elapsed": r["elapsed"] + self.t0}
                for r in history]
        if history:
            history[-1] = {**history[-1], "status": status}
        summary: RunSummary = {
            "n_iter": int(last.iteration),
            "fit_seconds": float(last.elapsed),
            "objective": float(last.objective),
            "train_accuracy": float(last.train_accuracy),
            "train_log_loss": float(last.train_loss),
            "converged": status == "converged",
            "status": status,
            "message": _status_message(status, last, self.config),
            "train_size": self.config.train_size,
            "test_size": self.config.test_size,
        }
        if with_metrics:
            summary.update(metrics_on_test(evaluate(_PixelClassifier(self.model, self.preprocessor),
                                                 self.subset.X_test, self.subset.y_test)))
        snaps = np.stack(self._snap_coef) if self._snap_coef else np.zeros(
            (0,) + self.model.coef_.shape, np.float32)
        snap_iters = np.array(self._snap_iters, dtype=np.int64)
        if self.warm is not None and self.warm.snapshot_coef.shape[1:] == snaps.shape[1:]:
            snaps = np.concatenate([self.warm.snapshot_coef.astype(np.float32), snaps])
            snap_iters = np.concatenate([self.warm.snapshot_iters, snap_iters])
        return TrainedModel(
            model=self.model,
            preprocessor=self.preprocessor,
            config=self.config,
            history=history,
            snapshot_iters=snap_iters,
            snapshot_coef=snaps,
            summary=summary,
            data_source=self.data_source,
            name=self.name,
        )


def _status_message(status: str, last: Progress, config: TrainConfig) -> str:
    if status == "converged":
        return (f"converged after {last.iteration} iterations (largest gradient below "
                f"tol={config.tol:g})")
    if status == "max_iter":
        return (f"did not converge: stopped at max_iter={config.max_iter} with the largest "
                f"gradient {last.grad_max:.2g} still above tol={config.tol:g}; the model is usable but "
                "more iterations (or a larger tol) would change it")
    if status == "stalled":
        return ("stopped: the objective could not be decreased further at this numerical "
                f"precision (largest gradient {last.grad_max:.2g}, tol={config.tol:g})")
    return f"stopped by the user after {last.iteration} iterations; this is the model as of then"


def train(config: TrainConfig, data: MnistData, **kw: Any) -> TrainedModel:
    """Run a whole training and return the model with its metrics."""
    run = Training(config, data, **kw)
    for _ in run:
        pass
    return run.result()
