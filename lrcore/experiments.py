"""Live experiments that answer the dashboard's questions, one function per question.

Each constructor (:func:`training_size_curve`, :func:`regularization_path`, ...) validates
its settings at once (``ValueError`` saying what is wrong and what is allowed) and returns
an :class:`Experiment`. Nothing runs until it is iterated::

    exp = regularization_path(data, Cs=[0.01, 0.1, 1.0])
    for step in exp:                      # a Step per finished point, and in between
        print(step.done, step.total, step.message)   # (the page draws a progress bar)
    res = exp.result()                    # ExperimentResult: table, notes, CSV

Stopping is closing the iterator (``break``, a Stop button, a rerun): the points finished
so far stay in :meth:`Experiment.result`, marked ``complete=False``. The experiment in
flight is simply dropped. The page, the CLI (``python -m lrcore experiment NAME``) and the
tests all run this same code.

Caching is the caller's job (STYLE.md section 6): :attr:`Experiment.key` is a stable hash
of the experiment's name, its JSON-safe ``params`` and the data it runs on, suitable as a
cache key for the same settings.

Threads: every fit and prediction runs with BLAS/OpenMP limited to :data:`BLAS_THREADS`
threads. On a busy 2-core machine OpenBLAS's two spinning threads made a 5,000-digit
L-BFGS fit 6-15x slower than one thread (measured: 12.9 s vs 0.9 s); the GEMMs here are
too small to gain from a second thread that has to wait for a free core.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.exceptions import ConvergenceWarning

from lrcore.config import C_MAX, C_MIN, MIN_TRAIN_SIZE, PREPROCESS_MODES, TrainConfig, parse_penalty
from lrcore.data import MnistData, select_subset
from lrcore.labels import fmt_C, fmt_loss, pct, pct_points, penalty_label, preprocess_label
from lrcore.metrics import sparsity
from lrcore.model import SoftmaxRegression
from lrcore.preprocess import Preprocessor

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "ExperimentResult",
    "Step",
    "binary_detector",
    "cross_validate_C",
    "model_comparison",
    "preprocessing_comparison",
    "regularization_path",
    "softmax_vs_ovr",
    "training_size_curve",
]

# See the module docstring: one thread is faster than two fighting for a busy core.
BLAS_THREADS = 1
# Progress inside one fit (between finished points) is reported at most this often, so a
# page redraw per Step stays cheap even when iterations take a millisecond.
PROGRESS_INTERVAL = 0.25
MAX_FOLDS = 20


# --------------------------------------------------------------------------- records


@dataclass
class Step:
    """Progress of a running experiment.

    ``done`` counts finished points (fits, folds, comparisons) out of ``total``; between
    points, Steps with the same ``done`` report the fit in flight. ``row`` is the table row
    a point has just added (None for in-flight progress and for points that add no row).
    """

    done: int
    total: int
    message: str  # e.g. "C=0.01 (L1): test accuracy 0.830"
    row: dict | None = None

    @property
    def fraction(self) -> float:
        """``done / total`` in [0, 1], for a progress bar."""
        return self.done / self.total if self.total else 1.0


def _json_safe(value: Any) -> Any:
    """Python scalars/lists/dicts only (numpy unwrapped, tuples as lists, inf as "inf")."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


@dataclass
class ExperimentResult:
    """What an experiment found (all of it, or the points finished before a Stop).

    Attributes
    ----------
    name : str
        The experiment's key in :data:`EXPERIMENTS`, e.g. ``"c-path"``.
    params : dict
        JSON-safe settings, including ``data_source``, ``n_train_available`` and
        ``n_test_available`` (the CSV header), followed by the headline findings of
        experiments that have a ``summary`` (cross-validation: ``best_C``, ...).
        :attr:`Experiment.key` is computed from the settings alone.
    table : pandas.DataFrame
        One row per point, tidy columns (documented per experiment).
    notes : list of str
        Plain-language findings and caveats.
    models : dict
        Extra payload; per experiment (e.g. ``models["coef"][row] -> (K, 784) float32``
        for the path, ``models["summary"]`` for cross-validation).
    complete : bool
        False when the experiment was stopped before its last point.
    """

    name: str
    params: dict
    table: pd.DataFrame
    notes: list[str]
    models: dict = field(default_factory=dict)
    complete: bool = True

    @property
    def summary(self) -> dict:
        """Headline findings as numbers (``models["summary"]``, also merged into
        ``params``); empty for experiments that have none."""
        return self.models.get("summary", {})

    def to_csv(self) -> str:
        """The table as CSV after one ``# ``-commented header line: the experiment's name
        and ``params`` as JSON. Read it back with
        ``pandas.read_csv(io.StringIO(text), comment="#")``."""
        head = {"experiment": self.name, "complete": self.complete, **self.params}
        return "# " + json.dumps(_json_safe(head)) + "\n" + self.table.to_csv(index=False)

    def to_dict(self) -> dict:
        """JSON-safe dict: name, params, complete, rows, notes, summary."""
        return _json_safe({
            "name": self.name, "params": self.params, "complete": self.complete,
            "rows": self.table.to_dict(orient="records"), "notes": self.notes,
            "summary": self.summary,
        })


class Experiment:
    """A runnable experiment: iterate it for live :class:`Step`s, stop at any time.

    Built by the constructors of this module, not directly. An experiment runs once;
    iterating it a second time raises ``RuntimeError`` (build a new one to rerun).

    Attributes
    ----------
    name : str
    params : dict
        JSON-safe settings.
    total : int
        Number of points (the ``total`` of every Step).
    columns : list of str
        Columns of the result table.
    """

    def __init__(self, name: str, params: dict, total: int, columns: Sequence[str],
                 body: Callable[["Experiment"], Iterator[Step]],
                 findings: Callable[["Experiment", pd.DataFrame], list[str]] | None = None,
                 notes: Iterable[str] = ()) -> None:
        self.name = name
        self.params = _json_safe(params)
        self.total = int(total)
        self.columns = list(columns)
        self._body = body
        self._findings = findings
        self.notes: list[str] = list(notes)  # fixed notes, known before running
        self.rows: list[dict] = []
        self.models: dict = {}
        self.done = 0
        self.state = "new"  # "new", "running", "finished", "stopped"

    @property
    def key(self) -> str:
        """Stable cache key for these settings on this data, e.g. ``"c-path-3f2a..."``."""
        text = json.dumps({"name": self.name, "params": self.params}, sort_keys=True)
        return f"{self.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"

    def __iter__(self) -> Iterator[Step]:
        if self.state != "new":
            raise RuntimeError(
                f"experiment {self.name!r} has already run ({self.state}); build a new one "
                "to run it again"
            )
        self.state = "running"
        return self._run()

    def _run(self) -> Iterator[Step]:
        try:
            yield from self._body(self)
            self.state = "finished"
        finally:
            if self.state == "running":  # closed early (GeneratorExit) or an error
                self.state = "stopped"

    def run(self) -> ExperimentResult:
        """Run to the end (no progress) and return the result."""
        for _ in self:
            pass
        return self.result()

    def result(self) -> ExperimentResult:
        """The result so far: every finished point (all of them once it has finished)."""
        table = pd.DataFrame(self.rows, columns=self.columns)
        notes = list(self.notes)
        if self.state != "finished":
            what = "has not started" if self.state == "new" else (
                "is still running" if self.state == "running" else "was stopped")
            notes.insert(0, f"Incomplete: the experiment {what} after {self.done} of "
                            f"{self.total} steps; the table holds the {len(self.rows)} "
                            "rows finished so far.")
        if self._findings is not None and len(table):
            notes.extend(self._findings(self, table))
        params = {**self.params, **_json_safe(self.models.get("summary", {}))}
        return ExperimentResult(name=self.name, params=params, table=table,
                                notes=notes, models=dict(self.models),
                                complete=self.state == "finished")

    # -- helpers for the experiment bodies
    def _progress(self, message: str) -> Step:
        return Step(self.done, self.total, message)

    def _point(self, message: str, row: dict | None = None) -> Step:
        """Finish a point: count it, keep its row, and report it."""
        self.done += 1
        if row is not None:
            # numpy scalars -> Python (JSON, CSV); NaN stays NaN (a missing value).
            row = {k: v.item() if isinstance(v, np.generic) else v for k, v in row.items()}
            self.rows.append(row)
        return Step(self.done, self.total, message, row)

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, {self.state}, {self.done}/{self.total} steps)"


# --------------------------------------------------------------------------- running code

_controller = None


@contextmanager
def _compute() -> Iterator[None]:
    """Around every piece of heavy work (never around a ``yield``): limit BLAS/OpenMP
    threads and silence ConvergenceWarning (non-convergence is reported in the tables)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        # Created lazily so that it sees the libraries scikit-learn has loaded by now.
        _controller = ThreadpoolController()
    with _controller.limit(limits=BLAS_THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


class _Timer:
    """Seconds of compute, accumulated only inside ``with timer:`` blocks."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> "_Timer":
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds += time.perf_counter() - self._t0


def _fit(exp: Experiment, model: SoftmaxRegression, X: np.ndarray, y: np.ndarray,
         label: str, timer: _Timer) -> Iterator[Step]:
    """Fit ``model`` by draining its ``fit_iter`` generator, reporting in-flight progress.

    The warnings filter and thread limit are applied per iteration, not across the
    ``yield`` (they are process-wide and the consumer must not run under them).
    """
    for message in _fit_messages(model, X, y, label, timer):
        yield exp._progress(message)


def _fit_messages(model: SoftmaxRegression, X: np.ndarray, y: np.ndarray, label: str,
                  timer: _Timer) -> Iterator[str]:
    """:func:`_fit` for step functions: the same fit, yielding its progress as text."""
    it = model.fit_iter(X, y)
    last = time.perf_counter()
    try:
        while True:
            with _compute(), timer:
                prog = next(it, None)
            if prog is None:
                return
            now = time.perf_counter()
            if now - last >= PROGRESS_INTERVAL:
                last = now
                yield (f"{label}: iteration {prog.iteration}/{model.max_iter}, "
                       f"train loss {prog.train_loss:.4f}")
    finally:
        it.close()


def _here(exp: Experiment, steps: Iterator[Any]) -> Iterator[Any]:
    """Run a step function in this process: its progress texts become Steps, and its
    finished points are passed on (as ``("point", payload)``)."""
    for out in steps:
        if isinstance(out, str):
            yield exp._progress(out)
        else:
            yield ("point", out)


def _points(exp: Experiment, engine: Any, func: Callable, items: list, data: MnistData,
            what: str) -> Iterator[Any]:
    """Every point of ``func(data, item)`` for all items, in order, as ``("point",
    payload)``, interleaved with progress Steps.

    Without an engine the items run here one after the other (live progress inside each
    fit). With one, all items are submitted at once (one Dask task each, so two workers
    run two at once) and their points are passed on in order as they finish; closing the
    iterator (a Stop) cancels the steps not finished yet.
    """
    if engine is None:
        for item in items:
            yield from _here(exp, func(data, item))
        return
    batch = engine.map_steps(func, items, data)
    try:
        results = iter(batch)
        for f in batch.futures:
            while not f.done():
                yield _waiting(exp, batch, what)
            for payload in next(results):
                yield ("point", payload)
    finally:
        batch.cancel()


def _waiting(exp: Experiment, batch: Any, what: str) -> Step:
    time.sleep(PROGRESS_INTERVAL)
    return exp._progress(f"{what}: {batch.done_count()} of {len(batch)} steps finished on "
                         "the training engine")


def _wait_all(exp: Experiment, batch: Any, what: str) -> Iterator[Step]:
    """Progress Steps until every step of ``batch`` has finished; returns their results."""
    while batch.done_count() < len(batch):
        yield _waiting(exp, batch, what)
    return list(batch)


def _sklearn_fit(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """Fit a scikit-learn estimator under :func:`_compute`; returns the seconds taken."""
    with _compute(), _Timer() as t:
        model.fit(X, y)
    return t.seconds


def _predict(model: Any, X: np.ndarray) -> tuple[np.ndarray, float]:
    with _compute(), _Timer() as t:
        pred = model.predict(X)
    return pred, t.seconds


def _accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    with _compute():
        return float(np.mean(model.predict(X) == y))


def _n_iter(model: SoftmaxRegression) -> int:
    return int(np.max(model.n_iter_))


def _fmt_C(C: float) -> str:
    return fmt_C(C, digits=3)  # a sweep's Cs (geomspace) need no more digits


# --------------------------------------------------------------------------- validation


def _config(data: MnistData, **kw: Any) -> TrainConfig:
    """Validate shared settings through TrainConfig (one set of rules and messages)."""
    kw.setdefault("test_size", data.n_test)
    cfg = TrainConfig(**kw)
    cfg.check_sizes(data.n_train, data.n_test)
    return cfg


def _default_size(value: int | None, default: int, available: int) -> int:
    return min(default, available) if value is None else value


def _positive_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)) \
            or not float(value).is_integer():
        raise ValueError(f"{name} must be a whole number; got {value!r}")
    value = int(value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}; got {value}")
    return value


def _Cs(value: Any, default: np.ndarray, name: str = "Cs") -> list[float]:
    """Sorted unique Cs, each a number in [C_MIN, C_MAX]."""
    if value is None:
        value = default
    if isinstance(value, (int, float, np.number)):
        value = [value]
    try:
        values = [float(c) for c in value]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of numbers; got {value!r}") from None
    if not values:
        raise ValueError(f"{name} must contain at least one value")
    for c in values:
        if not (C_MIN <= c <= C_MAX):
            raise ValueError(f"each C must be between {C_MIN:g} and {C_MAX:g}; got {c:g}")
    return sorted(set(values))


def _data_params(data: MnistData) -> dict:
    return {"data_source": data.source, "n_train_available": data.n_train,
            "n_test_available": data.n_test}


def _prepared(data: MnistData, train_size: int, preprocess: str, *, shuffle: bool = False,
              seed: int = 0, test_size: int | None = None, dtype: Any = np.float32):
    """(X_train, y_train, X_test, y_test, preprocessor) for the first / a random subset."""
    s = select_subset(data, train_size, test_size, shuffle=shuffle, seed=seed)
    with _compute():
        pp = Preprocessor(preprocess).fit(s.X_train)
        return (pp.transform(s.X_train, dtype=dtype), s.y_train,
                pp.transform(s.X_test, dtype=dtype), s.y_test, pp)


# --------------------------------------------------------------------------- experiments


def _size_step(data: MnistData, item: dict) -> Iterator[Any]:
    """One point of the size curve (a step function, see :func:`_points`)."""
    n = item["n"]
    yield f"{n:,} digits: training"
    X, y, Xt, yt, _ = _prepared(data, n, item["preprocess"], shuffle=True, seed=item["seed"])
    model = SoftmaxRegression(**item["model"])
    timer = _Timer()
    yield from _fit_messages(model, X, y, f"{n:,} digits", timer)
    yield {"train_size": n, "train_accuracy": _accuracy(model, X, y),
           "test_accuracy": _accuracy(model, Xt, yt), "fit_seconds": timer.seconds,
           "n_iter": _n_iter(model), "converged": bool(model.converged_)}


def training_size_curve(data: MnistData, sizes: Sequence[int] = (500, 1000, 2000, 5000, 10000,
                                                                 20000, 60000), *,
                        penalty: str | None = "l2", C: float = 1.0, preprocess: str = "unit",
                        max_iter: int = 200, seed: int = 0, engine: Any = None) -> Experiment:
    """How does accuracy grow with the number of training digits?

    Each size is a random subset (seeded; every subset contains the smaller ones) trained
    from scratch and scored on all test digits. Sizes above ``data.n_train`` are dropped
    with a note. With ``engine`` (a :class:`lrcore.engine.Engine`) every size is one step
    on its workers; the table is the same (but for ``fit_seconds``).

    Table columns: ``train_size``, ``train_accuracy``, ``test_accuracy``, ``fit_seconds``,
    ``n_iter``, ``converged``.
    """
    if isinstance(sizes, (int, np.integer)):
        sizes = [sizes]
    sizes = [_positive_int("each training size", s, 0, 10**12) for s in sizes]
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

    def body(exp: Experiment) -> Iterator[Step]:
        items = [{"n": n, "preprocess": preprocess, "seed": seed, "model": cfg.model_params()}
                 for n in kept]
        for out in _points(exp, engine, _size_step, items, data, "size curve"):
            if isinstance(out, Step):
                yield out
                continue
            row = out[1]
            yield exp._point(f"{row['train_size']:,} digits: test accuracy "
                             f"{pct(row['test_accuracy'])} (train {pct(row['train_accuracy'])})",
                             row)

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


def _path_step(data: MnistData, item: dict) -> Iterator[Any]:
    """A stretch of the C path: one model refitted along ``item["Cs"]`` (a step function,
    see :func:`_points`); a point per C with its row and weights."""
    X, y, Xt, yt, _ = _prepared(data, item["train_size"], item["preprocess"])
    p, Cs = item["penalty"], item["Cs"]
    model = SoftmaxRegression(penalty=p, C=Cs[0], max_iter=item["max_iter"], tol=item["tol"],
                              l1_ratio=item["l1_ratio"] if p == "elasticnet" else None,
                              warm_start=item["warm_start"])
    for C in Cs:
        model.set_params(C=C)
        label = f"C={_fmt_C(C)} ({penalty_label(p)})"
        yield f"{label}: training"
        timer = _Timer()
        yield from _fit_messages(model, X, y, label, timer)
        row = {"penalty": p, "C": C, "train_accuracy": _accuracy(model, X, y),
               "test_accuracy": _accuracy(model, Xt, yt),
               "sparsity": sparsity(model.coef_), "n_iter": _n_iter(model),
               "fit_seconds": timer.seconds, "converged": bool(model.converged_)}
        yield {"row": row, "classes": model.classes_, "coef": model.coef_.astype(np.float32),
               "intercept": model.intercept_.astype(np.float32)}


def regularization_path(data: MnistData, Cs: Sequence[float] | None = None, *,
                        penalties: Sequence[str] = ("l1", "l2"), train_size: int | None = None,
                        preprocess: str = "standardize", max_iter: int = 300,
                        tol: float = 1e-4, l1_ratio: float = 0.5,
                        warm_start: bool = True, engine: Any = None) -> Experiment:
    """What does C do? The same model refitted along increasing C, per penalty.

    Each fit starts from the previous C's solution (``SoftmaxRegression(warm_start=True)``),
    which is how regularization paths are computed; ``warm_start=False`` refits each from
    zero (for comparison). ``train_size`` None = 5,000 (or all training digits if fewer),
    the first rows of the training set; scored on all test digits. With ``engine``, each
    penalty's warm-started path (each C, with ``warm_start=False``) is one step on its
    workers; the table is the same (but for ``fit_seconds``).

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
    notes = [f"Trained on the first {train_size:,} training digits ({preprocess}), tested on "
             f"all {data.n_test:,} test digits. Small C = strong regularization."]

    def body(exp: Experiment) -> Iterator[Step]:
        exp.models["coef"], exp.models["intercept"] = {}, {}
        base = {"train_size": train_size, "preprocess": preprocess, "max_iter": cfg.max_iter,
                "tol": cfg.tol, "l1_ratio": cfg.l1_ratio, "warm_start": bool(warm_start)}
        # A warm-started path is a chain (each fit starts from the previous C), so one
        # step per penalty; cold starts are independent, so one step per C.
        chains = [[C for C in Cs]] if warm_start else [[C] for C in Cs]
        items = [{**base, "penalty": p, "Cs": chain} for p in pens for chain in chains]
        for out in _points(exp, engine, _path_step, items, data, "C path"):
            if isinstance(out, Step):
                yield out
                continue
            point = out[1]
            row = point["row"]
            i = len(exp.rows)
            exp.models["classes"] = point["classes"]
            exp.models["coef"][i] = point["coef"]
            exp.models["intercept"][i] = point["intercept"]
            yield exp._point(f"C={_fmt_C(row['C'])} ({penalty_label(row['penalty'])}): "
                             "test accuracy "
                             f"{pct(row['test_accuracy'])}, {row['sparsity']:.0f}% zero "
                             "weights", row)

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
                     tol: float = 1e-4, compare_sklearn: bool = True,
                     engine: Any = None) -> Experiment:
    """Which C should I use? k-fold cross-validation on the training digits only.

    With ``engine`` (a :class:`lrcore.engine.Engine`), each fold's chain over the Cs is
    one step on its workers and scikit-learn's comparison runs beside them; the table and
    summary are the same (but for ``sklearn_seconds``).

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
    folds = _positive_int("folds", folds, 2, MAX_FOLDS)
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
             f"the refitted best C. Preprocessing ({preprocess}) fitted once on all "
             f"{train_size:,} training digits, the same features for us and for scikit-learn."]

    def body(exp: Experiment) -> Iterator[Step]:
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

    def engine_body(exp: Experiment) -> Iterator[Step]:
        # Each fold's warm-started chain over Cs is one step, and scikit-learn's
        # LogisticRegressionCV another, all submitted at once; then the refit. The points
        # come in the same order, with the same numbers, as in this process.
        base = {"train_size": train_size, "preprocess": preprocess, "folds": folds,
                "seed": seed, "Cs": Cs, "penalty": p, "max_iter": cfg.max_iter,
                "tol": cfg.tol}
        summary: dict[str, Any] = {}
        exp.models["summary"] = summary
        batches = [engine.map_steps(_cv_fold_step, [{**base, "k": k} for k in range(folds)],
                                    data)]
        if compare_sklearn:
            batches.append(engine.map_steps(_cv_sklearn_step, [base], data))
        try:
            per_fold = yield from _wait_all(exp, batches[0], "cross-validation folds")
            scores = np.array([[pt["score"] for pt in fold] for fold in per_fold])
            for j, C in enumerate(Cs):
                for k in range(folds - 1):
                    yield exp._point(f"C={_fmt_C(C)}, fold {k + 1}/{folds}: validation "
                                     f"accuracy {pct(scores[k, j])}")
                col = scores[:, j]
                row = {"C": C, "mean_accuracy": float(np.mean(col)),
                       "std_accuracy": float(np.std(col)),
                       **{c: float(v) for c, v in zip(fold_cols, col)},
                       "sklearn_mean_accuracy": math.nan}
                yield exp._point(f"C={_fmt_C(C)}: mean validation accuracy "
                                 f"{pct(row['mean_accuracy'])} ± {pct(row['std_accuracy'])}", row)
            means = np.array([r["mean_accuracy"] for r in exp.rows])
            best = int(np.argmax(means))
            best_C = Cs[best]
            summary.update(best_C=best_C, best_mean_accuracy=float(means[best]))
            batches.append(engine.map_steps(_cv_refit_step, [{**base, "C": best_C}], data))
            ((refit,),) = yield from _wait_all(exp, batches[-1],
                                               f"refitting C={_fmt_C(best_C)}")
            summary["test_accuracy_of_refit"] = refit["test_accuracy"]
            yield exp._point(f"best C={_fmt_C(best_C)}: test accuracy "
                             f"{pct(summary['test_accuracy_of_refit'])}")
            if compare_sklearn:
                ((sk,),) = yield from _wait_all(exp, batches[1], "scikit-learn "
                                                "LogisticRegressionCV")
                sk_means = np.asarray(sk["means"])
                for r, v in zip(exp.rows, sk_means):
                    r["sklearn_mean_accuracy"] = float(v)
                summary.update(
                    sklearn_best_C=sk["C"], sklearn_test_accuracy=sk["test_accuracy"],
                    same_choice=bool(np.isclose(sk["C"], best_C)),
                    max_accuracy_difference=float(np.max(np.abs(sk_means - means))),
                    sklearn_seconds=sk["seconds"])
                yield exp._point(f"scikit-learn picks C={_fmt_C(sk['C'])} "
                                 f"({'same' if summary['same_choice'] else 'different'})")
        finally:
            for b in batches:
                b.cancel()

    total = len(Cs) * folds + 1 + int(bool(compare_sklearn))
    return Experiment("cv", params, total,
                      ["C", "mean_accuracy", "std_accuracy", *fold_cols,
                       "sklearn_mean_accuracy"], body if engine is None else engine_body,
                      findings, notes)


def _cv_data(data: MnistData, item: dict):
    from sklearn.model_selection import StratifiedKFold

    X, y, Xt, yt, _ = _prepared(data, item["train_size"], item["preprocess"],
                                dtype=np.float64)
    return X, y, Xt, yt, StratifiedKFold(item["folds"], shuffle=True, random_state=item["seed"])


def _cv_fold_step(data: MnistData, item: dict) -> Iterator[Any]:
    """Fold ``item["k"]`` of the cross-validation: its warm-started chain over the Cs,
    a point (validation accuracy) per C (a step function, see :func:`_points`)."""
    X, y, _, _, skf = _cv_data(data, item)
    k, folds = item["k"], item["folds"]
    tr, va = list(skf.split(X, y))[k]
    m = SoftmaxRegression(penalty=item["penalty"], C=item["Cs"][0], max_iter=item["max_iter"],
                          tol=item["tol"], warm_start=True)
    for C in item["Cs"]:
        m.set_params(C=C)
        yield from _fit_messages(m, X[tr], y[tr], f"C={_fmt_C(C)}, fold {k + 1}/{folds}",
                                 _Timer())
        yield {"C": C, "score": _accuracy(m, X[va], y[va])}


def _cv_refit_step(data: MnistData, item: dict) -> Iterator[Any]:
    """The best C refitted on all training digits, scored on the test digits."""
    X, y, Xt, yt, _ = _cv_data(data, item)
    final = SoftmaxRegression(penalty=item["penalty"], C=item["C"], max_iter=item["max_iter"],
                              tol=item["tol"])
    yield from _fit_messages(final, X, y, f"refit C={_fmt_C(item['C'])}", _Timer())
    yield {"test_accuracy": _accuracy(final, Xt, yt)}


def _cv_sklearn_step(data: MnistData, item: dict) -> Iterator[Any]:
    """scikit-learn's LogisticRegressionCV on the same Cs and folds."""
    X, y, Xt, yt, skf = _cv_data(data, item)
    lrcv = _sklearn_cv(item["Cs"], skf, item["penalty"], item["max_iter"], item["tol"])
    seconds = _sklearn_fit(lrcv, X, y)
    C, means = _sklearn_cv_scores(lrcv)
    yield {"C": C, "means": [float(v) for v in means],
           "test_accuracy": _accuracy(lrcv, Xt, yt), "seconds": seconds}


def softmax_vs_ovr(data: MnistData, *, train_size: int | None = None, C: float = 1.0,
                   preprocess: str = "unit", max_iter: int = 300) -> Experiment:
    """One softmax over ten digits, or ten "this digit or not?" sigmoids?

    ``train_size`` None = 10,000 (or all training digits if fewer), the first rows;
    scored on all test digits. Same penalty (L2), C and preprocessing for both.

    Table columns: ``method`` ("softmax", "one-vs-rest"), ``train_accuracy``,
    ``test_accuracy``, ``test_log_loss``, ``fit_seconds``, ``n_iter``, ``converged``.
    """
    train_size = _default_size(train_size, 10000, data.n_train)
    cfg = _config(data, C=C, preprocess=preprocess, train_size=train_size, max_iter=max_iter)
    params = {"train_size": train_size, "C": cfg.C, "preprocess": preprocess,
              "max_iter": cfg.max_iter, **_data_params(data)}
    notes = [f"Both trained on the first {train_size:,} training digits ({preprocess}, L2, "
             f"C={_fmt_C(cfg.C)}), tested on all {data.n_test:,} test digits. Our one-vs-rest "
             "fits its ten sigmoids in one joint optimization, so n_iter counts them "
             "together; its probabilities are the ten sigmoids rescaled to sum to 1, as "
             "scikit-learn reports them."]

    def body(exp: Experiment) -> Iterator[Step]:
        X, y, Xt, yt, _ = _prepared(data, train_size, preprocess)
        for method, mc in (("softmax", "multinomial"), ("one-vs-rest", "ovr")):
            model = SoftmaxRegression(**{**cfg.model_params(), "multi_class": mc})
            yield exp._progress(f"{method}: training")
            timer = _Timer()
            yield from _fit(exp, model, X, y, method, timer)
            with _compute():
                proba = model.predict_proba(Xt)
            row = {"method": method, "train_accuracy": _accuracy(model, X, y),
                   "test_accuracy": float(np.mean(model.classes_[proba.argmax(1)] == yt)),
                   "test_log_loss": float(skm.log_loss(yt, proba, labels=model.classes_)),
                   "fit_seconds": timer.seconds, "n_iter": _n_iter(model),
                   "converged": bool(model.converged_)}
            yield exp._point(f"{method}: test accuracy {pct(row['test_accuracy'])}, log-loss "
                             f"{fmt_loss(row['test_log_loss'])}", row)

    def findings(exp: Experiment, t: pd.DataFrame) -> list[str]:
        if len(t) < 2:
            return []
        sm, ovr = t.iloc[0], t.iloc[1]
        d = sm.test_accuracy - ovr.test_accuracy
        lead = ("softmax is ahead by" if d > 0 else "one-vs-rest is ahead by" if d < 0
                else "they tie:")
        out = [f"Test accuracy: softmax {pct(sm.test_accuracy)}, one-vs-rest "
               f"{pct(ovr.test_accuracy)} ({lead} {pct_points(abs(d), signed=False)})."]
        better = "softmax" if sm.test_log_loss < ovr.test_log_loss else "one-vs-rest"
        out.append(f"Test log-loss (how good the probabilities are, lower is better): softmax "
                   f"{fmt_loss(sm.test_log_loss)}, one-vs-rest {fmt_loss(ovr.test_log_loss)}; "
                   f"{better} "
                   "gives the better-calibrated probabilities. The softmax is trained on "
                   "exactly this loss; one-vs-rest is trained on ten separate yes/no losses.")
        return out

    return Experiment("ovr", params, 2, ["method", "train_accuracy", "test_accuracy",
                                         "test_log_loss", "fit_seconds", "n_iter",
                                         "converged"], body, findings, notes)


def binary_detector(data: MnistData, digit: int = 1, *, train_size: int | None = None,
                    C: float = 1.0, preprocess: str = "unit", max_iter: int = 300) -> Experiment:
    """"Is it a d?": one sigmoid against the always-"no" baseline.

    ``train_size`` None = 10,000 (or all training digits if fewer), the first rows.

    Table columns: ``model`` ("always no", "logistic detector"), ``test_accuracy``,
    ``precision``, ``recall``, ``f1`` (of the answer "yes, it is a d").
    """
    digit = _positive_int("digit", digit, 0, 9)
    train_size = _default_size(train_size, 10000, data.n_train)
    cfg = _config(data, C=C, preprocess=preprocess, train_size=train_size, max_iter=max_iter)
    params = {"digit": digit, "train_size": train_size, "C": cfg.C, "preprocess": preprocess,
              "max_iter": cfg.max_iter, **_data_params(data)}
    share = float(np.mean(data.y_test != digit))
    notes = [f"{pct(share)} of the {data.n_test:,} test digits are not {digit}s, so a "
             f"'detector' that always answers no is {pct(share)} accurate while finding none "
             f"of the {digit}s (recall 0): accuracy alone hides that. Precision = share of "
             f"'yes' answers that are {digit}s; recall = share of {digit}s found.",
             f"The detector is a single sigmoid (L2, C={_fmt_C(cfg.C)}, {preprocess}) trained "
             f"on the first {train_size:,} training digits labelled {digit} / not {digit}."]

    def scores(name: str, pred: np.ndarray, truth: np.ndarray) -> dict:
        p, r, f, _ = skm.precision_recall_fscore_support(truth, pred, average="binary",
                                                         zero_division=0)
        return {"model": name, "test_accuracy": float(np.mean(pred == truth)),
                "precision": float(p), "recall": float(r), "f1": float(f)}

    def body(exp: Experiment) -> Iterator[Step]:
        X, y, Xt, yt, _ = _prepared(data, train_size, preprocess)
        y_bin, yt_bin = (y == digit).astype(np.int64), (yt == digit).astype(np.int64)
        row = scores("always no", np.zeros_like(yt_bin), yt_bin)
        yield exp._point(f"always no: test accuracy {pct(row['test_accuracy'])}, recall 0", row)
        model = SoftmaxRegression(**cfg.model_params())
        yield exp._progress(f"is it a {digit}? training")
        yield from _fit(exp, model, X, y_bin, f"is it a {digit}?", _Timer())
        pred, _ = _predict(model, Xt)
        row = scores("logistic detector", pred, yt_bin)
        yield exp._point(f"logistic detector: test accuracy {pct(row['test_accuracy'])}, "
                         f"precision {pct(row['precision'])}, recall {pct(row['recall'])}", row)

    def findings(exp: Experiment, t: pd.DataFrame) -> list[str]:
        if len(t) < 2:
            return []
        det = t.iloc[1]
        return [f"The detector is {pct(det.test_accuracy)} accurate: it finds {pct(det.recall)} "
                f"of the {digit}s, and {pct(det.precision)} of its 'yes' answers are right "
                f"(F1 {det.f1:.3f}); the baseline's F1 is 0."]

    return Experiment("binary", params, 2,
                      ["model", "test_accuracy", "precision", "recall", "f1"], body,
                      findings, notes)


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

    def body(exp: Experiment) -> Iterator[Step]:
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


_CANDIDATES = ("softmax regression (ours)", "k-nearest neighbours (k=5)",
               "linear SVM (LinearSVC)", "RBF-kernel SVM (SVC)", "decision tree")


def _candidate(i: int) -> Any:
    """The i-th model of the comparison, unfitted (None = ours, fitted by _fit)."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC, LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    return [None, KNeighborsClassifier(n_neighbors=5), LinearSVC(C=1.0, random_state=0),
            SVC(kernel="rbf", C=1.0, gamma="scale"), DecisionTreeClassifier(random_state=0)][i]


def _model_step(data: MnistData, item: dict) -> Iterator[Any]:
    """One model of the comparison: fit, predict, one row (a step function)."""
    i = item["i"]
    name = _CANDIDATES[i]
    train_size = item["train_size"]
    n = item["slow_n"] if i == 3 else train_size  # the RBF SVM gets at most max_slow_train
    X, y, Xt, yt, _ = _prepared(data, train_size, "unit", test_size=item["test_size"])
    yield f"{name}: training on {n:,} digits"
    est = _candidate(i)
    if est is None:
        est = SoftmaxRegression(C=1.0, max_iter=300)
        timer = _Timer()
        yield from _fit_messages(est, X[:n], y[:n], name, timer)
        fit_s = timer.seconds
    else:
        fit_s = _sklearn_fit(est, X[:n], y[:n])
    yield f"{name}: predicting {len(yt):,} digits"
    pred, pred_s = _predict(est, Xt)
    yield {"model": name, "train_size_used": n, "test_accuracy": float(np.mean(pred == yt)),
           "fit_seconds": fit_s, "predict_seconds": pred_s}


def model_comparison(data: MnistData, *, train_size: int | None = None,
                     test_size: int | None = None, max_slow_train: int = 5000,
                     engine: Any = None) -> Experiment:
    """How does softmax regression compare with other classifiers?

    Ours against k-nearest neighbours, a linear SVM, an RBF-kernel SVM and a decision
    tree, all on pixels / 255, the first ``train_size`` training digits (None = 10,000 or
    all if fewer) and the first ``test_size`` test digits (None = 2,000 or all if fewer).
    The RBF SVM, whose training time grows about with the square of the digits, gets at
    most ``max_slow_train`` of them; the notes say so and estimate the full-data time.
    With ``engine``, each model is one step on its workers (same table but for the
    timings).

    Table columns: ``model``, ``train_size_used``, ``test_accuracy``, ``fit_seconds``,
    ``predict_seconds``.
    """
    train_size = _default_size(train_size, 10000, data.n_train)
    test_size = _default_size(test_size, 2000, data.n_test)
    cfg = _config(data, train_size=train_size, test_size=test_size)
    max_slow_train = _positive_int("max_slow_train", max_slow_train, MIN_TRAIN_SIZE, 10**9)
    slow_n = min(train_size, max_slow_train)
    params = {"train_size": train_size, "test_size": cfg.test_size,
              "max_slow_train": max_slow_train, **_data_params(data)}
    notes = [f"All models see pixels / 255, the first {train_size:,} of the {data.n_train:,} "
             f"training digits and the first {cfg.test_size:,} test digits; default settings "
             "(softmax: L2, C=1; k-NN: k=5; SVMs: C=1)."]

    def body(exp: Experiment) -> Iterator[Step]:
        items = [{"i": i, "train_size": train_size, "test_size": cfg.test_size,
                  "slow_n": slow_n} for i in range(len(_CANDIDATES))]
        for out in _points(exp, engine, _model_step, items, data, "model comparison"):
            if isinstance(out, Step):
                yield out
                continue
            row = out[1]
            name, n, fit_s = row["model"], row["train_size_used"], row["fit_seconds"]
            if n < train_size:
                full = fit_s * (data.n_train / n) ** 2
                exp.notes.append(
                    f"{name} trained on {n:,} of the {train_size:,} digits the others used "
                    f"(max_slow_train={max_slow_train:,}): its training time grows roughly with the "
                    f"square of the number of digits, so all {data.n_train:,} would take "
                    f"~{_duration(full)} here (it took {fit_s:.1f} s on {n:,}).")
            yield exp._point(f"{name}: test accuracy {pct(row['test_accuracy'])} "
                             f"(fit {fit_s:.1f} s, predict {row['predict_seconds']:.1f} s)", row)

    def findings(exp: Experiment, t: pd.DataFrame) -> list[str]:
        best = t.loc[t.test_accuracy.idxmax()]
        ours = t[t.model.str.contains("ours")]
        out = [f"Most accurate here: {best.model} ({pct(best.test_accuracy)})."]
        if len(ours):
            o = ours.iloc[0]
            out.append(f"Softmax regression: {pct(o.test_accuracy)}, predicting "
                       f"{exp.params['test_size']:,} digits in {o.predict_seconds:.3f} s: one "
                       "matrix product, where k-NN compares every test digit with every "
                       "training digit.")
        return out

    return Experiment("models", params, 5,
                      ["model", "train_size_used", "test_accuracy", "fit_seconds",
                       "predict_seconds"], body, findings, notes)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


EXPERIMENTS: dict[str, Callable[..., Experiment]] = {
    "size": training_size_curve,
    "c-path": regularization_path,
    "cv": cross_validate_C,
    "ovr": softmax_vs_ovr,
    "binary": binary_detector,
    "preprocess": preprocessing_comparison,
    "models": model_comparison,
}
