"""What every experiment is built on: :class:`Experiment` (runnable, stoppable),
:class:`ExperimentProgress` (what it yields), :class:`ExperimentResult` (what it found),
and the helpers their bodies share (validation through :mod:`lrcore.config`, prepared
data, fits that report progress, timers).

Threads: every fit and prediction runs inside :func:`_compute`, with BLAS/OpenMP limited by
:func:`lrcore.threads.limit_blas` (one thread, see there why) and ConvergenceWarning
silenced (non-convergence is reported in the tables).
"""
from __future__ import annotations

import hashlib
import json
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from lrcore.config import C_value, TrainConfig
from lrcore.data import MnistData, select_subset
from lrcore.labels import fmt_C
from lrcore.model import SoftmaxRegression
from lrcore.plain import json_safe
from lrcore.preprocess import Preprocessor
from lrcore.threads import limit_blas

# Progress inside one fit (between finished points) is reported at most this often, so a
# page redraw per record stays cheap even when iterations take a millisecond.
PROGRESS_INTERVAL = 0.25


# --------------------------------------------------------------------------- records


@dataclass
class ExperimentProgress:
    """Progress of a running experiment.

    ``done`` counts finished points (fits, folds, comparisons) out of ``total``; between
    points, records with the same ``done`` report the fit in flight. ``row`` is the table
    row a point has just added (None for in-flight progress and for points that add no
    row).
    """

    done: int
    total: int
    message: str  # e.g. "C=0.01 (L1): test accuracy 0.830"
    row: dict | None = None

    @property
    def fraction(self) -> float:
        """``done / total`` in [0, 1], for a progress bar."""
        return self.done / self.total if self.total else 1.0


@dataclass
class ExperimentResult:
    """What an experiment found (all of it, or the points finished before a Stop).

    Attributes
    ----------
    name : str
        The experiment's key in :data:`lrcore.experiments.EXPERIMENTS`, e.g. ``"c-path"``.
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
        return "# " + json.dumps(json_safe(head)) + "\n" + self.table.to_csv(index=False)

    def to_dict(self) -> dict:
        """JSON-safe dict: name, params, complete, rows, notes, summary."""
        return json_safe({
            "name": self.name, "params": self.params, "complete": self.complete,
            "rows": self.table.to_dict(orient="records"), "notes": self.notes,
            "summary": self.summary,
        })

    def to_plain(self) -> dict:
        """Everything, as Python lists, dicts and scalars (arrays as ``{"array": dtype,
        "shape", "data" bytes}``): what an engine worker sends back. Inverse of
        :meth:`from_plain`."""
        return {"name": self.name, "params": self.params, "complete": self.complete,
                "columns": list(self.table.columns),
                "rows": self.table.to_dict(orient="records"), "notes": list(self.notes),
                "models": _pack(self.models)}

    @classmethod
    def from_plain(cls, d: dict) -> "ExperimentResult":
        return cls(name=d["name"], params=d["params"],
                   table=pd.DataFrame(d["rows"], columns=d["columns"]), notes=d["notes"],
                   models=_unpack(d["models"]), complete=d["complete"])


def _pack(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value)
        return {"array": a.dtype.str, "shape": list(a.shape), "data": a.tobytes()}
    if isinstance(value, dict):
        return {"dict": [[k, _pack(v)] for k, v in value.items()]}  # keeps int keys
    if isinstance(value, np.generic):
        return value.item()
    return value


def _unpack(value: Any) -> Any:
    if isinstance(value, dict) and "array" in value:
        return np.frombuffer(value["data"], dtype=np.dtype(value["array"])).reshape(
            value["shape"]).copy()
    if isinstance(value, dict) and "dict" in value:
        return {k: _unpack(v) for k, v in value["dict"]}
    return value


class Experiment:
    """A runnable experiment: iterate it for live :class:`ExperimentProgress` records,
    stop at any time.

    Built by the constructors of :mod:`lrcore.experiments`, not directly. An experiment
    runs once; iterating it a second time raises ``RuntimeError`` (build a new one to
    rerun).

    Attributes
    ----------
    name : str
    params : dict
        JSON-safe settings.
    total : int
        Number of points (the ``total`` of every progress record).
    columns : list of str
        Columns of the result table.
    """

    def __init__(self, name: str, params: dict, total: int, columns: Sequence[str],
                 body: Callable[["Experiment"], Iterator[ExperimentProgress]],
                 findings: Callable[["Experiment", pd.DataFrame], list[str]] | None = None,
                 notes: Iterable[str] = ()) -> None:
        self.name = name
        self.params = json_safe(params)
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

    def __iter__(self) -> Iterator[ExperimentProgress]:
        if self.state != "new":
            raise RuntimeError(
                f"experiment {self.name!r} has already run ({self.state}); build a new one "
                "to run it again"
            )
        self.state = "running"
        return self._run()

    def _run(self) -> Iterator[ExperimentProgress]:
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
        params = {**self.params, **json_safe(self.models.get("summary", {}))}
        return ExperimentResult(name=self.name, params=params, table=table,
                                notes=notes, models=dict(self.models),
                                complete=self.state == "finished")

    def stopped_with(self, rows: Sequence[dict], done: int) -> ExperimentResult:
        """The result of this (unrun) experiment as if it had been stopped after ``done``
        points with these ``rows``: what is left of a run elsewhere whose result never
        arrived (only its streamed rows did)."""
        if self.state != "new":
            raise RuntimeError(f"experiment {self.name!r} has already run ({self.state})")
        self.rows, self.done, self.state = [dict(r) for r in rows], int(done), "stopped"
        return self.result()

    # -- helpers for the experiment bodies
    def _progress(self, message: str) -> ExperimentProgress:
        return ExperimentProgress(self.done, self.total, message)

    def _point(self, message: str, row: dict | None = None) -> ExperimentProgress:
        """Finish a point: count it, keep its row, and report it."""
        self.done += 1
        if row is not None:
            # numpy scalars -> Python (JSON, CSV); NaN stays NaN (a missing value).
            row = {k: v.item() if isinstance(v, np.generic) else v for k, v in row.items()}
            self.rows.append(row)
        return ExperimentProgress(self.done, self.total, message, row)

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, {self.state}, {self.done}/{self.total} steps)"


# --------------------------------------------------------------------------- running code


@contextmanager
def _compute() -> Iterator[None]:
    """Around every piece of heavy work (never around a ``yield``): limit BLAS/OpenMP
    threads and silence ConvergenceWarning (non-convergence is reported in the tables)."""
    with limit_blas(), warnings.catch_warnings():
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
         label: str, timer: _Timer) -> Iterator[ExperimentProgress]:
    """Fit ``model`` by draining its ``fit_iter`` generator, reporting in-flight progress
    at most every :data:`PROGRESS_INTERVAL` seconds.

    The warnings filter and thread limit are applied per iteration, not across the
    ``yield`` (they are process-wide and the consumer must not run under them).
    """
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
                yield exp._progress(f"{label}: iteration {prog.iteration}/{model.max_iter}, "
                                    f"train loss {prog.train_loss:.4f}")
    finally:
        it.close()


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


def _prepared(data: MnistData, train_size: int, preprocess: str, *, shuffle: bool = False,
              seed: int = 0, test_size: int | None = None, dtype: Any = np.float32):
    """(X_train, y_train, X_test, y_test, preprocessor) for the first / a random subset."""
    s = select_subset(data, train_size, test_size, shuffle=shuffle, seed=seed)
    with _compute():
        pp = Preprocessor(preprocess).fit(s.X_train)
        return (pp.transform(s.X_train, dtype=dtype), s.y_train,
                pp.transform(s.X_test, dtype=dtype), s.y_test, pp)


# --------------------------------------------------------------------------- validation


def _config(data: MnistData, **kw: Any) -> TrainConfig:
    """Validate shared settings through TrainConfig (one set of rules and messages)."""
    kw.setdefault("test_size", data.n_test)
    cfg = TrainConfig(**kw)
    cfg.check_sizes(data.n_train, data.n_test)
    return cfg


def _default_size(value: int | None, default: int, available: int) -> int:
    return min(default, available) if value is None else value


def _Cs(value: Any, default: np.ndarray, name: str = "Cs") -> list[float]:
    """Sorted unique Cs, each a number in [C_MIN, C_MAX] (lrcore.config's rule)."""
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
    return sorted({C_value("each C", c) for c in values})


def _data_params(data: MnistData) -> dict:
    return {"data_source": data.source, "n_train_available": data.n_train,
            "n_test_available": data.n_test}


__all__ = ["Experiment", "ExperimentProgress", "ExperimentResult", "PROGRESS_INTERVAL"]
