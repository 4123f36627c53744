"""The training engine: trainings and experiments on Dask distributed.

One :class:`Engine` per web process. It connects to the scheduler named by
``LR_SCHEDULER`` (``--scheduler`` on the CLI) or, when that is unset, starts an embedded
cluster of its own (:mod:`lrcore.engine.local`: a ``dask scheduler`` and ``dask worker``
child processes on 127.0.0.1, one thread per worker, a memory limit from
``LR_ENGINE_MEMORY``). Nothing here blocks on a training: a page submits, gets a
:class:`Job` and polls it.

Queue semantics
---------------
* A job's Dask key is ``train-<hash of (config, data fingerprint)>``: identical settings on
  the same data, from any session (or any web process sharing the scheduler), are one
  task, one run, one stream of progress.
* FIFO: every task is submitted with a priority that decreases with the submission time,
  and the embedded scheduler runs with ``worker-saturation`` 1.0, so a queued task waits on
  the scheduler (not on a busy worker) until a slot is free.
* An *owner* (a session id) has at most one queued or running job: a new submit with
  other settings detaches it from the old job, which is stopped (running) or cancelled
  (queued) unless someone else still wants it.
* Owners that have not called :meth:`Engine.touch` for ``owner_ttl`` seconds are gone:
  their queued jobs are dropped (running ones finish, and are kept like any result).
* Finished jobs are kept ``keep_seconds`` (bounded count), so the same press again gets
  the run at once.

Scale-out: ``LR_SCHEDULER=tcp://host:8786`` (or ``--scheduler``). Start that scheduler
with ``DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=1.0`` (queue on the scheduler: FIFO
and exact positions; the default 1.1 lets each worker hold a second task out of line) and
``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1`` (one retry after a lost worker), and the
workers with ``--nthreads 1``, ``lrcore`` importable and the same MNIST as the app (e.g. the
same ``MNIST_DIR``); ``tests/test_engine_cluster.py`` does exactly that.

Faults: Dask retries a task whose worker died (the embedded cluster allows one retry);
the job's :attr:`Job.notice` says so. When it gives up, :attr:`Job.error` says what
happened and :meth:`Job.result` rebuilds the model from the last coefficients streamed.
"""
from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from lrcore.config import TrainConfig
from lrcore.data import MnistData
from lrcore.engine import tasks
from lrcore.plain import unpack_array

SCHEDULER_ENV = "LR_SCHEDULER"
MEMORY_ENV = "LR_ENGINE_MEMORY"
WORKERS_ENV = "LR_ENGINE_WORKERS"
OWNER_TTL_ENV = "LR_ENGINE_OWNER_TTL"

# One full-MNIST training peaked at ~500 MB RSS in one process (measured, standardize,
# before the colleague's memory work); 1 GB per worker leaves room for Dask's own ~150 MB.
DEFAULT_MEMORY = "2GB"
DEFAULT_OWNER_TTL = 120.0
KEEP_SECONDS = 15 * 60
KEEP_FINISHED = 32
DEFAULT_DURATION = 20.0  # seconds a training is assumed to take until one has finished
TASK_OVERHEAD = 1.0  # seconds of a training that do not grow with its digits (measured ~1 s)
CONTROL_BUDGET = 60.0  # seconds a run may be paused or slowed while others wait in line
QUEUE_VIEW_SECONDS = 0.5  # one scheduler query serves every poll within this time
CONNECT_TIMEOUT = 5.0

STATES = ("queued", "running", "done", "stopped", "cancelled", "error")
ACTIVE = ("queued", "running")


class EngineUnavailable(ConnectionError):
    """The training engine cannot be reached or started (the message says why).

    A ``ConnectionError``, so callers that already report those (the CLI) need nothing new.
    """


def parse_bytes(text: str) -> int:
    """ "1.2GB", "600MB", "800MiB" or a number of bytes -> bytes (``ValueError`` if not)."""
    from dask.utils import parse_bytes as _parse

    try:
        out = int(_parse(str(text).strip()))
    except (ValueError, TypeError, KeyError):
        raise ValueError(f"{MEMORY_ENV} must be a size such as '2GB' or '800MB'; "
                         f"got {text!r}") from None
    if out < 100 * 2**20:
        raise ValueError(f"{MEMORY_ENV} must be at least 100MB; got {text!r}")
    return out


def default_workers() -> int:
    """Worker processes of the embedded cluster: ``LR_ENGINE_WORKERS`` or the host's
    cores minus one for the web process (at least 1, at most 8).

    On a 2-core host that is one worker: measured with ten students pressing Train at once,
    two workers peaked at 1.59 GB for the app and its engine (a hosted app gets 0.7-2.7 GB)
    and slowed every other student's strokes; one worker stays near 1 GB and leaves the web
    process a core. Trainings then queue (FIFO, places shown) instead of sharing."""
    value = os.environ.get(WORKERS_ENV)
    if value:
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"{WORKERS_ENV} must be a whole number; got {value!r}") from None
        if not 1 <= n <= 64:
            raise ValueError(f"{WORKERS_ENV} must be between 1 and 64; got {n}")
        return n
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(8, cores - 1))


def config_key(config: TrainConfig, info: dict, *, start: str = "", private: str = "") -> str:
    """Deterministic Dask key of a training: ``train-<sha of config and data>``; a
    continued run adds its starting point's digest, a private run (slow motion) its owner."""
    text = json.dumps({"config": config.to_dict(), "data": info["fingerprint"],
                       **({"start": start} if start else {}),
                       **({"private": private} if private else {})}, sort_keys=True)
    return "train-" + hashlib.sha256(text.encode()).hexdigest()[:24]


FULL_SPEED = {"paused": False, "delay": 0.0, "step": 0}


# ----------------------------------------------------------------------------- jobs


@dataclass
class _Attempt:
    """What the web side has heard from one execution of a training task."""

    run: str
    worker: str = ""
    started: float = 0.0
    preprocess: str = ""
    preprocess_state: dict | None = None
    classes: list | None = None
    ended: str | None = None


class Job:
    """One training in the engine, shared by every owner that asked for these settings.

    Every attribute is cheap to read (a page polls them several times a second); nothing
    blocks on the training.

    Attributes
    ----------
    key : str
        The Dask key, stable for the settings and data.
    config : TrainConfig
    attempts : int
        Executions started so far (2 after a lost worker's retry).
    notice : str
        A message for the student that is not an error, e.g. a retry after a lost worker.
    """

    def __init__(self, engine: "Engine", key: str, config: TrainConfig, info: dict,
                 future: Any) -> None:
        self.engine = engine
        self.key = key
        self.config = config
        self.info = info
        self.future = future
        self.owners: set[str] = set()
        self.submitted = time.time()
        self.finished_at: float | None = None
        self.attempts = 0
        self.notice = ""
        self._state = "queued"
        self._error = ""
        self._stop_requested = False
        self._attempts: dict[str, _Attempt] = {}  # run id -> what its execution said
        self._attempt: _Attempt | None = None  # the execution followed now
        self._history: list[dict] = []
        self._coef: tuple[int, np.ndarray, np.ndarray] | None = None  # (iter, coef, b)
        self._result: dict | None = None
        self._summary: dict = {}  # the finished model's summary (metrics, message)
        self._control = dict(FULL_SPEED)  # pause / step / speed asked by the owner
        self._controlled_since: float | None = None  # paused or slowed since
        self.continued_from = 0  # iterations of the run this one continues (0: none)
        self._lock = threading.RLock()
        self._settling = False  # _on_done is fetching the result (outside the lock)
        self._settled = threading.Event()  # set once the state is final

    # -- events from the workers (called on the client's event loop: keep them short)
    def _on_message(self, msg: dict) -> None:
        with self._lock:
            run = msg.get("run")
            kind = msg.get("kind")
            if kind == "start":
                now = self._attempt
                if now is not None and now.ended is None and run != now.run:
                    last = self._history[-1]["iteration"] if self._history else 0
                    self.notice = (f"the worker running your training ({now.worker}) "
                                   f"was lost at iteration {last}; restarting on another "
                                   f"worker (attempt {self.attempts + 1})")
                r = _Attempt(run=run, worker=msg.get("worker", ""), started=msg.get("t", 0.0),
                             preprocess=msg.get("preprocess", ""),
                             preprocess_state=msg.get("preprocess_state"),
                             classes=msg.get("classes"))
                self._attempts[run] = r
                self._attempt = r
                self.attempts += 1
                self._history = []
                if self._state == "queued":
                    self._state = "running"
            elif self._attempt is None and kind in ("records", "coef") \
                    and run not in self._attempts:
                # A run that started before this web process asked for it (another app
                # process sharing the scheduler submitted it): follow it from here on.
                self._attempt = self._attempts[run] = _Attempt(run=run)
                self.attempts = max(self.attempts, 1)
                if self._state == "queued":
                    self._state = "running"
                self._on_message(msg)
                return
            elif self._attempt is None or run != self._attempt.run:
                return  # a late message of an earlier attempt
            elif kind == "records":
                self._history.extend(msg.get("records", []))
            elif kind == "end":
                self._attempt.ended = msg.get("status")
            elif kind == "coef":
                self._coef = (int(msg["iteration"]), unpack_array(msg["coef"]),
                              unpack_array(msg["intercept"]))

    def _on_done(self) -> None:
        """Settle a finished future: fetch its (small) result or its error.

        The fetch runs without the job's lock: the client's event loop delivers the result,
        and that same loop takes the lock to hand progress messages to the job, so holding
        it here would stall both until the fetch timed out (and the scheduler-side cleanup
        after it, which needs the loop too, would then wait forever). The state is assigned
        last: readers poll it without the lock and must find the history, summary or error
        complete once it is no longer active.
        """
        with self._lock:
            if self._state not in ACTIVE or self._settling:
                return
            self._settling = True
        f = self.future
        status, res, exc, model = f.status, None, None, None
        if status == "finished":
            try:
                res = f.result(timeout=30)
                if res["model"] is not None:
                    from lrcore.train import TrainedModel

                    model = TrainedModel.load(res["model"])
            except Exception as e:  # noqa: BLE001 - reported to the student
                exc, res = e, None
        elif status != "cancelled":  # "error" (or "lost")
            try:
                exc = f.exception(timeout=30)
            except Exception as e:  # noqa: BLE001
                exc = e
        try:
            with self._lock:
                state = None
                if res is not None:
                    self._result = res
                    if model is not None:
                        self._history = list(model.history)
                        self._summary = dict(model.summary)
                    if not res.get("waited") and not self.continued_from:
                        self.engine._record_duration(res.get("seconds"), self.config)
                    state = "stopped" if res["status"] == "stopped" else "done"
                elif status == "cancelled":
                    state = "stopped" if self._attempt is not None else "cancelled"
                self.finished_at = time.time()
                if state is None:
                    self._error = self._failure_message(exc)
                    state = "error"
                self._state = state
        finally:
            self._settling = False
            self._settled.set()

    def _failure_message(self, exc: BaseException | None) -> str:
        from distributed.scheduler import KilledWorker

        if isinstance(exc, KilledWorker):
            what = ("the worker running your training was lost (killed, or over its "
                    f"memory limit{self.engine.memory_text}) ")
            what += "twice; gave up" if self.attempts > 1 else "and the training was given up"
        elif isinstance(exc, (ValueError, TypeError)):
            what = f"the training could not run: {exc}"
        else:
            what = f"the training failed on its worker: {type(exc).__name__}: {exc}"
        if self._coef is not None:
            what += f"; here is the model as of iteration {self._coef[0]}"
        return what

    # -- state for pages
    def _settle(self) -> None:
        if self._state in ACTIVE and self.future.done():
            self._on_done()
            # Another thread may be fetching the result: a finished future reads as
            # finished once that is done (milliseconds; bounded by the fetch's timeout).
            self._settled.wait(35)

    @property
    def state(self) -> str:
        """"queued", "running", "done", "stopped", "cancelled" or "error"."""
        self._settle()
        return self._state

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def error(self) -> str:
        """A human message when :attr:`state` is "error", else ""."""
        self._settle()
        return self._error

    @property
    def position(self) -> int | None:
        """1-based place in line while queued (1 = next to start); None otherwise."""
        if self.state != "queued":
            return None
        return self.engine._queue_view(self.key).position(self.key, self.engine._started())

    @property
    def eta_seconds(self) -> float | None:
        """Rough seconds until a queued job starts (None unless queued)."""
        if self.state != "queued":
            return None
        return self.engine._queue_view(self.key).eta(self.key, self.engine._started())

    @property
    def latest(self) -> dict | None:
        """The last progress record (``Progress.record()`` keys), or None."""
        with self._lock:
            return dict(self._history[-1]) if self._history else None

    @property
    def history(self) -> list[dict]:
        """Every progress record of the current attempt so far (a copy)."""
        self._settle()
        with self._lock:
            return list(self._history)

    @property
    def latest_coef(self) -> tuple[int, np.ndarray, np.ndarray] | None:
        """(iteration, coef (K, d) float32, intercept (K,) float32) at most ~1 s old."""
        with self._lock:
            return self._coef

    @property
    def summary(self) -> dict:
        """The finished model's metrics (``TrainedModel.summary``); {} until done/stopped."""
        self._settle()
        return dict(self._summary)

    @property
    def seconds(self) -> float:
        """Seconds since the current attempt started (0 while queued)."""
        with self._lock:
            if self._attempt is None:
                return 0.0
            end = self.finished_at or time.time()
            return max(0.0, end - self._attempt.started)

    def _estimate(self) -> float:
        """Expected total seconds of this run; once running, capped by what its progress
        so far says (iterations left at the pace so far; it may converge sooner)."""
        est = self.engine.estimate(self.config)
        last = self.latest
        if self._state == "running" and last and last.get("iteration"):
            it, elapsed = last["iteration"], self.seconds
            est = min(est, elapsed * self.config.max_iter / it)
        return est

    def describe(self) -> str:
        """One line for a page: "3rd in line, starts in about 15 s", "iteration 12", ..."""
        state = self.state
        if state == "queued":
            pos, eta = self.position, self.eta_seconds
            where = "next in line" if pos == 1 else f"{_ordinal(pos)} in line" if pos else \
                "waiting for a worker"
            return where + (f", starts in about {_round_eta(eta)}" if eta is not None else "")
        if state == "running":
            last = self.latest
            text = f"iteration {last['iteration']}" if last else "starting"
            if self._control.get("paused"):
                text = "paused at " + text
            return text + (f" ({self.notice})" if self.notice else "")
        if state == "error":
            return self.error
        if state == "cancelled":
            return "cancelled before it started"
        return self._summary.get("message", state)

    # -- actions
    def stop(self, owner: str | None = None) -> bool:
        """Stop this job for ``owner`` (None = for everyone).

        If other live owners share the job, only ``owner`` is detached (returns False: the
        training goes on for them; :meth:`snapshot` is the model as of now). Otherwise a
        queued job is cancelled and a running one is told to stop after its current
        iteration (returns True); it then ends "stopped" and :meth:`result` has the
        latest iterate.
        """
        return self.engine._stop(self, owner)

    cancel = stop

    @property
    def control(self) -> dict:
        """What the owner asked for: ``{"paused", "delay" (s per iteration), "step"}``."""
        with self._lock:
            return dict(self._control)

    def controllable(self, owner: str) -> bool:
        """Whether ``owner`` may pause, step or slow this run: it is active and nobody else
        alive is watching it (a shared run goes at full speed for everyone)."""
        return self.engine._controllable(self, owner)

    def pause(self, owner: str) -> bool:
        """Pause after the current iteration (the worker waits; see ``pause_limit``)."""
        return self.engine._set_control(self, owner, paused=True)

    def resume(self, owner: str) -> bool:
        return self.engine._set_control(self, owner, paused=False)

    def step(self, owner: str) -> bool:
        """While paused: run one more iteration, then pause again."""
        with self._lock:
            n = int(self._control.get("step", 0)) + 1
        return self.engine._set_control(self, owner, paused=True, step=n)

    def set_speed(self, owner: str, delay: float) -> bool:
        """Seconds per iteration at least (0 = full speed)."""
        return self.engine._set_control(self, owner, delay=max(0.0, float(delay)))

    def wait(self, timeout: float | None = None) -> str:
        """Block until the job has ended (for the CLI and tests); returns the state."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.state in ACTIVE:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.key} still {self._state} after {timeout} s")
            time.sleep(0.05)
        return self._state

    def result(self) -> Any:
        """The :class:`~lrcore.train.TrainedModel` (done or stopped; after an error, the
        model rebuilt from the latest streamed coefficients, or None if there are none).

        Every call builds a fresh object, so sessions sharing a job never share mutable
        state. Raises ``RuntimeError`` while the job is queued or running.
        """
        state = self.state
        if state in ACTIVE:
            raise RuntimeError(f"the training is still {state}")
        with self._lock:
            if self._result is not None and self._result.get("model") is not None:
                return self._model_from_result()
            return self._rebuild(self._error or "interrupted")

    def snapshot(self) -> Any:
        """The model as of the latest streamed coefficients (at most ~1 s old), while
        running too: what an owner who stopped watching a shared run keeps, and what the
        Weights page can show. None before the first coefficients arrive. Metrics are not
        computed (``summary["metrics_computed"]`` is False)."""
        with self._lock:
            it = self._coef[0] if self._coef else 0
            return self._rebuild(f"snapshot at iteration {it} of a training still running"
                                 if self._state in ACTIVE else self._error or "interrupted")

    def _model_from_result(self) -> Any:
        from lrcore.train import TrainedModel

        return TrainedModel.load(self._result["model"])

    def _rebuild(self, why: str) -> Any:
        """A TrainedModel from the last streamed coefficients; metrics not computed."""
        from lrcore.model import SoftmaxRegression
        from lrcore.preprocess import Preprocessor
        from lrcore.train import TrainedModel

        run = self._attempt
        if self._coef is None or run is None or run.classes is None:
            return None
        it, coef, intercept = self._coef
        state = {k: unpack_array(v) for k, v in (run.preprocess_state or {}).items()}
        model = SoftmaxRegression.from_coef(coef, intercept, np.asarray(run.classes),
                                            **self.config.model_params())
        model.n_iter_ = np.array([it], dtype=np.int32)
        model.converged_ = False
        history = [r for r in self._history if r.get("iteration", 0) <= it]
        last = history[-1] if history else {}
        summary = {"n_iter": it, "status": "stopped", "converged": False,
                   "message": f"{why} (metrics not computed)",
                   "metrics_computed": False,
                   "train_size": self.config.train_size, "test_size": self.config.test_size,
                   **{k: last[k] for k in ("objective", "train_accuracy") if k in last}}
        return TrainedModel(model=model, preprocessor=Preprocessor.from_state(
            run.preprocess or self.config.preprocess, state), config=self.config,
            history=history, summary=summary, data_source=self.info.get("source", ""))

    def __repr__(self) -> str:
        return f"Job({self.key}, {self._state}, owners={sorted(self.owners)})"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _round_eta(seconds: float) -> str:
    if seconds < 60:
        return f"{max(5, int(math.ceil(seconds / 5.0)) * 5)} s"
    return f"{int(round(seconds / 60))} min"


# ----------------------------------------------------------------------------- queue view


class _QueueView:
    """The scheduler's view of the engine's tasks at one moment."""

    def __init__(self, snapshot: dict, running_elapsed: dict[str, float],
                 estimates: dict[str, float], duration: float) -> None:
        tasks_ = snapshot["tasks"]
        self.slots = max(1, int(snapshot["slots"]))
        self.waiting = [k for k, state, prio, _ in sorted(
            (t for t in tasks_ if t[1] in ("queued", "no-worker", "waiting", "released")),
            key=lambda t: (t[2] is None, t[2] or []))]
        self.running = [k for k, state, _, _ in tasks_ if state == "processing"]
        self.where = {k: i for i, k in enumerate(self.waiting)}
        self.duration = duration  # for tasks this engine knows nothing about
        self.estimates = estimates
        self.elapsed = running_elapsed

    def _ahead(self, key: str, started: set[str]) -> int | None:
        """Jobs in line before ``key``, leaving out those known to have started since the
        snapshot (their start message arrived after it was taken)."""
        i = self.where.get(key)
        if i is None:
            return None
        return sum(1 for k in self.waiting[:i] if k not in started)

    def position(self, key: str, started: set[str] = frozenset()) -> int | None:
        i = self._ahead(key, started)
        return None if i is None else i + 1

    def eta(self, key: str, started: set[str] = frozenset()) -> float | None:
        """Start time of ``key``: slots free up as running jobs end (after their estimated
        remaining time) and every job ahead takes its estimated duration."""
        i = self._ahead(key, started)
        if i is None:
            return None
        est = lambda k: self.estimates.get(k, self.duration)  # noqa: E731
        free = [max(1.0, est(k) - self.elapsed.get(k, est(k) / 2))
                for k in self.running[:self.slots]]
        free += [0.0] * (self.slots - len(free))
        heapq.heapify(free)
        ahead = [k for k in self.waiting[:self.where[key]] if k not in started]
        for k in ahead:
            heapq.heappush(free, heapq.heappop(free) + est(k))
        return free[0]


# ----------------------------------------------------------------------------- engine


class Engine:
    """Trainings and experiments on a Dask cluster (embedded or existing).

    Parameters
    ----------
    scheduler : str or None
        Address of an existing scheduler (``tcp://host:8786``); None = ``$LR_SCHEDULER``,
        and if that is unset too, an embedded cluster (:mod:`lrcore.engine.local`).
    n_workers : int or None
        Embedded cluster only; None = :func:`default_workers`.
    memory : str or None
        Embedded cluster only: the total memory budget, split over the workers;
        None = ``$LR_ENGINE_MEMORY`` or :data:`DEFAULT_MEMORY`.
    owner_ttl : float or None
        Seconds without :meth:`touch` after which an owner's queued jobs are dropped;
        None = ``$LR_ENGINE_OWNER_TTL`` or 120.
    settings : dict, optional
        Worker-side rates (``record_interval``, ``coef_interval``, ``stop_interval``).

    Raises
    ------
    EngineUnavailable
        The scheduler cannot be reached (within ``timeout`` seconds) or the cluster
        cannot start; the message says what to do.
    """

    def __init__(self, scheduler: str | None = None, *, n_workers: int | None = None,
                 memory: str | None = None, owner_ttl: float | None = None,
                 settings: dict | None = None, timeout: float = CONNECT_TIMEOUT,
                 keep_seconds: float = KEEP_SECONDS, keep_finished: int = KEEP_FINISHED
                 ) -> None:
        import cloudpickle
        from distributed import Client

        from lrcore.engine import on_scheduler

        cloudpickle.register_pickle_by_value(on_scheduler)
        self.scheduler = scheduler if scheduler is not None else (
            os.environ.get(SCHEDULER_ENV) or None)
        ttl = owner_ttl if owner_ttl is not None else os.environ.get(OWNER_TTL_ENV)
        self.owner_ttl = float(ttl) if ttl not in (None, "") else DEFAULT_OWNER_TTL
        self.settings = {**tasks.DEFAULTS, **(settings or {})}
        self.keep_seconds = keep_seconds
        self.keep_finished = keep_finished
        self.cluster = None
        self.memory_text = ""
        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout=f"{timeout}s",
                                     set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise EngineUnavailable(
                    f"cannot reach the training engine at {self.scheduler}: "
                    f"{_reason(e)}; unset {SCHEDULER_ENV} to use a local one") from None
        else:
            from lrcore.engine.local import LocalProcesses

            n = n_workers or default_workers()
            total = parse_bytes(memory or os.environ.get(MEMORY_ENV) or DEFAULT_MEMORY)
            per_worker = total // n
            self.memory_text = f" of {per_worker / 2**20:,.0f} MB"
            try:
                self.cluster = LocalProcesses(n, per_worker)
                self.client = Client(self.cluster.address, timeout=f"{timeout}s",
                                     set_as_default=False)
                self.client.wait_for_workers(
                    n, timeout=max(5.0, self.cluster.deadline - time.monotonic()))
            except Exception as e:  # noqa: BLE001 - any start failure is the same message
                if self.cluster is not None:
                    self.cluster.close()
                raise EngineUnavailable(f"cannot start the local training engine: "
                                        f"{_reason(e)}") from None
        self.address = self.client.scheduler.address
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._by_owner: dict[str, str] = {}  # owner -> key of its current job
        self._experiment_owners: dict[str, str] = {}  # owner -> key of its experiment job
        self._experiment_seconds: dict[str, list[float]] = {}  # name -> recent durations
        self._latest: dict[str, str] = {}  # config key -> key of its latest run
        self._seen: dict[str, float] = {}  # owner -> last touch
        self._durations: list[float] = []
        self._view: _QueueView | None = None
        self._view_at = 0.0
        self._counter = itertools.count()
        self._retries = itertools.count(2)
        self.client.subscribe_topic(tasks.PROGRESS_TOPIC, self._on_event)
        self.client.subscribe_topic(tasks.COEF_TOPIC, self._on_coef)
        self._closed = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, daemon=True,
                                        name="lrcore-engine-reaper")
        self._reaper.start()
        if self.embedded:
            import atexit

            atexit.register(self.close)  # no child processes left behind at exit
            # Import lrcore and load MNIST on every worker now, not at the first Train.
            self.client.run(tasks.warm_up, wait=False)

    # -- context / lifetime
    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect (and stop the embedded cluster). Running trainings of an embedded
        cluster end with it; on an existing scheduler they are released. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            for topic in (tasks.PROGRESS_TOPIC, tasks.COEF_TOPIC):
                self.client.unsubscribe_topic(topic)
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()

    @property
    def embedded(self) -> bool:
        return self.cluster is not None

    @property
    def slots(self) -> int:
        """Worker threads = trainings that can run at once."""
        return self._queue_view().slots

    def describe(self) -> str:
        where = "embedded cluster (child processes)" if self.embedded else "scheduler"
        return f"{where} at {self.address}, {self.slots} worker slot(s){self.memory_text}"

    # -- owners
    def touch(self, owner: str) -> None:
        """``owner`` is alive (a page calls this on every run)."""
        with self._lock:
            self._seen[owner] = time.time()

    def _alive(self, owner: str, now: float) -> bool:
        return now - self._seen.get(owner, 0.0) <= self.owner_ttl

    def current(self, owner: str) -> Job | None:
        """``owner``'s latest job (active or finished, while it is kept), or None."""
        with self._lock:
            key = self._by_owner.get(owner)
            return self._jobs.get(key) if key else None

    def job(self, key: str) -> Job | None:
        """The job with this key, while it is kept."""
        with self._lock:
            return self._jobs.get(key)

    # -- trainings
    def submit_training(self, config: TrainConfig, data: MnistData | dict, *,
                        owner: str | None = None, warm_start: Any = None,
                        control: dict | None = None) -> Job:
        """Queue a training (or join the identical one queued, running or recently done).

        Parameters
        ----------
        config : TrainConfig
            Sizes are checked against ``data`` here (``ValueError``).
        data : MnistData or dict
            The data the asker has (or its :func:`lrcore.engine.tasks.data_info`); the
            workers must find the same data.
        owner : str, optional
            The asking session. At most one active job per owner: another config stops
            (or detaches from) the owner's previous job.
        warm_start : lrcore.train.WarmStart, optional
            Continue that run (``config.max_iter`` counts its iterations too).
        control : dict, optional
            Start paused or slowed (``{"paused": True}``, ``{"delay": 0.5}``): such a run
            is the owner's alone (nobody else's identical press joins it).
        """
        info = tasks.data_info(data) if isinstance(data, MnistData) else dict(data)
        config.check_sizes(info["n_train"], info["n_test"])
        if warm_start is not None and config.max_iter <= warm_start.n_iter:
            raise ValueError(f"max_iter must be above the {warm_start.n_iter} iterations "
                             f"already done to continue; got {config.max_iter}")
        control = {**FULL_SPEED, **(control or {})}
        private = (owner or "anyone") if (control["paused"] or control["delay"]) else ""
        base = config_key(config, info, start="" if warm_start is None else warm_start.digest(),
                          private=private)

        def make(key: str) -> Job:
            # Set for every run, so that the worker's reads of it never wait.
            self._write_control(key, control)
            future = self._submit(key, tasks.run_training, key, config.to_dict(), info,
                                  self.settings,
                                  None if warm_start is None else warm_start.to_plain())
            job = Job(self, key, config, info, future)
            if private:
                job._control = dict(control)
                job._controlled_since = time.time()
            if warm_start is not None:
                job.continued_from = warm_start.n_iter
            return job

        return self._join_job(base, owner, self._by_owner, make)

    def _submit(self, key: str, func: Callable, *args: Any, priority: int | None = None) -> Any:
        """One task under ``key``, queued on the scheduler in FIFO order.

        Marked as a "data producer" so that the scheduler treats it as a root task and
        keeps it *queued* until a worker thread is free (with worker-saturation 1.0);
        a plain ``Client.submit`` of a few tasks sends them all to the workers at once,
        where they wait out of sight in per-worker queues, in no global order.
        """
        prio = self._fifo_priority() if priority is None else priority
        try:
            from dask._task_spec import Task

            task = Task(key, func, *args, _data_producer=True)
        except (ImportError, TypeError):  # an older Dask: queued on the workers instead
            return self.client.submit(func, *args, key=key, pure=False, priority=prio)
        (future,) = self.client.get({key: task}, [key], sync=False, priority=prio)
        return future

    def _fifo_priority(self) -> int:
        # Dask runs higher priorities first: minus the submission time in ms gives FIFO
        # across web processes sharing a scheduler (the counter breaks ties within one).
        return -int(time.time() * 1000) * 1000 - next(self._counter) % 1000

    def _done_soon(self, job: Job) -> None:
        # Called on the client's event loop: settle in a thread (it fetches the result).
        threading.Thread(target=job._on_done, daemon=True).start()

    def _stop(self, job: Job, owner: str | None) -> bool:
        from distributed import Event

        with self._lock:
            now = time.time()
            if owner is not None:
                job.owners.discard(owner)
                if self._by_owner.get(owner) == job.key:
                    pass  # the owner keeps seeing its stopped job as its current one
                if any(self._alive(o, now) for o in job.owners):
                    return False  # someone else still wants this run
            state = job.state
            if state == "queued" and job._attempt is None:
                # It may have just started on a worker (its start message on the way):
                # the stop flag ends it there too.
                Event(tasks.STOP_PREFIX + job.key, client=self.client).set()
                job.future.cancel()
                job._state = "cancelled"
                job.finished_at = now
            elif state in ACTIVE:
                job._stop_requested = True
                Event(tasks.STOP_PREFIX + job.key, client=self.client).set()
            return True

    def _write_control(self, key: str, control: dict) -> None:
        from distributed import Variable

        Variable(tasks.CONTROL_PREFIX + key, client=self.client).set(dict(control))

    def _controllable(self, job: Job, owner: str) -> bool:
        with self._lock:
            now = time.time()
            return job.active and owner in job.owners and not any(
                o != owner and self._alive(o, now) for o in job.owners)

    def _set_control(self, job: Job, owner: str, **change: Any) -> bool:
        """Change a run's pause / step / speed for its sole owner (False: not allowed)."""
        if not self._controllable(job, owner):
            return False
        with job._lock:
            job._control = {**job._control, **change}
            slowed = bool(job._control["paused"] or job._control["delay"])
            if slowed and job._controlled_since is None:
                job._controlled_since = time.time()
            elif not slowed:
                job._controlled_since = None
            control = dict(job._control)
        self._write_control(job.key, control)
        return True

    def _hurry(self) -> None:
        """Runs paused or slowed for over CONTROL_BUDGET seconds while others wait in line
        go on at full speed (one worker serves a class)."""
        now = time.time()
        slow = [j for j in list(self._jobs.values()) if j._state == "running"
                and j._controlled_since is not None
                and now - j._controlled_since > CONTROL_BUDGET]
        if not slow or not self._queue_view().waiting:
            return
        for job in slow:
            with job._lock:
                job._control = {**job._control, "paused": False, "delay": 0.0}
                job._controlled_since = None
                job.notice = ("others are waiting for the worker: going on at full speed "
                              f"after {CONTROL_BUDGET:.0f} s paused or slowed")
                control = dict(job._control)
            self._write_control(job.key, control)

    def _record_duration(self, seconds: float | None, config: TrainConfig) -> None:
        if seconds:
            with self._lock:
                self._durations = (self._durations + [(float(seconds), _work(config))])[-20:]

    @property
    def typical_duration(self) -> float:
        """Median seconds of the recent trainings (a default until one has finished)."""
        with self._lock:
            if not self._durations:
                return DEFAULT_DURATION
            return float(np.median([s for s, _ in self._durations]))

    def estimate(self, config: TrainConfig) -> float:
        """Expected seconds of a training: a fixed start-up cost plus its digits times the
        median seconds per digit of the recent trainings (before any: DEFAULT_DURATION
        for the full MNIST)."""
        with self._lock:
            rate = (float(np.median([max(0.0, s - TASK_OVERHEAD) / w
                                     for s, w in self._durations])) if self._durations
                    else DEFAULT_DURATION / 70_000)
        return TASK_OVERHEAD + rate * _work(config)

    # -- queue
    def _queue_view(self, key: str | None = None) -> _QueueView:
        """The scheduler's queue, at most QUEUE_VIEW_SECONDS old; read again when it does
        not know ``key`` yet (a submission reaches the scheduler asynchronously)."""
        with self._lock:
            now = time.monotonic()
            stale = self._view is None or now - self._view_at > QUEUE_VIEW_SECONDS
            if not stale and key is not None and key not in self._view.where \
                    and key not in self._view.running:
                stale = now - self._view_at > 0.05
            if stale:
                from lrcore.engine.on_scheduler import queue_snapshot

                snap = self.client.run_on_scheduler(queue_snapshot)
                elapsed = {k: j.seconds for k, j in self._jobs.items() if j._state == "running"}
                estimates = {k: j._estimate() for k, j in self._jobs.items()
                             if j._state in ACTIVE}
                self._view = _QueueView(snap, elapsed, estimates, self.typical_duration)
                self._view_at = now
            return self._view

    def _started(self) -> set[str]:
        with self._lock:
            return {k for k, j in self._jobs.items() if j._state != "queued"}

    def queue(self) -> list[tuple[str, str]]:
        """(key, "running" | "queued") of the engine's tasks, running first, then in line."""
        v = self._queue_view()
        return [(k, "running") for k in v.running] + [(k, "queued") for k in v.waiting]

    # -- events
    def _on_event(self, event: tuple) -> None:
        _, msg = event
        job = self._jobs.get(msg.get("key")) if isinstance(msg, dict) else None
        if job is not None:
            job._on_message(msg)

    def _on_coef(self, event: tuple) -> None:
        _, msg = event
        job = self._jobs.get(msg.get("key")) if isinstance(msg, dict) else None
        if job is not None:
            job._on_message({**msg, "kind": "coef"})

    # -- housekeeping
    def _reap_loop(self) -> None:
        while not self._closed.wait(2.0):
            try:
                self.reap()
                self._hurry()
            except Exception:  # noqa: BLE001 - never let housekeeping kill the thread
                pass

    def reap(self) -> None:
        """Drop queued jobs whose owners are all gone, and old finished jobs."""
        now = time.time()
        with self._lock:
            for job in list(self._jobs.values()):
                if job._state == "queued" and job.owners and job._attempt is None and not any(
                        self._alive(o, now) for o in job.owners):
                    job.future.cancel()
                    job._state = "cancelled"
                    job.finished_at = now
                    job.notice = "dropped: nobody was waiting for it any more"
            finished = sorted((j for j in self._jobs.values() if j._state not in ACTIVE),
                              key=lambda j: j.finished_at or 0.0, reverse=True)
            for i, job in enumerate(finished):
                if i >= self.keep_finished or now - (job.finished_at or now) > self.keep_seconds:
                    self._forget(job)
            for owner, seen in list(self._seen.items()):
                if now - seen > max(self.owner_ttl, self.keep_seconds):
                    del self._seen[owner]
                    self._by_owner.pop(owner, None)

    def _forget(self, job: Job) -> None:
        """Drop a finished job and its stop flag and controls on the scheduler (a later
        run under the same key must not find them set)."""
        from distributed import Event, Variable

        for clear in (lambda: Event(tasks.STOP_PREFIX + job.key, client=self.client).clear(),
                      lambda: Variable(tasks.CONTROL_PREFIX + job.key,
                                       client=self.client).delete()):
            try:
                clear()
            except Exception:  # noqa: BLE001 - cleanup of scheduler-side values only
                pass
        self._jobs.pop(job.key, None)
        for owner, key in list(self._by_owner.items()):
            if key == job.key:
                del self._by_owner[owner]
        job.future.release()

    # -- experiments (lrcore.engine.experiment_jobs)
    def submit_experiment(self, name: str, settings: dict, data: MnistData, *,
                          owner: str | None = None) -> Job:
        """Queue a whole experiment as one task (or join the identical one queued,
        running or recently done); returns its
        :class:`~lrcore.engine.experiment_jobs.ExperimentJob`.

        ``name`` is a key of :data:`lrcore.experiments.EXPERIMENTS` and ``settings`` its
        keyword arguments (plain values), validated here (``ValueError``). An owner has
        at most one active experiment (its trainings are not affected).
        """
        from lrcore.engine import experiment_jobs

        return experiment_jobs.submit(self, name, settings, data, owner=owner)

    def current_experiment(self, owner: str) -> Job | None:
        """``owner``'s latest experiment job (active or finished, while kept), or None."""
        with self._lock:
            key = self._experiment_owners.get(owner)
            return self._jobs.get(key) if key else None

    def _join_job(self, base: str, owner: str | None, owners: dict[str, str],
                  make: Callable[[str], Job]) -> Job:
        """The job of key ``base`` (or its latest rerun), made by ``make(key)`` unless it
        is queued, running or done: the steps of :meth:`submit_training` for any kind of
        job, with ``owners`` (owner -> key) the kind's one-active-job-per-owner map."""
        with self._lock:
            if owner is not None:
                self.touch(owner)
            key = self._latest.get(base, base)
            job = self._jobs.get(key)
            if job is not None and (job.state not in ("queued", "running", "done")
                                    or job._stop_requested):
                # Stopped (or stopping), cancelled or failed runs are not reused: press
                # again = new run, not a seat on one that is about to end.
                key = f"{base}-r{next(self._retries)}"
                job = None
            self._latest[base] = key
            for o, k in list(owners.items()):  # owners whose job was forgotten
                if k not in self._jobs:
                    del owners[o]
            if owner is not None:
                old = self._jobs.get(owners.get(owner, ""))
                if old is not None and old is not job and old.key != key:
                    self._stop(old, owner)
            if job is None:
                job = make(key)
                self._jobs[key] = job
                job.future.add_done_callback(lambda f, j=job: self._done_soon(j))
            if owner is not None:
                job.owners.add(owner)
                owners[owner] = key
            self._view_at = 0.0  # the next position reads the scheduler again
            return job


def _work(config: TrainConfig) -> int:
    # A training's cost grows about linearly with the digits it trains and evaluates on.
    return config.train_size + config.test_size


def _reason(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]


_default: Engine | None = None
_default_lock = threading.Lock()


def get_engine(scheduler: str | None = None, **kw: Any) -> Engine:
    """The engine of this process, started on first use (the page layer wraps this in
    ``st.cache_resource``; the CLI calls it once)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine(scheduler, **kw)
        return _default
