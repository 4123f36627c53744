"""Experiments on the training engine: a whole experiment is one job, like a training.

The worker (:func:`run_experiment`) builds the experiment from its name and settings on
its own copy of the data and iterates it there (every fit on the worker), sending each
:class:`~lrcore.experiments.ExperimentProgress` as a progress record on the engine's
progress topic: ``done``, ``total``, ``message`` and the ``row`` a finished point added
(in-flight records at most every ``record_interval`` seconds). Between two records it
looks at the job's stop Event; once set, it closes the experiment, as a Stop in this
process would, and returns the rows finished so far (``complete=False``). The result comes
back as plain data (:meth:`ExperimentResult.to_plain`).

The job (:class:`ExperimentJob`, a :class:`~lrcore.engine.core.Job`) follows the queue's
rules for trainings: its key is ``exp-<hash of Experiment.key and the data's
fingerprint>``, so identical experiments from several students are one run; it waits in
the same FIFO queue (place, ETA), an owner (a session) has at most one active experiment
(a new one stops the old, unless others still want it; trainings are not affected), Stop
detaches one owner or stops the run, and finished jobs are kept for the next asker.
"""
from __future__ import annotations

import hashlib
import json
import time
import warnings
from typing import Any

import numpy as np

from lrcore.data import MnistData
from lrcore.engine import tasks
from lrcore.engine.core import ACTIVE, Job
from lrcore.plain import plain
from lrcore.threads import limit_blas

DEFAULT_EXPERIMENT_SECONDS = 60.0  # assumed length of an experiment until one has finished
KEEP_DURATIONS = 20


def experiment_key(experiment_key_: str, info: dict) -> str:
    """Deterministic Dask key of an experiment: ``exp-<sha of Experiment.key and data>``."""
    text = json.dumps({"experiment": experiment_key_, "data": info["fingerprint"]},
                      sort_keys=True)
    return "exp-" + hashlib.sha256(text.encode()).hexdigest()[:24]


# ----------------------------------------------------------------------------- worker


def run_experiment(key: str, name: str, settings: dict, info: dict,
                   rates: dict | None = None) -> dict:
    """Run experiment ``name`` with ``settings`` on this worker's copy of the data.

    Returns
    -------
    dict
        ``result``: :meth:`ExperimentResult.to_plain`; ``status`` ("done", or "stopped"
        when the stop Event ended it early); ``model`` None and ``seconds`` None (the keys
        a training's result has, so :class:`Job` settles both alike); ``run``, ``worker``,
        ``elapsed`` (wall seconds, data loading excluded).
    """
    from lrcore.experiments import EXPERIMENTS

    rates = {**tasks.DEFAULTS, **(rates or {})}
    data = tasks.worker_data(info)
    t0 = time.perf_counter()
    pub = tasks._Publisher(key, rates)
    stop = tasks._StopFlag(key, rates["stop_interval"])
    with limit_blas(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        experiment = EXPERIMENTS[name](data, **settings)
        pub.send("start", worker=pub.worker.address, total=experiment.total)
        steps = iter(experiment)
        last_sent = 0.0
        try:
            for prog in steps:
                now = time.monotonic()
                if prog.row is not None or now - last_sent >= rates["record_interval"]:
                    last_sent = now
                    # "iteration" (points done) is the field Job's retry notice reads.
                    pub.send("records", records=[{
                        "iteration": prog.done, "done": prog.done, "total": prog.total,
                        "message": prog.message, "row": plain(prog.row, finite=False)}])
                if stop():
                    break
        finally:
            steps.close()
        result = experiment.result()
    status = "done" if result.complete else "stopped"
    pub.send("end", status=status)
    return {"model": None, "seconds": None, "status": status, "result": result.to_plain(),
            "run": pub.run, "worker": pub.worker.address,
            "elapsed": time.perf_counter() - t0}


# ----------------------------------------------------------------------------- web side


class ExperimentJob(Job):
    """One experiment in the engine, shared by every owner that asked for these settings.

    Besides :class:`Job`'s ``state``, ``position``, ``eta_seconds``, ``notice``,
    ``error``, ``stop(owner)`` and ``wait()``: :attr:`progress` (done, total, message),
    :attr:`rows` (the table rows finished so far), :meth:`result` (the
    :class:`~lrcore.experiments.ExperimentResult`) and :meth:`snapshot` (the rows so far
    as a stopped result, while it runs too).
    """

    def __init__(self, engine: Any, key: str, name: str, settings: dict, experiment: Any,
                 data: MnistData, info: dict, future: Any) -> None:
        super().__init__(engine, key, None, info, future)
        self.name = name
        self.settings = dict(settings)
        self.experiment_key = experiment.key
        self.total = experiment.total
        self.data = data  # to rebuild a partial result from streamed rows (shared, read-only)

    # -- what the worker said
    def _on_done(self) -> None:
        super()._on_done()
        res = self._result or {}
        if res.get("status") == "done" and res.get("elapsed"):
            _record_seconds(self.engine, self.name, float(res["elapsed"]))

    def _on_message(self, msg: dict) -> None:
        with self._lock:
            before = self._attempt
            super()._on_message(msg)
            if msg.get("kind") == "start" and self.notice and self._attempt is not before:
                last = self._history[-1]["done"] if self._history else 0
                self.notice = (f"the worker running your experiment ({before.worker}) was "
                               f"lost after {last} of {self.total} steps; restarting on "
                               f"another worker (attempt {self.attempts})")

    def _failure_message(self, exc: BaseException | None) -> str:
        text = super()._failure_message(exc)  # in a training's words (it has no weights)
        for word in ("your training", "the training"):
            text = text.replace(word, word.replace("training", "experiment"), 1)
        if self.rows:
            text += f"; here are the {len(self.rows)} rows finished before"
        return text

    # -- state for pages
    @property
    def progress(self) -> dict:
        """``{"done", "total", "message"}`` of the latest record (0 done while queued)."""
        last = self.latest
        if last is None:
            return {"done": 0, "total": self.total, "message": ""}
        return {k: last[k] for k in ("done", "total", "message")}

    @property
    def rows(self) -> list[dict]:
        """Table rows finished so far by the current attempt (copies)."""
        with self._lock:
            return [dict(r["row"]) for r in self._history if r.get("row") is not None]

    def _estimate(self) -> float:
        """Expected total seconds: the pace so far once points have finished, else the
        median of this experiment's recent runs (a default before any)."""
        last = self.latest
        if self._state == "running" and last and last["done"]:
            return self.seconds * last["total"] / last["done"]
        return _typical_seconds(self.engine, self.name)

    def describe(self) -> str:
        """One line: the queue place, "step 3 of 8: ...", "finished", "stopped after ..."."""
        state = self.state
        if state == "running":
            p = self.progress
            text = (f"step {min(p['done'] + 1, p['total'])} of {p['total']}: {p['message']}"
                    if p["message"] else "starting")
            return text + (f" ({self.notice})" if self.notice else "")
        if state == "done":
            return "finished"
        if state == "stopped":
            return f"stopped after {self.progress['done']} of {self.total} steps"
        return super().describe()

    def result(self) -> Any:
        """The :class:`~lrcore.experiments.ExperimentResult` (a fresh object per call):
        the worker's when it returned one (finished, or stopped: ``complete=False``), else
        the rows streamed before a failure as a stopped result; None if it never started.
        Raises ``RuntimeError`` while the job is queued or running."""
        from lrcore.experiments import ExperimentResult

        state = self.state
        if state in ACTIVE:
            raise RuntimeError(f"the experiment is still {state}")
        with self._lock:
            if self._result is not None and self._result.get("result") is not None:
                return ExperimentResult.from_plain(self._result["result"])
        return self.snapshot() if self._attempt is not None else None

    def snapshot(self) -> Any:
        """The rows finished so far as a stopped :class:`ExperimentResult` (its notes say
        how far it got): what an owner who stops watching a shared run keeps."""
        from lrcore.experiments import EXPERIMENTS

        with self._lock:
            rows, done = self.rows, self.progress["done"]
        return EXPERIMENTS[self.name](self.data, **self.settings).stopped_with(rows, done)

    def __repr__(self) -> str:
        return (f"ExperimentJob({self.key}, {self.name}, {self._state}, "
                f"owners={sorted(self.owners)})")


def submit(engine: Any, name: str, settings: dict, data: MnistData, *,
           owner: str | None = None) -> ExperimentJob:
    """:meth:`Engine.submit_experiment` (see there)."""
    from lrcore.experiments import EXPERIMENTS

    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    settings = dict(settings)
    experiment = EXPERIMENTS[name](data, **settings)  # validates here: ValueError
    info = tasks.data_info(data)

    def make(key: str) -> ExperimentJob:
        future = engine._submit(key, run_experiment, key, name, settings, info,
                                engine.settings)
        return ExperimentJob(engine, key, name, settings, experiment, data, info, future)

    return engine._join_job(experiment_key(experiment.key, info), owner,
                            engine._experiment_owners, make)


def _record_seconds(engine: Any, name: str, seconds: float) -> None:
    with engine._lock:
        recent = engine._experiment_seconds.setdefault(name, [])
        recent[:] = (recent + [seconds])[-KEEP_DURATIONS:]


def _typical_seconds(engine: Any, name: str) -> float:
    with engine._lock:
        recent = list(engine._experiment_seconds.get(name, ()))
    return float(np.median(recent)) if recent else DEFAULT_EXPERIMENT_SECONDS


__all__ = ["DEFAULT_EXPERIMENT_SECONDS", "ExperimentJob", "experiment_key", "run_experiment",
           "submit"]
